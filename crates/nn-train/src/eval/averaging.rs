//! Parameter averaging during training: Polyak (uniform) averages and exponential moving averages of
//! named flat parameter tensors, evaluated separately from the trained parameters.

use crate::error::{check_unit_open, Result, TrainError};
use crate::optim::lit;
use ndarray::{Array1, ArrayView1, NdFloat};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One averaged tensor and how many updates it has seen.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Averaged<F> {
    values: Vec<F>,
    count: u64,
}

fn check_update<F>(slot: Option<&Averaged<F>>, name: &str, len: usize) -> Result<()> {
    match slot {
        Some(a) if a.values.len() != len => Err(TrainError::StateMismatch {
            name: name.to_string(),
            reason: format!(
                "averaged over {} elements, update has {len}",
                a.values.len()
            ),
        }),
        _ => Ok(()),
    }
}

/// The Polyak (uniform, running-mean) average of each named parameter over all updates, with the
/// semantics of PyTorch's `torch.optim.swa_utils.AveragedModel` default averaging function.
///
/// ```text
/// n = 0:  θ̄ ← θ                                  (first update copies)
/// n ≥ 1:  θ̄ ← θ̄ + (θ − θ̄) / (n + 1)               (the mean of the n + 1 updates so far)
/// ```
/// Serde-serialisable for checkpoints.
///
/// # Example
/// ```
/// use ndarray::array;
/// use nn_train::eval::Polyak;
/// let mut avg = Polyak::<f64>::new();
/// for w in [array![1.0, 0.0], array![2.0, 3.0], array![6.0, 3.0]] {
///     avg.update("w", w.view())?;
/// }
/// assert_eq!(avg.averaged("w"), Some(array![3.0, 2.0]));
/// # Ok::<(), nn_train::TrainError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Polyak<F> {
    averages: BTreeMap<String, Averaged<F>>,
}

impl<F: NdFloat> Polyak<F> {
    /// An average with no parameters yet.
    pub fn new() -> Self {
        Self {
            averages: BTreeMap::new(),
        }
    }

    /// Adds the current values of parameter `name` to its average.
    ///
    /// # Shapes
    /// `values`: the flat parameter, the same length at every update of `name`.
    ///
    /// # Errors
    /// [`TrainError::StateMismatch`] when the length differs from earlier updates (nothing changes).
    pub fn update(&mut self, name: &str, values: ArrayView1<'_, F>) -> Result<()> {
        check_update(self.averages.get(name), name, values.len())?;
        match self.averages.get_mut(name) {
            None => {
                self.averages.insert(
                    name.to_string(),
                    Averaged {
                        values: values.to_vec(),
                        count: 1,
                    },
                );
            }
            Some(a) => {
                let inv: F = lit(1.0 / (a.count + 1) as f64);
                for (avg, &x) in a.values.iter_mut().zip(values.iter()) {
                    *avg += (x - *avg) * inv;
                }
                a.count += 1;
            }
        }
        Ok(())
    }

    /// The averaged values of `name`, or `None` before its first update.
    pub fn averaged(&self, name: &str) -> Option<Array1<F>> {
        self.averages
            .get(name)
            .map(|a| Array1::from(a.values.clone()))
    }

    /// How many updates `name` has seen.
    pub fn count(&self, name: &str) -> u64 {
        self.averages.get(name).map_or(0, |a| a.count)
    }

    /// The averaged values of every parameter, by name.
    pub fn averaged_all(&self) -> BTreeMap<String, Array1<F>> {
        self.averages
            .iter()
            .map(|(k, a)| (k.clone(), Array1::from(a.values.clone())))
            .collect()
    }
}

/// How an [`Ema`] starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum BiasCorrection {
    /// The first update copies the parameter (PyTorch's `AveragedModel` with an EMA function).
    #[default]
    CopyFirst,
    /// The average starts at 0 and is divided by `1 − decayᵗ` when read (as Adam's moments), so early
    /// reads are unbiased means weighted towards recent values.
    ZeroDebiased,
}

/// An exponential moving average of each named parameter (Polyak averaging with exponential weights).
///
/// ```text
/// CopyFirst (PyTorch AveragedModel + get_ema_multi_avg_fn):
///     t = 1:  θ̄ ← θ
///     t > 1:  θ̄ ← decay·θ̄ + (1 − decay)·θ
/// ZeroDebiased:
///     e ← decay·e + (1 − decay)·θ   (e starts at 0);   θ̄ = e / (1 − decayᵗ)
/// ```
/// Serde-serialisable for checkpoints (the decay is validated again on load).
///
/// # Example
/// ```
/// use ndarray::array;
/// use nn_train::eval::{BiasCorrection, Ema};
/// let mut ema = Ema::<f64>::new(0.9, BiasCorrection::CopyFirst)?;
/// ema.update("w", array![1.0].view())?;
/// ema.update("w", array![2.0].view())?;
/// assert!((ema.averaged("w").unwrap()[0] - 1.1).abs() < 1e-12); // 0.9·1 + 0.1·2
/// # Ok::<(), nn_train::TrainError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "EmaParts<F>", into = "EmaParts<F>")]
#[serde(bound(
    serialize = "F: Serialize + Clone",
    deserialize = "F: Deserialize<'de>"
))]
pub struct Ema<F> {
    decay: f64,
    bias_correction: BiasCorrection,
    averages: BTreeMap<String, Averaged<F>>,
}

/// The serialised form of an [`Ema`].
#[derive(Serialize, Deserialize)]
struct EmaParts<F> {
    decay: f64,
    bias_correction: BiasCorrection,
    averages: BTreeMap<String, Averaged<F>>,
}

impl<F> From<Ema<F>> for EmaParts<F> {
    fn from(e: Ema<F>) -> Self {
        Self {
            decay: e.decay,
            bias_correction: e.bias_correction,
            averages: e.averages,
        }
    }
}

impl<F> TryFrom<EmaParts<F>> for Ema<F> {
    type Error = TrainError;
    fn try_from(p: EmaParts<F>) -> Result<Self> {
        check_unit_open("decay", p.decay)?;
        Ok(Self {
            decay: p.decay,
            bias_correction: p.bias_correction,
            averages: p.averages,
        })
    }
}

impl<F: NdFloat> Ema<F> {
    /// An exponential moving average with `decay` in `(0, 1)` (0.999 is common).
    ///
    /// # Errors
    /// [`TrainError::InvalidHyperparameter`] when `decay` is outside `(0, 1)`.
    pub fn new(decay: f64, bias_correction: BiasCorrection) -> Result<Self> {
        check_unit_open("decay", decay)?;
        Ok(Self {
            decay,
            bias_correction,
            averages: BTreeMap::new(),
        })
    }

    /// The decay.
    pub fn decay(&self) -> f64 {
        self.decay
    }

    /// Adds the current values of parameter `name` to its average.
    ///
    /// # Shapes
    /// `values`: the flat parameter, the same length at every update of `name`.
    ///
    /// # Errors
    /// [`TrainError::StateMismatch`] when the length differs from earlier updates (nothing changes).
    pub fn update(&mut self, name: &str, values: ArrayView1<'_, F>) -> Result<()> {
        check_update(self.averages.get(name), name, values.len())?;
        let (d, c): (F, F) = (lit(self.decay), lit(1.0 - self.decay));
        let copy_first = self.bias_correction == BiasCorrection::CopyFirst;
        let blend = |a: &mut Averaged<F>| {
            if a.count == 0 && copy_first {
                for (avg, &x) in a.values.iter_mut().zip(values.iter()) {
                    *avg = x;
                }
            } else if let Some(flat) = values.as_slice() {
                for (avg, &x) in a.values.iter_mut().zip(flat) {
                    *avg = d * *avg + c * x;
                }
            } else {
                for (avg, &x) in a.values.iter_mut().zip(values.iter()) {
                    *avg = d * *avg + c * x;
                }
            }
            a.count += 1;
        };
        // Look up before inserting: `entry` would allocate the name on every step.
        if let Some(a) = self.averages.get_mut(name) {
            blend(a);
        } else {
            let mut a = Averaged {
                values: vec![F::zero(); values.len()],
                count: 0,
            };
            blend(&mut a);
            self.averages.insert(name.to_string(), a);
        }
        Ok(())
    }

    /// The averaged values of `name` (debiased for [`BiasCorrection::ZeroDebiased`]), or `None` before
    /// its first update.
    pub fn averaged(&self, name: &str) -> Option<Array1<F>> {
        self.averages.get(name).map(|a| self.read(a))
    }

    /// How many updates `name` has seen.
    pub fn count(&self, name: &str) -> u64 {
        self.averages.get(name).map_or(0, |a| a.count)
    }

    /// The averaged values of every parameter, by name.
    pub fn averaged_all(&self) -> BTreeMap<String, Array1<F>> {
        self.averages
            .iter()
            .map(|(k, a)| (k.clone(), self.read(a)))
            .collect()
    }

    fn read(&self, a: &Averaged<F>) -> Array1<F> {
        let v = Array1::from(a.values.clone());
        match self.bias_correction {
            BiasCorrection::CopyFirst => v,
            BiasCorrection::ZeroDebiased => {
                let inv: F = lit(1.0 / (1.0 - self.decay.powf(a.count as f64)));
                v.mapv(|x| x * inv)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn ema_values_by_hand() {
        // decay 0.5, updates 4, 8, 0.
        // CopyFirst: 4 → 0.5·4 + 0.5·8 = 6 → 0.5·6 + 0 = 3.
        // ZeroDebiased: e = 2, 5, 2.5; divided by 1 − 0.5ᵗ = 0.5, 0.75, 0.875 → 4, 20/3, 20/7.
        let mut copy = Ema::<f64>::new(0.5, BiasCorrection::CopyFirst).unwrap();
        let mut zero = Ema::<f64>::new(0.5, BiasCorrection::ZeroDebiased).unwrap();
        let want_copy = [4.0, 6.0, 3.0];
        let want_zero = [4.0, 20.0 / 3.0, 20.0 / 7.0];
        for (i, x) in [4.0, 8.0, 0.0].into_iter().enumerate() {
            copy.update("w", array![x].view()).unwrap();
            zero.update("w", array![x].view()).unwrap();
            assert!((copy.averaged("w").unwrap()[0] - want_copy[i]).abs() < 1e-12);
            assert!((zero.averaged("w").unwrap()[0] - want_zero[i]).abs() < 1e-12);
        }
        assert_eq!(copy.count("w"), 3);
        let text = serde_json::to_string(&zero).unwrap();
        let back: Ema<f64> = serde_json::from_str(&text).unwrap();
        assert_eq!(back, zero);
        let bad = text.replace("\"decay\":0.5", "\"decay\":1.5");
        assert_ne!(bad, text);
        assert!(serde_json::from_str::<Ema<f64>>(&bad).is_err());
    }

    #[test]
    fn polyak_mean_and_length_errors() {
        let mut p = Polyak::<f32>::new();
        p.update("b", array![1.0f32, 2.0].view()).unwrap();
        p.update("b", array![3.0f32, 4.0].view()).unwrap();
        p.update("c", array![5.0f32].view()).unwrap();
        let all = p.averaged_all();
        assert_eq!(all["b"], array![2.0f32, 3.0]);
        assert_eq!(all["c"], array![5.0f32]);
        assert!(matches!(
            p.update("b", array![1.0f32].view()),
            Err(TrainError::StateMismatch { .. })
        ));
        assert_eq!(p.count("b"), 2);
        assert!(Ema::<f32>::new(1.0, BiasCorrection::CopyFirst).is_err());
        assert!(Ema::<f32>::new(0.0, BiasCorrection::CopyFirst).is_err());
    }
}
