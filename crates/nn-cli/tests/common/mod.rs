//! Process helpers shared by the end-to-end test files.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The `nn` binary built for these tests.
pub fn nn() -> Command {
    Command::new(env!("CARGO_BIN_EXE_nn"))
}

/// A fresh, empty directory under the system temp dir, unique to this test process and `name`.
pub fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("nn-cli-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Runs `nn args…` in `dir`.
pub fn run(dir: &Path, args: &[&str]) -> Output {
    nn().current_dir(dir).args(args).output().unwrap()
}

/// Standard output and standard error as text.
pub fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// Runs and checks the exit code, returning stdout.
pub fn ok(dir: &Path, args: &[&str]) -> String {
    let o = run(dir, args);
    let (out, err) = text(&o);
    assert_eq!(
        o.status.code(),
        Some(0),
        "nn {args:?}\nstdout:\n{out}\nstderr:\n{err}"
    );
    out
}
