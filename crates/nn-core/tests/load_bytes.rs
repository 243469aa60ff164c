//! `Network::from_safetensors` on arbitrary and mutated bytes: every input gives `Ok` or a typed
//! error, never a panic; the largest single allocation stays within a small multiple of the input
//! length plus a constant, even when the saved spec claims a huge network; NaN and infinite
//! weights are rejected naming the tensor.
//!
//! This file is its own test binary, so its measuring `#[global_allocator]` affects no other test.
//! Only allocations of the measuring thread are recorded (a thread-local flag).

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::collections::HashMap;

use nn_core::{BatchNormConfig, CoreError, LayerSpec, MlpOptions, Network, NetworkSpec};
use nn_init::{BiasInit, Init};
use proptest::prelude::*;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

struct Measuring;

thread_local! {
    static MEASURING: Cell<bool> = const { Cell::new(false) };
    static PEAK: Cell<usize> = const { Cell::new(0) };
}

fn record(size: usize) {
    if MEASURING.try_with(Cell::get).unwrap_or(false) {
        let _ = PEAK.try_with(|p| p.set(p.get().max(size)));
    }
}

// SAFETY: forwards every call to the system allocator unchanged; only records sizes.
unsafe impl GlobalAlloc for Measuring {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        record(layout.size());
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        record(layout.size());
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        record(new_size);
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Measuring = Measuring;

/// Runs `f` and returns its result with the largest single allocation it made on this thread.
fn peak<T>(f: impl FnOnce() -> T) -> (T, usize) {
    PEAK.with(|p| p.set(0));
    MEASURING.with(|m| m.set(true));
    let out = f();
    MEASURING.with(|m| m.set(false));
    (out, PEAK.with(Cell::get))
}

/// What `len` input bytes may allocate at once: tensors no larger than the file (values and
/// gradients, converted to `f64` at most: 8 bytes per stored byte of an `f32` file, generously),
/// plus the loader's slack of 2^20 per-feature buffer values (8 MiB in `f64`).
fn allowed(len: usize) -> usize {
    8 * len + (8 << 20) + 4096
}

fn spec() -> NetworkSpec {
    let options = MlpOptions {
        batch_norm: true,
        dropout: 0.25,
        ..MlpOptions::default()
    };
    NetworkSpec::mlp(3, &[4], 2, &options).unwrap()
}

fn saved_f32(seed: u64) -> Vec<u8> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    Network::<f32>::from_spec(&spec(), &mut rng)
        .unwrap()
        .to_safetensors()
        .unwrap()
}

/// Loads `bytes` as f32 and f64 networks, checking the allocation bound and that an accepted
/// network round-trips bit for bit.
fn check_load(bytes: &[u8]) -> Result<(), TestCaseError> {
    let (r, p) = peak(|| Network::<f32>::from_safetensors(bytes));
    prop_assert!(
        p <= allowed(bytes.len()),
        "f32: {p} bytes for {}",
        bytes.len()
    );
    if let Ok(net) = r {
        let again = net.to_safetensors().unwrap();
        let back = Network::<f32>::from_safetensors(&again).unwrap();
        prop_assert_eq!(back.to_safetensors().unwrap(), again);
    }
    let (_, p) = peak(|| Network::<f64>::from_safetensors(bytes));
    prop_assert!(
        p <= allowed(bytes.len()),
        "f64: {p} bytes for {}",
        bytes.len()
    );
    Ok(())
}

/// One mutation of a valid file: flip a byte, truncate, extend, or set the 8-byte little-endian
/// header length that starts every safetensors file.
#[derive(Clone, Debug)]
enum Mutation {
    Flip { at: usize, xor: u8 },
    Truncate { keep: usize },
    Extend { extra: Vec<u8> },
    HeaderLen { value: u64 },
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        4 => (any::<usize>(), 1..=255u8).prop_map(|(at, xor)| Mutation::Flip { at, xor }),
        1 => any::<usize>().prop_map(|keep| Mutation::Truncate { keep }),
        1 => proptest::collection::vec(any::<u8>(), 1..16).prop_map(|extra| Mutation::Extend { extra }),
        1 => prop_oneof![Just(0u64), Just(u64::MAX), Just(1 << 32), 0..2000u64]
            .prop_map(|value| Mutation::HeaderLen { value }),
    ]
}

fn apply(bytes: &mut Vec<u8>, m: &Mutation) {
    match m {
        Mutation::Flip { at, xor } if !bytes.is_empty() => {
            let i = at % bytes.len();
            bytes[i] ^= xor;
        }
        Mutation::Truncate { keep } => bytes.truncate(keep % (bytes.len() + 1)),
        Mutation::Extend { extra } => bytes.extend_from_slice(extra),
        Mutation::HeaderLen { value } if bytes.len() >= 8 => {
            bytes[..8].copy_from_slice(&value.to_le_bytes());
        }
        _ => {}
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_bytes_give_a_typed_error(
        bytes in proptest::collection::vec(any::<u8>(), 0..400),
    ) {
        check_load(&bytes)?;
    }

    #[test]
    fn mutated_files_give_a_typed_error_or_a_consistent_network(
        seed in any::<u64>(),
        mutations in proptest::collection::vec(mutation(), 1..4),
    ) {
        let mut bytes = saved_f32(seed);
        for m in &mutations {
            apply(&mut bytes, m);
        }
        check_load(&bytes)?;
    }
}

/// A file with no tensors whose metadata holds `spec` (as `Network::to_safetensors` writes it).
fn file_with_spec(spec: &NetworkSpec) -> Vec<u8> {
    let header = serde_json::json!({ "format": "nn-core/1", "spec": spec });
    let meta = HashMap::from([("nn_core".to_string(), header.to_string())]);
    let tensors: Vec<(String, safetensors::tensor::TensorView<'_>)> = Vec::new();
    safetensors::serialize(tensors, &Some(meta)).unwrap()
}

#[test]
fn a_spec_claiming_a_huge_network_is_rejected_before_allocating_it() {
    let linear = |outputs| LayerSpec::Linear {
        outputs,
        init: Init::xavier(),
        bias: BiasInit::Zeros,
    };
    let no_params = BatchNormConfig {
        affine: false,
        track_running_stats: false,
        ..BatchNormConfig::default()
    };
    let huge = [
        // 2^40 weights (4 TiB in f32).
        NetworkSpec {
            input_dim: 1 << 20,
            layers: vec![linear(1 << 20)],
        },
        // Overflows u64 when multiplied out naively.
        NetworkSpec {
            input_dim: usize::MAX,
            layers: vec![linear(usize::MAX)],
        },
        NetworkSpec {
            input_dim: 1 << 12,
            layers: vec![LayerSpec::Maxout {
                outputs: 1 << 12,
                pieces: 1 << 12,
                init: Init::xavier(),
                bias: BiasInit::Zeros,
            }],
        },
        // Layers that store nothing but allocate per-feature buffers.
        NetworkSpec {
            input_dim: 1 << 40,
            layers: vec![LayerSpec::BatchNorm { config: no_params }],
        },
        NetworkSpec {
            input_dim: 1 << 40,
            layers: vec![LayerSpec::PRelu {
                per_feature: true,
                init: 0.25,
            }],
        },
    ];
    for spec in &huge {
        let bytes = file_with_spec(spec);
        let (r, p) = peak(|| Network::<f32>::from_safetensors(&bytes));
        assert!(p <= allowed(bytes.len()), "{spec:?}: {p} bytes allocated");
        match r {
            Err(CoreError::ModelMismatch { tensor, reason }) => {
                assert_eq!(tensor, "__metadata__", "{reason}");
            }
            other => panic!("{spec:?}: expected a model mismatch, got {other:?}"),
        }
    }
}

#[test]
fn nan_and_infinite_weights_are_rejected_naming_the_tensor() {
    let cases: [(&str, usize, f32); 4] = [
        ("layers.0.weight", 5, f32::NAN),
        ("layers.0.bias", 2, f32::INFINITY),
        ("layers.1.gamma", 0, f32::NEG_INFINITY),
        ("layers.4.weight", 7, f32::NAN),
    ];
    for (name, index, bad) in cases {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let mut net = Network::<f32>::from_spec(&spec(), &mut rng).unwrap();
        let mut found = false;
        net.visit_params_mut(|p| {
            if p.name == name {
                let mut value = p.value;
                *value.iter_mut().nth(index).unwrap() = bad;
                found = true;
            }
        });
        assert!(found, "no tensor {name}");
        let bytes = net.to_safetensors().unwrap();
        let err = Network::<f32>::from_safetensors(&bytes).unwrap_err();
        assert!(err.to_string().contains(name), "{err}");
        match err {
            CoreError::NonFiniteValue {
                tensor,
                index: i,
                value,
            } => {
                assert_eq!((tensor.as_str(), i), (name, index));
                assert_eq!(value.is_nan(), bad.is_nan());
                assert_eq!(value.is_infinite(), bad.is_infinite());
            }
            other => panic!("{name}: expected NonFiniteValue, got {other:?}"),
        }
    }
}
