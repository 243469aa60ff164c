//! The lecture's activation-statistics figure: a 10-layer, 500-unit network fed a 1000 × 500
//! unit-Gaussian batch, once per initialiser/activation pair.
//!
//! Run with `cargo run --release -p nn-init --example init_stats`.

use nn_activations::Activation;
use nn_init::{init_stats, Init, InitStatsConfig};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

fn main() -> Result<(), nn_init::InitError> {
    let runs = [
        (
            "tanh, 0.01 * randn: activations collapse to zero",
            Activation::Tanh,
            Init::small_random(),
        ),
        (
            "tanh, 1.0 * randn: units saturate at ±1",
            Activation::Tanh,
            Init::large_random(),
        ),
        (
            "tanh, Xavier: the spread holds",
            Activation::Tanh,
            Init::xavier(),
        ),
        (
            "ReLU, Xavier: the variance halves every layer",
            Activation::Relu,
            Init::xavier(),
        ),
        (
            "ReLU, He: the spread holds",
            Activation::Relu,
            Init::he(Activation::Relu),
        ),
    ];
    for (title, activation, init) in runs {
        let config = InitStatsConfig {
            init,
            activation,
            ..InitStatsConfig::default()
        };
        let report = init_stats::<f64, _>(&config, &mut ChaCha8Rng::seed_from_u64(231))?;
        println!("== {title}\n{report}");
    }
    Ok(())
}
