//! GEMM benches (`nn_core::matmul`): the MLP's forward and backward shapes and 1024³, with 1 and
//! 2 threads, against `ndarray`'s `dot` (the `matrixmultiply` crate) measured in the same run, and
//! the machine's f32 FMA peak (`gemm/peak_fma`), so every row can be read as a fraction of peak,
//! and the core clock the run saw (`gemm/clock`: dependent adds per second, one per cycle).
//!
//! Ids: `gemm/<impl>/<product>_<M>x<K>x<N>/t<threads>`, throughput `2·M·K·N` flops. `<product>`
//! is `xw` (`X·W`), `xtdy` (`Xᵀ·dY`, the weight gradient, `A` a transposed view) or `dywt`
//! (`dY·Wᵀ`, the input gradient, `B` a transposed view).
//!
//! With `--features gemm-crate`, the `gemm` crate (features `x86-v4`, AVX-512) runs as a peer too.
#![allow(missing_docs)] // criterion_group! generates undocumented items.
use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
#[cfg(feature = "gemm-crate")]
use ndarray::ArrayViewMut2;
use ndarray::{linalg::general_mat_mul, Array2, ArrayView2};
use nn_core::matmul::{gemm, gemm_with, Kernel};

/// Which product of the training step a shape comes from.
#[derive(Clone, Copy)]
enum Product {
    /// `X·W`: both operands row-major.
    Xw,
    /// `Xᵀ·dY`: `A` is the transpose of a row-major `N × D` matrix.
    XtDy,
    /// `dY·Wᵀ`: `B` is the transpose of a row-major `D × H` matrix.
    DyWt,
}

impl Product {
    fn name(self) -> &'static str {
        match self {
            Product::Xw => "xw",
            Product::XtDy => "xtdy",
            Product::DyWt => "dywt",
        }
    }
}

/// Deterministic, varied values in [-0.5, 0.5) (benches need no statistical quality).
fn matrix(rows: usize, cols: usize, seed: usize) -> Array2<f32> {
    Array2::from_shape_fn((rows, cols), |(i, j)| {
        ((i * 31 + j * 17 + seed * 7) % 97) as f32 / 97.0 - 0.5
    })
}

/// The stored operands of `A·B` (`M × K` times `K × N`), laid out as the product's callers hold them.
struct Operands {
    a: Array2<f32>,
    b: Array2<f32>,
    product: Product,
}

impl Operands {
    fn new(product: Product, m: usize, k: usize, n: usize) -> Self {
        match product {
            Product::Xw => Operands {
                a: matrix(m, k, 1),
                b: matrix(k, n, 2),
                product,
            },
            Product::XtDy => Operands {
                a: matrix(k, m, 1),
                b: matrix(k, n, 2),
                product,
            },
            Product::DyWt => Operands {
                a: matrix(m, k, 1),
                b: matrix(n, k, 2),
                product,
            },
        }
    }

    fn views(&self) -> (ArrayView2<'_, f32>, ArrayView2<'_, f32>) {
        match self.product {
            Product::Xw => (self.a.view(), self.b.view()),
            Product::XtDy => (self.a.t(), self.b.view()),
            Product::DyWt => (self.a.view(), self.b.t()),
        }
    }
}

/// (product, M, K, N): the 784-512-256-10 MLP at batch 128 and 256, forward and backward, and 1024³.
fn shapes() -> Vec<(Product, usize, usize, usize)> {
    let mut v = Vec::new();
    for batch in [128, 256] {
        for (d, h) in [(784, 512), (512, 256), (256, 10)] {
            v.push((Product::Xw, batch, d, h));
            v.push((Product::XtDy, d, batch, h));
            v.push((Product::DyWt, batch, h, d));
        }
    }
    v.push((Product::Xw, 1024, 1024, 1024));
    v
}

fn pool(threads: usize) -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap_or_else(|e| panic!("cannot build a rayon pool of {threads} threads: {e}"))
}

fn bench_gemm(c: &mut Criterion) {
    let mut g = c.benchmark_group("gemm");
    g.warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(20);
    let pools = [(1, pool(1)), (2, pool(2))];
    for (product, m, k, n) in shapes() {
        let ops = Operands::new(product, m, k, n);
        let (a, b) = ops.views();
        let mut out = Array2::<f32>::zeros((m, n));
        let id = format!("{}_{m}x{k}x{n}", product.name());
        g.throughput(Throughput::Elements((2 * m * k * n) as u64));
        for (t, pool) in &pools {
            g.bench_function(BenchmarkId::new("ours", format!("{id}/t{t}")), |bench| {
                pool.install(|| {
                    bench.iter(|| gemm(1.0, black_box(a), black_box(b), 0.0, out.view_mut()))
                })
            });
        }
        // ndarray's `dot` is single-threaded (matrixmultiply without its threading feature).
        g.bench_function(BenchmarkId::new("ndarray", format!("{id}/t1")), |bench| {
            bench.iter(|| general_mat_mul(1.0, &black_box(a), &black_box(b), 0.0, &mut out))
        });
        if m * k * n >= 1 << 28 {
            // The AVX2 fallback at the large size, to show what AVX-512 adds.
            g.bench_function(BenchmarkId::new("ours-avx2", format!("{id}/t1")), |bench| {
                pools[0].1.install(|| {
                    bench.iter(|| {
                        gemm_with(
                            Kernel::Avx2Fma,
                            1.0,
                            black_box(a),
                            black_box(b),
                            0.0,
                            out.view_mut(),
                        )
                    })
                })
            });
        }
        #[cfg(feature = "gemm-crate")]
        for t in [1, 2] {
            g.bench_function(
                BenchmarkId::new("gemm-crate", format!("{id}/t{t}")),
                |bench| bench.iter(|| gemm_crate(black_box(a), black_box(b), out.view_mut(), t)),
            );
        }
    }
    g.finish();
}

/// The `gemm` crate (sarah-ek/gemm) on the same views, `C ← A·B`.
#[cfg(feature = "gemm-crate")]
fn gemm_crate(
    a: ArrayView2<'_, f32>,
    b: ArrayView2<'_, f32>,
    mut c: ArrayViewMut2<'_, f32>,
    threads: usize,
) {
    let (m, k) = a.dim();
    let n = b.ncols();
    let parallelism = if threads == 1 {
        gemm::Parallelism::None
    } else {
        gemm::Parallelism::Rayon(threads)
    };
    let (cs, ars, bs) = (
        c.strides().to_vec(),
        a.strides().to_vec(),
        b.strides().to_vec(),
    );
    // SAFETY: the pointers and strides come from live views of the stated shapes; `c` is unique.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            c.as_mut_ptr(),
            cs[1],
            cs[0],
            false,
            a.as_ptr(),
            ars[1],
            ars[0],
            b.as_ptr(),
            bs[1],
            bs[0],
            0.0,
            1.0,
            false,
            false,
            false,
            parallelism,
        );
    }
}

/// The machine's f32 FMA peak on one core: 12 independent chains of `zmm` FMAs (registers only).
/// Throughput counts 2 flops per lane per FMA, like the GEMM rows.
fn bench_peak(c: &mut Criterion) {
    let mut g = c.benchmark_group("gemm");
    g.warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(20);
    const ITERS: u64 = 1 << 16;
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx512f") {
        g.throughput(Throughput::Elements(2 * 16 * 12 * ITERS));
        g.bench_function(BenchmarkId::new("peak_fma", "avx512/t1"), |bench| {
            // SAFETY: AVX-512F was detected above.
            bench.iter(|| unsafe { peak::fma_avx512(black_box(ITERS)) })
        });
    }
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
        g.throughput(Throughput::Elements(2 * 8 * 12 * ITERS));
        g.bench_function(BenchmarkId::new("peak_fma", "avx2/t1"), |bench| {
            // SAFETY: AVX2 and FMA were detected above.
            bench.iter(|| unsafe { peak::fma_avx2(black_box(ITERS)) })
        });
    }
    #[cfg(target_arch = "x86_64")]
    {
        // Throughput in adds, one per cycle: the rate is the clock the FMA rows ran at.
        g.throughput(Throughput::Elements(peak::ADDS_PER_ROUND * ITERS * 16));
        g.bench_function(BenchmarkId::new("clock", "add_chain/t1"), |bench| {
            bench.iter(|| peak::add_chain(black_box(ITERS * 16)))
        });
    }
    g.finish();
}

#[cfg(target_arch = "x86_64")]
#[allow(clippy::incompatible_msrv)] // AVX-512 intrinsics are stable since Rust 1.89; we build with 1.95.
mod peak {
    use std::arch::x86_64::*;

    /// Adds in one round of [`add_chain`].
    pub const ADDS_PER_ROUND: u64 = 10;

    /// `iters` rounds of dependent integer adds. Every x86-64 core retires one add of a chain per
    /// cycle (latency 1), and the loop counter runs beside the chain, so adds per second is the
    /// core clock as the FMA loops see it, turbo included (the OS's `cpu MHz` is not).
    pub fn add_chain(iters: u64) -> u64 {
        let mut x = 0u64;
        for _ in 0..iters {
            // SAFETY: register-only arithmetic on `x`.
            unsafe {
                std::arch::asm!(
                    "add {0}, 1", "add {0}, 1", "add {0}, 1", "add {0}, 1", "add {0}, 1",
                    "add {0}, 1", "add {0}, 1", "add {0}, 1", "add {0}, 1", "add {0}, 1",
                    inout(reg) x,
                    options(nomem, nostack),
                );
            }
        }
        x
    }

    /// 12 accumulator chains (more than FMA latency × throughput), `iters` rounds; returns a
    /// value depending on every chain so nothing is optimised away.
    #[target_feature(enable = "avx512f")]
    pub unsafe fn fma_avx512(iters: u64) -> f32 {
        let x = _mm512_set1_ps(0.999_99);
        let y = _mm512_set1_ps(1e-7);
        let mut acc = [_mm512_set1_ps(1.0); 12];
        for _ in 0..iters {
            for a in acc.iter_mut() {
                *a = _mm512_fmadd_ps(*a, x, y);
            }
        }
        let mut s = _mm512_setzero_ps();
        for a in acc {
            s = _mm512_add_ps(s, a);
        }
        _mm512_reduce_add_ps(s)
    }

    /// As [`fma_avx512`] with `ymm` registers.
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn fma_avx2(iters: u64) -> f32 {
        let x = _mm256_set1_ps(0.999_99);
        let y = _mm256_set1_ps(1e-7);
        let mut acc = [_mm256_set1_ps(1.0); 12];
        for _ in 0..iters {
            for a in acc.iter_mut() {
                *a = _mm256_fmadd_ps(*a, x, y);
            }
        }
        let mut s = _mm256_setzero_ps();
        for a in acc {
            s = _mm256_add_ps(s, a);
        }
        let mut out = [0.0f32; 8];
        // SAFETY: `out` holds exactly the 8 f32 lanes that the unaligned store writes.
        unsafe { _mm256_storeu_ps(out.as_mut_ptr(), s) };
        out.iter().sum()
    }
}

/// Thread CPU time of the calling thread (`CLOCK_THREAD_CPUTIME_ID`): on a busy machine it
/// counts only the time this thread ran, so one-thread rows are less disturbed by other work.
#[cfg(target_os = "linux")]
mod cpu_time {
    use criterion::measurement::{Measurement, ValueFormatter, WallTime};
    use std::time::Duration;

    #[repr(C)]
    struct Timespec {
        tv_sec: i64,
        tv_nsec: i64,
    }

    extern "C" {
        fn clock_gettime(clock: i32, tp: *mut Timespec) -> i32;
    }

    /// `CLOCK_THREAD_CPUTIME_ID` in Linux's `<time.h>`.
    const CLOCK_THREAD_CPUTIME_ID: i32 = 3;

    fn now() -> Duration {
        let mut ts = Timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: `ts` is a valid, writable timespec (64-bit Linux layout); the clock id exists.
        let rc = unsafe { clock_gettime(CLOCK_THREAD_CPUTIME_ID, &mut ts) };
        assert_eq!(rc, 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID) failed");
        Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
    }

    /// Criterion measurement by thread CPU time, formatted like wall time.
    pub struct ThreadCpuTime;

    static WALL: WallTime = WallTime;

    impl Measurement for ThreadCpuTime {
        type Intermediate = Duration;
        type Value = Duration;
        fn start(&self) -> Duration {
            now()
        }
        fn end(&self, start: Duration) -> Duration {
            now().saturating_sub(start)
        }
        fn add(&self, a: &Duration, b: &Duration) -> Duration {
            *a + *b
        }
        fn zero(&self) -> Duration {
            Duration::ZERO
        }
        fn to_f64(&self, v: &Duration) -> f64 {
            v.as_nanos() as f64
        }
        fn formatter(&self) -> &dyn ValueFormatter {
            WALL.formatter()
        }
    }
}

/// One-thread rows timed by thread CPU time (group `gemm-cputime`): ours, ndarray's `dot`, and
/// the FMA peak, for ratios that a busy machine disturbs less than wall time.
#[cfg(target_os = "linux")]
fn bench_cpu(c: &mut Criterion<cpu_time::ThreadCpuTime>) {
    let mut g = c.benchmark_group("gemm-cputime");
    g.warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_millis(1500))
        .sample_size(15);
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx512f") {
        const ITERS: u64 = 1 << 16;
        g.throughput(Throughput::Elements(2 * 16 * 12 * ITERS));
        g.bench_function(BenchmarkId::new("peak_fma", "avx512/t1"), |bench| {
            // SAFETY: AVX-512F was detected above.
            bench.iter(|| unsafe { peak::fma_avx512(black_box(ITERS)) })
        });
    }
    let one = pool(1);
    for (product, m, k, n) in shapes() {
        let ops = Operands::new(product, m, k, n);
        let (a, b) = ops.views();
        let mut out = Array2::<f32>::zeros((m, n));
        let id = format!("{}_{m}x{k}x{n}/t1", product.name());
        g.throughput(Throughput::Elements((2 * m * k * n) as u64));
        g.bench_function(BenchmarkId::new("ours", &id), |bench| {
            one.install(|| {
                bench.iter(|| gemm(1.0, black_box(a), black_box(b), 0.0, out.view_mut()))
            })
        });
        g.bench_function(BenchmarkId::new("ndarray", &id), |bench| {
            bench.iter(|| general_mat_mul(1.0, &black_box(a), &black_box(b), 0.0, &mut out))
        });
        #[cfg(feature = "gemm-crate")]
        g.bench_function(BenchmarkId::new("gemm-crate", &id), |bench| {
            bench.iter(|| gemm_crate(black_box(a), black_box(b), out.view_mut(), 1))
        });
    }
    g.finish();
}

criterion_group!(benches, bench_peak, bench_gemm);
#[cfg(target_os = "linux")]
criterion_group! {
    name = cpu;
    config = Criterion::default().with_measurement(cpu_time::ThreadCpuTime);
    targets = bench_cpu
}
#[cfg(target_os = "linux")]
criterion_main!(benches, cpu);
#[cfg(not(target_os = "linux"))]
criterion_main!(benches);
