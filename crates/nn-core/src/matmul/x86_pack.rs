//! AVX-512 packing of row-major `f32` blocks, sixteen rows by sixteen steps at a time.
//!
//! Packing turns rows of the source into panels whose steps of `k` are contiguous columns: a
//! transpose. Element by element that costs a load and a store per value, which at batch 128 is
//! about a tenth of the multiply-adds' time for `dY·Wᵀ` (whose `Wᵀ` is packed from the rows of
//! `W`). Here a 16 × 16 block goes through registers in four rounds of shuffles.
// The AVX-512 intrinsics are stable since Rust 1.89; the workspace is built with Rust 1.95.
#![allow(clippy::incompatible_msrv)]

use core::arch::x86_64::*;

use super::blocked::{self, Mat};

/// Steps of `k` (and rows) per transposed block.
const B: usize = 16;

/// [`blocked::pack`] for `f32` with AVX-512: row-major sources (`cs = 1`) in panels of 12 rows
/// (the register tile's `MR`) or a multiple of 16 are transposed sixteen by sixteen; everything
/// else goes to the portable copy.
///
/// # Safety
/// As [`blocked::pack`], and the CPU supports AVX-512F and AVX-512VL.
#[target_feature(enable = "avx512f,avx512vl")]
pub(crate) unsafe fn pack_f32(
    dst: &mut [f32],
    src: Mat<f32>,
    rows: usize,
    kc: usize,
    width: usize,
) {
    let full = rows / width;
    if src.cs != 1 || src.rs == 1 || full == 0 || !(width == 12 || width.is_multiple_of(B)) {
        // SAFETY: forwarded contract.
        unsafe { blocked::pack(dst, src, rows, kc, width) };
        return;
    }
    for (p, panel) in dst.chunks_exact_mut(width * kc).take(full).enumerate() {
        for g in (0..width).step_by(B) {
            let out = panel[g..].as_mut_ptr();
            // SAFETY: rows `p·width + g ..` (12 or 16 of them, inside the first `full·width`
            // rows) of `src` hold `kc` contiguous values; the panel holds `width·kc` values.
            unsafe {
                let row0 = src.at(p * width + g, 0).cast_const();
                if width == 12 {
                    group::<12>(out, width, row0, src.rs, 12, kc);
                } else {
                    group::<B>(out, width, row0, src.rs, B, kc);
                }
            }
        }
    }
    let rest = rows - full * width;
    if rest != 0 {
        // SAFETY: the last, partial panel starts at row `full·width` of `src`; forwarded contract.
        unsafe {
            blocked::pack(
                &mut dst[full * width * kc..],
                src.block(full * width, rest, 0, kc),
                rest,
                kc,
                width,
            );
        }
    }
}

/// Transposes `rows ≤ H ≤ 16` rows of `kc` contiguous values (row `i` at `row0 + i·rs`) into lanes
/// `0..H` of `kc` steps at `out + step·width` (lanes `rows..H` zero), sixteen steps at a time; the
/// last, partial block of steps is read with masked loads (the lanes past `kc` are not read) and
/// stored step by step.
///
/// # Safety
/// The `rows` rows are readable (`row0` is not read when `rows = 0`), the `kc` steps of `H` lanes
/// writable; the CPU supports AVX-512F/VL.
#[target_feature(enable = "avx512f,avx512vl")]
unsafe fn group<const H: usize>(
    out: *mut f32,
    width: usize,
    row0: *const f32,
    rs: isize,
    rows: usize,
    kc: usize,
) {
    let lanes: __mmask16 = ((1u32 << H) - 1) as u16;
    let load = |kk: usize, along: __mmask16| {
        let mut block = [_mm512_setzero_ps(); B];
        for (i, v) in block.iter_mut().enumerate().take(H) {
            if i < rows {
                // SAFETY: row `i < rows`, the unmasked columns `kk..` are below `kc`.
                *v = unsafe { _mm512_maskz_loadu_ps(along, row0.offset(i as isize * rs).add(kk)) };
            }
        }
        transpose(block)
    };
    let mut kk = 0;
    while kk + B <= kc {
        let cols = load(kk, !0);
        for (t, v) in cols.iter().enumerate() {
            // SAFETY: step `kk + t < kc`.
            unsafe { _mm512_mask_storeu_ps(out.add((kk + t) * width), lanes, *v) };
        }
        kk += B;
    }
    if kk < kc {
        let steps = kc - kk;
        let cols = load(kk, ((1u32 << steps) - 1) as u16);
        for (t, v) in cols.iter().enumerate().take(steps) {
            // SAFETY: step `kk + t < kc`.
            unsafe { _mm512_mask_storeu_ps(out.add((kk + t) * width), lanes, *v) };
        }
    }
}

/// `Bᵀ` for the row-by-column kernel: `bt[j·ld + k] = B[k, j]` for the `n ≤ 16` columns of `B`,
/// and zero for `k ≤ step < ld`, sixteen steps at a time through registers. Returns `false`
/// (having written nothing) unless `B` has unit column stride and at most sixteen columns.
///
/// # Safety
/// `B` is valid for its shape; `bt` holds `n·ld` values; `ld ≥ k` is a multiple of 16; the CPU
/// supports AVX-512F and AVX-512VL.
#[target_feature(enable = "avx512f,avx512vl")]
pub(crate) unsafe fn pack_bt_f32(bt: &mut [f32], ld: usize, b: Mat<f32>) -> bool {
    let (k, n) = (b.rows, b.cols);
    if b.cs != 1 || n > B || bt.len() < n * ld || !ld.is_multiple_of(B) {
        return false;
    }
    for kk in (0..ld).step_by(B) {
        // Sixteen rows of `B` (its steps `kk..`, fewer or none past `k`: zero) become sixteen
        // steps of each of the `n` rows of `Bᵀ`.
        let rows = k.saturating_sub(kk).min(B);
        // SAFETY: rows `kk..kk + rows` of `B` hold `n` contiguous values (`row0` is not read when
        // `rows = 0`); `j·ld + kk + 16 ≤ n·ld ≤ bt.len()` for the `n` steps written.
        unsafe {
            let row0 = if rows == 0 { b.ptr } else { b.at(kk, 0) };
            group::<B>(bt.as_mut_ptr().add(kk), ld, row0, b.rs, rows, n);
        }
    }
    true
}

/// The transpose of a 16 × 16 block (row `i` in vector `i` → column `i` in vector `i`).
#[target_feature(enable = "avx512f,avx512vl")]
#[inline]
fn transpose(r: [__m512; B]) -> [__m512; B] {
    let zero = _mm512_setzero_ps();
    // Round 1: interleave pairs of rows (32-bit lanes).
    let mut t = [zero; B];
    for i in 0..B / 2 {
        t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
    // Round 2: interleave pairs of pairs (64-bit lanes).
    let mut u = [zero; B];
    for g in 0..B / 4 {
        let q = 4 * g;
        let pd = |v: __m512| _mm512_castps_pd(v);
        u[q] = _mm512_castpd_ps(_mm512_unpacklo_pd(pd(t[q]), pd(t[q + 2])));
        u[q + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(pd(t[q]), pd(t[q + 2])));
        u[q + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(pd(t[q + 1]), pd(t[q + 3])));
        u[q + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(pd(t[q + 1]), pd(t[q + 3])));
    }
    // Round 3: 128-bit blocks from groups of four rows, four apart.
    let mut w = [zero; B];
    for half in 0..2 {
        let base = 8 * half;
        for j in 0..4 {
            w[base + j] = _mm512_shuffle_f32x4::<0x88>(u[base + j], u[base + 4 + j]);
            w[base + 4 + j] = _mm512_shuffle_f32x4::<0xDD>(u[base + j], u[base + 4 + j]);
        }
    }
    // Round 4: 128-bit blocks from the two halves.
    let mut out = [zero; B];
    for j in 0..8 {
        out[j] = _mm512_shuffle_f32x4::<0x88>(w[j], w[8 + j]);
        out[8 + j] = _mm512_shuffle_f32x4::<0xDD>(w[j], w[8 + j]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transpose_of_a_16_by_16_block() {
        if !(is_x86_feature_detected!("avx512f") && is_x86_feature_detected!("avx512vl")) {
            return;
        }
        let values: Vec<f32> = (0..256).map(|v| v as f32).collect();
        let mut out = [0.0_f32; 256];
        // SAFETY: the CPU was checked above; the buffers hold 256 values.
        unsafe { check(&values, &mut out) };
        for i in 0..16 {
            for j in 0..16 {
                assert_eq!(out[i * 16 + j], values[j * 16 + i], "at ({i}, {j})");
            }
        }
    }

    #[target_feature(enable = "avx512f,avx512vl")]
    unsafe fn check(values: &[f32], out: &mut [f32; 256]) {
        let rows =
            core::array::from_fn(|i| unsafe { _mm512_loadu_ps(values.as_ptr().add(16 * i)) });
        for (i, v) in transpose(rows).iter().enumerate() {
            unsafe { _mm512_storeu_ps(out.as_mut_ptr().add(16 * i), *v) };
        }
    }
}
