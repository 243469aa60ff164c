//! `nn lr-find`: the learning-rate range test with a plot.

use crate::cli::LrFindArgs;
use crate::data::{self, Preprocessor};
use crate::error::{CliError, Result};
use crate::report::{self, Section};
use crate::svg::{self, Series};
use crate::Ui;
use nn_train::lr_find::{lr_find, LrFindConfig};
use rand::SeedableRng;
use std::path::Path;

/// Runs `nn lr-find`.
///
/// # Errors
/// Data, config and range errors.
pub fn run(args: &LrFindArgs, threads: Option<usize>, ui: &Ui) -> Result<()> {
    let config = args.config.effective(threads)?;
    if !(args.min_lr > 0.0 && args.max_lr > args.min_lr) {
        return Err(CliError::usage(
            format!(
                "the range --min-lr {} .. --max-lr {} is empty",
                args.min_lr, args.max_lr
            ),
            "use 0 < --min-lr < --max-lr, e.g. --min-lr 1e-6 --max-lr 1",
        ));
    }
    let lf = LrFindConfig {
        min_lr: args.min_lr,
        max_lr: args.max_lr,
        steps: args.steps,
        ..LrFindConfig::default()
    };
    let report = crate::with_threads(config.threads, || {
        let splits = data::load(&config.data, config.train.seed)?;
        let pre = Preprocessor::fit(config.data.preprocess, &splits.train)?;
        let train = pre.apply(&splits.train)?;
        let tc = config.train_config(train.n_features(), train.n_classes(), train.len())?;
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(config.train.seed);
        Ok(lr_find(&tc, &train, &lf, &mut rng)?)
    })?;
    let out = config
        .out
        .clone()
        .unwrap_or_else(|| report::next_run_dir(Path::new("runs"), "lr-find"));
    report::create_dir(&out)?;
    let raw: Vec<(f64, f64)> = report
        .points
        .iter()
        .filter_map(|p| p.loss.map(|l| (p.lr.log10(), l)))
        .collect();
    let smooth: Vec<(f64, f64)> = report
        .points
        .iter()
        .filter_map(|p| p.smoothed.map(|l| (p.lr.log10(), l)))
        .collect();
    let mut series = vec![
        Series {
            name: "loss".into(),
            points: raw,
        },
        Series {
            name: "smoothed".into(),
            points: smooth.clone(),
        },
    ];
    if let Some(s) = &report.suggestion {
        let (lo, hi) = smooth
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &(_, y)| {
                (a.min(y), b.max(y))
            });
        for (name, x) in [("suggested low", s.low), ("suggested high", s.high)] {
            series.push(Series {
                name: name.into(),
                points: vec![(x.log10(), lo), (x.log10(), hi)],
            });
        }
    }
    let plot = svg::line_chart(
        "learning-rate range test",
        "log10(learning rate)",
        "loss",
        &series,
        false,
    );
    report::write_atomic(&out.join("lr-find.svg"), plot.as_bytes())?;
    let json = serde_json::to_vec_pretty(&report).map_err(|e| CliError::Library(e.to_string()))?;
    report::write_atomic(&out.join("lr-find.json"), &json)?;
    let text = report.to_string();
    report::write_atomic(
        &out.join("report.html"),
        report::html(
            "learning-rate range test",
            &[Section {
                title: "Sweep".into(),
                text: text.clone(),
                svgs: vec![plot],
            }],
        )
        .as_bytes(),
    )?;
    ui.info(&text);
    ui.json(&serde_json::json!({ "command": "lr-find", "out": out, "report": report }));
    match &report.suggestion {
        Some(s) => {
            if ui.is_quiet() {
                println!("{:.3e} {:.3e}", s.low, s.high);
            }
            ui.info(&format!(
                "suggested range: {:.1e} .. {:.1e} (try --lr {:.1e}); plot: {}",
                s.low,
                s.high,
                s.middle(),
                out.join("lr-find.svg").display()
            ));
        }
        None => {
            if ui.is_quiet() {
                println!("none");
            }
            ui.warn(&format!(
                "no suggestion: {:?}; plot: {}",
                report.verdict,
                out.join("lr-find.svg").display()
            ));
        }
    }
    Ok(())
}
