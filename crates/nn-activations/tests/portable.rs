//! The portable (no FMA) kernels, forced by `NN_ACTIVATIONS_SIMD=portable` before the first
//! call in this test binary, against the `f64` reference.
mod common;

use ndarray::Array1;
use nn_activations::{simd_level, Saved, SimdLevel};

#[test]
fn portable_kernels_match_the_f64_reference() {
    // This binary has a single test, so nothing has chosen the level yet.
    std::env::set_var("NN_ACTIVATIONS_SIMD", "portable");
    assert_eq!(simd_level(), SimdLevel::Portable);
    let xs: Vec<f32> = common::spread(20_000, -30.0, 30.0, 7)
        .into_iter()
        .map(|v| v as f32)
        .collect();
    let x = Array1::from(xs.clone());
    for act in common::ALL {
        let y = act.forward(x.view());
        let dx = act
            .backward(Array1::ones(xs.len()).view(), x.view(), Saved::Input)
            .unwrap_or_else(|e| panic!("{e}"));
        for ((&x, &y), &d) in xs.iter().zip(&y).zip(&dx) {
            let (wy, wd) = (act.apply(x as f64), act.derivative(x as f64));
            // Without FMA the split of x² is lost, so the far tails of GELU are only accurate to
            // about |x|²·2^-24 relative; elsewhere a few ulp.
            let rel = 1e-6
                * (1.0
                    + (x as f64).powi(2)
                        * if matches!(act, nn_activations::Activation::GeluTanh) {
                            0.2 * (x as f64).abs()
                        } else {
                            1.0
                        });
            assert!(
                (y as f64 - wy).abs() <= rel * wy.abs() + 1e-38,
                "{act:?}({x}): {y} vs {wy}"
            );
            assert!(
                (d as f64 - wd).abs() <= rel * wd.abs() + 3e-7,
                "{act:?}'({x}): {d} vs {wd}"
            );
        }
    }
}
