//! Transforms: streaming == full fit, inverse ≈ identity, whitening, PCA orthonormality, layouts, errors, persistence.

mod common;

use common::{assert_close, random_matrix, temp_dir};
use ndarray::{s, Array2, Axis};
use nn_preprocess::{
    ChannelMean, Covariance, Dataset, Fit, FittedMean, FittedPca, FittedStandardize,
    FittedWhitening, ImageShape, Layout, MeanImage, Moments, PartialFit, Pca, PcaComponents,
    Persist, PreprocessError, Scope, Standardize, Transform, Whitening, WhiteningMethod,
};
use proptest::prelude::*;

/// Fits moments on `x` cut at the given row boundaries.
fn moments_in_batches(x: &Array2<f64>, scope: Scope, cuts: &[usize]) -> Moments {
    let mut m = Moments::new(scope);
    let mut start = 0;
    for &c in cuts.iter().chain(std::iter::once(&x.nrows())) {
        let c = c.clamp(start, x.nrows());
        m.partial_fit(x.slice(s![start..c, ..])).unwrap();
        start = c;
    }
    m
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    #[test]
    fn streaming_moments_equal_full_fit(
        n in 1usize..80, d in 1usize..7, seed in 0u64..1000,
        mut cuts in proptest::collection::vec(0usize..80, 0..6),
    ) {
        cuts.sort_unstable();
        // An offset of 1e3 makes naive E[x²] − E[x]² lose digits; the merged two-pass stays exact.
        let x = random_matrix(n, d, 1e3, 1e3 + 1.0, seed);
        let full = moments_in_batches(&x, Scope::PerFeature, &[]);
        let streamed = moments_in_batches(&x, Scope::PerFeature, &cuts);
        assert_close(&streamed.mean().unwrap(), &full.mean().unwrap(), 1e-9, "mean");
        assert_close(&streamed.variance().unwrap(), &full.variance().unwrap(), 1e-9, "variance");
        // Reference: NumPy-style two-pass over all data.
        let mean = x.mean_axis(Axis(0)).unwrap();
        let var = x.var_axis(Axis(0), 0.0);
        assert_close(&full.mean().unwrap(), mean.as_slice().unwrap(), 1e-12, "mean vs ndarray");
        assert_close(&full.variance().unwrap(), var.as_slice().unwrap(), 1e-9, "var vs ndarray");
    }

    #[test]
    fn streaming_covariance_equals_full_fit(
        n in 1usize..60, d in 1usize..6, seed in 0u64..1000,
        mut cuts in proptest::collection::vec(0usize..60, 0..5),
    ) {
        cuts.sort_unstable();
        let x = random_matrix(n, d, -3.0, 5.0, seed);
        let mut full = Covariance::new();
        full.partial_fit(x.view()).unwrap();
        let mut parts = Vec::new();
        let mut start = 0;
        for &c in cuts.iter().chain(std::iter::once(&n)) {
            let c = c.clamp(start, n);
            let mut p = Covariance::new();
            p.partial_fit(x.slice(s![start..c, ..])).unwrap();
            parts.push(p);
            start = c;
        }
        // Merge the shards in reverse order: any order must give the same statistics.
        let mut merged = Covariance::new();
        for p in parts.iter().rev() {
            merged.merge(p).unwrap();
        }
        let a = merged.covariance().unwrap();
        let b = full.covariance().unwrap();
        assert_close(a.as_slice().unwrap(), b.as_slice().unwrap(), 1e-9, "covariance");
        let xc = &x - &x.mean_axis(Axis(0)).unwrap();
        let reference = xc.t().dot(&xc) / n as f64;
        assert_close(b.as_slice().unwrap(), reference.as_slice().unwrap(), 1e-12, "covariance vs XᵀX/N");
    }

    #[test]
    fn mean_and_standardize_invert(n in 2usize..40, d in 1usize..6, seed in 0u64..1000) {
        let x = random_matrix(n, d, -2.0, 7.0, seed);
        let m = MeanImage.fit(x.view()).unwrap();
        let back = m.inverse_transform(m.transform(x.view()).unwrap().view()).unwrap();
        assert_close(back.as_slice().unwrap(), x.as_slice().unwrap(), 1e-12, "mean inverse");
        let st = Standardize::per_feature().fit(x.view()).unwrap();
        let y = st.transform(x.view()).unwrap();
        let back = st.inverse_transform(y.view()).unwrap();
        assert_close(back.as_slice().unwrap(), x.as_slice().unwrap(), 1e-10, "standardize inverse");
        // Standardised columns have mean 0 and (population) variance 1 up to eps.
        let var = y.var_axis(Axis(0), 0.0);
        for v in var.iter() {
            prop_assert!((v - 1.0).abs() < 1e-6);
        }
    }
}

#[test]
fn streaming_standardize_per_channel_equals_full() {
    let shape = ImageShape::new(3, 4, 5, Layout::Nhwc).unwrap();
    let x = random_matrix(37, 60, 0.0, 1.0, 5);
    let full = Standardize::per_channel(shape).fit(x.view()).unwrap();
    let mut s = Standardize::per_channel(shape).streaming();
    for b in x.axis_chunks_iter(Axis(0), 4) {
        s.partial_fit(b).unwrap();
    }
    let streamed = s.finish().unwrap();
    assert_close(streamed.mean(), full.mean(), 1e-12, "mean");
    assert_close(streamed.std(), full.std(), 1e-12, "std");
}

#[test]
fn fits_do_not_depend_on_thread_count() {
    // Large enough to take the parallel path (more than 4 chunks of 2^17 values).
    let x = random_matrix(2500, 300, 0.0, 1.0, 11).mapv(|v| v as f32);
    let run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| {
            let mut m = Moments::new(Scope::PerFeature);
            m.partial_fit(x.view()).unwrap();
            let mut c = Covariance::new();
            c.partial_fit(x.slice(s![.., ..40])).unwrap();
            (
                m.mean().unwrap(),
                m.variance().unwrap(),
                c.covariance().unwrap(),
            )
        })
    };
    let (m1, v1, c1) = run(1);
    let (m3, v3, c3) = run(3);
    assert_eq!(m1, m3);
    assert_eq!(v1, v3);
    assert_eq!(c1, c3);
}

/// Data with a well-conditioned, correlated covariance: z · A for a fixed mixing A.
fn correlated(n: usize, seed: u64) -> Array2<f64> {
    let z = random_matrix(n, 4, -1.0, 1.0, seed);
    let a = ndarray::array![
        [2.0, 0.5, 0.0, 0.1],
        [0.0, 1.0, 0.3, 0.0],
        [0.4, 0.0, 0.7, 0.2],
        [0.0, 0.2, 0.0, 0.5]
    ];
    z.dot(&a) + 3.0
}

#[test]
fn whitened_data_has_identity_covariance() {
    let x = correlated(2000, 3);
    for method in [WhiteningMethod::Pca, WhiteningMethod::Zca] {
        let w = Whitening { method, eps: 1e-12 }.fit(x.view()).unwrap();
        let y = w.transform(x.view()).unwrap();
        let mut c = Covariance::new();
        c.partial_fit(y.view()).unwrap();
        let cov = c.covariance().unwrap();
        let eye = Array2::<f64>::eye(4);
        assert_close(
            cov.as_slice().unwrap(),
            eye.as_slice().unwrap(),
            1e-8,
            "whitened covariance",
        );
        let back = w.inverse_transform(y.view()).unwrap();
        assert_close(
            back.as_slice().unwrap(),
            x.as_slice().unwrap(),
            1e-9,
            "whitening inverse",
        );
    }
    // ZCA's matrix is symmetric; PCA's is not in general.
    let zca = Whitening::zca().fit(x.view()).unwrap().matrix().unwrap();
    for (a, b) in zca.iter().zip(zca.t().iter()) {
        assert!((a - b).abs() < 1e-12, "ZCA matrix must be symmetric");
    }
}

#[test]
fn pca_components_are_orthonormal_and_sorted() {
    let x = correlated(500, 9);
    let p = Pca {
        components: PcaComponents::Count(4),
    }
    .fit(x.view())
    .unwrap();
    let c = p.components().unwrap();
    let gram = c.dot(&c.t());
    assert_close(
        gram.as_slice().unwrap(),
        Array2::<f64>::eye(4).as_slice().unwrap(),
        1e-12,
        "UᵀU",
    );
    let ev = p.explained_variance();
    assert!(ev.windows(2).all(|w| w[0] >= w[1]));
    // With all components, PCA is a rotation: exact inverse, and projections have variance = eigenvalues.
    let y = p.transform(x.view()).unwrap();
    assert_close(
        &y.var_axis(Axis(0), 0.0).to_vec(),
        ev,
        1e-9,
        "projected variance",
    );
    let back = p.inverse_transform(y.view()).unwrap();
    assert_close(
        back.as_slice().unwrap(),
        x.as_slice().unwrap(),
        1e-10,
        "PCA inverse",
    );
    let ratio: f64 = p.explained_variance_ratio().iter().sum();
    assert!((ratio - 1.0).abs() < 1e-12);
    // Keeping a variance fraction keeps the fewest components that reach it.
    let p2 = Pca {
        components: PcaComponents::VarianceFraction(0.9),
    }
    .fit(x.view())
    .unwrap();
    let r = p2.explained_variance_ratio();
    assert!(r.iter().sum::<f64>() >= 0.9);
    assert!(r[..r.len() - 1].iter().sum::<f64>() < 0.9);
}

#[test]
fn pca_known_values() {
    // Points (±1, 0) and (0, ±2): covariance diag(0.5, 2) (computed by hand: (1+1)/4 and (4+4)/4), so the first
    // component is the y axis with variance 2.
    let x = ndarray::array![[1.0, 0.0], [-1.0, 0.0], [0.0, 2.0], [0.0, -2.0]];
    let p = Pca {
        components: PcaComponents::Count(1),
    }
    .fit(x.view())
    .unwrap();
    assert_close(p.explained_variance(), &[2.0], 1e-12, "eigenvalue");
    assert_close(
        p.components().unwrap().as_slice().unwrap(),
        &[0.0, 1.0],
        1e-12,
        "component",
    );
}

#[test]
fn channel_mean_agrees_between_nchw_and_nhwc() {
    let shape = ImageShape::new(3, 32, 32, Layout::Nchw).unwrap();
    let x = random_matrix(20, 3072, 0.0, 1.0, 21).mapv(|v| v as f32);
    let labels = vec![0u8; 20];
    let nchw = Dataset::new(x, labels, vec!["a".into()], Some(shape)).unwrap();
    let nhwc = nchw.to_layout(Layout::Nhwc).unwrap();
    let a = ChannelMean::new(shape).fit(nchw.features()).unwrap();
    let b = ChannelMean::new(shape.with_layout(Layout::Nhwc))
        .fit(nhwc.features())
        .unwrap();
    assert_close(a.mean(), b.mean(), 1e-12, "channel means");
    // Reference: the mean of each 1024-value plane of the NCHW rows.
    for c in 0..3 {
        let plane = nchw
            .features()
            .slice(s![.., c * 1024..(c + 1) * 1024])
            .mapv(f64::from);
        assert!((plane.mean().unwrap() - a.mean()[c]).abs() < 1e-12);
    }
    // The transforms agree too, once the layout is converted back.
    let ya = a.transform_dataset(&nchw).unwrap();
    let yb = b
        .transform_dataset(&nhwc)
        .unwrap()
        .to_layout(Layout::Nchw)
        .unwrap();
    assert_eq!(ya.features(), yb.features());
    // Applying a transform fitted on one layout to the other is an error, not silent garbage.
    assert!(matches!(
        a.transform_dataset(&nhwc),
        Err(PreprocessError::LayoutMismatch { .. })
    ));
}

#[test]
fn bad_input_gives_typed_errors() {
    let x = random_matrix(10, 3, 0.0, 1.0, 1);
    let fitted = MeanImage.fit(x.view()).unwrap();
    let wide = random_matrix(2, 4, 0.0, 1.0, 2);
    assert!(matches!(
        fitted.transform(wide.view()),
        Err(PreprocessError::ShapeMismatch { .. })
    ));
    let empty = Array2::<f64>::zeros((0, 3));
    assert!(matches!(
        MeanImage.fit(empty.view()),
        Err(PreprocessError::EmptyInput { .. })
    ));
    assert!(matches!(
        Pca {
            components: PcaComponents::Count(1)
        }
        .fit(empty.view()),
        Err(PreprocessError::EmptyInput { .. })
    ));
    let mut bad = x.clone();
    bad[[7, 2]] = f64::INFINITY;
    let e = Standardize::per_feature().fit(bad.view()).unwrap_err();
    assert!(
        matches!(
            e,
            PreprocessError::NonFinite {
                sample: 7,
                feature: 2,
                ..
            }
        ),
        "{e}"
    );
    assert!(e.to_string().contains("sample 7, feature 2"));
    bad[[7, 2]] = f64::NAN;
    assert!(matches!(
        fitted.transform(bad.view()),
        Err(PreprocessError::NonFinite {
            sample: 7,
            feature: 2,
            ..
        })
    ));
    assert!(matches!(
        Whitening::pca().fit(bad.view()),
        Err(PreprocessError::NonFinite {
            sample: 7,
            feature: 2,
            ..
        })
    ));
    for k in [0, 4] {
        assert!(matches!(
            Pca {
                components: PcaComponents::Count(k)
            }
            .fit(x.view()),
            Err(PreprocessError::InvalidHyperparameter { name: "k", .. })
        ));
    }
    assert!(matches!(
        Pca {
            components: PcaComponents::VarianceFraction(1.5)
        }
        .fit(x.view()),
        Err(PreprocessError::InvalidHyperparameter { .. })
    ));
    assert!(matches!(
        Whitening {
            method: WhiteningMethod::Zca,
            eps: 0.0
        }
        .fit(x.view()),
        Err(PreprocessError::InvalidHyperparameter { name: "eps", .. })
    ));
    // A channel mean for 3×2×2 images rejects rows of another width.
    let shape = ImageShape::new(3, 2, 2, Layout::Nchw).unwrap();
    assert!(matches!(
        ChannelMean::new(shape).fit(x.view()),
        Err(PreprocessError::ShapeMismatch { .. })
    ));
    // Streaming with a changing width fails and keeps the earlier statistics.
    let mut s = MeanImage.streaming();
    s.partial_fit(x.view()).unwrap();
    assert!(s.partial_fit(wide.view()).is_err());
    assert_eq!(s.finish().unwrap(), fitted);
}

#[test]
fn fitted_transforms_round_trip_through_json() {
    let dir = temp_dir("persist");
    let x = correlated(100, 4);
    let shape = ImageShape::new(1, 2, 2, Layout::Nhwc).unwrap();
    fn check<T: Persist + Transform + PartialEq + std::fmt::Debug>(
        t: &T,
        dir: &std::path::Path,
        x: &Array2<f64>,
    ) {
        let path = dir.join("t.json");
        t.save(&path).unwrap();
        let back = T::load(&path).unwrap();
        assert_eq!(&back, t);
        assert_eq!(
            back.transform(x.view()).unwrap(),
            t.transform(x.view()).unwrap()
        );
    }
    check::<FittedMean>(&ChannelMean::new(shape).fit(x.view()).unwrap(), &dir, &x);
    check::<FittedStandardize>(&Standardize::per_feature().fit(x.view()).unwrap(), &dir, &x);
    check::<FittedPca>(
        &Pca {
            components: PcaComponents::Count(2),
        }
        .fit(x.view())
        .unwrap(),
        &dir,
        &x,
    );
    check::<FittedWhitening>(&Whitening::zca().fit(x.view()).unwrap(), &dir, &x);
    // A missing or corrupt file is an error naming the file.
    std::fs::write(dir.join("bad.json"), b"{not json").unwrap();
    assert!(matches!(
        FittedMean::load(&dir.join("bad.json")),
        Err(PreprocessError::Serde { .. })
    ));
    assert!(matches!(
        FittedMean::load(&dir.join("none.json")),
        Err(PreprocessError::Io { .. })
    ));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn f32_transform_matches_f64() {
    let x = correlated(50, 8);
    let xf = x.mapv(|v| v as f32);
    let p = Pca {
        components: PcaComponents::Count(3),
    }
    .fit(x.view())
    .unwrap();
    let y64 = p.transform(x.view()).unwrap();
    let y32 = p.transform(xf.view()).unwrap().mapv(f64::from);
    assert_close(
        y32.as_slice().unwrap(),
        y64.as_slice().unwrap(),
        1e-5,
        "f32 vs f64",
    );
}

#[test]
fn public_types_are_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<FittedMean>();
    check::<FittedStandardize>();
    check::<FittedPca>();
    check::<FittedWhitening>();
    check::<Moments>();
    check::<Covariance>();
    check::<Dataset>();
    check::<PreprocessError>();
}
