//! Learning-rate schedules: constant, step decay, exponential, 1/t, cosine (optionally with warm
//! restarts), linear warm-up in front of any of them, and reduce-on-plateau.
//!
//! A [`ScheduleConfig`] (serde, internally tagged by `"kind"`) is validated once by
//! [`ScheduleConfig::build`] into a [`Schedule`].
//! Stateless schedules are pure functions of the step, [`Schedule::lr_at`]; the plateau schedule also
//! needs [`Schedule::observe`] with the monitored metric once per epoch.
//! Whether `t` counts iterations or epochs is the caller's choice (the formulas do not care).

use crate::error::{
    check_finite, check_non_negative, check_positive, check_unit_open, invalid, Result, TrainError,
};
use serde::{Deserialize, Serialize};

/// A learning-rate schedule and its hyperparameters (serde: internally tagged by `"kind"`).
///
/// `t` is the step (or epoch) index, starting at 0, and `γ₀ = lr` the base learning rate.
///
/// ```text
/// Constant      γ(t) = γ₀
/// Step          γ(t) = γ₀ · gamma^⌊t / step_size⌋                         (torch StepLR)
/// Exponential   γ(t) = γ₀ · gamma^t                                        (torch ExponentialLR)
/// InverseTime   γ(t) = γ₀ / (1 + decay · t)                                (CS231n's 1/t decay)
/// Cosine        γ(t) = min_lr + (γ₀ − min_lr) · (1 + cos(π · t_cur / T)) / 2
///               no restarts: t_cur = min(t, period), T = period (holds min_lr after the period);
///               restarts (SGDR, torch CosineAnnealingWarmRestarts): T_0 = period, T_{i+1} = mult · T_i,
///               t_cur = t minus the lengths of the finished cycles
/// WarmUp        γ(t) = inner(0) · (f + (1 − f) · t / steps)   for t < steps  (f = start_factor)
///               γ(t) = inner(t − steps)                       afterwards
/// Plateau       γ = γ₀ until the metric stalls; see PlateauConfig
/// ```
///
/// # Example
/// ```
/// use nn_train::schedule::ScheduleConfig;
/// let cfg: ScheduleConfig = serde_json::from_str(
///     r#"{"kind": "warm_up", "steps": 10, "start_factor": 0.0,
///         "then": {"kind": "step", "lr": 0.1, "step_size": 30, "gamma": 0.1}}"#).unwrap();
/// let s = cfg.build()?;
/// assert_eq!(s.lr_at(0), 0.0);
/// assert!((s.lr_at(5) - 0.05).abs() < 1e-15);
/// assert!((s.lr_at(10 + 30) - 0.01).abs() < 1e-15);
/// # Ok::<(), nn_train::TrainError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum ScheduleConfig {
    /// A constant learning rate.
    Constant {
        /// The learning rate `γ₀ > 0`.
        lr: f64,
    },
    /// Multiply by `gamma` every `step_size` steps.
    Step {
        /// The initial learning rate `γ₀ > 0`.
        lr: f64,
        /// Steps between decays (≥ 1).
        step_size: u64,
        /// The decay factor, in `(0, 1)`.
        gamma: f64,
    },
    /// Multiply by `gamma` every step.
    Exponential {
        /// The initial learning rate `γ₀ > 0`.
        lr: f64,
        /// The decay factor per step, in `(0, 1)`.
        gamma: f64,
    },
    /// `γ₀ / (1 + decay·t)`.
    InverseTime {
        /// The initial learning rate `γ₀ > 0`.
        lr: f64,
        /// The decay rate `k > 0`.
        decay: f64,
    },
    /// Cosine annealing from `lr` down to `min_lr` over `period` steps (Loshchilov & Hutter 2017).
    Cosine {
        /// The maximum (initial) learning rate `γ₀ > 0`.
        lr: f64,
        /// The minimum learning rate, in `[0, γ₀]`.
        min_lr: f64,
        /// The length `T_0 ≥ 1` of the (first) cycle.
        period: u64,
        /// `None`: a single cycle; `Some(m)` with `m ≥ 1`: warm restarts, each cycle `m` times longer.
        restart_mult: Option<u64>,
    },
    /// A linear warm-up over `steps` steps in front of another schedule.
    WarmUp {
        /// Length of the warm-up (≥ 1).
        steps: u64,
        /// The fraction of the inner schedule's first learning rate used at step 0, in `[0, 1]`.
        start_factor: f64,
        /// The schedule that follows (its clock starts at 0 when the warm-up ends).
        then: Box<ScheduleConfig>,
    },
    /// Reduce the learning rate when a metric stops improving.
    Plateau(PlateauConfig),
}

/// Whether the monitored metric should go down (a loss) or up (an accuracy).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum PlateauMode {
    /// Lower is better.
    #[default]
    Min,
    /// Higher is better.
    Max,
}

/// How [`PlateauConfig::threshold`] measures a significant improvement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum ThresholdMode {
    /// Relative: better than `best·(1 − threshold)` (min) or `best·(1 + threshold)` (max).
    #[default]
    Rel,
    /// Absolute: better than `best − threshold` (min) or `best + threshold` (max).
    Abs,
}

/// Hyperparameters of reduce-on-plateau, with the semantics of `torch.optim.lr_scheduler.ReduceLROnPlateau`.
///
/// ```text
/// for each observed metric x:
///     if x is better than best (by threshold):  best ← x;  bad ← 0    else  bad ← bad + 1
///     if cooling down:  cooldown_left ← cooldown_left − 1;  bad ← 0
///     if bad > patience:
///         new ← max(lr · factor, min_lr);  if lr − new > eps: lr ← new
///         cooldown_left ← cooldown;  bad ← 0
/// ```
///
/// # Example
/// ```
/// use nn_train::schedule::{PlateauConfig, ScheduleConfig};
/// let mut s = ScheduleConfig::Plateau(PlateauConfig { patience: 1, ..PlateauConfig::new(1.0) }).build()?;
/// assert!(!s.observe(1.0)?); // best = 1
/// assert!(!s.observe(1.0)?); // one bad epoch: not more than the patience
/// assert!(s.observe(1.0)?);  // two bad epochs: reduced
/// assert!((s.lr_at(0) - 0.1).abs() < 1e-15);
/// # Ok::<(), nn_train::TrainError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlateauConfig {
    /// The initial learning rate `γ₀ > 0`.
    pub lr: f64,
    /// Minimise (a loss) or maximise (an accuracy) the metric.
    #[serde(default)]
    pub mode: PlateauMode,
    /// The factor in `(0, 1)` the learning rate is multiplied by (PyTorch default 0.1).
    pub factor: f64,
    /// Bad epochs tolerated before a reduction (PyTorch default 10).
    pub patience: u64,
    /// Minimum significant improvement, `≥ 0` (PyTorch default 1e-4).
    pub threshold: f64,
    /// Relative or absolute threshold (PyTorch default relative).
    #[serde(default)]
    pub threshold_mode: ThresholdMode,
    /// Epochs to wait after a reduction before counting bad epochs again (PyTorch default 0).
    pub cooldown: u64,
    /// The learning rate never goes below this, `≥ 0` (PyTorch default 0).
    pub min_lr: f64,
    /// Reductions smaller than this are skipped, `≥ 0` (PyTorch default 1e-8).
    pub eps: f64,
}

impl PlateauConfig {
    /// PyTorch's defaults with initial learning rate `lr`.
    pub fn new(lr: f64) -> Self {
        Self {
            lr,
            mode: PlateauMode::Min,
            factor: 0.1,
            patience: 10,
            threshold: 1e-4,
            threshold_mode: ThresholdMode::Rel,
            cooldown: 0,
            min_lr: 0.0,
            eps: 1e-8,
        }
    }

    fn validate(&self) -> Result<()> {
        check_positive("lr", self.lr)?;
        check_unit_open("factor", self.factor)?;
        check_non_negative("threshold", self.threshold)?;
        check_non_negative("min_lr", self.min_lr)?;
        check_non_negative("eps", self.eps)?;
        Ok(())
    }

    fn is_better(&self, x: f64, best: f64) -> bool {
        match (self.mode, self.threshold_mode) {
            (PlateauMode::Min, ThresholdMode::Rel) => x < best * (1.0 - self.threshold),
            (PlateauMode::Min, ThresholdMode::Abs) => x < best - self.threshold,
            (PlateauMode::Max, ThresholdMode::Rel) => x > best * (1.0 + self.threshold),
            (PlateauMode::Max, ThresholdMode::Abs) => x > best + self.threshold,
        }
    }
}

/// The running state of a plateau schedule (serde, for checkpoints).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PlateauState {
    /// The current learning rate.
    pub lr: f64,
    /// The best metric seen so far (`None` before the first observation).
    pub best: Option<f64>,
    /// Consecutive observations without a significant improvement.
    pub bad_epochs: u64,
    /// Observations left in the current cooldown.
    pub cooldown_left: u64,
    /// Observations so far.
    pub epochs: u64,
    /// Reductions so far.
    pub reductions: u64,
}

impl ScheduleConfig {
    fn validate(&self) -> Result<()> {
        match self {
            Self::Constant { lr } => {
                check_positive("lr", *lr)?;
            }
            Self::Step {
                lr,
                step_size,
                gamma,
            } => {
                check_positive("lr", *lr)?;
                if *step_size == 0 {
                    return Err(invalid("step_size", step_size, "must be at least 1"));
                }
                check_unit_open("gamma", *gamma)?;
            }
            Self::Exponential { lr, gamma } => {
                check_positive("lr", *lr)?;
                check_unit_open("gamma", *gamma)?;
            }
            Self::InverseTime { lr, decay } => {
                check_positive("lr", *lr)?;
                check_positive("decay", *decay)?;
            }
            Self::Cosine {
                lr,
                min_lr,
                period,
                restart_mult,
            } => {
                check_positive("lr", *lr)?;
                check_non_negative("min_lr", *min_lr)?;
                if min_lr > lr {
                    return Err(invalid("min_lr", min_lr, "must not exceed lr"));
                }
                if *period == 0 {
                    return Err(invalid("period", period, "must be at least 1"));
                }
                if *restart_mult == Some(0) {
                    return Err(invalid("restart_mult", 0, "must be at least 1"));
                }
            }
            Self::WarmUp {
                steps,
                start_factor,
                then,
            } => {
                if *steps == 0 {
                    return Err(invalid("steps", steps, "must be at least 1"));
                }
                check_finite("start_factor", *start_factor)?;
                if !(0.0..=1.0).contains(start_factor) {
                    return Err(invalid("start_factor", start_factor, "must lie in [0, 1]"));
                }
                then.validate()?;
            }
            Self::Plateau(p) => p.validate()?,
        }
        Ok(())
    }

    fn plateau(&self) -> Option<&PlateauConfig> {
        match self {
            Self::Plateau(p) => Some(p),
            Self::WarmUp { then, .. } => then.plateau(),
            _ => None,
        }
    }

    /// Validates the hyperparameters and builds the schedule.
    ///
    /// # Errors
    /// [`TrainError::InvalidHyperparameter`] for a non-positive or non-finite `lr`, a decay factor outside
    /// `(0, 1)`, a zero period, step size or warm-up length, `min_lr` outside `[0, lr]`, and so on.
    pub fn build(&self) -> Result<Schedule> {
        self.validate()?;
        let plateau = self.plateau().map(|p| PlateauState {
            lr: p.lr,
            best: None,
            bad_epochs: 0,
            cooldown_left: 0,
            epochs: 0,
            reductions: 0,
        });
        Ok(Schedule {
            config: self.clone(),
            plateau,
        })
    }

    fn lr(&self, t: u64, plateau: Option<&PlateauState>) -> f64 {
        match self {
            Self::Constant { lr } => *lr,
            Self::Step {
                lr,
                step_size,
                gamma,
            } => lr * gamma.powf((t / step_size) as f64),
            Self::Exponential { lr, gamma } => lr * gamma.powf(t as f64),
            Self::InverseTime { lr, decay } => lr / (1.0 + decay * t as f64),
            Self::Cosine {
                lr,
                min_lr,
                period,
                restart_mult,
            } => {
                let (t_cur, t_len) = match restart_mult {
                    None => (t.min(*period), *period),
                    Some(mult) => {
                        let (mut t_cur, mut len) = (t, *period);
                        while t_cur >= len {
                            t_cur -= len;
                            len = len.saturating_mul(*mult);
                        }
                        (t_cur, len)
                    }
                };
                let phase = std::f64::consts::PI * t_cur as f64 / t_len as f64;
                min_lr + (lr - min_lr) * (1.0 + phase.cos()) / 2.0
            }
            Self::WarmUp {
                steps,
                start_factor,
                then,
            } => {
                if t < *steps {
                    let f = start_factor + (1.0 - start_factor) * t as f64 / *steps as f64;
                    then.lr(0, plateau) * f
                } else {
                    then.lr(t - steps, plateau)
                }
            }
            Self::Plateau(p) => plateau.map_or(p.lr, |s| s.lr),
        }
    }
}

/// A validated learning-rate schedule, with the running state of its plateau part, if any.
///
/// Serialises (for checkpoints) as `{"config": …, "plateau": …}`; deserialising validates again.
///
/// # Example
/// ```
/// use nn_train::schedule::ScheduleConfig;
/// let s = ScheduleConfig::Cosine { lr: 0.1, min_lr: 0.0, period: 10, restart_mult: Some(2) }.build()?;
/// assert!((s.lr_at(5) - 0.05).abs() < 1e-12);   // half of the first period: lr/2
/// assert_eq!(s.lr_at(10), 0.1);                   // warm restart
/// assert!((s.lr_at(20) - 0.05).abs() < 1e-12);  // half of the second, 20-step period
/// # Ok::<(), nn_train::TrainError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "ScheduleParts", into = "ScheduleParts")]
pub struct Schedule {
    config: ScheduleConfig,
    plateau: Option<PlateauState>,
}

/// The serialised form of a [`Schedule`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct ScheduleParts {
    config: ScheduleConfig,
    plateau: Option<PlateauState>,
}

impl From<Schedule> for ScheduleParts {
    fn from(s: Schedule) -> Self {
        Self {
            config: s.config,
            plateau: s.plateau,
        }
    }
}

impl TryFrom<ScheduleParts> for Schedule {
    type Error = TrainError;
    fn try_from(p: ScheduleParts) -> Result<Self> {
        let mut s = p.config.build()?;
        if p.plateau.is_some() != s.plateau.is_some() {
            return Err(TrainError::StateMismatch {
                name: "schedule".into(),
                reason: "plateau state present without a plateau schedule, or missing".into(),
            });
        }
        if let Some(state) = p.plateau {
            check_non_negative("lr", state.lr)?;
            s.plateau = Some(state);
        }
        Ok(s)
    }
}

impl Schedule {
    /// The configuration this schedule was built from.
    pub fn config(&self) -> &ScheduleConfig {
        &self.config
    }

    /// The plateau state, when the schedule has a plateau part.
    pub fn plateau_state(&self) -> Option<&PlateauState> {
        self.plateau.as_ref()
    }

    /// The learning rate at step (or epoch) `t`, counted from 0.
    ///
    /// For a plateau schedule this is the current learning rate, whatever `t` (its clock is the number
    /// of [`Schedule::observe`] calls); inside a warm-up it is scaled as any inner schedule.
    pub fn lr_at(&self, t: u64) -> f64 {
        self.config.lr(t, self.plateau.as_ref())
    }

    /// Reports the monitored metric (once per epoch) to a plateau schedule; returns whether the
    /// learning rate was reduced.
    /// Schedules without a plateau part ignore the metric and return `Ok(false)`.
    ///
    /// # Errors
    /// [`TrainError::NonFinite`] for a NaN or infinite metric (a diverged run is the caller's to handle;
    /// the state is unchanged).
    pub fn observe(&mut self, metric: f64) -> Result<bool> {
        if !metric.is_finite() {
            return Err(TrainError::NonFinite {
                op: "schedule observe",
                value: metric,
            });
        }
        let (Some(cfg), Some(state)) = (self.config.plateau(), self.plateau.as_mut()) else {
            return Ok(false);
        };
        state.epochs += 1;
        match state.best {
            Some(best) if !cfg.is_better(metric, best) => state.bad_epochs += 1,
            _ => {
                state.best = Some(metric);
                state.bad_epochs = 0;
            }
        }
        if state.cooldown_left > 0 {
            state.cooldown_left -= 1;
            state.bad_epochs = 0;
        }
        if state.bad_epochs > cfg.patience {
            let new = (state.lr * cfg.factor).max(cfg.min_lr);
            let reduced = state.lr - new > cfg.eps;
            if reduced {
                state.lr = new;
                state.reductions += 1;
            }
            state.cooldown_left = cfg.cooldown;
            state.bad_epochs = 0;
            return Ok(reduced);
        }
        Ok(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn build(cfg: ScheduleConfig) -> Schedule {
        cfg.build().unwrap()
    }

    /// Checks `(t, expected lr)` pairs to 1e-12 relative.
    fn check(s: &Schedule, cases: &[(u64, f64)]) {
        for &(t, want) in cases {
            let got = s.lr_at(t);
            assert!(
                (got - want).abs() <= 1e-12 * want.abs().max(1e-300),
                "t = {t}: {got} vs {want}"
            );
        }
    }

    #[test]
    fn stateless_schedules_at_known_steps() {
        check(
            &build(ScheduleConfig::Constant { lr: 0.3 }),
            &[(0, 0.3), (1000, 0.3)],
        );
        // Step: 0.1 for t < 10, 0.05 for 10 ≤ t < 20, 0.025 at 25.
        let step = ScheduleConfig::Step {
            lr: 0.1,
            step_size: 10,
            gamma: 0.5,
        };
        check(&build(step), &[(0, 0.1), (9, 0.1), (10, 0.05), (25, 0.025)]);
        // Exponential: 1 · 0.9³ = 0.729.
        let exp = ScheduleConfig::Exponential {
            lr: 1.0,
            gamma: 0.9,
        };
        check(&build(exp), &[(0, 1.0), (3, 0.729)]);
        // 1/t: 1 / (1 + 0.5·4) = 1/3.
        let inv = ScheduleConfig::InverseTime {
            lr: 1.0,
            decay: 0.5,
        };
        check(&build(inv), &[(0, 1.0), (4, 1.0 / 3.0)]);
        // Cosine, no restarts: lr at 0, (lr + min)/2 at half, min at the end and after.
        let cos = ScheduleConfig::Cosine {
            lr: 1.0,
            min_lr: 0.2,
            period: 100,
            restart_mult: None,
        };
        // At a quarter: 0.2 + 0.8·(1 + cos(π/4))/2.
        let quarter = 0.2 + 0.8 * (1.0 + std::f64::consts::FRAC_1_SQRT_2) / 2.0;
        check(
            &build(cos),
            &[(0, 1.0), (25, quarter), (50, 0.6), (100, 0.2), (150, 0.2)],
        );
        // SGDR with mult 1: period 10 repeats; with mult 2, cycles of 10, 20, 40 start at 0, 10, 30.
        let sgdr1 = ScheduleConfig::Cosine {
            lr: 2.0,
            min_lr: 0.0,
            period: 10,
            restart_mult: Some(1),
        };
        check(
            &build(sgdr1),
            &[(5, 1.0), (10, 2.0), (15, 1.0), (1005, 1.0)],
        );
        let sgdr2 = ScheduleConfig::Cosine {
            lr: 2.0,
            min_lr: 0.0,
            period: 10,
            restart_mult: Some(2),
        };
        check(
            &build(sgdr2),
            &[(10, 2.0), (20, 1.0), (30, 2.0), (50, 1.0), (70, 2.0)],
        );
    }

    #[test]
    fn warm_up_ramps_linearly_then_hands_over() {
        let s = build(ScheduleConfig::WarmUp {
            steps: 4,
            start_factor: 0.2,
            then: Box::new(ScheduleConfig::Exponential {
                lr: 1.0,
                gamma: 0.5,
            }),
        });
        // Factors 0.2, 0.4, 0.6, 0.8 of inner(0) = 1, then 1, 0.5, 0.25.
        check(
            &s,
            &[(0, 0.2), (1, 0.4), (3, 0.8), (4, 1.0), (5, 0.5), (6, 0.25)],
        );
    }

    #[test]
    fn plateau_reduces_after_patience_and_respects_cooldown_and_min_lr() {
        let mut s = build(ScheduleConfig::Plateau(PlateauConfig {
            patience: 2,
            cooldown: 1,
            factor: 0.5,
            min_lr: 0.3,
            threshold: 0.1,
            ..PlateauConfig::new(1.0)
        }));
        // Epoch 1: best 10. Epoch 2: 9.5 is not < 10·0.9 = 9 → bad 1. Epoch 3: bad 2. Epoch 4: bad 3 > 2
        // → lr 0.5, cooldown 1. Epoch 5: cooldown eats the bad epoch. Epochs 6, 7: bad 1, 2. Epoch 8:
        // bad 3 → max(0.25, 0.3) = 0.3.
        let mut reduced_at = Vec::new();
        for (epoch, m) in [10.0, 9.5, 9.5, 9.5, 9.5, 9.5, 9.5, 9.5].iter().enumerate() {
            if s.observe(*m).unwrap() {
                reduced_at.push(epoch + 1);
            }
        }
        assert_eq!(reduced_at, vec![4, 8]);
        assert!((s.lr_at(0) - 0.3).abs() < 1e-15);
        // At min_lr, a further "reduction" changes nothing and is not reported.
        for _ in 0..4 {
            assert!(!s.observe(9.5).unwrap());
        }
        assert!(!s.observe(8.0).unwrap());
        assert_eq!(s.plateau_state().unwrap().best, Some(8.0));
        assert!(matches!(
            s.observe(f64::NAN),
            Err(TrainError::NonFinite { .. })
        ));
    }

    #[test]
    fn plateau_max_mode_with_absolute_threshold() {
        let mut s = build(ScheduleConfig::Plateau(PlateauConfig {
            mode: PlateauMode::Max,
            threshold_mode: ThresholdMode::Abs,
            threshold: 0.01,
            patience: 0,
            ..PlateauConfig::new(0.1)
        }));
        assert!(!s.observe(0.5).unwrap()); // best 0.5
        assert!(!s.observe(0.52).unwrap()); // 0.52 > 0.51: better
        assert!(s.observe(0.525).unwrap()); // not > 0.53: bad 1 > patience 0 → reduce
        assert!((s.lr_at(0) - 0.01).abs() < 1e-15);
    }

    #[test]
    fn invalid_hyperparameters_are_typed_errors() {
        let bad = [
            ScheduleConfig::Constant { lr: 0.0 },
            ScheduleConfig::Constant { lr: -1.0 },
            ScheduleConfig::Constant { lr: f64::NAN },
            ScheduleConfig::Step {
                lr: 0.1,
                step_size: 0,
                gamma: 0.5,
            },
            ScheduleConfig::Exponential {
                lr: 0.1,
                gamma: 1.0,
            },
            ScheduleConfig::InverseTime {
                lr: 0.1,
                decay: 0.0,
            },
            ScheduleConfig::Cosine {
                lr: 0.1,
                min_lr: 0.2,
                period: 10,
                restart_mult: None,
            },
            ScheduleConfig::Cosine {
                lr: 0.1,
                min_lr: 0.0,
                period: 10,
                restart_mult: Some(0),
            },
            ScheduleConfig::WarmUp {
                steps: 5,
                start_factor: 1.5,
                then: Box::new(ScheduleConfig::Constant { lr: 0.1 }),
            },
            ScheduleConfig::WarmUp {
                steps: 5,
                start_factor: 0.5,
                then: Box::new(ScheduleConfig::Constant { lr: -0.1 }),
            },
            ScheduleConfig::Plateau(PlateauConfig {
                factor: 1.0,
                ..PlateauConfig::new(0.1)
            }),
        ];
        for cfg in bad {
            assert!(
                matches!(cfg.build(), Err(TrainError::InvalidHyperparameter { .. })),
                "{cfg:?}"
            );
        }
    }

    #[test]
    fn serde_round_trips_keep_the_plateau_state() {
        let cfg = ScheduleConfig::WarmUp {
            steps: 3,
            start_factor: 0.0,
            then: Box::new(ScheduleConfig::Plateau(PlateauConfig {
                patience: 0,
                ..PlateauConfig::new(1.0)
            })),
        };
        let text = serde_json::to_string(&cfg).unwrap();
        assert_eq!(serde_json::from_str::<ScheduleConfig>(&text).unwrap(), cfg);
        let mut s = cfg.build().unwrap();
        s.observe(1.0).unwrap();
        assert!(s.observe(2.0).unwrap());
        let saved = serde_json::to_string(&s).unwrap();
        let back: Schedule = serde_json::from_str(&saved).unwrap();
        assert_eq!(back, s);
        check(&back, &[(0, 0.0), (3, 0.1)]);
        // A tampered config is validated on load.
        let bad = saved.replace("\"factor\":0.1", "\"factor\":2.0");
        assert_ne!(bad, saved);
        assert!(serde_json::from_str::<Schedule>(&bad).is_err());
    }
}
