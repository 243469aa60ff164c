//! The fit/transform design shared by every preprocessing step, and saving fitted steps as JSON.
//!
//! A config (`MeanImage`, `ChannelMean`, `Standardize`, `Pca`, `Whitening`) implements [`Fit`]: `fit` on the training
//! set, or `streaming()` then [`PartialFit::partial_fit`] per batch and [`PartialFit::finish`]. The result is a
//! `FittedXxx` that implements [`Transform`] and [`Persist`], so training and evaluation apply the same statistics.

use crate::dataset::Dataset;
use crate::error::{PreprocessError, Result};
use crate::shape::ImageShape;
use ndarray::{Array2, ArrayView2, NdFloat};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::io::Write;
use std::path::Path;

/// An unfitted preprocessing step (its hyperparameters).
pub trait Fit {
    /// The learned step.
    type Fitted: Transform;
    /// The streaming state that accumulates statistics batch by batch.
    type Streaming: PartialFit<Fitted = Self::Fitted>;

    /// An empty streaming state for batch-wise fitting.
    fn streaming(&self) -> Self::Streaming;

    /// Fits on the whole `N × D` training set at once (the same as one `partial_fit` and `finish`).
    ///
    /// # Errors
    /// As [`PartialFit::partial_fit`] and [`PartialFit::finish`]: empty input, NaN/inf, wrong width, bad hyperparameters.
    fn fit<F: NdFloat>(&self, x: ArrayView2<'_, F>) -> Result<Self::Fitted> {
        let mut s = self.streaming();
        s.partial_fit(x)?;
        s.finish()
    }
}

/// The streaming state of a [`Fit`]: batches in any order and of any size give the same result up to rounding.
pub trait PartialFit {
    /// The learned step.
    type Fitted: Transform;

    /// Adds an `N × D` batch (f64 accumulators, parallel over fixed chunks, deterministic).
    ///
    /// # Errors
    /// [`PreprocessError::ShapeMismatch`] for a different `D` than earlier batches or the image shape;
    /// [`PreprocessError::NonFinite`] naming the sample (row within the batch) and feature of a NaN/inf.
    fn partial_fit<F: NdFloat>(&mut self, x: ArrayView2<'_, F>) -> Result<()>;

    /// Merges a state fitted on another part of the training set.
    ///
    /// # Errors
    /// [`PreprocessError::ShapeMismatch`] if the feature counts differ.
    fn merge(&mut self, other: &Self) -> Result<()>;

    /// Computes the fitted step from everything seen.
    ///
    /// # Errors
    /// [`PreprocessError::EmptyInput`] if no sample was seen; [`PreprocessError::InvalidHyperparameter`] when a
    /// hyperparameter does not fit the data (for example `k > D`); [`PreprocessError::LinearAlgebra`] if an
    /// eigendecomposition fails.
    fn finish(&self) -> Result<Self::Fitted>;
}

/// A fitted preprocessing step.
pub trait Transform {
    /// The input feature count `D` it was fitted on.
    fn input_dim(&self) -> usize;

    /// The output feature count (`D`, or `k` for PCA).
    fn output_dim(&self) -> usize;

    /// The image shape (with layout) it was fitted with, for per-channel steps; `None` for per-feature steps.
    fn image_shape(&self) -> Option<ImageShape>;

    /// Whether the output is still an image of the input's shape (mean subtraction, standardisation, ZCA).
    fn keeps_image_shape(&self) -> bool;

    /// Applies the step to an `N × D` array, returning `N × output_dim`.
    ///
    /// # Errors
    /// [`PreprocessError::ShapeMismatch`] if `D` differs from the fitted one; [`PreprocessError::NonFinite`] for
    /// NaN/inf in `x`.
    fn transform<F: NdFloat>(&self, x: ArrayView2<'_, F>) -> Result<Array2<F>>;

    /// Undoes [`Transform::transform`] (`N × output_dim` to `N × D`); exact up to rounding unless components were
    /// dropped (PCA with `k < D` returns the projection onto the kept components).
    ///
    /// # Errors
    /// [`PreprocessError::ShapeMismatch`] if the width is not `output_dim`; [`PreprocessError::NonFinite`].
    fn inverse_transform<F: NdFloat>(&self, y: ArrayView2<'_, F>) -> Result<Array2<F>>;

    /// Checks that images of `shape` can go through this step (same `D`; same layout and channels if per-channel).
    ///
    /// # Errors
    /// [`PreprocessError::LayoutMismatch`] or [`PreprocessError::ShapeMismatch`].
    fn check_image_shape(&self, shape: &ImageShape) -> Result<()> {
        if let Some(fitted) = self.image_shape() {
            if fitted.layout != shape.layout {
                return Err(PreprocessError::LayoutMismatch {
                    op: "Transform::check_image_shape",
                    expected: fitted.to_string(),
                    got: shape.to_string(),
                });
            }
            if fitted != *shape {
                return Err(PreprocessError::ShapeMismatch {
                    op: "Transform::check_image_shape",
                    expected: vec![fitted.channels, fitted.height, fitted.width],
                    got: vec![shape.channels, shape.height, shape.width],
                });
            }
        }
        if shape.len() != self.input_dim() {
            return Err(PreprocessError::ShapeMismatch {
                op: "Transform::check_image_shape",
                expected: vec![self.input_dim()],
                got: vec![shape.len()],
            });
        }
        Ok(())
    }

    /// Applies the step to a data set's features, checking its image shape and layout first; labels are kept.
    ///
    /// # Errors
    /// As [`Transform::check_image_shape`] and [`Transform::transform`].
    fn transform_dataset(&self, data: &Dataset) -> Result<Dataset> {
        if let Some(shape) = data.image_shape() {
            self.check_image_shape(&shape)?;
        } else if self.image_shape().is_some() {
            return Err(PreprocessError::LayoutMismatch {
                op: "Transform::transform_dataset",
                expected: self
                    .image_shape()
                    .map(|s| s.to_string())
                    .unwrap_or_default(),
                got: "no image shape".into(),
            });
        }
        let x = self.transform(data.features())?;
        let shape = if self.keeps_image_shape() {
            data.image_shape()
        } else {
            None
        };
        Dataset::new(
            x,
            data.labels().to_vec(),
            data.class_names().to_vec(),
            shape,
        )
    }
}

/// Checks the width and finiteness of a transform's input.
pub(crate) fn check_input<F: NdFloat>(
    op: &'static str,
    x: ArrayView2<'_, F>,
    d: usize,
) -> Result<()> {
    if x.ncols() != d {
        return Err(PreprocessError::ShapeMismatch {
            op,
            expected: vec![x.nrows(), d],
            got: vec![x.nrows(), x.ncols()],
        });
    }
    crate::stats::check_finite(op, x)
}

/// Converts f64 statistics to the data's float type.
pub(crate) fn cast<F: NdFloat>(v: f64) -> F {
    F::from(v).unwrap_or_else(F::nan)
}

/// Saving and loading as JSON, with an atomic write (temp file in the same directory, fsync, rename).
///
/// # Example
/// ```
/// use ndarray::array;
/// use nn_preprocess::{Fit, FittedMean, MeanImage, Persist, Transform};
/// let fitted = MeanImage.fit(array![[1.0f32, 2.0], [3.0, 4.0]].view())?;
/// let path = std::env::temp_dir().join(format!("nn-preprocess-doc-{}.json", std::process::id()));
/// fitted.save(&path)?;
/// let back = FittedMean::load(&path)?;
/// assert_eq!(back.transform(array![[2.0f32, 3.0]].view())?, array![[0.0f32, 0.0]]);
/// # std::fs::remove_file(&path).ok();
/// # Ok::<(), nn_preprocess::PreprocessError>(())
/// ```
pub trait Persist: Serialize + DeserializeOwned {
    /// Writes `self` as JSON to `path` atomically.
    ///
    /// # Errors
    /// [`PreprocessError::Io`] or [`PreprocessError::Serde`].
    fn save(&self, path: &Path) -> Result<()> {
        let json = serde_json::to_vec_pretty(self).map_err(|source| PreprocessError::Serde {
            path: path.to_path_buf(),
            source,
        })?;
        write_atomic(path, &json)
    }

    /// Reads a value written by [`Persist::save`].
    ///
    /// # Errors
    /// [`PreprocessError::Io`] or [`PreprocessError::Serde`].
    fn load(path: &Path) -> Result<Self> {
        let bytes = std::fs::read(path).map_err(|source| PreprocessError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        serde_json::from_slice(&bytes).map_err(|source| PreprocessError::Serde {
            path: path.to_path_buf(),
            source,
        })
    }
}

impl<T: Serialize + DeserializeOwned> Persist for T {}

/// Writes `bytes` to `path` atomically: a temp file in the same directory, fsync, then rename over `path`.
///
/// # Errors
/// [`PreprocessError::Io`] naming the file that failed.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let io = |p: &Path| {
        let p = p.to_path_buf();
        move |source| PreprocessError::Io { path: p, source }
    };
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "out".into());
    let tmp = dir.join(format!(".{name}.tmp{}", std::process::id()));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp).map_err(io(&tmp))?;
        f.write_all(bytes).map_err(io(&tmp))?;
        f.sync_all().map_err(io(&tmp))?;
        std::fs::rename(&tmp, path).map_err(io(path))?;
        // Make the rename itself durable; a failure here does not lose data, so it is ignored.
        if let Ok(d) = std::fs::File::open(&dir) {
            let _ = d.sync_all();
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}
