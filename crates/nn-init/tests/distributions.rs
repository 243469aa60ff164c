//! Sample statistics of every initialiser against its formula, bounds, orthogonality, errors.

mod common;

use common::{assert_moments, cases, mean_std, rng};
use nn_activations::Activation;
use nn_init::{Distribution, FanMode, Init, InitError};
use proptest::prelude::*;

const KURT_NORMAL: f64 = 3.0;
const KURT_UNIFORM: f64 = 1.8;

/// Draws a `fan_in × fan_out` f64 matrix (240 000 entries: SE(std) = 0.14 % for a normal).
fn sample(init: Init, fan_in: usize, fan_out: usize, seed: u64) -> Vec<f64> {
    init.weights::<f64, _>(fan_in, fan_out, &mut rng(seed))
        .expect("valid initialiser")
        .into_iter()
        .collect()
}

/// Checks an initialiser's sample mean and std against a target written out by hand here
/// (independently of `Init::std`), and that `Init::std` agrees with the same formula.
fn check(init: Init, fan_in: usize, fan_out: usize, mean: f64, std: f64, kurtosis: f64) {
    let what = format!("{init} ({fan_in} x {fan_out})");
    let values = sample(init, fan_in, fan_out, 11);
    assert_moments(&what, &values, mean, std, kurtosis);
    let formula = init.std(fan_in, fan_out).expect("valid initialiser");
    assert!(
        (formula - std).abs() <= 1e-12 * std.max(1.0),
        "{what}: Init::std {formula} vs {std}"
    );
}

#[test]
fn fixed_scale_initialisers_match_their_parameters() {
    check(Init::small_random(), 600, 400, 0.0, 0.01, KURT_NORMAL);
    check(Init::large_random(), 600, 400, 0.0, 1.0, KURT_NORMAL);
    check(
        Init::Normal {
            mean: -2.0,
            std: 0.5,
        },
        600,
        400,
        -2.0,
        0.5,
        KURT_NORMAL,
    );
    // U[a, b]: mean (a + b) / 2, std (b - a) / √12.
    check(
        Init::Uniform {
            low: 1.0,
            high: 4.0,
        },
        600,
        400,
        2.5,
        3.0 / 12f64.sqrt(),
        KURT_UNIFORM,
    );
}

#[test]
fn variance_scaling_initialisers_match_their_formulas() {
    let (fi, fo) = (600.0f64, 400.0f64);
    // Xavier (notes) and LeCun: Var = 1 / fan_in.
    let xavier = (1.0 / fi).sqrt();
    for d in [Distribution::Normal, Distribution::Uniform] {
        let k = if d == Distribution::Normal {
            KURT_NORMAL
        } else {
            KURT_UNIFORM
        };
        check(Init::Xavier { distribution: d }, 600, 400, 0.0, xavier, k);
        check(Init::Lecun { distribution: d }, 600, 400, 0.0, xavier, k);
        // Glorot: Var = gain² · 2 / (fan_in + fan_out).
        check(
            Init::Glorot {
                distribution: d,
                gain: 1.0,
            },
            600,
            400,
            0.0,
            (2.0 / (fi + fo)).sqrt(),
            k,
        );
        check(
            Init::Glorot {
                distribution: d,
                gain: 5.0 / 3.0,
            },
            600,
            400,
            0.0,
            5.0 / 3.0 * (2.0 / (fi + fo)).sqrt(),
            k,
        );
        // He: Var = gain² / fan, gains from PyTorch's calculate_gain table.
        for (activation, gain2) in [
            (Activation::Relu, 2.0),
            (Activation::LeakyRelu { slope: 0.2 }, 2.0 / 1.04),
            (Activation::Tanh, 25.0 / 9.0),
            (Activation::Selu, 0.5625),
        ] {
            for (mode, fan) in [(FanMode::FanIn, fi), (FanMode::FanOut, fo)] {
                let init = Init::He {
                    distribution: d,
                    mode,
                    activation,
                };
                check(init, 600, 400, 0.0, (gain2 / fan).sqrt(), k);
            }
        }
    }
}

#[test]
fn he_relu_is_the_notes_formula() {
    // The notes: W = randn(fan_in, fan_out) / sqrt(fan_in / 2).
    let values = sample(Init::he(Activation::Relu), 500, 480, 3);
    assert_moments(
        "he relu",
        &values,
        0.0,
        1.0 / (500.0f64 / 2.0).sqrt(),
        KURT_NORMAL,
    );
}

#[test]
fn xavier_and_lecun_give_identical_weights() {
    let a = sample(Init::xavier(), 30, 20, 9);
    let b = sample(Init::lecun_normal(), 30, 20, 9);
    assert_eq!(a, b);
}

#[test]
fn uniform_bounds_are_respected_and_reached() {
    // Glorot uniform (784, 256): bound √(6 / 1040) = 0.075955 (the paper's formula).
    let bound = (6.0f64 / 1040.0).sqrt();
    let values = sample(Init::glorot_uniform(), 784, 256, 5);
    assert!(values.iter().all(|v| v.abs() <= bound));
    // With 200 704 draws, P(no draw in the top 0.1 % of the range) = 0.999^100352 ≈ e^-100.
    let max = values.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    assert!(max > bound * 0.998, "max {max} vs bound {bound}");
}

#[test]
fn truncated_normal_is_truncated_with_the_published_std() {
    let values = sample(Init::truncated_normal(0.5), 600, 400, 2);
    assert!(values.iter().all(|v| v.abs() <= 1.0));
    // N(0, 1) truncated at ±2 has std 0.87962566103423978 (the constant in Keras's
    // VarianceScaling initializer). Its kurtosis is below the normal's 3, so 3 bounds the SE.
    assert_moments(
        "truncated",
        &values,
        0.0,
        0.5 * 0.879_625_661_034_239_8,
        KURT_NORMAL,
    );
    let formula = Init::truncated_normal(0.5).std(1, 1).expect("valid");
    assert!((formula - 0.5 * 0.879_625_661_034_239_8).abs() < 1e-12);
    // A narrow cutoff uses the uniform-proposal sampler: N(0,1) on ±0.5 has std 0.2863
    // (√(1 - 2·0.5·φ(0.5) / (2Φ(0.5) - 1)) with φ(0.5) = 0.352065, Φ(0.5) = 0.691462).
    let narrow = sample(
        Init::TruncatedNormal {
            std: 1.0,
            cutoff: 0.5,
        },
        600,
        400,
        4,
    );
    assert!(narrow.iter().all(|v| v.abs() <= 0.5));
    let expected = (1.0f64 - 2.0 * 0.5 * 0.352_065_3 / (2.0 * 0.691_462_5 - 1.0)).sqrt();
    assert_moments("truncated 0.5", &narrow, 0.0, expected, 1.9);
}

#[test]
fn standard_normal_has_the_normal_shape() {
    // P(|z| <= 1) = 0.682689 for N(0, 1); a binomial fraction of N draws has SE √(p(1-p)/N).
    let values = sample(Init::large_random(), 1000, 500, 8);
    let n = values.len() as f64;
    for (k, p) in [
        (1.0, 0.682_689_49),
        (2.0, 0.954_499_74),
        (3.0, 0.997_300_20),
    ] {
        let frac = values.iter().filter(|v| v.abs() <= k).count() as f64 / n;
        let se = (p * (1.0 - p) / n).sqrt();
        assert!(
            (frac - p).abs() <= common::Z * se,
            "P(|z| <= {k}) = {frac} vs {p}"
        );
    }
}

fn gram(w: &ndarray::Array2<f64>, columns: bool) -> ndarray::Array2<f64> {
    if columns {
        w.t().dot(w)
    } else {
        w.dot(&w.t())
    }
}

#[test]
fn orthogonal_is_orthogonal() {
    for (fi, fo) in [(64, 64), (100, 30), (30, 100), (1, 5)] {
        for gain in [1.0, 5.0 / 3.0] {
            let w = Init::Orthogonal { gain }
                .weights::<f64, _>(fi, fo, &mut rng(1))
                .expect("valid");
            let g = gram(&w, fi >= fo);
            let eye = ndarray::Array2::<f64>::eye(fi.min(fo)) * (gain * gain);
            let err = (&g - &eye).iter().fold(0.0f64, |m, v| m.max(v.abs()));
            assert!(
                err < 1e-12,
                "({fi}, {fo}) gain {gain}: max |WᵀW - g²I| = {err}"
            );
        }
    }
    // A convolution (out, in, kh, kw) is orthogonal as an (out, in·kh·kw) matrix.
    let w = Init::Orthogonal { gain: 1.0 }
        .tensor::<f64, _>(&[8, 2, 3, 3], &mut rng(2))
        .expect("valid");
    let m = w.into_shape_with_order((8, 18)).expect("contiguous");
    let err = (m.dot(&m.t()) - ndarray::Array2::<f64>::eye(8))
        .iter()
        .fold(0.0f64, |a, v| a.max(v.abs()));
    assert!(err < 1e-12);
}

#[test]
fn constant_and_zero_weights_make_every_unit_identical() {
    // The symmetry problem: every column (unit) of the weight matrix is the same.
    for init in [Init::Zeros, Init::Constant { value: 0.3 }] {
        let w = init.weights::<f32, _>(5, 4, &mut rng(0)).expect("valid");
        for col in w.columns() {
            assert_eq!(col, w.column(0));
        }
    }
}

#[test]
fn f32_weights_have_the_right_moments() {
    let w = Init::he(Activation::Relu)
        .weights::<f32, _>(600, 400, &mut rng(12))
        .expect("valid");
    let values: Vec<f64> = w.iter().map(|&v| v as f64).collect();
    assert_moments("he f32", &values, 0.0, (2.0f64 / 600.0).sqrt(), KURT_NORMAL);
}

#[test]
fn invalid_arguments_give_typed_errors() {
    let mut r = rng(0);
    let he = Init::he(Activation::Relu);
    assert!(matches!(
        he.weights::<f64, _>(0, 3, &mut r),
        Err(InitError::ZeroFan { .. })
    ));
    assert!(matches!(
        he.weights::<f64, _>(3, 0, &mut r),
        Err(InitError::ZeroFan { .. })
    ));
    assert!(matches!(
        he.tensor::<f64, _>(&[], &mut r),
        Err(InitError::InvalidShape { .. })
    ));
    assert!(matches!(
        he.tensor::<f64, _>(&[5], &mut r),
        Err(InitError::InvalidShape { .. })
    ));
    assert!(matches!(
        he.tensor::<f64, _>(&[4, 0, 3, 3], &mut r),
        Err(InitError::ZeroFan { .. })
    ));
    assert!(matches!(
        he.weights::<f64, _>(usize::MAX, 2, &mut r),
        Err(InitError::InvalidShape { .. })
    ));
    let bad = [
        Init::Normal {
            mean: 0.0,
            std: -0.1,
        },
        Init::Normal {
            mean: f64::NAN,
            std: 0.1,
        },
        Init::Normal {
            mean: 0.0,
            std: f64::INFINITY,
        },
        Init::Uniform {
            low: 1.0,
            high: 0.0,
        },
        Init::Constant { value: f64::NAN },
        Init::TruncatedNormal {
            std: 1.0,
            cutoff: 0.0,
        },
        Init::Glorot {
            distribution: Distribution::Normal,
            gain: -1.0,
        },
        Init::Orthogonal { gain: f64::NAN },
    ];
    for init in bad {
        assert!(
            matches!(
                init.weights::<f64, _>(3, 3, &mut r),
                Err(InitError::InvalidParameter { .. })
            ),
            "{init:?}"
        );
        assert!(init.validate().is_err());
    }
    let nan_slope = Init::he(Activation::LeakyRelu { slope: f64::NAN });
    assert!(matches!(
        nan_slope.weights::<f64, _>(3, 3, &mut r),
        Err(InitError::Activation(_))
    ));
    // Finite in f64 but not in f32.
    let huge = Init::Normal {
        mean: 0.0,
        std: 1e300,
    };
    assert!(huge.weights::<f64, _>(3, 3, &mut r).is_ok());
    assert!(matches!(
        huge.weights::<f32, _>(3, 3, &mut r),
        Err(InitError::InvalidParameter { .. })
    ));
    assert!(matches!(
        nn_init::BiasInit::Constant(1e300).bias::<f32>(3),
        Err(InitError::InvalidParameter { .. })
    ));
    assert!(matches!(
        nn_init::BiasInit::Zeros.bias::<f32>(0),
        Err(InitError::InvalidShape { .. })
    ));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    #[test]
    fn uniform_initialisers_stay_in_bounds(fi in 1usize..40, fo in 1usize..40, seed in any::<u64>()) {
        let cases = [
            (Init::glorot_uniform(), (6.0 / (fi + fo) as f64).sqrt()),
            (Init::Xavier { distribution: Distribution::Uniform }, (3.0 / fi as f64).sqrt()),
            (Init::He { distribution: Distribution::Uniform, mode: FanMode::FanOut, activation: Activation::Relu },
             (6.0 / fo as f64).sqrt()),
            (Init::truncated_normal(0.3), 0.6),
        ];
        for (init, bound) in cases {
            let w = init.weights::<f32, _>(fi, fo, &mut rng(seed)).expect("valid");
            prop_assert_eq!(w.dim(), (fi, fo));
            prop_assert!(w.iter().all(|v| (*v as f64).abs() <= bound * (1.0 + 1e-6)));
        }
    }

    #[test]
    fn same_seed_same_weights(fi in 1usize..30, fo in 1usize..30, seed in any::<u64>()) {
        for init in [Init::he(Activation::Relu), Init::glorot_uniform(), Init::Orthogonal { gain: 1.0 }] {
            let a = init.weights::<f64, _>(fi, fo, &mut rng(seed)).expect("valid");
            let b = init.weights::<f64, _>(fi, fo, &mut rng(seed)).expect("valid");
            prop_assert_eq!(a.mapv(f64::to_bits), b.mapv(f64::to_bits));
            prop_assert!(a.iter().all(|v| v.is_finite()));
        }
    }

    #[test]
    fn tensor_of_a_dense_shape_equals_weights(fi in 1usize..30, fo in 1usize..30, seed in any::<u64>()) {
        let init = Init::he(Activation::Tanh);
        let w = init.weights::<f64, _>(fi, fo, &mut rng(seed)).expect("valid");
        let t = init.tensor::<f64, _>(&[fi, fo], &mut rng(seed)).expect("valid");
        prop_assert_eq!(w.into_dyn(), t);
    }
}

#[test]
fn sample_std_helper_is_the_population_std() {
    // [1, 2, 3, 4]: mean 2.5, population variance 1.25.
    let (m, s) = mean_std(&[1.0, 2.0, 3.0, 4.0]);
    assert_eq!(m, 2.5);
    assert!((s - 1.25f64.sqrt()).abs() < 1e-15);
}
