//! `wrd-bench desktop` end to end on the quickest peer: weston's RDP backend starts, the typing
//! terminal runs in it, the in-process client measures it, and the table says what arrived,
//! "n/a (peer)" for capture-to-wire, and what a missing binary means, without a number.

// Test code: a failed step is the test failing, so unwrap/panic are the right tools here.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::Command;

use wrd_testkit::TestDir;

fn bench() -> Command {
    Command::new(env!("CARGO_BIN_EXE_wrd-bench"))
}

#[test]
fn weston_typing_and_scrolling_are_measured_and_the_table_says_na_for_the_peer() {
    let dir = TestDir::new("bench-desktop-weston").unwrap();
    let markdown = dir.join("table.md");
    let json = dir.join("results.jsonl");
    let out = bench()
        .arg("--json")
        .arg(&json)
        .args(["desktop", "--servers", "weston", "--scenes", "typing,scroll"])
        .args(["--seconds", "2", "--settle", "1", "--work-dir"])
        .arg(dir.path())
        .arg("--markdown")
        .arg(&markdown)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let table = std::fs::read_to_string(&markdown).unwrap();
    let row = table
        .lines()
        .find(|l| l.starts_with("| weston (RDP backend) | typing |"))
        .unwrap_or_else(|| panic!("no weston row:\n{table}"));
    assert!(row.contains("| RemoteFX |"), "{row}");
    assert!(row.ends_with("| n/a (peer) |"), "{row}");
    // one character every 100 ms reached the client: about 10 bursts of updates a second
    let record: serde_json::Value = std::fs::read_to_string(&json)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|v| v["bench"] == "desktop")
        .unwrap();
    let fps = record["fps"].as_f64().unwrap();
    assert!((4.0..=20.0).contains(&fps), "{fps} bursts/s: {record}");
    assert!(record["bytes_per_s"].as_f64().unwrap() > 0.0, "{record}");
    assert!(record["cpu_percent"].as_f64().is_some(), "{record}");
    let first_frame = record["first_frame_ms"].as_f64().unwrap();
    assert!(first_frame > 0.0 && first_frame < 30_000.0, "{record}");
    // The scrolling terminal moves the whole screen 50 times a second: far more bytes than
    // a character every 100 ms.
    let scroll: serde_json::Value = std::fs::read_to_string(&json)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|v| v["bench"] == "desktop" && v["scene"] == "scroll")
        .unwrap();
    let (typing_bytes, scroll_bytes) = (
        record["bytes_per_s"].as_f64().unwrap(),
        scroll["bytes_per_s"].as_f64().unwrap(),
    );
    assert!(
        scroll_bytes > 5.0 * typing_bytes,
        "typing {record}\nscroll {scroll}"
    );
    // no wrd-server among the servers: no goal lines
    assert!(!table.contains("goal"), "{table}");
}

#[test]
fn two_scenes_on_one_desktop_leave_the_scene_binary_intact() {
    // The second scene installs wrd-scene into the desktop's folder again, where the first
    // left a hard link to it: that must not truncate the binary through the link.
    let dir = TestDir::new("bench-desktop-two-scenes").unwrap();
    let scene = std::path::PathBuf::from(env!("CARGO_BIN_EXE_wrd-bench")).with_file_name("wrd-scene");
    let size_before = std::fs::metadata(&scene).unwrap().len();
    let json = dir.join("results.jsonl");
    let out = bench()
        .arg("--json")
        .arg(&json)
        .args(["desktop", "--servers", "weston", "--scenes", "static,animate"])
        .args([
            "--seconds",
            "1",
            "--settle",
            "0.5",
            "--size",
            "1280x720",
            "--scene",
        ])
        .arg(&scene)
        .arg("--work-dir")
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(std::fs::metadata(&scene).unwrap().len(), size_before);
    let rows: Vec<serde_json::Value> = std::fs::read_to_string(&json)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|v| v["bench"] == "desktop")
        .collect();
    assert_eq!(rows.len(), 2, "{rows:?}");
    for row in rows {
        assert_eq!(row["error"], serde_json::Value::Null, "{row}");
    }
}

#[test]
fn weston_latency_is_measured_through_xfreerdp_too() {
    let dir = TestDir::new("bench-latency-weston-xfreerdp").unwrap();
    let json = dir.join("results.jsonl");
    let scene = std::path::PathBuf::from(env!("CARGO_BIN_EXE_wrd-bench")).with_file_name("wrd-scene");
    assert!(
        scene.exists(),
        "{} is missing: build the workspace first",
        scene.display()
    );
    let out = bench()
        .arg("--json")
        .arg(&json)
        .args([
            "latency",
            "--servers",
            "weston",
            "--client",
            "xfreerdp",
            "--size",
            "1280x720",
        ])
        .args(["--presses", "5", "--warmup", "1", "--scene"])
        .arg(&scene)
        .arg("--work-dir")
        .arg(dir.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let record: serde_json::Value = std::fs::read_to_string(&json)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|v| v["bench"] == "latency")
        .unwrap();
    assert_eq!(record["client"], "xfreerdp", "{record}");
    assert_eq!(record["error"], serde_json::Value::Null, "{record}");
    assert_eq!(record["missed"], 0, "{record}");
    let median = record["summary_ms"]["median"].as_f64().unwrap();
    assert!((1.0..2000.0).contains(&median), "{record}");
}

#[test]
fn weston_frames_are_counted_on_the_xfreerdp_screen_too() {
    let dir = TestDir::new("bench-desktop-weston-xfreerdp").unwrap();
    let json = dir.join("results.jsonl");
    let scene = std::path::PathBuf::from(env!("CARGO_BIN_EXE_wrd-bench")).with_file_name("wrd-scene");
    let out = bench()
        .arg("--json")
        .arg(&json)
        .args([
            "desktop",
            "--servers",
            "weston",
            "--scenes",
            "animate",
            "--client",
            "xfreerdp",
        ])
        .args(["--seconds", "3", "--settle", "1", "--size", "1280x720", "--scene"])
        .arg(&scene)
        .arg("--work-dir")
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let row: serde_json::Value = std::fs::read_to_string(&json)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|v| v["bench"] == "desktop")
        .unwrap();
    assert_eq!(row["client"], "xfreerdp", "{row}");
    let (shown, drawn) = (row["fps"].as_f64().unwrap(), row["scene_fps"].as_f64().unwrap());
    // The client cannot show more frames than the scene drew; it shows most of them.
    assert!(shown > 1.0 && shown <= drawn * 1.1 + 1.0, "{row}");
}

#[test]
fn a_missing_binary_is_a_usage_error() {
    let out = bench()
        .args(["desktop", "--servers", "weston", "--scenes", "animate"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--scene PATH"));
    let out = bench()
        .args(["desktop", "--servers", "wrd", "--scenes", "typing"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--wrd-server PATH"));
}
