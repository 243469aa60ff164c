//! Initialising a 4096 × 4096 `f32` weight matrix (16.8 M entries) with the He normal, Glorot
//! uniform and truncated-normal rules, on 1 thread (the baseline) and on 2 threads, in the same
//! run. The output is bit-identical for both thread counts (nn-init's per-chunk ChaCha8
//! streams), so the rows differ only in speed. Ids are `init/<rule>/4096x4096/t<threads>`.
#![allow(missing_docs)] // criterion_group! generates undocumented items.
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use nn_activations::Activation;
use nn_init::Init;
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::hint::black_box;
use std::time::Duration;

fn init(c: &mut Criterion) {
    let mut g = c.benchmark_group("init");
    g.sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    let n = 4096;
    let rules = [
        ("he_normal", Init::he(Activation::Relu)),
        ("glorot_uniform", Init::glorot_uniform()),
        ("truncated_normal", Init::truncated_normal(0.02)),
    ];
    for threads in [1usize, 2] {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .expect("a rayon pool for the bench");
        for (name, rule) in rules {
            g.throughput(Throughput::Elements((n * n) as u64));
            let id = BenchmarkId::new(name, format!("{n}x{n}/t{threads}"));
            g.bench_function(id, |b| {
                let mut rng = ChaCha8Rng::seed_from_u64(7);
                b.iter(|| {
                    pool.install(|| {
                        rule.weights::<f32, _>(black_box(n), n, &mut rng)
                            .expect("valid initialiser")
                    })
                })
            });
        }
    }
    g.finish();
}

criterion_group!(benches, init);
criterion_main!(benches);
