//! Weight initialisation for the `nn-*` workspace, and the activation-statistics experiment.
//!
//! The lecture's point: the initial weights decide whether a deep network can learn at all.
//! [`Init`] turns a dense `(D, H)` shape (or a convolution `(out, in, kh, kw)` shape, see
//! [`Fans`] for which axis is `fan_in`) and an explicit RNG into weights; [`BiasInit`] makes
//! biases; [`init_stats`] runs the lecture's experiment and returns an [`InitStatsReport`].
//!
//! ```
//! use nn_activations::Activation;
//! use nn_init::{BiasInit, Init};
//! use rand::SeedableRng;
//! use rand_chacha::ChaCha8Rng;
//!
//! let mut rng = ChaCha8Rng::seed_from_u64(42);
//! let w = Init::recommended_for(Activation::Relu).weights::<f32, _>(784, 100, &mut rng)?;
//! let b = BiasInit::Zeros.bias::<f32>(100)?;
//! assert_eq!((w.dim(), b.len()), ((784, 100), 100));
//! # Ok::<(), nn_init::InitError>(())
//! ```
//!
//! # Which initialiser for which activation
//!
//! | activation | initialiser | variance of `W` | constructor |
//! |---|---|---|---|
//! | ReLU, ELU, GELU, SiLU, Softplus | He, fan-in | `2 / fan_in` | [`Init::he`]`(Activation::Relu)` |
//! | Leaky ReLU (slope `a`) | He with its gain | `2 / ((1 + a²) fan_in)` | [`Init::he`]`(Activation::LeakyRelu { slope: a })` |
//! | tanh, sigmoid, none | Xavier (notes) or Glorot | `1 / fan_in` or `2 / (fan_in + fan_out)` | [`Init::xavier`], [`Init::glorot_uniform`] |
//! | SELU | LeCun normal | `1 / fan_in` | [`Init::lecun_normal`] |
//! | very deep / recurrent linear paths | orthogonal | `WᵀW = gain² I` | [`Init::Orthogonal`] |
//!
//! [`Init::recommended_for`] encodes the first four rows. Biases: zeros ([`BiasInit::Zeros`]),
//! or the notes' small positive 0.01 for ReLU units ([`BiasInit::RELU`]). Never initialise
//! weights to zeros or a constant ([`Init::Zeros`]): every unit of a layer then computes the same
//! thing and gets the same update, forever.
//!
//! Why, in numbers: [`init_stats`] with the lecture's network (a 1000 × 500 unit-Gaussian batch
//! through 10 layers of 500 units, no bias; `cargo run --release -p nn-init --example
//! init_stats`, seed 231, `f64`). "std" is the activations' standard deviation; "grad std" is
//! that of the gradient reaching layer 1 when a unit-Gaussian gradient enters layer 10.
//!
//! | activation, weights | std, layer 1 | std, layer 10 | saturated, layer 10 | grad std, layer 1 |
//! |---|---|---|---|---|
//! | tanh, `0.01 * randn` | 0.213 | 3.0e-7 | 0 % | 1.4e-6 |
//! | tanh, `1.0 * randn` | 0.982 | 0.982 | 89 % | 7.4e4 |
//! | tanh, Xavier | 0.627 | 0.228 | 0 % | 0.39 |
//! | ReLU, Xavier | 0.583 | 0.028 | 49 % (the negative side) | 0.045 |
//! | ReLU, He | 0.824 | 0.898 | 49 % (the negative side) | 1.03 |
//!
//! - **Small random** weights shrink the signal by `0.01 · √500 = 0.22` per layer: by layer 10
//!   every activation is ≈ 0, so the weight gradients `Hᵀ dZ` are ≈ 0 too (4e-5 here, against
//!   ≈ 7 with Xavier), and the gradient flowing down shrinks by the same factor.
//! - **Large random** weights give pre-activations with std ≈ √500 ≈ 22: 89 % of the tanh units
//!   sit at ±1 where the local gradient is below 0.01 (mean `|f'|` = 0.036). The gradient that
//!   does flow is then scaled by the huge weights, so its size is erratic (it *grows* 3.4× per
//!   layer here); either way the units barely learn.
//! - **Xavier** (`Var = 1/fan_in`) keeps each pre-activation's variance equal to the previous
//!   layer's second moment; tanh is linear near 0, so the spread only drifts (0.63 → 0.23).
//! - **ReLU** zeroes half its input, halving the second moment each layer: with Xavier the std
//!   falls by `1/√2` per layer (0.58 → 0.028, `0.707⁹ = 0.044`); **He**'s factor 2 restores it.
//!   Even with He, 11 % of layer 10's units are dead on this batch (never active), because deep
//!   ReLU layers make the examples' representations similar.
//!
//! The same comparison at a smaller size, as a test you can run:
//! ```
//! use nn_activations::Activation;
//! use nn_init::{init_stats, Init, InitStatsConfig};
//! use rand::SeedableRng;
//! use rand_chacha::ChaCha8Rng;
//!
//! let run = |init| {
//!     let config = InitStatsConfig {
//!         batch_size: 200,
//!         input_dim: 200,
//!         hidden_dim: 200,
//!         hidden_layers: 6,
//!         init,
//!         activation: Activation::Relu,
//!         ..InitStatsConfig::default()
//!     };
//!     init_stats::<f64, _>(&config, &mut ChaCha8Rng::seed_from_u64(0)).map(|r| r.stds())
//! };
//! let xavier = run(Init::xavier())?;
//! let he = run(Init::he(Activation::Relu))?;
//! // Five halvings of the variance: std × 0.707⁵ = 0.18 with Xavier, ≈ 1 with He.
//! assert!(xavier[5] / xavier[0] < 0.3);
//! assert!((he[5] / he[0] - 1.0).abs() < 0.3);
//! # Ok::<(), nn_init::InitError>(())
//! ```
//!
//! # Reproducibility
//!
//! Every initialiser takes the RNG explicitly (`&mut R` with `R: rand::Rng + ?Sized`); use a
//! seeded `rand_chacha::ChaCha8Rng`. A random initialiser draws one `u64` from it and fills the
//! matrix in chunks of [`CHUNK_LEN`] elements, chunk `i` from ChaCha8 stream `i` of that seed,
//! in parallel with rayon: the result does not depend on the number of threads. The Gaussian
//! and uniform samplers use only IEEE-754 basic operations (no platform `libm`), so the same seed
//! gives the same weights, bit for bit, on every platform.
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
