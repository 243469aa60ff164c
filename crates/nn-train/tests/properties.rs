//! Property tests of invariants (small case counts; more through `PROPTEST_CASES`).

use ndarray::{Array1, Array2};
use nn_train::eval::{top_k_accuracy, Polyak};
use nn_train::optim::{clip_grad_norm, global_norm};
use nn_train::schedule::ScheduleConfig;
use proptest::prelude::*;

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(32),
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config())]

    /// After clipping, the global norm is min(norm, max_norm) and every element keeps its sign.
    #[test]
    fn clipping_bounds_the_norm_and_keeps_direction(
        a in prop::collection::vec(-100.0f64..100.0, 1..20),
        b in prop::collection::vec(-100.0f64..100.0, 1..20),
        max_norm in 0.01f64..50.0,
    ) {
        let (mut x, mut y) = (Array1::from(a.clone()), Array1::from(b.clone()));
        let before = clip_grad_norm(&mut [x.view_mut(), y.view_mut()], max_norm).unwrap();
        let after = global_norm(&[x.view(), y.view()]);
        prop_assert!((after - before.min(max_norm)).abs() <= 1e-12 * before.max(1.0));
        for (new, old) in x.iter().chain(y.iter()).zip(a.iter().chain(b.iter())) {
            prop_assert!(new * old >= 0.0 && new.abs() <= old.abs());
        }
    }

    /// Top-k accuracy never decreases with k and is 1 at k = C.
    #[test]
    fn top_k_is_monotone_in_k(
        scores in prop::collection::vec(-5.0f64..5.0, 4 * 5),
        labels in prop::collection::vec(0usize..5, 4),
    ) {
        let s = Array2::from_shape_vec((4, 5), scores).unwrap();
        let mut last = 0.0;
        for k in 1..=5 {
            let acc = top_k_accuracy(s.view(), &labels, k).unwrap();
            prop_assert!(acc >= last);
            last = acc;
        }
        prop_assert_eq!(last, 1.0);
    }

    /// The Polyak average equals the arithmetic mean of the updates.
    #[test]
    fn polyak_is_the_arithmetic_mean(rows in prop::collection::vec(prop::collection::vec(-10.0f64..10.0, 3), 1..12)) {
        let mut p = Polyak::new();
        for r in &rows {
            p.update("w", Array1::from(r.clone()).view()).unwrap();
        }
        let avg = p.averaged("w").unwrap();
        for j in 0..3 {
            let mean = rows.iter().map(|r| r[j]).sum::<f64>() / rows.len() as f64;
            prop_assert!((avg[j] - mean).abs() < 1e-12);
        }
    }

    /// Cosine annealing (with or without warm restarts, behind a warm-up) stays within [0, lr], and
    /// within [min_lr, lr] after the warm-up.
    #[test]
    fn cosine_schedules_stay_in_range(
        lr in 1e-4f64..1.0,
        min_frac in 0.0f64..1.0,
        period in 1u64..50,
        mult in prop::option::of(1u64..4),
        warm in 1u64..20,
        t in 0u64..5000,
    ) {
        let min_lr = lr * min_frac;
        let inner = ScheduleConfig::Cosine { lr, min_lr, period, restart_mult: mult };
        let s = ScheduleConfig::WarmUp { steps: warm, start_factor: 0.0, then: Box::new(inner) }
            .build()
            .unwrap();
        let x = s.lr_at(t);
        prop_assert!((0.0..=lr * (1.0 + 1e-12)).contains(&x));
        if t >= warm {
            prop_assert!(x >= min_lr * (1.0 - 1e-12));
        }
    }
}
