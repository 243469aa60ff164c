//! Weight initialisation for the `nn-*` workspace, and the activation-statistics experiment.
//!
//! [`Init`] turns a dense `(D, H)` shape (or a convolution `(out, in, kh, kw)` shape, see
//! [`Fans`]) and an explicit RNG into weights; [`BiasInit`] makes biases.
//!
//! # Example
//! ```
//! use nn_activations::Activation;
//! use nn_init::{BiasInit, Init};
//! use rand::SeedableRng;
//! use rand_chacha::ChaCha8Rng;
//!
//! let mut rng = ChaCha8Rng::seed_from_u64(42);
//! let w = Init::recommended_for(Activation::Tanh).weights::<f64, _>(500, 500, &mut rng)?;
//! let b = BiasInit::Zeros.bias::<f64>(500)?;
//! assert_eq!((w.dim(), b.len()), ((500, 500), 500));
//! # Ok::<(), nn_init::InitError>(())
//! ```
#![cfg_attr(not(test), warn(clippy::unwrap_used, clippy::expect_used))]
#![warn(missing_docs)]
#![doc(test(attr(deny(warnings))))]

mod error;
mod fan;
mod init;
mod orthogonal;
mod sample;
mod stats;

pub use error::{InitError, Result};
pub use fan::{FanMode, Fans};
pub use init::{BiasInit, Distribution, Init};
pub use sample::CHUNK_LEN;
pub use stats::{init_stats, Histogram, InitStatsConfig, InitStatsReport, LayerStats};
