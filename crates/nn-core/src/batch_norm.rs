//! [`BatchNorm`]: batch normalisation (Ioffe & Szegedy 2015) over features or image channels.

use ndarray::{Array1, Array2, ArrayView2, ArrayViewMut2, Ix1, NdFloat};
use serde::{Deserialize, Serialize};

use crate::error::{CoreError, Result};
use crate::lit;
use crate::param::Param;

/// How a row of the `N × D` activation matrix is laid out, which decides what a "channel" is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum BatchNormLayout {
    /// Plain features (`BatchNorm1d`): one channel per column, statistics over `N`.
    Features,
    /// Image rows stored channel-major (`C, H, W`): statistics per channel over `N, H, W`.
    Nchw {
        /// Channels `C`.
        channels: usize,
        /// Height.
        height: usize,
        /// Width.
        width: usize,
    },
    /// Image rows stored channel-last (`H, W, C`): statistics per channel over `N, H, W`.
    Nhwc {
        /// Height.
        height: usize,
        /// Width.
        width: usize,
        /// Channels `C`.
        channels: usize,
    },
}

impl BatchNormLayout {
    /// The number of channels for rows of width `d` (`d` itself for [`BatchNormLayout::Features`]).
    pub fn channels(&self, d: usize) -> usize {
        match *self {
            BatchNormLayout::Features => d,
            BatchNormLayout::Nchw { channels, .. } | BatchNormLayout::Nhwc { channels, .. } => {
                channels
            }
        }
    }

    /// The row width this layout needs (`None` for features: any width). Saturates instead of
    /// overflowing, so a crafted spec gives a width no data matches rather than a panic.
    pub fn row_width(&self) -> Option<usize> {
        match *self {
            BatchNormLayout::Features => None,
            BatchNormLayout::Nchw {
                channels,
                height,
                width,
            }
            | BatchNormLayout::Nhwc {
                height,
                width,
                channels,
            } => Some(channels.saturating_mul(height).saturating_mul(width)),
        }
    }

    /// The `(outer, C, inner)` view shape of an `N × d` matrix: channel `c` is `[.., c, ..]`.
    fn view_shape(&self, n: usize, d: usize) -> (usize, usize, usize) {
        match *self {
            BatchNormLayout::Features => (n, d, 1),
            BatchNormLayout::Nchw {
                channels,
                height,
                width,
            } => (n, channels, height * width),
            BatchNormLayout::Nhwc {
                height,
                width,
                channels,
            } => (n * height * width, channels, 1),
        }
    }
}

/// Hyperparameters of a [`BatchNorm`] layer (PyTorch's defaults).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct BatchNormConfig {
    /// What a channel is.
    pub layout: BatchNormLayout,
    /// `ε` added to the variance (default `1e-5`).
    pub eps: f64,
    /// Momentum of the running statistics (default `0.1`, PyTorch's convention).
    pub momentum: f64,
    /// Learn `γ` and `β` (default `true`); otherwise `γ = 1`, `β = 0` fixed.
    pub affine: bool,
    /// Keep running statistics for evaluation (default `true`); otherwise evaluation normalises
    /// with the batch's own statistics, as in training.
    pub track_running_stats: bool,
}

impl Default for BatchNormConfig {
    fn default() -> Self {
        BatchNormConfig {
            layout: BatchNormLayout::Features,
            eps: 1e-5,
            momentum: 0.1,
            affine: true,
            track_running_stats: true,
        }
    }
}

impl BatchNormConfig {
    /// Checks `eps > 0`, `momentum ∈ [0, 1]` and positive image dimensions.
    ///
    /// # Errors
    /// [`CoreError::InvalidHyperparameter`] naming the field.
    pub fn validate(&self) -> Result<()> {
        if !(self.eps.is_finite() && self.eps > 0.0) {
            return Err(invalid(
                "batch_norm.eps",
                self.eps,
                "must be finite and positive",
            ));
        }
        if !(0.0..=1.0).contains(&self.momentum) {
            return Err(invalid(
                "batch_norm.momentum",
                self.momentum,
                "must be in [0, 1]",
            ));
        }
        if self.layout.row_width() == Some(0) {
            return Err(CoreError::InvalidHyperparameter {
                name: "batch_norm.layout",
                value: format!("{:?}", self.layout),
                reason: "channels, height and width must be positive",
            });
        }
        Ok(())
    }
}

fn invalid(name: &'static str, value: f64, reason: &'static str) -> CoreError {
    CoreError::InvalidHyperparameter {
        name,
        value: value.to_string(),
        reason,
    }
}

/// Batch normalisation over features (`N × D`) or over the channels of image rows (NCHW, NHWC).
///
/// ```text
/// training:  μ = mean over the channel's m values,  σ² = biased variance,  x̂ = (x − μ)/√(σ² + ε)
///            y = γ·x̂ + β
///            running_mean ← (1 − momentum)·running_mean + momentum·μ
///            running_var  ← (1 − momentum)·running_var  + momentum·σ²·m/(m − 1)   (unbiased)
/// eval:      x̂ = (x − running_mean)/√(running_var + ε)
/// backward:  dγ += Σ dy·x̂     dβ += Σ dy
///            dx = γ/(m·√(σ² + ε)) · (m·dy − Σ dy − x̂·Σ(dy·x̂))      (the compact formula)
/// ```
/// PyTorch's `momentum = 0.1` is CS231n's `running = 0.9·running + 0.1·batch`.
/// Running statistics are updated during every training-mode forward (PyTorch's behaviour).
///
/// # Shapes
/// Input and output `N × D`; `γ`, `β`, running mean and variance have length `C` (`= D` for features).
#[derive(Clone, Debug, PartialEq)]
pub struct BatchNorm<F: NdFloat> {
    config: BatchNormConfig,
    pub(crate) gamma: Option<Param<F, Ix1>>,
    pub(crate) beta: Option<Param<F, Ix1>>,
    pub(crate) running_mean: Option<Array1<F>>,
    pub(crate) running_var: Option<Array1<F>>,
    /// Normalised input of the last training forward (`N × D`).
    xhat: Array2<F>,
    /// `1/√(σ² + ε)` per channel of the last training forward.
    inv_std: Array1<F>,
    /// Per-channel scratch (means, then Σ dy).
    scratch_a: Array1<F>,
    /// Per-channel scratch (variances, then Σ dy·x̂).
    scratch_b: Array1<F>,
}

impl<F: NdFloat> BatchNorm<F> {
    /// A batch-norm layer for rows of width `d`: `γ = 1`, `β = 0`, running mean 0, running variance 1.
    ///
    /// # Errors
    /// [`CoreError::InvalidHyperparameter`] if the config is invalid or `d` is zero;
    /// [`CoreError::ShapeMismatch`] if an image layout's `C·H·W != d`.
    pub fn new(d: usize, config: BatchNormConfig) -> Result<Self> {
        config.validate()?;
        if d == 0 {
            return Err(CoreError::InvalidHyperparameter {
                name: "batch_norm.features",
                value: "0".into(),
                reason: "must be positive",
            });
        }
        if let Some(w) = config.layout.row_width() {
            crate::error::check_shape("BatchNorm::new", &[w], &[d])?;
        }
        let c = config.layout.channels(d);
        let ones = Array1::from_elem(c, F::one());
        let zeros = Array1::zeros(c);
        Ok(BatchNorm {
            config,
            gamma: config.affine.then(|| Param::new(ones.clone())),
            beta: config.affine.then(|| Param::new(zeros.clone())),
            running_mean: config.track_running_stats.then(|| zeros.clone()),
            running_var: config.track_running_stats.then(|| ones.clone()),
            xhat: Array2::zeros((0, 0)),
            inv_std: zeros.clone(),
            scratch_a: zeros.clone(),
            scratch_b: zeros,
        })
    }

    /// The hyperparameters.
    pub fn config(&self) -> &BatchNormConfig {
        &self.config
    }

    /// `γ` and its gradient (`None` without the affine part).
    pub fn gamma(&self) -> Option<&Param<F, Ix1>> {
        self.gamma.as_ref()
    }

    /// `β` and its gradient (`None` without the affine part).
    pub fn beta(&self) -> Option<&Param<F, Ix1>> {
        self.beta.as_ref()
    }

    /// The running mean (`None` without running statistics).
    pub fn running_mean(&self) -> Option<&Array1<F>> {
        self.running_mean.as_ref()
    }

    /// The running (unbiased) variance (`None` without running statistics).
    pub fn running_var(&self) -> Option<&Array1<F>> {
        self.running_var.as_ref()
    }

    /// The row-major data of `x`, which must be contiguous (the network's buffers always are).
    fn slice<'a>(x: &ArrayView2<'a, F>) -> Result<&'a [F]> {
        x.to_slice().ok_or_else(|| CoreError::ShapeMismatch {
            op: "BatchNorm (input must be contiguous and row-major)",
            expected: vec![x.nrows(), x.ncols()],
            got: x.strides().iter().map(|&s| s.unsigned_abs()).collect(),
        })
    }

    fn slice_mut<'a>(x: ArrayViewMut2<'a, F>) -> Result<&'a mut [F]> {
        let (rows, cols) = x.dim();
        x.into_slice().ok_or_else(|| CoreError::ShapeMismatch {
            op: "BatchNorm (output must be contiguous and row-major)",
            expected: vec![rows, cols],
            got: vec![],
        })
    }

    /// `(outer, C, inner)`: entry `(o, c, i)` of the data is at `(o·C + c)·inner + i`.
    fn dims3(&self, x: &ArrayView2<'_, F>) -> (usize, usize, usize) {
        self.config.layout.view_shape(x.nrows(), x.ncols())
    }

    /// Per-channel sums `acc[c] += Σ f(a, b)` over the `(o, c, i)` entries of `a` and `b`.
    fn channel_sums(
        a: &[F],
        b: &[F],
        (_, c, inner): (usize, usize, usize),
        acc: &mut [F],
        f: impl Fn(usize, F, F) -> F,
    ) {
        acc.iter_mut().for_each(|v| *v = F::zero());
        for (pa, pb) in a.chunks_exact(c * inner).zip(b.chunks_exact(c * inner)) {
            if inner == 1 {
                // Features: one value per channel per row, a straight vectorisable loop.
                for (ch, (acc_c, (&u, &v))) in acc.iter_mut().zip(pa.iter().zip(pb)).enumerate() {
                    *acc_c += f(ch, u, v);
                }
                continue;
            }
            let chunks = pa.chunks_exact(inner).zip(pb.chunks_exact(inner));
            for (ch, (acc_c, (ca, cb))) in acc.iter_mut().zip(chunks).enumerate() {
                let mut s = F::zero();
                for (&u, &v) in ca.iter().zip(cb) {
                    s += f(ch, u, v);
                }
                *acc_c += s;
            }
        }
    }

    /// Per-channel mean and biased variance (two passes, summed in memory order).
    fn batch_stats(x: &[F], dims: (usize, usize, usize), mean: &mut [F], var: &mut [F]) {
        let m: F = lit(dims.0 as f64 * dims.2 as f64);
        Self::channel_sums(x, x, dims, mean, |_, v, _| v);
        mean.iter_mut().for_each(|v| *v /= m);
        let mu: &[F] = mean;
        Self::channel_sums(x, x, dims, var, |ch, v, _| (v - mu[ch]) * (v - mu[ch]));
        var.iter_mut().for_each(|v| *v /= m);
    }

    /// `y = γ·(x − μ)·inv_std + β`, optionally keeping `x̂`.
    fn normalise(
        &self,
        x: &[F],
        dims: (usize, usize, usize),
        mean: &[F],
        inv_std: &[F],
        y: &mut [F],
        mut xhat: Option<&mut [F]>,
    ) {
        let (_, c, inner) = dims;
        let gamma = self.gamma.as_ref().and_then(|g| g.value.as_slice());
        let beta = self.beta.as_ref().and_then(|b| b.value.as_slice());
        for (p, (xp, yp)) in x
            .chunks_exact(c * inner)
            .zip(y.chunks_exact_mut(c * inner))
            .enumerate()
        {
            let base = p * c * inner;
            if inner == 1 {
                let gb = |ch: usize| {
                    (
                        gamma.map_or(F::one(), |g| g[ch]),
                        beta.map_or(F::zero(), |b| b[ch]),
                    )
                };
                match xhat.as_deref_mut() {
                    Some(xh) => {
                        let rows = yp.iter_mut().zip(xp).zip(&mut xh[base..base + c]);
                        for (ch, ((yv, &xv), hv)) in rows.enumerate() {
                            let (g, b) = gb(ch);
                            let h = (xv - mean[ch]) * inv_std[ch];
                            *hv = h;
                            *yv = g * h + b;
                        }
                    }
                    None => {
                        for (ch, (yv, &xv)) in yp.iter_mut().zip(xp).enumerate() {
                            let (g, b) = gb(ch);
                            *yv = g * ((xv - mean[ch]) * inv_std[ch]) + b;
                        }
                    }
                }
                continue;
            }
            for ch in 0..c {
                let (mu, is) = (mean[ch], inv_std[ch]);
                let g = gamma.map_or(F::one(), |g| g[ch]);
                let b = beta.map_or(F::zero(), |b| b[ch]);
                for k in ch * inner..(ch + 1) * inner {
                    let h = (xp[k] - mu) * is;
                    if let Some(xh) = xhat.as_deref_mut() {
                        xh[base + k] = h;
                    }
                    yp[k] = g * h + b;
                }
            }
        }
    }

    pub(crate) fn forward_train(
        &mut self,
        x: ArrayView2<'_, F>,
        out: ArrayViewMut2<'_, F>,
    ) -> Result<()> {
        let dims = self.dims3(&x);
        let xs = Self::slice(&x)?;
        let m = dims.0 * dims.2;
        if m < 2 {
            return Err(CoreError::InvalidHyperparameter {
                name: "batch_norm.batch",
                value: m.to_string(),
                reason: "training needs more than one value per channel",
            });
        }
        if self.xhat.dim() != x.dim() {
            self.xhat = Array2::zeros(x.dim());
        }
        let (mut mean, mut var) = (
            crate::take(&mut self.scratch_a),
            crate::take(&mut self.scratch_b),
        );
        let mut inv_std = crate::take(&mut self.inv_std);
        let mut xhat = crate::take(&mut self.xhat);
        let result = (|| -> Result<()> {
            let (ms, vs) = (slice1(&mut mean)?, slice1(&mut var)?);
            Self::batch_stats(xs, dims, ms, vs);
            let eps: F = lit(self.config.eps);
            let is = slice1(&mut inv_std)?;
            for (s, &v) in is.iter_mut().zip(vs.iter()) {
                *s = F::one() / (v + eps).sqrt();
            }
            let ys = Self::slice_mut(out)?;
            let xh = Self::slice_mut(xhat.view_mut())?;
            self.normalise(xs, dims, ms, is, ys, Some(xh));
            Ok(())
        })();
        if let (Some(rm), Some(rv), Ok(())) = (
            self.running_mean.as_mut(),
            self.running_var.as_mut(),
            &result,
        ) {
            let mom: F = lit(self.config.momentum);
            let keep = F::one() - mom;
            let unbias: F = lit(m as f64 / (m as f64 - 1.0));
            ndarray::Zip::from(rm)
                .and(&mean)
                .for_each(|r, &b| *r = keep * *r + mom * b);
            ndarray::Zip::from(rv)
                .and(&var)
                .for_each(|r, &b| *r = keep * *r + mom * b * unbias);
        }
        self.xhat = xhat;
        self.inv_std = inv_std;
        self.scratch_a = mean;
        self.scratch_b = var;
        result
    }

    pub(crate) fn predict_into(
        &self,
        x: ArrayView2<'_, F>,
        out: ArrayViewMut2<'_, F>,
    ) -> Result<()> {
        let x = x.as_standard_layout();
        let xv = x.view();
        let dims = self.dims3(&xv);
        let xs = Self::slice(&xv)?;
        let eps: F = lit(self.config.eps);
        let (mut mean, mut var) = match (&self.running_mean, &self.running_var) {
            (Some(rm), Some(rv)) => (rm.to_vec(), rv.to_vec()),
            _ => {
                let (mut mean, mut var) = (vec![F::zero(); dims.1], vec![F::zero(); dims.1]);
                Self::batch_stats(xs, dims, &mut mean, &mut var);
                (mean, var)
            }
        };
        var.iter_mut()
            .for_each(|v| *v = F::one() / (*v + eps).sqrt());
        let ys = Self::slice_mut(out)?;
        self.normalise(xs, dims, &mean, &var, ys, None);
        mean.clear();
        Ok(())
    }

    pub(crate) fn backward_into(
        &mut self,
        dout: ArrayView2<'_, F>,
        dx: ArrayViewMut2<'_, F>,
    ) -> Result<()> {
        crate::error::check_shape("BatchNorm::backward", self.xhat.shape(), dout.shape())?;
        let dims = self.dims3(&dout);
        let (_, c, inner) = dims;
        let m: F = lit(dims.0 as f64 * inner as f64);
        let ds = Self::slice(&dout)?;
        let (mut sum_d, mut sum_dx) = (
            crate::take(&mut self.scratch_a),
            crate::take(&mut self.scratch_b),
        );
        let result = (|| -> Result<()> {
            let xh = Self::slice(&self.xhat.view())?;
            let (sd, sdx) = (slice1(&mut sum_d)?, slice1(&mut sum_dx)?);
            Self::channel_sums(ds, xh, dims, sd, |_, d, _| d);
            Self::channel_sums(ds, xh, dims, sdx, |_, d, h| d * h);
            let dxs = Self::slice_mut(dx)?;
            let gamma = self.gamma.as_ref().and_then(|g| g.value.as_slice());
            let is = self.inv_std.as_slice().unwrap_or(&[]);
            for ((dp, hp), xp) in ds
                .chunks_exact(c * inner)
                .zip(xh.chunks_exact(c * inner))
                .zip(dxs.chunks_exact_mut(c * inner))
            {
                if inner == 1 {
                    let rows = xp.iter_mut().zip(dp.iter().zip(hp));
                    for (ch, (xv, (&dv, &hv))) in rows.enumerate() {
                        let g = gamma.map_or(F::one(), |g| g[ch]);
                        *xv = g * is[ch] / m * (m * dv - sd[ch] - hv * sdx[ch]);
                    }
                    continue;
                }
                for ch in 0..c {
                    let g = gamma.map_or(F::one(), |g| g[ch]);
                    let k = g * is[ch] / m;
                    let (a, b) = (sd[ch], sdx[ch]);
                    for j in ch * inner..(ch + 1) * inner {
                        xp[j] = k * (m * dp[j] - a - hp[j] * b);
                    }
                }
            }
            Ok(())
        })();
        if result.is_ok() {
            if let Some(g) = self.gamma.as_mut() {
                ndarray::Zip::from(&mut g.grad)
                    .and(&sum_dx)
                    .for_each(|a, &b| *a += b);
            }
            if let Some(b) = self.beta.as_mut() {
                ndarray::Zip::from(&mut b.grad)
                    .and(&sum_d)
                    .for_each(|a, &v| *a += v);
            }
        }
        self.scratch_a = sum_d;
        self.scratch_b = sum_dx;
        result
    }
}

/// The contiguous data of a per-channel vector (always contiguous: built by this module).
fn slice1<F: NdFloat>(a: &mut Array1<F>) -> Result<&mut [F]> {
    let len = a.len();
    a.as_slice_mut().ok_or_else(|| CoreError::ShapeMismatch {
        op: "BatchNorm (per-channel buffer)",
        expected: vec![len],
        got: vec![],
    })
}
