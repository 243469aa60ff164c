//! Run directories: atomic file writes, CSV / JSON-lines metric logs and the self-contained
//! `report.html` that embeds every SVG plot of the run.

use crate::error::{io, CliError, Result};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Writes `bytes` to `path` atomically: a temporary sibling, fsync, rename.
///
/// # Errors
/// [`CliError::Io`] naming the file.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    nn_preprocess::write_atomic(path, bytes).map_err(|e| match e {
        nn_preprocess::PreprocessError::Io { path, source } => CliError::Io { path, source },
        other => CliError::Library(other.to_string()),
    })
}

/// Creates `dir` (and parents).
///
/// # Errors
/// [`CliError::Io`].
pub fn create_dir(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(io(dir))
}

/// The next free `runs/run-NNN` under `root`.
pub fn next_run_dir(root: &Path, prefix: &str) -> PathBuf {
    (1..)
        .map(|i| root.join(format!("{prefix}-{i:03}")))
        .find(|p| !p.exists())
        .unwrap_or_else(|| root.join(prefix))
}

/// An append-only log file: every line is flushed as it is written, so an interrupted run keeps
/// everything logged before the interruption.
pub struct LineLog {
    file: std::fs::File,
    path: PathBuf,
}

impl LineLog {
    /// Creates (truncates) the file and writes `header` if given.
    ///
    /// # Errors
    /// [`CliError::Io`].
    pub fn create(path: &Path, header: Option<&str>) -> Result<LineLog> {
        let file = std::fs::File::create(path).map_err(io(path))?;
        let mut log = LineLog {
            file,
            path: path.to_path_buf(),
        };
        if let Some(h) = header {
            log.line(h)?;
        }
        Ok(log)
    }

    /// Opens the file for appending (used when resuming).
    ///
    /// # Errors
    /// [`CliError::Io`].
    pub fn append(path: &Path) -> Result<LineLog> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(io(path))?;
        Ok(LineLog {
            file,
            path: path.to_path_buf(),
        })
    }

    /// Writes one line.
    ///
    /// # Errors
    /// [`CliError::Io`].
    pub fn line(&mut self, text: &str) -> Result<()> {
        writeln!(self.file, "{text}")
            .and_then(|_| self.file.flush())
            .map_err(io(&self.path))
    }
}

/// One section of `report.html`.
pub struct Section {
    /// Heading.
    pub title: String,
    /// Preformatted text shown above the figures (may be empty).
    pub text: String,
    /// SVG documents shown inline.
    pub svgs: Vec<String>,
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// A self-contained HTML page (no scripts, no external files) with every section.
pub fn html(title: &str, sections: &[Section]) -> String {
    let mut out = format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{0}</title>\n<style>body{{font-family:sans-serif;max-width:1100px;margin:2em auto}}pre{{background:#f4f4f4;padding:1em;overflow-x:auto}}svg{{margin:0.5em;border:1px solid #eee;max-width:100%;height:auto}}</style></head><body>\n<h1>{0}</h1>\n",
        esc(title)
    );
    for s in sections {
        out.push_str(&format!("<h2>{}</h2>\n", esc(&s.title)));
        if !s.text.is_empty() {
            out.push_str(&format!("<pre>{}</pre>\n", esc(&s.text)));
        }
        for svg in &s.svgs {
            out.push_str(svg);
        }
    }
    out.push_str("</body></html>\n");
    out
}

/// The peak resident set size of this process in bytes: `VmHWM` of `/proc/self/status` on Linux,
/// `None` elsewhere or if it cannot be read.
///
/// # Example
/// ```
/// if cfg!(target_os = "linux") {
///     assert!(nn_cli::report::peak_rss_bytes().is_some_and(|b| b > 0));
/// }
/// ```
pub fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    parse_vm_hwm(&status)
}

/// `VmHWM:   123456 kB` → bytes.
fn parse_vm_hwm(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let mut parts = line["VmHWM:".len()..].split_whitespace();
    let value: u64 = parts.next()?.parse().ok()?;
    match parts.next() {
        Some("kB") => value.checked_mul(1024),
        _ => None,
    }
}

#[cfg(test)]
mod peak_rss_tests {
    use super::parse_vm_hwm;

    #[test]
    fn parses_the_kernel_format() {
        let status = "Name:\tnn\nVmPeak:\t  500 kB\nVmHWM:\t   484012 kB\nVmRSS:\t 1 kB\n";
        assert_eq!(parse_vm_hwm(status), Some(484_012 * 1024));
        assert_eq!(parse_vm_hwm("VmRSS:\t1 kB\n"), None);
        assert_eq!(parse_vm_hwm("VmHWM:\tlots kB\n"), None);
        assert_eq!(parse_vm_hwm("VmHWM:\t12 MB\n"), None);
    }
}
