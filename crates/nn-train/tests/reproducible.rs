//! Same seed and thread count ⇒ bit-identical results, for training (weights, optimiser state,
//! every step's and epoch's metrics), search (every trial's result) and evaluation (loss,
//! accuracy, confusion matrix, probabilities). The thread count is varied too: the parallel
//! kernels split outputs into disjoint chunks and reduce in a fixed order, so one thread and two
//! give the same bits.

use ndarray::Array2;
use nn_core::{MlpOptions, NetworkSpec};
use nn_preprocess::Dataset;
use nn_train::config::TrainConfig;
use nn_train::observer::{EpochMetrics, Recorder, StepMetrics};
use nn_train::optim::OptimizerConfig;
use nn_train::predict::{evaluate, predict_proba};
use nn_train::search::{Param, SearchSpace};
use nn_train::search_run::{run_search, SearchConfig, SearchMethod, StageConfig};
use nn_train::trainer::Trainer;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// `c` noisy blobs in `d` dimensions.
fn blobs(n: usize, d: usize, c: usize, seed: u64) -> Dataset {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let y: Vec<u8> = (0..n).map(|i| (i % c) as u8).collect();
    let x = Array2::from_shape_fn((n, d), |(i, j)| {
        let centre = if j % c == i % c { 1.5 } else { 0.0 };
        centre + 2.0 * (rng.random::<f32>() - 0.5)
    });
    Dataset::new(x, y, (0..c).map(|k| k.to_string()).collect(), None).unwrap()
}

/// Runs `f` on a pool of `threads` threads.
fn with_threads<T: Send>(threads: usize, f: impl FnOnce() -> T + Send) -> T {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap()
        .install(f)
}

/// Every random and stateful part at once (dropout, BatchNorm, Adam, EMA, L2, clipping,
/// monitoring), with products large enough (128·64·384 and 128·384·192 multiply-adds, above the
/// GEMM's 2²⁰-per-task threshold) that two threads really split them.
fn config() -> TrainConfig {
    let options = MlpOptions {
        batch_norm: true,
        dropout: 0.3,
        ..MlpOptions::default()
    };
    TrainConfig {
        model: NetworkSpec::mlp(64, &[384, 192], 4, &options).unwrap(),
        epochs: 2,
        batch_size: 128,
        seed: 11,
        l2: 1e-4,
        clip_norm: Some(5.0),
        ema_decay: Some(0.9),
        monitor_every: 2,
        monitor_samples: 64,
        train_eval_samples: 100,
        ..TrainConfig::default()
    }
}

/// The results of one training run that must be reproducible (wall-clock time removed).
type Run = (Vec<u8>, Vec<StepMetrics>, Vec<EpochMetrics>);

fn train(threads: usize, train: &Dataset, val: &Dataset) -> Run {
    with_threads(threads, || {
        let mut t = Trainer::new(config()).unwrap();
        let mut rec = Recorder::default();
        t.fit(train, Some(val), &mut rec).unwrap();
        let epochs = rec
            .epochs
            .into_iter()
            .map(|e| EpochMetrics { seconds: 0.0, ..e })
            .collect();
        (t.network().to_safetensors().unwrap(), rec.steps, epochs)
    })
}

#[test]
fn training_twice_and_with_one_or_two_threads_gives_the_same_bits() {
    let (tr, val) = (blobs(384, 64, 4, 1), blobs(100, 64, 4, 2));
    let first = train(2, &tr, &val);
    assert!(first.1.len() == 6 && first.2.len() == 2);
    // Same seed, same threads: identical weights and metrics.
    assert!(
        train(2, &tr, &val) == first,
        "two runs with 2 threads differ"
    );
    // The thread count does not matter either.
    assert!(train(1, &tr, &val) == first, "1 thread differs from 2");
    // And the seed does (the comparison above can fail).
    let other = with_threads(2, || {
        let mut t = Trainer::new(TrainConfig {
            seed: 12,
            ..config()
        })
        .unwrap();
        t.fit(&tr, Some(&val), &mut ()).unwrap();
        t.network().to_safetensors().unwrap()
    });
    assert_ne!(other, first.0);
}

#[test]
fn a_search_run_twice_gives_identical_trial_results() {
    let (tr, val) = (blobs(200, 8, 3, 3), blobs(60, 8, 3, 4));
    let search = SearchConfig {
        space: SearchSpace::new()
            .with("lr", Param::LogUniform { lo: 1e-3, hi: 1e-1 })
            .unwrap(),
        base: TrainConfig {
            model: NetworkSpec::mlp(8, &[12], 3, &MlpOptions::default()).unwrap(),
            optimizer: OptimizerConfig::sgd(),
            batch_size: 32,
            ..TrainConfig::default()
        },
        stages: vec![
            StageConfig {
                trials: 3,
                epochs: 1,
                keep: 2,
                narrowing: 0.5,
            },
            StageConfig {
                trials: 2,
                epochs: 2,
                keep: 1,
                narrowing: 0.5,
            },
        ],
        method: SearchMethod::Random,
        seed: 5,
    };
    let a = with_threads(2, || run_search(&search, &tr, &val).unwrap());
    let b = with_threads(2, || run_search(&search, &tr, &val).unwrap());
    let c = with_threads(1, || run_search(&search, &tr, &val).unwrap());
    assert_eq!(a.table.len(), 5);
    assert_eq!(a, b);
    assert_eq!(a, c);
}

#[test]
fn evaluation_twice_and_with_one_or_two_threads_gives_the_same_report() {
    let (tr, test) = (blobs(300, 64, 4, 5), blobs(1500, 64, 4, 6));
    let mut t = Trainer::new(TrainConfig {
        epochs: 1,
        ..config()
    })
    .unwrap();
    t.fit(&tr, None, &mut ()).unwrap();
    let net = t.network();
    let eval = |threads| {
        with_threads(threads, || {
            (
                evaluate(net, &test).unwrap(),
                t.evaluate(&test).unwrap(),
                predict_proba(net, test.features()).unwrap(),
            )
        })
    };
    let first = eval(2);
    assert_eq!(first.0.samples, 1500);
    assert!(eval(2) == first, "two evaluations differ");
    assert!(eval(1) == first, "1 thread differs from 2");
}
