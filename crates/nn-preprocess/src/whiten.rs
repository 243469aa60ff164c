//! PCA and ZCA whitening: decorrelate and scale to unit variance.

use crate::error::{PreprocessError, Result};
use crate::pca::{sorted_eigen, CovarianceFit, Matrix};
use crate::shape::ImageShape;
use crate::stats::Covariance;
use crate::transform::{cast, check_input, Fit, PartialFit, Transform};
use ndarray::{Array1, Array2, ArrayView2, NdFloat};
use serde::{Deserialize, Serialize};

/// Which whitening rotation to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum WhiteningMethod {
    /// PCA whitening: rotate onto the eigenbasis and scale (`W = U·diag(1/sqrt(λ+ε))`).
    Pca,
    /// ZCA whitening: PCA whitening rotated back to pixel space (`W = U·diag(1/sqrt(λ+ε))·Uᵀ`), so whitened images
    /// still look like images.
    Zca,
}

/// Whitening fitted on the training covariance (CS231n: `Xwhite = Xrot / np.sqrt(S + 1e-5)`).
///
/// ```text
/// Σ = U·diag(λ)·Uᵀ
/// PCA: y = (x − μ)·U·diag(1/sqrt(λ+ε))             ZCA: y = (x − μ)·U·diag(1/sqrt(λ+ε))·Uᵀ
/// cov(y) = diag(λ/(λ+ε)) ≈ I  (in the eigenbasis; for ZCA after rotating back)
/// ```
///
/// # Example
/// ```
/// use ndarray::array;
/// use nn_preprocess::{Fit, Transform, Whitening, WhiteningMethod};
/// let x = array![[1.0f64, 0.0], [-1.0, 0.0], [0.0, 3.0], [0.0, -3.0]];
/// let w = Whitening { method: WhiteningMethod::Zca, eps: 1e-12 }.fit(x.view())?;
/// let y = w.transform(x.view())?;
/// assert!((y[[0, 0]] - 2f64.sqrt()).abs() < 1e-6); // variance 0.5 along x becomes 1
/// # Ok::<(), nn_preprocess::PreprocessError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Whitening {
    /// PCA or ZCA.
    pub method: WhiteningMethod,
    /// Added to each eigenvalue before the square root (> 0); CS231n uses `1e-5`.
    pub eps: f64,
}

impl Whitening {
    /// PCA whitening with `eps = 1e-5`.
    pub fn pca() -> Self {
        Self {
            method: WhiteningMethod::Pca,
            eps: 1e-5,
        }
    }

    /// ZCA whitening with `eps = 1e-5`.
    pub fn zca() -> Self {
        Self {
            method: WhiteningMethod::Zca,
            eps: 1e-5,
        }
    }
}

/// A fitted whitening.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FittedWhitening {
    method: WhiteningMethod,
    dim: usize,
    mean: Vec<f64>,
    /// `D × D`, applied as `y = xc · w`.
    w: Matrix,
    /// `D × D`, the inverse of `w`.
    w_inv: Matrix,
}

impl FittedWhitening {
    /// The whitening matrix `W` (`D × D`), applied as `y = (x − μ)·W`.
    pub fn matrix(&self) -> Result<Array2<f64>> {
        self.w.to_array()
    }

    /// PCA or ZCA.
    pub fn method(&self) -> WhiteningMethod {
        self.method
    }
}

impl Fit for Whitening {
    type Fitted = FittedWhitening;
    type Streaming = CovarianceFit<Whitening>;
    fn streaming(&self) -> Self::Streaming {
        CovarianceFit {
            config: *self,
            covariance: Covariance::new(),
        }
    }
}

impl PartialFit for CovarianceFit<Whitening> {
    type Fitted = FittedWhitening;
    fn partial_fit<F: NdFloat>(&mut self, x: ArrayView2<'_, F>) -> Result<()> {
        self.covariance.partial_fit(x)
    }
    fn merge(&mut self, other: &Self) -> Result<()> {
        self.covariance.merge(&other.covariance)
    }
    fn finish(&self) -> Result<FittedWhitening> {
        let eps = self.config.eps;
        if !(eps > 0.0 && eps.is_finite()) {
            return Err(PreprocessError::InvalidHyperparameter {
                name: "eps",
                value: eps.to_string(),
                reason: "must be finite and > 0 (zero-variance directions would divide by zero)"
                    .into(),
            });
        }
        let (d, mean, cov) = self.stats()?;
        let (values, u) = sorted_eigen(&cov)?;
        let scale: Array1<f64> = values.iter().map(|l| 1.0 / (l + eps).sqrt()).collect();
        let unscale: Array1<f64> = values.iter().map(|l| (l + eps).sqrt()).collect();
        // U·diag(s): scale column j by s_j.
        let u_scaled = &u * &scale;
        let (w, w_inv) = match self.config.method {
            WhiteningMethod::Pca => {
                // Inverse: diag(sqrt(λ+ε))·Uᵀ (scale row j of Uᵀ).
                let inv = &u.t() * &unscale.view().insert_axis(ndarray::Axis(1));
                (u_scaled, inv)
            }
            WhiteningMethod::Zca => {
                let w = u_scaled.dot(&u.t());
                let inv = (&u * &unscale).dot(&u.t());
                (w, inv)
            }
        };
        Ok(FittedWhitening {
            method: self.config.method,
            dim: d,
            mean: mean.to_vec(),
            w: Matrix::from_array(&w),
            w_inv: Matrix::from_array(&w_inv),
        })
    }
}

impl Transform for FittedWhitening {
    fn input_dim(&self) -> usize {
        self.dim
    }
    fn output_dim(&self) -> usize {
        self.dim
    }
    fn image_shape(&self) -> Option<ImageShape> {
        None
    }
    fn keeps_image_shape(&self) -> bool {
        self.method == WhiteningMethod::Zca
    }
    fn transform<F: NdFloat>(&self, x: ArrayView2<'_, F>) -> Result<Array2<F>> {
        check_input("FittedWhitening::transform", x, self.dim)?;
        let m: Array1<F> = self.mean.iter().map(|&v| cast(v)).collect();
        let w: Array2<F> = self.w.to_array()?;
        Ok((&x - &m).dot(&w))
    }
    fn inverse_transform<F: NdFloat>(&self, y: ArrayView2<'_, F>) -> Result<Array2<F>> {
        check_input("FittedWhitening::inverse_transform", y, self.dim)?;
        let m: Array1<F> = self.mean.iter().map(|&v| cast(v)).collect();
        let w_inv: Array2<F> = self.w_inv.to_array()?;
        Ok(y.dot(&w_inv) + &m)
    }
}
