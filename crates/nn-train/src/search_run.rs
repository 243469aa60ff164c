//! Running a hyperparameter search: coarse-to-fine stages of random or grid trials over a
//! [`SearchSpace`], each trial a full [`TrainConfig`] run by the [`Trainer`], in parallel with rayon.
//!
//! ```text
//! stage 0:  plan trials over the space (short runs)  →  run in parallel  →  rank by val accuracy
//! stage k:  narrow the space around stage k−1's best `keep` trials by `narrowing`  →  plan, run, rank
//! ```
//! Every trial is a serialisable [`TrialConfig`] (its parameters, its seed and the complete training
//! config), so a stage can also run as separate processes (`nn trial CONFIG`) whose
//! [`TrialResult`]s are gathered with [`collect`]. Trials whose loss exceeds
//! `base.divergence_factor` (3 by default, CS231n's rule) times their first loss stop early as
//! [`StopReason::Diverged`]. The report warns when the best value of an axis lies in the outer 10%
//! of its range ([`SearchSpace::edge_warnings`]): the optimum may lie outside, widen the range.
//!
//! # Parameter names
//! [`apply`] maps a sample onto a [`TrainConfig`]:
//!
//! | name              | sets                                                                    |
//! |-------------------|-------------------------------------------------------------------------|
//! | `lr`              | the schedule's base learning rate (any schedule; inside a warm-up too)  |
//! | `l2`              | `l2`, the L2 strength `λ`                                                |
//! | `hidden`          | the width of every hidden `Linear`/`Maxout` layer (all but the last)     |
//! | `dropout`         | `p` of every `Dropout` layer (the model must have one)                   |
//! | `batch_size`      | `batch_size`                                                             |
//! | `epochs`          | `epochs` (overrides the stage's epochs)                                  |
//! | `momentum`        | SGD momentum (plain SGD becomes classic momentum) or RMSProp's momentum  |
//! | `weight_decay`    | the optimiser's own weight decay                                         |
//! | `label_smoothing` | the softmax loss's label smoothing                                       |
//!
//! Integer settings (`hidden`, `batch_size`, `epochs`) take the nearest integer of a number.

use std::collections::BTreeMap;
use std::fmt;

use nn_core::{LayerSpec, Loss};
use nn_preprocess::Dataset;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::config::TrainConfig;
use crate::error::{invalid, Result, TrainError};
use crate::optim::{Momentum, OptimizerConfig};
use crate::schedule::ScheduleConfig;
use crate::search::{EdgeWarning, Sample, SearchSpace};
use crate::trainer::{StopReason, Trainer};

/// How a stage picks its trials.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SearchMethod {
    /// `trials` independent random samples (Bergstra & Bengio 2012; see [`crate::search`]).
    Random,
    /// Every point of a grid with `points` values per continuous axis (the stage's `trials` is
    /// ignored).
    Grid {
        /// Values per continuous axis.
        points: usize,
    },
}

/// One coarse-to-fine stage.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StageConfig {
    /// Random trials in this stage (≥ 1).
    pub trials: usize,
    /// Epochs per trial (≥ 1; short in early stages).
    pub epochs: usize,
    /// How many of the previous stage's best trials the narrowed ranges must cover (≥ 1; ignored
    /// for the first stage).
    pub keep: usize,
    /// The narrowed range's width as a fraction of the previous one, in `(0, 1]` (see
    /// [`SearchSpace::narrow_around`]; ignored for the first stage).
    pub narrowing: f64,
}

/// A whole search: the space, the base training config, the stages, the method and the seed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SearchConfig {
    /// The ranges searched (names as in the [module docs](self)).
    pub space: SearchSpace,
    /// Everything the trials do not vary.
    pub base: TrainConfig,
    /// Coarse to fine, at least one.
    pub stages: Vec<StageConfig>,
    /// Random or grid.
    pub method: SearchMethod,
    /// Fixes every sample and every trial's training seed.
    pub seed: u64,
}

impl SearchConfig {
    /// Checks the stages, the method and the base config.
    ///
    /// # Errors
    /// [`TrainError::InvalidHyperparameter`] naming the field; [`TrainError::EmptyInput`] for no
    /// stages or an empty space.
    pub fn validate(&self) -> Result<()> {
        if self.stages.is_empty() {
            return Err(TrainError::EmptyInput {
                op: "search stages",
            });
        }
        if self.space.params().is_empty() {
            return Err(TrainError::EmptyInput { op: "search space" });
        }
        for s in &self.stages {
            if s.trials == 0 {
                return Err(invalid("stage.trials", 0, "must be at least 1"));
            }
            if s.epochs == 0 {
                return Err(invalid("stage.epochs", 0, "must be at least 1"));
            }
            if s.keep == 0 {
                return Err(invalid("stage.keep", 0, "must be at least 1"));
            }
            if !(s.narrowing > 0.0 && s.narrowing <= 1.0) {
                return Err(invalid(
                    "stage.narrowing",
                    s.narrowing,
                    "must lie in (0, 1]",
                ));
            }
        }
        if let SearchMethod::Grid { points: 0 } = self.method {
            return Err(invalid("method.points", 0, "must be at least 1"));
        }
        self.base.validate()
    }
}

/// One trial, complete and serialisable: run it here with [`run_trial`] or in another process.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrialConfig {
    /// Index within the search (unique across stages).
    pub id: usize,
    /// The stage, from 0.
    pub stage: usize,
    /// The sampled hyperparameters.
    pub params: Sample,
    /// The training config with `params` applied, the stage's epochs and the trial's seed.
    pub train: TrainConfig,
}

/// What one trial gave (serde).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrialResult {
    /// The trial's id.
    pub id: usize,
    /// Its stage.
    pub stage: usize,
    /// Its hyperparameters.
    pub params: Sample,
    /// Its training seed.
    pub seed: u64,
    /// The best validation accuracy over its epochs (`None` if no epoch completed).
    pub val_accuracy: Option<f64>,
    /// The validation loss of the last completed epoch.
    pub val_loss: Option<f64>,
    /// The training loss of the last completed epoch.
    pub train_loss: Option<f64>,
    /// Completed epochs.
    pub epochs: usize,
    /// Why it stopped (`Diverged` for trials stopped early by the loss rule).
    pub stopped: StopReason,
}

/// Settles the `id`-th trial's seed from the search seed and the stage (SplitMix64 finaliser).
fn trial_seed(seed: u64, stage: usize, index: usize) -> u64 {
    let mut z = seed ^ ((stage as u64) << 48) ^ (index as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The trials of stage `stage` over `space` (the original space for stage 0, the narrowed one
/// later), with ids starting at `first_id`.
///
/// # Errors
/// As [`SearchConfig::validate`] and [`apply`]; [`TrainError::InvalidHyperparameter`] for a stage
/// beyond the config's or a grid that is too large.
pub fn plan_stage(
    config: &SearchConfig,
    stage: usize,
    space: &SearchSpace,
    first_id: usize,
) -> Result<Vec<TrialConfig>> {
    config.validate()?;
    let sc = config
        .stages
        .get(stage)
        .ok_or_else(|| invalid("stage", stage, "beyond the configured stages"))?;
    let samples = match config.method {
        SearchMethod::Random => {
            let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
            rng.set_stream(stage as u64);
            space.sample_n(sc.trials, &mut rng)
        }
        SearchMethod::Grid { points } => space.grid(points)?,
    };
    samples
        .into_iter()
        .enumerate()
        .map(|(i, params)| {
            let mut base = config.base.clone();
            base.epochs = sc.epochs;
            base.seed = trial_seed(config.seed, stage, i);
            let train = apply(&base, &params)?;
            Ok(TrialConfig {
                id: first_id + i,
                stage,
                params,
                train,
            })
        })
        .collect()
}

/// The first stage's trials (later stages depend on results: see [`next_space`]).
///
/// # Errors
/// As [`plan_stage`].
pub fn plan(config: &SearchConfig) -> Result<Vec<TrialConfig>> {
    plan_stage(config, 0, &config.space, 0)
}

/// The space of stage `stage ≥ 1`: `previous` narrowed around the best `keep` results of the
/// previous stage (diverged and unfinished trials are left out).
///
/// # Errors
/// [`TrainError::EmptyInput`] when no trial of the previous stage has a validation accuracy;
/// as [`SearchSpace::narrow_around`].
pub fn next_space(
    config: &SearchConfig,
    stage: usize,
    previous: &SearchSpace,
    results: &[TrialResult],
) -> Result<SearchSpace> {
    let sc = config
        .stages
        .get(stage)
        .ok_or_else(|| invalid("stage", stage, "beyond the configured stages"))?;
    let mut ranked: Vec<&TrialResult> = results
        .iter()
        .filter(|r| r.stage + 1 == stage && r.stopped != StopReason::Diverged)
        .filter(|r| r.val_accuracy.is_some())
        .collect();
    ranked.sort_by(|a, b| rank(a, b));
    let best: Vec<Sample> = ranked
        .iter()
        .take(sc.keep)
        .map(|r| r.params.clone())
        .collect();
    if best.is_empty() {
        return Err(TrainError::EmptyInput {
            op: "next_space (no finished trial to narrow around)",
        });
    }
    previous.narrow_around(&best, sc.narrowing)
}

/// Best first: higher validation accuracy, then lower validation loss, then lower id; trials
/// without an accuracy last.
fn rank(a: &TrialResult, b: &TrialResult) -> std::cmp::Ordering {
    let acc = |r: &TrialResult| r.val_accuracy.unwrap_or(f64::NEG_INFINITY);
    let loss = |r: &TrialResult| r.val_loss.unwrap_or(f64::INFINITY);
    acc(b)
        .total_cmp(&acc(a))
        .then(loss(a).total_cmp(&loss(b)))
        .then(a.id.cmp(&b.id))
}

/// Runs one trial: trains `trial.train` on `train`, validating on `val` every epoch.
///
/// # Errors
/// As [`Trainer::new`] and [`Trainer::fit`].
pub fn run_trial(trial: &TrialConfig, train: &Dataset, val: &Dataset) -> Result<TrialResult> {
    let mut trainer = Trainer::new(trial.train.clone())?;
    let report = trainer.fit(train, Some(val), &mut ())?;
    let last = report.epochs.last();
    let best = report
        .epochs
        .iter()
        .filter_map(|e| e.val_accuracy)
        .fold(None, |acc: Option<f64>, a| {
            Some(acc.map_or(a, |b| b.max(a)))
        });
    Ok(TrialResult {
        id: trial.id,
        stage: trial.stage,
        params: trial.params.clone(),
        seed: trial.train.seed,
        val_accuracy: best,
        val_loss: last.and_then(|e| e.val_loss),
        train_loss: last.map(|e| e.train_loss),
        epochs: report.epochs.len(),
        stopped: report.stopped,
    })
}

/// Runs `trials` in parallel with rayon (each deterministic from its own config; the inner matrix
/// products nest their own rayon parallelism inside, which rayon schedules without oversubscribing).
/// Results come back in the order of `trials`.
///
/// # Errors
/// The first trial's error, in `trials` order.
pub fn run_trials(
    trials: &[TrialConfig],
    train: &Dataset,
    val: &Dataset,
) -> Result<Vec<TrialResult>> {
    trials
        .par_iter()
        .map(|t| run_trial(t, train, val))
        .collect()
}

/// Runs every stage of `config`: plan, run in parallel, rank, narrow, repeat.
///
/// # Errors
/// As [`SearchConfig::validate`], [`plan_stage`], [`run_trials`] and [`next_space`].
///
/// # Example
/// ```
/// use ndarray::Array2;
/// use nn_core::NetworkSpec;
/// use nn_preprocess::Dataset;
/// use nn_train::search::{Param, SearchSpace};
/// use nn_train::search_run::{run_search, SearchConfig, SearchMethod, StageConfig};
/// use nn_train::TrainConfig;
/// let x = Array2::from_shape_fn((80, 2), |(i, j)| if (i % 2 == 0) == (j == 0) { 1.0 } else { -1.0 });
/// let y: Vec<u8> = (0..80).map(|i| (i % 2) as u8).collect();
/// let data = Dataset::new(x, y, vec!["a".into(), "b".into()], None)?;
/// let config = SearchConfig {
///     space: SearchSpace::new().with("lr", Param::LogUniform { lo: 1e-3, hi: 1e-1 })?,
///     base: TrainConfig {
///         model: NetworkSpec::mlp(2, &[8], 2, &Default::default())?,
///         batch_size: 16,
///         monitor_every: 0,
///         ..TrainConfig::default()
///     },
///     stages: vec![
///         StageConfig { trials: 3, epochs: 1, keep: 1, narrowing: 1.0 },
///         StageConfig { trials: 2, epochs: 2, keep: 1, narrowing: 0.5 },
///     ],
///     method: SearchMethod::Random,
///     seed: 7,
/// };
/// let report = run_search(&config, &data, &data)?;
/// assert_eq!(report.table.len(), 5);
/// assert!(report.table.windows(2).all(|w| w[0].val_accuracy >= w[1].val_accuracy));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn run_search(config: &SearchConfig, train: &Dataset, val: &Dataset) -> Result<SearchReport> {
    config.validate()?;
    let mut space = config.space.clone();
    let mut stages = Vec::with_capacity(config.stages.len());
    let mut all: Vec<TrialResult> = Vec::new();
    for stage in 0..config.stages.len() {
        if stage > 0 {
            space = next_space(config, stage, &space, &all)?;
        }
        let trials = plan_stage(config, stage, &space, all.len())?;
        let results = run_trials(&trials, train, val)?;
        all.extend(results.iter().cloned());
        stages.push(StageReport::new(stage, space.clone(), results)?);
    }
    Ok(SearchReport::from_stages(stages))
}

/// One stage's results, best first, with the edge warnings of its best trial.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StageReport {
    /// The stage, from 0.
    pub stage: usize,
    /// The ranges it searched.
    pub space: SearchSpace,
    /// Its trials, best first.
    pub trials: Vec<TrialResult>,
    /// Axes whose best value lies in the outer 10% of this stage's range.
    pub edge_warnings: Vec<EdgeWarning>,
}

impl StageReport {
    /// Ranks `results` and computes the edge warnings of the best finished trial against `space`.
    ///
    /// # Errors
    /// As [`SearchSpace::edge_warnings`] (a trial's parameters do not match the space).
    pub fn new(stage: usize, space: SearchSpace, mut results: Vec<TrialResult>) -> Result<Self> {
        results.sort_by(rank);
        let edge_warnings = match results
            .iter()
            .find(|r| r.val_accuracy.is_some() && r.stopped != StopReason::Diverged)
        {
            Some(best) => space.edge_warnings(&best.params)?,
            None => Vec::new(),
        };
        Ok(StageReport {
            stage,
            space,
            trials: results,
            edge_warnings,
        })
    }
}

/// A whole search: per-stage reports and one table of every trial sorted by validation accuracy
/// (serde; `Display` as a table).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SearchReport {
    /// The stages in order.
    pub stages: Vec<StageReport>,
    /// Every trial of every stage, best first.
    pub table: Vec<TrialResult>,
}

impl SearchReport {
    /// Builds the combined table from per-stage reports.
    pub fn from_stages(stages: Vec<StageReport>) -> Self {
        let mut table: Vec<TrialResult> = stages
            .iter()
            .flat_map(|s| s.trials.iter().cloned())
            .collect();
        table.sort_by(rank);
        SearchReport { stages, table }
    }

    /// The best trial (the first row of the table), if any.
    pub fn best(&self) -> Option<&TrialResult> {
        self.table.first()
    }

    /// Every stage's edge warnings.
    pub fn edge_warnings(&self) -> impl Iterator<Item = &EdgeWarning> {
        self.stages.iter().flat_map(|s| s.edge_warnings.iter())
    }
}

/// Gathers results of trials that ran as separate processes: `spaces[s]` is the space stage `s`
/// searched.
///
/// # Errors
/// [`TrainError::InvalidHyperparameter`] when a result's stage has no space; as
/// [`StageReport::new`].
pub fn collect(spaces: &[SearchSpace], results: Vec<TrialResult>) -> Result<SearchReport> {
    let mut by_stage: BTreeMap<usize, Vec<TrialResult>> = BTreeMap::new();
    for r in results {
        if r.stage >= spaces.len() {
            return Err(invalid(
                "stage",
                r.stage,
                "no search space given for this stage",
            ));
        }
        by_stage.entry(r.stage).or_default().push(r);
    }
    let stages = by_stage
        .into_iter()
        .map(|(s, rs)| StageReport::new(s, spaces[s].clone(), rs))
        .collect::<Result<Vec<_>>>()?;
    Ok(SearchReport::from_stages(stages))
}

fn fmt_value(v: &Value) -> String {
    match v.as_f64() {
        Some(x) if v.is_f64() => format!("{x:.3e}"),
        _ => v.to_string(),
    }
}

impl fmt::Display for SearchReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&String> = self
            .table
            .first()
            .map(|r| r.params.keys().collect())
            .unwrap_or_default();
        write!(
            f,
            "{:>4} {:>5} {:>9} {:>9} {:>6}",
            "rank", "stage", "val acc", "val loss", "epochs"
        )?;
        for n in &names {
            write!(f, " {n:>12}")?;
        }
        writeln!(f, "  stopped")?;
        for (i, r) in self.table.iter().enumerate() {
            let acc = r
                .val_accuracy
                .map_or("-".to_string(), |a| format!("{:.2}%", 100.0 * a));
            let loss = r.val_loss.map_or("-".to_string(), |l| format!("{l:.4}"));
            write!(
                f,
                "{:>4} {:>5} {acc:>9} {loss:>9} {:>6}",
                i + 1,
                r.stage,
                r.epochs
            )?;
            for n in &names {
                let v = r.params.get(*n).map_or("-".to_string(), fmt_value);
                write!(f, " {v:>12}")?;
            }
            writeln!(f, "  {:?}", r.stopped)?;
        }
        for w in self.edge_warnings() {
            writeln!(f, "warning: {w}")?;
        }
        Ok(())
    }
}

fn number(name: &'static str, v: &Value) -> Result<f64> {
    v.as_f64()
        .filter(|x| x.is_finite())
        .ok_or_else(|| invalid(name, v, "needs a finite number"))
}

fn integer(name: &'static str, v: &Value) -> Result<usize> {
    let x = number(name, v)?.round();
    if x < 1.0 || x > u32::MAX as f64 {
        return Err(invalid(name, v, "needs a positive integer"));
    }
    Ok(x as usize)
}

/// Sets the base learning rate of any schedule.
fn set_lr(schedule: &mut ScheduleConfig, value: f64) {
    match schedule {
        ScheduleConfig::Constant { lr }
        | ScheduleConfig::Step { lr, .. }
        | ScheduleConfig::Exponential { lr, .. }
        | ScheduleConfig::InverseTime { lr, .. }
        | ScheduleConfig::Cosine { lr, .. } => *lr = value,
        ScheduleConfig::WarmUp { then, .. } => set_lr(then, value),
        ScheduleConfig::Plateau(p) => p.lr = value,
    }
}

/// `base` with the hyperparameters of `params` applied (names in the [module docs](self)), then
/// validated.
///
/// # Errors
/// [`TrainError::UnknownParameter`] for a name not in the table; [`TrainError::InvalidHyperparameter`]
/// for a value of the wrong type, a setting the config has nowhere to put (`dropout` without a
/// dropout layer, `momentum` for Adam) or a result [`TrainConfig::validate`] rejects.
///
/// # Example
/// ```
/// use nn_train::search_run::apply;
/// use nn_train::TrainConfig;
/// let params = [("lr".to_string(), serde_json::json!(0.01)), ("hidden".to_string(), serde_json::json!(64))].into();
/// let c = apply(&TrainConfig::default(), &params)?;
/// assert!(matches!(c.schedule, nn_train::schedule::ScheduleConfig::Constant { lr } if lr == 0.01));
/// assert!(matches!(c.model.layers[0], nn_core::LayerSpec::Linear { outputs: 64, .. }));
/// let bad = [("learning_rate".to_string(), serde_json::json!(0.01))].into();
/// assert!(apply(&TrainConfig::default(), &bad).is_err());
/// # Ok::<(), nn_train::TrainError>(())
/// ```
pub fn apply(base: &TrainConfig, params: &Sample) -> Result<TrainConfig> {
    let mut c = base.clone();
    for (name, v) in params {
        match name.as_str() {
            "lr" => {
                let lr = number("lr", v)?;
                set_lr(&mut c.schedule, lr);
            }
            "l2" => c.l2 = number("l2", v)?,
            "batch_size" => c.batch_size = integer("batch_size", v)?,
            "epochs" => c.epochs = integer("epochs", v)?,
            "hidden" => {
                let h = integer("hidden", v)?;
                let last = c.model.layers.iter().rposition(|l| {
                    matches!(l, LayerSpec::Linear { .. } | LayerSpec::Maxout { .. })
                });
                for (i, layer) in c.model.layers.iter_mut().enumerate() {
                    if Some(i) == last {
                        continue;
                    }
                    match layer {
                        LayerSpec::Linear { outputs, .. } | LayerSpec::Maxout { outputs, .. } => {
                            *outputs = h
                        }
                        _ => {}
                    }
                }
            }
            "dropout" => {
                let p = number("dropout", v)?;
                let mut found = false;
                for layer in &mut c.model.layers {
                    if let LayerSpec::Dropout { p: q } = layer {
                        *q = p;
                        found = true;
                    }
                }
                if !found {
                    return Err(invalid("dropout", v, "the model has no dropout layer"));
                }
            }
            "momentum" => {
                let m = number("momentum", v)?;
                match &mut c.optimizer {
                    OptimizerConfig::Sgd(s) => {
                        s.momentum = match s.momentum {
                            Momentum::Nesterov { .. } => Momentum::Nesterov { momentum: m },
                            Momentum::Classic { dampening, .. } => Momentum::Classic {
                                momentum: m,
                                dampening,
                            },
                            Momentum::None => Momentum::Classic {
                                momentum: m,
                                dampening: 0.0,
                            },
                        }
                    }
                    OptimizerConfig::RmsProp(r) => r.momentum = m,
                    _ => {
                        return Err(invalid(
                            "momentum",
                            v,
                            "only SGD and RMSProp have a momentum setting",
                        ))
                    }
                }
            }
            "weight_decay" => {
                let wd = number("weight_decay", v)?;
                match &mut c.optimizer {
                    OptimizerConfig::Sgd(s) => s.weight_decay = wd,
                    OptimizerConfig::Adagrad(a) => a.weight_decay = wd,
                    OptimizerConfig::RmsProp(r) => r.weight_decay = wd,
                    OptimizerConfig::Adam(a) => a.weight_decay = wd,
                    OptimizerConfig::AdamW(a) => a.weight_decay = wd,
                }
            }
            "label_smoothing" => {
                let e = number("label_smoothing", v)?;
                match &mut c.loss {
                    Loss::SoftmaxCrossEntropy { label_smoothing } => *label_smoothing = e,
                    _ => {
                        return Err(invalid(
                            "label_smoothing",
                            v,
                            "only the softmax loss has label smoothing",
                        ))
                    }
                }
            }
            _ => return Err(TrainError::UnknownParameter { name: name.clone() }),
        }
    }
    c.validate()?;
    Ok(c)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn apply_maps_every_name() {
        let base = TrainConfig {
            model: nn_core::NetworkSpec::mlp(
                4,
                &[8, 8],
                3,
                &nn_core::MlpOptions {
                    dropout: 0.5,
                    ..Default::default()
                },
            )
            .unwrap(),
            optimizer: OptimizerConfig::sgd(),
            schedule: ScheduleConfig::WarmUp {
                steps: 5,
                start_factor: 0.1,
                then: Box::new(ScheduleConfig::Constant { lr: 1.0 }),
            },
            ..TrainConfig::default()
        };
        let params: Sample = [
            ("lr", json!(0.05)),
            ("l2", json!(1e-4)),
            ("hidden", json!(16.4)),
            ("dropout", json!(0.2)),
            ("batch_size", json!(32)),
            ("momentum", json!(0.9)),
            ("epochs", json!(7)),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        let c = apply(&base, &params).unwrap();
        let ScheduleConfig::WarmUp { then, .. } = &c.schedule else {
            panic!()
        };
        assert_eq!(**then, ScheduleConfig::Constant { lr: 0.05 });
        assert_eq!((c.l2, c.batch_size, c.epochs), (1e-4, 32, 7));
        let widths: Vec<usize> = c
            .model
            .layers
            .iter()
            .filter_map(|l| match l {
                LayerSpec::Linear { outputs, .. } => Some(*outputs),
                _ => None,
            })
            .collect();
        assert_eq!(widths, vec![16, 16, 3]); // the output layer keeps C = 3
        assert!(c
            .model
            .layers
            .iter()
            .all(|l| !matches!(l, LayerSpec::Dropout { p } if *p != 0.2)));
        assert!(matches!(
            c.optimizer,
            OptimizerConfig::Sgd(s) if s.momentum == Momentum::Classic { momentum: 0.9, dampening: 0.0 }
        ));
        let unknown: Sample = [("lrate".to_string(), json!(0.1))].into();
        assert!(
            matches!(apply(&base, &unknown), Err(TrainError::UnknownParameter { name }) if name == "lrate")
        );
        let text: Sample = [("lr".to_string(), json!("fast"))].into();
        assert!(matches!(
            apply(&base, &text),
            Err(TrainError::InvalidHyperparameter { name: "lr", .. })
        ));
        let adam_momentum: Sample = [("momentum".to_string(), json!(0.9))].into();
        assert!(apply(&TrainConfig::default(), &adam_momentum).is_err());
        let no_dropout: Sample = [("dropout".to_string(), json!(0.3))].into();
        assert!(apply(&TrainConfig::default(), &no_dropout).is_err());
        // A value the config rejects: a negative L2 strength.
        let negative: Sample = [("l2".to_string(), json!(-1.0))].into();
        assert!(matches!(
            apply(&base, &negative),
            Err(TrainError::InvalidHyperparameter { name: "l2", .. })
        ));
    }

    #[test]
    fn seeds_differ_per_trial_and_stage() {
        let a = trial_seed(1, 0, 0);
        assert_ne!(a, trial_seed(1, 0, 1));
        assert_ne!(a, trial_seed(1, 1, 0));
        assert_ne!(a, trial_seed(2, 0, 0));
        assert_eq!(a, trial_seed(1, 0, 0));
    }
}
