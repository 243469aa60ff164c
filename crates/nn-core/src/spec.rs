//! [`NetworkSpec`]: a network described as data (serde), validated, then built.

use nn_activations::Activation;
use nn_init::{BiasInit, Init};
use serde::{Deserialize, Serialize};

use crate::batch_norm::{BatchNormConfig, BatchNormLayout};
use crate::error::{CoreError, Result};

/// One layer of a [`NetworkSpec`]. Input widths are inferred from the layer before.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "layer", rename_all = "snake_case")]
pub enum LayerSpec {
    /// [`crate::Linear`] with `outputs` units (`H`).
    Linear {
        /// Output width `H`.
        outputs: usize,
        /// How `W` is drawn.
        init: Init,
        /// How `b` is set.
        bias: BiasInit,
    },
    /// [`crate::ActivationLayer`].
    Activation {
        /// The function.
        activation: Activation,
    },
    /// [`crate::PRelu`] with initial slope `init` (PyTorch's default is 0.25).
    PRelu {
        /// One slope per feature (`true`) or one shared slope.
        per_feature: bool,
        /// Initial slope.
        init: f64,
    },
    /// [`crate::Maxout`] with `pieces` affine pieces of `outputs` units each.
    Maxout {
        /// Output width `H`.
        outputs: usize,
        /// Number of pieces `k`.
        pieces: usize,
        /// How each piece's `W_p` is drawn.
        init: Init,
        /// How each piece's `b_p` is set.
        bias: BiasInit,
    },
    /// [`crate::BatchNorm`].
    BatchNorm {
        /// Its hyperparameters.
        config: BatchNormConfig,
    },
    /// [`crate::Dropout`] with drop probability `p` (PyTorch's convention).
    Dropout {
        /// Drop probability in `[0, 1)`.
        p: f64,
    },
    /// [`crate::Flatten`].
    Flatten,
}

/// A network as data: the input width and the layers in order.
///
/// # Example
/// ```
/// use nn_core::{LayerSpec, NetworkSpec};
/// let spec = NetworkSpec::mlp(4, &[8], 3, &Default::default())?;
/// assert_eq!(spec.output_dim()?, 3);
/// let json = serde_json::to_string(&spec)?;
/// assert_eq!(serde_json::from_str::<NetworkSpec>(&json)?, spec);
/// assert!(matches!(spec.layers[0], LayerSpec::Linear { outputs: 8, .. }));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NetworkSpec {
    /// Input width `D` (for images, `C·H·W`).
    pub input_dim: usize,
    /// The layers, first to last.
    pub layers: Vec<LayerSpec>,
}

/// Options of [`NetworkSpec::mlp`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MlpOptions {
    /// Activation after each hidden layer (default ReLU).
    pub activation: Activation,
    /// Weight initialiser of every `Linear` (default He / Kaiming normal).
    pub init: Init,
    /// Bias initialiser (default zeros).
    pub bias: BiasInit,
    /// Insert a `BatchNorm` over features between each hidden `Linear` and its activation.
    pub batch_norm: bool,
    /// Drop probability of a `Dropout` after each hidden activation (`0` inserts none).
    pub dropout: f64,
}

impl Default for MlpOptions {
    fn default() -> Self {
        MlpOptions {
            activation: Activation::Relu,
            init: crate::default_init(),
            bias: BiasInit::Zeros,
            batch_norm: false,
            dropout: 0.0,
        }
    }
}

impl NetworkSpec {
    /// A multilayer perceptron `D → hidden… → C`: each hidden layer is
    /// `Linear → [BatchNorm] → activation → [Dropout]`, and the last is a `Linear` giving scores.
    ///
    /// # Errors
    /// As [`NetworkSpec::validate`].
    pub fn mlp(
        input_dim: usize,
        hidden: &[usize],
        num_classes: usize,
        options: &MlpOptions,
    ) -> Result<Self> {
        let mut layers = Vec::new();
        for &h in hidden {
            layers.push(LayerSpec::Linear {
                outputs: h,
                init: options.init,
                bias: options.bias,
            });
            if options.batch_norm {
                layers.push(LayerSpec::BatchNorm {
                    config: BatchNormConfig::default(),
                });
            }
            layers.push(LayerSpec::Activation {
                activation: options.activation,
            });
            if options.dropout > 0.0 {
                layers.push(LayerSpec::Dropout { p: options.dropout });
            }
        }
        layers.push(LayerSpec::Linear {
            outputs: num_classes,
            init: options.init,
            bias: options.bias,
        });
        let spec = NetworkSpec { input_dim, layers };
        spec.validate()?;
        Ok(spec)
    }

    /// The widths `[D, d₁, …, d_L]`: input, then each layer's output.
    ///
    /// # Errors
    /// As [`NetworkSpec::validate`].
    pub fn dims(&self) -> Result<Vec<usize>> {
        positive("input_dim", self.input_dim)?;
        let mut dims = vec![self.input_dim];
        let mut d = self.input_dim;
        for layer in &self.layers {
            d = match layer {
                LayerSpec::Linear { outputs, .. } => positive("linear.outputs", *outputs)?,
                LayerSpec::Maxout {
                    outputs, pieces, ..
                } => {
                    positive("maxout.pieces", *pieces)?;
                    positive("maxout.outputs", *outputs)?
                }
                LayerSpec::Activation { activation } => {
                    activation.validate()?;
                    d
                }
                LayerSpec::PRelu { init, .. } => {
                    if !init.is_finite() {
                        return Err(CoreError::InvalidHyperparameter {
                            name: "prelu.init",
                            value: init.to_string(),
                            reason: "must be finite",
                        });
                    }
                    d
                }
                LayerSpec::BatchNorm { config } => {
                    config.validate()?;
                    if let Some(w) = config.layout.row_width() {
                        crate::error::check_shape("NetworkSpec (batch norm layout)", &[w], &[d])?;
                    }
                    d
                }
                LayerSpec::Dropout { p } => {
                    if !(0.0..1.0).contains(p) {
                        return Err(CoreError::InvalidHyperparameter {
                            name: "dropout.p",
                            value: p.to_string(),
                            reason: "the drop probability must be in [0, 1)",
                        });
                    }
                    d
                }
                LayerSpec::Flatten => d,
            };
            dims.push(d);
        }
        Ok(dims)
    }

    /// The output width (`C` for a classifier).
    ///
    /// # Errors
    /// As [`NetworkSpec::validate`].
    pub fn output_dim(&self) -> Result<usize> {
        Ok(self.dims()?.last().copied().unwrap_or(self.input_dim))
    }

    /// Checks every size is positive, dropout is in `[0, 1)`, batch-norm settings and image layouts
    /// fit, and activations' parameters are valid.
    ///
    /// # Errors
    /// [`CoreError::InvalidHyperparameter`], [`CoreError::ShapeMismatch`] or
    /// [`CoreError::Activation`], naming the field.
    pub fn validate(&self) -> Result<()> {
        self.dims().map(|_| ())
    }
}

/// A [`BatchNormConfig`] for plain features with PyTorch's defaults.
impl From<BatchNormLayout> for BatchNormConfig {
    fn from(layout: BatchNormLayout) -> Self {
        BatchNormConfig {
            layout,
            ..BatchNormConfig::default()
        }
    }
}

fn positive(name: &'static str, v: usize) -> Result<usize> {
    if v == 0 {
        Err(CoreError::InvalidHyperparameter {
            name,
            value: "0".into(),
            reason: "must be positive",
        })
    } else {
        Ok(v)
    }
}
