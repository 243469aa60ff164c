//! Slice kernels: the `f32` fast path (SIMD, chosen at run time) and the scalar loop for every
//! other float type.

use crate::activation::{Activation, Saved};
use crate::simd;
use ndarray::NdFloat;
use std::any::TypeId;

/// Reinterprets `&[F]` as `&[f32]` when `F` is `f32`.
#[inline]
fn as_f32<F: NdFloat>(s: &[F]) -> Option<&[f32]> {
    if TypeId::of::<F>() == TypeId::of::<f32>() {
        // SAFETY: `F` is `f32` (same TypeId), so the pointer, length and lifetime describe the
        // same valid `f32` slice.
        Some(unsafe { std::slice::from_raw_parts(s.as_ptr().cast::<f32>(), s.len()) })
    } else {
        None
    }
}

/// Reinterprets `&mut [F]` as `&mut [f32]` when `F` is `f32`.
#[inline]
fn as_f32_mut<F: NdFloat>(s: &mut [F]) -> Option<&mut [f32]> {
    if TypeId::of::<F>() == TypeId::of::<f32>() {
        // SAFETY: as in `as_f32`; the unique borrow of `s` moves into the result.
        Some(unsafe { std::slice::from_raw_parts_mut(s.as_mut_ptr().cast::<f32>(), s.len()) })
    } else {
        None
    }
}

/// `y = f(x)` over equal-length slices.
pub(crate) fn forward<F: NdFloat>(act: Activation, x: &[F], y: &mut [F]) {
    if let (Some(xs), Some(ys)) = (as_f32(x), as_f32_mut(y)) {
        return simd::forward(act, xs, ys);
    }
    for (o, &v) in y.iter_mut().zip(x) {
        *o = act.apply(v);
    }
}

/// `x = f(x)` over a slice.
pub(crate) fn forward_inplace<F: NdFloat>(act: Activation, x: &mut [F]) {
    if let Some(xs) = as_f32_mut(x) {
        return simd::forward_inplace(act, xs);
    }
    for v in x.iter_mut() {
        *v = act.apply(*v);
    }
}

/// `dx = dout · f'(saved)` over equal-length slices.
pub(crate) fn backward<F: NdFloat>(
    act: Activation,
    kind: Saved,
    dout: &[F],
    saved: &[F],
    dx: &mut [F],
) {
    if let (Some(d), Some(s), Some(o)) = (as_f32(dout), as_f32(saved), as_f32_mut(dx)) {
        return simd::backward(act, kind, d, s, o);
    }
    for ((o, &d), &s) in dx.iter_mut().zip(dout).zip(saved) {
        *o = d * act.derivative_of(kind, s);
    }
}

/// `g = g · f'(saved)` over equal-length slices.
pub(crate) fn backward_inplace<F: NdFloat>(act: Activation, kind: Saved, g: &mut [F], saved: &[F]) {
    if let (Some(s), Some(o)) = (as_f32(saved), as_f32_mut(g)) {
        return simd::backward_inplace(act, kind, o, s);
    }
    for (o, &s) in g.iter_mut().zip(saved) {
        *o *= act.derivative_of(kind, s);
    }
}
