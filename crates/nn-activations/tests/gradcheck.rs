//! Every backward pass against central finite differences in `f64`.
mod common;

use common::{grad_close, has_kink, numeric_derivative, rel_error, ALL};
use ndarray::{array, Array1, Array2, Axis};
use nn_activations::{
    log_softmax, log_softmax_backward, softmax, softmax_backward, Maxout, PRelu, Saved,
};
use proptest::prelude::*;

const H: f64 = 1e-5;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// The scalar derivative and both array backward passes match the finite difference.
    #[test]
    fn elementwise_gradients_match_finite_differences(x in -3.0f64..3.0) {
        for act in ALL {
            if has_kink(act) && x.abs() < 1e-3 {
                continue;
            }
            let numeric = numeric_derivative(|v| act.apply(v), x, H);
            let err = rel_error(act.derivative(x), numeric);
            prop_assert!(grad_close(act.derivative(x), numeric), "{act:?} at {x}: derivative {} vs numeric {numeric} (rel {err})", act.derivative(x));
            let xs = array![x];
            let dout = array![1.0];
            for kind in [Saved::Input, Saved::Output] {
                if !act.supports(kind) {
                    continue;
                }
                let saved = if kind == Saved::Input { xs.clone() } else { act.forward(xs.view()) };
                let dx = act.backward(dout.view(), saved.view(), kind).map_err(|e| TestCaseError::fail(e.to_string()))?;
                let err = rel_error(dx[0], numeric);
                prop_assert!(grad_close(dx[0], numeric), "{act:?} {kind:?} at {x}: {} vs {numeric} (rel {err})", dx[0]);
            }
        }
    }

    /// PReLU's input and alpha gradients, shared and per channel, for a loss `Σ w ⊙ y`.
    #[test]
    fn prelu_gradients_match_finite_differences(seed in 0u64..1000) {
        let x = Array2::from_shape_vec((3, 2), common::spread(6, -2.0, 2.0, seed)).map_err(|e| TestCaseError::fail(e.to_string()))?;
        if x.iter().any(|v| v.abs() < 1e-3) {
            return Ok(());
        }
        let w = Array2::from_shape_vec((3, 2), common::spread(6, -1.0, 1.0, seed + 1)).map_err(|e| TestCaseError::fail(e.to_string()))?;
        for alpha in [array![0.2], array![0.1, -0.4]] {
            let make = |a: Array1<f64>| if a.len() == 1 { PRelu::shared(a[0]) } else { PRelu::per_channel(a) };
            let prelu = make(alpha.clone()).map_err(|e| TestCaseError::fail(e.to_string()))?;
            let grads = prelu.backward(w.view(), x.view()).map_err(|e| TestCaseError::fail(e.to_string()))?;
            let loss = |p: &PRelu<f64>, x: &Array2<f64>| p.forward(x.view()).map(|y| (y * &w).sum()).unwrap_or(f64::NAN);
            for c in 0..alpha.len() {
                let f = |a: f64| {
                    let mut al = alpha.clone();
                    al[c] = a;
                    make(al).map(|p| loss(&p, &x)).unwrap_or(f64::NAN)
                };
                let num = numeric_derivative(f, alpha[c], H);
                prop_assert!(rel_error(grads.dalpha[c], num) < 1e-7, "dalpha[{c}] {} vs {num}", grads.dalpha[c]);
            }
            for ((i, j), &g) in grads.dx.indexed_iter() {
                let f = |v: f64| {
                    let mut xx = x.clone();
                    xx[[i, j]] = v;
                    loss(&prelu, &xx)
                };
                let num = numeric_derivative(f, x[[i, j]], H);
                prop_assert!(rel_error(g, num) < 1e-7, "dx[{i},{j}] {g} vs {num}");
            }
        }
    }

    /// Maxout routes the gradient to the winner; away from ties it is the exact gradient.
    #[test]
    fn maxout_gradients_match_finite_differences(seed in 0u64..1000) {
        let k = 3;
        let z: Vec<Array1<f64>> = (0..k).map(|j| Array1::from(common::spread(5, -2.0, 2.0, seed * 7 + j))).collect();
        let w = Array1::from(common::spread(5, -1.0, 1.0, seed + 99));
        let maxout = Maxout::new(k as usize).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let views: Vec<_> = z.iter().map(|a| a.view()).collect();
        let (_, cache) = maxout.forward(&views).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let dz = maxout.backward(w.view(), &cache).map_err(|e| TestCaseError::fail(e.to_string()))?;
        for j in 0..k as usize {
            for i in 0..5 {
                let mut sorted: Vec<f64> = z.iter().map(|a| a[i]).collect();
                sorted.sort_by(f64::total_cmp);
                if sorted[2] - sorted[1] < 1e-3 {
                    continue; // a tie: the documented sub-gradient, not a derivative
                }
                let f = |v: f64| {
                    let mut zz = z.clone();
                    zz[j][i] = v;
                    let views: Vec<_> = zz.iter().map(|a| a.view()).collect();
                    maxout.forward(&views).map(|(y, _)| (y * &w).sum()).unwrap_or(f64::NAN)
                };
                let num = numeric_derivative(f, z[j][i], H);
                prop_assert!(rel_error(dz[j][i], num) < 1e-7 || (dz[j][i] == 0.0 && num.abs() < 1e-12));
            }
        }
    }

    /// Softmax and log-softmax backward along either axis.
    #[test]
    fn softmax_gradients_match_finite_differences(seed in 0u64..1000, ax in 0usize..2) {
        let x = Array2::from_shape_vec((3, 4), common::spread(12, -3.0, 3.0, seed)).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let w = Array2::from_shape_vec((3, 4), common::spread(12, -1.0, 1.0, seed + 5)).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let axis = Axis(ax);
        let y = softmax(x.view(), axis).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let l = log_softmax(x.view(), axis).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let dx = softmax_backward(w.view(), y.view(), axis).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let dxl = log_softmax_backward(w.view(), l.view(), axis).map_err(|e| TestCaseError::fail(e.to_string()))?;
        for ((i, j), _) in x.indexed_iter() {
            let at = |v: f64| { let mut xx = x.clone(); xx[[i, j]] = v; xx };
            let num = numeric_derivative(|v| softmax(at(v).view(), axis).map(|y| (y * &w).sum()).unwrap_or(f64::NAN), x[[i, j]], H);
            let numl = numeric_derivative(|v| log_softmax(at(v).view(), axis).map(|y| (y * &w).sum()).unwrap_or(f64::NAN), x[[i, j]], H);
            // An absolute floor for entries that are nearly 0 (a difference of several terms).
            prop_assert!(rel_error(dx[[i, j]], num) < 1e-7 || (dx[[i, j]] - num).abs() < 1e-10, "softmax {} vs {num}", dx[[i, j]]);
            prop_assert!(rel_error(dxl[[i, j]], numl) < 1e-7 || (dxl[[i, j]] - numl).abs() < 1e-10, "log_softmax {} vs {numl}", dxl[[i, j]]);
        }
    }
}

/// At the kinks the derivative is the documented left derivative (PyTorch's choice too).
#[test]
fn kinks_use_the_left_subgradient() {
    use nn_activations::Activation;
    let lambda_alpha = 1.050_700_987_355_480_5 * 1.673_263_242_354_377_3;
    let check = |act: Activation, want: f64| assert_eq!(act.derivative(0.0_f64), want, "{act:?}");
    check(Activation::Relu, 0.0);
    check(Activation::LeakyRelu { slope: 0.01 }, 0.01);
    check(Activation::Elu { alpha: 0.7 }, 0.7);
    assert!((Activation::Selu.derivative(0.0_f64) - lambda_alpha).abs() < 1e-15);
}
