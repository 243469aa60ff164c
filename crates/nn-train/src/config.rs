//! [`TrainConfig`]: everything a training run depends on, as data (serde: JSON or TOML), validated
//! once with typed errors.

use nn_core::{Loss, MlpOptions, NetworkSpec};
use serde::{Deserialize, Serialize};

use crate::error::{check_finite, invalid, Result, TrainError};
use crate::optim::OptimizerConfig;
use crate::schedule::ScheduleConfig;

/// Early stopping on validation accuracy: stop when it has not improved by more than `min_delta`
/// for `patience` epochs in a row.
///
/// ```text
/// improved  ⇔  val_accuracy > best + min_delta
/// stop      ⇔  epochs since the last improvement ≥ patience
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EarlyStopping {
    /// Epochs without improvement before stopping (≥ 1).
    pub patience: usize,
    /// The improvement that counts, as a fraction (0.001 = 0.1 percentage points; ≥ 0).
    pub min_delta: f64,
}

impl Default for EarlyStopping {
    fn default() -> Self {
        EarlyStopping {
            patience: 3,
            min_delta: 0.0,
        }
    }
}

/// Everything a training run depends on. Missing fields take their [`Default`] values when
/// deserialising, so a config file names only what it changes.
///
/// The same config, the same data and the same seed give bit-identical runs (whatever the thread
/// count: every parallel kernel below splits outputs, not reductions).
///
/// # Example
/// ```
/// use nn_train::config::TrainConfig;
/// let config: TrainConfig = serde_json::from_str(r#"{"epochs": 3, "batch_size": 32}"#)?;
/// assert_eq!((config.epochs, config.batch_size, config.seed), (3, 32, 0));
/// config.validate()?;
/// let back: TrainConfig = serde_json::from_str(&serde_json::to_string(&config)?)?;
/// assert_eq!(back, config);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrainConfig {
    /// The network (default: 784 → 256 → 10 with BatchNorm, ReLU and He initialisation).
    pub model: NetworkSpec,
    /// The data loss (default softmax cross-entropy).
    pub loss: Loss,
    /// The update rule (default Adam with PyTorch's hyperparameters).
    pub optimizer: OptimizerConfig,
    /// The learning rate per step (default constant 1e-3). Plateau schedules observe one metric per
    /// epoch: validation loss (mode `min`) or accuracy (mode `max`), or the training ones without
    /// validation data.
    pub schedule: ScheduleConfig,
    /// Number of epochs (≥ 1).
    pub epochs: usize,
    /// Mini-batch size `N` (≥ 1; the last batch of an epoch may be smaller, and is skipped when it
    /// holds a single sample and the network has BatchNorm, which cannot normalise one sample).
    pub batch_size: usize,
    /// The seed of every random choice: initialisation, shuffling, dropout masks.
    pub seed: u64,
    /// Shuffle the training set every epoch (default `true`).
    pub shuffle: bool,
    /// L2 regularisation strength `λ` on weights only: the loss gains `½·λ·Σ‖W‖²` (≥ 0).
    pub l2: f64,
    /// Clip the global gradient norm to this value (`None`: no clipping).
    pub clip_norm: Option<f64>,
    /// Stop early on validation accuracy (needs validation data).
    pub early_stopping: Option<EarlyStopping>,
    /// Keep an exponential moving average of the parameters with this decay in `(0, 1)` and report
    /// its validation accuracy too.
    pub ema_decay: Option<f64>,
    /// Stop as diverged when a batch's data loss exceeds this many times the first batch's, or is
    /// NaN or infinite (default 3; > 1).
    pub divergence_factor: f64,
    /// Steps between monitoring snapshots (update/weight ratios, gradient norms, activation
    /// statistics); 0 turns monitoring off.
    pub monitor_every: usize,
    /// Training samples (the first ones) in the fixed batch that activation statistics use (≥ 1).
    pub monitor_samples: usize,
    /// Training samples (the first ones) re-evaluated in eval mode at the end of each epoch for the
    /// train/validation gap; 0 turns it off.
    pub train_eval_samples: usize,
}

impl Default for TrainConfig {
    fn default() -> Self {
        let options = MlpOptions {
            batch_norm: true,
            ..MlpOptions::default()
        };
        // `mlp` only fails for zero widths, which these are not; an empty spec would fail `validate`.
        let model = NetworkSpec::mlp(784, &[256], 10, &options).unwrap_or(NetworkSpec {
            input_dim: 784,
            layers: Vec::new(),
        });
        TrainConfig {
            model,
            loss: Loss::default(),
            optimizer: OptimizerConfig::default(),
            schedule: ScheduleConfig::Constant { lr: 1e-3 },
            epochs: 10,
            batch_size: 128,
            seed: 0,
            shuffle: true,
            l2: 0.0,
            clip_norm: None,
            early_stopping: None,
            ema_decay: None,
            divergence_factor: 3.0,
            monitor_every: 100,
            monitor_samples: 256,
            train_eval_samples: 10_000,
        }
    }
}

impl TrainConfig {
    /// Checks every field (and builds the optimiser and schedule once to check theirs).
    ///
    /// # Errors
    /// [`TrainError::InvalidHyperparameter`] naming the field (zero epochs or batch size, negative
    /// or non-finite `l2`, a non-positive clip norm, an EMA decay outside `(0, 1)`, a divergence
    /// factor ≤ 1, zero monitor samples while monitoring, zero patience, bad optimiser or schedule
    /// hyperparameters such as a NaN learning rate); [`TrainError::Core`] for an invalid model or loss.
    pub fn validate(&self) -> Result<()> {
        self.model.validate()?;
        if self.model.layers.is_empty() {
            return Err(invalid(
                "model.layers",
                "[]",
                "a network needs at least one layer",
            ));
        }
        self.loss.validate()?;
        self.optimizer.build::<f32>()?;
        self.schedule.build()?;
        if self.epochs == 0 {
            return Err(invalid("epochs", 0, "must be at least 1"));
        }
        if self.batch_size == 0 {
            return Err(invalid("batch_size", 0, "must be at least 1"));
        }
        check_finite("l2", self.l2)?;
        if self.l2 < 0.0 {
            return Err(invalid("l2", self.l2, "must not be negative"));
        }
        if let Some(c) = self.clip_norm {
            if !(c.is_finite() && c > 0.0) {
                return Err(invalid("clip_norm", c, "must be positive and finite"));
            }
        }
        if let Some(es) = self.early_stopping {
            if es.patience == 0 {
                return Err(invalid("early_stopping.patience", 0, "must be at least 1"));
            }
            if !(es.min_delta.is_finite() && es.min_delta >= 0.0) {
                return Err(invalid(
                    "early_stopping.min_delta",
                    es.min_delta,
                    "must be finite and non-negative",
                ));
            }
        }
        if let Some(d) = self.ema_decay {
            if !(d > 0.0 && d < 1.0) {
                return Err(invalid("ema_decay", d, "must lie in (0, 1)"));
            }
        }
        if !(self.divergence_factor.is_finite() && self.divergence_factor > 1.0) {
            return Err(invalid(
                "divergence_factor",
                self.divergence_factor,
                "must be finite and greater than 1",
            ));
        }
        if self.monitor_every > 0 && self.monitor_samples == 0 {
            return Err(invalid(
                "monitor_samples",
                0,
                "must be at least 1 while monitoring is on",
            ));
        }
        Ok(())
    }

    /// Parses a JSON config (TOML works through any TOML crate's serde support).
    ///
    /// # Errors
    /// [`TrainError::InvalidHyperparameter`] with name `"config"` when the text does not parse.
    /// The config is not validated here; call [`TrainConfig::validate`].
    pub fn from_json(text: &str) -> Result<Self> {
        serde_json::from_str(text).map_err(|e| TrainError::InvalidHyperparameter {
            name: "config",
            value: "(JSON text)".into(),
            reason: e.to_string(),
        })
    }

    /// The config as pretty-printed JSON.
    ///
    /// # Errors
    /// [`TrainError::InvalidHyperparameter`] with name `"config"` if a value cannot be written
    /// (a NaN or infinite float).
    pub fn to_json(&self) -> Result<String> {
        serde_json::to_string_pretty(self).map_err(|e| TrainError::InvalidHyperparameter {
            name: "config",
            value: "(config)".into(),
            reason: e.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_is_valid_and_round_trips() {
        let c = TrainConfig::default();
        c.validate().unwrap();
        let back = TrainConfig::from_json(&c.to_json().unwrap()).unwrap();
        assert_eq!(back, c);
    }

    /// Every float hyperparameter a config can hold, set to NaN, +inf and -inf in turn, must be
    /// rejected by `validate` with an error that names it (the last segment of the name suffices:
    /// the optimiser and schedule name their own fields).
    #[test]
    fn non_finite_hyperparameters_are_rejected_naming_the_field() {
        use crate::optim::{
            AdagradConfig, AdamConfig, AdamWConfig, Momentum, OptimizerConfig, RmsPropConfig,
            SgdConfig,
        };
        use crate::schedule::{PlateauConfig, ScheduleConfig};
        use nn_core::LayerSpec;
        type Set = fn(&mut TrainConfig, f64);
        fn sgd(momentum: Momentum) -> OptimizerConfig {
            OptimizerConfig::Sgd(SgdConfig {
                momentum,
                weight_decay: 0.0,
            })
        }
        let cases: Vec<(&str, Set)> = vec![
            ("l2", |c, v| c.l2 = v),
            ("clip_norm", |c, v| c.clip_norm = Some(v)),
            ("min_delta", |c, v| {
                c.early_stopping = Some(EarlyStopping {
                    patience: 2,
                    min_delta: v,
                })
            }),
            ("ema_decay", |c, v| c.ema_decay = Some(v)),
            ("divergence_factor", |c, v| c.divergence_factor = v),
            ("label_smoothing", |c, v| {
                c.loss = Loss::SoftmaxCrossEntropy { label_smoothing: v }
            }),
            ("margin", |c, v| c.loss = Loss::Hinge { margin: v }),
            ("momentum", |c, v| {
                c.optimizer = sgd(Momentum::Classic {
                    momentum: v,
                    dampening: 0.0,
                })
            }),
            ("dampening", |c, v| {
                c.optimizer = sgd(Momentum::Classic {
                    momentum: 0.9,
                    dampening: v,
                })
            }),
            ("momentum", |c, v| {
                c.optimizer = sgd(Momentum::Nesterov { momentum: v })
            }),
            ("weight_decay", |c, v| {
                c.optimizer = OptimizerConfig::Sgd(SgdConfig {
                    momentum: Momentum::None,
                    weight_decay: v,
                })
            }),
            ("beta1", |c, v| {
                c.optimizer = OptimizerConfig::Adam(AdamConfig {
                    beta1: v,
                    ..AdamConfig::default()
                })
            }),
            ("beta2", |c, v| {
                c.optimizer = OptimizerConfig::Adam(AdamConfig {
                    beta2: v,
                    ..AdamConfig::default()
                })
            }),
            ("eps", |c, v| {
                c.optimizer = OptimizerConfig::Adam(AdamConfig {
                    eps: v,
                    ..AdamConfig::default()
                })
            }),
            ("weight_decay", |c, v| {
                c.optimizer = OptimizerConfig::AdamW(AdamWConfig {
                    weight_decay: v,
                    ..AdamWConfig::default()
                })
            }),
            ("lr_decay", |c, v| {
                c.optimizer = OptimizerConfig::Adagrad(AdagradConfig {
                    lr_decay: v,
                    ..AdagradConfig::default()
                })
            }),
            ("initial_accumulator_value", |c, v| {
                c.optimizer = OptimizerConfig::Adagrad(AdagradConfig {
                    initial_accumulator_value: v,
                    ..AdagradConfig::default()
                })
            }),
            ("alpha", |c, v| {
                c.optimizer = OptimizerConfig::RmsProp(RmsPropConfig {
                    alpha: v,
                    ..RmsPropConfig::default()
                })
            }),
            ("momentum", |c, v| {
                c.optimizer = OptimizerConfig::RmsProp(RmsPropConfig {
                    momentum: v,
                    ..RmsPropConfig::default()
                })
            }),
            ("lr", |c, v| c.schedule = ScheduleConfig::Constant { lr: v }),
            ("gamma", |c, v| {
                c.schedule = ScheduleConfig::Step {
                    lr: 0.1,
                    step_size: 10,
                    gamma: v,
                }
            }),
            ("gamma", |c, v| {
                c.schedule = ScheduleConfig::Exponential { lr: 0.1, gamma: v }
            }),
            ("decay", |c, v| {
                c.schedule = ScheduleConfig::InverseTime { lr: 0.1, decay: v }
            }),
            ("min_lr", |c, v| {
                c.schedule = ScheduleConfig::Cosine {
                    lr: 0.1,
                    min_lr: v,
                    period: 10,
                    restart_mult: None,
                }
            }),
            ("start_factor", |c, v| {
                c.schedule = ScheduleConfig::WarmUp {
                    steps: 5,
                    start_factor: v,
                    then: Box::new(ScheduleConfig::Constant { lr: 0.1 }),
                }
            }),
            ("factor", |c, v| {
                c.schedule = ScheduleConfig::Plateau(PlateauConfig {
                    factor: v,
                    ..PlateauConfig::new(0.1)
                })
            }),
            ("threshold", |c, v| {
                c.schedule = ScheduleConfig::Plateau(PlateauConfig {
                    threshold: v,
                    ..PlateauConfig::new(0.1)
                })
            }),
            ("eps", |c, v| {
                c.schedule = ScheduleConfig::Plateau(PlateauConfig {
                    eps: v,
                    ..PlateauConfig::new(0.1)
                })
            }),
            ("dropout", |c, v| {
                c.model.layers.insert(1, LayerSpec::Dropout { p: v })
            }),
            ("prelu", |c, v| {
                c.model.layers.insert(
                    1,
                    LayerSpec::PRelu {
                        per_feature: false,
                        init: v,
                    },
                )
            }),
            ("eps", |c, v| {
                if let Some(LayerSpec::BatchNorm { config }) = c.model.layers.get_mut(1) {
                    config.eps = v;
                }
            }),
            ("momentum", |c, v| {
                if let Some(LayerSpec::BatchNorm { config }) = c.model.layers.get_mut(1) {
                    config.momentum = v;
                }
            }),
        ];
        for (name, set) in cases {
            for v in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
                let mut c = TrainConfig::default();
                assert!(
                    matches!(c.model.layers.get(1), Some(LayerSpec::BatchNorm { .. })),
                    "the default model has batch norm after its first layer"
                );
                set(&mut c, v);
                let msg = match c.validate() {
                    Err(e) => e.to_string(),
                    Ok(()) => panic!("{name} = {v} was accepted"),
                };
                assert!(msg.contains(name), "{name} = {v}: {msg}");
            }
        }
    }

    #[test]
    fn unknown_field_is_rejected() {
        assert!(TrainConfig::from_json(r#"{"epoch": 3}"#).is_err());
    }
}
