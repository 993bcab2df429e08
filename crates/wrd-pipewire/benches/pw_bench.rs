//! Figures of the PipeWire thread (run: `cargo bench -p wrd-pipewire --bench pw_bench`):
//!
//! 1. latency from the test source queueing a 1920x1080 BGRx frame (its header pts, taken just
//!    before `pw_stream_queue_buffer`) to the async side holding it (`FrameReceiver::recv`
//!    returned): median, p99, max;
//! 2. copy cost per 1920x1080 frame (time the thread spends copying, from `FrameStats`);
//! 3. CPU used by the PipeWire thread over 10 s with streams connected and no frames;
//! 4. frames per second through the real portal stack (headless sway + xdg-desktop-portal-wlr,
//!    an animated client), 10 s, with `wrd-pw-probe` (needs sway, the patched portal, and root
//!    or a user session; skipped with a note otherwise).
//!
//! Private daemon, private stack: nothing of the machine's desktop is touched.

// Benchmark code: a failed step ends the run.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
// Test data is built with deliberate wrapping arithmetic and small casts.
#![allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use wrd_pipewire::test_source::{TestFrame, TestSource, TestSourceConfig, monotonic_ns};
use wrd_pipewire::wrd_frame::PixelFormat;
use wrd_pipewire::{PipeWireEvent, PipeWireThreadManager, Remote, StreamConfig};
use wrd_testkit::{PipeWireDaemon, StackOptions, SwayStack, TestDir};

const W: u32 = 1920;
const H: u32 = 1080;

fn thread_ticks() -> Vec<(String, u64)> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc/self/task").unwrap().flatten() {
        let comm = std::fs::read_to_string(e.path().join("comm")).unwrap_or_default();
        let stat = std::fs::read_to_string(e.path().join("stat")).unwrap_or_default();
        let Some(p) = stat.rfind(')') else { continue };
        let f: Vec<&str> = stat[p + 2..].split_whitespace().collect();
        let t = f[11].parse::<u64>().unwrap_or(0) + f[12].parse::<u64>().unwrap_or(0);
        out.push((format!("{}:{}", comm.trim(), e.file_name().to_string_lossy()), t));
    }
    out
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .unwrap_or_default()
        .lines()
        .find_map(|l| {
            l.strip_prefix("model name")
                .map(|v| v.trim_start_matches([' ', '\t', ':']).to_owned())
        })
        .unwrap_or_default();
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let pw = std::process::Command::new("pipewire")
        .arg("--version")
        .output()
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .last()
                .unwrap_or("")
                .to_owned()
        })
        .unwrap_or_default();
    format!("{cpu}, {cores} cores, Linux {}, {pw}", kernel.trim())
}

fn main() {
    // `cargo bench` passes --bench; `cargo test --benches` runs us with no such flag: stay quick
    let full = std::env::args().any(|a| a == "--bench");
    if !full {
        println!("pw_bench: run with `cargo bench -p wrd-pipewire --bench pw_bench`");
        return;
    }
    println!("machine: {}", machine());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let dir = TestDir::new("pw-bench").unwrap();
    let daemon = PipeWireDaemon::start(dir.path()).unwrap();
    let source = TestSource::start(
        Remote::Socket(daemon.socket()),
        TestSourceConfig::new(PixelFormat::Bgrx, W, H),
    )
    .unwrap();
    let (manager, mut conn) = PipeWireThreadManager::spawn(Remote::Socket(daemon.socket())).unwrap();
    let mut handle = rt
        .block_on(conn.create_stream(source.node_id(), StreamConfig::default()))
        .unwrap();
    let id = handle.stream.id;
    let local = rt.block_on(async {
        loop {
            if let Some(PipeWireEvent::StreamStateChanged {
                stream,
                local_node_id: Some(n),
                ..
            }) = conn.next_event().await
                && stream == id
            {
                return n;
            }
        }
    });
    source.link_to(local).unwrap();
    rt.block_on(async {
        loop {
            if let Some(PipeWireEvent::BuffersNegotiated { stream, .. }) = conn.next_event().await
                && stream == id
            {
                return;
            }
        }
    });

    // 1 + 2: latency and copy cost
    let lat: Arc<Mutex<Vec<f64>>> = Arc::new(Mutex::new(Vec::new()));
    let stats_before = handle.frames.stats();
    let receiver = {
        let lat = lat.clone();
        rt.spawn(async move {
            while let Ok(f) = handle.frames.recv().await {
                let now = monotonic_ns();
                if let Some(pts) = f.pts_ns {
                    lat.lock().unwrap().push((now - pts) as f64 / 1000.0);
                }
            }
            handle
        })
    };
    let frames: Vec<TestFrame> = (0..4u8)
        .map(|i| TestFrame::new(vec![i.wrapping_mul(60); (W * H * 4) as usize], vec![]))
        .collect();
    let (warm, n) = (30, 600);
    for i in 0..warm + n {
        if i == warm {
            lat.lock().unwrap().clear();
        }
        source
            .push_retry(frames[i % 4].clone(), Duration::from_secs(5))
            .unwrap();
        std::thread::sleep(Duration::from_millis(10));
    }
    std::thread::sleep(Duration::from_millis(200));
    let mut l = lat.lock().unwrap().clone();
    l.sort_by(f64::total_cmp);
    println!(
        "latency queue->async, {W}x{H} BGRx, {} frames at ~80/s: median {:.0} us, p99 {:.0} us, max {:.0} us, min {:.0} us",
        l.len(),
        percentile(&l, 0.5),
        percentile(&l, 0.99),
        l.last().copied().unwrap_or(0.0),
        l.first().copied().unwrap_or(0.0)
    );

    // 3: idle CPU (the receiver task stays parked in recv)
    let hz = 100.0; // USER_HZ on Linux
    let t0 = thread_ticks();
    std::thread::sleep(Duration::from_secs(10));
    let t1 = thread_ticks();
    for (name, after) in &t1 {
        let before = t0.iter().find(|(n, _)| n == name).map_or(0, |(_, t)| *t);
        let ms = (after - before) as f64 * 1000.0 / hz;
        if name.starts_with("pipewire:") || name.starts_with("data-loop") || ms > 0.0 {
            println!("idle 10 s: thread {name}: {ms:.0} ms CPU");
        }
    }
    drop(manager); // ends the stream: the receiver task returns
    let handle = rt.block_on(receiver).unwrap();
    let s = handle.frames.stats();
    let copied = s.published - stats_before.published;
    println!(
        "copy per frame: {:.0} us for {:.1} MB ({:.1} GB/s), {} frames, invalid {}",
        (s.copy_nanos - stats_before.copy_nanos) as f64 / copied.max(1) as f64 / 1000.0,
        (s.bytes_copied - stats_before.bytes_copied) as f64 / copied.max(1) as f64 / 1e6,
        (s.bytes_copied - stats_before.bytes_copied) as f64
            / (s.copy_nanos - stats_before.copy_nanos).max(1) as f64,
        copied,
        s.invalid
    );
    drop(source);
    drop(daemon);

    // 4: the real portal stack
    let sdir = TestDir::new("pw-bench-portal").unwrap();
    match SwayStack::start(
        sdir.path(),
        &StackOptions {
            size: Some((W, H)),
            wallpaper: None,
            animate: true,
        },
    ) {
        Ok(stack) => {
            let probe = stack
                .install(Path::new(env!("CARGO_BIN_EXE_wrd-pw-probe")))
                .unwrap();
            std::thread::sleep(Duration::from_millis(500));
            let out = stack
                .output(stack.command(&probe).args(["--seconds", "10"]))
                .unwrap();
            let text = String::from_utf8_lossy(&out.stdout);
            let summary = text
                .lines()
                .find(|l| l.contains("\"summary\""))
                .unwrap_or("no summary");
            println!("portal 10 s (weston-presentation-shm animating): {summary}");
        }
        Err(e) => println!("portal: not measured ({e:#})"),
    }
}
