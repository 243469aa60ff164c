//! Principal component analysis on the covariance matrix of the training set.
//!
//! The eigendecomposition uses `nalgebra::SymmetricEigen` (pure Rust, no system LAPACK); eigenvalues are sorted in
//! decreasing order and each eigenvector's sign is fixed so that its largest-magnitude entry is positive, which makes
//! the components deterministic.

use crate::error::{PreprocessError, Result};
use crate::shape::ImageShape;
use crate::stats::Covariance;
use crate::transform::{cast, check_input, Fit, PartialFit, Transform};
use ndarray::{Array1, Array2, ArrayView2, NdFloat};
use serde::{Deserialize, Serialize};

/// A dense row-major f64 matrix that serialises without ndarray's serde feature.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Matrix {
    rows: usize,
    cols: usize,
    data: Vec<f64>,
}

impl Matrix {
    pub(crate) fn from_array(a: &Array2<f64>) -> Self {
        Self {
            rows: a.nrows(),
            cols: a.ncols(),
            data: a.iter().copied().collect(),
        }
    }

    pub(crate) fn to_array<F: NdFloat>(&self) -> Result<Array2<F>> {
        Array2::from_shape_vec(
            (self.rows, self.cols),
            self.data.iter().map(|&v| cast(v)).collect(),
        )
        .map_err(|_| PreprocessError::ShapeMismatch {
            op: "Matrix::to_array",
            expected: vec![self.rows, self.cols],
            got: vec![self.data.len()],
        })
    }
}

/// Eigenvalues (decreasing, clamped at 0) and unit eigenvectors (columns, sign-fixed) of a symmetric matrix.
pub(crate) fn sorted_eigen(cov: &Array2<f64>) -> Result<(Vec<f64>, Array2<f64>)> {
    let d = cov.nrows();
    let m = nalgebra::DMatrix::from_fn(d, d, |i, j| cov[[i, j]]);
    let eig = nalgebra::SymmetricEigen::try_new(m, f64::EPSILON, 100_000).ok_or_else(|| {
        PreprocessError::LinearAlgebra {
            reason: format!(
                "symmetric eigendecomposition of a {d}x{d} covariance did not converge"
            ),
        }
    })?;
    let mut order: Vec<usize> = (0..d).collect();
    order.sort_by(|&a, &b| eig.eigenvalues[b].total_cmp(&eig.eigenvalues[a]));
    let values = order.iter().map(|&i| eig.eigenvalues[i].max(0.0)).collect();
    let mut vectors = Array2::zeros((d, d));
    for (col, &i) in order.iter().enumerate() {
        let v = eig.eigenvectors.column(i);
        let mut best = 0.0f64;
        for &x in v.iter() {
            if x.abs() > best.abs() {
                best = x;
            }
        }
        let sign = if best < 0.0 { -1.0 } else { 1.0 };
        for r in 0..d {
            vectors[[r, col]] = sign * v[r];
        }
    }
    Ok((values, vectors))
}

/// How many principal components to keep.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum PcaComponents {
    /// Exactly `k` components (`1 ≤ k ≤ D`).
    Count(usize),
    /// The fewest components whose eigenvalues sum to at least this fraction (in `(0, 1]`) of the total variance.
    VarianceFraction(f64),
}

/// Principal component analysis: project centred data on the top eigenvectors of its covariance.
///
/// ```text
/// Σ = Xcᵀ·Xc / N = U·diag(λ)·Uᵀ,  λ_1 ≥ λ_2 ≥ …
/// y = (x − μ)·U_k           (N × D → N × k)       x̂ = y·U_kᵀ + μ
/// ```
///
/// # Example
/// ```
/// use ndarray::array;
/// use nn_preprocess::{Fit, Pca, PcaComponents, Transform};
/// // Points on the line y = 2x: one component carries all the variance.
/// let x = array![[0.0f64, 0.0], [1.0, 2.0], [2.0, 4.0], [3.0, 6.0]];
/// let fitted = Pca { components: PcaComponents::VarianceFraction(0.99) }.fit(x.view())?;
/// assert_eq!(fitted.output_dim(), 1);
/// let back = fitted.inverse_transform(fitted.transform(x.view())?.view())?;
/// assert!((&back - &x).iter().all(|e| e.abs() < 1e-9));
/// # Ok::<(), nn_preprocess::PreprocessError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Pca {
    /// How many components to keep.
    pub components: PcaComponents,
}

/// The streaming state of [`Pca`] and [`crate::Whitening`]: a running mean and covariance.
#[derive(Debug, Clone, PartialEq)]
pub struct CovarianceFit<C> {
    /// The step's hyperparameters.
    pub config: C,
    /// The statistics so far.
    pub covariance: Covariance,
}

impl<C> CovarianceFit<C> {
    pub(crate) fn stats(&self) -> Result<(usize, Array1<f64>, Array2<f64>)> {
        let cov = self.covariance.covariance()?;
        Ok((cov.nrows(), self.covariance.mean()?, cov))
    }
}

/// A fitted PCA.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FittedPca {
    dim: usize,
    mean: Vec<f64>,
    /// `k × D`, one unit component per row.
    components: Matrix,
    explained_variance: Vec<f64>,
    total_variance: f64,
}

impl FittedPca {
    /// The components as rows of a `k × D` matrix (orthonormal).
    pub fn components(&self) -> Result<Array2<f64>> {
        self.components.to_array()
    }

    /// The variance along each kept component (the eigenvalues `λ_1 ≥ … ≥ λ_k`).
    pub fn explained_variance(&self) -> &[f64] {
        &self.explained_variance
    }

    /// The fraction of the total variance each kept component carries.
    pub fn explained_variance_ratio(&self) -> Vec<f64> {
        self.explained_variance
            .iter()
            .map(|v| {
                if self.total_variance > 0.0 {
                    v / self.total_variance
                } else {
                    0.0
                }
            })
            .collect()
    }

    /// The training mean (length `D`).
    pub fn mean(&self) -> &[f64] {
        &self.mean
    }
}

impl Fit for Pca {
    type Fitted = FittedPca;
    type Streaming = CovarianceFit<Pca>;
    fn streaming(&self) -> Self::Streaming {
        CovarianceFit {
            config: *self,
            covariance: Covariance::new(),
        }
    }
}

impl PartialFit for CovarianceFit<Pca> {
    type Fitted = FittedPca;
    fn partial_fit<F: NdFloat>(&mut self, x: ArrayView2<'_, F>) -> Result<()> {
        self.covariance.partial_fit(x)
    }
    fn merge(&mut self, other: &Self) -> Result<()> {
        self.covariance.merge(&other.covariance)
    }
    fn finish(&self) -> Result<FittedPca> {
        let (d, mean, cov) = self.stats()?;
        let k_requested = match self.config.components {
            PcaComponents::Count(k) => {
                if k == 0 || k > d {
                    return Err(PreprocessError::InvalidHyperparameter {
                        name: "k",
                        value: k.to_string(),
                        reason: format!("must be in 1..={d} (the data has D = {d} features)"),
                    });
                }
                Some(k)
            }
            PcaComponents::VarianceFraction(f) => {
                if !(f > 0.0 && f <= 1.0) {
                    return Err(PreprocessError::InvalidHyperparameter {
                        name: "variance fraction",
                        value: f.to_string(),
                        reason: "must be in (0, 1]".into(),
                    });
                }
                None
            }
        };
        let (values, vectors) = sorted_eigen(&cov)?;
        let total: f64 = values.iter().sum();
        let k = match (k_requested, self.config.components) {
            (Some(k), _) => k,
            (None, PcaComponents::VarianceFraction(f)) => {
                let mut acc = 0.0;
                let mut k = d;
                for (i, v) in values.iter().enumerate() {
                    acc += v;
                    if acc >= f * total * (1.0 - 1e-12) {
                        k = i + 1;
                        break;
                    }
                }
                k.max(1)
            }
            (None, PcaComponents::Count(k)) => k,
        };
        let comps = vectors.slice(ndarray::s![.., ..k]).t().to_owned();
        Ok(FittedPca {
            dim: d,
            mean: mean.to_vec(),
            components: Matrix::from_array(&comps),
            explained_variance: values[..k].to_vec(),
            total_variance: total,
        })
    }
}

impl Transform for FittedPca {
    fn input_dim(&self) -> usize {
        self.dim
    }
    fn output_dim(&self) -> usize {
        self.explained_variance.len()
    }
    fn image_shape(&self) -> Option<ImageShape> {
        None
    }
    fn keeps_image_shape(&self) -> bool {
        false
    }
    fn transform<F: NdFloat>(&self, x: ArrayView2<'_, F>) -> Result<Array2<F>> {
        check_input("FittedPca::transform", x, self.dim)?;
        let m: Array1<F> = self.mean.iter().map(|&v| cast(v)).collect();
        let c: Array2<F> = self.components.to_array()?;
        Ok((&x - &m).dot(&c.t()))
    }
    fn inverse_transform<F: NdFloat>(&self, y: ArrayView2<'_, F>) -> Result<Array2<F>> {
        check_input("FittedPca::inverse_transform", y, self.output_dim())?;
        let m: Array1<F> = self.mean.iter().map(|&v| cast(v)).collect();
        let c: Array2<F> = self.components.to_array()?;
        Ok(y.dot(&c) + &m)
    }
}
