//! Model ensembles: the mean of several models' (or snapshots') predicted probabilities.

use crate::error::{Result, TrainError};
use crate::optim::lit;
use ndarray::{Array2, ArrayView2, NdFloat};

/// The elementwise mean of `M` probability (or score) matrices, summed in list order.
///
/// ```text
/// P̄[i, j] = (1/M) · Σ_m P_m[i, j]
/// ```
/// CS231n: an ensemble of independently trained models, or of snapshots of one run, usually gains a
/// couple of percent of accuracy; averaging probabilities (rather than arg-max votes) keeps their
/// confidence.
///
/// # Shapes
/// Each of the `M` inputs is `N × C`; the result is `N × C`.
///
/// # Errors
/// [`TrainError::EmptyInput`] when `M = 0`; [`TrainError::ShapeMismatch`] when the shapes differ.
///
/// # Example
/// ```
/// use ndarray::array;
/// let a = array![[0.75, 0.25], [0.5, 0.5]];
/// let b = array![[0.25, 0.75], [0.0, 1.0]];
/// let mean = nn_train::eval::ensemble_mean(&[a.view(), b.view()])?;
/// assert_eq!(mean, array![[0.5, 0.5], [0.25, 0.75]]); // exact in binary floating point
/// # Ok::<(), nn_train::TrainError>(())
/// ```
pub fn ensemble_mean<F: NdFloat>(probs: &[ArrayView2<'_, F>]) -> Result<Array2<F>> {
    let op = "ensemble_mean";
    let first = probs.first().ok_or(TrainError::EmptyInput { op })?;
    if let Some(bad) = probs.iter().find(|p| p.dim() != first.dim()) {
        return Err(TrainError::ShapeMismatch {
            op,
            expected: first.shape().to_vec(),
            got: bad.shape().to_vec(),
        });
    }
    let mut sum = first.to_owned();
    for p in &probs[1..] {
        sum += p;
    }
    let inv: F = lit(1.0 / probs.len() as f64);
    sum.mapv_inplace(|x| x * inv);
    Ok(sum)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn mean_of_three_and_shape_errors() {
        let a = array![[0.3f32, 0.6, 0.1]];
        let b = array![[0.6f32, 0.3, 0.1]];
        let c = array![[0.0f32, 0.0, 1.0]];
        let m = ensemble_mean(&[a.view(), b.view(), c.view()]).unwrap();
        // (0.9/3, 0.9/3, 1.2/3) = (0.3, 0.3, 0.4).
        assert!(m
            .iter()
            .zip([0.3, 0.3, 0.4])
            .all(|(x, y)| (x - y).abs() < 1e-6));
        let wrong = array![[0.5f32, 0.5]];
        assert!(matches!(
            ensemble_mean(&[a.view(), wrong.view()]),
            Err(TrainError::ShapeMismatch { expected, got, .. }) if expected == [1, 3] && got == [1, 2]
        ));
        assert!(matches!(
            ensemble_mean::<f32>(&[]),
            Err(TrainError::EmptyInput { .. })
        ));
    }
}
