//! The data set type: validation, seeded splits and mini-batches.

use ndarray::Array2;
use nn_preprocess::{Dataset, PreprocessError};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

fn data(n: usize) -> Dataset {
    let x = Array2::from_shape_fn((n, 3), |(i, j)| (i * 3 + j) as f32);
    let y = (0..n).map(|i| (i % 4) as u8).collect();
    Dataset::new(x, y, (0..4).map(|c| c.to_string()).collect(), None).unwrap()
}

/// The sample index of a row (the first feature is 3·i).
fn index_of(row: &[f32]) -> usize {
    (row[0] / 3.0) as usize
}

#[test]
fn split_is_a_seeded_partition() {
    let d = data(50);
    let (tr, va) = d.split(0.2, &mut ChaCha8Rng::seed_from_u64(1)).unwrap();
    assert_eq!((tr.len(), va.len()), (40, 10));
    let mut all: Vec<usize> = tr
        .features()
        .outer_iter()
        .chain(va.features().outer_iter())
        .map(|r| index_of(r.as_slice().unwrap()))
        .collect();
    all.sort_unstable();
    assert_eq!(all, (0..50).collect::<Vec<_>>());
    // Labels travel with their rows.
    for (r, &l) in tr.features().outer_iter().zip(tr.labels()) {
        assert_eq!(index_of(r.as_slice().unwrap()) % 4, usize::from(l));
    }
    let (tr2, _) = d.split(0.2, &mut ChaCha8Rng::seed_from_u64(1)).unwrap();
    assert_eq!(tr, tr2);
    let (tr3, _) = d.split(0.2, &mut ChaCha8Rng::seed_from_u64(2)).unwrap();
    assert_ne!(tr, tr3);
}

#[test]
fn batches_cover_every_sample_once_per_epoch() {
    let d = data(23);
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let mut epochs = Vec::new();
    for _ in 0..2 {
        let mut b = d.shuffled_batches(5, &mut rng).unwrap();
        assert_eq!(b.len(), 5);
        let mut seen = Vec::new();
        let mut sizes = Vec::new();
        while let Some(batch) = b.next_batch() {
            sizes.push(batch.y.len());
            for (r, &l) in batch.x.outer_iter().zip(batch.y) {
                let i = index_of(&r.to_vec());
                assert_eq!(i % 4, usize::from(l));
                seen.push(i);
            }
        }
        assert_eq!(sizes, vec![5, 5, 5, 5, 3]);
        epochs.push(seen.clone());
        seen.sort_unstable();
        assert_eq!(seen, (0..23).collect::<Vec<_>>());
    }
    assert_ne!(epochs[0], epochs[1], "each epoch gets a new order");
    // The same seed gives the same order.
    let order = |seed| {
        d.shuffled_batches(5, &mut ChaCha8Rng::seed_from_u64(seed))
            .unwrap()
            .order()
    };
    assert_eq!(order(9), order(9));
    // Unshuffled batches are views in stored order.
    let mut b = d.batches(10).unwrap();
    let first = b.next_batch().unwrap();
    assert_eq!(first.x, d.features().slice(ndarray::s![..10, ..]));
}

#[test]
fn invalid_data_sets_and_arguments_are_errors() {
    let d = data(5);
    assert!(matches!(
        d.batches(0),
        Err(PreprocessError::InvalidHyperparameter {
            name: "batch_size",
            ..
        })
    ));
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    assert!(matches!(
        d.shuffled_batches(0, &mut rng),
        Err(PreprocessError::InvalidHyperparameter { .. })
    ));
    for f in [0.0, 1.0, -0.5, 0.01] {
        assert!(
            matches!(
                d.split(f, &mut rng),
                Err(PreprocessError::InvalidHyperparameter { .. })
            ),
            "{f}"
        );
    }
    let x = Array2::<f32>::zeros((2, 3));
    let names = vec!["a".to_string(), "b".to_string()];
    assert!(matches!(
        Dataset::new(x.clone(), vec![0, 2], names.clone(), None),
        Err(PreprocessError::InvalidDataset { .. })
    ));
    assert!(matches!(
        Dataset::new(x.clone(), vec![0], names.clone(), None),
        Err(PreprocessError::InvalidDataset { .. })
    ));
    assert!(matches!(
        Dataset::new(Array2::zeros((0, 3)), vec![], names, None),
        Err(PreprocessError::EmptyInput { .. })
    ));
    assert!(matches!(
        d.select(&[5]),
        Err(PreprocessError::InvalidHyperparameter { .. })
    ));
}
