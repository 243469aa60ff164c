//! The activation-statistics experiment from the lecture: push unit-Gaussian data through a deep
//! plain network and watch each layer's activations and gradients.
//!
//! The matrix products use ndarray's `.dot()` (matrixmultiply): nn-core's fast GEMM sits above
//! this crate in the layer order, so it cannot be used here.

use crate::error::{InitError, Result};
use crate::init::{BiasInit, Init};
use ndarray::{Array2, ArrayView2, NdFloat};
use nn_activations::{diagnostics, Activation, Saved};
use rand::Rng;
use serde::{Deserialize, Serialize};
use std::fmt;

/// The experiment's settings; `Default` is the lecture's network and its first weights.
///
/// ```text
/// X ~ N(0, 1) of shape (N, D);  H₀ = X;  Hₗ = f(Hₗ₋₁ · Wₗ + bₗ),  l = 1..=L,  Wₗ from `init`
/// backward: dHₗ ~ N(0, 1) at the top;  dZₗ = dHₗ ⊙ f'(Zₗ);  dWₗ = Hₗ₋₁ᵀ dZₗ;  dHₗ₋₁ = dZₗ Wₗᵀ
/// ```
/// Default: `N = 1000`, `D = 500`, `L = 10` hidden layers of `H = 500` units, tanh,
/// `0.01 * randn` weights, zero biases, 20 histogram bins, saturation below `|f'| = 0.01`
/// (nn-activations' `diagnostics::SATURATION_THRESHOLD`; tanh: `|z| > 3.0`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct InitStatsConfig {
    /// Batch size `N`.
    pub batch_size: usize,
    /// Input width `D`.
    pub input_dim: usize,
    /// Units per hidden layer `H`.
    pub hidden_dim: usize,
    /// Number of hidden layers `L`.
    pub hidden_layers: usize,
    /// The weight initialiser of every layer.
    pub init: Init,
    /// The bias initialiser of every layer (the lecture's network has none: zeros).
    pub bias: BiasInit,
    /// The non-linearity after every layer.
    pub activation: Activation,
    /// Histogram bins per layer.
    pub bins: usize,
    /// A unit's activation counts as saturated (tanh, sigmoid) or off (ReLU) when its local
    /// gradient `|f'(z)|` is below this.
    pub saturation_threshold: f64,
}

impl Default for InitStatsConfig {
    fn default() -> Self {
        InitStatsConfig {
            batch_size: 1000,
            input_dim: 500,
            hidden_dim: 500,
            hidden_layers: 10,
            init: Init::small_random(),
            bias: BiasInit::Zeros,
            activation: Activation::Tanh,
            bins: 20,
            saturation_threshold: diagnostics::SATURATION_THRESHOLD,
        }
    }
}

impl InitStatsConfig {
    /// Checks every field.
    ///
    /// # Errors
    /// [`InitError::InvalidParameter`] for a zero size or bin count, a negative or non-finite
    /// threshold, or a bad initialiser; [`InitError::Activation`] for a bad activation.
    pub fn validate(&self) -> Result<()> {
        let sizes = [
            ("batch_size", self.batch_size),
            ("input_dim", self.input_dim),
            ("hidden_dim", self.hidden_dim),
            ("hidden_layers", self.hidden_layers),
            ("bins", self.bins),
        ];
        for (name, value) in sizes {
            if value == 0 {
                return Err(InitError::InvalidParameter {
                    name,
                    value: 0.0,
                    reason: "must be positive",
                });
            }
        }
        let t = self.saturation_threshold;
        if !(t.is_finite() && t >= 0.0) {
            return Err(InitError::InvalidParameter {
                name: "saturation_threshold",
                value: t,
                reason: "must be finite and non-negative",
            });
        }
        self.init.validate()?;
        self.activation.validate()?;
        Ok(())
    }
}

/// Counts of values in equal-width bins over `[low, high]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Histogram {
    /// Left edge of the first bin (the smallest value seen).
    pub low: f64,
    /// Right edge of the last bin (the largest value seen; it is counted in the last bin).
    pub high: f64,
    /// Number of values in each bin.
    pub counts: Vec<u64>,
}

impl Histogram {
    fn of(values: &[f64], bins: usize) -> Histogram {
        let low = values.iter().copied().fold(f64::INFINITY, f64::min);
        let high = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let mut counts = vec![0u64; bins];
        let width = (high - low) / bins as f64;
        for &v in values {
            let bin = if width > 0.0 {
                (((v - low) / width) as usize).min(bins - 1)
            } else {
                0
            };
            counts[bin] += 1;
        }
        Histogram { low, high, counts }
    }

    /// The counts as a one-line bar chart, one character per bin.
    pub fn sparkline(&self) -> String {
        const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
        let max = self.counts.iter().copied().max().unwrap_or(0).max(1);
        self.counts
            .iter()
            .map(|&c| {
                if c == 0 {
                    ' '
                } else {
                    BARS[((c * 7 + max / 2) / max) as usize]
                }
            })
            .collect()
    }
}

/// One hidden layer's statistics.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LayerStats {
    /// Layer number, 1 for the first hidden layer.
    pub layer: usize,
    /// Mean of the activations `Hₗ` over the batch and the units.
    pub mean: f64,
    /// Standard deviation of the activations `Hₗ`.
    pub std: f64,
    /// Fraction of activations whose local gradient `|f'(Zₗ)|` is below the threshold
    /// (tanh/sigmoid near ±1 or 0/1; ReLU on its negative side).
    pub saturated_fraction: f64,
    /// Fraction of units (columns) whose local gradient is exactly 0 for every example of the
    /// batch: dead ReLUs, which pass no gradient at all (nn-activations' `dead_fraction`).
    pub dead_fraction: f64,
    /// Mean local gradient `|f'(Zₗ)|`.
    pub mean_local_gradient: f64,
    /// Standard deviation of the gradient `dHₗ` reaching this layer's output.
    pub grad_std: f64,
    /// Standard deviation of the weight gradient `dWₗ`.
    pub weight_grad_std: f64,
    /// Histogram of the activations `Hₗ`.
    pub histogram: Histogram,
}

/// The experiment's result: the configuration and one [`LayerStats`] per hidden layer.
///
/// `Display` prints a table with one row per layer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct InitStatsReport {
    /// The configuration that produced it.
    pub config: InitStatsConfig,
    /// Standard deviation of the input `X` (close to 1).
    pub input_std: f64,
    /// Per-layer statistics, first hidden layer first.
    pub layers: Vec<LayerStats>,
}

impl InitStatsReport {
    /// The activations' standard deviation of every layer, first layer first.
    pub fn stds(&self) -> Vec<f64> {
        self.layers.iter().map(|l| l.std).collect()
    }

    /// The activation gradients' standard deviation of every layer, first layer first.
    pub fn grad_stds(&self) -> Vec<f64> {
        self.layers.iter().map(|l| l.grad_std).collect()
    }
}

/// Mean and standard deviation (population) in `f64`, summed serially in a fixed order.
fn moments<F: NdFloat>(values: impl Iterator<Item = F>) -> (f64, f64, Vec<f64>) {
    let v: Vec<f64> = values.map(|x| x.to_f64().unwrap_or(f64::NAN)).collect();
    let n = v.len().max(1) as f64;
    let mean = v.iter().sum::<f64>() / n;
    let var = v.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / n;
    (mean, var.sqrt(), v)
}

fn std_of<F: NdFloat>(a: ArrayView2<'_, F>) -> f64 {
    moments(a.iter().copied()).1
}

/// Runs the experiment in precision `F` (`f32` is about twice as fast; `f64` is the notes').
///
/// All randomness comes from `rng`: the input, then each layer's weights in order, then the
/// upstream gradient. The same seed gives the same report.
///
/// # Errors
/// As [`InitStatsConfig::validate`]; [`InitError::InvalidShape`] if `N · max(D, H)` overflows.
///
/// # Example
/// The lecture's third run, on a smaller batch: tanh with Xavier keeps its spread.
/// ```
/// use nn_activations::Activation;
/// use nn_init::{init_stats, Init, InitStatsConfig};
/// use rand::SeedableRng;
/// use rand_chacha::ChaCha8Rng;
///
/// let config = InitStatsConfig {
///     batch_size: 200,
///     init: Init::xavier(),
///     activation: Activation::Tanh,
///     ..InitStatsConfig::default()
/// };
/// let report = init_stats::<f32, _>(&config, &mut ChaCha8Rng::seed_from_u64(0))?;
/// assert_eq!(report.layers.len(), 10);
/// let stds = report.stds();
/// assert!(stds[9] > stds[0] / 10.0);
/// println!("{report}");
/// # Ok::<(), nn_init::InitError>(())
/// ```
pub fn init_stats<F: NdFloat, R: Rng + ?Sized>(
    config: &InitStatsConfig,
    rng: &mut R,
) -> Result<InitStatsReport> {
    config.validate()?;
    let (n, d, h, depth) = (
        config.batch_size,
        config.input_dim,
        config.hidden_dim,
        config.hidden_layers,
    );
    if n.checked_mul(d.max(h)).is_none() {
        return Err(InitError::InvalidShape {
            shape: vec![n, d.max(h)],
            reason: "the activation matrix's element count overflows usize",
        });
    }
    let act = config.activation;
    let kind = act.backward_needs();
    let unit = Init::Normal {
        mean: 0.0,
        std: 1.0,
    };
    let threshold = config.saturation_threshold;

    let x: Array2<F> = unit.weights(n, d, rng)?;
    let input_std = std_of(x.view());
    // acts[l] = Hₗ (acts[0] = X); pre[l] = Zₗ₊₁, kept only when the backward pass reads the
    // input (otherwise it reads acts[l + 1], the output, and no copy is made).
    let mut acts: Vec<Array2<F>> = Vec::with_capacity(depth + 1);
    let mut pre: Vec<Array2<F>> = Vec::new();
    let mut weights: Vec<Array2<F>> = Vec::with_capacity(depth);
    let mut layers = Vec::with_capacity(depth);
    acts.push(x);
    for layer in 1..=depth {
        let input = &acts[layer - 1];
        let w: Array2<F> = config.init.weights(input.ncols(), h, rng)?;
        let b = config.bias.bias::<F>(h)?;
        let z = input.dot(&w) + &b;
        let y = act.forward(z.view());

        // Saturation and dead units from nn-activations' diagnostics (on the pre-activations).
        let saturated_fraction = diagnostics::saturated_fraction(act, z.view(), threshold)?;
        let dead_fraction = diagnostics::dead_fraction(act, z.view())?;
        let (mean_local, _, _) = moments(z.iter().map(|&zi| act.derivative(zi).abs()));
        let (mean, std, values) = moments(y.iter().copied());
        layers.push(LayerStats {
            layer,
            mean,
            std,
            saturated_fraction,
            dead_fraction,
            mean_local_gradient: mean_local,
            grad_std: 0.0,
            weight_grad_std: 0.0,
            histogram: Histogram::of(&values, config.bins),
        });

        weights.push(w);
        if kind == Saved::Input {
            pre.push(z);
        }
        acts.push(y);
    }

    let mut dout: Array2<F> = unit.weights(n, h, rng)?;
    for (l, stats) in layers.iter_mut().enumerate().rev() {
        stats.grad_std = std_of(dout.view());
        let saved = match kind {
            Saved::Input => pre[l].view(),
            Saved::Output => acts[l + 1].view(),
        };
        let dz = act.backward(dout.view(), saved, kind)?;
        stats.weight_grad_std = std_of(acts[l].t().dot(&dz).view());
        if l > 0 {
            dout = dz.dot(&weights[l].t());
        }
    }

    Ok(InitStatsReport {
        config: config.clone(),
        input_std,
        layers,
    })
}

impl fmt::Display for InitStatsReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = &self.config;
        writeln!(
            f,
            "{} layers of {} units, {} activation, weights {}, input {} x {} (std {:.3})",
            c.hidden_layers,
            c.hidden_dim,
            c.activation.name(),
            c.init,
            c.batch_size,
            c.input_dim,
            self.input_std
        )?;
        writeln!(
            f,
            "{:>5} {:>10} {:>9} {:>6} {:>6} {:>7} {:>9} {:>9}  histogram",
            "layer", "mean", "std", "sat%", "dead%", "|f'|", "grad std", "dW std"
        )?;
        for l in &self.layers {
            writeln!(
                f,
                "{:>5} {:>10.2e} {:>9.2e} {:>6.1} {:>6.1} {:>7.3} {:>9.2e} {:>9.2e}  [{:+.2e}, {:+.2e}] {}",
                l.layer,
                l.mean,
                l.std,
                100.0 * l.saturated_fraction,
                100.0 * l.dead_fraction,
                l.mean_local_gradient,
                l.grad_std,
                l.weight_grad_std,
                l.histogram.low,
                l.histogram.high,
                l.histogram.sparkline()
            )?;
        }
        Ok(())
    }
}
