//! `press`: input-to-pixel latency of any RDP server, for a region of its picture.
//!
//! One in-process client connects and waits for a complete picture. Then, `--warmup` +
//! `--samples` times: decode whatever arrives for `--interval-ms`, copy the region's pixels,
//! write a key press (and its release) to the socket, and decode until an update leaves the
//! region different from the copy (a channel beyond `--threshold`). The time from just before
//! the press is written to that update decoded is one sample; a press the region does not answer within
//! `--press-timeout-ms` is missed. The warm-up samples are dropped.
//!
//! The region must be one that changes only in answer to input (the test pattern's echo box,
//! a terminal's cursor line, a flipper's window); anything else moving inside it would be
//! timed as an answer.

use std::time::Duration;

use anyhow::{Context, Result, bail};
use serde::Serialize;
use wrd_client::{Instant, Session, SessionEvent};

use crate::cli::{ClientKind, PressArgs, Region};
use crate::output::{Output, ms};
use crate::stats::Summary;

/// The record of one `press` run (`{"bench":"press", ...}`).
#[derive(Debug, Clone, Serialize)]
pub struct PressRecord {
    pub bench: &'static str,
    /// `wrd` (in-process) or `xfreerdp`.
    pub client: &'static str,
    pub addr: String,
    pub region: Region,
    pub scancode: u8,
    pub warmup: usize,
    /// Presses timed (after the warm-up), answered or not.
    pub presses: usize,
    pub missed: usize,
    pub interval_ms: u64,
    /// Press written → region changed, per answered timed press, in order.
    pub samples_ms: Vec<f64>,
    pub summary_ms: Option<Summary>,
    /// wrd: TCP connect start → complete picture; xfreerdp: process start → a picture.
    pub picture_ms: f64,
}

pub fn run(args: &PressArgs, out: &mut Output) -> Result<()> {
    let addr = args.connect.socket_addr()?;
    let password = args.connect.password()?;
    let (complete, samples) = match args.client {
        ClientKind::Wrd => run_wrd(args, addr, &password)?,
        ClientKind::Xfreerdp => crate::xfreerdp::press(args, addr, &password)?,
    };
    let timed = &samples[args.warmup.min(samples.len())..];
    let answered: Vec<f64> = timed.iter().filter_map(|s| s.map(ms)).collect();
    let record = PressRecord {
        bench: "press",
        client: args.client.name(),
        addr: addr.to_string(),
        region: args.region,
        scancode: args.scancode,
        warmup: args.warmup,
        presses: timed.len(),
        missed: timed.len() - answered.len(),
        interval_ms: args.interval_ms,
        summary_ms: Summary::of(&answered),
        samples_ms: answered,
        picture_ms: complete,
    };
    match &record.summary_ms {
        Some(s) => out.text(format!(
            "input-to-pixel latency at {addr} with {}, region {} (n={}, {} missed, {} warm-up dropped): median {:.1} ms  p95 {:.1}  max {:.1}  min {:.1}",
            record.client, record.region, s.n, record.missed, record.warmup, s.median, s.p95, s.max, s.min
        )),
        None => out.text(format!(
            "input-to-pixel latency at {addr}, region {}: no press was answered ({} missed)",
            record.region, record.missed
        )),
    }
    out.json(&record)?;
    if record.summary_ms.is_none() {
        bail!(
            "none of the {} presses changed the region {} within {} ms",
            record.presses,
            record.region,
            args.press_timeout_ms
        );
    }
    Ok(())
}

/// The in-process client: returns the time to the complete picture (ms) and each press's
/// latency (`None`: missed).
fn run_wrd(
    args: &PressArgs,
    addr: std::net::SocketAddr,
    password: &str,
) -> Result<(f64, Vec<Option<Duration>>)> {
    let config = args.connect.client_config(addr, password)?;
    let timeout = args.connect.timeout()?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    runtime.block_on(async {
        let mut session = wrd_client::connect(config)
            .await
            .with_context(|| format!("connecting to {addr}"))?;
        let origin = session.started_at();
        let (complete, _, _) = crate::first_frame::wait_complete(&mut session, origin + timeout, timeout)
            .await
            .context("waiting for the first complete picture")?;
        let complete_ms = ms(complete.saturating_duration_since(origin));
        let region = args.region.clip(session.desktop_size()).with_context(|| {
            let (w, h) = session.desktop_size();
            format!("--region {} lies outside the {w}x{h} desktop", args.region)
        })?;
        let mut samples = Vec::with_capacity(args.warmup + args.samples);
        for _ in 0..args.warmup + args.samples {
            crate::interrupt::check()?;
            samples.push(press_once(&mut session, region, args).await?);
        }
        if let Err(e) = session.disconnect().await {
            tracing::warn!(error = %e, "the disconnect did not complete cleanly");
        }
        anyhow::Ok((complete_ms, samples))
    })
}

/// Whether any channel of two B, G, R, X pixel runs differs by more than `threshold`.
pub fn differs(a: &[u8], b: &[u8], threshold: u8) -> bool {
    a.chunks_exact(4)
        .zip(b.chunks_exact(4))
        .any(|(p, q)| (0..3).any(|c| p[c].abs_diff(q[c]) > threshold))
}

/// The region's pixels as the client shows them now, row after row.
fn snapshot(session: &Session, region: Region) -> Vec<u8> {
    let fb = session.framebuffer();
    let mut pixels = Vec::with_capacity(usize::from(region.width) * usize::from(region.height) * 3);
    for y in region.y..region.y + region.height {
        for x in region.x..region.x + region.width {
            pixels.extend(fb.rgb(x, y).unwrap_or_default());
        }
    }
    pixels
}

/// Whether any pixel of the region differs from `before` by more than `threshold` in a channel.
fn changed(session: &Session, region: Region, before: &[u8], threshold: u8) -> bool {
    let now = snapshot(session, region);
    now.iter().zip(before).any(|(a, b)| a.abs_diff(*b) > threshold)
}

/// One press: `None` if the region did not change within the press timeout. Returns no sooner
/// than one interval after the previous press's answer (the session is served meanwhile).
async fn press_once(session: &mut Session, region: Region, args: &PressArgs) -> Result<Option<Duration>> {
    serve_until(session, Instant::now() + Duration::from_millis(args.interval_ms)).await?;
    let before = snapshot(session, region);
    // The clock starts as the press is handed to the socket: the server may read and act on it
    // before this task runs again.
    let pressed_at = Instant::now();
    session.send_key(args.scancode, false, true).await?;
    session.send_key(args.scancode, false, false).await?;
    let deadline = pressed_at + Duration::from_millis(args.press_timeout_ms);
    loop {
        match session.next_event(deadline).await {
            Ok(SessionEvent::GraphicsUpdate { region: updated }) => {
                if region.touches(updated) && changed(session, region, &before, args.threshold) {
                    return Ok(Some(pressed_at.elapsed()));
                }
            }
            Ok(SessionEvent::Resized { width, height }) => {
                bail!("the server resized the desktop to {width}x{height} during the measurement")
            }
            Ok(SessionEvent::Terminated(reason)) => bail!("the server ended the session: {reason}"),
            Ok(SessionEvent::PointerChanged(_)) => {}
            Err(e) if e.is_timeout() => return Ok(None),
            Err(e) => return Err(e).context("receiving"),
        }
    }
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
