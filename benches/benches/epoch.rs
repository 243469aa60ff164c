//! One training epoch over 60 000 MNIST-sized synthetic samples (784 f32 features, 10 classes)
//! at batch 128 with Adam (lr 1e-3), through `nn_train::Trainer::run_epoch`, the loop `nn train`
//! runs: shuffled mini-batches, training forward, loss, divergence checks, backward, gradient norm,
//! Adam, and the per-epoch snapshot. Monitoring, the end-of-epoch training-set re-evaluation and
//! validation are off, so the row times training alone.
//!
//! Ids: `epoch/<variant>/n60000_b128/t<threads>`, `<variant>` `plain` or `bn` (the
//! 784-512-256-10 ReLU MLP without or with BatchNorm), throughput in samples, local rayon pools of
//! 1 and 2 threads. `benches/peers/epoch.py` times the same epoch in NumPy and PyTorch.
#![allow(missing_docs)] // criterion_group! generates undocumented items.

use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use ndarray::Array2;
use nn_benches::test_vector;
use nn_core::{MlpOptions, NetworkSpec};
use nn_preprocess::Dataset;
use nn_train::schedule::ScheduleConfig;
use nn_train::{TrainConfig, Trainer};
use std::time::Duration;

const N: usize = 60_000;
const D: usize = 784;
const C: usize = 10;
const BATCH: usize = 128;

/// Synthetic MNIST-sized data: features in `[-1, 1)`, labels cycling through the 10 classes.
fn dataset() -> Option<Dataset> {
    let x: Vec<f32> = test_vector(N * D, 7)
        .into_iter()
        .map(|v| v * 0.25)
        .collect();
    let x = Array2::from_shape_vec((N, D), x).ok()?;
    let y: Vec<u8> = (0..N).map(|i| ((i * 7) % C) as u8).collect();
    let names = (0..C).map(|c| c.to_string()).collect();
    Dataset::new(x, y, names, None).ok()
}

fn trainer(batch_norm: bool) -> Option<Trainer> {
    let opts = MlpOptions {
        batch_norm,
        ..Default::default()
    };
    let config = TrainConfig {
        model: NetworkSpec::mlp(D, &[512, 256], C, &opts).ok()?,
        schedule: ScheduleConfig::Constant { lr: 1e-3 },
        // Enough epochs that every timed call runs one more.
        epochs: usize::MAX / 2,
        batch_size: BATCH,
        monitor_every: 0,
        train_eval_samples: 0,
        // Random labels: the loss must never count as diverged.
        divergence_factor: 1e30,
        ..TrainConfig::default()
    };
    Trainer::new(config).ok()
}

fn bench_epoch(c: &mut Criterion) {
    let Some(data) = dataset() else {
        eprintln!("epoch: could not build the synthetic data set; skipped");
        return;
    };
    let mut group = c.benchmark_group("epoch");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(10))
        .throughput(Throughput::Elements(N as u64));
    for threads in [1usize, 2] {
        let Ok(pool) = rayon::ThreadPoolBuilder::new().num_threads(threads).build() else {
            continue;
        };
        for (variant, batch_norm) in [("plain", false), ("bn", true)] {
            let Some(mut t) = trainer(batch_norm) else {
                eprintln!("epoch/{variant}: could not build the trainer; skipped");
                continue;
            };
            let id = BenchmarkId::new(variant, format!("n{N}_b{BATCH}/t{threads}"));
            group.bench_function(id, |b| {
                pool.install(|| {
                    b.iter(|| black_box(t.run_epoch(black_box(&data), None, &mut ()).is_ok()))
                })
            });
        }
    }
    group.finish();
}

criterion_group!(benches, bench_epoch);
criterion_main!(benches);
