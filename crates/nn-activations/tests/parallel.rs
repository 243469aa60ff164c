//! The parallel path equals the serial one bit for bit, any layout gives the reference result,
//! and bad input gives typed errors.
mod common;

use common::ALL;
use ndarray::{s, Array1, Array2, Array3, ShapeBuilder};
use nn_activations::{Activation, ActivationError, Maxout, PRelu, Saved, PARALLEL_THRESHOLD};

fn pool(threads: usize) -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap_or_else(|e| panic!("{e}"))
}

fn data(n: usize, seed: u64) -> Array1<f32> {
    common::spread(n, -8.0, 8.0, seed)
        .into_iter()
        .map(|v| v as f32)
        .collect()
}

/// Forward and backward (every supported kind), as bit patterns.
fn run_all(act: Activation, x: &Array1<f32>, dout: &Array1<f32>) -> Vec<Vec<u32>> {
    let bits = |a: &Array1<f32>| a.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
    let y = act.forward(x.view());
    let mut out = vec![bits(&y)];
    for (kind, saved) in [(Saved::Input, x), (Saved::Output, &y)] {
        if act.supports(kind) {
            let dx = act
                .backward(dout.view(), saved.view(), kind)
                .unwrap_or_else(|e| panic!("{e}"));
            out.push(bits(&dx));
            let mut g = dout.clone();
            act.backward_inplace(g.view_mut(), saved.view(), kind)
                .unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(bits(&g), bits(&dx), "{act:?}: in-place backward differs");
        }
    }
    let mut z = x.clone();
    act.forward_inplace(z.view_mut());
    assert_eq!(bits(&z), out[0], "{act:?}: in-place forward differs");
    out
}

#[test]
fn parallel_equals_serial_for_any_thread_count() {
    let n = 3 * PARALLEL_THRESHOLD + 123;
    let (x, dout) = (data(n, 1), data(n, 2));
    for act in ALL {
        let one = pool(1).install(|| run_all(act, &x, &dout));
        let three = pool(3).install(|| run_all(act, &x, &dout));
        assert_eq!(one, three, "{act:?}: 1 vs 3 threads");
        // Below the threshold every piece takes the serial path.
        let piece = 1000;
        let mut serial: Vec<Vec<u32>> = vec![Vec::new(); one.len()];
        for start in (0..n).step_by(piece) {
            let end = (start + piece).min(n);
            let parts = run_all(
                act,
                &x.slice(s![start..end]).to_owned(),
                &dout.slice(s![start..end]).to_owned(),
            );
            for (acc, p) in serial.iter_mut().zip(parts) {
                acc.extend(p);
            }
        }
        assert_eq!(one, serial, "{act:?}: parallel vs serial pieces");
    }
}

#[test]
fn every_layout_matches_the_scalar_reference() {
    let base = Array3::from_shape_vec((4, 5, 6), common::spread(120, -5.0, 5.0, 3))
        .unwrap_or_else(|e| panic!("{e}"));
    let fortran = {
        let mut f = Array3::zeros((4, 5, 6).f());
        f.assign(&base);
        f
    };
    for act in ALL {
        let want = base.mapv(|v| act.apply(v));
        let want_d = base.mapv(|v| act.derivative(v));
        // C order, Fortran order, a transposed view, and a strided slice.
        assert_eq!(act.forward(base.view()), want);
        assert_eq!(act.forward(fortran.view()), want);
        assert_eq!(
            act.forward(base.view().reversed_axes()),
            want.view().reversed_axes()
        );
        let sl = base.slice(s![..;2, 1.., ..;3]);
        assert_eq!(act.forward(sl), want.slice(s![..;2, 1.., ..;3]));
        // Mixed layouts between input and output buffer.
        let mut out = Array3::zeros((4, 5, 6).f());
        act.forward_into(base.view(), out.view_mut())
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(out, want);
        let ones = Array3::ones((4, 5, 6));
        let dx = act
            .backward(ones.view(), fortran.view(), Saved::Input)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(dx, want_d);
    }
}

#[test]
fn bad_input_gives_typed_errors() {
    let x = Array2::<f64>::zeros((2, 3));
    let wrong = Array2::<f64>::zeros((3, 2));
    let r = Activation::Relu.backward(x.view(), wrong.view(), Saved::Input);
    assert!(matches!(r, Err(ActivationError::ShapeMismatch { .. })));
    let mut out = Array2::<f64>::zeros((3, 2));
    assert!(matches!(
        Activation::Tanh.forward_into(x.view(), out.view_mut()),
        Err(ActivationError::ShapeMismatch { .. })
    ));
    assert!(matches!(
        Activation::Gelu.backward(x.view(), x.view(), Saved::Output),
        Err(ActivationError::NeedsInput { activation: "gelu" })
    ));
    assert!(matches!(
        Activation::LeakyRelu {
            slope: f64::INFINITY
        }
        .backward(x.view(), x.view(), Saved::Input),
        Err(ActivationError::InvalidParameter { name: "slope", .. })
    ));
    assert!(matches!(
        PRelu::per_channel(Array1::from(vec![0.1, 0.2]))
            .and_then(|p| p.forward(Array2::<f64>::zeros((4, 3)).view())),
        Err(ActivationError::ShapeMismatch { .. })
    ));
    assert!(matches!(
        PRelu::shared(f64::NAN),
        Err(ActivationError::InvalidParameter { .. })
    ));
    assert!(matches!(
        Maxout::new(0),
        Err(ActivationError::InvalidParameter { .. })
    ));
    let m = Maxout::new(2).unwrap_or_else(|e| panic!("{e}"));
    assert!(matches!(
        m.forward(&[x.view()]),
        Err(ActivationError::InvalidParameter { .. })
    ));
    assert!(matches!(
        m.forward(&[x.view(), wrong.view()]),
        Err(ActivationError::ShapeMismatch { .. })
    ));
    assert!(matches!(
        nn_activations::softmax(x.view(), ndarray::Axis(2)),
        Err(ActivationError::InvalidAxis {
            axis: 2,
            ndim: 2,
            ..
        })
    ));
    assert!(matches!(
        nn_activations::diagnostics::dead_fraction(
            Activation::Relu,
            Array2::<f32>::zeros((0, 3)).view()
        ),
        Err(ActivationError::EmptyInput { .. })
    ));
}

#[test]
fn public_types_are_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<Activation>();
    check::<Saved>();
    check::<PRelu<f32>>();
    check::<Maxout>();
    check::<ActivationError>();
}

#[cfg(feature = "serde")]
#[test]
fn activation_round_trips_through_serde() {
    for act in ALL {
        let json = serde_json::to_string(&act).unwrap_or_else(|e| panic!("{e}"));
        let back: Activation = serde_json::from_str(&json).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(back, act);
    }
    let json = serde_json::to_string(&Activation::LeakyRelu { slope: 0.2 })
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(json, r#"{"kind":"leaky_relu","slope":0.2}"#);
}
