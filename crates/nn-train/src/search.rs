//! Hyperparameter search spaces: log-uniform, uniform, integer and categorical axes, random sampling,
//! grids, coarse-to-fine narrowing around the best trials, edge warnings and the early-stop rule for
//! diverging trials.
//!
//! # Why random search rather than a grid
//! Bergstra & Bengio (2012, "Random search for hyper-parameter optimization", JMLR 13) observe that
//! usually only a few hyperparameters matter much for a given model and data set, and which ones is not
//! known in advance.
//! A grid of `n` points per axis over `k` axes spends `nᵏ` trials but tries only `n` distinct values of
//! each important axis: the other trials repeat those values while varying axes that hardly matter.
//! `T` random trials try `T` distinct values of every axis, so the important ones are explored as finely
//! as the whole budget allows.
//! So [`SearchSpace::sample`] is the main tool and [`SearchSpace::grid`] is for small, final sweeps.
//! Scale-type hyperparameters (learning rate, regularisation strength) are sampled log-uniformly
//! ([`Param::LogUniform`]), since their effect is multiplicative (CS231n).
//!
//! # Coarse to fine
//! A first stage of short runs (a few epochs) samples wide ranges; later stages call
//! [`SearchSpace::narrow_around`] with the best trials and run longer.
//! Trials whose loss exceeds 3× the initial loss are stopped early ([`Divergence`]).
//! When the best value lies in the outer 10% of its range, [`SearchSpace::edge_warnings`] says so: the
//! optimum may lie outside the range searched, which should then be widened.

use crate::error::{check_positive, invalid, Result, TrainError};
use rand::Rng;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt;

/// The largest grid [`SearchSpace::grid`] builds.
pub const MAX_GRID_POINTS: usize = 1 << 20;

/// One hyperparameter's range (serde: externally tagged, e.g. `{"log_uniform": {"lo": 1e-5, "hi": 1e-1}}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Param {
    /// `exp(U(ln lo, ln hi))`, with `0 < lo < hi`: for scale parameters (learning rate, weight decay).
    LogUniform {
        /// Lower bound (> 0).
        lo: f64,
        /// Upper bound (> lo).
        hi: f64,
    },
    /// `U(lo, hi)`, with `lo < hi`: for parameters with an additive effect (dropout rate, momentum).
    Uniform {
        /// Lower bound.
        lo: f64,
        /// Upper bound (> lo).
        hi: f64,
    },
    /// A uniformly drawn integer in `lo..=hi` (hidden size, batch size exponent).
    IntUniform {
        /// Smallest value.
        lo: i64,
        /// Largest value (≥ lo).
        hi: i64,
    },
    /// One of the given values, each equally likely (any JSON value: strings, numbers, objects).
    Categorical(Vec<Value>),
}

impl Param {
    fn validate(&self, name: &'static str) -> Result<()> {
        match self {
            Self::LogUniform { lo, hi } => {
                check_positive(name, *lo)?;
                check_positive(name, *hi)?;
                if lo >= hi {
                    return Err(invalid(name, format!("[{lo}, {hi}]"), "needs lo < hi"));
                }
            }
            Self::Uniform { lo, hi } => {
                if !(lo.is_finite() && hi.is_finite() && lo < hi) {
                    return Err(invalid(
                        name,
                        format!("[{lo}, {hi}]"),
                        "needs finite lo < hi",
                    ));
                }
            }
            Self::IntUniform { lo, hi } => {
                if lo > hi {
                    return Err(invalid(name, format!("[{lo}, {hi}]"), "needs lo <= hi"));
                }
            }
            Self::Categorical(values) => {
                if values.is_empty() {
                    return Err(invalid(name, "[]", "needs at least one value"));
                }
            }
        }
        Ok(())
    }

    fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> Value {
        match self {
            Self::LogUniform { lo, hi } => {
                let x = rng.random_range(lo.ln()..hi.ln()).exp();
                Value::from(x.clamp(*lo, *hi))
            }
            Self::Uniform { lo, hi } => Value::from(rng.random_range(*lo..*hi)),
            Self::IntUniform { lo, hi } => Value::from(rng.random_range(*lo..=*hi)),
            Self::Categorical(values) => values[rng.random_range(0..values.len())].clone(),
        }
    }

    /// The axis values of a grid with `n ≥ 1` points per continuous axis.
    fn grid_axis(&self, n: usize) -> Vec<Value> {
        let frac = |i: usize| {
            if n == 1 {
                0.5
            } else {
                i as f64 / (n - 1) as f64
            }
        };
        match self {
            Self::LogUniform { lo, hi } => (0..n)
                .map(|i| {
                    let x = (lo.ln() + frac(i) * (hi.ln() - lo.ln())).exp();
                    Value::from(x.clamp(*lo, *hi))
                })
                .collect(),
            Self::Uniform { lo, hi } => (0..n)
                .map(|i| Value::from(lo + frac(i) * (hi - lo)))
                .collect(),
            Self::IntUniform { lo, hi } => {
                let span = (*hi as i128 - *lo as i128) as f64;
                let mut out: Vec<i64> = (0..n)
                    .map(|i| {
                        (*lo as f64 + (frac(i) * span).round()).clamp(*lo as f64, *hi as f64) as i64
                    })
                    .collect();
                out.dedup();
                out.into_iter().map(Value::from).collect()
            }
            Self::Categorical(values) => values.clone(),
        }
    }

    /// Where `x` lies in the range, in `[0, 1]` (log scale for log-uniform); `None` for categorical or a
    /// single-value integer range.
    fn position(&self, x: f64) -> Option<f64> {
        match self {
            Self::LogUniform { lo, hi } => Some((x.ln() - lo.ln()) / (hi.ln() - lo.ln())),
            Self::Uniform { lo, hi } => Some((x - lo) / (hi - lo)),
            Self::IntUniform { lo, hi } if hi > lo => Some((x - *lo as f64) / (*hi - *lo) as f64),
            _ => None,
        }
    }
}

/// One point of a search space: a value per named hyperparameter.
pub type Sample = BTreeMap<String, Value>;

/// Which end of its range a value lies near.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Edge {
    /// The lowest 10% of the range.
    Low,
    /// The highest 10% of the range.
    High,
}

/// A best value that lies in the outer 10% of its searched range (log scale for log-uniform axes).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EdgeWarning {
    /// The hyperparameter.
    pub name: String,
    /// Its best value.
    pub value: f64,
    /// The lower bound searched.
    pub lo: f64,
    /// The upper bound searched.
    pub hi: f64,
    /// Which edge.
    pub edge: Edge,
    /// Whether the range is measured on a log scale.
    pub log_scale: bool,
}

impl fmt::Display for EdgeWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (side, bound) = match self.edge {
            Edge::Low => ("lowest", self.lo),
            Edge::High => ("highest", self.hi),
        };
        write!(
            f,
            "best {} = {} lies in the {side} 10% of [{}, {}]{}; the optimum may lie beyond {bound}, \
             widen the range",
            self.name,
            self.value,
            self.lo,
            self.hi,
            if self.log_scale { " (log scale)" } else { "" },
        )
    }
}

/// Named hyperparameter ranges (serde: a JSON object of name → [`Param`]; validated on load).
///
/// # Example
/// ```
/// use rand::SeedableRng;
/// use nn_train::search::{Param, SearchSpace};
/// let space = SearchSpace::new()
///     .with("lr", Param::LogUniform { lo: 1e-4, hi: 1e-1 })?
///     .with("hidden", Param::IntUniform { lo: 50, hi: 500 })?;
/// let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
/// let trial = space.sample(&mut rng);
/// let lr = trial["lr"].as_f64().unwrap();
/// assert!((1e-4..=1e-1).contains(&lr));
/// assert_eq!(space.grid(3)?.len(), 9);
/// # Ok::<(), nn_train::TrainError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(try_from = "BTreeMap<String, Param>", into = "BTreeMap<String, Param>")]
pub struct SearchSpace {
    params: BTreeMap<String, Param>,
}

impl TryFrom<BTreeMap<String, Param>> for SearchSpace {
    type Error = TrainError;
    fn try_from(params: BTreeMap<String, Param>) -> Result<Self> {
        for p in params.values() {
            p.validate("search range")?;
        }
        Ok(Self { params })
    }
}

impl From<SearchSpace> for BTreeMap<String, Param> {
    fn from(s: SearchSpace) -> Self {
        s.params
    }
}

fn number(name: &str, v: &Value) -> Result<f64> {
    v.as_f64().ok_or_else(|| TrainError::InvalidHyperparameter {
        name: "trial value",
        value: format!("{name} = {v}"),
        reason: "a numeric axis needs a number".into(),
    })
}

impl SearchSpace {
    /// An empty space.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds (or replaces) the axis `name`.
    ///
    /// # Errors
    /// [`TrainError::InvalidHyperparameter`] for an empty or inverted range, a non-positive bound of a
    /// log-uniform axis, a non-finite bound or no categories.
    pub fn with(mut self, name: &str, param: Param) -> Result<Self> {
        param.validate("search range")?;
        self.params.insert(name.to_string(), param);
        Ok(self)
    }

    /// The axes, by name.
    pub fn params(&self) -> &BTreeMap<String, Param> {
        &self.params
    }

    /// One random point: every axis drawn independently (axes in name order, so a seed fixes the result).
    pub fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> Sample {
        self.params
            .iter()
            .map(|(k, p)| (k.clone(), p.sample(rng)))
            .collect()
    }

    /// `trials` random points.
    pub fn sample_n<R: Rng + ?Sized>(&self, trials: usize, rng: &mut R) -> Vec<Sample> {
        (0..trials).map(|_| self.sample(rng)).collect()
    }

    /// The number of points [`SearchSpace::grid`] makes, or `None` if it overflows `usize`.
    pub fn grid_size(&self, points: usize) -> Option<usize> {
        self.params.values().try_fold(1usize, |acc, p| {
            acc.checked_mul(p.grid_axis(points.max(1)).len())
        })
    }

    /// Every combination of `points` values per continuous axis (evenly spaced including both bounds,
    /// log-spaced for log-uniform; the midpoint when `points = 1`), at most `points` distinct integers per
    /// integer axis, and every category.
    ///
    /// # Errors
    /// [`TrainError::InvalidHyperparameter`] when `points = 0` or the grid would exceed
    /// [`MAX_GRID_POINTS`]; [`TrainError::EmptyInput`] for a space without axes.
    pub fn grid(&self, points: usize) -> Result<Vec<Sample>> {
        if points == 0 {
            return Err(invalid(
                "points",
                0,
                "a grid needs at least one point per axis",
            ));
        }
        if self.params.is_empty() {
            return Err(TrainError::EmptyInput { op: "grid" });
        }
        match self.grid_size(points) {
            Some(n) if n <= MAX_GRID_POINTS => {}
            _ => {
                return Err(invalid(
                    "points",
                    points,
                    &format!("the grid would exceed {MAX_GRID_POINTS} points"),
                ))
            }
        }
        let mut grid = vec![Sample::new()];
        for (name, p) in &self.params {
            let axis = p.grid_axis(points);
            grid = grid
                .into_iter()
                .flat_map(|s| {
                    axis.iter().map(move |v| {
                        let mut s = s.clone();
                        s.insert(name.clone(), v.clone());
                        s
                    })
                })
                .collect();
        }
        Ok(grid)
    }

    /// A narrower space around the best trials, for the next coarse-to-fine stage.
    ///
    /// ```text
    /// per numeric axis (in log space for log-uniform), with width w = hi − lo:
    ///     [a, b] = [min, max] of the best trials' values
    ///     new width = max(factor · w, b − a), centred on (a + b)/2,
    ///     then moved (not shrunk) to lie inside [lo, hi]
    /// integer axes: the same, rounded outwards; categorical axes: the categories the best trials used
    /// ```
    /// The new range never leaves the old one; when a best value sits at an edge (see
    /// [`SearchSpace::edge_warnings`]), widen the original range instead.
    ///
    /// # Errors
    /// [`TrainError::InvalidHyperparameter`] when `factor` is outside `(0, 1]` or a trial holds a
    /// non-number for a numeric axis or a value outside its range; [`TrainError::EmptyInput`] when
    /// `best` is empty; [`TrainError::UnknownParameter`] when a trial lacks an axis.
    ///
    /// # Example
    /// ```
    /// use nn_train::search::{Param, Sample, SearchSpace};
    /// let space = SearchSpace::new().with("lr", Param::LogUniform { lo: 1e-6, hi: 1.0 })?;
    /// let best: Sample = [("lr".to_string(), serde_json::json!(1e-3))].into();
    /// let fine = space.narrow_around(&[best], 0.5)?;
    /// match fine.params()["lr"] {
    ///     Param::LogUniform { lo, hi } => assert!((lo.log10() + 4.5).abs() < 1e-9 && (hi.log10() + 1.5).abs() < 1e-9),
    ///     _ => unreachable!(),
    /// }
    /// # Ok::<(), nn_train::TrainError>(())
    /// ```
    pub fn narrow_around(&self, best: &[Sample], factor: f64) -> Result<SearchSpace> {
        check_positive("factor", factor)?;
        if factor > 1.0 {
            return Err(invalid("factor", factor, "must lie in (0, 1]"));
        }
        if best.is_empty() {
            return Err(TrainError::EmptyInput {
                op: "narrow_around",
            });
        }
        let mut params = BTreeMap::new();
        for (name, p) in &self.params {
            let values: Vec<&Value> = best
                .iter()
                .map(|s| {
                    s.get(name)
                        .ok_or_else(|| TrainError::UnknownParameter { name: name.clone() })
                })
                .collect::<Result<_>>()?;
            let narrowed = match p {
                Param::Categorical(cats) => {
                    let kept: Vec<Value> = cats
                        .iter()
                        .filter(|c| values.contains(c))
                        .cloned()
                        .collect();
                    if kept.len() != {
                        let mut distinct: Vec<&Value> = Vec::new();
                        for v in &values {
                            if !distinct.contains(v) {
                                distinct.push(v);
                            }
                        }
                        distinct.len()
                    } {
                        return Err(invalid(
                            "trial value",
                            name,
                            "a best value is not one of the categories",
                        ));
                    }
                    Param::Categorical(kept)
                }
                _ => {
                    let xs: Vec<f64> = values
                        .iter()
                        .map(|v| number(name, v))
                        .collect::<Result<_>>()?;
                    let log = matches!(p, Param::LogUniform { .. });
                    let (lo, hi) = match p {
                        Param::LogUniform { lo, hi } | Param::Uniform { lo, hi } => (*lo, *hi),
                        Param::IntUniform { lo, hi } => (*lo as f64, *hi as f64),
                        Param::Categorical(_) => (0.0, 0.0),
                    };
                    if let Some(&x) = xs.iter().find(|&&x| !(lo..=hi).contains(&x)) {
                        return Err(invalid(
                            "trial value",
                            format!("{name} = {x}"),
                            "lies outside the searched range",
                        ));
                    }
                    let t = |x: f64| if log { x.ln() } else { x };
                    let (tlo, thi) = (t(lo), t(hi));
                    let a = xs.iter().map(|&x| t(x)).fold(f64::INFINITY, f64::min);
                    let b = xs.iter().map(|&x| t(x)).fold(f64::NEG_INFINITY, f64::max);
                    let width = (factor * (thi - tlo)).max(b - a);
                    let mut nlo = (a + b) / 2.0 - width / 2.0;
                    let mut nhi = nlo + width;
                    if nlo < tlo {
                        (nlo, nhi) = (tlo, tlo + width);
                    }
                    if nhi > thi {
                        (nlo, nhi) = (thi - width, thi);
                    }
                    let (nlo, nhi) = (nlo.max(tlo), nhi.min(thi));
                    match p {
                        Param::LogUniform { lo, hi } => Param::LogUniform {
                            lo: nlo.exp().clamp(*lo, *hi),
                            hi: nhi.exp().clamp(*lo, *hi),
                        },
                        Param::IntUniform { .. } => Param::IntUniform {
                            lo: nlo.floor() as i64,
                            hi: nhi.ceil() as i64,
                        },
                        _ => Param::Uniform { lo: nlo, hi: nhi },
                    }
                }
            };
            narrowed.validate("narrowed range")?;
            params.insert(name.clone(), narrowed);
        }
        Ok(SearchSpace { params })
    }

    /// Warnings for the numeric values of `best` that lie in the outer 10% of their range (measured in
    /// log space for log-uniform axes); empty when every value is comfortably inside.
    ///
    /// # Errors
    /// [`TrainError::UnknownParameter`] when `best` lacks an axis or has one the space does not;
    /// [`TrainError::InvalidHyperparameter`] for a non-number on a numeric axis.
    ///
    /// # Example
    /// ```
    /// use nn_train::search::{Edge, Param, Sample, SearchSpace};
    /// let space = SearchSpace::new().with("lr", Param::LogUniform { lo: 1e-6, hi: 1e-2 })?;
    /// let best: Sample = [("lr".to_string(), serde_json::json!(5e-3))].into();
    /// let warnings = space.edge_warnings(&best)?;
    /// assert_eq!(warnings[0].edge, Edge::High); // log10 position (−2.3 + 6)/4 = 0.92
    /// # Ok::<(), nn_train::TrainError>(())
    /// ```
    pub fn edge_warnings(&self, best: &Sample) -> Result<Vec<EdgeWarning>> {
        if let Some(extra) = best.keys().find(|k| !self.params.contains_key(*k)) {
            return Err(TrainError::UnknownParameter {
                name: extra.clone(),
            });
        }
        let mut out = Vec::new();
        for (name, p) in &self.params {
            let v = best
                .get(name)
                .ok_or_else(|| TrainError::UnknownParameter { name: name.clone() })?;
            if matches!(p, Param::Categorical(_)) {
                continue;
            }
            let x = number(name, v)?;
            let Some(pos) = p.position(x) else { continue };
            let edge = if pos < 0.1 {
                Edge::Low
            } else if pos > 0.9 {
                Edge::High
            } else {
                continue;
            };
            let (lo, hi) = match p {
                Param::LogUniform { lo, hi } | Param::Uniform { lo, hi } => (*lo, *hi),
                Param::IntUniform { lo, hi } => (*lo as f64, *hi as f64),
                Param::Categorical(_) => continue,
            };
            out.push(EdgeWarning {
                name: name.clone(),
                value: x,
                lo,
                hi,
                edge,
                log_scale: matches!(p, Param::LogUniform { .. }),
            });
        }
        Ok(out)
    }
}

/// The early-stop rule of a search trial: stop when the loss exceeds `factor` × the initial loss (3 in
/// CS231n), or is not finite.
///
/// # Example
/// ```
/// use nn_train::search::Divergence;
/// let rule = Divergence::default();
/// assert!(!rule.diverged(2.3, 6.0));
/// assert!(rule.diverged(2.3, 7.0));
/// assert!(rule.diverged(2.3, f64::NAN));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Divergence {
    /// The allowed multiple of the initial loss.
    pub factor: f64,
}

impl Default for Divergence {
    fn default() -> Self {
        Self { factor: 3.0 }
    }
}

impl Divergence {
    /// Whether a trial whose first loss was `initial_loss` should stop at `loss`.
    pub fn diverged(&self, initial_loss: f64, loss: f64) -> bool {
        !loss.is_finite() || loss > self.factor * initial_loss
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;
    use serde_json::json;

    fn space() -> SearchSpace {
        SearchSpace::new()
            .with("lr", Param::LogUniform { lo: 1e-5, hi: 1e-1 })
            .unwrap()
            .with("dropout", Param::Uniform { lo: 0.0, hi: 0.5 })
            .unwrap()
            .with("hidden", Param::IntUniform { lo: 10, hi: 13 })
            .unwrap()
            .with(
                "act",
                Param::Categorical(vec![json!("relu"), json!("tanh")]),
            )
            .unwrap()
    }

    #[test]
    fn sampling_statistics_and_bounds() {
        let s = space();
        let mut rng = ChaCha8Rng::seed_from_u64(42);
        let n = 20_000;
        let trials = s.sample_n(n, &mut rng);
        let log_lr: Vec<f64> = trials
            .iter()
            .map(|t| t["lr"].as_f64().unwrap().log10())
            .collect();
        // log10 of a log-uniform draw on [1e-5, 1e-1] is U(−5, −1): mean −3, variance 16/12, and each of
        // the four decades holds about a quarter of the draws (binomial sd ≈ 0.003).
        let mean = log_lr.iter().sum::<f64>() / n as f64;
        let var = log_lr.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n as f64;
        assert!((mean + 3.0).abs() < 0.03, "{mean}");
        assert!((var - 16.0 / 12.0).abs() < 0.04, "{var}");
        for d in 0..4 {
            let lo = -5.0 + d as f64;
            let frac =
                log_lr.iter().filter(|&&x| x >= lo && x < lo + 1.0).count() as f64 / n as f64;
            assert!((frac - 0.25).abs() < 0.015, "decade {d}: {frac}");
        }
        let mut hidden_seen = [0usize; 4];
        for t in &trials {
            let lr = t["lr"].as_f64().unwrap();
            assert!((1e-5..=1e-1).contains(&lr));
            let d = t["dropout"].as_f64().unwrap();
            assert!((0.0..0.5).contains(&d));
            let h = t["hidden"].as_i64().unwrap();
            assert!((10..=13).contains(&h));
            hidden_seen[(h - 10) as usize] += 1;
            assert!(t["act"] == json!("relu") || t["act"] == json!("tanh"));
        }
        // Both integer bounds are reachable, each about a quarter of the time.
        assert!(hidden_seen
            .iter()
            .all(|&c| (c as f64 / n as f64 - 0.25).abs() < 0.015));
    }

    #[test]
    fn grid_sizes_and_log_spacing() {
        let s = space();
        // 3 (lr) · 3 (dropout) · 3 distinct of 10..=13 · 2 categories.
        assert_eq!(s.grid_size(3), Some(54));
        let g = s.grid(3).unwrap();
        assert_eq!(g.len(), 54);
        let mut lrs: Vec<f64> = g.iter().map(|t| t["lr"].as_f64().unwrap()).collect();
        lrs.sort_by(f64::total_cmp);
        lrs.dedup();
        assert_eq!(lrs.len(), 3);
        assert!((lrs[1] - 1e-3).abs() < 1e-15); // the log-midpoint of [1e-5, 1e-1]
                                                // Ten points on an integer axis with four values: only the four.
        let ints = SearchSpace::new()
            .with("h", Param::IntUniform { lo: 10, hi: 13 })
            .unwrap();
        assert_eq!(ints.grid(10).unwrap().len(), 4);
        assert!(matches!(
            s.grid(0),
            Err(TrainError::InvalidHyperparameter { .. })
        ));
        assert!(matches!(
            s.grid(2000),
            Err(TrainError::InvalidHyperparameter { .. })
        ));
    }

    #[test]
    fn edge_warning_cases() {
        let s = space();
        let best = |lr: f64, dropout: f64, hidden: i64| -> Sample {
            [
                ("lr".to_string(), json!(lr)),
                ("dropout".to_string(), json!(dropout)),
                ("hidden".to_string(), json!(hidden)),
                ("act".to_string(), json!("relu")),
            ]
            .into()
        };
        // Inside: lr = 1e-3 is at log position 0.5; dropout 0.25 at 0.5; hidden 11 at 1/3.
        assert!(s.edge_warnings(&best(1e-3, 0.25, 11)).unwrap().is_empty());
        // lr = 2e-5 is at log position log10(2)/4 ≈ 0.075 (low) though linearly it is at 0.0001;
        // dropout 0.48 at 0.96 (high); hidden 13 at 1 (high).
        let w = s.edge_warnings(&best(2e-5, 0.48, 13)).unwrap();
        let got: Vec<(&str, Edge)> = w.iter().map(|w| (w.name.as_str(), w.edge)).collect();
        assert_eq!(
            got,
            vec![
                ("dropout", Edge::High),
                ("hidden", Edge::High),
                ("lr", Edge::Low)
            ]
        );
        assert!(w[2].to_string().contains("lowest 10%") && w[2].log_scale);
        // lr = 4e-5: log position log10(4)/4 ≈ 0.15, not at the edge on a log scale.
        assert!(s.edge_warnings(&best(4e-5, 0.25, 11)).unwrap().is_empty());
        let mut missing = best(1e-3, 0.25, 11);
        missing.remove("hidden");
        assert!(matches!(
            s.edge_warnings(&missing),
            Err(TrainError::UnknownParameter { .. })
        ));
    }

    #[test]
    fn narrowing_around_the_best_trials() {
        let s = space();
        let t = |lr: f64, dropout: f64, hidden: i64, act: &str| -> Sample {
            [
                ("lr".to_string(), json!(lr)),
                ("dropout".to_string(), json!(dropout)),
                ("hidden".to_string(), json!(hidden)),
                ("act".to_string(), json!(act)),
            ]
            .into()
        };
        let fine = s
            .narrow_around(&[t(1e-3, 0.05, 12, "tanh"), t(1e-2, 0.1, 12, "tanh")], 0.25)
            .unwrap();
        // lr: log10 span [−3, −2] (width 1) equals 0.25·4 = 1 → [1e-3, 1e-2].
        let Param::LogUniform { lo, hi } = fine.params()["lr"] else {
            panic!()
        };
        assert!((lo - 1e-3).abs() < 1e-15 && (hi - 1e-2).abs() < 1e-15);
        // dropout: width max(0.125, 0.05) = 0.125 centred on 0.075 → [0.0125, 0.1375].
        let Param::Uniform { lo, hi } = fine.params()["dropout"] else {
            panic!()
        };
        assert!((lo - 0.0125).abs() < 1e-15 && (hi - 0.1375).abs() < 1e-15);
        // hidden: width 0.75 around 12 → [11.625, 12.375] → rounded outwards [11, 13].
        assert_eq!(
            fine.params()["hidden"],
            Param::IntUniform { lo: 11, hi: 13 }
        );
        assert_eq!(
            fine.params()["act"],
            Param::Categorical(vec![json!("tanh")])
        );
        // At an edge, the range moves inside rather than shrinking: dropout 0 → [0, 0.125].
        let edge = s.narrow_around(&[t(1e-3, 0.0, 12, "relu")], 0.25).unwrap();
        assert_eq!(
            edge.params()["dropout"],
            Param::Uniform { lo: 0.0, hi: 0.125 }
        );
        assert!(s.narrow_around(&[], 0.5).is_err());
        assert!(s.narrow_around(&[t(1e-3, 0.0, 12, "relu")], 1.5).is_err());
        assert!(s.narrow_around(&[t(1e-3, 0.0, 12, "gelu")], 0.5).is_err());
        assert!(s.narrow_around(&[t(1.0, 0.0, 12, "relu")], 0.5).is_err());
    }

    #[test]
    fn serde_round_trip_and_validation_on_load() {
        let s = space();
        let text = serde_json::to_string(&s).unwrap();
        assert_eq!(serde_json::from_str::<SearchSpace>(&text).unwrap(), s);
        let bad = r#"{"lr": {"log_uniform": {"lo": 0.0, "hi": 1.0}}}"#;
        assert!(serde_json::from_str::<SearchSpace>(bad).is_err());
        assert!(SearchSpace::new()
            .with("x", Param::Uniform { lo: 1.0, hi: 1.0 })
            .is_err());
        assert!(SearchSpace::new()
            .with("x", Param::Categorical(vec![]))
            .is_err());
    }
}
