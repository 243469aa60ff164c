//! Prediction and evaluation with trained networks: class probabilities, model ensembles (several
//! trained models, or snapshots of one run, or a parameter-averaged copy next to the raw one),
//! test-time augmentation of image batches, and an [`EvalReport`] with accuracy, loss, confusion
//! matrix and per-class precision/recall/F1.
//!
//! ```text
//! p(x)            = softmax(net(x))                                   (row-wise, N × C)
//! ensemble(x)     = (1/M) · Σ_m softmax(net_m(x))                     (M models)
//! tta(x)          = (1/A) · Σ_a softmax(net(augment_a(x)))            (A augmentations)
//! ```
//! Averaging probabilities rather than votes keeps each model's confidence (CS231n: ensembles of
//! independently trained models usually gain a couple of percent).

use std::fmt;

use ndarray::{s, Array2, ArrayView2, Axis};
use nn_core::Network;
use nn_preprocess::{Dataset, ImageShape};
use serde::{Deserialize, Serialize};

use crate::error::{Result, TrainError};
use crate::eval::{augment, ensemble_mean, Augmentation, ClassificationReport, ConfusionMatrix};

/// Rows per forward pass (bounds the memory of prediction on large sets).
const CHUNK: usize = 1024;

/// Row-wise softmax `exp(s − max s) / Σ exp(s − max s)` of a score matrix (`N × C` → `N × C`).
///
/// # Example
/// ```
/// use ndarray::array;
/// let p = nn_train::predict::softmax(array![[0.0f32, 0.0], [0.0, 2.0f32.ln()]].view());
/// assert_eq!(p.row(0).to_vec(), vec![0.5, 0.5]);
/// assert!((p[[1, 1]] - 2.0 / 3.0).abs() < 1e-6);
/// ```
pub fn softmax(scores: ArrayView2<'_, f32>) -> Array2<f32> {
    let mut p = scores.to_owned();
    for mut row in p.axis_iter_mut(Axis(0)) {
        let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        row.mapv_inplace(|s| (s - max).exp());
        let sum: f32 = row.sum();
        row.mapv_inplace(|e| e / sum);
    }
    p
}

fn check_input(op: &'static str, net: &Network<f32>, x: &ArrayView2<'_, f32>) -> Result<()> {
    if x.nrows() == 0 {
        return Err(TrainError::EmptyInput { op });
    }
    if x.ncols() != net.input_dim() {
        return Err(TrainError::ShapeMismatch {
            op,
            expected: vec![x.nrows(), net.input_dim()],
            got: x.shape().to_vec(),
        });
    }
    Ok(())
}

/// Class probabilities of `net` (evaluation mode) for every row of `x`, in chunks of 1024 rows.
///
/// # Shapes
/// `x`: `N × D` → `N × C`.
///
/// # Errors
/// [`TrainError::EmptyInput`] for `N = 0`; [`TrainError::ShapeMismatch`] when `D` is not the
/// network's input width.
pub fn predict_proba(net: &Network<f32>, x: ArrayView2<'_, f32>) -> Result<Array2<f32>> {
    check_input("predict_proba", net, &x)?;
    let mut out = Array2::zeros((x.nrows(), net.output_dim()));
    let mut start = 0;
    while start < x.nrows() {
        let end = (start + CHUNK).min(x.nrows());
        let scores = net.predict(x.slice(s![start..end, ..]))?;
        out.slice_mut(s![start..end, ..])
            .assign(&softmax(scores.view()));
        start = end;
    }
    Ok(out)
}

/// The ensemble's class probabilities: the mean of every model's softmax (in list order).
///
/// Pass several independently trained models, snapshots of one run (e.g. the best epochs), or a
/// network next to its parameter-averaged copy ([`crate::Trainer::ema_network`]).
///
/// # Shapes
/// `x`: `N × D` → `N × C`.
///
/// # Errors
/// [`TrainError::EmptyInput`] for no models or `N = 0`; [`TrainError::ShapeMismatch`] when a model's
/// input width is not `D` or its class count differs from the first model's.
///
/// # Example
/// ```
/// use ndarray::array;
/// use nn_core::{Network, NetworkSpec};
/// use nn_train::predict::{ensemble_proba, predict_proba};
/// use rand::SeedableRng;
/// let spec = NetworkSpec::mlp(2, &[4], 3, &Default::default())?;
/// let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
/// let (a, b) = (Network::<f32>::from_spec(&spec, &mut rng)?, Network::<f32>::from_spec(&spec, &mut rng)?);
/// let x = array![[0.5f32, -1.0], [2.0, 0.0]];
/// let p = ensemble_proba(&[&a, &b], x.view())?;
/// let (pa, pb) = (predict_proba(&a, x.view())?, predict_proba(&b, x.view())?);
/// assert!((p[[0, 1]] - (pa[[0, 1]] + pb[[0, 1]]) / 2.0).abs() < 1e-6);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn ensemble_proba(nets: &[&Network<f32>], x: ArrayView2<'_, f32>) -> Result<Array2<f32>> {
    let op = "ensemble_proba";
    let first = nets.first().ok_or(TrainError::EmptyInput { op })?;
    if let Some(bad) = nets.iter().find(|n| n.output_dim() != first.output_dim()) {
        return Err(TrainError::ShapeMismatch {
            op,
            expected: vec![first.output_dim()],
            got: vec![bad.output_dim()],
        });
    }
    let probs = nets
        .iter()
        .map(|n| predict_proba(n, x))
        .collect::<Result<Vec<_>>>()?;
    let views: Vec<ArrayView2<'_, f32>> = probs.iter().map(|p| p.view()).collect();
    ensemble_mean(&views)
}

/// Test-time augmentation: the mean of `net`'s class probabilities over `augmentations` of the image
/// batch `x` (see [`crate::eval::standard_augmentations`]: identity, horizontal flip, small shifts).
///
/// # Shapes
/// `x`: `N × D` with `D = C·H·W` in `shape`'s layout → `N × C`.
///
/// # Errors
/// [`TrainError::EmptyInput`] for no augmentations or `N = 0`; [`TrainError::ShapeMismatch`] when
/// `D` is not `shape.len()` or the network's input width; [`TrainError::InvalidHyperparameter`] for
/// a shift as large as the image.
pub fn tta_proba(
    net: &Network<f32>,
    x: ArrayView2<'_, f32>,
    shape: &ImageShape,
    augmentations: &[Augmentation],
) -> Result<Array2<f32>> {
    let op = "tta_proba";
    if augmentations.is_empty() {
        return Err(TrainError::EmptyInput { op });
    }
    check_input(op, net, &x)?;
    let probs = augmentations
        .iter()
        .map(|&a| predict_proba(net, augment(x, shape, a)?.view()))
        .collect::<Result<Vec<_>>>()?;
    let views: Vec<ArrayView2<'_, f32>> = probs.iter().map(|p| p.view()).collect();
    ensemble_mean(&views)
}

/// Accuracy, mean cross-entropy, confusion matrix and per-class metrics of one set of predictions
/// (serde; `Display` as a report).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EvalReport {
    /// Number of samples `N`.
    pub samples: usize,
    /// The fraction classified right.
    pub accuracy: f64,
    /// The mean cross-entropy `−(1/N)·Σ ln max(p_{i,yᵢ}, 1e-12)` of the probabilities.
    pub loss: f64,
    /// The class names (from the data set; indices as text otherwise).
    pub class_names: Vec<String>,
    /// Rows: true class, columns: predicted class.
    pub confusion: ConfusionMatrix,
    /// Per-class precision, recall, F1 and support, with macro means.
    pub metrics: ClassificationReport,
}

impl EvalReport {
    /// Evaluates class probabilities `probs` (`N × C`) against `labels` (`N`).
    ///
    /// # Errors
    /// [`TrainError::ShapeMismatch`] when `labels.len() ≠ N`; [`TrainError::LabelOutOfRange`] for a
    /// label `≥ C`; [`TrainError::EmptyInput`] for `N = 0`; [`TrainError::NonFinite`] for a NaN.
    ///
    /// # Example
    /// ```
    /// use ndarray::array;
    /// use nn_train::predict::EvalReport;
    /// let probs = array![[0.9f32, 0.1], [0.2, 0.8], [0.6, 0.4], [0.3, 0.7]];
    /// let r = EvalReport::from_probabilities(probs.view(), &[0, 1, 1, 1], None)?;
    /// assert_eq!(r.accuracy, 0.75);
    /// assert_eq!(r.confusion.count(1, 0), 1); // the third sample: class 1 predicted as 0
    /// assert_eq!(r.metrics.classes[1].recall, 2.0 / 3.0);
    /// # Ok::<(), nn_train::TrainError>(())
    /// ```
    pub fn from_probabilities(
        probs: ArrayView2<'_, f32>,
        labels: &[usize],
        class_names: Option<&[String]>,
    ) -> Result<Self> {
        let confusion = ConfusionMatrix::from_scores(probs, labels)?;
        let n = labels.len();
        let loss = labels
            .iter()
            .enumerate()
            .map(|(i, &y)| -f64::from(probs[[i, y]]).max(1e-12).ln())
            .sum::<f64>()
            / n as f64;
        let class_names = match class_names {
            Some(names) if names.len() == probs.ncols() => names.to_vec(),
            _ => (0..probs.ncols()).map(|c| c.to_string()).collect(),
        };
        Ok(EvalReport {
            samples: n,
            accuracy: confusion.accuracy(),
            loss,
            class_names,
            metrics: confusion.report(),
            confusion,
        })
    }
}

impl fmt::Display for EvalReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "accuracy {:.2}%, loss {:.4} on {} samples",
            100.0 * self.accuracy,
            self.loss,
            self.samples
        )?;
        let named = self
            .class_names
            .iter()
            .enumerate()
            .any(|(c, name)| *name != c.to_string());
        if named {
            let list: Vec<String> = self
                .class_names
                .iter()
                .enumerate()
                .map(|(c, n)| format!("{c} = {n}"))
                .collect();
            writeln!(f, "classes: {}", list.join(", "))?;
        }
        writeln!(f, "{}", self.metrics)?;
        writeln!(
            f,
            "confusion matrix (rows: true class, columns: predicted):"
        )?;
        write!(f, "{}", self.confusion)
    }
}

fn labels_of(data: &Dataset) -> Vec<usize> {
    data.labels().iter().map(|&l| usize::from(l)).collect()
}

/// Evaluates `net` on `data` (evaluation mode).
///
/// # Errors
/// As [`predict_proba`] and [`EvalReport::from_probabilities`].
pub fn evaluate(net: &Network<f32>, data: &Dataset) -> Result<EvalReport> {
    let probs = predict_proba(net, data.features())?;
    EvalReport::from_probabilities(probs.view(), &labels_of(data), Some(data.class_names()))
}

/// Evaluates the ensemble of `nets` on `data`.
///
/// # Errors
/// As [`ensemble_proba`] and [`EvalReport::from_probabilities`].
pub fn evaluate_ensemble(nets: &[&Network<f32>], data: &Dataset) -> Result<EvalReport> {
    let probs = ensemble_proba(nets, data.features())?;
    EvalReport::from_probabilities(probs.view(), &labels_of(data), Some(data.class_names()))
}

/// Evaluates `net` with test-time augmentation on an image data set (its own [`ImageShape`]).
///
/// # Errors
/// [`TrainError::InvalidHyperparameter`] when `data` has no image shape; as [`tta_proba`] and
/// [`EvalReport::from_probabilities`].
pub fn evaluate_tta(
    net: &Network<f32>,
    data: &Dataset,
    augmentations: &[Augmentation],
) -> Result<EvalReport> {
    let shape = data.image_shape().ok_or_else(|| {
        crate::error::invalid(
            "data",
            "(no image shape)",
            "test-time augmentation needs image data",
        )
    })?;
    let probs = tta_proba(net, data.features(), &shape, augmentations)?;
    EvalReport::from_probabilities(probs.view(), &labels_of(data), Some(data.class_names()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn softmax_rows_sum_to_one_and_survive_large_scores() {
        let p = softmax(array![[1000.0f32, 1000.0, 1000.0], [-5.0, 0.0, 5.0]].view());
        assert!(p.row(0).iter().all(|&v| (v - 1.0 / 3.0).abs() < 1e-6));
        for row in p.axis_iter(Axis(0)) {
            assert!((row.sum() - 1.0).abs() < 1e-6);
        }
        // e^5 / (e^-5 + 1 + e^5) = 0.993262…
        assert!((p[[1, 2]] - 0.993_262_05).abs() < 1e-6);
    }

    #[test]
    fn hand_built_confusion_cases() {
        // Three classes; rows are probabilities, the argmax is the prediction.
        let probs = array![
            [0.7f32, 0.2, 0.1], // true 0, predicted 0
            [0.1, 0.8, 0.1],    // true 1, predicted 1
            [0.6, 0.3, 0.1],    // true 1, predicted 0
            [0.2, 0.2, 0.6],    // true 2, predicted 2
            [0.1, 0.5, 0.4],    // true 2, predicted 1
        ];
        let r = EvalReport::from_probabilities(probs.view(), &[0, 1, 1, 2, 2], None).unwrap();
        assert_eq!(r.accuracy, 0.6);
        assert_eq!(
            (0..3)
                .map(|t| (0..3).map(|p| r.confusion.count(t, p)).collect::<Vec<_>>())
                .collect::<Vec<_>>(),
            vec![vec![1, 0, 0], vec![1, 1, 0], vec![0, 1, 1]]
        );
        // Class 0: predicted twice, right once → precision 0.5, recall 1.
        assert_eq!(
            (r.metrics.classes[0].precision, r.metrics.classes[0].recall),
            (0.5, 1.0)
        );
        // Loss: −(ln 0.7 + ln 0.8 + ln 0.3 + ln 0.6 + ln 0.4)/5 = 3.2109…/5 = 0.6422…
        let want = -(0.7f64.ln() + 0.8f64.ln() + 0.3f64.ln() + 0.6f64.ln() + 0.4f64.ln()) / 5.0;
        assert!((r.loss - want).abs() < 1e-6);
        assert_eq!(r.class_names, vec!["0", "1", "2"]);
        assert!(matches!(
            EvalReport::from_probabilities(probs.view(), &[0, 1, 1, 2, 3], None),
            Err(TrainError::LabelOutOfRange { .. })
        ));
        assert!(matches!(
            EvalReport::from_probabilities(probs.view(), &[0, 1], None),
            Err(TrainError::ShapeMismatch { .. })
        ));
        let text = r.to_string();
        assert!(text.starts_with("accuracy 60.00%, loss 0.6422"), "{text}");
    }
}
