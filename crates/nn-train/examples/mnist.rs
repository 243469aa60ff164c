//! Trains the 784-512-256-10 MLP (BatchNorm, ReLU, He initialisation, Adam, cosine decay) on MNIST
//! or Fashion-MNIST and reports test accuracy; with `--ensemble K`, trains K models with different
//! seeds and reports the probability-averaged ensemble too.
//!
//! ```text
//! cargo run --release -p nn-train --example mnist -- DATA_DIR [--epochs N] [--ensemble K]
//!     [--fashion] [--lr LR] [--batch N] [--seed S] [--val N] [--l2 L]
//! ```
//! `DATA_DIR` holds the four IDX files (`.gz` or raw), e.g. `../shared/data/mnist`.
//! The last `--val` (default 5000) training images are held out for validation; each model's test
//! accuracy is that of its best validation epoch.

use std::path::PathBuf;
use std::time::Instant;

use ndarray::{Array2, Axis};
use nn_core::{MlpOptions, Network, NetworkSpec};
use nn_preprocess::{load_idx_dir, Dataset, IdxSet};
use nn_train::config::TrainConfig;
use nn_train::eval::{accuracy, ensemble_mean};
use nn_train::observer::{Control, EpochMetrics, Observer};
use nn_train::optim::OptimizerConfig;
use nn_train::schedule::ScheduleConfig;
use nn_train::trainer::Trainer;

type AnyResult<T> = Result<T, Box<dyn std::error::Error>>;

struct Args {
    dir: PathBuf,
    epochs: usize,
    ensemble: usize,
    fashion: bool,
    lr: f64,
    batch: usize,
    seed: u64,
    val: usize,
    l2: f64,
}

fn parse_args() -> AnyResult<Args> {
    let mut args = Args {
        dir: PathBuf::new(),
        epochs: 10,
        ensemble: 1,
        fashion: false,
        lr: 1e-3,
        batch: 128,
        seed: 0,
        val: 5000,
        l2: 0.0,
    };
    let mut it = std::env::args().skip(1);
    let mut dir = None;
    while let Some(a) = it.next() {
        let mut value = || it.next().ok_or(format!("{a} needs a value"));
        match a.as_str() {
            "--epochs" => args.epochs = value()?.parse()?,
            "--ensemble" => args.ensemble = value()?.parse()?,
            "--fashion" => args.fashion = true,
            "--lr" => args.lr = value()?.parse()?,
            "--batch" => args.batch = value()?.parse()?,
            "--seed" => args.seed = value()?.parse()?,
            "--val" => args.val = value()?.parse()?,
            "--l2" => args.l2 = value()?.parse()?,
            "-h" | "--help" => {
                println!("usage: mnist DATA_DIR [--epochs N] [--ensemble K] [--fashion] [--lr LR] [--batch N] [--seed S] [--val N] [--l2 L]");
                std::process::exit(0);
            }
            other if dir.is_none() && !other.starts_with("--") => dir = Some(PathBuf::from(other)),
            other => return Err(format!("unknown argument {other}").into()),
        }
    }
    args.dir = dir.ok_or("missing DATA_DIR (e.g. ../shared/data/mnist)")?;
    Ok(args)
}

/// `(x − mean)/std` with the training set's scalar pixel mean and std.
fn standardise(data: Dataset, mean: f32, std: f32) -> AnyResult<Dataset> {
    let (mut x, y, names, shape) = data.into_parts();
    x.mapv_inplace(|v| (v - mean) / std);
    Ok(Dataset::new(x, y, names, shape)?)
}

/// Prints one line per epoch.
struct Printer;

impl Observer for Printer {
    fn on_epoch(&mut self, m: &EpochMetrics) -> Control {
        println!("  {m}");
        if m.epoch == 1 {
            if let Some(r) = &m.monitor {
                print!("{r}");
            }
        }
        Control::Continue
    }
}

fn softmax_rows(mut s: Array2<f32>) -> Array2<f32> {
    for mut row in s.axis_iter_mut(Axis(0)) {
        let m = row.fold(f32::NEG_INFINITY, |a, &b| a.max(b));
        row.mapv_inplace(|v| (v - m).exp());
        let z = row.sum();
        row.mapv_inplace(|v| v / z);
    }
    s
}

fn main() -> AnyResult<()> {
    let args = parse_args()?;
    let set = if args.fashion {
        IdxSet::FashionMnist
    } else {
        IdxSet::Mnist
    };
    let t0 = Instant::now();
    let (full, test) = load_idx_dir(&args.dir, set)?;
    let n = full.len();
    if args.val == 0 || args.val >= n {
        return Err(format!("--val must be in 1..{n}").into());
    }
    let train_idx: Vec<usize> = (0..n - args.val).collect();
    let val_idx: Vec<usize> = (n - args.val..n).collect();
    let (train, val) = (full.select(&train_idx)?, full.select(&val_idx)?);
    let x = train.features();
    let mean = x.iter().map(|&v| f64::from(v)).sum::<f64>() / x.len() as f64;
    let var = x
        .iter()
        .map(|&v| (f64::from(v) - mean).powi(2))
        .sum::<f64>()
        / x.len() as f64;
    let (mean, std) = (mean as f32, var.sqrt() as f32);
    let train = standardise(train, mean, std)?;
    let val = standardise(val, mean, std)?;
    let test = standardise(test, mean, std)?;
    println!(
        "{:?}: {} train, {} validation, {} test; pixel mean {mean:.4} std {std:.4}; loaded in {:.1}s; {} rayon threads",
        set,
        train.len(),
        val.len(),
        test.len(),
        t0.elapsed().as_secs_f64(),
        rayon::current_num_threads()
    );

    let options = MlpOptions {
        batch_norm: true,
        ..MlpOptions::default()
    };
    let steps_per_epoch = train.len().div_ceil(args.batch) as u64;
    let mut probs = Vec::new();
    let mut singles = Vec::new();
    for k in 0..args.ensemble {
        let seed = args.seed + k as u64;
        let config = TrainConfig {
            model: NetworkSpec::mlp(784, &[512, 256], 10, &options)?,
            optimizer: OptimizerConfig::default(),
            schedule: ScheduleConfig::Cosine {
                lr: args.lr,
                min_lr: args.lr * 1e-2,
                period: steps_per_epoch * args.epochs as u64,
                restart_mult: None,
            },
            epochs: args.epochs,
            batch_size: args.batch,
            seed,
            l2: args.l2,
            monitor_every: 200,
            train_eval_samples: 5000,
            ..TrainConfig::default()
        };
        println!(
            "model {} (seed {seed}): 784-512-256-10, BatchNorm + ReLU + He, Adam lr {} cosine to {}, batch {}, l2 {}",
            k + 1,
            args.lr,
            args.lr * 1e-2,
            args.batch,
            args.l2
        );
        let start = Instant::now();
        let mut trainer = Trainer::new(config)?;
        let report = trainer.fit(&train, Some(&val), &mut Printer)?;
        let seconds = start.elapsed().as_secs_f64();
        let final_test = trainer.evaluate(&test)?;
        let best: &Network<f32> = trainer.best_network().unwrap_or(trainer.network());
        let scores = best.predict(test.features())?;
        let labels: Vec<usize> = test.labels().iter().map(|&l| usize::from(l)).collect();
        let best_acc = accuracy(scores.view(), &labels)?;
        println!(
            "model {}: {report}; test accuracy {:.2}% (best validation epoch {}), final epoch {:.2}%; {:.1}s training",
            k + 1,
            100.0 * best_acc,
            report.best_epoch.unwrap_or(0),
            100.0 * final_test.accuracy,
            seconds
        );
        singles.push(best_acc);
        probs.push(softmax_rows(scores));
    }
    if args.ensemble > 1 {
        let labels: Vec<usize> = test.labels().iter().map(|&l| usize::from(l)).collect();
        let views: Vec<_> = probs.iter().map(|p| p.view()).collect();
        let mean = ensemble_mean(&views)?;
        let ens = accuracy(mean.view(), &labels)?;
        let best_single = singles.iter().copied().fold(0.0, f64::max);
        println!(
            "ensemble of {}: test accuracy {:.2}% (best single {:.2}%, mean single {:.2}%)",
            args.ensemble,
            100.0 * ens,
            100.0 * best_single,
            100.0 * singles.iter().sum::<f64>() / singles.len() as f64
        );
    }
    println!("total wall time {:.1}s", t0.elapsed().as_secs_f64());
    Ok(())
}
