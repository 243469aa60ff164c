//! A training step allocates nothing once the first step has run (buffers are reused).
//!
//! This file is its own test binary, so its counting `#[global_allocator]` affects no other test.
//! The count is global (all threads), so rayon's workers are included. Each step runs inside
//! `pool.install`, i.e. on a pool worker: rayon's `join` then uses the workers' own deques, which
//! stop growing after warm-up. (Calling into a pool from outside goes through its injector queue,
//! which allocates a new block every few dozen jobs, so that is not what a training loop should do.)
//! With one worker the step must allocate nothing at all; with two, no allocation of 1 KiB or more
//! (work stealing can make rayon's internals allocate a little, rarely).

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use ndarray::Array2;
use nn_activations::Activation;
use nn_core::{LayerSpec, Loss, MlpOptions, Network, NetworkSpec, Targets};
use nn_init::{BiasInit, Init};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);
/// Allocations of at least [`LARGE`] bytes: what a re-created activation buffer would be.
static LARGE_ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);
const LARGE: usize = 1024;

fn count(size: usize) {
    ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
    if size >= LARGE {
        LARGE_ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
    }
}

// SAFETY: forwards every call to the system allocator unchanged; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count(layout.size());
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count(layout.size());
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count(new_size);
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Runs 10 warm-up steps, then counts the allocations (all, and large) of 5 more (forward, loss,
/// backward, L2 and a plain SGD update through `visit_params_mut`).
fn allocations_after_warmup(spec: &NetworkSpec, n: usize, threads: usize) -> (usize, usize) {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let mut net = Network::<f32>::from_spec(spec, &mut rng).unwrap();
    let d = spec.input_dim;
    let c = spec.output_dim().unwrap();
    let x = Array2::from_shape_fn((n, d), |(i, j)| {
        ((i * 31 + j * 17) % 23) as f32 / 23.0 - 0.5
    });
    let labels: Vec<usize> = (0..n).map(|i| i % c).collect();
    let loss = Loss::SoftmaxCrossEntropy {
        label_smoothing: 0.1,
    };
    pool.install(|| {
        let step = |net: &mut Network<f32>, rng: &mut ChaCha8Rng| {
            let report = net
                .forward_backward(x.view(), Targets::Classes(&labels), &loss, 1e-4, rng)
                .unwrap();
            net.visit_params_mut(|p| {
                let mut w = p.value;
                w.zip_mut_with(&p.grad, |w, &g| *w -= 1e-2 * g);
            });
            report.total()
        };
        for _ in 0..10 {
            step(&mut net, &mut rng);
        }
        let before = (
            ALLOCATIONS.load(Ordering::SeqCst),
            LARGE_ALLOCATIONS.load(Ordering::SeqCst),
        );
        let mut total = 0.0;
        for _ in 0..5 {
            total += step(&mut net, &mut rng);
        }
        let after = (
            ALLOCATIONS.load(Ordering::SeqCst),
            LARGE_ALLOCATIONS.load(Ordering::SeqCst),
        );
        assert!(total.is_finite());
        (after.0 - before.0, after.1 - before.1)
    })
}

#[test]
fn training_steps_allocate_nothing_after_the_first() {
    let bn_dropout = MlpOptions {
        batch_norm: true,
        dropout: 0.2,
        ..Default::default()
    };
    let mut mixed = NetworkSpec::mlp(40, &[32, 24], 10, &bn_dropout).unwrap();
    mixed.layers.extend([
        LayerSpec::PRelu {
            per_feature: true,
            init: 0.25,
        },
        LayerSpec::Maxout {
            outputs: 6,
            pieces: 3,
            init: Init::xavier(),
            bias: BiasInit::Zeros,
        },
        LayerSpec::Activation {
            activation: Activation::Gelu,
        },
        LayerSpec::Linear {
            outputs: 10,
            init: Init::xavier(),
            bias: BiasInit::Zeros,
        },
    ]);
    let specs = [
        ("mixed small", mixed, 16),
        (
            "784-512-256-10",
            NetworkSpec::mlp(784, &[512, 256], 10, &Default::default()).unwrap(),
            128,
        ),
        (
            "784-512-256-10 bn",
            NetworkSpec::mlp(784, &[512, 256], 10, &bn_dropout).unwrap(),
            128,
        ),
    ];
    for (name, spec, n) in &specs {
        // One worker: nothing at all is allocated, by us or by rayon.
        let (all, _) = allocations_after_warmup(spec, *n, 1);
        assert_eq!(all, 0, "{name}, 1 thread: {all} allocations in 5 steps");
        // Two workers: work stealing may, rarely, make rayon's own bookkeeping allocate a few
        // bytes; no buffer of the step may be re-created (every one of the 784-wide nets' is
        // at least 5 KiB, far above `LARGE`).
        if *n == 128 {
            let (_, large) = allocations_after_warmup(spec, *n, 2);
            assert_eq!(
                large, 0,
                "{name}, 2 threads: {large} large allocations in 5 steps"
            );
        }
    }
}
