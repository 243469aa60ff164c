//! The cache-blocked, packed GEMM driver shared by every SIMD micro-kernel.
//!
//! Loop nest (BLIS order): for each `NC`-wide column block of `C`, for each `KC`-deep block of
//! the reduction, pack that `KC × NC` block of `B` into `NR`-wide panels; for each `MC`-tall row
//! block, pack that `MC × KC` block of `A` into `MR`-tall panels; then run the `MR × NR`
//! micro-kernel over every panel pair. The packed `A` block stays in L2, one packed `B` panel in L1.
//!
//! Parallelism: the output is cut into a grid of disjoint rectangles of whole micro-tiles, one per
//! rayon task, and each task runs the serial loop nest on its rectangle. The reduction dimension
//! is never split and its block boundaries depend only on `K`, so every element of `C` is computed
//! by the same sequence of floating-point operations whatever the thread count.

use std::cell::RefCell;

use ndarray::NdFloat;
use rayon::prelude::*;

/// A register-tile micro-kernel and its blocking parameters.
pub(crate) trait Micro {
    /// Element type.
    type T: NdFloat;
    /// Rows of the register tile.
    const MR: usize;
    /// Columns of the register tile (a multiple of the vector width).
    const NR: usize;
    /// Largest reduction block (the packed panels hold `KC` steps).
    const KC: usize;
    /// Rows of `A` packed at a time (a multiple of `MR`).
    const MC: usize;
    /// Columns of `B` packed at a time (a multiple of `NR`).
    const NC: usize;

    /// `C[0..rows, 0..NR] ← α·(Apanel·Bpanel) + β·C` (`α·(…)` alone when `β = 0`).
    ///
    /// # Safety
    /// The CPU supports the kernel's instructions; `a` holds `kc·MR` values, `b` holds `kc·NR`
    /// values; rows `0..rows` of `c` (row stride `rs_c`, unit column stride) hold `NR` writable
    /// values each; `rows ≤ MR`.
    #[allow(clippy::too_many_arguments)]
    unsafe fn kernel(
        kc: usize,
        a: *const Self::T,
        b: *const Self::T,
        c: *mut Self::T,
        rs_c: isize,
        rows: usize,
        alpha: Self::T,
        beta: Self::T,
    );
}

/// A strided matrix by raw pointer (a view whose lifetime the caller guarantees).
#[derive(Debug)]
pub(crate) struct Mat<T> {
    pub(crate) ptr: *mut T,
    pub(crate) rows: usize,
    pub(crate) cols: usize,
    pub(crate) rs: isize,
    pub(crate) cs: isize,
}

impl<T> Clone for Mat<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for Mat<T> {}

// SAFETY: `Mat` is only shared between rayon tasks that touch disjoint elements of the output (or
// only read the inputs), for no longer than the `gemm` call that borrowed the underlying views.
unsafe impl<T: Send> Send for Mat<T> {}
// SAFETY: as above.
unsafe impl<T: Sync> Sync for Mat<T> {}

impl<T> Mat<T> {
    /// The transpose (no copy: swaps shape and strides).
    pub(crate) fn t(self) -> Self {
        Mat { ptr: self.ptr, rows: self.cols, cols: self.rows, rs: self.cs, cs: self.rs }
    }

    /// Pointer to element `(i, j)`.
    ///
    /// # Safety
    /// `i ≤ rows`, `j ≤ cols` and the element (or one-past position) lies inside the allocation.
    #[inline(always)]
    unsafe fn at(self, i: usize, j: usize) -> *mut T {
        // SAFETY: forwarded to the caller.
        unsafe { self.ptr.offset(i as isize * self.rs + j as isize * self.cs) }
    }

    /// The sub-matrix `[r0, r0 + rows) × [c0, c0 + cols)`.
    ///
    /// # Safety
    /// The block lies inside `self` and is not empty.
    unsafe fn block(self, r0: usize, rows: usize, c0: usize, cols: usize) -> Self {
        // SAFETY: forwarded to the caller.
        Mat { ptr: unsafe { self.at(r0, c0) }, rows, cols, rs: self.rs, cs: self.cs }
    }
}

/// `0` of a float type.
fn zero<T: NdFloat>() -> T {
    T::zero()
}

/// `1` of a float type.
fn one<T: NdFloat>() -> T {
    T::one()
}

/// `ceil(x / y) · y`.
fn round_up(x: usize, y: usize) -> usize {
    x.div_ceil(y) * y
}

/// Reduction blocks: `ceil(k / KC)` blocks of (nearly) equal depth. Depends on `k` only.
fn k_block(k: usize, kc_max: usize) -> usize {
    k.div_ceil(k.div_ceil(kc_max))
}

/// Smallest amount of work (multiply-adds) worth a rayon task (≈ 10 µs on one core).
const MIN_WORK_PER_TASK: usize = 1 << 20;

/// `C ← α·A·B + β·C` with micro-kernel `K`; `m, n, k ≥ 1`.
///
/// # Safety
/// The matrices are valid for their shapes and strides, `c` is writable, does not overlap `a` or
/// `b`, and no two of its elements share an address; the CPU supports `K`'s instructions.
pub(crate) unsafe fn gemm<K: Micro>(alpha: K::T, a: Mat<K::T>, b: Mat<K::T>, beta: K::T, c: Mat<K::T>) {
    let (a, b, c) = orient::<K>(a, b, c);
    let (m, n, k) = (c.rows, c.cols, a.cols);
    let (gm, gn) = grid::<K>(m, n, k, rayon::current_num_threads());
    if gm * gn == 1 {
        // SAFETY: forwarded contract.
        unsafe { serial::<K>(alpha, a, b, beta, c) };
        return;
    }
    let (mp, np) = (m.div_ceil(K::MR), n.div_ceil(K::NR));
    (0..gm * gn).into_par_iter().for_each(|task| {
        let (ti, tj) = (task / gn, task % gn);
        let (r0, r1) = ((ti * mp / gm) * K::MR, ((ti + 1) * mp / gm * K::MR).min(m));
        let (c0, c1) = ((tj * np / gn) * K::NR, ((tj + 1) * np / gn * K::NR).min(n));
        if r0 >= r1 || c0 >= c1 {
            return;
        }
        // SAFETY: the grid's rectangles are disjoint, non-empty and inside `C`; the rows of `A` and
        // the columns of `B` they need are inside those matrices.
        unsafe {
            serial::<K>(
                alpha,
                a.block(r0, r1 - r0, 0, k),
                b.block(0, k, c0, c1 - c0),
                beta,
                c.block(r0, r1 - r0, c0, c1 - c0),
            );
        }
    });
}

/// Chooses between computing `C = A·B` and `Cᵀ = Bᵀ·Aᵀ` (both free: only strides change).
///
/// Prefers the orientation with less padded work at the tile edges, and a unit column stride in
/// `C` (the kernel then writes straight into it). Depends on shapes and strides only.
fn orient<K: Micro>(a: Mat<K::T>, b: Mat<K::T>, c: Mat<K::T>) -> (Mat<K::T>, Mat<K::T>, Mat<K::T>) {
    let cost = |m: usize, n: usize, unit: bool| {
        round_up(m, K::MR) * round_up(n, K::NR) * if unit { 10 } else { 11 }
    };
    let keep = cost(c.rows, c.cols, c.cs == 1);
    let swap = cost(c.cols, c.rows, c.rs == 1);
    if swap < keep {
        (b.t(), a.t(), c.t())
    } else {
        (a, b, c)
    }
}

/// The task grid `(gm, gn)`: `gm·gn` rectangles of `C`, at most one per thread, none smaller than
/// [`MIN_WORK_PER_TASK`]. Among the factorisations, picks the one that packs the least (each task
/// packs its own rows of `A` and columns of `B`).
pub(crate) fn grid<K: Micro>(m: usize, n: usize, k: usize, threads: usize) -> (usize, usize) {
    let work = m.saturating_mul(n).saturating_mul(k);
    let tasks = threads.min(work / MIN_WORK_PER_TASK).max(1);
    if tasks == 1 {
        return (1, 1);
    }
    let (mp, np) = (m.div_ceil(K::MR), n.div_ceil(K::NR));
    let mut best = (1, 1);
    let mut best_cost = usize::MAX;
    for gm in 1..=tasks {
        let gn = tasks / gm;
        if gm * gn != tasks || gm > mp || gn > np {
            continue;
        }
        let cost = gn * m * k + gm * n * k;
        if cost < best_cost {
            best_cost = cost;
            best = (gm, gn);
        }
    }
    best
}

/// Scratch space for the packed blocks, one per thread, reused across calls (fresh allocations
/// of this size would be `mmap`ed and page-faulted on every call).
#[derive(Default)]
struct Scratch {
    words: Vec<u64>,
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

/// Runs `f` with two 64-byte-aligned packing buffers of `len_a` and `len_b` elements.
fn with_buffers<T: NdFloat, R>(len_a: usize, len_b: usize, f: impl FnOnce(&mut [T], &mut [T]) -> R) -> R {
    // 64-byte alignment in elements; the element types are f32 and f64 (size 4 or 8, align ≤ 8).
    let per_line = 64 / std::mem::size_of::<T>();
    let padded_a = round_up(len_a, per_line);
    let total_bytes = (padded_a + len_b) * std::mem::size_of::<T>() + 64;
    let words = total_bytes.div_ceil(8);
    let run = |scratch: &mut Scratch| {
        if scratch.words.len() < words {
            scratch.words = vec![0; words];
        }
        let base = scratch.words.as_mut_ptr();
        let skip = base.align_offset(64);
        // SAFETY: `skip ≤ 7` words, and the buffer has 64 spare bytes; the region is reinterpreted
        // as `T` (a plain float type for which every bit pattern is valid and whose alignment is
        // at most that of `u64`); the two slices are disjoint.
        unsafe {
            let start = base.add(skip).cast::<T>();
            let a = std::slice::from_raw_parts_mut(start, len_a);
            let b = std::slice::from_raw_parts_mut(start.add(padded_a), len_b);
            f(a, b)
        }
    };
    SCRATCH.with(|cell| match cell.try_borrow_mut() {
        Ok(mut scratch) => run(&mut scratch),
        // Re-entered on this thread (cannot happen in the kernels' serial loops, but stay correct).
        Err(_) => run(&mut Scratch::default()),
    })
}

/// Packs rows `[0, rows)` × columns `[0, kc)` of `src` into `width`-tall panels: panel `p`, step
/// `k`, lane `i` goes to `dst[p·width·kc + k·width + i]`; the lanes past `rows` are zero.
///
/// Used for `A` (rows of `A`, `width = MR`) and for `Bᵀ` (columns of `B`, `width = NR`).
///
/// # Safety
/// `src` is valid for its first `rows × kc` elements; `dst` holds `round_up(rows, width)·kc`.
unsafe fn pack<T: NdFloat>(dst: &mut [T], src: Mat<T>, rows: usize, kc: usize, width: usize) {
    let zero = T::zero();
    for (p, panel) in dst.chunks_exact_mut(width * kc).take(rows.div_ceil(width)).enumerate() {
        let r0 = p * width;
        let h = width.min(rows - r0);
        if src.rs == 1 {
            // Column-major source: each step of k is a contiguous run of `h` values.
            for (kk, out) in panel.chunks_exact_mut(width).enumerate() {
                // SAFETY: rows r0..r0+h and column kk are inside `src`.
                let col = unsafe { std::slice::from_raw_parts(src.at(r0, kk), h) };
                out[..h].copy_from_slice(col);
                out[h..].fill(zero);
            }
        } else if src.cs == 1 {
            // Row-major source: read each row contiguously, write with stride `width`.
            for i in 0..h {
                // SAFETY: row r0+i, columns 0..kc are inside `src`.
                let row = unsafe { std::slice::from_raw_parts(src.at(r0 + i, 0), kc) };
                for (kk, &v) in row.iter().enumerate() {
                    panel[kk * width + i] = v;
                }
            }
            if h < width {
                for out in panel.chunks_exact_mut(width) {
                    out[h..].fill(zero);
                }
            }
        } else {
            for (kk, out) in panel.chunks_exact_mut(width).enumerate() {
                for (i, slot) in out[..h].iter_mut().enumerate() {
                    // SAFETY: element (r0+i, kk) is inside `src`.
                    *slot = unsafe { *src.at(r0 + i, kk) };
                }
                out[h..].fill(zero);
            }
        }
    }
}

/// Largest register tile among the kernels (for the edge-tile buffer).
const MAX_TILE: usize = 16 * 32;

/// The serial loop nest on one rectangle of `C` (`m, n, k ≥ 1`).
///
/// # Safety
/// As [`gemm`].
unsafe fn serial<K: Micro>(alpha: K::T, a: Mat<K::T>, b: Mat<K::T>, beta: K::T, c: Mat<K::T>) {
    let (m, n, k) = (c.rows, c.cols, a.cols);
    let kc_max = k_block(k, K::KC);
    let mc_max = K::MC.min(round_up(m, K::MR));
    let nc_max = K::NC.min(round_up(n, K::NR));
    with_buffers::<K::T, ()>(mc_max * kc_max, nc_max * kc_max, |abuf, bbuf| {
        for jc in (0..n).step_by(K::NC) {
            let nc = K::NC.min(n - jc);
            for pc in (0..k).step_by(kc_max) {
                let kc = kc_max.min(k - pc);
                let beta_here = if pc == 0 { beta } else { one::<K::T>() };
                // SAFETY: the block is inside `B`; `bbuf` holds `round_up(nc, NR)·kc` values.
                unsafe { pack(bbuf, b.block(pc, kc, jc, nc).t(), nc, kc, K::NR) };
                for ic in (0..m).step_by(K::MC) {
                    let mc = K::MC.min(m - ic);
                    // SAFETY: the block is inside `A`; `abuf` holds `round_up(mc, MR)·kc` values.
                    unsafe { pack(abuf, a.block(ic, mc, pc, kc), mc, kc, K::MR) };
                    for (jp, bpanel) in bbuf.chunks_exact(K::NR * kc).take(nc.div_ceil(K::NR)).enumerate() {
                        let j = jc + jp * K::NR;
                        let cols = K::NR.min(n - j);
                        for (ip, apanel) in abuf.chunks_exact(K::MR * kc).take(mc.div_ceil(K::MR)).enumerate() {
                            let i = ic + ip * K::MR;
                            let rows = K::MR.min(m - i);
                            // SAFETY: the tile (i.., j..) of `rows × cols` is inside `C`.
                            unsafe {
                                tile::<K>(kc, apanel, bpanel, c.block(i, rows, j, cols), alpha, beta_here);
                            }
                        }
                    }
                }
            }
        }
    });
}

/// One micro-tile of `C`: straight into `C` when it is full-width with unit column stride,
/// otherwise through a buffer (same kernel, same arithmetic, so edges round like the interior).
///
/// # Safety
/// `c` is a valid writable tile of at most `MR × NR`; the panels hold `kc` steps.
#[inline(always)]
unsafe fn tile<K: Micro>(kc: usize, apanel: &[K::T], bpanel: &[K::T], c: Mat<K::T>, alpha: K::T, beta: K::T) {
    if c.cols == K::NR && c.cs == 1 {
        // SAFETY: the full tile is inside `C` with unit column stride.
        unsafe { K::kernel(kc, apanel.as_ptr(), bpanel.as_ptr(), c.ptr, c.rs, c.rows, alpha, beta) };
        return;
    }
    let mut buf = [zero::<K::T>(); MAX_TILE];
    let nr = K::NR;
    if beta != zero::<K::T>() {
        for i in 0..c.rows {
            for j in 0..c.cols {
                // SAFETY: (i, j) is inside the tile.
                buf[i * nr + j] = unsafe { *c.at(i, j) };
            }
        }
    }
    // SAFETY: `buf` holds MR × NR values with row stride NR (MR·NR ≤ MAX_TILE).
    unsafe { K::kernel(kc, apanel.as_ptr(), bpanel.as_ptr(), buf.as_mut_ptr(), nr as isize, c.rows, alpha, beta) };
    for i in 0..c.rows {
        for j in 0..c.cols {
            // SAFETY: (i, j) is inside the tile.
            unsafe { *c.at(i, j) = buf[i * nr + j] };
        }
    }
}
