//! The learning-rate range test on a small synthetic problem: the suggested range trains well, a
//! sweep of tiny rates is too low, a sweep of huge rates is too high.

use ndarray::Array2;
use nn_core::NetworkSpec;
use nn_preprocess::Dataset;
use nn_train::lr_find::{lr_find, LrFindConfig, LrFindReport, LrVerdict};
use nn_train::optim::OptimizerConfig;
use nn_train::schedule::ScheduleConfig;
use nn_train::{StopReason, TrainConfig, TrainError, Trainer};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// A standard normal draw (Box–Muller).
fn normal(rng: &mut ChaCha8Rng) -> f32 {
    let (u, v): (f64, f64) = (rng.random(), rng.random());
    ((-2.0 * (1.0 - u).ln()).sqrt() * (std::f64::consts::TAU * v).cos()) as f32
}

/// `n` samples of `classes` Gaussian blobs in `d` dimensions (centres N(0, 1.5²), unit noise).
fn blobs(n: usize, d: usize, classes: usize, seed: u64) -> Dataset {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let centres = Array2::from_shape_fn((classes, d), |_| 1.5 * normal(&mut rng));
    let y: Vec<u8> = (0..n).map(|_| rng.random_range(0..classes) as u8).collect();
    let x = Array2::from_shape_fn((n, d), |(i, j)| {
        centres[[y[i] as usize, j]] + normal(&mut rng)
    });
    Dataset::new(x, y, (0..classes).map(|c| c.to_string()).collect(), None).unwrap()
}

fn train_config() -> TrainConfig {
    TrainConfig {
        model: NetworkSpec::mlp(10, &[32], 4, &Default::default()).unwrap(),
        optimizer: OptimizerConfig::sgd(),
        batch_size: 32,
        monitor_every: 0,
        train_eval_samples: 0,
        ..TrainConfig::default()
    }
}

fn sweep(min_lr: f64, max_lr: f64, steps: usize) -> LrFindReport {
    let data = blobs(512, 10, 4, 1);
    let config = LrFindConfig {
        min_lr,
        max_lr,
        steps,
        ..Default::default()
    };
    lr_find(
        &train_config(),
        &data,
        &config,
        &mut ChaCha8Rng::seed_from_u64(3),
    )
    .unwrap()
}

/// Validation accuracy after 3 epochs of plain SGD at a constant `lr`.
fn accuracy_at(lr: f64) -> (f64, StopReason) {
    let data = blobs(1024, 10, 4, 1);
    let (train, val) = data.split(0.25, &mut ChaCha8Rng::seed_from_u64(5)).unwrap();
    let config = TrainConfig {
        schedule: ScheduleConfig::Constant { lr },
        epochs: 3,
        ..train_config()
    };
    let mut trainer = Trainer::new(config).unwrap();
    let report = trainer.fit(&train, Some(&val), &mut ()).unwrap();
    let acc = trainer.evaluate(&val).unwrap().accuracy;
    (acc, report.stopped)
}

#[test]
fn suggested_range_trains_well() {
    let r = sweep(1e-5, 1e3, 100);
    assert_eq!(r.verdict, LrVerdict::Ok, "{r}");
    assert!(r.diverged, "{r}");
    let s = r.suggestion.unwrap();
    assert!(
        s.low <= s.high && s.high <= s.divergence / 10.0 + 1e-12,
        "{s:?}"
    );
    // The middle of the range trains to a high accuracy; the lowest rate swept barely moves.
    let (good, stopped) = accuracy_at(s.middle());
    assert_eq!(stopped, StopReason::Completed);
    assert!(good > 0.9, "lr {:.2e}: accuracy {good}\n{r}", s.middle());
    let (slow, _) = accuracy_at(1e-5);
    assert!(slow < good - 0.2, "{slow} vs {good}");
    // Points are recorded with growing rates, and the report round-trips through JSON.
    assert!(r.points.windows(2).all(|w| w[1].lr > w[0].lr));
    let back: LrFindReport = serde_json::from_str(&serde_json::to_string(&r).unwrap()).unwrap();
    assert_eq!(back, r);
    let text = r.to_string();
    assert!(text.contains("verdict: ok") && text.contains('*'), "{text}");
}

#[test]
fn a_sweep_of_tiny_rates_is_too_low() {
    let r = sweep(1e-9, 1e-7, 40);
    assert_eq!(r.verdict, LrVerdict::TooLow, "{r}");
    assert!(!r.diverged && r.suggestion.is_none());
    assert_eq!(r.points.len(), 40);
    assert!(r.noise > 0.0);
    assert!(r.to_string().contains("too low"));
}

#[test]
fn a_sweep_starting_at_huge_rates_is_too_high() {
    let r = sweep(1e3, 1e6, 40);
    assert_eq!(r.verdict, LrVerdict::TooHigh, "{r}");
    assert!(r.diverged && r.points.len() < 10, "{r}");
    assert!(r.to_string().contains("too high"));
}

#[test]
fn same_seed_same_sweep() {
    assert_eq!(sweep(1e-4, 10.0, 30), sweep(1e-4, 10.0, 30));
}

#[test]
fn bad_inputs_are_typed_errors() {
    let data = blobs(64, 10, 4, 2);
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let bad = LrFindConfig {
        min_lr: 1.0,
        max_lr: 0.1,
        ..Default::default()
    };
    assert!(matches!(
        lr_find(&train_config(), &data, &bad, &mut rng),
        Err(TrainError::InvalidHyperparameter { name: "max_lr", .. })
    ));
    let narrow = blobs(64, 3, 4, 2);
    assert!(matches!(
        lr_find(&train_config(), &narrow, &LrFindConfig::default(), &mut rng),
        Err(TrainError::ShapeMismatch { .. })
    ));
}

#[test]
fn mnist_default_config_sweep_suggests_a_rate_that_trains() {
    // The default TrainConfig (784 → 256 → 10 with BatchNorm, Adam) on 2000 images of
    // data/mnist-small, then one epoch at the middle of the suggested range.
    let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../data/mnist-small");
    let (train, test) = nn_preprocess::load_idx_dir(&root, nn_preprocess::IdxSet::Mnist).unwrap();
    let train = train.head(2000).unwrap();
    let base = TrainConfig {
        monitor_every: 0,
        train_eval_samples: 0,
        ..TrainConfig::default()
    };
    let config = LrFindConfig {
        min_lr: 1e-6,
        max_lr: 10.0,
        steps: 80,
        ..Default::default()
    };
    let r = lr_find(&base, &train, &config, &mut ChaCha8Rng::seed_from_u64(0)).unwrap();
    assert_eq!(r.verdict, LrVerdict::Ok, "{r}");
    let s = r.suggestion.unwrap();
    let accuracy = |lr: f64| {
        let mut t = Trainer::new(TrainConfig {
            schedule: ScheduleConfig::Constant { lr },
            epochs: 3,
            ..base.clone()
        })
        .unwrap();
        t.fit(&train, None, &mut ()).unwrap();
        t.evaluate(&test).unwrap().accuracy
    };
    // Three epochs (48 steps) at the middle of the range: well trained, and far better than at a
    // rate below the swept descent.
    let (good, slow) = (accuracy(s.middle()), accuracy(1e-5));
    assert!(
        good > 0.85,
        "lr {:.2e}: test accuracy {good}\n{r}",
        s.middle()
    );
    assert!(good > slow + 0.1, "{good} vs {slow} at 1e-5");
}
