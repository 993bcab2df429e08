//! Frames per second the H.264 path delivers when the source gives 60 (issue 8's "60 fps where
//! the source gives 60"), which the headless desktops of this machine cannot show: their
//! full-screen animation draws only about 45 fps.
//!
//! Run: `cargo bench -p wrd-rdp --bench h264_pipeline [-- WxH FPS SECONDS ENCODER,...]`
//! (defaults `1920x1080 60 10 1,2`). An ENCODER is the thread count, optionally followed by
//! `:scd`/`:noscd` (openh264's scene-change detection on or off) and `:deblock`/`:nodeblock`
//! (the deblocking filter), e.g. `2:scd:deblock`, where the defaults (`EncoderSettings`'
//! LAN preset) should not apply, and `:count` for a client that counts and acknowledges the
//! frames without decoding them (as a client on another machine costs this one nothing;
//! without it the client decodes every frame here, on the same cores); the variants run one
//! after another, in the order given.
//!
//! In one process: a source thread paints `wrd-scene`'s full-screen animation (colour bars
//! moving every frame: every pixel changes) at FPS and publishes each frame whole on a
//! `FrameBus`; the real server (`wrd_rdp::serve`: display, encoder thread, flow control,
//! IronRDP, TLS) serves it on 127.0.0.1; one in-process client (`wrd-client`, openh264
//! decoding every frame unless the variant says `:count`) connects with H.264. After 3 s of
//! warm-up, SECONDS are measured: frames published, AVC420 frames the client received per
//! second, Mbit/s on the wire, the encoder threads' CPU per frame, the whole process's CPU and
//! resident memory (server, client and source together, at the end of the variant's window).
//! The variants run one after another in the same run; the server's own statistics
//! (capture-to-wire and its stages) follow each variant as log lines. Client, server and
//! source share this machine's cores, as on the headless desktops.

// Benchmark code: a failed step ends the run.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../tests/common/mod.rs"]
mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;
use wrd_frame::{FrameBus, FramePublisher, NewFrame, PixelFormat, Rect};
use wrd_scene::picture::Painter;

const WARM_UP: Duration = Duration::from_secs(3);

struct Variant {
    size: (u16, u16),
    fps: u32,
    seconds: u64,
    encoder: EncoderVariant,
}

/// The encoder settings a variant changes from the defaults, and its name as given.
#[derive(Debug, Clone)]
struct EncoderVariant {
    name: String,
    threads: u16,
    scene_change_detection: bool,
    deblocking: bool,
    /// The client decodes every frame (`false`: it only counts and acknowledges them).
    client_decodes: bool,
}

impl EncoderVariant {
    fn parse(spec: &str) -> Self {
        let defaults = wrd_h264::EncoderSettings::default();
        let mut parts = spec.split(':');
        let threads = parts.next().and_then(|t| t.parse().ok()).expect("a thread count");
        let mut variant = Self {
            name: spec.to_owned(),
            threads,
            scene_change_detection: defaults.scene_change_detection,
            deblocking: defaults.deblocking,
            client_decodes: true,
        };
        for part in parts {
            match part {
                "noscd" => variant.scene_change_detection = false,
                "scd" => variant.scene_change_detection = true,
                "nodeblock" => variant.deblocking = false,
                "deblock" => variant.deblocking = true,
                "count" => variant.client_decodes = false,
                other => panic!("{other:?}: expected scd, noscd, deblock, nodeblock or count"),
            }
        }
        variant
    }
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let size = args.first().map_or((1920, 1080), |s| {
        let (w, h) = s.split_once('x').expect("size as WxH");
        (w.parse().expect("width"), h.parse().expect("height"))
    });
    let fps: u32 = args.get(1).map_or(60, |s| s.parse().expect("frames per second"));
    let seconds: u64 = args.get(2).map_or(10, |s| s.parse().expect("seconds"));
    let encoders: Vec<EncoderVariant> = args
        .get(3)
        .map_or("1,2", String::as_str)
        .split(',')
        .map(EncoderVariant::parse)
        .collect();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "wrd_rdp::stats=info".into()),
        )
        .init();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    println!(
        "h264_pipeline: {}x{} animation at {fps} fps, {seconds} s after {} s of warm-up, encoders {:?}; {} CPUs",
        size.0,
        size.1,
        WARM_UP.as_secs(),
        encoders.iter().map(|e| e.name.as_str()).collect::<Vec<_>>(),
        std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get),
    );
    for encoder in encoders {
        let variant = Variant {
            size,
            fps,
            seconds,
            encoder,
        };
        runtime.block_on(run(&variant));
    }
}

async fn run(variant: &Variant) {
    let shutdown = CancellationToken::new();
    let (publisher, bus) = FrameBus::new();
    let published = Arc::new(AtomicU64::new(0));
    let stop_source = Arc::new(AtomicBool::new(false));
    let source = {
        let (published, stop) = (Arc::clone(&published), Arc::clone(&stop_source));
        let (size, fps) = (variant.size, variant.fps);
        std::thread::Builder::new()
            .name("scene-source".into())
            .spawn(move || paint_and_publish(publisher, size, fps, &published, &stop))
            .unwrap()
    };
    let options = common::Options {
        h264: wrd_h264::EncoderSettings {
            threads: variant.encoder.threads,
            scene_change_detection: variant.encoder.scene_change_detection,
            deblocking: variant.encoder.deblocking,
            ..wrd_h264::EncoderSettings::default()
        },
        ..common::Options::default()
    };
    let server = common::start_on(bus, options, shutdown).await;
    let mut config = common::h264_config(server.addr);
    (config.desktop_width, config.desktop_height) = variant.size;
    config.decode_pictures = variant.encoder.client_decodes;
    let mut session = wrd_client::connect(config).await.unwrap();

    common::drain_until(&mut session, wrd_client::Instant::now() + WARM_UP).await;
    let before = Snapshot::take(&session, &published);
    common::drain_until(
        &mut session,
        wrd_client::Instant::now() + Duration::from_secs(variant.seconds),
    )
    .await;
    let after = Snapshot::take(&session, &published);
    let resident_mib = common::resident_bytes() as f64 / (1024.0 * 1024.0);
    let idr_frames = session.stats().avc420_idr_frames;
    session.disconnect().await.ok();
    stop_source.store(true, Ordering::Relaxed);
    source.join().unwrap();
    server.stop().await;

    let secs = after.at.duration_since(before.at).as_secs_f64();
    let frames = after.frames - before.frames;
    let ticks_per_s = ticks_per_second();
    let ms_of = |ticks: u64| ticks as f64 * 1000.0 / ticks_per_s;
    println!(
        "encoder {}: source {:.1} fps, delivered {:.1} fps ({frames} frames, {idr_frames} IDR in the session), \
         {:.2} Mbit/s, encoder CPU {:.2} ms per delivered frame, process CPU {:.0} % of one core, \
         process resident {resident_mib:.0} MiB",
        variant.encoder.name,
        (after.published - before.published) as f64 / secs,
        frames as f64 / secs,
        (after.bytes - before.bytes) as f64 * 8.0 / secs / 1e6,
        ms_of(after.encoder_ticks - before.encoder_ticks) / frames.max(1) as f64,
        ms_of(after.process_ticks - before.process_ticks) / 10.0 / secs,
    );
}

/// Paints frame after frame at `fps` on absolute deadlines (a late frame is not made up for:
/// the next deadline after now is the next frame's) and publishes each whole.
fn paint_and_publish(
    mut publisher: FramePublisher,
    (width, height): (u16, u16),
    fps: u32,
    published: &AtomicU64,
    stop: &AtomicBool,
) {
    let painter = Painter::new(u32::from(width), u32::from(height));
    let stride = usize::from(width) * 4;
    let period = Duration::from_secs(1) / fps.max(1);
    let start = Instant::now();
    let mut n: u32 = 0;
    while !stop.load(Ordering::Relaxed) {
        let mut pixels = vec![0; stride * usize::from(height)];
        assert!(painter.paint(&mut pixels, stride, n));
        let frame = NewFrame {
            width,
            height,
            stride,
            format: PixelFormat::Bgrx,
            data: pixels.into(),
            damage: vec![Rect::new(0, 0, width, height)],
            captured_at: Instant::now(),
        };
        if publisher.publish(frame).is_err() {
            return;
        }
        published.fetch_add(1, Ordering::Relaxed);
        n += 1;
        let due = start + period * n;
        let now = Instant::now();
        if due > now {
            std::thread::sleep(due - now);
        } else {
            // Behind: skip to the next deadline still ahead.
            n = u32::try_from(now.duration_since(start).as_nanos() / period.as_nanos()).unwrap_or(n) + 1;
        }
    }
}

struct Snapshot {
    at: Instant,
    frames: u64,
    bytes: u64,
    published: u64,
    encoder_ticks: u64,
    process_ticks: u64,
}

impl Snapshot {
    fn take(session: &wrd_client::Session, published: &AtomicU64) -> Self {
        let stats = session.stats();
        let (encoder_ticks, process_ticks) = thread_ticks();
        Self {
            at: Instant::now(),
            frames: stats.avc420_frames,
            bytes: stats.bytes_received,
            published: published.load(Ordering::Relaxed),
            encoder_ticks,
            process_ticks,
        }
    }
}

/// CPU clock ticks (user + system) of the encoder threads (`h264-encoder`, and openh264's
/// slice threads, which inherit the name) and of the whole process.
fn thread_ticks() -> (u64, u64) {
    let mut encoder = 0;
    let mut process = 0;
    for task in std::fs::read_dir("/proc/self/task").unwrap().flatten() {
        let comm = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
        let stat = std::fs::read_to_string(task.path().join("stat")).unwrap_or_default();
        let Some(end) = stat.rfind(')') else { continue };
        let fields: Vec<&str> = stat[end + 2..].split_whitespace().collect();
        let ticks = fields.get(11).and_then(|f| f.parse::<u64>().ok()).unwrap_or(0)
            + fields.get(12).and_then(|f| f.parse::<u64>().ok()).unwrap_or(0);
        process += ticks;
        if comm.trim().starts_with("h264-encoder") {
            encoder += ticks;
        }
    }
    (encoder, process)
}

fn ticks_per_second() -> f64 {
    // SAFETY: sysconf reads a constant of the system and has no preconditions.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if ticks > 0 { ticks as f64 } else { 100.0 }
}
