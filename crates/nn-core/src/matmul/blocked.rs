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

use super::skinny;

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

    /// As [`Micro::kernel`] for `NR/2` columns if `narrow`, else `NR`, reading `A` in place (row
    /// `i`, step `k` at `a + i·rs_a + k·cs_a`) instead of from a packed panel.
    ///
    /// # Safety
    /// As [`Micro::kernel`]; all `MR` rows of `A` are readable for `kc` steps.
    #[allow(clippy::too_many_arguments)]
    unsafe fn kernel_strided(
        narrow: bool,
        kc: usize,
        a: *const Self::T,
        rs_a: isize,
        cs_a: isize,
        b: *const Self::T,
        c: *mut Self::T,
        rs_c: isize,
        rows: usize,
        alpha: Self::T,
        beta: Self::T,
    );

    /// As [`Micro::kernel`] for the first `rows ≤ MR` rows only (only those rows of `A` are
    /// read), reading `A` in place as [`Micro::kernel_strided`] does and `B` in place too: step
    /// `k` of `B` is the `NR` contiguous values at `b + k·rs_b` (a packed panel has `rs_b = NR`).
    ///
    /// # Safety
    /// As [`Micro::kernel_strided`], with `B` readable at those offsets.
    #[allow(clippy::too_many_arguments)]
    unsafe fn kernel_short(
        kc: usize,
        a: *const Self::T,
        rs_a: isize,
        cs_a: isize,
        b: *const Self::T,
        rs_b: isize,
        c: *mut Self::T,
        rs_c: isize,
        rows: usize,
        alpha: Self::T,
        beta: Self::T,
    );

    /// The row-by-column kernel for outputs of at most [`Dot::cols`] columns, if this kernel set
    /// has one.
    const DOT: Option<Dot<Self::T>> = None;

    /// [`pack`] compiled with the kernel's instruction set (wider copies).
    ///
    /// # Safety
    /// As [`pack`], and the CPU supports the kernel's instructions.
    unsafe fn pack(dst: &mut [Self::T], src: Mat<Self::T>, rows: usize, kc: usize, width: usize);
}

/// A row-by-column kernel: `C[i, j] ← α·Σ_k A[i, k]·Bᵀ[j, k] + β·C[i, j]` with the reduction
/// in the vector lanes, for products whose output has a few columns (the output layer).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Dot<T> {
    /// Reduction steps per vector: the packed `Bᵀ` rows are zero-padded to a multiple of it.
    pub(crate) lanes: usize,
    /// Most rows of `C` per call.
    pub(crate) rows: usize,
    /// Most columns of `C` per call.
    pub(crate) cols: usize,
    /// The kernel.
    pub(crate) run: DotFn<T>,
    /// A fast packing of `Bᵀ` (see `x86_pack::pack_bt_f32`): fills `bt` with rows of row stride
    /// `ld`, zero-padded, and returns `true`, or returns `false` for a `B` it does not take.
    pub(crate) pack: unsafe fn(&mut [T], usize, Mat<T>) -> bool,
}

/// [`Dot::run`]`(k, a, rs_a, rows, bt, ld, cols, c, rs_c, cs_c, α, β)` computes rows
/// `0..rows ≤ Dot::rows` and columns `0..cols ≤ Dot::cols` of `C` from `k` contiguous values per
/// row of `A` (row stride `rs_a`) and per row of the packed `Bᵀ` (row stride `ld`, a multiple of
/// [`Dot::lanes`], zero past `k`); `C[i, j]` is at `c + i·rs_c + j·cs_c`.
pub(crate) type DotFn<T> =
    unsafe fn(usize, *const T, isize, usize, *const T, usize, usize, *mut T, isize, isize, T, T);

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
        Mat {
            ptr: self.ptr,
            rows: self.cols,
            cols: self.rows,
            rs: self.cs,
            cs: self.rs,
        }
    }

    /// Pointer to element `(i, j)`.
    ///
    /// # Safety
    /// `i ≤ rows`, `j ≤ cols` and the element (or one-past position) lies inside the allocation.
    #[inline(always)]
    pub(crate) unsafe fn at(self, i: usize, j: usize) -> *mut T {
        // SAFETY: forwarded to the caller.
        unsafe { self.ptr.offset(i as isize * self.rs + j as isize * self.cs) }
    }

    /// The sub-matrix `[r0, r0 + rows) × [c0, c0 + cols)`.
    ///
    /// # Safety
    /// The block lies inside `self` and is not empty.
    pub(super) unsafe fn block(self, r0: usize, rows: usize, c0: usize, cols: usize) -> Self {
        // SAFETY: forwarded to the caller.
        Mat {
            ptr: unsafe { self.at(r0, c0) },
            rows,
            cols,
            rs: self.rs,
            cs: self.cs,
        }
    }
}

/// `0` of a float type.
pub(super) fn zero<T: NdFloat>() -> T {
    T::zero()
}

/// `1` of a float type.
pub(super) fn one<T: NdFloat>() -> T {
    T::one()
}

/// `ceil(x / y) · y`.
pub(super) fn round_up(x: usize, y: usize) -> usize {
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
pub(crate) unsafe fn gemm<K: Micro>(
    alpha: K::T,
    a: Mat<K::T>,
    b: Mat<K::T>,
    beta: K::T,
    c: Mat<K::T>,
) {
    let (path, (a, b, c)) = plan::<K>(a, b, c);
    let (m, n, k) = (c.rows, c.cols, a.cols);
    let (gm, gn) = grid::<K>(m, n, k, rayon::current_num_threads());
    if gm * gn == 1 {
        // SAFETY: forwarded contract.
        unsafe { run::<K>(path, alpha, a, b, beta, c) };
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
            run::<K>(
                path,
                alpha,
                a.block(r0, r1 - r0, 0, k),
                b.block(0, k, c0, c1 - c0),
                beta,
                c.block(r0, r1 - r0, c0, c1 - c0),
            );
        }
    });
}

/// `(A, B, C)` of one product.
type Operands<T> = (Mat<T>, Mat<T>, Mat<T>);

/// How a product is computed. Decided once per call, before the output is split between threads,
/// so every element of `C` goes through the same operations whatever the thread count.
#[derive(Debug, Clone, Copy)]
enum Path<T> {
    /// Packed panels of both operands and the register tile ([`serial`]); outputs (or parts of
    /// them) at most `NR` wide take the narrow path, which computes the same operations.
    Packed,
    /// `m ≤ MR` and `B` with unit column stride: both operands read in place ([`skinny::short`]).
    Short,
    /// `n ≤ Dot::cols` and `A` with contiguous rows: sums along the rows ([`skinny::dot`]).
    Dot(Dot<T>),
}

/// Chooses the path and between computing `C = A·B` and `Cᵀ = Bᵀ·Aᵀ` (both free: only strides
/// change). Depends on shapes and strides only.
///
/// A side of `C` that fits the dot kernel's columns (ten, the output layer) goes there when the
/// matching operand has contiguous rows; one that fits in a tile's rows, to the short path when
/// the other operand has contiguous rows. Otherwise a side of at most `NR` with unit stride goes
/// to the columns (the narrow path, which does not pack `A`), and among the rest the orientation
/// with less padded work at the tile edges wins, then a unit column stride in `C` (the kernel
/// then writes straight into it).
fn plan<K: Micro>(a: Mat<K::T>, b: Mat<K::T>, c: Mat<K::T>) -> (Path<K::T>, Operands<K::T>) {
    let kept = (a, b, c);
    let swapped = (b.t(), a.t(), c.t());
    if let Some(dot) = K::DOT {
        if c.cols <= dot.cols && a.cs == 1 {
            return (Path::Dot(dot), kept);
        }
        if c.rows <= dot.cols && b.rs == 1 {
            return (Path::Dot(dot), swapped);
        }
    }
    if c.rows <= K::MR && b.cs == 1 {
        return (Path::Short, kept);
    }
    if c.cols <= K::MR && a.rs == 1 {
        return (Path::Short, swapped);
    }
    if c.cols <= K::NR && c.cs == 1 {
        return (Path::Packed, kept);
    }
    if c.rows <= K::NR && c.rs == 1 {
        return (Path::Packed, swapped);
    }
    let cost = |m: usize, n: usize, unit: bool| {
        round_up(m, K::MR) * round_up(n, K::NR) * if unit { 10 } else { 11 }
    };
    let keep = cost(c.rows, c.cols, c.cs == 1);
    let swap = cost(c.cols, c.rows, c.rs == 1);
    (Path::Packed, if swap < keep { swapped } else { kept })
}

/// Runs one rectangle of `C` (`m, n, k ≥ 1`) on `path`.
///
/// # Safety
/// As [`gemm`], and the operands are those [`plan`] returned with `path` (or a rectangle of them).
unsafe fn run<K: Micro>(
    path: Path<K::T>,
    alpha: K::T,
    a: Mat<K::T>,
    b: Mat<K::T>,
    beta: K::T,
    c: Mat<K::T>,
) {
    let kc_max = k_block(a.cols, K::KC);
    // SAFETY: forwarded contract; each path's own conditions are those `plan` checked.
    unsafe {
        match path {
            Path::Dot(dot) => skinny::dot::<K>(dot, alpha, a, b, beta, c),
            Path::Short => skinny::short::<K>(alpha, a, b, beta, c, kc_max),
            Path::Packed if c.cols <= K::NR => skinny::narrow::<K>(alpha, a, b, beta, c, kc_max),
            Path::Packed => serial::<K>(alpha, a, b, beta, c, kc_max),
        }
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
pub(super) fn with_buffers<T: NdFloat, R>(
    len_a: usize,
    len_b: usize,
    f: impl FnOnce(&mut [T], &mut [T]) -> R,
) -> R {
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
/// Used for `A` (rows of `A`, `width = MR`) and for `Bᵀ` (columns of `B`, `width = NR`). The
/// kernels' widths get a copy with the width known at compile time (no `memcpy` call per step).
///
/// # Safety
/// `src` is valid for its first `rows × kc` elements; `dst` holds `round_up(rows, width)·kc`.
#[inline(always)]
pub(crate) unsafe fn pack<T: NdFloat>(
    dst: &mut [T],
    src: Mat<T>,
    rows: usize,
    kc: usize,
    width: usize,
) {
    // SAFETY: forwarded contract.
    unsafe {
        match width {
            32 => pack_w::<T, 32>(dst, src, rows, kc),
            16 => pack_w::<T, 16>(dst, src, rows, kc),
            12 => pack_w::<T, 12>(dst, src, rows, kc),
            8 => pack_w::<T, 8>(dst, src, rows, kc),
            6 => pack_w::<T, 6>(dst, src, rows, kc),
            _ => pack_any(dst, src, rows, kc, width),
        }
    }
}

/// [`pack`] for a width known at compile time.
///
/// # Safety
/// As [`pack`].
#[inline(always)]
unsafe fn pack_w<T: NdFloat, const W: usize>(dst: &mut [T], src: Mat<T>, rows: usize, kc: usize) {
    let full = rows / W;
    if src.rs == 1 {
        // Column-major source (e.g. a row-major `B` seen as `Bᵀ`): each step of k is a contiguous
        // run of `W` values, and consecutive panels are adjacent in memory, so walk k outside and
        // the panels inside, reading the source as one forward stream.
        for kk in 0..kc {
            for p in 0..full {
                // SAFETY: rows p·W..(p+1)·W of column kk are inside `src`, contiguous (rs = 1).
                let col: &[T; W] = unsafe { &*src.at(p * W, kk).cast::<[T; W]>() };
                dst[p * W * kc + kk * W..][..W].copy_from_slice(col);
            }
        }
    }
    for (p, panel) in dst.chunks_exact_mut(W * kc).take(full).enumerate() {
        let r0 = p * W;
        if src.rs == 1 {
            // Done above, in one pass over the whole source.
            break;
        }
        if src.cs == 1 {
            // Row-major source: blocks of 8 steps of k from each of the `W` rows, written out
            // step by step (the block of `8·W` values stays in registers or L1).
            let mut kk = 0;
            while kk + 8 <= kc {
                let mut block = [[T::zero(); W]; 8];
                // A transposing copy: `i` indexes the inner dimension of `block`.
                #[allow(clippy::needless_range_loop)]
                for i in 0..W {
                    // SAFETY: row r0+i, columns kk..kk+8 are inside `src`, contiguous (cs = 1).
                    let row: &[T; 8] = unsafe { &*src.at(r0 + i, kk).cast::<[T; 8]>() };
                    for (t, &v) in row.iter().enumerate() {
                        block[t][i] = v;
                    }
                }
                panel[kk * W..(kk + 8) * W].copy_from_slice(block.as_flattened());
                kk += 8;
            }
            for k2 in kk..kc {
                for i in 0..W {
                    // SAFETY: element (r0+i, k2) is inside `src`.
                    panel[k2 * W + i] = unsafe { *src.at(r0 + i, k2) };
                }
            }
        } else {
            for (kk, out) in panel.chunks_exact_mut(W).enumerate() {
                for (i, slot) in out.iter_mut().enumerate() {
                    // SAFETY: element (r0+i, kk) is inside `src`.
                    *slot = unsafe { *src.at(r0 + i, kk) };
                }
            }
        }
    }
    let rest = rows - full * W;
    if rest != 0 {
        // SAFETY: the last, partial panel starts at row full·W of `src`; forwarded contract.
        unsafe {
            pack_any(
                &mut dst[full * W * kc..],
                src.block(full * W, rest, 0, kc),
                rest,
                kc,
                W,
            );
        }
    }
}

/// [`pack`] for any width, element by element (the partial panel at an edge).
///
/// # Safety
/// As [`pack`].
#[inline(always)]
unsafe fn pack_any<T: NdFloat>(dst: &mut [T], src: Mat<T>, rows: usize, kc: usize, width: usize) {
    for (p, panel) in dst
        .chunks_exact_mut(width * kc)
        .take(rows.div_ceil(width))
        .enumerate()
    {
        let r0 = p * width;
        let h = width.min(rows - r0);
        for (kk, out) in panel.chunks_exact_mut(width).enumerate() {
            for (i, slot) in out[..h].iter_mut().enumerate() {
                // SAFETY: element (r0+i, kk) is inside `src`.
                *slot = unsafe { *src.at(r0 + i, kk) };
            }
            out[h..].fill(T::zero());
        }
    }
}

/// Largest register tile among the kernels (for the edge-tile buffer).
const MAX_TILE: usize = 16 * 32;

/// The serial loop nest on one rectangle of `C` (`m, n, k ≥ 1`).
///
/// # Safety
/// As [`gemm`].
unsafe fn serial<K: Micro>(
    alpha: K::T,
    a: Mat<K::T>,
    b: Mat<K::T>,
    beta: K::T,
    c: Mat<K::T>,
    kc_max: usize,
) {
    let (m, n, k) = (c.rows, c.cols, a.cols);
    let mc_max = K::MC.min(round_up(m, K::MR));
    let nc_max = K::NC.min(round_up(n, K::NR));
    with_buffers::<K::T, ()>(mc_max * kc_max, nc_max * kc_max, |abuf, bbuf| {
        for jc in (0..n).step_by(K::NC) {
            let nc = K::NC.min(n - jc);
            for pc in (0..k).step_by(kc_max) {
                let kc = kc_max.min(k - pc);
                let beta_here = if pc == 0 { beta } else { one::<K::T>() };
                // SAFETY: the block is inside `B`; `bbuf` holds `round_up(nc, NR)·kc` values.
                unsafe { K::pack(bbuf, b.block(pc, kc, jc, nc).t(), nc, kc, K::NR) };
                for ic in (0..m).step_by(K::MC) {
                    let mc = K::MC.min(m - ic);
                    // SAFETY: the block is inside `A`; `abuf` holds `round_up(mc, MR)·kc` values.
                    unsafe { K::pack(abuf, a.block(ic, mc, pc, kc), mc, kc, K::MR) };
                    for (jp, bpanel) in bbuf
                        .chunks_exact(K::NR * kc)
                        .take(nc.div_ceil(K::NR))
                        .enumerate()
                    {
                        let j = jc + jp * K::NR;
                        let cols = K::NR.min(n - j);
                        for (ip, apanel) in abuf
                            .chunks_exact(K::MR * kc)
                            .take(mc.div_ceil(K::MR))
                            .enumerate()
                        {
                            let i = ic + ip * K::MR;
                            let rows = K::MR.min(m - i);
                            // SAFETY: the tile (i.., j..) of `rows × cols` is inside `C`, the panels
                            // hold `kc` steps.
                            unsafe {
                                tile::<K>(c.block(i, rows, j, cols), K::NR, beta_here, |ct, rs| {
                                    K::kernel(
                                        kc,
                                        apanel.as_ptr(),
                                        bpanel.as_ptr(),
                                        ct,
                                        rs,
                                        rows,
                                        alpha,
                                        beta_here,
                                    )
                                });
                            }
                        }
                    }
                }
            }
        }
    });
}

/// One micro-tile of `C`, `width` columns wide at most: `run(ptr, row_stride)` writes straight
/// into `C` when the tile is `width` wide with unit column stride, otherwise into a buffer whose
/// rows (of stride `NR`) are copied in first (when `β ≠ 0`) and out afterwards. Same kernel, same
/// arithmetic, so the edges round like the interior.
///
/// # Safety
/// `c` is a valid writable tile of at most `MR × width`, `width ≤ NR`; `run` writes at most
/// `c.rows` rows of `width` values at the pointer it is given.
#[inline(always)]
pub(super) unsafe fn tile<K: Micro>(
    c: Mat<K::T>,
    width: usize,
    beta: K::T,
    run: impl FnOnce(*mut K::T, isize),
) {
    if c.cols == width && c.cs == 1 {
        run(c.ptr, c.rs);
        return;
    }
    let mut buf = [zero::<K::T>(); MAX_TILE];
    let nr = K::NR;
    if beta != zero::<K::T>() {
        each_index(c, |i, j| {
            // SAFETY: (i, j) is inside the tile.
            buf[i * nr + j] = unsafe { *c.at(i, j) };
        });
    }
    run(buf.as_mut_ptr(), nr as isize);
    each_index(c, |i, j| {
        // SAFETY: (i, j) is inside the tile.
        unsafe { *c.at(i, j) = buf[i * nr + j] };
    });
}

/// Calls `f(i, j)` for every element of `c`, walking `C`'s memory forwards: by columns when
/// its columns are contiguous (the transposed tiles of the short path), else by rows.
#[inline(always)]
fn each_index<T>(c: Mat<T>, mut f: impl FnMut(usize, usize)) {
    if c.rs.unsigned_abs() < c.cs.unsigned_abs() {
        for j in 0..c.cols {
            for i in 0..c.rows {
                f(i, j);
            }
        }
    } else {
        for i in 0..c.rows {
            for j in 0..c.cols {
                f(i, j);
            }
        }
    }
}
