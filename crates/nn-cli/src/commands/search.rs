//! `nn search` and `nn trial`: hyperparameter search where every trial is a standalone process.
//!
//! `--plan DIR` writes `DIR/plan.json` and one `DIR/trial-NNN.toml` per trial; `nn trial FILE`
//! trains one and writes `DIR/trial-NNN/` and `DIR/trial-NNN.result.json`; `--collect DIR` ranks the
//! results. Without `--plan`/`--collect`, `nn search` does all three on this machine, running
//! `--parallel` trial processes at a time, for each coarse-to-fine stage.

use super::train::{train_run, RunSummary, Start};
use crate::cli::{SearchArgs, TrialArgs};
use crate::config::RunConfig;
use crate::error::{io, CliError, Result};
use crate::report;
use crate::Ui;
use nn_train::search::{Param, Sample, SearchSpace};
use rand::SeedableRng;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// The plan file of a search directory.
pub const PLAN: &str = "plan.json";

/// One planned trial.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PlannedTrial {
    /// `trial-NNN`.
    pub name: String,
    /// The sampled values, by config key.
    pub params: Sample,
}

/// `plan.json`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Plan {
    /// The ranges searched.
    pub space: SearchSpace,
    /// The trials.
    pub trials: Vec<PlannedTrial>,
}

/// `trial-NNN.result.json`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TrialResult {
    /// `trial-NNN`.
    pub name: String,
    /// The run's summary, if it ran.
    pub summary: Option<RunSummary>,
    /// Why it failed, if it did.
    pub error: Option<String>,
}

/// A ranked row of the collected table.
#[derive(Clone, Debug, Serialize)]
pub struct Ranked {
    /// The trial.
    pub name: String,
    /// Its values.
    pub params: Sample,
    /// Its result (`None`: not finished yet).
    pub result: Option<TrialResult>,
}

fn default_space() -> Result<SearchSpace> {
    Ok(SearchSpace::new()
        .with("train.lr", Param::LogUniform { lo: 1e-4, hi: 1e-1 })?
        .with("train.l2", Param::LogUniform { lo: 1e-6, hi: 1e-2 })?)
}

fn load_space(path: Option<&Path>) -> Result<SearchSpace> {
    let Some(path) = path else {
        return default_space();
    };
    let text = std::fs::read_to_string(path).map_err(io(path))?;
    let space: SearchSpace = toml::from_str(&text).map_err(|e| CliError::Config {
        path: Some(path.to_path_buf()),
        message: crate::config::toml_message(&text, &e),
    })?;
    if space.params().is_empty() {
        return Err(CliError::Config {
            path: Some(path.to_path_buf()),
            message: "the search space has no ranges".into(),
        });
    }
    Ok(space)
}

/// `base` with each `section.key` of `params` set.
///
/// # Errors
/// [`CliError::Config`] for a key that is not a config key or a value of the wrong type.
pub fn apply_params(base: &RunConfig, params: &Sample) -> Result<RunConfig> {
    let mut v = serde_json::to_value(base).map_err(|e| CliError::Library(e.to_string()))?;
    for (key, value) in params {
        let mut cur = &mut v;
        let parts: Vec<&str> = key.split('.').collect();
        for (i, part) in parts.iter().enumerate() {
            let last = i + 1 == parts.len();
            cur = match cur {
                Value::Object(map) => {
                    if last {
                        map.insert((*part).to_string(), value.clone());
                        break;
                    }
                    map.entry((*part).to_string())
                        .or_insert_with(|| Value::Object(Default::default()))
                }
                Value::Array(items) => {
                    let idx: usize = part.parse().map_err(|_| {
                        CliError::config(format!("search key {key}: {part} is not an index"))
                    })?;
                    let slot = items.get_mut(idx).ok_or_else(|| {
                        CliError::config(format!("search key {key}: index {idx} is out of range"))
                    })?;
                    if last {
                        *slot = value.clone();
                        break;
                    }
                    slot
                }
                _ => {
                    return Err(CliError::config(format!(
                        "search key {key} does not name a config value"
                    )))
                }
            };
        }
    }
    let c: RunConfig =
        serde_json::from_value(v).map_err(|e| CliError::config(format!("search space: {e}")))?;
    c.validate()?;
    Ok(c)
}

/// Writes a plan: `plan.json` and one config per trial (each with `out = "trial-NNN"`, relative to
/// the plan directory).
///
/// # Errors
/// Invalid space keys or values; I/O.
pub fn write_plan(
    dir: &Path,
    base: &RunConfig,
    space: &SearchSpace,
    samples: Vec<Sample>,
) -> Result<Plan> {
    report::create_dir(dir)?;
    let mut trials = Vec::new();
    for (i, params) in samples.into_iter().enumerate() {
        let name = format!("trial-{i:03}");
        let mut c = apply_params(base, &params)?;
        c.out = Some(PathBuf::from(&name));
        let text = format!(
            "# {name} of the search planned in this folder; run it with `nn trial {name}.toml`.\n# A relative `out` is taken relative to this file's folder.\n{}",
            c.to_toml()
        );
        report::write_atomic(&dir.join(format!("{name}.toml")), text.as_bytes())?;
        trials.push(PlannedTrial { name, params });
    }
    let plan = Plan {
        space: space.clone(),
        trials,
    };
    let json = serde_json::to_vec_pretty(&plan).map_err(|e| CliError::Library(e.to_string()))?;
    report::write_atomic(&dir.join(PLAN), &json)?;
    Ok(plan)
}

fn result_path(config: &Path) -> PathBuf {
    config.with_extension("result.json")
}

/// Runs `nn trial CONFIG`.
///
/// # Errors
/// A config that cannot be read; a failed run is written into the result file and reported.
pub fn trial(args: &TrialArgs, threads: Option<usize>, ui: &Ui) -> Result<()> {
    let path = &args.config;
    let mut c = RunConfig::from_file(path)?;
    if threads.is_some() {
        c.threads = threads;
    }
    c.validate()?;
    let folder = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "trial".into());
    let out = match &c.out {
        Some(o) if o.is_relative() => folder.join(o),
        Some(o) => o.clone(),
        None => folder.join(&name),
    };
    let quiet = Ui {
        mode: if ui.mode == crate::OutputMode::Json {
            crate::OutputMode::Json
        } else {
            crate::OutputMode::Quiet
        },
    };
    let run = crate::with_threads(c.threads, || train_run(&c, Start::Fresh, &out, &quiet));
    let result = match &run {
        Ok(s) => TrialResult {
            name: name.clone(),
            summary: Some(s.clone()),
            error: None,
        },
        Err(e) => TrialResult {
            name: name.clone(),
            summary: None,
            error: Some(e.to_string()),
        },
    };
    let json = serde_json::to_vec_pretty(&result).map_err(|e| CliError::Library(e.to_string()))?;
    report::write_atomic(&result_path(path), &json)?;
    let s = run?;
    ui.json(&serde_json::json!({ "command": "trial", "result": result }));
    if ui.mode != crate::OutputMode::Json {
        println!(
            "{name}: val {} after {} epochs ({:?}, {:.1}s) -> {}",
            s.best_val_accuracy
                .map_or("-".into(), |v| format!("{:.2}%", 100.0 * v)),
            s.epochs,
            s.stopped,
            s.seconds,
            result_path(path).display()
        );
    }
    Ok(())
}

fn score(r: &Ranked) -> f64 {
    r.result
        .as_ref()
        .and_then(|t| t.summary.as_ref())
        .and_then(|s| {
            s.best_val_accuracy
                .or(Some(1.0 - s.final_train_loss.unwrap_or(f64::INFINITY)))
        })
        .filter(|v| v.is_finite())
        .unwrap_or(f64::NEG_INFINITY)
}

/// Reads a plan directory and ranks its trials, best first (by validation accuracy).
///
/// # Errors
/// [`CliError::Usage`] if `DIR/plan.json` is missing; malformed files.
pub fn collect(dir: &Path) -> Result<(Plan, Vec<Ranked>)> {
    let plan_path = dir.join(PLAN);
    let bytes = std::fs::read(&plan_path).map_err(|_| {
        CliError::usage(
            format!("{} has no {PLAN}", dir.display()),
            "pass the directory written by `nn search --plan DIR`",
        )
    })?;
    let plan: Plan = serde_json::from_slice(&bytes).map_err(|e| CliError::Config {
        path: Some(plan_path.clone()),
        message: e.to_string(),
    })?;
    let mut rows = Vec::new();
    for t in &plan.trials {
        let rp = dir.join(format!("{}.result.json", t.name));
        let result =
            match std::fs::read(&rp) {
                Ok(b) => Some(serde_json::from_slice::<TrialResult>(&b).map_err(|e| {
                    CliError::Config {
                        path: Some(rp.clone()),
                        message: e.to_string(),
                    }
                })?),
                Err(_) => None,
            };
        rows.push(Ranked {
            name: t.name.clone(),
            params: t.params.clone(),
            result,
        });
    }
    rows.sort_by(|a, b| {
        score(b)
            .total_cmp(&score(a))
            .then_with(|| a.name.cmp(&b.name))
    });
    Ok((plan, rows))
}

fn fmt_value(v: &Value) -> String {
    match v.as_f64() {
        Some(x) if v.is_f64() => format!("{x:.3e}"),
        _ => v.to_string(),
    }
}

/// The ranked table as text.
pub fn table(plan: &Plan, rows: &[Ranked]) -> String {
    let keys: Vec<&String> = plan.space.params().keys().collect();
    let mut out = format!("{:>4}  {:<10}", "rank", "trial");
    for k in &keys {
        out.push_str(&format!(" {k:>14}"));
    }
    out.push_str(&format!(
        " {:>8} {:>10} {:>6} {:>12} {:>7}\n",
        "val acc", "train loss", "epochs", "stopped", "time"
    ));
    for (i, r) in rows.iter().enumerate() {
        out.push_str(&format!("{:>4}  {:<10}", i + 1, r.name));
        for k in &keys {
            out.push_str(&format!(
                " {:>14}",
                r.params.get(*k).map_or("-".into(), fmt_value)
            ));
        }
        match r.result.as_ref() {
            Some(TrialResult {
                summary: Some(s), ..
            }) => out.push_str(&format!(
                " {:>8} {:>10} {:>6} {:>12} {:>6.1}s\n",
                s.best_val_accuracy
                    .map_or("-".into(), |v| format!("{:.2}%", 100.0 * v)),
                s.final_train_loss.map_or("-".into(), |v| format!("{v:.4}")),
                s.epochs,
                format!("{:?}", s.stopped).to_lowercase(),
                s.seconds
            )),
            Some(TrialResult { error: Some(e), .. }) => out.push_str(&format!("  failed: {e}\n")),
            _ => out.push_str("  not finished\n"),
        }
    }
    out
}

fn report_ranking(plan: &Plan, rows: &[Ranked], ui: &Ui) -> Result<()> {
    ui.info(&table(plan, rows));
    let finished = rows.iter().filter(|r| score(r).is_finite()).count();
    if let Some(best) = rows.first().filter(|r| score(r).is_finite()) {
        for w in plan.space.edge_warnings(&best.params)? {
            ui.warn(&w.to_string());
        }
        if ui.is_quiet() {
            println!("{}\t{:.4}", best.name, score(best));
        }
    }
    ui.info(&format!("{finished}/{} trials finished", rows.len()));
    ui.json(&serde_json::json!({ "command": "search", "ranking": rows }));
    Ok(())
}

fn samples(space: &SearchSpace, args: &SearchArgs, seed: u64) -> Result<Vec<Sample>> {
    if let Some(points) = args.grid {
        if points < 2 {
            return Err(CliError::usage(
                "--grid needs at least 2 points per axis",
                "e.g. --grid 3",
            ));
        }
        return Ok(space.grid(points)?);
    }
    if args.trials == 0 {
        return Err(CliError::usage(
            "--trials must be at least 1",
            "e.g. --trials 8",
        ));
    }
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    Ok(space.sample_n(args.trials, &mut rng))
}

/// Runs every trial of a plan as child `nn trial` processes, `parallel` at a time.
fn run_plan(dir: &Path, plan: &Plan, parallel: usize, threads_each: usize, ui: &Ui) -> Result<()> {
    let exe = std::env::current_exe()
        .map_err(|e| CliError::Library(format!("cannot find the nn binary: {e}")))?;
    crate::install_ctrlc();
    let bar = ui.progress().then(|| {
        let b = indicatif::ProgressBar::new(plan.trials.len() as u64);
        b.set_style(
            indicatif::ProgressStyle::with_template(
                "trials [{bar:30}] {pos}/{len} eta {eta} {msg}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
            .progress_chars("=> "),
        );
        b
    });
    let mut pending = plan.trials.iter();
    let mut running: Vec<(String, Child)> = Vec::new();
    loop {
        while running.len() < parallel && !crate::interrupted() {
            let Some(t) = pending.next() else { break };
            let cfg = dir.join(format!("{}.toml", t.name));
            let child = Command::new(&exe)
                .arg("--quiet")
                .arg("--threads")
                .arg(threads_each.to_string())
                .arg("trial")
                .arg(&cfg)
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .map_err(|e| CliError::Library(format!("cannot start a trial process: {e}")))?;
            running.push((t.name.clone(), child));
        }
        if running.is_empty() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
        let mut i = 0;
        while i < running.len() {
            if let Ok(Some(status)) = running[i].1.try_wait() {
                let (name, child) = running.swap_remove(i);
                if !status.success() {
                    let mut err = String::new();
                    if let Some(mut s) = child.stderr {
                        let _ = std::io::Read::read_to_string(&mut s, &mut err);
                    }
                    let msg = format!(
                        "{name} failed: {}",
                        err.lines().next().unwrap_or("(no message)")
                    );
                    match &bar {
                        Some(b) => b.println(format!("warning: {msg}")),
                        None => ui.warn(&msg),
                    }
                }
                if let Some(b) = &bar {
                    b.inc(1);
                    b.set_message(name);
                }
            } else {
                i += 1;
            }
        }
    }
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    if crate::interrupted() {
        return Err(CliError::Interrupted);
    }
    Ok(())
}

/// Runs `nn search`.
///
/// # Errors
/// Config, space and I/O errors.
pub fn run(args: &SearchArgs, threads: Option<usize>, ui: &Ui) -> Result<()> {
    if let Some(dir) = &args.collect {
        let (plan, rows) = collect(dir)?;
        return report_ranking(&plan, &rows, ui);
    }
    let base = args.config.effective(threads)?;
    let mut space = load_space(args.space.as_deref())?;
    // Check every key against the config before running anything.
    for s in samples(&space, args, base.train.seed)?.iter().take(1) {
        apply_params(&base, s)?;
    }
    if let Some(dir) = &args.plan {
        let plan = write_plan(dir, &base, &space, samples(&space, args, base.train.seed)?)?;
        ui.info(&format!(
            "wrote {} trial configs and {PLAN} to {}\nrun them with e.g. `ls {0}/trial-*.toml | xargs -P 4 -n 1 nn trial`, then `nn search --collect {0}`",
            plan.trials.len(),
            dir.display()
        ));
        ui.json(&serde_json::json!({ "command": "search", "plan": dir, "trials": plan.trials }));
        if ui.is_quiet() {
            println!("{}", dir.display());
        }
        return Ok(());
    }
    if args.stages == 0 {
        return Err(CliError::usage(
            "--stages must be at least 1",
            "e.g. --stages 2",
        ));
    }
    let cores = threads
        .or(base.threads)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let parallel = args.parallel.unwrap_or(cores).max(1);
    let threads_each = (cores / parallel).max(1);
    let root = base
        .out
        .clone()
        .unwrap_or_else(|| report::next_run_dir(Path::new("runs"), "search"));
    let mut last = None;
    for stage in 1..=args.stages {
        let dir = root.join(format!("stage-{stage}"));
        let seed = base.train.seed.wrapping_add(stage as u64);
        let plan = write_plan(&dir, &base, &space, samples(&space, args, seed)?)?;
        ui.info(&format!(
            "stage {stage}/{}: {} trials, {parallel} at a time ({threads_each} thread(s) each), in {}",
            args.stages,
            plan.trials.len(),
            dir.display()
        ));
        run_plan(&dir, &plan, parallel, threads_each, ui)?;
        let (plan, rows) = collect(&dir)?;
        report_ranking(&plan, &rows, ui)?;
        let best: Vec<Sample> = rows
            .iter()
            .filter(|r| score(r).is_finite())
            .take(3)
            .map(|r| r.params.clone())
            .collect();
        if best.is_empty() {
            return Err(CliError::Library(format!(
                "no trial of stage {stage} finished; see the .result.json files in {}",
                dir.display()
            )));
        }
        if stage < args.stages {
            space = space.narrow_around(&best, 0.5)?;
        }
        last = Some(rows);
    }
    if let Some(best) = last.as_ref().and_then(|r| r.first()) {
        ui.info(&format!(
            "best: {} {}",
            best.name,
            serde_json::to_string(&best.params).unwrap_or_default()
        ));
    }
    Ok(())
}
