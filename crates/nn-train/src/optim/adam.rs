//! Adam (Kingma & Ba 2015) and AdamW (Loshchilov & Hutter 2019).

use super::adam_f32::{self, as_f32, as_f32_mut, AdamStep};
use super::{check_step, lit, parallel, zip_apply, UpdateRule};
use crate::error::{check_len, check_non_negative, check_positive, check_unit_half_open, Result};
use ndarray::{ArrayView1, ArrayViewMut1, NdFloat, Zip};
use serde::{Deserialize, Serialize};

/// How [`Adam`] applies weight decay `λ`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WeightDecay {
    /// L2 regularisation: `λθ` is added to the gradient before the moments (`torch.optim.Adam`).
    L2,
    /// Decoupled: `θ ← θ − γλθ` before the Adam step, outside the moments (`torch.optim.AdamW`).
    Decoupled,
}

/// Hyperparameters of Adam with L2 weight decay; the defaults are PyTorch's (`β = (0.9, 0.999)`,
/// `ε = 1e-8`, `λ = 0`).
///
/// # Example
/// ```
/// use nn_train::optim::AdamConfig;
/// let cfg = AdamConfig { beta2: 1.0, ..Default::default() };
/// assert!(cfg.build::<f32>().is_err()); // β₂ must lie in [0, 1)
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AdamConfig {
    /// Decay `β₁ ∈ [0, 1)` of the first-moment average (default 0.9).
    pub beta1: f64,
    /// Decay `β₂ ∈ [0, 1)` of the second-moment average (default 0.999).
    pub beta2: f64,
    /// `ε > 0` added to the root in the denominator (default 1e-8).
    pub eps: f64,
    /// L2 weight decay `λ ≥ 0`, added to the gradient (default 0).
    pub weight_decay: f64,
}

impl Default for AdamConfig {
    fn default() -> Self {
        Self {
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.0,
        }
    }
}

/// Hyperparameters of AdamW (Adam with decoupled weight decay); the defaults are PyTorch's
/// (`β = (0.9, 0.999)`, `ε = 1e-8`, `λ = 0.01`).
///
/// # Example
/// ```
/// use nn_train::optim::{AdamWConfig, WeightDecay};
/// let rule = AdamWConfig::default().build::<f64>()?;
/// assert_eq!(rule.weight_decay_mode(), WeightDecay::Decoupled);
/// # Ok::<(), nn_train::TrainError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AdamWConfig {
    /// Decay `β₁ ∈ [0, 1)` of the first-moment average (default 0.9).
    pub beta1: f64,
    /// Decay `β₂ ∈ [0, 1)` of the second-moment average (default 0.999).
    pub beta2: f64,
    /// `ε > 0` added to the root in the denominator (default 1e-8).
    pub eps: f64,
    /// Decoupled weight decay `λ ≥ 0` (default 0.01); each step shrinks `θ` by the factor `1 − γλ`.
    pub weight_decay: f64,
}

impl Default for AdamWConfig {
    fn default() -> Self {
        Self {
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.01,
        }
    }
}

fn build<F: NdFloat>(
    beta1: f64,
    beta2: f64,
    eps: f64,
    weight_decay: f64,
    mode: WeightDecay,
) -> Result<Adam<F>> {
    check_unit_half_open("beta1", beta1)?;
    check_unit_half_open("beta2", beta2)?;
    check_positive("eps", eps)?;
    check_non_negative("weight_decay", weight_decay)?;
    Ok(Adam {
        beta1,
        beta2,
        eps: lit(eps),
        weight_decay: lit(weight_decay),
        mode,
    })
}

impl AdamConfig {
    /// Validates the hyperparameters and builds the rule (with [`WeightDecay::L2`]).
    ///
    /// # Errors
    /// [`TrainError::InvalidHyperparameter`](crate::TrainError::InvalidHyperparameter) for a `β` outside
    /// `[0, 1)`, `eps ≤ 0` or a negative weight decay.
    pub fn build<F: NdFloat>(&self) -> Result<Adam<F>> {
        build(
            self.beta1,
            self.beta2,
            self.eps,
            self.weight_decay,
            WeightDecay::L2,
        )
    }
}

impl AdamWConfig {
    /// Validates the hyperparameters and builds the rule (with [`WeightDecay::Decoupled`]).
    ///
    /// # Errors
    /// As [`AdamConfig::build`].
    pub fn build<F: NdFloat>(&self) -> Result<Adam<F>> {
        build(
            self.beta1,
            self.beta2,
            self.eps,
            self.weight_decay,
            WeightDecay::Decoupled,
        )
    }
}

/// Adam with bias correction, as `torch.optim.Adam` documents it, or AdamW as `torch.optim.AdamW`
/// documents it (the two differ only in where weight decay `λ` enters).
///
/// ```text
/// t ← t + 1
/// Adam:   g ← ∇θ + λθ                         (L2, inside the moments)
/// AdamW:  g ← ∇θ;  θ ← θ − γλθ                (decoupled, outside the moments)
/// m ← β₁·m + (1 − β₁)·g                       (m, v start at 0)
/// v ← β₂·v + (1 − β₂)·g²
/// m̂ ← m / (1 − β₁ᵗ);  v̂ ← v / (1 − β₂ᵗ)       (bias correction)
/// θ ← θ − γ·m̂ / (√v̂ + ε)
/// ```
/// On the first step `m̂ = g` and `v̂ = g²`, so every element moves by `γ·g/(|g| + ε) ≈ ±γ` whatever the
/// gradient's scale; without the correction the step would be `(1 − β₁)/√(1 − β₂) ≈ 3.2` times smaller
/// for the defaults.
///
/// # Example
/// ```
/// use ndarray::array;
/// use nn_train::optim::{AdamConfig, UpdateRule};
/// let adam = AdamConfig::default().build::<f64>()?;
/// let mut w = array![1.0, 1.0];
/// let mut s = adam.init_state(2);
/// adam.step(0.01, w.view_mut(), array![1e-3, -50.0].view(), &mut s)?;
/// assert!((w[0] - 0.99).abs() < 1e-6 && (w[1] - 1.01).abs() < 1e-6); // both moved by ≈ lr
/// # Ok::<(), nn_train::TrainError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Adam<F> {
    beta1: f64,
    beta2: f64,
    eps: F,
    weight_decay: F,
    mode: WeightDecay,
}

impl<F: NdFloat> Adam<F> {
    /// Whether weight decay is L2 (Adam) or decoupled (AdamW).
    pub fn weight_decay_mode(&self) -> WeightDecay {
        self.mode
    }
}

/// Per-parameter state of [`Adam`] (and AdamW).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AdamState<F> {
    /// First-moment average `m`.
    pub m: Vec<F>,
    /// Second-moment average `v`.
    pub v: Vec<F>,
    /// The number of steps taken `t` (the exponent of the bias correction).
    pub step: u64,
}

impl<F: NdFloat> UpdateRule<F> for Adam<F> {
    type State = AdamState<F>;

    fn init_state(&self, len: usize) -> AdamState<F> {
        AdamState {
            m: vec![F::zero(); len],
            v: vec![F::zero(); len],
            step: 0,
        }
    }

    fn step(
        &self,
        lr: F,
        param: ArrayViewMut1<'_, F>,
        grad: ArrayView1<'_, F>,
        state: &mut AdamState<F>,
    ) -> Result<()> {
        check_step("adam step", lr, &param, &grad)?;
        let len = param.len();
        check_len("adam state", len, state.m.len())?;
        check_len("adam state", len, state.v.len())?;
        state.step += 1;
        // The corrections are computed in f64 whatever F is; t is exact in f64 up to 2⁵³ steps.
        let t = state.step as f64;
        let bc1 = 1.0 - self.beta1.powf(t);
        let bc2 = 1.0 - self.beta2.powf(t);
        let (l2, shrink) = match self.mode {
            WeightDecay::L2 => (self.weight_decay, F::one()),
            WeightDecay::Decoupled => (F::zero(), F::one() - lr * self.weight_decay),
        };
        let k = AdamStep {
            l2,
            shrink,
            b1: lit(self.beta1),
            b2: lit(self.beta2),
            c1: lit(1.0 - self.beta1),
            c2: lit(1.0 - self.beta2),
            inv_bc1: lit(1.0 / bc1),
            inv_bc2: lit(1.0 / bc2),
            lr,
            eps: self.eps,
        };
        let mut param = param;
        if let (Some(k32), Some(p), Some(g), Some(m), Some(v)) = (
            k.as_f32(),
            param.as_slice_mut().and_then(as_f32_mut),
            grad.as_slice().and_then(as_f32),
            as_f32_mut(&mut state.m),
            as_f32_mut(&mut state.v),
        ) {
            adam_f32::update(&k32, p, g, m, v, parallel(len));
            return Ok(());
        }
        let m = ArrayViewMut1::from(&mut state.m[..]);
        let v = ArrayViewMut1::from(&mut state.v[..]);
        zip_apply!(
            len,
            Zip::from(param).and(grad).and(m).and(v),
            |p: &mut F, &g: &F, m: &mut F, v: &mut F| k.scalar(p, g, m, v)
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn first_step_has_magnitude_lr_whatever_the_gradient_scale() {
        // Bias correction makes m̂ = g, v̂ = g² on step 1, so Δθ = −γ·g/(|g| + ε) ≈ −γ·sign(g).
        let adam = AdamConfig::default().build::<f64>().unwrap();
        for scale in [1e-4, 1.0, 1e4] {
            let mut w = array![0.0, 0.0];
            let mut s = adam.init_state(2);
            adam.step(
                0.1,
                w.view_mut(),
                array![scale, -3.0 * scale].view(),
                &mut s,
            )
            .unwrap();
            assert!(
                (w[0] + 0.1).abs() < 1e-4 * 0.1 + 1e-12,
                "scale {scale}: {w}"
            );
            assert!(
                (w[1] - 0.1).abs() < 1e-4 * 0.1 + 1e-12,
                "scale {scale}: {w}"
            );
        }
    }

    #[test]
    fn hand_computed_second_step() {
        // β₁ = 0.5, β₂ = 0.75, ε = 1e-300 (negligible), γ = 1, g = 1 then 3, θ₀ = 0.
        // Step 1: Δ = −1.  Step 2: m = 0.5·0.5 + 0.5·3 = 1.75, v = 0.75·0.25 + 0.25·9 = 2.4375,
        // m̂ = 1.75/0.75 = 7/3, v̂ = 2.4375/0.4375 = 39/7, Δ = −(7/3)/√(39/7).
        let adam = AdamConfig {
            beta1: 0.5,
            beta2: 0.75,
            eps: 1e-300,
            weight_decay: 0.0,
        }
        .build::<f64>()
        .unwrap();
        let mut w = array![0.0];
        let mut s = adam.init_state(1);
        adam.step(1.0, w.view_mut(), array![1.0].view(), &mut s)
            .unwrap();
        adam.step(1.0, w.view_mut(), array![3.0].view(), &mut s)
            .unwrap();
        let expected = -1.0 - (7.0 / 3.0) / (39.0f64 / 7.0).sqrt();
        assert!((w[0] - expected).abs() < 1e-12, "{} vs {expected}", w[0]);
        assert_eq!(s.step, 2);
    }

    #[test]
    fn adamw_decay_is_decoupled_from_the_moments() {
        // θ₀ = 2, g = 0.5, γ = 0.1, λ = 0.1, ε = 1e-300, defaults for β.
        // AdamW: θ ← 2·(1 − 0.01) = 1.98, then the Adam step of g = 0.5 is −0.1·0.5/0.5 = −0.1 → 1.88.
        // Adam + L2: g' = 0.5 + 0.1·2 = 0.7, and the first step is −0.1·0.7/0.7 = −0.1 → 1.9: the decay
        // vanishes inside the normalisation.
        let adamw = AdamWConfig {
            weight_decay: 0.1,
            eps: 1e-300,
            ..Default::default()
        }
        .build::<f64>()
        .unwrap();
        let adam_l2 = AdamConfig {
            weight_decay: 0.1,
            eps: 1e-300,
            ..Default::default()
        }
        .build::<f64>()
        .unwrap();
        let mut a = array![2.0];
        let mut b = array![2.0];
        let (mut sa, mut sb) = (adamw.init_state(1), adam_l2.init_state(1));
        adamw
            .step(0.1, a.view_mut(), array![0.5].view(), &mut sa)
            .unwrap();
        adam_l2
            .step(0.1, b.view_mut(), array![0.5].view(), &mut sb)
            .unwrap();
        assert!((a[0] - 1.88).abs() < 1e-12, "{a}");
        assert!((b[0] - 1.9).abs() < 1e-12, "{b}");
        // The moments of AdamW saw only the raw gradient.
        assert!((sa.m[0] - 0.05).abs() < 1e-15);
        assert!((sb.m[0] - 0.07).abs() < 1e-15);
    }
}
