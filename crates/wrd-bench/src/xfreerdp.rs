//! `first-frame --client xfreerdp`: the real FreeRDP 2 client on a private Xvfb.
//!
//! One Xvfb of exactly the desktop size serves all runs; xfreerdp maps its window of `/size`
//! at (0,0) without decorations (no window manager), so a screenshot of the root window is the
//! client area. Each run:
//!
//! 1. waits until the screen no longer shows a picture from the previous run;
//! 2. notes the time and starts xfreerdp, pointed at the [`Relay`] (or, with `--direct`, at
//!    the server);
//! 3. takes screenshots back to back (`xwd -root`, parsed in process) until one shows the
//!    test pattern (`wrd_test_pattern::compare`: counter readable and fewer than
//!    `--max-mismatch` of the pixels beyond `--tolerance`), or with `--any-content` until one
//!    is not uniform;
//! 4. stops xfreerdp and closes the relayed connection.
//!
//! The clock stops when the `xwd` that captured the picture has exited. The picture appeared
//! after the previous screenshot started, so the error is at most one poll cycle (the previous
//! screenshot and its check, plus this screenshot); the report gives the screenshot duration as
//! the polling resolution and each run's bracket. The screenshots compete for the CPU with the
//! client and the server, which slows them a little.

use std::net::SocketAddr;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde::Serialize;
use wrd_testkit::{
    Image, TestDir, XFreeRdp, XFreeRdpOptions, Xvfb, XvfbOptions, output_with_timeout, parse_xwd,
};

use crate::cli::{ClientKind, FirstFrameArgs, PressArgs, SecurityArg};
use crate::first_frame::{Criterion, FirstFrameSummary, print_summary};
use crate::output::{Output, ms};
use crate::relay::Relay;
use crate::stats::Summary;

/// What every measurement that drives the real client sets up: a private Xvfb of exactly the
/// desktop's size (xfreerdp's window fills it at (0, 0), so the root window is the client area)
/// and xfreerdp's options for the server at `addr` (credentials, size, security, quiet log).
/// Callers add their codec or extra arguments.
pub(crate) fn client_setup(
    addr: SocketAddr,
    (username, password): (&str, &str),
    (width, height): (u16, u16),
    security: wrd_testkit::Security,
    log_dir: &std::path::Path,
) -> Result<(Xvfb, XFreeRdpOptions)> {
    let xvfb = Xvfb::start_with(
        &XvfbOptions::default().size(u32::from(width), u32::from(height)),
        log_dir,
    )?;
    let mut options = XFreeRdpOptions::new(addr.port());
    options.host = addr.ip().to_string();
    let options = options
        .credentials(username, password)
        .size(u32::from(width), u32::from(height))
        .security(security)
        .log_level("WARN");
    Ok((xvfb, options))
}

impl From<SecurityArg> for wrd_testkit::Security {
    fn from(security: SecurityArg) -> Self {
        match security {
            SecurityArg::Nla => Self::Nla,
            SecurityArg::Tls => Self::Tls,
        }
    }
}

/// Longest one screenshot may take.
const SHOT_TIMEOUT: Duration = Duration::from_secs(20);
/// How long the previous run's picture may take to leave the screen.
const CLEAR_TIMEOUT: Duration = Duration::from_secs(10);

/// One run of xfreerdp.
#[derive(Debug, Serialize)]
struct XfRun {
    bench: &'static str,
    client: &'static str,
    run: u32,
    warmup: bool,
    /// TCP connect (accepted by the relay) → complete picture. `None` with `--direct`.
    connect_to_complete_ms: Option<f64>,
    /// xfreerdp process start → complete picture.
    spawn_to_complete_ms: f64,
    /// xfreerdp process start → TCP connect (accepted by the relay).
    spawn_to_connect_ms: Option<f64>,
    /// The picture appeared within this long before the clock stopped (start of the previous
    /// screenshot → end of the one that saw it). `None` if the first screenshot saw it.
    bracket_ms: Option<f64>,
    screenshots: usize,
    /// Median duration of this run's screenshots.
    screenshot_ms: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pattern_mismatch: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pattern_frame: Option<u64>,
}

/// A screenshot and when the `xwd` that took it started and ended.
struct Shot {
    image: Image,
    started: Instant,
    ended: Instant,
}

fn screenshot(display: &str) -> Result<Shot> {
    let started = Instant::now();
    let out = output_with_timeout(
        Command::new("xwd").args(["-root", "-silent", "-display", display]),
        SHOT_TIMEOUT,
    )?;
    let ended = Instant::now();
    if !out.status.success() {
        bail!(
            "xwd -display {display} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim_end()
        );
    }
    let image = parse_xwd(&out.stdout).context("parsing xwd's output")?;
    Ok(Shot {
        image,
        started,
        ended,
    })
}

fn to_bgrx(image: &Image) -> Vec<u8> {
    image
        .as_rgb()
        .chunks_exact(3)
        .flat_map(|p| [p[2], p[1], p[0], 0xFF])
        .collect()
}

/// The test-pattern comparison of `image`, if it has the desktop size and a readable counter.
fn pattern_check(
    image: &Image,
    width: u16,
    height: u16,
    tolerance: u8,
) -> Option<wrd_test_pattern::Comparison> {
    if image.size() != (u32::from(width), u32::from(height)) {
        return None;
    }
    let bgrx = to_bgrx(image);
    let stride = usize::from(width) * 4;
    // The counter is cheap to read; the full comparison renders the expected frame.
    wrd_test_pattern::decode_counter(&bgrx, stride, width, height)?;
    Some(wrd_test_pattern::compare(&bgrx, stride, width, height, tolerance))
}

fn in_path(program: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(program).is_file()))
}

/// `xfreerdp /version` on the display: "2.11.7 (2.11.7)".
fn xfreerdp_version(display: &str) -> Option<String> {
    let out = output_with_timeout(
        Command::new("xfreerdp").arg("/version").env("DISPLAY", display),
        Duration::from_secs(10),
    )
    .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .find_map(|l| l.trim().strip_prefix("This is FreeRDP version "))
        .map(str::to_owned)
}

pub fn run(
    args: &FirstFrameArgs,
    addr: SocketAddr,
    password: &str,
    timeout: Duration,
    out: &mut Output,
) -> Result<()> {
    for program in ["xfreerdp", "Xvfb", "xwd"] {
        if !in_path(program) {
            bail!("{program} is not installed (scripts/install-deps.sh installs it)");
        }
    }
    let criterion = if args.any_content {
        Criterion::AnyContent
    } else {
        Criterion::TestPattern
    };
    crate::interrupt::install()?;
    let dir = TestDir::new("bench-xfreerdp")?;
    let result = run_in(args, addr, password, timeout, criterion, &dir, out);
    if result.is_err() {
        let kept = dir.keep();
        eprintln!("wrd-bench: xfreerdp and Xvfb logs kept in {}", kept.display());
    }
    result
}

fn run_in(
    args: &FirstFrameArgs,
    addr: SocketAddr,
    password: &str,
    timeout: Duration,
    criterion: Criterion,
    dir: &TestDir,
    out: &mut Output,
) -> Result<()> {
    let relay = if args.direct {
        None
    } else {
        Some(Relay::start(addr, timeout)?)
    };
    let target = relay.as_ref().map_or(addr, Relay::local_addr);
    let (xvfb, mut options) = client_setup(
        target,
        (&args.connect.username, password),
        (args.connect.width, args.connect.height),
        args.connect.security.into(),
        dir.path(),
    )?;
    let version = xfreerdp_version(xvfb.display());
    options.domain.clone_from(&args.connect.domain);
    options.extra_args.clone_from(&args.xfreerdp_arg);

    out.text(format!(
        "first-frame: client xfreerdp {}, server {addr}{}, {} run(s) + {} warm-up; complete = {}",
        version.as_deref().unwrap_or("(version unknown)"),
        if args.direct {
            " (direct)"
        } else {
            " via a timestamping relay"
        },
        args.runs,
        args.warmup,
        criterion.describe()
    ));

    let mut connect_samples = Vec::new();
    let mut spawn_samples = Vec::new();
    let mut shot_samples = Vec::new();
    let mut bracket_samples = Vec::new();
    for i in 0..args.warmup + args.runs {
        let warmup = i < args.warmup;
        let number = if warmup { i + 1 } else { i - args.warmup + 1 };
        let (mut record, shots) = xf_run(args, &xvfb, &options, relay.as_ref(), timeout, criterion, dir)
            .with_context(|| format!("{} run {number}", if warmup { "warm-up" } else { "measured" }))?;
        record.run = number;
        record.warmup = warmup;
        out.text(format!(
            "  {} {number:2}: complete picture {}  (from process start {:.1} ms, connect at {}, bracket {}, {} screenshots of {:.1} ms)",
            if warmup { "warm-up" } else { "run    " },
            record
                .connect_to_complete_ms
                .map_or_else(|| "      -   ".to_owned(), |v| format!("{v:7.1} ms")),
            record.spawn_to_complete_ms,
            record
                .spawn_to_connect_ms
                .map_or_else(|| "-".to_owned(), |v| format!("{v:.1} ms")),
            record
                .bracket_ms
                .map_or_else(|| "-".to_owned(), |v| format!("{v:.1} ms")),
            record.screenshots,
            record.screenshot_ms,
        ));
        out.json(&record)?;
        if !warmup {
            connect_samples.extend(record.connect_to_complete_ms);
            spawn_samples.push(record.spawn_to_complete_ms);
            shot_samples.extend(shots);
            bracket_samples.extend(record.bracket_ms);
        }
        std::thread::sleep(Duration::from_millis(args.pause_ms));
    }

    let spawn = Summary::of(&spawn_samples).context("no measured run")?;
    let shots = Summary::of(&shot_samples).context("no screenshot")?;
    let connect = Summary::of(&connect_samples);
    if let Some(c) = &connect {
        print_summary(out, "connect → first complete picture, xfreerdp", c);
    }
    print_summary(out, "process start → first complete picture, xfreerdp", &spawn);
    let bracket = Summary::of(&bracket_samples);
    out.text(format!(
        "polling resolution: one screenshot takes {:.1} ms (median; min {:.1}, max {:.1}, n={}); \
         the picture appeared up to {} before the clock stopped",
        shots.median,
        shots.min,
        shots.max,
        shots.n,
        bracket.map_or_else(
            || "one screenshot".to_owned(),
            |b| format!("{:.1} ms (median; max {:.1})", b.median, b.max)
        )
    ));
    out.json(&FirstFrameSummary {
        bench: "first_frame",
        client: ClientKind::Xfreerdp.name(),
        addr: addr.to_string(),
        criterion,
        metric: if connect.is_some() {
            "connect_to_complete"
        } else {
            "spawn_to_complete"
        },
        runs: args.runs,
        warmup: args.warmup,
        ms: connect.unwrap_or(spawn),
        spawn_to_complete_ms: Some(spawn),
        screenshot_ms: Some(shots),
        bracket_ms: bracket,
        xfreerdp_version: version,
    })
}

/// Whether `image` is the picture we wait for; with the comparison for the test pattern.
fn is_complete(
    image: &Image,
    args: &FirstFrameArgs,
    criterion: Criterion,
) -> (bool, Option<wrd_test_pattern::Comparison>) {
    match criterion {
        Criterion::AnyContent => (!image.is_uniform(), None),
        Criterion::TestPattern | Criterion::Coverage => {
            let cmp = pattern_check(image, args.connect.width, args.connect.height, args.tolerance);
            let ok = cmp
                .as_ref()
                .is_some_and(|c| c.frame_index.is_some() && c.mismatched_fraction < args.max_mismatch);
            (ok, cmp)
        }
    }
}

/// One run; also returns its screenshot durations (ms).
fn xf_run(
    args: &FirstFrameArgs,
    xvfb: &Xvfb,
    options: &XFreeRdpOptions,
    relay: Option<&Relay>,
    timeout: Duration,
    criterion: Criterion,
    dir: &TestDir,
) -> Result<(XfRun, Vec<f64>)> {
    // The previous run's window must be gone: otherwise its picture would stop the clock.
    let clear_deadline = Instant::now() + CLEAR_TIMEOUT;
    loop {
        crate::interrupt::check()?;
        let shot = screenshot(xvfb.display())?;
        if !is_complete(&shot.image, args, criterion).0 {
            break;
        }
        if Instant::now() >= clear_deadline {
            bail!("the previous picture is still on the screen after {CLEAR_TIMEOUT:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    if let Some(r) = relay {
        r.drain_accepts();
    }

    let spawned = Instant::now();
    let mut client = XFreeRdp::spawn(xvfb, options, dir.path())?;
    let deadline = spawned + timeout;
    let mut durations = Vec::new();
    let mut previous_start: Option<Instant> = None;
    let (shot, cmp) = loop {
        crate::interrupt::check()?;
        if let Some(code) = client.exit_code()? {
            bail!(
                "xfreerdp exited with {code} before showing the picture; log tail:\n{}",
                client.log_tail(30)
            );
        }
        let shot = screenshot(xvfb.display())?;
        durations.push(ms(shot.ended.saturating_duration_since(shot.started)));
        let (done, cmp) = is_complete(&shot.image, args, criterion);
        tracing::debug!(
            since_spawn_ms = ms(shot.ended.saturating_duration_since(spawned)),
            xwd_ms = ms(shot.ended.saturating_duration_since(shot.started)),
            check_ms = ms(shot.ended.elapsed()),
            uniform = shot.image.is_uniform(),
            comparison = %cmp.as_ref().map_or_else(|| "-".to_owned(), ToString::to_string),
            "screenshot"
        );
        if done {
            break (shot, cmp);
        }
        if shot.ended >= deadline {
            let path = dir.join(format!("timeout-{}.png", durations.len()));
            let saved = shot
                .image
                .save_png(&path)
                .map_or_else(|e| format!(" (not saved: {e:#})"), |()| String::new());
            let seen = cmp.map_or_else(|| "no readable test pattern".to_owned(), |c| c.to_string());
            let _ = client.stop();
            bail!(
                "no complete picture within {timeout:?} ({seen}); last screenshot {}{saved}; xfreerdp log tail:\n{}",
                path.display(),
                client.log_tail(30)
            );
        }
        previous_start = Some(shot.started);
        if args.poll_interval_ms > 0 {
            std::thread::sleep(Duration::from_millis(args.poll_interval_ms));
        }
    };
    let connected = relay.and_then(Relay::take_accept);
    let _ = client.stop();
    if let Some(r) = relay {
        r.close_connections();
    }
    if relay.is_some() && connected.is_none() {
        bail!("the picture appeared but the relay saw no connection");
    }

    let mut sorted = durations.clone();
    sorted.sort_by(f64::total_cmp);
    let record = XfRun {
        bench: "first_frame_run",
        client: ClientKind::Xfreerdp.name(),
        run: 0,
        warmup: false,
        connect_to_complete_ms: connected.map(|c| ms(shot.ended.saturating_duration_since(c))),
        spawn_to_complete_ms: ms(shot.ended.saturating_duration_since(spawned)),
        spawn_to_connect_ms: connected.map(|c| ms(c.saturating_duration_since(spawned))),
        bracket_ms: previous_start.map(|p| ms(shot.ended.saturating_duration_since(p))),
        screenshots: durations.len(),
        screenshot_ms: crate::stats::quantile_sorted(&sorted, 0.5).unwrap_or(0.0),
        pattern_mismatch: cmp.as_ref().map(|c| c.mismatched_fraction),
        pattern_frame: cmp.and_then(|c| c.frame_index),
    };
    Ok((record, durations))
}

/// How often the region is read while waiting for a press's answer.
const PRESS_POLL: Duration = Duration::from_micros(500);
/// How long xfreerdp may take to show a picture.
const PICTURE_TIMEOUT: Duration = Duration::from_secs(30);

/// `press --client xfreerdp`: xfreerdp on a private Xvfb of the desktop size (its window at
/// (0,0), no window manager, so screen coordinates are desktop coordinates), given the X input
/// focus; each press is an XTEST key press timed from the moment its request is sent to the
/// first GetImage of the region that differs from before. Returns the time from xfreerdp's
/// start to a picture (ms) and the presses (`None`: missed).
pub fn press(args: &PressArgs, addr: SocketAddr, password: &str) -> Result<(f64, Vec<Option<Duration>>)> {
    for program in ["xfreerdp", "Xvfb", "xdotool"] {
        if !in_path(program) {
            bail!("{program} is not installed (scripts/install-deps.sh installs it)");
        }
    }
    let keycode = crate::x11::keycode_for_scancode(args.scancode).with_context(|| {
        format!(
            "--client xfreerdp presses keys of scancodes 0x01..0x58 only (got {:#04x})",
            args.scancode
        )
    })?;
    crate::interrupt::install()?;
    let dir = TestDir::new("bench-press-xfreerdp")?;
    let result = press_in(args, addr, password, keycode, &dir);
    if result.is_err() {
        let kept = dir.keep();
        eprintln!("wrd-bench: xfreerdp and Xvfb logs kept in {}", kept.display());
    }
    result
}

fn press_in(
    args: &PressArgs,
    addr: SocketAddr,
    password: &str,
    keycode: u8,
    dir: &TestDir,
) -> Result<(f64, Vec<Option<Duration>>)> {
    let (width, height) = (args.connect.width, args.connect.height);
    let region = args.region.clip((width, height)).with_context(|| {
        format!(
            "--region {} lies outside the {width}x{height} desktop",
            args.region
        )
    })?;
    let (xvfb, mut options) = client_setup(
        addr,
        (&args.connect.username, password),
        (width, height),
        args.connect.security.into(),
        dir.path(),
    )?;
    options.domain.clone_from(&args.connect.domain);
    options.extra_args.clone_from(&args.xfreerdp_arg);
    let started = Instant::now();
    let mut xf = XFreeRdp::spawn(&xvfb, &options, dir.path())?;
    xf.wait_for_content(PICTURE_TIMEOUT)
        .context("waiting for xfreerdp to show a picture")?;
    let picture_ms = ms(started.elapsed());
    xf.focus(Duration::from_secs(10))
        .context("giving xfreerdp the keyboard focus")?;
    let display = crate::x11::Display::connect(xvfb.display())?;
    let press_timeout = Duration::from_millis(args.press_timeout_ms);
    let mut samples = Vec::with_capacity(args.warmup + args.samples);
    for _ in 0..args.warmup + args.samples {
        crate::interrupt::check()?;
        std::thread::sleep(Duration::from_millis(args.interval_ms));
        if !xf.is_running() {
            bail!("xfreerdp ended: {}", xf.log_tail(10));
        }
        let before = display.region(region)?;
        // The clock starts before the request: once it is processed, xfreerdp may answer
        // before this thread runs again.
        let pressed_at = Instant::now();
        display.key(keycode, true)?;
        display.key(keycode, false)?;
        let answered = loop {
            let now = display.region(region)?;
            if crate::press::differs(&now, &before, args.threshold) {
                break Some(pressed_at.elapsed());
            }
            if pressed_at.elapsed() >= press_timeout {
                break None;
            }
            std::thread::sleep(PRESS_POLL);
        };
        samples.push(answered);
    }
    if let Err(e) = xf.stop() {
        tracing::warn!(error = %format!("{e:#}"), "stopping xfreerdp");
    }
    Ok((picture_ms, samples))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_test_pattern_is_recognised_and_black_is_not() {
        let (w, h) = (320u16, 240u16);
        let bgrx = wrd_test_pattern::expected_frame(w, h, 1234);
        let image = Image::from_bgrx(u32::from(w), u32::from(h), usize::from(w) * 4, &bgrx).unwrap();
        let cmp = pattern_check(&image, w, h, 48).unwrap();
        assert_eq!(cmp.frame_index, Some(1234));
        assert_eq!(cmp.mismatched_pixels, 0);

        let black = Image::new(u32::from(w), u32::from(h)).unwrap();
        assert!(pattern_check(&black, w, h, 48).is_none());
        assert!(pattern_check(&image, w + 1, h, 48).is_none(), "wrong size");
    }
}
