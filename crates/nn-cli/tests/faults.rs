//! Faults, shapes and reproducibility of `nn train`, end to end: SIGKILL at seeded moments during
//! training and saving, an unwritable run directory, a checkpoint write that fails mid-run,
//! divergence, data that does not fit, and bit-identical reruns.

mod common;

use common::{nn, ok, run, temp_dir, text};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The run every fault test compares with: small enough for CI, long enough (several epochs of
/// a few tens of milliseconds each) that kills land at different moments.
const RUN: &[&str] = &[
    "--no-sanity",
    "--limit",
    "1500",
    "--test-limit",
    "100",
    "--hidden",
    "32",
    "--epochs",
    "6",
    "--batch-size",
    "50",
    "--threads",
    "1",
    "--lr",
    "0.01",
    "--schedule",
    "constant",
];

/// `nn train --out out` with [`RUN`], where each flag of `extra` replaces the same flag of [`RUN`].
fn train_args<'a>(out: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec!["train", "--out", out];
    let mut i = 0;
    while i < RUN.len() {
        let flag = RUN[i];
        let takes_value = RUN.get(i + 1).is_some_and(|v| !v.starts_with("--"));
        if !extra.contains(&flag) {
            args.push(flag);
            if takes_value {
                args.push(RUN[i + 1]);
            }
        }
        i += if takes_value { 2 } else { 1 };
    }
    args.extend_from_slice(extra);
    args
}

/// The files of a finished run that must not depend on how it got there.
#[derive(Debug, PartialEq)]
struct Outcome {
    final_weights: Vec<u8>,
    checkpoint: Vec<u8>,
    steps_csv: String,
    /// `epochs.csv` without its wall-clock `seconds` column.
    epochs_csv: String,
}

fn outcome(run_dir: &Path) -> Outcome {
    let read = |f: &str| std::fs::read(run_dir.join(f)).unwrap();
    let epochs = String::from_utf8(read("epochs.csv")).unwrap();
    Outcome {
        final_weights: read("final.safetensors"),
        checkpoint: read("checkpoint.safetensors"),
        steps_csv: String::from_utf8(read("steps.csv")).unwrap(),
        epochs_csv: epochs
            .lines()
            .map(|l| l.rsplit_once(',').map_or(l, |(rest, _)| rest))
            .collect::<Vec<_>>()
            .join("\n"),
    }
}

/// One uninterrupted run with [`RUN`] (computed once per test binary).
fn reference() -> &'static Outcome {
    static REFERENCE: OnceLock<Outcome> = OnceLock::new();
    REFERENCE.get_or_init(|| {
        let dir = temp_dir("reference");
        ok(&dir, &train_args("run", &[]));
        outcome(&dir.join("run"))
    })
}

/// A small generator for the kill moments (a 64-bit LCG, Knuth's MMIX constants): the test needs
/// reproducible pseudo-random delays, not statistical quality.
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % n
    }
}

/// When to send SIGKILL.
#[derive(Clone, Copy, Debug)]
enum Moment {
    /// As soon as a save has started (its pending `.next` network file exists).
    DuringSave,
    /// This many milliseconds after a checkpoint commit (its state file changed).
    AfterCommit(u64),
    /// This many milliseconds after the start of the process.
    After(u64),
}

fn checkpoint(run_dir: &Path) -> PathBuf {
    run_dir.join("checkpoint.safetensors")
}

fn state_file(run_dir: &Path) -> PathBuf {
    nn_train::checkpoint::state_path(&checkpoint(run_dir))
}

fn mtime(p: &Path) -> Option<std::time::SystemTime> {
    std::fs::metadata(p).and_then(|m| m.modified()).ok()
}

fn spawn(dir: &Path, args: &[&str]) -> Child {
    nn().current_dir(dir)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Waits for `moment`, then kills `child` with SIGKILL. Returns `false` if the process had
/// already finished on its own.
fn kill_at(child: &mut Child, run_dir: &Path, moment: Moment) -> bool {
    let start = Instant::now();
    let state = state_file(run_dir);
    let pending = nn_train::checkpoint::next_path(&checkpoint(run_dir));
    let committed_at = mtime(&state);
    loop {
        if child.try_wait().unwrap().is_some() {
            return false;
        }
        assert!(start.elapsed() < Duration::from_secs(60), "no {moment:?}");
        let due = match moment {
            Moment::DuringSave => pending.exists(),
            Moment::AfterCommit(ms) => {
                if mtime(&state) != committed_at {
                    std::thread::sleep(Duration::from_millis(ms));
                    true
                } else {
                    false
                }
            }
            Moment::After(ms) => start.elapsed() >= Duration::from_millis(ms),
        };
        if due {
            break;
        }
        std::thread::sleep(Duration::from_micros(200));
    }
    // SIGKILL: no handler runs, nothing is flushed or cleaned up.
    child.kill().unwrap();
    let status = child.wait().unwrap();
    status.code().is_none()
}

/// What a resume would see: no file of the run directory is a leftover that an `nn train
/// --resume` could mistake for a checkpoint, i.e. every file is one of the run's own.
fn leftovers(run_dir: &Path) -> Vec<String> {
    std::fs::read_dir(run_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.') || n.ends_with(".next"))
        .collect()
}

/// The checkpoint left by a kill loads (library and `nn eval`) and holds finite weights.
fn assert_checkpoint_loads(dir: &Path, run_dir: &Path) -> usize {
    let trainer = nn_train::Trainer::resume(&checkpoint(run_dir)).unwrap();
    let mut finite = true;
    trainer
        .network()
        .visit_tensors(|t| finite &= t.value.iter().all(|v| v.is_finite()));
    assert!(finite, "non-finite weights in the checkpoint");
    let out = ok(
        dir,
        &["eval", "run/checkpoint.safetensors", "--limit", "50"],
    );
    assert!(out.contains("accuracy"), "{out}");
    trainer.epoch()
}

#[test]
fn sigkill_at_seeded_moments_then_resume_ends_with_the_weights_of_an_uninterrupted_run() {
    let want = reference();
    let dir = temp_dir("sigkill");
    let run_dir = dir.join("run");
    let mut rng = Lcg(0x5eed_0009);
    // Two kills inside a save, two shortly after a commit (while the final and best copies and
    // the next epoch's first steps are written), two at a fixed delay after start (data loading,
    // the first epoch, or anywhere).
    let mut moments = vec![
        Moment::After(150 + rng.below(400)),
        Moment::DuringSave,
        Moment::AfterCommit(rng.below(20)),
        Moment::After(200 + rng.below(600)),
        Moment::DuringSave,
        Moment::AfterCommit(rng.below(40)),
    ];
    let fresh = train_args("run", &[]);
    let resume = ["train", "--resume", "run"];
    let mut log = Vec::new();
    let mut finished = false;
    for moment in moments.drain(..) {
        // A run whose first checkpoint never committed is not resumable: start it again.
        let args: &[&str] = if state_file(&run_dir).is_file() {
            &resume
        } else {
            &fresh
        };
        let mut child = spawn(&dir, args);
        if !kill_at(&mut child, &run_dir, moment) {
            finished = true;
            log.push(format!("{moment:?}: finished first"));
            break;
        }
        let mid_save = nn_train::checkpoint::next_path(&checkpoint(&run_dir)).exists();
        if state_file(&run_dir).is_file() {
            let epoch = assert_checkpoint_loads(&dir, &run_dir);
            log.push(format!(
                "{moment:?}: checkpoint of epoch {epoch}{}",
                if mid_save { ", killed mid-save" } else { "" }
            ));
        } else {
            log.push(format!("{moment:?}: before the first commit"));
        }
    }
    println!("kills: {log:#?}");
    if !finished {
        let args: &[&str] = if state_file(&run_dir).is_file() {
            &resume
        } else {
            &fresh
        };
        ok(&dir, args);
    }
    assert!(leftovers(&run_dir).is_empty(), "{:?}", leftovers(&run_dir));
    let got = outcome(&run_dir);
    assert!(
        got.final_weights == want.final_weights,
        "final weights differ after {log:?}"
    );
    assert!(
        got.checkpoint == want.checkpoint,
        "checkpoint differs after {log:?}"
    );
    assert_eq!(got.steps_csv, want.steps_csv, "steps.csv after {log:?}");
    assert_eq!(got.epochs_csv, want.epochs_csv, "epochs.csv after {log:?}");
}

/// Runs, expecting exit code `code` and every needle in stderr, and no panic.
fn fails(dir: &Path, args: &[&str], code: i32, needles: &[&str]) -> String {
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
    assert!(!err.contains("panicked"), "{err}");
    format!("{out}{err}")
}

#[test]
fn an_unwritable_run_directory_fails_before_training() {
    let dir = temp_dir("unwritable");
    // A path component that is a regular file: no directory can be created below it, even as root.
    std::fs::write(dir.join("file"), b"not a directory").unwrap();
    let all = fails(
        &dir,
        &train_args("file/run", &[]),
        1,
        &[
            "cannot write the run directory",
            "file/run",
            "hint:",
            "nothing was trained",
        ],
    );
    assert!(!all.contains("epoch"), "training started:\n{all}");
    // Without --no-sanity the probe also runs before the sanity checks.
    let all = fails(
        &dir,
        &["train", "--out", "file/run", "--limit", "300"],
        1,
        &["cannot write the run directory"],
    );
    assert!(!all.contains("PASS"), "sanity checks ran:\n{all}");

    // A read-only directory (mode 0555). Root ignores modes: then the probe write succeeds, which
    // the test checks directly before deciding what to expect.
    use std::os::unix::fs::PermissionsExt;
    let ro = dir.join("ro");
    std::fs::create_dir_all(&ro).unwrap();
    std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o555)).unwrap();
    let probe = ro.join("probe");
    let writable = std::fs::write(&probe, b"x").is_ok();
    let _ = std::fs::remove_file(&probe);
    let args = train_args("ro", &["--epochs", "1"]);
    if writable {
        println!(
            "skipped the mode-0555 case: this process writes into read-only directories (root)"
        );
    } else {
        fails(&dir, &args, 1, &["cannot write the run directory", "ro"]);
    }
    std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o755)).unwrap();
}

#[test]
fn a_checkpoint_write_failing_mid_run_stops_and_keeps_the_previous_checkpoint() {
    let want = reference();
    let dir = temp_dir("save-fails");
    let run_dir = dir.join("run");
    // After the first commit, make the next save's first write fail: a directory where its
    // temporary file goes (`.<name>.tmp<pid>`) cannot be created as a file, whatever the user.
    // An epoch takes some 50 ms; should this thread be descheduled that long and the run finish
    // before the blocker exists, the attempt proves nothing and is repeated.
    let mut attempts = 0;
    let (out, blocker) = loop {
        attempts += 1;
        assert!(attempts <= 3, "the blocker came too late three times");
        let _ = std::fs::remove_dir_all(&run_dir);
        let child = spawn(&dir, &train_args("run", &[]));
        let start = Instant::now();
        while !state_file(&run_dir).is_file() {
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "no first checkpoint"
            );
            std::thread::sleep(Duration::from_micros(200));
        }
        let blocker = run_dir.join(format!(".checkpoint.safetensors.next.tmp{}", child.id()));
        std::fs::create_dir(&blocker).unwrap();
        let out = child.wait_with_output().unwrap();
        if out.status.code() != Some(0) {
            break (out, blocker);
        }
        println!("attempt {attempts}: the run finished before the blocker existed");
    };
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    // "cannot write the checkpoint of epoch k … hint: … the checkpoint of epoch k-1 is intact".
    let failed: usize = err
        .split("the checkpoint of epoch ")
        .nth(1)
        .and_then(|r| r.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no epoch named:\n{err}"));
    assert!(
        err.contains(&format!("the checkpoint of epoch {} is intact", failed - 1))
            && err.contains("nn train --resume run"),
        "{err}"
    );
    assert_eq!(assert_checkpoint_loads(&dir, &run_dir), failed - 1);
    // Fixed: the resumed run ends exactly where an uninterrupted one does.
    std::fs::remove_dir(&blocker).unwrap();
    ok(&dir, &["train", "--resume", "run"]);
    assert!(outcome(&run_dir) == *want, "the resumed run differs");
}

#[test]
fn divergence_mid_run_stops_with_a_diagnosis_and_the_checkpoint_holds_the_last_good_weights() {
    let dir = temp_dir("diverge");
    let run_dir = dir.join("run");
    // A linear warm-up to a huge rate (SGD, no adaptive step): epoch 1 trains (lr up to 27),
    // epoch 2 diverges (lr ~33 makes the loss exceed 3× the first one).
    let args = train_args(
        "run",
        &["--lr", "100", "--warmup-epochs", "5", "--optimizer", "sgd"],
    );
    let o = run(&dir, &args);
    let (out, err) = text(&o);
    let all = format!("{out}{err}");
    assert!(
        all.contains("Diverged") && all.contains("learning rate"),
        "{all}"
    );
    let epoch = assert_checkpoint_loads(&dir, &run_dir);
    assert!(
        epoch >= 1,
        "diverged in the first epoch: not mid-run\n{all}"
    );
    let trainer = nn_train::Trainer::resume(&checkpoint(&run_dir)).unwrap();
    let diagnosis = trainer.diagnosis().unwrap_or_default();
    assert!(
        diagnosis.contains(&format!("restored to the end of epoch {epoch}")),
        "{diagnosis}"
    );
    assert_eq!(trainer.history().len(), epoch);
    // The checkpoint holds the same weights as final.safetensors (the last good epoch).
    let final_net = std::fs::read(run_dir.join("final.safetensors")).unwrap();
    assert_eq!(trainer.network().to_safetensors().unwrap(), final_net);
    // Resuming a diverged run does not train again: it reports the same stop.
    let again = ok(&dir, &["train", "--resume", "run"]);
    assert!(again.contains("Diverged"), "{again}");
    assert_eq!(
        std::fs::read(run_dir.join("final.safetensors")).unwrap(),
        final_net
    );
}

/// Writes an MNIST-style directory (raw IDX files) of `n` `side × side` images per split with
/// the given labels.
fn write_idx_dir(dir: &Path, n: usize, side: usize, labels: &[u8]) {
    std::fs::create_dir_all(dir).unwrap();
    let be = |v: usize| (v as u32).to_be_bytes();
    for split in ["train", "t10k"] {
        let mut images = vec![0u8, 0, 8, 3];
        for v in [n, side, side] {
            images.extend_from_slice(&be(v));
        }
        images.extend((0..n * side * side).map(|i| (i * 37 % 251) as u8));
        std::fs::write(dir.join(format!("{split}-images-idx3-ubyte")), images).unwrap();
        let mut l = vec![0u8, 0, 8, 1];
        l.extend_from_slice(&be(n));
        l.extend(labels.iter().cycle().take(n));
        std::fs::write(dir.join(format!("{split}-labels-idx1-ubyte")), l).unwrap();
    }
}

#[test]
fn data_that_does_not_fit_gets_one_message_naming_what_is_wrong() {
    let dir = temp_dir("shapes");
    // A label beyond the ten digit classes.
    write_idx_dir(&dir.join("label12"), 40, 28, &[0, 1, 2, 12]);
    let a = train_args("a", &["--data", "label12", "--limit", "40"]);
    let all = fails(&dir, &a, 1, &["label 12"]);
    println!("label 12:\n{all}");
    // An empty data set.
    write_idx_dir(&dir.join("empty"), 0, 28, &[]);
    let b = train_args("b", &["--data", "empty"]);
    let all = fails(&dir, &b, 1, &["empty"]);
    println!("empty:\n{all}");
    // A model trained on 28×28 images evaluated on 14×14 ones: input size vs features.
    ok(
        &dir,
        &train_args("run", &["--epochs", "1", "--limit", "300"]),
    );
    write_idx_dir(&dir.join("small"), 40, 14, &[0, 1, 2, 3]);
    let all = fails(
        &dir,
        &["eval", "run", "--data", "small"],
        1,
        &["784", "196"],
    );
    println!("sizes:\n{all}");
}

#[test]
fn a_batch_larger_than_the_data_set_trains_one_batch_per_epoch() {
    let dir = temp_dir("big-batch");
    // 300 examples, 10% held out for validation: 270 training examples in one batch.
    ok(
        &dir,
        &train_args(
            "run",
            &["--limit", "300", "--epochs", "3", "--batch-size", "100000"],
        ),
    );
    let epochs = std::fs::read_to_string(dir.join("run/epochs.csv")).unwrap();
    let steps: Vec<&str> = epochs
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(1).unwrap())
        .collect();
    assert_eq!(steps, ["1", "2", "3"], "{epochs}");
}

#[test]
fn same_seed_and_threads_give_identical_runs_searches_and_evaluations() {
    let want = reference();
    let dir = temp_dir("reproducible");
    // Two threads instead of the reference's one: the same bits (see RELIABILITY.md for why).
    let two = train_args("two", &["--threads", "2"]);
    ok(&dir, &two);
    assert!(
        outcome(&dir.join("two")) == *want,
        "2 threads differ from 1"
    );
    let mut again = two.clone();
    again[2] = "again";
    ok(&dir, &again);
    assert!(outcome(&dir.join("again")) == *want, "a rerun differs");
    // Evaluation: the same report twice, and for the same weights from either run.
    let eval = |model: &str| ok(&dir, &["--json", "eval", model, "--limit", "100"]);
    let first = eval("two");
    assert!(first.contains("accuracy"), "{first}");
    assert_eq!(eval("two"), first);
    assert_eq!(eval("again").replace("again", "two"), first);
    // Search: two runs give the same trials with the same results.
    let search = |out: &str| {
        let mut args = vec!["search", "--trials", "2", "--parallel", "1"];
        args.extend(
            train_args(out, &["--epochs", "2", "--limit", "400"])
                .into_iter()
                .skip(1)
                .filter(|a| *a != "--no-sanity"),
        );
        ok(&dir, &args);
        let stage = dir.join(out).join("stage-1");
        // Each trial's result without its directory and wall-clock time, and its weights.
        let mut results: Vec<(String, serde_json::Value, Vec<u8>)> = std::fs::read_dir(&stage)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.to_string_lossy().ends_with(".result.json"))
            .map(|p| {
                let name = p.file_name().unwrap().to_string_lossy().into_owned();
                let mut v: serde_json::Value =
                    serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
                let summary = v["summary"].as_object_mut().unwrap();
                summary.remove("run_dir");
                summary.remove("seconds");
                let trial = name.trim_end_matches(".result.json");
                let weights = std::fs::read(stage.join(trial).join("final.safetensors")).unwrap();
                (name, v, weights)
            })
            .collect();
        results.sort_by(|x, y| x.0.cmp(&y.0));
        results
    };
    let a = search("s1");
    assert_eq!(a.len(), 2, "{a:?}");
    assert!(a[0].1["summary"]["test_accuracy"].as_f64().is_some());
    let b = search("s2");
    assert!(a == b, "two searches differ:\n{a:?}\n{b:?}");
}
