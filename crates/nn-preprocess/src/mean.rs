//! Mean subtraction: the mean image (per feature, AlexNet) or the per-channel mean (VGG), fitted on the whole
//! training set.

use crate::error::{PreprocessError, Result};
use crate::shape::ImageShape;
use crate::stats::{Moments, Scope};
use crate::transform::{cast, check_input, Fit, PartialFit, Transform};
use ndarray::{Array1, Array2, ArrayView2, ArrayViewMut2, NdFloat};
use serde::{Deserialize, Serialize};

/// The streaming state of the moment-based steps ([`MeanImage`], [`ChannelMean`], [`crate::Standardize`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MomentsFit<C> {
    /// The step's hyperparameters.
    pub config: C,
    /// The statistics so far.
    pub moments: Moments,
}

impl<C> MomentsFit<C> {
    pub(crate) fn add<F: NdFloat>(&mut self, x: ArrayView2<'_, F>) -> Result<()> {
        self.moments.partial_fit(x)
    }

    pub(crate) fn merge_moments(&mut self, other: &Self) -> Result<()> {
        self.moments.merge(&other.moments)
    }

    pub(crate) fn dim(&self, op: &'static str) -> Result<usize> {
        match self.moments.dim() {
            Some(d) if self.moments.samples() > 0 => Ok(d),
            _ => Err(PreprocessError::EmptyInput { op }),
        }
    }
}

/// Subtracts the mean image: one mean per feature over all training samples.
///
/// ```text
/// μ_j = (1/N) Σ_i x_ij          y_ij = x_ij − μ_j
/// ```
///
/// # Example
/// ```
/// use ndarray::array;
/// use nn_preprocess::{Fit, MeanImage, Transform};
/// let train = array![[0.0f32, 2.0], [2.0, 4.0]];
/// let fitted = MeanImage.fit(train.view())?;
/// assert_eq!(fitted.mean_per_feature(), vec![1.0, 3.0]);
/// assert_eq!(fitted.transform(array![[1.0f32, 1.0]].view())?, array![[0.0f32, -2.0]]);
/// # Ok::<(), nn_preprocess::PreprocessError>(())
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MeanImage;

/// Subtracts one mean per image channel, computed over all pixels of all training images.
///
/// ```text
/// μ_c = mean of x_i[j] over all samples i and all features j of channel c         y_ij = x_ij − μ_c(j)
/// ```
///
/// The layout in [`ImageShape`] says which features belong to which channel; it is never guessed.
///
/// # Example
/// ```
/// use ndarray::array;
/// use nn_preprocess::{ChannelMean, Fit, ImageShape, Layout};
/// // Two 1×2 RGB images in NHWC order: r g b r g b.
/// let shape = ImageShape::new(3, 1, 2, Layout::Nhwc)?;
/// let x = array![[1.0f32, 10.0, 100.0, 3.0, 30.0, 300.0], [1.0, 10.0, 100.0, 3.0, 30.0, 300.0]];
/// let fitted = ChannelMean::new(shape).fit(x.view())?;
/// assert_eq!(fitted.mean(), &[2.0, 20.0, 200.0]);
/// # Ok::<(), nn_preprocess::PreprocessError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelMean {
    /// The image shape and layout of every row.
    pub shape: ImageShape,
}

impl ChannelMean {
    /// Per-channel mean subtraction for images of `shape`.
    pub fn new(shape: ImageShape) -> Self {
        Self { shape }
    }
}

/// A fitted mean subtraction (mean image or per-channel mean).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FittedMean {
    scope: Scope,
    dim: usize,
    mean: Vec<f64>,
    samples: u64,
}

impl FittedMean {
    /// The per-group means: `D` values for a mean image, `C` for a per-channel mean.
    pub fn mean(&self) -> &[f64] {
        &self.mean
    }

    /// The mean expanded to one value per feature (length `D`).
    pub fn mean_per_feature(&self) -> Vec<f64> {
        self.scope.expand(&self.mean, self.dim)
    }

    /// The scope (per feature or per channel with its image shape).
    pub fn scope(&self) -> Scope {
        self.scope
    }

    /// How many training samples the mean was computed from.
    pub fn samples(&self) -> u64 {
        self.samples
    }
}

fn finish_mean<C>(s: &MomentsFit<C>, op: &'static str) -> Result<FittedMean> {
    let dim = s.dim(op)?;
    Ok(FittedMean {
        scope: s.moments.scope(),
        dim,
        mean: s.moments.mean()?,
        samples: s.moments.samples(),
    })
}

impl Fit for MeanImage {
    type Fitted = FittedMean;
    type Streaming = MomentsFit<MeanImage>;
    fn streaming(&self) -> Self::Streaming {
        MomentsFit {
            config: *self,
            moments: Moments::new(Scope::PerFeature),
        }
    }
}

impl PartialFit for MomentsFit<MeanImage> {
    type Fitted = FittedMean;
    fn partial_fit<F: NdFloat>(&mut self, x: ArrayView2<'_, F>) -> Result<()> {
        self.add(x)
    }
    fn merge(&mut self, other: &Self) -> Result<()> {
        self.merge_moments(other)
    }
    fn finish(&self) -> Result<FittedMean> {
        finish_mean(self, "MeanImage::finish")
    }
}

impl Fit for ChannelMean {
    type Fitted = FittedMean;
    type Streaming = MomentsFit<ChannelMean>;
    fn streaming(&self) -> Self::Streaming {
        MomentsFit {
            config: *self,
            moments: Moments::new(Scope::PerChannel(self.shape)),
        }
    }
}

impl PartialFit for MomentsFit<ChannelMean> {
    type Fitted = FittedMean;
    fn partial_fit<F: NdFloat>(&mut self, x: ArrayView2<'_, F>) -> Result<()> {
        self.add(x)
    }
    fn merge(&mut self, other: &Self) -> Result<()> {
        self.merge_moments(other)
    }
    fn finish(&self) -> Result<FittedMean> {
        finish_mean(self, "ChannelMean::finish")
    }
}

impl Transform for FittedMean {
    fn input_dim(&self) -> usize {
        self.dim
    }
    fn output_dim(&self) -> usize {
        self.dim
    }
    fn image_shape(&self) -> Option<ImageShape> {
        match self.scope {
            Scope::PerFeature => None,
            Scope::PerChannel(s) => Some(s),
        }
    }
    fn keeps_image_shape(&self) -> bool {
        true
    }
    fn transform<F: NdFloat>(&self, x: ArrayView2<'_, F>) -> Result<Array2<F>> {
        check_input("FittedMean::transform", x, self.dim)?;
        let m: Array1<F> = self.mean_per_feature().into_iter().map(cast).collect();
        Ok(&x - &m)
    }
    fn transform_in_place<F: NdFloat>(&self, mut x: ArrayViewMut2<'_, F>) -> Result<()> {
        check_input("FittedMean::transform_in_place", x.view(), self.dim)?;
        let m: Array1<F> = self.mean_per_feature().into_iter().map(cast).collect();
        // `x - m` per element, as in `transform`.
        for mut row in x.rows_mut() {
            row.zip_mut_with(&m, |v, &m| *v -= m);
        }
        Ok(())
    }
    fn inverse_transform<F: NdFloat>(&self, y: ArrayView2<'_, F>) -> Result<Array2<F>> {
        check_input("FittedMean::inverse_transform", y, self.dim)?;
        let m: Array1<F> = self.mean_per_feature().into_iter().map(cast).collect();
        Ok(&y + &m)
    }
}
