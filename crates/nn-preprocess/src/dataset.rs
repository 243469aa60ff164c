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

    /// The first `n` samples (all of them if `n ≥ N`), like [`Dataset::head`] but reusing this data set's buffer:
    /// no second copy of the kept rows is made.
    ///
    /// # Errors
    /// [`PreprocessError::EmptyInput`] for `n = 0`.
    pub fn into_head(self, n: usize) -> Result<Dataset> {
        if n == 0 {
            return Err(PreprocessError::EmptyInput {
                op: "Dataset::select",
            });
        }
        if n >= self.len() {
            return Ok(self);
        }
        let d = self.n_features();
        let mut v = into_row_major_vec(self.features);
        v.truncate(n * d);
        v.shrink_to_fit();
        let mut labels = self.labels;
        labels.truncate(n);
        Ok(Dataset {
            features: from_rows(n, d, v)?,
            labels,
            class_names: self.class_names,
            shape: self.shape,
        })
    }

    /// The number of validation samples `round(val_fraction · N)`, checked.
    fn val_count(&self, val_fraction: f64) -> Result<usize> {
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
        Ok(n_val as usize)
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
        let n_val = self.val_count(val_fraction)?;
        let mut order: Vec<usize> = (0..self.len()).collect();
        order.shuffle(rng);
        let (val, train) = order.split_at(n_val);
        Ok((self.select(train)?, self.select(val)?))
    }

    /// [`Dataset::split`] of a data set taken by value, with the same result for the same `rng` state, but the rows
    /// are moved within this data set's buffer: the training part reuses it and only the validation part is copied
    /// out, so splitting needs `val_fraction · N · D` extra values instead of `N · D`.
    ///
    /// # Errors
    /// As [`Dataset::split`].
    ///
    /// # Example
    /// ```
    /// use ndarray::Array2;
    /// use nn_preprocess::Dataset;
    /// use rand::SeedableRng;
    /// let x = Array2::from_shape_fn((10, 3), |(i, j)| (3 * i + j) as f32);
    /// let data = Dataset::new(x, (0..10).map(|i| (i % 2) as u8).collect(), vec!["a".into(), "b".into()], None)?;
    /// let expected = data.split(0.3, &mut rand_chacha::ChaCha8Rng::seed_from_u64(1))?;
    /// let got = data.split_owned(0.3, &mut rand_chacha::ChaCha8Rng::seed_from_u64(1))?;
    /// assert_eq!(got, expected);
    /// # Ok::<(), nn_preprocess::PreprocessError>(())
    /// ```
    pub fn split_owned<R: Rng + ?Sized>(
        self,
        val_fraction: f64,
        rng: &mut R,
    ) -> Result<(Dataset, Dataset)> {
        let n_val = self.val_count(val_fraction)?;
        let (n, d) = (self.len(), self.n_features());
        let mut order: Vec<usize> = (0..n).collect();
        order.shuffle(rng);
        // `split` takes the validation samples from the front of `order`; put them at the back so that after the
        // permutation the training rows are a prefix of the buffer.
        order.rotate_left(n_val);
        let n_train = n - n_val;
        let mut v = into_row_major_vec(self.features);
        permute_rows(&mut v, d, &order);
        let mut labels: Vec<u8> = order.iter().map(|&i| self.labels[i]).collect();
        let val_labels = labels.split_off(n_train);
        let val_x = v[n_train * d..].to_vec();
        v.truncate(n_train * d);
        v.shrink_to_fit();
        let val = Dataset {
            features: from_rows(n_val, d, val_x)?,
            labels: val_labels,
            class_names: self.class_names.clone(),
            shape: self.shape,
        };
        let train = Dataset {
            features: from_rows(n_train, d, v)?,
            labels,
            class_names: self.class_names,
            shape: self.shape,
        };
        Ok((train, val))
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

/// The values of `x` in row-major order, reusing its buffer when it is already in that order.
fn into_row_major_vec(x: Array2<f32>) -> Vec<f32> {
    let x = if x.is_standard_layout() {
        x
    } else {
        x.as_standard_layout().into_owned()
    };
    let len = x.len();
    let (mut v, offset) = x.into_raw_vec_and_offset();
    let offset = offset.unwrap_or(0);
    if offset > 0 || v.len() != len {
        // A sliced array keeps its whole allocation; drop what lies outside the view.
        v.truncate(offset + len);
        v.drain(..offset);
    }
    v
}

/// An `n × d` array from row-major values.
fn from_rows(n: usize, d: usize, v: Vec<f32>) -> Result<Array2<f32>> {
    Array2::from_shape_vec((n, d), v).map_err(|e| PreprocessError::InvalidDataset {
        reason: format!("internal: {n} × {d} rows from a buffer of another size ({e})"),
    })
}

/// Reorders the rows (of `d` values each) of `v` in place so that row `k` becomes the old row `perm[k]`. Follows each
/// cycle of the permutation with one row of scratch space.
///
/// # Panics
/// If `perm` is not a permutation of `0..v.len() / d` (an internal caller's bug).
fn permute_rows(v: &mut [f32], d: usize, perm: &[usize]) {
    let mut done = vec![false; perm.len()];
    let mut tmp = vec![0.0f32; d];
    for start in 0..perm.len() {
        if done[start] {
            continue;
        }
        done[start] = true;
        if perm[start] == start {
            continue;
        }
        tmp.copy_from_slice(&v[start * d..(start + 1) * d]);
        let mut k = start;
        loop {
            let j = perm[k];
            if j == start {
                v[k * d..(k + 1) * d].copy_from_slice(&tmp);
                break;
            }
            v.copy_within(j * d..(j + 1) * d, k * d);
            done[j] = true;
            k = j;
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::ShapeBuilder;
    use proptest::prelude::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn data(n: usize, d: usize, fortran: bool) -> Dataset {
        let x = Array2::from_shape_fn((n, d).set_f(fortran), |(i, j)| (i * 1000 + j) as f32);
        let labels = (0..n).map(|i| (i % 3) as u8).collect();
        Dataset::new(x, labels, vec!["a".into(), "b".into(), "c".into()], None).unwrap()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(32))]
        #[test]
        fn split_owned_equals_split(n in 2usize..60, d in 1usize..5, frac in 0.01f64..0.99, seed in 0u64..1000,
                                    fortran in any::<bool>()) {
            let data = data(n, d, fortran);
            let a = data.split(frac, &mut ChaCha8Rng::seed_from_u64(seed));
            let b = data.clone().split_owned(frac, &mut ChaCha8Rng::seed_from_u64(seed));
            match (a, b) {
                (Ok(a), Ok(b)) => prop_assert_eq!(a, b),
                (Err(a), Err(b)) => prop_assert_eq!(a.to_string(), b.to_string()),
                (a, b) => prop_assert!(false, "split {:?} but split_owned {:?}", a.is_ok(), b.is_ok()),
            }
        }

        #[test]
        fn into_head_equals_head(n in 1usize..40, d in 1usize..4, k in 0usize..50, fortran in any::<bool>()) {
            let data = data(n, d, fortran);
            match (data.head(k), data.clone().into_head(k)) {
                (Ok(a), Ok(b)) => prop_assert_eq!(a, b),
                (Err(a), Err(b)) => prop_assert_eq!(a.to_string(), b.to_string()),
                (a, b) => prop_assert!(false, "head {:?} but into_head {:?}", a.is_ok(), b.is_ok()),
            }
        }
    }

    #[test]
    fn split_owned_of_a_sliced_array_keeps_only_the_view() {
        let full = Array2::from_shape_fn((10, 2), |(i, j)| (10 * i + j) as f32);
        let x = full.slice_move(s![3..8, ..]);
        let data = Dataset::new(x, vec![0; 5], vec!["a".into()], None).unwrap();
        let a = data.split(0.4, &mut ChaCha8Rng::seed_from_u64(3)).unwrap();
        let b = data
            .split_owned(0.4, &mut ChaCha8Rng::seed_from_u64(3))
            .unwrap();
        assert_eq!(a, b);
        assert!(b.0.features().iter().all(|&v| (30.0..80.0).contains(&v)));
    }
}
