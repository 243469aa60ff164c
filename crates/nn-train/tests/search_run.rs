//! Hyperparameter search runs on a small synthetic problem: planning, determinism, ranking,
//! coarse-to-fine narrowing, edge warnings, early abort and the multi-process path.

use ndarray::Array2;
use nn_core::NetworkSpec;
use nn_preprocess::Dataset;
use nn_train::optim::OptimizerConfig;
use nn_train::search::{Edge, Param, SearchSpace};
use nn_train::search_run::{
    collect, plan, plan_stage, run_search, run_trial, run_trials, SearchConfig, SearchMethod,
    SearchReport, StageConfig, TrialConfig,
};
use nn_train::{StopReason, TrainConfig};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn normal(rng: &mut ChaCha8Rng) -> f32 {
    let (u, v): (f64, f64) = (rng.random(), rng.random());
    ((-2.0 * (1.0 - u).ln()).sqrt() * (std::f64::consts::TAU * v).cos()) as f32
}

/// Four Gaussian blobs in 10-D (centres N(0, 1.5²), unit noise), split 3:1.
fn data() -> (Dataset, Dataset) {
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let centres = Array2::from_shape_fn((4, 10), |_| 1.5 * normal(&mut rng));
    let y: Vec<u8> = (0..400).map(|_| rng.random_range(0..4u8)).collect();
    let x = Array2::from_shape_fn((400, 10), |(i, j)| {
        centres[[y[i] as usize, j]] + normal(&mut rng)
    });
    let d = Dataset::new(x, y, (0..4).map(|c| c.to_string()).collect(), None).unwrap();
    d.split(0.25, &mut rng).unwrap()
}

fn base() -> TrainConfig {
    TrainConfig {
        model: NetworkSpec::mlp(10, &[16], 4, &Default::default()).unwrap(),
        optimizer: OptimizerConfig::sgd(),
        batch_size: 32,
        monitor_every: 0,
        train_eval_samples: 0,
        ..TrainConfig::default()
    }
}

fn config(method: SearchMethod, stages: Vec<StageConfig>) -> SearchConfig {
    SearchConfig {
        space: SearchSpace::new()
            .with("lr", Param::LogUniform { lo: 1e-4, hi: 1.0 })
            .unwrap()
            .with("l2", Param::LogUniform { lo: 1e-6, hi: 1e-2 })
            .unwrap(),
        base: base(),
        stages,
        method,
        seed: 42,
    }
}

fn stage(trials: usize, epochs: usize) -> StageConfig {
    StageConfig {
        trials,
        epochs,
        keep: 2,
        narrowing: 0.25,
    }
}

fn log_width(space: &SearchSpace, name: &str) -> f64 {
    match space.params()[name] {
        Param::LogUniform { lo, hi } => (hi / lo).ln(),
        _ => panic!("{name} is not log-uniform"),
    }
}

#[test]
fn plans_the_configured_trials() {
    let c = config(SearchMethod::Random, vec![stage(6, 1), stage(3, 2)]);
    let p = plan(&c).unwrap();
    assert_eq!(p.len(), 6);
    assert!(p
        .iter()
        .enumerate()
        .all(|(i, t)| t.id == i && t.stage == 0 && t.train.epochs == 1));
    // Distinct seeds and samples; the sample is applied to the training config.
    let mut seeds: Vec<u64> = p.iter().map(|t| t.train.seed).collect();
    seeds.dedup();
    assert_eq!(seeds.len(), 6);
    for t in &p {
        assert_eq!(t.train.l2, t.params["l2"].as_f64().unwrap());
    }
    // Same seed, same plan; another seed, another plan.
    assert_eq!(plan(&c).unwrap(), p);
    let other = SearchConfig {
        seed: 43,
        ..c.clone()
    };
    assert_ne!(plan(&other).unwrap()[0].params, p[0].params);
    // A grid of 3 points per axis over two axes: 9 trials, whatever `trials` says.
    let g = config(SearchMethod::Grid { points: 3 }, vec![stage(1, 1)]);
    assert_eq!(plan(&g).unwrap().len(), 9);
    // Trial configs round-trip through JSON (for `nn trial CONFIG`).
    let text = serde_json::to_string(&p[0]).unwrap();
    assert_eq!(serde_json::from_str::<TrialConfig>(&text).unwrap(), p[0]);
    assert!(plan_stage(&c, 5, &c.space, 0).is_err());
}

#[test]
fn coarse_to_fine_is_deterministic_sorted_and_narrows() {
    let (train, val) = data();
    let c = config(SearchMethod::Random, vec![stage(6, 1), stage(4, 2)]);
    let r = run_search(&c, &train, &val).unwrap();
    assert_eq!(r.stages.len(), 2);
    assert_eq!(r.table.len(), 10);
    assert_eq!(r.stages[1].trials.len(), 4);
    assert!(r.stages[1]
        .trials
        .iter()
        .all(|t| t.epochs <= 2 && t.stage == 1));
    // Sorted by validation accuracy, best first.
    let accs: Vec<f64> = r
        .table
        .iter()
        .map(|t| t.val_accuracy.unwrap_or(-1.0))
        .collect();
    assert!(accs.windows(2).all(|w| w[0] >= w[1]), "{accs:?}");
    // Stage 1's ranges are a quarter as wide (in log space) and inside stage 0's.
    for name in ["lr", "l2"] {
        let (w0, w1) = (
            log_width(&r.stages[0].space, name),
            log_width(&r.stages[1].space, name),
        );
        assert!(
            (w1 - 0.25 * w0).abs() < 1e-9 * w0 || w1 > 0.25 * w0,
            "{name}: {w0} → {w1}"
        );
        assert!(w1 < w0, "{name}: {w0} → {w1}");
    }
    // The narrowed ranges cover the best 2 trials of stage 0.
    for t in &r.stages[0].trials[..2] {
        let lr = t.params["lr"].as_f64().unwrap();
        let Param::LogUniform { lo, hi } = r.stages[1].space.params()["lr"] else {
            panic!()
        };
        assert!((lo..=hi).contains(&lr));
    }
    // The best trial learnt something (chance is 25%).
    assert!(r.best().unwrap().val_accuracy.unwrap() > 0.8, "{r}");
    // Same config, same report.
    assert_eq!(run_search(&c, &train, &val).unwrap(), r);
    let back: SearchReport = serde_json::from_str(&serde_json::to_string(&r).unwrap()).unwrap();
    assert_eq!(back, r);
    assert_eq!(
        r.to_string()
            .lines()
            .next()
            .unwrap()
            .split_whitespace()
            .next(),
        Some("rank")
    );
}

#[test]
fn edge_warning_when_the_best_is_at_the_edge() {
    // One epoch of plain SGD: on this grid the largest rate, 0.1, is best, and it is the top of
    // the range.
    let (train, val) = data();
    let c = SearchConfig {
        space: SearchSpace::new()
            .with("lr", Param::LogUniform { lo: 1e-5, hi: 1e-1 })
            .unwrap(),
        ..config(SearchMethod::Grid { points: 3 }, vec![stage(1, 1)])
    };
    let r = run_search(&c, &train, &val).unwrap();
    assert_eq!(
        r.best().unwrap().params["lr"].as_f64().unwrap(),
        1e-1,
        "{r}"
    );
    let w: Vec<_> = r.edge_warnings().collect();
    assert_eq!(w.len(), 1, "{r}");
    assert_eq!((w[0].name.as_str(), w[0].edge), ("lr", Edge::High));
    assert!(r.to_string().contains("warning: best lr"), "{r}");
}

#[test]
fn a_huge_learning_rate_trial_is_stopped_early() {
    let (train, val) = data();
    let c = SearchConfig {
        space: SearchSpace::new()
            .with(
                "lr",
                Param::Categorical(vec![serde_json::json!(1e4), serde_json::json!(0.1)]),
            )
            .unwrap(),
        ..config(SearchMethod::Grid { points: 1 }, vec![stage(1, 3)])
    };
    let trials = plan(&c).unwrap();
    let results = run_trials(&trials, &train, &val).unwrap();
    let huge = results
        .iter()
        .find(|r| r.params["lr"] == serde_json::json!(1e4))
        .unwrap();
    assert_eq!(huge.stopped, StopReason::Diverged);
    assert!(huge.epochs < 3);
    let fine = results
        .iter()
        .find(|r| r.params["lr"] == serde_json::json!(0.1))
        .unwrap();
    assert_eq!((fine.stopped, fine.epochs), (StopReason::Completed, 3));
    // Ranked: the diverged trial is last.
    let report = collect(std::slice::from_ref(&c.space), results).unwrap();
    assert_eq!(report.table.last().unwrap().stopped, StopReason::Diverged);
}

#[test]
fn separate_processes_give_the_same_report() {
    // Trials serialised, run one by one (as `nn trial CONFIG` would), then collected.
    let (train, val) = data();
    let c = config(SearchMethod::Random, vec![stage(4, 1)]);
    let together = run_search(&c, &train, &val).unwrap();
    let results = plan(&c)
        .unwrap()
        .iter()
        .map(|t| {
            let t: TrialConfig = serde_json::from_str(&serde_json::to_string(t).unwrap()).unwrap();
            run_trial(&t, &train, &val).unwrap()
        })
        .collect();
    assert_eq!(
        collect(std::slice::from_ref(&c.space), results).unwrap(),
        together
    );
}
