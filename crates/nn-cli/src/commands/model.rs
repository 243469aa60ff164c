//! Finding and loading a saved model with the preprocessing and data settings of its run.

use crate::config::{DataConfig, RunConfig};
use crate::data::Preprocessor;
use crate::error::{CliError, Result};
use ndarray::{Array2, ArrayView2, Axis};
use nn_core::Network;
use std::path::{Path, PathBuf};

/// The checkpoint file name of the best epoch (by validation accuracy).
pub const BEST: &str = "best.safetensors";
/// The checkpoint file name of the last completed epoch.
pub const FINAL: &str = "final.safetensors";
/// The fitted preprocessing of a run.
pub const PREPROCESS: &str = "preprocess.json";
/// The effective config of a run.
pub const CONFIG: &str = "config.toml";

/// A model ready to score raw examples.
pub struct Loaded {
    /// The checkpoint read.
    pub path: PathBuf,
    /// The network.
    pub net: Network<f32>,
    /// The run's preprocessing (identity if the run directory has none).
    pub pre: Preprocessor,
    /// The run's config, if the checkpoint sits in a run directory.
    pub config: Option<RunConfig>,
}

/// Resolves a run directory or checkpoint path to `(checkpoint, run directory)`.
///
/// # Errors
/// [`CliError::Usage`] when nothing is there.
pub fn resolve(model: &Path) -> Result<(PathBuf, PathBuf)> {
    if model.is_dir() {
        for name in [BEST, FINAL] {
            let p = model.join(name);
            if p.is_file() {
                return Ok((p, model.to_path_buf()));
            }
        }
        return Err(CliError::usage(
            format!("{} holds no {BEST} or {FINAL}", model.display()),
            "pass a run directory written by `nn train` or a .safetensors file",
        ));
    }
    if model.is_file() {
        let dir = model
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        return Ok((model.to_path_buf(), dir));
    }
    Err(CliError::usage(
        format!("model {} does not exist", model.display()),
        "pass a run directory written by `nn train` or a .safetensors file",
    ))
}

/// Loads a network checkpoint, turning format problems into [`CliError::Model`].
///
/// # Errors
/// [`CliError::Model`] or [`CliError::Io`].
pub fn load_network(path: &Path) -> Result<Network<f32>> {
    Network::<f32>::load(path).map_err(|e| match e {
        nn_core::CoreError::Io(source) => CliError::Io {
            path: path.to_path_buf(),
            source,
        },
        other => CliError::Model {
            path: path.to_path_buf(),
            message: other.to_string(),
        },
    })
}

/// Loads a model with its run's preprocessing and config.
///
/// # Errors
/// As [`resolve`], [`load_network`], and bad `preprocess.json` / `config.toml` files.
pub fn load(model: &Path) -> Result<Loaded> {
    let (path, dir) = resolve(model)?;
    let net = load_network(&path)?;
    let pre_path = dir.join(PREPROCESS);
    let pre = if pre_path.is_file() {
        Preprocessor::load(&pre_path)?
    } else {
        Preprocessor::Identity
    };
    let cfg_path = dir.join(CONFIG);
    let config = if cfg_path.is_file() {
        Some(RunConfig::from_file(&cfg_path)?)
    } else {
        None
    };
    Ok(Loaded {
        path,
        net,
        pre,
        config,
    })
}

impl Loaded {
    /// The data settings of the run (defaults if there is no config).
    pub fn data_config(&self) -> DataConfig {
        self.config
            .as_ref()
            .map(|c| c.data.clone())
            .unwrap_or_default()
    }

    /// Class probabilities `N × C` of raw (un-preprocessed) features, in chunks of 1024 rows.
    ///
    /// # Errors
    /// [`CliError::Model`] when the width does not match the network.
    pub fn probabilities(&self, raw: ArrayView2<'_, f32>) -> Result<Array2<f32>> {
        if raw.ncols() != self.net.input_dim() {
            return Err(CliError::Model {
                path: self.path.clone(),
                message: format!(
                    "the model takes {} features per example but the data has {}",
                    self.net.input_dim(),
                    raw.ncols()
                ),
            });
        }
        let x = self.pre.apply_features(raw)?;
        let mut out = Array2::<f32>::zeros((x.nrows(), self.net.output_dim()));
        for (xc, mut oc) in x
            .axis_chunks_iter(Axis(0), 1024)
            .zip(out.axis_chunks_iter_mut(Axis(0), 1024))
        {
            let scores = self.net.predict(xc)?;
            let p = nn_activations::softmax(scores.view(), Axis(1))
                .map_err(|e| CliError::Library(e.to_string()))?;
            oc.assign(&p);
        }
        Ok(out)
    }
}
