//! The runtime optimiser: one update rule plus the states of all named parameters.

use super::{
    Adagrad, AdagradConfig, AdagradState, Adam, AdamConfig, AdamState, AdamWConfig, Momentum,
    RmsProp, RmsPropConfig, RmsPropState, Sgd, SgdConfig, SgdState, UpdateRule,
};
use crate::error::{Result, TrainError};
use ndarray::{ArrayView1, ArrayViewMut1, NdFloat};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Which optimiser to use, with its hyperparameters (serde: internally tagged by `"kind"`).
///
/// The learning rate is not here: a schedule sets it (see [`crate::schedule`]).
///
/// # Example
/// ```
/// use nn_train::optim::OptimizerConfig;
/// let cfg: OptimizerConfig = serde_json::from_str(r#"{"kind": "adam_w", "weight_decay": 0.05}"#).unwrap();
/// assert!(matches!(cfg, OptimizerConfig::AdamW(c) if c.weight_decay == 0.05 && c.beta1 == 0.9));
/// let back: OptimizerConfig = serde_json::from_str(&serde_json::to_string(&cfg).unwrap()).unwrap();
/// assert_eq!(back, cfg);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum OptimizerConfig {
    /// SGD, plain or with classic or Nesterov momentum ([`Sgd`]).
    Sgd(SgdConfig),
    /// AdaGrad ([`Adagrad`]).
    Adagrad(AdagradConfig),
    /// RMSProp ([`RmsProp`]).
    RmsProp(RmsPropConfig),
    /// Adam with L2 weight decay ([`Adam`]).
    Adam(AdamConfig),
    /// AdamW: Adam with decoupled weight decay ([`Adam`]).
    AdamW(AdamWConfig),
}

impl Default for OptimizerConfig {
    /// Adam with PyTorch's defaults (CS231n: "Adam is a good default").
    fn default() -> Self {
        Self::Adam(AdamConfig::default())
    }
}

impl OptimizerConfig {
    /// Plain SGD without weight decay.
    pub fn sgd() -> Self {
        Self::Sgd(SgdConfig::default())
    }

    /// SGD with classic momentum `momentum` (no dampening, no weight decay).
    pub fn momentum(momentum: f64) -> Self {
        Self::Sgd(SgdConfig {
            momentum: Momentum::Classic {
                momentum,
                dampening: 0.0,
            },
            weight_decay: 0.0,
        })
    }

    /// SGD with Nesterov momentum `momentum` (no weight decay).
    pub fn nesterov(momentum: f64) -> Self {
        Self::Sgd(SgdConfig {
            momentum: Momentum::Nesterov { momentum },
            weight_decay: 0.0,
        })
    }

    /// Validates the hyperparameters and builds the update rule.
    ///
    /// # Errors
    /// [`TrainError::InvalidHyperparameter`] from the variant's `build`.
    pub fn build<F: NdFloat>(&self) -> Result<Rule<F>> {
        Ok(match self {
            Self::Sgd(c) => Rule::Sgd(c.build()?),
            Self::Adagrad(c) => Rule::Adagrad(c.build()?),
            Self::RmsProp(c) => Rule::RmsProp(c.build()?),
            Self::Adam(c) => Rule::Adam(c.build()?),
            Self::AdamW(c) => Rule::Adam(c.build()?),
        })
    }
}

/// A built update rule of any kind (closed enum, no trait objects).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Rule<F> {
    /// See [`Sgd`].
    Sgd(Sgd<F>),
    /// See [`Adagrad`].
    Adagrad(Adagrad<F>),
    /// See [`RmsProp`].
    RmsProp(RmsProp<F>),
    /// See [`Adam`] (Adam and AdamW).
    Adam(Adam<F>),
}

/// The per-parameter state of any rule (serde: internally tagged by `"kind"`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ParamState<F> {
    /// See [`SgdState`].
    Sgd(SgdState<F>),
    /// See [`AdagradState`].
    Adagrad(AdagradState<F>),
    /// See [`RmsPropState`].
    RmsProp(RmsPropState<F>),
    /// See [`AdamState`] (Adam and AdamW).
    Adam(AdamState<F>),
}

impl<F: NdFloat> Rule<F> {
    /// A fresh state for a parameter of `len` elements.
    pub fn init_state(&self, len: usize) -> ParamState<F> {
        match self {
            Self::Sgd(r) => ParamState::Sgd(r.init_state(len)),
            Self::Adagrad(r) => ParamState::Adagrad(r.init_state(len)),
            Self::RmsProp(r) => ParamState::RmsProp(r.init_state(len)),
            Self::Adam(r) => ParamState::Adam(r.init_state(len)),
        }
    }

    /// One update of `param` with the matching state.
    ///
    /// # Errors
    /// As [`UpdateRule::step`], plus [`TrainError::StateMismatch`] when `state` belongs to another rule.
    pub fn step(
        &self,
        lr: F,
        param: ArrayViewMut1<'_, F>,
        grad: ArrayView1<'_, F>,
        state: &mut ParamState<F>,
    ) -> Result<()> {
        match (self, state) {
            (Self::Sgd(r), ParamState::Sgd(s)) => r.step(lr, param, grad, s),
            (Self::Adagrad(r), ParamState::Adagrad(s)) => r.step(lr, param, grad, s),
            (Self::RmsProp(r), ParamState::RmsProp(s)) => r.step(lr, param, grad, s),
            (Self::Adam(r), ParamState::Adam(s)) => r.step(lr, param, grad, s),
            _ => Err(TrainError::StateMismatch {
                name: String::new(),
                reason: "the state belongs to another optimiser".into(),
            }),
        }
    }
}

/// What an [`Optimizer`] saves into a checkpoint: its configuration and every parameter's state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OptimizerCheckpoint<F> {
    /// The configuration the optimiser was built from.
    pub config: OptimizerConfig,
    /// The state of each parameter, by name.
    pub states: BTreeMap<String, ParamState<F>>,
}

/// An optimiser at run time: one validated rule and the state of every named parameter.
///
/// The training loop calls [`Optimizer::step`] once per parameter per iteration, passing the learning
/// rate its schedule gives for this iteration.
/// A parameter's state is created on its first step.
///
/// # Example
/// ```
/// use ndarray::array;
/// use nn_train::optim::{Optimizer, OptimizerConfig};
/// let mut opt = Optimizer::<f64>::new(OptimizerConfig::nesterov(0.9))?;
/// let (mut w, mut b) = (array![1.0, 2.0], array![0.0]);
/// opt.step(0.1, "w", w.view_mut(), array![1.0, 1.0].view())?;
/// opt.step(0.1, "b", b.view_mut(), array![-1.0].view())?;
/// assert!((w[0] - 0.81).abs() < 1e-12); // Nesterov's first step: 0.1·(1 + 0.9·1)
/// let saved = serde_json::to_string(&opt.checkpoint()).unwrap();
/// let restored = Optimizer::<f64>::from_checkpoint(serde_json::from_str(&saved).unwrap())?;
/// assert_eq!(restored.checkpoint(), opt.checkpoint());
/// # Ok::<(), nn_train::TrainError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Optimizer<F> {
    config: OptimizerConfig,
    rule: Rule<F>,
    states: BTreeMap<String, ParamState<F>>,
}

impl<F: NdFloat> Optimizer<F> {
    /// Validates `config` and builds an optimiser with no parameter states yet.
    ///
    /// # Errors
    /// [`TrainError::InvalidHyperparameter`] when a hyperparameter is out of range.
    pub fn new(config: OptimizerConfig) -> Result<Self> {
        Ok(Self {
            rule: config.build()?,
            config,
            states: BTreeMap::new(),
        })
    }

    /// Restores an optimiser from a checkpoint, checking that each state fits the configured rule.
    ///
    /// # Errors
    /// [`TrainError::InvalidHyperparameter`] for a bad configuration; [`TrainError::StateMismatch`]
    /// when a state belongs to another kind of optimiser.
    pub fn from_checkpoint(checkpoint: OptimizerCheckpoint<F>) -> Result<Self> {
        let mut opt = Self::new(checkpoint.config)?;
        for (name, state) in checkpoint.states {
            let fits = matches!(
                (&opt.rule, &state),
                (Rule::Sgd(_), ParamState::Sgd(_))
                    | (Rule::Adagrad(_), ParamState::Adagrad(_))
                    | (Rule::RmsProp(_), ParamState::RmsProp(_))
                    | (Rule::Adam(_), ParamState::Adam(_))
            );
            if !fits {
                return Err(TrainError::StateMismatch {
                    name,
                    reason: "the saved state belongs to another optimiser".into(),
                });
            }
            opt.states.insert(name, state);
        }
        Ok(opt)
    }

    /// The configuration this optimiser was built from.
    pub fn config(&self) -> &OptimizerConfig {
        &self.config
    }

    /// The built rule.
    pub fn rule(&self) -> &Rule<F> {
        &self.rule
    }

    /// The state of parameter `name`, if it has taken a step.
    pub fn state(&self, name: &str) -> Option<&ParamState<F>> {
        self.states.get(name)
    }

    /// A copy of the configuration and all states, for a checkpoint.
    pub fn checkpoint(&self) -> OptimizerCheckpoint<F> {
        OptimizerCheckpoint {
            config: self.config,
            states: self.states.clone(),
        }
    }

    /// Forgets every parameter's state (the next steps start afresh).
    pub fn reset(&mut self) {
        self.states.clear();
    }

    /// Updates parameter `name` in place from its gradient, with learning rate `lr`.
    ///
    /// # Shapes
    /// `param` and `grad` are flat views of the same length (any parameter tensor, flattened); it must
    /// stay the same from step to step for a given name.
    ///
    /// # Errors
    /// [`TrainError::ShapeMismatch`] when lengths differ (between `param` and `grad`, or with the stored
    /// state); [`TrainError::InvalidHyperparameter`] for a negative or non-finite `lr`;
    /// [`TrainError::StateMismatch`] when a restored state does not fit the rule.
    /// On error the parameter and its state are unchanged.
    pub fn step(
        &mut self,
        lr: F,
        name: &str,
        param: ArrayViewMut1<'_, F>,
        grad: ArrayView1<'_, F>,
    ) -> Result<()> {
        let rule = &self.rule;
        let len = param.len();
        let result = match self.states.get_mut(name) {
            Some(state) => rule.step(lr, param, grad, state),
            None => {
                let mut state = rule.init_state(len);
                let r = rule.step(lr, param, grad, &mut state);
                if r.is_ok() {
                    self.states.insert(name.to_string(), state);
                }
                r
            }
        };
        result.map_err(|e| match e {
            TrainError::StateMismatch { reason, .. } => TrainError::StateMismatch {
                name: name.to_string(),
                reason,
            },
            other => other,
        })
    }
}
