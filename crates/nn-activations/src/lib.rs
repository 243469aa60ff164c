//! Activation functions with exact gradients (to be filled by the workspace issue).
#![warn(missing_docs)]

mod activation;
pub use activation::Activation;
