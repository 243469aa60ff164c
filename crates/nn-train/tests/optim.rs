//! Integration tests of the optimisers: convergence on convex quadratics, parallel == serial, checkpoint
//! round trips, and the thread-safety of the public types.

use ndarray::{Array1, ArrayView1};
use nn_train::optim::{
    AdagradConfig, AdamConfig, AdamWConfig, Centering, Momentum, Optimizer, OptimizerConfig,
    RmsPropConfig, SgdConfig, PARALLEL_MIN_LEN,
};
use nn_train::schedule::{Schedule, ScheduleConfig};

/// f(w) = ½ Σ a_i (w_i − c_i)² with a_i spread over [0.5, 5] and c_i over [−2, 2] (condition number 10).
struct Quadratic {
    a: Array1<f64>,
    c: Array1<f64>,
}

impl Quadratic {
    fn new(d: usize) -> Self {
        let t = |i: usize| i as f64 / (d - 1) as f64;
        Self {
            a: Array1::from_iter((0..d).map(|i| 0.5 + 4.5 * t(i))),
            c: Array1::from_iter((0..d).map(|i| -2.0 + 4.0 * t((i * 7) % d))),
        }
    }

    fn grad(&self, w: ArrayView1<'_, f64>) -> Array1<f64> {
        &self.a * &(&w - &self.c)
    }
}

/// Runs `steps` steps from w = 0 with the schedule's learning rate; returns the final w.
fn minimise(cfg: OptimizerConfig, schedule: &Schedule, q: &Quadratic, steps: u64) -> Array1<f64> {
    let mut opt = Optimizer::<f64>::new(cfg).unwrap();
    let mut w = Array1::zeros(q.a.len());
    for t in 0..steps {
        let g = q.grad(w.view());
        opt.step(schedule.lr_at(t), "w", w.view_mut(), g.view())
            .unwrap();
    }
    w
}

fn max_abs_diff(a: &Array1<f64>, b: &Array1<f64>) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max)
}

#[test]
fn every_optimiser_drives_a_convex_quadratic_to_its_minimum() {
    let q = Quadratic::new(10);
    let constant = |lr: f64| ScheduleConfig::Constant { lr }.build().unwrap();
    // Adaptive methods take steps of size ≈ lr whatever the gradient, so they need a decaying learning
    // rate to settle; cosine annealing to 0 provides it.
    let cosine = |lr: f64, period: u64| {
        ScheduleConfig::Cosine {
            lr,
            min_lr: 0.0,
            period,
            restart_mult: None,
        }
        .build()
        .unwrap()
    };
    let cases: Vec<(&str, OptimizerConfig, Schedule, u64, f64)> = vec![
        ("sgd", OptimizerConfig::sgd(), constant(0.3), 300, 1e-9),
        (
            "momentum",
            OptimizerConfig::momentum(0.9),
            constant(0.05),
            600,
            1e-9,
        ),
        (
            "nesterov",
            OptimizerConfig::nesterov(0.9),
            constant(0.05),
            600,
            1e-9,
        ),
        (
            "momentum with dampening",
            OptimizerConfig::Sgd(SgdConfig {
                momentum: Momentum::Classic {
                    momentum: 0.5,
                    dampening: 0.5,
                },
                weight_decay: 0.0,
            }),
            constant(0.2),
            600,
            1e-9,
        ),
        (
            "adagrad",
            OptimizerConfig::Adagrad(AdagradConfig::default()),
            constant(1.0),
            3000,
            1e-6,
        ),
        (
            "rmsprop",
            OptimizerConfig::RmsProp(RmsPropConfig::default()),
            cosine(0.05, 3000),
            3000,
            1e-3,
        ),
        (
            "centered rmsprop with momentum",
            OptimizerConfig::RmsProp(RmsPropConfig {
                momentum: 0.5,
                centering: Centering::Centered,
                ..Default::default()
            }),
            cosine(0.02, 3000),
            3000,
            1e-3,
        ),
        (
            "adam",
            OptimizerConfig::Adam(AdamConfig::default()),
            cosine(0.1, 3000),
            3000,
            1e-3,
        ),
        (
            "adamw without decay",
            OptimizerConfig::AdamW(AdamWConfig {
                weight_decay: 0.0,
                ..Default::default()
            }),
            cosine(0.1, 3000),
            3000,
            1e-3,
        ),
    ];
    for (name, cfg, schedule, steps, tol) in cases {
        let w = minimise(cfg, &schedule, &q, steps);
        let err = max_abs_diff(&w, &q.c);
        assert!(err < tol, "{name}: max |w − c| = {err:e} ≥ {tol:e}");
    }
}

#[test]
fn l2_weight_decay_moves_the_minimum_to_the_regularised_one() {
    // With L2 decay λ the minimiser of ½Σ a(w − c)² + ½λ‖w‖² is w_i = a_i c_i / (a_i + λ).
    let q = Quadratic::new(10);
    let lambda = 0.5;
    let target = Array1::from_iter(q.a.iter().zip(&q.c).map(|(a, c)| a * c / (a + lambda)));
    let sgd = OptimizerConfig::Sgd(SgdConfig {
        momentum: Momentum::None,
        weight_decay: lambda,
    });
    let w = minimise(
        sgd,
        &ScheduleConfig::Constant { lr: 0.3 }.build().unwrap(),
        &q,
        400,
    );
    assert!(max_abs_diff(&w, &target) < 1e-9);
    let adam = OptimizerConfig::Adam(AdamConfig {
        weight_decay: lambda,
        ..Default::default()
    });
    let cos = ScheduleConfig::Cosine {
        lr: 0.1,
        min_lr: 0.0,
        period: 3000,
        restart_mult: None,
    };
    let w = minimise(adam, &cos.build().unwrap(), &q, 3000);
    assert!(max_abs_diff(&w, &target) < 1e-3);
}

fn all_configs() -> Vec<OptimizerConfig> {
    vec![
        OptimizerConfig::Sgd(SgdConfig {
            momentum: Momentum::None,
            weight_decay: 0.01,
        }),
        OptimizerConfig::momentum(0.9),
        OptimizerConfig::nesterov(0.8),
        OptimizerConfig::Adagrad(AdagradConfig {
            lr_decay: 0.1,
            weight_decay: 0.01,
            initial_accumulator_value: 0.1,
            eps: 1e-10,
        }),
        OptimizerConfig::RmsProp(RmsPropConfig {
            momentum: 0.9,
            centering: Centering::Centered,
            weight_decay: 0.01,
            ..Default::default()
        }),
        OptimizerConfig::RmsProp(RmsPropConfig::default()),
        OptimizerConfig::Adam(AdamConfig::default()),
        OptimizerConfig::AdamW(AdamWConfig::default()),
    ]
}

/// Deterministic, varied f32 values (a tiny LCG, independent of any RNG crate).
fn values(len: usize, seed: u64) -> Vec<f32> {
    let mut s = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
    (0..len)
        .map(|_| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((s >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
        })
        .collect()
}

#[test]
fn parallel_updates_equal_serial_ones_bit_for_bit() {
    // A tensor above the parallel threshold, updated whole (parallel, on 1 and on 2 threads) and in
    // small slices (each below the threshold, so serial): the results must be identical.
    let len = PARALLEL_MIN_LEN * 2 + 123;
    let chunk = 1000;
    assert!(chunk < PARALLEL_MIN_LEN);
    let grads: Vec<Vec<f32>> = (0..3).map(|s| values(len, 10 + s)).collect();
    for cfg in all_configs() {
        let whole = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            pool.install(|| {
                let mut opt = Optimizer::<f32>::new(cfg).unwrap();
                let mut w = Array1::from(values(len, 1));
                for g in &grads {
                    opt.step(0.01, "w", w.view_mut(), ArrayView1::from(&g[..]))
                        .unwrap();
                }
                w
            })
        };
        let mut opt = Optimizer::<f32>::new(cfg).unwrap();
        let mut sliced = Array1::from(values(len, 1));
        for g in &grads {
            for start in (0..len).step_by(chunk) {
                let end = (start + chunk).min(len);
                let name = format!("w{start}");
                opt.step(
                    0.01,
                    &name,
                    sliced.slice_mut(ndarray::s![start..end]),
                    ArrayView1::from(&g[start..end]),
                )
                .unwrap();
            }
        }
        let (one, two) = (whole(1), whole(2));
        assert!(
            one.iter()
                .zip(&sliced)
                .all(|(a, b)| a.to_bits() == b.to_bits()),
            "{cfg:?}: parallel != serial"
        );
        assert!(
            one.iter()
                .zip(&two)
                .all(|(a, b)| a.to_bits() == b.to_bits()),
            "{cfg:?}: 1 thread != 2 threads"
        );
    }
}

#[test]
fn strided_views_get_the_same_update_as_contiguous_ones() {
    // Every other element of a longer array (stride 2) against a contiguous copy of the same values.
    let n = 37;
    let g = Array1::from(values(n, 5));
    for cfg in all_configs() {
        let mut backing = Array1::from(values(2 * n, 6));
        let mut contiguous = backing.slice(ndarray::s![..;2]).to_owned();
        let (mut a, mut b) = (
            Optimizer::<f32>::new(cfg).unwrap(),
            Optimizer::<f32>::new(cfg).unwrap(),
        );
        for _ in 0..3 {
            a.step(0.01, "w", backing.slice_mut(ndarray::s![..;2]), g.view())
                .unwrap();
            b.step(0.01, "w", contiguous.view_mut(), g.view()).unwrap();
        }
        assert_eq!(backing.slice(ndarray::s![..;2]), contiguous, "{cfg:?}");
        // The elements in between are untouched.
        let original = Array1::from(values(2 * n, 6));
        assert_eq!(
            backing.slice(ndarray::s![1..;2]),
            original.slice(ndarray::s![1..;2])
        );
    }
}

#[test]
fn checkpoint_and_resume_equals_an_uninterrupted_run() {
    let q = Quadratic::new(6);
    for cfg in all_configs() {
        let mut straight = Optimizer::<f64>::new(cfg).unwrap();
        let mut resumed = Optimizer::<f64>::new(cfg).unwrap();
        let mut w1 = Array1::<f64>::zeros(6);
        let mut w2 = Array1::<f64>::zeros(6);
        for t in 0..10 {
            if t == 5 {
                let text = serde_json::to_string(&resumed.checkpoint()).unwrap();
                resumed = Optimizer::from_checkpoint(serde_json::from_str(&text).unwrap()).unwrap();
            }
            let g1 = q.grad(w1.view());
            straight.step(0.01, "w", w1.view_mut(), g1.view()).unwrap();
            let g2 = q.grad(w2.view());
            resumed.step(0.01, "w", w2.view_mut(), g2.view()).unwrap();
        }
        assert_eq!(w1, w2, "{cfg:?}");
        assert_eq!(straight.checkpoint(), resumed.checkpoint());
        let cfg_text = serde_json::to_string(&cfg).unwrap();
        assert_eq!(
            serde_json::from_str::<OptimizerConfig>(&cfg_text).unwrap(),
            cfg
        );
    }
}

#[test]
fn mismatched_checkpoints_and_lengths_are_typed_errors() {
    let mut adam = Optimizer::<f64>::new(OptimizerConfig::default()).unwrap();
    let mut w = Array1::<f64>::zeros(3);
    adam.step(0.1, "w", w.view_mut(), Array1::ones(3).view())
        .unwrap();
    let mut cp = adam.checkpoint();
    cp.config = OptimizerConfig::sgd();
    assert!(matches!(
        Optimizer::from_checkpoint(cp),
        Err(nn_train::TrainError::StateMismatch { name, .. }) if name == "w"
    ));
    let mut w4 = Array1::<f64>::zeros(4);
    assert!(matches!(
        adam.step(0.1, "w", w4.view_mut(), Array1::ones(4).view()),
        Err(nn_train::TrainError::ShapeMismatch { .. })
    ));
    assert!(matches!(
        Optimizer::<f32>::new(OptimizerConfig::momentum(1.2)),
        Err(nn_train::TrainError::InvalidHyperparameter {
            name: "momentum",
            ..
        })
    ));
}

#[test]
fn public_types_are_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<Optimizer<f32>>();
    check::<nn_train::optim::Adam<f64>>();
    check::<nn_train::optim::Sgd<f32>>();
    check::<nn_train::optim::ParamState<f32>>();
    check::<Schedule>();
    check::<nn_train::search::SearchSpace>();
    check::<nn_train::eval::Ema<f32>>();
    check::<nn_train::eval::Polyak<f64>>();
    check::<nn_train::eval::ConfusionMatrix>();
    check::<nn_train::TrainError>();
}
