//! The [`Activation`] value: one element-wise activation function with its parameters, its scalar
//! formula and derivative, and the array passes (`forward`, `backward`, in place or into a buffer).

use crate::elementwise;
use crate::error::{ActivationError, Result};
use crate::kernels;
use crate::scalar::{self, lit, GELU_C, SELU_ALPHA, SELU_LAMBDA, SQRT_2_OVER_PI};
use ndarray::{Array, ArrayView, ArrayViewMut, Dimension, NdFloat};

/// Which forward tensor a backward pass reads: the activation's input `x` or its output `y`.
///
/// Keep whichever is cheaper for your layer: [`Activation::backward_needs`] names the one each
/// activation prefers, and [`Activation::supports`] says whether the other one works too.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum Saved {
    /// The forward input `x`.
    Input,
    /// The forward output `y = f(x)`.
    Output,
}

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

impl Activation {
    /// The activation's name in snake case, as used in error messages and serialised configs.
    pub fn name(&self) -> &'static str {
        match self {
            Activation::Identity => "identity",
            Activation::Sigmoid => "sigmoid",
            Activation::Tanh => "tanh",
            Activation::Relu => "relu",
            Activation::LeakyRelu { .. } => "leaky_relu",
            Activation::Elu { .. } => "elu",
            Activation::Gelu => "gelu",
            Activation::GeluTanh => "gelu_tanh",
            Activation::Silu => "silu",
            Activation::Selu => "selu",
            Activation::Softplus => "softplus",
        }
    }

    /// Leaky ReLU with PyTorch's default slope, 0.01.
    pub fn leaky_relu() -> Self {
        Activation::LeakyRelu { slope: 0.01 }
    }

    /// ELU with the usual `alpha = 1`.
    pub fn elu() -> Self {
        Activation::Elu { alpha: 1.0 }
    }

    /// Checks the parameters: a leaky slope and an ELU alpha must be finite.
    ///
    /// # Errors
    /// [`ActivationError::InvalidParameter`] for a NaN or infinite slope or alpha.
    ///
    /// # Example
    /// ```
    /// use nn_activations::Activation;
    /// assert!(Activation::LeakyRelu { slope: 0.01 }.validate().is_ok());
    /// assert!(Activation::Elu { alpha: f64::NAN }.validate().is_err());
    /// ```
    pub fn validate(&self) -> Result<()> {
        let check = |name, value: f64| {
            if value.is_finite() {
                Ok(())
            } else {
                Err(ActivationError::InvalidParameter {
                    name,
                    value,
                    reason: "must be finite",
                })
            }
        };
        match *self {
            Activation::LeakyRelu { slope } => check("slope", slope),
            Activation::Elu { alpha } => check("alpha", alpha),
            _ => Ok(()),
        }
    }

    /// The scalar function `f(x)`, the reference every array kernel is tested against.
    ///
    /// ```text
    /// sigmoid   1 / (1 + e^-x)                 tanh      tanh x
    /// relu      max(0, x)                      leaky     x > 0 ? x : slope·x
    /// elu       x > 0 ? x : α·expm1(x)         selu      λ·(x > 0 ? x : α·expm1(x))
    /// gelu      x·Φ(x)                         gelu_tanh x·σ(2u), u = √(2/π)(x + 0.044715x³)
    /// silu      x·σ(x)                         softplus  max(x, 0) + log1p(e^-|x|)
    /// ```
    /// (`x·σ(2u)` equals the usual `½x(1 + tanh u)` without its cancellation for negative `x`.)
    /// Every formula is evaluated so that no finite input overflows, and NaN maps to NaN.
    ///
    /// # Example
    /// ```
    /// use nn_activations::Activation;
    /// assert_eq!(Activation::Relu.apply(-2.0_f64), 0.0);
    /// assert!((Activation::Sigmoid.apply(0.0_f64) - 0.5).abs() < 1e-15);
    /// assert_eq!(Activation::Sigmoid.apply(-1e30_f32), 0.0);
    /// ```
    pub fn apply<F: NdFloat>(&self, x: F) -> F {
        let zero = F::zero();
        match *self {
            Activation::Identity => x,
            Activation::Sigmoid => scalar::sigmoid(x),
            Activation::Tanh => x.tanh(),
            Activation::Relu => {
                if x < zero {
                    zero
                } else {
                    x
                }
            }
            Activation::LeakyRelu { slope } => {
                if x > zero {
                    x
                } else {
                    lit::<F>(slope) * x
                }
            }
            Activation::Elu { alpha } => {
                if x > zero {
                    x
                } else {
                    lit::<F>(alpha) * x.exp_m1()
                }
            }
            Activation::Selu => {
                let inner = if x > zero {
                    x
                } else {
                    lit::<F>(SELU_ALPHA) * x.exp_m1()
                };
                lit::<F>(SELU_LAMBDA) * inner
            }
            Activation::Gelu => x * scalar::normal_cdf(x),
            Activation::GeluTanh => x * scalar::sigmoid(gelu_tanh_2u(x)),
            Activation::Silu => x * scalar::sigmoid(x),
            Activation::Softplus => scalar::softplus(x),
        }
    }

    /// The scalar derivative `f'(x)`, computed from the input `x`.
    ///
    /// ```text
    /// sigmoid   σ(x)·σ(-x)                     tanh      1 - tanh² x = 4e/(1+e)², e = e^{-2|x|}
    /// relu      x > 0 ? 1 : 0                  leaky     x > 0 ? 1 : slope
    /// elu       x > 0 ? 1 : α·e^x              selu      λ·(x > 0 ? 1 : α·e^x)
    /// gelu      Φ(x) + x·φ(x)                  silu      σ(x) + x·σ(x)·σ(-x)
    /// gelu_tanh σ(2u) + 2x·σ(2u)·σ(-2u)·√(2/π)(1 + 3·0.044715x²)
    /// softplus  σ(x)
    /// ```
    /// At the kinks (`x = 0` for ReLU, Leaky ReLU, ELU and SELU) this returns the left
    /// derivative (0, `slope`, `α`, `λα`), the sub-gradient PyTorch uses too. NaN maps to NaN.
    ///
    /// # Example
    /// ```
    /// use nn_activations::Activation;
    /// assert_eq!(Activation::Relu.derivative(0.0_f64), 0.0);
    /// assert_eq!(Activation::LeakyRelu { slope: 0.1 }.derivative(-3.0_f64), 0.1);
    /// assert!((Activation::Tanh.derivative(0.0_f64) - 1.0).abs() < 1e-15);
    /// ```
    pub fn derivative<F: NdFloat>(&self, x: F) -> F {
        let (zero, one) = (F::zero(), F::one());
        let nan_or = |v: F| if x.is_nan() { x } else { v };
        match *self {
            Activation::Identity => one,
            Activation::Sigmoid => {
                let (s, sn) = scalar::sigmoid_pair(x);
                s * sn
            }
            Activation::Tanh => {
                // 4e/(1 + e)² with e = e^{-2|x|} avoids the cancellation in 1 - tanh² x.
                let e = (lit::<F>(-2.0) * x.abs()).exp();
                let q = one + e;
                if x.abs() < lit(0.625) {
                    let t = x.tanh();
                    one - t * t
                } else {
                    lit::<F>(4.0) * e / (q * q)
                }
            }
            Activation::Relu => nan_or(if x > zero { one } else { zero }),
            Activation::LeakyRelu { slope } => nan_or(if x > zero { one } else { lit(slope) }),
            Activation::Elu { alpha } => {
                if x > zero {
                    one
                } else {
                    lit::<F>(alpha) * x.exp()
                }
            }
            Activation::Selu => {
                let lambda = lit::<F>(SELU_LAMBDA);
                if x > zero {
                    lambda
                } else {
                    lambda * lit::<F>(SELU_ALPHA) * x.exp()
                }
            }
            Activation::Gelu => scalar::normal_cdf(x) + x * scalar::normal_pdf(x),
            Activation::GeluTanh => {
                let (s, sn) = scalar::sigmoid_pair(gelu_tanh_2u(x));
                // Beyond |x| = 1e4 the second term is exactly 0; clamping keeps x³ finite.
                let big = lit::<F>(1e4);
                let xc = if x > big {
                    big
                } else if x < -big {
                    -big
                } else {
                    x
                };
                let du = lit::<F>(SQRT_2_OVER_PI) * (one + lit::<F>(3.0 * GELU_C) * xc * xc);
                s + lit::<F>(2.0) * xc * s * sn * du
            }
            Activation::Silu => {
                let (s, sn) = scalar::sigmoid_pair(x);
                s + x * s * sn
            }
            Activation::Softplus => scalar::sigmoid(x),
        }
    }

    /// The scalar derivative `f'(x)` computed from the output `y = f(x)`.
    ///
    /// ```text
    /// sigmoid  y(1 - y)     tanh  1 - y²     relu  y > 0 ? 1 : 0     leaky (slope ≥ 0)  y > 0 ? 1 : slope
    /// elu (α ≥ 0)  y > 0 ? 1 : y + α         selu  y > 0 ? λ : y + λα
    /// softplus  1 - e^-y = -expm1(-y)        identity  1
    /// ```
    ///
    /// # Errors
    /// [`ActivationError::NeedsInput`] where the output does not determine the derivative
    /// (GELU, GELU-tanh, SiLU, and a negative leaky slope or ELU alpha).
    ///
    /// # Example
    /// ```
    /// use nn_activations::Activation;
    /// let y = Activation::Sigmoid.apply(0.3_f64);
    /// let d = Activation::Sigmoid.derivative_from_output(y)?;
    /// assert!((d - Activation::Sigmoid.derivative(0.3_f64)).abs() < 1e-15);
    /// assert!(Activation::Gelu.derivative_from_output(0.5_f64).is_err());
    /// # Ok::<(), nn_activations::ActivationError>(())
    /// ```
    pub fn derivative_from_output<F: NdFloat>(&self, y: F) -> Result<F> {
        self.check_kind(Saved::Output)?;
        Ok(self.derivative_from_output_unchecked(y))
    }

    /// [`Activation::derivative_from_output`] once `supports(Saved::Output)` has been checked.
    #[inline]
    pub(crate) fn derivative_from_output_unchecked<F: NdFloat>(&self, y: F) -> F {
        let (zero, one) = (F::zero(), F::one());
        let nan_or = |v: F| if y.is_nan() { y } else { v };
        match *self {
            Activation::Identity => one,
            Activation::Sigmoid => y * (one - y),
            Activation::Tanh => one - y * y,
            Activation::Relu => nan_or(if y > zero { one } else { zero }),
            Activation::LeakyRelu { slope } => nan_or(if y > zero { one } else { lit(slope) }),
            Activation::Elu { alpha } => nan_or(if y > zero { one } else { y + lit(alpha) }),
            Activation::Selu => {
                let lambda = lit::<F>(SELU_LAMBDA);
                nan_or(if y > zero {
                    lambda
                } else {
                    y + lambda * lit::<F>(SELU_ALPHA)
                })
            }
            Activation::Softplus => -(-y).exp_m1(),
            // Unreachable after `check_kind`; the input formula is the documented fallback.
            Activation::Gelu | Activation::GeluTanh | Activation::Silu => self.derivative(y),
        }
    }

    /// The forward tensor this activation's backward pass prefers to read.
    ///
    /// | activation | prefers | also works from |
    /// |---|---|---|
    /// | identity, sigmoid, tanh, relu, selu | output | input |
    /// | elu (α ≥ 0) | output (`y + α`, no `exp`) | input |
    /// | leaky relu (slope ≥ 0) | input | output |
    /// | softplus | input | output |
    /// | gelu, gelu_tanh, silu, leaky relu (slope < 0), elu (α < 0) | input | — |
    ///
    /// # Example
    /// ```
    /// use nn_activations::{Activation, Saved};
    /// assert_eq!(Activation::Sigmoid.backward_needs(), Saved::Output);
    /// assert_eq!(Activation::Gelu.backward_needs(), Saved::Input);
    /// ```
    pub fn backward_needs(&self) -> Saved {
        match *self {
            Activation::Identity
            | Activation::Sigmoid
            | Activation::Tanh
            | Activation::Relu
            | Activation::Selu => Saved::Output,
            Activation::Elu { alpha } if alpha >= 0.0 => Saved::Output,
            _ => Saved::Input,
        }
    }

    /// Whether a backward pass can read `saved` (every activation supports the input).
    ///
    /// # Example
    /// ```
    /// use nn_activations::{Activation, Saved};
    /// assert!(Activation::Relu.supports(Saved::Input) && Activation::Relu.supports(Saved::Output));
    /// assert!(!Activation::Silu.supports(Saved::Output));
    /// ```
    pub fn supports(&self, saved: Saved) -> bool {
        match saved {
            Saved::Input => true,
            Saved::Output => match *self {
                Activation::Gelu | Activation::GeluTanh | Activation::Silu => false,
                Activation::LeakyRelu { slope } => slope >= 0.0,
                Activation::Elu { alpha } => alpha >= 0.0,
                _ => true,
            },
        }
    }

    fn check_kind(&self, kind: Saved) -> Result<()> {
        if self.supports(kind) {
            Ok(())
        } else {
            Err(ActivationError::NeedsInput {
                activation: self.name(),
            })
        }
    }

    /// `y = f(x)` element-wise, into a new array with `x`'s shape.
    ///
    /// Parameters are not checked here (a NaN slope gives NaN outputs); call
    /// [`Activation::validate`] once when building a layer, or use [`Activation::forward_into`].
    ///
    /// # Shapes
    /// Any shape: `x` and `y` are e.g. `(N, H)`.
    ///
    /// # Example
    /// ```
    /// use ndarray::array;
    /// use nn_activations::Activation;
    /// let y = Activation::Relu.forward(array![[-1.0_f32, 2.0], [3.0, -4.0]].view());
    /// assert_eq!(y, array![[0.0, 2.0], [3.0, 0.0]]);
    /// ```
    pub fn forward<F: NdFloat, D: Dimension>(&self, x: ArrayView<'_, F, D>) -> Array<F, D> {
        let mut y = Array::zeros(x.raw_dim());
        let act = *self;
        elementwise::unary(
            x,
            y.view_mut(),
            |a, b| kernels::forward(act, a, b),
            |v| act.apply(v),
        );
        y
    }

    /// `out = f(x)` element-wise into a caller-provided buffer (the fast path: no allocation).
    ///
    /// # Shapes
    /// `x` and `out` have the same shape, any dimension; the layouts may differ.
    ///
    /// # Errors
    /// [`ActivationError::ShapeMismatch`] if the shapes differ, and
    /// [`ActivationError::InvalidParameter`] as [`Activation::validate`].
    ///
    /// # Example
    /// ```
    /// use ndarray::{array, Array2};
    /// use nn_activations::Activation;
    /// let x = array![[0.0_f32, 1.0]];
    /// let mut y = Array2::zeros((1, 2));
    /// Activation::Sigmoid.forward_into(x.view(), y.view_mut())?;
    /// assert_eq!(y[[0, 0]], 0.5);
    /// # Ok::<(), nn_activations::ActivationError>(())
    /// ```
    pub fn forward_into<F: NdFloat, D: Dimension>(
        &self,
        x: ArrayView<'_, F, D>,
        out: ArrayViewMut<'_, F, D>,
    ) -> Result<()> {
        self.validate()?;
        same_shape("forward_into", x.shape(), out.shape())?;
        let act = *self;
        elementwise::unary(x, out, |a, b| kernels::forward(act, a, b), |v| act.apply(v));
        Ok(())
    }

    /// `x ← f(x)` element-wise, in place. Parameters are not checked (see [`Activation::forward`]).
    ///
    /// # Example
    /// ```
    /// use ndarray::array;
    /// use nn_activations::Activation;
    /// let mut x = array![-2.0_f64, 3.0];
    /// Activation::LeakyRelu { slope: 0.5 }.forward_inplace(x.view_mut());
    /// assert_eq!(x, array![-1.0, 3.0]);
    /// ```
    pub fn forward_inplace<F: NdFloat, D: Dimension>(&self, x: ArrayViewMut<'_, F, D>) {
        let act = *self;
        elementwise::unary_inplace(x, |a| kernels::forward_inplace(act, a), |v| act.apply(v));
    }

    /// `dx = dout ⊙ f'(·)`, computed from `saved` (the forward input or output, as `kind` says).
    ///
    /// ```text
    /// dx[i] = dout[i] · f'(x[i])        (kind = Saved::Input)
    /// dx[i] = dout[i] · g(y[i])         (kind = Saved::Output, g as in derivative_from_output)
    /// ```
    ///
    /// # Shapes
    /// `dout`, `saved` and `dx` share one shape, e.g. `(N, H)`.
    ///
    /// # Errors
    /// [`ActivationError::ShapeMismatch`] if `dout` and `saved` differ in shape,
    /// [`ActivationError::NeedsInput`] if `kind` is `Output` and the activation does not support
    /// it, and [`ActivationError::InvalidParameter`] as [`Activation::validate`].
    ///
    /// # Example
    /// ```
    /// use ndarray::array;
    /// use nn_activations::{Activation, Saved};
    /// let y = Activation::Tanh.forward(array![0.0_f64, 1.0].view());
    /// let dx = Activation::Tanh.backward(array![1.0, 1.0].view(), y.view(), Saved::Output)?;
    /// assert!((dx[0] - 1.0).abs() < 1e-15);
    /// assert!((dx[1] - (1.0 - 1.0_f64.tanh().powi(2))).abs() < 1e-15);
    /// # Ok::<(), nn_activations::ActivationError>(())
    /// ```
    pub fn backward<F: NdFloat, D: Dimension>(
        &self,
        dout: ArrayView<'_, F, D>,
        saved: ArrayView<'_, F, D>,
        kind: Saved,
    ) -> Result<Array<F, D>> {
        let mut dx = Array::zeros(dout.raw_dim());
        self.backward_into(dout, saved, kind, dx.view_mut())?;
        Ok(dx)
    }

    /// [`Activation::backward`] into a caller-provided buffer `dx`.
    ///
    /// # Errors
    /// As [`Activation::backward`], plus a shape mismatch of `dx`.
    ///
    /// # Example
    /// ```
    /// use ndarray::{array, Array1};
    /// use nn_activations::{Activation, Saved};
    /// let x = array![-1.0_f32, 2.0];
    /// let mut dx = Array1::zeros(2);
    /// Activation::Relu.backward_into(array![5.0, 5.0].view(), x.view(), Saved::Input, dx.view_mut())?;
    /// assert_eq!(dx, array![0.0, 5.0]);
    /// # Ok::<(), nn_activations::ActivationError>(())
    /// ```
    pub fn backward_into<F: NdFloat, D: Dimension>(
        &self,
        dout: ArrayView<'_, F, D>,
        saved: ArrayView<'_, F, D>,
        kind: Saved,
        dx: ArrayViewMut<'_, F, D>,
    ) -> Result<()> {
        self.validate()?;
        self.check_kind(kind)?;
        same_shape("backward", dout.shape(), saved.shape())?;
        same_shape("backward", dout.shape(), dx.shape())?;
        let act = *self;
        elementwise::binary(
            dout,
            saved,
            dx,
            |d, s, o| kernels::backward(act, kind, d, s, o),
            |d, s| d * act.derivative_of(kind, s),
        );
        Ok(())
    }

    /// [`Activation::backward`] in place: `dout_to_dx` holds `dout` on entry and `dx` on return.
    ///
    /// # Errors
    /// As [`Activation::backward`]; on error `dout_to_dx` is unchanged.
    ///
    /// # Example
    /// ```
    /// use ndarray::array;
    /// use nn_activations::{Activation, Saved};
    /// let y = array![0.0_f64, 3.0]; // a ReLU output
    /// let mut g = array![2.0, 2.0];
    /// Activation::Relu.backward_inplace(g.view_mut(), y.view(), Saved::Output)?;
    /// assert_eq!(g, array![0.0, 2.0]);
    /// # Ok::<(), nn_activations::ActivationError>(())
    /// ```
    pub fn backward_inplace<F: NdFloat, D: Dimension>(
        &self,
        dout_to_dx: ArrayViewMut<'_, F, D>,
        saved: ArrayView<'_, F, D>,
        kind: Saved,
    ) -> Result<()> {
        self.validate()?;
        self.check_kind(kind)?;
        same_shape("backward_inplace", saved.shape(), dout_to_dx.shape())?;
        let act = *self;
        elementwise::binary_inplace(
            dout_to_dx,
            saved,
            |d, s| kernels::backward_inplace(act, kind, d, s),
            |d, s| d * act.derivative_of(kind, s),
        );
        Ok(())
    }

    /// The derivative from whichever tensor `kind` names (already checked to be supported).
    #[inline]
    pub(crate) fn derivative_of<F: NdFloat>(&self, kind: Saved, s: F) -> F {
        match kind {
            Saved::Input => self.derivative(s),
            Saved::Output => self.derivative_from_output_unchecked(s),
        }
    }
}

/// `2u = 2√(2/π)(x + 0.044715x³)`, GELU-tanh's sigmoid argument.
#[inline]
fn gelu_tanh_2u<F: NdFloat>(x: F) -> F {
    lit::<F>(2.0 * SQRT_2_OVER_PI) * (x + lit::<F>(GELU_C) * x * x * x)
}

/// `Err(ShapeMismatch)` unless the shapes are equal.
pub(crate) fn same_shape(op: &'static str, expected: &[usize], got: &[usize]) -> Result<()> {
    if expected == got {
        Ok(())
    } else {
        Err(ActivationError::ShapeMismatch {
            op,
            expected: expected.to_vec(),
            got: got.to_vec(),
        })
    }
}
