//! Shared helpers for the criterion benches in `benches/benches/`.
//!
//! Run them with `cargo xtask bench [FILTER]`, which prints one summary table.

/// A deterministic pseudo-random f32 vector in `[-4, 4)` (a tiny LCG: benches need varied
/// values, not statistical quality, and must not depend on an RNG crate's version).
pub fn test_vector(len: usize, seed: u64) -> Vec<f32> {
    let mut state = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..len)
        .map(|_| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((state >> 40) as f32 / (1u64 << 24) as f32) * 8.0 - 4.0
        })
        .collect()
}

/// `y.copy_from_slice(x)` split into the same rayon chunks as the activation kernels
/// ([`nn_activations::PARALLEL_CHUNK`] elements), so it is the bandwidth bound they are compared
/// against on any number of threads.
///
/// # Panics
/// If the slices differ in length.
pub fn parallel_copy(x: &[f32], y: &mut [f32]) {
    use rayon::prelude::*;
    let chunk = nn_activations::PARALLEL_CHUNK;
    y.par_chunks_mut(chunk)
        .zip(x.par_chunks(chunk))
        .for_each(|(b, a)| b.copy_from_slice(a));
}
