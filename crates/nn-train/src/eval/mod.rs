//! Evaluation: accuracy, top-k accuracy, confusion matrices with per-class precision, recall and F1,
//! ensembles (mean of predicted probabilities), parameter averaging (Polyak and exponential moving
//! averages) and test-time augmentation of image batches.
//!
//! Scores and probabilities are `N × C` matrices (one row per sample, one column per class) and labels
//! are class indices in `0..C`.

mod averaging;
mod ensemble;
mod metrics;
mod tta;

pub use averaging::{BiasCorrection, Ema, Polyak};
pub use ensemble::ensemble_mean;
pub use metrics::{
    accuracy, predictions, top_k_accuracy, ClassMetrics, ClassificationReport, ConfusionMatrix,
};
pub use tta::{augment, horizontal_flip, shift, standard_augmentations, Augmentation};
