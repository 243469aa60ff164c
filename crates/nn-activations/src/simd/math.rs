//! Branch-free `f32` math that LLVM vectorises: `exp`, `expm1` on `x ≤ 0`, `tanh`, `σ` and the
//! normal CDF, written with `Arith::fma` so the same code compiles with and without FMA.
//!
//! Every function maps NaN to NaN and never overflows on a finite input.

// The coefficients are kept digit for digit as published (Cephes, Numerical Recipes).
#![allow(clippy::excessive_precision)]

/// Multiply-add: a real FMA where the target has one, `a * b + c` otherwise (without FMA,
/// `f32::mul_add` is a slow library call).
pub(crate) trait Arith {
    /// `a * b + c`.
    fn fma(a: f32, b: f32, c: f32) -> f32;
}

/// Fused multiply-add (only inside `#[target_feature(enable = "fma")]` functions).
pub(crate) struct Fused;
/// Separate multiply and add (the portable fallback).
pub(crate) struct Unfused;

impl Arith for Fused {
    #[inline(always)]
    fn fma(a: f32, b: f32, c: f32) -> f32 {
        a.mul_add(b, c)
    }
}

impl Arith for Unfused {
    #[inline(always)]
    fn fma(a: f32, b: f32, c: f32) -> f32 {
        a * b + c
    }
}

/// `1.5 · 2^23`: adding it rounds an `f32` of magnitude below `2^22` to the nearest integer, which
/// then sits in the low mantissa bits.
const MAGIC: f32 = 12_582_912.0;
const MAGIC_BITS: i32 = 0x4B40_0000;
const LOG2E: f32 = std::f32::consts::LOG2_E;
/// `ln 2` split in a short high part (exact products with small integers) and the rest (Cephes).
const LN2_HI: f32 = 0.693_359_375;
const LN2_LO: f32 = -2.121_944_4e-4;

/// `x` with NaN kept: `x < lo ? lo : x` (a NaN compares false and passes through).
#[inline(always)]
fn at_least(x: f32, lo: f32) -> f32 {
    if x < lo {
        lo
    } else {
        x
    }
}

#[inline(always)]
fn at_most(x: f32, hi: f32) -> f32 {
    if x > hi {
        hi
    } else {
        x
    }
}

/// `2^n` for an integer `n` in `[-126, 127]`, by building the exponent bits.
#[inline(always)]
fn pow2i(n: i32) -> f32 {
    f32::from_bits(((n + 127) as u32) << 23)
}

/// Range reduction `x = n·ln 2 + r`, `|r| ≤ ln2/2`; returns `(n, r)`.
#[inline(always)]
fn reduce<A: Arith>(x: f32) -> (i32, f32) {
    let k = A::fma(x, LOG2E, MAGIC);
    let n = k - MAGIC;
    let r = A::fma(n, -LN2_HI, x);
    let r = A::fma(n, -LN2_LO, r);
    ((k.to_bits() as i32).wrapping_sub(MAGIC_BITS), r)
}

/// `e^r - 1` for `|r| ≤ ln2/2` as `r + r²·Q(r)` (Cephes `expf` minimax coefficients).
#[inline(always)]
fn expm1_reduced<A: Arith>(r: f32) -> f32 {
    let mut q = 1.987_569_1e-4;
    q = A::fma(q, r, 1.398_199_9e-3);
    q = A::fma(q, r, 8.333_452e-3);
    q = A::fma(q, r, 4.166_579_6e-2);
    q = A::fma(q, r, 1.666_666_5e-1);
    q = A::fma(q, r, 5.000_000_1e-1);
    A::fma(q, r * r, r)
}

/// `e^x`, within a few ulp of the correctly rounded value; `0` below `-104`, `inf` above 88.73.
#[inline(always)]
pub(crate) fn exp<A: Arith>(x: f32) -> f32 {
    let x = at_most(at_least(x, -104.0), 89.0);
    let (n, r) = reduce::<A>(x);
    let p = expm1_reduced::<A>(r) + 1.0;
    // Two factors keep each exponent in the normal range for n in [-150, 128].
    let n1 = n >> 1;
    p * pow2i(n1) * pow2i(n - n1)
}

/// `e^x - 1` for `x ≤ 0` (and NaN), accurate near 0 where `exp(x) - 1` cancels.
#[inline(always)]
pub(crate) fn expm1_nonpositive<A: Arith>(x: f32) -> f32 {
    // Below -20, e^x - 1 rounds to -1 in f32.
    let x = at_least(x, -20.0);
    let (n, r) = reduce::<A>(x);
    let u = expm1_reduced::<A>(r);
    let s = pow2i(n);
    A::fma(s, u, s - 1.0)
}

/// `(σ(x), σ(-x))` from one `exp(-|x|)`, which lies in `(0, 1]` and cannot overflow.
#[inline(always)]
pub(crate) fn sigmoid_pair<A: Arith>(x: f32) -> (f32, f32) {
    let e = exp::<A>(-x.abs());
    let d = 1.0 / (1.0 + e);
    let ed = e * d;
    if x >= 0.0 {
        (d, ed)
    } else {
        (ed, d)
    }
}

/// `σ(x)`.
#[inline(always)]
pub(crate) fn sigmoid<A: Arith>(x: f32) -> f32 {
    let e = exp::<A>(-x.abs());
    let d = 1.0 / (1.0 + e);
    if x >= 0.0 {
        d
    } else {
        e * d
    }
}

/// `tanh x = -m / (2 + m)·sign(x)` with `m = expm1(-2|x|)`: no cancellation near 0 (where
/// `m ≈ -2|x|`), no overflow for large `|x|` (where `m → -1`).
#[inline(always)]
pub(crate) fn tanh<A: Arith>(x: f32) -> f32 {
    let m = expm1_nonpositive::<A>(-2.0 * x.abs());
    (-m / (2.0 + m)).copysign(x)
}

/// `tanh'(x) = 1 - tanh² x = 4e/(1 + e)²` with `e = exp(-2|x|)`, which has no cancellation
/// anywhere (unlike `1 - t²` when `t` is close to ±1).
#[inline(always)]
pub(crate) fn tanh_derivative<A: Arith>(x: f32) -> f32 {
    let e = exp::<A>(-2.0 * x.abs());
    let q = 1.0 + e;
    4.0 * e / (q * q)
}

/// `ln(1 + e)` for `e ∈ [0, 1]` (and NaN): Cephes `logf` on `u = 1 + e`, then Goldberg's
/// correction `log(u) · e / (u - 1)`, which restores the bits of `e` lost in rounding `1 + e`.
#[inline(always)]
pub(crate) fn log1p_unit<A: Arith>(e: f32) -> f32 {
    let u = 1.0 + e;
    let big = u > std::f32::consts::SQRT_2;
    let m = if big { 0.5 * u } else { u };
    let n = if big { 1.0 } else { 0.0 };
    let x = m - 1.0;
    let z = x * x;
    let mut p = 7.037_683_629_2e-2;
    p = A::fma(p, x, -1.151_461_031_0e-1);
    p = A::fma(p, x, 1.167_699_874_0e-1);
    p = A::fma(p, x, -1.242_014_084_6e-1);
    p = A::fma(p, x, 1.424_932_278_7e-1);
    p = A::fma(p, x, -1.666_805_766_5e-1);
    p = A::fma(p, x, 2.000_071_476_5e-1);
    p = A::fma(p, x, -2.499_999_399_3e-1);
    p = A::fma(p, x, 3.333_333_117_4e-1);
    let mut y = x * z * p;
    y = A::fma(n, LN2_LO, y);
    y = A::fma(-0.5, z, y);
    let log_u = A::fma(n, LN2_HI, x + y);
    // u - 1 is exact (Sterbenz); where it is 0, ln(1 + e) = e to within rounding.
    let d = u - 1.0;
    if d == 0.0 {
        e
    } else {
        log_u * (e / d)
    }
}

/// `softplus(x) = max(x, 0) + ln(1 + e^-|x|)`.
#[inline(always)]
pub(crate) fn softplus<A: Arith>(x: f32) -> f32 {
    let pos = if x > 0.0 { x } else { 0.0 };
    pos + log1p_unit::<A>(exp::<A>(-x.abs()))
}

/// The standard normal CDF `Φ(x) = ½ erfc(-x/√2)`, with `erfc` from Numerical Recipes' `erfcc`
/// (relative error below 1.2e-7 everywhere): `erfc(z) = t·exp(-z² + P(t))`, `t = 1/(1 + z/2)`.
#[inline(always)]
pub(crate) fn normal_cdf<A: Arith>(x: f32) -> f32 {
    // Φ(±20) is 0 or 1 in f32; clamping keeps x² finite (a NaN passes through).
    let xs = x;
    let x = x.clamp(-20.0, 20.0);
    let z = x.abs() * std::f32::consts::FRAC_1_SQRT_2;
    let t = 1.0 / A::fma(0.5, z, 1.0);
    let mut p = 0.170_872_77;
    p = A::fma(p, t, -0.822_152_23);
    p = A::fma(p, t, 1.488_515_9);
    p = A::fma(p, t, -1.135_203_98);
    p = A::fma(p, t, 0.278_868_07);
    p = A::fma(p, t, -0.186_288_06);
    p = A::fma(p, t, 0.096_784_18);
    p = A::fma(p, t, 0.374_091_96);
    p = A::fma(p, t, 1.000_023_68);
    p = A::fma(p, t, -1.265_512_23);
    // exp(-x²/2 + p) with x² = hi + lo split exactly by FMA: -hi/2 is exact, and the rounding
    // of the sum goes into a first-order correction, so the tail keeps its relative accuracy.
    let hi = x * x;
    let lo = A::fma(x, x, -hi);
    let a = -0.5 * hi;
    let b = A::fma(-0.5, lo, p);
    let sum = a + b;
    let corr = (a - sum) + b;
    let e = exp::<A>(sum);
    let half_erfc = 0.5 * t * A::fma(e, corr, e);
    if xs < 0.0 {
        half_erfc
    } else {
        1.0 - half_erfc
    }
}

/// The standard normal density `φ(x) = e^{-x²/2}/√(2π)`.
#[inline(always)]
pub(crate) fn normal_pdf<A: Arith>(x: f32) -> f32 {
    let x = x.clamp(-20.0, 20.0);
    let hi = x * x;
    let lo = A::fma(x, x, -hi);
    let e = exp::<A>(-0.5 * hi);
    0.398_942_3 * A::fma(e, -0.5 * lo, e)
}
