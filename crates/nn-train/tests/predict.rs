//! Ensembles, test-time augmentation, parameter averaging and evaluation reports with trained
//! networks on small synthetic data.

use ndarray::Array2;
use nn_core::{Network, NetworkSpec};
use nn_preprocess::{Dataset, ImageShape, Layout};
use nn_train::eval::{standard_augmentations, Augmentation};
use nn_train::optim::OptimizerConfig;
use nn_train::predict::{
    ensemble_proba, evaluate, evaluate_ensemble, evaluate_tta, predict_proba, tta_proba, EvalReport,
};
use nn_train::schedule::ScheduleConfig;
use nn_train::{TrainConfig, TrainError, Trainer};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn normal(rng: &mut ChaCha8Rng) -> f32 {
    let (u, v): (f64, f64) = (rng.random(), rng.random());
    ((-2.0 * (1.0 - u).ln()).sqrt() * (std::f64::consts::TAU * v).cos()) as f32
}

/// Five overlapping Gaussian blobs in 8-D (centres N(0, 1), unit noise): no model is perfect.
fn hard_blobs(n: usize, seed: u64) -> Dataset {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let centres = Array2::from_shape_fn((5, 8), |_| normal(&mut rng));
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let y: Vec<u8> = (0..n).map(|_| rng.random_range(0..5u8)).collect();
    let x = Array2::from_shape_fn((n, 8), |(i, j)| {
        centres[[y[i] as usize, j]] + normal(&mut rng)
    });
    Dataset::new(x, y, (0..5).map(|c| format!("c{c}")).collect(), None).unwrap()
}

fn small_config(seed: u64) -> TrainConfig {
    TrainConfig {
        model: NetworkSpec::mlp(8, &[32], 5, &Default::default()).unwrap(),
        optimizer: OptimizerConfig::momentum(0.9),
        schedule: ScheduleConfig::Constant { lr: 0.05 },
        epochs: 2,
        batch_size: 32,
        seed,
        monitor_every: 0,
        train_eval_samples: 0,
        ..TrainConfig::default()
    }
}

fn trained(seed: u64, train: &Dataset) -> Network<f32> {
    let mut t = Trainer::new(small_config(seed)).unwrap();
    t.fit(train, None, &mut ()).unwrap();
    t.into_network()
}

#[test]
fn ensemble_is_at_least_as_accurate_as_the_mean_member() {
    let (train, test) = (hard_blobs(600, 1), hard_blobs(1000, 2));
    let nets: Vec<Network<f32>> = [11, 22, 33].iter().map(|&s| trained(s, &train)).collect();
    let members: Vec<f64> = nets
        .iter()
        .map(|n| evaluate(n, &test).unwrap().accuracy)
        .collect();
    let mean = members.iter().sum::<f64>() / 3.0;
    let refs: Vec<&Network<f32>> = nets.iter().collect();
    let ens = evaluate_ensemble(&refs, &test).unwrap();
    assert!(
        ens.accuracy >= mean,
        "ensemble {} vs members {members:?}",
        ens.accuracy
    );
    // Better than chance (20%), imperfect (the blobs overlap).
    assert!(mean > 0.5 && mean < 0.99, "{members:?}");
    // The ensemble's probabilities are the members' mean, row sums 1.
    let p = ensemble_proba(&refs, test.features()).unwrap();
    let p0 = predict_proba(&nets[0], test.features()).unwrap();
    let p1 = predict_proba(&nets[1], test.features()).unwrap();
    let p2 = predict_proba(&nets[2], test.features()).unwrap();
    assert!((p[[5, 3]] - (p0[[5, 3]] + p1[[5, 3]] + p2[[5, 3]]) / 3.0).abs() < 1e-6);
    assert!(p.rows().into_iter().all(|r| (r.sum() - 1.0).abs() < 1e-5));
    // One model alone is that model.
    assert_eq!(
        evaluate_ensemble(&refs[..1], &test).unwrap(),
        evaluate(&nets[0], &test).unwrap()
    );
}

#[test]
fn ema_network_is_evaluated_separately() {
    let (train, test) = (hard_blobs(600, 3), hard_blobs(500, 4));
    let config = TrainConfig {
        ema_decay: Some(0.9),
        ..small_config(5)
    };
    let mut t = Trainer::new(config).unwrap();
    t.fit(&train, None, &mut ()).unwrap();
    let ema = t.ema_network().unwrap();
    let (raw, avg) = (
        evaluate(t.network(), &test).unwrap(),
        evaluate(&ema, &test).unwrap(),
    );
    // Different parameters, both trained: comparable accuracies well above chance.
    assert_ne!(raw.loss, avg.loss);
    assert!(
        avg.accuracy > 0.5 && (avg.accuracy - raw.accuracy).abs() < 0.1,
        "{raw}\n{avg}"
    );
}

/// `n` random 1×4×4 images that are mirror-symmetric left to right, labelled by brightness.
fn symmetric_images(n: usize) -> (Array2<f32>, Vec<usize>) {
    let mut rng = ChaCha8Rng::seed_from_u64(9);
    let mut x = Array2::zeros((n, 16));
    for i in 0..n {
        for h in 0..4 {
            for w in 0..2 {
                let v: f32 = rng.random();
                x[[i, h * 4 + w]] = v;
                x[[i, h * 4 + 3 - w]] = v;
            }
        }
    }
    let y = (0..n).map(|i| usize::from(x.row(i).sum() > 8.0)).collect();
    (x, y)
}

#[test]
fn tta_with_flips_of_symmetric_images_equals_plain_prediction() {
    let shape = ImageShape::new(1, 4, 4, Layout::Nchw).unwrap();
    let (x, _) = symmetric_images(32);
    let net = Network::<f32>::from_spec(
        &NetworkSpec::mlp(16, &[12], 2, &Default::default()).unwrap(),
        &mut ChaCha8Rng::seed_from_u64(1),
    )
    .unwrap();
    let plain = predict_proba(&net, x.view()).unwrap();
    let flips = [Augmentation::Identity, Augmentation::HorizontalFlip];
    // Mirror-symmetric images are their own flip, and (p + p)/2 = p exactly.
    assert_eq!(tta_proba(&net, x.view(), &shape, &flips).unwrap(), plain);
    // Shifts change the input: the average differs, but stays a probability distribution.
    let shifted = tta_proba(&net, x.view(), &shape, &standard_augmentations(true, 1)).unwrap();
    assert_ne!(shifted, plain);
    assert!(shifted
        .rows()
        .into_iter()
        .all(|r| (r.sum() - 1.0).abs() < 1e-5));
}

#[test]
fn tta_evaluation_on_an_image_data_set() {
    let shape = ImageShape::new(1, 4, 4, Layout::Nchw).unwrap();
    let (x, y) = symmetric_images(300);
    let labels: Vec<u8> = y.iter().map(|&c| c as u8).collect();
    let data = Dataset::new(x, labels, vec!["dark".into(), "bright".into()], Some(shape)).unwrap();
    let mut t = Trainer::new(TrainConfig {
        model: NetworkSpec::mlp(16, &[16], 2, &Default::default()).unwrap(),
        epochs: 5,
        ..small_config(3)
    })
    .unwrap();
    t.fit(&data, None, &mut ()).unwrap();
    let plain = evaluate(t.network(), &data).unwrap();
    let tta = evaluate_tta(t.network(), &data, &standard_augmentations(true, 0)).unwrap();
    // Flip-only TTA of symmetric images is exactly plain prediction.
    assert_eq!(tta, plain);
    assert!(plain.accuracy > 0.8, "{plain}");
    assert!(plain.to_string().contains("0 = dark, 1 = bright"));
    let json = serde_json::to_string(&plain).unwrap();
    assert_eq!(serde_json::from_str::<EvalReport>(&json).unwrap(), plain);
    // A data set without an image shape cannot be augmented.
    let flat = hard_blobs(10, 1);
    let net8 = trained(1, &flat);
    assert!(matches!(
        evaluate_tta(&net8, &flat, &[Augmentation::Identity]),
        Err(TrainError::InvalidHyperparameter { .. })
    ));
}

#[test]
fn mismatches_are_typed_errors() {
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let a = Network::<f32>::from_spec(
        &NetworkSpec::mlp(8, &[4], 5, &Default::default()).unwrap(),
        &mut rng,
    )
    .unwrap();
    let b = Network::<f32>::from_spec(
        &NetworkSpec::mlp(8, &[4], 3, &Default::default()).unwrap(),
        &mut rng,
    )
    .unwrap();
    let x = Array2::<f32>::zeros((2, 8));
    assert!(matches!(
        ensemble_proba(&[&a, &b], x.view()),
        Err(TrainError::ShapeMismatch { expected, got, .. }) if expected == [5] && got == [3]
    ));
    assert!(matches!(
        ensemble_proba(&[], x.view()),
        Err(TrainError::EmptyInput { .. })
    ));
    let wide = Array2::<f32>::zeros((2, 9));
    assert!(matches!(
        predict_proba(&a, wide.view()),
        Err(TrainError::ShapeMismatch { .. })
    ));
    let shape = ImageShape::new(1, 3, 3, Layout::Nchw).unwrap();
    assert!(matches!(
        tta_proba(&a, x.view(), &shape, &[Augmentation::HorizontalFlip]),
        Err(TrainError::ShapeMismatch { .. })
    ));
    assert!(matches!(
        tta_proba(&a, x.view(), &shape, &[]),
        Err(TrainError::EmptyInput { .. })
    ));
}

#[test]
fn mnist_ensemble_beats_the_mean_member() {
    // Three 784 → 32 → 10 MLPs, seeds 1..=3, one epoch on 2000 images of data/mnist-small, tested
    // on its 2000 test images.
    let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../data/mnist-small");
    let (train, test) = nn_preprocess::load_idx_dir(&root, nn_preprocess::IdxSet::Mnist).unwrap();
    let train = train.head(2000).unwrap();
    let nets: Vec<Network<f32>> = (1..=3)
        .map(|seed| {
            let mut t = Trainer::new(TrainConfig {
                model: NetworkSpec::mlp(784, &[32], 10, &Default::default()).unwrap(),
                optimizer: OptimizerConfig::default(),
                schedule: ScheduleConfig::Constant { lr: 1e-3 },
                epochs: 1,
                batch_size: 64,
                seed,
                monitor_every: 0,
                train_eval_samples: 0,
                ..TrainConfig::default()
            })
            .unwrap();
            t.fit(&train, None, &mut ()).unwrap();
            t.into_network()
        })
        .collect();
    let members: Vec<f64> = nets
        .iter()
        .map(|n| evaluate(n, &test).unwrap().accuracy)
        .collect();
    let refs: Vec<&Network<f32>> = nets.iter().collect();
    let ens = evaluate_ensemble(&refs, &test).unwrap();
    let mean = members.iter().sum::<f64>() / 3.0;
    assert!(
        ens.accuracy >= mean,
        "ensemble {} vs members {members:?}",
        ens.accuracy
    );
    assert!(mean > 0.5, "{members:?}"); // 32 steps: far from converged, far above chance (0.1)
    assert_eq!(ens.samples, 2000);
    assert_eq!(ens.confusion.total(), 2000);
}
