//! Softmax and log-softmax along an axis, stabilised by subtracting each lane's maximum.

use crate::activation::same_shape;
use crate::elementwise::PARALLEL_THRESHOLD;
use crate::error::{ActivationError, Result};
use ndarray::{Array, ArrayView, ArrayViewMut1, Axis, Dimension, NdFloat, Zip};

fn check_axis(op: &'static str, ndim: usize, axis: Axis) -> Result<()> {
    if axis.index() < ndim {
        Ok(())
    } else {
        Err(ActivationError::InvalidAxis {
            op,
            axis: axis.index(),
            ndim,
        })
    }
}

/// Applies `f` to every lane along `axis`, in parallel for large arrays (each lane is serial,
/// so the result does not depend on the thread count).
fn for_each_lane<F: NdFloat, D: Dimension>(
    a: &mut Array<F, D>,
    axis: Axis,
    f: impl Fn(ArrayViewMut1<'_, F>) + Sync + Send,
) {
    let big = a.len() >= PARALLEL_THRESHOLD;
    let zip = Zip::from(a.lanes_mut(axis));
    if big {
        zip.par_for_each(f);
    } else {
        zip.for_each(f);
    }
}

/// The lane's maximum, NaN if any element is NaN.
fn lane_max<F: NdFloat>(lane: &ArrayViewMut1<'_, F>) -> F {
    let mut m = F::neg_infinity();
    for &v in lane.iter() {
        if v.is_nan() {
            return v;
        }
        if v > m {
            m = v;
        }
    }
    m
}

/// `softmax(x)_i = e^{x_i - m} / Σ_j e^{x_j - m}` along `axis`, with `m` the lane's maximum.
///
/// A lane containing NaN becomes all NaN, as does a lane whose maximum is infinite.
///
/// # Shapes
/// Any shape; typically scores `(N, C)` with `axis = Axis(1)`.
///
/// # Errors
/// [`ActivationError::InvalidAxis`] if `axis` is not below `x.ndim()`.
///
/// # Example
/// ```
/// use ndarray::{array, Axis};
/// let p = nn_activations::softmax(array![[1.0_f64, 2.0, 3.0], [1000.0, 1000.0, -1e30]].view(), Axis(1))?;
/// assert!((p[[0, 2]] - 0.665_240_955_774_821_5).abs() < 1e-15); // NumPy
/// assert_eq!(p.row(1).to_vec(), vec![0.5, 0.5, 0.0]);
/// # Ok::<(), nn_activations::ActivationError>(())
/// ```
pub fn softmax<F: NdFloat, D: Dimension>(
    x: ArrayView<'_, F, D>,
    axis: Axis,
) -> Result<Array<F, D>> {
    check_axis("softmax", x.ndim(), axis)?;
    let mut y = x.to_owned();
    for_each_lane(&mut y, axis, |mut lane| {
        let m = lane_max(&lane);
        let mut sum = F::zero();
        lane.map_inplace(|v| {
            *v = (*v - m).exp();
            sum += *v;
        });
        let inv = F::one() / sum;
        lane.map_inplace(|v| *v *= inv);
    });
    Ok(y)
}

/// `log_softmax(x)_i = x_i - m - ln Σ_j e^{x_j - m}` along `axis`.
///
/// # Errors
/// [`ActivationError::InvalidAxis`] if `axis` is not below `x.ndim()`.
///
/// # Example
/// ```
/// use ndarray::{array, Axis};
/// let l = nn_activations::log_softmax(array![[0.0_f64, 0.0]].view(), Axis(1))?;
/// assert!((l[[0, 0]] + std::f64::consts::LN_2).abs() < 1e-15);
/// # Ok::<(), nn_activations::ActivationError>(())
/// ```
pub fn log_softmax<F: NdFloat, D: Dimension>(
    x: ArrayView<'_, F, D>,
    axis: Axis,
) -> Result<Array<F, D>> {
    check_axis("log_softmax", x.ndim(), axis)?;
    let mut y = x.to_owned();
    for_each_lane(&mut y, axis, |mut lane| {
        let m = lane_max(&lane);
        let sum = lane.iter().fold(F::zero(), |s, &v| s + (v - m).exp());
        let shift = m + sum.ln();
        lane.map_inplace(|v| *v -= shift);
    });
    Ok(y)
}

/// The softmax backward pass from its output `y`: `dx = y ⊙ (dout - Σ_axis dout ⊙ y)`.
///
/// # Errors
/// [`ActivationError::InvalidAxis`], or [`ActivationError::ShapeMismatch`] if `dout` and `y` differ.
///
/// # Example
/// ```
/// use ndarray::{array, Axis};
/// let y = nn_activations::softmax(array![[0.0_f64, 0.0]].view(), Axis(1))?;
/// let dx = nn_activations::softmax_backward(array![[1.0, 0.0]].view(), y.view(), Axis(1))?;
/// assert!((dx[[0, 0]] - 0.25).abs() < 1e-15 && (dx[[0, 1]] + 0.25).abs() < 1e-15);
/// # Ok::<(), nn_activations::ActivationError>(())
/// ```
pub fn softmax_backward<F: NdFloat, D: Dimension>(
    dout: ArrayView<'_, F, D>,
    y: ArrayView<'_, F, D>,
    axis: Axis,
) -> Result<Array<F, D>> {
    check_axis("softmax_backward", y.ndim(), axis)?;
    same_shape("softmax_backward", y.shape(), dout.shape())?;
    let mut dx = dout.to_owned();
    let big = dx.len() >= PARALLEL_THRESHOLD;
    let zip = Zip::from(dx.lanes_mut(axis)).and(y.lanes(axis));
    let f = |mut g: ArrayViewMut1<'_, F>, y: ArrayView<'_, F, ndarray::Ix1>| {
        let dot = g
            .iter()
            .zip(y.iter())
            .fold(F::zero(), |s, (&a, &b)| s + a * b);
        g.zip_mut_with(&y, |g, &y| *g = y * (*g - dot));
    };
    if big {
        zip.par_for_each(f);
    } else {
        zip.for_each(f);
    }
    Ok(dx)
}

/// The log-softmax backward pass from its output `l`: `dx = dout - e^l · Σ_axis dout`.
///
/// # Errors
/// [`ActivationError::InvalidAxis`], or [`ActivationError::ShapeMismatch`] if `dout` and `l` differ.
pub fn log_softmax_backward<F: NdFloat, D: Dimension>(
    dout: ArrayView<'_, F, D>,
    log_y: ArrayView<'_, F, D>,
    axis: Axis,
) -> Result<Array<F, D>> {
    check_axis("log_softmax_backward", log_y.ndim(), axis)?;
    same_shape("log_softmax_backward", log_y.shape(), dout.shape())?;
    let mut dx = dout.to_owned();
    let big = dx.len() >= PARALLEL_THRESHOLD;
    let zip = Zip::from(dx.lanes_mut(axis)).and(log_y.lanes(axis));
    let f = |mut g: ArrayViewMut1<'_, F>, l: ArrayView<'_, F, ndarray::Ix1>| {
        let total = g.iter().fold(F::zero(), |s, &a| s + a);
        g.zip_mut_with(&l, |g, &l| *g -= l.exp() * total);
    };
    if big {
        zip.par_for_each(f);
    } else {
        zip.for_each(f);
    }
    Ok(dx)
}
