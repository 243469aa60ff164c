//! `nn train`: one training run and its run directory.

use super::model::{self, BEST, CONFIG, FINAL, PREPROCESS};
use crate::cli::TrainArgs;
use crate::config::RunConfig;
use crate::data;
use crate::error::{CliError, Result};
use crate::report::{self, LineLog, Section};
use crate::svg::{self, Hist, Series};
use crate::Ui;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use nn_core::{LayerKind, Network};
use nn_preprocess::Dataset;
use nn_train::observer::{Control, EpochMetrics, Observer, StepMetrics};
use nn_train::{StopReason, Trainer};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// The trainer checkpoint (network, plus `.state.json` and `.best.safetensors` siblings).
pub const CHECKPOINT: &str = "checkpoint.safetensors";
/// The result summary of a run.
pub const SUMMARY: &str = "summary.json";

/// What a finished (or stopped) run reports.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RunSummary {
    /// The run directory.
    pub run_dir: PathBuf,
    /// Why training stopped.
    pub stopped: StopReason,
    /// Epochs completed.
    pub epochs: usize,
    /// The best epoch by validation accuracy.
    pub best_epoch: Option<usize>,
    /// Its validation accuracy.
    pub best_val_accuracy: Option<f64>,
    /// The last epoch's validation accuracy.
    pub final_val_accuracy: Option<f64>,
    /// The last epoch's training loss.
    pub final_train_loss: Option<f64>,
    /// Test accuracy of the checkpoint kept (best if any, else final).
    pub test_accuracy: f64,
    /// Test loss of that checkpoint.
    pub test_loss: f64,
    /// The trainer's diagnosis, if any (divergence, overfitting …).
    pub diagnosis: Option<String>,
    /// Wall-clock seconds.
    pub seconds: f64,
    /// The test accuracy to stop at (`--target-accuracy`), if set.
    #[serde(default)]
    pub target_accuracy: Option<f64>,
    /// The first epoch whose test accuracy reached `target_accuracy`.
    #[serde(default)]
    pub target_epoch: Option<usize>,
    /// Seconds from the start of training to the end of the test evaluation of `target_epoch`:
    /// the training epochs (with their validation evaluation and logs) and the test evaluation
    /// after each epoch. Data loading, preprocessing, the sanity checks and checkpoint writes
    /// are not counted; a resumed run counts only its own epochs.
    #[serde(default)]
    pub time_to_target_seconds: Option<f64>,
}

/// Writes logs and progress while the trainer runs.
struct RunObserver<'a> {
    ui: &'a Ui,
    steps_csv: LineLog,
    epochs_csv: LineLog,
    jsonl: LineLog,
    bar: Option<ProgressBar>,
    epochs: usize,
    ratios: BTreeMap<String, Vec<(f64, f64)>>,
    error: Option<CliError>,
    warned: std::collections::BTreeSet<String>,
    /// The last epoch's metrics, logged by [`RunObserver::log_epoch`] once its test accuracy is known.
    pending: Option<EpochMetrics>,
}

fn opt(x: Option<f64>) -> String {
    x.map_or_else(String::new, |v| format!("{v}"))
}

fn pct(x: Option<f64>) -> String {
    x.map_or_else(|| "-".into(), |v| format!("{:.2}%", 100.0 * v))
}

/// `median [min, max]` of the weights' update/weight ratios of a snapshot.
fn ratio_summary(m: &EpochMetrics) -> String {
    let Some(mon) = &m.monitor else {
        return "-".into();
    };
    let mut r: Vec<f64> = mon
        .weight_ratios()
        .into_iter()
        .map(|(_, v)| v)
        .filter(|v| v.is_finite())
        .collect();
    if r.is_empty() {
        return "-".into();
    }
    r.sort_by(f64::total_cmp);
    format!(
        "{:.1e} [{:.1e}, {:.1e}]",
        r[r.len() / 2],
        r[0],
        r[r.len() - 1]
    )
}

impl RunObserver<'_> {
    fn record(&mut self, r: Result<()>) {
        if let Err(e) = r {
            if self.error.is_none() {
                self.error = Some(e);
            }
        }
    }
}

impl Observer for RunObserver<'_> {
    fn on_step(&mut self, m: &StepMetrics) -> Control {
        let line = format!(
            "{},{},{},{},{},{},{}",
            m.epoch, m.step, m.lr, m.data_loss, m.reg_loss, m.batch_accuracy, m.grad_norm
        );
        let r = self.steps_csv.line(&line);
        self.record(r);
        let mut j = serde_json::to_value(m).unwrap_or_default();
        if let Some(o) = j.as_object_mut() {
            o.insert("type".into(), "step".into());
        }
        let r = self.jsonl.line(&j.to_string());
        self.record(r);
        if let Some(mon) = &m.monitor {
            for (name, ratio) in mon.weight_ratios() {
                self.ratios
                    .entry(name)
                    .or_default()
                    .push((m.step as f64, ratio));
            }
            for w in &mon.warnings {
                // Once per tensor and direction: a decaying schedule would repeat them every snapshot.
                let key: String = w.split(" on ").nth(1).unwrap_or(w).to_string();
                if !self.warned.insert(key) {
                    continue;
                }
                match &self.bar {
                    Some(b) if !b.is_hidden() => b.println(format!("  warning: {w}")),
                    _ => self.ui.info(&format!("  warning: {w}")),
                }
            }
        }
        if let Some(b) = &self.bar {
            if m.batch == 1 {
                b.reset();
                b.set_length(m.batches as u64);
                b.set_prefix(format!("epoch {}/{}", m.epoch, self.epochs));
            }
            b.set_position(m.batch as u64);
            b.set_message(format!("loss {:.4} lr {:.2e}", m.data_loss, m.lr));
        }
        if crate::interrupted() || self.error.is_some() {
            Control::Stop
        } else {
            Control::Continue
        }
    }

    fn on_epoch(&mut self, m: &EpochMetrics) -> Control {
        self.pending = Some(m.clone());
        if crate::interrupted() || self.error.is_some() {
            Control::Stop
        } else {
            Control::Continue
        }
    }
}

impl RunObserver<'_> {
    /// Writes the epoch stored by `on_epoch` to epochs.csv, metrics.jsonl and the terminal, with
    /// the test accuracy measured after it (when `--target-accuracy` asks for one).
    fn log_epoch(&mut self, test_accuracy: Option<f64>) {
        let Some(m) = self.pending.take() else {
            return;
        };
        let line = format!(
            "{},{},{},{},{},{},{},{},{},{},{}",
            m.epoch,
            m.steps,
            m.lr,
            m.train_loss,
            m.reg_loss,
            m.train_accuracy,
            opt(m.train_eval_accuracy),
            opt(m.val_loss),
            opt(m.val_accuracy),
            opt(test_accuracy),
            m.seconds
        );
        let r = self.epochs_csv.line(&line);
        self.record(r);
        let mut j = serde_json::to_value(&m).unwrap_or_default();
        if let Some(o) = j.as_object_mut() {
            o.insert("type".into(), "epoch".into());
            if let Some(t) = test_accuracy {
                o.insert("test_accuracy".into(), t.into());
            }
        }
        let r = self.jsonl.line(&j.to_string());
        self.record(r);
        let text = format!(
            "epoch {:>2}/{}  loss {:.4}  train {}  val {}{}  lr {:.2e}  upd/w {}  {:.1}s{}",
            m.epoch,
            self.epochs,
            m.train_loss + m.reg_loss,
            pct(m.train_eval_accuracy.or(Some(m.train_accuracy))),
            pct(m.val_accuracy),
            test_accuracy.map_or_else(String::new, |t| format!("  test {}", pct(Some(t)))),
            m.lr,
            ratio_summary(&m),
            m.seconds,
            if m.improved { "  *" } else { "" }
        );
        match &self.bar {
            Some(b) if !b.is_hidden() => b.println(text),
            _ => self.ui.info(&text),
        }
        self.ui.json(&j);
    }
}

/// Where a run comes from.
pub enum Start {
    /// Fresh weights from the config's seed.
    Fresh,
    /// Weights from a safetensors file.
    InitFrom(PathBuf),
    /// The checkpoint of an interrupted run in this directory.
    Resume(PathBuf),
}

/// Architecture of a spec without initialiser details, to compare a checkpoint with a config.
fn structure(spec: &nn_core::NetworkSpec) -> Vec<String> {
    let dims = spec.dims().unwrap_or_default();
    spec.layers
        .iter()
        .zip(dims.iter().skip(1))
        .map(|(l, d)| {
            let kind = serde_json::to_value(l)
                .ok()
                .and_then(|v| v.get("layer").and_then(|k| k.as_str()).map(String::from))
                .unwrap_or_default();
            format!("{kind}({d})")
        })
        .collect()
}

fn trainer_error(path: &Path, e: nn_train::TrainError) -> CliError {
    match e {
        nn_train::TrainError::Io { .. } => CliError::Model {
            path: path.to_path_buf(),
            message: format!("{e}"),
        },
        other => CliError::Model {
            path: path.to_path_buf(),
            message: other.to_string(),
        },
    }
}

/// Checks that `dir` can be written before any training starts: creates it, writes a probe file
/// atomically (temporary sibling, fsync, rename) and removes it.
///
/// # Errors
/// [`CliError::Save`] naming the directory and the OS error (a path component that is a regular
/// file, no permission, a full disk, a read-only file system).
pub fn probe_run_dir(dir: &Path) -> Result<()> {
    let fail = |path: &Path, source: std::io::Error| CliError::Save {
        path: path.to_path_buf(),
        what: "the run directory".into(),
        source,
        hint: "choose another directory with --out, or fix its permissions or free disk space; \
               nothing was trained"
            .into(),
    };
    std::fs::create_dir_all(dir).map_err(|e| fail(dir, e))?;
    let probe = dir.join(".nn-write-probe");
    nn_preprocess::write_atomic(&probe, b"probe").map_err(|e| match e {
        nn_preprocess::PreprocessError::Io { source, .. } => fail(dir, source),
        other => CliError::Library(other.to_string()),
    })?;
    std::fs::remove_file(&probe).map_err(|e| fail(&probe, e))
}

/// Whether `name` is a temporary file of an atomic write: `.<name>.tmp<pid>` (nn-preprocess,
/// nn-train) or `.<name>.<pid>.tmp` (nn-core).
fn is_temporary(name: &str) -> bool {
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    name.starts_with('.')
        && (name.rsplit_once(".tmp").is_some_and(|(_, pid)| digits(pid))
            || name
                .strip_suffix(".tmp")
                .and_then(|rest| rest.rsplit_once('.'))
                .is_some_and(|(_, pid)| digits(pid)))
}

/// Removes the temporary files that atomic writes leave in `dir` when the process is killed
/// mid-write. They are never read (a resume opens files by their final names); this only frees
/// their space.
fn remove_stale_temporaries(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if is_temporary(&name) {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// Rewrites the log at `path` (atomically) keeping the lines `keep` accepts; the first line is
/// kept when `header` is set, and a last line without its newline (cut by a kill) is dropped.
/// A resumed run calls this so its logs hold each step and epoch once: the lines written after
/// the checkpoint it resumes from are written again by the resumed run.
fn truncate_log(path: &Path, header: bool, keep: impl Fn(&str) -> bool) -> Result<()> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return Ok(());
    };
    let complete = match text.rfind('\n') {
        Some(i) => &text[..=i],
        None => "",
    };
    let mut out = String::with_capacity(complete.len());
    for (i, line) in complete.lines().enumerate() {
        if (header && i == 0) || keep(line) {
            out.push_str(line);
            out.push('\n');
        }
    }
    if out.len() != text.len() {
        report::write_atomic(path, out.as_bytes())?;
    }
    Ok(())
}

/// The `k`-th comma-separated field of a CSV line as an integer.
fn field(line: &str, k: usize) -> Option<u64> {
    line.split(',').nth(k).and_then(|v| v.trim().parse().ok())
}

/// Drops the log lines of the steps and epochs after the checkpoint (`epoch`, `step`).
fn truncate_logs(dir: &Path, epoch: usize, step: u64) -> Result<()> {
    let epoch = epoch as u64;
    truncate_log(&dir.join("steps.csv"), true, |l| {
        field(l, 1).is_some_and(|s| s <= step)
    })?;
    truncate_log(&dir.join("epochs.csv"), true, |l| {
        field(l, 0).is_some_and(|e| e <= epoch)
    })?;
    truncate_log(&dir.join("metrics.jsonl"), false, |l| {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(l) else {
            return false;
        };
        match v.get("type").and_then(|t| t.as_str()) {
            Some("step") => v
                .get("step")
                .and_then(|s| s.as_u64())
                .is_some_and(|s| s <= step),
            Some("epoch") => v
                .get("epoch")
                .and_then(|e| e.as_u64())
                .is_some_and(|e| e <= epoch),
            _ => false,
        }
    })
}

/// A failed checkpoint write: stop, name the file and the intact checkpoint.
fn save_error(
    run_dir: &Path,
    path: &Path,
    epoch: usize,
    saved: Option<usize>,
    source: std::io::Error,
) -> CliError {
    let hint = match saved {
        Some(k) => format!(
            "training stopped; the checkpoint of epoch {k} is intact. Fix the problem (free disk \
             space, permissions) and continue with: nn train --resume {}",
            run_dir.display()
        ),
        None => "training stopped before any checkpoint was saved; fix the problem (free disk \
                 space, permissions) and start again"
            .into(),
    };
    CliError::Save {
        path: path.to_path_buf(),
        what: format!("the checkpoint of epoch {epoch}"),
        source,
        hint,
    }
}

/// Runs (or resumes) one training run and writes its directory.
///
/// # Errors
/// Data, config, checkpoint and I/O errors; [`CliError::Interrupted`] is never returned: an
/// interrupted run returns its summary with [`StopReason::Interrupted`].
pub fn train_run(config: &RunConfig, start: Start, run_dir: &Path, ui: &Ui) -> Result<RunSummary> {
    let saved_pre = run_dir.join(PREPROCESS);
    let resuming = matches!(start, Start::Resume(_));
    let data = data::prepare(
        &config.data,
        config.train.seed,
        resuming.then_some(saved_pre.as_path()),
    )?;
    train_prepared(config, start, run_dir, ui, data)
}

/// [`train_run`] on data already loaded and preprocessed by [`data::prepare`] (for a resumed
/// run, with the preprocessing saved in `run_dir`).
///
/// # Errors
/// As [`train_run`].
pub fn train_prepared(
    config: &RunConfig,
    start: Start,
    run_dir: &Path,
    ui: &Ui,
    data: data::Prepared,
) -> Result<RunSummary> {
    let t0 = Instant::now();
    let resuming = matches!(start, Start::Resume(_));
    let saved_pre = run_dir.join(PREPROCESS);
    let data::Prepared {
        train,
        val,
        test,
        pre,
        format,
        dir: data_dir,
        seconds: data_seconds,
    } = data;
    let classes = train.n_classes();
    let ckpt = run_dir.join(CHECKPOINT);
    let mut trainer = match &start {
        Start::Resume(_) => Trainer::resume(&ckpt).map_err(|e| trainer_error(&ckpt, e))?,
        Start::Fresh => {
            Trainer::new(config.train_config(train.n_features(), classes, train.len())?)?
        }
        Start::InitFrom(path) => {
            let tc = config.train_config(train.n_features(), classes, train.len())?;
            let net = model::load_network(path)?;
            if structure(net.spec()) != structure(&tc.model)
                || net.input_dim() != tc.model.input_dim
            {
                return Err(CliError::Model {
                    path: path.clone(),
                    message: format!(
                        "it holds a {}-input network [{}], but the config builds a {}-input network [{}]",
                        net.input_dim(),
                        structure(net.spec()).join(", "),
                        tc.model.input_dim,
                        structure(&tc.model).join(", ")
                    ),
                });
            }
            Trainer::from_network(tc, net)?
        }
    };
    probe_run_dir(run_dir)?;
    if resuming {
        remove_stale_temporaries(run_dir);
        truncate_logs(run_dir, trainer.epoch(), trainer.step())?;
    }
    if !resuming {
        report::write_atomic(&run_dir.join(CONFIG), config.to_toml().as_bytes())?;
        pre.save(&saved_pre)?;
    }
    let (steps_csv, epochs_csv, jsonl) = if resuming {
        (
            LineLog::append(&run_dir.join("steps.csv"))?,
            LineLog::append(&run_dir.join("epochs.csv"))?,
            LineLog::append(&run_dir.join("metrics.jsonl"))?,
        )
    } else {
        (
            LineLog::create(&run_dir.join("steps.csv"), Some("epoch,step,lr,data_loss,reg_loss,batch_accuracy,grad_norm"))?,
            LineLog::create(
                &run_dir.join("epochs.csv"),
                Some("epoch,steps,lr,train_loss,reg_loss,train_accuracy,train_eval_accuracy,val_loss,val_accuracy,test_accuracy,seconds"),
            )?,
            LineLog::create(&run_dir.join("metrics.jsonl"), None)?,
        )
    };
    let net = trainer.network();
    ui.info(&format!(
        "data: {} ({:?}) train {} / val {} / test {} examples, {} features, {} classes",
        data_dir.display(),
        format,
        train.len(),
        val.as_ref().map_or(0, Dataset::len),
        test.len(),
        train.n_features(),
        classes
    ));
    ui.info(&format!(
        "model: {} ({} parameters), {:?} lr {:.1e}, {:?} schedule, batch {}, {} epochs, seed {}{}",
        std::iter::once(net.input_dim().to_string())
            .chain(config.model.hidden.iter().map(|h| h.to_string()))
            .chain(std::iter::once(classes.to_string()))
            .collect::<Vec<_>>()
            .join("-"),
        net.num_params(),
        config.train.optimizer,
        config.train.lr,
        config.train.schedule,
        config.train.batch_size,
        config.train.epochs,
        config.train.seed,
        if resuming {
            format!(", resuming after epoch {}", trainer.epoch())
        } else {
            String::new()
        }
    ));
    ui.info(&format!("run directory: {}", run_dir.display()));
    let bar = ui.progress().then(|| {
        let b = ProgressBar::with_draw_target(Some(1), ProgressDrawTarget::stderr());
        b.set_style(
            ProgressStyle::with_template(
                "{prefix} [{bar:30}] {pos}/{len} {per_sec} eta {eta} {msg}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
        );
        b
    });
    let mut obs = RunObserver {
        ui,
        steps_csv,
        epochs_csv,
        jsonl,
        bar,
        epochs: config.train.epochs,
        ratios: BTreeMap::new(),
        error: None,
        warned: std::collections::BTreeSet::new(),
        pending: None,
    };
    crate::install_ctrlc();
    // The epoch of the last checkpoint known to be whole on disk.
    let mut saved = resuming.then(|| trainer.epoch());
    let target = config.train.target_accuracy;
    let (mut train_clock, mut target_epoch, mut time_to_target) =
        (std::time::Duration::ZERO, None, None);
    let stopped = loop {
        let before = trainer.epoch();
        let epoch_start = Instant::now();
        let mut r = trainer.run_epoch(&train, val.as_ref(), &mut obs)?;
        // With a target, the test split is evaluated (in chunks) after every completed epoch.
        let test_accuracy = match (target, obs.pending.is_some()) {
            (Some(_), true) => Some(
                nn_train::trainer::evaluate_network(
                    trainer.network(),
                    &trainer.config().loss,
                    &test,
                )?
                .accuracy,
            ),
            _ => None,
        };
        train_clock += epoch_start.elapsed();
        if let (Some(goal), Some(acc)) = (target, test_accuracy) {
            if acc >= goal && target_epoch.is_none() {
                target_epoch = Some(trainer.epoch());
                time_to_target = Some(train_clock.as_secs_f64());
                if r.is_none() {
                    r = Some(StopReason::Completed);
                }
            }
        }
        obs.log_epoch(test_accuracy);
        if let Some(e) = obs.error.take() {
            return Err(e);
        }
        if trainer.epoch() > before || r == Some(StopReason::Interrupted) || r.is_some() {
            let epoch = trainer.epoch();
            trainer.save_checkpoint(&ckpt).map_err(|e| match e {
                nn_train::TrainError::Io { path, source } => {
                    save_error(run_dir, &path, epoch, saved, source)
                }
                nn_train::TrainError::Preprocess(nn_preprocess::PreprocessError::Io {
                    path,
                    source,
                }) => save_error(run_dir, &path, epoch, saved, source),
                other => trainer_error(&ckpt, other),
            })?;
            saved = Some(epoch);
            for (name, net) in [
                (FINAL, Some(trainer.network())),
                (BEST, trainer.best_network()),
            ] {
                if let Some(net) = net {
                    let path = run_dir.join(name);
                    net.save(&path).map_err(|e| match e {
                        nn_core::CoreError::Io(source) => {
                            save_error(run_dir, &path, epoch, saved, source)
                        }
                        other => other.into(),
                    })?;
                }
            }
        }
        if let Some(reason) = r {
            break reason;
        }
    };
    if let Some(b) = &obs.bar {
        b.finish_and_clear();
    }
    let history = trainer.history().to_vec();
    let kept: &Network<f32> = trainer.best_network().unwrap_or(trainer.network());
    let test_eval = nn_train::trainer::evaluate_network(kept, &trainer.config().loss, &test)?;
    let last = history.last();
    let summary = RunSummary {
        run_dir: run_dir.to_path_buf(),
        stopped,
        epochs: trainer.epoch(),
        best_epoch: trainer.best_epoch(),
        best_val_accuracy: history
            .iter()
            .filter_map(|e| e.val_accuracy)
            .fold(None, |a: Option<f64>, v| Some(a.map_or(v, |a| a.max(v)))),
        final_val_accuracy: last.and_then(|e| e.val_accuracy),
        final_train_loss: last.map(|e| e.train_loss),
        test_accuracy: test_eval.accuracy,
        test_loss: test_eval.loss,
        diagnosis: trainer.diagnosis().map(str::to_owned),
        seconds: data_seconds + t0.elapsed().as_secs_f64(),
        target_accuracy: target,
        target_epoch,
        time_to_target_seconds: time_to_target,
    };
    // summary.json also records the process's peak memory (not part of RunSummary: it differs
    // between identical runs, which `nn search` results must not).
    let mut value = serde_json::to_value(&summary).map_err(|e| CliError::Library(e.to_string()))?;
    if let Some(o) = value.as_object_mut() {
        o.insert(
            "peak_rss_bytes".into(),
            report::peak_rss_bytes().map_or(serde_json::Value::Null, Into::into),
        );
    }
    let json = serde_json::to_vec_pretty(&value).map_err(|e| CliError::Library(e.to_string()))?;
    report::write_atomic(&run_dir.join(SUMMARY), &json)?;
    write_plots(
        run_dir,
        config,
        &history,
        &obs.ratios,
        kept,
        val.as_ref().unwrap_or(&train),
        &summary,
    )?;
    Ok(summary)
}

/// Histograms of every activation layer's output on up to 500 examples (evaluation mode).
fn activation_histograms(net: &Network<f32>, data: &Dataset) -> Result<Vec<Hist>> {
    let x = data.features();
    let x = x.slice(ndarray::s![..data.len().min(500), ..]);
    let mut out = Vec::new();
    // Evaluation mode draws nothing; the RNG is only a required argument.
    let mut rng = <rand_chacha::ChaCha8Rng as rand::SeedableRng>::seed_from_u64(0);
    net.forward_layers(x, nn_core::Mode::Eval, &mut rng, |i, layer, _, y| {
        let LayerKind::Activation(a) = layer else {
            return;
        };
        let (lo, hi) = y
            .iter()
            .fold((f32::INFINITY, f32::NEG_INFINITY), |(l, h), &v| {
                (l.min(v), h.max(v))
            });
        let bins = 30;
        let mut counts = vec![0u64; bins];
        let w = (hi - lo) / bins as f32;
        for &v in y {
            let b = if w > 0.0 {
                (((v - lo) / w) as usize).min(bins - 1)
            } else {
                0
            };
            counts[b] += 1;
        }
        let n = y.len().max(1) as f64;
        let mean = y.iter().map(|&v| f64::from(v)).sum::<f64>() / n;
        let std = (y
            .iter()
            .map(|&v| (f64::from(v) - mean).powi(2))
            .sum::<f64>()
            / n)
            .sqrt();
        out.push(Hist {
            label: format!("layer {i} {} (std {std:.2})", a.activation.name()),
            low: f64::from(lo),
            high: f64::from(hi),
            counts,
        });
    })?;
    Ok(out)
}

fn write_plots(
    dir: &Path,
    config: &RunConfig,
    history: &[EpochMetrics],
    ratios: &BTreeMap<String, Vec<(f64, f64)>>,
    net: &Network<f32>,
    sample: &Dataset,
    summary: &RunSummary,
) -> Result<()> {
    let ep = |f: &dyn Fn(&EpochMetrics) -> Option<f64>| -> Vec<(f64, f64)> {
        history
            .iter()
            .filter_map(|e| f(e).map(|v| (e.epoch as f64, v)))
            .collect()
    };
    // Per-step loss from the CSV log (covers resumed runs too).
    let steps_text = std::fs::read_to_string(dir.join("steps.csv")).unwrap_or_default();
    let mut step_loss = Vec::new();
    let mut step_lr = Vec::new();
    for line in steps_text.lines().skip(1) {
        let f: Vec<f64> = line
            .split(',')
            .map(|s| s.parse().unwrap_or(f64::NAN))
            .collect();
        if f.len() >= 5 {
            step_loss.push((f[1], f[3] + f[4]));
            step_lr.push((f[1], f[2]));
        }
    }
    let loss = svg::line_chart(
        "loss",
        "step",
        "loss",
        &[Series {
            name: "batch loss".into(),
            points: step_loss,
        }],
        true,
    );
    let acc = svg::line_chart(
        "accuracy",
        "epoch",
        "accuracy",
        &[
            Series {
                name: "train".into(),
                points: ep(&|e| e.train_eval_accuracy.or(Some(e.train_accuracy))),
            },
            Series {
                name: "val".into(),
                points: ep(&|e| e.val_accuracy),
            },
        ],
        false,
    );
    let lr = svg::line_chart(
        "learning rate",
        "step",
        "lr",
        &[Series {
            name: "lr".into(),
            points: step_lr,
        }],
        true,
    );
    let ratio_series: Vec<Series> = ratios
        .iter()
        .map(|(n, p)| Series {
            name: n.clone(),
            points: p.clone(),
        })
        .collect();
    let ratio = svg::line_chart(
        "update/weight ratio per layer (healthy ≈ 1e-3)",
        "step",
        "ratio",
        &ratio_series,
        true,
    );
    let hists = activation_histograms(net, sample)?;
    let act = svg::histograms(
        "activations per layer (kept model, validation examples)",
        &hists,
    );
    let files = [
        ("loss.svg", &loss),
        ("accuracy.svg", &acc),
        ("lr.svg", &lr),
        ("update-ratio.svg", &ratio),
        ("activations.svg", &act),
    ];
    for (name, text) in files {
        report::write_atomic(&dir.join(name), text.as_bytes())?;
    }
    let epochs_text: String = history.iter().map(|e| format!("{e}\n")).collect();
    let sections = vec![
        Section {
            title: "Result".into(),
            text: format!(
                "test accuracy {:.4} (loss {:.4}), stopped: {:?}, {} epochs, best epoch {:?}, {:.1}s\n\n{}",
                summary.test_accuracy,
                summary.test_loss,
                summary.stopped,
                summary.epochs,
                summary.best_epoch,
                summary.seconds,
                epochs_text
            ),
            svgs: vec![loss, acc],
        },
        Section { title: "Learning rate and update/weight ratios".into(), text: String::new(), svgs: vec![lr, ratio] },
        Section { title: "Activations".into(), text: String::new(), svgs: vec![act] },
        Section { title: "Config".into(), text: config.to_toml(), svgs: vec![] },
    ];
    let mut sections = sections;
    if let Some(r) = std::fs::read(dir.join("sanity.json"))
        .ok()
        .and_then(|b| serde_json::from_slice::<nn_train::sanity::SanityReport>(&b).ok())
    {
        sections.insert(
            1,
            Section {
                title: "Sanity checks".into(),
                text: r.to_string(),
                svgs: vec![],
            },
        );
    }
    report::write_atomic(
        &dir.join("report.html"),
        report::html(&format!("nn run {}", dir.display()), &sections).as_bytes(),
    )
}

/// The babysitting checks of `nn sanity` (the same as [`super::sanity::check`]) on a training
/// split already loaded and preprocessed.
fn sanity_checks(config: &RunConfig, train: &Dataset) -> Result<nn_train::sanity::SanityReport> {
    let tc = config.train_config(train.n_features(), train.n_classes(), train.len())?;
    let mut rng = <rand_chacha::ChaCha8Rng as rand::SeedableRng>::seed_from_u64(config.train.seed);
    Ok(nn_train::sanity::run_sanity(
        &tc,
        train,
        &nn_train::sanity::SanityConfig::default(),
        &mut rng,
    )?)
}

/// Runs `nn train`.
///
/// # Errors
/// As [`train_run`].
pub fn run(args: &TrainArgs, threads: Option<usize>, ui: &Ui) -> Result<()> {
    let (config, start, dir) = if let Some(dir) = &args.resume {
        let cfg_path = dir.join(CONFIG);
        // The state file is the commit point of a checkpoint (see nn_train::checkpoint): a save
        // killed before its first commit leaves no resumable checkpoint.
        let state = nn_train::checkpoint::state_path(&dir.join(CHECKPOINT));
        if !state.is_file() || !cfg_path.is_file() {
            return Err(CliError::usage(
                format!(
                    "{} is not a resumable run directory (no {CHECKPOINT} with its state file, or no {CONFIG})",
                    dir.display()
                ),
                "pass the directory an interrupted `nn train` printed as its run directory",
            ));
        }
        let mut c = RunConfig::from_file(&cfg_path)?;
        if threads.is_some() {
            c.threads = threads;
        }
        (c, Start::Resume(dir.clone()), dir.clone())
    } else {
        let c = args.config.effective(threads)?;
        if args.print_config {
            print!("{}", c.to_toml());
            return Ok(());
        }
        let dir = c
            .out
            .clone()
            .unwrap_or_else(|| report::next_run_dir(Path::new("runs"), "run"));
        let start = match &args.init_from {
            Some(p) => Start::InitFrom(p.clone()),
            None => Start::Fresh,
        };
        (c, start, dir)
    };
    // Fail before the sanity checks and the data loading if the results cannot be written.
    probe_run_dir(&dir)?;
    let summary = crate::with_threads(config.threads, || {
        if args.no_sanity || matches!(start, Start::Resume(_)) {
            return train_run(&config, start, &dir, ui);
        }
        // The data is loaded once, for the sanity checks and the run (loading it twice would
        // double the time and, while the checks' copy is alive, the memory).
        let data = data::prepare(&config.data, config.train.seed, None)?;
        let report = sanity_checks(&config, &data.train)?;
        report::create_dir(&dir)?;
        let json =
            serde_json::to_vec_pretty(&report).map_err(|e| CliError::Library(e.to_string()))?;
        report::write_atomic(&dir.join("sanity.json"), &json)?;
        ui.info(&report.to_string());
        if !report.all_passed() {
            ui.warn("a sanity check failed (see above); training anyway");
        }
        train_prepared(&config, start, &dir, ui, data)
    })?;
    ui.json(&serde_json::json!({ "type": "summary", "summary": summary }));
    if ui.is_quiet() {
        println!("{:.4}", summary.test_accuracy);
    }
    ui.info(&format!(
        "stopped: {:?} after {} epochs in {:.1}s; best val {} (epoch {})",
        summary.stopped,
        summary.epochs,
        summary.seconds,
        pct(summary.best_val_accuracy),
        summary.best_epoch.map_or("-".into(), |e| e.to_string())
    ));
    if let Some(diagnosis) = &summary.diagnosis {
        ui.warn(diagnosis);
    }
    if let Some(goal) = summary.target_accuracy {
        ui.info(
            &match (summary.target_epoch, summary.time_to_target_seconds) {
                (Some(e), Some(t)) => format!(
                    "target test accuracy {} reached after epoch {e} in {t:.1}s of training",
                    pct(Some(goal))
                ),
                _ => format!("target test accuracy {} not reached", pct(Some(goal))),
            },
        );
    }
    ui.info(&format!(
        "test accuracy: {:.2}%  peak memory {}  (report: {})",
        100.0 * summary.test_accuracy,
        report::peak_rss_bytes()
            .map_or_else(|| "unknown".into(), |b| format!("{:.1} MB", b as f64 / 1e6)),
        dir.join("report.html").display()
    ));
    if summary.stopped == StopReason::Interrupted {
        ui.warn(&format!(
            "interrupted; the last completed epoch is saved. Continue with: nn train --resume {}",
            dir.display()
        ));
        return Err(CliError::Interrupted);
    }
    Ok(())
}
