//! The Adam update of one element ([`AdamStep::scalar`]), and its `f32` fast path over contiguous
//! slices, with AVX-512 when the CPU has it.
//!
//! The generic path in `adam.rs` applies `AdamStep::scalar` through an ndarray `Zip` of four
//! arrays, which the baseline x86-64 build runs at about 3 cycles per parameter; the fast path does
//! the same operations in the same order (a multiply and an add where the scalar code multiplies and adds, never a fused
//! multiply-add; IEEE square root and division), so it gives the same bits, 16 lanes at a time.

use ndarray::NdFloat;
use rayon::prelude::*;
use std::any::TypeId;

/// Reinterprets `&[F]` as `&[f32]` when `F` is `f32`.
pub(crate) fn as_f32<F: NdFloat>(s: &[F]) -> Option<&[f32]> {
    // SAFETY: `F` is `f32` (same TypeId), so pointer, length and lifetime describe an `f32` slice.
    (TypeId::of::<F>() == TypeId::of::<f32>())
        .then(|| unsafe { std::slice::from_raw_parts(s.as_ptr().cast::<f32>(), s.len()) })
}

/// Reinterprets `&mut [F]` as `&mut [f32]` when `F` is `f32`.
pub(crate) fn as_f32_mut<F: NdFloat>(s: &mut [F]) -> Option<&mut [f32]> {
    // SAFETY: as in `as_f32`; the unique borrow of `s` moves into the result.
    (TypeId::of::<F>() == TypeId::of::<f32>())
        .then(|| unsafe { std::slice::from_raw_parts_mut(s.as_mut_ptr().cast::<f32>(), s.len()) })
}

/// Every constant of one Adam step, in the parameters' float type.
#[derive(Debug, Clone, Copy)]
pub(crate) struct AdamStep<F> {
    pub l2: F,
    pub shrink: F,
    pub b1: F,
    pub b2: F,
    pub c1: F,
    pub c2: F,
    pub inv_bc1: F,
    pub inv_bc2: F,
    pub lr: F,
    pub eps: F,
}

impl<F: NdFloat> AdamStep<F> {
    /// One parameter: the definition of the rule, which every other path matches bit for bit.
    #[inline(always)]
    pub fn scalar(&self, p: &mut F, g: F, m: &mut F, v: &mut F) {
        let g = g + self.l2 * *p;
        *p *= self.shrink;
        *m = self.b1 * *m + self.c1 * g;
        *v = self.b2 * *v + self.c2 * g * g;
        let m_hat = *m * self.inv_bc1;
        let v_hat = *v * self.inv_bc2;
        *p -= self.lr * m_hat / (v_hat.sqrt() + self.eps);
    }

    /// The same constants as `f32` when `F` is `f32` (exact), else `None`.
    pub fn as_f32(&self) -> Option<AdamStep<f32>> {
        let f = |x: F| x.to_f32().unwrap_or(f32::NAN);
        (TypeId::of::<F>() == TypeId::of::<f32>()).then(|| AdamStep {
            l2: f(self.l2),
            shrink: f(self.shrink),
            b1: f(self.b1),
            b2: f(self.b2),
            c1: f(self.c1),
            c2: f(self.c2),
            inv_bc1: f(self.inv_bc1),
            inv_bc2: f(self.inv_bc2),
            lr: f(self.lr),
            eps: f(self.eps),
        })
    }
}

/// Elements per parallel task: large enough to pay for a rayon task, a multiple of 16 lanes.
const CHUNK: usize = 1 << 14;

/// Updates `p`, `m` and `v` from `g`, in parallel chunks when `parallel`.
///
/// # Panics
/// If the four slices differ in length (the caller checked them).
pub(crate) fn update(
    k: &AdamStep<f32>,
    p: &mut [f32],
    g: &[f32],
    m: &mut [f32],
    v: &mut [f32],
    parallel: bool,
) {
    assert!(p.len() == g.len() && p.len() == m.len() && p.len() == v.len());
    if parallel {
        p.par_chunks_mut(CHUNK)
            .zip(g.par_chunks(CHUNK))
            .zip(m.par_chunks_mut(CHUNK).zip(v.par_chunks_mut(CHUNK)))
            .for_each(|((p, g), (m, v))| update_serial(k, p, g, m, v));
    } else {
        update_serial(k, p, g, m, v);
    }
}

fn update_serial(k: &AdamStep<f32>, p: &mut [f32], g: &[f32], m: &mut [f32], v: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx512f") {
        // SAFETY: AVX-512F was detected just above; the slices have equal lengths (asserted by
        // `update`).
        return unsafe { avx512(k, p, g, m, v) };
    }
    for (((p, &g), m), v) in p.iter_mut().zip(g).zip(m.iter_mut()).zip(v.iter_mut()) {
        k.scalar(p, g, m, v);
    }
}

/// # Safety
/// The CPU must support AVX-512F, and the four slices must have equal lengths.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
#[allow(clippy::incompatible_msrv)] // AVX-512 intrinsics are stable since Rust 1.89; we build with 1.95.
unsafe fn avx512(k: &AdamStep<f32>, p: &mut [f32], g: &[f32], m: &mut [f32], v: &mut [f32]) {
    use std::arch::x86_64::*;
    let n = p.len();
    let lanes = n - n % 16;
    let s = _mm512_set1_ps;
    let (l2, shrink, b1, b2) = (s(k.l2), s(k.shrink), s(k.b1), s(k.b2));
    let (c1, c2, ibc1, ibc2) = (s(k.c1), s(k.c2), s(k.inv_bc1), s(k.inv_bc2));
    let (lr, eps) = (s(k.lr), s(k.eps));
    let (pp, gp, mp, vp) = (p.as_mut_ptr(), g.as_ptr(), m.as_mut_ptr(), v.as_mut_ptr());
    let mut i = 0;
    while i < lanes {
        // SAFETY: i + 16 <= lanes <= n, the length of every slice.
        unsafe {
            let pv = _mm512_loadu_ps(pp.add(i));
            let gv = _mm512_add_ps(_mm512_loadu_ps(gp.add(i)), _mm512_mul_ps(l2, pv));
            let pv = _mm512_mul_ps(pv, shrink);
            let mv = _mm512_add_ps(
                _mm512_mul_ps(b1, _mm512_loadu_ps(mp.add(i))),
                _mm512_mul_ps(c1, gv),
            );
            let vv = _mm512_add_ps(
                _mm512_mul_ps(b2, _mm512_loadu_ps(vp.add(i))),
                _mm512_mul_ps(_mm512_mul_ps(c2, gv), gv),
            );
            let m_hat = _mm512_mul_ps(mv, ibc1);
            let v_hat = _mm512_mul_ps(vv, ibc2);
            let step = _mm512_div_ps(
                _mm512_mul_ps(lr, m_hat),
                _mm512_add_ps(_mm512_sqrt_ps(v_hat), eps),
            );
            _mm512_storeu_ps(mp.add(i), mv);
            _mm512_storeu_ps(vp.add(i), vv);
            _mm512_storeu_ps(pp.add(i), _mm512_sub_ps(pv, step));
        }
        i += 16;
    }
    for j in lanes..n {
        k.scalar(&mut p[j], g[j], &mut m[j], &mut v[j]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn step(l2: f32, shrink: f32, t: i32) -> AdamStep<f32> {
        AdamStep {
            l2,
            shrink,
            b1: 0.9,
            b2: 0.999,
            c1: 1.0 - 0.9,
            c2: 1.0 - 0.999,
            inv_bc1: 1.0 / (1.0 - 0.9f32.powi(t)),
            inv_bc2: 1.0 / (1.0 - 0.999f32.powi(t)),
            lr: 1e-3,
            eps: 1e-8,
        }
    }

    proptest! {
        /// The vector path (whatever this CPU runs) gives the scalar definition's bits, for any
        /// length (tails included), any values and in parallel.
        #[test]
        fn the_fast_path_matches_the_scalar_rule_bit_for_bit(
            values in prop::collection::vec((-1e3f32..1e3, -10f32..10.0, -1f32..1.0, 0f32..10.0), 0..200),
            l2 in prop::sample::select(vec![0.0f32, 1e-4]),
            shrink in prop::sample::select(vec![1.0f32, 0.99]),
            t in 1i32..5,
            parallel: bool,
        ) {
            let k = step(l2, shrink, t);
            let (mut p, g, mut m, mut v): (Vec<f32>, Vec<f32>, Vec<f32>, Vec<f32>) =
                values.iter().fold(Default::default(), |mut acc, &(p, g, m, v)| {
                    acc.0.push(p); acc.1.push(g); acc.2.push(m); acc.3.push(v); acc
                });
            let (mut p2, mut m2, mut v2) = (p.clone(), m.clone(), v.clone());
            for i in 0..p2.len() {
                k.scalar(&mut p2[i], g[i], &mut m2[i], &mut v2[i]);
            }
            update(&k, &mut p, &g, &mut m, &mut v, parallel);
            let bits = |x: &[f32]| x.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
            prop_assert_eq!(bits(&p), bits(&p2));
            prop_assert_eq!(bits(&m), bits(&m2));
            prop_assert_eq!(bits(&v), bits(&v2));
        }
    }

    #[test]
    fn chunks_in_parallel_equal_one_serial_pass() {
        let n = 3 * CHUNK + 7;
        let g: Vec<f32> = (0..n)
            .map(|i| ((i * 37) % 101) as f32 / 50.0 - 1.0)
            .collect();
        let k = step(1e-4, 1.0, 3);
        let run = |parallel| {
            let (mut p, mut m, mut v) = (vec![0.5f32; n], vec![0.01f32; n], vec![0.02f32; n]);
            update(&k, &mut p, &g, &mut m, &mut v, parallel);
            (p, m, v)
        };
        assert_eq!(run(true), run(false));
    }
}
