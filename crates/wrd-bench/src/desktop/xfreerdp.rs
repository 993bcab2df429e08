//! `desktop --client xfreerdp`: the animate scene's frame rate as the real FreeRDP 2 client
//! shows it, a cross-check of the in-process client's figure.
//!
//! xfreerdp (`/rfx`) runs on a private Xvfb of the desktop size (its window at (0,0), no window
//! manager); once it shows a picture the scene starts, settles, and for the window the strip
//! holding the scene's frame counter is read from the X screen with GetImage every 2 ms (a
//! fraction of a millisecond each; a 60 fps picture lasts 16.7 ms, so no frame is missed).
//! Distinct counter values per second are the frames the client showed.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use wrd_scene::counter::{self, FrameCounter};
use wrd_testkit::XFreeRdp;

use super::start_scene;
use super::table::Row;
use super::targets::{self, Target};
use crate::cli::{Region, SceneArg};
use crate::output::Output;

/// Between two reads of the counter.
const POLL: Duration = Duration::from_millis(2);

pub(super) fn animate_row(
    target: &Target,
    scene_bin: Option<&Path>,
    size: (u16, u16),
    settle: Duration,
    window: Duration,
    timeout: Duration,
    out: &mut Output,
) -> Result<Row> {
    let (width, height) = size;
    let layout = counter::Layout::for_size(u32::from(width), u32::from(height))
        .context("the desktop is too small for the scene's counter")?;
    let (bx, by, bw, bh) = layout.bits_rect();
    let strip = Region {
        x: u16::try_from(bx)?,
        y: u16::try_from(by)?,
        width: u16::try_from(bw)?,
        height: u16::try_from(bh)?,
    };
    let (xvfb, options) = crate::xfreerdp::client_setup(
        target.addr,
        (targets::USER, &target.password),
        (width, height),
        target.security.into(),
        &target.log_dir,
    )?;
    let options = options.arg("/rfx");
    out.text(format!(
        "{} / animate with xfreerdp: connecting, starting the scene, {:.1} s to settle, {:.1} s window",
        target.label(),
        settle.as_secs_f64(),
        window.as_secs_f64()
    ));
    let mut xf = XFreeRdp::spawn(&xvfb, &options, &target.log_dir)?;
    xf.wait_for_content(timeout)
        .context("waiting for xfreerdp to show a picture")?;
    let display = crate::x11::Display::connect(xvfb.display())?;
    let mut scene = start_scene(target, SceneArg::Animate, scene_bin)?;

    let read = |display: &crate::x11::Display| -> Result<Option<u16>> {
        let pixels = display.region(strip)?;
        let row = usize::from(strip.width) * 4;
        Ok(counter::read(layout, |x, y| {
            // B, G, R, X: the counter is read from the green channel, as the in-process client does.
            let (dx, dy) = ((x - bx) as usize, (y - by) as usize);
            pixels.get(dy * row + dx * 4 + 1).copied().unwrap_or(0)
        }))
    };
    let settle_end = Instant::now() + settle;
    while Instant::now() < settle_end {
        scene.ensure_running().context("the scene")?;
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut frames = FrameCounter::default();
    let started = Instant::now();
    let end = started + window;
    let mut reads = 0u64;
    while Instant::now() < end {
        crate::interrupt::check()?;
        frames.record(read(&display)?);
        reads += 1;
        std::thread::sleep(POLL);
    }
    let window_s = started.elapsed().as_secs_f64();
    if let Ok(Some(status)) = scene.try_wait() {
        bail!("the scene exited during the measurement ({status})");
    }
    if !xf.is_running() {
        bail!("xfreerdp ended during the measurement: {}", xf.log_tail(10));
    }
    // The first read counts as a frame; the rate is the changes seen in the window.
    let fps = frames.frames.saturating_sub(1) as f64 / window_s;
    out.text(format!(
        "  xfreerdp showed {fps:.2} distinct scene frames/s ({} reads of the counter, {} unreadable, {} misreads)",
        reads, frames.unreadable, frames.glitches
    ));
    if let Err(e) = xf.stop() {
        tracing::warn!(error = %format!("{e:#}"), "stopping xfreerdp");
    }
    let mut row = Row::failed(target.label(), SceneArg::Animate, "");
    row.error = None;
    row.client = "xfreerdp";
    row.codec = "RemoteFX requested (/rfx)".to_owned();
    row.fps = Some(fps);
    row.fps_kind = "scene frames on the xfreerdp screen";
    row.scene_fps = super::table::scene_rate(&scene.log(), window_s);
    Ok(row)
}
