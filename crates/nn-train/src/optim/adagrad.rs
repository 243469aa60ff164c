//! AdaGrad (Duchi, Hazan & Singer 2011).

use super::{check_step, lit, zip_apply, UpdateRule};
use crate::error::{check_len, check_non_negative, check_positive, Result};
use ndarray::{ArrayView1, ArrayViewMut1, NdFloat, Zip};
use serde::{Deserialize, Serialize};

/// Hyperparameters of [`Adagrad`]; the defaults are PyTorch's.
///
/// # Example
/// ```
/// use nn_train::optim::AdagradConfig;
/// let cfg = AdagradConfig { eps: -1.0, ..Default::default() };
/// assert!(cfg.build::<f64>().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AdagradConfig {
    /// Learning-rate decay `η ≥ 0`: step `t` uses `γ / (1 + (t − 1)η)` (default 0).
    pub lr_decay: f64,
    /// L2 weight decay `λ ≥ 0` (default 0).
    pub weight_decay: f64,
    /// Initial value `τ ≥ 0` of the sum of squared gradients (default 0).
    pub initial_accumulator_value: f64,
    /// `ε > 0` added to the root in the denominator (default 1e-10).
    pub eps: f64,
}

impl Default for AdagradConfig {
    fn default() -> Self {
        Self {
            lr_decay: 0.0,
            weight_decay: 0.0,
            initial_accumulator_value: 0.0,
            eps: 1e-10,
        }
    }
}

impl AdagradConfig {
    /// Validates the hyperparameters and builds the rule.
    ///
    /// # Errors
    /// [`TrainError::InvalidHyperparameter`](crate::TrainError::InvalidHyperparameter) for a negative or
    /// non-finite value, or `eps ≤ 0`.
    pub fn build<F: NdFloat>(&self) -> Result<Adagrad<F>> {
        check_non_negative("lr_decay", self.lr_decay)?;
        check_non_negative("weight_decay", self.weight_decay)?;
        check_non_negative("initial_accumulator_value", self.initial_accumulator_value)?;
        check_positive("eps", self.eps)?;
        Ok(Adagrad {
            config: *self,
            weight_decay: lit(self.weight_decay),
            eps: lit(self.eps),
        })
    }
}

/// AdaGrad, as `torch.optim.Adagrad` documents it.
///
/// ```text
/// t ← t + 1
/// γ̃ ← γ / (1 + (t − 1)·η)                     (learning-rate decay η)
/// g ← ∇θ + λθ                                 (L2 weight decay λ)
/// s ← s + g²                                  (s starts at τ, the initial accumulator value)
/// θ ← θ − γ̃ · g / (√s + ε)
/// ```
///
/// # Example
/// ```
/// use ndarray::array;
/// use nn_train::optim::{AdagradConfig, UpdateRule};
/// let rule = AdagradConfig::default().build::<f64>()?;
/// let mut w = array![1.0];
/// let mut s = rule.init_state(1);
/// rule.step(0.1, w.view_mut(), array![4.0].view(), &mut s)?; // s = 16, w = 1 − 0.1·4/4
/// assert!((w[0] - 0.9).abs() < 1e-9);
/// # Ok::<(), nn_train::TrainError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Adagrad<F> {
    config: AdagradConfig,
    weight_decay: F,
    eps: F,
}

impl<F: NdFloat> Adagrad<F> {
    /// The validated configuration this rule was built from.
    pub fn config(&self) -> AdagradConfig {
        self.config
    }
}

/// Per-parameter state of [`Adagrad`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AdagradState<F> {
    /// The running sum of squared gradients `s` (same length as the parameter).
    pub sum: Vec<F>,
    /// The number of steps taken `t`.
    pub step: u64,
}

impl<F: NdFloat> UpdateRule<F> for Adagrad<F> {
    type State = AdagradState<F>;

    fn init_state(&self, len: usize) -> AdagradState<F> {
        AdagradState {
            sum: vec![lit(self.config.initial_accumulator_value); len],
            step: 0,
        }
    }

    fn step(
        &self,
        lr: F,
        param: ArrayViewMut1<'_, F>,
        grad: ArrayView1<'_, F>,
        state: &mut AdagradState<F>,
    ) -> Result<()> {
        check_step("adagrad step", lr, &param, &grad)?;
        let len = param.len();
        check_len("adagrad state", len, state.sum.len())?;
        state.step += 1;
        let clr: F = lr / lit::<F>(1.0 + (state.step - 1) as f64 * self.config.lr_decay);
        let (wd, eps) = (self.weight_decay, self.eps);
        let s = ArrayViewMut1::from(&mut state.sum[..]);
        zip_apply!(
            len,
            Zip::from(param).and(grad).and(s),
            |p: &mut F, &g: &F, s: &mut F| {
                let g = g + wd * *p;
                *s += g * g;
                *p -= clr * g / (s.sqrt() + eps);
            }
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn two_hand_computed_steps_with_decay_and_accumulator() {
        // τ = 1, η = 1, λ = 0: step 1: s = 1 + 9 = 10, w = 0 − 1·3/√10;
        // step 2: γ̃ = 1/2, s = 10 + 16 = 26, w −= 0.5·4/√26.  (eps = 1e-10 is negligible at 1e-9.)
        let rule = AdagradConfig {
            lr_decay: 1.0,
            initial_accumulator_value: 1.0,
            ..Default::default()
        }
        .build::<f64>()
        .unwrap();
        let mut w = array![0.0];
        let mut s = rule.init_state(1);
        rule.step(1.0, w.view_mut(), array![3.0].view(), &mut s)
            .unwrap();
        rule.step(1.0, w.view_mut(), array![4.0].view(), &mut s)
            .unwrap();
        let expected = -3.0 / 10f64.sqrt() - 2.0 / 26f64.sqrt();
        assert!((w[0] - expected).abs() < 1e-9, "{} vs {expected}", w[0]);
        assert_eq!(s.step, 2);
        assert_eq!(s.sum, vec![26.0]);
    }
}
