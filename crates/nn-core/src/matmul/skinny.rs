//! The paths for products with a short side, where packing both operands would cost as much as
//! the multiply-adds: the output layer of a classifier (ten columns) and its gradients.
//!
//! - [`narrow`]: `n ≤ NR`, `A` read in place, `B` one packed panel.
//! - [`short`]: `m ≤ MR`, both operands read in place (the edge columns of `B` packed).
//! - [`dot`]: `n` within the dot kernel's columns and `A` with contiguous rows: the reduction runs
//!   along the vector lanes, so ten columns do not leave six of sixteen lanes idle.
//!
//! `narrow` and `short` do the same operations per element of `C` as the packed path (same
//! reduction blocks, same order), so a rectangle may take either; `dot` sums in another order and
//! is chosen for the whole product or not at all (see `blocked::plan`).

use super::blocked::{one, round_up, tile, with_buffers, zero, Dot, Mat, Micro};

/// The narrow path (`n ≤ NR`): `B` is one packed panel per reduction block and `A` is read where
/// it lies, since each element of `A` meets only `n` elements of `B` and packing it would cost as
/// much as the multiply-adds. The last, partial block of rows is packed (zero-padded) instead, so
/// the kernel never reads past `A`.
///
/// # Safety
/// As [`gemm`](super::blocked::gemm), and `1 ≤ n ≤ NR`.
pub(super) unsafe fn narrow<K: Micro>(
    alpha: K::T,
    a: Mat<K::T>,
    b: Mat<K::T>,
    beta: K::T,
    c: Mat<K::T>,
    kc_max: usize,
) {
    let (m, n, k) = (c.rows, c.cols, a.cols);
    let is_narrow = 2 * n <= K::NR;
    let width = if is_narrow { K::NR / 2 } else { K::NR };
    with_buffers::<K::T, ()>(K::MR * kc_max, K::NR * kc_max, |abuf, bbuf| {
        for pc in (0..k).step_by(kc_max) {
            let kc = kc_max.min(k - pc);
            let beta_here = if pc == 0 { beta } else { one::<K::T>() };
            // SAFETY: the block is inside `B`; `bbuf` holds `NR·kc` values.
            unsafe { K::pack(bbuf, b.block(pc, kc, 0, n).t(), n, kc, K::NR) };
            for i in (0..m).step_by(K::MR) {
                let rows = K::MR.min(m - i);
                // SAFETY: all MR rows from `i` are inside `A` when `rows == MR`; otherwise the
                // partial block is packed into `abuf` (MR·kc values, zero-padded).
                let (ap, rs_a, cs_a) = unsafe {
                    if rows == K::MR {
                        (a.at(i, pc).cast_const(), a.rs, a.cs)
                    } else {
                        K::pack(abuf, a.block(i, rows, pc, kc), rows, kc, K::MR);
                        (abuf.as_ptr(), 1, K::MR as isize)
                    }
                };
                let bp = bbuf.as_ptr();
                // SAFETY: the tile is inside `C`; `A` and the panel hold `kc` steps.
                unsafe {
                    tile::<K>(c.block(i, rows, 0, n), width, beta_here, |ct, rs| {
                        K::kernel_strided(
                            is_narrow, kc, ap, rs_a, cs_a, bp, ct, rs, rows, alpha, beta_here,
                        )
                    });
                }
            }
        }
    });
}

/// The short path (`m ≤ MR`): one tile of rows, `A` and `B` read in place. Full-width column
/// panels of `B` are used where they lie (its rows are contiguous); the last, partial one is
/// packed (zero-padded) so the kernel never reads past `B`.
///
/// # Safety
/// As [`gemm`](super::blocked::gemm), and `1 ≤ m ≤ MR`, `B` has unit column stride.
pub(super) unsafe fn short<K: Micro>(
    alpha: K::T,
    a: Mat<K::T>,
    b: Mat<K::T>,
    beta: K::T,
    c: Mat<K::T>,
    kc_max: usize,
) {
    let (m, n, k) = (c.rows, c.cols, a.cols);
    with_buffers::<K::T, ()>(0, K::NR * kc_max, |_, bbuf| {
        for pc in (0..k).step_by(kc_max) {
            let kc = kc_max.min(k - pc);
            let beta_here = if pc == 0 { beta } else { one::<K::T>() };
            for j in (0..n).step_by(K::NR) {
                let cols = K::NR.min(n - j);
                // SAFETY: a full panel of `NR` columns from `j` is inside `B` (unit column
                // stride); a partial one is packed into `bbuf` (`NR·kc` values, zero-padded).
                let (bp, rs_b) = unsafe {
                    if cols == K::NR {
                        (b.at(pc, j).cast_const(), b.rs)
                    } else {
                        K::pack(bbuf, b.block(pc, kc, j, cols).t(), cols, kc, K::NR);
                        (bbuf.as_ptr(), K::NR as isize)
                    }
                };
                // SAFETY: the tile is inside `C`; rows `0..m` of `A` and `kc` steps of `B` are
                // readable.
                unsafe {
                    let ap = a.at(0, pc).cast_const();
                    tile::<K>(c.block(0, m, j, cols), K::NR, beta_here, |ct, rs| {
                        K::kernel_short(kc, ap, a.rs, a.cs, bp, rs_b, ct, rs, m, alpha, beta_here)
                    });
                }
            }
        }
    });
}

/// The dot path: `Bᵀ` packed once into rows of `k` contiguous values (zero-padded to a multiple of
/// the kernel's lanes), then [`Dot::rows`] rows of `A`, read in place, at a time.
///
/// # Safety
/// As [`gemm`](super::blocked::gemm), and `A` has unit column stride.
pub(super) unsafe fn dot<K: Micro>(
    dot: Dot<K::T>,
    alpha: K::T,
    a: Mat<K::T>,
    b: Mat<K::T>,
    beta: K::T,
    c: Mat<K::T>,
) {
    let (m, n, k) = (c.rows, c.cols, a.cols);
    let ld = round_up(k, dot.lanes);
    with_buffers::<K::T, ()>(0, n * ld, |_, bt| {
        // SAFETY: `B` is valid for its shape, `bt` holds `n·ld` values, `ld` is a multiple of the
        // kernel's lanes (16), and the kernel's CPU features were checked.
        if !unsafe { (dot.pack)(bt, ld, b) } {
            // Row by row of `B`, each value to its column's row of `Bᵀ`.
            for kk in 0..k {
                // SAFETY: row `kk` of `B` is inside it.
                let src = unsafe { b.at(kk, 0) };
                for j in 0..n {
                    // SAFETY: `(kk, j)` is inside `B`.
                    bt[j * ld + kk] = unsafe { *src.offset(j as isize * b.cs) };
                }
            }
            for row in bt.chunks_exact_mut(ld) {
                row[k..].fill(zero::<K::T>());
            }
        }
        for i in (0..m).step_by(dot.rows) {
            let rows = dot.rows.min(m - i);
            for j in (0..n).step_by(dot.cols) {
                let cols = dot.cols.min(n - j);
                // SAFETY: rows `i..i + rows` of `A` hold `k` contiguous values (unit column
                // stride); `Bᵀ` rows `j..j + cols` hold `ld` values; the block of `C` is inside it.
                unsafe {
                    (dot.run)(
                        k,
                        a.at(i, 0),
                        a.rs,
                        rows,
                        bt.as_ptr().add(j * ld),
                        ld,
                        cols,
                        c.at(i, j),
                        c.rs,
                        c.cs,
                        alpha,
                        beta,
                    );
                }
            }
        }
    });
}
