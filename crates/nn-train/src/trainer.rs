//! [`Trainer`]: the training loop. Epochs of seeded, shuffled mini-batches; per-epoch training and
//! validation metrics; early stopping on validation accuracy with the best parameters kept;
//! divergence detection; monitoring snapshots; checkpoints that resume bit-identically.
//!
//! # Randomness
//! Every random choice comes from a `ChaCha8Rng` seeded with `config.seed`, one stream per purpose
//! and epoch (initialisation; shuffling in epoch `e`; dropout masks in epoch `e`), so resuming at an
//! epoch boundary needs only the epoch counter. With the same seed and data a run is bit-identical,
//! whatever the thread count.

use std::time::Instant;

use ndarray::{s, Array2, ArrayView2, Axis};
use nn_core::{LayerKind, Loss, Network, ParamKind, Targets};
use nn_preprocess::Dataset;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::config::TrainConfig;
use crate::error::{Result, TrainError};
use crate::eval::{BiasCorrection, Ema};
use crate::monitor::{activation_stats, GapReading, MonitorReport, TensorStats};
use crate::observer::{Control, EpochMetrics, Observer, StepMetrics};
use crate::optim::Optimizer;
use crate::schedule::{PlateauMode, Schedule, ScheduleConfig};

/// Why [`Trainer::fit`] returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    /// All configured epochs ran.
    Completed,
    /// Validation accuracy stopped improving (see [`crate::config::EarlyStopping`]).
    EarlyStopped,
    /// The loss became NaN/infinite or exceeded `divergence_factor ×` the first batch's loss; the
    /// parameters are those of the last completed epoch (or the initial ones).
    Diverged,
    /// An observer returned [`Control::Stop`]; the trainer holds the last completed epoch.
    Interrupted,
}

/// What [`Trainer::fit`] returns.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainReport {
    /// Every completed epoch of the run so far (including those before a resume).
    pub epochs: Vec<EpochMetrics>,
    /// The epoch (from 1) with the best validation accuracy, if there was validation data.
    pub best_epoch: Option<usize>,
    /// That best validation accuracy.
    pub best_val_accuracy: Option<f64>,
    /// Why the run stopped.
    pub stopped: StopReason,
    /// For a diverged run, what happened and what to try.
    pub diagnosis: Option<String>,
    /// Optimisation steps taken.
    pub steps: u64,
}

impl std::fmt::Display for TrainReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:?} after {} epochs ({} steps)",
            self.stopped,
            self.epochs.len(),
            self.steps
        )?;
        if let (Some(e), Some(a)) = (self.best_epoch, self.best_val_accuracy) {
            write!(
                f,
                "; best validation accuracy {:.2}% at epoch {e}",
                100.0 * a
            )?;
        }
        if let Some(d) = &self.diagnosis {
            write!(f, "\n{d}")?;
        }
        Ok(())
    }
}

/// Loss and accuracy of a network on a data set, in evaluation mode.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct EvalSummary {
    /// The mean data loss.
    pub loss: f64,
    /// The fraction classified correctly.
    pub accuracy: f64,
    /// Number of samples.
    pub samples: usize,
}

impl std::fmt::Display for EvalSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "loss {:.4}, accuracy {:.2}% on {} samples",
            self.loss,
            100.0 * self.accuracy,
            self.samples
        )
    }
}

/// What a random stream is used for (each purpose and epoch gets its own ChaCha stream).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Purpose {
    Init = 0,
    Shuffle = 1,
    Dropout = 2,
    Split = 3,
}

/// The generator for `purpose` in `epoch`: `ChaCha8Rng::seed_from_u64(seed)` on stream
/// `purpose·2⁴⁰ + epoch`.
fn stream_rng(seed: u64, purpose: Purpose, epoch: usize) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(((purpose as u64) << 40) | epoch as u64);
    rng
}

/// Splits `data` into `(train, validation)` with `round(val_fraction·N)` validation samples, drawn
/// from the seed's own split stream (independent of initialisation and shuffling).
///
/// # Errors
/// [`TrainError::Preprocess`] unless `0 < val_fraction < 1` leaves a sample in each part.
pub fn split_validation(
    data: &Dataset,
    val_fraction: f64,
    seed: u64,
) -> Result<(Dataset, Dataset)> {
    let mut rng = stream_rng(seed, Purpose::Split, 0);
    Ok(data.split(val_fraction, &mut rng)?)
}

/// [`split_validation`] of a data set taken by value: the same split for the same seed, but the
/// training part reuses `data`'s buffer and only the validation part is copied (see
/// [`Dataset::split_owned`]), so splitting a large set does not hold it twice.
///
/// # Errors
/// As [`split_validation`].
///
/// # Example
/// ```
/// use ndarray::Array2;
/// use nn_preprocess::Dataset;
/// use nn_train::trainer::{split_validation, split_validation_owned};
/// let x = Array2::from_shape_fn((20, 2), |(i, j)| (2 * i + j) as f32);
/// let data = Dataset::new(x, vec![0; 20], vec!["a".into()], None)?;
/// let expected = split_validation(&data, 0.25, 7)?;
/// assert_eq!(split_validation_owned(data, 0.25, 7)?, expected);
/// # Ok::<(), nn_train::TrainError>(())
/// ```
pub fn split_validation_owned(
    data: Dataset,
    val_fraction: f64,
    seed: u64,
) -> Result<(Dataset, Dataset)> {
    let mut rng = stream_rng(seed, Purpose::Split, 0);
    Ok(data.split_owned(val_fraction, &mut rng)?)
}

/// The best parameters seen so far (by validation accuracy).
#[derive(Clone, Debug)]
pub(crate) struct Best {
    pub(crate) epoch: usize,
    pub(crate) val_accuracy: f64,
    pub(crate) net: Network<f32>,
}

/// The state to go back to when an epoch is abandoned (divergence or interrupt).
struct Snapshot {
    /// The network as safetensors bytes (parameters and running statistics, bit-exact): a third
    /// of a clone, which would copy the gradients and step buffers too.
    net: Vec<u8>,
    opt: Optimizer<f32>,
    ema: Option<Ema<f32>>,
    step: u64,
    initial_loss: Option<f64>,
}

/// What one step produced.
struct StepOut {
    data_loss: f64,
    reg_loss: f64,
    correct: usize,
    grad_norm: f64,
    tensors: Option<Vec<TensorStats>>,
    diverged: Option<String>,
}

/// The training loop over a [`Network<f32>`] with an [`Optimizer`], a [`Schedule`] and optional
/// EMA of the parameters.
///
/// # Example
/// Fit a tiny MLP to two separable blobs:
/// ```
/// use ndarray::Array2;
/// use nn_core::{MlpOptions, NetworkSpec};
/// use nn_preprocess::Dataset;
/// use nn_train::config::TrainConfig;
/// use nn_train::schedule::ScheduleConfig;
/// use nn_train::trainer::{StopReason, Trainer};
/// let x = Array2::from_shape_fn((64, 2), |(i, j)| if (i % 2 == 0) == (j == 0) { 1.0f32 } else { -1.0 } + 0.01 * i as f32);
/// let y: Vec<u8> = (0..64).map(|i| (i % 2) as u8).collect();
/// let data = Dataset::new(x, y, vec!["a".into(), "b".into()], None)?;
/// let config = TrainConfig {
///     model: NetworkSpec::mlp(2, &[8], 2, &MlpOptions::default())?,
///     schedule: ScheduleConfig::Constant { lr: 1e-2 },
///     epochs: 20,
///     batch_size: 16,
///     ..TrainConfig::default()
/// };
/// let mut trainer = Trainer::new(config)?;
/// let report = trainer.fit(&data, Some(&data), &mut ())?;
/// assert_eq!(report.stopped, StopReason::Completed);
/// assert_eq!(trainer.evaluate(&data)?.accuracy, 1.0);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct Trainer {
    pub(crate) config: TrainConfig,
    pub(crate) net: Network<f32>,
    pub(crate) opt: Optimizer<f32>,
    pub(crate) schedule: Schedule,
    pub(crate) ema: Option<Ema<f32>>,
    /// Completed epochs.
    pub(crate) epoch: usize,
    /// Completed steps.
    pub(crate) step: u64,
    /// The data loss of the very first step.
    pub(crate) initial_loss: Option<f64>,
    pub(crate) history: Vec<EpochMetrics>,
    pub(crate) best: Option<Best>,
    /// Epochs since validation accuracy last improved by more than `min_delta`.
    pub(crate) since_best: usize,
    /// Best validation accuracy for early stopping (improvements of more than `min_delta`).
    pub(crate) patience_best: Option<f64>,
    /// Set once the run ended for good (early stopping or divergence).
    pub(crate) finished: Option<StopReason>,
    pub(crate) diagnosis: Option<String>,
    labels: Vec<usize>,
    dscores: Array2<f32>,
    onehot: Array2<f32>,
    before: Vec<Vec<f32>>,
}

impl Trainer {
    /// Validates `config` and builds its network with weights drawn from the seed's
    /// initialisation stream.
    ///
    /// # Errors
    /// As [`TrainConfig::validate`]; [`TrainError::Core`] if the network cannot be built.
    pub fn new(config: TrainConfig) -> Result<Self> {
        config.validate()?;
        let mut rng = stream_rng(config.seed, Purpose::Init, 0);
        let net = Network::from_spec(&config.model, &mut rng)?;
        Self::from_network(config, net)
    }

    /// Starts training from an existing network (warm start); `config.model` is replaced by the
    /// network's own spec.
    ///
    /// # Errors
    /// As [`TrainConfig::validate`].
    pub fn from_network(mut config: TrainConfig, net: Network<f32>) -> Result<Self> {
        config.model = net.spec().clone();
        config.validate()?;
        let opt = Optimizer::new(config.optimizer)?;
        let schedule = config.schedule.build()?;
        let ema = match config.ema_decay {
            Some(d) => Some(Ema::new(d, BiasCorrection::CopyFirst)?),
            None => None,
        };
        Ok(Trainer {
            config,
            net,
            opt,
            schedule,
            ema,
            epoch: 0,
            step: 0,
            initial_loss: None,
            history: Vec::new(),
            best: None,
            since_best: 0,
            patience_best: None,
            finished: None,
            diagnosis: None,
            labels: Vec::new(),
            dscores: Array2::zeros((0, 0)),
            onehot: Array2::zeros((0, 0)),
            before: Vec::new(),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &TrainConfig {
        &self.config
    }

    /// The current network (after the last completed epoch once `fit` returned).
    pub fn network(&self) -> &nn_core::Network<f32> {
        &self.net
    }

    /// Takes the network out of the trainer.
    pub fn into_network(self) -> Network<f32> {
        self.net
    }

    /// The network of the epoch with the best validation accuracy, if there was validation data.
    pub fn best_network(&self) -> Option<&Network<f32>> {
        self.best.as_ref().map(|b| &b.net)
    }

    /// The epoch (from 1) of [`Trainer::best_network`].
    pub fn best_epoch(&self) -> Option<usize> {
        self.best.as_ref().map(|b| b.epoch)
    }

    /// Why the run stopped early, in words, when it diverged (for example "learning rate too
    /// high?"); `None` while the run is healthy. The same text as [`TrainReport::diagnosis`], for
    /// callers that drive [`Trainer::run_epoch`] themselves.
    pub fn diagnosis(&self) -> Option<&str> {
        self.diagnosis.as_deref()
    }

    /// A copy of the network with its trainable parameters replaced by their exponential moving
    /// average (BatchNorm's running statistics are the current ones), if `ema_decay` is set and a
    /// step was taken.
    pub fn ema_network(&self) -> Option<Network<f32>> {
        let ema = self.ema.as_ref()?;
        if self.step == 0 {
            return None;
        }
        let mut net = self.net.clone();
        net.visit_params_mut(|p| {
            if let Some(avg) = ema.averaged(p.name) {
                let mut v = p.value;
                v.iter_mut().zip(avg.iter()).for_each(|(w, &a)| *w = a);
            }
        });
        Some(net)
    }

    /// Completed epochs.
    pub fn epoch(&self) -> usize {
        self.epoch
    }

    /// Completed optimisation steps.
    pub fn step(&self) -> u64 {
        self.step
    }

    /// The metrics of every completed epoch.
    pub fn history(&self) -> &[EpochMetrics] {
        &self.history
    }

    /// The optimiser (its configuration and per-parameter states).
    pub fn optimizer(&self) -> &Optimizer<f32> {
        &self.opt
    }

    /// Loss and accuracy of the current network on `data`, in evaluation mode.
    ///
    /// # Errors
    /// [`TrainError::ShapeMismatch`] if the feature width is not the network's input width;
    /// [`TrainError::Core`] for labels beyond the network's classes.
    pub fn evaluate(&self, data: &Dataset) -> Result<EvalSummary> {
        evaluate_network(&self.net, &self.config.loss, data)
    }

    fn check_data(&self, data: &Dataset, op: &'static str) -> Result<()> {
        if data.n_features() != self.net.input_dim() {
            return Err(TrainError::ShapeMismatch {
                op,
                expected: vec![data.len(), self.net.input_dim()],
                got: vec![data.len(), data.n_features()],
            });
        }
        if data.n_classes() > self.net.output_dim() {
            return Err(TrainError::ShapeMismatch {
                op: "Trainer (data set classes vs network outputs)",
                expected: vec![self.net.output_dim()],
                got: vec![data.n_classes()],
            });
        }
        Ok(())
    }

    fn report(&self, stopped: StopReason) -> TrainReport {
        TrainReport {
            epochs: self.history.clone(),
            best_epoch: self.best.as_ref().map(|b| b.epoch),
            best_val_accuracy: self.best.as_ref().map(|b| b.val_accuracy),
            stopped,
            diagnosis: self.diagnosis.clone(),
            steps: self.step,
        }
    }

    /// Runs the remaining epochs (all of them for a new trainer; those after the checkpoint for a
    /// resumed one), reporting to `obs`.
    ///
    /// A run that early-stopped or diverged stays finished: calling `fit` again returns the same
    /// report at once. An interrupted run continues where it stopped.
    ///
    /// # Errors
    /// [`TrainError::ShapeMismatch`] if a data set does not fit the network;
    /// [`TrainError::InvalidHyperparameter`] for early stopping without validation data;
    /// [`TrainError::Core`] from the network.
    pub fn fit(
        &mut self,
        train: &Dataset,
        val: Option<&Dataset>,
        obs: &mut dyn Observer,
    ) -> Result<TrainReport> {
        if let Some(r) = self.finished {
            return Ok(self.report(r));
        }
        loop {
            if self.epoch >= self.config.epochs {
                return Ok(self.report(StopReason::Completed));
            }
            if let Some(r) = self.run_epoch(train, val, obs)? {
                return Ok(self.report(r));
            }
        }
    }

    /// Runs one epoch (for callers that checkpoint between epochs). Returns `Some(reason)` when the
    /// run should stop (including [`StopReason::Completed`] after the last epoch), `None` otherwise.
    ///
    /// # Errors
    /// As [`Trainer::fit`].
    pub fn run_epoch(
        &mut self,
        train: &Dataset,
        val: Option<&Dataset>,
        obs: &mut dyn Observer,
    ) -> Result<Option<StopReason>> {
        if let Some(r) = self.finished {
            return Ok(Some(r));
        }
        if self.epoch >= self.config.epochs {
            return Ok(Some(StopReason::Completed));
        }
        self.check_data(train, "Trainer::fit (training data)")?;
        if let Some(v) = val {
            self.check_data(v, "Trainer::fit (validation data)")?;
        }
        if self.config.early_stopping.is_some() && val.is_none() {
            return Err(TrainError::InvalidHyperparameter {
                name: "early_stopping",
                value: "set".into(),
                reason: "early stopping needs validation data".into(),
            });
        }
        let start = Instant::now();
        let e = self.epoch + 1;
        let seed = self.config.seed;
        let snapshot = Snapshot {
            net: self.net.to_safetensors()?,
            opt: self.opt.clone(),
            ema: self.ema.clone(),
            step: self.step,
            initial_loss: self.initial_loss,
        };
        let mut shuffle_rng = stream_rng(seed, Purpose::Shuffle, e);
        let mut dropout_rng = stream_rng(seed, Purpose::Dropout, e);
        let mut batches = if self.config.shuffle {
            train.shuffled_batches(self.config.batch_size, &mut shuffle_rng)?
        } else {
            train.batches(self.config.batch_size)?
        };
        // BatchNorm cannot normalise a single sample: a last batch of one row is skipped (the
        // shuffled order puts another sample there in the next epoch).
        let has_bn = self
            .net
            .layers()
            .iter()
            .any(|l| matches!(l, LayerKind::BatchNorm(_)));
        let skip_single = has_bn && train.len() % self.config.batch_size == 1;
        let n_batches = batches.len() - usize::from(skip_single);
        if n_batches == 0 {
            return Err(TrainError::EmptyInput {
                op: "Trainer::fit (a network with BatchNorm needs at least 2 training samples)",
            });
        }
        let monitor_every = self.config.monitor_every as u64;
        let monitor_x = train
            .features()
            .slice_move(s![..self.config.monitor_samples.min(train.len()), ..]);
        let (mut loss_sum, mut reg_sum, mut correct, mut seen) = (0.0f64, 0.0f64, 0usize, 0usize);
        let mut last_monitor: Option<MonitorReport> = None;
        let mut lr = self.schedule.lr_at(self.step);
        let mut batch = 0usize;
        while let Some(b) = batches.next_batch() {
            if batch == n_batches {
                break;
            }
            batch += 1;
            lr = self.schedule.lr_at(self.step);
            let monitor_now = self.step.checked_rem(monitor_every) == Some(0);
            let out = match self.train_step(b.x, b.y, lr, &mut dropout_rng, monitor_now) {
                Ok(out) => out,
                Err(e) => {
                    // Never leave a half-trained epoch behind.
                    self.restore(snapshot)?;
                    return Err(e);
                }
            };
            let rows = b.y.len();
            self.step += 1;
            let monitor = match (&out.tensors, out.diverged.is_none()) {
                (Some(t), true) => {
                    let acts = match activation_stats(&self.net, monitor_x) {
                        Ok(a) => a,
                        Err(e) => {
                            self.restore(snapshot)?;
                            return Err(e);
                        }
                    };
                    let r = MonitorReport::new(e, self.step, lr, t.clone(), acts);
                    last_monitor = Some(r.clone());
                    Some(r)
                }
                _ => None,
            };
            let m = StepMetrics {
                epoch: e,
                step: self.step,
                batch,
                batches: n_batches,
                lr,
                data_loss: out.data_loss,
                reg_loss: out.reg_loss,
                batch_accuracy: out.correct as f64 / rows as f64,
                grad_norm: out.grad_norm,
                monitor,
            };
            if let Some(d) = out.diverged {
                let _ = obs.on_step(&m);
                self.restore(snapshot)?;
                self.finished = Some(StopReason::Diverged);
                self.diagnosis = Some(format!(
                    "{d}; parameters restored to {}",
                    if e == 1 {
                        "their initial values".to_string()
                    } else {
                        format!("the end of epoch {}", e - 1)
                    }
                ));
                return Ok(Some(StopReason::Diverged));
            }
            loss_sum += out.data_loss * rows as f64;
            reg_sum += out.reg_loss * rows as f64;
            correct += out.correct;
            seen += rows;
            if obs.on_step(&m) == Control::Stop {
                self.restore(snapshot)?;
                return Ok(Some(StopReason::Interrupted));
            }
        }
        drop(batches);
        let seen_f = seen.max(1) as f64;
        let (train_loss, reg_loss, train_accuracy) =
            (loss_sum / seen_f, reg_sum / seen_f, correct as f64 / seen_f);
        let loss = self.config.loss;
        let train_eval_accuracy = if self.config.train_eval_samples > 0 {
            let k = self.config.train_eval_samples.min(train.len());
            Some(
                evaluate_view(
                    &self.net,
                    &loss,
                    train.features().slice(s![..k, ..]),
                    &train.labels()[..k],
                )?
                .accuracy,
            )
        } else {
            None
        };
        let val_summary = match val {
            Some(v) => Some(evaluate_network(&self.net, &loss, v)?),
            None => None,
        };
        let ema_val_accuracy = match (val, self.ema_network()) {
            (Some(v), Some(net)) => Some(evaluate_network(&net, &loss, v)?.accuracy),
            _ => None,
        };
        let val_accuracy = val_summary.map(|s| s.accuracy);
        let mut improved = false;
        if let Some(acc) = val_accuracy {
            if match &self.best {
                Some(b) => acc > b.val_accuracy,
                None => true,
            } {
                improved = true;
                self.best = Some(Best {
                    epoch: e,
                    val_accuracy: acc,
                    net: self.net.clone(),
                });
            }
            let min_delta = self.config.early_stopping.map_or(0.0, |es| es.min_delta);
            if match self.patience_best {
                Some(b) => acc > b + min_delta,
                None => true,
            } {
                self.patience_best = Some(acc);
                self.since_best = 0;
            } else {
                self.since_best += 1;
            }
        }
        let gap = val_accuracy
            .map(|v| GapReading::read(train_eval_accuracy.unwrap_or(train_accuracy), v));
        // A plateau schedule watches validation loss or accuracy (training ones without validation).
        if let Some(mode) = plateau_mode(self.schedule.config()) {
            let metric = match (mode, val_summary) {
                (PlateauMode::Min, Some(s)) => s.loss,
                (PlateauMode::Max, Some(s)) => s.accuracy,
                (PlateauMode::Min, None) => train_loss,
                (PlateauMode::Max, None) => train_accuracy,
            };
            if metric.is_finite() {
                self.schedule.observe(metric)?;
            }
        }
        self.epoch = e;
        let m = EpochMetrics {
            epoch: e,
            steps: self.step,
            lr,
            train_loss,
            reg_loss,
            train_accuracy,
            train_eval_accuracy,
            val_loss: val_summary.map(|s| s.loss),
            val_accuracy,
            ema_val_accuracy,
            gap,
            improved,
            seconds: start.elapsed().as_secs_f64(),
            monitor: last_monitor,
        };
        self.history.push(m.clone());
        let control = obs.on_epoch(&m);
        if let Some(es) = self.config.early_stopping {
            if self.since_best >= es.patience {
                self.finished = Some(StopReason::EarlyStopped);
                return Ok(Some(StopReason::EarlyStopped));
            }
        }
        if control == Control::Stop {
            return Ok(Some(StopReason::Interrupted));
        }
        if self.epoch >= self.config.epochs {
            return Ok(Some(StopReason::Completed));
        }
        Ok(None)
    }

    fn restore(&mut self, s: Snapshot) -> Result<()> {
        self.net = Network::from_safetensors(&s.net)?;
        self.opt = s.opt;
        self.ema = s.ema;
        self.step = s.step;
        self.initial_loss = s.initial_loss;
        Ok(())
    }

    /// One step: forward, loss, divergence check, backward, L2, clipping, update, EMA, monitoring.
    fn train_step(
        &mut self,
        x: ArrayView2<'_, f32>,
        y: &[u8],
        lr: f64,
        rng: &mut ChaCha8Rng,
        monitor: bool,
    ) -> Result<StepOut> {
        let n = x.nrows();
        let c = self.net.output_dim();
        self.labels.clear();
        self.labels.extend(y.iter().map(|&l| usize::from(l)));
        if self.dscores.dim() != (n, c) {
            self.dscores = Array2::zeros((n, c));
        }
        let loss = self.config.loss;
        if matches!(loss, Loss::MeanSquaredError) {
            if self.onehot.dim() != (n, c) {
                self.onehot = Array2::zeros((n, c));
            }
            self.onehot.fill(0.0);
            for (mut row, &l) in self.onehot.outer_iter_mut().zip(&self.labels) {
                if let Some(v) = row.get_mut(l) {
                    *v = 1.0;
                }
            }
        }
        self.net.zero_grad();
        let scores = self.net.forward_train(x, rng)?;
        let correct = count_correct(scores, &self.labels);
        let targets = match loss {
            Loss::MeanSquaredError => Targets::Values(self.onehot.view()),
            _ => Targets::Classes(&self.labels),
        };
        let data_loss = f64::from(loss.loss_into(scores, targets, self.dscores.view_mut())?);
        let factor = self.config.divergence_factor;
        let initial = *self.initial_loss.get_or_insert(data_loss);
        let mut out = StepOut {
            data_loss,
            reg_loss: 0.0,
            correct,
            grad_norm: f64::NAN,
            tensors: None,
            diverged: None,
        };
        let step = self.step + 1;
        if !data_loss.is_finite() {
            out.diverged = Some(format!(
                "the loss is {data_loss} at step {step}: the learning rate ({lr:.3e}) is probably too high; try 10× lower"
            ));
            return Ok(out);
        }
        if data_loss > factor * initial {
            out.diverged = Some(format!(
                "the loss {data_loss:.4} at step {step} exceeds {factor}× the initial loss {initial:.4}: learning rate too high? (lr {lr:.3e}; try 10× lower)"
            ));
            return Ok(out);
        }
        self.net.backward(self.dscores.view())?;
        let l2 = self.config.l2 as f32;
        if l2 != 0.0 {
            out.reg_loss = f64::from(self.net.l2_penalty(l2));
            self.net.add_l2_grad(l2);
        }
        // The global gradient norm, summed in f64 in visiting order (thread-count independent).
        let mut sq = 0.0f64;
        self.net.visit_tensors(|t| {
            if let (true, Some(g)) = (t.kind.is_trainable(), t.grad) {
                sq += match g.as_slice() {
                    Some(flat) => sum_squares(flat),
                    None => sum_squares(&g.iter().copied().collect::<Vec<_>>()),
                };
            }
        });
        out.grad_norm = sq.sqrt();
        if !out.grad_norm.is_finite() {
            out.diverged = Some(format!(
                "the gradient norm is {} at step {step}: the learning rate ({lr:.3e}) is probably too high; try 10× lower",
                out.grad_norm
            ));
            return Ok(out);
        }
        if let Some(clip) = self.config.clip_norm {
            if out.grad_norm > clip {
                let scale = (clip / out.grad_norm) as f32;
                self.net.visit_params_mut(|p| {
                    let mut g = p.grad;
                    g.mapv_inplace(|v| v * scale);
                });
            }
        }
        let mut tensors = Vec::new();
        if monitor {
            let before = &mut self.before;
            let mut i = 0;
            self.net.visit_params_mut(|p| {
                if before.len() <= i {
                    before.push(Vec::new());
                }
                let buf = &mut before[i];
                buf.clear();
                buf.extend(p.value.iter().copied());
                tensors.push(TensorStats {
                    name: p.name.to_string(),
                    is_weight: p.kind == ParamKind::Weight,
                    weight_norm: sum_squares(buf).sqrt(),
                    grad_norm: norm(p.grad.iter().copied()),
                    update_norm: 0.0,
                    update_ratio: 0.0,
                });
                i += 1;
            });
        }
        let lr32 = lr as f32;
        let opt = &mut self.opt;
        let mut err: Option<TrainError> = None;
        self.net.visit_params_mut(|p| {
            if err.is_some() {
                return;
            }
            let len = p.value.len();
            let r = match (
                p.value.into_shape_with_order(len),
                p.grad.into_shape_with_order(len),
            ) {
                (Ok(v), Ok(g)) => opt.step(lr32, p.name, v, g.view()),
                _ => Err(TrainError::ShapeMismatch {
                    op: "Trainer (parameter is not contiguous)",
                    expected: vec![len],
                    got: vec![len],
                }),
            };
            if let Err(e) = r {
                err = Some(e);
            }
        });
        if let Some(e) = err {
            return Err(e);
        }
        if let Some(ema) = self.ema.as_mut() {
            let mut err: Option<TrainError> = None;
            self.net.visit_tensors(|t| {
                if t.kind.is_trainable() && err.is_none() {
                    // Parameters are contiguous, so this view costs nothing; copy otherwise.
                    let r = match t.value.as_slice() {
                        Some(flat) => ema.update(t.name, ndarray::ArrayView1::from(flat)),
                        None => {
                            let flat: ndarray::Array1<f32> = t.value.iter().copied().collect();
                            ema.update(t.name, flat.view())
                        }
                    };
                    if let Err(e) = r {
                        err = Some(e);
                    }
                }
            });
            if let Some(e) = err {
                return Err(e);
            }
        }
        if monitor {
            let before = &self.before;
            let mut i = 0;
            self.net.visit_tensors(|t| {
                if t.kind.is_trainable() {
                    if let (Some(ts), Some(b)) = (tensors.get_mut(i), before.get(i)) {
                        ts.update_norm = match t.value.as_slice() {
                            Some(after) => distance(after, b),
                            None => norm(t.value.iter().zip(b).map(|(&a, &b)| a - b)),
                        };
                        ts.update_ratio = if ts.weight_norm > 0.0 {
                            ts.update_norm / ts.weight_norm
                        } else {
                            0.0
                        };
                    }
                    i += 1;
                }
            });
            out.tensors = Some(tensors);
        }
        Ok(out)
    }
}

/// The L2 norm of a sequence of `f32`, summed in `f64` (as [`sum_squares`]).
fn norm(it: impl Iterator<Item = f32>) -> f64 {
    sum_squares(&it.collect::<Vec<_>>()).sqrt()
}

/// Lanes of the partial sums in [`sum_squares`] and [`distance`].
const LANES: usize = 8;

/// `Σ vᵢ²` in `f64`, in [`LANES`] partial sums (lane `j` takes the elements `i ≡ j mod LANES`)
/// added in a fixed order at the end: deterministic for a given length, and vectorised, where one
/// running sum costs an add's latency per element (the gradient norm of a 535 K-parameter MLP took
/// a tenth of the training step that way).
fn sum_squares(v: &[f32]) -> f64 {
    let mut lanes = [0.0f64; LANES];
    let chunks = v.chunks_exact(LANES);
    let rest = chunks.remainder();
    for chunk in chunks {
        for (lane, &x) in lanes.iter_mut().zip(chunk) {
            *lane += f64::from(x) * f64::from(x);
        }
    }
    let tail: f64 = rest.iter().map(|&x| f64::from(x) * f64::from(x)).sum();
    lanes.iter().sum::<f64>() + tail
}

/// `‖a − b‖₂` summed as [`sum_squares`]; `a` and `b` have the same length.
fn distance(a: &[f32], b: &[f32]) -> f64 {
    let mut lanes = [0.0f64; LANES];
    let (ca, cb) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (xa, xb) in ca.zip(cb) {
        for ((lane, &x), &y) in lanes.iter_mut().zip(xa).zip(xb) {
            let d = f64::from(x - y);
            *lane += d * d;
        }
    }
    let tail: f64 = ra
        .iter()
        .zip(rb)
        .map(|(&x, &y)| f64::from(x - y).powi(2))
        .sum();
    (lanes.iter().sum::<f64>() + tail).sqrt()
}

/// Rows whose arg-max (first on ties) equals the label.
fn count_correct(scores: ArrayView2<'_, f32>, labels: &[usize]) -> usize {
    scores
        .axis_iter(Axis(0))
        .zip(labels)
        .filter(|(row, &l)| {
            let mut best = 0;
            for (j, &v) in row.iter().enumerate() {
                if v > row[best] {
                    best = j;
                }
            }
            best == l
        })
        .count()
}

/// The plateau mode of a schedule (through warm-ups), if it has a plateau part.
fn plateau_mode(config: &ScheduleConfig) -> Option<PlateauMode> {
    match config {
        ScheduleConfig::Plateau(p) => Some(p.mode),
        ScheduleConfig::WarmUp { then, .. } => plateau_mode(then),
        _ => None,
    }
}

/// Rows per evaluation chunk (bounds the memory of `predict`).
const EVAL_CHUNK: usize = 1024;

/// Loss and accuracy of `net` on `data` in evaluation mode, in chunks of 1024 rows.
///
/// # Errors
/// [`TrainError::ShapeMismatch`] if the feature width is not the network's input width;
/// [`TrainError::Core`] for labels beyond the network's classes.
pub fn evaluate_network(net: &Network<f32>, loss: &Loss, data: &Dataset) -> Result<EvalSummary> {
    if data.n_features() != net.input_dim() {
        return Err(TrainError::ShapeMismatch {
            op: "evaluate",
            expected: vec![data.len(), net.input_dim()],
            got: vec![data.len(), data.n_features()],
        });
    }
    evaluate_view(net, loss, data.features(), data.labels())
}

fn evaluate_view(
    net: &Network<f32>,
    loss: &Loss,
    x: ArrayView2<'_, f32>,
    y: &[u8],
) -> Result<EvalSummary> {
    let n = x.nrows();
    if n == 0 {
        return Err(TrainError::EmptyInput { op: "evaluate" });
    }
    let (mut loss_sum, mut correct) = (0.0f64, 0usize);
    let mut labels: Vec<usize> = Vec::with_capacity(EVAL_CHUNK);
    for start in (0..n).step_by(EVAL_CHUNK) {
        let end = (start + EVAL_CHUNK).min(n);
        labels.clear();
        labels.extend(y[start..end].iter().map(|&l| usize::from(l)));
        let scores = net.predict(x.slice(s![start..end, ..]))?;
        correct += count_correct(scores.view(), &labels);
        let l = match loss {
            Loss::MeanSquaredError => {
                let mut t = Array2::<f32>::zeros(scores.raw_dim());
                for (mut row, &l) in t.outer_iter_mut().zip(&labels) {
                    if let Some(v) = row.get_mut(l) {
                        *v = 1.0;
                    }
                }
                loss.loss(scores.view(), Targets::Values(t.view()))?.0
            }
            _ => loss.loss(scores.view(), Targets::Classes(&labels))?.0,
        };
        loss_sum += f64::from(l) * (end - start) as f64;
    }
    Ok(EvalSummary {
        loss: loss_sum / n as f64,
        accuracy: correct as f64 / n as f64,
        samples: n,
    })
}
