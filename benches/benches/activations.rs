//! Forward and backward of every element-wise activation on 1M and 16M `f32`, on 1 and 2 threads,
//! beside a parallel memory copy of the same size measured in the same run (the bandwidth bound).
//!
//! Throughput is in bytes moved: forward reads `x` and writes `y` (8 B per element), backward
//! reads `dout` and the saved tensor and writes `dx` (12 B), the copy reads and writes (8 B).
//! Ids are `activations/<op>/<size>/t<threads>`, so each row pairs with `copy` at the same
//! size and thread count.
#![allow(missing_docs)] // criterion_group! generates undocumented items.
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use ndarray::{ArrayView1, ArrayViewMut1};
use nn_activations::Activation;
use nn_benches::{parallel_copy, test_vector};
use std::hint::black_box;
use std::time::Duration;

const ACTIVATIONS: [(&str, Activation); 10] = [
    ("relu", Activation::Relu),
    ("leaky_relu", Activation::LeakyRelu { slope: 0.01 }),
    ("sigmoid", Activation::Sigmoid),
    ("tanh", Activation::Tanh),
    ("elu", Activation::Elu { alpha: 1.0 }),
    ("selu", Activation::Selu),
    ("gelu", Activation::Gelu),
    ("gelu_tanh", Activation::GeluTanh),
    ("silu", Activation::Silu),
    ("softplus", Activation::Softplus),
];

fn activations(c: &mut Criterion) {
    let mut g = c.benchmark_group("activations");
    g.sample_size(10)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1));
    for (label, n) in [("1M", 1usize << 20), ("16M", 1 << 24)] {
        let x = test_vector(n, 1);
        let dout = test_vector(n, 2);
        let mut y = vec![0.0f32; n];
        let mut dx = vec![0.0f32; n];
        for threads in [1usize, 2] {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .expect("a rayon pool for the bench");
            let value = format!("{label}/t{threads}");
            g.throughput(Throughput::Bytes((8 * n) as u64));
            g.bench_function(BenchmarkId::new("copy", &value), |b| {
                b.iter(|| pool.install(|| parallel_copy(black_box(&x), &mut y)))
            });
            for (name, act) in ACTIVATIONS {
                g.throughput(Throughput::Bytes((8 * n) as u64));
                g.bench_function(BenchmarkId::new(format!("{name}_forward"), &value), |b| {
                    b.iter(|| {
                        pool.install(|| {
                            act.forward_into(
                                ArrayView1::from(black_box(&x[..])),
                                ArrayViewMut1::from(&mut y[..]),
                            )
                        })
                    })
                });
                // The backward pass reads the tensor it prefers (the output for relu, sigmoid, ...).
                let kind = act.backward_needs();
                let saved = match kind {
                    nn_activations::Saved::Input => x.clone(),
                    nn_activations::Saved::Output => act.forward(ArrayView1::from(&x[..])).to_vec(),
                };
                g.throughput(Throughput::Bytes((12 * n) as u64));
                g.bench_function(BenchmarkId::new(format!("{name}_backward"), &value), |b| {
                    b.iter(|| {
                        pool.install(|| {
                            act.backward_into(
                                ArrayView1::from(black_box(&dout[..])),
                                ArrayView1::from(&saved[..]),
                                kind,
                                ArrayViewMut1::from(&mut dx[..]),
                            )
                        })
                    })
                });
            }
        }
    }
    g.finish();
}

criterion_group!(benches, activations);
criterion_main!(benches);
