//! Portable random sampling and the reproducible parallel fill.
//!
//! Every sample is computed from raw `u64` draws with IEEE-754 basic operations only (`+ - * /`
//! and `sqrt`, which are correctly rounded everywhere), plus a logarithm written with those same
//! operations. No platform `libm` function is involved, so a seed gives the same bits on every
//! platform. Samples are computed in `f64` and rounded once to the output type.

use ndarray::NdFloat;
use rand::RngCore;
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

/// Elements per parallel chunk. Chunk `i` of the flat, row-major output gets its own ChaCha8
/// stream `i`, seeded from one `u64` drawn from the caller's RNG; so the result depends on this
/// constant (changing it changes every generated matrix) but never on the thread count.
pub const CHUNK_LEN: usize = 1 << 14;

/// An element distribution that is sampled independently for every entry.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Elementwise {
    /// `N(mean, std²)`.
    Normal { mean: f64, std: f64 },
    /// `U[low, high)`.
    Uniform { low: f64, high: f64 },
    /// `N(0, std²)` conditioned on `|x| <= cutoff * std`.
    TruncatedNormal { std: f64, cutoff: f64 },
}

/// A source of uniform and Gaussian `f64` samples built on any `RngCore`.
pub(crate) struct Sampler<R> {
    rng: R,
    spare: Option<f64>,
}

impl<R: RngCore> Sampler<R> {
    pub(crate) fn new(rng: R) -> Self {
        Sampler { rng, spare: None }
    }

    /// Uniform on `[0, 1)` with 53 random bits (exact: a multiple of 2⁻⁵³).
    pub(crate) fn unit(&mut self) -> f64 {
        (self.rng.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Standard normal by Marsaglia's polar method (two independent samples per accepted pair).
    pub(crate) fn normal(&mut self) -> f64 {
        if let Some(z) = self.spare.take() {
            return z;
        }
        loop {
            let u = 2.0 * self.unit() - 1.0;
            let v = 2.0 * self.unit() - 1.0;
            let s = u * u + v * v;
            if s > 0.0 && s < 1.0 {
                let factor = (-2.0 * portable_ln(s) / s).sqrt();
                self.spare = Some(v * factor);
                return u * factor;
            }
        }
    }

    /// One sample of `dist`.
    pub(crate) fn sample(&mut self, dist: Elementwise) -> f64 {
        match dist {
            Elementwise::Normal { mean, std } => mean + std * self.normal(),
            Elementwise::Uniform { low, high } => low + (high - low) * self.unit(),
            Elementwise::TruncatedNormal { std, cutoff } => std * self.truncated_standard(cutoff),
        }
    }

    /// Standard normal conditioned on `|z| <= k`, by rejection.
    ///
    /// For `k >= 1` the proposal is the normal itself (acceptance `>= 68%`); for smaller `k` it
    /// is `U[-k, k]`, accepted with probability `exp(-z²/2)` (acceptance `>= exp(-1/2) = 61%`).
    fn truncated_standard(&mut self, k: f64) -> f64 {
        if k >= 1.0 {
            loop {
                let z = self.normal();
                if z.abs() <= k {
                    return z;
                }
            }
        }
        loop {
            let z = k * (2.0 * self.unit() - 1.0);
            // ln(1 - u) with u in [0, 1) is in (-inf, 0]; accept when it is <= -z²/2.
            if portable_ln(1.0 - self.unit()) <= -0.5 * z * z {
                return z;
            }
        }
    }
}

/// Natural logarithm of a positive, normal `f64` using only basic IEEE operations.
///
/// ```text
/// x = m · 2^e with m in [1/√2, √2);  ln x = e·ln 2 + 2·atanh(t),  t = (m-1)/(m+1), |t| < 0.172
/// atanh(t) = t · (1 + t²/3 + t⁴/5 + … + t²⁴/25)   (the remainder is below 1e-19 relative)
/// ```
pub(crate) fn portable_ln(x: f64) -> f64 {
    // c[k] = 1 / (2k + 3): atanh(t) = t + t·t²·Σ c[k]·t^(2k). The literals round the same
    // everywhere; the sum is evaluated by Estrin's scheme (depth 4 instead of Horner's 12).
    const C: [f64; 12] = [
        1.0 / 3.0,
        1.0 / 5.0,
        1.0 / 7.0,
        1.0 / 9.0,
        1.0 / 11.0,
        1.0 / 13.0,
        1.0 / 15.0,
        1.0 / 17.0,
        1.0 / 19.0,
        1.0 / 21.0,
        1.0 / 23.0,
        1.0 / 25.0,
    ];
    let bits = x.to_bits();
    let mut e = ((bits >> 52) & 0x7ff) as i64 - 1023;
    let mut m = f64::from_bits((bits & 0x000f_ffff_ffff_ffff) | 0x3ff0_0000_0000_0000);
    if m > std::f64::consts::SQRT_2 {
        m *= 0.5;
        e += 1;
    }
    let t = (m - 1.0) / (m + 1.0);
    let x1 = t * t;
    let x2 = x1 * x1;
    let x4 = x2 * x2;
    let x8 = x4 * x4;
    let q = |i: usize| C[i] + C[i + 1] * x1;
    let r0 = q(0) + q(2) * x2;
    let r1 = q(4) + q(6) * x2;
    let r2 = q(8) + q(10) * x2;
    let poly = (r0 + r1 * x4) + r2 * x8;
    let atanh = t + t * x1 * poly;
    e as f64 * std::f64::consts::LN_2 + 2.0 * atanh
}

/// The RNG for chunk `index` of a fill seeded with `seed`.
pub(crate) fn chunk_rng(seed: u64, index: usize) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(index as u64);
    rng
}

/// Converts an `f64` to `F` (exact for `f64`, correctly rounded for `f32`).
pub(crate) fn lit<F: NdFloat>(x: f64) -> F {
    F::from(x).unwrap_or_else(F::nan)
}

/// Fills `out` with independent samples of `dist`, chunk `i` from stream `i` of `seed`.
///
/// Chunks run in parallel on the current rayon pool; the result is bit-identical for any
/// number of threads.
pub(crate) fn fill<F: NdFloat>(out: &mut [F], dist: Elementwise, seed: u64) {
    let fill_chunk = |(index, chunk): (usize, &mut [F])| {
        let mut sampler = Sampler::new(chunk_rng(seed, index));
        for x in chunk.iter_mut() {
            *x = lit(sampler.sample(dist));
        }
    };
    if out.len() <= CHUNK_LEN {
        out.chunks_mut(CHUNK_LEN).enumerate().for_each(fill_chunk);
    } else {
        out.par_chunks_mut(CHUNK_LEN)
            .enumerate()
            .for_each(fill_chunk);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn portable_ln_matches_std_ln() {
        // The series is exact to ~1 ulp; compare with the platform ln over many magnitudes.
        let mut x = 1e-300_f64;
        while x < 1e300 {
            for y in [x, x * 1.234_567, x * 1.41, x * 1.999] {
                let (a, b) = (portable_ln(y), y.ln());
                assert!(
                    (a - b).abs() <= 4.0 * f64::EPSILON * b.abs().max(1.0),
                    "{y}: {a} vs {b}"
                );
            }
            x *= 7.3;
        }
        assert_eq!(portable_ln(1.0), 0.0);
    }

    #[test]
    fn chunk_streams_differ() {
        let a = chunk_rng(7, 0).next_u64();
        let b = chunk_rng(7, 1).next_u64();
        let c = chunk_rng(8, 0).next_u64();
        assert_ne!(a, b);
        assert_ne!(a, c);
        assert_eq!(a, chunk_rng(7, 0).next_u64());
    }
}
