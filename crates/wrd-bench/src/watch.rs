//! `watch`: N clients receive and decode for S seconds; the server's CPU and memory meanwhile.
//!
//! Each client runs on its own OS thread with its own current-thread runtime (decoding is CPU
//! work, and one slow client must not delay another's reads). Every client first waits for a
//! complete picture (see [`crate::first_frame`]); then one window of S seconds starts for all
//! of them at once. Per client, the graphics updates and bytes received inside the window are
//! counted. With `--server-pid`, the server's CPU time (`utime + stime` of all its threads) is
//! read at the start and the end of the window, and its RSS every `--rss-interval-ms`.
//!
//! [`measure`] is the same measurement for other commands (`desktop`): it can sum the CPU of
//! further processes (the rest of the desktop stack), run a hook once every client's session
//! is active (start the content), and let the session settle before the window.
//!
//! Update bursts (updates closer than [`BURST_GAP`]) are only a guess at frames: a server that
//! encodes a frame's rectangles one by one, slowly, splits it. With `--frame-counter`, frames
//! are counted exactly instead: the distinct values of the picture's own frame counter (a
//! `wrd-scene animate` picture or the server's test pattern), read from each client's decoded
//! picture after every update that touched it.

use std::net::SocketAddr;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use serde::Serialize;
use tracing::warn;
use wrd_client::{ClientConfig, SessionEvent};
use wrd_scene::counter::{self, FrameCounter};

use crate::cli::{CounterKind, WatchArgs};
use crate::first_frame::wait_complete;
use crate::output::{Output, mib, ms, rate_bytes};
use crate::procfs::{CpuSample, CpuUsage, clock_ticks_per_second, read_comm, read_machine_ticks, read_mem};

/// Delay between "every client is ready" and the start of the window, so that every client
/// thread is waiting for it.
const START_MARGIN: Duration = Duration::from_millis(100);
/// How often a client that waits for the window checks whether it was set.
const GO_POLL: Duration = Duration::from_millis(50);
/// Updates decoded less than this apart belong to one burst (one picture change sent as
/// several updates).
pub const BURST_GAP: Duration = Duration::from_millis(5);

/// What the coordinator tells the clients.
#[derive(Debug, Clone, Copy)]
enum Go {
    Window { start: Instant, end: Instant },
    Abort,
}

enum Msg {
    /// A client's session is active (connected, authenticated, capabilities exchanged).
    Connected,
    /// A client shows a complete picture.
    Ready,
    // Boxed: a report is large, and the channel holds mostly `Ready`s.
    Done(u32, Result<Box<ClientReport>>),
}

/// What the coordinator collected.
struct Collected {
    clients: Vec<ClientReport>,
    server: Option<ServerReport>,
    window_s: f64,
    client_cpu_percent: f64,
    machine_busy_percent: f64,
    machine_steal_percent: f64,
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
    /// Bursts of updates in the window: updates less than [`BURST_GAP`] apart are one burst.
    pub bursts: u64,
    pub bursts_per_s: f64,
    /// With a frame counter: distinct frames (counter values) the picture showed in the window.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub frames: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub frames_per_s: Option<f64>,
    /// With a frame counter: reads in the window that were not a plausible frame number, and
    /// reads where the counter was not legible (both are normal while a picture is torn).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub counter_glitches: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub counter_unreadable: Option<u64>,
    /// With a frame counter: mean PSNR (dB) of up to 5 decoded pictures in the window against
    /// the exact frames the scene drew (how lossy the codec was; a torn picture scores lower).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub picture_psnr_db: Option<f64>,
    /// Codec ids of the surface bits received during the whole session (3 = RemoteFX).
    pub surface_codec_ids: Vec<u8>,
    /// Fast-path bitmap updates (no codec) received during the whole session.
    pub bitmap_update_pdus: u64,
    /// H.264 frames decoded from the graphics pipeline during the whole session.
    pub avc420_frames: u64,
    /// Bytes read from and written to the socket over the whole connection, counted after the
    /// disconnect (which reads until the server closes): what the server wrote and read, if it
    /// counts the same way.
    pub connection_bytes_received: u64,
    pub connection_bytes_sent: u64,
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
    /// With further processes to watch: their CPU and the server's together, in % of one
    /// core over the window.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stack_cpu_percent: Option<f64>,
    /// The processes summed into `stack_cpu_percent` (pid and command), the server first.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub stack: Vec<(u32, String)>,
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
    /// CPU of this benchmark process (every client's receiving and decoding) over the window,
    /// in % of one core: a figure near 100 × cores means the clients, not the server, set the
    /// pace.
    pub client_cpu_percent: f64,
    /// Share of the whole machine's CPU time (all cores, every process, ours or not) that was
    /// busy in the window: near 100 % means the figures are bounded by the machine.
    pub machine_busy_percent: f64,
    /// Share of the machine's CPU time the hypervisor gave to someone else (steal, part of
    /// the busy share): on a shared virtual machine, how much of it our figures never had.
    pub machine_steal_percent: f64,
}

/// What [`measure`] does.
#[derive(Debug, Clone)]
pub struct Plan {
    pub clients: u32,
    /// The clients' configuration (required when `clients > 0`).
    pub config: Option<ClientConfig>,
    /// Bound on each client's connect and first complete picture.
    pub timeout: Duration,
    /// Time between "every client shows a complete picture" (after the hook) and the start of
    /// the window; the clients keep receiving.
    pub settle: Duration,
    pub window: Duration,
    pub server_pid: Option<u32>,
    /// Further processes whose CPU is summed with the server's (`stack_cpu_percent`).
    pub stack_pids: Vec<u32>,
    pub rss_interval: Duration,
    /// Read this picture's frame counter from the clients' pictures.
    pub frame_counter: Option<CounterKind>,
}

/// What [`measure`] found.
#[derive(Debug, Clone)]
pub struct Measurement {
    pub clients: Vec<ClientReport>,
    pub server: Option<ServerReport>,
    pub total: WatchReport,
}

pub fn run(args: &WatchArgs, out: &mut Output) -> Result<()> {
    let window = args.window()?;
    if args.clients == 0 && args.server_pid.is_none() {
        return Err(crate::UsageError("nothing to measure: no clients and no --server-pid".into()).into());
    }
    if let Some(pid) = args.server_pid {
        CpuSample::take(pid).with_context(|| format!("--server-pid {pid}"))?;
    }
    let config = if args.clients > 0 {
        let addr = args.connect.socket_addr()?;
        let password = args.connect.password()?;
        Some(args.connect.client_config(addr, &password)?)
    } else {
        None
    };
    let settle = Duration::try_from_secs_f64(args.settle)
        .map_err(|_| crate::UsageError(format!("--settle {}: not a number of seconds", args.settle)))?;
    let plan = Plan {
        clients: args.clients,
        config,
        timeout: args.connect.timeout()?,
        settle,
        window,
        server_pid: args.server_pid,
        stack_pids: Vec::new(),
        rss_interval: Duration::from_millis(args.rss_interval_ms),
        frame_counter: args.frame_counter,
    };
    out.text(format!(
        "watch: {} client(s){} for {:.1} s{}",
        args.clients,
        plan.config
            .as_ref()
            .map_or_else(String::new, |c| format!(" on {}", c.addr)),
        window.as_secs_f64(),
        args.server_pid
            .map_or_else(String::new, |p| format!(", server pid {p}"))
    ));
    let m = measure(&plan, || Ok(()))?;
    print_measurement(&m, out)
}

/// Prints the text lines and JSON records of a measurement.
pub fn print_measurement(m: &Measurement, out: &mut Output) -> Result<()> {
    for c in &m.clients {
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
        if let (Some(frames), Some(fps)) = (c.frames, c.frames_per_s) {
            out.text(format!(
                "  client {}: {fps:.2} distinct frames/s ({frames} frames; counter misreads {}, unreadable {}); picture PSNR {}",
                c.client,
                c.counter_glitches.unwrap_or(0),
                c.counter_unreadable.unwrap_or(0),
                c.picture_psnr_db.map_or_else(|| "n/a".to_owned(), |p| format!("{p:.1} dB"))
            ));
        }
        out.json(c)?;
    }
    if let Some(s) = &m.server {
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
        if let Some(stack) = s.stack_cpu_percent {
            let names: Vec<&str> = s.stack.iter().map(|(_, c)| c.as_str()).collect();
            out.text(format!(
                "  stack CPU (server and {}): {stack:.3} % of one core",
                names.get(1..).unwrap_or_default().join(", ")
            ));
        }
        out.json(s)?;
    }
    if m.total.clients > 0 {
        out.text(format!(
            "  all clients: {:.2} updates/s, {}; this process (receiving and decoding) used {:.1} % of one core; the machine was {:.0} % busy (all cores), {:.0} % taken by the hypervisor (steal)",
            m.total.updates_per_s,
            rate_bytes(m.total.bytes_per_s),
            m.total.client_cpu_percent,
            m.total.machine_busy_percent,
            m.total.machine_steal_percent
        ));
    }
    out.json(&m.total)
}

/// Connects the clients, calls `on_connected` once every session is active (to start the
/// content), waits until every client shows a complete picture, waits `plan.settle`, then
/// measures for `plan.window`.
pub fn measure(plan: &Plan, on_connected: impl FnOnce() -> Result<()>) -> Result<Measurement> {
    let ticks_per_second = clock_ticks_per_second()?;
    let config = match (&plan.config, plan.clients) {
        (_, 0) => None,
        (Some(c), _) => Some(c),
        (None, _) => bail!("clients without a client configuration"),
    };
    let go = Arc::new(OnceLock::new());
    let (tx, rx) = mpsc::channel();
    if let Some(config) = config {
        for index in 1..=plan.clients {
            let client = ClientPlan {
                index,
                config: config.clone(),
                timeout: plan.timeout,
                frame_counter: plan.frame_counter,
            };
            spawn_client(client, Arc::clone(&go), tx.clone())?;
        }
    }
    drop(tx);

    let result = coordinate(plan, ticks_per_second, &go, &rx, on_connected);
    if result.is_err() {
        let _ = go.set(Go::Abort);
    }
    let Collected {
        clients,
        server,
        window_s,
        client_cpu_percent,
        machine_busy_percent,
        machine_steal_percent,
    } = result?;
    let total = WatchReport {
        bench: "watch",
        addr: config.map_or_else(String::new, |c| c.addr.to_string()),
        clients: plan.clients,
        window_s,
        updates_per_s: clients.iter().map(|c| c.updates_per_s).sum(),
        bytes_per_s: clients.iter().map(|c| c.bytes_per_s).sum(),
        client_cpu_percent,
        machine_busy_percent,
        machine_steal_percent,
    };
    Ok(Measurement {
        clients,
        server,
        total,
    })
}

/// Waits for the clients, runs the hook and the window, samples the server, collects the
/// reports.
fn coordinate(
    plan: &Plan,
    ticks_per_second: u64,
    go: &OnceLock<Go>,
    rx: &Receiver<Msg>,
    on_connected: impl FnOnce() -> Result<()>,
) -> Result<Collected> {
    // Each client's connect and first picture are bounded by `timeout` from its connect start.
    let deadline = Instant::now() + plan.timeout + Duration::from_secs(5);
    let (mut connected, mut ready) = (0, 0);
    let mut done: Vec<ClientReport> = Vec::new();
    // The content starts once every session is active, not once every picture is complete:
    // a compositor that sends frames only on change (Mutter) may have nothing to show a new
    // client of a still screen until the content starts.
    let mut hook = Some(on_connected);
    while ready < plan.clients {
        if connected == plan.clients
            && let Some(hook) = hook.take()
        {
            hook()?;
        }
        match recv_until(rx, deadline) {
            Ok(Msg::Connected) => connected += 1,
            Ok(Msg::Ready) => ready += 1,
            Ok(Msg::Done(i, Err(e))) => return Err(e.context(format!("client {i}"))),
            Ok(Msg::Done(i, Ok(_))) => bail!("client {i} finished before the window started"),
            Err(RecvTimeoutError::Timeout) => {
                bail!(
                    "only {connected} of {} clients connected and {ready} showed a complete picture in time",
                    plan.clients
                )
            }
            Err(RecvTimeoutError::Disconnected) => bail!("the client threads ended unexpectedly"),
        }
    }
    if let Some(hook) = hook.take() {
        hook()?;
    }
    // A client that fails while the content starts or settles fails the measurement now.
    let settle_end = Instant::now() + plan.settle;
    loop {
        match recv_until(rx, settle_end) {
            Ok(Msg::Done(i, Err(e))) => return Err(e.context(format!("client {i}"))),
            Ok(Msg::Done(i, Ok(_))) => bail!("client {i} finished before the window started"),
            Ok(Msg::Ready | Msg::Connected) => {}
            Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => break,
        }
    }
    sleep_until(settle_end);

    let start = Instant::now()
        + if plan.clients > 0 {
            START_MARGIN
        } else {
            Duration::ZERO
        };
    let end = start + plan.window;
    go.set(Go::Window { start, end })
        .map_err(|_| anyhow!("the window was already set"))?;
    sleep_until(start);
    let own_start = CpuSample::take(std::process::id())?;
    let machine_start = read_machine_ticks()?;

    let server = match plan.server_pid {
        Some(pid) => Some(sample_server(pid, plan, start, end, ticks_per_second)?),
        None => {
            sleep_until(end);
            None
        }
    };
    let client_cpu_percent = own_start
        .usage_until(&CpuSample::take(std::process::id())?, ticks_per_second)
        .percent_of_core;
    let machine_end = read_machine_ticks()?;
    let machine_busy_percent = machine_start.busy_percent_until(&machine_end);
    let machine_steal_percent = machine_start.steal_percent_until(&machine_end);

    // Clients stop at `end`, then disconnect (bounded by their write timeout, 5 s).
    let done_deadline = end + Duration::from_secs(15);
    while done.len() < plan.clients as usize {
        match recv_until(rx, done_deadline) {
            Ok(Msg::Done(_, Ok(report))) => done.push(*report),
            Ok(Msg::Done(i, Err(e))) => return Err(e.context(format!("client {i}"))),
            Ok(Msg::Ready | Msg::Connected) => {}
            Err(RecvTimeoutError::Timeout) => bail!("clients did not finish after the window"),
            Err(RecvTimeoutError::Disconnected) => bail!("the client threads ended unexpectedly"),
        }
    }
    done.sort_by_key(|c| c.client);
    Ok(Collected {
        clients: done,
        server,
        window_s: end.saturating_duration_since(start).as_secs_f64(),
        client_cpu_percent,
        machine_busy_percent,
        machine_steal_percent,
    })
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
    plan: &Plan,
    start: Instant,
    end: Instant,
    ticks_per_second: u64,
) -> Result<ServerReport> {
    let interval = plan.rss_interval;
    let command = read_comm(pid)?;
    sleep_until(start);
    let cpu_start = CpuSample::take(pid)?;
    let mem_start = read_mem(pid)?;
    // The rest of the stack: a process that is gone at the start is an error (the stack is
    // broken); one that ends during the window is left out of the sum, with a warning.
    let others_start: Vec<(u32, String, CpuSample)> = plan
        .stack_pids
        .iter()
        .filter(|&&p| p != pid)
        .map(|&p| {
            let sample = CpuSample::take(p).with_context(|| format!("stack process {p}"))?;
            Ok((p, read_comm(p).unwrap_or_default(), sample))
        })
        .collect::<Result<_>>()?;
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
    let cpu = cpu_start.usage_until(&cpu_end, ticks_per_second);

    let (stack_cpu_percent, stack) = if plan.stack_pids.is_empty() {
        (None, Vec::new())
    } else {
        let mut percent = cpu.percent_of_core;
        let mut stack = vec![(pid, command.clone())];
        for (p, comm, first) in others_start {
            match CpuSample::take(p) {
                Ok(last) => {
                    percent += first.usage_until(&last, ticks_per_second).percent_of_core;
                    stack.push((p, comm));
                }
                Err(e) => {
                    warn!(pid = p, command = %comm, error = %e, "a stack process ended during the window; its CPU is left out")
                }
            }
        }
        (Some(percent), stack)
    };
    Ok(ServerReport {
        bench: "watch_server",
        pid,
        command,
        clients: plan.clients,
        cpu,
        rss_kib_start: mem_start.rss_kib,
        rss_kib_max: rss_max,
        rss_kib_end: mem_end.rss_kib,
        hwm_kib: mem_end.hwm_kib,
        rss_samples: samples,
        rss_interval_ms: u64::try_from(interval.as_millis()).unwrap_or(u64::MAX),
        stack_cpu_percent,
        stack,
    })
}

/// One client's part of the plan.
struct ClientPlan {
    index: u32,
    config: ClientConfig,
    timeout: Duration,
    frame_counter: Option<CounterKind>,
}

fn spawn_client(plan: ClientPlan, go: Arc<OnceLock<Go>>, tx: Sender<Msg>) -> Result<()> {
    std::thread::Builder::new()
        .name(format!("client-{}", plan.index))
        .spawn(move || {
            let index = plan.index;
            let result = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .context("starting the client's runtime")
                .and_then(|rt| rt.block_on(client(plan, &go, &tx)))
                .map(Box::new);
            let _ = tx.send(Msg::Done(index, result));
        })
        .context("starting a client thread")?;
    Ok(())
}

/// Pictures compared with the scene's own frame per window (each costs a repaint and a pass
/// over the picture, ~10–20 ms).
const QUALITY_SAMPLES: usize = 5;

/// Reads the picture's frame counter after updates that touched it; for the `wrd-scene`
/// picture, also compares a few decoded pictures with the exact frame the scene drew (the
/// counter says which).
struct CounterReader {
    picture: CounterPicture,
    counter: FrameCounter,
    /// The scene's picture, painted like `wrd-scene` does (for the quality samples).
    painter: wrd_scene::picture::Painter,
    reference: Vec<u8>,
    /// Take quality samples (set while the window runs).
    sampling: bool,
    psnr_db: Vec<f64>,
}

/// Where the counter is, in the picture of this size (`None`: the size holds no counter).
#[derive(Debug, Clone, Copy)]
enum CounterPicture {
    Scene(Option<counter::Layout>),
    Pattern(Option<Region>),
}

/// A rectangle of the desktop, `(x, y, width, height)`.
type Region = (u16, u16, u16, u16);

fn overlaps(a: Region, b: Region) -> bool {
    let (ax, ay, aw, ah) = (u32::from(a.0), u32::from(a.1), u32::from(a.2), u32::from(a.3));
    let (bx, by, bw, bh) = (u32::from(b.0), u32::from(b.1), u32::from(b.2), u32::from(b.3));
    ax < bx + bw && bx < ax + aw && ay < by + bh && by < ay + ah
}

impl CounterReader {
    fn new(kind: CounterKind, size: (u16, u16)) -> Self {
        let (w, h) = (u32::from(size.0), u32::from(size.1));
        let picture = match kind {
            CounterKind::Scene => CounterPicture::Scene(counter::Layout::for_size(w, h)),
            CounterKind::Pattern => CounterPicture::Pattern(
                wrd_test_pattern::counter_box(size.0, size.1).map(|r| (r.x, r.y, r.width, r.height)),
            ),
        };
        Self {
            picture,
            counter: FrameCounter::default(),
            painter: wrd_scene::picture::Painter::new(w, h),
            reference: Vec::new(),
            sampling: false,
            psnr_db: Vec::new(),
        }
    }

    fn kind(&self) -> CounterKind {
        match self.picture {
            CounterPicture::Scene(_) => CounterKind::Scene,
            CounterPicture::Pattern(_) => CounterKind::Pattern,
        }
    }

    fn after_update(&mut self, session: &wrd_client::Session, region: wrd_client::Rect) {
        let updated = (region.x, region.y, region.width, region.height);
        let fb = session.framebuffer();
        let (data, stride) = (fb.data(), fb.stride());
        let value = match self.picture {
            CounterPicture::Scene(Some(layout)) => {
                let (x, y, w, h) = updated;
                if !layout.overlaps(u32::from(x), u32::from(y), u32::from(w), u32::from(h)) {
                    return;
                }
                let green = fb.layout().rgb_offsets()[1];
                counter::read(layout, |x, y| {
                    data.get(y as usize * stride + x as usize * 4 + green)
                        .copied()
                        .unwrap_or(0)
                })
            }
            CounterPicture::Pattern(Some(counter_box)) => {
                if !overlaps(counter_box, updated) {
                    return;
                }
                // The pattern's counter runs to 10^8; its low 16 bits step like the scene's.
                wrd_test_pattern::decode_counter(data, stride, fb.width(), fb.height())
                    .map(|n| n.to_le_bytes())
                    .map(|b| u16::from_le_bytes([b[0], b[1]]))
            }
            CounterPicture::Scene(None) | CounterPicture::Pattern(None) => return,
        };
        let new_frame = self.counter.record(value);
        if let (true, true, Some(frame), CounterPicture::Scene(_)) =
            (new_frame, self.sampling, value, self.picture)
            && self.psnr_db.len() < QUALITY_SAMPLES
            && let Some(psnr) = self.psnr(&fb, frame)
        {
            self.psnr_db.push(psnr);
        }
    }

    /// PSNR (dB, over R, G and B of every pixel) of the decoded picture against frame `frame`
    /// of the scene; `None` if the sizes do not match. A picture torn between frames scores
    /// lower, so this is a lower bound of the codec's quality.
    fn psnr(&mut self, fb: &wrd_client::Framebuffer<'_>, frame: u16) -> Option<f64> {
        let (w, h) = self.painter.size();
        if (u32::from(fb.width()), u32::from(fb.height())) != (w, h) {
            return None;
        }
        let row = w as usize * 4;
        self.reference.resize(row * h as usize, 0);
        // 65536 frames are a whole number of the picture's periods: the 16-bit counter value
        // paints the same picture as the scene's frame number.
        if !self.painter.paint(&mut self.reference, row, u32::from(frame)) {
            return None;
        }
        let [r, g, b] = fb.layout().rgb_offsets();
        let mut squares = 0u64;
        for y in 0..h as usize {
            let got = fb.data().get(y * fb.stride()..y * fb.stride() + row)?;
            let want = &self.reference[y * row..(y + 1) * row];
            for (p, q) in got.chunks_exact(4).zip(want.chunks_exact(4)) {
                // the reference is B, G, R, X
                for (c, d) in [(r, 2), (g, 1), (b, 0)] {
                    let e = i64::from(p[c]) - i64::from(q[d]);
                    squares += e.unsigned_abs() * e.unsigned_abs();
                }
            }
        }
        let mse = squares as f64 / (f64::from(w) * f64::from(h) * 3.0);
        Some(if mse == 0.0 {
            99.0
        } else {
            10.0 * (255.0 * 255.0 / mse).log10()
        })
    }
}

async fn client(plan: ClientPlan, go: &OnceLock<Go>, tx: &Sender<Msg>) -> Result<ClientReport> {
    use wrd_client::Instant as TokioInstant;

    let ClientPlan {
        index,
        config,
        timeout,
        frame_counter,
    } = plan;
    let addr: SocketAddr = config.addr;
    let mut session = wrd_client::connect(config)
        .await
        .with_context(|| format!("connecting to {addr}"))?;
    let _ = tx.send(Msg::Connected);
    let origin = session.started_at();
    let (complete, _, _) = wait_complete(&mut session, origin + timeout, timeout).await?;
    let connect_ms = ms(session.stats().connect_duration);
    let complete_ms = ms(complete.saturating_duration_since(origin));
    let _ = tx.send(Msg::Ready);

    let mut reader = frame_counter.map(|kind| CounterReader::new(kind, session.desktop_size()));
    let mut bursts = 0u64;
    let mut last_update: Option<TokioInstant> = None;
    let mut window_start = None;
    let (window_end, end_stats, end_counter, end_bursts) = loop {
        let now = TokioInstant::now();
        let deadline = match go.get() {
            None => now + GO_POLL,
            Some(Go::Abort) => bail!("aborted"),
            Some(Go::Window { start, end }) => {
                let (start, end) = (TokioInstant::from_std(*start), TokioInstant::from_std(*end));
                if window_start.is_none() && now >= start {
                    let counter = reader.as_ref().map(|r| r.counter.clone());
                    window_start = Some((now, session.stats(), counter, bursts));
                    if let Some(r) = reader.as_mut() {
                        r.sampling = true;
                    }
                }
                if window_start.is_some() && now >= end {
                    break (
                        now,
                        session.stats(),
                        reader.as_ref().map(|r| r.counter.clone()),
                        bursts,
                    );
                }
                if window_start.is_some() { end } else { start }
            }
        };
        match session.next_event(deadline).await {
            Ok(SessionEvent::GraphicsUpdate { region }) => {
                let at = TokioInstant::now();
                if last_update.is_none_or(|t| at.saturating_duration_since(t) >= BURST_GAP) {
                    bursts += 1;
                }
                last_update = Some(at);
                if let Some(r) = reader.as_mut() {
                    r.after_update(&session, region);
                }
            }
            Ok(SessionEvent::Resized { width, height }) => {
                if let Some(r) = reader.as_mut() {
                    *r = CounterReader::new(r.kind(), (width, height));
                }
            }
            Ok(SessionEvent::Terminated(reason)) => bail!("the server ended the session: {reason}"),
            Ok(SessionEvent::PointerChanged(_)) => {}
            Err(e) if e.is_timeout() => {}
            Err(e) => return Err(e).context("receiving"),
        }
    };
    let (started, start_stats, start_counter, start_bursts) =
        window_start.context("the window never started")?;
    let wire = session.wire_bytes();
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
    let counted = start_counter.zip(end_counter).map(|(a, b)| {
        (
            b.frames.saturating_sub(a.frames),
            b.glitches.saturating_sub(a.glitches),
            b.unreadable.saturating_sub(a.unreadable),
        )
    });
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
        bursts: end_bursts - start_bursts,
        bursts_per_s: per_s(end_bursts - start_bursts),
        frames: counted.map(|c| c.0),
        frames_per_s: counted.map(|c| per_s(c.0)),
        counter_glitches: counted.map(|c| c.1),
        counter_unreadable: counted.map(|c| c.2),
        picture_psnr_db: reader
            .as_ref()
            .filter(|r| !r.psnr_db.is_empty())
            .map(|r| r.psnr_db.iter().sum::<f64>() / r.psnr_db.len() as f64),
        surface_codec_ids: end_stats.surface_codec_ids.iter().copied().collect(),
        bitmap_update_pdus: end_stats.bitmap_update_pdus,
        avc420_frames: end_stats.avc420_frames,
        connection_bytes_received: wire.received(),
        connection_bytes_sent: wire.sent(),
    })
}
