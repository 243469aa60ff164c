//! AVX-512F `f32` row-by-column kernel for products with at most ten output columns.
//!
//! The output layer of a classifier multiplies `X` (`N × H`, rows contiguous) by `W` (`H × C`,
//! `C = 10`). The register-tile kernels put `C`'s columns in vector lanes, so ten columns use ten
//! of sixteen lanes. Here the lanes run along the reduction instead: each of up to 2 × 10
//! accumulators holds sixteen partial sums of one `C[i, j]` (a row of `X` times a row of the packed
//! `Wᵀ`), and a shuffle tree folds the sixteen partials at the end. Every lane does useful work,
//! and every element of `C` is summed by the same tree (its position in the tile does not matter),
//! so the result does not depend on how the rows are split between threads.
// The AVX-512 intrinsics are stable since Rust 1.89; the workspace is built with Rust 1.95.
#![allow(clippy::incompatible_msrv)]

use core::arch::x86_64::*;

use super::blocked::Dot;

/// The kernel as the blocked driver sees it.
pub(crate) const DOT_F32: Dot<f32> = Dot {
    lanes: LANES,
    rows: 2,
    cols: COLS,
    run: dot_f32,
    pack: super::x86_pack::pack_bt_f32,
};

/// Reduction steps per vector.
const LANES: usize = 16;
/// Most columns of `C` per call (2 × 10 accumulators leave registers for the operands).
const COLS: usize = 10;

/// `C[i, j] ← α·Σ_k A[i, k]·Bᵀ[j, k] + β·C[i, j]` (just `α·Σ` when `β = 0`) for `i < rows ≤ 2`
/// and `j < cols ≤ 10`.
///
/// # Safety
/// The CPU supports AVX-512F; row `i` of `A` starts at `a + i·rs_a` and holds `k` contiguous
/// values; row `j` of `Bᵀ` starts at `bt + j·ld` and holds `ld ≥ round_up(k, 16)` values, zero
/// past `k`; `C[i, j]` at `c + i·rs_c + j·cs_c` is writable.
#[allow(clippy::too_many_arguments)]
unsafe fn dot_f32(
    k: usize,
    a: *const f32,
    rs_a: isize,
    rows: usize,
    bt: *const f32,
    ld: usize,
    cols: usize,
    c: *mut f32,
    rs_c: isize,
    cs_c: isize,
    alpha: f32,
    beta: f32,
) {
    macro_rules! by_cols {
        ($r:literal) => {
            match cols {
                1 => tile::<$r, 1>(k, a, rs_a, bt, ld, c, rs_c, cs_c, alpha, beta),
                2 => tile::<$r, 2>(k, a, rs_a, bt, ld, c, rs_c, cs_c, alpha, beta),
                3 => tile::<$r, 3>(k, a, rs_a, bt, ld, c, rs_c, cs_c, alpha, beta),
                4 => tile::<$r, 4>(k, a, rs_a, bt, ld, c, rs_c, cs_c, alpha, beta),
                5 => tile::<$r, 5>(k, a, rs_a, bt, ld, c, rs_c, cs_c, alpha, beta),
                6 => tile::<$r, 6>(k, a, rs_a, bt, ld, c, rs_c, cs_c, alpha, beta),
                7 => tile::<$r, 7>(k, a, rs_a, bt, ld, c, rs_c, cs_c, alpha, beta),
                8 => tile::<$r, 8>(k, a, rs_a, bt, ld, c, rs_c, cs_c, alpha, beta),
                9 => tile::<$r, 9>(k, a, rs_a, bt, ld, c, rs_c, cs_c, alpha, beta),
                _ => tile::<$r, COLS>(k, a, rs_a, bt, ld, c, rs_c, cs_c, alpha, beta),
            }
        };
    }
    // SAFETY: forwarded contract (`cols ≤ COLS`, `rows ≤ 2`).
    unsafe {
        if rows == 1 {
            by_cols!(1)
        } else {
            by_cols!(2)
        }
    }
}

/// [`dot_f32`] for `R` rows and `NJ` columns known at compile time (the accumulators then live in
/// registers).
///
/// # Safety
/// As [`dot_f32`].
#[target_feature(enable = "avx512f,avx512vl")]
#[allow(clippy::too_many_arguments)]
unsafe fn tile<const R: usize, const NJ: usize>(
    k: usize,
    a: *const f32,
    rs_a: isize,
    bt: *const f32,
    ld: usize,
    c: *mut f32,
    rs_c: isize,
    cs_c: isize,
    alpha: f32,
    beta: f32,
) {
    let mut acc = [[_mm512_setzero_ps(); NJ]; R];
    // The last step's lanes past `k` are masked off in `A` (not read, so no fault) and zero in
    // `Bᵀ`; a masked load costs what a plain one does, and one loop keeps the accumulators in
    // registers (a separate last step made LLVM spill some of them).
    for off in (0..k).step_by(LANES) {
        let mask = ((1u32 << (k - off).min(LANES)) - 1) as __mmask16;
        let mut av = [_mm512_setzero_ps(); R];
        for (i, slot) in av.iter_mut().enumerate() {
            // SAFETY: the unmasked lanes are values `off..min(off + 16, k)` of row `i` of `A`.
            *slot = unsafe { _mm512_maskz_loadu_ps(mask, a.offset(i as isize * rs_a).add(off)) };
        }
        for j in 0..NJ {
            // SAFETY: `Bᵀ` row `j` holds `ld ≥ off + 16` values.
            let bv = unsafe { _mm512_loadu_ps(bt.add(j * ld + off)) };
            for (row, &ai) in acc.iter_mut().zip(&av) {
                row[j] = _mm512_fmadd_ps(ai, bv, row[j]);
            }
        }
    }
    for (i, row) in acc.iter().enumerate() {
        let sums = fold(*row);
        for j in 0..NJ {
            // The fold leaves input `j` in lane `4·(j mod 4) + j / 4` (see `fold`).
            let s = sums[4 * (j % 4) + j / 4];
            // SAFETY: `C[i, j]` is writable (caller's contract).
            unsafe {
                let p = c.offset(i as isize * rs_c + j as isize * cs_c);
                *p = if beta == 0.0 {
                    alpha * s
                } else {
                    alpha.mul_add(s, beta * *p)
                };
            }
        }
    }
}

/// Sums the sixteen lanes of each of up to sixteen vectors: input `j`'s sum lands in lane
/// `4·(j mod 4) + j / 4`.
///
/// Four levels, each halving the lanes per input and doubling the inputs per vector: 256-bit
/// halves, 128-bit quarters, then pairs and single lanes within each quarter. Every input goes
/// through the same additions whichever slot it occupies; missing inputs are zero vectors, whose
/// lanes never meet another input's.
#[target_feature(enable = "avx512f,avx512vl")]
#[inline]
fn fold<const NJ: usize>(v: [__m512; NJ]) -> [f32; 16] {
    let zero = _mm512_setzero_ps();
    let mut t = [zero; 8];
    for p in 0..NJ.div_ceil(2) {
        let x = v[2 * p];
        let y = if 2 * p + 1 < NJ { v[2 * p + 1] } else { zero };
        // Blocks [x0 x1 y0 y1] + [x2 x3 y2 y3].
        t[p] = _mm512_add_ps(
            _mm512_shuffle_f32x4::<0x44>(x, y),
            _mm512_shuffle_f32x4::<0xEE>(x, y),
        );
    }
    let mut u = [zero; 4];
    for q in 0..NJ.div_ceil(4) {
        let (x, y) = (t[2 * q], t[2 * q + 1]);
        // Blocks [x0 x2 y0 y2] + [x1 x3 y1 y3]: block b now holds input 4q + b.
        u[q] = _mm512_add_ps(
            _mm512_shuffle_f32x4::<0x88>(x, y),
            _mm512_shuffle_f32x4::<0xDD>(x, y),
        );
    }
    let mut w = [zero; 2];
    for r in 0..NJ.div_ceil(8) {
        let (x, y) = (u[2 * r], u[2 * r + 1]);
        // Per block, lanes [x0 x1 y0 y1] + [x2 x3 y2 y3].
        w[r] = _mm512_add_ps(
            _mm512_shuffle_ps::<0x44>(x, y),
            _mm512_shuffle_ps::<0xEE>(x, y),
        );
    }
    let (x, y) = (w[0], w[1]);
    // Per block, lanes [x0 x2 y0 y2] + [x1 x3 y1 y3]: block b, lane l holds input b + 4l.
    let s = _mm512_add_ps(
        _mm512_shuffle_ps::<0x88>(x, y),
        _mm512_shuffle_ps::<0xDD>(x, y),
    );
    let mut out = [0.0_f32; 16];
    // SAFETY: `out` holds sixteen values.
    unsafe { _mm512_storeu_ps(out.as_mut_ptr(), s) };
    out
}
