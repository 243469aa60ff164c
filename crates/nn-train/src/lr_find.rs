//! The learning-rate range test (Leslie Smith, "Cyclical Learning Rates for Training Neural
//! Networks", WACV 2017; the "LR finder" of fastai): one short run from a fresh network whose
//! learning rate grows geometrically every step, recording the loss against the rate.
//!
//! ```text
//! lr_i       = min_lr · (max_lr / min_lr)^(i / (steps − 1))          i = 0 … steps − 1
//! avg_i      = β·avg_{i−1} + (1 − β)·loss_i,   avg_{−1} = 0          (β = smoothing)
//! smoothed_i = avg_i / (1 − β^(i+1))                                  (bias-corrected EMA)
//! stop when  smoothed_i > divergence_factor · min_{j ≤ i} smoothed_j,  or loss_i is NaN/∞
//! ```
//! The loss first stays flat (rate too low to matter), then falls, then blows up. The report
//! suggests a range from the rate of steepest descent of the smoothed loss (per unit of `ln lr`,
//! after the EMA's warm-up of `1/(1 − β)` points) up to a tenth of the rate where the run diverged,
//! and classifies the sweep (see [`LrVerdict`]).

use std::fmt;

use ndarray::{Array2, Axis};
use nn_core::{Network, Targets};
use nn_preprocess::Dataset;
use rand::seq::SliceRandom;
use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::config::TrainConfig;
use crate::error::{check_positive, invalid, Result, TrainError};
use crate::optim::Optimizer;

/// Settings of [`lr_find`].
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LrFindConfig {
    /// The first learning rate (> 0; default 1e-6).
    pub min_lr: f64,
    /// The last learning rate (> `min_lr`; default 1).
    pub max_lr: f64,
    /// Number of steps, one learning rate each (≥ 2; default 100).
    pub steps: usize,
    /// EMA factor `β ∈ [0, 1)` of the smoothed loss (default 0.9: a memory of about 10 steps,
    /// short enough for a 100-step sweep; fastai's 0.98 suits longer sweeps).
    pub smoothing: f64,
    /// Stop when the smoothed loss exceeds this multiple of the best smoothed loss (> 1; default 4,
    /// as fastai).
    pub divergence_factor: f64,
    /// A sweep whose loss never falls by more than this fraction of its first value (see
    /// [`LrFindReport::relative_drop`]) is
    /// [`LrVerdict::TooLow`] (or [`LrVerdict::TooHigh`] if it diverged; default 0.1).
    pub min_relative_drop: f64,
}

impl Default for LrFindConfig {
    fn default() -> Self {
        LrFindConfig {
            min_lr: 1e-6,
            max_lr: 1.0,
            steps: 100,
            smoothing: 0.9,
            divergence_factor: 4.0,
            min_relative_drop: 0.1,
        }
    }
}

impl LrFindConfig {
    /// Checks every field.
    ///
    /// # Errors
    /// [`TrainError::InvalidHyperparameter`] naming the field.
    pub fn validate(&self) -> Result<()> {
        check_positive("min_lr", self.min_lr)?;
        check_positive("max_lr", self.max_lr)?;
        if self.max_lr <= self.min_lr {
            return Err(invalid("max_lr", self.max_lr, "must exceed min_lr"));
        }
        if self.steps < 2 {
            return Err(invalid(
                "steps",
                self.steps,
                "a sweep needs at least 2 steps",
            ));
        }
        if !(0.0..1.0).contains(&self.smoothing) {
            return Err(invalid("smoothing", self.smoothing, "must lie in [0, 1)"));
        }
        if !(self.divergence_factor.is_finite() && self.divergence_factor > 1.0) {
            return Err(invalid(
                "divergence_factor",
                self.divergence_factor,
                "must be finite and greater than 1",
            ));
        }
        if !(self.min_relative_drop > 0.0 && self.min_relative_drop < 1.0) {
            return Err(invalid(
                "min_relative_drop",
                self.min_relative_drop,
                "must lie in (0, 1)",
            ));
        }
        Ok(())
    }

    /// The learning rate of step `i`: `min_lr · (max_lr/min_lr)^(i/(steps − 1))`.
    pub fn lr_at(&self, i: usize) -> f64 {
        let t = i as f64 / (self.steps.max(2) - 1) as f64;
        (self.min_lr.ln() + t * (self.max_lr.ln() - self.min_lr.ln())).exp()
    }
}

/// One step of the sweep.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct LrPoint {
    /// Step index from 0.
    pub step: usize,
    /// The learning rate of the update after this loss.
    pub lr: f64,
    /// The mini-batch loss (data + L2) before the update; `None` if it was NaN or infinite.
    pub loss: Option<f64>,
    /// The bias-corrected exponential moving average of the loss; `None` once it is not finite.
    pub smoothed: Option<f64>,
}

/// How the sweep went. The loss "fell" when [`LrFindReport::relative_drop`] reaches
/// [`LrFindConfig::min_relative_drop`] and the fall exceeds the mini-batch noise (see
/// [`LrFindReport::noise`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LrVerdict {
    /// The loss fell and (usually) blew up later: the suggestion is meaningful.
    Ok,
    /// The loss barely changed over the whole sweep: every rate tried is too low (raise `max_lr`).
    TooLow,
    /// The loss never fell and the run diverged: already the lowest rates are too high (lower
    /// `min_lr`), or the model/data is broken.
    TooHigh,
}

/// The suggested learning-rate range of an [`LrVerdict::Ok`] sweep.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct LrSuggestion {
    /// The lower end of the range.
    pub low: f64,
    /// The upper end of the range.
    pub high: f64,
    /// The rate where the smoothed loss fell fastest per unit of `ln lr`.
    pub steepest: f64,
    /// The rate of the lowest smoothed loss.
    pub min_loss: f64,
    /// The rate where the sweep diverged (the last rate tried if it never did).
    pub divergence: f64,
}

impl LrSuggestion {
    /// The geometric middle of the range, `√(low·high)`: a reasonable single rate to start with.
    pub fn middle(&self) -> f64 {
        (self.low * self.high).sqrt()
    }
}

/// The result of [`lr_find`] (serde; `Display` with a small ASCII plot).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LrFindReport {
    /// The settings used.
    pub config: LrFindConfig,
    /// Every step run, in order.
    pub points: Vec<LrPoint>,
    /// Whether the sweep stopped because the loss blew up or became NaN.
    pub diverged: bool,
    /// `(first − lowest) / first` over boxcar means of `w = max(3, n/10)` consecutive raw losses
    /// (`n` finite points): how much the loss fell during the sweep.
    pub relative_drop: f64,
    /// The estimated mini-batch noise `σ` of the loss (median absolute step-to-step change
    /// `/ (0.6745·√2)`). A drop counts only if it also exceeds `3·σ·√(2/w)`.
    pub noise: f64,
    /// The classification.
    pub verdict: LrVerdict,
    /// The suggested range ([`LrVerdict::Ok`] only).
    pub suggestion: Option<LrSuggestion>,
}

/// Runs the learning-rate range test with the model, loss, optimiser, L2 strength and batch size of
/// `train` (its schedule, epochs and seed are ignored): a fresh network drawn with `rng`, then
/// `config.steps` mini-batch steps (shuffled with `rng`, cycling through the data) at geometrically
/// growing rates, stopping early on divergence.
///
/// # Errors
/// [`TrainError::InvalidHyperparameter`] for a bad `config` or `train`;
/// [`TrainError::ShapeMismatch`] when the data's width is not the model's input width;
/// [`TrainError::Core`] from the network (e.g. labels beyond its classes).
///
/// # Example
/// ```
/// use ndarray::Array2;
/// use nn_core::NetworkSpec;
/// use nn_preprocess::Dataset;
/// use nn_train::lr_find::{lr_find, LrFindConfig, LrVerdict};
/// use nn_train::{optim::OptimizerConfig, TrainConfig};
/// use rand::SeedableRng;
/// // Two well-separated blobs in 2-D.
/// let x = Array2::from_shape_fn((64, 2), |(i, j)| if (i % 2 == 0) == (j == 0) { 2.0 } else { -2.0 }
///     + 0.1 * ((i * 7 + j * 3) % 5) as f32);
/// let y = (0..64).map(|i| (i % 2) as u8).collect();
/// let data = Dataset::new(x, y, vec!["a".into(), "b".into()], None)?;
/// let train = TrainConfig {
///     model: NetworkSpec::mlp(2, &[8], 2, &Default::default())?,
///     optimizer: OptimizerConfig::sgd(),
///     batch_size: 16,
///     ..TrainConfig::default()
/// };
/// let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
/// let report = lr_find(&train, &data, &LrFindConfig { min_lr: 1e-4, max_lr: 1e3, ..Default::default() }, &mut rng)?;
/// assert_eq!(report.verdict, LrVerdict::Ok);
/// let s = report.suggestion.unwrap();
/// assert!(s.low <= s.high && s.high < 1e3);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn lr_find<R: Rng + ?Sized>(
    train: &TrainConfig,
    data: &Dataset,
    config: &LrFindConfig,
    rng: &mut R,
) -> Result<LrFindReport> {
    config.validate()?;
    train.validate()?;
    check_width("lr_find", train, data)?;
    let mut net = Network::<f32>::from_spec(&train.model, rng)?;
    let mut opt = Optimizer::<f32>::new(train.optimizer)?;
    let mut batches = BatchCycler::new(data, train.batch_size, rng);
    let beta = config.smoothing;
    let (mut avg, mut best) = (0.0f64, f64::INFINITY);
    let mut points = Vec::with_capacity(config.steps);
    let mut diverged = false;
    for i in 0..config.steps {
        let lr = config.lr_at(i);
        let (x, y) = batches.next_batch(rng);
        let report = net.forward_backward(
            x.view(),
            Targets::Classes(&y),
            &train.loss,
            train.l2 as f32,
            rng,
        )?;
        let loss = f64::from(report.total());
        if !loss.is_finite() {
            points.push(LrPoint {
                step: i,
                lr,
                loss: None,
                smoothed: None,
            });
            diverged = true;
            break;
        }
        avg = beta * avg + (1.0 - beta) * loss;
        let smoothed = avg / (1.0 - beta.powi(i as i32 + 1));
        points.push(LrPoint {
            step: i,
            lr,
            loss: Some(loss),
            smoothed: Some(smoothed),
        });
        if smoothed > config.divergence_factor * best {
            diverged = true;
            break;
        }
        best = best.min(smoothed);
        apply_update(&mut net, &mut opt, lr as f32)?;
    }
    Ok(analyse(*config, points, diverged))
}

/// Classifies a finished sweep and derives the suggestion (the part of [`lr_find`] after the run).
fn analyse(config: LrFindConfig, points: Vec<LrPoint>, diverged: bool) -> LrFindReport {
    let smoothed: Vec<(usize, f64)> = points
        .iter()
        .filter_map(|p| p.smoothed.map(|s| (p.step, s)))
        .collect();
    let (i_min, _) =
        smoothed.iter().copied().fold(
            (0, f64::INFINITY),
            |acc, p| if p.1 < acc.1 { p } else { acc },
        );
    // The drop compares boxcar means of w = max(3, n/10) raw losses (first window vs lowest window),
    // which mini-batch noise moves far less than single points or a fresh EMA.
    let raw: Vec<f64> = points.iter().filter_map(|p| p.loss).collect();
    let w = (raw.len() / 10).max(3).min(raw.len());
    let means: Vec<f64> = if w == 0 {
        Vec::new()
    } else {
        raw.windows(w)
            .map(|v| v.iter().sum::<f64>() / w as f64)
            .collect()
    };
    let first = means.first().copied().unwrap_or(f64::NAN);
    let lowest = means.iter().copied().fold(f64::INFINITY, f64::min);
    let relative_drop = if first.is_finite() && first > 0.0 {
        ((first - lowest) / first).max(0.0)
    } else {
        0.0
    };
    // Mini-batch noise σ from the median absolute step-to-step change (robust to the blow-up):
    // for independent noise, |Δ| has median 0.6745·√2·σ.
    let mut diffs: Vec<f64> = raw.windows(2).map(|d| (d[1] - d[0]).abs()).collect();
    diffs.sort_by(f64::total_cmp);
    let noise = diffs
        .get(diffs.len() / 2)
        .map_or(0.0, |m| m / (0.6745 * 2f64.sqrt()));
    // A drop counts when it exceeds both the relative threshold and 3 standard deviations of the
    // difference of two window means (σ·√(2/w)).
    let noise_floor = if w > 0 {
        3.0 * noise * (2.0 / w as f64).sqrt()
    } else {
        0.0
    };
    let fell = relative_drop >= config.min_relative_drop && first - lowest > noise_floor;
    let verdict = if !fell {
        if diverged {
            LrVerdict::TooHigh
        } else {
            LrVerdict::TooLow
        }
    } else {
        LrVerdict::Ok
    };
    let suggestion = (verdict == LrVerdict::Ok).then(|| {
        // Steepest descent per unit of ln lr, among the points up to the lowest loss, skipping the
        // EMA's warm-up (its first 1/(1 − β) points average only a few noisy batches).
        let warm_up = (1.0 / (1.0 - config.smoothing)).ceil() as usize;
        let skip = if i_min > warm_up { warm_up } else { 0 };
        let mut steepest = (config.lr_at(i_min), 0.0f64);
        for w in smoothed.windows(2) {
            let ((a, sa), (b, sb)) = (w[0], w[1]);
            if b > i_min {
                break;
            }
            if a < skip {
                continue;
            }
            let slope = (sb - sa) / (config.lr_at(b).ln() - config.lr_at(a).ln());
            if slope < steepest.1 {
                steepest = (config.lr_at(b), slope);
            }
        }
        let divergence = points.last().map_or(config.max_lr, |p| p.lr);
        let tenth = divergence / 10.0;
        LrSuggestion {
            low: steepest.0.min(tenth),
            high: steepest.0.max(tenth),
            steepest: steepest.0,
            min_loss: config.lr_at(i_min),
            divergence,
        }
    });
    LrFindReport {
        config,
        points,
        diverged,
        relative_drop,
        noise,
        verdict,
        suggestion,
    }
}

impl fmt::Display for LrFindReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let last = self.points.last().map_or(self.config.min_lr, |p| p.lr);
        writeln!(
            f,
            "learning-rate range test: {} steps from {:.1e} to {:.1e}{}; the loss fell {:.1}%",
            self.points.len(),
            self.config.min_lr,
            last,
            if self.diverged { " (diverged)" } else { "" },
            100.0 * self.relative_drop
        )?;
        match (self.verdict, &self.suggestion) {
            (LrVerdict::Ok, Some(s)) => writeln!(
                f,
                "verdict: ok; suggested range {:.1e} .. {:.1e} (steepest descent at {:.1e}, lowest \
                 loss at {:.1e}, divergence at {:.1e}); try {:.1e}",
                s.low,
                s.high,
                s.steepest,
                s.min_loss,
                s.divergence,
                s.middle()
            )?,
            (LrVerdict::TooLow, _) => writeln!(
                f,
                "verdict: too low: the loss barely changed; raise max_lr (or check the gradients reach the weights)"
            )?,
            _ => writeln!(
                f,
                "verdict: too high: the loss exploded or became NaN before it ever fell; lower min_lr \
                 (or check the data and the loss)"
            )?,
        }
        plot(f, &self.points)
    }
}

/// A small ASCII plot of the smoothed loss against `log10 lr`.
fn plot(f: &mut fmt::Formatter<'_>, points: &[LrPoint]) -> fmt::Result {
    const W: usize = 60;
    const H: usize = 10;
    let pts: Vec<(f64, f64)> = points
        .iter()
        .filter_map(|p| p.smoothed.map(|s| (p.lr.log10(), s)))
        .collect();
    if pts.len() < 2 {
        return Ok(());
    }
    let (x0, x1) = (pts[0].0, pts[pts.len() - 1].0);
    let lo = pts.iter().map(|p| p.1).fold(f64::INFINITY, f64::min);
    // Clip the top at twice the first loss so a blow-up does not flatten the rest.
    let hi = pts
        .iter()
        .map(|p| p.1)
        .fold(f64::NEG_INFINITY, f64::max)
        .min(2.0 * pts[0].1.max(lo));
    let mut grid = vec![vec![' '; W]; H];
    for &(x, y) in &pts {
        let col = (((x - x0) / (x1 - x0).max(1e-12)) * (W - 1) as f64).round() as usize;
        let frac = ((y.min(hi) - lo) / (hi - lo).max(1e-12)).clamp(0.0, 1.0);
        let row = ((1.0 - frac) * (H - 1) as f64).round() as usize;
        grid[row.min(H - 1)][col.min(W - 1)] = '*';
    }
    for (r, line) in grid.iter().enumerate() {
        let label = if r == 0 {
            format!("{hi:>9.3}")
        } else if r == H - 1 {
            format!("{lo:>9.3}")
        } else {
            " ".repeat(9)
        };
        writeln!(f, "{label} |{}", line.iter().collect::<String>())?;
    }
    writeln!(f, "{} +{}", " ".repeat(9), "-".repeat(W))?;
    write!(
        f,
        "{}  lr {:<.1e}{}{:.1e} (log scale)",
        " ".repeat(9),
        10f64.powf(x0),
        " ".repeat(W.saturating_sub(22)),
        10f64.powf(x1)
    )
}

/// Checks that `data`'s feature width is the model's input width.
pub(crate) fn check_width(op: &'static str, train: &TrainConfig, data: &Dataset) -> Result<()> {
    if data.n_features() != train.model.input_dim {
        return Err(TrainError::ShapeMismatch {
            op,
            expected: vec![data.len(), train.model.input_dim],
            got: vec![data.len(), data.n_features()],
        });
    }
    Ok(())
}

/// One optimiser update of every trainable parameter of `net` from its current gradient.
pub(crate) fn apply_update(
    net: &mut Network<f32>,
    opt: &mut Optimizer<f32>,
    lr: f32,
) -> Result<()> {
    let mut result = Ok(());
    net.visit_params_mut(|p| {
        if result.is_err() {
            return;
        }
        let len = p.value.len();
        let shape = p.value.shape().to_vec();
        match (
            p.value.into_shape_with_order(len),
            p.grad.into_shape_with_order(len),
        ) {
            (Ok(v), Ok(g)) => result = opt.step(lr, p.name, v, g.view()),
            _ => {
                result = Err(TrainError::ShapeMismatch {
                    op: "parameter update (non-contiguous tensor)",
                    expected: vec![len],
                    got: shape,
                })
            }
        }
    });
    result
}

/// Shuffled mini-batches that cycle through a data set for as many steps as asked.
pub(crate) struct BatchCycler<'a> {
    data: &'a Dataset,
    order: Vec<usize>,
    pos: usize,
    batch: usize,
}

impl<'a> BatchCycler<'a> {
    /// A cycler over `data` with batches of `batch` rows (at most `N`), first order drawn with `rng`.
    pub(crate) fn new<R: Rng + ?Sized>(data: &'a Dataset, batch: usize, rng: &mut R) -> Self {
        let mut order: Vec<usize> = (0..data.len()).collect();
        order.shuffle(rng);
        BatchCycler {
            data,
            order,
            pos: 0,
            batch: batch.clamp(1, data.len().max(1)),
        }
    }

    /// The next batch `(X: N × D, labels)`; reshuffles with `rng` when the data runs out.
    pub(crate) fn next_batch<R: Rng + ?Sized>(&mut self, rng: &mut R) -> (Array2<f32>, Vec<usize>) {
        if self.pos + self.batch > self.order.len() {
            self.order.shuffle(rng);
            self.pos = 0;
        }
        let idx = &self.order[self.pos..self.pos + self.batch];
        self.pos += self.batch;
        let x = self.data.features().select(Axis(0), idx);
        let labels = self.data.labels();
        let y = idx.iter().map(|&i| usize::from(labels[i])).collect();
        (x, y)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(step: usize, lr: f64, s: f64) -> LrPoint {
        LrPoint {
            step,
            lr,
            loss: Some(s),
            smoothed: Some(s),
        }
    }

    #[test]
    fn geometric_rates() {
        let c = LrFindConfig {
            min_lr: 1e-4,
            max_lr: 1.0,
            steps: 5,
            ..Default::default()
        };
        // Five points over four decades: one decade per step.
        for (i, want) in [1e-4, 1e-3, 1e-2, 1e-1, 1.0].iter().enumerate() {
            assert!((c.lr_at(i) / want - 1.0).abs() < 1e-12);
        }
    }

    #[test]
    fn analysis_of_hand_made_sweeps() {
        let c = LrFindConfig {
            min_lr: 1e-4,
            max_lr: 1.0,
            steps: 10,
            ..Default::default()
        };
        // lr_i = 1e-4 · 10^(4i/9). Flat, then the steepest drop between steps 4 and 5, the lowest
        // loss at 7, divergence at 9.
        let losses = [2.0, 2.0, 1.98, 1.9, 1.6, 1.2, 0.9, 0.8, 1.5, 9.0];
        let pts = losses
            .iter()
            .enumerate()
            .map(|(i, &l)| point(i, c.lr_at(i), l))
            .collect();
        let r = analyse(c, pts, true);
        assert_eq!(r.verdict, LrVerdict::Ok);
        let s = r.suggestion.unwrap();
        assert!((s.steepest - c.lr_at(5)).abs() < 1e-15 && (s.min_loss - c.lr_at(7)).abs() < 1e-15);
        // A tenth of the divergence rate 1.0 is 0.1: the range is [lr_5 ≈ 0.0167, 0.1].
        assert!((s.low - c.lr_at(5)).abs() < 1e-15 && (s.high - 0.1).abs() < 1e-12);
        // Boxcar means of 3: (2 + 2 + 1.98)/3 first, (1.2 + 0.9 + 0.8)/3 lowest.
        assert!((r.relative_drop - (5.98 - 2.9) / 5.98).abs() < 1e-12);
        // Median |Δ| is 0.3 (sorted: 0, .02, .08, .1, .3, .3, .4, .7, 7.5) → σ = 0.3/(0.6745·√2).
        assert!((r.noise - 0.3 / (0.6745 * 2f64.sqrt())).abs() < 1e-12);
        // A flat sweep is too low; a flat sweep that blew up is too high.
        let flat: Vec<_> = (0..10)
            .map(|i| point(i, c.lr_at(i), 2.0 - 0.01 * i as f64))
            .collect();
        assert_eq!(analyse(c, flat.clone(), false).verdict, LrVerdict::TooLow);
        assert_eq!(analyse(c, flat, true).verdict, LrVerdict::TooHigh);
        assert!(analyse(c, vec![], true).suggestion.is_none());
    }

    #[test]
    fn config_validation() {
        assert!(LrFindConfig::default().validate().is_ok());
        for bad in [
            LrFindConfig {
                min_lr: 0.0,
                ..Default::default()
            },
            LrFindConfig {
                max_lr: 1e-7,
                ..Default::default()
            },
            LrFindConfig {
                steps: 1,
                ..Default::default()
            },
            LrFindConfig {
                smoothing: 1.0,
                ..Default::default()
            },
            LrFindConfig {
                divergence_factor: 1.0,
                ..Default::default()
            },
        ] {
            assert!(matches!(
                bad.validate(),
                Err(TrainError::InvalidHyperparameter { .. })
            ));
        }
    }
}
