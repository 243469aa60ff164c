//! `nn_core::matmul`: every kernel against the serial triple loop (to a tolerance that scales with
//! `K·ε`), at odd shapes, strides, transposes and α/β values; parallel results equal to the bit
//! with the serial ones for 1, 2 and 3 threads.

use ndarray::{s, Array2, ArrayView2, ArrayViewMut2, NdFloat};
use nn_core::matmul::{gemm, gemm_reference, gemm_with, matmul, Kernel};
use proptest::prelude::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const KERNELS: [Kernel; 3] = [Kernel::Avx512, Kernel::Avx2Fma, Kernel::Portable];

/// How an operand is stored: the product sees the same logical matrix either way.
#[derive(Debug, Clone, Copy)]
enum Layout {
    /// Row-major, contiguous.
    Rows,
    /// The transpose of a row-major matrix (column-major view, as `x.t()`).
    Transposed,
    /// Every other row and column of a larger matrix (no unit stride).
    Strided,
}

const LAYOUTS: [Layout; 3] = [Layout::Rows, Layout::Transposed, Layout::Strided];

/// Storage for one logical `rows × cols` matrix in a given layout.
struct Stored<F> {
    data: Array2<F>,
    layout: Layout,
}

impl<F: NdFloat> Stored<F> {
    fn new(logical: &Array2<F>, layout: Layout) -> Self {
        let (r, c) = logical.dim();
        let data = match layout {
            Layout::Rows => logical.clone(),
            Layout::Transposed => logical.t().as_standard_layout().into_owned(),
            Layout::Strided => {
                let mut big = Array2::from_elem((2 * r, 2 * c), F::from(7.0).unwrap_or(F::one()));
                big.slice_mut(s![..;2, ..;2]).assign(logical);
                big
            }
        };
        Stored { data, layout }
    }

    fn view(&self) -> ArrayView2<'_, F> {
        match self.layout {
            Layout::Rows => self.data.view(),
            Layout::Transposed => self.data.t(),
            Layout::Strided => self.data.slice(s![..;2, ..;2]),
        }
    }

    fn view_mut(&mut self) -> ArrayViewMut2<'_, F> {
        match self.layout {
            Layout::Rows => self.data.view_mut(),
            Layout::Transposed => self.data.view_mut().reversed_axes(),
            Layout::Strided => self.data.slice_mut(s![..;2, ..;2]),
        }
    }

    fn logical(&self) -> Array2<F> {
        self.view().to_owned()
    }
}

fn random<F: NdFloat>(rows: usize, cols: usize, rng: &mut ChaCha8Rng) -> Array2<F> {
    Array2::from_shape_fn((rows, cols), |_| {
        F::from(rng.random_range(-1.0..1.0)).unwrap_or(F::zero())
    })
}

/// Checks `kernel`'s `C ← αAB + βC` against [`gemm_reference`] for one shape and set of layouts:
/// each element within `4·(K+2)·ε·(|α|·Σ|a||b| + |β||c|)` of the reference.
#[allow(clippy::too_many_arguments)]
fn check<F: NdFloat>(
    kernel: Kernel,
    (m, k, n): (usize, usize, usize),
    layouts: (Layout, Layout, Layout),
    alpha: f64,
    beta: f64,
    rng: &mut ChaCha8Rng,
) {
    let (alpha, beta) = (
        F::from(alpha).unwrap_or(F::one()),
        F::from(beta).unwrap_or(F::one()),
    );
    let a = Stored::new(&random::<F>(m, k, rng), layouts.0);
    let b = Stored::new(&random::<F>(k, n, rng), layouts.1);
    let c0 = random::<F>(m, n, rng);
    let mut c = Stored::new(&c0, layouts.2);
    let mut expected = c0.clone();
    gemm_reference(alpha, a.view(), b.view(), beta, expected.view_mut());
    let mut bound = c0.mapv(|v| v.abs() * beta.abs());
    gemm_reference(
        alpha.abs(),
        a.logical().mapv(F::abs).view(),
        b.logical().mapv(F::abs).view(),
        beta.abs(),
        bound.view_mut(),
    );
    gemm_with(kernel, alpha, a.view(), b.view(), beta, c.view_mut());
    let got = c.logical();
    let scale = F::from(4 * (k + 2)).unwrap_or(F::one()) * F::epsilon();
    for ((idx, &g), (&e, &bd)) in got.indexed_iter().zip(expected.iter().zip(bound.iter())) {
        assert!(
            (g - e).abs() <= scale * bd,
            "{kernel:?} {m}x{k}x{n} {layouts:?} α={alpha} β={beta} at {idx:?}: got {g}, expected {e}"
        );
    }
    // The padding around a strided C is untouched.
    if let Layout::Strided = layouts.2 {
        let untouched = c.data.iter().enumerate().filter(|(i, _)| {
            let cols = 2 * n;
            !(i / cols % 2 == 0 && i % cols % 2 == 0)
        });
        for (_, &v) in untouched {
            assert_eq!(
                v,
                F::from(7.0).unwrap_or(F::one()),
                "{kernel:?}: wrote outside the strided view"
            );
        }
    }
}

/// Shapes around the tile sizes (12×32, 6×16, 12×16, 6×8), the reduction block (256) and empties,
/// and the short-side paths: at most ten columns (the AVX-512 `f32` row-by-column kernel, with
/// and without a partial step of 16), at most a tile of rows (the short path, also past one
/// reduction block and with a partial column panel).
const SHAPES: [(usize, usize, usize); 19] = [
    (1, 1, 1),
    (7, 13, 5),
    (3, 0, 4),
    (0, 5, 3),
    (4, 5, 0),
    (12, 32, 32),
    (11, 40, 33),
    (13, 257, 31),
    (25, 300, 65),
    (50, 20, 10),
    (10, 20, 50),
    (1, 100, 70),
    (70, 100, 1),
    (37, 513, 17),
    (33, 70, 10),
    (3, 9, 2),
    (9, 300, 100),
    (5, 800, 40),
    (100, 17, 12),
];

fn all_kernels_all_shapes<F: NdFloat>(seed: u64) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    for kernel in KERNELS {
        for shape in SHAPES {
            for la in LAYOUTS {
                for lb in LAYOUTS {
                    for lc in LAYOUTS {
                        check::<F>(kernel, shape, (la, lb, lc), 1.0, 0.0, &mut rng);
                    }
                }
            }
            for (alpha, beta) in [
                (0.5, -1.5),
                (2.0, 1.0),
                (-1.0, 0.25),
                (0.0, 3.0),
                (0.0, 0.0),
            ] {
                check::<F>(
                    kernel,
                    shape,
                    (Layout::Rows, Layout::Transposed, Layout::Rows),
                    alpha,
                    beta,
                    &mut rng,
                );
                check::<F>(
                    kernel,
                    shape,
                    (Layout::Transposed, Layout::Rows, Layout::Transposed),
                    alpha,
                    beta,
                    &mut rng,
                );
            }
        }
    }
}

#[test]
fn every_kernel_matches_reference_f32() {
    all_kernels_all_shapes::<f32>(1);
}

#[test]
fn every_kernel_matches_reference_f64() {
    all_kernels_all_shapes::<f64>(2);
}

#[test]
fn beta_zero_ignores_nan_in_c() {
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    for kernel in KERNELS {
        for (m, k, n) in [(1, 1, 1), (7, 13, 5), (40, 70, 50), (3, 0, 4)] {
            let a = random::<f32>(m, k, &mut rng);
            let b = random::<f32>(k, n, &mut rng);
            let mut c = Array2::from_elem((m, n), f32::NAN);
            gemm_with(kernel, 1.0, a.view(), b.view(), 0.0, c.view_mut());
            let mut expected = Array2::zeros((m, n));
            gemm_reference(1.0, a.view(), b.view(), 0.0, expected.view_mut());
            assert!(
                c.iter().all(|v| v.is_finite()),
                "{kernel:?} {m}x{k}x{n}: NaN leaked from C"
            );
            for (g, e) in c.iter().zip(expected.iter()) {
                assert!(
                    (g - e).abs() <= 1e-5 * (1.0 + e.abs()),
                    "{kernel:?}: {g} vs {e}"
                );
            }
        }
    }
}

#[test]
fn alpha_zero_only_scales_c() {
    for kernel in KERNELS {
        let a = Array2::from_elem((5, 6), f64::NAN);
        let b = Array2::from_elem((6, 4), 1.0);
        let mut c = Array2::from_elem((5, 4), 2.0);
        gemm_with(kernel, 0.0, a.view(), b.view(), 0.5, c.view_mut());
        assert!(c.iter().all(|&v| v == 1.0), "{kernel:?}: {c:?}");
    }
}

#[test]
fn matmul_equals_gemm_and_the_mlp_products_are_close_to_reference() {
    let mut rng = ChaCha8Rng::seed_from_u64(4);
    // X·W, Xᵀ·dY and dY·Wᵀ of the 784-512 layer at batch 128 (small K·ε bound, f32).
    let x = random::<f32>(128, 784, &mut rng);
    let w = random::<f32>(784, 512, &mut rng);
    let dy = random::<f32>(128, 512, &mut rng);
    for (a, b) in [(x.view(), w.view()), (x.t(), dy.view()), (dy.view(), w.t())] {
        let fast = matmul(a, b);
        let mut via_gemm = Array2::from_elem(fast.dim(), f32::NAN);
        gemm(1.0, a, b, 0.0, via_gemm.view_mut());
        assert_eq!(fast, via_gemm);
        let mut expected = Array2::zeros(fast.dim());
        gemm_reference(1.0, a, b, 0.0, expected.view_mut());
        let k = a.ncols() as f32;
        for (g, e) in fast.iter().zip(expected.iter()) {
            // Entries are sums of K products of values in [-1, 1): |error| ≤ K·ε·K (loose).
            assert!((g - e).abs() <= 4.0 * k * f32::EPSILON * k, "{g} vs {e}");
        }
    }
}

/// Runs `f` in a local rayon pool of `threads` threads.
fn in_pool<R: Send>(threads: usize, f: impl FnOnce() -> R + Send) -> R {
    match rayon::ThreadPoolBuilder::new().num_threads(threads).build() {
        Ok(pool) => pool.install(f),
        Err(e) => panic!("cannot build a pool of {threads} threads: {e}"),
    }
}

fn parallel_equals_serial<F: NdFloat>(seed: u64) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    // Large enough to be split across threads (2·M·N·K well above the per-task minimum).
    for (m, k, n) in [
        (128, 784, 512),
        (784, 128, 512),
        (128, 512, 784),
        (300, 200, 150),
        (256, 256, 10),
        (1000, 300, 10),
        (10, 1000, 300),
        (300, 1000, 10),
    ] {
        for layouts in [
            (Layout::Rows, Layout::Rows, Layout::Rows),
            (Layout::Transposed, Layout::Rows, Layout::Rows),
            (Layout::Rows, Layout::Transposed, Layout::Transposed),
            (Layout::Strided, Layout::Rows, Layout::Strided),
        ] {
            let a = Stored::new(&random::<F>(m, k, &mut rng), layouts.0);
            let b = Stored::new(&random::<F>(k, n, &mut rng), layouts.1);
            let c0 = random::<F>(m, n, &mut rng);
            let beta = F::from(0.5).unwrap_or(F::one());
            for kernel in KERNELS {
                let run = |threads: usize| {
                    let mut c = Stored::new(&c0, layouts.2);
                    in_pool(threads, || {
                        gemm_with(kernel, F::one(), a.view(), b.view(), beta, c.view_mut())
                    });
                    c.logical()
                };
                let serial = run(1);
                for threads in [2, 3] {
                    assert!(
                        run(threads) == serial,
                        "{kernel:?} {m}x{k}x{n} {layouts:?}: {threads} threads differ from 1"
                    );
                }
            }
        }
    }
}

#[test]
fn parallel_results_equal_serial_bit_for_bit_f32() {
    parallel_equals_serial::<f32>(5);
}

#[test]
fn parallel_results_equal_serial_bit_for_bit_f64() {
    parallel_equals_serial::<f64>(6);
}

#[test]
fn detected_kernel_is_supported() {
    assert!(Kernel::detect().is_supported());
    assert!(Kernel::Portable.is_supported());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Random shapes, layouts, α and β: every kernel stays within the `K·ε` bound.
    #[test]
    fn random_products_match_reference(
        m in 0usize..40, k in 0usize..300, n in 0usize..70,
        la in 0usize..3, lb in 0usize..3, lc in 0usize..3,
        alpha in -2.0f64..2.0, beta in prop_oneof![Just(0.0), Just(1.0), -2.0f64..2.0],
        seed in any::<u64>(),
    ) {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        for kernel in KERNELS {
            check::<f32>(kernel, (m, k, n), (LAYOUTS[la], LAYOUTS[lb], LAYOUTS[lc]), alpha, beta, &mut rng);
        }
    }
}
