//! One full training step of a 784-512-256-10 ReLU MLP in f32: training forward, softmax
//! cross-entropy, backward and an Adam update (`nn_train`'s `Optimizer` with PyTorch's defaults,
//! lr 1e-3) of every parameter.
//!
//! Ids: `step/<variant>/b<batch>/t<threads>` with throughput in samples, for batch 64, 128 and 256
//! in local rayon pools of 1 and 2 threads. `<variant>` is `plain`, `bn` (BatchNorm between each
//! hidden `Linear` and its ReLU), or `ndarray_baseline`: the plain network written CS231n-style
//! (assignment 1's two-layer net extended to three layers, assignment 2's `adam`) with ndarray's
//! `.dot()` and allocating element-wise ops, measured in the same group as the ratio's denominator.
//!
//! The `nn` side is `Network::forward_backward` followed by one `Optimizer::step` per parameter,
//! the core of `Trainer::train_step` without its divergence checks and monitoring (the `epoch`
//! bench times the whole `Trainer`). `cargo xtask bench --peers step` puts NumPy and PyTorch beside
//! these rows (`benches/peers/step.py`).
#![allow(missing_docs)] // criterion_group! generates undocumented items.

use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use ndarray::{Array1, Array2, Axis};
use nn_benches::test_vector;
use nn_core::{Loss, MlpOptions, Network, NetworkSpec, Targets};
use nn_train::optim::{Optimizer, OptimizerConfig};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::time::Duration;

const D: usize = 784;
const H1: usize = 512;
const H2: usize = 256;
const C: usize = 10;
const LR: f32 = 1e-3;

fn matrix(rows: usize, cols: usize, seed: u64, scale: f32) -> Array2<f32> {
    let v: Vec<f32> = test_vector(rows * cols, seed)
        .into_iter()
        .map(|x| x * scale)
        .collect();
    Array2::from_shape_vec((rows, cols), v).unwrap_or_else(|_| Array2::zeros((rows, cols)))
}

/// CS231n's `adam` (assignment 2, `optim.py`) on one parameter, allocating like the NumPy original.
struct AdamSlot<A> {
    m: A,
    v: A,
}

/// The CS231n-style reference: allocating ops and `.dot()`, then Adam on every parameter.
struct Baseline {
    w: [Array2<f32>; 3],
    b: [Array1<f32>; 3],
    mw: Vec<AdamSlot<Array2<f32>>>,
    mb: Vec<AdamSlot<Array1<f32>>>,
    t: i32,
}

impl Baseline {
    fn new() -> Self {
        let w = [
            matrix(D, H1, 2, 0.05),
            matrix(H1, H2, 3, 0.06),
            matrix(H2, C, 4, 0.09),
        ];
        let b = [Array1::zeros(H1), Array1::zeros(H2), Array1::zeros(C)];
        let mw = w
            .iter()
            .map(|w| AdamSlot {
                m: Array2::zeros(w.raw_dim()),
                v: Array2::zeros(w.raw_dim()),
            })
            .collect();
        let mb = b
            .iter()
            .map(|b| AdamSlot {
                m: Array1::zeros(b.raw_dim()),
                v: Array1::zeros(b.raw_dim()),
            })
            .collect();
        Baseline { w, b, mw, mb, t: 0 }
    }

    /// Loss and gradients (assignment 1's `TwoLayerNet.loss`, three layers).
    #[allow(clippy::type_complexity)]
    fn grads(&self, x: &Array2<f32>, y: &[usize]) -> (f32, Vec<Array2<f32>>, Vec<Array1<f32>>) {
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

    /// One step: gradients, then `m = β1·m + (1-β1)·dw`, `v = β2·v + (1-β2)·dw²`,
    /// `w -= lr·m̂ / (√v̂ + ε)` with bias-corrected `m̂`, `v̂`, as whole-array expressions.
    fn step(&mut self, x: &Array2<f32>, y: &[usize]) -> f32 {
        let (loss, dw, db) = self.grads(x, y);
        self.t += 1;
        let (b1, b2, eps) = (0.9f32, 0.999f32, 1e-8f32);
        let (c1, c2) = (1.0 - b1.powi(self.t), 1.0 - b2.powi(self.t));
        for ((w, s), g) in self.w.iter_mut().zip(&mut self.mw).zip(&dw) {
            s.m = &s.m * b1 + g * (1.0 - b1);
            s.v = &s.v * b2 + &(g * g) * (1.0 - b2);
            let mt = &s.m / c1;
            let vt = &s.v / c2;
            *w -= &(mt * LR / (vt.mapv(f32::sqrt) + eps));
        }
        for ((b, s), g) in self.b.iter_mut().zip(&mut self.mb).zip(&db) {
            s.m = &s.m * b1 + g * (1.0 - b1);
            s.v = &s.v * b2 + &(g * g) * (1.0 - b2);
            let mt = &s.m / c1;
            let vt = &s.v / c2;
            *b -= &(mt * LR / (vt.mapv(f32::sqrt) + eps));
        }
        loss
    }
}

/// `Network::forward_backward`, then Adam on every parameter (flat views, no copies).
fn nn_step(
    net: &mut Network<f32>,
    opt: &mut Optimizer<f32>,
    x: &Array2<f32>,
    labels: &[usize],
    loss: &Loss,
    rng: &mut ChaCha8Rng,
) -> f32 {
    let data_loss = match net.forward_backward(x.view(), Targets::Classes(labels), loss, 0.0, rng) {
        Ok(r) => r.data_loss,
        Err(_) => return f32::NAN,
    };
    let mut ok = true;
    net.visit_params_mut(|p| {
        let len = p.value.len();
        if let (Ok(v), Ok(g)) = (
            p.value.into_shape_with_order(len),
            p.grad.into_shape_with_order(len),
        ) {
            ok &= opt.step(LR, p.name, v, g.view()).is_ok();
        } else {
            ok = false;
        }
    });
    if ok {
        data_loss
    } else {
        f32::NAN
    }
}

fn bench_step(c: &mut Criterion) {
    let mut group = c.benchmark_group("step");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    let loss = Loss::default();
    for threads in [1usize, 2] {
        let Ok(pool) = rayon::ThreadPoolBuilder::new().num_threads(threads).build() else {
            continue;
        };
        for batch in [64usize, 128, 256] {
            group.throughput(Throughput::Elements(batch as u64));
            let x = matrix(batch, D, 1, 0.25);
            let labels: Vec<usize> = (0..batch).map(|i| (i * 7) % C).collect();
            let value = format!("b{batch}/t{threads}");
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
                let Ok(mut opt) = Optimizer::<f32>::new(OptimizerConfig::default()) else {
                    continue;
                };
                // The first step sizes the workspace and the Adam states; a finite loss shows
                // the step ran.
                if !nn_step(&mut net, &mut opt, &x, &labels, &loss, &mut rng).is_finite() {
                    eprintln!("step/{variant}/{value}: the first step failed; skipped");
                    continue;
                }
                group.bench_function(BenchmarkId::new(variant, &value), |b| {
                    pool.install(|| {
                        b.iter(|| {
                            black_box(nn_step(
                                &mut net,
                                &mut opt,
                                black_box(&x),
                                &labels,
                                &loss,
                                &mut rng,
                            ))
                        })
                    })
                });
            }
            let mut base = Baseline::new();
            group.bench_function(BenchmarkId::new("ndarray_baseline", &value), |b| {
                pool.install(|| b.iter(|| black_box(base.step(black_box(&x), &labels))))
            });
        }
    }
    group.finish();
}

criterion_group!(benches, bench_step);
criterion_main!(benches);
