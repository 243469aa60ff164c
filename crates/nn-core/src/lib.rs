//! Layers, batch normalisation, losses, networks, gradient checking and the fast matmul for the
//! `nn-*` workspace (CS231n's forward/backward style, no autograd).
//!
//! A [`NetworkSpec`] describes a network as data (serde); [`Network::from_spec`] builds it with
//! weights from [`nn_init`]. A [`Network`] holds a closed list of [`LayerKind`]s ([`Linear`],
//! [`ActivationLayer`] for every [`nn_activations::Activation`], [`PRelu`], [`Maxout`],
//! [`BatchNorm`], [`Dropout`], [`Flatten`]) and a workspace of buffers reused from step to step.
//! [`Loss`] gives the data loss and `dscores`; L2 regularisation is reported apart
//! ([`LossReport`]). Parameters are visited by name (`layers.0.weight`) with their
//! [`ParamKind`]. [`gradcheck`] compares every backward pass with central differences, and
//! [`Network::save`] / [`Network::load`] write and read safetensors files.
//! Every matrix product goes through [`matmul::gemm`].
//!
//! # Example
//! Build a small MLP from a spec, take one SGD step by hand and check the loss went down:
//! ```
//! use ndarray::Array2;
//! use nn_core::{Loss, MlpOptions, Network, NetworkSpec, Targets};
//! use rand::SeedableRng;
//!
//! let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
//! let spec = NetworkSpec::mlp(4, &[16], 3, &MlpOptions { batch_norm: true, ..Default::default() })?;
//! let mut net = Network::<f64>::from_spec(&spec, &mut rng)?;
//! let x = Array2::from_shape_fn((6, 4), |(i, j)| ((i * 4 + j) as f64).sin());
//! let labels = [0, 1, 2, 0, 1, 2];
//! let loss = Loss::default();
//! let before = net.forward_backward(x.view(), Targets::Classes(&labels), &loss, 1e-4, &mut rng)?;
//! // Uniform-ish scores at initialisation: the loss is near ln 3 (CS231n's sanity check).
//! assert!((before.data_loss - 3f64.ln()).abs() < 1.0);
//! net.visit_params_mut(|p| {
//!     let mut w = p.value;
//!     w.zip_mut_with(&p.grad, |w, &g| *w -= 0.1 * g);
//! });
//! let after = net.forward_backward(x.view(), Targets::Classes(&labels), &loss, 1e-4, &mut rng)?;
//! assert!(after.total() < before.total());
//! # Ok::<(), nn_core::CoreError>(())
//! ```
#![cfg_attr(not(test), warn(clippy::unwrap_used, clippy::expect_used))]
#![warn(missing_docs)]
#![doc(test(attr(deny(warnings))))]

mod activation;
mod affine;
mod batch_norm;
mod dropout;
mod error;
pub mod gradcheck;
mod io;
mod layer;
mod loss;
pub mod matmul;
mod maxout;
mod network;
mod param;
mod spec;

pub use activation::{ActivationLayer, PRelu};
pub use affine::Linear;
pub use batch_norm::{BatchNorm, BatchNormConfig, BatchNormLayout};
pub use dropout::{Dropout, Flatten};
pub use error::{CoreError, Result};
pub use layer::{LayerKind, Mode};
pub use loss::{Loss, Targets};
pub use maxout::Maxout;
pub use network::{LossReport, Network};
pub use param::{Param, ParamKind, ParamMut, TensorRef};
pub use spec::{LayerSpec, MlpOptions, NetworkSpec};

/// Converts an `f64` constant to `F` (exact for `f32`/`f64` up to `f32` rounding).
pub(crate) fn lit<F: ndarray::NdFloat>(x: f64) -> F {
    F::from(x).unwrap_or_else(F::nan)
}

/// Moves an array out, leaving an empty one behind (no allocation).
pub(crate) fn take<F: ndarray::NdFloat, D: ndarray::Dimension>(
    a: &mut ndarray::Array<F, D>,
) -> ndarray::Array<F, D> {
    let empty = ndarray::Array::from_shape_vec(D::zeros(a.ndim()), Vec::new());
    match empty {
        Ok(e) => std::mem::replace(a, e),
        Err(_) => a.clone(),
    }
}

/// The default weight initialiser of [`MlpOptions`]: He (Kaiming) for ReLU.
pub(crate) fn default_init() -> nn_init::Init {
    nn_init::Init::he(nn_activations::Activation::Relu)
}
