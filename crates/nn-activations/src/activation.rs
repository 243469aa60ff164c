//! The [`Activation`] value: one element-wise activation function with its parameters.

/// An element-wise activation function, as a small `Copy` value.
///
/// PReLU (learned slope), Maxout (several pre-activations) and Softmax (a whole axis) are not
/// element-wise functions of one input and have their own types.
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(tag = "kind", rename_all = "snake_case"))]
pub enum Activation {
    /// `f(x) = x`.
    Identity,
    /// `f(x) = 1 / (1 + e^-x)`.
    Sigmoid,
    /// `f(x) = tanh(x)`.
    Tanh,
    /// `f(x) = max(0, x)`.
    Relu,
    /// `f(x) = x` for `x > 0`, else `slope * x` (PyTorch's default slope is 0.01).
    LeakyRelu {
        /// Slope for negative inputs.
        slope: f64,
    },
    /// `f(x) = x` for `x > 0`, else `alpha * (e^x - 1)`.
    Elu {
        /// Scale of the negative branch.
        alpha: f64,
    },
    /// `f(x) = x * Φ(x)` with the exact (erf) normal CDF.
    Gelu,
    /// GELU's tanh approximation `0.5 x (1 + tanh(√(2/π) (x + 0.044715 x³)))`.
    GeluTanh,
    /// SiLU / Swish: `f(x) = x * sigmoid(x)`.
    Silu,
    /// SELU: `λ * (x if x > 0 else α (e^x - 1))` with Klambauer et al.'s constants.
    Selu,
    /// Softplus: `f(x) = ln(1 + e^x)`.
    Softplus,
}

impl Activation {
    /// The recommended gain for weight initialisation, as PyTorch's `torch.nn.init.calculate_gain`.
    ///
    /// ```text
    /// identity, sigmoid: 1        tanh: 5/3        relu: √2
    /// leaky relu (slope a): √(2 / (1 + a²))        selu: 3/4
    /// ```
    /// PyTorch defines no gain for ELU, GELU, SiLU and Softplus; for those this returns √2, the
    /// ReLU gain, since all of them behave like ReLU for large inputs.
    pub fn gain(&self) -> f64 {
        match *self {
            Activation::Identity | Activation::Sigmoid => 1.0,
            Activation::Tanh => 5.0 / 3.0,
            Activation::Relu
            | Activation::Elu { .. }
            | Activation::Gelu
            | Activation::GeluTanh
            | Activation::Silu
            | Activation::Softplus => std::f64::consts::SQRT_2,
            Activation::LeakyRelu { slope } => (2.0 / (1.0 + slope * slope)).sqrt(),
            Activation::Selu => 0.75,
        }
    }
}
