//! Data that does not fit gets a typed error naming what is wrong, from the data set or the
//! trainer: feature width vs the model's input, labels vs classes, empty data, non-finite
//! features. A batch size larger than the data set is not an error: the epoch is one batch of all
//! `N` samples (as PyTorch's `DataLoader` with `drop_last=False`), which this file checks is
//! exactly training with `batch_size = N`.

use ndarray::Array2;
use nn_core::{MlpOptions, NetworkSpec};
use nn_preprocess::{Dataset, PreprocessError};
use nn_train::config::TrainConfig;
use nn_train::observer::Recorder;
use nn_train::trainer::{StopReason, Trainer};
use nn_train::TrainError;

/// `n` samples, `d` features, `c` classes, a deterministic pattern.
fn data(n: usize, d: usize, c: usize) -> Dataset {
    let x = Array2::from_shape_fn((n, d), |(i, j)| ((i * 31 + j * 17) % 13) as f32 / 13.0);
    let y = (0..n).map(|i| (i % c) as u8).collect();
    Dataset::new(x, y, names(c), None).unwrap()
}

fn names(c: usize) -> Vec<String> {
    (0..c).map(|k| format!("class {k}")).collect()
}

fn config(d: usize, c: usize) -> TrainConfig {
    TrainConfig {
        model: NetworkSpec::mlp(d, &[8], c, &MlpOptions::default()).unwrap(),
        epochs: 2,
        batch_size: 16,
        ..TrainConfig::default()
    }
}

/// Checks that `result` is an error whose message contains every needle.
fn check<T: std::fmt::Debug, E: std::error::Error>(result: Result<T, E>, needles: &[&str]) {
    let message = result.expect_err("expected an error").to_string();
    for n in needles {
        assert!(message.contains(n), "{message:?} lacks {n:?}");
    }
}

#[test]
fn a_model_whose_input_size_differs_from_the_features_is_named_with_both_sizes() {
    let mut t = Trainer::new(config(5, 3)).unwrap();
    let wide = data(30, 7, 3);
    let r = t.fit(&wide, None, &mut ());
    assert!(matches!(
        &r,
        Err(TrainError::ShapeMismatch { expected, got, .. })
            if expected == &vec![30, 5] && got == &vec![30, 7]
    ));
    check(r, &["training data", "[30, 5]", "[30, 7]"]);
    // The same for the validation set and for evaluation.
    check(
        t.fit(&data(30, 5, 3), Some(&wide), &mut ()),
        &["validation data", "[30, 7]"],
    );
    check(t.evaluate(&wide), &["evaluate", "[30, 7]"]);
    // Nothing was trained by the failed calls.
    assert_eq!(t.epoch(), 0);
}

#[test]
fn labels_beyond_the_classes_are_rejected_by_the_data_set_and_the_trainer() {
    // A label ≥ C in the data set itself.
    let x = Array2::<f32>::zeros((4, 2));
    let r = Dataset::new(x, vec![0, 1, 5, 1], names(3), None);
    assert!(matches!(r, Err(PreprocessError::InvalidDataset { .. })));
    check(r, &["label 5 of sample 2", "3 classes"]);
    // A data set with more classes than the network has outputs.
    let mut t = Trainer::new(config(4, 3)).unwrap();
    let r = t.fit(&data(20, 4, 5), None, &mut ());
    assert!(matches!(r, Err(TrainError::ShapeMismatch { .. })));
    check(r, &["classes", "[3]", "[5]"]);
}

#[test]
fn an_empty_data_set_cannot_be_built() {
    let r = Dataset::new(Array2::<f32>::zeros((0, 4)), vec![], names(2), None);
    assert!(matches!(r, Err(PreprocessError::EmptyInput { .. })));
    assert!(matches!(
        data(10, 4, 2).head(0),
        Err(PreprocessError::EmptyInput { .. })
    ));
    assert!(matches!(
        data(10, 4, 2).select(&[]),
        Err(PreprocessError::EmptyInput { .. })
    ));
}

#[test]
fn non_finite_features_are_rejected_naming_the_sample_and_feature() {
    for (bad, word) in [
        (f32::NAN, "NaN"),
        (f32::INFINITY, "inf"),
        (f32::NEG_INFINITY, "-inf"),
    ] {
        let mut x = Array2::<f32>::zeros((6, 3));
        x[[4, 2]] = bad;
        let r = Dataset::new(x, vec![0; 6], names(2), None);
        assert!(matches!(r, Err(PreprocessError::InvalidDataset { .. })));
        check(r, &["feature 2 of sample 4", word]);
    }
}

#[test]
fn a_batch_larger_than_the_data_set_is_one_batch_of_all_samples() {
    let train = data(30, 4, 3);
    let run = |batch_size| {
        let mut t = Trainer::new(TrainConfig {
            batch_size,
            ..config(4, 3)
        })
        .unwrap();
        let mut rec = Recorder::default();
        let report = t.fit(&train, None, &mut rec).unwrap();
        assert_eq!(report.stopped, StopReason::Completed);
        (t.network().to_safetensors().unwrap(), rec.steps)
    };
    let (huge, steps) = run(1000);
    assert_eq!(steps.len(), 2, "one step per epoch");
    assert!(steps.iter().all(|s| s.batches == 1));
    let (exact, _) = run(30);
    assert_eq!(huge, exact, "batch 1000 on 30 samples is batch 30");
}
