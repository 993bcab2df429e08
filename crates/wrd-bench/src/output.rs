//! Text for people, one JSON line per measurement for programs.
//!
//! Every JSON line is an object whose `"bench"` field names the record type:
//! `first_frame_run`, `first_frame`, `watch_client`, `watch_server`, `watch`, `environment`, `latency`.

use std::fs::{File, OpenOptions};
use std::io::Write as _;
use std::path::Path;

use anyhow::{Context, Result};
use serde::Serialize;

/// Where output goes.
#[derive(Debug)]
pub struct Output {
    /// `None`: JSON lines go to stdout with the text.
    json_file: Option<File>,
}

impl Output {
    /// JSON lines to `json_path` (appended) or, without one, to stdout.
    pub fn new(json_path: Option<&Path>) -> Result<Self> {
        let json_file = json_path
            .map(|p| {
                OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(p)
                    .with_context(|| format!("opening {} for the JSON lines", p.display()))
            })
            .transpose()?;
        Ok(Self { json_file })
    }

    /// One line of text on stdout. A closed stdout is ignored (the JSON file may still be
    /// written).
    pub fn text(&mut self, line: impl AsRef<str>) {
        let mut stdout = std::io::stdout().lock();
        let _ = writeln!(stdout, "{}", line.as_ref());
        let _ = stdout.flush();
    }

    /// One JSON line.
    pub fn json(&mut self, record: &impl Serialize) -> Result<()> {
        let line = serde_json::to_string(record).context("serialising a JSON record")?;
        match &mut self.json_file {
            Some(f) => writeln!(f, "{line}").context("writing the JSON file"),
            None => {
                let mut stdout = std::io::stdout().lock();
                writeln!(stdout, "{line}")
                    .and_then(|()| stdout.flush())
                    .context("writing a JSON line to stdout")
            }
        }
    }
}

/// Milliseconds of a duration, as a float.
pub fn ms(d: std::time::Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// `12.3 MiB` from KiB.
pub fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

/// Human-readable byte rate.
pub fn rate_bytes(bytes_per_s: f64) -> String {
    if bytes_per_s >= 1024.0 * 1024.0 {
        format!("{:.2} MiB/s", bytes_per_s / (1024.0 * 1024.0))
    } else if bytes_per_s >= 1024.0 {
        format!("{:.1} KiB/s", bytes_per_s / 1024.0)
    } else {
        format!("{bytes_per_s:.0} B/s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(mib(61_440), "60.0 MiB");
        assert_eq!(rate_bytes(0.0), "0 B/s");
        assert_eq!(rate_bytes(2048.0), "2.0 KiB/s");
        assert_eq!(rate_bytes(3.5 * 1024.0 * 1024.0), "3.50 MiB/s");
        assert_eq!(ms(std::time::Duration::from_micros(1500)), 1.5);
    }

    #[test]
    fn json_lines_are_appended() {
        let dir = std::env::temp_dir().join(format!("wrd-bench-output-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("out.jsonl");
        let _ = std::fs::remove_file(&path);
        let mut out = Output::new(Some(&path)).unwrap();
        out.json(&serde_json::json!({"bench": "a", "x": 1})).unwrap();
        drop(out);
        let mut out = Output::new(Some(&path)).unwrap();
        out.json(&serde_json::json!({"bench": "b"})).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text, "{\"bench\":\"a\",\"x\":1}\n{\"bench\":\"b\"}\n");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
