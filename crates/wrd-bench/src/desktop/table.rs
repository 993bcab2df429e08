//! The rows of a `desktop` run and their markdown table.

use serde::Serialize;

use super::scene_name;
use super::server_log::DisplayStatistics;
use crate::cli::SceneArg;
use crate::watch::Measurement;

/// RemoteFX's codec id in the clients' capabilities.
const CODEC_ID_REMOTEFX: u8 = 3;

/// Capture-to-wire times of a session.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum CaptureToWire {
    /// The server logged its statistics.
    Reported(DisplayStatistics),
    /// wrd-server did not log them (a build without the statistics line).
    NotReported,
    /// A peer server: it has no such report.
    Peer,
}

/// One server × scene.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub bench: &'static str,
    pub server: String,
    /// `wrd` (in-process) or `xfreerdp`.
    pub client: &'static str,
    pub scene: &'static str,
    /// How the pictures came: "RemoteFX", "bitmap", ... (from the updates received).
    pub codec: String,
    /// animate: distinct frames of the scene the client's picture showed per second; other
    /// scenes: bursts of updates per second (updates less than 5 ms apart are one burst).
    pub fps: Option<f64>,
    pub fps_kind: &'static str,
    /// animate: mean PSNR (dB) of decoded pictures against the frames the scene drew.
    pub psnr_db: Option<f64>,
    pub updates_per_s: Option<f64>,
    pub bytes_per_s: Option<f64>,
    /// The RDP server process, % of one core.
    pub cpu_percent: Option<f64>,
    /// Every process of the server's desktop (compositor, PipeWire, portals, server).
    pub desktop_cpu_percent: Option<f64>,
    /// The RDP server's largest RSS during the window.
    pub rss_mib: Option<f64>,
    /// The benchmark client (receiving and decoding), % of one core.
    pub client_cpu_percent: Option<f64>,
    /// The whole machine's busy share (all cores, everything running), in percent.
    pub machine_busy_percent: Option<f64>,
    /// Of that, what the hypervisor took (steal), in percent of the machine.
    pub machine_steal_percent: Option<f64>,
    pub capture_to_wire: Option<CaptureToWire>,
    /// animate: frames per second the scene itself committed (what the compositor allowed).
    pub scene_fps: Option<f64>,
    /// TCP connect start → the client's first complete picture (of the desktop before the
    /// scene started).
    pub first_frame_ms: Option<f64>,
    pub error: Option<String>,
}

/// "RemoteFX", "none", "bitmap", or a combination, from what the client received.
pub fn codec_name(surface_codec_ids: &[u8], bitmap_updates: u64, avc420_frames: u64) -> String {
    let mut names: Vec<String> = Vec::new();
    if avc420_frames > 0 {
        names.push("H.264 (AVC420)".to_owned());
    }
    names.extend(surface_codec_ids.iter().map(|&id| match id {
        CODEC_ID_REMOTEFX => "RemoteFX".to_owned(),
        0 => "uncompressed surface bits".to_owned(),
        other => format!("codec {other}"),
    }));
    if bitmap_updates > 0 {
        names.push("bitmap updates".to_owned());
    }
    if names.is_empty() {
        "nothing received".to_owned()
    } else {
        names.join(" + ")
    }
}

impl Row {
    pub fn measured(
        server: &str,
        scene: SceneArg,
        m: &Measurement,
        capture: CaptureToWire,
        scene_fps: Option<f64>,
    ) -> Self {
        let client = m.clients.first();
        let server_report = m.server.as_ref();
        let (fps, fps_kind) = match (scene, client) {
            (SceneArg::Animate, Some(c)) => (c.frames_per_s, "scene frames"),
            (_, Some(c)) => (Some(c.bursts_per_s), "update bursts"),
            (_, None) => (None, ""),
        };
        Self {
            bench: "desktop",
            server: server.to_owned(),
            client: "wrd",
            scene: scene_name(scene),
            codec: client.map_or_else(String::new, |c| {
                codec_name(&c.surface_codec_ids, c.bitmap_update_pdus, c.avc420_frames)
            }),
            fps,
            fps_kind,
            psnr_db: client.and_then(|c| c.picture_psnr_db),
            updates_per_s: client.map(|c| c.updates_per_s),
            bytes_per_s: client.map(|c| c.bytes_per_s),
            cpu_percent: server_report.map(|s| s.cpu.percent_of_core),
            desktop_cpu_percent: server_report.and_then(|s| s.stack_cpu_percent),
            rss_mib: server_report.map(|s| s.rss_kib_max as f64 / 1024.0),
            client_cpu_percent: Some(m.total.client_cpu_percent),
            machine_busy_percent: Some(m.total.machine_busy_percent),
            machine_steal_percent: Some(m.total.machine_steal_percent),
            capture_to_wire: Some(capture),
            scene_fps,
            first_frame_ms: client.map(|c| c.complete_ms),
            error: None,
        }
    }

    pub fn failed(server: &str, scene: SceneArg, reason: &str) -> Self {
        Self {
            bench: "desktop",
            server: server.to_owned(),
            client: "wrd",
            scene: scene_name(scene),
            codec: String::new(),
            fps: None,
            fps_kind: "",
            psnr_db: None,
            updates_per_s: None,
            bytes_per_s: None,
            cpu_percent: None,
            desktop_cpu_percent: None,
            rss_mib: None,
            client_cpu_percent: None,
            machine_busy_percent: None,
            machine_steal_percent: None,
            capture_to_wire: None,
            scene_fps: None,
            first_frame_ms: None,
            error: Some(reason.to_owned()),
        }
    }
}

/// The capture-to-wire cell: "p50 / p99 (max)", or why there is no number.
pub fn capture_cell(c: Option<&CaptureToWire>) -> String {
    match c {
        Some(CaptureToWire::Reported(s)) => match (s.capture_to_wire_p50_ms, s.capture_to_wire_p99_ms) {
            (Some(p50), Some(p99)) => {
                let max = s
                    .capture_to_wire_max_ms
                    .map_or_else(String::new, |m| format!(" (max {m:.1})"));
                format!("{p50:.1} / {p99:.1}{max}")
            }
            _ => format!("n/a (no frame timed; {} sent)", s.frames_sent),
        },
        Some(CaptureToWire::NotReported) => "n/a (server did not report)".to_owned(),
        Some(CaptureToWire::Peer) => "n/a (peer)".to_owned(),
        None => "n/a".to_owned(),
    }
}

fn num(v: Option<f64>, decimals: usize) -> String {
    v.map_or_else(|| "–".to_owned(), |v| format!("{v:.decimals$}"))
}

/// Markdown cells must not contain `|` or line breaks.
fn cell(text: &str) -> String {
    text.replace('|', "/").replace('\n', " ")
}

/// The table.
pub fn markdown(rows: &[Row]) -> String {
    let mut t = String::from(
        "| server | scene | codec | fps | PSNR dB | updates/s | KiB/s | server CPU % | desktop CPU % | server RSS MiB | client CPU % | machine busy % (steal) | capture→wire p50 / p99 ms |\n\
         |---|---|---|---|---|---|---|---|---|---|---|---|---|\n",
    );
    for r in rows {
        if let Some(e) = &r.error {
            t.push_str(&format!(
                "| {} | {} | **not measured**: {} | | | | | | | | | | |\n",
                cell(&r.server),
                r.scene,
                cell(e)
            ));
            continue;
        }
        let server = if r.client == "wrd" {
            cell(&r.server)
        } else {
            format!("{}, measured with {}", cell(&r.server), r.client)
        };
        let fps = match (r.fps, r.scene_fps) {
            (Some(f), Some(s)) => format!("{f:.1} (scene drew {s:.1})"),
            (f, _) => num(f, 1),
        };
        t.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |\n",
            server,
            r.scene,
            cell(&r.codec),
            fps,
            num(r.psnr_db, 1),
            num(r.updates_per_s, 1),
            num(r.bytes_per_s.map(|b| b / 1024.0), 1),
            num(r.cpu_percent, 1),
            num(r.desktop_cpu_percent, 1),
            num(r.rss_mib, 1),
            num(r.client_cpu_percent, 0),
            match (r.machine_busy_percent, r.machine_steal_percent) {
                (Some(busy), Some(steal)) => format!("{busy:.0} ({steal:.0})"),
                (busy, _) => num(busy, 0),
            },
            capture_cell(r.capture_to_wire.as_ref()),
        ));
    }
    t
}

/// Issue 4's goals, judged on wrd-server's rows: static under 1 KB/s and 1 % CPU, animation at
/// 30 fps or more, capture-to-wire median under 15 ms.
pub fn verdicts(rows: &[Row]) -> Vec<String> {
    let ours = || {
        rows.iter()
            .filter(|r| r.server.starts_with("wrd-server") && r.error.is_none())
    };
    let verdict = |ok: bool| if ok { "met" } else { "MISSED" };
    let mut out = Vec::new();
    for r in ours().filter(|r| r.scene == "static") {
        let (bytes, cpu) = (
            r.bytes_per_s.unwrap_or(f64::INFINITY),
            r.cpu_percent.unwrap_or(f64::INFINITY),
        );
        out.push(format!(
            "goal static < 1 KB/s and < 1 % CPU ({}): {bytes:.0} B/s, {cpu:.2} %: {}",
            r.server,
            verdict(bytes < 1000.0 && cpu < 1.0)
        ));
    }
    for r in ours().filter(|r| r.scene == "animate") {
        let fps = r.fps.unwrap_or(0.0);
        out.push(format!(
            "goal animation >= 30 fps ({}): {fps:.1} fps: {}",
            r.server,
            verdict(fps >= 30.0)
        ));
    }
    for r in ours() {
        let line = match r.capture_to_wire {
            // A still screen sends only the connection's first pictures (the first whole
            // picture, a refinement): their times are in the table, but they are not the
            // per-update latency the goal is about.
            _ if r.scene == "static" => {
                "n/a (a still screen: only the connection's first pictures are timed)".to_owned()
            }
            Some(CaptureToWire::Reported(DisplayStatistics {
                capture_to_wire_p50_ms: Some(p50),
                ..
            })) => format!("{p50:.1} ms: {}", verdict(p50 < 15.0)),
            Some(CaptureToWire::Reported(_)) => "n/a (no frame timed)".to_owned(),
            _ => "n/a (server did not report)".to_owned(),
        };
        out.push(format!(
            "goal capture-to-wire median < 15 ms ({}, {}): {line}",
            r.server, r.scene
        ));
    }
    out
}

/// Frames per second `wrd-scene` committed over its last `window_s` seconds, from its
/// `wrd-scene: frames=N seconds=S` lines.
pub fn scene_rate(log: &str, window_s: f64) -> Option<f64> {
    let points: Vec<(u64, f64)> = log
        .lines()
        .filter_map(|l| {
            let rest = l.strip_prefix("wrd-scene: frames=")?;
            let (frames, seconds) = rest.split_once(" seconds=")?;
            Some((frames.parse().ok()?, seconds.trim().parse().ok()?))
        })
        .collect();
    let &(last_frames, last_s) = points.last()?;
    let &(first_frames, first_s) = points.iter().min_by(|a, b| {
        let da = (a.1 - (last_s - window_s)).abs();
        let db = (b.1 - (last_s - window_s)).abs();
        da.total_cmp(&db)
    })?;
    let span = last_s - first_s;
    (span > 0.0).then(|| last_frames.saturating_sub(first_frames) as f64 / span)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(server: &str, scene: SceneArg, capture: Option<CaptureToWire>) -> Row {
        Row {
            bench: "desktop",
            server: server.to_owned(),
            client: "wrd",
            scene: scene_name(scene),
            codec: "RemoteFX".to_owned(),
            fps: Some(58.04),
            fps_kind: "scene frames",
            psnr_db: Some(41.26),
            updates_per_s: Some(120.0),
            bytes_per_s: Some(2048.0),
            cpu_percent: Some(0.5),
            desktop_cpu_percent: Some(12.3),
            rss_mib: Some(20.0),
            client_cpu_percent: Some(35.0),
            machine_busy_percent: Some(71.0),
            machine_steal_percent: Some(12.4),
            capture_to_wire: capture,
            scene_fps: None,
            first_frame_ms: Some(250.0),
            error: None,
        }
    }

    const STATS: DisplayStatistics = DisplayStatistics {
        frames_sent: 10,
        capture_to_wire_p50_ms: Some(3.21),
        capture_to_wire_p99_ms: Some(9.0),
        capture_to_wire_max_ms: Some(12.0),
    };

    #[test]
    fn table_shows_numbers_and_says_na_without_inventing_one() {
        let rows = [
            row(
                "wrd-server (sway)",
                SceneArg::Animate,
                Some(CaptureToWire::Reported(STATS)),
            ),
            row(
                "wrd-server (sway)",
                SceneArg::Static,
                Some(CaptureToWire::NotReported),
            ),
            row(
                "weston (RDP backend)",
                SceneArg::Animate,
                Some(CaptureToWire::Peer),
            ),
            row(
                "wrd-server (sway)",
                SceneArg::Typing,
                Some(CaptureToWire::Reported(DisplayStatistics {
                    frames_sent: 0,
                    capture_to_wire_p50_ms: None,
                    capture_to_wire_p99_ms: None,
                    capture_to_wire_max_ms: None,
                })),
            ),
            Row::failed(
                "gnome-remote-desktop",
                SceneArg::Typing,
                "client 1: connection | refused",
            ),
        ];
        let t = markdown(&rows);
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines.len(), 7, "{t}");
        assert_eq!(
            lines[2],
            "| wrd-server (sway) | animate | RemoteFX | 58.0 | 41.3 | 120.0 | 2.0 | 0.5 | 12.3 | 20.0 | 35 | 71 (12) | 3.2 / 9.0 (max 12.0) |"
        );
        assert!(
            lines[3].ends_with("| n/a (server did not report) |"),
            "{}",
            lines[3]
        );
        assert!(lines[4].ends_with("| n/a (peer) |"), "{}", lines[4]);
        assert!(
            lines[5].ends_with("| n/a (no frame timed; 0 sent) |"),
            "{}",
            lines[5]
        );
        assert!(
            lines[6].contains("**not measured**: client 1: connection / refused"),
            "{}",
            lines[6]
        );
        // every row has the header's number of columns
        let columns = |l: &str| l.matches('|').count();
        assert!(lines.iter().all(|l| columns(l) == columns(lines[0])), "{t}");
    }

    #[test]
    fn verdicts_judge_only_what_was_reported() {
        let mut fast = row(
            "wrd-server (mutter)",
            SceneArg::Animate,
            Some(CaptureToWire::Reported(STATS)),
        );
        fast.fps = Some(29.9);
        let mut quiet = row(
            "wrd-server (sway)",
            SceneArg::Static,
            Some(CaptureToWire::NotReported),
        );
        quiet.bytes_per_s = Some(0.0);
        quiet.cpu_percent = Some(0.0);
        let peer = row(
            "weston (RDP backend)",
            SceneArg::Static,
            Some(CaptureToWire::Peer),
        );
        let failed = Row::failed("wrd-server (sway)", SceneArg::Typing, "not started");
        let v = verdicts(&[fast, quiet, peer, failed]);
        assert_eq!(
            v,
            [
                "goal static < 1 KB/s and < 1 % CPU (wrd-server (sway)): 0 B/s, 0.00 %: met",
                "goal animation >= 30 fps (wrd-server (mutter)): 29.9 fps: MISSED",
                "goal capture-to-wire median < 15 ms (wrd-server (mutter), animate): 3.2 ms: met",
                "goal capture-to-wire median < 15 ms (wrd-server (sway), static): n/a (a still screen: only the connection's first pictures are timed)",
            ]
        );
    }

    #[test]
    fn codec_names() {
        assert_eq!(codec_name(&[3], 0, 0), "RemoteFX");
        assert_eq!(codec_name(&[3], 0, 12), "H.264 (AVC420) + RemoteFX");
        assert_eq!(
            codec_name(&[0, 3], 2, 0),
            "uncompressed surface bits + RemoteFX + bitmap updates"
        );
        assert_eq!(codec_name(&[], 0, 0), "nothing received");
    }

    #[test]
    fn scene_rate_over_the_last_window() {
        let log = "wrd-scene: first frame committed (1920x1080)\n\
                   wrd-scene: frames=30 seconds=1.000\n\
                   wrd-scene: frames=90 seconds=2.000\n\
                   wrd-scene: frames=150 seconds=3.000\n\
                   wrd-scene: frames=210 seconds=4.000\n";
        assert_eq!(scene_rate(log, 2.0), Some(60.0));
        assert_eq!(scene_rate("wrd-scene: frames=5 seconds=1.0\n", 2.0), None);
        assert_eq!(scene_rate("", 2.0), None);
    }
}
