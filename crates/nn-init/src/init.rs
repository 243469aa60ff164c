//! The weight initialisers, [`Init`], and bias initialisers, [`BiasInit`].

use crate::error::{InitError, Result};
use crate::fan::{FanMode, Fans};
use crate::orthogonal::orthogonal;
use crate::sample::{fill, lit, Elementwise};
use ndarray::{Array1, Array2, ArrayD, IxDyn, NdFloat};
use nn_activations::Activation;
use rand::Rng;
use serde::{Deserialize, Serialize};

/// Which distribution a variance-scaling initialiser draws from.
///
/// ```text
/// Normal:  w ~ N(0, σ²)
/// Uniform: w ~ U[-√3·σ, √3·σ]     (the same variance σ²)
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Distribution {
    /// Zero-mean Gaussian.
    #[default]
    Normal,
    /// Zero-mean uniform with the same variance.
    Uniform,
}

/// A weight initialiser: a rule that turns a shape and an RNG into a weight matrix.
///
/// The variance-scaling rules, for a dense `(D, H)` = `(fan_in, fan_out)` matrix:
/// ```text
/// Xavier (CS231n notes)   Var = 1 / fan_in                   = randn(fan_in, fan_out) / √fan_in
/// Glorot (2010)           Var = gain² · 2 / (fan_in + fan_out)
/// He / Kaiming (2015)     Var = gain(act)² / fan              (ReLU: = randn / √(fan_in / 2))
/// LeCun (1998)            Var = 1 / fan_in                   (the same numbers as Xavier)
/// ```
/// Each draws either `N(0, Var)` or `U[-√(3 Var), √(3 Var)]` as its [`Distribution`] says.
/// See [`Fans`] for the fans of convolution shapes.
///
/// Use [`Init::recommended_for`] to pick the rule for an activation; the crate docs explain
/// the choice with the activation-statistics experiment.
///
/// # Example
/// ```
/// use nn_activations::Activation;
/// use nn_init::Init;
/// use rand::SeedableRng;
/// use rand_chacha::ChaCha8Rng;
///
/// let mut rng = ChaCha8Rng::seed_from_u64(0);
/// let w = Init::recommended_for(Activation::Relu).weights::<f64, _>(500, 200, &mut rng)?;
/// assert_eq!(w.dim(), (500, 200));
/// // He: std = √(2 / 500) = 0.0632.
/// let std = w.std(0.0);
/// assert!((std - 0.0632).abs() < 0.001);
/// # Ok::<(), nn_init::InitError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Init {
    /// All zeros.
    ///
    /// Never use this for weights: every unit of a layer then computes the same output and
    /// receives the same gradient, so the units stay identical forever ("symmetry" is never
    /// broken) and the layer behaves like one unit. Zeros are fine for biases.
    Zeros,
    /// Every weight equal to `value`; it has the same symmetry problem as [`Init::Zeros`].
    Constant {
        /// The value.
        value: f64,
    },
    /// `N(mean, std²)`, independent of the fans. The notes' "small random" is
    /// [`Init::small_random`] (`0.01 * randn`), "large random" [`Init::large_random`].
    Normal {
        /// The mean.
        mean: f64,
        /// The standard deviation (`>= 0`).
        std: f64,
    },
    /// `U[low, high)`, independent of the fans.
    Uniform {
        /// Lower bound.
        low: f64,
        /// Upper bound (`>= low`).
        high: f64,
    },
    /// `N(0, std²)` conditioned on `|w| <= cutoff · std` (redrawn until inside).
    ///
    /// `std` is the underlying normal's, as in PyTorch's `trunc_normal_`; the truncated
    /// values' standard deviation is smaller (`0.8796 · std` for `cutoff = 2`).
    TruncatedNormal {
        /// Standard deviation of the normal before truncation (`>= 0`).
        std: f64,
        /// Where to cut, in units of `std` (`> 0`; TensorFlow and [`Init::truncated_normal`] use 2).
        cutoff: f64,
    },
    /// The CS231n notes' Xavier: `randn(fan_in, fan_out) / sqrt(fan_in)`, `Var = 1 / fan_in`.
    Xavier {
        /// Normal or uniform.
        distribution: Distribution,
    },
    /// Glorot and Bengio's (2010) form, `Var = gain² · 2 / (fan_in + fan_out)`.
    ///
    /// The uniform version is the paper's `U[-gain·√(6 / (fan_in + fan_out)), +…]`.
    Glorot {
        /// Normal or uniform.
        distribution: Distribution,
        /// Scale factor, usually 1 (`>= 0`; [`Activation::gain`] gives PyTorch's per-activation gains).
        gain: f64,
    },
    /// He et al.'s (2015) Kaiming initialisation, `Var = gain(activation)² / fan`.
    ///
    /// With ReLU (`gain² = 2`) and fan-in this is the notes' `randn(fan_in, fan_out) / sqrt(fan_in / 2)`.
    /// With Leaky ReLU of slope `a` the gain is `√(2 / (1 + a²))`; the gain comes from
    /// [`Activation::gain`].
    He {
        /// Normal or uniform.
        distribution: Distribution,
        /// Divide by `fan_in` (preserves forward variance) or `fan_out` (backward).
        mode: FanMode,
        /// The non-linearity that follows the layer.
        activation: Activation,
    },
    /// LeCun's `Var = 1 / fan_in` (the recommendation for SELU networks).
    Lecun {
        /// Normal or uniform.
        distribution: Distribution,
    },
    /// A (semi-)orthogonal matrix times `gain` (Saxe et al. 2014).
    ///
    /// A `(D, H)` matrix has orthonormal columns (`WᵀW = gain² I`) when `D >= H`, orthonormal
    /// rows (`WWᵀ = gain² I`) otherwise. A convolution `(out, in, kh, kw)` is flattened to
    /// `(out, in·kh·kw)` first, as in PyTorch.
    Orthogonal {
        /// Scale factor (`>= 0`).
        gain: f64,
    },
}

impl Default for Init {
    /// He normal for ReLU, the safe choice for the workspace's default ReLU networks.
    fn default() -> Self {
        Init::he(Activation::Relu)
    }
}

/// What an [`Init`] turns into once the fans are known.
enum Plan {
    Constant(f64),
    Elementwise(Elementwise),
    Orthogonal(f64),
}

fn invalid(name: &'static str, value: f64, reason: &'static str) -> InitError {
    InitError::InvalidParameter {
        name,
        value,
        reason,
    }
}

fn finite(name: &'static str, value: f64) -> Result<()> {
    if value.is_finite() {
        Ok(())
    } else {
        Err(invalid(name, value, "must be finite"))
    }
}

fn scale(name: &'static str, value: f64) -> Result<()> {
    if value.is_finite() && value >= 0.0 {
        Ok(())
    } else {
        Err(invalid(name, value, "must be finite and non-negative"))
    }
}

fn scaled(distribution: Distribution, variance: f64) -> Plan {
    match distribution {
        Distribution::Normal => Plan::Elementwise(Elementwise::Normal {
            mean: 0.0,
            std: variance.sqrt(),
        }),
        Distribution::Uniform => {
            let bound = (3.0 * variance).sqrt();
            Plan::Elementwise(Elementwise::Uniform {
                low: -bound,
                high: bound,
            })
        }
    }
}

impl Init {
    /// The notes' "small random" weights, `0.01 * randn`: fine for small networks, but the
    /// activations of a deep tanh network collapse to zero (see the crate docs).
    pub fn small_random() -> Init {
        Init::Normal {
            mean: 0.0,
            std: 0.01,
        }
    }

    /// The notes' "large random" weights, `1.0 * randn`: a tanh network saturates at ±1.
    pub fn large_random() -> Init {
        Init::Normal {
            mean: 0.0,
            std: 1.0,
        }
    }

    /// The notes' Xavier, normal: `randn(fan_in, fan_out) / sqrt(fan_in)`.
    pub fn xavier() -> Init {
        Init::Xavier {
            distribution: Distribution::Normal,
        }
    }

    /// Glorot normal with gain 1, `Var = 2 / (fan_in + fan_out)`.
    pub fn glorot_normal() -> Init {
        Init::Glorot {
            distribution: Distribution::Normal,
            gain: 1.0,
        }
    }

    /// Glorot uniform with gain 1, `U[-√(6 / (fan_in + fan_out)), +√(6 / (fan_in + fan_out))]`.
    pub fn glorot_uniform() -> Init {
        Init::Glorot {
            distribution: Distribution::Uniform,
            gain: 1.0,
        }
    }

    /// He normal, fan-in, with the gain of `activation`.
    pub fn he(activation: Activation) -> Init {
        Init::He {
            distribution: Distribution::Normal,
            mode: FanMode::FanIn,
            activation,
        }
    }

    /// LeCun normal, `Var = 1 / fan_in`.
    pub fn lecun_normal() -> Init {
        Init::Lecun {
            distribution: Distribution::Normal,
        }
    }

    /// `N(0, std²)` truncated at two standard deviations (TensorFlow's `truncated_normal`).
    pub fn truncated_normal(std: f64) -> Init {
        Init::TruncatedNormal { std, cutoff: 2.0 }
    }

    /// The initialiser to use in front of `activation`.
    ///
    /// ```text
    /// ReLU, Leaky ReLU, ELU, GELU, SiLU, Softplus   He (fan-in, the activation's gain)
    /// tanh, sigmoid, identity                       Xavier (notes' form, Var = 1 / fan_in)
    /// SELU                                          LeCun normal (self-normalising networks)
    /// ```
    /// ReLU-like units zero about half their inputs, halving the second moment at every layer,
    /// and He's factor 2 restores it; tanh is linear near zero, so `Var = 1 / fan_in` keeps the
    /// variance steady. The crate docs show both with the activation-statistics experiment.
    pub fn recommended_for(activation: Activation) -> Init {
        match activation {
            Activation::Tanh | Activation::Sigmoid | Activation::Identity => Init::xavier(),
            Activation::Selu => Init::lecun_normal(),
            _ => Init::he(activation),
        }
    }

    /// Checks the parameters without generating anything.
    ///
    /// # Errors
    /// [`InitError::InvalidParameter`] for a non-finite or negative scale (`std`, `gain`, …),
    /// `low > high`, a non-positive `cutoff`, or an activation whose gain is not finite and
    /// positive; [`InitError::Activation`] for an activation nn-activations rejects (e.g. a NaN
    /// Leaky ReLU slope).
    pub fn validate(&self) -> Result<()> {
        match *self {
            Init::Zeros | Init::Xavier { .. } | Init::Lecun { .. } => Ok(()),
            Init::Constant { value } => finite("value", value),
            Init::Normal { mean, std } => {
                finite("mean", mean)?;
                scale("std", std)
            }
            Init::Uniform { low, high } => {
                finite("low", low)?;
                finite("high", high)?;
                if low > high {
                    return Err(invalid("low", low, "must not exceed high"));
                }
                Ok(())
            }
            Init::TruncatedNormal { std, cutoff } => {
                scale("std", std)?;
                if !(cutoff.is_finite() && cutoff > 0.0) {
                    return Err(invalid("cutoff", cutoff, "must be finite and positive"));
                }
                Ok(())
            }
            Init::Glorot { gain, .. } | Init::Orthogonal { gain } => scale("gain", gain),
            Init::He { activation, .. } => {
                activation.validate()?;
                let gain = activation.gain();
                if gain.is_finite() && gain > 0.0 {
                    Ok(())
                } else {
                    Err(invalid(
                        "activation gain",
                        gain,
                        "the activation's parameters give no finite, positive gain",
                    ))
                }
            }
        }
    }

    fn plan(&self, fans: Fans) -> Result<Plan> {
        self.validate()?;
        let (fan_in, fan_out) = (fans.fan_in as f64, fans.fan_out as f64);
        Ok(match *self {
            Init::Zeros => Plan::Constant(0.0),
            Init::Constant { value } => Plan::Constant(value),
            Init::Normal { mean, std } => Plan::Elementwise(Elementwise::Normal { mean, std }),
            Init::Uniform { low, high } => Plan::Elementwise(Elementwise::Uniform { low, high }),
            Init::TruncatedNormal { std, cutoff } => {
                Plan::Elementwise(Elementwise::TruncatedNormal { std, cutoff })
            }
            Init::Xavier { distribution } | Init::Lecun { distribution } => {
                scaled(distribution, 1.0 / fan_in)
            }
            Init::Glorot { distribution, gain } => {
                scaled(distribution, gain * gain * 2.0 / (fan_in + fan_out))
            }
            Init::He {
                distribution,
                mode,
                activation,
            } => {
                let gain = activation.gain();
                scaled(distribution, gain * gain / fans.get(mode) as f64)
            }
            Init::Orthogonal { gain } => Plan::Orthogonal(gain),
        })
    }

    /// The standard deviation of one entry of a dense `(fan_in, fan_out)` matrix, from the formula.
    ///
    /// ```text
    /// normal N(μ, σ²): σ      uniform U[a, b]: (b - a) / √12      truncated at ±kσ: σ·√(1 - 2kφ(k) / (2Φ(k) - 1))
    /// orthogonal: gain / √max(fan_in, fan_out)  (the root mean square; entries are not independent)
    /// ```
    ///
    /// # Errors
    /// As [`Init::weights`].
    ///
    /// # Example
    /// ```
    /// use nn_init::Init;
    /// // Glorot: √(2 / (300 + 100)).
    /// assert!((Init::glorot_uniform().std(300, 100)? - 0.070_71).abs() < 1e-5);
    /// # Ok::<(), nn_init::InitError>(())
    /// ```
    pub fn std(&self, fan_in: usize, fan_out: usize) -> Result<f64> {
        let fans = Fans::dense(fan_in, fan_out)?;
        Ok(match self.plan(fans)? {
            Plan::Constant(_) => 0.0,
            Plan::Elementwise(Elementwise::Normal { std, .. }) => std,
            Plan::Elementwise(Elementwise::Uniform { low, high }) => (high - low) / 12f64.sqrt(),
            Plan::Elementwise(Elementwise::TruncatedNormal { std, cutoff }) => {
                std * truncated_std_factor(cutoff)
            }
            Plan::Orthogonal(gain) => gain / (fan_in.max(fan_out) as f64).sqrt(),
        })
    }

    /// A dense weight matrix of shape `(fan_in, fan_out)` = `(D, H)`, used as `X·W` with `X` of
    /// shape `(N, D)`.
    ///
    /// Random initialisers draw exactly one `u64` from `rng` (orthogonal too), then generate
    /// the matrix from ChaCha8 streams derived from it, in parallel chunks of
    /// [`CHUNK_LEN`](crate::CHUNK_LEN) elements: the same `rng` state gives the same
    /// weights on every platform and for every thread count. Zeros and constants draw nothing.
    ///
    /// # Shapes
    /// Returns `(D, H)` in standard (row-major) layout.
    ///
    /// # Errors
    /// [`InitError::ZeroFan`] if `fan_in` or `fan_out` is zero; [`InitError::InvalidShape`]
    /// if `fan_in · fan_out` overflows; [`InitError::InvalidParameter`] for a bad parameter
    /// (see [`Init::validate`]) or one too large for `F` (e.g. `std = 1e300` as `f32`).
    ///
    /// # Example
    /// ```
    /// use nn_init::Init;
    /// use rand::SeedableRng;
    /// use rand_chacha::ChaCha8Rng;
    ///
    /// let w = Init::xavier().weights::<f32, _>(400, 100, &mut ChaCha8Rng::seed_from_u64(7))?;
    /// let again = Init::xavier().weights::<f32, _>(400, 100, &mut ChaCha8Rng::seed_from_u64(7))?;
    /// assert_eq!(w, again);
    /// assert!(Init::xavier().weights::<f32, _>(0, 100, &mut ChaCha8Rng::seed_from_u64(7)).is_err());
    /// # Ok::<(), nn_init::InitError>(())
    /// ```
    pub fn weights<F: NdFloat, R: Rng + ?Sized>(
        &self,
        fan_in: usize,
        fan_out: usize,
        rng: &mut R,
    ) -> Result<Array2<F>> {
        let fans = Fans::dense(fan_in, fan_out)?;
        let data = self.generate(fans, fan_in, fan_out, &[fan_in, fan_out], rng)?;
        Array2::from_shape_vec((fan_in, fan_out), data).map_err(|_| InitError::InvalidShape {
            shape: vec![fan_in, fan_out],
            reason: "the element count does not fit the shape",
        })
    }

    /// A weight tensor of any shape with at least two axes: dense `(D, H)` or convolution
    /// `(out, in, kh, kw)`, with the fans of [`Fans::from_shape`].
    ///
    /// A two-axis shape gives exactly the entries of [`Init::weights`] for the same RNG state.
    ///
    /// # Errors
    /// As [`Init::weights`], plus [`InitError::InvalidShape`] for a shape with fewer than two axes.
    ///
    /// # Example
    /// ```
    /// use nn_activations::Activation;
    /// use nn_init::Init;
    /// use rand::SeedableRng;
    /// use rand_chacha::ChaCha8Rng;
    ///
    /// // 32 filters of 16 × 3 × 3: He uses fan_in = 16 · 9 = 144.
    /// let w = Init::he(Activation::Relu).tensor::<f64, _>(&[32, 16, 3, 3], &mut ChaCha8Rng::seed_from_u64(1))?;
    /// assert_eq!(w.shape(), &[32, 16, 3, 3]);
    /// assert!((w.std(0.0) - (2.0f64 / 144.0).sqrt()).abs() < 0.005);
    /// # Ok::<(), nn_init::InitError>(())
    /// ```
    pub fn tensor<F: NdFloat, R: Rng + ?Sized>(
        &self,
        shape: &[usize],
        rng: &mut R,
    ) -> Result<ArrayD<F>> {
        let fans = Fans::from_shape(shape)?;
        let rows = shape.first().copied().unwrap_or(0);
        let cols = shape.iter().skip(1).product();
        let data = self.generate(fans, rows, cols, shape, rng)?;
        ArrayD::from_shape_vec(IxDyn(shape), data).map_err(|_| InitError::InvalidShape {
            shape: shape.to_vec(),
            reason: "the element count does not fit the shape",
        })
    }

    /// The row-major entries of a `rows × cols` matrix (a tensor flattened after its first axis).
    fn generate<F: NdFloat, R: Rng + ?Sized>(
        &self,
        fans: Fans,
        rows: usize,
        cols: usize,
        shape: &[usize],
        rng: &mut R,
    ) -> Result<Vec<F>> {
        let len = rows
            .checked_mul(cols)
            .ok_or_else(|| InitError::InvalidShape {
                shape: shape.to_vec(),
                reason: "the element count overflows usize",
            })?;
        let plan = self.plan(fans)?;
        let representable = |name: &'static str, value: f64| {
            if lit::<F>(value).is_finite() {
                Ok(())
            } else {
                Err(invalid(name, value, "too large for the float type"))
            }
        };
        Ok(match plan {
            Plan::Constant(value) => {
                representable("value", value)?;
                vec![lit(value); len]
            }
            Plan::Elementwise(dist) => {
                // The polar method's samples stay below 16 in magnitude (|z|² ≤ -2 ln 2⁻¹⁰⁴).
                match dist {
                    Elementwise::Normal { mean, std } => {
                        representable("std", mean.abs() + 16.0 * std)?
                    }
                    Elementwise::Uniform { low, high } => {
                        representable("low", low)?;
                        representable("high", high)?;
                    }
                    Elementwise::TruncatedNormal { std, cutoff } => {
                        representable("std", std * cutoff)?
                    }
                }
                let seed = rng.next_u64();
                let mut data = vec![F::zero(); len];
                fill(&mut data, dist, seed);
                data
            }
            Plan::Orthogonal(gain) => {
                representable("gain", gain)?;
                orthogonal(rows, cols, gain, rng)
            }
        })
    }
}

/// `√(1 - 2kφ(k) / (2Φ(k) - 1))`, the standard deviation of `N(0, 1)` truncated at `±k`.
///
/// Computed as `√(∫₀ᵏ z² e^(-z²/2) dz / ∫₀ᵏ e^(-z²/2) dz)` with composite Simpson on 2000
/// intervals (error below 1e-12 for `k <= 10`; beyond that the truncation changes nothing).
fn truncated_std_factor(k: f64) -> f64 {
    let k = k.min(10.0);
    let n = 2000;
    let h = k / n as f64;
    let (mut num, mut den) = (0.0, 0.0);
    for i in 0..=n {
        let z = i as f64 * h;
        let w = if i == 0 || i == n {
            1.0
        } else if i % 2 == 1 {
            4.0
        } else {
            2.0
        };
        let phi = (-0.5 * z * z).exp();
        num += w * z * z * phi;
        den += w * phi;
    }
    (num / den).sqrt()
}

/// A bias initialiser.
///
/// Zeros are the usual choice: the random weights already break the symmetry. The notes
/// suggest a small positive constant (0.01, [`BiasInit::RELU`]) for ReLU units so that they
/// start active and pass gradient; whether it helps is debated.
#[derive(Clone, Copy, Debug, PartialEq, Default, Serialize, Deserialize)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
pub enum BiasInit {
    /// All zeros.
    #[default]
    Zeros,
    /// Every entry equal to the value.
    Constant(f64),
}

impl BiasInit {
    /// The notes' small positive bias for ReLU units, 0.01.
    pub const RELU: BiasInit = BiasInit::Constant(0.01);

    /// A bias vector of length `len` (`H`, the layer's fan-out).
    ///
    /// # Shapes
    /// Returns `(H,)`.
    ///
    /// # Errors
    /// [`InitError::InvalidShape`] if `len` is zero; [`InitError::InvalidParameter`] if the
    /// constant is not finite in `F`.
    ///
    /// # Example
    /// ```
    /// use nn_init::BiasInit;
    /// let b = BiasInit::RELU.bias::<f32>(3)?;
    /// assert_eq!(b.to_vec(), vec![0.01f32; 3]);
    /// assert_eq!(BiasInit::Zeros.bias::<f64>(2)?.to_vec(), vec![0.0; 2]);
    /// # Ok::<(), nn_init::InitError>(())
    /// ```
    pub fn bias<F: NdFloat>(&self, len: usize) -> Result<Array1<F>> {
        if len == 0 {
            return Err(InitError::InvalidShape {
                shape: vec![0],
                reason: "a bias needs at least one entry",
            });
        }
        let value = match *self {
            BiasInit::Zeros => 0.0,
            BiasInit::Constant(value) => value,
        };
        if !lit::<F>(value).is_finite() {
            return Err(invalid("bias", value, "must be finite in the float type"));
        }
        Ok(Array1::from_elem(len, lit(value)))
    }
}

impl std::fmt::Display for Init {
    /// A short readable name, e.g. `he normal (fan_in, relu gain 1.414)` or `normal(0, 0.01)`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let dist = |d: Distribution| match d {
            Distribution::Normal => "normal",
            Distribution::Uniform => "uniform",
        };
        match *self {
            Init::Zeros => write!(f, "zeros"),
            Init::Constant { value } => write!(f, "constant({value})"),
            Init::Normal { mean, std } => write!(f, "normal({mean}, {std})"),
            Init::Uniform { low, high } => write!(f, "uniform[{low}, {high})"),
            Init::TruncatedNormal { std, cutoff } => {
                write!(f, "truncated normal(0, {std}) at ±{cutoff}σ")
            }
            Init::Xavier { distribution } => write!(f, "xavier {} (1/fan_in)", dist(distribution)),
            Init::Glorot { distribution, gain } => {
                write!(f, "glorot {} (gain {gain})", dist(distribution))
            }
            Init::He {
                distribution,
                mode,
                activation,
            } => {
                let mode = match mode {
                    FanMode::FanIn => "fan_in",
                    FanMode::FanOut => "fan_out",
                };
                write!(
                    f,
                    "he {} ({mode}, {} gain {:.4})",
                    dist(distribution),
                    activation.name(),
                    activation.gain()
                )
            }
            Init::Lecun { distribution } => write!(f, "lecun {}", dist(distribution)),
            Init::Orthogonal { gain } => write!(f, "orthogonal (gain {gain})"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_std(init: Init, fan_in: usize, fan_out: usize, expected: f64) {
        let got = init.std(fan_in, fan_out).expect("valid initialiser");
        assert!((got - expected).abs() < 1e-9, "{init}: {got} vs {expected}");
    }

    #[test]
    fn std_formulas_match_published_values() {
        // He normal, fan_in 500: √(2/500) = 0.0632456 (the notes' randn / sqrt(fan_in / 2)).
        check_std(Init::he(Activation::Relu), 500, 100, 0.063_245_553_2);
        // He with Leaky ReLU slope 0.01 (PyTorch calculate_gain), fan_in 100:
        // gain √(2 / 1.0001) = 1.4141428, std = gain / 10.
        check_std(
            Init::he(Activation::LeakyRelu { slope: 0.01 }),
            100,
            7,
            0.141_414_284_7,
        );
        // tanh gain 5/3 (PyTorch calculate_gain), fan_out mode with fan_out 25: (5/3)/5.
        let he_tanh_out = Init::He {
            distribution: Distribution::Uniform,
            mode: FanMode::FanOut,
            activation: Activation::Tanh,
        };
        check_std(he_tanh_out, 9, 25, 1.0 / 3.0);
        // Glorot (784, 256): √(2/1040) = 0.0438529.
        check_std(Init::glorot_normal(), 784, 256, 0.043_852_900_97);
        // Xavier / LeCun (notes): 1/√fan_in.
        check_std(Init::xavier(), 400, 3, 0.05);
        check_std(Init::lecun_normal(), 400, 3, 0.05);
        // U[-1, 3]: 4 / √12.
        check_std(
            Init::Uniform {
                low: -1.0,
                high: 3.0,
            },
            1,
            1,
            1.154_700_538_4,
        );
        // Orthogonal (100, 25): each of 25 unit columns spread over 100 rows: 1/√100.
        check_std(Init::Orthogonal { gain: 2.0 }, 100, 25, 0.2);
        check_std(Init::Zeros, 3, 3, 0.0);
    }

    #[test]
    fn truncation_factor_matches_keras() {
        // Keras VarianceScaling divides by .87962566103423978, the std of N(0,1) cut at ±2.
        assert!((truncated_std_factor(2.0) - 0.879_625_661_034_239_8).abs() < 1e-12);
        // Cutting far out changes nothing.
        assert!((truncated_std_factor(50.0) - 1.0).abs() < 1e-12);
    }

    #[test]
    fn recommendations_follow_the_activation() {
        assert_eq!(Init::recommended_for(Activation::Tanh), Init::xavier());
        assert_eq!(
            Init::recommended_for(Activation::Selu),
            Init::lecun_normal()
        );
        assert_eq!(
            Init::recommended_for(Activation::Relu),
            Init::he(Activation::Relu)
        );
        let leaky = Activation::LeakyRelu { slope: 0.2 };
        assert_eq!(Init::recommended_for(leaky), Init::he(leaky));
        assert_eq!(Init::default(), Init::he(Activation::Relu));
    }

    #[test]
    fn serde_round_trips() {
        let inits = [
            Init::Zeros,
            Init::small_random(),
            Init::truncated_normal(0.02),
            Init::glorot_uniform(),
            Init::He {
                distribution: Distribution::Uniform,
                mode: FanMode::FanOut,
                activation: Activation::LeakyRelu { slope: 0.1 },
            },
            Init::Orthogonal { gain: 1.0 },
        ];
        for init in inits {
            let json = serde_json::to_string(&init).expect("serialisable");
            let back: Init = serde_json::from_str(&json).expect("round trip");
            assert_eq!(back, init, "{json}");
        }
        let json = serde_json::to_string(&Init::xavier()).expect("serialisable");
        assert_eq!(json, r#"{"kind":"xavier","distribution":"normal"}"#);
        for bias in [BiasInit::Zeros, BiasInit::RELU] {
            let json = serde_json::to_string(&bias).expect("serialisable");
            assert_eq!(
                serde_json::from_str::<BiasInit>(&json).expect("round trip"),
                bias
            );
        }
    }

    #[test]
    fn display_names() {
        assert_eq!(Init::small_random().to_string(), "normal(0, 0.01)");
        assert_eq!(
            Init::he(Activation::Relu).to_string(),
            "he normal (fan_in, relu gain 1.4142)"
        );
        assert_eq!(
            Init::glorot_uniform().to_string(),
            "glorot uniform (gain 1)"
        );
    }

    #[test]
    fn autotraits() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Init>();
        assert_send_sync::<BiasInit>();
        assert_send_sync::<crate::InitError>();
        assert_send_sync::<crate::InitStatsReport>();
    }
}
