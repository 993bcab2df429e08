//! `peers-table`: the table of BENCHMARKS.md that puts the servers side by side, built from the
//! JSON lines of one run of `desktop` and `latency` (`scripts/bench-peers.sh` makes both), and
//! written between its markers in BENCHMARKS.md so that one command regenerates it.
//!
//! One row per server, in the order the run measured them: the codec the client got, the time
//! to the first complete picture (median over the scenes' connections), the full-screen
//! animation's frames and bytes per second, the typing and the scrolling terminal's bytes per
//! second,
//! input-to-pixel latency (median / p95), the server's CPU during the animation and its largest
//! RSS over every scene. A missing measurement is a dash, a failed one says why; nothing is
//! made up.

use std::path::Path;

use anyhow::{Context, Result, bail};
use serde_json::Value;

use crate::cli::PeersTableArgs;
use crate::output::Output;
use crate::stats::Summary;

/// The markers the table lives between in BENCHMARKS.md.
pub const BEGIN_MARKER: &str = "<!-- wrd-bench peers-table: begin -->";
pub const END_MARKER: &str = "<!-- wrd-bench peers-table: end -->";

/// One server's cells.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PeerRow {
    pub server: String,
    pub codec: Option<String>,
    pub first_frame_ms: Option<f64>,
    pub animate_fps: Option<f64>,
    pub animate_kb_per_s: Option<f64>,
    pub typing_kb_per_s: Option<f64>,
    pub scroll_kb_per_s: Option<f64>,
    pub latency_p50_ms: Option<f64>,
    pub latency_p95_ms: Option<f64>,
    pub animate_cpu_percent: Option<f64>,
    pub rss_mib: Option<f64>,
    /// Why measurements are missing (one line per failed scene or latency run).
    pub failures: Vec<String>,
}

fn f(v: &Value, key: &str) -> Option<f64> {
    v.get(key).and_then(Value::as_f64)
}

fn text(v: &Value, key: &str) -> Option<String> {
    v.get(key).and_then(Value::as_str).map(str::to_owned)
}

/// The rows of the `desktop` and `latency` records among `records` (others are skipped).
pub fn rows(records: &[Value]) -> Vec<PeerRow> {
    let mut rows: Vec<PeerRow> = Vec::new();
    let mut first_frames: Vec<Vec<f64>> = Vec::new();
    for r in records {
        let bench = r.get("bench").and_then(Value::as_str);
        if !matches!(bench, Some("desktop" | "latency")) {
            continue;
        }
        let Some(server) = text(r, "server") else { continue };
        let i = match rows.iter().position(|row| row.server == server) {
            Some(i) => i,
            None => {
                rows.push(PeerRow {
                    server: server.clone(),
                    ..PeerRow::default()
                });
                first_frames.push(Vec::new());
                rows.len() - 1
            }
        };
        let row = &mut rows[i];
        if let Some(error) = text(r, "error") {
            let what = text(r, "scene").unwrap_or_else(|| "latency".to_owned());
            row.failures.push(format!("{what}: {error}"));
            continue;
        }
        // The peer table holds the in-process client's figures; xfreerdp's are a cross-check.
        if text(r, "client").is_some_and(|c| c != "wrd") {
            continue;
        }
        if bench == Some("latency") {
            let summary = r.get("summary_ms");
            row.latency_p50_ms = summary.and_then(|s| f(s, "median"));
            row.latency_p95_ms = summary.and_then(|s| f(s, "p95"));
            continue;
        }
        if let Some(ms) = f(r, "first_frame_ms") {
            first_frames[i].push(ms);
        }
        if let Some(rss) = f(r, "rss_mib") {
            row.rss_mib = Some(row.rss_mib.map_or(rss, |m| m.max(rss)));
        }
        let kb = f(r, "bytes_per_s").map(|b| b / 1000.0);
        match text(r, "scene").as_deref() {
            Some("animate") => {
                row.codec = text(r, "codec");
                row.animate_fps = f(r, "fps");
                row.animate_kb_per_s = kb;
                row.animate_cpu_percent = f(r, "cpu_percent");
            }
            Some("typing") => {
                row.typing_kb_per_s = kb;
                row.codec = row.codec.take().or_else(|| text(r, "codec"));
            }
            Some("scroll") => {
                row.scroll_kb_per_s = kb;
                row.codec = row.codec.take().or_else(|| text(r, "codec"));
            }
            _ => row.codec = row.codec.take().or_else(|| text(r, "codec")),
        }
    }
    for (row, samples) in rows.iter_mut().zip(&first_frames) {
        row.first_frame_ms = Summary::of(samples).map(|s| s.median);
    }
    rows
}

fn num(v: Option<f64>, decimals: usize) -> String {
    v.map_or_else(|| "–".to_owned(), |v| format!("{v:.decimals$}"))
}

fn cell(text: &str) -> String {
    text.replace('|', "/").replace('\n', " ")
}

/// The markdown table, and under it the failures.
pub fn markdown(rows: &[PeerRow]) -> String {
    let mut t = String::from(
        "| server | codec | first frame ms | animation fps | animation KB/s | typing KB/s | scrolling KB/s | input latency p50 / p95 ms | CPU % (animation) | RSS MiB |\n\
         |---|---|---:|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for r in rows {
        let latency = match (r.latency_p50_ms, r.latency_p95_ms) {
            (Some(p50), Some(p95)) => format!("{p50:.1} / {p95:.1}"),
            _ => "–".to_owned(),
        };
        t.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |\n",
            cell(&r.server),
            cell(r.codec.as_deref().unwrap_or("–")),
            num(r.first_frame_ms, 0),
            num(r.animate_fps, 1),
            num(r.animate_kb_per_s, 0),
            num(r.typing_kb_per_s, 1),
            num(r.scroll_kb_per_s, 0),
            latency,
            num(r.animate_cpu_percent, 1),
            num(r.rss_mib, 1),
        ));
    }
    let failures: Vec<String> = rows
        .iter()
        .flat_map(|r| {
            r.failures
                .iter()
                .map(move |f| format!("- {}, {}", r.server, cell(f)))
        })
        .collect();
    if !failures.is_empty() {
        t.push_str("\nNot measured:\n");
        for line in failures {
            t.push_str(&line);
            t.push('\n');
        }
    }
    t
}

/// `document` with everything between the markers replaced by `content`.
pub fn replace_section(document: &str, content: &str) -> Result<String> {
    let begin = document
        .find(BEGIN_MARKER)
        .with_context(|| format!("no line {BEGIN_MARKER:?}"))?;
    let after_begin = begin + BEGIN_MARKER.len();
    let end = document[after_begin..]
        .find(END_MARKER)
        .map(|e| after_begin + e)
        .with_context(|| format!("no line {END_MARKER:?} after {BEGIN_MARKER:?}"))?;
    let mut out = String::with_capacity(document.len() + content.len());
    out.push_str(&document[..after_begin]);
    out.push('\n');
    out.push_str(content.trim_end());
    out.push('\n');
    out.push_str(&document[end..]);
    Ok(out)
}

fn read_records(path: &Path) -> Result<Vec<Value>> {
    let body = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    body.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(n, l)| {
            serde_json::from_str(l).with_context(|| format!("{}:{}: not a JSON line", path.display(), n + 1))
        })
        .collect()
}

pub fn run(args: &PeersTableArgs, out: &mut Output) -> Result<()> {
    let mut records = Vec::new();
    for path in &args.results {
        records.extend(read_records(path)?);
    }
    let rows = rows(&records);
    if rows.is_empty() {
        bail!("no desktop or latency records in the results");
    }
    let mut section = String::new();
    if let Some(header) = &args.header {
        section.push_str(
            &std::fs::read_to_string(header).with_context(|| format!("reading {}", header.display()))?,
        );
        section.push('\n');
    }
    section.push_str(&markdown(&rows));
    out.text(&section);
    if let Some(target) = &args.update {
        let document =
            std::fs::read_to_string(target).with_context(|| format!("reading {}", target.display()))?;
        let updated =
            replace_section(&document, &section).with_context(|| format!("updating {}", target.display()))?;
        std::fs::write(target, updated).with_context(|| format!("writing {}", target.display()))?;
        out.text(format!("the table in {} is updated", target.display()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use serde_json::json;

    use super::*;

    fn records() -> Vec<Value> {
        vec![
            json!({"bench":"desktop","server":"wrd-server (sway)","scene":"animate","codec":"RemoteFX","fps":9.4,"bytes_per_s":2_600_000.0,"cpu_percent":95.0,"rss_mib":80.0,"first_frame_ms":300.0,"error":null}),
            json!({"bench":"desktop","server":"wrd-server (sway)","scene":"typing","codec":"RemoteFX","fps":10.0,"bytes_per_s":12_345.0,"cpu_percent":3.0,"rss_mib":90.5,"first_frame_ms":200.0,"error":null}),
            json!({"bench":"desktop","server":"wrd-server (sway)","scene":"static","codec":"RemoteFX","fps":0.0,"bytes_per_s":0.0,"cpu_percent":0.1,"rss_mib":70.0,"first_frame_ms":250.0,"error":null}),
            json!({"bench":"desktop","server":"weston (RDP backend)","scene":"animate","error":"weston did not start"}),
            json!({"bench":"watch_client","client":1}),
            json!({"bench":"latency","server":"wrd-server (sway)","summary_ms":{"median":62.2,"p95":84.3},"error":null}),
            json!({"bench":"latency","server":"weston (RDP backend)","summary_ms":{"median":69.6,"p95":79.0},"error":null}),
            json!({"bench":"latency","server":"weston (RDP backend)","client":"xfreerdp","summary_ms":{"median":99.0,"p95":99.0},"error":null}),
        ]
    }

    #[test]
    fn one_row_per_server_from_its_scenes_and_latency() {
        let rows = rows(&records());
        assert_eq!(rows.len(), 2);
        let ours = &rows[0];
        assert_eq!(ours.codec.as_deref(), Some("RemoteFX"));
        assert_eq!(ours.first_frame_ms, Some(250.0), "median of three connections");
        assert_eq!(ours.animate_fps, Some(9.4));
        assert_eq!(ours.animate_kb_per_s, Some(2600.0));
        assert_eq!(ours.typing_kb_per_s, Some(12.345));
        assert_eq!(ours.animate_cpu_percent, Some(95.0));
        assert_eq!(ours.rss_mib, Some(90.5), "the largest over the scenes");
        assert_eq!(
            (ours.latency_p50_ms, ours.latency_p95_ms),
            (Some(62.2), Some(84.3))
        );
        let weston = &rows[1];
        assert_eq!(weston.animate_fps, None);
        assert_eq!(weston.failures, vec!["animate: weston did not start".to_owned()]);
        assert_eq!(weston.latency_p50_ms, Some(69.6));
    }

    #[test]
    fn the_table_shows_dashes_and_failures_not_invented_numbers() {
        let table = markdown(&rows(&records()));
        assert!(
            table.contains(
                "| wrd-server (sway) | RemoteFX | 250 | 9.4 | 2600 | 12.3 | – | 62.2 / 84.3 | 95.0 | 90.5 |"
            ),
            "{table}"
        );
        assert!(
            table.contains("| weston (RDP backend) | – | – | – | – | – | – | 69.6 / 79.0 | – | – |"),
            "{table}"
        );
        assert!(
            table.contains("- weston (RDP backend), animate: weston did not start"),
            "{table}"
        );
    }

    #[test]
    fn the_section_between_the_markers_is_replaced_and_the_rest_kept() {
        let doc = format!("# B\n\nintro\n{BEGIN_MARKER}\nold table\n{END_MARKER}\n\n## later\n");
        let updated = replace_section(&doc, "new table\n").unwrap();
        assert_eq!(
            updated,
            format!("# B\n\nintro\n{BEGIN_MARKER}\nnew table\n{END_MARKER}\n\n## later\n")
        );
        // twice gives the same document
        assert_eq!(replace_section(&updated, "new table").unwrap(), updated);
        assert!(replace_section("no markers", "x").is_err());
        assert!(replace_section(&format!("{END_MARKER}\n{BEGIN_MARKER}"), "x").is_err());
    }
}
