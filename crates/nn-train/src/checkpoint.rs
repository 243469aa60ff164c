//! Checkpoints of a [`Trainer`]: the network as safetensors at `<path>` (the file
//! [`nn_core::Network::save`] writes, usable on its own), the best network at
//! `<path>.best.safetensors` when there is one, and everything else (configuration, optimiser and
//! schedule state, EMA, counters, history, early-stopping state) as JSON at `<path>.state.json`.
//!
//! Each file is written atomically (temporary sibling, fsync, rename), the state last; the state
//! records a hash of each network file, so a crash between two renames is detected on resume
//! instead of mixing two epochs. Floats go through JSON with exact round trips, so a resumed run
//! continues bit-identically.

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
        let best = match &self.best {
            Some(b) => {
                let bytes = b.net.to_safetensors()?;
                let bp = best_path(path);
                nn_preprocess::write_atomic(&bp, &bytes)?;
                Some(BestState {
                    epoch: b.epoch,
                    val_accuracy: b.val_accuracy,
                    hash: fnv1a(&bytes),
                })
            }
            None => None,
        };
        let bytes = self.net.to_safetensors()?;
        nn_preprocess::write_atomic(path, &bytes)?;
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
        let json = serde_json::to_vec(&state).map_err(|e| bad(path, e.to_string()))?;
        nn_preprocess::write_atomic(&state_path(path), &json)?;
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
        let bytes = std::fs::read(path).map_err(io(path))?;
        if fnv1a(&bytes) != state.network_hash {
            return Err(bad(
                path,
                "the network file does not match the state file (written by another save?)",
            ));
        }
        let net = Network::<f32>::from_safetensors(&bytes)?;
        if net.spec() != &state.config.model {
            return Err(bad(
                path,
                "the network's spec differs from the config's model",
            ));
        }
        let best = match state.best {
            Some(b) => {
                let bp = best_path(path);
                let bytes = std::fs::read(&bp).map_err(io(&bp))?;
                if fnv1a(&bytes) != b.hash {
                    return Err(bad(&bp, "the best network does not match the state file"));
                }
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
