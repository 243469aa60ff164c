//! A labelled data set: `N × D` f32 features, `N` u8 labels, class names and an optional image shape.

use crate::error::{PreprocessError, Result};
use crate::shape::{ImageShape, Layout};
use ndarray::{s, Array2, ArrayView2, Axis};
use rand::seq::SliceRandom;
use rand::Rng;

/// Features (`N × D`, f32), labels (`N`, each `< C`), the `C` class names and, for images, their shape and layout.
///
/// # Example
/// ```
/// use ndarray::array;
/// use nn_preprocess::Dataset;
/// use rand::SeedableRng;
/// let x = array![[0.0f32], [1.0], [2.0], [3.0], [4.0]];
/// let data = Dataset::new(x, vec![0, 1, 0, 1, 0], vec!["a".into(), "b".into()], None)?;
/// let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
/// let (train, val) = data.split(0.4, &mut rng)?;
/// assert_eq!((train.len(), val.len()), (3, 2));
/// let mut batches = train.shuffled_batches(2, &mut rng)?;
/// let mut seen = 0;
/// while let Some(b) = batches.next_batch() {
///     assert_eq!(b.x.nrows(), b.y.len());
///     seen += b.y.len();
/// }
/// assert_eq!(seen, 3);
/// # Ok::<(), nn_preprocess::PreprocessError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    features: Array2<f32>,
    labels: Vec<u8>,
    class_names: Vec<String>,
    shape: Option<ImageShape>,
}

impl Dataset {
    /// Creates a data set, checking that it is consistent.
    ///
    /// # Errors
    /// [`PreprocessError::EmptyInput`] for `N = 0`; [`PreprocessError::InvalidDataset`] if the label count is not `N`,
    /// a label is `≥ C`, there are no or more than 256 classes, a feature is NaN or infinite (the message names the
    /// first such sample and feature), or the image shape's `C·H·W` is not `D`.
    pub fn new(
        features: Array2<f32>,
        labels: Vec<u8>,
        class_names: Vec<String>,
        shape: Option<ImageShape>,
    ) -> Result<Self> {
        if features.nrows() == 0 {
            return Err(PreprocessError::EmptyInput { op: "Dataset::new" });
        }
        let bad = |reason: String| Err(PreprocessError::InvalidDataset { reason });
        if labels.len() != features.nrows() {
            return bad(format!(
                "{} feature rows but {} labels",
                features.nrows(),
                labels.len()
            ));
        }
        if class_names.is_empty() || class_names.len() > 256 {
            return bad(format!("{} class names (need 1..=256)", class_names.len()));
        }
        if let Some((i, &l)) = labels
            .iter()
            .enumerate()
            .find(|(_, &l)| usize::from(l) >= class_names.len())
        {
            return bad(format!(
                "label {l} of sample {i} is out of range (there are {} classes)",
                class_names.len()
            ));
        }
        if let Some(((i, j), v)) = features.indexed_iter().find(|(_, v)| !v.is_finite()) {
            return bad(format!(
                "feature {j} of sample {i} is {v}; features must be finite (check the data source \
                 and any preprocessing that divides by a zero spread)"
            ));
        }
        if let Some(s) = shape {
            if s.len() != features.ncols() {
                return bad(format!(
                    "image shape {s} has {} values but D = {}",
                    s.len(),
                    features.ncols()
                ));
            }
        }
        Ok(Self {
            features,
            labels,
            class_names,
            shape,
        })
    }

    /// The `N × D` features.
    pub fn features(&self) -> ArrayView2<'_, f32> {
        self.features.view()
    }

    /// The `N` labels, each `< C`.
    pub fn labels(&self) -> &[u8] {
        &self.labels
    }

    /// The `C` class names.
    pub fn class_names(&self) -> &[String] {
        &self.class_names
    }

    /// The number of classes `C`.
    pub fn n_classes(&self) -> usize {
        self.class_names.len()
    }

    /// The image shape and layout of each row, if the features are images.
    pub fn image_shape(&self) -> Option<ImageShape> {
        self.shape
    }

    /// The number of samples `N` (never 0).
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Always `false`: a data set holds at least one sample.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// The feature count `D`.
    pub fn n_features(&self) -> usize {
        self.features.ncols()
    }

    /// How many samples each class has (length `C`).
    pub fn class_counts(&self) -> Vec<usize> {
        let mut c = vec![0; self.class_names.len()];
        for &l in &self.labels {
            c[usize::from(l)] += 1;
        }
        c
    }

    /// Splits the parts apart: features, labels, class names, image shape.
    pub fn into_parts(self) -> (Array2<f32>, Vec<u8>, Vec<String>, Option<ImageShape>) {
        (self.features, self.labels, self.class_names, self.shape)
    }

    /// A new data set of the samples at `indices` (in that order; repeats allowed).
    ///
    /// # Errors
    /// [`PreprocessError::EmptyInput`] for no indices; [`PreprocessError::InvalidHyperparameter`] for an index `≥ N`.
    pub fn select(&self, indices: &[usize]) -> Result<Dataset> {
        if let Some(&i) = indices.iter().find(|&&i| i >= self.len()) {
            return Err(PreprocessError::InvalidHyperparameter {
                name: "index",
                value: i.to_string(),
                reason: format!("the data set has {} samples", self.len()),
            });
        }
        if indices.is_empty() {
            return Err(PreprocessError::EmptyInput {
                op: "Dataset::select",
            });
        }
        Ok(Dataset {
            features: self.features.select(Axis(0), indices),
            labels: indices.iter().map(|&i| self.labels[i]).collect(),
            class_names: self.class_names.clone(),
            shape: self.shape,
        })
    }

    /// The first `n` samples (all of them if `n ≥ N`).
    ///
    /// # Errors
    /// [`PreprocessError::EmptyInput`] for `n = 0`.
    pub fn head(&self, n: usize) -> Result<Dataset> {
        let idx: Vec<usize> = (0..n.min(self.len())).collect();
        self.select(&idx)
    }

    /// Shuffles the samples with `rng` and splits them into `(train, validation)`, the validation part holding
    /// `round(val_fraction · N)` samples.
    ///
    /// # Errors
    /// [`PreprocessError::InvalidHyperparameter`] unless `0 < val_fraction < 1` and both parts get at least one sample.
    pub fn split<R: Rng + ?Sized>(
        &self,
        val_fraction: f64,
        rng: &mut R,
    ) -> Result<(Dataset, Dataset)> {
        let n_val = (val_fraction * self.len() as f64).round();
        if !(val_fraction > 0.0 && val_fraction < 1.0) || n_val < 1.0 || n_val >= self.len() as f64
        {
            return Err(PreprocessError::InvalidHyperparameter {
                name: "val_fraction",
                value: val_fraction.to_string(),
                reason: format!(
                    "must be in (0, 1) and leave at least one sample in each part of N = {}",
                    self.len()
                ),
            });
        }
        let n_val = n_val as usize;
        let mut order: Vec<usize> = (0..self.len()).collect();
        order.shuffle(rng);
        let (val, train) = order.split_at(n_val);
        Ok((self.select(train)?, self.select(val)?))
    }

    /// The same images in another layout (NCHW ↔ NHWC), with the image shape updated.
    ///
    /// # Errors
    /// [`PreprocessError::InvalidDataset`] if the data set has no image shape.
    pub fn to_layout(&self, layout: Layout) -> Result<Dataset> {
        let Some(shape) = self.shape else {
            return Err(PreprocessError::InvalidDataset {
                reason: "the data set has no image shape, so it has no layout".into(),
            });
        };
        if shape.layout == layout {
            return Ok(self.clone());
        }
        let to = shape.with_layout(layout);
        let (n, d) = self.features.dim();
        let mut out = Array2::<f32>::zeros((n, d));
        for (src, mut dst) in self.features.outer_iter().zip(out.outer_iter_mut()) {
            for c in 0..shape.channels {
                for h in 0..shape.height {
                    for w in 0..shape.width {
                        dst[to.index(c, h, w)] = src[shape.index(c, h, w)];
                    }
                }
            }
        }
        Ok(Dataset {
            features: out,
            labels: self.labels.clone(),
            class_names: self.class_names.clone(),
            shape: Some(to),
        })
    }

    fn check_batch_size(batch_size: usize) -> Result<()> {
        if batch_size == 0 {
            return Err(PreprocessError::InvalidHyperparameter {
                name: "batch_size",
                value: "0".into(),
                reason: "must be at least 1".into(),
            });
        }
        Ok(())
    }

    /// Mini-batches in stored order; each batch is a view into the features (no copy). The last one may be smaller.
    ///
    /// # Errors
    /// [`PreprocessError::InvalidHyperparameter`] for `batch_size = 0`.
    pub fn batches(&self, batch_size: usize) -> Result<Batches<'_>> {
        Self::check_batch_size(batch_size)?;
        Ok(Batches {
            data: self,
            order: None,
            batch_size,
            pos: 0,
            x_buf: Array2::zeros((0, 0)),
            y_buf: Vec::new(),
        })
    }

    /// Mini-batches in an order shuffled by `rng` (one permutation of `N` indices per call, i.e. per epoch). Rows are
    /// gathered into one reused `batch_size × D` buffer, so an epoch never copies the whole data set at once.
    ///
    /// A `batch_size` larger than `N` is not an error: the epoch is one batch of all `N` samples (the last batch is
    /// always the remainder, as with PyTorch's `DataLoader(drop_last=False)`), so it trains exactly like
    /// `batch_size = N`.
    ///
    /// # Errors
    /// [`PreprocessError::InvalidHyperparameter`] for `batch_size = 0`.
    pub fn shuffled_batches<R: Rng + ?Sized>(
        &self,
        batch_size: usize,
        rng: &mut R,
    ) -> Result<Batches<'_>> {
        Self::check_batch_size(batch_size)?;
        let mut order: Vec<usize> = (0..self.len()).collect();
        order.shuffle(rng);
        Ok(Batches {
            data: self,
            order: Some(order),
            batch_size,
            pos: 0,
            x_buf: Array2::zeros((batch_size.min(self.len()), self.n_features())),
            y_buf: Vec::with_capacity(batch_size.min(self.len())),
        })
    }
}

/// One mini-batch: `B × D` features and `B` labels (`B ≤ batch_size`).
#[derive(Debug)]
pub struct Batch<'b> {
    /// The `B × D` features.
    pub x: ArrayView2<'b, f32>,
    /// The `B` labels.
    pub y: &'b [u8],
}

/// A lending iterator over mini-batches (see [`Dataset::batches`] and [`Dataset::shuffled_batches`]).
#[derive(Debug)]
pub struct Batches<'a> {
    data: &'a Dataset,
    order: Option<Vec<usize>>,
    batch_size: usize,
    pos: usize,
    x_buf: Array2<f32>,
    y_buf: Vec<u8>,
}

impl Batches<'_> {
    /// The number of batches in the epoch, `ceil(N / batch_size)`.
    pub fn len(&self) -> usize {
        self.data.len().div_ceil(self.batch_size)
    }

    /// Whether there are no batches (never, as a data set is not empty).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The sample order of this epoch (`0..N` when not shuffled).
    pub fn order(&self) -> Vec<usize> {
        self.order
            .clone()
            .unwrap_or_else(|| (0..self.data.len()).collect())
    }

    /// The next batch, or `None` at the end of the epoch.
    pub fn next_batch(&mut self) -> Option<Batch<'_>> {
        let n = self.data.len();
        if self.pos >= n {
            return None;
        }
        let start = self.pos;
        let end = (start + self.batch_size).min(n);
        self.pos = end;
        match &self.order {
            None => Some(Batch {
                x: self.data.features.slice(s![start..end, ..]),
                y: &self.data.labels[start..end],
            }),
            Some(order) => {
                let idx = &order[start..end];
                self.y_buf.clear();
                for (k, &i) in idx.iter().enumerate() {
                    self.x_buf.row_mut(k).assign(&self.data.features.row(i));
                    self.y_buf.push(self.data.labels[i]);
                }
                Some(Batch {
                    x: self.x_buf.slice(s![..idx.len(), ..]),
                    y: &self.y_buf,
                })
            }
        }
    }
}
