//! The babysitting sanity checks on small synthetic problems: a healthy MLP passes all four, and
//! each deliberately broken setup fails the check it should.

use ndarray::Array2;
use nn_core::{LayerSpec, NetworkSpec};
use nn_preprocess::Dataset;
use nn_train::sanity::{run_sanity, CheckKind, SanityConfig, SanityReport};
use nn_train::{TrainConfig, TrainError};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// A standard normal draw (Box–Muller).
fn normal(rng: &mut ChaCha8Rng) -> f32 {
    let (u, v): (f64, f64) = (rng.random(), rng.random());
    ((-2.0 * (1.0 - u).ln()).sqrt() * (std::f64::consts::TAU * v).cos()) as f32
}

/// `n` samples of `classes` Gaussian blobs in `d` dimensions (centres N(0, 2²), unit noise).
fn blobs(n: usize, d: usize, classes: usize, seed: u64) -> Dataset {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let centres = Array2::from_shape_fn((classes, d), |_| 2.0 * normal(&mut rng));
    let y: Vec<u8> = (0..n).map(|_| rng.random_range(0..classes) as u8).collect();
    let x = Array2::from_shape_fn((n, d), |(i, j)| {
        centres[[y[i] as usize, j]] + normal(&mut rng)
    });
    Dataset::new(x, y, (0..classes).map(|c| c.to_string()).collect(), None).unwrap()
}

/// Sets every Linear layer's initialiser to N(0, std²).
fn with_normal_init(mut spec: NetworkSpec, std: f64) -> NetworkSpec {
    let init =
        serde_json::from_value(serde_json::json!({"kind": "normal", "mean": 0.0, "std": std}))
            .unwrap();
    for layer in &mut spec.layers {
        if let LayerSpec::Linear { init: i, .. } = layer {
            *i = init;
        }
    }
    spec
}

fn config(spec: NetworkSpec) -> TrainConfig {
    TrainConfig {
        model: spec,
        ..TrainConfig::default()
    }
}

fn run(train: &TrainConfig, data: &Dataset, sanity: &SanityConfig) -> SanityReport {
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    run_sanity(train, data, sanity, &mut rng).unwrap()
}

fn passed(r: &SanityReport, kind: CheckKind) -> bool {
    r.get(kind).unwrap().passed
}

#[test]
fn healthy_mlp_passes_all_four() {
    let data = blobs(200, 10, 5, 1);
    let spec = NetworkSpec::mlp(10, &[32], 5, &Default::default()).unwrap();
    let r = run(
        &config(with_normal_init(spec, 0.01)),
        &data,
        &SanityConfig::default(),
    );
    assert!(r.all_passed(), "{r}");
    // Small weights: the loss is ln 5 to within the tolerance, and within 1% in fact.
    let initial = r.get(CheckKind::InitialLoss).unwrap();
    assert!(
        (initial.numbers["loss"] - 5f64.ln()).abs() < 0.01 * 5f64.ln(),
        "{r}"
    );
    let grad = r.get(CheckKind::GradientCheck).unwrap();
    assert!(grad.numbers["max_rel_error"] < 1e-6, "{r}");
    assert_eq!(
        r.get(CheckKind::OverfitSubset).unwrap().numbers["train_accuracy"],
        1.0
    );
    // Display: a header and one line per check.
    let text = r.to_string();
    assert_eq!(text.lines().count(), 5, "{text}");
    assert!(text.lines().skip(1).all(|l| l.starts_with("[PASS]")));
    // Serde round trip.
    let back: SanityReport = serde_json::from_str(&serde_json::to_string(&r).unwrap()).unwrap();
    assert_eq!(back, r);
}

#[test]
fn batch_norm_and_dropout_network_passes() {
    // The default He initialisation with BatchNorm and dropout: σ ≈ 1 scores stay within 25% of ln C.
    let data = blobs(120, 12, 10, 2);
    let options = nn_core::MlpOptions {
        batch_norm: true,
        dropout: 0.1,
        ..Default::default()
    };
    let spec = NetworkSpec::mlp(12, &[24], 10, &options).unwrap();
    let r = run(&config(spec), &data, &SanityConfig::default());
    assert!(r.all_passed(), "{r}");
}

#[test]
fn huge_init_fails_the_initial_loss_check_only() {
    let data = blobs(200, 10, 5, 3);
    let spec = NetworkSpec::mlp(10, &[32], 5, &Default::default()).unwrap();
    let r = run(
        &config(with_normal_init(spec, 3.0)),
        &data,
        &SanityConfig::default(),
    );
    assert!(!passed(&r, CheckKind::InitialLoss), "{r}");
    assert!(passed(&r, CheckKind::RegularisationRaisesLoss), "{r}");
    assert!(passed(&r, CheckKind::GradientCheck), "{r}");
    let c = r.get(CheckKind::InitialLoss).unwrap();
    assert!(
        c.numbers["loss"] > 2.0 * 5f64.ln() && c.numbers["score_std"] > 5.0,
        "{r}"
    );
    assert!(c.detail.contains("too large"), "{}", c.detail);
}

#[test]
fn zero_weights_fail_the_regularisation_check() {
    // All-zero weights: the L2 term is 0 however large λ is (and the loss is exactly ln C).
    let data = blobs(60, 4, 3, 4);
    let spec = NetworkSpec::mlp(4, &[8], 3, &Default::default()).unwrap();
    let r = run(
        &config(with_normal_init(spec, 0.0)),
        &data,
        &SanityConfig::default(),
    );
    assert!(!passed(&r, CheckKind::RegularisationRaisesLoss), "{r}");
    assert!(passed(&r, CheckKind::InitialLoss), "{r}");
    // ln 3 up to f32 rounding of the log-sum-exp.
    assert!((r.get(CheckKind::InitialLoss).unwrap().numbers["loss"] - 3f64.ln()).abs() < 1e-6);
}

#[test]
fn linear_model_cannot_overfit_xor() {
    // XOR in 2-D: four clusters, opposite corners share a class. No linear classifier gets all
    // 20 samples right, however long it trains; an MLP does.
    let x = Array2::from_shape_fn((20, 2), |(i, j)| {
        let corner = i % 4;
        let bit = if j == 0 { corner & 1 } else { corner >> 1 };
        (if bit == 1 { 1.0 } else { -1.0 }) + 0.05 * ((i / 4) as f32 - 2.0)
    });
    let y: Vec<u8> = (0..20)
        .map(|i| (((i % 4) & 1) ^ ((i % 4) >> 1)) as u8)
        .collect();
    let data = Dataset::new(x, y, vec!["0".into(), "1".into()], None).unwrap();
    let linear = NetworkSpec::mlp(2, &[], 2, &Default::default()).unwrap();
    let r = run(
        &config(with_normal_init(linear, 0.01)),
        &data,
        &SanityConfig::default(),
    );
    let c = r.get(CheckKind::OverfitSubset).unwrap();
    assert!(!c.passed && c.numbers["train_accuracy"] <= 0.75, "{r}");
    assert_eq!(c.numbers["steps"], 300.0);
    let mlp = NetworkSpec::mlp(2, &[16], 2, &Default::default()).unwrap();
    let r = run(
        &config(with_normal_init(mlp, 0.5)),
        &data,
        &SanityConfig::default(),
    );
    assert!(passed(&r, CheckKind::OverfitSubset), "{r}");
}

#[test]
fn too_few_steps_fail_the_overfit_check_deterministically() {
    let data = blobs(100, 10, 5, 5);
    let spec = NetworkSpec::mlp(10, &[32], 5, &Default::default()).unwrap();
    let train = config(with_normal_init(spec, 0.01));
    let sanity = SanityConfig {
        overfit_steps: 1,
        overfit_lr: 1e-5,
        ..Default::default()
    };
    let a = run(&train, &data, &sanity);
    assert!(!passed(&a, CheckKind::OverfitSubset), "{a}");
    // Same seed, same report.
    assert_eq!(run(&train, &data, &sanity), a);
}

#[test]
fn bad_inputs_are_typed_errors() {
    let data = blobs(30, 4, 3, 6);
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let wrong_width = config(NetworkSpec::mlp(5, &[8], 3, &Default::default()).unwrap());
    assert!(matches!(
        run_sanity(&wrong_width, &data, &SanityConfig::default(), &mut rng),
        Err(TrainError::ShapeMismatch { .. })
    ));
    let mse = TrainConfig {
        loss: nn_core::Loss::MeanSquaredError,
        ..config(NetworkSpec::mlp(4, &[8], 3, &Default::default()).unwrap())
    };
    assert!(matches!(
        run_sanity(&mse, &data, &SanityConfig::default(), &mut rng),
        Err(TrainError::InvalidHyperparameter { name: "loss", .. })
    ));
    let bad = SanityConfig {
        gradcheck_samples: 0,
        ..Default::default()
    };
    let ok = config(NetworkSpec::mlp(4, &[8], 3, &Default::default()).unwrap());
    assert!(matches!(
        run_sanity(&ok, &data, &bad, &mut rng),
        Err(TrainError::InvalidHyperparameter { .. })
    ));
}

#[test]
fn default_config_passes_on_the_shipped_mnist_subset() {
    // The default TrainConfig (784 → 256 → 10, BatchNorm, ReLU, He) on the first 500 images of
    // data/mnist-small: σ ≈ 1 scores keep the loss within 25% of ln 10.
    let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../data/mnist-small");
    let (train, _) = nn_preprocess::load_idx_dir(&root, nn_preprocess::IdxSet::Mnist).unwrap();
    let data = train.head(500).unwrap();
    let r = run(&TrainConfig::default(), &data, &SanityConfig::default());
    assert!(r.all_passed(), "{r}");
    let initial = r.get(CheckKind::InitialLoss).unwrap();
    assert!(initial.numbers["loss"] > 10f64.ln(), "{r}");
}

#[test]
fn a_coarse_difference_step_fails_the_gradient_check_only() {
    // h = 0.5 makes the central difference itself wrong (its error grows like h², and ReLU kinks
    // fall inside the step): the check must notice and say which tensor is worst.
    let data = blobs(100, 6, 3, 7);
    let spec = NetworkSpec::mlp(6, &[16], 3, &Default::default()).unwrap();
    let coarse = SanityConfig {
        gradcheck_h: 0.5,
        ..Default::default()
    };
    let r = run(&config(with_normal_init(spec, 0.3)), &data, &coarse);
    let c = r.get(CheckKind::GradientCheck).unwrap();
    assert!(!c.passed && c.numbers["max_rel_error"] > 1e-6, "{r}");
    assert!(
        c.detail.contains("above") && c.detail.contains("layers."),
        "{}",
        c.detail
    );
    assert!(
        passed(&r, CheckKind::InitialLoss) && passed(&r, CheckKind::OverfitSubset),
        "{r}"
    );
}
