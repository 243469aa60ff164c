//! x86-64 micro-kernels: AVX-512F and AVX2+FMA register tiles for `f32` and `f64`.
//!
//! Each kernel multiplies one packed `MR × kc` panel of `A` by one packed `kc × NR` panel of `B`
//! into `MR × NR` accumulators held in vector registers, then writes
//! `C ← α·acc + β·C` (or `α·acc` when `β = 0`, never reading `C`) for the first `rows` rows of a
//! unit-column-stride tile of `C`. The blocked driver in `blocked.rs` does the packing and the
//! edges; these functions only run once the CPU has been checked for the features they enable.
// The AVX-512 intrinsics are stable since Rust 1.89; the workspace is built with Rust 1.95.
#![allow(clippy::incompatible_msrv)]

use core::arch::x86_64::*;

use super::blocked::{self, Mat, Micro};

/// `C ← α·acc + β·C` (or `α·acc` when `β = 0`, never reading `C`) for the first `rows` rows of
/// the accumulator tile, expanded in place: a function taking `&acc` was not inlined into the
/// kernels, which then zeroed, spilled and reloaded all 24 accumulators on every tile.
macro_rules! store_tile {
    ($acc:ident, $c:ident, $rs_c:ident, $rows:ident, $alpha:ident, $beta:ident,
     $lanes:expr, $load:ident, $store:ident, $set1:ident, $fmadd:ident, $mul:ident) => {{
        let alpha_v = $set1($alpha);
        if $beta == 0.0 {
            for (i, row) in $acc.iter().enumerate() {
                if i < $rows {
                    // SAFETY: row `i < rows` of the tile is writable (caller's contract).
                    let ci = unsafe { $c.offset(i as isize * $rs_c) };
                    for (v, acc_v) in row.iter().enumerate() {
                        unsafe { $store(ci.add(v * $lanes), $mul(alpha_v, *acc_v)) };
                    }
                }
            }
        } else {
            let beta_v = $set1($beta);
            for (i, row) in $acc.iter().enumerate() {
                if i < $rows {
                    // SAFETY: row `i < rows` of the tile is readable and writable.
                    let ci = unsafe { $c.offset(i as isize * $rs_c) };
                    for (v, acc_v) in row.iter().enumerate() {
                        let p = unsafe { ci.add(v * $lanes) };
                        let old = unsafe { $load(p) };
                        unsafe { $store(p, $fmadd(alpha_v, *acc_v, $mul(beta_v, old))) };
                    }
                }
            }
        }
    }};
}

/// Asks for the first and last cache line of each of the tile's `rows` rows of `C` (`width`
/// values each) while the multiply-adds run: with a short reduction (`Xᵀ·dY` has `k = N`), the
/// read-modify-write of a `C` that lives in L3 or memory otherwise stalls the store.
#[inline(always)]
unsafe fn prefetch_tile<T>(c: *const T, rs_c: isize, rows: usize, width: usize) {
    for i in 0..rows {
        // SAFETY: prefetching is a hint; the addresses are inside the tile (caller's contract),
        // and a prefetch never faults anyway.
        unsafe {
            let row = c.offset(i as isize * rs_c);
            _mm_prefetch::<_MM_HINT_T0>(row.cast::<i8>());
            _mm_prefetch::<_MM_HINT_T0>(row.add(width - 1).cast::<i8>());
        }
    }
}

/// Defines one micro-kernel: `MR` rows by `NV` vectors of `LANES` lanes (so `NR = NV·LANES`).
///
/// The loops over `MR` and `NV` have constant bounds, so LLVM unrolls them completely and keeps the
/// accumulator array in registers (no index into it depends on a run-time value).
macro_rules! micro_kernel {
    (
        $(#[$doc:meta])*
        $kernel:ident, $t:ty, $vec:ty, $feat:literal, lanes = $lanes:expr, mr = $mr:expr, nv = $nv:expr,
        kc = $kc:expr, mc = $mc:expr, nc = $nc:expr, short = [$($short:literal),*], dot = $dot:expr, pack = $pack:path,
        $zero:ident, $load:ident, $store:ident, $set1:ident, $fmadd:ident, $mul:ident
    ) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy)]
        pub(crate) struct $kernel;

        impl $kernel {
            /// # Safety
            /// The CPU supports the enabled features; `a` holds `kc·MR` and `b` holds `kc·NR`
            /// readable values; rows `0..rows` of `c` (row stride `rs_c`, column stride 1) hold `NR`
            /// writable values each; `rows ≤ MR`.
            #[target_feature(enable = $feat)]
            #[allow(clippy::too_many_arguments)]
            unsafe fn run(
                kc: usize,
                a: *const $t,
                b: *const $t,
                c: *mut $t,
                rs_c: isize,
                rows: usize,
                alpha: $t,
                beta: $t,
            ) {
                // SAFETY: forwarded contract (rows `0..rows` of `NR` values are inside `C`).
                unsafe { prefetch_tile(c, rs_c, rows, $nv * $lanes) };
                let mut acc = [[$zero(); $nv]; $mr];
                let mut a = a;
                let mut b = b;
                for _ in 0..kc {
                    let mut bv = [$zero(); $nv];
                    for (v, slot) in bv.iter_mut().enumerate() {
                        // SAFETY: `b` points into a packed panel with `NR` values per step of k.
                        *slot = unsafe { $load(b.add(v * $lanes)) };
                    }
                    for (i, row) in acc.iter_mut().enumerate() {
                        // SAFETY: `a` points into a packed panel with `MR` values per step of k.
                        let ai = $set1(unsafe { *a.add(i) });
                        for (v, acc_v) in row.iter_mut().enumerate() {
                            *acc_v = $fmadd(ai, bv[v], *acc_v);
                        }
                    }
                    // SAFETY: stays within (or one past) the packed panels.
                    a = unsafe { a.add($mr) };
                    b = unsafe { b.add($nv * $lanes) };
                }
                store_tile!(acc, c, rs_c, rows, alpha, beta, $lanes, $load, $store, $set1, $fmadd, $mul);
            }

            /// As [`Self::run`] with `R ≤ MR` rows and `NV ≤ nv` vectors of columns, reading `A` in
            /// place (row `i`, step `k` at `a + i·rs_a + k·cs_a`; all `R` rows must be readable)
            /// and `B` with row stride `rs_b` (a packed panel has `rs_b = NR`).
            ///
            /// # Safety
            /// As [`Self::run`], with `A` and `B` readable at those offsets, `NV·LANES` writable
            /// columns and `rows ≤ R`.
            #[target_feature(enable = $feat)]
            #[allow(clippy::too_many_arguments)]
            unsafe fn run_strided<const R: usize, const NV: usize>(
                kc: usize,
                a: *const $t,
                rs_a: isize,
                cs_a: isize,
                b: *const $t,
                rs_b: isize,
                c: *mut $t,
                rs_c: isize,
                rows: usize,
                alpha: $t,
                beta: $t,
            ) {
                // SAFETY: forwarded contract (rows `0..rows` of `NV·LANES` values are inside `C`).
                unsafe { prefetch_tile(c, rs_c, rows, NV * $lanes) };
                let mut acc = [[$zero(); NV]; R];
                for k in 0..kc {
                    // SAFETY: step `k` of `B` and of `A` are readable.
                    let bk = unsafe { b.offset(k as isize * rs_b) };
                    let ak = unsafe { a.offset(k as isize * cs_a) };
                    let mut bv = [$zero(); NV];
                    for (v, slot) in bv.iter_mut().enumerate() {
                        *slot = unsafe { $load(bk.add(v * $lanes)) };
                    }
                    for (i, row) in acc.iter_mut().enumerate() {
                        let ai = $set1(unsafe { *ak.offset(i as isize * rs_a) });
                        for (v, acc_v) in row.iter_mut().enumerate() {
                            *acc_v = $fmadd(ai, bv[v], *acc_v);
                        }
                    }
                }
                store_tile!(acc, c, rs_c, rows, alpha, beta, $lanes, $load, $store, $set1, $fmadd, $mul);
            }
        }

        impl Micro for $kernel {
            type T = $t;
            const MR: usize = $mr;
            const NR: usize = $nv * $lanes;
            const KC: usize = $kc;
            const MC: usize = $mc;
            const NC: usize = $nc;
            const DOT: Option<blocked::Dot<$t>> = $dot;

            unsafe fn kernel(
                kc: usize,
                a: *const $t,
                b: *const $t,
                c: *mut $t,
                rs_c: isize,
                rows: usize,
                alpha: $t,
                beta: $t,
            ) {
                // SAFETY: forwarded contract; the dispatcher only selects this kernel after
                // `is_x86_feature_detected!` confirmed the features.
                unsafe { Self::run(kc, a, b, c, rs_c, rows, alpha, beta) }
            }

            unsafe fn kernel_strided(
                narrow: bool,
                kc: usize,
                a: *const $t,
                rs_a: isize,
                cs_a: isize,
                b: *const $t,
                c: *mut $t,
                rs_c: isize,
                rows: usize,
                alpha: $t,
                beta: $t,
            ) {
                // SAFETY: forwarded contract; the CPU was checked before this kernel was chosen.
                let rs_b = Self::NR as isize;
                unsafe {
                    if narrow {
                        Self::run_strided::<$mr, 1>(kc, a, rs_a, cs_a, b, rs_b, c, rs_c, rows, alpha, beta)
                    } else {
                        Self::run_strided::<$mr, $nv>(kc, a, rs_a, cs_a, b, rs_b, c, rs_c, rows, alpha, beta)
                    }
                }
            }

            unsafe fn kernel_short(
                kc: usize,
                a: *const $t,
                rs_a: isize,
                cs_a: isize,
                b: *const $t,
                rs_b: isize,
                c: *mut $t,
                rs_c: isize,
                rows: usize,
                alpha: $t,
                beta: $t,
            ) {
                // SAFETY: forwarded contract (`rows ≤ MR`, so the last arm covers `rows = MR`);
                // the CPU was checked before this kernel was chosen.
                unsafe {
                    match rows {
                        $($short => Self::run_strided::<$short, $nv>(
                            kc, a, rs_a, cs_a, b, rs_b, c, rs_c, rows, alpha, beta,
                        ),)*
                        _ => Self::run_strided::<$mr, $nv>(
                            kc, a, rs_a, cs_a, b, rs_b, c, rs_c, rows, alpha, beta,
                        ),
                    }
                }
            }

            unsafe fn pack(dst: &mut [$t], src: Mat<$t>, rows: usize, kc: usize, width: usize) {
                #[target_feature(enable = $feat)]
                unsafe fn pack_simd(dst: &mut [$t], src: Mat<$t>, rows: usize, kc: usize, width: usize) {
                    // SAFETY: forwarded contract.
                    unsafe { $pack(dst, src, rows, kc, width) }
                }
                // SAFETY: forwarded contract (the CPU was checked before this kernel was chosen).
                unsafe { pack_simd(dst, src, rows, kc, width) }
            }
        }
    };
}

micro_kernel!(
    /// AVX-512F, `f32`: 12 rows × 32 columns (24 of the 32 `zmm` registers accumulate).
    Avx512F32, f32, __m512, "avx512f,avx512vl", lanes = 16, mr = 12, nv = 2, kc = 384, mc = 96, nc = 4096,
    short = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11], dot = Some(super::x86_dot::DOT_F32),
    pack = super::x86_pack::pack_f32,
    _mm512_setzero_ps, _mm512_loadu_ps, _mm512_storeu_ps, _mm512_set1_ps, _mm512_fmadd_ps, _mm512_mul_ps
);

micro_kernel!(
    /// AVX-512F, `f64`: 12 rows × 16 columns.
    Avx512F64, f64, __m512d, "avx512f,avx512vl", lanes = 8, mr = 12, nv = 2, kc = 256, mc = 96, nc = 2048,
    short = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11], dot = None, pack = blocked::pack,
    _mm512_setzero_pd, _mm512_loadu_pd, _mm512_storeu_pd, _mm512_set1_pd, _mm512_fmadd_pd, _mm512_mul_pd
);

micro_kernel!(
    /// AVX2 + FMA, `f32`: 6 rows × 16 columns (12 of the 16 `ymm` registers accumulate).
    Avx2F32, f32, __m256, "avx2,fma", lanes = 8, mr = 6, nv = 2, kc = 256, mc = 96, nc = 4096,
    short = [1, 2, 3, 4, 5], dot = None, pack = blocked::pack,
    _mm256_setzero_ps, _mm256_loadu_ps, _mm256_storeu_ps, _mm256_set1_ps, _mm256_fmadd_ps, _mm256_mul_ps
);

micro_kernel!(
    /// AVX2 + FMA, `f64`: 6 rows × 8 columns.
    Avx2F64, f64, __m256d, "avx2,fma", lanes = 4, mr = 6, nv = 2, kc = 256, mc = 96, nc = 2048,
    short = [1, 2, 3, 4, 5], dot = None, pack = blocked::pack,
    _mm256_setzero_pd, _mm256_loadu_pd, _mm256_storeu_pd, _mm256_set1_pd, _mm256_fmadd_pd, _mm256_mul_pd
);
