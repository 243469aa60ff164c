//! The IDX and CIFAR-10 readers on arbitrary and mutated bytes: every input gives `Ok` or a typed
//! error, never a panic, and the largest single allocation stays within a small multiple of the
//! input length plus a constant, even when a header claims 2^32 images.
//!
//! This file is its own test binary, so its measuring `#[global_allocator]` affects no other test.
//! Only allocations of the measuring thread are recorded (a thread-local flag), so tests running in
//! parallel do not disturb each other.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::io::Write;

use nn_preprocess::readers::cifar::{read_cifar10_batch, CIFAR10_RECORD_BYTES};
use nn_preprocess::readers::idx::{
    read_idx_images, read_idx_labels, write_idx_images, write_idx_labels, IdxImages,
};
use nn_preprocess::{Dataset, FormatError, PreprocessError};
use proptest::prelude::*;

struct Measuring;

thread_local! {
    static MEASURING: Cell<bool> = const { Cell::new(false) };
    static PEAK: Cell<usize> = const { Cell::new(0) };
}

fn record(size: usize) {
    // `try_with`: the thread-locals may already be gone while a thread shuts down.
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

/// What an input of `len` bytes may allocate at once: the readers grow their buffers as bytes
/// arrive (at most doubling), from an initial 64 KiB; error messages are small.
fn allowed(len: usize) -> usize {
    4 * len + (64 << 10) + 4096
}

/// Reads `bytes` with every reader (raw, and the IDX readers also through gzip when `bytes`
/// starts with the gzip magic) and checks the results and the allocation bound.
fn check_readers(bytes: &[u8]) -> Result<(), TestCaseError> {
    let (images, p) = peak(|| read_idx_images(bytes, "bytes"));
    prop_assert!(
        p <= allowed(bytes.len()),
        "idx images: {p} bytes for {}",
        bytes.len()
    );
    match images {
        Ok(img) => {
            prop_assert_eq!(img.pixels.len(), img.count * img.rows * img.cols);
            prop_assert_eq!(bytes.len(), 16 + img.pixels.len());
        }
        Err(e) => prop_assert!(
            matches!(e, PreprocessError::Malformed { .. }),
            "idx images: {e:?}"
        ),
    }
    let (labels, p) = peak(|| read_idx_labels(bytes, "bytes"));
    prop_assert!(
        p <= allowed(bytes.len()),
        "idx labels: {p} bytes for {}",
        bytes.len()
    );
    match labels {
        Ok(l) => prop_assert_eq!(bytes.len(), 8 + l.len()),
        Err(e) => prop_assert!(
            matches!(e, PreprocessError::Malformed { .. }),
            "idx labels: {e:?}"
        ),
    }
    let (cifar, p) = peak(|| read_cifar10_batch(bytes, "bytes"));
    prop_assert!(
        p <= allowed(bytes.len()),
        "cifar: {p} bytes for {}",
        bytes.len()
    );
    match cifar {
        Ok(r) => {
            prop_assert_eq!(r.labels.len() * CIFAR10_RECORD_BYTES, bytes.len());
            prop_assert!(r.labels.iter().all(|&l| l < 10));
        }
        Err(e) => prop_assert!(
            matches!(e, PreprocessError::Malformed { .. }),
            "cifar: {e:?}"
        ),
    }
    Ok(())
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

/// A valid IDX image file of `count` images of `rows × cols` pixels.
fn idx_images_file(count: usize, rows: usize, cols: usize, seed: u8) -> Vec<u8> {
    let pixels = (0..count * rows * cols)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect();
    let mut out = Vec::new();
    write_idx_images(
        &mut out,
        &IdxImages {
            count,
            rows,
            cols,
            pixels,
        },
    )
    .unwrap();
    out
}

/// One mutation of a valid file: flip bytes, truncate, extend, or overwrite a 32-bit header field
/// (big-endian, as IDX stores them) with a chosen value.
#[derive(Clone, Debug)]
enum Mutation {
    Flip { at: usize, xor: u8 },
    Truncate { keep: usize },
    Extend { extra: Vec<u8> },
    Field { field: usize, value: u32 },
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let big = prop_oneof![
        Just(0u32),
        Just(1u32),
        Just(u32::MAX),
        Just(1u32 << 31),
        Just(60_000u32),
        any::<u32>()
    ];
    prop_oneof![
        (any::<usize>(), 1..=255u8).prop_map(|(at, xor)| Mutation::Flip { at, xor }),
        any::<usize>().prop_map(|keep| Mutation::Truncate { keep }),
        proptest::collection::vec(any::<u8>(), 1..8).prop_map(|extra| Mutation::Extend { extra }),
        (0..4usize, big).prop_map(|(field, value)| Mutation::Field { field, value }),
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
        Mutation::Field { field, value } if bytes.len() >= 4 * (field + 1) => {
            bytes[4 * field..4 * (field + 1)].copy_from_slice(&value.to_be_bytes());
        }
        _ => {}
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_bytes_give_a_typed_error_or_a_consistent_value(
        bytes in proptest::collection::vec(any::<u8>(), 0..600),
    ) {
        check_readers(&bytes)?;
    }

    #[test]
    fn mutated_idx_files_give_a_typed_error_or_a_consistent_value(
        count in 1..4usize, rows in 1..5usize, cols in 1..5usize, seed in any::<u8>(),
        labels_file in any::<bool>(),
        mutations in proptest::collection::vec(mutation(), 1..4),
    ) {
        let mut bytes = if labels_file {
            let mut out = Vec::new();
            write_idx_labels(&mut out, &vec![seed % 10; count]).unwrap();
            out
        } else {
            idx_images_file(count, rows, cols, seed)
        };
        for m in &mutations {
            apply(&mut bytes, m);
        }
        check_readers(&bytes)?;
        // The same bytes gzip-compressed, read as the file readers read them.
        let gz = gzip(&bytes);
        let (r, p) = peak(|| {
            read_idx_images(flate2::read::MultiGzDecoder::new(gz.as_slice()), "gz").map(|i| i.pixels.len())
        });
        prop_assert!(p <= allowed(bytes.len()), "gzip idx: {p} bytes for {}", bytes.len());
        if let Ok(n) = r {
            prop_assert_eq!(n + 16, bytes.len());
        }
    }

    #[test]
    fn mutated_cifar_batches_give_a_typed_error_or_a_consistent_value(
        records in 1..3usize,
        mutations in proptest::collection::vec(mutation(), 1..4),
    ) {
        let mut bytes: Vec<u8> = (0..records * CIFAR10_RECORD_BYTES)
            .map(|i| if i % CIFAR10_RECORD_BYTES == 0 { (i % 10) as u8 } else { i as u8 })
            .collect();
        for m in &mutations {
            apply(&mut bytes, m);
        }
        check_readers(&bytes)?;
    }
}

#[test]
fn a_header_claiming_2_pow_32_images_allocates_nothing_large() {
    // A 16-byte header claiming u32::MAX images of 28x28 (about 3.4 TB), then 10 pixels.
    let mut bytes = Vec::new();
    for v in [0x0000_0803u32, u32::MAX, 28, 28] {
        bytes.extend_from_slice(&v.to_be_bytes());
    }
    bytes.extend_from_slice(&[7; 10]);
    let (r, p) = peak(|| read_idx_images(bytes.as_slice(), "huge"));
    assert!(p <= allowed(bytes.len()), "{p} bytes allocated");
    match r {
        Err(PreprocessError::Malformed {
            kind:
                FormatError::Truncated {
                    expected_bytes,
                    got_bytes,
                },
            ..
        }) => {
            assert_eq!(expected_bytes, 16 + u64::from(u32::MAX) * 28 * 28);
            assert_eq!(got_bytes, 26);
        }
        other => panic!("expected a truncation error, got {other:?}"),
    }
    // The same for labels: 2^32 - 1 labels claimed, 3 present.
    let mut bytes = Vec::new();
    for v in [0x0000_0801u32, u32::MAX] {
        bytes.extend_from_slice(&v.to_be_bytes());
    }
    bytes.extend_from_slice(&[1, 2, 3]);
    let (r, p) = peak(|| read_idx_labels(bytes.as_slice(), "huge"));
    assert!(p <= allowed(bytes.len()), "{p} bytes allocated");
    assert!(matches!(
        r,
        Err(PreprocessError::Malformed {
            kind: FormatError::Truncated { .. },
            ..
        })
    ));
}

#[test]
fn sizes_whose_product_overflows_are_a_bad_header() {
    // u32::MAX³ is about 2^96: it must not wrap around to a small "valid" length.
    let mut bytes = Vec::new();
    for v in [0x0000_0803u32, u32::MAX, u32::MAX, u32::MAX] {
        bytes.extend_from_slice(&v.to_be_bytes());
    }
    let r = read_idx_images(bytes.as_slice(), "overflow");
    assert!(
        matches!(
            r,
            Err(PreprocessError::Malformed {
                kind: FormatError::BadHeader { .. },
                ..
            })
        ),
        "{r:?}"
    );
}

#[test]
fn a_hand_built_idx_value_with_overflowing_sizes_is_an_error() {
    let images = IdxImages {
        count: usize::MAX,
        rows: 2,
        cols: 2,
        pixels: vec![0; 4],
    };
    assert!(matches!(
        images.to_f32(),
        Err(PreprocessError::InvalidDataset { .. })
    ));
    assert!(matches!(
        write_idx_images(Vec::new(), &images),
        Err(PreprocessError::InvalidDataset { .. })
    ));
}

#[test]
fn nan_and_infinite_features_are_rejected_naming_sample_and_feature() {
    for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
        let mut x = ndarray::Array2::<f32>::zeros((3, 4));
        x[[2, 1]] = bad;
        let e = Dataset::new(x, vec![0, 1, 0], vec!["a".into(), "b".into()], None).unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.contains("feature 1 of sample 2"),
            "{bad}: the message should name the place: {msg}"
        );
    }
}
