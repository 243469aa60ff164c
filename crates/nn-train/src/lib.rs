//! Training dynamics for the `nn-*` workspace: the training loop, parameter updates, learning-rate
//! schedules, the babysitting checks of CS231n's lectures, hyperparameter search and evaluation.
//!
//! The main types:
//! - [`Trainer`] runs seeded epochs over an [`nn_preprocess::Dataset`] from a serialisable
//!   [`TrainConfig`], with early stopping, the best network kept, divergence detection and
//!   checkpoints that resume bit-identically ([`checkpoint`]). An [`Observer`] receives every
//!   [`StepMetrics`] and [`EpochMetrics`]; the library never prints.
//! - [`monitor`]: update/weight ratios, gradient norms, activation statistics and the train/validation
//!   gap reading, with warnings an order of magnitude away from healthy values.
//! - [`sanity`]: the four pre-training checks (initial loss ≈ ln C, regularisation raises the loss,
//!   overfitting a tiny subset, gradient check); [`lr_find`]: the learning-rate range test.
//! - [`search_run`]: coarse-to-fine random or grid search over serialisable trial configs, run in
//!   parallel; [`predict`]: probabilities, ensembles, test-time augmentation and evaluation reports.
//! - [`optim`]: [`optim::OptimizerConfig`] → [`optim::Optimizer`] (SGD, momentum, Nesterov, AdaGrad,
//!   RMSProp, Adam, AdamW, each as PyTorch documents it) with per-parameter, serialisable states, and
//!   [`optim::clip_grad_norm`].
//! - [`schedule`]: [`schedule::ScheduleConfig`] → [`schedule::Schedule`] (constant, step, exponential,
//!   1/t, cosine with optional warm restarts, linear warm-up, reduce-on-plateau).
//! - [`eval`]: accuracy, top-k accuracy, [`eval::ConfusionMatrix`] with per-class precision, recall and
//!   F1, ensemble averaging, Polyak and exponential moving averages of parameters, test-time
//!   augmentation of image batches.
//! - [`search`]: [`search::SearchSpace`] of log-uniform, uniform, integer and categorical
//!   hyperparameters, with random sampling, grids, coarse-to-fine narrowing and edge warnings.
//!
//! # Example
//! ```
//! use ndarray::array;
//! use nn_train::optim::{Optimizer, OptimizerConfig};
//! use nn_train::schedule::ScheduleConfig;
//! let mut opt = Optimizer::<f64>::new(OptimizerConfig::default())?; // Adam
//! let schedule = ScheduleConfig::Cosine { lr: 0.1, min_lr: 0.0, period: 100, restart_mult: None }
//!     .build()?;
//! // Minimise f(w) = ½‖w − c‖² with gradient w − c.
//! let c = array![1.0, -2.0];
//! let mut w = array![0.0, 0.0];
//! for t in 0..100 {
//!     let grad = &w - &c;
//!     opt.step(schedule.lr_at(t), "w", w.view_mut(), grad.view())?;
//! }
//! assert!((&w - &c).iter().all(|d| d.abs() < 0.05));
//! # Ok::<(), nn_train::TrainError>(())
//! ```
#![cfg_attr(not(test), warn(clippy::unwrap_used, clippy::expect_used))]
#![warn(missing_docs)]
#![doc(test(attr(deny(warnings))))]

pub mod checkpoint;
pub mod config;
pub mod error;
pub mod eval;
pub mod lr_find;
pub mod monitor;
pub mod observer;
pub mod optim;
pub mod predict;
pub mod sanity;
pub mod schedule;
pub mod search;
pub mod search_run;
pub mod trainer;

pub use config::{EarlyStopping, TrainConfig};
pub use error::{Result, TrainError};
pub use observer::{Control, EpochMetrics, Observer, StepMetrics};
pub use trainer::{StopReason, TrainReport, Trainer};
