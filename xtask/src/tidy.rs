//! Tidy tests over the source tree, run by `cargo test --workspace` (like rust-analyzer's tidy).

use crate::layers::{violations, ORDER};
use crate::project_root;
use std::fs;
use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            if path.file_name().is_some_and(|n| n == "target") {
                continue;
            }
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn layering_rule_rejects_upward_and_sideways_edges() {
    let e = |a: &str, b: &str| (a.to_string(), b.to_string());
    assert!(violations(&[e("nn-core", "nn-init"), e("nn-benches", "nn-cli")]).is_empty());
    assert_eq!(violations(&[e("nn-init", "nn-core")]).len(), 1);
    assert_eq!(violations(&[e("nn-core", "nn-core")]).len(), 1);
    assert_eq!(violations(&[e("xtask", "nn-activations")]).len(), 1);
    assert_eq!(violations(&[e("nn-train", "nn-benches")]).len(), 1);
}

#[test]
fn workspace_layers_hold() {
    crate::layers::run().unwrap();
}

#[test]
fn every_crate_has_crate_docs() {
    for name in ORDER {
        let lib = project_root().join("crates").join(name).join("src/lib.rs");
        let text = fs::read_to_string(&lib).unwrap();
        assert!(
            text.trim_start().starts_with("//!"),
            "{} must start with `//!` crate docs",
            lib.display()
        );
    }
}

#[test]
fn no_leftover_debugging_macros() {
    let mut files = Vec::new();
    for dir in ["crates", "benches", "xtask"] {
        rust_files(&project_root().join(dir), &mut files);
    }
    // Built from pieces so this file does not match itself.
    let banned = [
        ["dbg", "!("].concat(),
        ["todo", "!("].concat(),
        ["unimplemented", "!("].concat(),
    ];
    for f in files {
        let text = fs::read_to_string(&f).unwrap();
        for b in &banned {
            assert!(!text.contains(b.as_str()), "{} contains `{b}`", f.display());
        }
    }
}
