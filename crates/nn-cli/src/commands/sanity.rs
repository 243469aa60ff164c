//! `nn sanity`: the babysitting checklist before a long run.

use crate::cli::SanityArgs;
use crate::config::RunConfig;
use crate::data::{self, Preprocessor};
use crate::error::{CliError, Result};
use crate::report;
use crate::Ui;
use nn_train::sanity::{run_sanity, SanityConfig, SanityReport};
use rand::SeedableRng;
use std::path::Path;

/// Runs the four checks for a config on its (preprocessed) training data.
///
/// # Errors
/// Data and config errors.
pub fn check(config: &RunConfig) -> Result<SanityReport> {
    let splits = data::load(&config.data, config.train.seed)?;
    let pre = Preprocessor::fit(config.data.preprocess, &splits.train)?;
    let train = pre.apply(&splits.train)?;
    let tc = config.train_config(train.n_features(), train.n_classes(), train.len())?;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(config.train.seed);
    Ok(run_sanity(&tc, &train, &SanityConfig::default(), &mut rng)?)
}

/// Runs `nn sanity`; exits with code 1 if a check fails.
///
/// # Errors
/// Data and config errors; [`CliError::Library`] naming the failed checks.
pub fn run(args: &SanityArgs, threads: Option<usize>, ui: &Ui) -> Result<()> {
    let config = args.config.effective(threads)?;
    let report = crate::with_threads(config.threads, || check(&config))?;
    let out = config
        .out
        .clone()
        .unwrap_or_else(|| report::next_run_dir(Path::new("runs"), "sanity"));
    report::create_dir(&out)?;
    let json = serde_json::to_vec_pretty(&report).map_err(|e| CliError::Library(e.to_string()))?;
    report::write_atomic(&out.join("sanity.json"), &json)?;
    ui.info(&report.to_string());
    ui.json(&serde_json::json!({ "command": "sanity", "passed": report.all_passed(), "report": report }));
    if ui.is_quiet() {
        println!("{}", if report.all_passed() { "pass" } else { "fail" });
    }
    if report.all_passed() {
        ui.info(&format!(
            "all checks passed (report: {})",
            out.join("sanity.json").display()
        ));
        Ok(())
    } else {
        let failed: Vec<String> = report
            .checks
            .iter()
            .filter(|c| !c.passed)
            .map(|c| c.kind.to_string())
            .collect();
        Err(CliError::Library(format!(
            "sanity check failed: {}",
            failed.join(", ")
        )))
    }
}
