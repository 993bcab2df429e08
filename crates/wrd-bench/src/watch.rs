//! `watch`: N clients receive and decode for S seconds; the server's CPU and memory meanwhile.
//!
//! Each client runs on its own OS thread with its own current-thread runtime (decoding is CPU
//! work, and one slow client must not delay another's reads). Every client first waits for a
//! complete picture (see [`crate::first_frame`]); then one window of S seconds starts for all
//! of them at once. Per client, the graphics updates and bytes received inside the window are
//! counted. With `--server-pid`, the server's CPU time (`utime + stime` of all its threads) is
//! read at the start and the end of the window, and its RSS every `--rss-interval-ms`.

use std::net::SocketAddr;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use serde::Serialize;
use tracing::warn;
use wrd_client::{ClientConfig, SessionEvent};

use crate::cli::WatchArgs;
use crate::first_frame::wait_complete;
use crate::output::{Output, mib, ms, rate_bytes};
use crate::procfs::{CpuSample, CpuUsage, clock_ticks_per_second, read_comm, read_mem};

/// Delay between "every client is ready" and the start of the window, so that every client
/// thread is waiting for it.
const START_MARGIN: Duration = Duration::from_millis(100);
/// How often a client that waits for the window checks whether it was set.
const GO_POLL: Duration = Duration::from_millis(50);

/// What the coordinator tells the clients.
#[derive(Debug, Clone, Copy)]
enum Go {
    Window { start: Instant, end: Instant },
    Abort,
}

enum Msg {
    /// A client shows a complete picture.
    Ready,
    Done(u32, Result<ClientReport>),
}

/// One client's figures.
#[derive(Debug, Clone, Serialize)]
pub struct ClientReport {
    pub bench: &'static str,
    /// 1-based.
    pub client: u32,
    /// TCP connect start → session active, → complete picture.
    pub connect_ms: f64,
    pub complete_ms: f64,
    /// Length of this client's own window (it notices the shared start within microseconds).
    pub window_s: f64,
    /// Graphics updates decoded in the window.
    pub updates: u64,
    pub updates_per_s: f64,
    /// Bytes read from the socket in the window.
    pub bytes_received: u64,
    pub bytes_per_s: f64,
    /// Pixels redrawn by the updates in the window (sum of their areas).
    pub pixels_updated: u64,
}

/// The server's figures over the window.
#[derive(Debug, Clone, Serialize)]
pub struct ServerReport {
    pub bench: &'static str,
    pub pid: u32,
    /// Its command name (`/proc/PID/comm`).
    pub command: String,
    pub clients: u32,
    pub cpu: CpuUsage,
    pub rss_kib_start: u64,
    pub rss_kib_max: u64,
    pub rss_kib_end: u64,
    /// Peak RSS since the server started (VmHWM), read at the end.
    pub hwm_kib: u64,
    pub rss_samples: u32,
    pub rss_interval_ms: u64,
}

/// Totals.
#[derive(Debug, Clone, Serialize)]
pub struct WatchReport {
    pub bench: &'static str,
    pub addr: String,
    pub clients: u32,
    pub window_s: f64,
    pub updates_per_s: f64,
    pub bytes_per_s: f64,
}

pub fn run(args: &WatchArgs, out: &mut Output) -> Result<()> {
    let window = args.window()?;
    let timeout = args.connect.timeout()?;
    if args.clients == 0 && args.server_pid.is_none() {
        return Err(crate::UsageError("nothing to measure: no clients and no --server-pid".into()).into());
    }
    let ticks_per_second = clock_ticks_per_second()?;
    if let Some(pid) = args.server_pid {
        CpuSample::take(pid).with_context(|| format!("--server-pid {pid}"))?;
    }
    let (addr, config) = if args.clients > 0 {
        let addr = args.connect.socket_addr()?;
        let password = args.connect.password()?;
        (Some(addr), Some(args.connect.client_config(addr, &password)?))
    } else {
        (None, None)
    };
    out.text(format!(
        "watch: {} client(s){} for {:.1} s{}",
        args.clients,
        addr.map_or_else(String::new, |a| format!(" on {a}")),
        window.as_secs_f64(),
        args.server_pid
            .map_or_else(String::new, |p| format!(", server pid {p}"))
    ));

    let go = Arc::new(OnceLock::new());
    let (tx, rx) = mpsc::channel();
    if let Some(config) = &config {
        for index in 1..=args.clients {
            spawn_client(index, config.clone(), timeout, Arc::clone(&go), tx.clone())?;
        }
    }
    drop(tx);

    let result = coordinate(args, window, timeout, ticks_per_second, &go, &rx);
    if result.is_err() {
        let _ = go.set(Go::Abort);
    }
    let (clients, server, window_s) = result?;

    for c in &clients {
        out.text(format!(
            "  client {}: {:.2} updates/s, {} ({} updates, {} bytes in {:.2} s); session active after {:.1} ms, complete picture after {:.1} ms",
            c.client,
            c.updates_per_s,
            rate_bytes(c.bytes_per_s),
            c.updates,
            c.bytes_received,
            c.window_s,
            c.connect_ms,
            c.complete_ms
        ));
        out.json(c)?;
    }
    if let Some(s) = &server {
        out.text(format!(
            "  server pid {} ({}): CPU {:.3} % of one core over {:.2} s ({} ticks of 1/{} s: user {}, system {}; all threads)",
            s.pid,
            s.command,
            s.cpu.percent_of_core,
            s.cpu.wall_s,
            s.cpu.ticks,
            s.cpu.ticks_per_second,
            s.cpu.user_ticks,
            s.cpu.system_ticks
        ));
        out.text(format!(
            "  server RSS: {} at start, max {} ({} samples every {} ms), {} at end; peak since start (VmHWM) {}",
            mib(s.rss_kib_start),
            mib(s.rss_kib_max),
            s.rss_samples,
            s.rss_interval_ms,
            mib(s.rss_kib_end),
            mib(s.hwm_kib)
        ));
        out.json(s)?;
    }
    let total = WatchReport {
        bench: "watch",
        addr: addr.map_or_else(String::new, |a| a.to_string()),
        clients: args.clients,
        window_s,
        updates_per_s: clients.iter().map(|c| c.updates_per_s).sum(),
        bytes_per_s: clients.iter().map(|c| c.bytes_per_s).sum(),
    };
    if args.clients > 0 {
        out.text(format!(
            "  all clients: {:.2} updates/s, {}",
            total.updates_per_s,
            rate_bytes(total.bytes_per_s)
        ));
    }
    out.json(&total)
}

/// Waits for the clients, runs the window, samples the server, collects the reports.
fn coordinate(
    args: &WatchArgs,
    window: Duration,
    timeout: Duration,
    ticks_per_second: u64,
    go: &OnceLock<Go>,
    rx: &Receiver<Msg>,
) -> Result<(Vec<ClientReport>, Option<ServerReport>, f64)> {
    // Each client's connect and first picture are bounded by `timeout` from its connect start.
    let ready_deadline = Instant::now() + timeout + Duration::from_secs(5);
    let mut ready = 0;
    let mut done: Vec<ClientReport> = Vec::new();
    while ready < args.clients {
        match recv_until(rx, ready_deadline) {
            Ok(Msg::Ready) => ready += 1,
            Ok(Msg::Done(i, Err(e))) => return Err(e.context(format!("client {i}"))),
            Ok(Msg::Done(i, Ok(_))) => bail!("client {i} finished before the window started"),
            Err(RecvTimeoutError::Timeout) => {
                bail!(
                    "only {ready} of {} clients showed a complete picture in time",
                    args.clients
                )
            }
            Err(RecvTimeoutError::Disconnected) => bail!("the client threads ended unexpectedly"),
        }
    }

    let start = Instant::now()
        + if args.clients > 0 {
            START_MARGIN
        } else {
            Duration::ZERO
        };
    let end = start + window;
    go.set(Go::Window { start, end })
        .map_err(|_| anyhow!("the window was already set"))?;

    let server = match args.server_pid {
        Some(pid) => Some(sample_server(pid, args, start, end, ticks_per_second)?),
        None => {
            sleep_until(end);
            None
        }
    };

    // Clients stop at `end`, then disconnect (bounded by their write timeout, 5 s).
    let done_deadline = end + Duration::from_secs(15);
    while done.len() < args.clients as usize {
        match recv_until(rx, done_deadline) {
            Ok(Msg::Done(_, Ok(report))) => done.push(report),
            Ok(Msg::Done(i, Err(e))) => return Err(e.context(format!("client {i}"))),
            Ok(Msg::Ready) => {}
            Err(RecvTimeoutError::Timeout) => bail!("clients did not finish after the window"),
            Err(RecvTimeoutError::Disconnected) => bail!("the client threads ended unexpectedly"),
        }
    }
    done.sort_by_key(|c| c.client);
    Ok((done, server, end.saturating_duration_since(start).as_secs_f64()))
}

fn recv_until(rx: &Receiver<Msg>, deadline: Instant) -> Result<Msg, RecvTimeoutError> {
    rx.recv_timeout(deadline.saturating_duration_since(Instant::now()))
}

fn sleep_until(t: Instant) {
    let now = Instant::now();
    if t > now {
        std::thread::sleep(t - now);
    }
}

fn sample_server(
    pid: u32,
    args: &WatchArgs,
    start: Instant,
    end: Instant,
    ticks_per_second: u64,
) -> Result<ServerReport> {
    let interval = Duration::from_millis(args.rss_interval_ms);
    let command = read_comm(pid)?;
    sleep_until(start);
    let cpu_start = CpuSample::take(pid)?;
    let mem_start = read_mem(pid)?;
    let mut rss_max = mem_start.rss_kib;
    let mut samples = 1u32;
    let mut next = start + interval;
    while next < end {
        sleep_until(next);
        rss_max = rss_max.max(read_mem(pid)?.rss_kib);
        samples += 1;
        next += interval;
    }
    sleep_until(end);
    let cpu_end = CpuSample::take(pid)?;
    let mem_end = read_mem(pid)?;
    rss_max = rss_max.max(mem_end.rss_kib);
    samples += 1;
    Ok(ServerReport {
        bench: "watch_server",
        pid,
        command,
        clients: args.clients,
        cpu: cpu_start.usage_until(&cpu_end, ticks_per_second),
        rss_kib_start: mem_start.rss_kib,
        rss_kib_max: rss_max,
        rss_kib_end: mem_end.rss_kib,
        hwm_kib: mem_end.hwm_kib,
        rss_samples: samples,
        rss_interval_ms: args.rss_interval_ms,
    })
}

fn spawn_client(
    index: u32,
    config: ClientConfig,
    timeout: Duration,
    go: Arc<OnceLock<Go>>,
    tx: Sender<Msg>,
) -> Result<()> {
    std::thread::Builder::new()
        .name(format!("client-{index}"))
        .spawn(move || {
            let result = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .context("starting the client's runtime")
                .and_then(|rt| rt.block_on(client(index, config, timeout, &go, &tx)));
            let _ = tx.send(Msg::Done(index, result));
        })
        .context("starting a client thread")?;
    Ok(())
}

async fn client(
    index: u32,
    config: ClientConfig,
    timeout: Duration,
    go: &OnceLock<Go>,
    tx: &Sender<Msg>,
) -> Result<ClientReport> {
    use wrd_client::Instant as TokioInstant;

    let addr: SocketAddr = config.addr;
    let mut session = wrd_client::connect(config)
        .await
        .with_context(|| format!("connecting to {addr}"))?;
    let origin = session.started_at();
    let (complete, _, _) = wait_complete(&mut session, origin + timeout, timeout).await?;
    let connect_ms = ms(session.stats().connect_duration);
    let complete_ms = ms(complete.saturating_duration_since(origin));
    let _ = tx.send(Msg::Ready);

    let mut window_start = None;
    let (window_end, end_stats) = loop {
        let now = TokioInstant::now();
        let deadline = match go.get() {
            None => now + GO_POLL,
            Some(Go::Abort) => bail!("aborted"),
            Some(Go::Window { start, end }) => {
                let (start, end) = (TokioInstant::from_std(*start), TokioInstant::from_std(*end));
                if window_start.is_none() && now >= start {
                    window_start = Some((now, session.stats()));
                }
                if window_start.is_some() && now >= end {
                    break (now, session.stats());
                }
                if window_start.is_some() { end } else { start }
            }
        };
        match session.next_event(deadline).await {
            Ok(SessionEvent::Terminated(reason)) => bail!("the server ended the session: {reason}"),
            Ok(_) => {}
            Err(e) if e.is_timeout() => {}
            Err(e) => return Err(e).context("receiving"),
        }
    };
    let (started, start_stats) = window_start.context("the window never started")?;
    if let Err(e) = session.disconnect().await {
        warn!(client = index, error = %e, "the disconnect did not complete cleanly");
    }
    let window_s = window_end.saturating_duration_since(started).as_secs_f64();
    let updates = end_stats
        .graphics_updates
        .saturating_sub(start_stats.graphics_updates);
    let bytes = end_stats
        .bytes_received
        .saturating_sub(start_stats.bytes_received);
    let per_s = |v: u64| if window_s > 0.0 { v as f64 / window_s } else { 0.0 };
    Ok(ClientReport {
        bench: "watch_client",
        client: index,
        connect_ms,
        complete_ms,
        window_s,
        updates,
        updates_per_s: per_s(updates),
        bytes_received: bytes,
        bytes_per_s: per_s(bytes),
        pixels_updated: end_stats
            .pixels_updated
            .saturating_sub(start_stats.pixels_updated),
    })
}
