//! Checkpoint and resume: 4 epochs straight equal 2 epochs + save + resume + 2 epochs, bit for bit
//! (weights, optimiser state, metrics); broken checkpoints give typed errors.

use std::path::{Path, PathBuf};

use ndarray::Array2;
use nn_core::{MlpOptions, NetworkSpec};
use nn_preprocess::Dataset;
use nn_train::checkpoint::{best_path, state_path};
use nn_train::config::{EarlyStopping, TrainConfig};
use nn_train::observer::{EpochMetrics, Recorder};
use nn_train::schedule::ScheduleConfig;
use nn_train::trainer::{StopReason, Trainer};
use nn_train::TrainError;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn blobs(n: usize, d: usize, c: usize, seed: u64) -> Dataset {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let labels: Vec<u8> = (0..n).map(|i| (i % c) as u8).collect();
    let x = Array2::from_shape_fn((n, d), |(i, j)| {
        let centre = if j == i % c { 2.0 } else { 0.0 };
        centre + 3.0 * (rng.random::<f32>() - 0.5)
    });
    let names = (0..c).map(|k| format!("class {k}")).collect();
    Dataset::new(x, labels, names, None).unwrap()
}

/// BatchNorm (running statistics), dropout (its own random stream), Adam (moments), a cosine
/// schedule, EMA, L2, clipping, monitoring and early-stopping bookkeeping: all of the state a
/// resume must restore.
fn config() -> TrainConfig {
    let options = MlpOptions {
        batch_norm: true,
        dropout: 0.2,
        ..MlpOptions::default()
    };
    TrainConfig {
        model: NetworkSpec::mlp(8, &[16, 12], 3, &options).unwrap(),
        schedule: ScheduleConfig::Cosine {
            lr: 1e-2,
            min_lr: 1e-4,
            period: 40,
            restart_mult: None,
        },
        epochs: 4,
        batch_size: 16,
        seed: 42,
        l2: 1e-4,
        clip_norm: Some(10.0),
        ema_decay: Some(0.95),
        early_stopping: Some(EarlyStopping {
            patience: 10,
            min_delta: 0.0,
        }),
        monitor_every: 3,
        monitor_samples: 32,
        train_eval_samples: 50,
        ..TrainConfig::default()
    }
}

fn temp(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!(
        "nn-train-{name}-{}.safetensors",
        std::process::id()
    ))
}

fn cleanup(path: &Path) {
    for p in [path.to_path_buf(), state_path(path), best_path(path)] {
        let _ = std::fs::remove_file(p);
    }
}

/// Epoch metrics without the wall-clock time.
fn timeless(epochs: &[EpochMetrics]) -> Vec<EpochMetrics> {
    epochs
        .iter()
        .map(|e| EpochMetrics {
            seconds: 0.0,
            ..e.clone()
        })
        .collect()
}

#[test]
fn two_plus_two_epochs_equal_four_bit_for_bit() {
    let train = blobs(150, 8, 3, 1);
    let val = blobs(60, 8, 3, 2);

    let mut straight = Trainer::new(config()).unwrap();
    let mut rec_straight = Recorder::default();
    let full = straight.fit(&train, Some(&val), &mut rec_straight).unwrap();
    assert_eq!(full.stopped, StopReason::Completed);

    let path = temp("resume");
    let mut first = Trainer::new(config()).unwrap();
    let mut rec = Recorder::default();
    first.run_epoch(&train, Some(&val), &mut rec).unwrap();
    first.run_epoch(&train, Some(&val), &mut rec).unwrap();
    first.save_checkpoint(&path).unwrap();
    drop(first);
    let mut resumed = Trainer::resume(&path).unwrap();
    assert_eq!((resumed.epoch(), resumed.step()), (2, 20));
    let rest = resumed.fit(&train, Some(&val), &mut rec).unwrap();
    cleanup(&path);

    assert_eq!(rest.stopped, StopReason::Completed);
    assert_eq!(
        resumed.network().to_safetensors().unwrap(),
        straight.network().to_safetensors().unwrap()
    );
    assert_eq!(
        resumed.optimizer().checkpoint(),
        straight.optimizer().checkpoint()
    );
    assert_eq!(
        resumed.best_network().unwrap().to_safetensors().unwrap(),
        straight.best_network().unwrap().to_safetensors().unwrap()
    );
    assert_eq!(
        resumed.ema_network().unwrap().to_safetensors().unwrap(),
        straight.ema_network().unwrap().to_safetensors().unwrap()
    );
    assert_eq!(timeless(&rest.epochs), timeless(&full.epochs));
    assert_eq!(rest.best_epoch, full.best_epoch);
    // Every step's metrics too (monitoring snapshots included).
    assert_eq!(rec.steps, rec_straight.steps);
}

#[test]
fn mismatched_or_missing_files_give_typed_errors() {
    let train = blobs(60, 8, 3, 3);
    let path = temp("broken");
    let other = temp("other");
    let mut a = Trainer::new(config()).unwrap();
    a.run_epoch(&train, None, &mut ()).unwrap_err(); // early stopping needs validation data
    let mut c = config();
    c.early_stopping = None;
    let mut a = Trainer::new(c.clone()).unwrap();
    a.run_epoch(&train, None, &mut ()).unwrap();
    a.save_checkpoint(&path).unwrap();
    let b = Trainer::new(TrainConfig { seed: 7, ..c }).unwrap();
    b.save_checkpoint(&other).unwrap();

    // The network file of another save: the hash check catches it.
    std::fs::copy(&other, &path).unwrap();
    assert!(matches!(
        Trainer::resume(&path),
        Err(TrainError::Checkpoint { .. })
    ));
    // A truncated state file.
    std::fs::write(state_path(&path), b"{\"format\": ").unwrap();
    assert!(matches!(
        Trainer::resume(&path),
        Err(TrainError::Checkpoint { .. })
    ));
    // No state file at all.
    std::fs::remove_file(state_path(&path)).unwrap();
    assert!(matches!(Trainer::resume(&path), Err(TrainError::Io { .. })));
    cleanup(&path);
    cleanup(&other);
}

#[test]
fn one_and_two_threads_train_bit_identically() {
    // Wide enough layers that the GEMM and element-wise kernels take their parallel paths.
    let train = blobs(256, 64, 4, 4);
    let config = TrainConfig {
        model: NetworkSpec::mlp(
            64,
            &[256, 128],
            4,
            &MlpOptions {
                batch_norm: true,
                ..MlpOptions::default()
            },
        )
        .unwrap(),
        epochs: 2,
        batch_size: 128,
        monitor_every: 1,
        monitor_samples: 64,
        ..TrainConfig::default()
    };
    let run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| {
            let mut t = Trainer::new(config.clone()).unwrap();
            let mut rec = Recorder::default();
            t.fit(&train, None, &mut rec).unwrap();
            (t.network().to_safetensors().unwrap(), rec.steps)
        })
    };
    let (one, steps_one) = run(1);
    let (two, steps_two) = run(2);
    assert_eq!(one, two);
    assert_eq!(steps_one, steps_two);
}
