//! End-to-end tests of data paths `tests/cli.rs` does not reach: CIFAR-10 binary batches,
//! `nn predict --idx-file` and the `--init-from` warm start.

mod common;

use common::{ok, run, temp_dir, text};
use std::path::Path;

/// Runs, expecting a non-zero exit code and a message containing every part of `needles`.
fn fails(dir: &Path, args: &[&str], needles: &[&str]) {
    let o = run(dir, args);
    let (out, err) = text(&o);
    assert!(
        matches!(o.status.code(), Some(c) if c != 0),
        "nn {args:?} should fail\nstdout:\n{out}\nstderr:\n{err}"
    );
    for n in needles {
        assert!(err.contains(n), "nn {args:?}: stderr lacks {n:?}:\n{err}");
    }
    assert!(
        !err.contains("panicked") && !err.contains("RUST_BACKTRACE"),
        "{err}"
    );
}

/// Small MLP flags shared by the MNIST-based tests (no sanity checks: they are tested in cli.rs).
const TINY: &[&str] = &[
    "--limit",
    "600",
    "--test-limit",
    "200",
    "--epochs",
    "1",
    "--batch-size",
    "64",
    "--threads",
    "1",
    "--schedule",
    "constant",
    "--no-sanity",
];

/// The "test accuracy: 12.34%" line of `nn train`, as a fraction.
fn test_accuracy(out: &str) -> f64 {
    let line = out
        .lines()
        .find(|l| l.starts_with("test accuracy:"))
        .unwrap_or_else(|| panic!("no test accuracy line in:\n{out}"));
    let pct = line["test accuracy:".len()..]
        .trim()
        .split('%')
        .next()
        .unwrap();
    pct.trim().parse::<f64>().unwrap() / 100.0
}

/// One CIFAR-10 binary batch of `n` records: label `i % 10`, every channel a label-dependent
/// brightness (R rises with the label, G falls, B alternates) plus a little deterministic noise.
fn cifar_batch(n: usize, seed: u32) -> Vec<u8> {
    let mut state = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
    let mut noise = move || {
        state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        (state >> 24) as u8 % 16
    };
    let mut bytes = Vec::with_capacity(n * 3073);
    for i in 0..n {
        let label = (i % 10) as u8;
        bytes.push(label);
        let base = [
            20 * label,
            200 - 20 * label,
            if label.is_multiple_of(2) { 30 } else { 200 },
        ];
        for b in base {
            for _ in 0..32 * 32 {
                bytes.push(b + noise());
            }
        }
    }
    bytes
}

/// A CIFAR-10 directory with `n` records per batch file.
fn write_cifar_dir(dir: &Path, n: usize) {
    std::fs::create_dir_all(dir).unwrap();
    for i in 1..=5u32 {
        std::fs::write(dir.join(format!("data_batch_{i}.bin")), cifar_batch(n, i)).unwrap();
    }
    std::fs::write(dir.join("test_batch.bin"), cifar_batch(n, 99)).unwrap();
}

const CIFAR_FLAGS: &[&str] = &[
    "--hidden",
    "16",
    "--epochs",
    "4",
    "--batch-size",
    "32",
    "--threads",
    "1",
    "--lr",
    "0.01",
    "--schedule",
    "constant",
    "--no-sanity",
];

#[test]
fn cifar10_directory_is_detected_trained_on_and_evaluated() {
    let dir = temp_dir("cifar");
    write_cifar_dir(&dir.join("cifar"), 30);
    let mut args = vec!["train", "--data", "cifar", "--out", "run"];
    args.extend_from_slice(CIFAR_FLAGS);
    let out = ok(&dir, &args);
    let acc = test_accuracy(&out);
    assert!(
        acc > 0.3,
        "the classes differ in brightness per channel; chance is 0.1, got {acc}:\n{out}"
    );
    let cfg = std::fs::read_to_string(dir.join("run/config.toml")).unwrap();
    assert!(cfg.contains("cifar"), "{cfg}");
    let model = nn_cli::commands::model::load(&dir.join("run")).unwrap();
    assert_eq!(model.net.input_dim(), 3072);

    let eval = ok(&dir, &["eval", "run"]);
    assert!(eval.contains("on 30 test examples"), "{eval}");
    let line = eval
        .lines()
        .find(|l| l.starts_with("accuracy "))
        .unwrap_or_else(|| panic!("no accuracy line:\n{eval}"));
    let eval_acc: f64 = line["accuracy ".len()..].trim().parse().unwrap();
    assert!(
        (eval_acc - acc).abs() < 1e-3,
        "eval {eval_acc} vs train {acc}"
    );
    // CIFAR-10 class names appear in the per-class table.
    assert!(
        eval.contains("airplane") && eval.contains("truck"),
        "{eval}"
    );

    // Naming the format explicitly works on the same directory.
    let mut args = vec![
        "train", "--data", "cifar", "--format", "cifar10", "--out", "run2",
    ];
    args.extend_from_slice(CIFAR_FLAGS);
    let out2 = ok(&dir, &args);
    assert!((test_accuracy(&out2) - acc).abs() < 1e-9, "{out2}");
}

#[test]
fn truncated_cifar_batch_fails_naming_the_file() {
    let dir = temp_dir("cifar-trunc");
    write_cifar_dir(&dir.join("cifar"), 20);
    let bad = dir.join("cifar/data_batch_3.bin");
    let mut bytes = std::fs::read(&bad).unwrap();
    bytes.truncate(bytes.len() - 100);
    std::fs::write(&bad, bytes).unwrap();
    let mut args = vec!["train", "--data", "cifar", "--out", "run"];
    args.extend_from_slice(CIFAR_FLAGS);
    fails(&dir, &args, &["data_batch_3.bin", "truncated"]);
    assert!(!dir.join("run/final.safetensors").exists());

    // A missing batch file is named too.
    std::fs::remove_file(&bad).unwrap();
    fails(&dir, &args, &["data_batch_3.bin"]);
}

/// Writes `count` IDX images of `rows × cols`.
fn write_idx(path: &Path, count: usize, rows: usize, cols: usize, pixels: Vec<u8>) {
    let images = nn_preprocess::readers::idx::IdxImages {
        count,
        rows,
        cols,
        pixels,
    };
    let f = std::fs::File::create(path).unwrap();
    nn_preprocess::readers::idx::write_idx_images(f, &images).unwrap();
}

#[test]
fn predict_classifies_every_image_of_an_idx_file_and_rejects_wrong_sizes() {
    let dir = temp_dir("predict-idx");
    let mut args = vec!["train", "--out", "run", "--lr", "0.01", "--hidden", "16"];
    args.extend_from_slice(TINY);
    ok(&dir, &args);

    // The first 5 test images of the shipped set (labels 7, 2, 1, 0, 4).
    let shipped = nn_cli::data::shipped_dir();
    let gz = shipped.join("t10k-images-idx3-ubyte.gz");
    let raw = shipped.join("t10k-images-idx3-ubyte");
    let src = if gz.is_file() { gz } else { raw };
    let all = nn_preprocess::readers::idx::read_idx_images_file(&src).unwrap();
    let n = 5;
    let px = all.rows * all.cols;
    write_idx(
        &dir.join("five.idx"),
        n,
        all.rows,
        all.cols,
        all.pixels[..n * px].to_vec(),
    );
    let out = ok(
        &dir,
        &["predict", "run", "--idx-file", "five.idx", "--top", "2"],
    );
    let lines: Vec<&str> = out.lines().filter(|l| l.starts_with("image ")).collect();
    assert_eq!(lines.len(), n, "{out}");
    for (i, l) in lines.iter().enumerate() {
        assert!(l.starts_with(&format!("image {i}: ")), "{l}");
        // Two "class probability" pairs, each probability in [0, 1].
        let inside = l.split('[').nth(1).unwrap().trim_end_matches(']');
        let probs: Vec<f64> = inside
            .split(", ")
            .map(|p| p.rsplit(' ').next().unwrap().parse().unwrap())
            .collect();
        assert_eq!(probs.len(), 2, "{l}");
        assert!(probs.iter().all(|p| (0.0..=1.0).contains(p)), "{l}");
        assert!(probs[0] >= probs[1], "top classes must be sorted: {l}");
    }

    // The same images via --index agree with the file (same pixels, same model).
    let by_index = ok(
        &dir,
        &["predict", "run", "--index", "0,1,2,3,4", "--top", "2"],
    );
    let strip = |l: &str| {
        let (head, tail) = l.split_once(" (true:").map_or((l, ""), |(h, t)| (h, t));
        let tail = tail.split_once(')').map_or("", |(_, t)| t);
        format!("{head}{tail}")
    };
    let idx_lines: Vec<String> = by_index
        .lines()
        .filter(|l| l.starts_with("image "))
        .map(strip)
        .collect();
    let file_lines: Vec<String> = lines.iter().map(|l| strip(l)).collect();
    assert_eq!(idx_lines, file_lines, "{by_index}\n---\n{out}");

    // JSON mode gives a full probability vector per image.
    let json = ok(
        &dir,
        &["--json", "predict", "run", "--idx-file", "five.idx"],
    );
    let rows: Vec<serde_json::Value> = json
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .filter(|v: &serde_json::Value| v.get("predicted").is_some())
        .collect();
    assert_eq!(rows.len(), n, "{json}");
    for r in &rows {
        let p: Vec<f64> = r["probabilities"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        assert_eq!(p.len(), 10);
        assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-4, "{r}");
        let best = (0..10).max_by(|&a, &b| p[a].total_cmp(&p[b])).unwrap();
        assert_eq!(r["predicted"].as_u64(), Some(best as u64), "{r}");
    }

    // 8×8 images for a 784-input model: a clear error, not a panic.
    write_idx(&dir.join("small.idx"), 3, 8, 8, vec![128; 3 * 64]);
    fails(
        &dir,
        &["predict", "run", "--idx-file", "small.idx"],
        &["small.idx", "8x8", "784"],
    );
    let o = run(&dir, &["predict", "run", "--idx-file", "small.idx"]);
    let (_, err) = text(&o);
    assert!(
        !err.contains("--init-from"),
        "predict has no --init-from:\n{err}"
    );
    // Not an IDX image file at all.
    std::fs::write(dir.join("junk.idx"), b"not an idx file").unwrap();
    fails(
        &dir,
        &["predict", "run", "--idx-file", "junk.idx"],
        &["junk.idx"],
    );
}

/// Class probabilities of the first 200 shipped test images under the model in `run`.
fn probabilities(run: &Path) -> ndarray::Array2<f32> {
    let model = nn_cli::commands::model::load(run).unwrap();
    let (_, test) =
        nn_preprocess::load_idx_dir(&nn_cli::data::shipped_dir(), nn_preprocess::IdxSet::Mnist)
            .unwrap();
    let test = test.head(200).unwrap();
    model.probabilities(test.features()).unwrap()
}

fn max_abs_diff(a: &ndarray::Array2<f32>, b: &ndarray::Array2<f32>) -> f32 {
    assert_eq!(a.dim(), b.dim());
    a.iter()
        .zip(b.iter())
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

#[test]
fn init_from_starts_from_the_saved_weights() {
    let dir = temp_dir("init-from");
    // No batch norm: its running statistics would move even with a vanishing learning rate.
    let train = |out: &str, extra: &[&str]| {
        let mut args = vec!["train", "--out", out, "--no-batch-norm", "--hidden", "16"];
        args.extend_from_slice(TINY);
        args.extend_from_slice(extra);
        ok(&dir, &args)
    };
    train("a", &["--lr", "0.01"]);
    // The validation requires lr > 0 and epochs >= 1, so B and the control C take one epoch
    // at a learning rate far too small to change an f32 weight of size ~1e-2.
    train(
        "b",
        &["--lr", "1e-30", "--init-from", "a/final.safetensors"],
    );
    train("c", &["--lr", "1e-30"]);
    let pa = probabilities(&dir.join("a"));
    let pb = probabilities(&dir.join("b"));
    let pc = probabilities(&dir.join("c"));
    let ab = max_abs_diff(&pa, &pb);
    let ac = max_abs_diff(&pa, &pc);
    assert!(ab < 1e-5, "B must start from A's weights: max diff {ab}");
    assert!(
        ac > 1e-2,
        "control: a fresh start differs from A (max diff {ac})"
    );

    // A checkpoint of another shape is refused with both shapes named.
    let mut args = vec![
        "train",
        "--out",
        "d",
        "--no-batch-norm",
        "--init-from",
        "a/final.safetensors",
    ];
    args.extend_from_slice(TINY);
    args.extend_from_slice(&["--hidden", "24"]);
    fails(
        &dir,
        &args,
        &["a/final.safetensors", "linear(16)", "linear(24)"],
    );
}

#[test]
fn divergence_stops_the_run_with_a_diagnosis_and_keeps_finite_weights() {
    let dir = temp_dir("diverge");
    let mut args = vec!["train", "--out", "run", "--lr", "1e4"];
    args.extend_from_slice(TINY);
    let o = run(&dir, &args);
    let (out, err) = text(&o);
    let all = format!("{out}{err}");
    assert!(all.contains("Diverged"), "{all}");
    assert!(
        all.contains("learning rate"),
        "no diagnosis printed:\n{all}"
    );
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("run/summary.json")).unwrap()).unwrap();
    let diagnosis = summary["diagnosis"].as_str().unwrap_or_default();
    assert!(diagnosis.contains("learning rate"), "{summary}");
    // The saved weights are the last good ones, not NaN.
    let net = nn_core::Network::<f32>::load(dir.join("run/final.safetensors")).unwrap();
    let mut finite = true;
    net.visit_tensors(|t| finite &= t.value.iter().all(|v| v.is_finite()));
    assert!(finite);
}

#[test]
fn predict_names_classes_of_the_data_set_the_model_was_trained_on() {
    let dir = temp_dir("predict-names");
    // The shipped MNIST files under a folder named like Fashion-MNIST: auto-detection reads the
    // path, so this model is a "Fashion-MNIST" model whose classes have clothing names.
    let fashion = dir.join("fashion-small");
    std::fs::create_dir_all(&fashion).unwrap();
    let shipped = nn_cli::data::shipped_dir();
    for entry in std::fs::read_dir(&shipped).unwrap() {
        let path = entry.unwrap().path();
        if path.to_string_lossy().contains("idx") {
            std::fs::copy(&path, fashion.join(path.file_name().unwrap())).unwrap();
        }
    }
    let mut args = vec![
        "train",
        "--out",
        "run",
        "--data",
        "fashion-small",
        "--hidden",
        "16",
    ];
    args.extend_from_slice(TINY);
    ok(&dir, &args);
    let all = nn_preprocess::readers::idx::read_idx_images_file(
        &fashion.join("t10k-images-idx3-ubyte.gz"),
    )
    .unwrap();
    let px = all.rows * all.cols;
    write_idx(
        &dir.join("two.idx"),
        2,
        all.rows,
        all.cols,
        all.pixels[..2 * px].to_vec(),
    );
    let out = ok(
        &dir,
        &["predict", "run", "--idx-file", "two.idx", "--top", "10"],
    );
    assert!(
        out.contains("T-shirt/top") && out.contains("Ankle boot"),
        "{out}"
    );
}
