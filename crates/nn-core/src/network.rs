//! [`Network`]: a sequential network with a reusable workspace, and [`LossReport`].

use ndarray::{Array1, Array2, ArrayView, ArrayView2, ArrayViewMutD, Dimension, NdFloat};
use rand::Rng;

use crate::activation::{ActivationLayer, PRelu};
use crate::affine::Linear;
use crate::batch_norm::BatchNorm;
use crate::dropout::{Dropout, Flatten};
use crate::error::{check_shape, CoreError, Result};
use crate::layer::{LayerKind, Mode};
use crate::lit;
use crate::loss::{Loss, Targets};
use crate::maxout::Maxout;
use crate::param::{ParamKind, ParamMut, TensorRef};
use crate::spec::{LayerSpec, NetworkSpec};

/// The data loss and the L2 regularisation loss of one step, kept apart for diagnostics.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LossReport<F> {
    /// The data loss (mean over the batch).
    pub data_loss: F,
    /// `½·reg·Σ‖W‖²` over the weights ([`ParamKind::Weight`]).
    pub reg_loss: F,
}

impl<F: NdFloat> LossReport<F> {
    /// `data_loss + reg_loss`.
    pub fn total(&self) -> F {
        self.data_loss + self.reg_loss
    }
}

/// Buffers reused by every training step once built for a batch size.
#[derive(Clone, Debug)]
struct Workspace<F> {
    /// Batch size the buffers are built for (0: not built).
    batch: usize,
    /// The flattened input `N × D`.
    input: Array2<F>,
    /// `acts[i]` is layer `i`'s output `N × dᵢ₊₁`.
    acts: Vec<Array2<F>>,
    /// `grads[i]` is `∂L/∂(layer i's input)`, `N × dᵢ` (`grads[0]` is `dX`).
    grads: Vec<Array2<F>>,
    /// `∂L/∂scores` for [`Network::forward_backward`].
    dscores: Array2<F>,
    /// Whether `acts` and the layers' caches hold a training-mode forward.
    trained: bool,
}

/// A sequential network built from a [`NetworkSpec`], with parameters, gradients and buffers.
///
/// Training steps reuse one workspace (activations, gradients, caches) sized on first use for a
/// batch size, so after the first step a step allocates nothing.
///
/// # Shapes
/// Input `N × D` (or `N × …` of any rank: rows are flattened in row-major order), scores `N × C`.
///
/// # Example
/// ```
/// use ndarray::Array2;
/// use nn_core::{Loss, Network, NetworkSpec, Targets};
/// use rand::SeedableRng;
/// let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
/// let spec = NetworkSpec::mlp(3, &[5], 2, &Default::default())?;
/// let mut net = Network::<f64>::from_spec(&spec, &mut rng)?;
/// assert_eq!(net.num_params(), 3 * 5 + 5 + 5 * 2 + 2);
/// let x = Array2::from_shape_fn((4, 3), |(i, j)| (i + j) as f64 * 0.1);
/// let report = net.forward_backward(x.view(), Targets::Classes(&[0, 1, 1, 0]), &Loss::default(), 1e-3, &mut rng)?;
/// assert!(report.data_loss > 0.0 && report.reg_loss > 0.0);
/// # Ok::<(), nn_core::CoreError>(())
/// ```
#[derive(Clone, Debug)]
pub struct Network<F: NdFloat> {
    spec: NetworkSpec,
    layers: Vec<LayerKind<F>>,
    dims: Vec<usize>,
    names: Vec<(String, ParamKind)>,
    ws: Workspace<F>,
}

impl<F: NdFloat> Network<F> {
    /// Builds the network `spec` describes, drawing weights from `rng`.
    ///
    /// # Errors
    /// As [`NetworkSpec::validate`] (plus [`CoreError::InvalidHyperparameter`] for no layers), and
    /// whatever the initialisers report.
    pub fn from_spec<R: Rng + ?Sized>(spec: &NetworkSpec, rng: &mut R) -> Result<Self> {
        let dims = spec.dims()?;
        if spec.layers.is_empty() {
            return Err(CoreError::InvalidHyperparameter {
                name: "layers",
                value: "[]".into(),
                reason: "a network needs at least one layer",
            });
        }
        let mut layers = Vec::with_capacity(spec.layers.len());
        for (i, ls) in spec.layers.iter().enumerate() {
            let d = dims[i];
            layers.push(match ls {
                LayerSpec::Linear {
                    outputs,
                    init,
                    bias,
                } => LayerKind::Linear(Linear::init(d, *outputs, init, bias, rng)?),
                LayerSpec::Activation { activation } => {
                    LayerKind::Activation(ActivationLayer::new(*activation)?)
                }
                LayerSpec::PRelu { per_feature, init } => {
                    let len = if *per_feature { d } else { 1 };
                    LayerKind::PRelu(PRelu::new(Array1::from_elem(len, lit(*init)))?)
                }
                LayerSpec::Maxout {
                    outputs,
                    pieces,
                    init,
                    bias,
                } => LayerKind::Maxout(Maxout::init(d, *outputs, *pieces, init, bias, rng)?),
                LayerSpec::BatchNorm { config } => {
                    LayerKind::BatchNorm(BatchNorm::new(d, *config)?)
                }
                LayerSpec::Dropout { p } => LayerKind::Dropout(Dropout::new(*p)?),
                LayerSpec::Flatten => LayerKind::Flatten(Flatten),
            });
        }
        let mut names = Vec::new();
        for (i, layer) in layers.iter().enumerate() {
            for (local, kind) in layer.tensor_names() {
                names.push((format!("layers.{i}.{local}"), kind));
            }
        }
        Ok(Network {
            spec: spec.clone(),
            layers,
            dims,
            names,
            ws: Workspace {
                batch: 0,
                input: Array2::zeros((0, 0)),
                acts: Vec::new(),
                grads: Vec::new(),
                dscores: Array2::zeros((0, 0)),
                trained: false,
            },
        })
    }

    /// The specification this network was built from.
    pub fn spec(&self) -> &NetworkSpec {
        &self.spec
    }

    /// The layers, first to last.
    pub fn layers(&self) -> &[LayerKind<F>] {
        &self.layers
    }

    /// Input width `D`.
    pub fn input_dim(&self) -> usize {
        self.dims[0]
    }

    /// Output width `C`.
    pub fn output_dim(&self) -> usize {
        self.dims[self.dims.len() - 1]
    }

    /// The number of trainable scalars (weights, biases, γ, β, PReLU slopes; not running statistics).
    pub fn num_params(&self) -> usize {
        let mut n = 0;
        self.visit_tensors(|t| {
            if t.kind.is_trainable() {
                n += t.value.len();
            }
        });
        n
    }

    /// Names and kinds of all tensors (parameters and buffers) in visiting order.
    pub fn tensor_names(&self) -> impl Iterator<Item = (&str, ParamKind)> {
        self.names.iter().map(|(n, k)| (n.as_str(), *k))
    }

    /// Visits every tensor, parameters and buffers, as `layers.{i}.{name}` (e.g. `layers.0.weight`,
    /// `layers.1.running_mean`).
    pub fn visit_tensors(&self, mut f: impl FnMut(TensorRef<'_, F>)) {
        let mut idx = 0;
        let names = &self.names;
        for layer in &self.layers {
            layer.for_each_tensor(&mut |value, grad| {
                let (name, kind) = &names[idx];
                f(TensorRef {
                    name,
                    kind: *kind,
                    value,
                    grad,
                });
                idx += 1;
            });
        }
    }

    /// Visits every trainable parameter with its gradient, mutably (for optimisers). Allocation-free.
    pub fn visit_params_mut(&mut self, mut f: impl FnMut(ParamMut<'_, F>)) {
        let mut idx = 0;
        let names = &self.names;
        for layer in &mut self.layers {
            layer.for_each_tensor_mut(&mut |value, grad| {
                let (name, kind) = &names[idx];
                if let Some(grad) = grad {
                    f(ParamMut {
                        name,
                        kind: *kind,
                        value,
                        grad,
                    });
                }
                idx += 1;
            });
        }
    }

    /// Calls `f` with the value of tensor number `index` (in [`Network::tensor_names`] order).
    pub(crate) fn with_tensor_mut(
        &mut self,
        index: usize,
        f: &mut dyn FnMut(ArrayViewMutD<'_, F>),
    ) {
        let mut idx = 0;
        for layer in &mut self.layers {
            layer.for_each_tensor_mut(&mut |value, _| {
                if idx == index {
                    f(value);
                }
                idx += 1;
            });
        }
    }

    /// Sets every parameter gradient to zero.
    pub fn zero_grad(&mut self) {
        self.visit_params_mut(|p| {
            let mut g = p.grad;
            g.fill(F::zero());
        });
    }

    /// The L2 penalty `½·reg·Σ‖W‖²` over the weights (not biases, γ, β or slopes).
    pub fn l2_penalty(&self, reg: F) -> F {
        let mut s = F::zero();
        self.visit_tensors(|t| {
            if t.kind.is_regularised() {
                s += match t.value.as_slice_memory_order() {
                    Some(flat) => sum_squares(flat),
                    None => t.value.iter().fold(F::zero(), |a, &w| a + w * w),
                };
            }
        });
        lit::<F>(0.5) * reg * s
    }

    /// Adds the penalty's gradient `reg·W` to every weight's gradient.
    pub fn add_l2_grad(&mut self, reg: F) {
        self.visit_params_mut(|p| {
            if p.kind.is_regularised() {
                let mut g = p.grad;
                g.zip_mut_with(&p.value, |g, &w| *g += reg * w);
            }
        });
    }

    fn ensure_workspace(&mut self, n: usize) {
        if self.ws.batch == n {
            return;
        }
        let c = self.output_dim();
        let ws = &mut self.ws;
        ws.batch = n;
        ws.input = Array2::zeros((n, self.dims[0]));
        ws.acts = self.dims[1..]
            .iter()
            .map(|&d| Array2::zeros((n, d)))
            .collect();
        ws.grads = self.dims[..self.dims.len() - 1]
            .iter()
            .map(|&d| Array2::zeros((n, d)))
            .collect();
        ws.dscores = Array2::zeros((n, c));
        ws.trained = false;
    }

    /// Copies `x` (`N × …`) into the workspace's `N × D` input buffer.
    fn load_input<D: Dimension>(&mut self, x: ArrayView<'_, F, D>) -> Result<()> {
        let shape = x.shape();
        let n = shape.first().copied().unwrap_or(0);
        if shape.len() < 2 || n == 0 {
            return Err(if n == 0 && shape.len() >= 2 {
                CoreError::EmptyInput {
                    op: "Network::forward",
                }
            } else {
                CoreError::ShapeMismatch {
                    op: "Network::forward (input must be N × …)",
                    expected: vec![n, self.dims[0]],
                    got: shape.to_vec(),
                }
            });
        }
        let d: usize = shape[1..].iter().product();
        check_shape("Network::forward", &[n, self.dims[0]], &[n, d])?;
        self.ensure_workspace(n);
        let input = &mut self.ws.input;
        match x.view().into_dimensionality::<ndarray::Ix2>() {
            Ok(x2) => input.assign(&x2),
            Err(_) => input.iter_mut().zip(x.iter()).for_each(|(a, &b)| *a = b),
        }
        Ok(())
    }

    fn run_forward<R: Rng + ?Sized>(&mut self, mode: Mode, rng: &mut R) -> Result<()> {
        let ws = &mut self.ws;
        ws.trained = false;
        for (i, layer) in self.layers.iter_mut().enumerate() {
            let (before, after) = ws.acts.split_at_mut(i);
            let x = if i == 0 {
                ws.input.view()
            } else {
                before[i - 1].view()
            };
            layer.forward(x, after[0].view_mut(), mode, rng)?;
        }
        ws.trained = mode == Mode::Train;
        Ok(())
    }

    fn scores(&self) -> ArrayView2<'_, F> {
        self.ws.acts[self.ws.acts.len() - 1].view()
    }

    /// Training-mode forward: keeps what [`Network::backward`] needs, updates BatchNorm's running
    /// statistics, draws dropout masks from `rng`. Returns the scores `N × C`.
    ///
    /// # Errors
    /// [`CoreError::ShapeMismatch`] if `x` is not `N × …` with `D` values per row;
    /// [`CoreError::EmptyInput`] for `N = 0`; BatchNorm's error for one value per channel.
    pub fn forward_train<D: Dimension, R: Rng + ?Sized>(
        &mut self,
        x: ArrayView<'_, F, D>,
        rng: &mut R,
    ) -> Result<ArrayView2<'_, F>> {
        self.load_input(x)?;
        self.run_forward(Mode::Train, rng)?;
        Ok(self.scores())
    }

    /// Evaluation-mode forward through the workspace (allocation-free for layers other than
    /// Maxout and statistics-free BatchNorm). Returns the scores `N × C`.
    ///
    /// # Errors
    /// As [`Network::forward_train`].
    pub fn forward_eval<D: Dimension>(
        &mut self,
        x: ArrayView<'_, F, D>,
    ) -> Result<ArrayView2<'_, F>> {
        self.load_input(x)?;
        // Evaluation draws nothing; the rng is never used.
        let mut rng = <rand_chacha::ChaCha8Rng as rand::SeedableRng>::seed_from_u64(0);
        self.run_forward(Mode::Eval, &mut rng)?;
        Ok(self.scores())
    }

    /// Evaluation-mode scores `N × C` for `x`, leaving the network untouched.
    ///
    /// # Errors
    /// As [`Network::forward_train`].
    pub fn predict<D: Dimension>(&self, x: ArrayView<'_, F, D>) -> Result<Array2<F>> {
        let shape = x.shape();
        let n = shape.first().copied().unwrap_or(0);
        if n == 0 {
            return Err(CoreError::EmptyInput {
                op: "Network::predict",
            });
        }
        let d: usize = shape[1..].iter().product();
        check_shape("Network::predict", &[n, self.dims[0]], &[n, d])?;
        let mut cur =
            Array2::from_shape_vec((n, d), x.iter().copied().collect()).map_err(|_| {
                CoreError::EmptyInput {
                    op: "Network::predict",
                }
            })?;
        for (i, layer) in self.layers.iter().enumerate() {
            let mut out = Array2::zeros((n, self.dims[i + 1]));
            layer.predict_into(cur.view(), out.view_mut())?;
            cur = out;
        }
        Ok(cur)
    }

    /// One forward pass of `x` (`N × …`) that hands every layer's input and output to `f`, as
    /// `f(i, layer, input, output)` for `i = 0, 1, …` (`input` is `N × dᵢ`, `output` `N × dᵢ₊₁`;
    /// the last output is the scores `N × C`). For monitoring and plotting what each layer does;
    /// it allocates one `N × dᵢ₊₁` array per layer and leaves the network untouched.
    ///
    /// - [`Mode::Eval`]: as [`Network::predict`] (BatchNorm uses its running statistics, dropout is
    ///   the identity); `rng` is not used.
    /// - [`Mode::Train`]: as [`Network::forward_train`] with the same `rng` would compute (BatchNorm
    ///   normalises with the batch's statistics, dropout masks are drawn from `rng`), but BatchNorm's
    ///   running statistics and every layer's caches stay as they were: BatchNorm and dropout layers
    ///   run on scratch copies.
    ///
    /// # Errors
    /// [`CoreError::ShapeMismatch`] if `x` is not `N × …` with `D` values per row;
    /// [`CoreError::EmptyInput`] for `N = 0`; in [`Mode::Train`], BatchNorm's error for one value
    /// per channel.
    ///
    /// # Example
    /// ```
    /// use ndarray::Array2;
    /// use nn_core::{Mode, Network, NetworkSpec};
    /// use rand::SeedableRng;
    /// let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
    /// let spec = NetworkSpec::mlp(3, &[5], 2, &Default::default())?; // linear, relu, linear
    /// let net = Network::<f64>::from_spec(&spec, &mut rng)?;
    /// let x = Array2::from_shape_fn((4, 3), |(i, j)| (i + j) as f64 * 0.1 - 0.2);
    /// let mut widths = Vec::new();
    /// let mut scores = Array2::zeros((0, 0));
    /// net.forward_layers(x.view(), Mode::Eval, &mut rng, |_, _, input, output| {
    ///     widths.push((input.ncols(), output.ncols()));
    ///     scores = output.to_owned();
    /// })?;
    /// assert_eq!(widths, [(3, 5), (5, 5), (5, 2)]);
    /// assert_eq!(scores, net.predict(x.view())?);
    /// # Ok::<(), nn_core::CoreError>(())
    /// ```
    pub fn forward_layers<D: Dimension, R: Rng + ?Sized>(
        &self,
        x: ArrayView<'_, F, D>,
        mode: Mode,
        rng: &mut R,
        mut f: impl FnMut(usize, &LayerKind<F>, ArrayView2<'_, F>, ArrayView2<'_, F>),
    ) -> Result<()> {
        let shape = x.shape();
        let n = shape.first().copied().unwrap_or(0);
        if shape.len() < 2 {
            return Err(CoreError::ShapeMismatch {
                op: "Network::forward_layers (input must be N × …)",
                expected: vec![n, self.dims[0]],
                got: shape.to_vec(),
            });
        }
        if n == 0 {
            return Err(CoreError::EmptyInput {
                op: "Network::forward_layers",
            });
        }
        let d: usize = shape[1..].iter().product();
        check_shape("Network::forward_layers", &[n, self.dims[0]], &[n, d])?;
        let mut cur =
            Array2::from_shape_vec((n, d), x.iter().copied().collect()).map_err(|_| {
                CoreError::ShapeMismatch {
                    op: "Network::forward_layers",
                    expected: vec![n, self.dims[0]],
                    got: shape.to_vec(),
                }
            })?;
        for (i, layer) in self.layers.iter().enumerate() {
            let mut out = Array2::zeros((n, self.dims[i + 1]));
            match (layer, mode) {
                // Batch statistics and dropout masks need a training forward, which records
                // state: run it on a copy.
                (LayerKind::BatchNorm(_) | LayerKind::Dropout(_), Mode::Train) => {
                    layer
                        .clone()
                        .forward(cur.view(), out.view_mut(), mode, rng)?;
                }
                // Every other layer computes the same values in both modes.
                _ => layer.predict_into(cur.view(), out.view_mut())?,
            }
            f(i, layer, cur.view(), out.view());
            cur = out;
        }
        Ok(())
    }

    fn backward_inner(&mut self, dscores: Option<ArrayView2<'_, F>>, want_dx: bool) -> Result<()> {
        if !self.ws.trained {
            return Err(CoreError::BackwardBeforeForward);
        }
        let Workspace {
            input,
            acts,
            grads,
            dscores: own,
            ..
        } = &mut self.ws;
        let ds: ArrayView2<'_, F> = match &dscores {
            Some(d) => d.view(),
            None => own.view(),
        };
        check_shape(
            "Network::backward",
            acts[acts.len() - 1].shape(),
            ds.shape(),
        )?;
        let last = self.layers.len() - 1;
        for (i, layer) in self.layers.iter_mut().enumerate().rev() {
            let x = if i == 0 {
                input.view()
            } else {
                acts[i - 1].view()
            };
            let y = acts[i].view();
            let (lo, hi) = grads.split_at_mut(i + 1);
            let dout = if i == last { ds.view() } else { hi[0].view() };
            let dx = if i == 0 && !want_dx && !layer.needs_dx_buffer() {
                None
            } else {
                Some(lo[i].view_mut())
            };
            layer.backward(x, y, dout, dx)?;
        }
        Ok(())
    }

    /// Backward from `dscores` (`N × C`) after [`Network::forward_train`]: accumulates every
    /// parameter gradient (`grad += …`). The input gradient is not computed (see
    /// [`Network::backward_input`]).
    ///
    /// # Errors
    /// [`CoreError::BackwardBeforeForward`] without a training forward since the last evaluation
    /// forward; [`CoreError::ShapeMismatch`] if `dscores` is not `N × C`.
    pub fn backward(&mut self, dscores: ArrayView2<'_, F>) -> Result<()> {
        self.backward_inner(Some(dscores), false)
    }

    /// As [`Network::backward`], and also returns `dX` (`N × D`, flattened rows).
    ///
    /// # Errors
    /// As [`Network::backward`].
    pub fn backward_input(&mut self, dscores: ArrayView2<'_, F>) -> Result<ArrayView2<'_, F>> {
        self.backward_inner(Some(dscores), true)?;
        Ok(self.ws.grads[0].view())
    }

    /// One training step's gradients: zeroes them, runs the training forward, the loss, the
    /// backward pass and the L2 gradient `reg·W`. Reports data and regularisation loss separately.
    /// After the first call for a batch size this allocates nothing.
    ///
    /// # Errors
    /// As [`Network::forward_train`] and [`Loss::loss_into`].
    pub fn forward_backward<D: Dimension, R: Rng + ?Sized>(
        &mut self,
        x: ArrayView<'_, F, D>,
        targets: Targets<'_, F>,
        loss: &Loss,
        reg: F,
        rng: &mut R,
    ) -> Result<LossReport<F>> {
        self.zero_grad();
        self.load_input(x)?;
        self.run_forward(Mode::Train, rng)?;
        let ws = &mut self.ws;
        let scores = ws.acts[ws.acts.len() - 1].view();
        let data_loss = loss.loss_into(scores, targets, ws.dscores.view_mut())?;
        self.backward_inner(None, false)?;
        let mut reg_loss = F::zero();
        if reg != F::zero() {
            reg_loss = self.l2_penalty(reg);
            self.add_l2_grad(reg);
        }
        Ok(LossReport {
            data_loss,
            reg_loss,
        })
    }

    /// The data loss and L2 loss of `x` in training mode without computing gradients (for
    /// gradient checks). Allocates.
    pub(crate) fn loss_train<D: Dimension, R: Rng + ?Sized>(
        &mut self,
        x: ArrayView<'_, F, D>,
        targets: Targets<'_, F>,
        loss: &Loss,
        reg: F,
        rng: &mut R,
    ) -> Result<F> {
        let scores = self.forward_train(x, rng)?.to_owned();
        let (l, _) = loss.loss(scores.view(), targets)?;
        Ok(l + self.l2_penalty(reg))
    }

    /// Sets tensor values from a visitor (for loading); `f` gets each name, kind and value.
    pub(crate) fn for_each_value_mut(
        &mut self,
        mut f: impl FnMut(&str, ParamKind, ArrayViewMutD<'_, F>) -> Result<()>,
    ) -> Result<()> {
        let mut idx = 0;
        let names = &self.names;
        let mut result = Ok(());
        for layer in &mut self.layers {
            layer.for_each_tensor_mut(&mut |value, _| {
                let (name, kind) = &names[idx];
                if result.is_ok() {
                    result = f(name, *kind, value);
                }
                idx += 1;
            });
        }
        result
    }
}

/// `Σ vᵢ²` in eight partial sums (lane `j` takes the elements `i ≡ j mod 8`) added in a fixed
/// order: deterministic for a given length, and vectorised, where a single running sum waits one
/// add latency per element.
fn sum_squares<F: NdFloat>(v: &[F]) -> F {
    let mut lanes = [F::zero(); 8];
    let chunks = v.chunks_exact(8);
    let tail = chunks.remainder().iter().fold(F::zero(), |a, &x| a + x * x);
    for chunk in chunks {
        for (lane, &x) in lanes.iter_mut().zip(chunk) {
            *lane += x * x;
        }
    }
    lanes.iter().fold(F::zero(), |a, &l| a + l) + tail
}
