//! Gradient clipping by global norm (Pascanu, Mikolov & Bengio 2013).

use super::{lit, to_f64};
use crate::error::{check_positive, Result, TrainError};
use ndarray::{ArrayView1, ArrayViewMut1, NdFloat};

/// The global L2 norm of a list of gradients, as if they were one concatenated vector.
///
/// ```text
/// ‖g‖ = √( Σ_k Σ_i g_k[i]² )
/// ```
/// The sum runs in `f64`, tensor by tensor in list order and element by element in logical order, so the
/// result never depends on the thread count or on how the tensors are stored.
///
/// # Example
/// ```
/// use ndarray::array;
/// use nn_train::optim::global_norm;
/// let (a, b) = (array![3.0f32], array![0.0f32, 4.0]);
/// assert_eq!(global_norm(&[a.view(), b.view()]), 5.0);
/// ```
pub fn global_norm<F: NdFloat>(grads: &[ArrayView1<'_, F>]) -> f64 {
    grads
        .iter()
        .flat_map(|g| g.iter())
        .map(|&x| {
            let x = to_f64(x);
            x * x
        })
        .sum::<f64>()
        .sqrt()
}

/// Clips a list of gradients by their global norm, in place, and returns the norm before clipping.
///
/// ```text
/// n = ‖g‖ (see global_norm)
/// if n > max_norm:  g_k ← g_k · (max_norm / n)   for every k
/// ```
/// This is `torch.nn.utils.clip_grad_norm_` with `norm_type = 2`, except that the scale is exactly
/// `max_norm / n` (PyTorch divides by `n + 1e-6`), so the clipped norm equals `max_norm` up to rounding.
///
/// # Errors
/// [`TrainError::InvalidHyperparameter`] when `max_norm` is not positive and finite;
/// [`TrainError::NonFinite`] when the norm is NaN or infinite (the gradients are then left unchanged,
/// as PyTorch's `error_if_nonfinite = True` does).
///
/// # Example
/// ```
/// use ndarray::array;
/// use nn_train::optim::{clip_grad_norm, global_norm};
/// let (mut a, mut b) = (array![3.0f64], array![0.0f64, 4.0]);
/// let before = clip_grad_norm(&mut [a.view_mut(), b.view_mut()], 1.0)?;
/// assert_eq!(before, 5.0);
/// assert!((global_norm(&[a.view(), b.view()]) - 1.0).abs() < 1e-15);
/// assert!((a[0] - 0.6).abs() < 1e-15);
/// # Ok::<(), nn_train::TrainError>(())
/// ```
pub fn clip_grad_norm<F: NdFloat>(
    grads: &mut [ArrayViewMut1<'_, F>],
    max_norm: f64,
) -> Result<f64> {
    check_positive("max_norm", max_norm)?;
    let views: Vec<ArrayView1<'_, F>> = grads.iter().map(|g| g.view()).collect();
    let norm = global_norm(&views);
    if !norm.is_finite() {
        return Err(TrainError::NonFinite {
            op: "clip_grad_norm",
            value: norm,
        });
    }
    if norm > max_norm {
        let scale: F = lit(max_norm / norm);
        for g in grads.iter_mut() {
            g.mapv_inplace(|x| x * scale);
        }
    }
    Ok(norm)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{array, Array1};

    #[test]
    fn clipping_scales_the_global_norm_exactly() {
        let mut a = Array1::from_iter((0..100).map(|i| (i as f64 * 0.37).sin() * 10.0));
        let mut b = array![7.0, -8.0, 9.0];
        let before = global_norm(&[a.view(), b.view()]);
        let (a0, b0) = (a.clone(), b.clone());
        let got = clip_grad_norm(&mut [a.view_mut(), b.view_mut()], 2.5).unwrap();
        assert_eq!(got, before);
        let after = global_norm(&[a.view(), b.view()]);
        assert!((after - 2.5).abs() < 1e-12, "{after}");
        // Direction is kept: every element is scaled by the same factor.
        let s = 2.5 / before;
        assert!(a.iter().zip(&a0).all(|(x, y)| (x - y * s).abs() < 1e-12));
        assert!(b.iter().zip(&b0).all(|(x, y)| (x - y * s).abs() < 1e-12));
    }

    #[test]
    fn small_gradients_are_untouched_and_bad_input_is_an_error() {
        let mut a = array![0.3f32, 0.4];
        assert!((clip_grad_norm(&mut [a.view_mut()], 1.0).unwrap() - 0.5).abs() < 1e-7);
        assert_eq!(a, array![0.3f32, 0.4]);
        assert!(matches!(
            clip_grad_norm(&mut [a.view_mut()], 0.0),
            Err(TrainError::InvalidHyperparameter { .. })
        ));
        let mut bad = array![1.0f32, f32::NAN];
        assert!(matches!(
            clip_grad_norm(&mut [bad.view_mut()], 1.0),
            Err(TrainError::NonFinite { .. })
        ));
        assert_eq!(bad[0], 1.0);
    }
}
