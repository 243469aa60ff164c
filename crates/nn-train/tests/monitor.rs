//! Monitoring: update/weight ratios checked by hand on plain SGD, activation statistics on a
//! network with known dead units, warnings, serde and Display of the reports.

use ndarray::Array2;
use nn_activations::Activation;
use nn_core::{Loss, MlpOptions, Network, NetworkSpec, ParamKind, Targets};
use nn_preprocess::Dataset;
use nn_train::config::TrainConfig;
use nn_train::monitor::{activation_stats, GapReading, GapVerdict, MonitorReport};
use nn_train::observer::Recorder;
use nn_train::optim::OptimizerConfig;
use nn_train::schedule::ScheduleConfig;
use nn_train::trainer::Trainer;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn data(n: usize, d: usize, c: usize, seed: u64) -> Dataset {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let x = Array2::from_shape_fn((n, d), |_| rng.random::<f32>() * 2.0 - 1.0);
    let labels: Vec<u8> = (0..n).map(|i| (i % c) as u8).collect();
    Dataset::new(x, labels, (0..c).map(|k| k.to_string()).collect(), None).unwrap()
}

fn norm(it: impl Iterator<Item = f32>) -> f64 {
    it.map(|v| f64::from(v).powi(2)).sum::<f64>().sqrt()
}

#[test]
fn sgd_update_ratio_is_lr_times_grad_norm_over_weight_norm() {
    let train = data(40, 5, 3, 1);
    let spec = NetworkSpec::mlp(5, &[7], 3, &MlpOptions::default()).unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let net = Network::<f32>::from_spec(&spec, &mut rng).unwrap();
    let lr = 0.1;
    let config = TrainConfig {
        model: spec,
        optimizer: OptimizerConfig::sgd(),
        schedule: ScheduleConfig::Constant { lr },
        epochs: 1,
        batch_size: 40,
        shuffle: false,
        monitor_every: 1,
        monitor_samples: 40,
        train_eval_samples: 0,
        ..TrainConfig::default()
    };
    // The gradient of the one full batch, computed directly with nn-core.
    let mut reference = net.clone();
    let labels: Vec<usize> = train.labels().iter().map(|&l| usize::from(l)).collect();
    let loss = reference
        .forward_backward(
            train.features(),
            Targets::Classes(&labels),
            &Loss::default(),
            0.0,
            &mut rng,
        )
        .unwrap();
    let mut expected = Vec::new();
    reference.visit_tensors(|t| {
        if let Some(g) = t.grad {
            let (w, g) = (norm(t.value.iter().copied()), norm(g.iter().copied()));
            expected.push((t.name.to_string(), t.kind, w, g));
        }
    });

    let mut trainer = Trainer::from_network(config, net).unwrap();
    let mut rec = Recorder::default();
    trainer.fit(&train, None, &mut rec).unwrap();
    assert_eq!(rec.steps.len(), 1);
    assert_eq!(rec.steps[0].data_loss, f64::from(loss.data_loss));
    let report = rec.steps[0].monitor.as_ref().unwrap();
    assert_eq!(report.tensors.len(), expected.len());
    for (t, (name, kind, w, g)) in report.tensors.iter().zip(&expected) {
        assert_eq!(&t.name, name);
        assert_eq!(t.is_weight, *kind == ParamKind::Weight);
        assert!(
            (t.weight_norm - w).abs() <= 1e-6 * w,
            "{name}: |W| {} vs {w}",
            t.weight_norm
        );
        assert!(
            (t.grad_norm - g).abs() <= 1e-6 * g,
            "{name}: |dW| {} vs {g}",
            t.grad_norm
        );
        if *w > 0.0 {
            // Plain SGD: W_after − W_before = −lr·g, so the ratio is lr·‖g‖/‖W‖ (up to the f32
            // rounding of the subtraction).
            let ratio = lr * g / w;
            assert!(
                (t.update_ratio - ratio).abs() <= 1e-3 * ratio,
                "{name}: ratio {} vs {ratio}",
                t.update_ratio
            );
        } else {
            // Biases start at zero: no ratio.
            assert_eq!(t.update_ratio, 0.0);
        }
    }
    // One hidden ReLU layer: one activation report on the 40 monitoring samples.
    assert_eq!(report.activations.len(), 1);
    assert_eq!(report.activations[0].activation, "relu");
    assert_eq!(report.weight_ratios().len(), 2);
}

#[test]
fn dead_relus_are_found_and_warned_about() {
    let spec = NetworkSpec::mlp(4, &[6], 2, &MlpOptions::default()).unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let mut net = Network::<f32>::from_spec(&spec, &mut rng).unwrap();
    // Layer 0: W = 0, b = −1, so every pre-activation is −1 and every ReLU is dead.
    net.visit_params_mut(|p| {
        if p.name.starts_with("layers.0.") {
            let fill = if p.name.ends_with("bias") { -1.0 } else { 0.0 };
            let mut v = p.value;
            v.fill(fill);
        }
    });
    let x = Array2::from_shape_fn((10, 4), |(i, j)| (i as f32 - 4.5) * 0.1 + j as f32);
    let acts = activation_stats(&net, x.view()).unwrap();
    assert_eq!(acts.len(), 1);
    let a = &acts[0];
    assert_eq!((a.layer, a.mean, a.std, a.dead), (1, 0.0, 0.0, 1.0));
    let report = MonitorReport::new(1, 1, 0.1, Vec::new(), acts);
    assert_eq!(report.warnings.len(), 1);
    assert!(
        report.warnings[0].contains("100% dead"),
        "{}",
        report.warnings[0]
    );
    let text = report.to_string();
    assert!(text.contains("layers.1 relu") && text.contains("warning"));
    let json = serde_json::to_string(&report).unwrap();
    assert_eq!(
        serde_json::from_str::<MonitorReport>(&json).unwrap(),
        report
    );
}

#[test]
fn saturated_tanh_is_warned_about_and_the_network_is_left_untouched() {
    let options = MlpOptions {
        activation: Activation::Tanh,
        batch_norm: true,
        ..MlpOptions::default()
    };
    let spec = NetworkSpec::mlp(3, &[5], 2, &options).unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(6);
    let mut net = Network::<f32>::from_spec(&spec, &mut rng).unwrap();
    // BatchNorm's γ = 100 scales every normalised pre-activation far into tanh's flat tails.
    net.visit_params_mut(|p| {
        if p.name.ends_with("gamma") {
            let mut v = p.value;
            v.fill(100.0);
        }
    });
    let x = Array2::from_shape_fn((16, 3), |(i, j)| ((i * 3 + j) as f32 * 0.7).sin());
    let before = net.to_safetensors().unwrap();
    let acts = activation_stats(&net, x.view()).unwrap();
    // The training-mode forward used batch statistics without updating the running ones.
    assert_eq!(net.to_safetensors().unwrap(), before);
    assert_eq!(acts.len(), 1);
    assert_eq!(acts[0].layer, 2);
    assert_eq!(acts[0].activation, "tanh");
    assert!(acts[0].saturated > 0.9, "{}", acts[0].saturated);
    let report = MonitorReport::new(1, 1, 0.1, Vec::new(), acts);
    assert!(report.warnings.iter().any(|w| w.contains("saturated")));
}

#[test]
fn gap_readings_follow_the_lecture() {
    fn check(train: f64, val: f64, verdict: GapVerdict) {
        assert_eq!(
            GapReading::read(train, val).verdict,
            verdict,
            "{train} vs {val}"
        );
    }
    check(1.0, 0.80, GapVerdict::Overfitting);
    check(0.95, 0.899, GapVerdict::Overfitting);
    check(0.60, 0.60, GapVerdict::Underfitting);
    check(0.60, 0.65, GapVerdict::Underfitting);
    check(0.995, 0.99, GapVerdict::Healthy);
    check(0.93, 0.90, GapVerdict::Healthy);
    let r = GapReading::read(1.0, 0.8);
    assert!(r.to_string().contains("regularisation"));
    assert!(GapReading::read(0.6, 0.6).to_string().contains("capacity"));
}
