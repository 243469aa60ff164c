//! What a training run reports while it runs: [`StepMetrics`] and [`EpochMetrics`] handed to an
//! [`Observer`], which can [`Control::Stop`] the run. The library itself never prints.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::monitor::{GapReading, MonitorReport};

/// What an observer wants the trainer to do next.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Control {
    /// Go on.
    Continue,
    /// Stop cleanly (a user interrupt, e.g. Ctrl-C): the trainer keeps the last completed epoch
    /// and [`crate::trainer::Trainer::fit`] returns with [`crate::trainer::StopReason::Interrupted`].
    Stop,
}

/// Receives every step's and every epoch's metrics. Both methods default to [`Control::Continue`].
///
/// `()` is the observer that ignores everything.
///
/// # Example
/// ```
/// use nn_train::observer::{Control, EpochMetrics, Observer};
/// /// Stops after the second epoch.
/// struct TwoEpochs;
/// impl Observer for TwoEpochs {
///     fn on_epoch(&mut self, m: &EpochMetrics) -> Control {
///         if m.epoch >= 2 { Control::Stop } else { Control::Continue }
///     }
/// }
/// let mut obs = TwoEpochs;
/// let _ = &mut obs as &mut dyn Observer;
/// ```
pub trait Observer {
    /// Called after every optimisation step.
    fn on_step(&mut self, metrics: &StepMetrics) -> Control {
        let _ = metrics;
        Control::Continue
    }

    /// Called after every completed epoch (after validation).
    fn on_epoch(&mut self, metrics: &EpochMetrics) -> Control {
        let _ = metrics;
        Control::Continue
    }
}

impl Observer for () {}

/// An observer that keeps every step's and epoch's metrics (for plots and tests).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Recorder {
    /// Every step, in order.
    pub steps: Vec<StepMetrics>,
    /// Every epoch, in order.
    pub epochs: Vec<EpochMetrics>,
}

impl Observer for Recorder {
    fn on_step(&mut self, metrics: &StepMetrics) -> Control {
        self.steps.push(metrics.clone());
        Control::Continue
    }

    fn on_epoch(&mut self, metrics: &EpochMetrics) -> Control {
        self.epochs.push(metrics.clone());
        Control::Continue
    }
}

/// The metrics of one optimisation step (one mini-batch, training mode).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StepMetrics {
    /// The epoch, counted from 1.
    pub epoch: usize,
    /// The global step, counted from 1 over the whole run.
    pub step: u64,
    /// The batch within the epoch, counted from 1.
    pub batch: usize,
    /// Batches in this epoch.
    pub batches: usize,
    /// The learning rate used.
    pub lr: f64,
    /// The data loss of the batch (before the update).
    pub data_loss: f64,
    /// The L2 loss `½·λ·Σ‖W‖²` (before the update).
    pub reg_loss: f64,
    /// The fraction of the batch classified correctly (training mode, before the update).
    pub batch_accuracy: f64,
    /// The global L2 norm of all parameter gradients (before clipping).
    pub grad_norm: f64,
    /// A monitoring snapshot, every `monitor_every` steps.
    pub monitor: Option<MonitorReport>,
}

/// The metrics of one epoch.
///
/// Training loss and accuracy are running averages over the epoch's batches (training mode,
/// weighted by batch size, each batch measured before its update); validation ones are computed in
/// evaluation mode after the epoch.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EpochMetrics {
    /// The epoch, counted from 1.
    pub epoch: usize,
    /// Global steps taken by the end of this epoch.
    pub steps: u64,
    /// The learning rate of the epoch's last step.
    pub lr: f64,
    /// The mean data loss over the epoch's batches.
    pub train_loss: f64,
    /// The mean L2 loss over the epoch's batches.
    pub reg_loss: f64,
    /// The mean batch accuracy over the epoch (training mode).
    pub train_accuracy: f64,
    /// Accuracy on the first `train_eval_samples` training samples in evaluation mode, after the
    /// epoch (compare with `val_accuracy`).
    pub train_eval_accuracy: Option<f64>,
    /// Validation data loss (evaluation mode).
    pub val_loss: Option<f64>,
    /// Validation accuracy (evaluation mode).
    pub val_accuracy: Option<f64>,
    /// Validation accuracy of the exponential moving average of the parameters.
    pub ema_val_accuracy: Option<f64>,
    /// The lecture's reading of the train/validation accuracy gap.
    pub gap: Option<GapReading>,
    /// Whether this epoch has the best validation accuracy so far.
    pub improved: bool,
    /// Wall-clock seconds of the epoch (training and evaluation).
    pub seconds: f64,
    /// The epoch's last monitoring snapshot.
    pub monitor: Option<MonitorReport>,
}

fn opt_pct(x: Option<f64>) -> String {
    x.map_or_else(|| "-".to_string(), |v| format!("{:.2}%", 100.0 * v))
}

impl fmt::Display for StepMetrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "epoch {} batch {}/{} step {}: loss {:.4} (reg {:.4}) acc {:.2}% lr {:.3e} |g| {:.3e}",
            self.epoch,
            self.batch,
            self.batches,
            self.step,
            self.data_loss,
            self.reg_loss,
            100.0 * self.batch_accuracy,
            self.lr,
            self.grad_norm
        )
    }
}

impl fmt::Display for EpochMetrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "epoch {:>3}: train loss {:.4} (reg {:.4}) acc {:.2}% | val loss {} acc {}{} | lr {:.3e} | {:.1}s",
            self.epoch,
            self.train_loss,
            self.reg_loss,
            100.0 * self.train_accuracy,
            self.val_loss
                .map_or_else(|| "-".to_string(), |v| format!("{v:.4}")),
            opt_pct(self.val_accuracy),
            if self.improved { " *" } else { "" },
            self.lr,
            self.seconds
        )?;
        if let Some(a) = self.ema_val_accuracy {
            write!(f, " | EMA val acc {:.2}%", 100.0 * a)?;
        }
        if let Some(g) = &self.gap {
            write!(f, "\n  {g}")?;
        }
        Ok(())
    }
}
