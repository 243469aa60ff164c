//! Losses on class scores: softmax cross-entropy, multiclass SVM hinge, mean squared error.

use ndarray::{Array2, ArrayView2, ArrayViewMut2, NdFloat};
use serde::{Deserialize, Serialize};

use crate::error::{check_shape, CoreError, Result};
use crate::lit;

/// A data loss on scores `S` (`N × C`), averaged over the batch.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Loss {
    /// Softmax cross-entropy with optional label smoothing `ε` (Szegedy et al. 2016, PyTorch's form).
    ///
    /// ```text
    /// p = softmax(s) (log-sum-exp stable)     q = (1 − ε)·onehot(y) + ε/C
    /// Lᵢ = logsumexp(sᵢ) − Σⱼ qⱼ·sᵢⱼ          dS = (p − q)/N
    /// ```
    SoftmaxCrossEntropy {
        /// `ε ∈ [0, 1]`; `0` is plain cross-entropy.
        label_smoothing: f64,
    },
    /// Multiclass SVM hinge loss (Weston & Watkins; CS231n's form).
    ///
    /// ```text
    /// Lᵢ = Σ_{j ≠ yᵢ} max(0, sⱼ − s_{yᵢ} + Δ)
    /// dsⱼ = 1[margin > 0]/N (j ≠ yᵢ),   ds_{yᵢ} = −(count of positive margins)/N
    /// ```
    Hinge {
        /// The margin `Δ` (CS231n uses 1).
        margin: f64,
    },
    /// Mean squared error over all `N·C` entries (PyTorch's `MSELoss`).
    ///
    /// ```text
    /// L = Σ (s − t)² / (N·C)          dS = 2·(s − t)/(N·C)
    /// ```
    MeanSquaredError,
}

/// What a [`Loss`] compares the scores with.
#[derive(Clone, Copy, Debug)]
pub enum Targets<'a, F> {
    /// One class label `yᵢ < C` per row (cross-entropy, hinge).
    Classes(&'a [usize]),
    /// A target matrix `T` of the scores' shape `N × C` (mean squared error).
    Values(ArrayView2<'a, F>),
}

impl Default for Loss {
    fn default() -> Self {
        Loss::SoftmaxCrossEntropy {
            label_smoothing: 0.0,
        }
    }
}

impl Loss {
    /// Checks the loss's own parameters (`ε ∈ [0, 1]`, `Δ` finite and non-negative).
    ///
    /// # Errors
    /// [`CoreError::InvalidHyperparameter`].
    pub fn validate(&self) -> Result<()> {
        match *self {
            Loss::SoftmaxCrossEntropy { label_smoothing: e } if !(0.0..=1.0).contains(&e) => {
                Err(CoreError::InvalidHyperparameter {
                    name: "loss.label_smoothing",
                    value: e.to_string(),
                    reason: "must be in [0, 1]",
                })
            }
            Loss::Hinge { margin } if !(margin.is_finite() && margin >= 0.0) => {
                Err(CoreError::InvalidHyperparameter {
                    name: "loss.margin",
                    value: margin.to_string(),
                    reason: "must be finite and non-negative",
                })
            }
            _ => Ok(()),
        }
    }

    /// The mean loss over the batch and its gradient `dS` (`N × C`).
    ///
    /// # Errors
    /// As [`Loss::loss_into`].
    ///
    /// # Example
    /// ```
    /// use ndarray::Array2;
    /// use nn_core::{Loss, Targets};
    /// // Uniform scores over C = 10 classes: the loss is ln 10.
    /// let (loss, _) = Loss::default().loss(Array2::<f64>::zeros((4, 10)).view(), Targets::Classes(&[0, 3, 9, 2]))?;
    /// assert!((loss - 10f64.ln()).abs() < 1e-12);
    /// # Ok::<(), nn_core::CoreError>(())
    /// ```
    pub fn loss<F: NdFloat>(
        &self,
        scores: ArrayView2<'_, F>,
        targets: Targets<'_, F>,
    ) -> Result<(F, Array2<F>)> {
        let mut ds = Array2::zeros(scores.raw_dim());
        let l = self.loss_into(scores, targets, ds.view_mut())?;
        Ok((l, ds))
    }

    /// The mean loss, writing `dS` into `dscores` (`N × C`) without allocating.
    ///
    /// # Errors
    /// [`CoreError::EmptyInput`] for `N = 0` or `C = 0`; [`CoreError::ShapeMismatch`] if labels,
    /// targets or `dscores` do not fit `scores`, or the targets are of the wrong kind;
    /// [`CoreError::LabelOutOfRange`]; [`CoreError::InvalidHyperparameter`] as [`Loss::validate`].
    pub fn loss_into<F: NdFloat>(
        &self,
        scores: ArrayView2<'_, F>,
        targets: Targets<'_, F>,
        mut dscores: ArrayViewMut2<'_, F>,
    ) -> Result<F> {
        self.validate()?;
        let (n, c) = scores.dim();
        if n == 0 || c == 0 {
            return Err(CoreError::EmptyInput { op: "Loss::loss" });
        }
        check_shape("Loss::loss (dscores)", scores.shape(), dscores.shape())?;
        let nf: F = lit(n as f64);
        match (*self, targets) {
            (Loss::MeanSquaredError, Targets::Values(t)) => {
                check_shape("Loss::loss (targets)", scores.shape(), t.shape())?;
                let count: F = lit((n * c) as f64);
                let two: F = lit(2.0);
                let mut total = F::zero();
                ndarray::Zip::from(&mut dscores)
                    .and(&scores)
                    .and(&t)
                    .for_each(|d, &s, &tv| {
                        let diff = s - tv;
                        total += diff * diff;
                        *d = two * diff / count;
                    });
                Ok(total / count)
            }
            (Loss::MeanSquaredError, Targets::Classes(_)) => Err(CoreError::ShapeMismatch {
                op: "Loss::loss (mean squared error needs a target matrix)",
                expected: vec![n, c],
                got: vec![n],
            }),
            (_, Targets::Values(t)) => Err(CoreError::ShapeMismatch {
                op: "Loss::loss (classification losses need class labels)",
                expected: vec![n],
                got: t.shape().to_vec(),
            }),
            (loss, Targets::Classes(labels)) => {
                check_shape("Loss::loss (labels)", &[n], &[labels.len()])?;
                for (index, &label) in labels.iter().enumerate() {
                    if label >= c {
                        return Err(CoreError::LabelOutOfRange {
                            index,
                            label,
                            classes: c,
                        });
                    }
                }
                let mut total = F::zero();
                for ((s, mut d), &y) in scores
                    .rows()
                    .into_iter()
                    .zip(dscores.rows_mut())
                    .zip(labels)
                {
                    total += match loss {
                        Loss::SoftmaxCrossEntropy { label_smoothing } => {
                            softmax_row(s, d.view_mut(), y, lit(label_smoothing), nf)
                        }
                        Loss::Hinge { margin } => hinge_row(s, d.view_mut(), y, lit(margin), nf),
                        Loss::MeanSquaredError => F::zero(),
                    };
                }
                Ok(total / nf)
            }
        }
    }
}

/// One row of softmax cross-entropy; writes `(p − q)/N` into `d` and returns `Lᵢ`.
fn softmax_row<F: NdFloat>(
    s: ndarray::ArrayView1<'_, F>,
    mut d: ndarray::ArrayViewMut1<'_, F>,
    y: usize,
    eps: F,
    n: F,
) -> F {
    let c: F = lit(s.len() as f64);
    let max = s.iter().fold(F::neg_infinity(), |m, &v| m.max(v));
    let mut sum = F::zero();
    for (dv, &sv) in d.iter_mut().zip(s.iter()) {
        let e = (sv - max).exp();
        *dv = e;
        sum += e;
    }
    let lse = max + sum.ln();
    let off = eps / c;
    let on = F::one() - eps + off;
    let mut dot = F::zero();
    for (j, (dv, &sv)) in d.iter_mut().zip(s.iter()).enumerate() {
        let q = if j == y { on } else { off };
        dot += q * sv;
        *dv = (*dv / sum - q) / n;
    }
    lse - dot
}

/// One row of the hinge loss; writes its gradient into `d` and returns `Lᵢ`.
fn hinge_row<F: NdFloat>(
    s: ndarray::ArrayView1<'_, F>,
    mut d: ndarray::ArrayViewMut1<'_, F>,
    y: usize,
    delta: F,
    n: F,
) -> F {
    let sy = s[y];
    let mut loss = F::zero();
    let mut count = F::zero();
    for (j, (dv, &sv)) in d.iter_mut().zip(s.iter()).enumerate() {
        let margin = sv - sy + delta;
        if j != y && margin > F::zero() {
            loss += margin;
            count += F::one();
            *dv = F::one() / n;
        } else {
            *dv = F::zero();
        }
    }
    d[y] = -count / n;
    loss
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn uniform_scores_give_ln_c() {
        // Zero scores over C classes: softmax is uniform, so the loss is ln C (CS231n's sanity check).
        for c in [2usize, 3, 10, 100] {
            let s = Array2::<f64>::zeros((3, c));
            let (l, ds) = Loss::default()
                .loss(s.view(), Targets::Classes(&[0, 1, 1]))
                .unwrap();
            assert!((l - (c as f64).ln()).abs() < 1e-12);
            // Each row of dS sums to zero (p and q both sum to one).
            for row in ds.rows() {
                assert!(row.sum().abs() < 1e-15);
            }
        }
    }

    #[test]
    fn svm_known_margins() {
        // CS231n's lecture 3 example: scores (cat 3.2, car 5.1, frog -1.7) with label cat give
        // max(0, 5.1-3.2+1) + max(0, -1.7-3.2+1) = 2.9.
        let s = array![[3.2f64, 5.1, -1.7]];
        let (l, ds) = Loss::Hinge { margin: 1.0 }
            .loss(s.view(), Targets::Classes(&[0]))
            .unwrap();
        assert!((l - 2.9).abs() < 1e-12);
        assert_eq!(ds, array![[-1.0, 1.0, 0.0]]);
    }

    #[test]
    fn label_smoothing_known_value() {
        // Uniform scores: the smoothed loss is still ln C, since q sums to one.
        let s = Array2::<f64>::zeros((1, 4));
        let l = Loss::SoftmaxCrossEntropy {
            label_smoothing: 0.1,
        };
        let (v, _) = l.loss(s.view(), Targets::Classes(&[2])).unwrap();
        assert!((v - 4f64.ln()).abs() < 1e-12);
        // Large scores do not overflow (log-sum-exp): loss of [1000, 0] with label 0 is ~e^-1000 ≈ 0.
        let (v, _) = Loss::default()
            .loss(array![[1000.0f64, 0.0]].view(), Targets::Classes(&[0]))
            .unwrap();
        assert!(v.is_finite() && v.abs() < 1e-300);
    }

    #[test]
    fn mse_known_value() {
        // ((1-0)² + (2-4)²) / 2 = 2.5, gradient 2(s-t)/2 = s - t.
        let (v, ds) = Loss::MeanSquaredError
            .loss(
                array![[1.0, 2.0]].view(),
                Targets::Values(array![[0.0, 4.0]].view()),
            )
            .unwrap();
        assert_eq!(v, 2.5);
        assert_eq!(ds, array![[1.0, -2.0]]);
    }

    #[test]
    fn bad_inputs_are_errors() {
        let s = Array2::<f64>::zeros((2, 3));
        let l = Loss::default();
        assert!(matches!(
            l.loss(s.view(), Targets::Classes(&[0, 3])),
            Err(CoreError::LabelOutOfRange {
                index: 1,
                label: 3,
                classes: 3
            })
        ));
        assert!(matches!(
            l.loss(s.view(), Targets::Classes(&[0])),
            Err(CoreError::ShapeMismatch { .. })
        ));
        let bad = Loss::SoftmaxCrossEntropy {
            label_smoothing: 1.5,
        };
        assert!(matches!(
            bad.loss(s.view(), Targets::Classes(&[0, 1])),
            Err(CoreError::InvalidHyperparameter { .. })
        ));
    }
}
