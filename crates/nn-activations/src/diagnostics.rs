//! What the lecture notes tell you to watch: saturated units, dead ReLUs, and whether the
//! outputs are zero-centred.
//!
//! Every statistic is computed serially in a fixed order, so it is reproducible bit for bit.

use crate::activation::Activation;
use crate::error::{ActivationError, Result};
use ndarray::{ArrayView, ArrayView2, Axis, Dimension, NdFloat};

/// The threshold on `|f'(x)|` below which [`ActivationStats`] calls a unit saturated.
///
/// Sigmoid's derivative is below 0.01 for `|x| > 4.6`, tanh's for `|x| > 3.0`.
pub const SATURATION_THRESHOLD: f64 = 0.01;

/// The fraction of elements whose local gradient `|f'(x)|` is below `threshold` (computed from
/// the pre-activations `x`): for sigmoid and tanh, the units stuck near their limits.
///
/// # Errors
/// [`ActivationError::EmptyInput`] for an empty `x`, and
/// [`ActivationError::InvalidParameter`] for a negative or non-finite threshold.
///
/// # Example
/// ```
/// use ndarray::array;
/// use nn_activations::{diagnostics, Activation};
/// let x = array![-10.0_f64, -0.1, 0.2, 8.0];
/// assert_eq!(diagnostics::saturated_fraction(Activation::Sigmoid, x.view(), 0.01)?, 0.5);
/// # Ok::<(), nn_activations::ActivationError>(())
/// ```
pub fn saturated_fraction<F: NdFloat, D: Dimension>(
    act: Activation,
    x: ArrayView<'_, F, D>,
    threshold: f64,
) -> Result<f64> {
    if !(threshold >= 0.0 && threshold.is_finite()) {
        return Err(ActivationError::InvalidParameter {
            name: "threshold",
            value: threshold,
            reason: "must be finite and at least 0",
        });
    }
    if x.is_empty() {
        return Err(ActivationError::EmptyInput {
            op: "saturated_fraction",
        });
    }
    let count = x
        .iter()
        .filter(|&&v| {
            act.derivative(v)
                .abs()
                .to_f64()
                .is_some_and(|d| d < threshold)
        })
        .count();
    Ok(count as f64 / x.len() as f64)
}

/// The fraction of units (columns of `x`) whose local gradient `f'(x)` is exactly 0 for every
/// sample of the batch: dead ReLUs, which will never receive gradient again. (Leaky ReLU, ELU
/// and the smooth activations cannot die: their gradient is never exactly 0 on finite inputs.)
///
/// # Shapes
/// `x` is the activation's input (the pre-activations), `(N, H)`.
///
/// # Errors
/// [`ActivationError::EmptyInput`] if `N` or `H` is 0.
///
/// # Example
/// ```
/// use ndarray::array;
/// use nn_activations::{diagnostics, Activation};
/// let x = array![[-1.0_f32, 1.0, -3.0], [-2.0, -1.0, 2.0]];
/// assert_eq!(diagnostics::dead_fraction(Activation::Relu, x.view())?, 1.0 / 3.0);
/// assert_eq!(diagnostics::dead_fraction(Activation::leaky_relu(), x.view())?, 0.0);
/// # Ok::<(), nn_activations::ActivationError>(())
/// ```
pub fn dead_fraction<F: NdFloat>(act: Activation, x: ArrayView2<'_, F>) -> Result<f64> {
    if x.is_empty() {
        return Err(ActivationError::EmptyInput {
            op: "dead_fraction",
        });
    }
    let dead = x
        .axis_iter(Axis(1))
        .filter(|col| col.iter().all(|&v| act.derivative(v) == F::zero()))
        .count();
    Ok(dead as f64 / x.ncols() as f64)
}

/// The mean of all outputs, summed in `f64` (0 for zero-centred activations such as tanh).
///
/// # Errors
/// [`ActivationError::EmptyInput`] for an empty `y`.
///
/// # Example
/// ```
/// use ndarray::array;
/// assert_eq!(nn_activations::diagnostics::mean_output(array![1.0_f32, 2.0, 6.0].view())?, 3.0);
/// # Ok::<(), nn_activations::ActivationError>(())
/// ```
pub fn mean_output<F: NdFloat, D: Dimension>(y: ArrayView<'_, F, D>) -> Result<f64> {
    if y.is_empty() {
        return Err(ActivationError::EmptyInput { op: "mean_output" });
    }
    let sum = y
        .iter()
        .fold(0.0, |s, v| s + v.to_f64().unwrap_or(f64::NAN));
    Ok(sum / y.len() as f64)
}

/// A one-call summary of a layer's activations over a batch.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ActivationStats {
    /// Mean output (zero-centredness).
    pub mean: f64,
    /// Standard deviation of the outputs (population).
    pub std: f64,
    /// Fraction of elements with `|f'(x)| <` [`SATURATION_THRESHOLD`].
    pub saturated: f64,
    /// Fraction of units with zero gradient for every sample (see [`dead_fraction`]).
    pub dead: f64,
}

/// Computes [`ActivationStats`] from the pre-activations `x` of shape `(N, H)`.
///
/// # Errors
/// [`ActivationError::EmptyInput`] if `N` or `H` is 0.
///
/// # Example
/// ```
/// use ndarray::array;
/// use nn_activations::{diagnostics, Activation};
/// let x = array![[-1.0_f64, 2.0], [-3.0, 4.0]];
/// let s = diagnostics::stats(Activation::Relu, x.view())?;
/// assert_eq!((s.mean, s.dead, s.saturated), (1.5, 0.5, 0.5));
/// # Ok::<(), nn_activations::ActivationError>(())
/// ```
pub fn stats<F: NdFloat>(act: Activation, x: ArrayView2<'_, F>) -> Result<ActivationStats> {
    let y = act.forward(x);
    let mean = mean_output(y.view())?;
    let var = y.iter().fold(0.0, |s, v| {
        let d = v.to_f64().unwrap_or(f64::NAN) - mean;
        s + d * d
    }) / y.len() as f64;
    Ok(ActivationStats {
        mean,
        std: var.sqrt(),
        saturated: saturated_fraction(act, x, SATURATION_THRESHOLD)?,
        dead: dead_fraction(act, x)?,
    })
}
