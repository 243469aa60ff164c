//! Standardisation: subtract the mean and divide by the standard deviation, per feature or per channel.

use crate::error::{PreprocessError, Result};
use crate::mean::MomentsFit;
use crate::shape::ImageShape;
use crate::stats::{Moments, Scope};
use crate::transform::{cast, check_input, Fit, PartialFit, Transform};
use ndarray::{Array1, Array2, ArrayView2, ArrayViewMut2, NdFloat};
use serde::{Deserialize, Serialize};

/// Zero mean and unit variance per feature or per channel (scikit-learn's `StandardScaler`, CS231n's
/// `X -= mean; X /= std`).
///
/// ```text
/// σ_g = sqrt(var_g + eps)   (population variance, np.var; σ_g = 1 if var_g + eps = 0)
/// y_ij = (x_ij − μ_g(j)) / σ_g(j)
/// ```
///
/// # Example
/// ```
/// use ndarray::array;
/// use nn_preprocess::{Fit, Standardize, Transform};
/// let train = array![[1.0f64], [3.0]]; // mean 2, std 1
/// let fitted = Standardize::per_feature().fit(train.view())?;
/// let y = fitted.transform(array![[4.0f64]].view())?;
/// assert!((y[[0, 0]] - 2.0).abs() < 1e-6);
/// # Ok::<(), nn_preprocess::PreprocessError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Standardize {
    /// Per feature or per channel.
    pub scope: Scope,
    /// Added to the variance before the square root (≥ 0); default `1e-8`.
    pub eps: f64,
}

impl Standardize {
    /// Per-feature standardisation with `eps = 1e-8`.
    pub fn per_feature() -> Self {
        Self {
            scope: Scope::PerFeature,
            eps: 1e-8,
        }
    }

    /// Per-channel standardisation of images of `shape` with `eps = 1e-8`.
    pub fn per_channel(shape: ImageShape) -> Self {
        Self {
            scope: Scope::PerChannel(shape),
            eps: 1e-8,
        }
    }

    /// The same with another epsilon.
    pub fn with_eps(self, eps: f64) -> Self {
        Self { eps, ..self }
    }
}

/// A fitted standardisation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FittedStandardize {
    scope: Scope,
    dim: usize,
    mean: Vec<f64>,
    std: Vec<f64>,
}

impl FittedStandardize {
    /// Per-group means (`D` or `C` values).
    pub fn mean(&self) -> &[f64] {
        &self.mean
    }

    /// Per-group divisors `sqrt(var + eps)` (`D` or `C` values).
    pub fn std(&self) -> &[f64] {
        &self.std
    }
}

impl Fit for Standardize {
    type Fitted = FittedStandardize;
    type Streaming = MomentsFit<Standardize>;
    fn streaming(&self) -> Self::Streaming {
        MomentsFit {
            config: *self,
            moments: Moments::new(self.scope),
        }
    }
}

impl PartialFit for MomentsFit<Standardize> {
    type Fitted = FittedStandardize;
    fn partial_fit<F: NdFloat>(&mut self, x: ArrayView2<'_, F>) -> Result<()> {
        self.add(x)
    }
    fn merge(&mut self, other: &Self) -> Result<()> {
        self.merge_moments(other)
    }
    fn finish(&self) -> Result<FittedStandardize> {
        let eps = self.config.eps;
        if !(eps >= 0.0 && eps.is_finite()) {
            return Err(PreprocessError::InvalidHyperparameter {
                name: "eps",
                value: eps.to_string(),
                reason: "must be finite and >= 0".into(),
            });
        }
        let dim = self.dim("Standardize::finish")?;
        let std = self
            .moments
            .variance()?
            .into_iter()
            .map(|v| {
                let s = (v + eps).sqrt();
                if s > 0.0 {
                    s
                } else {
                    1.0
                }
            })
            .collect();
        Ok(FittedStandardize {
            scope: self.moments.scope(),
            dim,
            mean: self.moments.mean()?,
            std,
        })
    }
}

impl Transform for FittedStandardize {
    fn input_dim(&self) -> usize {
        self.dim
    }
    fn output_dim(&self) -> usize {
        self.dim
    }
    fn image_shape(&self) -> Option<ImageShape> {
        match self.scope {
            Scope::PerFeature => None,
            Scope::PerChannel(s) => Some(s),
        }
    }
    fn keeps_image_shape(&self) -> bool {
        true
    }
    fn transform<F: NdFloat>(&self, x: ArrayView2<'_, F>) -> Result<Array2<F>> {
        check_input("FittedStandardize::transform", x, self.dim)?;
        let m: Array1<F> = self
            .scope
            .expand(&self.mean, self.dim)
            .into_iter()
            .map(cast)
            .collect();
        let inv: Array1<F> = self
            .scope
            .expand(&self.std, self.dim)
            .into_iter()
            .map(|s| cast(1.0 / s))
            .collect();
        Ok((&x - &m) * &inv)
    }
    fn transform_in_place<F: NdFloat>(&self, mut x: ArrayViewMut2<'_, F>) -> Result<()> {
        check_input("FittedStandardize::transform_in_place", x.view(), self.dim)?;
        let m: Array1<F> = self
            .scope
            .expand(&self.mean, self.dim)
            .into_iter()
            .map(cast)
            .collect();
        let inv: Array1<F> = self
            .scope
            .expand(&self.std, self.dim)
            .into_iter()
            .map(|s| cast(1.0 / s))
            .collect();
        // `(x - m) · (1/s)` per element, rounded as in `transform`.
        for mut row in x.rows_mut() {
            ndarray::Zip::from(&mut row)
                .and(&m)
                .and(&inv)
                .for_each(|v, &m, &inv| *v = (*v - m) * inv);
        }
        Ok(())
    }
    fn inverse_transform<F: NdFloat>(&self, y: ArrayView2<'_, F>) -> Result<Array2<F>> {
        check_input("FittedStandardize::inverse_transform", y, self.dim)?;
        let m: Array1<F> = self
            .scope
            .expand(&self.mean, self.dim)
            .into_iter()
            .map(cast)
            .collect();
        let s: Array1<F> = self
            .scope
            .expand(&self.std, self.dim)
            .into_iter()
            .map(cast)
            .collect();
        Ok(&y * &s + &m)
    }
}
