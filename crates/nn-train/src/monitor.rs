//! Babysitting the learning process (CS231n): update/weight ratios, gradient norms, activation
//! statistics per layer, and the reading of the train/validation accuracy gap, as serialisable
//! reports with a readable `Display`.

use std::fmt;

use nn_core::{LayerKind, Mode, Network};
use serde::{Deserialize, Serialize};

use crate::error::{Result, TrainError};

/// The healthy update/weight ratio from the lecture notes ("somewhere around 1e-3").
pub const HEALTHY_UPDATE_RATIO: f64 = 1e-3;

/// Ratios more than this factor away from [`HEALTHY_UPDATE_RATIO`] get a warning (an order of
/// magnitude).
pub const RATIO_WARNING_FACTOR: f64 = 10.0;

/// Statistics of one trainable tensor at one step.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TensorStats {
    /// Its name, e.g. `layers.0.weight`.
    pub name: String,
    /// Whether it is a regularised weight (the ratio warnings look at weights only).
    pub is_weight: bool,
    /// `‖W‖₂` before the update.
    pub weight_norm: f64,
    /// `‖∂L/∂W‖₂` (after clipping, as used by the update).
    pub grad_norm: f64,
    /// `‖W_after − W_before‖₂`.
    pub update_norm: f64,
    /// `update_norm / weight_norm` (0 when the weight norm is 0).
    pub update_ratio: f64,
}

/// Statistics of one activation layer's outputs on the fixed monitoring batch.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ActivationReport {
    /// The layer's index in the network.
    pub layer: usize,
    /// The activation function's name.
    pub activation: String,
    /// Mean output.
    pub mean: f64,
    /// Standard deviation of the outputs (population).
    pub std: f64,
    /// Fraction of elements with `|f'(x)| < 0.01` (sigmoid/tanh near their limits; ReLU's negative
    /// side).
    pub saturated: f64,
    /// Fraction of units whose gradient is 0 for every sample of the batch (dead ReLUs).
    pub dead: f64,
}

/// One monitoring snapshot: every trainable tensor's update/weight ratio and gradient norm, every
/// activation layer's statistics, and the warnings they raise.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MonitorReport {
    /// The epoch, counted from 1.
    pub epoch: usize,
    /// The global step, counted from 1.
    pub step: u64,
    /// The learning rate of the step.
    pub lr: f64,
    /// Per trainable tensor, in network order.
    pub tensors: Vec<TensorStats>,
    /// Per activation layer, in network order (a training-mode forward of the first
    /// `monitor_samples` training samples, after the step).
    pub activations: Vec<ActivationReport>,
    /// What looks wrong, in words.
    pub warnings: Vec<String>,
}

impl MonitorReport {
    /// Builds a report and derives its warnings (see [`ratio_warning`] and [`activation_warning`]).
    pub fn new(
        epoch: usize,
        step: u64,
        lr: f64,
        tensors: Vec<TensorStats>,
        activations: Vec<ActivationReport>,
    ) -> Self {
        let mut warnings: Vec<String> = tensors
            .iter()
            .filter(|t| t.is_weight)
            .filter_map(|t| ratio_warning(&t.name, t.update_ratio))
            .collect();
        warnings.extend(activations.iter().filter_map(activation_warning));
        MonitorReport {
            epoch,
            step,
            lr,
            tensors,
            activations,
            warnings,
        }
    }

    /// The `(name, update_ratio)` pairs of the regularised weights.
    pub fn weight_ratios(&self) -> Vec<(String, f64)> {
        self.tensors
            .iter()
            .filter(|t| t.is_weight)
            .map(|t| (t.name.clone(), t.update_ratio))
            .collect()
    }
}

/// A warning when a weight's update/weight ratio is more than [`RATIO_WARNING_FACTOR`] away from
/// [`HEALTHY_UPDATE_RATIO`], else `None`.
///
/// ```text
/// ratio > 1e-2  →  "learning rate may be too high"
/// ratio < 1e-4  →  "learning rate may be too low"
/// ```
///
/// # Example
/// ```
/// use nn_train::monitor::ratio_warning;
/// assert!(ratio_warning("layers.0.weight", 3e-2).unwrap().contains("too high"));
/// assert!(ratio_warning("layers.0.weight", 2e-3).is_none());
/// assert!(ratio_warning("layers.0.weight", 1e-6).unwrap().contains("too low"));
/// ```
pub fn ratio_warning(name: &str, ratio: f64) -> Option<String> {
    if !ratio.is_finite() {
        return Some(format!(
            "update/weight ratio {ratio} on {name}: the update is not finite"
        ));
    }
    if ratio > HEALTHY_UPDATE_RATIO * RATIO_WARNING_FACTOR {
        Some(format!(
            "update/weight ratio {ratio:.1e} on {name}: learning rate may be too high (healthy ≈ 1e-3)"
        ))
    } else if ratio < HEALTHY_UPDATE_RATIO / RATIO_WARNING_FACTOR {
        Some(format!(
            "update/weight ratio {ratio:.1e} on {name}: learning rate may be too low (healthy ≈ 1e-3)"
        ))
    } else {
        None
    }
}

/// A warning for many dead units (> 10%) of a ReLU-like activation (ReLU, leaky ReLU, ELU, SELU),
/// or many saturated outputs (> 10%) of any other (sigmoid, tanh, …), where a zero gradient means
/// saturation rather than death.
pub fn activation_warning(a: &ActivationReport) -> Option<String> {
    let relu_like = matches!(
        a.activation.as_str(),
        "relu" | "leaky_relu" | "elu" | "selu"
    );
    if relu_like && a.dead > 0.1 {
        Some(format!(
            "layer {} ({}): {:.0}% dead units (never active on the monitoring batch): learning rate too high or bad initialisation?",
            a.layer,
            a.activation,
            100.0 * a.dead
        ))
    } else if !relu_like && a.saturated > 0.1 {
        Some(format!(
            "layer {} ({}): {:.0}% saturated outputs: weights too large (initialisation) or inputs not normalised?",
            a.layer,
            a.activation,
            100.0 * a.saturated
        ))
    } else {
        None
    }
}

impl fmt::Display for MonitorReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "monitor at epoch {} step {} (lr {:.3e})",
            self.epoch, self.step, self.lr
        )?;
        writeln!(
            f,
            "  {:<24} {:>10} {:>10} {:>10}",
            "tensor", "|W|", "|dW|", "update/W"
        )?;
        for t in &self.tensors {
            writeln!(
                f,
                "  {:<24} {:>10.3e} {:>10.3e} {:>10.2e}",
                t.name, t.weight_norm, t.grad_norm, t.update_ratio
            )?;
        }
        if !self.activations.is_empty() {
            writeln!(
                f,
                "  {:<24} {:>10} {:>10} {:>10} {:>10}",
                "activation", "mean", "std", "saturated", "dead"
            )?;
            for a in &self.activations {
                writeln!(
                    f,
                    "  {:<24} {:>10.4} {:>10.4} {:>9.1}% {:>9.1}%",
                    format!("layers.{} {}", a.layer, a.activation),
                    a.mean,
                    a.std,
                    100.0 * a.saturated,
                    100.0 * a.dead
                )?;
            }
        }
        for w in &self.warnings {
            writeln!(f, "  warning: {w}")?;
        }
        Ok(())
    }
}

/// The lecture's reading of the gap between training and validation accuracy.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GapVerdict {
    /// Training accuracy well above validation: overfitting.
    Overfitting,
    /// No gap while training accuracy is not near 100%: the model may be too small.
    Underfitting,
    /// A small gap: nothing to change on this account.
    Healthy,
}

/// Train vs validation accuracy and what the lecture says to do about the gap.
///
/// ```text
/// gap = train − val
/// gap > 0.05                          → overfitting: more regularisation (L2, dropout), more data
/// gap < 0.01 and train < 0.99         → no gap: more capacity (wider/deeper model), train longer
/// otherwise                           → healthy
/// ```
///
/// # Example
/// ```
/// use nn_train::monitor::{GapReading, GapVerdict};
/// assert_eq!(GapReading::read(0.99, 0.90).verdict, GapVerdict::Overfitting);
/// assert_eq!(GapReading::read(0.70, 0.70).verdict, GapVerdict::Underfitting);
/// assert_eq!(GapReading::read(0.99, 0.975).verdict, GapVerdict::Healthy);
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GapReading {
    /// Training accuracy (evaluation mode where available).
    pub train_accuracy: f64,
    /// Validation accuracy.
    pub val_accuracy: f64,
    /// `train_accuracy − val_accuracy`.
    pub gap: f64,
    /// The reading.
    pub verdict: GapVerdict,
}

impl GapReading {
    /// Gap above which the reading is overfitting (5 percentage points).
    pub const OVERFIT_GAP: f64 = 0.05;
    /// Gap below which (with training accuracy under [`GapReading::FIT_ACCURACY`]) the reading is
    /// underfitting (1 percentage point).
    pub const NO_GAP: f64 = 0.01;
    /// Training accuracy considered as fitting the training set.
    pub const FIT_ACCURACY: f64 = 0.99;

    /// Reads a pair of accuracies (fractions in `[0, 1]`).
    pub fn read(train_accuracy: f64, val_accuracy: f64) -> Self {
        let gap = train_accuracy - val_accuracy;
        let verdict = if gap > Self::OVERFIT_GAP {
            GapVerdict::Overfitting
        } else if gap < Self::NO_GAP && train_accuracy < Self::FIT_ACCURACY {
            GapVerdict::Underfitting
        } else {
            GapVerdict::Healthy
        };
        GapReading {
            train_accuracy,
            val_accuracy,
            gap,
            verdict,
        }
    }

    /// What to do, in words.
    pub fn advice(&self) -> &'static str {
        match self.verdict {
            GapVerdict::Overfitting => {
                "big gap: overfitting, increase regularisation (L2, dropout) or get more data"
            }
            GapVerdict::Underfitting => {
                "no gap: the model may be too small, increase its capacity or train longer"
            }
            GapVerdict::Healthy => "small gap: fine",
        }
    }
}

impl fmt::Display for GapReading {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "train {:.2}% vs val {:.2}% (gap {:+.2} points): {}",
            100.0 * self.train_accuracy,
            100.0 * self.val_accuracy,
            100.0 * self.gap,
            self.advice()
        )
    }
}

/// Statistics of every activation layer's outputs for the input `x` (`N × D`), from one
/// training-mode forward ([`Network::forward_layers`] with [`Mode::Train`]: batch statistics in
/// BatchNorm, dropout masks from a fixed seed) that leaves `net` untouched, running statistics
/// included.
///
/// # Errors
/// [`TrainError::Core`] for a shape mismatch, an empty batch or a single sample through BatchNorm.
pub fn activation_stats(
    net: &Network<f32>,
    x: ndarray::ArrayView2<'_, f32>,
) -> Result<Vec<ActivationReport>> {
    if !net
        .layers()
        .iter()
        .any(|l| matches!(l, LayerKind::Activation(_)))
    {
        return Ok(Vec::new());
    }
    let mut rng = <rand_chacha::ChaCha8Rng as rand::SeedableRng>::seed_from_u64(0x6d6f6e);
    let mut stats = Vec::new();
    net.forward_layers(x, Mode::Train, &mut rng, |i, layer, pre, _| {
        if let LayerKind::Activation(a) = layer {
            let s = nn_activations::diagnostics::stats(a.activation, pre);
            stats.push((i, a.activation, s));
        }
    })?;
    stats
        .into_iter()
        .map(|(i, act, s)| {
            let s = s.map_err(|_| TrainError::EmptyInput {
                op: "activation_stats",
            })?;
            Ok(ActivationReport {
                layer: i,
                activation: act.name().to_string(),
                mean: s.mean,
                std: s.std,
                saturated: s.saturated,
                dead: s.dead,
            })
        })
        .collect()
}
