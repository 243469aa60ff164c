//! Training dynamics for the `nn-*` workspace: optimisers, learning-rate schedules, the training loop,
//! babysitting diagnostics, hyperparameter search and evaluation.
//!
//! This crate is intentionally empty for now: its contents are planned in the project's issue
//! "Training dynamics, babysitting, hyperparameter search and evaluation (nn-train)".
//! It sits above `nn-core` and `nn-preprocess` in the layer order.
