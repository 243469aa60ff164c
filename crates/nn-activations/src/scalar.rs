//! Scalar reference formulas, generic over the float type.
//!
//! These are the definitions every fast kernel is tested against, and the path taken for `f64`
//! and for non-contiguous views. Each one is written to be stable for every finite input and to
//! turn a NaN input into a NaN output.

use ndarray::NdFloat;

/// Converts an `f64` constant to `F`.
#[inline(always)]
pub(crate) fn lit<F: NdFloat>(v: f64) -> F {
    // `NumCast` from f64 into f32 or f64 (the only `NdFloat` types) never fails.
    #[allow(clippy::expect_used)]
    F::from(v).expect("f64 converts to every NdFloat type")
}

/// SELU's `λ` (Klambauer et al. 2017, eq. 14).
pub(crate) const SELU_LAMBDA: f64 = 1.050_700_987_355_480_5;
/// SELU's `α` (Klambauer et al. 2017, eq. 14).
pub(crate) const SELU_ALPHA: f64 = 1.673_263_242_354_377_3;
/// `√(2/π)`, the constant of GELU's tanh form.
pub(crate) const SQRT_2_OVER_PI: f64 = 0.797_884_560_802_865_4;
/// The cubic coefficient of GELU's tanh form (Hendrycks & Gimpel 2016).
pub(crate) const GELU_C: f64 = 0.044_715;
/// `1 / √(2π)`, the standard normal density at 0.
pub(crate) const INV_SQRT_2PI: f64 = 0.398_942_280_401_432_7;

/// `(σ(x), σ(-x))` without overflow: `e = exp(-|x|) ∈ (0, 1]`, so neither branch can overflow.
#[inline]
pub(crate) fn sigmoid_pair<F: NdFloat>(x: F) -> (F, F) {
    let one = F::one();
    let e = (-x.abs()).exp();
    let d = one / (one + e);
    if x >= F::zero() {
        (d, e * d)
    } else if x < F::zero() {
        (e * d, d)
    } else {
        (x, x)
    }
}

/// `σ(x) = 1 / (1 + e^-x)`, stable for every input.
#[inline]
pub(crate) fn sigmoid<F: NdFloat>(x: F) -> F {
    sigmoid_pair(x).0
}

/// `ln(1 + e^x) = max(x, 0) + ln(1 + e^-|x|)`, stable for every input.
#[inline]
pub(crate) fn softplus<F: NdFloat>(x: F) -> F {
    let pos = if x > F::zero() { x } else { F::zero() };
    pos + (-x.abs()).exp().ln_1p()
}

/// The standard normal CDF `Φ(x) = ½ erfc(-x/√2)`, accurate to about 1e-15 relative.
#[inline]
pub(crate) fn normal_cdf<F: NdFloat>(x: F) -> F {
    let xf = x.to_f64().unwrap_or(f64::NAN);
    lit(0.5 * erfc(-xf * std::f64::consts::FRAC_1_SQRT_2))
}

/// The standard normal density `φ(x) = e^{-x²/2} / √(2π)`.
#[inline]
pub(crate) fn normal_pdf<F: NdFloat>(x: F) -> F {
    lit::<F>(INV_SQRT_2PI) * (-(x * x) * lit(0.5)).exp()
}

/// The complementary error function in `f64`.
///
/// ```text
/// |x| < 2.5:  erf(x) = 2/√π · e^{-x²} · Σ_n (2x²)^n x / (1·3·…·(2n+1))   (all terms positive)
/// |x| ≥ 2.5:  erfc(x) = e^{-x²}/√π · 1/(x + ½/(x + 1/(x + 3/2/(x + …))))   (continued fraction)
/// ```
pub(crate) fn erfc(x: f64) -> f64 {
    if x.is_nan() {
        return x;
    }
    let ax = x.abs();
    let erfc_abs = if ax < 2.5 {
        let x2 = ax * ax;
        let mut term = ax;
        let mut sum = ax;
        let mut n = 0.0;
        while term > 1e-18 * sum {
            n += 1.0;
            term *= 2.0 * x2 / (2.0 * n + 1.0);
            sum += term;
        }
        1.0 - std::f64::consts::FRAC_2_SQRT_PI * (-x2).exp() * sum
    } else if ax.is_infinite() {
        0.0
    } else {
        let mut f = ax;
        for k in (1..=80).rev() {
            f = ax + (k as f64 * 0.5) / f;
        }
        (-ax * ax).exp() / (std::f64::consts::PI.sqrt() * f)
    };
    if x >= 0.0 {
        erfc_abs
    } else {
        2.0 - erfc_abs
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn erfc_matches_tabulated_values() {
        // Values from Abramowitz & Stegun table 7.1 / scipy.special.erfc.
        let cases = [
            (0.0, 1.0),
            (0.5, 0.479_500_122_186_953_5),
            (1.0, 0.157_299_207_050_285_13),
            (2.0, 0.004_677_734_981_047_266),
            (2.5, 0.000_406_952_017_444_959),
            (3.0, 2.209_049_699_858_544e-5),
            (5.0, 1.537_459_794_428_035e-12),
            (-1.0, 1.842_700_792_949_715),
        ];
        for (x, want) in cases {
            let got = erfc(x);
            assert!(
                ((got - want) / want).abs() < 1e-13,
                "erfc({x}) = {got}, want {want}"
            );
        }
    }

    #[test]
    fn sigmoid_is_stable_at_the_extremes() {
        assert_eq!(sigmoid(-1e30_f32), 0.0);
        assert_eq!(sigmoid(1e30_f32), 1.0);
        assert!(sigmoid(f32::NAN).is_nan());
        assert_eq!(softplus(1e30_f32), 1e30);
        assert!(softplus(f64::NAN).is_nan());
    }
}
