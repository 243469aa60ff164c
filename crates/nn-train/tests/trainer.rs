//! End-to-end tests of the training loop: learning, overfitting a tiny subset, early stopping,
//! divergence, observers and interrupts, config serde and validation.

use std::path::Path;

use ndarray::Array2;
use nn_core::{MlpOptions, NetworkSpec};
use nn_preprocess::{load_idx_dir, Dataset, IdxSet};
use nn_train::config::{EarlyStopping, TrainConfig};
use nn_train::observer::{Control, EpochMetrics, Observer, Recorder, StepMetrics};
use nn_train::optim::OptimizerConfig;
use nn_train::schedule::ScheduleConfig;
use nn_train::trainer::{StopReason, Trainer};
use nn_train::TrainError;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// `n` points in `d` dimensions from `c` Gaussian-ish blobs (centre `3·e_k`, uniform noise of width
/// `noise`), labelled by blob.
fn blobs(n: usize, d: usize, c: usize, noise: f32, seed: u64) -> Dataset {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let labels: Vec<u8> = (0..n).map(|i| (i % c) as u8).collect();
    let x = Array2::from_shape_fn((n, d), |(i, j)| {
        let centre = if j == i % c { 3.0 } else { 0.0 };
        centre + noise * (rng.random::<f32>() - 0.5)
    });
    let names = (0..c).map(|k| format!("class {k}")).collect();
    Dataset::new(x, labels, names, None).unwrap()
}

fn small_config(d: usize, c: usize, epochs: usize) -> TrainConfig {
    TrainConfig {
        model: NetworkSpec::mlp(d, &[16], c, &MlpOptions::default()).unwrap(),
        schedule: ScheduleConfig::Constant { lr: 1e-2 },
        epochs,
        batch_size: 20,
        monitor_every: 0,
        train_eval_samples: 0,
        ..TrainConfig::default()
    }
}

#[test]
fn loss_decreases_on_blobs_and_validation_is_high() {
    let train = blobs(200, 6, 3, 3.0, 1);
    let val = blobs(100, 6, 3, 3.0, 2);
    let mut t = Trainer::new(small_config(6, 3, 8)).unwrap();
    let report = t.fit(&train, Some(&val), &mut ()).unwrap();
    assert_eq!(report.stopped, StopReason::Completed);
    assert_eq!(report.epochs.len(), 8);
    let first = report.epochs[0].train_loss;
    let last = report.epochs[7].train_loss;
    assert!(last < 0.5 * first, "loss {first} -> {last}");
    // Centres 3·√2 apart with noise ±1.5 per axis: nearly separable.
    let acc = report.epochs[7].val_accuracy.unwrap();
    assert!(acc > 0.9, "validation accuracy {acc}");
    assert_eq!(
        t.evaluate(&val).unwrap().accuracy,
        report.epochs[7].val_accuracy.unwrap()
    );
}

#[test]
fn tiny_mnist_subset_is_overfit_to_100_percent() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/mnist-small");
    let (train, _) = load_idx_dir(&dir, IdxSet::Mnist).unwrap();
    let tiny = train.head(40).unwrap();
    let config = TrainConfig {
        model: NetworkSpec::mlp(784, &[64], 10, &MlpOptions::default()).unwrap(),
        schedule: ScheduleConfig::Constant { lr: 2e-3 },
        epochs: 40,
        batch_size: 20,
        monitor_every: 0,
        train_eval_samples: 40,
        ..TrainConfig::default()
    };
    let mut rec = Recorder::default();
    let mut t = Trainer::new(config).unwrap();
    let report = t.fit(&tiny, None, &mut rec).unwrap();
    // CS231n's sanity checks: the first loss is about ln 10 (He init on [0, 1] pixels gives
    // scores of order 1, so allow ±1), and a tiny subset can be fit perfectly.
    let first = rec.steps[0].data_loss;
    assert!((first - 10f64.ln()).abs() < 1.0, "initial loss {first}");
    assert_eq!(report.epochs.last().unwrap().train_eval_accuracy, Some(1.0));
    assert_eq!(t.evaluate(&tiny).unwrap().accuracy, 1.0);
    assert!(report.epochs.last().unwrap().train_loss < 0.05);
}

#[test]
fn early_stopping_triggers_on_unlearnable_validation_labels_and_keeps_the_best() {
    let train = blobs(120, 6, 3, 4.0, 3);
    // Validation labels unrelated to the features: accuracy cannot keep improving.
    let v = blobs(60, 6, 3, 4.0, 4);
    let mut rng = ChaCha8Rng::seed_from_u64(9);
    let labels: Vec<u8> = (0..60).map(|_| rng.random_range(0..3u8)).collect();
    let val = Dataset::new(
        v.features().to_owned(),
        labels,
        v.class_names().to_vec(),
        None,
    )
    .unwrap();
    let mut config = small_config(6, 3, 50);
    config.early_stopping = Some(EarlyStopping {
        patience: 2,
        min_delta: 0.0,
    });
    let mut t = Trainer::new(config).unwrap();
    let report = t.fit(&train, Some(&val), &mut ()).unwrap();
    assert_eq!(report.stopped, StopReason::EarlyStopped);
    assert!(report.epochs.len() < 50);
    let best_epoch = report.best_epoch.unwrap();
    // It stopped exactly `patience` epochs after the last improvement.
    assert_eq!(report.epochs.len(), best_epoch + 2);
    let best = report.best_val_accuracy.unwrap();
    assert!(report
        .epochs
        .iter()
        .all(|e| e.val_accuracy.unwrap() <= best));
    let best_net = t.best_network().unwrap();
    let acc = nn_train::trainer::evaluate_network(best_net, &t.config().loss, &val)
        .unwrap()
        .accuracy;
    assert_eq!(acc, best);
    // A finished run stays finished.
    assert_eq!(
        t.fit(&train, Some(&val), &mut ()).unwrap().stopped,
        StopReason::EarlyStopped
    );
}

#[test]
fn huge_learning_rate_diverges_with_a_diagnosis_and_restores_finite_parameters() {
    let train = blobs(200, 6, 3, 4.0, 5);
    let mut config = small_config(6, 3, 5);
    config.optimizer = OptimizerConfig::sgd();
    config.schedule = ScheduleConfig::Constant { lr: 1e4 };
    let initial = Trainer::new(config.clone()).unwrap();
    let mut t = Trainer::new(config).unwrap();
    let report = t.fit(&train, None, &mut ()).unwrap();
    assert_eq!(report.stopped, StopReason::Diverged);
    let diagnosis = report.diagnosis.unwrap();
    assert!(diagnosis.contains("learning rate"), "{diagnosis}");
    let mut finite = true;
    t.network()
        .visit_tensors(|p| finite &= p.value.iter().all(|v| v.is_finite()));
    assert!(finite);
    // Diverged in the first epoch: back to the initial parameters, bit for bit.
    assert_eq!(
        t.network().to_safetensors().unwrap(),
        initial.network().to_safetensors().unwrap()
    );
    assert_eq!(t.epoch(), 0);
}

#[test]
fn divergence_in_a_later_epoch_keeps_the_last_completed_epoch() {
    // Two good epochs, checkpointed; the checkpoint's schedule is then edited to a learning rate
    // far too high, so the third epoch diverges.
    let train = blobs(200, 6, 3, 4.0, 6);
    let mut config = small_config(6, 3, 2);
    config.optimizer = OptimizerConfig::sgd();
    let mut two = Trainer::new(config).unwrap();
    two.fit(&train, None, &mut ()).unwrap();
    let path =
        std::env::temp_dir().join(format!("nn-train-div-{}.safetensors", std::process::id()));
    two.save_checkpoint(&path).unwrap();
    let state_path = nn_train::checkpoint::state_path(&path);
    let text = std::fs::read_to_string(&state_path).unwrap();
    let mut json: serde_json::Value = serde_json::from_str(&text).unwrap();
    json["config"]["epochs"] = 5.into();
    json["config"]["schedule"] = serde_json::json!({"kind": "constant", "lr": 1e4});
    json["schedule"]["config"] = serde_json::json!({"kind": "constant", "lr": 1e4});
    std::fs::write(&state_path, serde_json::to_string(&json).unwrap()).unwrap();
    let mut t = Trainer::resume(&path).unwrap();
    let report = t.fit(&train, None, &mut ()).unwrap();
    assert_eq!(report.stopped, StopReason::Diverged);
    assert!(report.diagnosis.unwrap().contains("end of epoch 2"));
    assert_eq!(t.epoch(), 2);
    assert_eq!(
        t.network().to_safetensors().unwrap(),
        two.network().to_safetensors().unwrap()
    );
    std::fs::remove_file(&path).unwrap();
    std::fs::remove_file(&state_path).unwrap();
}

/// Stops at a given global step.
struct StopAt {
    step: u64,
    steps: Vec<u64>,
    epochs: Vec<usize>,
}

impl Observer for StopAt {
    fn on_step(&mut self, m: &StepMetrics) -> Control {
        self.steps.push(m.step);
        if m.step == self.step {
            Control::Stop
        } else {
            Control::Continue
        }
    }
    fn on_epoch(&mut self, m: &EpochMetrics) -> Control {
        self.epochs.push(m.epoch);
        Control::Continue
    }
}

#[test]
fn observer_sees_every_step_and_epoch_and_stop_interrupts_cleanly() {
    let train = blobs(90, 6, 3, 4.0, 7);
    let config = small_config(6, 3, 3);
    // 90 samples in batches of 20: 5 steps per epoch (the last of 10).
    let mut rec = Recorder::default();
    let mut straight = Trainer::new(config.clone()).unwrap();
    straight.fit(&train, None, &mut rec).unwrap();
    assert_eq!(rec.steps.len(), 15);
    assert_eq!(rec.epochs.len(), 3);
    assert!(rec
        .steps
        .iter()
        .enumerate()
        .all(|(i, s)| s.step == i as u64 + 1));
    assert!(rec
        .steps
        .iter()
        .all(|s| s.batches == 5 && (1..=5).contains(&s.batch)));
    assert_eq!(
        rec.epochs.iter().map(|e| e.steps).collect::<Vec<_>>(),
        vec![5, 10, 15]
    );

    let mut one = Trainer::new(TrainConfig {
        epochs: 1,
        ..config.clone()
    })
    .unwrap();
    one.fit(&train, None, &mut ()).unwrap();

    // Stop in the middle of epoch 2: the trainer keeps epoch 1.
    let mut t = Trainer::new(config).unwrap();
    let mut stop = StopAt {
        step: 7,
        steps: Vec::new(),
        epochs: Vec::new(),
    };
    let report = t.fit(&train, None, &mut stop).unwrap();
    assert_eq!(report.stopped, StopReason::Interrupted);
    assert_eq!(stop.steps, (1..=7).collect::<Vec<_>>());
    assert_eq!(stop.epochs, vec![1]);
    assert_eq!((t.epoch(), t.step()), (1, 5));
    assert_eq!(
        t.network().to_safetensors().unwrap(),
        one.network().to_safetensors().unwrap()
    );
    // Fitting again continues and ends exactly where the uninterrupted run did.
    let report = t.fit(&train, None, &mut ()).unwrap();
    assert_eq!(report.stopped, StopReason::Completed);
    assert_eq!(
        t.network().to_safetensors().unwrap(),
        straight.network().to_safetensors().unwrap()
    );
}

#[test]
fn config_round_trips_through_json_and_toml() {
    let mut config = small_config(6, 3, 4);
    config.early_stopping = Some(EarlyStopping {
        patience: 3,
        min_delta: 0.001,
    });
    config.clip_norm = Some(5.0);
    config.ema_decay = Some(0.99);
    config.l2 = 1e-4;
    let json = config.to_json().unwrap();
    assert_eq!(TrainConfig::from_json(&json).unwrap(), config);
    let toml_text = toml::to_string(&config).unwrap();
    let back: TrainConfig = toml::from_str(&toml_text).unwrap();
    assert_eq!(back, config);
    // A partial TOML file takes defaults for the rest.
    let partial: TrainConfig =
        toml::from_str("epochs = 7\nseed = 3\n[schedule]\nkind = \"constant\"\nlr = 0.01\n")
            .unwrap();
    assert_eq!(
        (partial.epochs, partial.seed, partial.batch_size),
        (7, 3, 128)
    );
    partial.validate().unwrap();
}

#[test]
fn invalid_configs_give_typed_errors() {
    fn check(config: TrainConfig, field: &str) {
        match Trainer::new(config) {
            Err(TrainError::InvalidHyperparameter { name, .. }) => assert_eq!(name, field),
            other => panic!("expected an invalid {field}, got {other:?}"),
        }
    }
    let base = small_config(6, 3, 2);
    check(
        TrainConfig {
            batch_size: 0,
            ..base.clone()
        },
        "batch_size",
    );
    check(
        TrainConfig {
            epochs: 0,
            ..base.clone()
        },
        "epochs",
    );
    check(
        TrainConfig {
            l2: -1e-3,
            ..base.clone()
        },
        "l2",
    );
    check(
        TrainConfig {
            l2: f64::NAN,
            ..base.clone()
        },
        "l2",
    );
    check(
        TrainConfig {
            schedule: ScheduleConfig::Constant { lr: f64::NAN },
            ..base.clone()
        },
        "lr",
    );
    check(
        TrainConfig {
            clip_norm: Some(0.0),
            ..base.clone()
        },
        "clip_norm",
    );
    check(
        TrainConfig {
            ema_decay: Some(1.0),
            ..base.clone()
        },
        "ema_decay",
    );
    check(
        TrainConfig {
            divergence_factor: 1.0,
            ..base.clone()
        },
        "divergence_factor",
    );
    check(
        TrainConfig {
            early_stopping: Some(EarlyStopping {
                patience: 0,
                min_delta: 0.0,
            }),
            ..base.clone()
        },
        "early_stopping.patience",
    );
    assert!(matches!(
        Trainer::new(TrainConfig {
            model: NetworkSpec {
                input_dim: 6,
                layers: vec![]
            },
            ..base.clone()
        }),
        Err(TrainError::InvalidHyperparameter { .. } | TrainError::Core(_))
    ));
}

#[test]
fn bad_data_and_missing_validation_give_typed_errors() {
    let mut t = Trainer::new(small_config(5, 3, 1)).unwrap();
    let wrong_width = blobs(30, 6, 3, 1.0, 8);
    assert!(matches!(
        t.fit(&wrong_width, None, &mut ()),
        Err(TrainError::ShapeMismatch { .. })
    ));
    let too_many_classes = blobs(30, 5, 4, 1.0, 8);
    assert!(matches!(
        t.fit(&too_many_classes, None, &mut ()),
        Err(TrainError::ShapeMismatch { .. })
    ));
    let mut config = small_config(6, 3, 2);
    config.early_stopping = Some(EarlyStopping::default());
    let mut t = Trainer::new(config).unwrap();
    assert!(matches!(
        t.fit(&wrong_width, None, &mut ()),
        Err(TrainError::InvalidHyperparameter {
            name: "early_stopping",
            ..
        })
    ));
}

#[test]
fn ema_and_gap_reading_are_reported() {
    let train = blobs(200, 6, 3, 4.0, 10);
    let val = blobs(60, 6, 3, 4.0, 11);
    let mut config = small_config(6, 3, 3);
    config.ema_decay = Some(0.9);
    config.train_eval_samples = 100;
    let mut t = Trainer::new(config).unwrap();
    let report = t.fit(&train, Some(&val), &mut ()).unwrap();
    let last = report.epochs.last().unwrap();
    let ema = last.ema_val_accuracy.unwrap();
    assert!((0.0..=1.0).contains(&ema) && ema > 0.5);
    let gap = last.gap.as_ref().unwrap();
    assert_eq!(gap.train_accuracy, last.train_eval_accuracy.unwrap());
    assert_eq!(gap.val_accuracy, last.val_accuracy.unwrap());
    assert!(t.ema_network().is_some());
    assert!(last.to_string().contains("EMA val acc"));
}

#[test]
fn public_types_are_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Trainer>();
    assert_send_sync::<TrainConfig>();
    assert_send_sync::<nn_train::trainer::TrainReport>();
    assert_send_sync::<nn_train::monitor::MonitorReport>();
}

#[test]
fn validation_split_is_seeded_and_disjoint() {
    let data = blobs(100, 4, 2, 1.0, 12);
    let (t1, v1) = nn_train::trainer::split_validation(&data, 0.2, 5).unwrap();
    let (t2, v2) = nn_train::trainer::split_validation(&data, 0.2, 5).unwrap();
    let (_, v3) = nn_train::trainer::split_validation(&data, 0.2, 6).unwrap();
    assert_eq!((t1.len(), v1.len()), (80, 20));
    assert_eq!((&t1, &v1), (&t2, &v2));
    assert_ne!(v1, v3);
    assert!(matches!(
        nn_train::trainer::split_validation(&data, 1.5, 5),
        Err(TrainError::Preprocess(_))
    ));
}

#[test]
fn batch_norm_skips_a_last_batch_of_one_sample() {
    // 41 samples in batches of 20: 20 + 20 + 1, and BatchNorm cannot normalise the last one.
    let train = blobs(41, 6, 3, 3.0, 13);
    let options = MlpOptions {
        batch_norm: true,
        ..MlpOptions::default()
    };
    let mut config = small_config(6, 3, 2);
    config.model = NetworkSpec::mlp(6, &[8], 3, &options).unwrap();
    let mut rec = Recorder::default();
    let report = Trainer::new(config.clone())
        .unwrap()
        .fit(&train, None, &mut rec)
        .unwrap();
    assert_eq!(report.stopped, StopReason::Completed);
    assert_eq!(rec.steps.len(), 4);
    assert!(rec.steps.iter().all(|s| s.batches == 2));
    // A single sample cannot be trained with BatchNorm at all: a typed error, not a panic.
    let one = train.head(1).unwrap();
    let mut t = Trainer::new(config).unwrap();
    assert!(matches!(
        t.fit(&one, None, &mut ()),
        Err(TrainError::EmptyInput { .. })
    ));
}

/// Stops at the end of the first epoch.
struct StopAfterFirstEpoch;

impl Observer for StopAfterFirstEpoch {
    fn on_epoch(&mut self, _: &EpochMetrics) -> Control {
        Control::Stop
    }
}

#[test]
fn stop_at_an_epoch_end_keeps_that_epoch() {
    let train = blobs(60, 6, 3, 3.0, 14);
    let mut t = Trainer::new(small_config(6, 3, 3)).unwrap();
    let report = t.fit(&train, None, &mut StopAfterFirstEpoch).unwrap();
    assert_eq!(report.stopped, StopReason::Interrupted);
    assert_eq!((t.epoch(), report.epochs.len(), report.steps), (1, 1, 3));
    assert!(report.to_string().starts_with("Interrupted after 1 epochs"));
    let report = t.fit(&train, None, &mut ()).unwrap();
    assert_eq!(
        (report.stopped, report.epochs.len()),
        (StopReason::Completed, 3)
    );
}
