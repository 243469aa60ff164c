//! The drivers that walk arrays of any dimension and layout and call a kernel on them.
//!
//! Contiguous arrays with the same memory order are handed to a slice kernel, in parallel over
//! disjoint chunks of [`PARALLEL_CHUNK`] elements once they hold at least [`PARALLEL_THRESHOLD`]
//! elements. Every other layout goes through `ndarray::Zip` with a scalar function (also in
//! parallel above the threshold). The work is element-wise, so the result never depends on the
//! number of threads.

use ndarray::{ArrayView, ArrayViewMut, Dimension, NdFloat, Zip};
use rayon::prelude::*;

/// Arrays with at least this many elements are processed in parallel with rayon.
pub const PARALLEL_THRESHOLD: usize = 1 << 16;

/// The number of elements one rayon task processes at a time (64 Ki elements, 256 KiB of `f32`).
pub const PARALLEL_CHUNK: usize = 1 << 16;

/// `out[i] = f(x[i])`; shapes must already be equal.
pub(crate) fn unary<F, D>(
    x: ArrayView<'_, F, D>,
    mut out: ArrayViewMut<'_, F, D>,
    fast: impl Fn(&[F], &mut [F]) + Sync,
    scalar: impl Fn(F) -> F + Sync,
) where
    F: NdFloat,
    D: Dimension,
{
    let len = x.len();
    if x.strides() == out.strides() {
        if let (Some(xs), Some(ys)) = (x.as_slice_memory_order(), out.as_slice_memory_order_mut()) {
            if len >= PARALLEL_THRESHOLD {
                xs.par_chunks(PARALLEL_CHUNK)
                    .zip(ys.par_chunks_mut(PARALLEL_CHUNK))
                    .for_each(|(a, b)| fast(a, b));
            } else {
                fast(xs, ys);
            }
            return;
        }
    }
    let zip = Zip::from(&mut out).and(&x);
    if len >= PARALLEL_THRESHOLD {
        zip.par_for_each(|o, &v| *o = scalar(v));
    } else {
        zip.for_each(|o, &v| *o = scalar(v));
    }
}

/// `x[i] = f(x[i])`.
pub(crate) fn unary_inplace<F, D>(
    mut x: ArrayViewMut<'_, F, D>,
    fast: impl Fn(&mut [F]) + Sync,
    scalar: impl Fn(F) -> F + Sync,
) where
    F: NdFloat,
    D: Dimension,
{
    let len = x.len();
    if let Some(xs) = x.as_slice_memory_order_mut() {
        if len >= PARALLEL_THRESHOLD {
            xs.par_chunks_mut(PARALLEL_CHUNK).for_each(&fast);
        } else {
            fast(xs);
        }
        return;
    }
    if len >= PARALLEL_THRESHOLD {
        x.par_map_inplace(|v| *v = scalar(*v));
    } else {
        x.map_inplace(|v| *v = scalar(*v));
    }
}

/// `out[i] = f(a[i], b[i])`; shapes must already be equal.
pub(crate) fn binary<F, D>(
    a: ArrayView<'_, F, D>,
    b: ArrayView<'_, F, D>,
    mut out: ArrayViewMut<'_, F, D>,
    fast: impl Fn(&[F], &[F], &mut [F]) + Sync,
    scalar: impl Fn(F, F) -> F + Sync,
) where
    F: NdFloat,
    D: Dimension,
{
    let len = a.len();
    if a.strides() == out.strides() && b.strides() == out.strides() {
        if let (Some(xa), Some(xb), Some(ys)) = (
            a.as_slice_memory_order(),
            b.as_slice_memory_order(),
            out.as_slice_memory_order_mut(),
        ) {
            if len >= PARALLEL_THRESHOLD {
                xa.par_chunks(PARALLEL_CHUNK)
                    .zip(xb.par_chunks(PARALLEL_CHUNK))
                    .zip(ys.par_chunks_mut(PARALLEL_CHUNK))
                    .for_each(|((p, q), r)| fast(p, q, r));
            } else {
                fast(xa, xb, ys);
            }
            return;
        }
    }
    let zip = Zip::from(&mut out).and(&a).and(&b);
    if len >= PARALLEL_THRESHOLD {
        zip.par_for_each(|o, &p, &q| *o = scalar(p, q));
    } else {
        zip.for_each(|o, &p, &q| *o = scalar(p, q));
    }
}

/// `a[i] = f(a[i], b[i])`; shapes must already be equal.
pub(crate) fn binary_inplace<F, D>(
    mut a: ArrayViewMut<'_, F, D>,
    b: ArrayView<'_, F, D>,
    fast: impl Fn(&mut [F], &[F]) + Sync,
    scalar: impl Fn(F, F) -> F + Sync,
) where
    F: NdFloat,
    D: Dimension,
{
    let len = a.len();
    if a.strides() == b.strides() {
        if let (Some(xb), Some(xa)) = (b.as_slice_memory_order(), a.as_slice_memory_order_mut()) {
            if len >= PARALLEL_THRESHOLD {
                xa.par_chunks_mut(PARALLEL_CHUNK)
                    .zip(xb.par_chunks(PARALLEL_CHUNK))
                    .for_each(|(p, q)| fast(p, q));
            } else {
                fast(xa, xb);
            }
            return;
        }
    }
    let zip = Zip::from(&mut a).and(&b);
    if len >= PARALLEL_THRESHOLD {
        zip.par_for_each(|p, &q| *p = scalar(*p, q));
    } else {
        zip.for_each(|p, &q| *p = scalar(*p, q));
    }
}
