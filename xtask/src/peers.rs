//! `cargo xtask bench --peers [FILTER]`: our criterion rows beside NumPy and PyTorch doing the same
//! work in the same run, as one Markdown table.
//!
//! After the criterion benches ran, every measured row that [`PAIRS`] maps to a peer becomes a
//! peer id `group/name/size/t<threads>`; each peer script of [`SCRIPTS`] whose group has such ids
//! runs once per thread count (`python3 benches/peers/<script> --threads T --ids ...`), since BLAS
//! libraries read their thread count once, at load. The scripts print JSON lines (see
//! `benches/peers/peerlib.py`); rows pair on `(group, name, size, threads)`. Ratios are speed
//! ratios, peer time over our time, so above 1 means we are faster. The "bound" column sets GEMM
//! against the theoretical f32 FMA peak of the cores in use (at the clock the run's `gemm/clock`
//! row measured, when the filter kept it) and element-wise work against the copy measured in the
//! same run.

use crate::bench::{format_time, Row};
use crate::project_root;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::process::{Command, Stdio};

/// One pairing: our criterion `group/function` and the peer rows' `name` in the same group.
pub(crate) struct Pair {
    group: &'static str,
    ours: &'static str,
    peer: &'static str,
}

const fn pair(group: &'static str, ours: &'static str, peer: &'static str) -> Pair {
    Pair { group, ours, peer }
}

/// Which of our rows have peers, and under which name the peer scripts report them.
pub(crate) const PAIRS: &[Pair] = &[
    pair("step", "plain", "plain"),
    pair("step", "bn", "bn"),
    pair("epoch", "plain", "plain"),
    pair("epoch", "bn", "bn"),
    pair("gemm", "ours", "matmul"),
    pair("activations", "copy", "copy"),
    pair("activations", "relu_forward", "relu_forward"),
    pair("activations", "relu_backward", "relu_backward"),
    pair("activations", "leaky_relu_forward", "leaky_relu_forward"),
    pair("activations", "leaky_relu_backward", "leaky_relu_backward"),
    pair("activations", "sigmoid_forward", "sigmoid_forward"),
    pair("activations", "sigmoid_backward", "sigmoid_backward"),
    pair("activations", "tanh_forward", "tanh_forward"),
    pair("activations", "tanh_backward", "tanh_backward"),
    pair("activations", "elu_forward", "elu_forward"),
    pair("activations", "elu_backward", "elu_backward"),
    pair("activations", "gelu_forward", "gelu_forward"),
    pair("activations", "gelu_backward", "gelu_backward"),
];

/// The peer script of each group, in `benches/peers/`.
const SCRIPTS: &[(&str, &str)] = &[
    ("step", "step.py"),
    ("epoch", "epoch.py"),
    ("activations", "activations.py"),
    ("gemm", "gemm.py"),
];

/// The key rows pair on: `(group, peer name, size, threads)`.
type Key = (String, String, String, usize);

/// One peer measurement (a JSON line of a peer script).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PeerRow {
    peer: String,
    key: Key,
    median_s: f64,
    throughput: f64,
}

/// Splits a criterion value `"<size>/t<threads>"` into size and thread count.
fn split_value(value: &str) -> Option<(&str, usize)> {
    let (size, t) = value.rsplit_once("/t")?;
    Some((size, t.parse().ok()?))
}

/// The peer key of one of our rows, if [`PAIRS`] maps it.
fn key_of(row: &Row) -> Option<Key> {
    let p = PAIRS
        .iter()
        .find(|p| p.group == row.group && p.ours == row.function)?;
    let (size, threads) = split_value(&row.value)?;
    Some((p.group.into(), p.peer.into(), size.into(), threads))
}

/// Parses one line of a peer script: `Ok(Some(row))`, `Err(info)` for an `{"info": ...}` line,
/// `Ok(None)` for anything else.
fn parse_line(line: &str) -> Result<Option<PeerRow>, String> {
    let Ok(v) = serde_json::from_str::<Value>(line.trim()) else {
        return Ok(None);
    };
    if let Some(info) = v["info"].as_str() {
        return Err(info.to_string());
    }
    let s = |k: &str| v[k].as_str().map(str::to_string);
    let row = (|| {
        Some(PeerRow {
            peer: s("peer")?,
            key: (
                s("group")?,
                s("name")?,
                s("size")?,
                usize::try_from(v["threads"].as_u64()?).ok()?,
            ),
            median_s: v["median_seconds"].as_f64()?,
            throughput: v["throughput"].as_f64()?,
        })
    })();
    Ok(row)
}

/// Whether `python3 -c "import numpy"` works.
fn numpy_available() -> bool {
    Command::new("python3")
        .args(["-c", "import numpy"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Runs the peer scripts for the ids our rows map to; returns the rows and the info lines.
fn run_scripts(keys: &BTreeSet<Key>) -> (Vec<PeerRow>, Vec<String>) {
    let mut rows = Vec::new();
    let mut info = Vec::new();
    let dir = project_root().join("benches").join("peers");
    for (group, script) in SCRIPTS {
        let threads: BTreeSet<usize> = keys.iter().filter(|k| k.0 == *group).map(|k| k.3).collect();
        for t in threads {
            let ids: Vec<String> = keys
                .iter()
                .filter(|k| k.0 == *group && k.3 == t)
                .map(|(g, n, s, t)| format!("{g}/{n}/{s}/t{t}"))
                .collect();
            eprintln!(
                "xtask: == peers: {script} --threads {t} ({} ids) ==",
                ids.len()
            );
            let out = Command::new("python3")
                .arg(dir.join(script))
                .args([
                    "--json",
                    "--threads",
                    &t.to_string(),
                    "--ids",
                    &ids.join(","),
                ])
                .current_dir(project_root())
                .stderr(Stdio::inherit())
                .output();
            let out = match out {
                Ok(o) if o.status.success() => o,
                Ok(o) => {
                    info.push(format!("{script} --threads {t} failed ({})", o.status));
                    o
                }
                Err(e) => {
                    info.push(format!("{script} could not start: {e}"));
                    continue;
                }
            };
            for line in String::from_utf8_lossy(&out.stdout).lines() {
                match parse_line(line) {
                    Ok(Some(r)) => rows.push(r),
                    Ok(None) => {}
                    Err(i) => {
                        if !info.contains(&i) {
                            info.push(i);
                        }
                    }
                }
            }
        }
    }
    (rows, info)
}

/// What a row's throughput counts.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Unit {
    Samples,
    Hertz,
    Flops,
    Bytes,
    Elements,
}

fn unit_of(row: &Row) -> Unit {
    let kind = row.throughput.as_ref().map_or("", |t| t.0.as_str());
    if kind == "bytes" {
        Unit::Bytes
    } else if row.function == "clock" {
        Unit::Hertz
    } else if row.group.contains("gemm") || row.group.contains("matmul") {
        Unit::Flops
    } else if row.group == "step" || row.group == "epoch" {
        Unit::Samples
    } else {
        Unit::Elements
    }
}

fn format_rate(rate: f64, unit: Unit) -> String {
    match unit {
        Unit::Samples => format!("{:.1} K samples/s", rate / 1e3),
        Unit::Hertz => format!("{:.0} MHz", rate / 1e6),
        Unit::Flops => format!("{:.1} GFLOP/s", rate / 1e9),
        Unit::Bytes => format!("{:.2} GB/s", rate / 1e9),
        Unit::Elements => format!("{:.2} Melem/s", rate / 1e6),
    }
}

/// The CPU facts behind the GEMM bound.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Machine {
    /// The clock in MHz and where it came from.
    mhz: f64,
    source: &'static str,
    /// f32 lanes of one FMA pipe (16 for a 512-bit pipe, 8 for a 256-bit one).
    lanes: f64,
    /// FMA pipes per core.
    fma_units: f64,
    /// Why `lanes` and `fma_units` are what they are for this CPU.
    why: &'static str,
}

impl Machine {
    /// Theoretical f32 flops per second and core: `FMA units × lanes × 2 × clock`.
    fn peak_per_core(&self) -> f64 {
        self.fma_units * self.lanes * 2.0 * self.mhz * 1e6
    }

    /// The same machine at the clock this run measured (the `gemm/clock` row, else what
    /// `fallback_hz` times, only called then): the OS's figure is the nominal clock, and cores run
    /// above it under turbo.
    fn at_measured_clock(
        &self,
        rows: &[Row],
        fallback_hz: impl FnOnce() -> Option<f64>,
    ) -> Machine {
        let row = rows
            .iter()
            .find(|r| r.group == "gemm" && r.function == "clock")
            .and_then(rate);
        let (hz, source) = match (row, row.is_none().then(fallback_hz).flatten()) {
            (Some(hz), _) => (
                hz,
                "measured in this run by `gemm/clock`, a chain of dependent adds",
            ),
            (None, Some(hz)) => (
                hz,
                "measured by xtask before the table, a chain of dependent adds",
            ),
            (None, None) => return self.clone(),
        };
        Machine {
            mhz: hz / 1e6,
            source,
            ..self.clone()
        }
    }
}

/// The core clock in Hz: one add of a dependent chain retires per cycle on every x86-64 core, so
/// adds per second is cycles per second (the fastest of five timings of 10⁸ adds).
#[cfg(target_arch = "x86_64")]
fn add_chain_hz() -> Option<f64> {
    const ROUNDS: u64 = 10_000_000;
    let best = (0..5)
        .map(|_| {
            let (mut x, mut n) = (0u64, ROUNDS);
            let start = std::time::Instant::now();
            // SAFETY: register-only arithmetic; the loop counter `n` runs beside the chain on `x`.
            unsafe {
                std::arch::asm!(
                    "2:",
                    "add {x}, 1", "add {x}, 1", "add {x}, 1", "add {x}, 1", "add {x}, 1",
                    "add {x}, 1", "add {x}, 1", "add {x}, 1", "add {x}, 1", "add {x}, 1",
                    "dec {n}",
                    "jnz 2b",
                    x = inout(reg) x,
                    n = inout(reg) n,
                    options(nomem, nostack),
                );
            }
            std::hint::black_box((x, n));
            start.elapsed().as_secs_f64()
        })
        .fold(f64::INFINITY, f64::min);
    (best > 0.0).then(|| (10 * ROUNDS) as f64 / best)
}

#[cfg(not(target_arch = "x86_64"))]
fn add_chain_hz() -> Option<f64> {
    None
}

/// Reads the clock (lscpu's `CPU max MHz` when it has one, else `/proc/cpuinfo`'s first `cpu MHz`)
/// and the FMA pipes from the vendor, family and flags.
fn detect_machine(cpuinfo: &str, lscpu: &str) -> Option<Machine> {
    let field = |text: &str, name: &str| -> Option<String> {
        text.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            (k.trim() == name).then(|| v.trim().to_string())
        })
    };
    let number = |text: &str, name: &str| field(text, name)?.parse::<f64>().ok();
    let (mhz, source) = match number(lscpu, "CPU max MHz") {
        Some(m) if m > 0.0 => (m, "lscpu `CPU max MHz`"),
        _ => (number(cpuinfo, "cpu MHz")?, "/proc/cpuinfo `cpu MHz`"),
    };
    let flags = field(cpuinfo, "flags").unwrap_or_default();
    let has = |f: &str| flags.split_whitespace().any(|x| x == f);
    let amd = field(cpuinfo, "vendor_id").as_deref() == Some("AuthenticAMD");
    let family = number(cpuinfo, "cpu family").unwrap_or(0.0);
    let (lanes, why) = if has("avx512f") && amd && family < 26.0 {
        (
            8.0,
            "AMD Zen 4 (family 25) runs each AVX-512 FMA as two halves on its two 256-bit pipes",
        )
    } else if has("avx512f") {
        (
            16.0,
            "two 512-bit FMA pipes (Intel server cores, AMD Zen 5)",
        )
    } else if has("avx2") && has("fma") {
        (8.0, "two 256-bit FMA pipes (AVX2)")
    } else {
        (4.0, "two 128-bit pipes (SSE)")
    };
    Some(Machine {
        mhz,
        source,
        lanes,
        fma_units: 2.0,
        why,
    })
}

fn machine() -> Option<Machine> {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let lscpu = Command::new("lscpu")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    detect_machine(&cpuinfo, &lscpu)
}

/// GEMM flops of one step of the 784-512-256-10 MLP per sample: three forward products, three
/// weight gradients and two input gradients (none for the input layer), `2·D·H` each.
fn step_flops_per_sample() -> f64 {
    let layers = [(784.0, 512.0), (512.0, 256.0), (256.0, 10.0)];
    let per: f64 = layers.iter().map(|(d, h)| 2.0 * d * h).sum();
    3.0 * per - 2.0 * 784.0 * 512.0
}

/// The "bound" cell of one of our rows.
fn bound(row: &Row, rows: &[Row], peers: &[PeerRow], m: Option<&Machine>) -> String {
    let Some(mine) = rate(row) else {
        return "-".into();
    };
    let threads = split_value(&row.value).map_or(1, |(_, t)| t) as f64;
    match unit_of(row) {
        Unit::Flops => m.map_or("-".into(), |m| {
            format!(
                "{:.0}% of peak",
                100.0 * mine / (m.peak_per_core() * threads)
            )
        }),
        Unit::Samples => m.map_or("-".into(), |m| {
            let flops = mine * step_flops_per_sample();
            format!(
                "{:.0}% of peak (GEMMs)",
                100.0 * flops / (m.peak_per_core() * threads)
            )
        }),
        Unit::Bytes if row.function != "copy" => {
            // The fastest copy of this size and thread count in the run, ours or a peer's.
            let ours = rows
                .iter()
                .filter(|c| c.group == row.group && c.function == "copy" && c.value == row.value)
                .filter_map(rate);
            let key = split_value(&row.value);
            let theirs = peers
                .iter()
                .filter(|p| {
                    p.key.0 == row.group
                        && p.key.1 == "copy"
                        && key == Some((p.key.2.as_str(), p.key.3))
                })
                .map(|p| p.throughput);
            ours.chain(theirs)
                .reduce(f64::max)
                .map_or("-".into(), |c| format!("{:.0}% of copy", 100.0 * mine / c))
        }
        _ => "-".into(),
    }
}

fn rate(row: &Row) -> Option<f64> {
    let (_, amount) = row.throughput.as_ref()?;
    Some(amount / (row.median_ns * 1e-9))
}

/// The table: every row of ours, with the peers' figures where [`PAIRS`] maps the row.
fn render(rows: &[Row], peers: &[PeerRow], notes: &[String], m: Option<&Machine>) -> String {
    let mut s = String::from(
        "| work | threads | ours | NumPy | PyTorch | ours vs NumPy | ours vs PyTorch | bound |\n\
         |---|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    let cell = |t: f64, r: Option<f64>, u: Unit| match r {
        Some(r) => format!("{} · {}", format_time(t * 1e9), format_rate(r, u)),
        None => format_time(t * 1e9),
    };
    for r in rows {
        let unit = unit_of(r);
        let key = key_of(r);
        let find = |peer: &str| {
            peers
                .iter()
                .find(|p| p.peer == peer && Some(&p.key) == key.as_ref())
        };
        let (np, pt) = (find("numpy"), find("torch"));
        let ours_s = r.median_ns * 1e-9;
        let peer_cell = |p: Option<&PeerRow>| {
            p.map_or("-".into(), |p| cell(p.median_s, Some(p.throughput), unit))
        };
        let ratio =
            |p: Option<&PeerRow>| p.map_or("-".into(), |p| format!("{:.2}×", p.median_s / ours_s));
        let (size, threads) = split_value(&r.value).unwrap_or((r.value.as_str(), 0));
        let work = [r.group.as_str(), r.function.as_str(), size]
            .iter()
            .filter(|p| !p.is_empty())
            .copied()
            .collect::<Vec<_>>()
            .join("/");
        let _ = writeln!(
            s,
            "| {work} | {} | {} | {} | {} | {} | {} | {} |",
            if threads > 0 {
                threads.to_string()
            } else {
                "-".into()
            },
            cell(ours_s, rate(r), unit),
            peer_cell(np),
            peer_cell(pt),
            ratio(np),
            ratio(pt),
            bound(r, rows, peers, m),
        );
    }
    s += "\nRatios are speed ratios: peer time / our time for the same work, same thread count, \
          same run (above 1: we are faster).\n";
    if let Some(m) = m {
        let core = m.peak_per_core() / 1e9;
        let _ = write!(
            s,
            "GEMM bound: theoretical f32 peak = {} FMA pipes × {} lanes × 2 flops × {:.0} MHz ({}) \
             = {core:.1} GFLOP/s per core, times the threads (one core each); pipes and lanes: {}",
            m.fma_units, m.lanes, m.mhz, m.source, m.why
        );
        // Check the pipes and lanes against this run's register-only FMA loops (benches/matmul.rs).
        for width in ["avx512", "avx2"] {
            let measured = rows
                .iter()
                .find(|r| {
                    r.group == "gemm" && r.function == "peak_fma" && r.value.starts_with(width)
                })
                .and_then(rate);
            if let Some(p) = measured {
                let per_cycle = p / (m.mhz * 1e6);
                let _ = write!(
                    s,
                    "; this run's `peak_fma/{width}` reached {:.1} GFLOP/s on one core, {per_cycle:.1} \
                     flops per cycle at that clock ({:.0}% of the theoretical peak)",
                    p / 1e9,
                    100.0 * p / m.peak_per_core()
                );
                if p > m.peak_per_core() * 1.05 {
                    s += " (above the theoretical peak: the core runs above that clock, so the \
                          percentages are overstated)";
                }
            }
        }
        s += ". Step and epoch rows: the GEMM flops of the step (8 products, 2·N·(784·512 + \
              512·256 + 256·10)·3 − 2·N·784·512) at that peak.\n";
    }
    s += "Element-wise bound: bytes moved per second over the fastest copy (ours, NumPy's \
          `copyto` or PyTorch's `copy_`) of the same size and thread count in the same run.\n";
    for n in notes {
        let _ = writeln!(s, "Peers: {n}.");
    }
    s
}

/// A sort key that orders numbers inside names by value (`b64` before `b128`).
fn natural(s: &str) -> Vec<(u64, String)> {
    let mut out = Vec::new();
    let mut rest = s;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        if digits > 0 {
            out.push((rest[..digits].parse().unwrap_or(u64::MAX), String::new()));
            rest = &rest[digits..];
        } else {
            let text = rest
                .find(|c: char| c.is_ascii_digit())
                .unwrap_or(rest.len());
            out.push((0, rest[..text].to_string()));
            rest = &rest[text..];
        }
    }
    out
}

/// Table order: group, size (numbers by value), threads, then our paired functions in [`PAIRS`]
/// order before the unpaired ones.
fn sort_rows(rows: &mut [Row]) {
    rows.sort_by_cached_key(|r| {
        let (size, threads) = split_value(&r.value).unwrap_or((r.value.as_str(), 0));
        let rank = PAIRS
            .iter()
            .position(|p| p.group == r.group && p.ours == r.function)
            .unwrap_or(PAIRS.len());
        (
            r.group.clone(),
            natural(size),
            threads,
            rank,
            r.function.clone(),
        )
    });
}

/// Runs the peers for `rows` (our measured rows) and returns the table.
pub(crate) fn table(rows: &mut [Row]) -> String {
    sort_rows(rows);
    let rows: &[Row] = rows;
    let keys: BTreeSet<Key> = rows.iter().filter_map(key_of).collect();
    let (peers, notes) = if keys.is_empty() {
        (
            Vec::new(),
            vec!["no benchmark of this run has a peer (see PAIRS in xtask/src/peers.rs)".into()],
        )
    } else if numpy_available() {
        run_scripts(&keys)
    } else {
        let msg = "python3 with NumPy is not available (`python3 -c \"import numpy\"` failed): \
                   our benches only";
        eprintln!("xtask: {msg}");
        (Vec::new(), vec![msg.into()])
    };
    // Every peer row should pair with one of ours; say so when a script reports something else.
    let unpaired: BTreeMap<&Key, &str> = peers
        .iter()
        .filter(|p| !keys.contains(&p.key))
        .map(|p| (&p.key, p.peer.as_str()))
        .collect();
    let mut notes = notes;
    if !unpaired.is_empty() {
        notes.push(format!(
            "{} peer rows had no counterpart in this run",
            unpaired.len()
        ));
    }
    let m = machine().map(|m| m.at_measured_clock(rows, add_chain_hz));
    render(rows, &peers, &notes, m.as_ref())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(group: &str, function: &str, value: &str, ns: f64, tp: (&str, f64)) -> Row {
        Row {
            group: group.into(),
            function: function.into(),
            value: value.into(),
            median_ns: ns,
            throughput: Some((tp.0.into(), tp.1)),
        }
    }

    #[test]
    fn values_split_into_size_and_threads() {
        assert_eq!(split_value("b128/t2"), Some(("b128", 2)));
        assert_eq!(
            split_value("xw_128x784x512/t1"),
            Some(("xw_128x784x512", 1))
        );
        assert_eq!(split_value("n60000_b128/t12"), Some(("n60000_b128", 12)));
        assert_eq!(split_value("128"), None);
        assert_eq!(split_value("b128/tx"), None);
    }

    #[test]
    fn pairs_map_our_ids_to_peer_keys() {
        let gemm = row("gemm", "ours", "xw_128x784x512/t2", 1.0, ("elements", 1.0));
        assert_eq!(
            key_of(&gemm),
            Some(("gemm".into(), "matmul".into(), "xw_128x784x512".into(), 2))
        );
        let step = row("step", "bn", "b64/t1", 1.0, ("elements", 64.0));
        assert_eq!(
            key_of(&step),
            Some(("step".into(), "bn".into(), "b64".into(), 1))
        );
        // Rows without a peer, and the ndarray rows of the gemm group, stay unpaired.
        assert_eq!(
            key_of(&row(
                "step",
                "ndarray_baseline",
                "b64/t1",
                1.0,
                ("elements", 1.0)
            )),
            None
        );
        assert_eq!(
            key_of(&row(
                "gemm",
                "ndarray",
                "xw_1x1x1/t1",
                1.0,
                ("elements", 1.0)
            )),
            None
        );
        assert_eq!(
            key_of(&row(
                "gemm-cputime",
                "ours",
                "xw_1x1x1/t1",
                1.0,
                ("elements", 1.0)
            )),
            None
        );
    }

    #[test]
    fn rows_sort_by_size_value_then_threads() {
        let mut rows = vec![
            row("step", "ndarray_baseline", "b64/t1", 1.0, ("elements", 1.0)),
            row("step", "plain", "b128/t1", 1.0, ("elements", 1.0)),
            row("step", "bn", "b64/t2", 1.0, ("elements", 1.0)),
            row("step", "bn", "b64/t1", 1.0, ("elements", 1.0)),
            row("step", "plain", "b64/t1", 1.0, ("elements", 1.0)),
        ];
        sort_rows(&mut rows);
        let ids: Vec<String> = rows
            .iter()
            .map(|r| format!("{}/{}", r.function, r.value))
            .collect();
        assert_eq!(
            ids,
            [
                "plain/b64/t1",
                "bn/b64/t1",
                "ndarray_baseline/b64/t1",
                "bn/b64/t2",
                "plain/b128/t1"
            ]
        );
    }

    #[test]
    fn every_paired_group_has_a_script() {
        for p in PAIRS {
            assert!(SCRIPTS.iter().any(|(g, _)| *g == p.group), "{}", p.group);
        }
    }

    #[test]
    fn peer_lines_parse() {
        let line = r#"{"group": "step", "peer": "torch", "name": "plain", "size": "b128", "threads": 2, "median_seconds": 0.004, "throughput": 32000.0, "unit": "samples"}"#;
        let r = parse_line(line).ok().flatten();
        assert_eq!(
            r,
            Some(PeerRow {
                peer: "torch".into(),
                key: ("step".into(), "plain".into(), "b128".into(), 2),
                median_s: 0.004,
                throughput: 32000.0,
            })
        );
        assert_eq!(
            parse_line(r#"{"info": "NumPy 2.4.6"}"#),
            Err("NumPy 2.4.6".into())
        );
        assert_eq!(parse_line("| a table line |"), Ok(None));
        assert_eq!(parse_line(r#"{"group": "step"}"#), Ok(None));
    }

    #[test]
    fn clock_and_fma_pipes_are_detected() {
        let intel = "vendor_id\t: GenuineIntel\ncpu family\t: 6\ncpu MHz\t\t: 2596.142\n\
                     flags\t\t: fpu avx2 fma avx512f\n";
        let m = detect_machine(intel, "Architecture: x86_64\n");
        assert_eq!(m.as_ref().map(|m| (m.mhz, m.lanes)), Some((2596.142, 16.0)));
        // 2 pipes × 16 lanes × 2 flops × 2596.142 MHz = 166.153 GFLOP/s.
        let peak = m.map_or(0.0, |m| m.peak_per_core());
        assert!((peak - 166.153e9).abs() < 1e6, "{peak}");
        let with_max = detect_machine(intel, "CPU max MHz:  3700.0000\n");
        assert_eq!(with_max.map(|m| m.mhz), Some(3700.0));
        // Zen 4 (this project's machine): AVX-512 on 256-bit pipes.
        let zen4 = intel
            .replace("GenuineIntel", "AuthenticAMD")
            .replace(": 6", ": 25");
        assert_eq!(detect_machine(&zen4, "").map(|m| m.lanes), Some(8.0));
        let zen5 = zen4.replace(": 25", ": 26");
        assert_eq!(detect_machine(&zen5, "").map(|m| m.lanes), Some(16.0));
        let avx2 = detect_machine("cpu MHz : 3000\nflags : avx2 fma\n", "");
        assert_eq!(avx2.map(|m| m.lanes), Some(8.0));
        assert_eq!(detect_machine("", ""), None);
    }

    #[test]
    fn a_measured_clock_replaces_the_nominal_one() {
        let m = detect_machine("cpu MHz : 2600\nflags : avx2 fma\n", "").unwrap();
        assert_eq!(m.at_measured_clock(&[], || None).mhz, 2600.0);
        assert_eq!(m.at_measured_clock(&[], || Some(3.0e9)).mhz, 3000.0);
        // 3.45e9 adds in one second: 3450 MHz; with the run's row, xtask does not time the clock.
        let clock = row("gemm", "clock", "add_chain/t1", 1e9, ("elements", 3.45e9));
        let at = m.at_measured_clock(&[clock], || unreachable!("timed although the row exists"));
        assert!((at.mhz - 3450.0).abs() < 1e-6, "{}", at.mhz);
        assert!(at.source.contains("gemm/clock"), "{}", at.source);
    }

    #[test]
    #[cfg(target_arch = "x86_64")]
    fn the_add_chain_reads_a_plausible_clock() {
        // Any x86-64 core of the last twenty years runs between 0.5 and 7 GHz.
        let hz = add_chain_hz().unwrap_or(0.0);
        assert!((0.5e9..7e9).contains(&hz), "{hz}");
    }

    #[test]
    fn table_pairs_ratios_and_bounds() {
        let rows = vec![
            // Ours: 4 ms for 128 samples; NumPy 8 ms (we are 2× faster), PyTorch 2 ms (0.5×).
            row("step", "plain", "b128/t1", 4e6, ("elements", 128.0)),
            row("activations", "copy", "16M/t1", 10e6, ("bytes", 8.0 * 16e6)),
            // Twice the copy's time for 1.5× its bytes: 75% of copy.
            row(
                "activations",
                "relu_backward",
                "16M/t1",
                20e6,
                ("bytes", 12.0 * 16e6),
            ),
            // 100 GFLOP/s on 2 threads against 2 × 100 GFLOP/s: 50% of peak.
            row("gemm", "ours", "xw_1x1x1/t2", 1e9, ("elements", 100e9)),
            // 120 GFLOP/s at 3125 MHz is 38.4 flops per cycle, above the 32 of 1 pipe × 16 lanes.
            row("gemm", "peak_fma", "avx2/t1", 1e9, ("elements", 120e9)),
        ];
        let peer = |p: &str, key: (&str, &str, &str, usize), s: f64| PeerRow {
            peer: p.into(),
            key: (key.0.into(), key.1.into(), key.2.into(), key.3),
            median_s: s,
            throughput: 1.0 / s,
        };
        let peers = vec![
            peer("numpy", ("step", "plain", "b128", 1), 8e-3),
            peer("torch", ("step", "plain", "b128", 1), 2e-3),
            // Another thread count: must not pair.
            peer("numpy", ("step", "plain", "b128", 2), 1e-3),
        ];
        let m = Machine {
            mhz: 3125.0,
            source: "test",
            lanes: 16.0,
            fma_units: 1.0,
            why: "test",
        };
        let mut with_copy = peers.clone();
        // A peer copy twice as fast as ours halves the element-wise bound.
        with_copy.push(PeerRow {
            peer: "numpy".into(),
            key: ("activations".into(), "copy".into(), "16M".into(), 1),
            median_s: 5e-3,
            throughput: 8.0 * 16e6 / 5e-3,
        });
        let t2 = render(&rows, &with_copy, &[], Some(&m));
        assert!(t2.contains("| 38% of copy |"), "{t2}");
        let t = render(&rows, &peers, &["note".into()], Some(&m));
        let line = |w: &str| t.lines().find(|l| l.starts_with(&format!("| {w} |")));
        let step = line("step/plain/b128").unwrap_or_default();
        assert!(step.contains("| 2.00× | 0.50× |"), "{step}");
        let relu = line("activations/relu_backward/16M").unwrap_or_default();
        assert!(relu.ends_with("| 75% of copy |"), "{relu}");
        let gemm = line("gemm/ours/xw_1x1x1").unwrap_or_default();
        assert!(
            gemm.contains("| 2 |") && gemm.ends_with("| 50% of peak |"),
            "{gemm}"
        );
        assert!(t.contains("above 1: we are faster"));
        assert!(t.contains("Peers: note."));
        assert!(t.contains("38.4 flops per cycle"), "{t}");
        assert!(t.contains("above the theoretical peak"), "{t}");
        let peak = line("gemm/peak_fma/avx2").unwrap_or_default();
        assert!(peak.ends_with("| 120% of peak |"), "{peak}");
    }
}
