//! Gradient checking: analytic gradients of a [`Network`] against central differences.
//!
//! ```text
//! numeric  ∂L/∂θᵢ ≈ (L(θ + h·eᵢ) − L(θ − h·eᵢ)) / 2h
//! per tensor:  rel_error = ‖a − n‖₂ / max(‖a‖₂ + ‖n‖₂, tiny)       (0 when both are zero)
//!              max_elementwise_rel_error = maxᵢ |aᵢ − nᵢ| / max(|aᵢ| + |nᵢ|, 1e-8)   (CS231n's `rel_error`)
//! ```
//! The norm form is what tests bound: the element-wise form is dominated by entries whose true
//! gradient is near zero, where the difference quotient's rounding error (~1e-11) is all there is.
//! Every forward of the check re-seeds its RNG from `seed`, so dropout masks are fixed; BatchNorm
//! runs in training mode (its running statistics change, which does not affect training outputs).

use ndarray::{Array2, ArrayD, ArrayView, Dimension};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::error::{check_shape, Result};
use crate::loss::{Loss, Targets};
use crate::network::Network;

/// `|a − n| / max(|a| + |n|, tiny)`, and 0 when both are zero.
pub fn rel_error(a: f64, n: f64) -> f64 {
    let denom = (a.abs() + n.abs()).max(f64::MIN_POSITIVE);
    if a == n {
        0.0
    } else {
        (a - n).abs() / denom
    }
}

/// The result of checking one tensor.
#[derive(Clone, Debug, PartialEq)]
pub struct TensorCheck {
    /// The tensor's name (`layers.0.weight`, …, or `input` for `dX`).
    pub name: String,
    /// `‖a − n‖₂ / max(‖a‖₂ + ‖n‖₂, tiny)`.
    pub rel_error: f64,
    /// CS231n's element-wise `max |a − n| / max(|a| + |n|, 1e-8)`.
    pub max_elementwise_rel_error: f64,
    /// `max |a − n|`.
    pub max_abs_error: f64,
    /// `‖a‖₂`, the analytic gradient's norm.
    pub analytic_norm: f64,
    /// `‖n‖₂`, the numeric gradient's norm.
    pub numeric_norm: f64,
}

impl TensorCheck {
    /// Passes when `rel_error < bound`, or when the absolute error is below `atol`, the
    /// difference quotient's own rounding noise (about `ε·|L|/h ≈ 2e-11` for `h = 1e-5`).
    /// The second case covers gradients that are zero or tiny by construction, where the
    /// relative error is noise over noise: the bias of a `Linear` right before a `BatchNorm`
    /// (exactly zero), or a BatchNorm input gradient that the normalisation nearly cancels.
    pub fn passes(&self, bound: f64, atol: f64) -> bool {
        self.rel_error < bound || self.max_abs_error < atol
    }
}

/// Settings of [`check_network`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GradcheckConfig {
    /// Step `h` of the central difference (default `1e-5`).
    pub h: f64,
    /// Seed of the RNG given to every training forward (fixes dropout masks).
    pub seed: u64,
    /// L2 strength; the checked loss is `data loss + ½·reg·Σ‖W‖²`.
    pub reg: f64,
    /// Also check `dX`.
    pub check_input: bool,
}

impl Default for GradcheckConfig {
    fn default() -> Self {
        GradcheckConfig {
            h: 1e-5,
            seed: 0,
            reg: 0.0,
            check_input: true,
        }
    }
}

/// Compares an analytic and a numeric gradient of the same shape.
pub fn compare(name: &str, analytic: &[f64], numeric: &[f64]) -> TensorCheck {
    let (mut diff2, mut a2, mut n2, mut max_rel, mut max_abs) = (0.0, 0.0, 0.0, 0.0f64, 0.0f64);
    for (&a, &n) in analytic.iter().zip(numeric) {
        let d = a - n;
        diff2 += d * d;
        a2 += a * a;
        n2 += n * n;
        max_abs = max_abs.max(d.abs());
        max_rel = max_rel.max(d.abs() / (a.abs() + n.abs()).max(1e-8));
    }
    let denom = a2.sqrt() + n2.sqrt();
    let rel = if diff2 == 0.0 {
        0.0
    } else {
        diff2.sqrt() / denom.max(f64::MIN_POSITIVE)
    };
    TensorCheck {
        name: name.to_string(),
        rel_error: rel,
        max_elementwise_rel_error: max_rel,
        max_abs_error: max_abs,
        analytic_norm: a2.sqrt(),
        numeric_norm: n2.sqrt(),
    }
}

/// Central-difference gradient of `f` at `x` (CS231n's `eval_numerical_gradient`); `x` is
/// restored afterwards.
///
/// # Errors
/// Whatever `f` returns.
///
/// # Example
/// ```
/// use ndarray::{array, ArrayD};
/// let mut x: ArrayD<f64> = array![1.0, -2.0].into_dyn();
/// let g = nn_core::gradcheck::numerical_gradient(|x| Ok(x.iter().map(|v| v * v).sum()), &mut x, 1e-5)?;
/// assert!((g[0] - 2.0).abs() < 1e-8 && (g[1] + 4.0).abs() < 1e-8);
/// # Ok::<(), nn_core::CoreError>(())
/// ```
pub fn numerical_gradient(
    mut f: impl FnMut(&ArrayD<f64>) -> Result<f64>,
    x: &mut ArrayD<f64>,
    h: f64,
) -> Result<ArrayD<f64>> {
    let mut grad = ArrayD::zeros(x.raw_dim());
    let indices: Vec<_> = x.indexed_iter().map(|(i, _)| i).collect();
    for idx in indices {
        let old = x[&idx];
        x[&idx] = old + h;
        let plus = f(x)?;
        x[&idx] = old - h;
        let minus = f(x)?;
        x[&idx] = old;
        grad[&idx] = (plus - minus) / (2.0 * h);
    }
    Ok(grad)
}

/// Checks every trainable tensor of `net` (and `dX` if asked) for the loss
/// `loss(net(x), targets) + ½·reg·Σ‖W‖²` in training mode. Returns one [`TensorCheck`] per tensor.
///
/// Runs `2·(#parameters + #inputs)` forward passes: use small networks.
///
/// # Errors
/// Whatever the forward passes or the loss report (shapes, labels).
///
/// # Example
/// ```
/// use ndarray::Array2;
/// use nn_core::{gradcheck, Loss, Network, NetworkSpec, Targets};
/// use rand::SeedableRng;
/// let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
/// let mut net = Network::<f64>::from_spec(&NetworkSpec::mlp(3, &[4], 2, &Default::default())?, &mut rng)?;
/// let x = Array2::from_shape_fn((5, 3), |(i, j)| (i as f64 - 2.0) * 0.3 + j as f64 * 0.7);
/// let checks = gradcheck::check_network(&mut net, x.view(), Targets::Classes(&[0, 1, 0, 1, 1]),
///     &Loss::default(), &Default::default())?;
/// assert!(checks.iter().all(|c| c.rel_error < 1e-7));
/// # Ok::<(), nn_core::CoreError>(())
/// ```
pub fn check_network<D: Dimension>(
    net: &mut Network<f64>,
    x: ArrayView<'_, f64, D>,
    targets: Targets<'_, f64>,
    loss: &Loss,
    config: &GradcheckConfig,
) -> Result<Vec<TensorCheck>> {
    let h = config.h;
    let n = x.shape().first().copied().unwrap_or(0);
    let d: usize = x.shape().iter().skip(1).product();
    check_shape("gradcheck (input)", &[n, net.input_dim()], &[n, d])?;
    let mut x2 = Array2::from_shape_vec((n, d), x.iter().copied().collect())
        .map_err(|_| crate::CoreError::EmptyInput { op: "gradcheck" })?;
    let rng = || ChaCha8Rng::seed_from_u64(config.seed);

    // Analytic gradients.
    net.zero_grad();
    let scores = net.forward_train(x2.view(), &mut rng())?.to_owned();
    let (_, ds) = loss.loss(scores.view(), targets)?;
    let dx = net.backward_input(ds.view())?.to_owned();
    net.add_l2_grad(config.reg);
    let mut trainable = Vec::new();
    let mut index = 0;
    net.visit_tensors(|t| {
        if let Some(g) = t.grad {
            trainable.push((
                index,
                t.name.to_string(),
                g.iter().copied().collect::<Vec<_>>(),
            ));
        }
        index += 1;
    });

    let mut checks = Vec::new();
    for (idx, name, analytic) in trainable {
        let mut numeric = vec![0.0; analytic.len()];
        for (k, num) in numeric.iter_mut().enumerate() {
            // Sets element k of tensor idx to `v` (if given) and returns its previous value.
            let set = |net: &mut Network<f64>, v: Option<f64>| -> f64 {
                let mut old = 0.0;
                net.with_tensor_mut(idx, &mut |mut t| {
                    if let Some(e) = t.iter_mut().nth(k) {
                        old = *e;
                        if let Some(v) = v {
                            *e = v;
                        }
                    }
                });
                old
            };
            let old = set(net, None);
            set(net, Some(old + h));
            let plus = net.loss_train(x2.view(), targets, loss, config.reg, &mut rng());
            set(net, Some(old - h));
            let minus = net.loss_train(x2.view(), targets, loss, config.reg, &mut rng());
            set(net, Some(old));
            *num = (plus? - minus?) / (2.0 * h);
        }
        checks.push(compare(&name, &analytic, &numeric));
    }
    if config.check_input {
        let mut numeric = vec![0.0; x2.len()];
        for (k, num) in numeric.iter_mut().enumerate() {
            let old = x2.as_slice().map_or(0.0, |s| s[k]);
            let mut at = |v: f64, x2: &mut Array2<f64>| -> Result<f64> {
                if let Some(s) = x2.as_slice_mut() {
                    s[k] = v;
                }
                net.loss_train(x2.view(), targets, loss, config.reg, &mut rng())
            };
            let plus = at(old + h, &mut x2)?;
            let minus = at(old - h, &mut x2)?;
            if let Some(s) = x2.as_slice_mut() {
                s[k] = old;
            }
            *num = (plus - minus) / (2.0 * h);
        }
        checks.push(compare("input", dx.as_slice().unwrap_or(&[]), &numeric));
    }
    Ok(checks)
}
