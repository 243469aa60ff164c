//! `cargo xtask bench [FILTER] [--peers] [--save NAME | --against NAME]`: run the criterion benches and
//! summarise what this run measured in one table.
//!
//! The table has one row per benchmark: its median time and its throughput, shown as GFLOP/s for
//! groups whose name contains `gemm` or `matmul` (their `Throughput::Elements` counts flops),
//! GB/s for `Throughput::Bytes`, and elements/s otherwise. When a group also holds a benchmark
//! named `copy` (or `sum`) at the same size, each row shows its ratio to that baseline, measured in the
//! same run, since absolute times on a shared machine mean little.
//!
//! With `--peers`, NumPy and PyTorch run the same work after our benches, in the same run, and the
//! table becomes the side-by-side one of [`crate::peers`].

use crate::{cargo, project_root, run_step};
use serde_json::Value;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// One measured benchmark.
pub(crate) struct Row {
    pub(crate) group: String,
    pub(crate) function: String,
    pub(crate) value: String,
    pub(crate) median_ns: f64,
    /// `("elements" | "bytes", amount per iteration)`.
    pub(crate) throughput: Option<(String, f64)>,
}

/// Runs the benches, then prints and writes the summary.
pub fn run(args: &[String]) -> Result<(), String> {
    let mut filter = None;
    let mut peers = false;
    let mut extra: Vec<String> = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--save" => extra.extend([
                "--save-baseline".into(),
                it.next().ok_or("--save needs a NAME")?.clone(),
            ]),
            "--against" => extra.extend([
                "--baseline".into(),
                it.next().ok_or("--against needs a NAME")?.clone(),
            ]),
            "--peers" => peers = true,
            f if !f.starts_with('-') && filter.is_none() => filter = Some(f.to_string()),
            other => return Err(format!("bench: unknown argument `{other}`")),
        }
    }
    let started = SystemTime::now();
    let mut cmd = cargo();
    cmd.args(["bench", "--package", "nn-benches", "--"]);
    if let Some(f) = &filter {
        cmd.arg(f);
    }
    cmd.args(&extra);
    run_step("cargo bench", &mut cmd)?;

    let criterion_dir = target_dir().join("criterion");
    let mut rows = Vec::new();
    collect(&criterion_dir, started, &mut rows);
    if rows.is_empty() {
        return Err("bench: no benchmark results were written by this run".into());
    }
    rows.sort_by(|a, b| (&a.group, &a.value, &a.function).cmp(&(&b.group, &b.value, &b.function)));
    let table = if peers {
        crate::peers::table(&mut rows)
    } else {
        render(&rows)
    };
    print!("{table}");
    let out = target_dir().join("bench-summary.md");
    write_atomic(&out, &table).map_err(|e| format!("bench: writing {}: {e}", out.display()))?;
    eprintln!("xtask: summary written to {}", out.display());
    Ok(())
}

/// Cargo's target directory: `CARGO_TARGET_DIR` when set (relative to the root), else `target/`.
fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => project_root().join(dir),
        None => project_root().join("target"),
    }
}

/// Finds every `new/benchmark.json` below `dir` written after `since`.
fn collect(dir: &Path, since: SystemTime, rows: &mut Vec<Row>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if !path.is_dir() {
            continue;
        }
        if path.file_name().is_some_and(|n| n == "new") {
            if let Some(row) = read_row(&path, since) {
                rows.push(row);
            }
        } else if path.file_name().is_some_and(|n| n != "report") {
            collect(&path, since, rows);
        }
    }
}

fn read_row(new_dir: &Path, since: SystemTime) -> Option<Row> {
    let estimates = new_dir.join("estimates.json");
    let modified = fs::metadata(&estimates).ok()?.modified().ok()?;
    if modified < since {
        return None;
    }
    let read =
        |p: PathBuf| -> Option<Value> { serde_json::from_str(&fs::read_to_string(p).ok()?).ok() };
    let bench = read(new_dir.join("benchmark.json"))?;
    let est = read(estimates)?;
    let throughput = bench["throughput"].as_object().and_then(|t| {
        let (kind, v) = t.iter().next()?;
        Some((kind.to_lowercase(), v.as_f64()?))
    });
    Some(Row {
        group: bench["group_id"].as_str()?.to_string(),
        function: bench["function_id"].as_str().unwrap_or("").to_string(),
        value: bench["value_str"].as_str().unwrap_or("").to_string(),
        median_ns: est["median"]["point_estimate"].as_f64()?,
        throughput,
    })
}

fn rate(row: &Row) -> Option<f64> {
    let (_, amount) = row.throughput.as_ref()?;
    Some(amount / (row.median_ns * 1e-9))
}

fn format_rate(row: &Row) -> String {
    let Some(r) = rate(row) else {
        return "-".into();
    };
    let kind = row.throughput.as_ref().map(|t| t.0.as_str()).unwrap_or("");
    let g = row.group.to_lowercase();
    if kind == "bytes" {
        format!("{:.2} GB/s", r / 1e9)
    } else if g.contains("gemm") || g.contains("matmul") {
        format!("{:.1} GFLOP/s", r / 1e9)
    } else if r >= 1e9 {
        format!("{:.3} Gelem/s", r / 1e9)
    } else {
        format!("{:.2} Melem/s", r / 1e6)
    }
}

pub(crate) fn format_time(ns: f64) -> String {
    if ns >= 1e9 {
        format!("{:.3} s", ns / 1e9)
    } else if ns >= 1e6 {
        format!("{:.3} ms", ns / 1e6)
    } else if ns >= 1e3 {
        format!("{:.3} µs", ns / 1e3)
    } else {
        format!("{ns:.1} ns")
    }
}

/// The summary as a Markdown table.
fn render(rows: &[Row]) -> String {
    let mut s =
        String::from("| bench | median | throughput | vs baseline |\n|---|---:|---:|---:|\n");
    for r in rows {
        let baseline = rows.iter().find(|b| {
            b.group == r.group
                && b.value == r.value
                && (b.function == "copy" || b.function == "sum")
                && b.function != r.function
        });
        let ratio = match (baseline.and_then(rate), rate(r)) {
            (Some(base), Some(mine)) => format!(
                "{:.0}% of {}",
                100.0 * mine / base,
                baseline.map_or("", |b| b.function.as_str())
            ),
            _ => "-".into(),
        };
        let id = [r.group.as_str(), r.function.as_str(), r.value.as_str()]
            .iter()
            .filter(|p| !p.is_empty())
            .copied()
            .collect::<Vec<_>>()
            .join("/");
        s += &format!(
            "| {id} | {} | {} | {ratio} |\n",
            format_time(r.median_ns),
            format_rate(r)
        );
    }
    s
}

/// Writes through a temporary file and a rename, so a reader never sees half a table.
fn write_atomic(path: &Path, text: &str) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension("md.tmp");
    fs::write(&tmp, text)?;
    fs::rename(tmp, path)
}
