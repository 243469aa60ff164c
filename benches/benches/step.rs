//! One training step (forward + loss + backward, no optimiser) of a 784-512-256-10 MLP.
//!
//! `step/mlp_784_512_256_10/{plain,bn,ndarray_baseline}/{1,2}thr/{batch}` with throughput in
//! samples. `ndarray_baseline` is the same network (ReLU, softmax) written CS231n-style with
//! ndarray's `.dot()` and allocating element-wise ops, measured in the same group as the ratio's
//! denominator.
#![allow(missing_docs)]

use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use ndarray::{Array1, Array2, Axis};
use nn_benches::test_vector;
use nn_core::{Loss, MlpOptions, Network, NetworkSpec, Targets};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

const D: usize = 784;
const H1: usize = 512;
const H2: usize = 256;
const C: usize = 10;

fn matrix(rows: usize, cols: usize, seed: u64, scale: f32) -> Array2<f32> {
    let v: Vec<f32> = test_vector(rows * cols, seed)
        .into_iter()
        .map(|x| x * scale)
        .collect();
    Array2::from_shape_vec((rows, cols), v).unwrap_or_else(|_| Array2::zeros((rows, cols)))
}

/// The CS231n-style reference: allocating ops and `.dot()`; returns the loss and the gradients.
struct Baseline {
    w: [Array2<f32>; 3],
    b: [Array1<f32>; 3],
}

impl Baseline {
    fn step(&self, x: &Array2<f32>, y: &[usize]) -> (f32, Vec<Array2<f32>>, Vec<Array1<f32>>) {
        let n = x.nrows() as f32;
        let a1 = (x.dot(&self.w[0]) + &self.b[0]).mapv(|v| v.max(0.0));
        let a2 = (a1.dot(&self.w[1]) + &self.b[1]).mapv(|v| v.max(0.0));
        let s = a2.dot(&self.w[2]) + &self.b[2];
        let max = s.map_axis(Axis(1), |r| r.fold(f32::NEG_INFINITY, |m, &v| m.max(v)));
        let e = (&s - &max.insert_axis(Axis(1))).mapv(f32::exp);
        let sum = e.sum_axis(Axis(1));
        let mut p = &e / &sum.insert_axis(Axis(1));
        let mut loss = 0.0;
        for (i, &label) in y.iter().enumerate() {
            loss -= p[[i, label]].ln();
            p[[i, label]] -= 1.0;
        }
        let ds = p / n;
        let dw3 = a2.t().dot(&ds);
        let db3 = ds.sum_axis(Axis(0));
        let da2 = ds.dot(&self.w[2].t()) * a2.mapv(|v| if v > 0.0 { 1.0 } else { 0.0 });
        let dw2 = a1.t().dot(&da2);
        let db2 = da2.sum_axis(Axis(0));
        let da1 = da2.dot(&self.w[1].t()) * a1.mapv(|v| if v > 0.0 { 1.0 } else { 0.0 });
        let dw1 = x.t().dot(&da1);
        let db1 = da1.sum_axis(Axis(0));
        (loss / n, vec![dw1, dw2, dw3], vec![db1, db2, db3])
    }
}

fn bench_step(c: &mut Criterion) {
    let mut group = c.benchmark_group("step");
    group.sample_size(20);
    group.measurement_time(std::time::Duration::from_secs(4));
    let batch = 128;
    group.throughput(Throughput::Elements(batch as u64));
    let x = matrix(batch, D, 1, 0.25);
    let labels: Vec<usize> = (0..batch).map(|i| (i * 7) % C).collect();
    let loss = Loss::default();
    for threads in [1usize, 2] {
        let Ok(pool) = rayon::ThreadPoolBuilder::new().num_threads(threads).build() else {
            continue;
        };
        for (variant, batch_norm) in [("plain", false), ("bn", true)] {
            let opts = MlpOptions {
                batch_norm,
                ..Default::default()
            };
            let Ok(spec) = NetworkSpec::mlp(D, &[H1, H2], C, &opts) else {
                continue;
            };
            let mut rng = ChaCha8Rng::seed_from_u64(0);
            let Ok(mut net) = Network::<f32>::from_spec(&spec, &mut rng) else {
                continue;
            };
            let id = BenchmarkId::new(format!("mlp_784_512_256_10/{variant}/{threads}thr"), batch);
            group.bench_with_input(id, &batch, |b, _| {
                pool.install(|| {
                    b.iter(|| {
                        let r = net.forward_backward(
                            black_box(x.view()),
                            Targets::Classes(&labels),
                            &loss,
                            0.0,
                            &mut rng,
                        );
                        black_box(r.map(|r| r.data_loss).unwrap_or(f32::NAN))
                    })
                })
            });
        }
        let base = Baseline {
            w: [
                matrix(D, H1, 2, 0.05),
                matrix(H1, H2, 3, 0.06),
                matrix(H2, C, 4, 0.09),
            ],
            b: [Array1::zeros(H1), Array1::zeros(H2), Array1::zeros(C)],
        };
        let id = BenchmarkId::new(
            format!("mlp_784_512_256_10/ndarray_baseline/{threads}thr"),
            batch,
        );
        group.bench_with_input(id, &batch, |b, _| {
            pool.install(|| b.iter(|| black_box(base.step(black_box(&x), &labels))))
        });
    }
    group.finish();
}

criterion_group!(benches, bench_step);
criterion_main!(benches);
