//! Stochastic gradient descent: plain, with (classic) momentum, and with Nesterov momentum.

use super::{check_step, lit, zip_apply, UpdateRule};
use crate::error::{check_len, check_non_negative, check_unit_half_open, Result, TrainError};
use ndarray::{ArrayView1, ArrayViewMut1, NdFloat, Zip};
use serde::{Deserialize, Serialize};

/// Which momentum SGD uses (PyTorch's `momentum`, `dampening` and `nesterov` arguments as one option).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Momentum {
    /// Plain SGD: `θ ← θ − γ g`.
    #[default]
    None,
    /// Classic (heavy-ball) momentum `μ` with dampening `τ` (PyTorch `nesterov=False`).
    Classic {
        /// The momentum `μ`, in `[0, 1)` (0.9 is usual).
        momentum: f64,
        /// The dampening `τ`, in `[0, 1)` (PyTorch's default is 0).
        dampening: f64,
    },
    /// Nesterov momentum `μ` (PyTorch `nesterov=True`, which requires zero dampening).
    Nesterov {
        /// The momentum `μ`, in `[0, 1)` (0.9 is usual).
        momentum: f64,
    },
}

/// Hyperparameters of [`Sgd`] (everything but the learning rate, which the loop passes to each step).
///
/// # Example
/// ```
/// use nn_train::optim::{Momentum, SgdConfig};
/// let cfg = SgdConfig { momentum: Momentum::Nesterov { momentum: 0.9 }, weight_decay: 5e-4 };
/// let sgd = cfg.build::<f32>()?;
/// assert_eq!(sgd.config(), cfg);
/// # Ok::<(), nn_train::TrainError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct SgdConfig {
    /// Plain, classic or Nesterov momentum (default: none).
    pub momentum: Momentum,
    /// L2 weight decay `λ ≥ 0`, added to the gradient as `λθ` (default 0).
    pub weight_decay: f64,
}

impl SgdConfig {
    /// Validates the hyperparameters and builds the rule.
    ///
    /// # Errors
    /// [`TrainError::InvalidHyperparameter`] when `weight_decay` is negative or not finite, or a momentum
    /// or dampening lies outside `[0, 1)`.
    pub fn build<F: NdFloat>(&self) -> Result<Sgd<F>> {
        check_non_negative("weight_decay", self.weight_decay)?;
        let (momentum, dampening, nesterov) = match self.momentum {
            Momentum::None => (0.0, 0.0, false),
            Momentum::Classic {
                momentum,
                dampening,
            } => (
                check_unit_half_open("momentum", momentum)?,
                check_unit_half_open("dampening", dampening)?,
                false,
            ),
            Momentum::Nesterov { momentum } => {
                (check_unit_half_open("momentum", momentum)?, 0.0, true)
            }
        };
        Ok(Sgd {
            config: *self,
            momentum: lit(momentum),
            one_minus_dampening: lit(1.0 - dampening),
            weight_decay: lit(self.weight_decay),
            uses_buffer: !matches!(self.momentum, Momentum::None),
            nesterov,
        })
    }
}

/// SGD, with optional classic or Nesterov momentum and L2 weight decay, as `torch.optim.SGD` documents it.
///
/// ```text
/// g ← ∇θ + λθ                                 (L2 weight decay λ)
/// with momentum μ, dampening τ:
///     b ← g                 on the first step
///     b ← μ·b + (1 − τ)·g   afterwards
///     g ← g + μ·b           (Nesterov)   or   g ← b   (classic)
/// θ ← θ − γ·g                                 (learning rate γ)
/// ```
/// The Nesterov form is PyTorch's (and Sutskever et al. 2013's, rewritten in terms of the lookahead
/// parameters); CS231n writes the same update as `v = μv − γ∇; x += −μ·v_prev + (1 + μ)·v`.
///
/// # Example
/// ```
/// use ndarray::array;
/// use nn_train::optim::{Momentum, SgdConfig, UpdateRule};
/// let sgd = SgdConfig { momentum: Momentum::Classic { momentum: 0.9, dampening: 0.0 }, weight_decay: 0.0 }
///     .build::<f64>()?;
/// let mut w = array![0.0];
/// let mut s = sgd.init_state(1);
/// sgd.step(0.1, w.view_mut(), array![1.0].view(), &mut s)?; // b = 1,   w = −0.1
/// sgd.step(0.1, w.view_mut(), array![1.0].view(), &mut s)?; // b = 1.9, w = −0.29
/// assert!((w[0] + 0.29).abs() < 1e-12);
/// # Ok::<(), nn_train::TrainError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sgd<F> {
    config: SgdConfig,
    momentum: F,
    one_minus_dampening: F,
    weight_decay: F,
    uses_buffer: bool,
    nesterov: bool,
}

impl<F: NdFloat> Sgd<F> {
    /// The validated configuration this rule was built from.
    pub fn config(&self) -> SgdConfig {
        self.config
    }
}

/// Per-parameter state of [`Sgd`]: the momentum buffer `b`, created on the first step (as in PyTorch).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SgdState<F> {
    /// The momentum buffer `b` (same length as the parameter); `None` before the first step and for
    /// plain SGD.
    pub momentum_buffer: Option<Vec<F>>,
}

impl<F: NdFloat> UpdateRule<F> for Sgd<F> {
    type State = SgdState<F>;

    fn init_state(&self, _len: usize) -> SgdState<F> {
        SgdState {
            momentum_buffer: None,
        }
    }

    fn step(
        &self,
        lr: F,
        param: ArrayViewMut1<'_, F>,
        grad: ArrayView1<'_, F>,
        state: &mut SgdState<F>,
    ) -> Result<()> {
        check_step("sgd step", lr, &param, &grad)?;
        let len = param.len();
        let wd = self.weight_decay;
        if !self.uses_buffer {
            if state.momentum_buffer.is_some() {
                return Err(TrainError::StateMismatch {
                    name: String::new(),
                    reason: "plain SGD has no momentum buffer".into(),
                });
            }
            zip_apply!(len, Zip::from(param).and(grad), |p: &mut F, &g: &F| {
                *p -= lr * (g + wd * *p);
            });
            return Ok(());
        }
        let (mu, damp, nesterov) = (self.momentum, self.one_minus_dampening, self.nesterov);
        let first = state.momentum_buffer.is_none();
        let buf = state
            .momentum_buffer
            .get_or_insert_with(|| vec![F::zero(); len]);
        if let Err(e) = check_len("sgd momentum buffer", len, buf.len()) {
            if first {
                state.momentum_buffer = None;
            }
            return Err(e);
        }
        let b = ArrayViewMut1::from(&mut buf[..]);
        zip_apply!(
            len,
            Zip::from(param).and(grad).and(b),
            |p: &mut F, &g: &F, b: &mut F| {
                let g = g + wd * *p;
                *b = if first { g } else { mu * *b + damp * g };
                let d = if nesterov { g + mu * *b } else { *b };
                *p -= lr * d;
            }
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    fn run(cfg: SgdConfig, lr: f64, w0: f64, grads: &[f64]) -> f64 {
        // The gradient sequence is given (not recomputed from w) so each value is easy to follow by hand.
        let sgd = cfg.build::<f64>().unwrap();
        let mut w = array![w0];
        let mut s = sgd.init_state(1);
        for &g in grads {
            sgd.step(lr, w.view_mut(), array![g].view(), &mut s)
                .unwrap();
        }
        w[0]
    }

    #[test]
    fn hand_computed_steps() {
        // Plain with weight decay: g = 2 + 0.1·1 = 2.1; w = 1 − 0.5·2.1 = −0.05.
        let plain = SgdConfig {
            momentum: Momentum::None,
            weight_decay: 0.1,
        };
        assert!((run(plain, 0.5, 1.0, &[2.0]) + 0.05).abs() < 1e-15);
        // Classic, μ = 0.9, τ = 0.5: b1 = 1, w1 = −0.1; b2 = 0.9·1 + 0.5·2 = 1.9, w2 = −0.1 − 0.19 = −0.29.
        let classic = SgdConfig {
            momentum: Momentum::Classic {
                momentum: 0.9,
                dampening: 0.5,
            },
            weight_decay: 0.0,
        };
        assert!((run(classic, 0.1, 0.0, &[1.0, 2.0]) + 0.29).abs() < 1e-15);
        // Nesterov, μ = 0.9: b1 = 1, d1 = 1 + 0.9 = 1.9, w1 = −0.19;
        // b2 = 0.9 + 1 = 1.9, d2 = 1 + 0.9·1.9 = 2.71, w2 = −0.19 − 0.271 = −0.461.
        let nesterov = SgdConfig {
            momentum: Momentum::Nesterov { momentum: 0.9 },
            weight_decay: 0.0,
        };
        assert!((run(nesterov, 0.1, 0.0, &[1.0, 1.0]) + 0.461).abs() < 1e-15);
    }

    #[test]
    fn invalid_hyperparameters_are_rejected() {
        for cfg in [
            SgdConfig {
                weight_decay: -1.0,
                ..Default::default()
            },
            SgdConfig {
                momentum: Momentum::Nesterov { momentum: 1.0 },
                weight_decay: 0.0,
            },
            SgdConfig {
                momentum: Momentum::Classic {
                    momentum: 0.9,
                    dampening: f64::NAN,
                },
                weight_decay: 0.0,
            },
        ] {
            assert!(matches!(
                cfg.build::<f64>(),
                Err(TrainError::InvalidHyperparameter { .. })
            ));
        }
    }

    #[test]
    fn length_mismatch_is_an_error_and_changes_nothing() {
        let sgd = SgdConfig {
            momentum: Momentum::Nesterov { momentum: 0.9 },
            weight_decay: 0.0,
        }
        .build::<f64>()
        .unwrap();
        let mut w = array![1.0, 2.0];
        let mut s = sgd.init_state(2);
        let r = sgd.step(0.1, w.view_mut(), array![1.0].view(), &mut s);
        assert!(matches!(r, Err(TrainError::ShapeMismatch { .. })));
        assert_eq!(w, array![1.0, 2.0]);
        assert!(s.momentum_buffer.is_none());
        let r = sgd.step(-0.1, w.view_mut(), array![1.0, 1.0].view(), &mut s);
        assert!(matches!(r, Err(TrainError::InvalidHyperparameter { .. })));
    }
}
