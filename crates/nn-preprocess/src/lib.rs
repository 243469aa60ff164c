//! Data preprocessing and data set readers for the `nn-*` workspace (CS231n, "Training Neural Networks I").
//!
//! *Transforms* are fitted on the whole training set and then applied to any split, in the fit/transform style of
//! linfa and scikit-learn: a config ([`MeanImage`], [`ChannelMean`], [`Standardize`], [`Pca`], [`Whitening`])
//! implements [`Fit`]; fitting (at once, or streaming with [`PartialFit::partial_fit`] over batches) returns a
//! `FittedXxx` that implements [`Transform`] (transform and inverse transform) and [`Persist`] (JSON save/load).
//! Statistics use f64 accumulators merged with Chan et al.'s formulas ([`Moments`], [`Covariance`]), in parallel over
//! fixed chunks and deterministic for a given input.
//!
//! *Readers* ([`readers`]) decode MNIST / Fashion-MNIST IDX files (raw or gzip) and CIFAR-10 binary batches into a
//! [`Dataset`] (`N × D` f32 features in `[0, 1]`, u8 labels, class names, an explicit [`ImageShape`] with its
//! [`Layout`]), which splits into train/validation and yields seeded shuffled mini-batches.
//!
//! # Example
//! ```
//! use ndarray::array;
//! use nn_preprocess::{Fit, MeanImage, PartialFit, Transform};
//! let train = array![[0.0f32, 4.0], [2.0, 8.0], [4.0, 0.0]];
//! // Streaming over two batches gives the same mean as fitting at once.
//! let mut s = MeanImage.streaming();
//! s.partial_fit(train.slice(ndarray::s![..1, ..]))?;
//! s.partial_fit(train.slice(ndarray::s![1.., ..]))?;
//! let fitted = s.finish()?;
//! assert_eq!(fitted.mean(), &[2.0, 4.0]);
//! let centred = fitted.transform(train.view())?;
//! assert_eq!(centred.row(0).to_vec(), vec![-2.0f32, 0.0]);
//! # Ok::<(), nn_preprocess::PreprocessError>(())
//! ```
#![cfg_attr(not(test), warn(clippy::unwrap_used, clippy::expect_used))]
#![warn(missing_docs)]
#![doc(test(attr(deny(warnings))))]

mod dataset;
mod error;
mod mean;
mod normalize;
mod pca;
pub mod readers;
mod shape;
mod stats;
mod transform;
mod whiten;

pub use dataset::{Batch, Batches, Dataset};
pub use error::{FormatError, PreprocessError, Result};
pub use mean::{ChannelMean, FittedMean, MeanImage, MomentsFit};
pub use normalize::{FittedStandardize, Standardize};
pub use pca::{CovarianceFit, FittedPca, Pca, PcaComponents};
pub use readers::cifar::{load_cifar10_dir, CIFAR10_CLASSES};
pub use readers::idx::{load_idx_dir, IdxSet};
pub use shape::{ImageShape, Layout};
pub use stats::{Covariance, Moments, Scope};
pub use transform::{write_atomic, write_atomic_with, Fit, PartialFit, Persist, Transform};
pub use whiten::{FittedWhitening, Whitening, WhiteningMethod};
