//! The layering rule: workspace crates depend only on crates below them.
//!
//! Bottom to top: nn-activations, nn-init, nn-preprocess, nn-core, nn-train, nn-cli.
//! `xtask` depends on none of them; the benches package may use any. Normal, build and dev
//! dependencies are all held to the order (the same rule as `shared/hooks/check-layers`).

use crate::cargo;
use serde_json::Value;

/// The layer order, bottom first.
pub const ORDER: [&str; 6] = [
    "nn-activations",
    "nn-init",
    "nn-preprocess",
    "nn-core",
    "nn-train",
    "nn-cli",
];

/// Reads `cargo metadata` and fails with one line per edge that breaks the rule.
pub fn run() -> Result<(), String> {
    let out = cargo()
        .args([
            "metadata",
            "--no-deps",
            "--format-version",
            "1",
            "--offline",
        ])
        .output()
        .map_err(|e| format!("layers: could not run cargo metadata: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "layers: cargo metadata failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let meta: Value = serde_json::from_slice(&out.stdout)
        .map_err(|e| format!("layers: cargo metadata printed invalid JSON: {e}"))?;
    let edges = workspace_edges(&meta);
    let bad = violations(&edges);
    if bad.is_empty() {
        eprintln!("xtask: layers: every workspace crate depends only downward");
        Ok(())
    } else {
        Err(format!("layering broken:\n  {}", bad.join("\n  ")))
    }
}

/// `(package, dependency)` pairs where both are workspace members.
pub fn workspace_edges(meta: &Value) -> Vec<(String, String)> {
    let packages = meta["packages"].as_array().cloned().unwrap_or_default();
    let names: Vec<&str> = packages.iter().filter_map(|p| p["name"].as_str()).collect();
    let mut edges = Vec::new();
    for p in &packages {
        let Some(name) = p["name"].as_str() else {
            continue;
        };
        for d in p["dependencies"].as_array().into_iter().flatten() {
            if let Some(dep) = d["name"].as_str() {
                if names.contains(&dep) {
                    edges.push((name.to_string(), dep.to_string()));
                }
            }
        }
    }
    edges
}

/// The edges that break the rule, each as a readable sentence.
pub fn violations(edges: &[(String, String)]) -> Vec<String> {
    let rank = |n: &str| ORDER.iter().position(|o| *o == n);
    let mut bad = Vec::new();
    for (pkg, dep) in edges {
        if pkg == "xtask" {
            bad.push(format!("xtask depends on workspace crate {dep}"));
            continue;
        }
        match (rank(pkg), rank(dep)) {
            (Some(p), Some(d)) if d >= p => {
                bad.push(format!("{pkg} depends on {dep}, which is not below it"))
            }
            (Some(_), None) => bad.push(format!(
                "{pkg} depends on {dep}, which is outside the layer order"
            )),
            _ => {}
        }
    }
    bad
}
