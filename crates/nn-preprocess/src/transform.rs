//! The fit/transform design shared by every preprocessing step, and saving fitted steps as JSON.
//!
//! A config (`MeanImage`, `ChannelMean`, `Standardize`, `Pca`, `Whitening`) implements [`Fit`]: `fit` on the training
//! set, or `streaming()` then [`PartialFit::partial_fit`] per batch and [`PartialFit::finish`]. The result is a
//! `FittedXxx` that implements [`Transform`] and [`Persist`], so training and evaluation apply the same statistics.

use crate::dataset::Dataset;
use crate::error::{PreprocessError, Result};
use crate::shape::ImageShape;
use ndarray::{Array2, ArrayView2, ArrayViewMut2, NdFloat};
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

    /// Applies the step to an `N × D` array in place, with the same result as [`Transform::transform`] bit for bit
    /// (the same operations in the same order per element). Only steps whose output width is their input width can
    /// do this. The provided version computes [`Transform::transform`] and copies the result back (it allocates one
    /// `N × D` array); mean subtraction and standardisation override it with a pass that allocates only `D` values.
    ///
    /// # Errors
    /// As [`Transform::transform`], and [`PreprocessError::ShapeMismatch`] if the step changes the width (PCA with
    /// `k < D`). On error `x` is unchanged.
    ///
    /// # Example
    /// ```
    /// use ndarray::array;
    /// use nn_preprocess::{Fit, Standardize, Transform};
    /// let x = array![[1.0f32, 2.0], [3.0, 6.0]];
    /// let fitted = Standardize::per_feature().fit(x.view())?;
    /// let mut y = x.clone();
    /// fitted.transform_in_place(y.view_mut())?;
    /// assert_eq!(y, fitted.transform(x.view())?);
    /// # Ok::<(), nn_preprocess::PreprocessError>(())
    /// ```
    fn transform_in_place<F: NdFloat>(&self, mut x: ArrayViewMut2<'_, F>) -> Result<()> {
        if self.output_dim() != self.input_dim() {
            return Err(PreprocessError::ShapeMismatch {
                op: "Transform::transform_in_place (the step changes the feature count)",
                expected: vec![x.nrows(), self.input_dim()],
                got: vec![x.nrows(), self.output_dim()],
            });
        }
        let y = self.transform(x.view())?;
        x.assign(&y);
        Ok(())
    }

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
        check_dataset_shape(self, data, "Transform::transform_dataset")?;
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

    /// [`Transform::transform_dataset`] on a data set taken by value: a step that keeps the width transforms the
    /// features in place ([`Transform::transform_in_place`]), so preprocessing a large training set never holds two
    /// copies of it. The result equals [`Transform::transform_dataset`]'s bit for bit.
    ///
    /// # Errors
    /// As [`Transform::transform_dataset`].
    ///
    /// # Example
    /// ```
    /// use ndarray::array;
    /// use nn_preprocess::{Dataset, Fit, MeanImage, Transform};
    /// let data = Dataset::new(array![[1.0f32, 2.0], [3.0, 6.0]], vec![0, 1], vec!["a".into(), "b".into()], None)?;
    /// let fitted = MeanImage.fit(data.features())?;
    /// let expected = fitted.transform_dataset(&data)?;
    /// assert_eq!(fitted.transform_dataset_owned(data)?, expected);
    /// # Ok::<(), nn_preprocess::PreprocessError>(())
    /// ```
    fn transform_dataset_owned(&self, data: Dataset) -> Result<Dataset> {
        if self.output_dim() != self.input_dim() {
            return self.transform_dataset(&data);
        }
        check_dataset_shape(self, &data, "Transform::transform_dataset_owned")?;
        let (mut x, labels, class_names, shape) = data.into_parts();
        self.transform_in_place(x.view_mut())?;
        let shape = if self.keeps_image_shape() {
            shape
        } else {
            None
        };
        Dataset::new(x, labels, class_names, shape)
    }
}

/// Checks that a data set's image shape (or its absence) fits the step.
fn check_dataset_shape<T: Transform + ?Sized>(
    step: &T,
    data: &Dataset,
    op: &'static str,
) -> Result<()> {
    if let Some(shape) = data.image_shape() {
        step.check_image_shape(&shape)?;
    } else if step.image_shape().is_some() {
        return Err(PreprocessError::LayoutMismatch {
            op,
            expected: step
                .image_shape()
                .map(|s| s.to_string())
                .unwrap_or_default(),
            got: "no image shape".into(),
        });
    }
    Ok(())
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
    write_atomic_with(path, |w| w.write_all(bytes))
}

/// As [`write_atomic`], with the contents streamed by `write` into a buffered writer over the
/// temp file, so a large file (a JSON checkpoint, say) is never held in memory whole.
///
/// ```
/// let path = std::env::temp_dir().join(format!("nn-preprocess-doc-{}.txt", std::process::id()));
/// nn_preprocess::write_atomic_with(&path, |w| writeln!(w, "{}", 42))?;
/// assert_eq!(std::fs::read_to_string(&path)?, "42\n");
/// std::fs::remove_file(&path)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
/// [`PreprocessError::Io`] naming the file that failed, with the error `write` returned; the
/// temp file is removed and `path` is left as it was.
pub fn write_atomic_with(
    path: &Path,
    write: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> Result<()> {
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
        let f = std::fs::File::create(&tmp).map_err(io(&tmp))?;
        let mut w = std::io::BufWriter::with_capacity(1 << 16, f);
        write(&mut w).map_err(io(&tmp))?;
        let f = w.into_inner().map_err(|e| io(&tmp)(e.into_error()))?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ChannelMean, Layout, MeanImage, Pca, PcaComponents, Standardize};
    use proptest::prelude::*;

    /// `N × 8` images of shape 2 × 2 × 2 (NCHW) from a flat list of values.
    fn images(values: &[f32]) -> Array2<f32> {
        let n = values.len() / 8;
        Array2::from_shape_vec((n, 8), values[..n * 8].to_vec()).unwrap()
    }

    fn bits(x: &Array2<f32>) -> Vec<u32> {
        x.iter().map(|v| v.to_bits()).collect()
    }

    /// In place and allocating agree bit for bit, on the array and on a data set taken by value.
    fn same<T: Transform>(step: &T, x: &Array2<f32>, shape: ImageShape) {
        let expected = step.transform(x.view()).unwrap();
        let mut y = x.clone();
        step.transform_in_place(y.view_mut()).unwrap();
        assert_eq!(bits(&y), bits(&expected));
        let labels = vec![0u8; x.nrows()];
        let data = Dataset::new(x.clone(), labels, vec!["a".into()], Some(shape)).unwrap();
        let a = step.transform_dataset(&data).unwrap();
        let b = step.transform_dataset_owned(data).unwrap();
        assert_eq!(
            bits(&a.features().to_owned()),
            bits(&b.features().to_owned())
        );
        assert_eq!(a, b);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]
        #[test]
        fn in_place_equals_allocating(values in prop::collection::vec(-1e3f32..1e3, 16..80)) {
            let x = images(&values);
            let shape = ImageShape::new(2, 2, 2, Layout::Nchw).unwrap();
            same(&MeanImage.fit(x.view()).unwrap(), &x, shape);
            same(&ChannelMean::new(shape).fit(x.view()).unwrap(), &x, shape);
            same(&Standardize::per_feature().fit(x.view()).unwrap(), &x, shape);
            same(&Standardize::per_channel(shape).fit(x.view()).unwrap(), &x, shape);
            // PCA keeping every component uses the provided (allocating) in-place version.
            same(&Pca { components: PcaComponents::Count(8) }.fit(x.view()).unwrap(), &x, shape);
        }
    }

    #[test]
    fn in_place_rejects_a_step_that_changes_the_width_and_leaves_x_unchanged() {
        let x = Array2::from_shape_fn((6, 3), |(i, j)| ((i * 7 + j * 3) % 5) as f64);
        let pca = Pca {
            components: PcaComponents::Count(2),
        }
        .fit(x.view())
        .unwrap();
        let mut y = x.clone();
        let e = pca.transform_in_place(y.view_mut()).unwrap_err();
        assert!(matches!(e, PreprocessError::ShapeMismatch { .. }), "{e}");
        assert_eq!(y, x);
    }

    #[test]
    fn in_place_reports_bad_input_like_transform() {
        let fitted = Standardize::per_feature()
            .fit(ndarray::array![[1.0f32, 2.0], [3.0, 5.0]].view())
            .unwrap();
        let mut wide = Array2::<f32>::zeros((2, 3));
        let e = fitted.transform_in_place(wide.view_mut()).unwrap_err();
        assert!(matches!(e, PreprocessError::ShapeMismatch { .. }), "{e}");
        let mut nan = ndarray::array![[1.0f32, f32::NAN]];
        let e = fitted.transform_in_place(nan.view_mut()).unwrap_err();
        assert!(
            matches!(
                e,
                PreprocessError::NonFinite {
                    sample: 0,
                    feature: 1,
                    ..
                }
            ),
            "{e}"
        );
    }

    #[test]
    fn a_failed_streamed_write_leaves_the_old_file_and_no_temporary() {
        let dir = std::env::temp_dir().join(format!("nn-preprocess-atomic-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("state.json");
        write_atomic(&path, b"old").unwrap();
        let e = write_atomic_with(&path, |w| {
            w.write_all(b"half of the new")?;
            Err(std::io::Error::other("disk full"))
        })
        .unwrap_err();
        assert!(
            matches!(&e, PreprocessError::Io { source, .. } if source.to_string() == "disk full"),
            "{e}"
        );
        assert_eq!(std::fs::read(&path).unwrap(), b"old");
        let names: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("state.json")]);
        write_atomic_with(&path, |w| w.write_all(b"new")).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"new");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
