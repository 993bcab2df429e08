//! The PipeWire thread through the real portal: headless sway + PipeWire + WirePlumber +
//! xdg-desktop-portal(-wlr) (wrd-testkit's `SwayStack`), a ScreenCast session and the fd +
//! node it hands out, consumed by `wrd-pw-probe` running as the stack's user. The frame must
//! match a `grim` screenshot of the same output, pixel for pixel.

// Test code: a failed expectation is the test failing.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
// Test data is built with deliberate wrapping arithmetic and small casts.
#![allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]

use std::collections::HashMap;
use std::path::Path;

use wrd_testkit::{Image, StackOptions, SwayStack, TestDir};

/// A flat JSON object's fields as text (the probe prints nothing nested).
fn fields(line: &str) -> HashMap<String, String> {
    let body = line.trim().trim_start_matches('{').trim_end_matches('}');
    let mut out = HashMap::new();
    let mut rest = body;
    while let Some(colon) = rest.find("\":") {
        let key = rest[..colon]
            .trim_start_matches([',', ' '])
            .trim_matches('"')
            .to_owned();
        rest = &rest[colon + 2..];
        let (val, next) = if let Some(r) = rest.strip_prefix('"') {
            let mut end = 0;
            let b = r.as_bytes();
            while end < b.len() && !(b[end] == b'"' && (end == 0 || b[end - 1] != b'\\')) {
                end += 1;
            }
            (r[..end].to_owned(), &r[(end + 1).min(r.len())..])
        } else {
            let end = rest.find(',').unwrap_or(rest.len());
            (rest[..end].to_owned(), &rest[end..])
        };
        out.insert(key, val);
        rest = next;
    }
    out
}

fn event<'a>(lines: &'a [HashMap<String, String>], name: &str) -> Option<&'a HashMap<String, String>> {
    lines
        .iter()
        .find(|l| l.get("event").map(String::as_str) == Some(name))
}

fn run_probe(stack: &SwayStack, probe: &Path, args: &[&str]) -> Vec<HashMap<String, String>> {
    let out = stack.output(stack.command(probe).args(args)).unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<_> = stdout.lines().map(fields).collect();
    assert!(
        out.status.success(),
        "probe failed ({}):\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    lines
}

/// A wallpaper no scaler or stride error could reproduce by accident.
fn wallpaper(w: u32, h: u32) -> Image {
    let mut rgb = Vec::with_capacity((w * h * 3) as usize);
    for y in 0..h {
        for x in 0..w {
            let n = (x.wrapping_mul(2_654_435_761) ^ y.wrapping_mul(2_246_822_519)).rotate_left(7);
            // blocks of 8x8 with noise inside: structure at two scales
            let b = ((x / 8) * 31 + (y / 8) * 17) as u8;
            rgb.extend_from_slice(&[b ^ (n as u8 & 0x0f), (n >> 8) as u8, (n >> 16) as u8]);
        }
    }
    Image::from_rgb(w, h, rgb).unwrap()
}

fn load_dump(path: &Path) -> Image {
    let bytes = std::fs::read(path).unwrap();
    let nl = bytes.iter().position(|&b| b == b'\n').unwrap();
    let header = String::from_utf8_lossy(&bytes[..nl]).into_owned();
    let f: Vec<&str> = header.split_whitespace().collect();
    assert_eq!(f[0], "WRDRAW", "{header}");
    let (w, h, stride): (u32, u32, usize) = (
        f[1].parse().unwrap(),
        f[2].parse().unwrap(),
        f[3].parse().unwrap(),
    );
    let data = &bytes[nl + 1..];
    match f[4] {
        "Bgrx" | "Bgra" => Image::from_bgrx(w, h, stride, data).unwrap(),
        "Rgbx" | "Rgba" => Image::from_rgbx(w, h, stride, data).unwrap(),
        other => panic!("unexpected format {other}"),
    }
}

#[test]
fn portal_screencast_matches_grim_and_sustains_frames() {
    let dir = TestDir::new("pw-portal").unwrap();
    let (w, h) = (1920, 1080);
    let wall = dir.join("wall.png");
    wallpaper(w, h).save_png(&wall).unwrap();
    let mut stack = SwayStack::start(
        dir.path(),
        &StackOptions {
            size: Some((w, h)),
            wallpaper: Some(wall),
            animate: false,
        },
    )
    .unwrap();
    let probe = stack
        .install(Path::new(env!("CARGO_BIN_EXE_wrd-pw-probe")))
        .unwrap();

    // 1. a static desktop: the captured frame equals grim's screenshot. xdg-desktop-portal-wlr
    //    sends a still screen's first frame when it gets to it: 1.5 s was too short on a loaded
    //    machine (3 misses in 12 runs).
    let dump = stack.dir().join("frame.raw");
    let lines = run_probe(
        &stack,
        &probe,
        &["--seconds", "4", "--dump", dump.to_str().unwrap()],
    );
    let portal = event(&lines, "portal").expect("no portal line");
    assert_eq!(portal["width"], w.to_string());
    let summary = event(&lines, "summary").expect("no summary");
    assert_eq!(summary["width"], w.to_string(), "{summary:?}");
    assert_eq!(summary["height"], h.to_string());
    assert_eq!(summary["invalid"], "0");
    let shutdown_ms: f64 = event(&lines, "shutdown").unwrap()["ms"].parse().unwrap();
    assert!(shutdown_ms < 1000.0, "shutdown took {shutdown_ms} ms");
    let captured = load_dump(&dump);
    let shot = Image::decode_png(&stack.grim_png().unwrap()).unwrap();
    assert_eq!(captured.size(), shot.size());
    let differ = captured.fraction_different(&shot, 0).unwrap();
    if differ > 0.0 {
        captured.save_png(dir.join("captured.png")).unwrap();
        shot.save_png(dir.join("grim.png")).unwrap();
    }
    assert!(differ == 0.0, "{:.4}% of pixels differ from grim", differ * 100.0);
    assert!(shot.count_colors(5000) >= 5000, "the wallpaper is not on screen");

    // 2. something animating: frames keep coming at the compositor's pace
    stack
        .spawn_client(
            stack.command("weston-presentation-shm"),
            "weston-presentation-shm",
        )
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(500));
    let lines = run_probe(&stack, &probe, &["--seconds", "3"]);
    let summary = event(&lines, "summary").unwrap();
    let fps: f64 = summary["fps"].parse().unwrap();
    let frames: u64 = summary["frames"].parse().unwrap();
    eprintln!("portal: {frames} frames, {fps:.1} fps, summary {summary:?}");
    assert!(fps >= 10.0, "only {fps} fps through the portal");
    assert_eq!(summary["invalid"], "0");
}
