//! Streaming statistics with f64 accumulators: per-feature or per-channel mean and variance ([`Moments`]) and the full
//! covariance matrix ([`Covariance`]).
//!
//! Each batch is cut into chunks of a fixed number of rows (depending only on `D`); each chunk gets an exact two-pass
//! mean and sum of squared deviations in f64, and chunks are merged in their order with Chan et al.'s update
//! (Welford's for batches):
//!
//! ```text
//! n = nA + nB,  δ = meanB − meanA
//! mean = meanA + δ·nB/n
//! M2   = M2A + M2B + δ²·nA·nB/n          (covariance: S = SA + SB + δδᵀ·nA·nB/n)
//! ```
//!
//! Chunks run in parallel with rayon, but the merge happens serially in chunk order, so the result does not depend on
//! the thread count; fitting in batches of any size differs from a single fit only by rounding (≪ 1e-9 relative).

use crate::error::{PreprocessError, Result};
use crate::shape::ImageShape;
use ndarray::{Array1, Array2, ArrayView2, Axis, NdFloat};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

/// Which values share one statistic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Scope {
    /// One statistic per feature (column): the mean image of AlexNet.
    PerFeature,
    /// One statistic per image channel, over all pixels of all samples (VGG's per-channel mean).
    PerChannel(ImageShape),
}

impl Scope {
    /// The feature count `D` this scope fixes, if any (`None` for [`Scope::PerFeature`]).
    pub fn fixed_dim(&self) -> Option<usize> {
        match self {
            Scope::PerFeature => None,
            Scope::PerChannel(s) => Some(s.len()),
        }
    }

    /// The number of groups (statistics) for `d` features.
    pub fn groups(&self, d: usize) -> usize {
        match self {
            Scope::PerFeature => d,
            Scope::PerChannel(s) => s.channels,
        }
    }

    /// The group of feature `j`.
    pub fn group_of(&self, j: usize) -> usize {
        match self {
            Scope::PerFeature => j,
            Scope::PerChannel(s) => s.channel_of(j),
        }
    }

    /// Expands per-group values to one value per feature (length `d`).
    pub fn expand(&self, per_group: &[f64], d: usize) -> Vec<f64> {
        (0..d).map(|j| per_group[self.group_of(j)]).collect()
    }
}

/// Number of values one chunk holds (512 KiB of f32): chunks stay in L2 for the second pass, and the per-chunk work
/// of `O(D)` (allocation, merge) stays small beside the `O(rows·D)` passes.
const CHUNK_ELEMS: usize = 1 << 17;

/// Returns the first non-finite value of `x` as `(row, col, value)`, scanning in row order.
pub(crate) fn find_non_finite<F: NdFloat>(x: ArrayView2<'_, F>) -> Option<(usize, usize, f64)> {
    for (i, row) in x.outer_iter().enumerate() {
        for (j, v) in row.iter().enumerate() {
            if !v.is_finite() {
                return Some((i, j, to_f64(*v)));
            }
        }
    }
    None
}

/// Errors with [`PreprocessError::NonFinite`] if `x` holds a NaN or infinity.
pub(crate) fn check_finite<F: NdFloat>(op: &'static str, x: ArrayView2<'_, F>) -> Result<()> {
    match find_non_finite(x) {
        None => Ok(()),
        Some((sample, feature, value)) => Err(PreprocessError::NonFinite {
            op,
            sample,
            feature,
            value,
        }),
    }
}

#[inline]
pub(crate) fn to_f64<F: NdFloat>(v: F) -> f64 {
    v.to_f64().unwrap_or(f64::NAN)
}

/// Moments of one chunk or of everything seen so far.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct GroupMoments {
    /// Number of values per group (samples × values of the group in one sample).
    count: u64,
    mean: Vec<f64>,
    m2: Vec<f64>,
}

impl GroupMoments {
    fn merge(&mut self, other: &GroupMoments) {
        if other.count == 0 {
            return;
        }
        if self.count == 0 {
            *self = other.clone();
            return;
        }
        let na = self.count as f64;
        let nb = other.count as f64;
        let n = na + nb;
        for ((ma, m2a), (&mb, &m2b)) in self
            .mean
            .iter_mut()
            .zip(self.m2.iter_mut())
            .zip(other.mean.iter().zip(other.m2.iter()))
        {
            let delta = mb - *ma;
            *ma += delta * (nb / n);
            *m2a += m2b + delta * delta * (na * nb / n);
        }
        self.count += other.count;
    }
}

/// Exact two-pass moments of a chunk of rows (row-major slice of `rows × d` values).
///
/// Both passes run per feature over the rows (independent accumulators, so they vectorise); per-channel statistics
/// then add up the features of each channel (`group[j]` is the channel of feature `j`), whatever the layout.
fn chunk_moments<F: NdFloat>(data: &[F], d: usize, scope: &Scope, group: &[usize]) -> GroupMoments {
    let rows = data.len() / d;
    let g = scope.groups(d);
    let per_sample = (d / g) as u64;
    let count = rows as u64 * per_sample;
    let mut sum = vec![0.0f64; d];
    for row in data.chunks_exact(d) {
        for (s, &v) in sum.iter_mut().zip(row) {
            *s += to_f64(v);
        }
    }
    let reduce = |per_feature: Vec<f64>| -> Vec<f64> {
        match scope {
            Scope::PerFeature => per_feature,
            Scope::PerChannel(_) => {
                let mut out = vec![0.0f64; g];
                for (&v, &k) in per_feature.iter().zip(group) {
                    out[k] += v;
                }
                out
            }
        }
    };
    let mean: Vec<f64> = reduce(sum).iter().map(|s| s / count as f64).collect();
    let expanded: Vec<f64>;
    let mean_per_feature: &[f64] = match scope {
        Scope::PerFeature => &mean,
        Scope::PerChannel(_) => {
            expanded = group.iter().map(|&k| mean[k]).collect();
            &expanded
        }
    };
    let mut m2 = vec![0.0f64; d];
    for row in data.chunks_exact(d) {
        for ((m, &mu), &v) in m2.iter_mut().zip(mean_per_feature).zip(row) {
            let e = to_f64(v) - mu;
            *m += e * e;
        }
    }
    GroupMoments {
        count,
        mean,
        m2: reduce(m2),
    }
}

/// Checks the width of a batch against the accumulator's `D` (setting it on the first batch).
fn check_width(op: &'static str, dim: &mut Option<usize>, d: usize) -> Result<()> {
    match dim {
        Some(expected) if *expected != d => Err(PreprocessError::ShapeMismatch {
            op,
            expected: vec![0, *expected],
            got: vec![0, d],
        }),
        Some(_) => Ok(()),
        None => {
            if d == 0 {
                return Err(PreprocessError::ShapeMismatch {
                    op,
                    expected: vec![0, 1],
                    got: vec![0, 0],
                });
            }
            *dim = Some(d);
            Ok(())
        }
    }
}

/// Streaming per-feature or per-channel mean and variance over any number of `N × D` batches.
///
/// # Example
/// ```
/// use ndarray::array;
/// use nn_preprocess::{Moments, Scope};
/// let mut m = Moments::new(Scope::PerFeature);
/// m.partial_fit(array![[1.0f32, 10.0], [3.0, 10.0]].view())?;
/// m.partial_fit(array![[5.0f32, 10.0]].view())?;
/// assert_eq!(m.mean()?, vec![3.0, 10.0]);
/// assert!((m.variance()?[0] - 8.0 / 3.0).abs() < 1e-12); // population variance of 1, 3, 5
/// # Ok::<(), nn_preprocess::PreprocessError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Moments {
    scope: Scope,
    dim: Option<usize>,
    samples: u64,
    acc: GroupMoments,
}

impl Moments {
    /// An empty accumulator. For [`Scope::PerFeature`], `D` is set by the first batch.
    pub fn new(scope: Scope) -> Self {
        let g = scope.fixed_dim().map_or(0, |d| scope.groups(d));
        Self {
            scope,
            dim: scope.fixed_dim(),
            samples: 0,
            acc: GroupMoments {
                count: 0,
                mean: vec![0.0; g],
                m2: vec![0.0; g],
            },
        }
    }

    /// The scope of the statistics.
    pub fn scope(&self) -> Scope {
        self.scope
    }

    /// The feature count `D`, once known.
    pub fn dim(&self) -> Option<usize> {
        self.dim
    }

    /// The number of samples (rows) seen.
    pub fn samples(&self) -> u64 {
        self.samples
    }

    /// Adds an `N × D` batch. An empty batch (`N = 0`) changes nothing.
    ///
    /// # Errors
    /// [`PreprocessError::ShapeMismatch`] if `D` differs from earlier batches (or the image shape);
    /// [`PreprocessError::NonFinite`] naming the first NaN/infinity (row within this batch, feature); the accumulator
    /// is unchanged on error.
    pub fn partial_fit<F: NdFloat>(&mut self, x: ArrayView2<'_, F>) -> Result<()> {
        let mut dim = self.dim;
        check_width("Moments::partial_fit", &mut dim, x.ncols())?;
        let d = x.ncols();
        if x.nrows() == 0 {
            return Ok(());
        }
        let x = x.as_standard_layout();
        let Some(data) = x.as_slice() else {
            // as_standard_layout always returns a contiguous array; this branch cannot run.
            return Err(PreprocessError::LinearAlgebra {
                reason: "non-contiguous array after as_standard_layout".into(),
            });
        };
        let rows_per_chunk = (CHUNK_ELEMS / d).max(1);
        let chunks: Vec<&[F]> = data.chunks(rows_per_chunk * d).collect();
        let mut batch = GroupMoments {
            count: 0,
            mean: vec![0.0; self.scope.groups(d)],
            m2: vec![0.0; self.scope.groups(d)],
        };
        let group_of: Vec<usize> = (0..d).map(|j| self.scope.group_of(j)).collect();
        // Windows only bound the memory of the per-chunk results; the merge order is the chunk order either way.
        let window = rayon::current_num_threads().max(1) * 32;
        for group in chunks.chunks(window) {
            let parts: Vec<GroupMoments> = if group.len() == 1 || data.len() < 4 * CHUNK_ELEMS {
                group
                    .iter()
                    .map(|c| chunk_moments(c, d, &self.scope, &group_of))
                    .collect()
            } else {
                group
                    .par_iter()
                    .map(|c| chunk_moments(c, d, &self.scope, &group_of))
                    .collect()
            };
            for p in &parts {
                batch.merge(p);
            }
        }
        // Sums of finite f32/f64 values cannot overflow in f64 here, so a non-finite mean means bad input.
        if batch.mean.iter().chain(&batch.m2).any(|v| !v.is_finite()) {
            check_finite("Moments::partial_fit", x.view())?;
        }
        self.dim = dim;
        if self.acc.mean.len() != batch.mean.len() {
            self.acc.mean = vec![0.0; batch.mean.len()];
            self.acc.m2 = vec![0.0; batch.mean.len()];
        }
        self.acc.merge(&batch);
        self.samples += x.nrows() as u64;
        Ok(())
    }

    /// Merges another accumulator (for example one fitted on another shard) into this one.
    ///
    /// # Errors
    /// [`PreprocessError::ShapeMismatch`] if the scopes or feature counts differ.
    pub fn merge(&mut self, other: &Moments) -> Result<()> {
        if other.samples == 0 {
            return Ok(());
        }
        if self.scope != other.scope {
            return Err(PreprocessError::InvalidHyperparameter {
                name: "scope",
                value: format!("{:?}", other.scope),
                reason: format!("cannot merge into moments with scope {:?}", self.scope),
            });
        }
        let mut dim = self.dim;
        check_width("Moments::merge", &mut dim, other.dim.unwrap_or(0))?;
        self.dim = dim;
        if self.acc.count == 0 {
            self.acc = other.acc.clone();
        } else {
            self.acc.merge(&other.acc);
        }
        self.samples += other.samples;
        Ok(())
    }

    fn nonempty(&self, op: &'static str) -> Result<()> {
        if self.samples == 0 {
            Err(PreprocessError::EmptyInput { op })
        } else {
            Ok(())
        }
    }

    /// The mean of each group (`D` values per feature, or `C` per channel).
    ///
    /// # Errors
    /// [`PreprocessError::EmptyInput`] before any sample.
    pub fn mean(&self) -> Result<Vec<f64>> {
        self.nonempty("Moments::mean")?;
        Ok(self.acc.mean.clone())
    }

    /// The population (biased, divided by the count) variance of each group, as `np.var` computes it.
    ///
    /// # Errors
    /// [`PreprocessError::EmptyInput`] before any sample.
    pub fn variance(&self) -> Result<Vec<f64>> {
        self.nonempty("Moments::variance")?;
        let n = self.acc.count as f64;
        Ok(self.acc.m2.iter().map(|m| m / n).collect())
    }

    /// The mean and population variance of *all* values pooled (for example the single MNIST pixel mean).
    ///
    /// # Errors
    /// [`PreprocessError::EmptyInput`] before any sample.
    pub fn pooled(&self) -> Result<(f64, f64)> {
        let mut total = GroupMoments {
            count: 0,
            mean: vec![0.0],
            m2: vec![0.0],
        };
        self.nonempty("Moments::pooled")?;
        for (&m, &m2) in self.acc.mean.iter().zip(&self.acc.m2) {
            total.merge(&GroupMoments {
                count: self.acc.count,
                mean: vec![m],
                m2: vec![m2],
            });
        }
        Ok((total.mean[0], total.m2[0] / total.count as f64))
    }
}

/// Streaming mean and covariance matrix (`D × D`, f64) over any number of `N × D` batches.
///
/// # Example
/// ```
/// use ndarray::array;
/// use nn_preprocess::Covariance;
/// let mut c = Covariance::new();
/// c.partial_fit(array![[1.0f64, 2.0], [3.0, 6.0]].view())?;
/// let cov = c.covariance()?;
/// assert_eq!(cov, array![[1.0, 2.0], [2.0, 4.0]]); // population covariance, divided by N = 2
/// # Ok::<(), nn_preprocess::PreprocessError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Covariance {
    dim: Option<usize>,
    count: u64,
    mean: Array1<f64>,
    scatter: Array2<f64>,
}

impl Default for Covariance {
    fn default() -> Self {
        Self::new()
    }
}

/// Rows per covariance chunk: large enough for an efficient `XᵀX`, fixed so results do not depend on threads.
const COV_CHUNK_ROWS: usize = 512;

fn chunk_scatter<F: NdFloat>(x: ArrayView2<'_, F>) -> (u64, Array1<f64>, Array2<f64>) {
    let xf = x.mapv(to_f64);
    let n = xf.nrows();
    let mean = xf.sum_axis(Axis(0)) / n as f64;
    let xc = xf - &mean;
    let s = xc.t().dot(&xc);
    (n as u64, mean, s)
}

impl Covariance {
    /// An empty accumulator; `D` is set by the first batch.
    pub fn new() -> Self {
        Self {
            dim: None,
            count: 0,
            mean: Array1::zeros(0),
            scatter: Array2::zeros((0, 0)),
        }
    }

    /// The feature count `D`, once known.
    pub fn dim(&self) -> Option<usize> {
        self.dim
    }

    /// The number of samples seen.
    pub fn samples(&self) -> u64 {
        self.count
    }

    fn merge_parts(&mut self, n_b: u64, mean_b: &Array1<f64>, s_b: &Array2<f64>) {
        if n_b == 0 {
            return;
        }
        if self.count == 0 {
            self.count = n_b;
            self.mean = mean_b.clone();
            self.scatter = s_b.clone();
            return;
        }
        let na = self.count as f64;
        let nb = n_b as f64;
        let n = na + nb;
        let delta = mean_b - &self.mean;
        let f = na * nb / n;
        self.scatter += s_b;
        let d = delta.len();
        for i in 0..d {
            let di = delta[i] * f;
            let mut row = self.scatter.row_mut(i);
            for (r, &dj) in row.iter_mut().zip(delta.iter()) {
                *r += di * dj;
            }
        }
        self.mean.scaled_add(nb / n, &delta);
        self.count += n_b;
    }

    /// Adds an `N × D` batch. An empty batch changes nothing.
    ///
    /// # Errors
    /// [`PreprocessError::ShapeMismatch`] if `D` differs from earlier batches;
    /// [`PreprocessError::NonFinite`] naming the first NaN/infinity; the accumulator is unchanged on error.
    pub fn partial_fit<F: NdFloat>(&mut self, x: ArrayView2<'_, F>) -> Result<()> {
        let mut dim = self.dim;
        check_width("Covariance::partial_fit", &mut dim, x.ncols())?;
        if x.nrows() == 0 {
            return Ok(());
        }
        check_finite("Covariance::partial_fit", x)?;
        self.dim = dim;
        let chunks: Vec<ArrayView2<'_, F>> = x.axis_chunks_iter(Axis(0), COV_CHUNK_ROWS).collect();
        let window = rayon::current_num_threads().max(1);
        for group in chunks.chunks(window) {
            let parts: Vec<_> = group.par_iter().map(|c| chunk_scatter(c.view())).collect();
            for (n, m, s) in &parts {
                self.merge_parts(*n, m, s);
            }
        }
        Ok(())
    }

    /// Merges another accumulator into this one.
    ///
    /// # Errors
    /// [`PreprocessError::ShapeMismatch`] if the feature counts differ.
    pub fn merge(&mut self, other: &Covariance) -> Result<()> {
        if other.count == 0 {
            return Ok(());
        }
        let mut dim = self.dim;
        check_width("Covariance::merge", &mut dim, other.dim.unwrap_or(0))?;
        self.dim = dim;
        self.merge_parts(other.count, &other.mean, &other.scatter);
        Ok(())
    }

    /// The mean of each feature (length `D`).
    ///
    /// # Errors
    /// [`PreprocessError::EmptyInput`] before any sample.
    pub fn mean(&self) -> Result<Array1<f64>> {
        if self.count == 0 {
            return Err(PreprocessError::EmptyInput {
                op: "Covariance::mean",
            });
        }
        Ok(self.mean.clone())
    }

    /// The population covariance `Σ = Xcᵀ·Xc / N` (`D × D`), as CS231n's `np.dot(X.T, X) / X.shape[0]`.
    ///
    /// # Errors
    /// [`PreprocessError::EmptyInput`] before any sample.
    pub fn covariance(&self) -> Result<Array2<f64>> {
        if self.count == 0 {
            return Err(PreprocessError::EmptyInput {
                op: "Covariance::covariance",
            });
        }
        Ok(&self.scatter / self.count as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn moments_match_hand_values() {
        // Column 0 is 1, 2, 3, 4: mean 2.5, population variance 1.25 (np.var([1, 2, 3, 4])).
        let x = array![[1.0f64, 0.0], [2.0, 0.0], [3.0, 0.0], [4.0, 0.0]];
        let mut m = Moments::new(Scope::PerFeature);
        m.partial_fit(x.view()).unwrap();
        assert_eq!(m.mean().unwrap(), vec![2.5, 0.0]);
        assert_eq!(m.variance().unwrap(), vec![1.25, 0.0]);
        // Pooled over all 8 values: mean 1.25, variance E[x²] − mean² = 30/8 − 1.5625 = 2.1875.
        let (mu, var) = m.pooled().unwrap();
        assert!((mu - 1.25).abs() < 1e-15 && (var - 2.1875).abs() < 1e-12);
    }

    #[test]
    fn nan_is_located() {
        let x = array![[1.0f32, 2.0], [3.0, f32::NAN]];
        let mut m = Moments::new(Scope::PerFeature);
        let e = m.partial_fit(x.view()).unwrap_err();
        assert!(matches!(
            e,
            PreprocessError::NonFinite {
                sample: 1,
                feature: 1,
                ..
            }
        ));
        assert_eq!(m.samples(), 0);
    }

    #[test]
    fn empty_moments_error() {
        let m = Moments::new(Scope::PerFeature);
        assert!(matches!(m.mean(), Err(PreprocessError::EmptyInput { .. })));
        assert!(matches!(
            Covariance::new().covariance(),
            Err(PreprocessError::EmptyInput { .. })
        ));
    }
}
