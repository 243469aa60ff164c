//! Real data: the MNIST subset shipped in `data/mnist-small` (always), and the full MNIST and Fashion-MNIST sets in
//! `../shared/data` when that folder exists (it is outside the repository).

use nn_preprocess::readers::idx::{load_idx_dir, IdxSet};
use nn_preprocess::{Dataset, Moments, Scope};
use std::path::PathBuf;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn pixel_stats(d: &Dataset) -> (f64, f64) {
    let mut m = Moments::new(Scope::PerChannel(d.image_shape().unwrap()));
    m.partial_fit(d.features()).unwrap();
    (m.mean().unwrap()[0], m.variance().unwrap()[0].sqrt())
}

#[test]
fn shipped_mnist_subset_loads() {
    let (train, test) = load_idx_dir(&root().join("data/mnist-small"), IdxSet::Mnist).unwrap();
    assert_eq!(
        (train.len(), test.len(), train.n_features()),
        (10_000, 2_000, 784)
    );
    // First labels of the official files (shared/data/README.md).
    assert_eq!(&train.labels()[..10], &[5, 0, 4, 1, 9, 2, 1, 3, 1, 4]);
    assert_eq!(&test.labels()[..10], &[7, 2, 1, 0, 4, 1, 4, 9, 5, 9]);
    // Class counts as listed in data/mnist-small/README.md.
    assert_eq!(
        train.class_counts(),
        vec![1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978]
    );
    let (mean, std) = pixel_stats(&train);
    assert!(
        (mean - 0.1311).abs() < 5e-5 && (std - 0.3087).abs() < 5e-5,
        "{mean} {std}"
    );
}

#[test]
fn full_sets_match_published_statistics_when_present() {
    let shared = root().join("../shared/data");
    if !shared.join("mnist").is_dir() {
        eprintln!("skipped: {} not found", shared.display());
        return;
    }
    // MNIST train: mean 0.1307, std 0.3081 (the values every MNIST tutorial normalises with);
    // Fashion-MNIST train: 0.2860, 0.3530 (shared/data/README.md).
    for (dir, set, mean_ref, std_ref) in [
        ("mnist", IdxSet::Mnist, 0.1307, 0.3081),
        ("fashion-mnist", IdxSet::FashionMnist, 0.2860, 0.3530),
    ] {
        let (train, test) = load_idx_dir(&shared.join(dir), set).unwrap();
        assert_eq!((train.len(), test.len()), (60_000, 10_000));
        let (mean, std) = pixel_stats(&train);
        assert!((mean - mean_ref).abs() < 5e-5, "{dir} mean {mean}");
        assert!((std - std_ref).abs() < 5e-5, "{dir} std {std}");
    }
}
