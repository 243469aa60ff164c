//! Shared helpers for the nn-init integration tests.
#![allow(dead_code)] // Each test file uses a different subset.

use ndarray::ArrayD;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// A seeded ChaCha8 RNG, as every test and doc uses.
pub fn rng(seed: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(seed)
}

/// Number of standard errors a sample statistic may stray from its target. For a Gaussian
/// statistic a 6σ deviation has probability 2e-9, so a correct sampler practically never
/// fails, while a wrong variance factor (e.g. √2 for He vs Xavier) is hundreds of σ away.
pub const Z: f64 = 6.0;

/// Sample mean and (population) standard deviation.
pub fn mean_std(values: &[f64]) -> (f64, f64) {
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    let var = values.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n;
    (mean, var.sqrt())
}

/// Asserts that `values` have mean `mean` and standard deviation `std` within `Z` standard
/// errors, for a distribution with kurtosis `kurtosis` (3 normal, 1.8 uniform).
///
/// ```text
/// SE(mean) = σ / √N          SE(std) ≈ σ · √((κ - 1) / (4N))   (delta method on Var(s²) = σ⁴(κ - 1)/N)
/// ```
pub fn assert_moments(what: &str, values: &[f64], mean: f64, std: f64, kurtosis: f64) {
    let n = values.len() as f64;
    let (m, s) = mean_std(values);
    let se_mean = std / n.sqrt();
    let se_std = std * ((kurtosis - 1.0) / (4.0 * n)).sqrt();
    assert!(
        (m - mean).abs() <= Z * se_mean,
        "{what}: mean {m} vs {mean} (tolerance {})",
        Z * se_mean
    );
    assert!(
        (s - std).abs() <= Z * se_std,
        "{what}: std {s} vs {std} (tolerance {})",
        Z * se_std
    );
}

/// The bit patterns of an array, for exact comparisons.
pub fn bits(a: &ArrayD<f64>) -> Vec<u64> {
    a.iter().map(|x| x.to_bits()).collect()
}

/// Proptest case count: small by default (CI has 2 cores), `PROPTEST_CASES` to raise it.
pub fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(32)
}
