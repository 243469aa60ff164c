//! [`BatchNorm`]: batch normalisation (Ioffe & Szegedy 2015) over features or image channels.

use ndarray::{Array1, Array2, ArrayView2, ArrayView3, ArrayViewMut2, ArrayViewMut3, Ix1, NdFloat};
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

    /// The row width this layout needs (`None` for features: any width).
    pub fn row_width(&self) -> Option<usize> {
        match *self {
            BatchNormLayout::Features => None,
            BatchNormLayout::Nchw { channels, height, width }
            | BatchNormLayout::Nhwc { height, width, channels } => Some(channels * height * width),
        }
    }

    /// The `(outer, C, inner)` view shape of an `N × d` matrix: channel `c` is `[.., c, ..]`.
    fn view_shape(&self, n: usize, d: usize) -> (usize, usize, usize) {
        match *self {
            BatchNormLayout::Features => (n, d, 1),
            BatchNormLayout::Nchw { channels, height, width } => (n, channels, height * width),
            BatchNormLayout::Nhwc { height, width, channels } => (n * height * width, channels, 1),
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
            return Err(invalid("batch_norm.eps", self.eps, "must be finite and positive"));
        }
        if !(0.0..=1.0).contains(&self.momentum) {
            return Err(invalid("batch_norm.momentum", self.momentum, "must be in [0, 1]"));
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
    CoreError::InvalidHyperparameter { name, value: value.to_string(), reason }
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

    fn view3<'a>(&self, x: ArrayView2<'a, F>) -> Result<ArrayView3<'a, F>> {
        let shape = self.config.layout.view_shape(x.nrows(), x.ncols());
        x.into_shape_with_order(shape).map_err(|_| CoreError::ShapeMismatch {
            op: "BatchNorm (input must be contiguous)",
            expected: vec![shape.0, shape.1, shape.2],
            got: vec![],
        })
    }

    fn view3_mut<'a>(&self, x: ArrayViewMut2<'a, F>) -> Result<ArrayViewMut3<'a, F>> {
        let shape = self.config.layout.view_shape(x.nrows(), x.ncols());
        x.into_shape_with_order(shape).map_err(|_| CoreError::ShapeMismatch {
            op: "BatchNorm (output must be contiguous)",
            expected: vec![shape.0, shape.1, shape.2],
            got: vec![],
        })
    }

    /// Per-channel mean and biased variance (two passes, summed in memory order).
    fn batch_stats(x: ArrayView3<'_, F>, mean: &mut Array1<F>, var: &mut Array1<F>) {
        let (o, c, i) = x.dim();
        let m: F = lit(o as f64 * i as f64);
        mean.fill(F::zero());
        var.fill(F::zero());
        for plane in x.outer_iter() {
            for (ch, row) in plane.outer_iter().enumerate() {
                let mut s = F::zero();
                for &v in row {
                    s += v;
                }
                mean[ch] += s;
            }
        }
        mean.mapv_inplace(|s| s / m);
        for plane in x.outer_iter() {
            for (ch, row) in plane.outer_iter().enumerate() {
                let mu = mean[ch];
                let mut s = F::zero();
                for &v in row {
                    s += (v - mu) * (v - mu);
                }
                var[ch] += s;
            }
        }
        var.mapv_inplace(|s| s / m);
        debug_assert_eq!(mean.len(), c);
    }

    /// `y = γ·(x − μ)·inv_std + β`, optionally keeping `x̂`.
    fn normalise(
        &self,
        x: ArrayView3<'_, F>,
        mean: &Array1<F>,
        inv_std: &Array1<F>,
        mut y: ArrayViewMut3<'_, F>,
        mut xhat: Option<ArrayViewMut3<'_, F>>,
    ) {
        for (o, (xp, mut yp)) in x.outer_iter().zip(y.outer_iter_mut()).enumerate() {
            for (ch, (xr, mut yr)) in xp.outer_iter().zip(yp.outer_iter_mut()).enumerate() {
                let (mu, is) = (mean[ch], inv_std[ch]);
                let g = self.gamma.as_ref().map_or(F::one(), |g| g.value[ch]);
                let b = self.beta.as_ref().map_or(F::zero(), |b| b.value[ch]);
                match xhat.as_mut() {
                    Some(xh) => {
                        let mut xhr = xh.slice_mut(ndarray::s![o, ch, ..]);
                        for ((yv, xv), hv) in yr.iter_mut().zip(xr.iter()).zip(xhr.iter_mut()) {
                            let h = (*xv - mu) * is;
                            *hv = h;
                            *yv = g * h + b;
                        }
                    }
                    None => {
                        for (yv, xv) in yr.iter_mut().zip(xr.iter()) {
                            *yv = g * ((*xv - mu) * is) + b;
                        }
                    }
                }
            }
        }
    }

    pub(crate) fn forward_train(
        &mut self,
        x: ArrayView2<'_, F>,
        out: ArrayViewMut2<'_, F>,
    ) -> Result<()> {
        let x3 = self.view3(x)?;
        let (o, _, i) = x3.dim();
        let m = o * i;
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
        let (mut mean, mut var) =
            (crate::take(&mut self.scratch_a), crate::take(&mut self.scratch_b));
        Self::batch_stats(x3, &mut mean, &mut var);
        let eps: F = lit(self.config.eps);
        let mut inv_std = crate::take(&mut self.inv_std);
        ndarray::Zip::from(&mut inv_std).and(&var).for_each(|s, &v| *s = F::one() / (v + eps).sqrt());
        let mut xhat = crate::take(&mut self.xhat);
        {
            let y3 = self.view3_mut(out)?;
            let xh3 = self.view3_mut(xhat.view_mut())?;
            self.normalise(x3, &mean, &inv_std, y3, Some(xh3));
        }
        if let (Some(rm), Some(rv)) = (self.running_mean.as_mut(), self.running_var.as_mut()) {
            let mom: F = lit(self.config.momentum);
            let keep = F::one() - mom;
            let unbias: F = lit(m as f64 / (m as f64 - 1.0));
            ndarray::Zip::from(rm).and(&mean).for_each(|r, &b| *r = keep * *r + mom * b);
            ndarray::Zip::from(rv).and(&var).for_each(|r, &b| *r = keep * *r + mom * b * unbias);
        }
        self.xhat = xhat;
        self.inv_std = inv_std;
        self.scratch_a = mean;
        self.scratch_b = var;
        Ok(())
    }

    pub(crate) fn predict_into(&self, x: ArrayView2<'_, F>, out: ArrayViewMut2<'_, F>) -> Result<()> {
        let x3 = self.view3(x)?;
        let c = x3.dim().1;
        let eps: F = lit(self.config.eps);
        let (mean, var) = match (&self.running_mean, &self.running_var) {
            (Some(rm), Some(rv)) => (rm.clone(), rv.clone()),
            _ => {
                let (mut mean, mut var) = (Array1::zeros(c), Array1::zeros(c));
                Self::batch_stats(x3, &mut mean, &mut var);
                (mean, var)
            }
        };
        let inv_std = var.mapv(|v| F::one() / (v + eps).sqrt());
        let y3 = self.view3_mut(out)?;
        self.normalise(x3, &mean, &inv_std, y3, None);
        Ok(())
    }

    pub(crate) fn backward_into(
        &mut self,
        dout: ArrayView2<'_, F>,
        dx: ArrayViewMut2<'_, F>,
    ) -> Result<()> {
        crate::error::check_shape("BatchNorm::backward", self.xhat.shape(), dout.shape())?;
        let d3 = self.view3(dout)?;
        let xh3 = self.view3(self.xhat.view())?;
        let (o, _, i) = d3.dim();
        let m: F = lit(o as f64 * i as f64);
        let (mut sum_d, mut sum_dx) =
            (crate::take(&mut self.scratch_a), crate::take(&mut self.scratch_b));
        sum_d.fill(F::zero());
        sum_dx.fill(F::zero());
        for (dp, hp) in d3.outer_iter().zip(xh3.outer_iter()) {
            for (ch, (dr, hr)) in dp.outer_iter().zip(hp.outer_iter()).enumerate() {
                let (mut a, mut b) = (F::zero(), F::zero());
                for (&dv, &hv) in dr.iter().zip(hr.iter()) {
                    a += dv;
                    b += dv * hv;
                }
                sum_d[ch] += a;
                sum_dx[ch] += b;
            }
        }
        let mut dx3 = self.view3_mut(dx)?;
        for ((dp, hp), mut xp) in d3.outer_iter().zip(xh3.outer_iter()).zip(dx3.outer_iter_mut()) {
            for (ch, ((dr, hr), mut xr)) in
                dp.outer_iter().zip(hp.outer_iter()).zip(xp.outer_iter_mut()).enumerate()
            {
                let g = self.gamma.as_ref().map_or(F::one(), |g| g.value[ch]);
                let k = g * self.inv_std[ch] / m;
                let (sd, sdx) = (sum_d[ch], sum_dx[ch]);
                for ((xv, &dv), &hv) in xr.iter_mut().zip(dr.iter()).zip(hr.iter()) {
                    *xv = k * (m * dv - sd - hv * sdx);
                }
            }
        }
        if let Some(g) = self.gamma.as_mut() {
            ndarray::Zip::from(&mut g.grad).and(&sum_dx).for_each(|a, &b| *a += b);
        }
        if let Some(b) = self.beta.as_mut() {
            ndarray::Zip::from(&mut b.grad).and(&sum_d).for_each(|a, &v| *a += v);
        }
        self.scratch_a = sum_d;
        self.scratch_b = sum_dx;
        Ok(())
    }
}
