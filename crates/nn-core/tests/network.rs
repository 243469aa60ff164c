//! Networks: BatchNorm train/eval and running statistics by hand, dropout, save/load, errors.

use ndarray::{array, Array2, Axis};
use nn_activations::Activation;
use nn_core::{
    BatchNormConfig, BatchNormLayout, CoreError, LayerKind, LayerSpec, Loss, MlpOptions, Mode,
    Network, NetworkSpec, ParamKind, Targets,
};
use nn_init::{BiasInit, Init};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

fn rng(seed: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(seed)
}

fn bn_only(d: usize, config: BatchNormConfig) -> Network<f64> {
    let spec = NetworkSpec {
        input_dim: d,
        layers: vec![LayerSpec::BatchNorm { config }],
    };
    Network::from_spec(&spec, &mut rng(0)).unwrap()
}

fn close(a: &Array2<f64>, b: &Array2<f64>, tol: f64) -> bool {
    a.shape() == b.shape() && a.iter().zip(b).all(|(x, y)| (x - y).abs() < tol)
}

#[test]
fn batch_norm_train_and_eval_by_hand() {
    let mut net = bn_only(1, BatchNormConfig::default());
    let x = array![[1.0], [2.0], [3.0], [4.0]];
    // Batch mean 2.5, biased variance ((1.5² + 0.5²)·2)/4 = 1.25 (Ioffe & Szegedy, Alg. 1).
    let y = net.forward_train(x.view(), &mut rng(1)).unwrap().to_owned();
    let s = (1.25f64 + 1e-5).sqrt();
    assert!(close(
        &y,
        &array![[-1.5 / s], [-0.5 / s], [0.5 / s], [1.5 / s]],
        1e-12
    ));
    // Running statistics (PyTorch convention, momentum 0.1): mean 0.9·0 + 0.1·2.5 = 0.25;
    // variance 0.9·1 + 0.1·(1.25·4/3) = 1.0666…, the unbiased batch variance being 5/3.
    let LayerKind::BatchNorm(bn) = &net.layers()[0] else {
        panic!("not a batch norm")
    };
    assert!((bn.running_mean().unwrap()[0] - 0.25).abs() < 1e-15);
    assert!((bn.running_var().unwrap()[0] - (0.9 + 0.1 * 5.0 / 3.0)).abs() < 1e-15);
    // Evaluation uses the running statistics: (x − 0.25)/√(1.0666… + ε).
    let rv = 0.9 + 0.1 * 5.0 / 3.0;
    let expected = x.mapv(|v| (v - 0.25) / (rv + 1e-5f64).sqrt());
    let eval = net.predict(x.view()).unwrap();
    assert!(close(&eval, &expected, 1e-12));
    assert!(close(
        &net.forward_eval(x.view()).unwrap().to_owned(),
        &expected,
        1e-12
    ));
}

#[test]
fn batch_norm_without_running_stats_uses_batch_statistics_in_eval() {
    let config = BatchNormConfig {
        track_running_stats: false,
        affine: false,
        ..Default::default()
    };
    let mut net = bn_only(2, config);
    assert_eq!(net.num_params(), 0);
    assert_eq!(net.tensor_names().count(), 0);
    let x = array![[1.0, 10.0], [3.0, 30.0]];
    let train = net.forward_train(x.view(), &mut rng(1)).unwrap().to_owned();
    assert_eq!(net.predict(x.view()).unwrap(), train);
    // Two values per column: x̂ = ±1/√(1 + ε/σ²).
    assert!((train[[0, 0]] + 1.0 / (1.0 + 1e-5f64).sqrt()).abs() < 1e-12);
}

#[test]
fn batch_norm_channels_nchw_and_nhwc_agree() {
    // N = 2, C = 2, H = 1, W = 2. Channel 0 holds {1, 2, 5, 6}: mean 3.5, biased var 4.25;
    // channel 1 holds {3, 4, 7, 8}: mean 5.5, var 4.25.
    let nchw = array![[1.0, 2.0, 3.0, 4.0], [5.0, 6.0, 7.0, 8.0]];
    let mut a = bn_only(
        4,
        BatchNormLayout::Nchw {
            channels: 2,
            height: 1,
            width: 2,
        }
        .into(),
    );
    let ya = a
        .forward_train(nchw.view(), &mut rng(0))
        .unwrap()
        .to_owned();
    let s = (4.25f64 + 1e-5).sqrt();
    let expected = array![
        [-2.5 / s, -1.5 / s, -2.5 / s, -1.5 / s],
        [1.5 / s, 2.5 / s, 1.5 / s, 2.5 / s]
    ];
    assert!(close(&ya, &expected, 1e-12));
    // The same data channel-last: row n is (w0: c0 c1, w1: c0 c1).
    let nhwc = array![[1.0, 3.0, 2.0, 4.0], [5.0, 7.0, 6.0, 8.0]];
    let mut b = bn_only(
        4,
        BatchNormLayout::Nhwc {
            height: 1,
            width: 2,
            channels: 2,
        }
        .into(),
    );
    let yb = b
        .forward_train(nhwc.view(), &mut rng(0))
        .unwrap()
        .to_owned();
    let back = array![
        [yb[[0, 0]], yb[[0, 2]], yb[[0, 1]], yb[[0, 3]]],
        [yb[[1, 0]], yb[[1, 2]], yb[[1, 1]], yb[[1, 3]]]
    ];
    assert!(close(&back, &expected, 1e-12));
    // Running mean after one step: 0.1·(3.5, 5.5).
    let LayerKind::BatchNorm(bn) = &b.layers()[0] else {
        panic!("not a batch norm")
    };
    let rm = bn.running_mean().unwrap();
    assert!((rm[0] - 0.35).abs() < 1e-15 && (rm[1] - 0.55).abs() < 1e-15);
}

#[test]
fn dropout_train_and_eval() {
    let spec = NetworkSpec {
        input_dim: 200,
        layers: vec![LayerSpec::Dropout { p: 0.25 }],
    };
    let mut net = Network::<f64>::from_spec(&spec, &mut rng(0)).unwrap();
    let x = Array2::from_elem((50, 200), 1.0);
    assert_eq!(net.predict(x.view()).unwrap(), x);
    let y = net.forward_train(x.view(), &mut rng(5)).unwrap().to_owned();
    // Survivors are scaled by 1/(1 − p); the kept fraction is near 0.75 (10 000 draws: σ ≈ 0.0043).
    assert!(y
        .iter()
        .all(|&v| v == 0.0 || (v - 1.0 / 0.75).abs() < 1e-15));
    let kept = y.iter().filter(|&&v| v != 0.0).count() as f64 / 10_000.0;
    assert!((kept - 0.75).abs() < 0.03, "{kept}");
    // The same seed gives the same mask.
    let y2 = net.forward_train(x.view(), &mut rng(5)).unwrap().to_owned();
    assert_eq!(y, y2);
}

fn trained_net<F: ndarray::NdFloat>() -> Network<F> {
    let opts = MlpOptions {
        batch_norm: true,
        dropout: 0.1,
        ..Default::default()
    };
    let mut spec = NetworkSpec::mlp(6, &[5, 4], 3, &opts).unwrap();
    spec.layers.push(LayerSpec::PRelu {
        per_feature: true,
        init: 0.25,
    });
    spec.layers.push(LayerSpec::Maxout {
        outputs: 2,
        pieces: 3,
        init: Init::xavier(),
        bias: BiasInit::Constant(0.5),
    });
    let mut r = rng(9);
    let mut net = Network::<F>::from_spec(&spec, &mut r).unwrap();
    let x = Array2::from_shape_fn((7, 6), |(i, j)| {
        F::from((i * 6 + j) as f64 * 0.1 - 2.0).unwrap()
    });
    net.forward_backward(
        x.view(),
        Targets::Classes(&[0, 1, 1, 0, 1, 0, 0]),
        &Loss::default(),
        F::from(1e-3).unwrap(),
        &mut r,
    )
    .unwrap();
    // Change the parameters so the round trip is not of initial values only.
    net.visit_params_mut(|p| {
        let mut v = p.value;
        v.zip_mut_with(&p.grad, |w, &g| *w -= g);
    });
    net
}

#[test]
fn forward_layers_matches_predict_and_forward_train_and_leaves_the_network_untouched() {
    // Linear, BatchNorm, ReLU, Dropout, …, Linear, PReLU, Maxout: every kind of layer.
    let net = trained_net::<f64>();
    let before = net.to_safetensors().unwrap();
    let x = Array2::from_shape_fn((5, 6), |(i, j)| ((i * 6 + j) as f64 * 0.37).sin());
    // Evaluation: each layer's input is the previous layer's output, and the last output is
    // exactly `predict`'s scores.
    let mut outs: Vec<Array2<f64>> = Vec::new();
    net.forward_layers(
        x.view(),
        Mode::Eval,
        &mut rng(3),
        |i, layer, input, output| {
            assert_eq!(layer, &net.layers()[i]);
            let want_input = if i == 0 { x.view() } else { outs[i - 1].view() };
            assert_eq!(input, want_input, "input of layer {i}");
            outs.push(output.to_owned());
        },
    )
    .unwrap();
    assert_eq!(outs.len(), net.layers().len());
    let scores = net.predict(x.view()).unwrap();
    assert_eq!(outs[outs.len() - 1], scores);
    // Training: bit for bit what `forward_train` computes with the same rng (batch statistics,
    // the same dropout masks)…
    let mut train_scores = Array2::zeros((0, 0));
    net.forward_layers(x.view(), Mode::Train, &mut rng(4), |_, _, _, output| {
        train_scores = output.to_owned();
    })
    .unwrap();
    let mut copy = net.clone();
    let want = copy
        .forward_train(x.view(), &mut rng(4))
        .unwrap()
        .to_owned();
    assert_eq!(train_scores, want);
    assert_ne!(
        train_scores, scores,
        "training mode must differ from evaluation here"
    );
    // …without updating the running statistics, which `forward_train` does.
    assert_eq!(net.to_safetensors().unwrap(), before);
    assert_ne!(copy.to_safetensors().unwrap(), before);
    // Bad input is a typed error, before `f` is called.
    let mut calls = 0;
    let wide = Array2::<f64>::zeros((5, 7));
    let err = net.forward_layers(wide.view(), Mode::Eval, &mut rng(0), |_, _, _, _| {
        calls += 1
    });
    assert!(
        matches!(err, Err(CoreError::ShapeMismatch { .. })),
        "{err:?}"
    );
    let empty = Array2::<f64>::zeros((0, 6));
    let err = net.forward_layers(empty.view(), Mode::Eval, &mut rng(0), |_, _, _, _| {
        calls += 1
    });
    assert!(matches!(err, Err(CoreError::EmptyInput { .. })), "{err:?}");
    assert_eq!(calls, 0);
    // One sample has no batch statistics: BatchNorm refuses it in training mode only.
    let one = x.slice(ndarray::s![..1, ..]);
    let err = net.forward_layers(one, Mode::Train, &mut rng(0), |_, _, _, _| {});
    assert!(
        matches!(err, Err(CoreError::InvalidHyperparameter { .. })),
        "{err:?}"
    );
    net.forward_layers(one, Mode::Eval, &mut rng(0), |_, _, _, _| {})
        .unwrap();
}

fn tmp_path(name: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("nn-core-test-{}-{name}", std::process::id()))
}

#[test]
fn save_load_round_trip_is_bit_exact() {
    fn round_trip<F: ndarray::NdFloat>(name: &str) {
        let net = trained_net::<F>();
        let path = tmp_path(name);
        net.save(&path).unwrap();
        let back = Network::<F>::load(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        assert_eq!(back.spec(), net.spec());
        let mut a = Vec::new();
        net.visit_tensors(|t| a.push((t.name.to_string(), t.kind, t.value.to_owned())));
        let mut b = Vec::new();
        back.visit_tensors(|t| b.push((t.name.to_string(), t.kind, t.value.to_owned())));
        assert_eq!(a.len(), b.len());
        for ((na, ka, va), (nb, kb, vb)) in a.iter().zip(&b) {
            assert_eq!((na, ka), (nb, kb));
            // Bit-exact: compare the bit patterns, not the values.
            let bits = |v: &ndarray::ArrayD<F>| {
                v.iter()
                    .map(|x| x.to_f64().unwrap().to_bits())
                    .collect::<Vec<_>>()
            };
            assert_eq!(bits(va), bits(vb), "{na}");
        }
        assert!(a
            .iter()
            .any(|(n, k, _)| n == "layers.1.running_var" && *k == ParamKind::Buffer));
        let x = Array2::from_shape_fn((3, 6), |(i, j)| F::from(i as f64 - j as f64).unwrap());
        assert_eq!(
            net.predict(x.view()).unwrap(),
            back.predict(x.view()).unwrap()
        );
    }
    round_trip::<f32>("f32.safetensors");
    round_trip::<f64>("f64.safetensors");
}

#[test]
fn names_follow_pytorch_sequential() {
    let net = trained_net::<f64>();
    let names: Vec<_> = net.tensor_names().map(|(n, _)| n.to_string()).collect();
    assert_eq!(
        &names[..6],
        [
            "layers.0.weight",
            "layers.0.bias",
            "layers.1.gamma",
            "layers.1.beta",
            "layers.1.running_mean",
            "layers.1.running_var"
        ]
    );
    assert!(names.contains(&"layers.9.alpha".to_string()));
    assert!(names.contains(&"layers.10.weight".to_string()));
}

#[test]
fn corrupted_or_mismatched_files_are_errors() {
    let net = trained_net::<f32>();
    let bytes = net.to_safetensors().unwrap();
    // Truncated.
    for cut in [0, 7, 100, bytes.len() - 1] {
        assert!(
            matches!(
                Network::<f32>::from_safetensors(&bytes[..cut]),
                Err(CoreError::Format(_))
            ),
            "cut {cut}"
        );
    }
    // Wrong dtype: an f32 file read as f64.
    assert!(matches!(
        Network::<f64>::from_safetensors(&bytes),
        Err(CoreError::ModelMismatch { tensor, .. }) if tensor == "layers.0.weight"
    ));
    // A tensor of the wrong shape (the spec says 6 inputs, the file's weight has 5 rows).
    let mut tensors = Vec::new();
    net.visit_tensors(|t| {
        let mut v = t.value.to_owned();
        if t.name == "layers.0.weight" {
            v = v.slice_axis(Axis(0), ndarray::Slice::from(0..5)).to_owned();
        }
        tensors.push((t.name.to_string(), v));
    });
    let data: Vec<(String, Vec<usize>, Vec<u8>)> = tensors
        .iter()
        .map(|(n, v)| {
            (
                n.clone(),
                v.shape().to_vec(),
                v.iter().flat_map(|x| x.to_le_bytes()).collect(),
            )
        })
        .collect();
    let views: Vec<_> = data
        .iter()
        .map(|(n, s, b)| {
            (
                n.clone(),
                safetensors::tensor::TensorView::new(safetensors::Dtype::F32, s.clone(), b)
                    .unwrap(),
            )
        })
        .collect();
    let (_, meta) = safetensors::SafeTensors::read_metadata(&bytes).unwrap();
    let bad = safetensors::serialize(views, meta.metadata()).unwrap();
    assert!(matches!(
        Network::<f32>::from_safetensors(&bad),
        Err(CoreError::ModelMismatch { tensor, .. }) if tensor == "layers.0.weight"
    ));
    // No metadata at all.
    let plain = safetensors::serialize(
        Vec::<(String, safetensors::tensor::TensorView<'_>)>::new(),
        &None,
    )
    .unwrap();
    assert!(matches!(
        Network::<f32>::from_safetensors(&plain),
        Err(CoreError::ModelMismatch { .. })
    ));
    // load_expecting rejects a file saved for another spec.
    let path = tmp_path("expect.safetensors");
    net.save(&path).unwrap();
    let other = NetworkSpec::mlp(6, &[5], 3, &Default::default()).unwrap();
    assert!(matches!(
        Network::<f32>::load_expecting(&path, &other),
        Err(CoreError::ModelMismatch { .. })
    ));
    assert!(Network::<f32>::load_expecting(&path, net.spec()).is_ok());
    std::fs::remove_file(&path).unwrap();
    // A missing file is an i/o error.
    assert!(matches!(Network::<f32>::load(&path), Err(CoreError::Io(_))));
}

#[test]
fn bad_inputs_are_typed_errors() {
    let spec = NetworkSpec::mlp(4, &[3], 2, &Default::default()).unwrap();
    let mut net = Network::<f64>::from_spec(&spec, &mut rng(0)).unwrap();
    assert!(matches!(
        net.backward(Array2::zeros((2, 2)).view()),
        Err(CoreError::BackwardBeforeForward)
    ));
    assert!(matches!(
        net.forward_train(Array2::zeros((2, 5)).view(), &mut rng(0)),
        Err(CoreError::ShapeMismatch { .. })
    ));
    assert!(matches!(
        net.predict(Array2::zeros((0, 4)).view()),
        Err(CoreError::EmptyInput { .. })
    ));
    net.forward_train(Array2::zeros((2, 4)).view(), &mut rng(0))
        .unwrap();
    assert!(matches!(
        net.backward(Array2::zeros((3, 2)).view()),
        Err(CoreError::ShapeMismatch { .. })
    ));
    let r = net.forward_backward(
        Array2::zeros((2, 4)).view(),
        Targets::Classes(&[0, 2]),
        &Loss::default(),
        0.0,
        &mut rng(0),
    );
    assert!(matches!(
        r,
        Err(CoreError::LabelOutOfRange {
            index: 1,
            label: 2,
            classes: 2
        })
    ));
    // Specs.
    for (bad, field) in [
        (
            NetworkSpec::mlp(
                4,
                &[3],
                2,
                &MlpOptions {
                    dropout: 1.0,
                    ..Default::default()
                },
            ),
            "dropout.p",
        ),
        (
            NetworkSpec::mlp(4, &[0], 2, &Default::default()),
            "linear.outputs",
        ),
        (
            NetworkSpec::mlp(0, &[3], 2, &Default::default()),
            "input_dim",
        ),
    ] {
        assert!(matches!(bad, Err(CoreError::InvalidHyperparameter { name, .. }) if name == field));
    }
    let bn = LayerSpec::BatchNorm {
        config: BatchNormLayout::Nchw {
            channels: 3,
            height: 2,
            width: 2,
        }
        .into(),
    };
    let spec = NetworkSpec {
        input_dim: 10,
        layers: vec![bn],
    };
    assert!(matches!(
        spec.validate(),
        Err(CoreError::ShapeMismatch { .. })
    ));
    let act = LayerSpec::Activation {
        activation: Activation::LeakyRelu { slope: f64::NAN },
    };
    assert!(matches!(
        NetworkSpec {
            input_dim: 2,
            layers: vec![act]
        }
        .validate(),
        Err(CoreError::Activation(_))
    ));
    // BatchNorm cannot train on one value per channel.
    let mut bn = bn_only(3, BatchNormConfig::default());
    assert!(matches!(
        bn.forward_train(Array2::zeros((1, 3)).view(), &mut rng(0)),
        Err(CoreError::InvalidHyperparameter { .. })
    ));
}

#[test]
fn l2_is_reported_apart_and_only_on_weights() {
    let opts = MlpOptions {
        batch_norm: true,
        ..Default::default()
    };
    let spec = NetworkSpec::mlp(3, &[4], 2, &opts).unwrap();
    let mut net = Network::<f64>::from_spec(&spec, &mut rng(2)).unwrap();
    let mut sum_sq = 0.0;
    net.visit_tensors(|t| {
        if t.name.ends_with(".weight") {
            sum_sq += t.value.iter().map(|w| w * w).sum::<f64>();
        }
    });
    let x = Array2::from_shape_fn((4, 3), |(i, j)| (i as f64) - (j as f64));
    let a = net
        .forward_backward(
            x.view(),
            Targets::Classes(&[0, 1, 0, 1]),
            &Loss::default(),
            0.0,
            &mut rng(0),
        )
        .unwrap();
    let b = net
        .forward_backward(
            x.view(),
            Targets::Classes(&[0, 1, 0, 1]),
            &Loss::default(),
            0.3,
            &mut rng(0),
        )
        .unwrap();
    assert_eq!(a.data_loss, b.data_loss);
    assert_eq!(a.reg_loss, 0.0);
    assert!((b.reg_loss - 0.5 * 0.3 * sum_sq).abs() < 1e-12);
    assert!((b.total() - (b.data_loss + b.reg_loss)).abs() == 0.0);
}

#[test]
fn public_types_are_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Network<f32>>();
    assert_send_sync::<Network<f64>>();
    assert_send_sync::<NetworkSpec>();
    assert_send_sync::<CoreError>();
}
