//! RMSProp (Tieleman & Hinton 2012, lecture 6.5 of "Neural Networks for Machine Learning").

use super::{check_step, lit, zip_apply, UpdateRule};
use crate::error::{check_len, check_non_negative, check_positive, check_unit_half_open, Result};
use crate::TrainError;
use ndarray::{ArrayView1, ArrayViewMut1, NdFloat, Zip};
use serde::{Deserialize, Serialize};

/// Whether RMSProp divides by the uncentered second moment or by an estimate of the variance
/// (PyTorch's `centered` flag).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Centering {
    /// Divide by `√v` (the original RMSProp; PyTorch's default).
    #[default]
    Uncentered,
    /// Divide by `√(v − ḡ²)`, with `ḡ` a running mean of the gradient (Graves 2013).
    Centered,
}

/// Hyperparameters of [`RmsProp`]; the defaults are PyTorch's.
///
/// # Example
/// ```
/// use nn_train::optim::RmsPropConfig;
/// let cfg = RmsPropConfig { alpha: 1.5, ..Default::default() };
/// assert!(cfg.build::<f64>().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RmsPropConfig {
    /// Smoothing constant (decay rate) `α` in `[0, 1)` of the squared-gradient average (default 0.99).
    pub alpha: f64,
    /// `ε > 0` added to the root in the denominator (default 1e-8).
    pub eps: f64,
    /// L2 weight decay `λ ≥ 0` (default 0).
    pub weight_decay: f64,
    /// Momentum `μ` in `[0, 1)` on the normalised step (default 0, no momentum buffer).
    pub momentum: f64,
    /// Uncentered (default) or centered.
    pub centering: Centering,
}

impl Default for RmsPropConfig {
    fn default() -> Self {
        Self {
            alpha: 0.99,
            eps: 1e-8,
            weight_decay: 0.0,
            momentum: 0.0,
            centering: Centering::Uncentered,
        }
    }
}

impl RmsPropConfig {
    /// Validates the hyperparameters and builds the rule.
    ///
    /// # Errors
    /// [`TrainError::InvalidHyperparameter`] for `α` or `μ` outside `[0, 1)`, `eps ≤ 0` or a negative
    /// weight decay.
    pub fn build<F: NdFloat>(&self) -> Result<RmsProp<F>> {
        check_unit_half_open("alpha", self.alpha)?;
        check_positive("eps", self.eps)?;
        check_non_negative("weight_decay", self.weight_decay)?;
        check_unit_half_open("momentum", self.momentum)?;
        Ok(RmsProp {
            config: *self,
            alpha: lit(self.alpha),
            eps: lit(self.eps),
            weight_decay: lit(self.weight_decay),
            momentum: lit(self.momentum),
        })
    }
}

/// RMSProp, as `torch.optim.RMSprop` documents it.
///
/// ```text
/// g ← ∇θ + λθ                                 (L2 weight decay λ)
/// v ← α·v + (1 − α)·g²                        (v starts at 0)
/// ṽ ← v                                       (uncentered)
/// ḡ ← α·ḡ + (1 − α)·g;  ṽ ← v − ḡ²            (centered; ḡ starts at 0)
/// if μ > 0:  b ← μ·b + g / (√ṽ + ε);  θ ← θ − γ·b
/// else:      θ ← θ − γ·g / (√ṽ + ε)
/// ```
/// CS231n's `cache = decay·cache + (1 − decay)·dx²; x += −γ·dx / (√cache + ε)` is the uncentered form
/// without momentum, with `decay = α`.
///
/// # Example
/// ```
/// use ndarray::array;
/// use nn_train::optim::{RmsPropConfig, UpdateRule};
/// let rule = RmsPropConfig { alpha: 0.9, eps: 1e-12, ..Default::default() }.build::<f64>()?;
/// let mut w = array![0.0];
/// let mut s = rule.init_state(1);
/// rule.step(0.01, w.view_mut(), array![2.0].view(), &mut s)?; // v = 0.4, step = 0.01·2/√0.4
/// assert!((w[0] + 0.02 / 0.4f64.sqrt()).abs() < 1e-10);
/// # Ok::<(), nn_train::TrainError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RmsProp<F> {
    config: RmsPropConfig,
    alpha: F,
    eps: F,
    weight_decay: F,
    momentum: F,
}

impl<F: NdFloat> RmsProp<F> {
    /// The validated configuration this rule was built from.
    pub fn config(&self) -> RmsPropConfig {
        self.config
    }
}

/// Per-parameter state of [`RmsProp`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RmsPropState<F> {
    /// Running average of the squared gradient `v`.
    pub square_avg: Vec<F>,
    /// Running average of the gradient `ḡ` (centered variant only).
    pub grad_avg: Option<Vec<F>>,
    /// Momentum buffer `b` (only when `μ > 0`).
    pub momentum_buffer: Option<Vec<F>>,
    /// The number of steps taken.
    pub step: u64,
}

impl<F: NdFloat> UpdateRule<F> for RmsProp<F> {
    type State = RmsPropState<F>;

    fn init_state(&self, len: usize) -> RmsPropState<F> {
        RmsPropState {
            square_avg: vec![F::zero(); len],
            grad_avg: (self.config.centering == Centering::Centered).then(|| vec![F::zero(); len]),
            momentum_buffer: (self.config.momentum > 0.0).then(|| vec![F::zero(); len]),
            step: 0,
        }
    }

    fn step(
        &self,
        lr: F,
        param: ArrayViewMut1<'_, F>,
        grad: ArrayView1<'_, F>,
        state: &mut RmsPropState<F>,
    ) -> Result<()> {
        check_step("rmsprop step", lr, &param, &grad)?;
        let len = param.len();
        check_len("rmsprop state", len, state.square_avg.len())?;
        let centered = self.config.centering == Centering::Centered;
        let with_momentum = self.config.momentum > 0.0;
        if state.grad_avg.is_some() != centered || state.momentum_buffer.is_some() != with_momentum
        {
            return Err(TrainError::StateMismatch {
                name: String::new(),
                reason: "the RMSProp state was made for another centering or momentum".into(),
            });
        }
        for buf in [&state.grad_avg, &state.momentum_buffer]
            .into_iter()
            .flatten()
        {
            check_len("rmsprop state", len, buf.len())?;
        }
        state.step += 1;
        let (a, wd, eps, mu) = (self.alpha, self.weight_decay, self.eps, self.momentum);
        let one = F::one();
        let v = ArrayViewMut1::from(&mut state.square_avg[..]);
        // Returns the weight-decayed gradient and updates v.
        let pre = move |p: F, g: F, v: &mut F| {
            let g = g + wd * p;
            *v = a * *v + (one - a) * g * g;
            g
        };
        match (&mut state.grad_avg, &mut state.momentum_buffer) {
            (None, None) => zip_apply!(
                len,
                Zip::from(param).and(grad).and(v),
                |p: &mut F, &g: &F, v: &mut F| {
                    let g = pre(*p, g, v);
                    *p -= lr * g / (v.sqrt() + eps);
                }
            ),
            (None, Some(b)) => zip_apply!(
                len,
                Zip::from(param)
                    .and(grad)
                    .and(v)
                    .and(ArrayViewMut1::from(&mut b[..])),
                |p: &mut F, &g: &F, v: &mut F, b: &mut F| {
                    let g = pre(*p, g, v);
                    *b = mu * *b + g / (v.sqrt() + eps);
                    *p -= lr * *b;
                }
            ),
            (Some(m), None) => zip_apply!(
                len,
                Zip::from(param)
                    .and(grad)
                    .and(v)
                    .and(ArrayViewMut1::from(&mut m[..])),
                |p: &mut F, &g: &F, v: &mut F, m: &mut F| {
                    let g = pre(*p, g, v);
                    *m = a * *m + (one - a) * g;
                    *p -= lr * g / ((*v - *m * *m).sqrt() + eps);
                }
            ),
            (Some(m), Some(b)) => zip_apply!(
                len,
                Zip::from(param)
                    .and(grad)
                    .and(v)
                    .and(ArrayViewMut1::from(&mut m[..]))
                    .and(ArrayViewMut1::from(&mut b[..])),
                |p: &mut F, &g: &F, v: &mut F, m: &mut F, b: &mut F| {
                    let g = pre(*p, g, v);
                    *m = a * *m + (one - a) * g;
                    *b = mu * *b + g / ((*v - *m * *m).sqrt() + eps);
                    *p -= lr * *b;
                }
            ),
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    fn one_step(cfg: RmsPropConfig, w0: f64, g: f64, lr: f64) -> f64 {
        let rule = cfg.build::<f64>().unwrap();
        let mut w = array![w0];
        let mut s = rule.init_state(1);
        rule.step(lr, w.view_mut(), array![g].view(), &mut s)
            .unwrap();
        w[0]
    }

    #[test]
    fn hand_computed_first_steps() {
        let base = RmsPropConfig {
            alpha: 0.5,
            eps: 1e-300,
            ..Default::default()
        };
        // Uncentered: v = 0.5·4 = 2, w = 1 − 0.1·2/√2 = 1 − 0.1·√2.
        assert!((one_step(base, 1.0, 2.0, 0.1) - (1.0 - 0.1 * 2f64.sqrt())).abs() < 1e-12);
        // Centered: v = 2, ḡ = 1, ṽ = 2 − 1 = 1, w = 1 − 0.1·2/1 = 0.8.
        let centered = RmsPropConfig {
            centering: Centering::Centered,
            ..base
        };
        assert!((one_step(centered, 1.0, 2.0, 0.1) - 0.8).abs() < 1e-12);
        // Weight decay λ = 1 with w = 1, g = 1: g' = 2, the same as the first case.
        let wd = RmsPropConfig {
            weight_decay: 1.0,
            ..base
        };
        assert!((one_step(wd, 1.0, 1.0, 0.1) - (1.0 - 0.1 * 2f64.sqrt())).abs() < 1e-12);
    }

    #[test]
    fn momentum_accumulates_normalised_steps() {
        // α = 0.5, μ = 0.5, g = 2 twice: v1 = 2, b1 = 2/√2 = √2; v2 = 1 + 2 = 3, b2 = √2/2 + 2/√3.
        let rule = RmsPropConfig {
            alpha: 0.5,
            eps: 1e-300,
            momentum: 0.5,
            ..Default::default()
        }
        .build::<f64>()
        .unwrap();
        let mut w = array![0.0];
        let mut s = rule.init_state(1);
        for _ in 0..2 {
            rule.step(1.0, w.view_mut(), array![2.0].view(), &mut s)
                .unwrap();
        }
        let expected = -(2f64.sqrt() + 2f64.sqrt() / 2.0 + 2.0 / 3f64.sqrt());
        assert!((w[0] - expected).abs() < 1e-12);
    }
}
