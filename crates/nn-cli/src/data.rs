//! Loading the data a command needs: format detection, the shipped default set, limits, the
//! validation split and the fitted preprocessing.

use crate::config::{DataConfig, DataFormat, PreprocessKind};
use crate::error::{CliError, Result};
use ndarray::Array2;
use nn_preprocess::{
    load_cifar10_dir, load_idx_dir, ChannelMean, Dataset, Fit, FittedMean, FittedStandardize,
    IdxSet, MeanImage, PreprocessError, Standardize, Transform,
};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The small MNIST subset shipped in the repository (10 000 train, 2 000 test images).
pub fn shipped_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/mnist-small")
}

/// The data directory a config names, or the shipped one.
pub fn data_dir(config: &DataConfig) -> PathBuf {
    config.path.clone().unwrap_or_else(shipped_dir)
}

fn exists_any(dir: &Path, names: &[&str]) -> bool {
    names.iter().any(|n| dir.join(n).is_file())
}

/// Works out the format of `dir` from its file names. MNIST and Fashion-MNIST use the same IDX
/// file names, so a directory whose path contains "fashion" is Fashion-MNIST and any other is
/// MNIST (only the class names differ; `--format fashion-mnist` names it explicitly).
///
/// # Errors
/// [`CliError::Data`] if `dir` is missing or holds neither format.
pub fn detect_format(dir: &Path) -> Result<DataFormat> {
    if !dir.is_dir() {
        return Err(CliError::Data {
            path: dir.to_path_buf(),
            message: "no such directory".into(),
            hint: Some(if dir == shipped_dir() {
                "the shipped data set data/mnist-small is missing from this checkout; restore it or pass --data DIR".into()
            } else {
                "pass --data with a directory holding MNIST/Fashion-MNIST IDX files or CIFAR-10 binary batches".into()
            }),
        });
    }
    if dir.join("cifar-10-batches-bin").is_dir()
        || exists_any(dir, &["data_batch_1.bin", "test_batch.bin"])
    {
        return Ok(DataFormat::Cifar10);
    }
    if exists_any(
        dir,
        &[
            "train-images-idx3-ubyte.gz",
            "train-images-idx3-ubyte",
            "train-images.idx3-ubyte",
            "train-images.idx3-ubyte.gz",
        ],
    ) {
        let name = dir
            .canonicalize()
            .unwrap_or_else(|_| dir.to_path_buf())
            .to_string_lossy()
            .to_lowercase();
        if name.contains("fashion") {
            return Ok(DataFormat::FashionMnist);
        }
        return Ok(DataFormat::Mnist);
    }
    Err(CliError::Data {
        path: dir.to_path_buf(),
        message: "found neither MNIST-style IDX files (train-images-idx3-ubyte[.gz], …) nor CIFAR-10 batches (data_batch_1.bin, …)".into(),
        hint: Some("point --data at the folder holding those files, or name the format with --format".into()),
    })
}

fn data_error(dir: &Path, e: PreprocessError) -> CliError {
    let hint = match &e {
        PreprocessError::MissingFile { .. } => Some(
            "MNIST needs train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte (optionally .gz); CIFAR-10 needs data_batch_1..5.bin and test_batch.bin".into(),
        ),
        PreprocessError::Malformed { .. } => {
            Some("the file is damaged or not in the expected format; download it again".into())
        }
        _ => None,
    };
    CliError::Data {
        path: dir.to_path_buf(),
        message: e.to_string(),
        hint,
    }
}

/// The loaded splits, raw (pixels in [0, 1]).
pub struct Splits {
    /// Training examples (without the validation part).
    pub train: Dataset,
    /// Held-out validation examples, if `val_fraction > 0`.
    pub val: Option<Dataset>,
    /// The test split.
    pub test: Dataset,
    /// The detected or named format.
    pub format: DataFormat,
    /// The directory read.
    pub dir: PathBuf,
}

/// Reads `(train, test)` of a directory in `format` (`Auto`: detected).
///
/// # Errors
/// [`CliError::Data`] for missing or malformed files.
pub fn load_raw(dir: &Path, format: DataFormat) -> Result<(Dataset, Dataset, DataFormat)> {
    let format = match format {
        DataFormat::Auto => detect_format(dir)?,
        f => {
            if !dir.is_dir() {
                detect_format(dir)?;
            }
            f
        }
    };
    let (train, test) = match format {
        DataFormat::Cifar10 => load_cifar10_dir(dir),
        DataFormat::FashionMnist => load_idx_dir(dir, IdxSet::FashionMnist),
        _ => load_idx_dir(dir, IdxSet::Mnist),
    }
    .map_err(|e| data_error(dir, e))?;
    Ok((train, test, format))
}

/// Loads the data a config names, applies the limits and splits off validation with `seed`.
///
/// # Errors
/// [`CliError::Data`].
pub fn load(config: &DataConfig, seed: u64) -> Result<Splits> {
    let dir = data_dir(config);
    let (mut train, mut test, format) = load_raw(&dir, config.format)?;
    // Limits and the split reuse the loaded buffers (no second copy of the training set).
    if config.limit > 0 {
        train = train.into_head(config.limit)?;
    }
    if config.test_limit > 0 {
        test = test.into_head(config.test_limit)?;
    }
    let (train, val) = if config.val_fraction > 0.0 {
        let (t, v) = nn_train::trainer::split_validation_owned(train, config.val_fraction, seed)
            .map_err(|e| {
                CliError::usage(
                    format!("cannot split off validation data: {e}"),
                    "use a larger --limit or a different --val-fraction (0 for none)",
                )
            })?;
        (t, Some(v))
    } else {
        (train, None)
    };
    Ok(Splits {
        train,
        val,
        test,
        format,
        dir,
    })
}

/// The splits of a run after preprocessing, and the step applied.
pub struct Prepared {
    /// Preprocessed training examples.
    pub train: Dataset,
    /// Preprocessed validation examples, if any.
    pub val: Option<Dataset>,
    /// Preprocessed test examples.
    pub test: Dataset,
    /// The step (fitted on `train`, or loaded).
    pub pre: Preprocessor,
    /// The detected or named format.
    pub format: DataFormat,
    /// The directory read.
    pub dir: PathBuf,
    /// Wall-clock seconds spent reading, splitting and preprocessing.
    pub seconds: f64,
}

/// Loads the data a config names ([`load`]) and preprocesses every split in place: the step is
/// fitted on the training split, or read from `saved` (a resumed run). Each buffer is reused, so
/// the peak memory is about the data set in f32 plus its validation part.
///
/// # Errors
/// As [`load`], [`Preprocessor::load`], [`Preprocessor::fit`] and [`Preprocessor::apply_owned`].
pub fn prepare(config: &DataConfig, seed: u64, saved: Option<&Path>) -> Result<Prepared> {
    let t0 = std::time::Instant::now();
    let splits = load(config, seed)?;
    let pre = match saved {
        Some(p) => Preprocessor::load(p)?,
        None => Preprocessor::fit(config.preprocess, &splits.train)?,
    };
    let train = pre.apply_owned(splits.train)?;
    let val = splits.val.map(|v| pre.apply_owned(v)).transpose()?;
    let test = pre.apply_owned(splits.test)?;
    Ok(Prepared {
        train,
        val,
        test,
        pre,
        format: splits.format,
        dir: splits.dir,
        seconds: t0.elapsed().as_secs_f64(),
    })
}

/// A fitted preprocessing step, saved as `preprocess.json` in the run directory.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Preprocessor {
    /// Pixels unchanged.
    Identity,
    /// A mean subtraction (per image position or per channel).
    Mean {
        /// The fitted means.
        fitted: FittedMean,
    },
    /// A standardisation.
    Standardize {
        /// The fitted means and deviations.
        fitted: FittedStandardize,
    },
}

impl Preprocessor {
    /// Fits `kind` on the training features.
    ///
    /// # Errors
    /// From the fit (e.g. an image-only step on data without an image shape).
    pub fn fit(kind: PreprocessKind, train: &Dataset) -> Result<Preprocessor> {
        let shape = train.image_shape();
        let need_shape = || {
            shape.ok_or_else(|| {
                CliError::config(
                    "this preprocessing works per channel, but the data has no image shape",
                )
            })
        };
        let x = train.features();
        Ok(match kind {
            PreprocessKind::None => Preprocessor::Identity,
            PreprocessKind::MeanImage => Preprocessor::Mean {
                fitted: MeanImage.fit(x)?,
            },
            PreprocessKind::ChannelMean => Preprocessor::Mean {
                fitted: ChannelMean::new(need_shape()?).fit(x)?,
            },
            PreprocessKind::Standardize => Preprocessor::Standardize {
                fitted: Standardize::per_channel(need_shape()?).fit(x)?,
            },
            PreprocessKind::StandardizePerFeature => Preprocessor::Standardize {
                fitted: Standardize::per_feature().fit(x)?,
            },
        })
    }

    /// Applies the step to features.
    ///
    /// # Errors
    /// [`CliError::Model`]-like shape errors when the data does not fit the fitted step.
    pub fn apply_features(&self, x: ndarray::ArrayView2<'_, f32>) -> Result<Array2<f32>> {
        Ok(match self {
            Preprocessor::Identity => x.to_owned(),
            Preprocessor::Mean { fitted } => fitted.transform(x)?,
            Preprocessor::Standardize { fitted } => fitted.transform(x)?,
        })
    }

    /// Applies the step to a data set (labels, class names and image shape are kept).
    ///
    /// # Errors
    /// As [`Preprocessor::apply_features`].
    pub fn apply(&self, data: &Dataset) -> Result<Dataset> {
        if matches!(self, Preprocessor::Identity) {
            return Ok(data.clone());
        }
        let x = self.apply_features(data.features())?;
        Ok(Dataset::new(
            x,
            data.labels().to_vec(),
            data.class_names().to_vec(),
            data.image_shape(),
        )?)
    }

    /// [`Preprocessor::apply`] on a data set taken by value: the features are transformed in place
    /// ([`Transform::transform_in_place`]), with the same result bit for bit.
    ///
    /// # Errors
    /// As [`Preprocessor::apply`].
    pub fn apply_owned(&self, data: Dataset) -> Result<Dataset> {
        let (mut x, labels, class_names, shape) = match self {
            Preprocessor::Identity => return Ok(data),
            _ => data.into_parts(),
        };
        match self {
            Preprocessor::Identity => {}
            Preprocessor::Mean { fitted } => fitted.transform_in_place(x.view_mut())?,
            Preprocessor::Standardize { fitted } => fitted.transform_in_place(x.view_mut())?,
        }
        Ok(Dataset::new(x, labels, class_names, shape)?)
    }

    /// Writes the step as JSON, atomically.
    ///
    /// # Errors
    /// [`CliError::Io`].
    pub fn save(&self, path: &Path) -> Result<()> {
        let json = serde_json::to_vec_pretty(self).map_err(|e| CliError::Library(e.to_string()))?;
        crate::report::write_atomic(path, &json)
    }

    /// Reads a step written by [`Preprocessor::save`].
    ///
    /// # Errors
    /// [`CliError::Io`] or [`CliError::Model`].
    pub fn load(path: &Path) -> Result<Preprocessor> {
        let bytes = std::fs::read(path).map_err(crate::error::io(path))?;
        serde_json::from_slice(&bytes).map_err(|e| CliError::Model {
            path: path.to_path_buf(),
            message: format!("not a preprocessing file: {e}"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The in-place path gives the same splits, bit for bit, as copying ones.
    #[test]
    fn prepare_equals_the_copying_path() {
        for kind in [
            PreprocessKind::None,
            PreprocessKind::MeanImage,
            PreprocessKind::Standardize,
            PreprocessKind::StandardizePerFeature,
        ] {
            let config = DataConfig {
                limit: 600,
                test_limit: 100,
                val_fraction: 0.2,
                preprocess: kind,
                ..DataConfig::default()
            };
            let got = prepare(&config, 5, None).unwrap();
            let (train, test, _) = load_raw(&data_dir(&config), config.format).unwrap();
            let (train, val) =
                nn_train::trainer::split_validation(&train.head(600).unwrap(), 0.2, 5).unwrap();
            let pre = Preprocessor::fit(kind, &train).unwrap();
            let bits = |d: &Dataset| d.features().iter().map(|v| v.to_bits()).collect::<Vec<_>>();
            for (a, b) in [
                (&got.train, pre.apply(&train).unwrap()),
                (got.val.as_ref().unwrap(), pre.apply(&val).unwrap()),
                (&got.test, pre.apply(&test.head(100).unwrap()).unwrap()),
            ] {
                assert_eq!(bits(a), bits(&b), "{kind:?}");
                assert_eq!(a, &b, "{kind:?}");
            }
        }
    }
}
