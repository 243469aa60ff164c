//! The run config (TOML) on arbitrary and mutated bytes: parsing, validation and building the
//! library config give `Ok` or a typed [`CliError::Config`], never a panic; NaN and infinite values
//! of every float key are rejected naming the key.
//!
//! nn-cli has no proptest dev-dependency, so the cases come from a seeded ChaCha8 stream (the
//! same cases on every run); `CONFIG_BYTES_CASES` raises their number.

use nn_cli::config::RunConfig;
use nn_cli::CliError;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn cases() -> usize {
    std::env::var("CONFIG_BYTES_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(400)
}

/// Parses `bytes` (when UTF-8) and, when that succeeds, validates and builds the library config.
fn check(bytes: &[u8]) {
    let Ok(text) = std::str::from_utf8(bytes) else {
        return;
    };
    match RunConfig::from_toml(text) {
        Ok(config) => {
            if config.validate().is_ok() {
                // The library's own validation may still refuse; it must say so, not panic.
                if let Err(e) = config.train_config(784, 10, 1000) {
                    assert!(matches!(e, CliError::Config { .. }), "{e:?}");
                }
            }
            let again = RunConfig::from_toml(&config.to_toml());
            assert_eq!(again.ok().as_ref(), Some(&config), "{text:?}");
        }
        Err(e) => assert!(matches!(e, CliError::Config { .. }), "{e:?}"),
    }
}

/// Pieces of TOML that mutations splice in, so that mutated files stay close to valid ones.
const PIECES: [&str; 14] = [
    "=",
    "\n",
    "[",
    "]",
    "\"",
    "nan",
    "-inf",
    "1e308",
    "-1",
    "0",
    "18446744073709551616",
    "[train]\n",
    "lr = ",
    "hidden = [",
];

fn mutate(rng: &mut ChaCha8Rng, bytes: &mut Vec<u8>) {
    for _ in 0..rng.random_range(1..4) {
        let at = rng.random_range(0..=bytes.len());
        match rng.random_range(0..5) {
            0 if at < bytes.len() => bytes[at] ^= rng.random_range(1..=255u8),
            1 => bytes.truncate(at),
            2 => {
                let piece = PIECES[rng.random_range(0..PIECES.len())];
                bytes.splice(at..at, piece.bytes());
            }
            3 if at < bytes.len() => {
                let end = rng.random_range(at..=bytes.len()).min(at + 16);
                bytes.drain(at..end);
            }
            _ => bytes.insert(at, rng.random_range(0x20..0x7f)),
        }
    }
}

#[test]
fn arbitrary_bytes_give_a_config_error_or_a_config() {
    let mut rng = ChaCha8Rng::seed_from_u64(9);
    for _ in 0..cases() {
        let len = rng.random_range(0..200);
        let bytes: Vec<u8> = (0..len)
            .map(|_| {
                if rng.random_bool(0.8) {
                    rng.random_range(0x20..0x7f)
                } else {
                    rng.random()
                }
            })
            .collect();
        check(&bytes);
    }
}

#[test]
fn mutated_configs_give_a_config_error_or_a_config() {
    let mut rng = ChaCha8Rng::seed_from_u64(10);
    let mut base = RunConfig::default();
    base.train.clip_norm = Some(1.0);
    base.train.ema_decay = Some(0.99);
    base.train.patience = Some(3);
    let valid = base.to_toml().into_bytes();
    check(&valid);
    for _ in 0..cases() {
        let mut bytes = valid.clone();
        mutate(&mut rng, &mut bytes);
        check(&bytes);
    }
}

#[test]
fn non_finite_values_are_rejected_naming_the_key() {
    let keys = [
        ("train", "lr"),
        ("train", "momentum"),
        ("train", "weight_decay"),
        ("train", "lr_decay"),
        ("train", "l2"),
        ("train", "clip_norm"),
        ("train", "label_smoothing"),
        ("train", "ema_decay"),
        ("model", "dropout"),
        ("data", "val_fraction"),
    ];
    for (table, key) in keys {
        for value in ["nan", "inf", "-inf", "-nan"] {
            let text = format!("[{table}]\n{key} = {value}\n");
            let config = RunConfig::from_toml(&text).unwrap();
            let e = config
                .validate()
                .expect_err(&format!("{table}.{key} = {value} was accepted"));
            assert!(e.to_string().contains(&format!("{table}.{key}")), "{e}");
        }
    }
}
