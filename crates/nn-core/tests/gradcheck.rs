//! Gradient checks (central differences, f64) for every layer type and for networks mixing them.

use ndarray::{Array2, Array4};
use nn_activations::Activation;
use nn_core::gradcheck::{check_network, GradcheckConfig, TensorCheck};
use nn_core::{BatchNormConfig, BatchNormLayout, LayerSpec, Loss, Network, NetworkSpec, Targets};
use nn_init::{BiasInit, Init};
use proptest::prelude::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Values in ±[0.1, 2]: away from the kinks at 0 of ReLU, Leaky ReLU and ELU.
fn away_from_zero(rng: &mut ChaCha8Rng, shape: (usize, usize)) -> Array2<f64> {
    Array2::from_shape_fn(shape, |_| {
        let v = rng.random_range(0.1..2.0);
        if rng.random::<bool>() {
            v
        } else {
            -v
        }
    })
}

fn linear(outputs: usize) -> LayerSpec {
    LayerSpec::Linear {
        outputs,
        init: Init::Normal {
            mean: 0.0,
            std: 0.5,
        },
        bias: BiasInit::Constant(0.1),
    }
}

/// Builds `spec`, runs the check with softmax cross-entropy on random labels, and asserts
/// every tensor's relative error is below `bound`. Returns the checks.
fn check(spec: &NetworkSpec, n: usize, seed: u64, reg: f64, bound: f64) -> Vec<TensorCheck> {
    check_h(spec, n, seed, reg, bound, 1e-5)
}

/// As [`check`] with the difference step `h`.
fn check_h(
    spec: &NetworkSpec,
    n: usize,
    seed: u64,
    reg: f64,
    bound: f64,
    h: f64,
) -> Vec<TensorCheck> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut net = Network::<f64>::from_spec(spec, &mut rng).unwrap();
    // Non-trivial parameters everywhere (γ, β, slopes and biases start at constants).
    net.visit_params_mut(|p| {
        let mut v = p.value;
        v.mapv_inplace(|w| w + rng.random_range(-0.3..0.3));
    });
    let x = away_from_zero(&mut rng, (n, spec.input_dim));
    let c = spec.output_dim().unwrap();
    let labels: Vec<usize> = (0..n).map(|_| rng.random_range(0..c)).collect();
    let config = GradcheckConfig {
        reg,
        h,
        seed: seed ^ 0x5eed,
        ..Default::default()
    };
    let checks = check_network(
        &mut net,
        x.view(),
        Targets::Classes(&labels),
        &Loss::default(),
        &config,
    )
    .unwrap();
    for c in &checks {
        // An absolute error under 5e-10 is rounding noise of the difference quotient (~2e-11 per
        // entry); a wrong gradient formula errs by far more on these O(1e-3..1) gradients.
        assert!(c.passes(bound, 5e-10), "{spec:?}: {c:?}");
    }
    checks
}

fn single(input_dim: usize, layer: LayerSpec) -> NetworkSpec {
    NetworkSpec {
        input_dim,
        layers: vec![layer],
    }
}

const ACTIVATIONS: [Activation; 11] = [
    Activation::Identity,
    Activation::Sigmoid,
    Activation::Tanh,
    Activation::Relu,
    Activation::LeakyRelu { slope: 0.1 },
    Activation::Elu { alpha: 1.0 },
    Activation::Gelu,
    Activation::GeluTanh,
    Activation::Silu,
    Activation::Selu,
    Activation::Softplus,
];

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    #[test]
    fn linear_layer(n in 1usize..=6, d in 1usize..=5, h in 1usize..=5, seed in 0u64..1000, reg in 0.0f64..0.5) {
        let checks = check(&single(d, linear(h)), n, seed, reg, 1e-7);
        prop_assert_eq!(checks.len(), 3); // weight, bias, input
    }

    #[test]
    fn activation_layers(n in 1usize..=5, d in 2usize..=5, seed in 0u64..1000) {
        for activation in ACTIVATIONS {
            check(&single(d, LayerSpec::Activation { activation }), n, seed, 0.0, 1e-7);
        }
    }

    #[test]
    fn prelu_layer(n in 1usize..=5, d in 2usize..=5, seed in 0u64..1000, per_feature: bool) {
        let checks = check(&single(d, LayerSpec::PRelu { per_feature, init: 0.25 }), n, seed, 0.0, 1e-7);
        prop_assert_eq!(&checks[0].name, "layers.0.alpha");
    }

    #[test]
    fn maxout_layer(n in 1usize..=5, d in 1usize..=4, h in 1usize..=4, pieces in 1usize..=3, seed in 0u64..1000) {
        let layer = LayerSpec::Maxout { outputs: h, pieces, init: Init::Normal { mean: 0.0, std: 1.0 }, bias: BiasInit::Zeros };
        check(&single(d, layer), n, seed, 0.1, 1e-7);
    }

    #[test]
    fn batch_norm_features(n in 4usize..=8, d in 1usize..=5, seed in 0u64..1000, affine: bool, track: bool) {
        let config = BatchNormConfig { affine, track_running_stats: track, ..Default::default() };
        // With two samples per channel x̂ = ±1 whatever the input, so the input gradient is ~ε:
        // at least four samples keep every gradient well above rounding noise.
        let spec = NetworkSpec { input_dim: d, layers: vec![LayerSpec::BatchNorm { config }, linear(3)] };
        check(&spec, n, seed, 0.0, 1e-7);
    }

    #[test]
    fn batch_norm_images(n in 1usize..=4, c in 1usize..=3, hw in 1usize..=2, seed in 0u64..1000, nchw: bool) {
        let layout = if nchw {
            BatchNormLayout::Nchw { channels: c, height: hw, width: hw + 1 }
        } else {
            BatchNormLayout::Nhwc { height: hw, width: hw + 1, channels: c }
        };
        let d = c * hw * (hw + 1);
        let spec = NetworkSpec {
            input_dim: d,
            layers: vec![LayerSpec::BatchNorm { config: layout.into() }, LayerSpec::Flatten, linear(3)],
        };
        // m = N·H·W values per channel; N ≥ 4 keeps m ≥ 4 (see batch_norm_features).
        check(&spec, n.max(4), seed, 0.0, 1e-7);
    }

    #[test]
    fn dropout_with_fixed_mask(n in 1usize..=5, d in 1usize..=5, seed in 0u64..1000, p in 0.0f64..0.8) {
        let spec = NetworkSpec { input_dim: d, layers: vec![LayerSpec::Dropout { p }, linear(3)] };
        check(&spec, n, seed, 0.0, 1e-7);
    }

    #[test]
    fn mixed_networks(n in 3usize..=6, seed in 0u64..1000) {
        // Smooth activations except ReLU, PReLU and Maxout: a ±h step can still cross a kink
        // somewhere in a whole network, so the bound is looser than for one layer.
        let spec = NetworkSpec {
            input_dim: 4,
            layers: vec![
                linear(6),
                LayerSpec::BatchNorm { config: BatchNormConfig::default() },
                LayerSpec::Activation { activation: Activation::Tanh },
                LayerSpec::Dropout { p: 0.25 },
                LayerSpec::Maxout { outputs: 5, pieces: 2, init: Init::Normal { mean: 0.0, std: 0.5 }, bias: BiasInit::Zeros },
                LayerSpec::PRelu { per_feature: true, init: 0.25 },
                linear(5),
                LayerSpec::Activation { activation: Activation::Relu },
                linear(3),
            ],
        };
        // h = 1e-6 makes crossing a kink ten times less likely than h = 1e-5, at a rounding noise
        // (~2e-10 per entry) still far below the bound.
        check_h(&spec, n, seed, 0.05, 1e-6, 1e-6);
    }
}

#[test]
fn mlp_spec_with_everything() {
    let spec = NetworkSpec::mlp(
        5,
        &[7, 6],
        4,
        &nn_core::MlpOptions {
            activation: Activation::Gelu,
            init: Init::Normal {
                mean: 0.0,
                std: 0.4,
            },
            bias: BiasInit::Zeros,
            batch_norm: true,
            dropout: 0.2,
        },
    )
    .unwrap();
    let checks = check(&spec, 6, 11, 0.01, 1e-7);
    // Two Linear (weight, bias) + two BatchNorm (γ, β) + the last Linear + input.
    assert_eq!(checks.len(), 2 * 2 + 2 * 2 + 2 + 1);
}

#[test]
fn other_losses() {
    let mut rng = ChaCha8Rng::seed_from_u64(4);
    let spec = NetworkSpec {
        input_dim: 3,
        layers: vec![
            linear(4),
            LayerSpec::Activation {
                activation: Activation::Tanh,
            },
            linear(3),
        ],
    };
    let x = away_from_zero(&mut rng, (5, 3));
    let targets = away_from_zero(&mut rng, (5, 3));
    for (loss, t) in [
        (Loss::MeanSquaredError, Targets::Values(targets.view())),
        (
            Loss::SoftmaxCrossEntropy {
                label_smoothing: 0.1,
            },
            Targets::Classes(&[0, 1, 2, 2, 1]),
        ),
        // Hinge: margins at random scores are almost surely not within h of a kink.
        (
            Loss::Hinge { margin: 1.0 },
            Targets::Classes(&[0, 1, 2, 2, 1]),
        ),
    ] {
        let mut net = Network::<f64>::from_spec(&spec, &mut rng).unwrap();
        let checks = check_network(&mut net, x.view(), t, &loss, &Default::default()).unwrap();
        for c in &checks {
            assert!(c.rel_error < 1e-7, "{loss:?}: {c:?}");
        }
    }
}

#[test]
fn image_input_of_rank_four() {
    // An (N, C, H, W) input is flattened row-major, matching the NCHW layout of the first BatchNorm.
    let mut rng = ChaCha8Rng::seed_from_u64(8);
    let layout = BatchNormLayout::Nchw {
        channels: 2,
        height: 2,
        width: 2,
    };
    let spec = NetworkSpec {
        input_dim: 8,
        layers: vec![
            LayerSpec::BatchNorm {
                config: layout.into(),
            },
            LayerSpec::Flatten,
            linear(3),
        ],
    };
    let mut net = Network::<f64>::from_spec(&spec, &mut rng).unwrap();
    let x = Array4::from_shape_fn((3, 2, 2, 2), |(n, c, h, w)| {
        (n * 8 + c * 4 + h * 2 + w) as f64 * 0.37 % 1.3
    });
    let checks = check_network(
        &mut net,
        x.view(),
        Targets::Classes(&[0, 1, 2]),
        &Loss::default(),
        &Default::default(),
    )
    .unwrap();
    assert!(checks.iter().all(|c| c.rel_error < 1e-7), "{checks:?}");
}
