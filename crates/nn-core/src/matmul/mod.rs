//! Matrix products of the forward and backward passes (`X·W`, `Xᵀ·dY`, `dY·Wᵀ`).
//!
//! Every product in the workspace goes through [`gemm`], so one module decides how it is computed:
//!
//! - On x86-64 with AVX-512F and AVX-512VL (checked once at run time and cached), a packed,
//!   cache-blocked GEMM with a 12 × 32 (`f32`) or 12 × 16 (`f64`) register tile written with
//!   `std::arch` intrinsics; with AVX2 + FMA the same driver with 6 × 16 / 6 × 8 tiles. Products
//!   with a short side (the output layer's ten classes and its gradients) skip the packing of the
//!   long operand, and `f32` products with at most ten output columns sum along the vector lanes
//!   instead of leaving six of sixteen idle (`skinny.rs`).
//! - Elsewhere ([`Kernel::Portable`]), `ndarray`'s `general_mat_mul` (the `matrixmultiply`
//!   crate) on fixed 64-row chunks of `C`.
//!
//! Transposed and other strided views go in as they are: packing reads any strides, so `x.t()`
//! costs nothing. Large products run in parallel on the current rayon pool, each task owning a
//! disjoint rectangle of `C` and the whole reduction, so the result is bit-identical for any
//! number of threads. Products too small to repay a rayon task run on the calling thread.
//!
//! [`gemm_reference`] is the plain triple loop the tests compare against.

mod blocked;
mod skinny;
#[cfg(target_arch = "x86_64")]
mod x86;
#[cfg(target_arch = "x86_64")]
mod x86_dot;
#[cfg(target_arch = "x86_64")]
mod x86_pack;

use std::any::TypeId;
use std::sync::OnceLock;

use ndarray::{linalg::general_mat_mul, Array2, ArrayView2, ArrayViewMut2, Axis, NdFloat};
use rayon::prelude::*;

use blocked::Mat;

/// Which implementation computes a product.
///
/// [`Kernel::detect`] picks the fastest one the CPU supports; [`gemm_with`] lets tests and benches
/// run a particular one.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kernel {
    /// Packed GEMM with AVX-512F micro-kernels (x86-64; needs AVX-512F and AVX-512VL, which
    /// every AVX-512 CPU since Skylake-X has: VL gives the kernels all 32 vector registers).
    Avx512,
    /// Packed GEMM with AVX2 + FMA micro-kernels (x86-64).
    Avx2Fma,
    /// `ndarray`'s `general_mat_mul` (the `matrixmultiply` crate) on row chunks; runs anywhere.
    Portable,
}

impl Kernel {
    /// The fastest kernel this CPU supports (detected on the first call, then cached).
    ///
    /// ```
    /// use nn_core::matmul::Kernel;
    /// assert!(Kernel::detect().is_supported());
    /// ```
    pub fn detect() -> Kernel {
        static DETECTED: OnceLock<Kernel> = OnceLock::new();
        *DETECTED.get_or_init(|| {
            [Kernel::Avx512, Kernel::Avx2Fma]
                .into_iter()
                .find(|k| k.is_supported())
                .unwrap_or(Kernel::Portable)
        })
    }

    /// Whether this CPU can run the kernel.
    pub fn is_supported(self) -> bool {
        match self {
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx512 => {
                std::arch::is_x86_feature_detected!("avx512f")
                    && std::arch::is_x86_feature_detected!("avx512vl")
            }
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx2Fma => {
                std::arch::is_x86_feature_detected!("avx2")
                    && std::arch::is_x86_feature_detected!("fma")
            }
            #[cfg(not(target_arch = "x86_64"))]
            Kernel::Avx512 | Kernel::Avx2Fma => false,
            Kernel::Portable => true,
        }
    }

    /// A short lower-case name (`"avx512"`, `"avx2-fma"`, `"portable"`), e.g. for bench ids.
    pub fn name(self) -> &'static str {
        match self {
            Kernel::Avx512 => "avx512",
            Kernel::Avx2Fma => "avx2-fma",
            Kernel::Portable => "portable",
        }
    }

    /// This kernel if supported, else the next slower one that is.
    fn usable(self) -> Kernel {
        match self {
            Kernel::Avx512 if !self.is_supported() => Kernel::Avx2Fma.usable(),
            Kernel::Avx2Fma if !self.is_supported() => Kernel::Portable,
            k => k,
        }
    }
}

/// General matrix product `C ← α·A·B + β·C`.
///
/// `A` is `M × K`, `B` is `K × N`, `C` is `M × N`. Any strides are accepted, so `x.t()` passes
/// a transpose without copying. When `β` is zero, `C`'s old contents are ignored (NaN in `C` does
/// not leak into the result). Uses [`Kernel::detect`]'s kernel and the current rayon pool.
///
/// # Panics
/// If the shapes do not agree (`A.ncols() != B.nrows()` or `C` is not `A.nrows() × B.ncols()`):
/// this is a programmer's error, as in `ndarray::linalg::general_mat_mul`.
///
/// ```
/// use ndarray::array;
/// use nn_core::matmul::gemm;
/// let x = array![[1.0_f32, 2.0], [3.0, 4.0]];
/// let w = array![[1.0_f32, 0.0], [1.0, 1.0]];
/// let mut out = array![[1.0_f32, 1.0], [1.0, 1.0]];
/// // out ← 2·Xᵀ·W + 1·out, with the transpose passed as a view.
/// gemm(2.0, x.t(), w.view(), 1.0, out.view_mut());
/// assert_eq!(out, array![[9.0_f32, 7.0], [13.0, 9.0]]);
/// ```
pub fn gemm<F: NdFloat>(
    alpha: F,
    a: ArrayView2<'_, F>,
    b: ArrayView2<'_, F>,
    beta: F,
    c: ArrayViewMut2<'_, F>,
) {
    gemm_with(Kernel::detect(), alpha, a, b, beta, c);
}

/// [`gemm`] with a chosen kernel; a kernel the CPU does not support falls back to the next slower
/// one ([`Kernel::Avx512`] → [`Kernel::Avx2Fma`] → [`Kernel::Portable`]). All kernels give results
/// equal to rounding; each one gives the same bits for any thread count.
///
/// # Panics
/// As [`gemm`], if the shapes do not agree.
///
/// ```
/// use ndarray::array;
/// use nn_core::matmul::{gemm_with, Kernel};
/// let a = array![[1.0_f64, 2.0, 3.0]];
/// let b = array![[1.0_f64], [1.0], [1.0]];
/// let mut c = array![[f64::NAN]];
/// gemm_with(Kernel::Portable, 1.0, a.view(), b.view(), 0.0, c.view_mut());
/// assert_eq!(c[[0, 0]], 6.0);
/// ```
pub fn gemm_with<F: NdFloat>(
    kernel: Kernel,
    alpha: F,
    a: ArrayView2<'_, F>,
    b: ArrayView2<'_, F>,
    beta: F,
    mut c: ArrayViewMut2<'_, F>,
) {
    let (m, k) = a.dim();
    let n = b.ncols();
    assert!(
        b.nrows() == k && c.dim() == (m, n),
        "gemm: shapes do not agree: A is {:?}, B is {:?}, C is {:?}",
        a.dim(),
        b.dim(),
        c.dim()
    );
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 || alpha == F::zero() {
        scale(beta, c);
        return;
    }
    let kernel = kernel.usable();
    if kernel != Kernel::Portable {
        let (ra, rb) = (raw(&a), raw(&b));
        let rc = Mat {
            ptr: c.as_mut_ptr(),
            rows: m,
            cols: n,
            rs: c.strides()[0],
            cs: c.strides()[1],
        };
        if simd_gemm(kernel, alpha, ra, rb, beta, rc) {
            return;
        }
    }
    portable(alpha, a, b, beta, c);
}

/// `A·B` into a new array (`M × K` times `K × N` gives `M × N`).
///
/// # Panics
/// If `A.ncols() != B.nrows()`.
///
/// ```
/// use ndarray::array;
/// use nn_core::matmul::matmul;
/// let x = array![[1.0_f32, 2.0, 3.0], [4.0, 5.0, 6.0]]; // N × D = 2 × 3
/// let w = array![[1.0_f32], [0.0], [-1.0]]; // D × H = 3 × 1
/// assert_eq!(matmul(x.view(), w.view()), array![[-2.0_f32], [-2.0]]);
/// ```
pub fn matmul<F: NdFloat>(a: ArrayView2<'_, F>, b: ArrayView2<'_, F>) -> Array2<F> {
    let mut c = Array2::zeros((a.nrows(), b.ncols()));
    gemm(F::one(), a, b, F::zero(), c.view_mut());
    c
}

/// The serial reference `C ← α·A·B + β·C`: a plain triple loop, summing over `K` in order.
///
/// Slow; for tests. Same conventions as [`gemm`] (`β = 0` ignores `C`'s old contents).
///
/// # Panics
/// As [`gemm`], if the shapes do not agree.
///
/// ```
/// use ndarray::array;
/// use nn_core::matmul::gemm_reference;
/// let a = array![[1.0_f64, 2.0], [3.0, 4.0]];
/// let mut c = array![[1.0_f64, 0.0], [0.0, 1.0]];
/// gemm_reference(1.0, a.view(), a.view(), -1.0, c.view_mut());
/// assert_eq!(c, array![[6.0, 10.0], [15.0, 21.0]]);
/// ```
pub fn gemm_reference<F: NdFloat>(
    alpha: F,
    a: ArrayView2<'_, F>,
    b: ArrayView2<'_, F>,
    beta: F,
    mut c: ArrayViewMut2<'_, F>,
) {
    let (m, k) = a.dim();
    let n = b.ncols();
    assert!(
        b.nrows() == k && c.dim() == (m, n),
        "gemm_reference: shapes do not agree: A is {:?}, B is {:?}, C is {:?}",
        a.dim(),
        b.dim(),
        c.dim()
    );
    for i in 0..m {
        for j in 0..n {
            let mut sum = F::zero();
            for p in 0..k {
                sum += a[[i, p]] * b[[p, j]];
            }
            let old = c[[i, j]];
            c[[i, j]] = if beta == F::zero() {
                alpha * sum
            } else {
                alpha * sum + beta * old
            };
        }
    }
}

/// `C ← β·C`, or zeros when `β = 0` (so NaN in `C` does not survive).
fn scale<F: NdFloat>(beta: F, mut c: ArrayViewMut2<'_, F>) {
    if beta == F::zero() {
        c.fill(F::zero());
    } else if beta != F::one() {
        c.mapv_inplace(|v| v * beta);
    }
}

/// A raw, read-only description of a view (the pointer is only ever read through).
fn raw<F>(v: &ArrayView2<'_, F>) -> Mat<F> {
    Mat {
        ptr: v.as_ptr().cast_mut(),
        rows: v.nrows(),
        cols: v.ncols(),
        rs: v.strides()[0],
        cs: v.strides()[1],
    }
}

/// Rows of `C` per portable chunk: fixed, so the chunking (and so the result) does not depend on
/// the thread count.
const PORTABLE_ROWS: usize = 64;

/// The portable path: `general_mat_mul` on disjoint 64-row chunks of `C`, in parallel when large.
fn portable<F: NdFloat>(
    alpha: F,
    a: ArrayView2<'_, F>,
    b: ArrayView2<'_, F>,
    beta: F,
    mut c: ArrayViewMut2<'_, F>,
) {
    if beta == F::zero() {
        c.fill(F::zero());
    }
    let (m, k) = a.dim();
    let work = m.saturating_mul(b.ncols()).saturating_mul(k);
    if m <= PORTABLE_ROWS || work < 2 << 20 {
        for (a, mut c) in a
            .axis_chunks_iter(Axis(0), PORTABLE_ROWS)
            .zip(c.axis_chunks_iter_mut(Axis(0), PORTABLE_ROWS))
        {
            general_mat_mul(alpha, &a, &b, beta, &mut c);
        }
    } else {
        a.axis_chunks_iter(Axis(0), PORTABLE_ROWS)
            .into_par_iter()
            .zip(
                c.axis_chunks_iter_mut(Axis(0), PORTABLE_ROWS)
                    .into_par_iter(),
            )
            .for_each(|(a, mut c)| general_mat_mul(alpha, &a, &b, beta, &mut c));
    }
}

/// Reinterprets a `Mat<F>` as `Mat<T>` when `F` and `T` are the same type.
fn cast_mat<F: 'static, T: 'static>(m: Mat<F>) -> Option<Mat<T>> {
    (TypeId::of::<F>() == TypeId::of::<T>()).then_some(Mat {
        ptr: m.ptr.cast::<T>(),
        rows: m.rows,
        cols: m.cols,
        rs: m.rs,
        cs: m.cs,
    })
}

/// Reinterprets a scalar `F` as `T` when they are the same type.
fn cast_scalar<F: 'static + Copy, T: 'static + Copy>(x: F) -> Option<T> {
    // SAFETY: only when `F` and `T` are the same type.
    (TypeId::of::<F>() == TypeId::of::<T>())
        .then(|| unsafe { std::mem::transmute_copy::<F, T>(&x) })
}

/// Runs the packed GEMM with the SIMD kernel `kernel` (already checked as supported) for `f32`
/// and `f64`; returns `false` (having done nothing) for other element types or architectures.
#[cfg_attr(not(target_arch = "x86_64"), allow(unused_variables))]
fn simd_gemm<F: NdFloat>(
    kernel: Kernel,
    alpha: F,
    a: Mat<F>,
    b: Mat<F>,
    beta: F,
    c: Mat<F>,
) -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        macro_rules! run {
            ($t:ty, $k:ty) => {
                if let (Some(a), Some(b), Some(c), Some(alpha), Some(beta)) = (
                    cast_mat::<F, $t>(a),
                    cast_mat::<F, $t>(b),
                    cast_mat::<F, $t>(c),
                    cast_scalar::<F, $t>(alpha),
                    cast_scalar::<F, $t>(beta),
                ) {
                    // SAFETY: the matrices come from live views of matching shapes (checked in
                    // `gemm_with`), `c` from a mutable view that cannot alias `a` or `b`
                    // and whose elements have distinct addresses (ndarray forbids overlapping
                    // mutable views), and `kernel` was checked as supported by this CPU.
                    unsafe { blocked::gemm::<$k>(alpha, a, b, beta, c) };
                    return true;
                }
            };
        }
        match kernel {
            Kernel::Avx512 => {
                run!(f32, x86::Avx512F32);
                run!(f64, x86::Avx512F64);
            }
            Kernel::Avx2Fma => {
                run!(f32, x86::Avx2F32);
                run!(f64, x86::Avx2F64);
            }
            Kernel::Portable => {}
        }
    }
    false
}
