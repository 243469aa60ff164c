//! Sanity checks before training (CS231n, "Babysitting the learning process"), each reported as
//! pass/fail with the numbers behind it:
//!
//! 1. **Initial loss.** With regularisation off and small random scores, softmax cross-entropy
//!    starts near `ln C` (the hinge loss near `(C − 1)·Δ`).
//! 2. **Regularisation raises the loss.** The same batch with a large L2 strength gives a larger
//!    total loss.
//! 3. **Overfit a tiny subset.** With regularisation off, a few full-batch steps on ~20 samples reach
//!    100% training accuracy.
//! 4. **Gradient check.** Analytic gradients of an `f64` copy of the network match central
//!    differences on a small batch ([`nn_core::gradcheck`]).
//!
//! # Why the initial-loss tolerance is 25% of `ln C`
//! If the `C` scores of a sample are independent with mean 0 and standard deviation `σ`, a
//! second-order expansion of log-sum-exp gives
//! ```text
//! E[L₀] ≈ ln C + σ²·(C − 1)/(2C)
//! ```
//! so `|L₀ − ln C| ≤ 0.25·ln C` allows `σ` up to `√(0.5·ln C·C/(C − 1))` (1.13 for `C = 10`).
//! That admits a He-initialised output layer after ReLU or BatchNorm + ReLU (`σ ≈ 1`, `L₀ ≈ 2.75`
//! for `C = 10`, as the default [`TrainConfig`] gives), while an init scale a few times too large
//! (`σ ≥ 2`: excess ≥ 1.8) fails. CS231n's "small parameters" (`σ ≪ 1`) give `L₀ ≈ ln C` exactly.
//! A larger excess means the network is confident before it has learnt anything; a loss far below
//! `ln C` means labels leak into the input or the loss is wrong. The measured score standard
//! deviation is reported next to the loss.

use std::collections::BTreeMap;
use std::fmt;

use ndarray::{Array2, Axis};
use nn_core::gradcheck::{compare, TensorCheck};
use nn_core::{Loss, Network, Targets};
use nn_preprocess::Dataset;
use rand::seq::index::sample;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::config::TrainConfig;
use crate::error::{check_positive, invalid, Result, TrainError};
use crate::eval::accuracy;
use crate::lr_find::{apply_update, check_width};
use crate::optim::{Optimizer, OptimizerConfig};

/// Settings of [`run_sanity`].
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SanityConfig {
    /// Samples (the first ones) of the batch that measures the initial loss (default 256).
    pub initial_loss_samples: usize,
    /// Allowed `|L₀ − expected| / expected` (default 0.25; see the module docs).
    pub initial_loss_tolerance: f64,
    /// The large L2 strength of check 2 (default 1e3).
    pub high_reg: f64,
    /// Size of the subset to overfit (the first samples; default 20).
    pub overfit_samples: usize,
    /// Most full-batch steps for the overfit check (default 300).
    pub overfit_steps: usize,
    /// Learning rate of the overfit check (default 1e-2).
    pub overfit_lr: f64,
    /// Update rule of the overfit check (default Adam).
    pub overfit_optimizer: OptimizerConfig,
    /// Samples (the first ones) of the gradient-check batch (default 4).
    pub gradcheck_samples: usize,
    /// Entries checked per parameter tensor, drawn at random (all of a smaller tensor; default 20).
    pub gradcheck_entries: usize,
    /// Largest passing relative error `‖a − n‖ / (‖a‖ + ‖n‖)` per tensor (default 1e-6: in `f64`
    /// with `h = 1e-5` a correct whole network gives ~1e-9 … 1e-8; CS231n calls anything above 1e-2
    /// wrong).
    pub gradcheck_tolerance: f64,
    /// L2 strength during the gradient check, so its gradient is checked too (default 1e-2).
    pub gradcheck_reg: f64,
    /// Central-difference step `h` (default 1e-5).
    pub gradcheck_h: f64,
}

impl Default for SanityConfig {
    fn default() -> Self {
        SanityConfig {
            initial_loss_samples: 256,
            initial_loss_tolerance: 0.25,
            high_reg: 1e3,
            overfit_samples: 20,
            overfit_steps: 300,
            overfit_lr: 1e-2,
            overfit_optimizer: OptimizerConfig::default(),
            gradcheck_samples: 4,
            gradcheck_entries: 20,
            gradcheck_tolerance: 1e-6,
            gradcheck_reg: 1e-2,
            gradcheck_h: 1e-5,
        }
    }
}

impl SanityConfig {
    /// Checks every field.
    ///
    /// # Errors
    /// [`TrainError::InvalidHyperparameter`] naming the field.
    pub fn validate(&self) -> Result<()> {
        for (name, v) in [
            ("initial_loss_samples", self.initial_loss_samples),
            ("overfit_samples", self.overfit_samples),
            ("overfit_steps", self.overfit_steps),
            ("gradcheck_samples", self.gradcheck_samples),
            ("gradcheck_entries", self.gradcheck_entries),
        ] {
            if v == 0 {
                return Err(invalid(name, 0, "must be at least 1"));
            }
        }
        check_positive("initial_loss_tolerance", self.initial_loss_tolerance)?;
        check_positive("high_reg", self.high_reg)?;
        check_positive("overfit_lr", self.overfit_lr)?;
        check_positive("gradcheck_tolerance", self.gradcheck_tolerance)?;
        check_positive("gradcheck_h", self.gradcheck_h)?;
        if !(self.gradcheck_reg.is_finite() && self.gradcheck_reg >= 0.0) {
            return Err(invalid(
                "gradcheck_reg",
                self.gradcheck_reg,
                "must be finite and >= 0",
            ));
        }
        self.overfit_optimizer.build::<f32>()?;
        Ok(())
    }
}

/// Which lecture item a [`Check`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckKind {
    /// The initial loss is close to its expected value (`ln C` for softmax).
    InitialLoss,
    /// A large L2 strength raises the loss.
    RegularisationRaisesLoss,
    /// A tiny subset is overfit to 100% training accuracy.
    OverfitSubset,
    /// Analytic and numerical gradients agree.
    GradientCheck,
}

impl fmt::Display for CheckKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::InitialLoss => "initial loss",
            Self::RegularisationRaisesLoss => "regularisation raises the loss",
            Self::OverfitSubset => "overfit a tiny subset",
            Self::GradientCheck => "gradient check",
        })
    }
}

/// One sanity check's outcome.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Check {
    /// Which check.
    pub kind: CheckKind,
    /// Whether it passed.
    pub passed: bool,
    /// The numbers behind the verdict, by name (e.g. `loss`, `expected`, `tolerance`).
    pub numbers: BTreeMap<String, f64>,
    /// The verdict in words, with the numbers.
    pub detail: String,
}

impl fmt::Display for Check {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let tag = if self.passed { "PASS" } else { "FAIL" };
        write!(f, "[{tag}] {}: {}", self.kind, self.detail)
    }
}

/// All four checks (serde; `Display`: one line per check).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SanityReport {
    /// The checks in lecture order.
    pub checks: Vec<Check>,
}

impl SanityReport {
    /// Whether every check passed.
    pub fn all_passed(&self) -> bool {
        self.checks.iter().all(|c| c.passed)
    }

    /// The check of kind `kind`.
    pub fn get(&self, kind: CheckKind) -> Option<&Check> {
        self.checks.iter().find(|c| c.kind == kind)
    }
}

impl fmt::Display for SanityReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let passed = self.checks.iter().filter(|c| c.passed).count();
        writeln!(f, "sanity checks: {passed}/{} passed", self.checks.len())?;
        for (i, c) in self.checks.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{c}")?;
        }
        Ok(())
    }
}

/// Runs the four checks on the model and loss of `train`, with a network drawn with `rng` (the same
/// initial network for every check).
///
/// # Errors
/// [`TrainError::InvalidHyperparameter`] for a bad `config` or `train`, or a mean-squared-error loss
/// (the checks are for classifiers); [`TrainError::ShapeMismatch`] when the data's width is not the
/// model's; [`TrainError::Core`] from the network (e.g. labels beyond its classes).
///
/// # Example
/// ```
/// use ndarray::Array2;
/// use nn_core::{LayerSpec, NetworkSpec};
/// use nn_preprocess::Dataset;
/// use nn_train::sanity::{run_sanity, CheckKind, SanityConfig};
/// use nn_train::TrainConfig;
/// use rand::SeedableRng;
/// // Four clusters around the corners of a square, with a little jitter.
/// let x = Array2::from_shape_fn((40, 3), |(i, j)| {
///     let angle = std::f32::consts::FRAC_PI_2 * (i % 4) as f32;
///     let jitter = 0.1 * (i as f32 * (j + 1) as f32).sin();
///     [2.0 * angle.cos(), 2.0 * angle.sin(), 0.0][j] + jitter
/// });
/// let y = (0..40).map(|i| (i % 4) as u8).collect();
/// let data = Dataset::new(x, y, (0..4).map(|c| c.to_string()).collect(), None)?;
/// // CS231n's small random weights, N(0, 0.1²).
/// let mut model = NetworkSpec::mlp(3, &[32], 4, &Default::default())?;
/// for layer in &mut model.layers {
///     if let LayerSpec::Linear { init, .. } = layer {
///         *init = serde_json::from_str(r#"{"kind": "normal", "mean": 0.0, "std": 0.1}"#)?;
///     }
/// }
/// let train = TrainConfig { model, ..TrainConfig::default() };
/// let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
/// let report = run_sanity(&train, &data, &SanityConfig::default(), &mut rng)?;
/// assert!(report.all_passed(), "{report}");
/// let initial = report.get(CheckKind::InitialLoss).unwrap();
/// assert!((initial.numbers["loss"] - 4f64.ln()).abs() < 0.05);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn run_sanity<R: Rng + ?Sized>(
    train: &TrainConfig,
    data: &Dataset,
    config: &SanityConfig,
    rng: &mut R,
) -> Result<SanityReport> {
    config.validate()?;
    train.validate()?;
    check_width("run_sanity", train, data)?;
    let classes = train.model.output_dim()?;
    let expected = match train.loss {
        Loss::SoftmaxCrossEntropy { .. } => (classes as f64).ln(),
        Loss::Hinge { margin } => (classes as f64 - 1.0) * margin,
        _ => {
            return Err(invalid(
                "loss",
                "mean_squared_error",
                "sanity checks need a classification loss (softmax or hinge)",
            ))
        }
    };
    let net = Network::<f32>::from_spec(&train.model, rng)?;
    // Fixed dropout masks: both losses of checks 1 and 2 see the same forward pass.
    let mask_seed: u64 = rng.random();
    let (x, y) = first_rows(data, config.initial_loss_samples);
    let mut checks = Vec::with_capacity(4);

    // 1 and 2: the initial loss without and with a large L2 strength, through the training path.
    // One probe serves every forward here (none of them updates a parameter), so the sanity
    // checks hold at most two copies of the network at a time.
    let mut probe = net.clone();
    let scores = probe
        .forward_train(x.view(), &mut ChaCha8Rng::seed_from_u64(mask_seed))?
        .to_owned();
    let score_std = std_dev(scores.iter().map(|&s| f64::from(s)));
    let plain = probe.forward_backward(
        x.view(),
        Targets::Classes(&y),
        &train.loss,
        0.0,
        &mut ChaCha8Rng::seed_from_u64(mask_seed),
    )?;
    let loss0 = f64::from(plain.total());
    let tolerance = config.initial_loss_tolerance * expected;
    let off = (loss0 - expected).abs();
    checks.push(Check {
        kind: CheckKind::InitialLoss,
        passed: loss0.is_finite() && off <= tolerance,
        numbers: numbers(&[
            ("loss", loss0),
            ("expected", expected),
            ("tolerance", tolerance),
            ("score_std", score_std),
            ("samples", y.len() as f64),
        ]),
        detail: format!(
            "{loss0:.4} vs expected {expected:.4} ({}) for C = {classes}: |Δ| = {off:.4} {} {tolerance:.4}; \
             score std {score_std:.3}{}",
            match train.loss {
                Loss::Hinge { .. } => "(C − 1)·Δ",
                _ => "ln C",
            },
            if off <= tolerance { "≤" } else { ">" },
            if loss0 > expected + tolerance {
                " (scores too large at initialisation: use a smaller init scale)"
            } else if loss0 < expected - tolerance {
                " (loss below chance: check for label leakage or a wrong loss)"
            } else {
                ""
            }
        ),
    });

    let reg = probe.forward_backward(
        x.view(),
        Targets::Classes(&y),
        &train.loss,
        config.high_reg as f32,
        &mut ChaCha8Rng::seed_from_u64(mask_seed),
    )?;
    let loss_reg = f64::from(reg.total());
    let raised = loss_reg > loss0;
    checks.push(Check {
        kind: CheckKind::RegularisationRaisesLoss,
        passed: raised,
        numbers: numbers(&[
            ("loss_reg0", loss0),
            ("loss_high_reg", loss_reg),
            ("reg_loss", f64::from(reg.reg_loss)),
            ("high_reg", config.high_reg),
        ]),
        detail: format!(
            "{loss0:.4} at λ = 0 → {loss_reg:.4} at λ = {:.0e} (L2 term {:.4}){}",
            config.high_reg,
            reg.reg_loss,
            if raised {
                ""
            } else {
                ": the L2 term does not reach the loss (or every weight is zero)"
            }
        ),
    });

    drop(probe);
    checks.push(overfit(train, data, config, net.clone(), rng)?);
    checks.push(gradient_check(train, data, config, &net, rng)?);
    Ok(SanityReport { checks })
}

/// Check 3: full-batch steps on the first `overfit_samples` samples with L2 off until every one is
/// classified right (in evaluation mode) or `overfit_steps` ran.
fn overfit<R: Rng + ?Sized>(
    train: &TrainConfig,
    data: &Dataset,
    config: &SanityConfig,
    mut net: Network<f32>,
    rng: &mut R,
) -> Result<Check> {
    let (x, y) = first_rows(data, config.overfit_samples);
    let mut opt = Optimizer::<f32>::new(config.overfit_optimizer)?;
    let mut dropout_rng = ChaCha8Rng::seed_from_u64(rng.random());
    let lr = config.overfit_lr as f32;
    let (mut steps, mut loss, mut acc) = (0usize, f64::NAN, 0.0);
    while steps < config.overfit_steps {
        let r = net.forward_backward(
            x.view(),
            Targets::Classes(&y),
            &train.loss,
            0.0,
            &mut dropout_rng,
        )?;
        loss = f64::from(r.data_loss);
        if !loss.is_finite() {
            break;
        }
        apply_update(&mut net, &mut opt, lr)?;
        steps += 1;
        if steps % 10 == 0 || steps == config.overfit_steps {
            acc = accuracy(net.predict(x.view())?.view(), &y)?;
            if acc == 1.0 {
                break;
            }
        }
    }
    let passed = acc == 1.0;
    Ok(Check {
        kind: CheckKind::OverfitSubset,
        passed,
        numbers: numbers(&[
            ("samples", y.len() as f64),
            ("steps", steps as f64),
            ("max_steps", config.overfit_steps as f64),
            ("train_accuracy", acc),
            ("final_loss", loss),
        ]),
        detail: format!(
            "{:.1}% training accuracy on {} samples after {steps}/{} full-batch steps at lr {:.0e} \
             (data loss {loss:.4}){}",
            100.0 * acc,
            y.len(),
            config.overfit_steps,
            config.overfit_lr,
            if passed {
                ""
            } else {
                ": cannot fit even a tiny subset; too little capacity, too few steps or a bug"
            }
        ),
    })
}

/// Check 4: an `f64` copy of `net`, its analytic gradient on the first `gradcheck_samples` samples
/// against central differences at up to `gradcheck_entries` random entries per tensor.
fn gradient_check<R: Rng + ?Sized>(
    train: &TrainConfig,
    data: &Dataset,
    config: &SanityConfig,
    net: &Network<f32>,
    rng: &mut R,
) -> Result<Check> {
    let mut net64 = to_f64_network(net)?;
    let (x, y) = first_rows(data, config.gradcheck_samples);
    let x = x.mapv(f64::from);
    let seed: u64 = rng.random();
    let reg = config.gradcheck_reg;
    let h = config.gradcheck_h;
    let targets = Targets::Classes(&y);
    net64.forward_backward(
        x.view(),
        targets,
        &train.loss,
        reg,
        &mut ChaCha8Rng::seed_from_u64(seed),
    )?;
    // (name, entries, analytic values) per trainable tensor.
    let mut picks: Vec<(String, Vec<usize>, Vec<f64>)> = Vec::new();
    net64.visit_params_mut(|p| {
        let len = p.grad.len();
        let k = config.gradcheck_entries.min(len);
        let mut idx = sample(rng, len, k).into_vec();
        idx.sort_unstable();
        let g: Vec<f64> = p.grad.iter().copied().collect();
        let analytic = idx.iter().map(|&i| g[i]).collect();
        picks.push((p.name.to_string(), idx, analytic));
    });
    let mut results: Vec<TensorCheck> = Vec::with_capacity(picks.len());
    for (name, idx, analytic) in &picks {
        let mut numeric = Vec::with_capacity(idx.len());
        for &i in idx {
            let old = set_entry(&mut net64, name, i, None);
            set_entry(&mut net64, name, i, Some(old + h));
            let plus = loss_at(&mut net64, &x, &y, &train.loss, reg, seed)?;
            set_entry(&mut net64, name, i, Some(old - h));
            let minus = loss_at(&mut net64, &x, &y, &train.loss, reg, seed)?;
            set_entry(&mut net64, name, i, Some(old));
            numeric.push((plus - minus) / (2.0 * h));
        }
        results.push(compare(name, analytic, &numeric));
    }
    // Tensors whose gradient is zero up to rounding (e.g. a bias right before BatchNorm) pass, and
    // their relative error (noise over noise) is left out of the worst case.
    let zero = 1e-10;
    let tol = config.gradcheck_tolerance;
    let is_zero = |c: &TensorCheck| c.analytic_norm < zero && c.numeric_norm < zero;
    let by_error = |a: &&TensorCheck, b: &&TensorCheck| a.rel_error.total_cmp(&b.rel_error);
    let passed = results.iter().all(|c| c.passes(tol, zero));
    let worst = results
        .iter()
        .filter(|c| !c.passes(tol, zero))
        .max_by(by_error)
        .or_else(|| results.iter().filter(|c| !is_zero(c)).max_by(by_error));
    let max_rel = worst.map_or(0.0, |w| w.rel_error);
    let checked: usize = picks.iter().map(|p| p.1.len()).sum();
    let mut nums = numbers(&[
        ("max_rel_error", max_rel),
        ("tolerance", config.gradcheck_tolerance),
        ("entries", checked as f64),
        ("samples", y.len() as f64),
    ]);
    for c in &results {
        nums.insert(format!("rel_error.{}", c.name), c.rel_error);
    }
    Ok(Check {
        kind: CheckKind::GradientCheck,
        passed,
        numbers: nums,
        detail: format!(
            "worst relative error {:.2e} ({}) over {checked} entries of {} tensors on {} samples, {} {:.0e} \
             (f64, h = {h:.0e}, λ = {reg:.0e}){}",
            worst.map_or(0.0, |w| w.rel_error),
            worst.map_or("-", |w| w.name.as_str()),
            results.len(),
            y.len(),
            if passed { "below" } else { "above" },
            config.gradcheck_tolerance,
            if passed { "" } else { ": a backward pass disagrees with its forward" }
        ),
    })
}

/// An `f64` network with the same spec and the same trainable parameters as `net` (BatchNorm's
/// running statistics are left at their initial values; training-mode forwards do not read them).
fn to_f64_network(net: &Network<f32>) -> Result<Network<f64>> {
    let mut values: BTreeMap<String, Vec<f32>> = BTreeMap::new();
    net.visit_tensors(|t| {
        if t.kind.is_trainable() {
            values.insert(t.name.to_string(), t.value.iter().copied().collect());
        }
    });
    let mut out = Network::<f64>::from_spec(net.spec(), &mut ChaCha8Rng::seed_from_u64(0))?;
    let mut missing = None;
    out.visit_params_mut(|p| match values.get(p.name) {
        Some(v) if v.len() == p.value.len() => {
            let mut value = p.value;
            value
                .iter_mut()
                .zip(v)
                .for_each(|(w, &s)| *w = f64::from(s));
        }
        _ => missing = Some(p.name.to_string()),
    });
    match missing {
        Some(name) => Err(TrainError::StateMismatch {
            name,
            reason: "the f64 copy of the network has a parameter the f32 one lacks".into(),
        }),
        None => Ok(out),
    }
}

/// Sets entry `i` of tensor `name` to `v` (if given) and returns its previous value.
fn set_entry(net: &mut Network<f64>, name: &str, i: usize, v: Option<f64>) -> f64 {
    let mut old = 0.0;
    net.visit_params_mut(|p| {
        if p.name == name {
            let mut value = p.value;
            if let Some(e) = value.iter_mut().nth(i) {
                old = *e;
                if let Some(v) = v {
                    *e = v;
                }
            }
        }
    });
    old
}

/// The training-mode loss `L(x) + ½·reg·Σ‖W‖²` with dropout masks drawn from `seed`.
fn loss_at(
    net: &mut Network<f64>,
    x: &Array2<f64>,
    y: &[usize],
    loss: &Loss,
    reg: f64,
    seed: u64,
) -> Result<f64> {
    let scores = net
        .forward_train(x.view(), &mut ChaCha8Rng::seed_from_u64(seed))?
        .to_owned();
    let (l, _) = loss.loss(scores.view(), Targets::Classes(y))?;
    Ok(l + net.l2_penalty(reg))
}

/// The first `n` rows (at most `N`) as `(X, labels)`.
fn first_rows(data: &Dataset, n: usize) -> (Array2<f32>, Vec<usize>) {
    let n = n.min(data.len());
    let x = data
        .features()
        .slice_axis(Axis(0), (0..n).into())
        .to_owned();
    let y = data.labels()[..n].iter().map(|&l| usize::from(l)).collect();
    (x, y)
}

fn std_dev(xs: impl Iterator<Item = f64>) -> f64 {
    let v: Vec<f64> = xs.collect();
    let n = v.len().max(1) as f64;
    let mean = v.iter().sum::<f64>() / n;
    (v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n).sqrt()
}

fn numbers(pairs: &[(&str, f64)]) -> BTreeMap<String, f64> {
    pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_validation() {
        assert!(SanityConfig::default().validate().is_ok());
        for bad in [
            SanityConfig {
                overfit_samples: 0,
                ..Default::default()
            },
            SanityConfig {
                initial_loss_tolerance: 0.0,
                ..Default::default()
            },
            SanityConfig {
                gradcheck_reg: -1.0,
                ..Default::default()
            },
            SanityConfig {
                overfit_lr: f64::NAN,
                ..Default::default()
            },
        ] {
            assert!(matches!(
                bad.validate(),
                Err(TrainError::InvalidHyperparameter { .. })
            ));
        }
    }

    #[test]
    fn std_dev_of_known_values() {
        // Population standard deviation of 2, 4, 4, 4, 5, 5, 7, 9 is exactly 2.
        assert_eq!(
            std_dev([2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0].into_iter()),
            2.0
        );
    }
}
