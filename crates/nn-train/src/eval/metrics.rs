//! Classification metrics from an `N × C` score matrix and `N` labels.

use crate::error::{invalid, Result, TrainError};
use crate::optim::to_f64;
use ndarray::{ArrayView2, Axis, NdFloat};
use serde::{Deserialize, Serialize};
use std::fmt;

/// Checks scores against labels and returns `(N, C)`.
fn check_scores<F: NdFloat>(
    op: &'static str,
    scores: &ArrayView2<'_, F>,
    labels: &[usize],
) -> Result<(usize, usize)> {
    let (n, c) = scores.dim();
    if n == 0 || c == 0 {
        return Err(TrainError::EmptyInput { op });
    }
    if labels.len() != n {
        return Err(TrainError::ShapeMismatch {
            op,
            expected: vec![n],
            got: vec![labels.len()],
        });
    }
    check_labels(op, labels, c)?;
    if let Some(&bad) = scores.iter().find(|x| !x.is_finite()) {
        return Err(TrainError::NonFinite {
            op,
            value: to_f64(bad),
        });
    }
    Ok((n, c))
}

fn check_labels(op: &'static str, labels: &[usize], classes: usize) -> Result<()> {
    match labels.iter().position(|&l| l >= classes) {
        Some(index) => Err(TrainError::LabelOutOfRange {
            op,
            index,
            label: labels[index],
            classes,
        }),
        None => Ok(()),
    }
}

/// The predicted class of each row: the index of the largest score (the lowest index among ties).
///
/// # Shapes
/// `scores`: `N × C` → `N` class indices.
///
/// # Errors
/// [`TrainError::EmptyInput`] when `N` or `C` is 0; [`TrainError::NonFinite`] for a NaN or infinite score.
///
/// # Example
/// ```
/// use ndarray::array;
/// let scores = array![[0.1, 0.7, 0.2], [0.5, 0.5, 0.0]];
/// assert_eq!(nn_train::eval::predictions(scores.view())?, vec![1, 0]);
/// # Ok::<(), nn_train::TrainError>(())
/// ```
pub fn predictions<F: NdFloat>(scores: ArrayView2<'_, F>) -> Result<Vec<usize>> {
    let labels = vec![0; scores.nrows()];
    check_scores("predictions", &scores, &labels)?;
    Ok(scores
        .axis_iter(Axis(0))
        .map(|row| {
            let mut best = 0;
            for (j, &x) in row.iter().enumerate() {
                if x > row[best] {
                    best = j;
                }
            }
            best
        })
        .collect())
}

/// The fraction of rows whose predicted class (see [`predictions`]) equals the label.
///
/// ```text
/// accuracy = (1/N) · Σ_i [argmax_j scores[i, j] = y_i]
/// ```
///
/// # Shapes
/// `scores`: `N × C`; `labels`: `N` values in `0..C`.
///
/// # Errors
/// [`TrainError::ShapeMismatch`] when `labels.len() ≠ N`; [`TrainError::LabelOutOfRange`];
/// [`TrainError::EmptyInput`]; [`TrainError::NonFinite`].
///
/// # Example
/// ```
/// use ndarray::array;
/// let scores = array![[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]];
/// assert_eq!(nn_train::eval::accuracy(scores.view(), &[0, 1, 1])?, 2.0 / 3.0);
/// # Ok::<(), nn_train::TrainError>(())
/// ```
pub fn accuracy<F: NdFloat>(scores: ArrayView2<'_, F>, labels: &[usize]) -> Result<f64> {
    top_k_accuracy(scores, labels, 1)
}

/// The fraction of rows whose label is among the `k` highest scores.
///
/// Classes are ranked by descending score, ties broken by the lower index (as [`predictions`] does), so
/// `k = 1` is [`accuracy`] and `k = C` is 1.
///
/// ```text
/// rank(i) = #{j : s_ij > s_iy} + #{j < y : s_ij = s_iy}        (y = y_i)
/// top-k   = (1/N) · Σ_i [rank(i) < k]
/// ```
///
/// # Shapes
/// `scores`: `N × C`; `labels`: `N` values in `0..C`.
///
/// # Errors
/// As [`accuracy`], plus [`TrainError::InvalidHyperparameter`] when `k` is 0 or larger than `C`.
///
/// # Example
/// ```
/// use ndarray::array;
/// let scores = array![[0.5, 0.3, 0.2], [0.1, 0.2, 0.7]];
/// assert_eq!(nn_train::eval::top_k_accuracy(scores.view(), &[1, 0], 2)?, 0.5);
/// # Ok::<(), nn_train::TrainError>(())
/// ```
pub fn top_k_accuracy<F: NdFloat>(
    scores: ArrayView2<'_, F>,
    labels: &[usize],
    k: usize,
) -> Result<f64> {
    let (n, c) = check_scores("top_k_accuracy", &scores, labels)?;
    if k == 0 || k > c {
        return Err(invalid(
            "k",
            k,
            &format!("must lie in 1..={c} (the class count)"),
        ));
    }
    let hits = scores
        .axis_iter(Axis(0))
        .zip(labels)
        .filter(|(row, &y)| {
            let sy = row[y];
            let rank = row
                .iter()
                .enumerate()
                .filter(|&(j, &s)| s > sy || (s == sy && j < y))
                .count();
            rank < k
        })
        .count();
    Ok(hits as f64 / n as f64)
}

/// Precision, recall, F1 and support of one class.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ClassMetrics {
    /// `TP / (TP + FP)`; 0 when the class is never predicted.
    pub precision: f64,
    /// `TP / (TP + FN)`; 0 when the class never occurs.
    pub recall: f64,
    /// `2·P·R / (P + R)`; 0 when `P + R = 0`.
    pub f1: f64,
    /// How many samples have this label (`TP + FN`).
    pub support: u64,
}

/// Per-class metrics, their unweighted (macro) means and the accuracy (serde; `Display` as a table).
///
/// Zero divisions give 0, as scikit-learn's `zero_division=0`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassificationReport {
    /// One entry per class, in class order.
    pub classes: Vec<ClassMetrics>,
    /// The mean precision over classes.
    pub macro_precision: f64,
    /// The mean recall over classes.
    pub macro_recall: f64,
    /// The mean F1 over classes (the mean of per-class F1, as scikit-learn's `average="macro"`).
    pub macro_f1: f64,
    /// The fraction of samples on the diagonal.
    pub accuracy: f64,
    /// The number of samples `N`.
    pub total: u64,
}

impl fmt::Display for ClassificationReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{:>7} {:>9} {:>9} {:>9} {:>9}",
            "class", "precision", "recall", "f1", "support"
        )?;
        for (c, m) in self.classes.iter().enumerate() {
            writeln!(
                f,
                "{c:>7} {:>9.4} {:>9.4} {:>9.4} {:>9}",
                m.precision, m.recall, m.f1, m.support
            )?;
        }
        writeln!(
            f,
            "{:>7} {:>9.4} {:>9.4} {:>9.4} {:>9}",
            "macro", self.macro_precision, self.macro_recall, self.macro_f1, self.total
        )?;
        write!(f, "{:>7} {:>9.4}", "accuracy", self.accuracy)
    }
}

/// A `C × C` confusion matrix: entry `(t, p)` counts samples of true class `t` predicted as `p`
/// (rows are truth, columns predictions, as scikit-learn's). Serde; `Display` as a table.
///
/// # Example
/// ```
/// use nn_train::eval::ConfusionMatrix;
/// let cm = ConfusionMatrix::from_predictions(&[0, 1, 1, 2], &[0, 1, 2, 2], 3)?;
/// assert_eq!(cm.count(2, 1), 1);          // one sample of class 2 predicted as 1
/// assert_eq!(cm.precision(1), 0.5);       // class 1 predicted twice, right once
/// assert_eq!(cm.recall(2), 0.5);
/// assert_eq!(cm.accuracy(), 0.75);
/// # Ok::<(), nn_train::TrainError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfusionMatrix {
    classes: usize,
    /// Row-major `C × C` counts.
    counts: Vec<u64>,
}

impl ConfusionMatrix {
    /// Counts `(labels[i], predicted[i])` pairs.
    ///
    /// # Errors
    /// [`TrainError::ShapeMismatch`] when the lengths differ; [`TrainError::EmptyInput`] for no samples
    /// or `classes = 0`; [`TrainError::LabelOutOfRange`] for a label or prediction `≥ classes`.
    pub fn from_predictions(predicted: &[usize], labels: &[usize], classes: usize) -> Result<Self> {
        let op = "confusion matrix";
        if labels.is_empty() || classes == 0 {
            return Err(TrainError::EmptyInput { op });
        }
        if predicted.len() != labels.len() {
            return Err(TrainError::ShapeMismatch {
                op,
                expected: vec![labels.len()],
                got: vec![predicted.len()],
            });
        }
        check_labels(op, labels, classes)?;
        check_labels(op, predicted, classes)?;
        let mut counts = vec![0u64; classes * classes];
        for (&t, &p) in labels.iter().zip(predicted) {
            counts[t * classes + p] += 1;
        }
        Ok(Self { classes, counts })
    }

    /// The confusion matrix of the row-wise argmax of `scores` (see [`predictions`]).
    ///
    /// # Shapes
    /// `scores`: `N × C`; `labels`: `N`.
    ///
    /// # Errors
    /// As [`accuracy`].
    pub fn from_scores<F: NdFloat>(scores: ArrayView2<'_, F>, labels: &[usize]) -> Result<Self> {
        let (_, c) = check_scores("confusion matrix", &scores, labels)?;
        Self::from_predictions(&predictions(scores)?, labels, c)
    }

    /// The number of classes `C`.
    pub fn classes(&self) -> usize {
        self.classes
    }

    /// Samples of true class `truth` predicted as `predicted` (0 outside the matrix).
    pub fn count(&self, truth: usize, predicted: usize) -> u64 {
        if truth < self.classes && predicted < self.classes {
            self.counts[truth * self.classes + predicted]
        } else {
            0
        }
    }

    /// The number of samples `N`.
    pub fn total(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// The fraction of samples on the diagonal.
    pub fn accuracy(&self) -> f64 {
        let diag: u64 = (0..self.classes).map(|c| self.count(c, c)).sum();
        ratio(diag, self.total())
    }

    fn column_sum(&self, c: usize) -> u64 {
        (0..self.classes).map(|t| self.count(t, c)).sum()
    }

    fn row_sum(&self, c: usize) -> u64 {
        (0..self.classes).map(|p| self.count(c, p)).sum()
    }

    /// Precision of class `c`: `TP / (TP + FP)`, 0 when `c` is never predicted or out of range.
    pub fn precision(&self, c: usize) -> f64 {
        ratio(self.count(c, c), self.column_sum(c))
    }

    /// Recall of class `c`: `TP / (TP + FN)`, 0 when `c` never occurs or is out of range.
    pub fn recall(&self, c: usize) -> f64 {
        ratio(self.count(c, c), self.row_sum(c))
    }

    /// F1 of class `c`: the harmonic mean `2·P·R / (P + R)`, 0 when `P + R = 0`.
    pub fn f1(&self, c: usize) -> f64 {
        let (p, r) = (self.precision(c), self.recall(c));
        if p + r > 0.0 {
            2.0 * p * r / (p + r)
        } else {
            0.0
        }
    }

    /// Per-class precision, recall, F1 and support, their macro means and the accuracy.
    pub fn report(&self) -> ClassificationReport {
        let classes: Vec<ClassMetrics> = (0..self.classes)
            .map(|c| ClassMetrics {
                precision: self.precision(c),
                recall: self.recall(c),
                f1: self.f1(c),
                support: self.row_sum(c),
            })
            .collect();
        let k = self.classes.max(1) as f64;
        ClassificationReport {
            macro_precision: classes.iter().map(|m| m.precision).sum::<f64>() / k,
            macro_recall: classes.iter().map(|m| m.recall).sum::<f64>() / k,
            macro_f1: classes.iter().map(|m| m.f1).sum::<f64>() / k,
            accuracy: self.accuracy(),
            total: self.total(),
            classes,
        }
    }
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 {
        0.0
    } else {
        a as f64 / b as f64
    }
}

impl fmt::Display for ConfusionMatrix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let width = self
            .counts
            .iter()
            .map(|c| c.to_string().len())
            .max()
            .unwrap_or(1)
            .max(self.classes.to_string().len())
            .max(3);
        write!(f, "{:>10}", "true\\pred")?;
        for p in 0..self.classes {
            write!(f, " {p:>width$}")?;
        }
        for t in 0..self.classes {
            writeln!(f)?;
            write!(f, "{t:>10}")?;
            for p in 0..self.classes {
                write!(f, " {:>width$}", self.count(t, p))?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn hand_made_three_class_case() {
        // Truth:      0 0 0 1 1 2 2 2 2 2
        // Predicted:  0 0 1 1 2 2 2 2 0 2
        // Counts: row 0 = [2, 1, 0], row 1 = [0, 1, 1], row 2 = [1, 0, 4].
        let truth = [0, 0, 0, 1, 1, 2, 2, 2, 2, 2];
        let pred = [0, 0, 1, 1, 2, 2, 2, 2, 0, 2];
        let cm = ConfusionMatrix::from_predictions(&pred, &truth, 3).unwrap();
        assert_eq!(cm.counts, vec![2, 1, 0, 0, 1, 1, 1, 0, 4]);
        // Precision: class 0 = 2/3, class 1 = 1/2, class 2 = 4/5. Recall: 2/3, 1/2, 4/5.
        let r = cm.report();
        let want = [(2.0 / 3.0, 2.0 / 3.0, 3), (0.5, 0.5, 2), (0.8, 0.8, 5)];
        for (m, (p, rc, support)) in r.classes.iter().zip(want) {
            assert!((m.precision - p).abs() < 1e-15 && (m.recall - rc).abs() < 1e-15);
            assert!((m.f1 - p).abs() < 1e-15); // P = R ⇒ F1 = P
            assert_eq!(m.support, support);
        }
        let macro_p = (2.0 / 3.0 + 0.5 + 0.8) / 3.0;
        assert!((r.macro_precision - macro_p).abs() < 1e-15);
        assert!((r.macro_f1 - macro_p).abs() < 1e-15);
        assert_eq!(r.accuracy, 0.7);
        assert_eq!(r.total, 10);
        let table = r.to_string();
        assert!(
            table.contains("0.6667") && table.contains("macro"),
            "{table}"
        );
        assert!(cm.to_string().lines().count() == 4);
        let back: ConfusionMatrix =
            serde_json::from_str(&serde_json::to_string(&cm).unwrap()).unwrap();
        assert_eq!(back, cm);
    }

    #[test]
    fn unequal_precision_and_recall_and_a_never_predicted_class() {
        // Truth 0 0 1 1, predicted 0 0 0 0: class 0 P = 2/4, R = 1, F1 = 2·0.5·1/1.5 = 2/3;
        // class 1 is never predicted: P = R = F1 = 0 (zero_division = 0).
        let cm = ConfusionMatrix::from_predictions(&[0, 0, 0, 0], &[0, 0, 1, 1], 2).unwrap();
        assert_eq!((cm.precision(0), cm.recall(0)), (0.5, 1.0));
        assert!((cm.f1(0) - 2.0 / 3.0).abs() < 1e-15);
        assert_eq!((cm.precision(1), cm.recall(1), cm.f1(1)), (0.0, 0.0, 0.0));
    }

    #[test]
    fn top_k_with_ties_and_errors() {
        let scores = array![[0.2, 0.5, 0.3], [0.4, 0.4, 0.2], [0.1, 0.1, 0.8]];
        // Row 0, label 2: rank 1. Row 1, label 1 ties with 0 (lower index first): rank 1.
        // Row 2, label 0: 0.8 above, tie with index 1 comes after: rank 1.
        let labels = [2, 1, 0];
        assert_eq!(accuracy(scores.view(), &labels).unwrap(), 0.0);
        assert_eq!(top_k_accuracy(scores.view(), &labels, 2).unwrap(), 1.0);
        assert_eq!(
            top_k_accuracy(scores.view(), &[1, 0, 1], 1).unwrap(),
            2.0 / 3.0
        );
        assert!(matches!(
            top_k_accuracy(scores.view(), &labels, 4),
            Err(TrainError::InvalidHyperparameter { .. })
        ));
        assert!(matches!(
            accuracy(scores.view(), &[0, 1]),
            Err(TrainError::ShapeMismatch { .. })
        ));
        assert!(matches!(
            accuracy(scores.view(), &[0, 1, 3]),
            Err(TrainError::LabelOutOfRange {
                index: 2,
                label: 3,
                classes: 3,
                ..
            })
        ));
        let nan = array![[f64::NAN, 0.0]];
        assert!(matches!(
            accuracy(nan.view(), &[0]),
            Err(TrainError::NonFinite { .. })
        ));
        let empty = ndarray::Array2::<f32>::zeros((0, 3));
        assert!(matches!(
            accuracy(empty.view(), &[]),
            Err(TrainError::EmptyInput { .. })
        ));
    }
}
