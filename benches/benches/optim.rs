//! One Adam step over the parameters of a 784-512-256-10 MLP (W1, b1, W2, b2, W3, b3: 535 818 f32
//! values), on 1 and 2 threads, against a plain copy of the same number of f32 values in the same group.
//!
//! `optim/adam/{1,2}thr/535818` and `optim/copy/535818`, throughput in parameters.
#![allow(missing_docs)] // criterion_group! generates undocumented items.

use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use ndarray::{Array1, ArrayView1};
use nn_benches::test_vector;
use nn_train::optim::{Optimizer, OptimizerConfig};

const SHAPES: [(&str, usize); 6] = [
    ("w1", 784 * 512),
    ("b1", 512),
    ("w2", 512 * 256),
    ("b2", 256),
    ("w3", 256 * 10),
    ("b3", 10),
];

fn optim(c: &mut Criterion) {
    let count: usize = SHAPES.iter().map(|(_, n)| n).sum();
    let mut g = c.benchmark_group("optim");
    g.throughput(Throughput::Elements(count as u64));

    let src = test_vector(count, 1);
    let mut dst = vec![0.0f32; count];
    g.bench_function(BenchmarkId::new("copy", count), |b| {
        b.iter(|| dst.copy_from_slice(black_box(&src)))
    });

    for threads in [1, 2] {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap_or_else(|e| panic!("thread pool: {e}"));
        let mut params: Vec<Array1<f32>> = SHAPES
            .iter()
            .enumerate()
            .map(|(i, &(_, n))| Array1::from(test_vector(n, 10 + i as u64)))
            .collect();
        let grads: Vec<Array1<f32>> = SHAPES
            .iter()
            .enumerate()
            .map(|(i, &(_, n))| Array1::from(test_vector(n, 20 + i as u64)).mapv(|x| x * 1e-3))
            .collect();
        let mut opt = Optimizer::<f32>::new(OptimizerConfig::default())
            .unwrap_or_else(|e| panic!("adam: {e}"));
        let id = BenchmarkId::new(format!("adam/{threads}thr"), count);
        g.bench_function(id, |b| {
            b.iter(|| {
                pool.install(|| {
                    for ((name, _), (p, gr)) in SHAPES.iter().zip(params.iter_mut().zip(&grads)) {
                        let grad: ArrayView1<'_, f32> = black_box(gr.view());
                        opt.step(1e-3, name, p.view_mut(), grad)
                            .unwrap_or_else(|e| panic!("step: {e}"));
                    }
                })
            })
        });
    }
    g.finish();
}

criterion_group!(benches, optim);
criterion_main!(benches);
