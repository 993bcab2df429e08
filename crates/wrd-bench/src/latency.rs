//! `latency`: input-to-pixel latency of RDP servers, one after another in one run.
//!
//! For each server ([`crate::desktop::targets`]): start it on its own headless desktop,
//! connect one in-process client (RemoteFX advertised), wait for its first picture, start
//! `wrd-scene flip` on that desktop (after the client: a server's virtual keyboard may only
//! exist once a client is there, and an app started before it may never get a keyboard), wait
//! until the client's picture shows the flipper's colour, click at the centre of the screen
//! (so that mutter and weston give it the keyboard), wait for the flipper to log that it has
//! the keyboard (if it has not within 3 s, a key press every 500 ms until it has: a server
//! that makes its virtual keyboard on the first key event leaves the seat without a keyboard
//! until then), then press a key (scancode press and release) every `--interval-ms`. Each
//! press is timed from the moment the press event has been written to the socket to the
//! decoded graphics update after which every sample point of the client's picture shows the
//! flipper's next colour. The first `--warmup` presses are dropped; median, p95, max of the
//! rest. A press whose colour never comes (within `--press-timeout`) is counted as missed.
//!
//! The flipper stamps each key it handles with `CLOCK_MONOTONIC` (the clock this process reads
//! too, on the same machine), so each timed press is also split: press written → key handled
//! by the app (the server's and the compositor's input path); the rest is the app's repaint,
//! the compositor, capture, encoding, the wire and this client's decode.

use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use serde::Serialize;
use wrd_client::{ClientConfig, Instant, MouseButton, Session, SessionEvent};
use wrd_scene::flip;
use wrd_testkit::ChildGuard;

use crate::cli::{ClientKind, LatencyArgs, ServerArg};
use crate::desktop::targets::{self, Security, Target};
use crate::output::{Output, ms};
use crate::stats::Summary;

/// The key pressed: `A` (scancode set 1), which no compositor under test binds.
const KEY_SCANCODE: u8 = 0x1e;
/// How long the flipper may take to get the keyboard after the click, before key presses are
/// sent to make it come.
const FOCUS_AFTER_CLICK: Duration = Duration::from_secs(3);
/// How long the flipper may take to get the keyboard in all.
const FOCUS_TIMEOUT: Duration = Duration::from_secs(15);
/// Between two key presses sent to bring a keyboard into being (some servers only make their
/// virtual keyboard on the first key event; until then the desktop's seat has none, and the
/// flipper none to get focus on).
const FOCUS_NUDGE: Duration = Duration::from_millis(500);
/// How often the flipper's log is looked at while waiting for focus (the session is served in
/// between).
const FOCUS_POLL: Duration = Duration::from_millis(50);

/// One server's figures (`{"bench":"latency", ...}`).
#[derive(Debug, Clone, Serialize)]
pub struct LatencyRecord {
    pub bench: &'static str,
    pub server: &'static str,
    /// `wrd` (in-process) or `xfreerdp`.
    pub client: &'static str,
    /// Presses timed (after the warm-up).
    pub presses: usize,
    pub warmup: usize,
    /// Presses after the warm-up whose colour never came.
    pub missed: usize,
    pub interval_ms: u64,
    /// Press written → picture shows the new colour, per timed press, in order.
    pub samples_ms: Vec<f64>,
    pub summary_ms: Option<Summary>,
    /// Press written → the flipper handled the key (its log line's `CLOCK_MONOTONIC` stamp):
    /// the server's and the compositor's input path.
    pub input_to_app_ms: Option<Summary>,
    /// Why the server could not be measured.
    pub error: Option<String>,
}

impl LatencyRecord {
    fn failed(server: &'static str, args: &LatencyArgs, error: &anyhow::Error) -> Self {
        Self {
            bench: "latency",
            server,
            client: args.client.name(),
            presses: 0,
            warmup: args.warmup,
            missed: 0,
            interval_ms: args.interval_ms,
            samples_ms: Vec::new(),
            summary_ms: None,
            input_to_app_ms: None,
            error: Some(format!("{error:#}").lines().next().unwrap_or_default().to_owned()),
        }
    }
}

pub fn run(args: &LatencyArgs, out: &mut Output) -> Result<()> {
    let timeout = crate::cli::DesktopArgs::seconds("timeout", args.timeout, false)?;
    let press_timeout = crate::cli::DesktopArgs::seconds("press-timeout", args.press_timeout, false)?;
    if args.presses == 0 {
        return Err(crate::UsageError("--presses must be at least 1".into()).into());
    }
    if !args.scene.is_file() {
        return Err(crate::UsageError(format!("--scene {}: no such file", args.scene.display())).into());
    }
    if args.servers.iter().any(|&k| targets::is_ours(k)) && args.wrd_server.is_none() {
        return Err(crate::UsageError("--wrd-server PATH is needed to measure wrd-server".into()).into());
    }
    crate::interrupt::install()?;
    let work = match &args.work_dir {
        Some(d) => {
            std::fs::create_dir_all(d).with_context(|| format!("creating {}", d.display()))?;
            d.clone()
        }
        None => crate::desktop::new_work_dir("wrd-bench-latency")?,
    };
    out.text(format!(
        "latency: servers {:?}, {}x{}, {} presses after {} warm-up, one every {} ms; logs in {}",
        args.servers,
        args.size.0,
        args.size.1,
        args.presses,
        args.warmup,
        args.interval_ms,
        work.display()
    ));
    let mut records = Vec::new();
    for &kind in &args.servers {
        crate::interrupt::check()?;
        let label = targets::label(kind);
        let record = match measure_server(kind, args, &work, timeout, press_timeout, out) {
            Ok(r) => r,
            Err(e) => {
                out.text(format!("{label}: failed: {e:#}"));
                LatencyRecord::failed(label, args, &e)
            }
        };
        out.json(&record)?;
        records.push(record);
    }
    let mut markdown = markdown(&records);
    let verdicts = verdicts(&records, args.goal_ms);
    if !verdicts.is_empty() {
        markdown.push('\n');
        for line in &verdicts {
            markdown.push_str(&format!("- {line}\n"));
        }
    }
    out.text("");
    out.text(markdown.trim_end());
    if let Some(path) = &args.markdown {
        std::fs::write(path, &markdown).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

fn measure_server(
    kind: ServerArg,
    args: &LatencyArgs,
    work: &Path,
    timeout: Duration,
    press_timeout: Duration,
    out: &mut Output,
) -> Result<LatencyRecord> {
    let started = std::time::Instant::now();
    let mut target = Target::start(kind, work, args.size, args.wrd_server.as_deref(), timeout)?;
    out.text(format!(
        "{} listening on {} after {:.1} s (pid {})",
        target.label(),
        target.addr,
        started.elapsed().as_secs_f64(),
        target.server_pid
    ));
    target.ensure_running()?;
    let scene_bin = target.install(&args.scene)?;
    let mut config = ClientConfig::new(target.addr, targets::USER, target.password.clone());
    config.security = match target.security {
        Security::Nla => wrd_client::Security::Nla,
        Security::Tls => wrd_client::Security::Tls,
    };
    config.desktop_width = args.size.0;
    config.desktop_height = args.size.1;
    config.codec = args.codec.client_codec();
    config.connect_timeout = timeout;
    config.client_name = "wrd-bench".to_owned();
    let plan = PressPlan {
        warmup: args.warmup,
        presses: args.presses,
        interval: Duration::from_millis(args.interval_ms),
        press_timeout,
        timeout,
    };
    let mut scene: Option<ChildGuard> = None;
    let result = match args.client {
        ClientKind::Wrd => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("starting the client's runtime")
            .and_then(|runtime| runtime.block_on(client(config, &plan, &target, &scene_bin, &mut scene))),
        ClientKind::Xfreerdp => xfreerdp_client(args.size, &plan, &target, &scene_bin, &mut scene),
    };
    let scene_tail = scene.as_ref().map(|s| s.log_tail(5)).unwrap_or_default();
    let scene_log = scene.as_ref().map(ChildGuard::log).unwrap_or_default();
    drop(scene);
    let presses =
        result.inspect_err(|_| out.text(format!("{}: the flipper's log: {scene_tail}", target.label())))?;
    let input = input_to_app(&presses[plan.warmup.min(presses.len())..], &scene_log);
    let timed: Vec<Option<f64>> = presses
        .iter()
        .skip(plan.warmup)
        .map(|p| p.latency.map(ms))
        .collect();
    let samples: Vec<f64> = timed.iter().flatten().copied().collect();
    let missed = timed.iter().filter(|t| t.is_none()).count();
    let summary = Summary::of(&samples);
    let input_summary = Summary::of(&input);
    if let Some(s) = &input_summary {
        out.text(format!(
            "{}: of which press written → key handled by the flipper: median {:.1} ms, p95 {:.1} ms ({} presses)",
            target.label(),
            s.median,
            s.p95,
            input.len()
        ));
    }
    match &summary {
        Some(s) => out.text(format!(
            "{}: input-to-pixel median {:.1} ms, p95 {:.1} ms, max {:.1} ms, min {:.1} ms \
             ({} presses timed, {} missed, {} warm-up dropped)",
            target.label(),
            s.median,
            s.p95,
            s.max,
            s.min,
            samples.len(),
            missed,
            plan.warmup
        )),
        None => bail!("no press showed its colour ({missed} missed)"),
    }
    Ok(LatencyRecord {
        bench: "latency",
        server: target.label(),
        client: args.client.name(),
        presses: samples.len(),
        warmup: plan.warmup,
        missed,
        interval_ms: args.interval_ms,
        samples_ms: samples,
        summary_ms: summary,
        input_to_app_ms: input_summary,
        error: None,
    })
}

/// One press as the client saw it.
#[derive(Debug, Clone, Copy)]
struct Press {
    /// `CLOCK_MONOTONIC` seconds just after the press was written.
    written_at: f64,
    /// The palette index the press should bring.
    expected: usize,
    latency: Option<Duration>,
}

/// `CLOCK_MONOTONIC` now, in seconds: the clock the flipper stamps its key lines with.
fn monotonic_seconds() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; CLOCK_MONOTONIC always exists on Linux.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &raw mut ts) };
    ts.tv_sec as f64 + ts.tv_nsec as f64 / 1e9
}

/// The flipper's key lines (`wrd-scene: key K colour I at S.N`): (colour, seconds).
fn key_lines(log: &str) -> Vec<(usize, f64)> {
    log.lines()
        .filter_map(|l| {
            let rest = l.strip_prefix("wrd-scene: key ")?;
            let (_, rest) = rest.split_once(" colour ")?;
            let (colour, at) = rest.split_once(" at ")?;
            Some((colour.parse().ok()?, at.trim().parse().ok()?))
        })
        .collect()
}

/// Press written → key handled by the flipper, in ms, for each press matched (in order) with
/// the flipper's next key line of the expected colour stamped after the press was written.
fn input_to_app(presses: &[Press], log: &str) -> Vec<f64> {
    let lines = key_lines(log);
    let mut next = 0;
    let mut found = Vec::new();
    for p in presses {
        // The write is stamped just after it returned: the flipper may stamp a hair before.
        let matched = lines
            .iter()
            .enumerate()
            .skip(next)
            .find(|(_, (colour, at))| *colour == p.expected && *at >= p.written_at - 0.001);
        if let Some((i, (_, at))) = matched {
            found.push((at - p.written_at).max(0.0) * 1000.0);
            next = i + 1;
        }
    }
    found
}

struct PressPlan {
    warmup: usize,
    presses: usize,
    interval: Duration,
    press_timeout: Duration,
    timeout: Duration,
}

/// Connects, starts the flipper (into `scene`, so that the caller stops it and can show its
/// log), focuses it and times the presses: `None` for a missed one.
async fn client(
    config: ClientConfig,
    plan: &PressPlan,
    target: &Target,
    scene_bin: &Path,
    scene: &mut Option<ChildGuard>,
) -> Result<Vec<Press>> {
    let addr = config.addr;
    let mut session = wrd_client::connect(config)
        .await
        .with_context(|| format!("connecting to {addr}"))?;
    let deadline = Instant::now() + plan.timeout;
    session
        .wait_for_frame(deadline)
        .await
        .context("waiting for the first picture")?;
    let (width, height) = session.desktop_size();
    let points = sample_points(width, height);

    let mut cmd = target.command(scene_bin)?;
    cmd.arg("flip");
    *scene = Some(ChildGuard::spawn(&mut cmd, "scene-flip", &target.log_dir)?);
    let deadline = Instant::now() + plan.timeout;
    let shown = session
        .wait_until(deadline, |fb| shown_index(fb, &points).is_some())
        .await;
    if let Err(e) = shown {
        let fb = session.framebuffer();
        let seen: Vec<_> = points.iter().map(|&(x, y)| fb.rgb(x, y)).collect();
        return Err(e).with_context(|| {
            format!(
                "waiting for the flipper's colour on every sample point (they show {seen:?}; {} updates so far)",
                session.stats().graphics_updates
            )
        });
    }

    // A click at the centre (no sample point there, nor under the pointer afterwards).
    session.send_mouse_move(width / 2, height / 2).await?;
    session.send_mouse_button(MouseButton::Left, true).await?;
    session.send_mouse_button(MouseButton::Left, false).await?;
    let clicked_at = Instant::now();
    let focus_deadline = clicked_at + FOCUS_TIMEOUT;
    let mut next_nudge = clicked_at + FOCUS_AFTER_CLICK;
    let mut nudges = 0u32;
    loop {
        if scene
            .as_ref()
            .is_some_and(|s| s.log().contains("wrd-scene: keyboard focus\n"))
        {
            break;
        }
        if let Some(s) = scene.as_mut() {
            s.ensure_running().context("the flipper")?;
        }
        let now = Instant::now();
        if now >= focus_deadline {
            bail!(
                "the flipper did not get the keyboard within {} s of the click ({nudges} key presses sent \
                 after the first {} s)",
                FOCUS_TIMEOUT.as_secs(),
                FOCUS_AFTER_CLICK.as_secs()
            );
        }
        if now >= next_nudge {
            session.send_key(KEY_SCANCODE, false, true).await?;
            session.send_key(KEY_SCANCODE, false, false).await?;
            nudges += 1;
            next_nudge = now + FOCUS_NUDGE;
        }
        serve_until(&mut session, (now + FOCUS_POLL).min(focus_deadline)).await?;
    }
    if nudges > 0 {
        tracing::warn!(nudges, "the flipper got the keyboard only after key presses");
    }

    let mut presses = Vec::with_capacity(plan.warmup + plan.presses);
    for _ in 0..plan.warmup + plan.presses {
        crate::interrupt::check()?;
        presses.push(press_once(&mut session, &points, plan).await?);
    }
    if let Err(e) = session.disconnect().await {
        tracing::warn!(error = %e, "the disconnect did not complete cleanly");
    }
    Ok(presses)
}

/// How often xfreerdp's screen is read while waiting for a colour.
const XF_POLL: Duration = Duration::from_millis(1);

/// The flipper's palette index if every sample point of xfreerdp's screen shows it.
fn shown_index_on(display: &crate::x11::Display, points: &[(u16, u16)]) -> Result<Option<usize>> {
    let colours = display.rgb_at(points)?;
    let mut found = None;
    for rgb in colours {
        let Some(index) = flip::index_of(rgb) else {
            return Ok(None);
        };
        if found.is_some_and(|f| f != index) {
            return Ok(None);
        }
        found = Some(index);
    }
    Ok(found)
}

/// [`client`] with xfreerdp (`/rfx`) on a private Xvfb of the desktop size instead of the
/// in-process client: its window sits at (0,0) without a window manager, so screen points are
/// desktop points. Clicks and keys are XTEST events (the clock starts when the key's request
/// is sent); the sample points are read with GetImage, all six in one round trip, every
/// millisecond.
fn xfreerdp_client(
    size: (u16, u16),
    plan: &PressPlan,
    target: &Target,
    scene_bin: &Path,
    scene: &mut Option<ChildGuard>,
) -> Result<Vec<Press>> {
    use wrd_testkit::XFreeRdp;

    let (width, height) = size;
    let keycode = crate::x11::keycode_for_scancode(KEY_SCANCODE).context("the key's X keycode")?;
    let (xvfb, options) = crate::xfreerdp::client_setup(
        target.addr,
        (targets::USER, &target.password),
        (width, height),
        target.security.into(),
        &target.log_dir,
    )?;
    let options = options.arg("/rfx");
    let mut xf = XFreeRdp::spawn(&xvfb, &options, &target.log_dir)?;
    xf.wait_for_content(plan.timeout)
        .context("waiting for xfreerdp to show a picture")?;
    let display = crate::x11::Display::connect(xvfb.display())?;
    let points = sample_points(width, height);

    let mut cmd = target.command(scene_bin)?;
    cmd.arg("flip");
    *scene = Some(ChildGuard::spawn(&mut cmd, "scene-flip", &target.log_dir)?);
    let deadline = std::time::Instant::now() + plan.timeout;
    while shown_index_on(&display, &points)?.is_none() {
        if std::time::Instant::now() >= deadline {
            bail!(
                "waiting for the flipper's colour on every sample point of xfreerdp's screen (they show {:?})",
                display.rgb_at(&points)?
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }

    xf.focus(Duration::from_secs(10))
        .context("giving xfreerdp the keyboard focus")?;
    display.move_pointer(width / 2, height / 2)?;
    display.button(1, true)?;
    display.button(1, false)?;
    let clicked_at = std::time::Instant::now();
    let mut next_nudge = clicked_at + FOCUS_AFTER_CLICK;
    let mut nudges = 0u32;
    while !scene
        .as_ref()
        .is_some_and(|s| s.log().contains("wrd-scene: keyboard focus\n"))
    {
        if let Some(s) = scene.as_mut() {
            s.ensure_running().context("the flipper")?;
        }
        let now = std::time::Instant::now();
        if now >= clicked_at + FOCUS_TIMEOUT {
            bail!(
                "the flipper did not get the keyboard within {} s of the click ({nudges} key presses sent)",
                FOCUS_TIMEOUT.as_secs()
            );
        }
        if now >= next_nudge {
            display.key(keycode, true)?;
            display.key(keycode, false)?;
            nudges += 1;
            next_nudge = now + FOCUS_NUDGE;
        }
        std::thread::sleep(FOCUS_POLL);
    }

    let mut presses = Vec::with_capacity(plan.warmup + plan.presses);
    for _ in 0..plan.warmup + plan.presses {
        crate::interrupt::check()?;
        if !xf.is_running() {
            bail!("xfreerdp ended: {}", xf.log_tail(10));
        }
        let settle = std::time::Instant::now() + plan.press_timeout;
        let current = loop {
            if let Some(i) = shown_index_on(&display, &points)? {
                break i;
            }
            if std::time::Instant::now() >= settle {
                bail!("no flipper colour on every sample point before a press");
            }
            std::thread::sleep(XF_POLL);
        };
        let expected = flip::next_index(current);
        let pressed_at = std::time::Instant::now();
        let written_at = monotonic_seconds();
        display.key(keycode, true)?;
        display.key(keycode, false)?;
        let latency = loop {
            if shown_index_on(&display, &points)? == Some(expected) {
                break Some(pressed_at.elapsed());
            }
            if pressed_at.elapsed() >= plan.press_timeout {
                break None;
            }
            std::thread::sleep(XF_POLL);
        };
        presses.push(Press {
            written_at,
            expected,
            latency,
        });
        std::thread::sleep(plan.interval.saturating_sub(pressed_at.elapsed()));
    }
    if let Err(e) = xf.stop() {
        tracing::warn!(error = %format!("{e:#}"), "stopping xfreerdp");
    }
    Ok(presses)
}

/// One press: the time from the press written to the picture showing the next colour, or
/// `None` if it did not within the press timeout. Returns no sooner than one interval after
/// the press, serving the session meanwhile.
async fn press_once(session: &mut Session, points: &[(u16, u16)], plan: &PressPlan) -> Result<Press> {
    // The colour on screen now (it may still be arriving after a late previous press).
    let settle_deadline = Instant::now() + plan.press_timeout;
    session
        .wait_until(settle_deadline, |fb| shown_index(fb, points).is_some())
        .await
        .context("waiting for one flipper colour on every sample point before a press")?;
    let current = shown_index(&session.framebuffer(), points).context("the flipper's colour vanished")?;
    let expected = flip::next_index(current);

    session.send_key(KEY_SCANCODE, false, true).await?;
    let pressed_at = Instant::now();
    let written_at = monotonic_seconds();
    session.send_key(KEY_SCANCODE, false, false).await?;
    let press_deadline = pressed_at + plan.press_timeout;
    let latency = loop {
        match session.next_event(press_deadline).await {
            Ok(SessionEvent::GraphicsUpdate { .. }) => {
                if shown_index(&session.framebuffer(), points) == Some(expected) {
                    break Some(pressed_at.elapsed());
                }
            }
            Ok(SessionEvent::Resized { width, height }) => {
                bail!("the server resized the desktop to {width}x{height} during the measurement")
            }
            Ok(SessionEvent::Terminated(reason)) => bail!("the server ended the session: {reason}"),
            Ok(SessionEvent::PointerChanged(_)) => {}
            Err(e) if e.is_timeout() => break None,
            Err(e) => return Err(e).context("receiving"),
        }
    };
    serve_until(session, pressed_at + plan.interval).await?;
    Ok(Press {
        written_at,
        expected,
        latency,
    })
}

/// Decodes whatever the server sends until `deadline`.
async fn serve_until(session: &mut Session, deadline: Instant) -> Result<()> {
    loop {
        match session.next_event(deadline).await {
            Ok(SessionEvent::Terminated(reason)) => bail!("the server ended the session: {reason}"),
            Ok(_) => {}
            Err(e) if e.is_timeout() => return Ok(()),
            Err(e) => return Err(e).context("receiving"),
        }
    }
}

/// Six points spread over the screen, none at its centre (where the pointer rests after the
/// focusing click, and may be drawn into the picture).
pub fn sample_points(width: u16, height: u16) -> Vec<(u16, u16)> {
    let (w, h) = (u32::from(width), u32::from(height));
    [(1, 1), (2, 1), (3, 1), (1, 3), (2, 3), (3, 3)]
        .iter()
        .map(|&(fx, fy)| {
            // Quarters of a u16 fit a u16.
            #[allow(clippy::cast_possible_truncation)]
            let p = ((w * fx / 4) as u16, (h * fy / 4) as u16);
            p
        })
        .collect()
}

/// The flipper's palette index if every sample point shows the same palette colour.
pub fn shown_index(fb: &wrd_client::Framebuffer<'_>, points: &[(u16, u16)]) -> Option<usize> {
    let mut found = None;
    for &(x, y) in points {
        let index = flip::index_of(fb.rgb(x, y)?)?;
        if found.is_some_and(|f| f != index) {
            return None;
        }
        found = Some(index);
    }
    found
}

fn cell(v: Option<f64>) -> String {
    v.map_or_else(|| "–".to_owned(), |v| format!("{v:.1}"))
}

/// The markdown table of a run.
pub fn markdown(records: &[LatencyRecord]) -> String {
    let mut t = String::from(
        "| server | presses timed | missed | median ms | p95 ms | max ms | min ms | of which input → app, median ms |\n\
         |---|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for r in records {
        if let Some(e) = &r.error {
            t.push_str(&format!(
                "| {} | failed: {} | | | | | | |\n",
                r.server,
                e.replace('|', "/")
            ));
            continue;
        }
        let s = r.summary_ms.as_ref();
        let server = if r.client == "wrd" {
            r.server.to_owned()
        } else {
            format!("{}, measured with {}", r.server, r.client)
        };
        t.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} |\n",
            server,
            r.presses,
            r.missed,
            cell(s.map(|s| s.median)),
            cell(s.map(|s| s.p95)),
            cell(s.map(|s| s.max)),
            cell(s.map(|s| s.min)),
            cell(r.input_to_app_ms.map(|s| s.median)),
        ));
    }
    t
}

/// Issue 5's goal, judged on what was measured: wrd-server on sway under `goal_ms` median, and
/// below both peers' medians.
pub fn verdicts(records: &[LatencyRecord], goal_ms: f64) -> Vec<String> {
    let median = |kind: ServerArg| {
        records
            .iter()
            .find(|r| r.server == targets::label(kind))
            .and_then(|r| r.summary_ms.map(|s| s.median))
    };
    let mut lines = Vec::new();
    let Some(ours) = median(ServerArg::Wrd) else {
        return lines;
    };
    let met = if ours < goal_ms { "met" } else { "missed" };
    lines.push(format!(
        "Goal median under {goal_ms:.0} ms on headless sway: {met} ({ours:.1} ms)."
    ));
    for peer in [ServerArg::Gnome, ServerArg::Weston] {
        if let Some(theirs) = median(peer) {
            let verdict = if ours < theirs { "lower" } else { "not lower" };
            lines.push(format!(
                "Lower than {}: {verdict} ({ours:.1} ms vs {theirs:.1} ms median).",
                targets::label(peer)
            ));
        }
    }
    lines
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    fn record(server: ServerArg, median: f64) -> LatencyRecord {
        let samples = vec![median - 1.0, median, median + 1.0];
        LatencyRecord {
            bench: "latency",
            server: targets::label(server),
            client: "wrd",
            presses: 3,
            warmup: 0,
            missed: 0,
            interval_ms: 150,
            summary_ms: Summary::of(&samples),
            samples_ms: samples,
            input_to_app_ms: None,
            error: None,
        }
    }

    #[test]
    fn sample_points_stay_inside_and_off_centre() {
        let points = sample_points(1920, 1080);
        assert_eq!(points.len(), 6);
        for &(x, y) in &points {
            assert!(x < 1920 && y < 1080);
            assert_ne!((x, y), (960, 540));
            assert!(y.abs_diff(540) >= 200, "{x},{y} is near the pointer");
        }
    }

    #[test]
    fn presses_are_matched_with_the_flippers_key_lines_in_order() {
        let log = "wrd-scene: keyboard focus\n\
                   wrd-scene: key 30 colour 1 at 100.010000000\n\
                   wrd-scene: key 30 colour 2 at 100.170000000\n\
                   wrd-scene: key 30 colour 3 at 100.330000000\n";
        let press = |written_at, expected| Press {
            written_at,
            expected,
            latency: None,
        };
        // The first press is a warm-up one (not given); the second never reached the flipper.
        let input = input_to_app(&[press(100.16, 2), press(100.31, 4), press(100.32, 3)], log);
        assert_eq!(input.len(), 2);
        assert!(
            (input[0] - 10.0).abs() < 1e-6 && (input[1] - 10.0).abs() < 1e-6,
            "{input:?}"
        );
        assert!(monotonic_seconds() > 0.0);
    }

    #[test]
    fn verdicts_compare_ours_with_the_peers() {
        let records = [
            record(ServerArg::Wrd, 30.0),
            record(ServerArg::Gnome, 50.0),
            record(ServerArg::Weston, 20.0),
        ];
        let v = verdicts(&records, 40.0);
        assert_eq!(v.len(), 3);
        assert!(v[0].contains("met (30.0 ms)"), "{v:?}");
        assert!(v[1].contains("gnome-remote-desktop: lower"), "{v:?}");
        assert!(v[2].contains("weston (RDP backend): not lower"), "{v:?}");
        assert!(verdicts(&records[1..], 40.0).is_empty());
        let table = markdown(&records);
        assert!(
            table.contains("| wrd-server (sway) | 3 | 0 | 30.0 | 30.9 | 31.0 | 29.0 | – |"),
            "{table}"
        );
    }
}
