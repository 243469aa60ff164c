//! Activation functions with exact gradients, fast on large `ndarray` arrays (CS231n style).
//!
//! The element-wise activations are values of one small `Copy` enum, [`Activation`]; the ones
//! that are not a function of one element each have their own type: [`PRelu`] (a learned slope,
//! shared or per channel), [`Maxout`] (the max of `k` pre-activations) and the softmax family
//! ([`softmax`], [`log_softmax`] along an axis). The [`diagnostics`] module measures what the
//! lecture notes warn about: saturated sigmoid/tanh units, dead ReLUs, outputs that are not
//! zero-centred.
//!
//! Every pass works on any dimension and memory layout, with `f32` or `f64`. Backward passes
//! read either the forward input or its output ([`Saved`]); [`Activation::backward_needs`] says
//! which one each activation prefers, so a layer keeps only that one. Large contiguous `f32`
//! arrays take a SIMD path (AVX-512 or AVX2 + FMA, detected at run time, see [`simd_level`]) and
//! run in parallel with rayon above [`PARALLEL_THRESHOLD`] elements; the result never depends on
//! the number of threads. Use the `_into` and `_inplace` variants in hot loops: they write into
//! the caller's buffer instead of allocating.
//!
//! # Examples, one per family
//!
//! Saturating (sigmoid, tanh): the derivative is cheapest from the output.
//! ```
//! use ndarray::{array, Array2};
//! use nn_activations::{Activation, Saved};
//! let x = array![[-2.0_f64, -0.5, 0.5, 2.0]];
//! let y = Activation::Tanh.forward(x.view());
//! assert_eq!(Activation::Tanh.backward_needs(), Saved::Output);
//! let dx = Activation::Tanh.backward(Array2::ones((1, 4)).view(), y.view(), Saved::Output)?;
//! assert!((dx[[0, 3]] - (1.0 - 2.0_f64.tanh().powi(2))).abs() < 1e-15);
//! # Ok::<(), nn_activations::ActivationError>(())
//! ```
//!
//! Rectifiers (ReLU, Leaky ReLU, ELU, SELU), in place on a caller's buffer:
//! ```
//! use ndarray::array;
//! use nn_activations::{Activation, Saved};
//! let x = array![-1.0_f32, 0.0, 2.0];
//! let mut y = x.clone();
//! Activation::Elu { alpha: 1.0 }.forward_inplace(y.view_mut());
//! assert_eq!(y[2], 2.0);
//! assert!((y[0] - (-1.0_f32).exp_m1()).abs() < 1e-7);
//! let mut g = array![1.0_f32, 1.0, 1.0];
//! Activation::Elu { alpha: 1.0 }.backward_inplace(g.view_mut(), y.view(), Saved::Output)?;
//! assert!((g[0] - (-1.0_f32).exp()).abs() < 1e-7 && g[2] == 1.0);
//! # Ok::<(), nn_activations::ActivationError>(())
//! ```
//!
//! Smooth (GELU, SiLU, softplus): stable for any finite input; the derivative needs the input.
//! ```
//! use ndarray::array;
//! use nn_activations::{Activation, ActivationError, Saved};
//! let x = array![-1e30_f32, 0.0, 1e30];
//! assert_eq!(Activation::Gelu.forward(x.view()), array![-0.0, 0.0, 1e30]);
//! assert_eq!(Activation::Softplus.forward(x.view())[2], 1e30);
//! let r = Activation::Silu.backward(x.view(), x.view(), Saved::Output);
//! assert!(matches!(r, Err(ActivationError::NeedsInput { .. })));
//! ```
//!
//! PReLU (learned slope) and Maxout (winner takes the gradient):
//! ```
//! use ndarray::array;
//! use nn_activations::{Maxout, PRelu};
//! let prelu = PRelu::shared(0.25_f64)?;
//! let g = prelu.backward(array![1.0, 1.0].view(), array![-4.0, 3.0].view())?;
//! assert_eq!((g.dx, g.dalpha[0]), (array![0.25, 1.0], -4.0));
//! let (y, cache) = Maxout::new(2)?.forward(&[array![1.0, 5.0].view(), array![2.0, 0.0].view()])?;
//! assert_eq!((y, cache.winners().to_vec()), (array![2.0, 5.0], vec![1, 0]));
//! # Ok::<(), nn_activations::ActivationError>(())
//! ```
//!
//! Softmax along the class axis, and the diagnostics:
//! ```
//! use ndarray::{array, Axis};
//! use nn_activations::{diagnostics, softmax, Activation};
//! let p = softmax(array![[2.0_f64, 1.0, 0.1]].view(), Axis(1))?;
//! assert!((p.sum() - 1.0).abs() < 1e-15);
//! let x = array![[-1.0_f64, 2.0], [-3.0, 4.0]];
//! assert_eq!(diagnostics::dead_fraction(Activation::Relu, x.view())?, 0.5);
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
