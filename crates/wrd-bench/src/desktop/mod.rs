//! `desktop`: the same content on several RDP servers, measured one after another in one run.
//!
//! For each server ([`targets`]): start it on its own headless desktop; for each scene: connect
//! one in-process client (RemoteFX advertised), start the scene on that desktop once the
//! session is active, wait for the client's first complete picture, let it settle, measure a
//! window ([`crate::watch::measure`]), stop the scene, read the capture-to-wire figures the
//! server logged when the client left ([`server_log`]), and pause a second before the next
//! client (grd 43 once left a client that came 50 ms after the previous one without any
//! picture). The server then stops with its desktop and the next one starts, so the
//! servers never compete with each other for the machine. A server that cannot be started or
//! measured gets a row saying why, and the run goes on.

pub mod server_log;
pub mod table;
pub mod targets;
mod xfreerdp;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use wrd_testkit::ChildGuard;

use crate::cli::{ClientKind, CounterKind, DesktopArgs, SceneArg};
use crate::output::Output;
use crate::watch::{Measurement, Plan, measure};
use table::{CaptureToWire, Row};
use targets::{Security, Target};

/// What the terminal of the typing scene runs: one character every 100 ms (a fast typist),
/// a new line after each sentence.
pub const TYPING_SCRIPT: &str = r#"text='The quick brown fox jumps over the lazy dog; pack my box with five dozen liquor jugs. '
while :; do
  for ((i = 0; i < ${#text}; i++)); do printf '%s' "${text:i:1}"; sleep 0.1; done
  printf '\n'
done"#;

/// A terminal scrolling text: a numbered line of prose every 20 ms (50 lines a second, the
/// whole screen moving up a line each time).
pub const SCROLL_SCRIPT: &str = r#"text='The quick brown fox jumps over the lazy dog; pack my box with five dozen liquor jugs.'
n=0
while :; do printf '%6d %s\n' "$n" "$text"; n=$((n + 1)); sleep 0.02; done"#;

/// How long after the client left a server may take to log its statistics.
const STATISTICS_WAIT: Duration = Duration::from_secs(3);
/// Pause between one scene's client leaving and the next one connecting.
const BETWEEN_SESSIONS: Duration = Duration::from_secs(1);

pub fn run(args: &DesktopArgs, out: &mut Output) -> Result<()> {
    let window = DesktopArgs::seconds("seconds", args.seconds, false)?;
    let settle = DesktopArgs::seconds("settle", args.settle, true)?;
    let timeout = DesktopArgs::seconds("timeout", args.timeout, false)?;
    if args.servers.iter().any(|&k| targets::is_ours(k)) && args.wrd_server.is_none() {
        return Err(crate::UsageError("--wrd-server PATH is needed to measure wrd-server".into()).into());
    }
    let needs_scene = args
        .scenes
        .iter()
        .any(|s| matches!(s, SceneArg::Animate | SceneArg::Static));
    if needs_scene && args.scene.is_none() {
        return Err(crate::UsageError(
            "--scene PATH (wrd-scene) is needed for the animate and static scenes".into(),
        )
        .into());
    }
    if args.client == ClientKind::Xfreerdp && args.scenes.iter().any(|&s| s != SceneArg::Animate) {
        return Err(crate::UsageError(
            "--client xfreerdp measures the animate scene only (--scenes animate)".into(),
        )
        .into());
    }
    // Ctrl+C or SIGTERM ends the run between two steps, so that every program it started is
    // stopped (and grd's packet filter removed) by the guards.
    crate::interrupt::install()?;
    let work = match &args.work_dir {
        Some(d) => {
            std::fs::create_dir_all(d).with_context(|| format!("creating {}", d.display()))?;
            d.clone()
        }
        None => new_work_dir("wrd-bench-desktop")?,
    };
    out.text(format!(
        "desktop: servers {:?}, scenes {:?}, {}x{}, settle {:.1} s, window {:.1} s; logs in {}",
        args.servers,
        args.scenes,
        args.size.0,
        args.size.1,
        settle.as_secs_f64(),
        window.as_secs_f64(),
        work.display()
    ));

    let mut rows = Vec::new();
    for &kind in &args.servers {
        crate::interrupt::check()?;
        let started = Instant::now();
        let target = Target::start(kind, &work, args.size, args.wrd_server.as_deref(), timeout);
        let mut target = match target {
            Ok(t) => t,
            Err(e) => {
                out.text(format!("{}: could not be started: {e:#}", targets::label(kind)));
                for &scene in &args.scenes {
                    rows.push(Row::failed(
                        targets::label(kind),
                        scene,
                        &format!("not started: {}", first_line(&e)),
                    ));
                }
                continue;
            }
        };
        out.text(format!(
            "{} listening on {} after {:.1} s (pid {})",
            target.label(),
            target.addr,
            started.elapsed().as_secs_f64(),
            target.server_pid
        ));
        for (i, &scene) in args.scenes.iter().enumerate() {
            crate::interrupt::check()?;
            if i > 0 {
                std::thread::sleep(BETWEEN_SESSIONS);
            }
            let row = match measure_scene(&mut target, scene, args, settle, window, timeout, out) {
                Ok(row) => row,
                Err(e) => {
                    out.text(format!(
                        "{} / {}: failed: {e:#}",
                        target.label(),
                        scene_name(scene)
                    ));
                    Row::failed(target.label(), scene, &first_line(&e))
                }
            };
            out.json(&row)?;
            rows.push(row);
        }
        drop(target);
    }

    let mut markdown = table::markdown(&rows);
    let verdicts = table::verdicts(&rows);
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

pub fn scene_name(scene: SceneArg) -> &'static str {
    match scene {
        SceneArg::Animate => "animate",
        SceneArg::Typing => "typing",
        SceneArg::Scroll => "scroll",
        SceneArg::Static => "static",
    }
}

/// The first line of an error chain's display (for a table cell).
fn first_line(e: &anyhow::Error) -> String {
    let text = format!("{e:#}");
    text.lines().next().unwrap_or_default().to_owned()
}

/// A new directory `<tmp>/<prefix>.<pid>.<n>` for a run's desktops and logs.
pub fn new_work_dir(prefix: &str) -> Result<PathBuf> {
    let base = std::env::temp_dir();
    for attempt in 0..100u32 {
        let dir = base.join(format!("{prefix}.{}.{attempt}", std::process::id()));
        match std::fs::create_dir(&dir) {
            Ok(()) => return Ok(dir),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e).with_context(|| format!("creating {}", dir.display())),
        }
    }
    anyhow::bail!("no free work directory name under {}", base.display())
}

/// Starts a scene on the target's desktop.
fn start_scene(target: &Target, scene: SceneArg, scene_bin: Option<&Path>) -> Result<ChildGuard> {
    let (mut cmd, name) = match scene {
        SceneArg::Animate | SceneArg::Static => {
            let mut cmd = target.command(scene_bin.context("no wrd-scene binary")?)?;
            cmd.arg(scene_name(scene));
            (cmd, format!("scene-{}", scene_name(scene)))
        }
        SceneArg::Typing => {
            let mut cmd = target.command("foot")?;
            cmd.args(["--fullscreen", "bash", "-c", TYPING_SCRIPT]);
            (cmd, "scene-typing".to_owned())
        }
        SceneArg::Scroll => {
            let mut cmd = target.command("foot")?;
            cmd.args(["--fullscreen", "bash", "-c", SCROLL_SCRIPT]);
            (cmd, "scene-scroll".to_owned())
        }
    };
    ChildGuard::spawn(&mut cmd, &name, &target.log_dir)
}

fn measure_scene(
    target: &mut Target,
    scene: SceneArg,
    args: &DesktopArgs,
    settle: Duration,
    window: Duration,
    timeout: Duration,
    out: &mut Output,
) -> Result<Row> {
    target.ensure_running()?;
    let scene_bin = match (scene, &args.scene) {
        (SceneArg::Typing | SceneArg::Scroll, _) | (_, None) => None,
        (_, Some(bin)) => Some(target.install(bin)?),
    };
    if args.client == ClientKind::Xfreerdp {
        return xfreerdp::animate_row(
            target,
            scene_bin.as_deref(),
            args.size,
            settle,
            window,
            timeout,
            out,
        );
    }
    let mut config = wrd_client::ClientConfig::new(target.addr, targets::USER, target.password.clone());
    config.security = match target.security {
        Security::Nla => wrd_client::Security::Nla,
        Security::Tls => wrd_client::Security::Tls,
    };
    config.desktop_width = args.size.0;
    config.desktop_height = args.size.1;
    config.codec = args.codec.client_codec();
    config.connect_timeout = timeout;
    config.client_name = "wrd-bench".to_owned();
    // The desktop's processes before the scene starts: the scene's own are not the server's
    // cost (and are the same for every server).
    let stack_pids = target.desktop_pids()?;
    let plan = Plan {
        clients: 1,
        config: Some(config),
        timeout,
        settle,
        window,
        server_pid: Some(target.server_pid),
        stack_pids,
        rss_interval: Duration::from_millis(250),
        frame_counter: (scene == SceneArg::Animate).then_some(CounterKind::Scene),
    };
    let statistics_before = server_log::parse_log(&target.server_log()).len();
    out.text(format!(
        "{} / {}: connecting, starting the scene, {:.1} s to settle after the first picture, {:.1} s window",
        target.label(),
        scene_name(scene),
        settle.as_secs_f64(),
        window.as_secs_f64()
    ));
    let mut scene_guard: Option<ChildGuard> = None;
    let measured = measure(&plan, || {
        scene_guard = Some(start_scene(target, scene, scene_bin.as_deref())?);
        Ok(())
    });
    // The scene must have run through the whole window for the figures to mean anything.
    let scene_state = scene_guard.as_mut().map(|g| (g.try_wait(), g.log_tail(5)));
    let scene_log = scene_guard.as_ref().map(ChildGuard::log).unwrap_or_default();
    drop(scene_guard);
    let m: Measurement = measured?;
    if let Some((Ok(Some(status)), tail)) = scene_state {
        anyhow::bail!("the scene exited during the measurement ({status}): {tail}");
    }
    crate::watch::print_measurement(&m, out)?;

    let capture = if targets::is_ours(target.kind) {
        wait_for_statistics(target, statistics_before)
    } else {
        CaptureToWire::Peer
    };
    let scene_fps = (scene == SceneArg::Animate)
        .then(|| table::scene_rate(&scene_log, window.as_secs_f64()))
        .flatten();
    Ok(Row::measured(target.label(), scene, &m, capture, scene_fps))
}

/// The statistics line the server logs when the bench client's session ends, if it does.
fn wait_for_statistics(target: &Target, before: usize) -> CaptureToWire {
    let deadline = Instant::now() + STATISTICS_WAIT;
    loop {
        let all = server_log::parse_log(&target.server_log());
        if let Some(s) = all.get(before) {
            return CaptureToWire::Reported(*s);
        }
        if Instant::now() >= deadline {
            return CaptureToWire::NotReported;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}
