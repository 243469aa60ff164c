//! End-to-end tests: run the `nn` binary on the shipped data with tiny budgets.

mod common;

use common::{nn, ok, run, temp_dir, text};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Tiny-budget flags shared by the training tests.
const TINY: &[&str] = &[
    "--limit",
    "600",
    "--test-limit",
    "200",
    "--hidden",
    "16",
    "--epochs",
    "1",
    "--batch-size",
    "64",
    "--threads",
    "1",
    "--lr",
    "0.01",
    "--schedule",
    "constant",
];

/// Runs, expecting failure with `code` and a message containing every part of `needles`.
fn fails(dir: &Path, args: &[&str], code: i32, needles: &[&str]) {
    let o = run(dir, args);
    let (out, err) = text(&o);
    assert_eq!(
        o.status.code(),
        Some(code),
        "nn {args:?}\nstdout:\n{out}\nstderr:\n{err}"
    );
    for n in needles {
        assert!(err.contains(n), "nn {args:?}: stderr lacks {n:?}:\n{err}");
    }
    assert!(
        !err.contains("panicked") && !err.contains("RUST_BACKTRACE"),
        "{err}"
    );
}

fn train_tiny(dir: &Path, out: &str, extra: &[&str]) -> String {
    let mut args = vec!["train", "--out", out];
    args.extend_from_slice(TINY);
    args.extend_from_slice(extra);
    ok(dir, &args)
}

#[test]
fn help_lists_every_command_with_examples() {
    let dir = temp_dir("help");
    let out = ok(&dir, &["--help"]);
    for c in [
        "train",
        "sanity",
        "lr-find",
        "init-stats",
        "search",
        "trial",
        "eval",
        "predict",
        "Examples:",
    ] {
        assert!(out.contains(c), "{c} missing from:\n{out}");
    }
    for c in [
        "train",
        "sanity",
        "lr-find",
        "init-stats",
        "search",
        "trial",
        "eval",
        "predict",
    ] {
        let sub = ok(&dir, &[c, "--help"]);
        assert!(
            sub.contains("Examples:") && sub.contains(&format!("nn {c}")),
            "{c}:\n{sub}"
        );
    }
}

#[test]
fn train_writes_a_complete_run_directory_then_eval_and_predict_use_it() {
    let dir = temp_dir("train");
    let out = train_tiny(&dir, "run", &[]);
    assert!(out.contains("test accuracy:"), "{out}");
    assert!(out.contains("epoch  1/1"), "{out}");
    let run = dir.join("run");
    for f in [
        "config.toml",
        "preprocess.json",
        "steps.csv",
        "epochs.csv",
        "metrics.jsonl",
        "final.safetensors",
        "best.safetensors",
        "checkpoint.safetensors",
        "summary.json",
        "loss.svg",
        "accuracy.svg",
        "lr.svg",
        "update-ratio.svg",
        "activations.svg",
        "report.html",
        "sanity.json",
    ] {
        assert!(run.join(f).is_file(), "{f} missing");
    }
    let html = std::fs::read_to_string(run.join("report.html")).unwrap();
    assert!(
        html.matches("<svg").count() >= 5,
        "report.html embeds the plots"
    );
    assert!(
        html.contains("Sanity checks") && html.contains("[PASS]"),
        "report.html shows the babysitting report"
    );
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(run.join("summary.json")).unwrap()).unwrap();
    let acc = summary["test_accuracy"].as_f64().unwrap();
    // 600 examples, one epoch of a 16-unit MLP: far above chance (10%).
    assert!(acc > 0.5, "test accuracy {acc}");

    let eval = ok(&dir, &["eval", "run", "--limit", "300"]);
    assert!(
        eval.contains("accuracy") && eval.contains("confusion matrix") && eval.contains("macro"),
        "{eval}"
    );
    let quiet = ok(&dir, &["--quiet", "eval", "run", "--limit", "300"]);
    let q: f64 = quiet.trim().parse().unwrap();
    assert!((0.0..=1.0).contains(&q));

    // An ensemble of two runs and test-time augmentation both run and report an accuracy.
    train_tiny(&dir, "run2", &["--seed", "7"]);
    let ens = ok(
        &dir,
        &[
            "eval",
            "run",
            "--ensemble",
            "run2",
            "--tta",
            "--limit",
            "100",
        ],
    );
    assert!(
        ens.contains("ensemble of 2") && ens.contains("test-time augmentation"),
        "{ens}"
    );

    let pred = ok(&dir, &["predict", "run", "--index", "0,1"]);
    assert_eq!(
        pred.lines().filter(|l| l.starts_with("image ")).count(),
        2,
        "{pred}"
    );
    assert!(
        pred.contains("(true: 7)"),
        "test image 0 of MNIST is a 7:\n{pred}"
    );

    // A checkpoint for another architecture is refused with one clear message.
    let mut args = vec![
        "train",
        "--out",
        "run3",
        "--init-from",
        "run/final.safetensors",
    ];
    args.extend_from_slice(TINY);
    args.extend_from_slice(&["--hidden", "8"]);
    fails(
        &dir,
        &args,
        1,
        &["does not fit", "linear(16)", "linear(8)", "hint:"],
    );
}

#[test]
fn json_and_quiet_modes_are_machine_readable() {
    let dir = temp_dir("json");
    let mut args = vec!["--json", "train", "--out", "run"];
    args.extend_from_slice(TINY);
    let out = ok(&dir, &args);
    let lines: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(lines.iter().any(|v| v["type"] == "epoch"));
    assert!(lines.last().unwrap()["summary"]["test_accuracy"].is_number());
    let mut args = vec!["--quiet", "train", "--out", "run2"];
    args.extend_from_slice(TINY);
    let out = ok(&dir, &args);
    let acc: f64 = out.trim().parse().unwrap();
    assert!((0.0..=1.0).contains(&acc));
}

#[test]
fn print_config_round_trips_and_flags_override_the_file() {
    let dir = temp_dir("config");
    let printed = ok(
        &dir,
        &[
            "train",
            "--print-config",
            "--hidden",
            "32,16",
            "--no-shuffle",
        ],
    );
    assert!(
        printed.contains("hidden = [\n    32,\n    16,\n]")
            || printed.contains("hidden = [32, 16]"),
        "{printed}"
    );
    assert!(printed.contains("shuffle = false"));
    std::fs::write(dir.join("c.toml"), &printed).unwrap();
    assert_eq!(
        ok(&dir, &["train", "--config", "c.toml", "--print-config"]),
        printed
    );
    let over = ok(
        &dir,
        &[
            "train",
            "--config",
            "c.toml",
            "--lr",
            "0.05",
            "--print-config",
        ],
    );
    assert!(
        over.contains("lr = 0.05") && over.contains("shuffle = false"),
        "{over}"
    );
}

#[test]
fn bad_input_gets_one_message_and_the_right_exit_code() {
    let dir = temp_dir("bad");
    fails(
        &dir,
        &["train", "--lr", "-0.1"],
        2,
        &["train.lr = -0.1", "positive"],
    );
    fails(
        &dir,
        &["train", "--batch-size", "0"],
        2,
        &["train.batch_size = 0"],
    );
    fails(
        &dir,
        &["train", "--dropout", "1"],
        2,
        &["model.dropout = 1", "[0, 1)"],
    );
    fails(
        &dir,
        &["train", "--dropout", "-0.5"],
        2,
        &["model.dropout = -0.5"],
    );
    fails(
        &dir,
        &["train", "--lrate", "0.1"],
        2,
        &["unexpected argument '--lrate'"],
    );
    fails(
        &dir,
        &["train", "--threads", "0"],
        2,
        &["threads", "at least 1"],
    );
    std::fs::write(dir.join("bad.toml"), "[train]\nlrr = 0.1\n").unwrap();
    fails(
        &dir,
        &["train", "--config", "bad.toml"],
        2,
        &["bad.toml", "line 2", "unknown field `lrr`"],
    );
    std::fs::write(dir.join("bad2.toml"), "[model]\nhidden = \"many\"\n").unwrap();
    fails(
        &dir,
        &["train", "--config", "bad2.toml"],
        2,
        &["bad2.toml", "line 2"],
    );
    fails(
        &dir,
        &["train", "--config", "missing.toml"],
        2,
        &["missing.toml", "cannot read"],
    );
    fails(
        &dir,
        &["train", "--data", "no/such/dir"],
        1,
        &["no/such/dir", "no such directory", "hint:"],
    );
    std::fs::create_dir_all(dir.join("empty")).unwrap();
    fails(
        &dir,
        &["train", "--data", "empty"],
        1,
        &["found neither", "hint:"],
    );
    // Malformed files: a wrong magic number, and an IDX file cut short.
    let bad = dir.join("malformed");
    std::fs::create_dir_all(&bad).unwrap();
    for f in [
        "train-images-idx3-ubyte",
        "train-labels-idx1-ubyte",
        "t10k-images-idx3-ubyte",
        "t10k-labels-idx1-ubyte",
    ] {
        std::fs::write(bad.join(f), [0u8, 0, 8, 1, 0, 0, 0, 5]).unwrap();
    }
    fails(
        &dir,
        &["train", "--data", "malformed"],
        1,
        &["train-images-idx3-ubyte", "magic"],
    );
    let cut = dir.join("truncated");
    std::fs::create_dir_all(&cut).unwrap();
    for f in ["train-images-idx3-ubyte", "t10k-images-idx3-ubyte"] {
        std::fs::write(
            cut.join(f),
            [0u8, 0, 8, 3, 0, 0, 0, 9, 0, 0, 0, 28, 0, 0, 0, 28, 1, 2, 3],
        )
        .unwrap();
    }
    for f in ["train-labels-idx1-ubyte", "t10k-labels-idx1-ubyte"] {
        std::fs::write(
            cut.join(f),
            [0u8, 0, 8, 1, 0, 0, 0, 9, 1, 2, 3, 4, 5, 6, 7, 8, 9],
        )
        .unwrap();
    }
    fails(&dir, &["train", "--data", "truncated"], 1, &["truncated"]);
    fails(&dir, &["eval", "no-model-here"], 2, &["does not exist"]);
    std::fs::write(dir.join("junk.safetensors"), b"not a model").unwrap();
    fails(
        &dir,
        &["eval", "junk.safetensors"],
        1,
        &["junk.safetensors", "does not fit"],
    );
    fails(
        &dir,
        &["train", "--resume", "empty"],
        2,
        &["not a resumable run directory"],
    );
    fails(&dir, &["search", "--collect", "empty"], 2, &["plan.json"]);
}

#[test]
fn init_stats_prints_the_table_and_writes_histograms() {
    let dir = temp_dir("init");
    let out = ok(
        &dir,
        &[
            "init-stats",
            "--init",
            "small,he",
            "--activation",
            "relu",
            "--layers",
            "4",
            "--width",
            "64",
            "--batch",
            "100",
            "--out",
            "is",
        ],
    );
    assert_eq!(out.matches("layer       mean").count(), 2, "{out}");
    for f in [
        "hist-relu-small.svg",
        "hist-relu-he.svg",
        "std.svg",
        "grad-std.svg",
        "report.html",
        "init-stats.json",
    ] {
        assert!(dir.join("is").join(f).is_file(), "{f}");
    }
    // He keeps the spread, 0.01·randn shrinks it: compare the last layer's std from the JSON.
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("is/init-stats.json")).unwrap()).unwrap();
    let last_std = |i: usize| json[i]["report"]["layers"][3]["std"].as_f64().unwrap();
    assert!(
        last_std(0) < 1e-3 && last_std(1) > 0.1,
        "{} {}",
        last_std(0),
        last_std(1)
    );
}

#[test]
fn sanity_reports_every_check_with_numbers() {
    let dir = temp_dir("sanity");
    let out = ok(
        &dir,
        &[
            "sanity",
            "--limit",
            "500",
            "--hidden",
            "16",
            "--threads",
            "1",
            "--out",
            "s",
        ],
    );
    assert_eq!(out.matches("[PASS]").count(), 4, "{out}");
    assert!(dir.join("s/sanity.json").is_file());
}

#[test]
fn search_plan_trials_in_parallel_processes_then_collect() {
    let dir = temp_dir("search");
    let mut args = vec!["search", "--plan", "plan", "--trials", "3"];
    args.extend_from_slice(TINY);
    ok(&dir, &args);
    let configs: Vec<PathBuf> = (0..3)
        .map(|i| dir.join(format!("plan/trial-{i:03}.toml")))
        .collect();
    assert!(configs.iter().all(|c| c.is_file()));
    // Three trial processes at once, as `xargs -P 3` would run them.
    let handles: Vec<_> = configs
        .iter()
        .map(|c| {
            nn().current_dir(&dir)
                .args(["--quiet", "--threads", "1", "trial"])
                .arg(c)
                .spawn()
                .unwrap()
        })
        .collect();
    for mut h in handles {
        assert!(h.wait().unwrap().success());
    }
    let table = ok(&dir, &["search", "--collect", "plan"]);
    let rows: Vec<&str> = table.lines().filter(|l| l.contains("trial-0")).collect();
    assert_eq!(rows.len(), 3, "{table}");
    assert!(rows[0].trim_start().starts_with("1 "), "{table}");
    assert!(
        !table.contains("not finished") && !table.contains("failed"),
        "{table}"
    );
    assert!(
        table.contains("train.lr") && table.contains("3/3 trials finished"),
        "{table}"
    );
}

#[test]
fn ctrl_c_keeps_the_last_epoch_and_resume_finishes_the_run() {
    let dir = temp_dir("interrupt");
    let child = nn()
        .current_dir(&dir)
        .args([
            "train",
            "--out",
            "run",
            "--no-sanity",
            "--limit",
            "4000",
            "--test-limit",
            "200",
            "--hidden",
            "128",
            "--epochs",
            "4",
            "--threads",
            "1",
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let epochs_csv = dir.join("run/epochs.csv");
    let start = std::time::Instant::now();
    while std::fs::read_to_string(&epochs_csv).map_or(0, |t| t.lines().count()) < 2 {
        assert!(
            start.elapsed().as_secs() < 120,
            "the first epoch never finished"
        );
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    let kill = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{err}");
    assert!(
        err.contains("nn train --resume run") && !err.contains("panicked"),
        "{err}"
    );
    assert!(
        dir.join("run/checkpoint.safetensors").is_file()
            && dir.join("run/final.safetensors").is_file()
    );
    let done_before: usize = std::fs::read_to_string(&epochs_csv)
        .unwrap()
        .lines()
        .count()
        - 1;
    assert!(
        (1..4).contains(&done_before),
        "{done_before} epochs before the interrupt"
    );

    let resumed = ok(&dir, &["train", "--resume", "run"]);
    assert!(
        resumed.contains(&format!("resuming after epoch {done_before}")),
        "{resumed}"
    );
    let epochs: Vec<String> = std::fs::read_to_string(&epochs_csv)
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| l.split(',').next().unwrap().to_string())
        .collect();
    assert_eq!(epochs, ["1", "2", "3", "4"], "every epoch logged once");
}
