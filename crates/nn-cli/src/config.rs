//! The run configuration: everything a run depends on, as one TOML file (`config.toml` in every run
//! directory), with command-line flags layered on top.

use crate::error::{CliError, Result};
use nn_activations::Activation;
use nn_init::Init;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Which reader a data directory needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum, Default)]
#[serde(rename_all = "kebab-case")]
#[value(rename_all = "kebab-case")]
pub enum DataFormat {
    /// Detect from the file names (IDX or CIFAR-10 batches); IDX is Fashion-MNIST when the path
    /// contains "fashion", else MNIST.
    #[default]
    Auto,
    /// MNIST handwritten digits (IDX files).
    Mnist,
    /// Fashion-MNIST clothing images (IDX files).
    FashionMnist,
    /// CIFAR-10 binary batches.
    Cifar10,
}

/// The preprocessing fitted on the training split and applied to every split.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum, Default)]
#[serde(rename_all = "kebab-case")]
#[value(rename_all = "kebab-case")]
pub enum PreprocessKind {
    /// Pixels scaled to [0, 1] only.
    None,
    /// Subtract the mean image (CS231n's usual zero-centring).
    MeanImage,
    /// Subtract the per-channel mean.
    ChannelMean,
    /// Subtract the per-channel mean and divide by the per-channel standard deviation.
    #[default]
    Standardize,
    /// Standardise every pixel separately.
    StandardizePerFeature,
}

/// The hidden non-linearity.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum, Default)]
#[serde(rename_all = "kebab-case")]
#[value(rename_all = "kebab-case")]
pub enum ActivationName {
    /// max(0, x).
    #[default]
    Relu,
    /// Leaky ReLU with slope 0.01.
    LeakyRelu,
    /// ELU with alpha 1.
    Elu,
    /// tanh.
    Tanh,
    /// The logistic sigmoid.
    Sigmoid,
    /// GELU (exact).
    Gelu,
    /// SiLU / swish.
    Silu,
    /// SELU.
    Selu,
    /// No non-linearity.
    Identity,
}

impl ActivationName {
    /// The library value.
    pub fn activation(self) -> Activation {
        match self {
            ActivationName::Relu => Activation::Relu,
            ActivationName::LeakyRelu => Activation::LeakyRelu { slope: 0.01 },
            ActivationName::Elu => Activation::Elu { alpha: 1.0 },
            ActivationName::Tanh => Activation::Tanh,
            ActivationName::Sigmoid => Activation::Sigmoid,
            ActivationName::Gelu => Activation::Gelu,
            ActivationName::Silu => Activation::Silu,
            ActivationName::Selu => Activation::Selu,
            ActivationName::Identity => Activation::Identity,
        }
    }
}

/// The weight initialiser.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum, Default)]
#[serde(rename_all = "kebab-case")]
#[value(rename_all = "kebab-case")]
pub enum InitName {
    /// The recommended one for the activation (He for ReLU-like, Xavier for tanh/sigmoid, LeCun for SELU).
    #[default]
    Auto,
    /// He / Kaiming normal, Var = gain²/fan_in.
    He,
    /// CS231n's Xavier, Var = 1/fan_in.
    Xavier,
    /// Glorot uniform, Var = 2/(fan_in + fan_out).
    Glorot,
    /// LeCun normal, Var = 1/fan_in.
    Lecun,
    /// Orthogonal with gain 1.
    Orthogonal,
    /// 0.01 · randn (the lecture's "small random numbers").
    Small,
    /// 1.0 · randn (the lecture's "large random numbers").
    Large,
}

impl InitName {
    /// The library value for layers followed by `activation`.
    pub fn init(self, activation: Activation) -> Init {
        match self {
            InitName::Auto => Init::recommended_for(activation),
            InitName::He => Init::he(activation),
            InitName::Xavier => Init::xavier(),
            InitName::Glorot => Init::glorot_uniform(),
            InitName::Lecun => Init::lecun_normal(),
            InitName::Orthogonal => Init::Orthogonal { gain: 1.0 },
            InitName::Small => Init::small_random(),
            InitName::Large => Init::large_random(),
        }
    }
}

/// The update rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum, Default)]
#[serde(rename_all = "kebab-case")]
#[value(rename_all = "kebab-case")]
pub enum OptimizerName {
    /// Plain SGD.
    Sgd,
    /// SGD with classic momentum (`momentum`).
    Momentum,
    /// SGD with Nesterov momentum (`momentum`).
    Nesterov,
    /// AdaGrad.
    Adagrad,
    /// RMSProp.
    Rmsprop,
    /// Adam (betas 0.9, 0.999).
    #[default]
    Adam,
    /// AdamW (decoupled `weight_decay`).
    Adamw,
}

/// The learning-rate schedule (all of them in steps; the config gives epochs).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum, Default)]
#[serde(rename_all = "kebab-case")]
#[value(rename_all = "kebab-case")]
pub enum ScheduleName {
    /// The same rate throughout.
    Constant,
    /// Multiply by `lr_decay` every `lr_decay_epochs` epochs.
    Step,
    /// Multiply by `lr_decay` every epoch (spread over its steps).
    Exponential,
    /// Cosine annealing to 0 over the whole run.
    #[default]
    Cosine,
}

/// `[data]`: where the examples come from and how they are prepared.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DataConfig {
    /// The data directory; absent: the small MNIST subset shipped in the repository.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<PathBuf>,
    /// The file format.
    pub format: DataFormat,
    /// Use only the first `limit` training examples (0: all).
    pub limit: usize,
    /// Use only the first `test_limit` test examples (0: all).
    pub test_limit: usize,
    /// Fraction of the training examples held out for validation (0: none).
    pub val_fraction: f64,
    /// The preprocessing.
    pub preprocess: PreprocessKind,
}

impl Default for DataConfig {
    fn default() -> Self {
        DataConfig {
            path: None,
            format: DataFormat::Auto,
            limit: 0,
            test_limit: 0,
            val_fraction: 0.1,
            preprocess: PreprocessKind::Standardize,
        }
    }
}

/// `[model]`: a multilayer perceptron `D → hidden… → C`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ModelConfig {
    /// Hidden layer widths.
    pub hidden: Vec<usize>,
    /// Non-linearity after every hidden layer.
    pub activation: ActivationName,
    /// Weight initialiser.
    pub init: InitName,
    /// Batch normalisation before each hidden activation.
    pub batch_norm: bool,
    /// Dropout probability after each hidden activation, in [0, 1).
    pub dropout: f64,
}

impl Default for ModelConfig {
    fn default() -> Self {
        ModelConfig {
            hidden: vec![512, 256],
            activation: ActivationName::Relu,
            init: InitName::Auto,
            batch_norm: true,
            dropout: 0.0,
        }
    }
}

/// `[train]`: optimiser, schedule, regularisation and the loop.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrainSection {
    /// The update rule.
    pub optimizer: OptimizerName,
    /// The (initial) learning rate, > 0.
    pub lr: f64,
    /// Momentum for `momentum`/`nesterov`, in [0, 1).
    pub momentum: f64,
    /// Weight decay inside the optimiser (AdamW: decoupled), >= 0.
    pub weight_decay: f64,
    /// The learning-rate schedule.
    pub schedule: ScheduleName,
    /// `step`: epochs between decays.
    pub lr_decay_epochs: usize,
    /// `step`/`exponential`: the decay factor, in (0, 1).
    pub lr_decay: f64,
    /// Linear warm-up over this many epochs before the schedule (0: none).
    pub warmup_epochs: usize,
    /// Epochs, >= 1.
    pub epochs: usize,
    /// Mini-batch size, >= 1.
    pub batch_size: usize,
    /// Seed of every random choice (weights, data order, dropout, validation split).
    pub seed: u64,
    /// Reshuffle the training data every epoch.
    pub shuffle: bool,
    /// L2 regularisation strength λ (loss += λ/2·ΣW²), >= 0.
    pub l2: f64,
    /// Clip the global gradient norm to this (absent: no clipping).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub clip_norm: Option<f64>,
    /// Stop after this many epochs without validation improvement (absent: never).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub patience: Option<usize>,
    /// Label smoothing ε of the softmax loss, in [0, 1).
    pub label_smoothing: f64,
    /// Also evaluate an exponential moving average of the weights with this decay.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ema_decay: Option<f64>,
    /// Steps between update/weight-ratio and activation snapshots (0: off).
    pub monitor_every: usize,
    /// Evaluate the test split after every epoch and stop once its accuracy reaches this, in
    /// (0, 1] (absent: never; for time-to-accuracy measurements).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_accuracy: Option<f64>,
}

impl Default for TrainSection {
    fn default() -> Self {
        TrainSection {
            optimizer: OptimizerName::Adam,
            lr: 1e-3,
            momentum: 0.9,
            weight_decay: 0.0,
            schedule: ScheduleName::Cosine,
            lr_decay_epochs: 2,
            lr_decay: 0.5,
            warmup_epochs: 0,
            epochs: 12,
            batch_size: 128,
            seed: 231,
            shuffle: true,
            l2: 1e-4,
            clip_norm: None,
            patience: None,
            label_smoothing: 0.0,
            ema_decay: None,
            monitor_every: 50,
            target_accuracy: None,
        }
    }
}

/// The whole effective configuration of a run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct RunConfig {
    /// Worker threads (absent: all cores). Results are deterministic for a seed and thread count.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub threads: Option<usize>,
    /// The run directory (absent: the next free `runs/run-NNN`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub out: Option<PathBuf>,
    /// The data.
    pub data: DataConfig,
    /// The model.
    pub model: ModelConfig,
    /// The training loop.
    pub train: TrainSection,
}

/// `line L: message` for a TOML error (the parser's own text spans several lines).
pub fn toml_message(text: &str, e: &toml::de::Error) -> String {
    let msg = e.message().trim_end().replace('\n', " ");
    match e.span() {
        Some(span) => {
            let line = text[..span.start.min(text.len())].matches('\n').count() + 1;
            format!("line {line}: {msg}")
        }
        None => msg,
    }
}

fn bad(key: &str, value: impl std::fmt::Display, reason: &str) -> CliError {
    CliError::Config {
        path: None,
        message: format!("{key} = {value} is invalid: {reason}"),
    }
}

impl RunConfig {
    /// Reads a TOML file; unknown keys are errors.
    ///
    /// # Errors
    /// [`CliError::Config`] naming the file, the line and the key.
    pub fn from_file(path: &Path) -> Result<RunConfig> {
        let text = std::fs::read_to_string(path).map_err(|e| CliError::Config {
            path: Some(path.to_path_buf()),
            message: format!("cannot read it: {e}"),
        })?;
        Self::from_toml(&text).map_err(|e| match e {
            CliError::Config { message, .. } => CliError::Config {
                path: Some(path.to_path_buf()),
                message,
            },
            other => other,
        })
    }

    /// Parses TOML text; unknown keys are errors.
    ///
    /// # Errors
    /// [`CliError::Config`] with the parser's message (line, column, key).
    pub fn from_toml(text: &str) -> Result<RunConfig> {
        toml::from_str(text).map_err(|e| CliError::config(toml_message(text, &e)))
    }

    /// The config as TOML.
    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).unwrap_or_else(|e| format!("# cannot serialise: {e}\n"))
    }

    /// Checks every value, naming the key and saying what range is allowed.
    ///
    /// # Errors
    /// [`CliError::Config`].
    pub fn validate(&self) -> Result<()> {
        let t = &self.train;
        if !(t.lr.is_finite() && t.lr > 0.0) {
            return Err(bad(
                "train.lr",
                t.lr,
                "the learning rate must be a positive number such as 1e-3",
            ));
        }
        if t.batch_size == 0 {
            return Err(bad(
                "train.batch_size",
                0,
                "the batch size must be at least 1",
            ));
        }
        if t.epochs == 0 {
            return Err(bad("train.epochs", 0, "train for at least 1 epoch"));
        }
        if !(0.0..1.0).contains(&t.momentum) {
            return Err(bad(
                "train.momentum",
                t.momentum,
                "momentum must be in [0, 1)",
            ));
        }
        if !(t.weight_decay.is_finite() && t.weight_decay >= 0.0) {
            return Err(bad("train.weight_decay", t.weight_decay, "must be >= 0"));
        }
        if !(t.l2.is_finite() && t.l2 >= 0.0) {
            return Err(bad(
                "train.l2",
                t.l2,
                "the regularisation strength must be >= 0",
            ));
        }
        if !(t.lr_decay > 0.0 && t.lr_decay < 1.0) {
            return Err(bad(
                "train.lr_decay",
                t.lr_decay,
                "the decay factor must be in (0, 1)",
            ));
        }
        if t.lr_decay_epochs == 0 {
            return Err(bad("train.lr_decay_epochs", 0, "must be at least 1"));
        }
        if let Some(c) = t.clip_norm {
            if !(c.is_finite() && c > 0.0) {
                return Err(bad(
                    "train.clip_norm",
                    c,
                    "the clipping norm must be positive",
                ));
            }
        }
        if t.patience == Some(0) {
            return Err(bad(
                "train.patience",
                0,
                "patience must be at least 1 epoch",
            ));
        }
        if !(0.0..1.0).contains(&t.label_smoothing) {
            return Err(bad(
                "train.label_smoothing",
                t.label_smoothing,
                "must be in [0, 1)",
            ));
        }
        if let Some(a) = t.target_accuracy {
            if !(a > 0.0 && a <= 1.0) {
                return Err(bad(
                    "train.target_accuracy",
                    a,
                    "the target accuracy must be in (0, 1]",
                ));
            }
        }
        if let Some(d) = t.ema_decay {
            if !(d > 0.0 && d < 1.0) {
                return Err(bad("train.ema_decay", d, "the EMA decay must be in (0, 1)"));
            }
        }
        let m = &self.model;
        if !(0.0..1.0).contains(&m.dropout) {
            return Err(bad(
                "model.dropout",
                m.dropout,
                "the drop probability must be in [0, 1)",
            ));
        }
        if let Some(i) = m.hidden.iter().position(|&h| h == 0) {
            return Err(bad(
                &format!("model.hidden[{i}]"),
                0,
                "every hidden layer needs at least 1 unit",
            ));
        }
        let d = &self.data;
        if !(0.0..1.0).contains(&d.val_fraction) {
            return Err(bad(
                "data.val_fraction",
                d.val_fraction,
                "must be in [0, 1)",
            ));
        }
        if self.threads == Some(0) {
            return Err(bad(
                "threads",
                0,
                "use at least 1 thread (leave it out for all cores)",
            ));
        }
        Ok(())
    }
}

/// Steps per epoch for `n` training examples in batches of `batch_size` (the last one partial).
pub fn steps_per_epoch(n: usize, batch_size: usize) -> u64 {
    n.div_ceil(batch_size.max(1)).max(1) as u64
}

impl RunConfig {
    /// The network this config describes for `input_dim` features and `classes` classes.
    ///
    /// # Errors
    /// [`CliError::Config`] for invalid sizes.
    pub fn network_spec(&self, input_dim: usize, classes: usize) -> Result<nn_core::NetworkSpec> {
        let m = &self.model;
        let activation = m.activation.activation();
        let options = nn_core::MlpOptions {
            activation,
            init: m.init.init(activation),
            bias: nn_init::BiasInit::Zeros,
            batch_norm: m.batch_norm,
            dropout: m.dropout,
        };
        Ok(nn_core::NetworkSpec::mlp(
            input_dim, &m.hidden, classes, &options,
        )?)
    }

    /// The optimiser of `[train]`.
    pub fn optimizer(&self) -> nn_train::optim::OptimizerConfig {
        use nn_train::optim::{
            AdagradConfig, AdamConfig, AdamWConfig, Momentum, OptimizerConfig, RmsPropConfig,
            SgdConfig,
        };
        let t = &self.train;
        let wd = t.weight_decay;
        match t.optimizer {
            OptimizerName::Sgd => OptimizerConfig::Sgd(SgdConfig {
                momentum: Momentum::None,
                weight_decay: wd,
            }),
            OptimizerName::Momentum => OptimizerConfig::Sgd(SgdConfig {
                momentum: Momentum::Classic {
                    momentum: t.momentum,
                    dampening: 0.0,
                },
                weight_decay: wd,
            }),
            OptimizerName::Nesterov => OptimizerConfig::Sgd(SgdConfig {
                momentum: Momentum::Nesterov {
                    momentum: t.momentum,
                },
                weight_decay: wd,
            }),
            OptimizerName::Adagrad => OptimizerConfig::Adagrad(AdagradConfig {
                weight_decay: wd,
                ..AdagradConfig::default()
            }),
            OptimizerName::Rmsprop => OptimizerConfig::RmsProp(RmsPropConfig {
                weight_decay: wd,
                ..RmsPropConfig::default()
            }),
            OptimizerName::Adam => OptimizerConfig::Adam(AdamConfig {
                weight_decay: wd,
                ..AdamConfig::default()
            }),
            OptimizerName::Adamw => OptimizerConfig::AdamW(AdamWConfig {
                weight_decay: wd,
                ..AdamWConfig::default()
            }),
        }
    }

    /// The schedule of `[train]` in steps, for `steps_per_epoch` steps per epoch.
    pub fn schedule(&self, steps_per_epoch: u64) -> nn_train::schedule::ScheduleConfig {
        use nn_train::schedule::ScheduleConfig;
        let t = &self.train;
        let total = steps_per_epoch * t.epochs as u64;
        let warm = steps_per_epoch * t.warmup_epochs as u64;
        let inner = match t.schedule {
            ScheduleName::Constant => ScheduleConfig::Constant { lr: t.lr },
            ScheduleName::Step => ScheduleConfig::Step {
                lr: t.lr,
                step_size: steps_per_epoch * t.lr_decay_epochs as u64,
                gamma: t.lr_decay,
            },
            ScheduleName::Exponential => ScheduleConfig::Exponential {
                lr: t.lr,
                gamma: t.lr_decay.powf(1.0 / steps_per_epoch as f64),
            },
            ScheduleName::Cosine => ScheduleConfig::Cosine {
                lr: t.lr,
                min_lr: 0.0,
                period: total.saturating_sub(warm).max(1),
                restart_mult: None,
            },
        };
        if warm > 0 {
            ScheduleConfig::WarmUp {
                steps: warm,
                start_factor: 0.1,
                then: Box::new(inner),
            }
        } else {
            inner
        }
    }

    /// The library's training config for data of `input_dim` features, `classes` classes and
    /// `n_train` training examples.
    ///
    /// # Errors
    /// [`CliError::Config`] when the library rejects a value.
    pub fn train_config(
        &self,
        input_dim: usize,
        classes: usize,
        n_train: usize,
    ) -> Result<nn_train::TrainConfig> {
        let t = &self.train;
        let spe = steps_per_epoch(n_train, t.batch_size);
        let config = nn_train::TrainConfig {
            model: self.network_spec(input_dim, classes)?,
            loss: nn_core::Loss::SoftmaxCrossEntropy {
                label_smoothing: t.label_smoothing,
            },
            optimizer: self.optimizer(),
            schedule: self.schedule(spe),
            epochs: t.epochs,
            batch_size: t.batch_size,
            seed: t.seed,
            shuffle: t.shuffle,
            l2: t.l2,
            clip_norm: t.clip_norm,
            early_stopping: t.patience.map(|patience| nn_train::EarlyStopping {
                patience,
                min_delta: 0.0,
            }),
            ema_decay: t.ema_decay,
            monitor_every: t.monitor_every,
            ..nn_train::TrainConfig::default()
        };
        config.validate()?;
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_round_trips_through_toml() {
        let c = RunConfig::default();
        let back = RunConfig::from_toml(&c.to_toml()).unwrap();
        assert_eq!(back, c);
        c.validate().unwrap();
    }

    #[test]
    fn unknown_key_is_an_error_naming_it() {
        let e = RunConfig::from_toml("[train]\nlrr = 0.1\n").unwrap_err();
        assert!(e.to_string().contains("lrr"), "{e}");
    }

    #[test]
    fn bad_values_name_the_key() {
        let check = |text: &str, key: &str| {
            let c = RunConfig::from_toml(text).unwrap();
            let e = c.validate().unwrap_err();
            assert!(e.to_string().contains(key), "{e}");
        };
        check("[train]\nlr = -0.1\n", "train.lr");
        check("[train]\nbatch_size = 0\n", "train.batch_size");
        check("[model]\ndropout = 1.0\n", "model.dropout");
    }
}
