//! Readers: round trips of files written here in the real formats, and every malformed-file case.

mod common;

use common::temp_dir;
use flate2::write::GzEncoder;
use nn_preprocess::readers::cifar::{load_cifar10_dir, read_cifar10_batch, CIFAR10_RECORD_BYTES};
use nn_preprocess::readers::idx::{
    load_idx_dir, read_idx_images, read_idx_labels, write_idx_images, write_idx_labels, IdxImages,
    IdxSet,
};
use nn_preprocess::{FormatError, Layout, PreprocessError};
use std::io::Write;
use std::path::Path;

fn images(count: usize, rows: usize, cols: usize, seed: u8) -> IdxImages {
    let pixels = (0..count * rows * cols)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect();
    IdxImages {
        count,
        rows,
        cols,
        pixels,
    }
}

fn image_bytes(img: &IdxImages) -> Vec<u8> {
    let mut v = Vec::new();
    write_idx_images(&mut v, img).unwrap();
    v
}

fn label_bytes(labels: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    write_idx_labels(&mut v, labels).unwrap();
    v
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

fn write_idx_dir(
    dir: &Path,
    gz: bool,
    dotted: bool,
    train: (&IdxImages, &[u8]),
    test: (&IdxImages, &[u8]),
) {
    for (stem, (img, lbl)) in [("train", train), ("t10k", test)] {
        let sep = if dotted { "." } else { "-" };
        let ext = if gz { ".gz" } else { "" };
        let (ib, lb) = (image_bytes(img), label_bytes(lbl));
        let (ib, lb) = if gz { (gzip(&ib), gzip(&lb)) } else { (ib, lb) };
        std::fs::write(dir.join(format!("{stem}-images{sep}idx3-ubyte{ext}")), ib).unwrap();
        std::fs::write(dir.join(format!("{stem}-labels{sep}idx1-ubyte{ext}")), lb).unwrap();
    }
}

/// The format error inside a `Malformed`, or a panic naming what came instead.
fn kind(r: Result<impl std::fmt::Debug, PreprocessError>) -> (String, FormatError) {
    match r {
        Err(PreprocessError::Malformed { file, kind }) => (file, kind),
        other => panic!("expected Malformed, got {other:?}"),
    }
}

#[test]
fn idx_directories_round_trip_raw_gzip_and_dotted_names() {
    let train = images(12, 3, 4, 1);
    let test = images(5, 3, 4, 2);
    let train_labels: Vec<u8> = (0..12).map(|i| (i % 10) as u8).collect();
    let test_labels = vec![9u8, 8, 7, 6, 5];
    for (gz, dotted) in [(false, false), (true, false), (false, true), (true, true)] {
        let dir = temp_dir(&format!("idx-{gz}-{dotted}"));
        write_idx_dir(
            &dir,
            gz,
            dotted,
            (&train, &train_labels),
            (&test, &test_labels),
        );
        let (tr, te) = load_idx_dir(&dir, IdxSet::FashionMnist).unwrap();
        assert_eq!((tr.len(), tr.n_features()), (12, 12));
        assert_eq!(tr.labels(), &train_labels[..]);
        assert_eq!(te.labels(), &test_labels[..]);
        assert_eq!(tr.class_names()[9], "Ankle boot");
        let shape = tr.image_shape().unwrap();
        assert_eq!((shape.channels, shape.height, shape.width), (1, 3, 4));
        // Pixels are p / 255.
        assert_eq!(tr.features()[[1, 0]], f32::from(train.pixels[12]) / 255.0);
        assert!(tr.features().iter().all(|&v| (0.0..=1.0).contains(&v)));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

#[test]
fn idx_bad_magic() {
    let mut b = image_bytes(&images(2, 2, 2, 0));
    b[3] = 0x01;
    let (file, k) = kind(read_idx_images(b.as_slice(), "imgs"));
    assert_eq!(file, "imgs");
    assert_eq!(
        k,
        FormatError::BadMagic {
            expected: 0x803,
            got: 0x801
        }
    );
    // A label file passed as images (and vice versa) is caught by the magic number.
    let l = label_bytes(&[1, 2]);
    assert!(matches!(
        kind(read_idx_images(l.as_slice(), "x")).1,
        FormatError::BadMagic { .. }
    ));
    let i = image_bytes(&images(2, 2, 2, 0));
    assert!(matches!(
        kind(read_idx_labels(i.as_slice(), "x")).1,
        FormatError::BadMagic { .. }
    ));
}

#[test]
fn idx_truncated_payload_and_header() {
    let b = image_bytes(&images(3, 2, 2, 0));
    let (_, k) = kind(read_idx_images(&b[..b.len() - 1], "imgs"));
    assert_eq!(
        k,
        FormatError::Truncated {
            expected_bytes: 28,
            got_bytes: 27
        }
    );
    let (_, k) = kind(read_idx_images(&b[..10], "imgs"));
    assert_eq!(
        k,
        FormatError::Truncated {
            expected_bytes: 16,
            got_bytes: 10
        }
    );
    let l = label_bytes(&[1, 2, 3]);
    assert!(matches!(
        kind(read_idx_labels(&l[..9], "l")).1,
        FormatError::Truncated { .. }
    ));
    // Truncated inside a gzip stream (the decompressor hits the end early).
    let gz = gzip(&b);
    let dir = temp_dir("idx-trunc-gz");
    let path = dir.join("train-images-idx3-ubyte.gz");
    std::fs::write(&path, &gz[..gz.len() / 2]).unwrap();
    let (file, k) = kind(nn_preprocess::readers::idx::read_idx_images_file(&path));
    assert!(file.ends_with("train-images-idx3-ubyte.gz"));
    assert!(matches!(k, FormatError::Truncated { .. }), "{k:?}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn idx_huge_count_is_reported_without_allocating_it() {
    // The header claims 4 billion 28×28 images (≈ 3.4 TB); only 100 bytes follow.
    let mut b = Vec::new();
    for v in [0x803u32, u32::MAX, 28, 28] {
        b.extend(v.to_be_bytes());
    }
    b.extend([0u8; 100]);
    let (_, k) = kind(read_idx_images(b.as_slice(), "huge"));
    assert_eq!(
        k,
        FormatError::Truncated {
            expected_bytes: 16 + u64::from(u32::MAX) * 784,
            got_bytes: 116
        }
    );
}

#[test]
fn idx_trailing_data_and_zero_sizes() {
    let mut b = image_bytes(&images(1, 2, 2, 0));
    b.push(7);
    assert_eq!(
        kind(read_idx_images(b.as_slice(), "t")).1,
        FormatError::TrailingData { expected_bytes: 20 }
    );
    let z = image_bytes(&images(1, 0, 2, 0));
    assert!(matches!(
        kind(read_idx_images(z.as_slice(), "z")).1,
        FormatError::BadHeader { .. }
    ));
    let e = label_bytes(&[]);
    assert!(matches!(
        kind(read_idx_labels(e.as_slice(), "e")).1,
        FormatError::BadHeader { .. }
    ));
}

#[test]
fn idx_count_mismatch_and_label_out_of_range() {
    let img = images(3, 2, 2, 0);
    let dir = temp_dir("idx-mismatch");
    write_idx_dir(&dir, false, false, (&img, &[1, 2]), (&img, &[1, 2, 3]));
    let (file, k) = kind(load_idx_dir(&dir, IdxSet::Mnist));
    assert!(file.ends_with("train-labels-idx1-ubyte"), "{file}");
    assert_eq!(
        k,
        FormatError::CountMismatch {
            images: 3,
            labels: 2
        }
    );
    write_idx_dir(&dir, false, false, (&img, &[1, 2, 3]), (&img, &[1, 10, 3]));
    let (file, k) = kind(load_idx_dir(&dir, IdxSet::Mnist));
    assert!(file.ends_with("t10k-labels-idx1-ubyte"), "{file}");
    assert_eq!(
        k,
        FormatError::LabelOutOfRange {
            index: 1,
            label: 10,
            classes: 10
        }
    );
    std::fs::remove_file(dir.join("t10k-labels-idx1-ubyte")).unwrap();
    assert!(matches!(
        load_idx_dir(&dir, IdxSet::Mnist),
        Err(PreprocessError::MissingFile { .. })
    ));
    std::fs::remove_dir_all(&dir).unwrap();
}

fn cifar_bytes(labels: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    for (i, &l) in labels.iter().enumerate() {
        v.push(l);
        v.extend((0..3072).map(|j| ((i * 7 + j) % 256) as u8));
    }
    v
}

#[test]
fn cifar_directory_round_trips() {
    let dir = temp_dir("cifar");
    for i in 1..=5 {
        std::fs::write(
            dir.join(format!("data_batch_{i}.bin")),
            cifar_bytes(&[i as u8, 9]),
        )
        .unwrap();
    }
    // The test batch is gzip-compressed to check detection by magic bytes.
    std::fs::write(dir.join("test_batch.bin"), gzip(&cifar_bytes(&[3, 4, 5]))).unwrap();
    let (train, test) = load_cifar10_dir(&dir).unwrap();
    assert_eq!((train.len(), test.len()), (10, 3));
    assert_eq!(train.labels(), &[1, 9, 2, 9, 3, 9, 4, 9, 5, 9]);
    assert_eq!(test.class_names()[3], "cat");
    let shape = train.image_shape().unwrap();
    assert_eq!(
        (shape.channels, shape.height, shape.width, shape.layout),
        (3, 32, 32, Layout::Nchw)
    );
    // Record 1 of the first batch: pixel byte j = (7 + j) mod 256; channel 2 (blue), row 1, col 3 is j = 2048 + 35.
    let j = 2048 + 32 + 3;
    assert_eq!(train.features()[[1, j]], ((7 + j) % 256) as f32 / 255.0);
    let nhwc = train.to_layout(Layout::Nhwc).unwrap();
    assert_eq!(
        nhwc.features()[[1, (32 + 3) * 3 + 2]],
        train.features()[[1, j]]
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn cifar_malformed_batches() {
    let b = cifar_bytes(&[1, 2]);
    let (_, k) = kind(read_cifar10_batch(&b[..b.len() - 5], "batch"));
    assert_eq!(
        k,
        FormatError::Truncated {
            expected_bytes: 2 * CIFAR10_RECORD_BYTES as u64,
            got_bytes: 2 * 3073 - 5
        }
    );
    let (_, k) = kind(read_cifar10_batch(&[][..], "empty"));
    assert!(matches!(k, FormatError::Truncated { got_bytes: 0, .. }));
    let bad = cifar_bytes(&[1, 200]);
    let (file, k) = kind(read_cifar10_batch(bad.as_slice(), "data_batch_1.bin"));
    assert_eq!(file, "data_batch_1.bin");
    assert_eq!(
        k,
        FormatError::LabelOutOfRange {
            index: 1,
            label: 200,
            classes: 10
        }
    );
    let dir = temp_dir("cifar-missing");
    assert!(matches!(
        load_cifar10_dir(&dir),
        Err(PreprocessError::MissingFile { .. })
    ));
    std::fs::remove_dir_all(&dir).unwrap();
}
