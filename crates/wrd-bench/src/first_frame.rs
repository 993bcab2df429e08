//! `first-frame`: time from the start of the TCP connect to the first complete picture.
//!
//! The in-process client (`--client wrd`) is timed from the moment [`wrd_client::connect`]
//! starts the TCP connect ([`wrd_client::Session::started_at`]) to the moment the graphics
//! update that completes the desktop's [`Coverage`] has been decoded. The real FreeRDP client
//! is timed by [`crate::xfreerdp`].

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use serde::Serialize;
use tracing::warn;
use wrd_client::{Instant, SessionEvent};

use crate::cli::{ClientKind, FirstFrameArgs};
use crate::coverage::Coverage;
use crate::output::{Output, ms};
use crate::stats::Summary;
use crate::{UsageError, xfreerdp};

/// How "complete picture" was decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Criterion {
    /// The decoded updates covered every desktop pixel at least once.
    Coverage,
    /// A screenshot of the client showed the wrd-server test pattern.
    TestPattern,
    /// A screenshot of the client was no longer one uniform colour.
    AnyContent,
}

impl Criterion {
    pub fn describe(self) -> &'static str {
        match self {
            Self::Coverage => "decoded updates covered the whole desktop",
            Self::TestPattern => "the client window showed the test pattern",
            Self::AnyContent => "the client window was no longer uniform",
        }
    }
}

/// The summary record of a `first-frame` invocation.
#[derive(Debug, Serialize)]
pub struct FirstFrameSummary {
    pub bench: &'static str,
    pub client: &'static str,
    pub addr: String,
    pub criterion: Criterion,
    /// What `ms` measures: `connect_to_complete` (TCP connect start → complete picture) or,
    /// for xfreerdp with `--direct`, `spawn_to_complete`.
    pub metric: &'static str,
    pub runs: u32,
    pub warmup: u32,
    pub ms: Summary,
    /// xfreerdp: process start → complete picture.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub spawn_to_complete_ms: Option<Summary>,
    /// xfreerdp: duration of one screenshot (the polling resolution), over all runs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub screenshot_ms: Option<Summary>,
    /// xfreerdp: per run, how much earlier than measured the picture may have appeared (start
    /// of the previous screenshot → end of the one that saw it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bracket_ms: Option<Summary>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub xfreerdp_version: Option<String>,
}

/// Prints the summary line of a set of runs.
pub fn print_summary(out: &mut Output, label: &str, s: &Summary) {
    out.text(format!(
        "{label} (n={}): median {:.1} ms  min {:.1}  p95 {:.1}  max {:.1}  (mean {:.1})",
        s.n, s.median, s.min, s.p95, s.max, s.mean
    ));
}

pub fn run(args: &FirstFrameArgs, out: &mut Output) -> Result<()> {
    let addr = args.connect.socket_addr()?;
    let password = args.connect.password()?;
    let timeout = args.connect.timeout()?;
    if !(0.0..=1.0).contains(&args.max_mismatch) {
        return Err(UsageError(format!("--max-mismatch {}: not within 0..=1", args.max_mismatch)).into());
    }
    match args.client {
        ClientKind::Wrd => run_wrd(args, addr, &password, timeout, out),
        ClientKind::Xfreerdp => xfreerdp::run(args, addr, &password, timeout, out),
    }
}

/// One run of the in-process client.
#[derive(Debug, Serialize)]
struct WrdRun {
    bench: &'static str,
    client: &'static str,
    run: u32,
    warmup: bool,
    /// TCP connect start → complete picture decoded.
    connect_to_complete_ms: f64,
    /// TCP connect start → RDP session active (connection sequence done).
    session_active_ms: f64,
    /// TCP connect start → first graphics update decoded.
    first_update_ms: Option<f64>,
    /// Graphics updates decoded until the picture was complete.
    updates: u64,
    /// Bytes received on the socket until then, handshakes included.
    bytes_received: u64,
    desktop_width: u16,
    desktop_height: u16,
    /// With `--verify-pattern`: share of pixels beyond the tolerance, and the counter read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pattern_mismatch: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pattern_frame: Option<u64>,
}

fn run_wrd(
    args: &FirstFrameArgs,
    addr: SocketAddr,
    password: &str,
    timeout: Duration,
    out: &mut Output,
) -> Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    out.text(format!(
        "first-frame: client wrd, server {addr}, {} run(s) + {} warm-up; complete = {}",
        args.runs,
        args.warmup,
        Criterion::Coverage.describe()
    ));
    let mut samples = Vec::new();
    for i in 0..args.warmup + args.runs {
        let warmup = i < args.warmup;
        let number = if warmup { i + 1 } else { i - args.warmup + 1 };
        let mut record = runtime
            .block_on(wrd_run(args, addr, password, timeout))
            .with_context(|| format!("{} run {number}", if warmup { "warm-up" } else { "measured" }))?;
        record.run = number;
        record.warmup = warmup;
        out.text(format!(
            "  {} {number:2}: complete picture {:7.1} ms  (session active {:.1} ms, first update {}, {} updates, {} bytes){}",
            if warmup { "warm-up" } else { "run    " },
            record.connect_to_complete_ms,
            record.session_active_ms,
            record
                .first_update_ms
                .map_or_else(|| "-".to_owned(), |v| format!("{v:.1} ms")),
            record.updates,
            record.bytes_received,
            record
                .pattern_mismatch
                .map_or_else(String::new, |m| format!(", pattern mismatch {:.3}%", m * 100.0)),
        ));
        out.json(&record)?;
        if !warmup {
            samples.push(record.connect_to_complete_ms);
        }
        std::thread::sleep(Duration::from_millis(args.pause_ms));
    }
    let summary = Summary::of(&samples).context("no measured run")?;
    print_summary(out, "connect → first complete picture, wrd", &summary);
    out.json(&FirstFrameSummary {
        bench: "first_frame",
        client: ClientKind::Wrd.name(),
        addr: addr.to_string(),
        criterion: Criterion::Coverage,
        metric: "connect_to_complete",
        runs: args.runs,
        warmup: args.warmup,
        ms: summary,
        spawn_to_complete_ms: None,
        screenshot_ms: None,
        bracket_ms: None,
        xfreerdp_version: None,
    })
}

async fn wrd_run(
    args: &FirstFrameArgs,
    addr: SocketAddr,
    password: &str,
    timeout: Duration,
) -> Result<WrdRun> {
    let config = args.connect.client_config(addr, password)?;
    let mut session = wrd_client::connect(config)
        .await
        .with_context(|| format!("connecting to {addr}"))?;
    let origin = session.started_at();
    let (complete, updates, coverage) = wait_complete(&mut session, origin + timeout, timeout).await?;
    let stats = session.stats();
    let (desktop_width, desktop_height) = coverage.size();
    let mut record = WrdRun {
        bench: "first_frame_run",
        client: ClientKind::Wrd.name(),
        run: 0,
        warmup: false,
        connect_to_complete_ms: ms(complete.saturating_duration_since(origin)),
        session_active_ms: ms(stats.connect_duration),
        first_update_ms: stats.first_frame_at.map(ms),
        updates,
        bytes_received: stats.bytes_received,
        desktop_width,
        desktop_height,
        pattern_mismatch: None,
        pattern_frame: None,
    };
    if args.verify_pattern {
        let fb = session.framebuffer();
        if fb.layout() != wrd_client::PixelLayout::Bgrx {
            bail!("the pattern check needs a BGRx framebuffer");
        }
        let cmp = wrd_test_pattern::compare(fb.data(), fb.stride(), fb.width(), fb.height(), args.tolerance);
        record.pattern_mismatch = Some(cmp.mismatched_fraction);
        record.pattern_frame = cmp.frame_index;
        if cmp.frame_index.is_none() || cmp.mismatched_fraction >= args.max_mismatch {
            bail!("the complete picture is not the test pattern: {cmp}");
        }
    }
    if let Err(e) = session.disconnect().await {
        warn!(error = %e, "the disconnect did not complete cleanly");
    }
    Ok(record)
}

/// Processes events until the decoded updates have covered the whole desktop (a resize starts
/// over), at most until `deadline`. Returns when that happened, how many graphics updates it
/// took and the final coverage.
pub(crate) async fn wait_complete(
    session: &mut wrd_client::Session,
    deadline: Instant,
    timeout: Duration,
) -> Result<(Instant, u64, Coverage)> {
    let (width, height) = session.desktop_size();
    let mut coverage = Coverage::new(width, height);
    let mut updates = 0u64;
    loop {
        match session.next_event(deadline).await {
            Ok(SessionEvent::GraphicsUpdate { region }) => {
                updates += 1;
                coverage.add(region);
                if coverage.is_complete() {
                    return Ok((Instant::now(), updates, coverage));
                }
            }
            Ok(SessionEvent::Resized { width, height }) => coverage.reset(width, height),
            Ok(SessionEvent::PointerChanged(_)) => {}
            Ok(SessionEvent::Terminated(reason)) => {
                bail!("the server ended the session before the picture was complete: {reason}")
            }
            Err(e) if e.is_timeout() => {
                let (w, h) = coverage.size();
                bail!(
                    "no complete picture within {timeout:?}: {updates} update(s) covered {:.1}% of the {w}x{h} desktop",
                    coverage.fraction() * 100.0
                )
            }
            Err(e) => return Err(e).context("waiting for the picture"),
        }
    }
}
