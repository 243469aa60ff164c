//! End-to-end checks of `nn train`'s memory use and of `--target-accuracy`, on the shipped
//! MNIST subset.

mod common;

use common::{ok, run, temp_dir, text};
use std::path::Path;

/// The shipped subset (data/mnist-small): 10 000 training and 2 000 test images of 28 × 28
/// pixels, held as f32: (10 000 + 2 000) · 784 · 4 bytes.
const SHIPPED_F32_BYTES: u64 = 12_000 * 784 * 4;

/// The allowance above the data itself (issue #8: "no more than the data set in f32 plus 50 MB").
const ALLOWANCE_BYTES: u64 = 50_000_000;

fn summary(run_dir: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(run_dir.join("summary.json")).unwrap()).unwrap()
}

#[test]
fn peak_memory_of_a_run_is_at_most_the_data_in_f32_plus_50_mb() {
    let dir = temp_dir("memory-peak");
    // The default model (784-512-256-10 with batch norm) and the sanity checks, as users run it.
    ok(&dir, &["train", "--epochs", "1", "--quiet", "--out", "run"]);
    let s = summary(&dir.join("run"));
    let field = s
        .get("peak_rss_bytes")
        .unwrap_or_else(|| panic!("summary.json has no peak_rss_bytes: {s}"));
    if !cfg!(target_os = "linux") {
        assert!(field.is_null(), "{field}");
        return;
    }
    let peak = field
        .as_u64()
        .unwrap_or_else(|| panic!("peak_rss_bytes is not a byte count: {field}"));
    // Loading alone holds the data; anything less is not a measurement of this process.
    assert!(peak > SHIPPED_F32_BYTES, "peak {peak} B");
    assert!(
        peak <= SHIPPED_F32_BYTES + ALLOWANCE_BYTES,
        "peak RSS {:.1} MB exceeds the data in f32 ({:.1} MB) + 50 MB",
        peak as f64 / 1e6,
        SHIPPED_F32_BYTES as f64 / 1e6
    );
}

#[test]
fn target_accuracy_stops_the_run_and_records_the_time_to_reach_it() {
    let dir = temp_dir("memory-target");
    let args = [
        "train",
        "--hidden",
        "64",
        "--epochs",
        "6",
        "--target-accuracy",
        "0.85",
        "--no-sanity",
        "--quiet",
        "--out",
        "run",
    ];
    ok(&dir, &args);
    let run_dir = dir.join("run");
    let s = summary(&run_dir);
    assert_eq!(s["target_accuracy"].as_f64(), Some(0.85), "{s}");
    let epoch = s["target_epoch"]
        .as_u64()
        .unwrap_or_else(|| panic!("0.85 not reached in 6 epochs: {s}"));
    assert_eq!(
        s["epochs"].as_u64(),
        Some(epoch),
        "the run stops there: {s}"
    );
    let t = s["time_to_target_seconds"].as_f64().unwrap();
    let total = s["seconds"].as_f64().unwrap();
    assert!(t > 0.0 && t <= total, "time to target {t} s of {total} s");
    // Every epoch logs its test accuracy; only the last one reaches the target.
    let csv = std::fs::read_to_string(run_dir.join("epochs.csv")).unwrap();
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let col = header.iter().position(|h| *h == "test_accuracy").unwrap();
    assert_eq!(header.last(), Some(&"seconds"), "{csv}");
    let acc: Vec<f64> = lines
        .map(|l| l.split(',').nth(col).unwrap().parse().unwrap())
        .collect();
    assert_eq!(acc.len() as u64, epoch, "{csv}");
    let (last, before) = acc.split_last().unwrap();
    assert!(*last >= 0.85, "{csv}");
    assert!(before.iter().all(|&a| a < 0.85), "{csv}");
    let jsonl = std::fs::read_to_string(run_dir.join("metrics.jsonl")).unwrap();
    let logged = jsonl
        .lines()
        .filter(|l| l.contains("\"type\":\"epoch\"") && l.contains("\"test_accuracy\""))
        .count();
    assert_eq!(logged as u64, epoch, "{jsonl}");
}

#[test]
fn a_run_without_a_target_records_none() {
    let dir = temp_dir("memory-no-target");
    ok(
        &dir,
        &[
            "train",
            "--limit",
            "600",
            "--hidden",
            "16",
            "--epochs",
            "1",
            "--no-sanity",
            "--quiet",
            "--out",
            "run",
        ],
    );
    let s = summary(&dir.join("run"));
    for key in ["target_accuracy", "target_epoch", "time_to_target_seconds"] {
        assert!(s[key].is_null(), "{key}: {s}");
    }
    let csv = std::fs::read_to_string(dir.join("run/epochs.csv")).unwrap();
    let row: Vec<&str> = csv.lines().nth(1).unwrap().split(',').collect();
    assert_eq!(
        row[row.len() - 2],
        "",
        "no test accuracy without a target: {csv}"
    );
}

#[test]
fn target_accuracy_outside_0_1_is_a_config_error_naming_the_key() {
    let dir = temp_dir("memory-bad-target");
    for bad in ["0", "1.5", "-0.2", "NaN"] {
        let o = run(&dir, &["train", "--target-accuracy", bad, "--out", "run"]);
        let (out, err) = text(&o);
        assert_eq!(o.status.code(), Some(2), "{bad}: {out}{err}");
        assert!(err.contains("train.target_accuracy"), "{bad}: {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
    // 1 (every test image right) is a valid, if demanding, target.
    let o = run(&dir, &["train", "--target-accuracy", "1", "--print-config"]);
    assert_eq!(o.status.code(), Some(0), "{:?}", text(&o));
    assert!(text(&o).0.contains("target_accuracy = 1"), "{:?}", text(&o));
}
