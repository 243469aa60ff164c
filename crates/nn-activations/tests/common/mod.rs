//! Helpers shared by the integration tests.
#![allow(dead_code)] // Each test binary uses a different subset.

use nn_activations::Activation;

/// Every element-wise activation, with non-default parameters where they have some.
pub const ALL: [Activation; 12] = [
    Activation::Identity,
    Activation::Sigmoid,
    Activation::Tanh,
    Activation::Relu,
    Activation::LeakyRelu { slope: 0.01 },
    Activation::LeakyRelu { slope: -0.3 },
    Activation::Elu { alpha: 1.0 },
    Activation::Gelu,
    Activation::GeluTanh,
    Activation::Silu,
    Activation::Selu,
    Activation::Softplus,
];

/// CS231n's relative error, 0 when both are 0.
pub fn rel_error(a: f64, b: f64) -> f64 {
    let denom = (a.abs() + b.abs()).max(1e-300);
    if a == b {
        0.0
    } else {
        (a - b).abs() / denom
    }
}

/// Whether an analytic derivative `a` matches a central difference `n` taken with step 1e-5:
/// CS231n's relative error below 1e-7, or an absolute difference below 1e-10 where the
/// derivative is near zero (GELU's minimum near x = -0.75, say) and the relative error only
/// measures the finite difference's own noise: truncation `h²·|f'''|/6 ≈ 2e-11` plus rounding
/// `ε·|f|/h ≈ 7e-11` for these functions on [-3, 3].
pub fn grad_close(a: f64, n: f64) -> bool {
    rel_error(a, n) < 1e-7 || (a - n).abs() < 1e-10
}

/// The central difference `(f(x + h) - f(x - h)) / 2h`.
pub fn numeric_derivative(f: impl Fn(f64) -> f64, x: f64, h: f64) -> f64 {
    (f(x + h) - f(x - h)) / (2.0 * h)
}

/// Whether the activation has a kink at 0 (finite differences are invalid there).
pub fn has_kink(act: Activation) -> bool {
    matches!(
        act,
        Activation::Relu | Activation::LeakyRelu { .. } | Activation::Elu { .. } | Activation::Selu
    )
}

/// A deterministic spread of `n` values in `[lo, hi]` (a tiny LCG: tests need varied values).
pub fn spread(n: usize, lo: f64, hi: f64, seed: u64) -> Vec<f64> {
    let mut s = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
    (0..n)
        .map(|_| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            lo + (hi - lo) * ((s >> 11) as f64 / (1u64 << 53) as f64)
        })
        .collect()
}
