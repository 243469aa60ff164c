//! Activation benches (filled in by the nn-activations work): the copy baseline for now.
#![allow(missing_docs)] // criterion_group! generates undocumented items.
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use nn_benches::test_vector;

fn copy(c: &mut Criterion) {
    let mut g = c.benchmark_group("activations");
    let n = 1 << 20;
    let x = test_vector(n, 1);
    let mut y = vec![0.0f32; n];
    g.throughput(Throughput::Bytes((2 * n * 4) as u64));
    g.bench_function("copy", |b| b.iter(|| y.copy_from_slice(std::hint::black_box(&x))));
    g.finish();
}

criterion_group!(benches, copy);
criterion_main!(benches);
