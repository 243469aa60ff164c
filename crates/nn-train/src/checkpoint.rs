//! Checkpoints of a [`Trainer`]: the network as safetensors at `<path>` (the file
//! [`nn_core::Network::save`] writes, usable on its own), the best network at
//! `<path>.best.safetensors` when there is one, and everything else (configuration, optimiser and
//! schedule state, EMA, counters, history, early-stopping state) as JSON at `<path>.state.json`.
//!
//! # Crash safety
//! Every file is written atomically (temporary sibling, fsync, rename, fsync of the directory), and
//! a save is a small journal whose commit point is the state file:
//!
//! 1. the new network goes to `<path>.next` and the new best network to
//!    `<path>.best.safetensors.next`;
//! 2. the state file is replaced (it records an FNV-1a hash of each network file): **commit**;
//! 3. the `.next` files are renamed over `<path>` and `<path>.best.safetensors`.
//!
//! A process killed before step 2 leaves the previous checkpoint whole (a `.next` file whose hash
//! the state does not name is ignored and removed by the next [`Trainer::resume`]). A process
//! killed after step 2 leaves a state whose hashes name the `.next` files: [`Trainer::resume`]
//! finishes step 3 (rolls forward) and loads the new checkpoint. So a resume always sees the
//! files of exactly one save, and continues bit-identically: floats go through JSON with exact
//! round trips. Files that do not match the state by any of these routes (for example copied
//! from two different runs) give [`TrainError::Checkpoint`] naming both hashes and what to do.
//!
//! Until step 3 has run, `<path>` itself still holds the previous save's network, which
//! [`nn_core::Network::load`] reads as usual.

use std::path::{Path, PathBuf};

use nn_core::Network;
use serde::{Deserialize, Serialize};

use crate::config::TrainConfig;
use crate::error::{Result, TrainError};
use crate::eval::Ema;
use crate::observer::EpochMetrics;
use crate::optim::{Optimizer, OptimizerCheckpoint};
use crate::schedule::Schedule;
use crate::trainer::{Best, StopReason, Trainer};

/// The format marker in the state file.
const FORMAT: &str = "nn-train-checkpoint/1";

/// `<path>` with `suffix` appended to its file name.
pub fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path
        .file_name()
        .map(|s| s.to_os_string())
        .unwrap_or_default();
    name.push(suffix);
    path.with_file_name(name)
}

/// The state file of the checkpoint at `path`: `<path>.state.json`.
pub fn state_path(path: &Path) -> PathBuf {
    sibling(path, ".state.json")
}

/// The best-network file of the checkpoint at `path`: `<path>.best.safetensors`.
pub fn best_path(path: &Path) -> PathBuf {
    sibling(path, ".best.safetensors")
}

/// FNV-1a (64 bit) of `bytes`, as 16 hex digits: a cheap consistency check between files.
fn fnv1a(bytes: &[u8]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{h:016x}")
}

#[derive(Serialize, Deserialize)]
struct BestState {
    epoch: usize,
    val_accuracy: f64,
    hash: String,
}

#[derive(Serialize, Deserialize)]
struct TrainerState {
    format: String,
    config: TrainConfig,
    network_hash: String,
    optimizer: OptimizerCheckpoint<f32>,
    schedule: Schedule,
    ema: Option<Ema<f32>>,
    epoch: usize,
    step: u64,
    initial_loss: Option<f64>,
    history: Vec<EpochMetrics>,
    best: Option<BestState>,
    since_best: usize,
    patience_best: Option<f64>,
    finished: Option<StopReason>,
    diagnosis: Option<String>,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> TrainError + '_ {
    move |source| TrainError::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn bad(path: &Path, reason: impl Into<String>) -> TrainError {
    TrainError::Checkpoint {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

/// Where a save puts the new version of `file` until the state file commits it: `<file>.next`.
pub fn next_path(file: &Path) -> PathBuf {
    sibling(file, ".next")
}

/// The directory of `path` (`.` for a bare file name).
fn dir_of(path: &Path) -> PathBuf {
    match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Renames `from` over `to` and makes the rename durable.
fn promote(from: &Path, to: &Path) -> Result<()> {
    std::fs::rename(from, to).map_err(io(to))?;
    if let Ok(d) = std::fs::File::open(dir_of(to)) {
        // A failed directory fsync loses no data (the rename happened), so it is not an error.
        let _ = d.sync_all();
    }
    Ok(())
}

/// The bytes of the version of `file` whose hash is `hash`: `file` itself, or its pending
/// `.next` version from a save that committed but was killed before moving it into place (then
/// moved now). A `.next` file the state does not name is left from a save killed before its
/// commit and is removed.
fn settle(file: &Path, hash: &str) -> Result<Vec<u8>> {
    let next = next_path(file);
    let current = match std::fs::read(file) {
        Ok(b) => Some(b),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(io(file)(e)),
    };
    if let Some(b) = current.as_ref().filter(|b| fnv1a(b) == hash) {
        let _ = std::fs::remove_file(&next);
        return Ok(b.clone());
    }
    let pending = match std::fs::read(&next) {
        Ok(b) => Some(b),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(io(&next)(e)),
    };
    match (pending, current) {
        (Some(b), _) if fnv1a(&b) == hash => {
            promote(&next, file)?;
            Ok(b)
        }
        (_, None) => Err(io(file)(std::io::Error::new(
            std::io::ErrorKind::NotFound,
            "the checkpoint's network file is missing",
        ))),
        (_, Some(b)) => Err(bad(
            file,
            format!(
                "the network file (hash {}) is not the one the state file {} names (hash {hash}), \
                 so the files come from different saves (copied or edited by hand?); \
                 to recover, put back the files of one save together, or start a new run from \
                 this network with `--init-from`",
                fnv1a(&b),
                state_path(file).display()
            ),
        )),
    }
}

/// Removes the temporary files an atomic write of one of the checkpoint's files leaves when the
/// process is killed mid-write (`.<name>.tmp<pid>` beside the file). Best effort: they are never
/// read, only space is at stake.
fn remove_stale_temporaries(path: &Path) {
    let dir = dir_of(path);
    let best = best_path(path);
    let names: Vec<String> = [
        path.to_path_buf(),
        next_path(path),
        state_path(path),
        best.clone(),
        next_path(&best),
    ]
    .iter()
    .filter_map(|p| {
        p.file_name()
            .map(|n| format!(".{}.tmp", n.to_string_lossy()))
    })
    .collect();
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let is_temp = names.iter().any(|prefix| {
            name.strip_prefix(prefix.as_str())
                .is_some_and(|pid| !pid.is_empty() && pid.bytes().all(|b| b.is_ascii_digit()))
        });
        if is_temp {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

impl Trainer {
    /// Writes a checkpoint at `path` (see the [module docs](crate::checkpoint) for the files).
    ///
    /// # Errors
    /// [`TrainError::Io`] or [`TrainError::Preprocess`] if a file cannot be written;
    /// [`TrainError::Checkpoint`] if the state cannot be serialised.
    ///
    /// # Example
    /// ```
    /// use nn_core::NetworkSpec;
    /// use nn_train::{config::TrainConfig, trainer::Trainer};
    /// let config = TrainConfig { model: NetworkSpec::mlp(3, &[4], 2, &Default::default())?, ..Default::default() };
    /// let trainer = Trainer::new(config)?;
    /// let path = std::env::temp_dir().join(format!("nn-train-doc-{}.safetensors", std::process::id()));
    /// trainer.save_checkpoint(&path)?;
    /// let back = Trainer::resume(&path)?;
    /// assert_eq!(back.network().to_safetensors()?, trainer.network().to_safetensors()?);
    /// std::fs::remove_file(&path)?;
    /// std::fs::remove_file(nn_train::checkpoint::state_path(&path))?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn save_checkpoint(&self, path: &Path) -> Result<()> {
        self.save_stages(path, usize::MAX)
    }

    /// [`Trainer::save_checkpoint`], stopping after `stages` file operations (tests simulate a
    /// crash between any two of them; `usize::MAX` runs all).
    pub(crate) fn save_stages(&self, path: &Path, stages: usize) -> Result<()> {
        let mut done = 0usize;
        let mut stage = |op: &mut dyn FnMut() -> Result<()>| -> Result<bool> {
            if done >= stages {
                return Ok(false);
            }
            op()?;
            done += 1;
            Ok(true)
        };
        let best_bytes = match &self.best {
            Some(b) => Some(b.net.to_safetensors()?),
            None => None,
        };
        let bytes = self.net.to_safetensors()?;
        let best = match (&self.best, &best_bytes) {
            (Some(b), Some(bb)) => Some(BestState {
                epoch: b.epoch,
                val_accuracy: b.val_accuracy,
                hash: fnv1a(bb),
            }),
            _ => None,
        };
        let state = TrainerState {
            format: FORMAT.to_string(),
            config: self.config.clone(),
            network_hash: fnv1a(&bytes),
            optimizer: self.opt.checkpoint(),
            schedule: self.schedule.clone(),
            ema: self.ema.clone(),
            epoch: self.epoch,
            step: self.step,
            initial_loss: self.initial_loss,
            history: self.history.clone(),
            best,
            since_best: self.since_best,
            patience_best: self.patience_best,
            finished: self.finished,
            diagnosis: self.diagnosis.clone(),
        };
        let (net_next, best_file) = (next_path(path), best_path(path));
        let best_next = next_path(&best_file);
        // 1. The new files beside the old ones.
        if !stage(&mut || Ok(nn_preprocess::write_atomic(&net_next, &bytes)?))? {
            return Ok(());
        }
        if let Some(bb) = &best_bytes {
            if !stage(&mut || Ok(nn_preprocess::write_atomic(&best_next, bb)?))? {
                return Ok(());
            }
        }
        // 2. Commit.
        // Streamed: the JSON of the optimiser's moments is several times the network's size.
        let write_state = || {
            nn_preprocess::write_atomic_with(&state_path(path), |w| {
                serde_json::to_writer(w, &state).map_err(std::io::Error::from)
            })
        };
        if !stage(&mut || Ok(write_state()?))? {
            return Ok(());
        }
        // 3. Move the new files into place.
        if !stage(&mut || promote(&net_next, path))? {
            return Ok(());
        }
        if best_bytes.is_some() {
            stage(&mut || promote(&best_next, &best_file))?;
        }
        Ok(())
    }

    /// Restores a trainer from a checkpoint written by [`Trainer::save_checkpoint`]; `fit`
    /// then runs the remaining epochs exactly as an uninterrupted run would (same seed, same
    /// data).
    ///
    /// # Errors
    /// [`TrainError::Io`] if a file cannot be read; [`TrainError::Checkpoint`] if the state does
    /// not parse, has another format, or does not match the network files (hash or spec);
    /// [`TrainError::Core`] for a malformed network file; the config's validation errors.
    pub fn resume(path: &Path) -> Result<Self> {
        let sp = state_path(path);
        let text = std::fs::read(&sp).map_err(io(&sp))?;
        let state: TrainerState =
            serde_json::from_slice(&text).map_err(|e| bad(&sp, e.to_string()))?;
        if state.format != FORMAT {
            return Err(bad(
                &sp,
                format!("format {:?}, expected {FORMAT:?}", state.format),
            ));
        }
        remove_stale_temporaries(path);
        let bytes = settle(path, &state.network_hash)?;
        let net = Network::<f32>::from_safetensors(&bytes)?;
        if net.spec() != &state.config.model {
            return Err(bad(
                path,
                "the network's spec differs from the config's model",
            ));
        }
        let best = match state.best {
            Some(b) => {
                let bytes = settle(&best_path(path), &b.hash)?;
                Some(Best {
                    epoch: b.epoch,
                    val_accuracy: b.val_accuracy,
                    net: Network::from_safetensors(&bytes)?,
                })
            }
            None => None,
        };
        let mut trainer = Trainer::from_network(state.config, net)?;
        trainer.opt = Optimizer::from_checkpoint(state.optimizer)?;
        if trainer.schedule.config() != state.schedule.config() {
            return Err(bad(
                &sp,
                "the schedule state differs from the config's schedule",
            ));
        }
        trainer.schedule = state.schedule;
        trainer.ema = state.ema;
        trainer.epoch = state.epoch;
        trainer.step = state.step;
        trainer.initial_loss = state.initial_loss;
        trainer.history = state.history;
        trainer.best = best;
        trainer.since_best = state.since_best;
        trainer.patience_best = state.patience_best;
        trainer.finished = state.finished;
        trainer.diagnosis = state.diagnosis;
        Ok(trainer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;
    use nn_core::{MlpOptions, NetworkSpec};
    use nn_preprocess::Dataset;

    /// Three noisy blobs in 6 dimensions (a deterministic pattern, no generator needed).
    fn blobs(n: usize) -> Dataset {
        let x = Array2::from_shape_fn((n, 6), |(i, j)| {
            let centre = if j == i % 3 { 2.0 } else { 0.0 };
            centre + ((i * 7 + j * 13) % 11) as f32 / 11.0 - 0.5
        });
        let y = (0..n).map(|i| (i % 3) as u8).collect();
        Dataset::new(x, y, vec!["a".into(), "b".into(), "c".into()], None).unwrap()
    }

    fn config() -> TrainConfig {
        let options = MlpOptions {
            batch_norm: true,
            ..MlpOptions::default()
        };
        TrainConfig {
            model: NetworkSpec::mlp(6, &[8], 3, &options).unwrap(),
            epochs: 3,
            batch_size: 16,
            ..TrainConfig::default()
        }
    }

    fn files(path: &Path) -> Vec<PathBuf> {
        let best = best_path(path);
        vec![
            path.to_path_buf(),
            state_path(path),
            best.clone(),
            next_path(path),
            next_path(&best),
        ]
    }

    /// A save killed after any number of its file operations leaves a checkpoint that resumes as
    /// either the previous save or the new one, and the run then ends with exactly the weights
    /// of an uninterrupted run. Before the commit (stage 3 of 5 with a best network) it is the
    /// previous save; from the commit on it is the new one, the pending files moved into place.
    #[test]
    fn a_save_killed_between_any_two_files_resumes_as_one_whole_save() {
        let (train, val) = (blobs(90), blobs(30));
        let mut straight = Trainer::new(config()).unwrap();
        straight.fit(&train, Some(&val), &mut ()).unwrap();
        let want = straight.network().to_safetensors().unwrap();
        let dir = std::env::temp_dir().join(format!("nn-train-ckpt-crash-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("ckpt.safetensors");
        for stages in 0..=5 {
            for f in files(&path) {
                let _ = std::fs::remove_file(f);
            }
            let mut t = Trainer::new(config()).unwrap();
            t.run_epoch(&train, Some(&val), &mut ()).unwrap();
            t.save_checkpoint(&path).unwrap();
            let epoch_one = t.network().to_safetensors().unwrap();
            t.run_epoch(&train, Some(&val), &mut ()).unwrap();
            t.save_stages(&path, stages).unwrap();
            let mut back = Trainer::resume(&path).unwrap();
            let expected_epoch = if stages >= 3 { 2 } else { 1 };
            assert_eq!(back.epoch(), expected_epoch, "killed after {stages} stages");
            if expected_epoch == 1 {
                assert_eq!(back.network().to_safetensors().unwrap(), epoch_one);
            }
            // Resume left no pending or temporary file behind.
            assert!(!next_path(&path).exists() && !next_path(&best_path(&path)).exists());
            back.fit(&train, Some(&val), &mut ()).unwrap();
            assert_eq!(
                back.network().to_safetensors().unwrap(),
                want,
                "killed after {stages} stages"
            );
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// Files from two different saves (not a crash: a hand copy) give a typed error that names
    /// both hashes and a way out.
    #[test]
    fn files_of_two_saves_give_an_error_naming_the_mismatch_and_a_recovery() {
        let train = blobs(60);
        let dir = std::env::temp_dir().join(format!("nn-train-ckpt-mix-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (a, b) = (dir.join("a.safetensors"), dir.join("b.safetensors"));
        let mut t = Trainer::new(config()).unwrap();
        t.save_checkpoint(&a).unwrap();
        t.run_epoch(&train, None, &mut ()).unwrap();
        t.save_checkpoint(&b).unwrap();
        std::fs::copy(&b, &a).unwrap();
        match Trainer::resume(&a) {
            Err(TrainError::Checkpoint { reason, .. }) => {
                assert!(reason.contains("different saves"), "{reason}");
                assert!(reason.contains("--init-from"), "{reason}");
            }
            other => panic!("expected a checkpoint error, got {other:?}"),
        }
        // A stray temporary file of a killed write is removed by the next resume.
        let stray = dir.join(".b.safetensors.state.json.tmp12345");
        std::fs::write(&stray, b"half").unwrap();
        Trainer::resume(&b).unwrap();
        assert!(!stray.exists());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
