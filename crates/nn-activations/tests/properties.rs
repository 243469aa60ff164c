//! Invariants over random inputs: ranges, monotonicity, identities, stability at huge inputs,
//! NaN propagation, softmax normalisation, and Maxout reducing to (Leaky) ReLU.
mod common;

use common::ALL;
use ndarray::{Array1, Array2, Axis};
use nn_activations::{softmax, Activation, Maxout, Saved};
use proptest::prelude::*;

/// A finite `f32` from anywhere in the range, including the extremes.
fn any_finite() -> impl Strategy<Value = f32> {
    prop_oneof![
        -10.0f32..10.0,
        -1e30f32..1e30,
        Just(1e30),
        Just(-1e30),
        Just(f32::MAX),
        Just(f32::MIN),
        Just(0.0)
    ]
}

/// Every activation, forward and backward, through the `f32` SIMD path (a contiguous array).
fn f32_outputs(act: Activation, xs: &[f32]) -> (Array1<f32>, Array1<f32>) {
    let x = Array1::from(xs.to_vec());
    let y = act.forward(x.view());
    let dx = act
        .backward(Array1::ones(xs.len()).view(), x.view(), Saved::Input)
        .unwrap_or_else(|e| panic!("{e}"));
    (y, dx)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn no_nan_or_inf_for_finite_inputs(xs in prop::collection::vec(any_finite(), 1..40)) {
        for act in ALL {
            let (y, dx) = f32_outputs(act, &xs);
            for ((&x, &y), &d) in xs.iter().zip(&y).zip(&dx) {
                // Unbounded activations may legitimately reach ±inf only by scaling f32::MAX.
                let bounded = x.abs() < 1e38;
                prop_assert!(!y.is_nan() && (y.is_finite() || !bounded), "{act:?}({x}) = {y}");
                prop_assert!(d.is_finite(), "{act:?}'({x}) = {d}");
            }
            let x64: Vec<f64> = xs.iter().map(|&v| v as f64 * 1e8).collect();
            for &x in &x64 {
                prop_assert!(act.apply(x).is_finite() && act.derivative(x).is_finite(), "{act:?} at {x}");
            }
        }
    }

    #[test]
    fn ranges_hold(xs in prop::collection::vec(any_finite(), 1..40)) {
        let (s, _) = f32_outputs(Activation::Sigmoid, &xs);
        prop_assert!(s.iter().all(|v| (0.0..=1.0).contains(v)));
        let (t, _) = f32_outputs(Activation::Tanh, &xs);
        prop_assert!(t.iter().all(|v| (-1.0..=1.0).contains(v)));
        let (e, _) = f32_outputs(Activation::Elu { alpha: 1.0 }, &xs);
        prop_assert!(e.iter().all(|&v| v >= -1.0));
        let (p, _) = f32_outputs(Activation::Softplus, &xs);
        prop_assert!(p.iter().all(|&v| v >= 0.0));
    }

    #[test]
    fn identity_for_positive_inputs(x in 1e-30f32..1e30) {
        for act in [Activation::Relu, Activation::LeakyRelu { slope: 0.01 }, Activation::Elu { alpha: 1.0 }] {
            prop_assert_eq!(f32_outputs(act, &[x]).0[0], x);
            prop_assert_eq!(act.apply(x as f64), x as f64);
        }
    }

    #[test]
    fn monotone_activations_are_monotone(mut xs in prop::collection::vec(-50.0f32..50.0, 2..60)) {
        xs.sort_by(f32::total_cmp);
        for act in [
            Activation::Sigmoid, Activation::Tanh, Activation::Relu, Activation::LeakyRelu { slope: 0.01 },
            Activation::Elu { alpha: 1.0 }, Activation::Selu, Activation::Softplus,
        ] {
            let (y, _) = f32_outputs(act, &xs);
            prop_assert!(y.windows(2).into_iter().all(|w| w[0] <= w[1]), "{act:?} not monotone on {xs:?}");
        }
    }

    #[test]
    fn f32_kernels_match_the_f64_reference(xs in prop::collection::vec(-30.0f32..30.0, 1..64)) {
        for act in ALL {
            let (y, dx) = f32_outputs(act, &xs);
            for ((&x, &y), &d) in xs.iter().zip(&y).zip(&dx) {
                let (wy, wd) = (act.apply(x as f64), act.derivative(x as f64));
                // Outputs: within 8 ulp (1e-6 relative). Derivatives: the same, plus 3e-7 absolute
                // for those that are a difference of O(1) terms (GELU's Φ(x) + xφ(x) crosses 0).
                // GELU-tanh's σ(2u) is ill-conditioned in the argument: rounding 2u to f32 alone
                // moves it by |2u|·2^-24 relative, so its tolerance grows with |2u|.
                let two_u = 1.6 * (x as f64 + 0.044715 * (x as f64).powi(3));
                let rel = if act == Activation::GeluTanh { 1e-6 * (1.0 + two_u.abs()) } else { 1e-6 };
                prop_assert!((y as f64 - wy).abs() <= rel * wy.abs() + 1e-38, "{act:?}({x}): {y} vs {wy}");
                prop_assert!((d as f64 - wd).abs() <= 1e-6 * wd.abs() + 3e-7, "{act:?}'({x}): {d} vs {wd}");
            }
        }
    }

    #[test]
    fn softmax_rows_sum_to_one(rows in 1usize..6, cols in 1usize..9, seed in 0u64..1000, scale in prop_oneof![Just(1.0), Just(1e3), Just(1e30)]) {
        let x = Array2::from_shape_vec((rows, cols), common::spread(rows * cols, -scale, scale, seed)).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let p = softmax(x.view(), Axis(1)).map_err(|e| TestCaseError::fail(e.to_string()))?;
        for row in p.rows() {
            prop_assert!((row.sum() - 1.0).abs() < 1e-12);
            prop_assert!(row.iter().all(|v| (0.0..=1.0).contains(v)));
        }
    }

    #[test]
    fn maxout_reduces_to_relu_and_leaky_relu(xs in prop::collection::vec(-1e6f64..1e6, 1..30)) {
        let x = Array1::from(xs);
        let maxout = Maxout::new(2).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let zero = Array1::zeros(x.len());
        let (y, _) = maxout.forward(&[x.view(), zero.view()]).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(y, Activation::Relu.forward(x.view()));
        let scaled = &x * 0.01;
        let (y, _) = maxout.forward(&[x.view(), scaled.view()]).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(y, Activation::LeakyRelu { slope: 0.01 }.forward(x.view()));
    }
}

#[test]
fn nan_in_gives_nan_out() {
    let xs = [f32::NAN; 3];
    for act in ALL {
        let (y, dx) = f32_outputs(act, &xs);
        assert!(y.iter().all(|v| v.is_nan()), "{act:?} forward");
        if act != Activation::Identity {
            assert!(dx.iter().all(|v| v.is_nan()), "{act:?} backward");
        }
        assert!(
            act.apply(f64::NAN).is_nan()
                && (act == Activation::Identity || act.derivative(f64::NAN).is_nan())
        );
        if act.supports(Saved::Output) && act != Activation::Identity {
            let d = act.backward(
                Array1::ones(3).view(),
                Array1::from(xs.to_vec()).view(),
                Saved::Output,
            );
            assert!(
                d.is_ok_and(|d| d.iter().all(|v| v.is_nan())),
                "{act:?} backward from output"
            );
        }
    }
    let p = softmax(ndarray::array![[1.0, f64::NAN]].view(), Axis(1));
    assert!(p.is_ok_and(|p| p.iter().all(|v| v.is_nan())));
}

/// Known values, each with its source.
#[test]
fn known_values() {
    let check = |act: Activation, x: f64, want: f64| {
        let got = act.apply(x);
        assert!(
            common::rel_error(got, want) < 1e-14,
            "{act:?}({x}) = {got}, want {want}"
        );
        let got32 = act.forward(ndarray::array![x as f32].view())[0] as f64;
        assert!(
            common::rel_error(got32, want) < 2e-6,
            "f32 {act:?}({x}) = {got32}, want {want}"
        );
    };
    // torch.sigmoid(torch.tensor(1., dtype=torch.float64)); 1 / (1 + e^-1).
    check(Activation::Sigmoid, 1.0, 0.731_058_578_630_004_9);
    // math.tanh(0.5)
    check(Activation::Tanh, 0.5, 0.462_117_157_260_009_8);
    // torch.nn.functional.elu(-1.0) = e^-1 - 1
    check(
        Activation::Elu { alpha: 1.0 },
        -1.0,
        -0.632_120_558_828_557_7,
    );
    // torch.nn.functional.gelu(1.0) = Φ(1) = 0.8413447460685429 (scipy.stats.norm.cdf(1))
    check(Activation::Gelu, 1.0, 0.841_344_746_068_542_9);
    // GELU(-2) = -2·Φ(-2), Φ(-2) = 0.022750131948179195 (scipy)
    check(Activation::Gelu, -2.0, -0.045_500_263_896_358_39);
    // gelu(1.0, approximate="tanh") = 0.5(1 + tanh(√(2/π)·1.044715)), Python's math module
    check(Activation::GeluTanh, 1.0, 0.841_191_990_608_276_8);
    // torch.nn.functional.silu(1.0) = 1 / (1 + e^-1)
    check(Activation::Silu, 1.0, 0.731_058_578_630_004_9);
    // torch.nn.functional.selu(-1.0) = λα(e^-1 - 1)
    check(Activation::Selu, -1.0, -1.111_330_737_812_562_3);
    // torch.nn.functional.softplus(0.0) = ln 2
    check(Activation::Softplus, 0.0, std::f64::consts::LN_2);
    // softplus(-50) = log1p(e^-50) = 1.9287498479639178e-22 (mpmath)
    check(Activation::Softplus, -50.0, 1.928_749_847_963_917_8e-22);
    check(Activation::LeakyRelu { slope: 0.01 }, -2.0, -0.02);
}
