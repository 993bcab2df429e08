//! wrd-mutter against the real GNOME compositor: `mutter --headless` with virtual monitors,
//! PipeWire and WirePlumber on a private session bus (wrd-testkit's `MutterStack`, run as the
//! unprivileged stack user). Mutter accepts remote-desktop sessions only from clients of its
//! own session bus, so the part that talks to it runs inside the stack as that user:
//! `wrd-mutter-probe`, the crate's diagnostic binary, which starts sessions with this crate's
//! API, consumes the streams with the PipeWire thread (`Remote::Default`) and prints JSON
//! lines, the way wrd-pipewire's portal test uses `wrd-pw-probe`. A recorded virtual monitor
//! (`RecordVirtual`) is checked to take the size its stream asks for, and a new one asked for
//! while it streams (`SetSize`).

// Test code: a failed expectation is the test failing.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;
use wrd_testkit::{ChildGuard, Image, MutterStack, MutterStackOptions, TestDir, sixel_safe_picture};

/// What `show_picture` fills the rest of the screen with.
const BACKGROUND: [u8; 3] = [0x33, 0x66, 0x99];
/// How long the picture may take to appear (foot starting, Mutter's map animation).
const PICTURE_DEADLINE: Duration = Duration::from_secs(30);

fn parse(stdout: &[u8]) -> Vec<Value> {
    String::from_utf8_lossy(stdout)
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

fn events<'a>(lines: &'a [Value], name: &str) -> Vec<&'a Value> {
    lines.iter().filter(|l| l["event"] == name).collect()
}

fn event<'a>(lines: &'a [Value], name: &str) -> &'a Value {
    events(lines, name)
        .first()
        .copied()
        .unwrap_or_else(|| panic!("no {name} line in {lines:#?}"))
}

/// The stack's probe, run to completion as the stack user: whether it succeeded, its lines.
fn run_probe(stack: &MutterStack, probe: &Path, args: &[&str]) -> (bool, Vec<Value>) {
    let out = stack.output(stack.command(probe).args(args)).unwrap();
    let lines = parse(&out.stdout);
    if !out.status.success() {
        eprintln!(
            "wrd-mutter-probe {args:?}: {}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    (out.status.success(), lines)
}

/// The probe's lines; it must succeed.
fn run_probe_ok(stack: &MutterStack, probe: &Path, args: &[&str]) -> Vec<Value> {
    let (ok, lines) = run_probe(stack, probe, args);
    assert!(ok, "wrd-mutter-probe {args:?} failed:\n{lines:#?}");
    lines
}

fn start(dir: &TestDir, monitors: &[(u32, u32)]) -> (MutterStack, PathBuf) {
    let stack = MutterStack::start(
        dir.path(),
        &MutterStackOptions {
            monitors: monitors.to_vec(),
        },
    )
    .unwrap();
    let probe = stack
        .install(Path::new(env!("CARGO_BIN_EXE_wrd-mutter-probe")))
        .unwrap();
    (stack, probe)
}

fn pair(v: &Value) -> (i64, i64) {
    (v[0].as_i64().unwrap(), v[1].as_i64().unwrap())
}

/// Whether `frame` shows `pic` at its top-left corner and the background elsewhere.
fn shows_picture(frame: &Image, pic: &Image) -> Result<(), String> {
    let (pw, ph) = pic.size();
    let (fw, fh) = frame.size();
    let top_left = frame.crop(0, 0, pw, ph).map_err(|e| e.to_string())?;
    let differ = top_left.fraction_different(pic, 2).map_err(|e| e.to_string())?;
    if differ > 0.0 {
        return Err(format!("{:.3}% of the picture's pixels differ", differ * 100.0));
    }
    let below = frame.crop(0, ph, fw, fh - ph).map_err(|e| e.to_string())?;
    let right = frame.crop(pw, 0, fw - pw, ph).map_err(|e| e.to_string())?;
    for (name, area) in [("below", below), ("right of", right)] {
        let matching = area.fraction_matching(BACKGROUND, 2);
        if matching < 0.999 {
            return Err(format!(
                "only {:.2}% of the area {name} the picture is the background",
                matching * 100.0
            ));
        }
    }
    Ok(())
}

/// Runs the probe until every stream sent a frame and stream `stream`'s last one shows the
/// picture (bounded); returns the lines of that run. Foot needs a moment to start, Mutter
/// animates new windows, and Mutter sends frames only on change: a stream's first frame after
/// connecting can be missing on a still screen (seen under load), so a run without a frame on
/// every stream is tried again too.
fn capture_until_picture(
    stack: &MutterStack,
    probe: &Path,
    dir: &TestDir,
    stream: usize,
    pic: &Image,
) -> Vec<Value> {
    let dumps = stack.dir().join("dumps");
    std::fs::create_dir_all(&dumps).unwrap();
    std::fs::set_permissions(&dumps, std::os::unix::fs::PermissionsExt::from_mode(0o777)).unwrap();
    let started = Instant::now();
    loop {
        let (_, lines) = run_probe(
            stack,
            probe,
            &[
                "capture",
                "--seconds",
                "1.5",
                "--dump-dir",
                dumps.to_str().unwrap(),
            ],
        );
        let missing: Vec<&Value> = events(&lines, "summary")
            .into_iter()
            .filter(|s| s["frames"] == 0)
            .collect();
        let why = if events(&lines, "summary").is_empty() {
            format!("the probe did not capture: {lines:?}")
        } else if !missing.is_empty() {
            format!("no frame from {missing:?}")
        } else {
            let frame = Image::load_raw_dump(dumps.join(format!("stream-{stream}.raw"))).unwrap();
            match shows_picture(&frame, pic) {
                Ok(()) => return lines,
                Err(why) => {
                    frame.save_png(dir.join("captured.png")).unwrap();
                    why
                }
            }
        };
        if started.elapsed() > PICTURE_DEADLINE {
            pic.save_png(dir.join("expected.png")).unwrap();
            panic!(
                "stream {stream} never showed the picture within {PICTURE_DEADLINE:?}: {why} (last captured.png, expected.png in {})",
                dir.path().display()
            );
        }
        eprintln!("not yet: {why}");
    }
}

#[test]
fn one_monitor_one_stream_showing_the_screen() {
    let dir = TestDir::new("mutter-one").unwrap();
    let (mut stack, probe) = start(&dir, &[(1280, 720)]);
    let pic = sixel_safe_picture(1024, 576).unwrap();
    stack.show_picture(&pic, BACKGROUND).unwrap();

    let lines = capture_until_picture(&stack, &probe, &dir, 0, &pic);
    let session = event(&lines, "session");
    let streams = session["streams"].as_array().unwrap();
    assert_eq!(streams.len(), 1, "{session}");
    assert_eq!(streams[0]["connector"], "Meta-0");
    assert_eq!(pair(&streams[0]["position"]), (0, 0));
    assert_eq!(pair(&streams[0]["size"]), (1280, 720));
    let summary = event(&lines, "summary");
    assert!(summary["frames"].as_u64().unwrap() >= 1, "{summary}");
    assert_eq!(summary["width"], 1280);
    assert_eq!(summary["height"], 720);
}

#[test]
fn a_virtual_monitor_takes_the_streams_size_and_follows_a_new_one() {
    let dir = TestDir::new("mutter-virtual").unwrap();
    let (stack, probe) = start(&dir, &[(1280, 720)]);
    let lines = run_probe_ok(
        &stack,
        &probe,
        &[
            "capture",
            "--virtual",
            "800x600",
            "--resize-to",
            "1024x768",
            "--seconds",
            "4",
        ],
    );
    let session = lines.iter().find(|l| l["event"] == "session").unwrap();
    // One stream, of a monitor Mutter makes only once the stream has a size.
    assert_eq!(session["streams"].as_array().unwrap().len(), 1, "{lines:#?}");
    let sizes: Vec<(u64, u64)> = lines
        .iter()
        .filter(|l| l["event"] == "frame")
        .map(|l| (l["width"].as_u64().unwrap(), l["height"].as_u64().unwrap()))
        .collect();
    let resized_at = lines
        .iter()
        .position(|l| l["event"] == "resize")
        .expect("the resize");
    let first = lines.iter().position(|l| l["event"] == "frame").expect("a frame");
    assert!(first < resized_at, "no frame before the resize: {lines:#?}");
    assert_eq!(sizes.first(), Some(&(800, 600)), "{lines:#?}");
    assert_eq!(sizes.last(), Some(&(1024, 768)), "{lines:#?}");
    // Every frame after the resize's re-negotiation has the new size.
    let after: Vec<_> = lines[resized_at..]
        .iter()
        .filter(|l| l["event"] == "frame")
        .map(|l| (l["width"].as_u64().unwrap(), l["height"].as_u64().unwrap()))
        .collect();
    assert!(after.contains(&(1024, 768)), "{lines:#?}");
}

#[test]
fn two_monitors_two_streams_each_in_its_place() {
    let dir = TestDir::new("mutter-two").unwrap();
    let (mut stack, probe) = start(&dir, &[(1280, 720), (800, 600)]);
    let pic = sixel_safe_picture(640, 384).unwrap();
    stack.show_picture(&pic, BACKGROUND).unwrap();

    // the picture is on the primary monitor, i.e. stream 0
    let lines = capture_until_picture(&stack, &probe, &dir, 0, &pic);
    let session = event(&lines, "session");
    let streams = session["streams"].as_array().unwrap();
    assert_eq!(streams.len(), 2, "{session}");
    let expected = [("Meta-0", (0, 0), (1280, 720)), ("Meta-1", (1280, 0), (800, 600))];
    for (stream, (connector, position, size)) in streams.iter().zip(expected) {
        assert_eq!(stream["connector"], connector, "{session}");
        assert_eq!(pair(&stream["position"]), position, "{session}");
        assert_eq!(pair(&stream["size"]), size, "{session}");
    }
    assert_ne!(streams[0]["node"], streams[1]["node"]);
    let summaries = events(&lines, "summary");
    assert_eq!(summaries.len(), 2);
    for (summary, (_, _, (w, h))) in summaries.iter().zip(expected) {
        assert!(summary["frames"].as_u64().unwrap() >= 1, "{summary}");
        assert_eq!(summary["width"], w, "{summary}");
        assert_eq!(summary["height"], h, "{summary}");
    }
    // the second monitor shows Mutter's own background (a dark vignette): nothing of the
    // full-screen terminal on the first
    let second = Image::load_raw_dump(stack.dir().join("dumps/stream-1.raw")).unwrap();
    assert_eq!(second.fraction_matching(BACKGROUND, 8), 0.0);
    assert!(shows_picture(&second, &pic).is_err());
}

#[test]
fn cursor_metadata_follows_the_pointer_and_input_calls_succeed() {
    let dir = TestDir::new("mutter-cursor").unwrap();
    let (stack, probe) = start(&dir, &[(1280, 720)]);
    let lines = run_probe_ok(
        &stack,
        &probe,
        &[
            "capture",
            "--cursor",
            "metadata",
            "--move-pointer",
            "--input-check",
            "--seconds",
            "2",
        ],
    );
    assert_eq!(event(&lines, "session")["cursor"], "Metadata");
    let inputs = events(&lines, "input");
    assert!(inputs.len() >= 10, "{inputs:#?}");
    for input in &inputs[..inputs.len() - 1] {
        assert_eq!(input["ok"], true, "{input}");
    }
    let wrong = inputs.last().unwrap();
    assert_eq!(wrong["ok"], false, "{wrong}");
    assert!(
        wrong["error"].as_str().unwrap().contains("no stream 1"),
        "{wrong}"
    );

    let summary = event(&lines, "summary");
    assert!(summary["cursor_frames"].as_u64().unwrap() >= 5, "{summary}");
    assert!(
        summary["cursor_bitmaps"].as_u64().unwrap() >= 1,
        "no cursor bitmap: {summary}\n{:#?}",
        events(&lines, "cursor")
    );
    // the metadata's position is where we last moved the pointer (whole pixels)
    let last_pointer = &summary["last_pointer"];
    let (px, py) = (
        last_pointer[0].as_f64().unwrap(),
        last_pointer[1].as_f64().unwrap(),
    );
    let (cx, cy) = pair(&summary["last_cursor"]);
    assert!(
        (cx as f64 - px).abs() <= 1.0 && (cy as f64 - py).abs() <= 1.0,
        "cursor at ({cx}, {cy}), pointer moved to ({px}, {py}): {summary}"
    );
    // and the very first cursor metadata carries the image (start() shows the pointer before
    // streaming: Mutter 43 would otherwise send an empty image and never correct it)
    let cursors = events(&lines, "cursor");
    assert!(cursors[0]["bitmap"].is_array(), "{cursors:#?}");
}

#[test]
fn stop_ends_the_session() {
    let dir = TestDir::new("mutter-stop").unwrap();
    let (stack, probe) = start(&dir, &[(1280, 720)]);
    // the probe stops its session at the end and waits for Mutter's Closed
    for _ in 0..2 {
        // (twice: nothing was left half-open by the first)
        let (_, lines) = run_probe(&stack, &probe, &["capture", "--seconds", "1"]);
        let closed = event(&lines, "closed");
        assert_eq!(closed["after"], "stop", "{lines:#?}");
        eprintln!("stop confirmed after {} ms", closed["ms"]);
        assert!(closed["ms"].as_f64().unwrap() < 2000.0, "{closed}");
        assert!(events(&lines, "not-closed").is_empty(), "{lines:#?}");
    }
    // Mutter saw the sessions end as asked, not by their client vanishing
    let mutter_log = std::fs::read_to_string(dir.join("mutter.log")).unwrap();
    assert!(
        !mutter_log.contains("client with active sessions vanished"),
        "{mutter_log}"
    );
}

#[test]
fn killing_mutter_ends_the_session_promptly() {
    let dir = TestDir::new("mutter-kill").unwrap();
    let (mut stack, probe) = start(&dir, &[(1280, 720)]);
    let mut cmd: Command = stack.command(&probe);
    cmd.args(["capture", "--seconds", "1", "--wait-closed", "20"]);
    let mut waiting = ChildGuard::spawn(&mut cmd, "probe-wait-closed", dir.path()).unwrap();
    waiting
        .wait_for_log("\"event\":\"waiting\"", Duration::from_secs(20))
        .unwrap();
    let killed = Instant::now();
    stack.kill_mutter().unwrap();
    waiting
        .wait_timeout(Duration::from_secs(10))
        .unwrap()
        .unwrap_or_else(|| panic!("the probe did not notice Mutter's end:\n{}", waiting.log()));
    let noticed = killed.elapsed();
    eprintln!("Mutter's end noticed {noticed:?} after SIGKILL");
    let lines = parse(waiting.log().as_bytes());
    let closed = event(&lines, "closed");
    assert_eq!(closed["after"], "wait", "{lines:#?}");
    assert!(noticed < Duration::from_secs(5), "noticed after {noticed:?}");
}

#[test]
fn probe_finds_mutter_and_nothing_on_a_bare_bus() {
    let dir = TestDir::new("mutter-probe").unwrap();
    let (stack, probe) = start(&dir, &[(1280, 720), (640, 480)]);
    let lines = run_probe_ok(&stack, &probe, &["probe"]);
    let found = event(&lines, "probe");
    assert_eq!(found["available"], true, "{found}");
    // mutter 43: ScreenCast 4, RemoteDesktop 1
    assert!(found["screencast_version"].as_i64().unwrap() >= 4, "{found}");
    assert!(found["remote_desktop_version"].as_i64().unwrap() >= 1, "{found}");
    let devices = found["supported_device_types"].as_u64().unwrap();
    assert_eq!(
        devices & u64::from(wrd_mutter::DEVICE_KEYBOARD | wrd_mutter::DEVICE_POINTER),
        3,
        "{found}"
    );
    assert_eq!(found["monitors"], serde_json::json!(["Meta-0", "Meta-1"]));
    drop(stack);

    // A session bus without Mutter (this test's own, as whoever runs the test).
    let bus = dir.join("bare-bus");
    let mut dbus = Command::new("dbus-daemon");
    dbus.args(["--session", "--nofork", "--nopidfile"])
        .arg(format!("--address=unix:path={}", bus.display()));
    let _bus = ChildGuard::spawn(&mut dbus, "bare-dbus-daemon", dir.path()).unwrap();
    wrd_testkit::poll_until(
        Duration::from_secs(10),
        Duration::from_millis(20),
        "the bare bus",
        || Ok(bus.exists().then_some(())),
    )
    .unwrap();
    let on = |address: &str, args: &[&str]| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_wrd-mutter-probe"));
        cmd.env_clear()
            .env("DBUS_SESSION_BUS_ADDRESS", address)
            .args(args);
        wrd_testkit::output_with_timeout(&mut cmd, Duration::from_secs(20)).unwrap()
    };
    let out = on(&format!("unix:path={}", bus.display()), &["probe"]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(event(&parse(&out.stdout), "probe")["available"], false);

    // Starting a session there says what is missing and what to do.
    let out = on(&format!("unix:path={}", bus.display()), &["capture"]);
    assert!(!out.status.success());
    let error = event(&parse(&out.stdout), "error")["message"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(error.contains("org.gnome.Mutter.ScreenCast"), "{error}");
    assert!(error.contains("GNOME"), "{error}");

    // No session bus at all: an error, not "no Mutter".
    let out = on(&format!("unix:path={}", dir.join("no-bus").display()), &["probe"]);
    assert!(!out.status.success());
    let error = event(&parse(&out.stdout), "error")["message"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(error.contains("session bus"), "{error}");
}
