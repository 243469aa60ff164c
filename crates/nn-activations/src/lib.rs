//! Activation functions with exact gradients, fast on large `ndarray` arrays (CS231n style).
//!
//! The element-wise activations are values of one small `Copy` enum, [`Activation`]; the ones
//! that are not a function of one element each have their own type: [`PRelu`] (a learned slope,
//! shared or per channel), [`Maxout`] (the max of `k` pre-activations) and the softmax family
//! ([`softmax`], [`log_softmax`] along an axis). The [`diagnostics`] module measures what the
//! lecture notes warn about: saturated sigmoid/tanh units, dead ReLUs, outputs that are not
//! zero-centred.
//!
//! Every pass works on any dimension and memory layout. Large contiguous `f32` arrays take a
//! SIMD path (AVX-512 or AVX2 + FMA, detected at run time) and run in parallel with rayon above
//! [`PARALLEL_THRESHOLD`] elements; the result never depends on the number of threads.
//!
//! # Example
//! ```
//! use ndarray::array;
//! use nn_activations::{Activation, Saved};
//!
//! let x = array![[-2.0_f64, -0.5, 0.5, 2.0]];
//! let act = Activation::Tanh;
//! let y = act.forward(x.view());
//! // tanh's derivative is cheapest from its output: 1 - y².
//! assert_eq!(act.backward_needs(), Saved::Output);
//! let dx = act.backward(ndarray::Array2::ones((1, 4)).view(), y.view(), Saved::Output)?;
//! assert!((dx[[0, 3]] - (1.0 - 2.0_f64.tanh().powi(2))).abs() < 1e-15);
//! # Ok::<(), nn_activations::ActivationError>(())
//! ```
#![cfg_attr(not(test), warn(clippy::unwrap_used, clippy::expect_used))]
#![warn(missing_docs)]
#![doc(test(attr(deny(warnings))))]

mod activation;
pub mod diagnostics;
mod elementwise;
mod error;
mod kernels;
mod maxout;
mod prelu;
mod scalar;
mod simd;
mod softmax;

pub use activation::{Activation, Saved};
pub use elementwise::{PARALLEL_CHUNK, PARALLEL_THRESHOLD};
pub use error::{ActivationError, Result};
pub use maxout::{Maxout, MaxoutCache};
pub use prelu::{PRelu, PReluGrads};
pub use simd::{simd_level, SimdLevel};
pub use softmax::{log_softmax, log_softmax_backward, softmax, softmax_backward};
