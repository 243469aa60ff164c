//! The `f32` kernels over contiguous slices, compiled three times: for AVX-512, for AVX2 + FMA
//! (both with `#[target_feature]`, chosen once at run time) and portably.
//!
//! The element formulas are written once, generic over [`math::Arith`], and inlined into simple
//! loops that LLVM vectorises for the enabled features. Results are the same whatever the
//! chunking or thread count; the SIMD and portable versions may differ in the last ulp because
//! only the former fuse multiply-adds.

pub(crate) mod math;

use crate::activation::{Activation, Saved};
use crate::scalar::{GELU_C, SELU_ALPHA, SELU_LAMBDA, SQRT_2_OVER_PI};
use math::{Arith, Fused, Unfused};
use std::sync::atomic::{AtomicU8, Ordering};

/// The instruction set the kernels run with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SimdLevel {
    /// Plain code for the build target (SSE2 on x86-64), no FMA.
    Portable,
    /// 256-bit AVX2 with fused multiply-add.
    Avx2Fma,
    /// 512-bit AVX-512F with fused multiply-add.
    Avx512,
}

static LEVEL: AtomicU8 = AtomicU8::new(0);

/// The instruction set the `f32` kernels use on this machine (detected once, then cached).
///
/// Setting the environment variable `NN_ACTIVATIONS_SIMD` to `portable` or `avx2` before the
/// first call caps it, which is how the tests compare the versions.
pub fn simd_level() -> SimdLevel {
    match LEVEL.load(Ordering::Relaxed) {
        1 => SimdLevel::Portable,
        2 => SimdLevel::Avx2Fma,
        3 => SimdLevel::Avx512,
        _ => {
            let level = detect();
            let code = match level {
                SimdLevel::Portable => 1,
                SimdLevel::Avx2Fma => 2,
                SimdLevel::Avx512 => 3,
            };
            LEVEL.store(code, Ordering::Relaxed);
            level
        }
    }
}

fn detect() -> SimdLevel {
    let cap = std::env::var("NN_ACTIVATIONS_SIMD").unwrap_or_default();
    if cap == "portable" {
        return SimdLevel::Portable;
    }
    #[cfg(target_arch = "x86_64")]
    {
        let avx2 = std::arch::is_x86_feature_detected!("avx2")
            && std::arch::is_x86_feature_detected!("fma");
        if avx2 && cap != "avx2" && std::arch::is_x86_feature_detected!("avx512f") {
            return SimdLevel::Avx512;
        }
        if avx2 {
            return SimdLevel::Avx2Fma;
        }
    }
    SimdLevel::Portable
}

/// A unary loop's operands: `(x, y)` or one slice updated in place.
trait UnaryIo {
    fn run(self, f: impl Fn(f32) -> f32);
}

impl UnaryIo for (&[f32], &mut [f32]) {
    #[inline(always)]
    fn run(self, f: impl Fn(f32) -> f32) {
        for (o, &v) in self.1.iter_mut().zip(self.0) {
            *o = f(v);
        }
    }
}

impl UnaryIo for &mut [f32] {
    #[inline(always)]
    fn run(self, f: impl Fn(f32) -> f32) {
        for v in self.iter_mut() {
            *v = f(*v);
        }
    }
}

/// A backward loop's operands: `(dout, saved, dx)` or `(dout → dx, saved)` in place.
trait BinaryIo {
    fn run(self, f: impl Fn(f32, f32) -> f32);
}

impl BinaryIo for (&[f32], &[f32], &mut [f32]) {
    #[inline(always)]
    fn run(self, f: impl Fn(f32, f32) -> f32) {
        for ((o, &d), &s) in self.2.iter_mut().zip(self.0).zip(self.1) {
            *o = f(d, s);
        }
    }
}

impl BinaryIo for (&mut [f32], &[f32]) {
    #[inline(always)]
    fn run(self, f: impl Fn(f32, f32) -> f32) {
        for (o, &s) in self.0.iter_mut().zip(self.1) {
            *o = f(*o, s);
        }
    }
}

/// `1` where `x > 0`, `lo` where `x ≤ 0`, NaN for NaN.
#[inline(always)]
fn step(x: f32, lo: f32) -> f32 {
    if x > 0.0 {
        1.0
    } else if x <= 0.0 {
        lo
    } else {
        x
    }
}

#[inline(always)]
fn forward_body<A: Arith, U: UnaryIo>(act: Activation, io: U) {
    match act {
        Activation::Identity => io.run(|x| x),
        Activation::Relu => io.run(|x| if x < 0.0 { 0.0 } else { x }),
        Activation::LeakyRelu { slope } => {
            let slope = slope as f32;
            io.run(|x| if x > 0.0 { x } else { slope * x })
        }
        Activation::Elu { alpha } => {
            let alpha = alpha as f32;
            io.run(|x| {
                if x > 0.0 {
                    x
                } else {
                    alpha * math::expm1_nonpositive::<A>(x)
                }
            })
        }
        Activation::Selu => {
            let (l, la) = (SELU_LAMBDA as f32, (SELU_LAMBDA * SELU_ALPHA) as f32);
            io.run(|x| {
                if x > 0.0 {
                    l * x
                } else {
                    la * math::expm1_nonpositive::<A>(x)
                }
            })
        }
        Activation::Sigmoid => io.run(math::sigmoid::<A>),
        Activation::Tanh => io.run(math::tanh::<A>),
        Activation::Gelu => io.run(|x| x * math::normal_cdf::<A>(x)),
        Activation::GeluTanh => {
            let (c2, c) = ((2.0 * SQRT_2_OVER_PI) as f32, GELU_C as f32);
            io.run(|x| x * math::sigmoid::<A>(c2 * A::fma(c * x, x * x, x)))
        }
        Activation::Silu => io.run(|x| x * math::sigmoid::<A>(x)),
        Activation::Softplus => io.run(math::softplus::<A>),
    }
}

#[inline(always)]
fn backward_body<A: Arith, B: BinaryIo>(act: Activation, kind: Saved, io: B) {
    use Saved::{Input, Output};
    match (act, kind) {
        (Activation::Identity, _) => io.run(|d, _| d),
        (Activation::Relu, _) => io.run(|d, s| d * step(s, 0.0)),
        (Activation::LeakyRelu { slope }, _) => {
            let slope = slope as f32;
            io.run(|d, s| d * step(s, slope))
        }
        (Activation::Elu { alpha }, Input) => {
            let alpha = alpha as f32;
            io.run(|d, x| {
                d * if x > 0.0 {
                    1.0
                } else {
                    alpha * math::exp::<A>(x)
                }
            })
        }
        (Activation::Elu { alpha }, Output) => {
            let alpha = alpha as f32;
            io.run(|d, y| d * if y > 0.0 { 1.0 } else { y + alpha })
        }
        (Activation::Selu, Input) => {
            let (l, la) = (SELU_LAMBDA as f32, (SELU_LAMBDA * SELU_ALPHA) as f32);
            io.run(|d, x| d * if x > 0.0 { l } else { la * math::exp::<A>(x) })
        }
        (Activation::Selu, Output) => {
            let (l, la) = (SELU_LAMBDA as f32, (SELU_LAMBDA * SELU_ALPHA) as f32);
            io.run(|d, y| d * if y > 0.0 { l } else { y + la })
        }
        (Activation::Sigmoid, Input) => io.run(|d, x| {
            let (s, sn) = math::sigmoid_pair::<A>(x);
            d * s * sn
        }),
        (Activation::Sigmoid, Output) => io.run(|d, y| d * (y - y * y)),
        (Activation::Tanh, Input) => io.run(|d, x| d * math::tanh_derivative::<A>(x)),
        (Activation::Tanh, Output) => io.run(|d, y| d * A::fma(-y, y, 1.0)),
        (Activation::Softplus, Input) => io.run(|d, x| d * math::sigmoid::<A>(x)),
        (Activation::Softplus, Output) => io.run(|d, y| d * -math::expm1_nonpositive::<A>(-y)),
        (Activation::Gelu, _) => {
            io.run(|d, x| d * A::fma(x, math::normal_pdf::<A>(x), math::normal_cdf::<A>(x)))
        }
        (Activation::GeluTanh, _) => {
            let (c2, c, c3) = (
                (2.0 * SQRT_2_OVER_PI) as f32,
                GELU_C as f32,
                (3.0 * GELU_C) as f32,
            );
            let k = (2.0 * SQRT_2_OVER_PI) as f32;
            io.run(move |d, x| {
                let (s, sn) = math::sigmoid_pair::<A>(c2 * A::fma(c * x, x * x, x));
                // Beyond |x| = 1e4 the second term is exactly 0; clamping keeps x³ finite.
                let xc = x.clamp(-1e4, 1e4);
                let du = k * A::fma(c3 * xc, xc, 1.0);
                d * A::fma(xc * s * sn, du, s)
            })
        }
        (Activation::Silu, _) => io.run(|d, x| {
            let (s, sn) = math::sigmoid_pair::<A>(x);
            d * A::fma(x * s, sn, s)
        }),
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx2,fma")]
unsafe fn forward_avx512<U: UnaryIo>(act: Activation, io: U) {
    forward_body::<Fused, U>(act, io)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn forward_avx2<U: UnaryIo>(act: Activation, io: U) {
    forward_body::<Fused, U>(act, io)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx2,fma")]
unsafe fn backward_avx512<B: BinaryIo>(act: Activation, kind: Saved, io: B) {
    backward_body::<Fused, B>(act, kind, io)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn backward_avx2<B: BinaryIo>(act: Activation, kind: Saved, io: B) {
    backward_body::<Fused, B>(act, kind, io)
}

#[inline(always)]
fn run_forward<U: UnaryIo>(act: Activation, io: U) {
    #[cfg(target_arch = "x86_64")]
    match simd_level() {
        // SAFETY: `detect` reports AVX-512 only after `is_x86_feature_detected!` confirmed
        // avx512f, avx2 and fma on this machine.
        SimdLevel::Avx512 => return unsafe { forward_avx512(act, io) },
        // SAFETY: `detect` confirmed avx2 and fma at run time.
        SimdLevel::Avx2Fma => return unsafe { forward_avx2(act, io) },
        SimdLevel::Portable => {}
    }
    forward_body::<Unfused, U>(act, io)
}

#[inline(always)]
fn run_backward<B: BinaryIo>(act: Activation, kind: Saved, io: B) {
    #[cfg(target_arch = "x86_64")]
    match simd_level() {
        // SAFETY: as in `run_forward`.
        SimdLevel::Avx512 => return unsafe { backward_avx512(act, kind, io) },
        // SAFETY: as in `run_forward`.
        SimdLevel::Avx2Fma => return unsafe { backward_avx2(act, kind, io) },
        SimdLevel::Portable => {}
    }
    backward_body::<Unfused, B>(act, kind, io)
}

/// `y = f(x)` over equal-length `f32` slices.
pub(crate) fn forward(act: Activation, x: &[f32], y: &mut [f32]) {
    run_forward(act, (x, y));
}

/// `x = f(x)` over an `f32` slice.
pub(crate) fn forward_inplace(act: Activation, x: &mut [f32]) {
    run_forward(act, x);
}

/// `dx = dout · f'(saved)` over equal-length `f32` slices (`kind` already checked).
pub(crate) fn backward(act: Activation, kind: Saved, dout: &[f32], saved: &[f32], dx: &mut [f32]) {
    run_backward(act, kind, (dout, saved, dx));
}

/// `g = g · f'(saved)` over equal-length `f32` slices (`kind` already checked).
pub(crate) fn backward_inplace(act: Activation, kind: Saved, g: &mut [f32], saved: &[f32]) {
    run_backward(act, kind, (g, saved));
}

#[cfg(test)]
mod tests {
    use super::math::{self, Arith, Fused, Unfused};

    /// Distance in units in the last place between an `f32` and the exact value (as `f64`).
    fn ulps(got: f32, exact: f64) -> f64 {
        let want = exact as f32;
        if got == want {
            return 0.0;
        }
        let ulp = (f32::from_bits(want.abs().to_bits() + 1) - want.abs()) as f64;
        ((got as f64 - exact) / ulp).abs()
    }

    fn sweep() -> impl Iterator<Item = f32> {
        // Every 97th f32 bit pattern in [-104, 89]: about 10 million values, all binades.
        (0..u32::MAX / 97)
            .map(|i| f32::from_bits(i * 97))
            .filter(|x| x.is_finite() && (-104.0..89.0).contains(x))
    }

    fn max_exp_ulps<A: Arith>() -> f64 {
        sweep()
            .map(|x| {
                let exact = (x as f64).exp();
                if exact < f32::MIN_POSITIVE as f64 {
                    // Subnormal results: compare absolutely against the smallest normal's ulp.
                    return ((math::exp::<A>(x) as f64 - exact) / 1.4e-45)
                        .abs()
                        .min(2.0);
                }
                if exact > f32::MAX as f64 {
                    return if math::exp::<A>(x).is_infinite() {
                        0.0
                    } else {
                        f64::INFINITY
                    };
                }
                ulps(math::exp::<A>(x), exact)
            })
            .fold(0.0, f64::max)
    }

    #[test]
    fn exp_is_within_a_few_ulp_of_f64_exp() {
        let fused = max_exp_ulps::<Fused>();
        let unfused = max_exp_ulps::<Unfused>();
        assert!(fused <= 3.0, "fused exp: {fused} ulp");
        assert!(unfused <= 3.0, "unfused exp: {unfused} ulp");
    }

    #[test]
    fn expm1_tanh_and_sigmoid_are_accurate() {
        let mut worst = [0.0_f64; 3];
        for x in sweep().filter(|x| x.abs() < 30.0) {
            let xf = x as f64;
            if x <= 0.0 {
                worst[0] = worst[0].max(ulps(math::expm1_nonpositive::<Fused>(x), xf.exp_m1()));
            }
            worst[1] = worst[1].max(ulps(math::tanh::<Fused>(x), xf.tanh()));
            worst[2] = worst[2].max(ulps(math::sigmoid::<Fused>(x), 1.0 / (1.0 + (-xf).exp())));
        }
        assert!(
            worst.iter().all(|&w| w <= 4.0),
            "expm1, tanh, sigmoid ulps: {worst:?}"
        );
    }

    #[test]
    fn log1p_is_accurate_on_the_unit_interval() {
        let worst = (0..=1_000_000)
            .map(|i| i as f32 / 1e6)
            .chain((1..150).map(|k| 2f32.powi(-k)))
            .map(|e| {
                ulps(math::log1p_unit::<Fused>(e), (e as f64).ln_1p())
                    .max(ulps(math::log1p_unit::<Unfused>(e), (e as f64).ln_1p()))
            })
            .fold(0.0, f64::max);
        assert!(worst <= 4.0, "log1p: {worst} ulp");
    }

    #[test]
    fn special_values() {
        assert_eq!(math::exp::<Fused>(0.0), 1.0);
        assert_eq!(math::exp::<Fused>(-1e30), 0.0);
        assert_eq!(math::exp::<Fused>(1e30), f32::INFINITY);
        assert!(math::exp::<Fused>(f32::NAN).is_nan());
        assert!(math::expm1_nonpositive::<Fused>(f32::NAN).is_nan());
        assert_eq!(math::expm1_nonpositive::<Fused>(-1e30), -1.0);
        assert_eq!(math::tanh::<Fused>(1e30), 1.0);
        assert_eq!(math::tanh::<Fused>(-1e30), -1.0);
        assert!(math::tanh::<Unfused>(f32::NAN).is_nan());
        assert!(math::normal_cdf::<Fused>(f32::NAN).is_nan());
        assert_eq!(math::normal_cdf::<Fused>(-1e30), 0.0);
        assert_eq!(math::normal_cdf::<Fused>(1e30), 1.0);
    }
}
