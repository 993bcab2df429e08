//! The RDP server in-process, with the test pattern as its source, against the headless
//! IronRDP client (`wrd-client`): pixels, authentication, admission, shutdown.

// Test code: a failed step is the test failing, so unwrap/panic are the right tools here.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::*;
use tokio_util::sync::CancellationToken;
use wrd_client::{ClientError, Instant, Security, Session};
use wrd_frame::FrameBus;
use wrd_rdp::AuthMode;

/// Waits until the client's picture is the test pattern (some frame of it), and returns the
/// frame counter it shows.
async fn wait_for_pattern(session: &mut Session) -> u64 {
    let mut last = None;
    let result = session
        .wait_until(soon(10), |fb| {
            let cmp = wrd_test_pattern::compare(
                &fb.to_bgrx(),
                usize::from(fb.width()) * 4,
                fb.width(),
                fb.height(),
                48,
            );
            let ok = cmp.frame_index.is_some() && cmp.mismatched_fraction < 0.02;
            last = Some(cmp);
            ok
        })
        .await;
    let cmp = last.expect("no frame at all");
    result.unwrap_or_else(|e| panic!("the client never showed the pattern ({e}); last comparison: {cmp}"));
    cmp.frame_index.unwrap()
}

fn counter(session: &Session) -> Option<u64> {
    fb_counter(&session.framebuffer())
}

fn fb_counter(fb: &wrd_client::Framebuffer<'_>) -> Option<u64> {
    wrd_test_pattern::decode_counter(
        &fb.to_bgrx(),
        usize::from(fb.width()) * 4,
        fb.width(),
        fb.height(),
    )
}

/// Waits until the client shows a pattern counter above `n`: its picture is live.
async fn wait_for_counter_above(session: &mut Session, n: u64, secs: u64) -> Result<(), ClientError> {
    session
        .wait_until(soon(secs), |fb| fb_counter(fb).is_some_and(|m| m > n))
        .await
}

/// Connects, retrying for up to `tries` × 100 ms while the server refuses (a slot is freed
/// asynchronously, when the session thread has ended).
async fn connect_when_admitted(addr: SocketAddr, tries: u32) -> Option<Session> {
    for _ in 0..tries {
        if let Ok(session) = wrd_client::connect(client_config(addr, PASSWORD)).await {
            return Some(session);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    None
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nla_client_sees_the_moving_pattern() {
    let server = start(Options::default()).await;
    let mut session = wrd_client::connect(client_config(server.addr, PASSWORD))
        .await
        .unwrap();
    assert_eq!(session.desktop_size(), (WIDTH, HEIGHT));
    let first = wait_for_pattern(&mut session).await;

    // The picture keeps moving, and every intermediate picture is a correct pattern frame:
    // damage-only updates leave nothing stale behind.
    let later = loop {
        let n = wait_for_pattern(&mut session).await;
        if n >= first + 10 {
            break n;
        }
        session.wait_for_frame(soon(5)).await.unwrap();
    };
    assert!(later > first);

    // Only changed regions travel: over many frames, far less than a full frame per update.
    let stats = session.stats();
    let full_frames = stats.pixels_updated as f64 / (f64::from(WIDTH) * f64::from(HEIGHT));
    let updates = (later - first) as f64;
    assert!(
        full_frames < updates * 0.25,
        "{full_frames:.1} full frames of pixels for {updates} pattern frames"
    );

    session.disconnect().await.unwrap();
    let summary = server.stop().await;
    assert_eq!(summary.accepted, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_password_is_refused_and_the_server_keeps_serving() {
    let server = start(Options::default()).await;
    let mut watcher = wrd_client::connect(client_config(server.addr, PASSWORD))
        .await
        .unwrap();
    wait_for_pattern(&mut watcher).await;

    match wrd_client::connect(client_config(server.addr, "wrong")).await {
        Err(ClientError::AuthenticationFailed(_)) => {}
        other => panic!(
            "expected an authentication failure, got {:?}",
            other.map(|_| "a session")
        ),
    }
    // The connected client never noticed, and a new client with the right password gets in.
    let before = counter(&watcher).unwrap();
    watcher.wait_until(soon(5), |_| true).await.unwrap();
    wait_for_pattern(&mut watcher).await;
    wait_for_counter_above(&mut watcher, before + 5, 5).await.unwrap();
    let mut second = wrd_client::connect(client_config(server.addr, PASSWORD))
        .await
        .unwrap();
    wait_for_pattern(&mut second).await;

    let summary = server.stop().await;
    assert_eq!(summary.auth_failures, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeated_failures_block_the_address() {
    let server = start(Options::default()).await;
    for attempt in 0..5 {
        let result = wrd_client::connect(client_config(server.addr, "guess")).await;
        assert!(
            matches!(result, Err(ClientError::AuthenticationFailed(_))),
            "attempt {attempt}"
        );
    }
    // The server counts a failure when the session ends, a moment after the client has heard
    // the rejection; a real attacker gains nothing from that moment, the test just waits it out.
    tokio::time::sleep(Duration::from_millis(100)).await;
    // Now even the right password is refused at once: the server closes before any RDP reply.
    let started = std::time::Instant::now();
    let blocked = wrd_client::connect(client_config(server.addr, PASSWORD)).await;
    assert!(blocked.is_err(), "a blocked address got a session");
    assert!(
        !matches!(blocked, Err(ClientError::Timeout(_))),
        "refused, not left hanging: {blocked:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "refused at once, took {:?}",
        started.elapsed()
    );
    let summary = server.stop().await;
    assert_eq!((summary.auth_failures, summary.refused_throttled), (5, 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_the_client_limit_is_refused_at_once() {
    let server = start(Options {
        max_clients: 1,
        ..Options::default()
    })
    .await;
    let mut first = wrd_client::connect(client_config(server.addr, PASSWORD))
        .await
        .unwrap();
    wait_for_pattern(&mut first).await;

    let started = std::time::Instant::now();
    let second = wrd_client::connect(client_config(server.addr, PASSWORD)).await;
    assert!(second.is_err(), "second client admitted past --max-clients 1");
    assert!(!matches!(second, Err(ClientError::Timeout(_))), "{second:?}");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "took {:?}",
        started.elapsed()
    );

    // The first client is unaffected; once it leaves, the slot is free again.
    let n = counter(&first).unwrap();
    wait_for_counter_above(&mut first, n, 5).await.unwrap();
    first.disconnect().await.unwrap();
    let mut third = connect_when_admitted(server.addr, 50)
        .await
        .expect("slot never freed");
    wait_for_pattern(&mut third).await;
    let summary = server.stop().await;
    assert!(summary.refused_over_limit >= 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn several_clients_share_one_desktop() {
    let server = start(Options::default()).await;
    let mut a = wrd_client::connect(client_config(server.addr, PASSWORD))
        .await
        .unwrap();
    let mut b = wrd_client::connect(client_config(server.addr, PASSWORD))
        .await
        .unwrap();
    let mut c = wrd_client::connect(client_config(server.addr, PASSWORD))
        .await
        .unwrap();
    for session in [&mut a, &mut b, &mut c] {
        wait_for_pattern(session).await;
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_only_checks_the_password_when_asked_for() {
    let server = start(Options {
        auth: AuthMode::TlsOnly(creds()),
        ..Options::default()
    })
    .await;
    let mut config = client_config(server.addr, PASSWORD);
    config.security = Security::Tls;
    let mut session = wrd_client::connect(config.clone()).await.unwrap();
    wait_for_pattern(&mut session).await;

    config.password = "wrong".into();
    let refused = async {
        let mut session = wrd_client::connect(config).await?;
        session.wait_for_frame(soon(5)).await
    };
    assert!(
        refused.await.is_err(),
        "a wrong password got a picture over TLS-only"
    );
    let summary = server.stop().await;
    assert_eq!(summary.auth_failures, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nla_server_refuses_a_tls_only_client() {
    let server = start(Options::default()).await;
    let mut config = client_config(server.addr, PASSWORD);
    config.security = Security::Tls;
    assert!(
        wrd_client::connect(config).await.is_err(),
        "TLS-only is used only when asked for"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_closes_sessions_promptly() {
    let server = start(Options::default()).await;
    let mut session = wrd_client::connect(client_config(server.addr, PASSWORD))
        .await
        .unwrap();
    wait_for_pattern(&mut session).await;
    let started = std::time::Instant::now();
    server.stop().await;
    assert!(
        started.elapsed() < Duration::from_millis(1500),
        "took {:?}",
        started.elapsed()
    );
    // The client sees the end of the session rather than silence.
    let deadline = soon(3);
    loop {
        match session.next_event(deadline).await {
            Ok(wrd_client::SessionEvent::Terminated(_)) | Err(ClientError::Disconnected(_)) => break,
            Ok(_) => {}
            Err(e) => panic!("expected the session to end, got {e}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn static_pattern_is_sent_once_and_then_nothing() {
    let server = start(Options {
        fps: 0,
        ..Options::default()
    })
    .await;
    let mut session = wrd_client::connect(client_config(server.addr, PASSWORD))
        .await
        .unwrap();
    assert_eq!(wait_for_pattern(&mut session).await, 0);
    // Drain what the first picture took, then an idle desktop costs no traffic.
    while session.next_event(soon(1)).await.is_ok() {}
    let before = session.stats().bytes_received;
    let quiet = session.next_event(soon(2)).await;
    assert!(matches!(quiet, Err(ClientError::Timeout(_))), "{quiet:?}");
    assert_eq!(session.stats().bytes_received, before);
    server.stop().await;
}

/// Drops every packet of one TCP connection on loopback, both ways, as if the client machine
/// had vanished (no FIN, no RST, no ACK). Uses a private nftables table, removed on drop.
struct Blackhole {
    table: String,
}

impl Blackhole {
    fn new(client: SocketAddr, server: SocketAddr) -> Self {
        let table = format!("wrd_test_{}_{}", std::process::id(), client.port());
        let (c, s) = (client.port(), server.port());
        let script = format!(
            "add table inet {table}\n\
             add chain inet {table} input {{ type filter hook input priority -10; }}\n\
             add rule inet {table} input tcp sport {c} tcp dport {s} drop\n\
             add rule inet {table} input tcp sport {s} tcp dport {c} drop\n"
        );
        nft(&script).unwrap_or_else(|e| {
            panic!("cannot install the packet filter this test needs (root and nftables, see scripts/install-deps.sh): {e}")
        });
        Self { table }
    }
}

impl Drop for Blackhole {
    fn drop(&mut self) {
        let _ = nft(&format!("delete table inet {}\n", self.table));
    }
}

fn nft(script: &str) -> Result<(), String> {
    use std::io::Write as _;
    let mut child = std::process::Command::new("nft")
        .args(["-f", "-"])
        .stdin(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| format!("nft: {e}"))?;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(script.as_bytes())
        .map_err(|e| e.to_string())?;
    let out = child.wait_with_output().map_err(|e| e.to_string())?;
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vanished_client_is_dropped_within_30_s_and_others_go_on() {
    let server = start(Options {
        max_clients: 2,
        ..Options::default()
    })
    .await;
    let mut gone = wrd_client::connect(client_config(server.addr, PASSWORD))
        .await
        .unwrap();
    let mut watcher = wrd_client::connect(client_config(server.addr, PASSWORD))
        .await
        .unwrap();
    wait_for_pattern(&mut gone).await;
    wait_for_pattern(&mut watcher).await;

    // Both slots are taken: a third client is refused.
    assert!(
        wrd_client::connect(client_config(server.addr, PASSWORD))
            .await
            .is_err()
    );

    let _blackhole = Blackhole::new(gone.local_addr(), server.addr);
    let vanished_at = std::time::Instant::now();
    // From now on the server hears nothing from that client and its packets go nowhere. The
    // watcher keeps getting a live picture, and the dead client's slot must come back within
    // 30 s (the server dropped it).
    let third = loop {
        let n = counter(&watcher).unwrap();
        wait_for_counter_above(&mut watcher, n, 3)
            .await
            .unwrap_or_else(|e| {
                panic!(
                    "the other client stalled {:?} after the vanish: {e}",
                    vanished_at.elapsed()
                )
            });
        if let Ok(session) = wrd_client::connect(client_config(server.addr, PASSWORD)).await {
            break session;
        }
        assert!(
            vanished_at.elapsed() < Duration::from_secs(30),
            "the vanished client still holds its slot after 30 s"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    let dropped_after = vanished_at.elapsed();
    eprintln!("vanished client dropped after {dropped_after:?}");
    let mut third = third;
    wait_for_pattern(&mut third).await;
    drop(gone);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_connection_is_dropped_after_the_handshake_timeout() {
    use tokio::io::AsyncReadExt as _;

    let server = start(Options {
        max_clients: 1,
        handshake_timeout: Duration::from_secs(2),
        ..Options::default()
    })
    .await;
    // A TCP connection that never says anything holds the only slot...
    let mut silent = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    let started = std::time::Instant::now();
    let mut buf = [0u8; 16];
    let read = tokio::time::timeout(Duration::from_secs(5), silent.read(&mut buf)).await;
    // ...until the server closes it, after the handshake timeout and not before.
    assert!(
        matches!(read, Ok(Ok(0) | Err(_))),
        "expected the server to close the connection, got {read:?}"
    );
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(1900) && waited < Duration::from_secs(4),
        "{waited:?}"
    );
    // The slot is free again.
    let mut session = connect_when_admitted(server.addr, 20)
        .await
        .expect("slot not freed");
    wait_for_pattern(&mut session).await;
    server.stop().await;
}

/// Peak signal-to-noise ratio over the R, G and B bytes of two BGRx pictures of one size.
fn psnr_bgrx(a: &[u8], b: &[u8]) -> f64 {
    assert_eq!(a.len(), b.len());
    let (mut sum, mut n) = (0f64, 0f64);
    for (pa, pb) in a.chunks_exact(4).zip(b.chunks_exact(4)) {
        for c in 0..3 {
            let d = f64::from(pa[c]) - f64::from(pb[c]);
            sum += d * d;
            n += 1.0;
        }
    }
    let mse = (sum / n).max(1e-9);
    10.0 * (255.0 * 255.0 / mse).log10()
}

/// RemoteFX is lossy, but a picture of flat colours and sharp edges must arrive close to the
/// original. ironrdp-graphics 0.9 floored its quantisation, so every small negative wavelet
/// coefficient came back as a full quantisation step: a one-pixel checkerboard along every
/// edge: this picture came through at 44.2 dB; rounding, as FreeRDP's encoder does
/// (vendor/ironrdp-graphics), brings it to 54.2 dB.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remotefx_picture_is_close_to_the_original() {
    let server = start(Options {
        fps: 0,
        ..Options::default()
    })
    .await;
    let mut session = wrd_client::connect(client_config(server.addr, PASSWORD))
        .await
        .unwrap();
    assert_eq!(wait_for_pattern(&mut session).await, 0);
    while session.next_event(soon(1)).await.is_ok() {}
    // The picture must have come as RemoteFX (codec id 3), not as lossless bitmaps.
    let codecs = session.stats().surface_codec_ids;
    assert!(codecs.contains(&3), "surface codecs seen: {codecs:?}");
    let decoded = session.framebuffer().to_bgrx();
    let original = wrd_test_pattern::expected_frame(WIDTH, HEIGHT, 0);
    let psnr = psnr_bgrx(&decoded, &original);
    eprintln!("RemoteFX test pattern PSNR: {psnr:.1} dB");
    assert!(psnr >= 50.0, "PSNR {psnr:.1} dB");
    server.stop().await;
}

/// PSNR of the client's picture against the pattern frame its counter shows.
fn pattern_psnr(session: &Session) -> Option<(u64, f64)> {
    let fb = session.framebuffer();
    let decoded = fb.to_bgrx();
    let counter = wrd_test_pattern::decode_counter(&decoded, usize::from(WIDTH) * 4, WIDTH, HEIGHT)?;
    let original = wrd_test_pattern::expected_frame(WIDTH, HEIGHT, counter);
    Some((counter, psnr_bgrx(&decoded, &original)))
}

/// The in-process client opens the graphics pipeline with H.264 (issue 8): the moving pattern
/// arrives as AVC420 frames, decoded with openh264, close to the original during motion.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn h264_client_decodes_the_moving_pattern() {
    let server = start(Options::default()).await;
    let mut session = wrd_client::connect(h264_config(server.addr)).await.unwrap();
    wait_for_pattern(&mut session).await;
    // The first pictures may come the classic way, until the pipeline is open.
    let deadline = soon(10);
    while session.stats().avc420_frames == 0 && Instant::now() < deadline {
        session.next_event(soon(2)).await.unwrap();
    }
    let mut samples = Vec::new();
    let deadline = soon(10);
    while samples.len() < 10 && Instant::now() < deadline {
        match session.next_event(soon(2)).await {
            Ok(wrd_client::SessionEvent::GraphicsUpdate { .. }) => {
                if let Some(sample) = pattern_psnr(&session) {
                    samples.push(sample);
                }
            }
            Ok(_) => {}
            Err(e) => panic!("{e}: {:?}", session.stats()),
        }
    }
    let stats = session.stats();
    assert!(stats.avc420_frames >= 10, "{stats:?}");
    assert!(samples.len() >= 10, "{samples:?}");
    let counters: std::collections::BTreeSet<u64> = samples.iter().map(|s| s.0).collect();
    assert!(counters.len() >= 5, "the pattern did not move: {samples:?}");
    let worst = samples.iter().map(|s| s.1).fold(f64::INFINITY, f64::min);
    eprintln!("H.264 moving pattern PSNR: worst {worst:.1} dB over {samples:?}");
    assert!(worst >= 35.0, "PSNR during motion {worst:.1} dB: {samples:?}");
    server.stop().await;
}

/// A client whose graphics pipeline offers no H.264 (an RDP 8.0 client) gets the picture
/// through the pipeline as planar tiles: lossless, so exactly the original; a still picture
/// then costs nothing, and a moving one keeps coming (every frame acknowledged).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pipeline_client_without_h264_gets_the_exact_picture_as_planar_tiles() {
    let config = planar_config;
    // A still pattern: the client's picture is the original, to the bit.
    let server = start(Options {
        fps: 0,
        ..Options::default()
    })
    .await;
    let mut session = wrd_client::connect(config(server.addr)).await.unwrap();
    assert_eq!(wait_for_pattern(&mut session).await, 0);
    let deadline = soon(10);
    while session.stats().planar_rects == 0 && Instant::now() < deadline {
        let _ = session.next_event(soon(1)).await;
    }
    // Then quiet: whatever came first (classic updates before the pipeline opened, the planar
    // repaint) has all arrived.
    while session.next_event(soon(1)).await.is_ok() {}
    let stats = session.stats();
    assert!(stats.planar_rects > 0, "no planar tile: {stats:?}");
    assert_eq!(stats.avc420_frames, 0, "{stats:?}");
    let decoded = session.framebuffer().to_bgrx();
    let original = wrd_test_pattern::expected_frame(WIDTH, HEIGHT, 0);
    let differing = decoded
        .chunks_exact(4)
        .zip(original.chunks_exact(4))
        .filter(|(a, b)| a[..3] != b[..3])
        .count();
    assert_eq!(differing, 0, "pixels that differ from the original: {stats:?}");
    // Nothing changes, nothing is sent.
    let before = session.stats().planar_rects;
    drain_until(&mut session, soon(2)).await;
    assert_eq!(session.stats().planar_rects, before, "tiles for a still picture");
    server.stop().await;

    // The moving pattern (30 fps): frames keep coming. (The pictures between a frame's tiles
    // are part old, part new, so exactness is checked on the still picture above.)
    let server = start(Options::default()).await;
    let mut session = wrd_client::connect(config(server.addr)).await.unwrap();
    wait_for_pattern(&mut session).await;
    let deadline = soon(10);
    while session.stats().planar_rects == 0 {
        assert!(Instant::now() < deadline, "no planar tile: {:?}", session.stats());
        let _ = session.next_event(soon(1)).await;
    }
    let shown = |session: &Session| {
        let (width, height) = session.desktop_size();
        let framebuffer = session.framebuffer();
        wrd_test_pattern::decode_counter(framebuffer.data(), framebuffer.stride(), width, height)
    };
    let mut counters = std::collections::BTreeSet::new();
    let deadline = soon(3);
    while Instant::now() < deadline {
        if let Ok(wrd_client::SessionEvent::GraphicsUpdate { .. }) = session.next_event(deadline).await
            && let Some(counter) = shown(&session)
        {
            counters.insert(counter);
        }
    }
    // Without acknowledgements the window would have stopped the stream after 2 frames.
    assert!(
        counters.len() >= 20,
        "{} frames shown in 3 s: {:?}",
        counters.len(),
        session.stats()
    );
    server.stop().await;
}

/// A client that does not decode (a benchmark's stand-in for a client on another machine)
/// still receives, counts and acknowledges every frame, so the server keeps sending at the
/// pattern's rate; nothing is painted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_does_not_decode_still_acknowledges_every_frame() {
    let server = start(Options::default()).await;
    let mut config = h264_config(server.addr);
    config.decode_pictures = false;
    let mut session = wrd_client::connect(config).await.unwrap();
    let deadline = soon(10);
    while session.stats().avc420_frames == 0 {
        assert!(Instant::now() < deadline, "no H.264 frame: {:?}", session.stats());
        let _ = session.next_event(soon(1)).await;
    }
    // What the picture shows (the classic pictures before the pipeline opened may have
    // painted the pattern; or nothing yet).
    let shown = |session: &Session| {
        let (width, height) = session.desktop_size();
        let framebuffer = session.framebuffer();
        wrd_test_pattern::decode_counter(framebuffer.data(), framebuffer.stride(), width, height)
    };
    let (before, shown_before) = (session.stats(), shown(&session));
    drain_until(&mut session, soon(3)).await;
    let after = session.stats();
    // The pattern runs at 30 fps; without acknowledgements the window would stop it at 2.
    let frames = after.avc420_frames - before.avc420_frames;
    assert!(frames >= 45, "{frames} H.264 frames in 3 s: {after:?}");
    assert!(after.graphics_updates > before.graphics_updates, "{after:?}");
    // Decoding, the picture would have moved on by some 90 frames.
    assert_eq!(shown(&session), shown_before, "something was painted");
    server.stop().await;
}

/// Once the picture stops changing, the server refines it (a high-quality IDR): text and edges
/// come back sharp.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn h264_picture_is_refined_after_motion_stops() {
    let server = start(Options {
        fps: 0,
        ..Options::default()
    })
    .await;
    let mut session = wrd_client::connect(h264_config(server.addr)).await.unwrap();
    assert_eq!(wait_for_pattern(&mut session).await, 0);
    // The refinement follows within 500 ms of the last change; then nothing more comes.
    while session.next_event(soon(1)).await.is_ok() {}
    assert!(session.stats().avc420_frames >= 2, "{:?}", session.stats());
    let (counter, psnr) = pattern_psnr(&session).unwrap();
    eprintln!("H.264 still pattern PSNR after refinement: {psnr:.1} dB");
    assert_eq!(counter, 0);
    assert!(psnr >= 45.0, "PSNR after refinement {psnr:.1} dB");
    server.stop().await;
}

/// The server's H.264 settings reach each client's encoder: with periodic IDRs every second
/// the moving pattern brings a new IDR each second, without them none after the first, side
/// by side.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_servers_h264_settings_reach_the_encoder() {
    let with_idr_interval = |idr_interval| Options {
        h264: wrd_h264::EncoderSettings {
            idr_interval,
            ..wrd_h264::EncoderSettings::default()
        },
        ..Options::default()
    };
    let every_second = start(with_idr_interval(Some(Duration::from_secs(1)))).await;
    let never = start(with_idr_interval(None)).await;
    let mut idrs = Vec::new();
    for server in [&every_second, &never] {
        let mut session = wrd_client::connect(h264_config(server.addr)).await.unwrap();
        wait_for_pattern(&mut session).await;
        // The stream's first IDR (the first picture may still have come as RemoteFX).
        let deadline = soon(10);
        while session.stats().avc420_idr_frames == 0 {
            assert!(Instant::now() < deadline, "no H.264 IDR: {:?}", session.stats());
            let _ = session.next_event(soon(1)).await;
        }
        let before = session.stats();
        drain_until(&mut session, soon(3)).await;
        let after = session.stats();
        assert!(
            after.avc420_frames - before.avc420_frames >= 30,
            "too few H.264 frames in 3 s: {after:?}"
        );
        idrs.push(after.avc420_idr_frames - before.avc420_idr_frames);
    }
    eprintln!(
        "IDRs in 3 s of motion: every second {}, never {}",
        idrs[0], idrs[1]
    );
    assert!(
        (2..=4).contains(&idrs[0]),
        "IDRs in 3 s with one every second: {}",
        idrs[0]
    );
    assert_eq!(idrs[1], 0, "IDRs in 3 s without periodic ones");
    every_second.stop().await;
    never.stop().await;
}

/// A client that stops acknowledging H.264 frames gets no more than the frames in flight the
/// server allows, while another client of the same server goes on at the full rate.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_never_acknowledges_stalls_alone() {
    let server = start(Options::default()).await;
    let mut stalled_config = h264_config(server.addr);
    stalled_config.acknowledge_frames = false;
    let stalled = wrd_client::connect(stalled_config).await.unwrap();
    let mut healthy = wrd_client::connect(h264_config(server.addr)).await.unwrap();
    wait_for_pattern(&mut healthy).await;
    // Both are served from one task each here; run them side by side for 4 s.
    let run = |mut session: Session| async move {
        let end = Instant::now() + Duration::from_secs(4);
        while Instant::now() < end {
            match session.next_event(end).await {
                Ok(_) => {}
                Err(e) if e.is_timeout() => break,
                Err(e) => panic!("{e}"),
            }
        }
        session
    };
    let (stalled, healthy) = tokio::join!(tokio::spawn(run(stalled)), tokio::spawn(run(healthy)));
    let (stalled, healthy) = (stalled.unwrap(), healthy.unwrap());
    let (s, h) = (stalled.stats(), healthy.stats());
    eprintln!(
        "H.264 frames in 4 s: healthy {}, never acknowledging {}",
        h.avc420_frames, s.avc420_frames
    );
    // The pattern runs at 30 fps: the healthy client gets most of its 120 frames.
    assert!(h.avc420_frames >= 60, "healthy client: {h:?}");
    // The stalled one: the frames in flight and nothing more (the window: with no round trip
    // measured, 2; the classic pictures before the pipeline opened do not count).
    assert!(
        (1..=3).contains(&s.avc420_frames),
        "the client that never acknowledges got {} H.264 frames: {s:?}",
        s.avc420_frames
    );
    assert!(stalled.is_active() && healthy.is_active());
    server.stop().await;
}

/// Reads events until `window` has passed without any; returns the graphics updates seen.
async fn drain_updates(session: &mut Session, window: Duration) -> u64 {
    let mut updates = 0;
    loop {
        match session.next_event(Instant::now() + window).await {
            Ok(wrd_client::SessionEvent::GraphicsUpdate { .. }) => updates += 1,
            Ok(_) => {}
            Err(e) if e.is_timeout() => return updates,
            Err(e) => panic!("{e}"),
        }
    }
}

/// Reads events for `span` and counts the graphics updates.
async fn updates_during(session: &mut Session, span: Duration) -> u64 {
    let end = Instant::now() + span;
    let mut updates = 0;
    while Instant::now() < end {
        match session.next_event(end).await {
            Ok(wrd_client::SessionEvent::GraphicsUpdate { .. }) => updates += 1,
            Ok(_) => {}
            Err(e) if e.is_timeout() => break,
            Err(e) => panic!("{e}"),
        }
    }
    updates
}

/// A minimized client (Suppress Output without a rectangle) gets no frames while the desktop
/// keeps moving, and the live picture again as soon as it is restored; for the classic path,
/// H.264 and planar.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_minimized_client_gets_no_frames_until_restored() {
    let server = start(Options::default()).await;
    for config in [
        client_config(server.addr, PASSWORD),
        h264_config(server.addr),
        planar_config(server.addr),
    ] {
        let codec = config.codec;
        let mut session = wrd_client::connect(config).await.unwrap();
        let first = wait_for_pattern(&mut session).await;
        session.send_suppress_output(false).await.unwrap();
        // What was already on its way arrives; then nothing, while the pattern runs at 30 fps.
        drain_updates(&mut session, Duration::from_millis(300)).await;
        let before = session.stats().bytes_received;
        let minimized = updates_during(&mut session, Duration::from_secs(2)).await;
        let quiet_bytes = session.stats().bytes_received - before;
        assert_eq!(minimized, 0, "{codec:?}: updates while minimized");
        assert!(
            quiet_bytes < 1024,
            "{codec:?}: {quiet_bytes} bytes while minimized"
        );
        session.send_suppress_output(true).await.unwrap();
        // The pattern moved on by about 70 frames meanwhile; 40 beyond the first picture can
        // only come after the restore (the client was minimized right after it).
        wait_for_counter_above(&mut session, first + 40, 3)
            .await
            .unwrap_or_else(|e| panic!("{codec:?}: no live picture after the restore: {e}"));
        session.disconnect().await.unwrap();
    }
    server.stop().await;
}

/// On a still desktop, a restored client and a client asking for a refresh (Refresh
/// Rectangle) get their whole picture again, though nothing changed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restored_or_refreshing_client_gets_its_picture_again() {
    let server = start(Options {
        fps: 0,
        ..Options::default()
    })
    .await;
    for config in [
        client_config(server.addr, PASSWORD),
        h264_config(server.addr),
        planar_config(server.addr),
    ] {
        let codec = config.codec;
        let mut session = wrd_client::connect(config).await.unwrap();
        assert_eq!(wait_for_pattern(&mut session).await, 0);
        drain_updates(&mut session, Duration::from_secs(1)).await;
        for request in ["restore", "refresh"] {
            let pixels = session.stats().pixels_updated;
            let h264_frames = session.stats().avc420_frames;
            let planar_rects = session.stats().planar_rects;
            if request == "restore" {
                session.send_suppress_output(false).await.unwrap();
                assert_eq!(updates_during(&mut session, Duration::from_millis(500)).await, 0);
                session.send_suppress_output(true).await.unwrap();
            } else {
                session.send_refresh_rectangle().await.unwrap();
            }
            drain_updates(&mut session, Duration::from_millis(700)).await;
            let repainted = session.stats().pixels_updated - pixels;
            assert!(
                repainted >= u64::from(WIDTH) * u64::from(HEIGHT),
                "{codec:?} {request}: {repainted} pixels repainted"
            );
            if codec == wrd_client::Codec::H264 {
                assert!(
                    session.stats().avc420_frames > h264_frames,
                    "{request}: no H.264 frame"
                );
            }
            if codec == wrd_client::Codec::GraphicsWithoutH264 {
                assert!(
                    session.stats().planar_rects > planar_rects,
                    "{request}: no planar tile"
                );
            }
            assert_eq!(counter(&session), Some(0));
        }
        session.disconnect().await.unwrap();
    }
    server.stop().await;
}

/// A client that gets stuck (stops acknowledging) gets its window of frames and then nothing,
/// while the server's memory stays put; once it acknowledges again, the frames encoded while it
/// was stuck are dropped and it goes on from an IDR of the current picture.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stuck_client_recovers_with_an_idr_when_it_acknowledges_again() {
    let server = start(Options::default()).await;
    let mut session = wrd_client::connect(h264_config(server.addr)).await.unwrap();
    wait_for_pattern(&mut session).await;
    // Some acknowledged frames: the server measures the round trip.
    drain_until(&mut session, soon(1)).await;
    assert!(session.stats().avc420_frames >= 10, "{:?}", session.stats());

    session.set_acknowledging(false).await.unwrap();
    let at_pause = session.stats().avc420_frames;
    // The window fills within a second; after that nothing more comes.
    drain_until(&mut session, soon(1)).await;
    let window_full = session.stats().avc420_frames;
    let (rss_before, bytes_before) = (resident_bytes(), session.stats().bytes_received);
    drain_until(&mut session, soon(4)).await;
    let stats = session.stats();
    let rss_growth = resident_bytes().saturating_sub(rss_before);
    eprintln!(
        "stuck client: {} frames after the pause, {} in the 4 s after that, {} bytes, resident \
         memory {rss_growth:+} bytes",
        window_full - at_pause,
        stats.avc420_frames - window_full,
        stats.bytes_received - bytes_before
    );
    assert!(
        window_full - at_pause <= 10,
        "{} frames in flight",
        window_full - at_pause
    );
    assert_eq!(
        stats.avc420_frames, window_full,
        "frames reached a client that acknowledged none"
    );
    // A queue of the pattern's frames (640x480 BGRx at 30 fps) would grow 147 MB in 4 s.
    assert!(
        rss_growth < 32 << 20,
        "resident memory grew by {rss_growth} bytes while stuck"
    );

    session.set_acknowledging(true).await.unwrap();
    let (frames, idrs) = (stats.avc420_frames, stats.avc420_idr_frames);
    let deadline = soon(5);
    while session.stats().avc420_frames == frames {
        assert!(
            Instant::now() < deadline,
            "no frame after the acknowledgements resumed"
        );
        match session.next_event(deadline).await {
            Ok(_) => {}
            Err(e) if e.is_timeout() => {}
            Err(e) => panic!("{e}"),
        }
    }
    let after = session.stats();
    assert_eq!(after.avc420_frames, frames + 1, "{after:?}");
    assert_eq!(
        after.avc420_idr_frames,
        idrs + 1,
        "the first frame after the stall is no IDR: {after:?}"
    );
    // And the picture is the moving pattern again, close to the original.
    wait_for_pattern(&mut session).await;
    let mut worst = f64::INFINITY;
    for _ in 0..5 {
        session.next_event(soon(2)).await.unwrap();
        let (_, psnr) = pattern_psnr(&session).unwrap();
        worst = worst.min(psnr);
    }
    eprintln!("after the recovery: PSNR worst {worst:.1} dB");
    assert!(worst >= 35.0, "PSNR after the recovery {worst:.1} dB");
    assert!(session.is_active());
    server.stop().await;
}

/// Publishes the test pattern at the size `size` holds, a new frame every 40 ms, whole-frame
/// damage, until the receiver of `size` is gone.
async fn publish_sized_pattern(
    mut publisher: wrd_frame::FramePublisher,
    size: tokio::sync::watch::Receiver<(u16, u16)>,
) {
    for n in 0u64.. {
        if size.has_changed().is_err() {
            return;
        }
        let (width, height) = *size.borrow();
        let data = wrd_test_pattern::expected_frame(width, height, n);
        publisher
            .publish(wrd_frame::NewFrame {
                width,
                height,
                stride: usize::from(width) * 4,
                format: wrd_frame::PixelFormat::Bgrx,
                data: data.into(),
                damage: vec![wrd_frame::Rect::new(0, 0, width, height)],
                captured_at: std::time::Instant::now(),
            })
            .unwrap();
        tokio::time::sleep(Duration::from_millis(40)).await;
    }
}

/// Resizes the desktop through `sizes` under a client on the graphics pipeline (`config` for
/// the server's address): at each size
/// the client must get the new size and, from frames of the pipeline (`pipeline_frames` counts
/// them), the pattern again (PSNR at least 35 dB), without a deactivation-reactivation.
/// `at_each_size` checks the stats from before and after each resize.
async fn follows_resizes_through_reset_graphics(
    config: fn(std::net::SocketAddr) -> wrd_client::ClientConfig,
    sizes: &[(u16, u16)],
    pipeline_frames: fn(&wrd_client::Stats) -> u64,
    at_each_size: impl Fn(&wrd_client::Stats, &wrd_client::Stats),
) {
    let shutdown = CancellationToken::new();
    let (publisher, bus) = FrameBus::new();
    let (size_tx, size_rx) = tokio::sync::watch::channel((WIDTH, HEIGHT));
    tokio::spawn(publish_sized_pattern(publisher, size_rx));
    let server = start_on(bus, Options::default(), shutdown).await;
    let config = config(server.addr);
    let codec = config.codec;
    let mut session = wrd_client::connect(config).await.unwrap();
    let deadline = soon(10);
    while pipeline_frames(&session.stats()) == 0 {
        assert!(
            Instant::now() < deadline,
            "{codec:?}: no frame: {:?}",
            session.stats()
        );
        let _ = session.next_event(soon(1)).await;
    }
    for &(width, height) in sizes {
        size_tx.send((width, height)).unwrap();
        let before = session.stats();
        let deadline = soon(10);
        // The new size, then frames at it until the picture is the pattern again. The picture
        // is compared at most every 100 ms: a planar frame comes as hundreds of tiles, and a
        // comparison after each would leave this (debug-built) client far behind the server.
        let mut psnr = None;
        let mut compared_at: Option<Instant> = None;
        while session.desktop_size() != (width, height) || psnr.is_none_or(|p: f64| p < 35.0) {
            assert!(
                Instant::now() < deadline,
                "{codec:?}: resize to {width}x{height}: the client has {:?}, PSNR {psnr:?}, {:?}",
                session.desktop_size(),
                session.stats()
            );
            match session.next_event(soon(1)).await {
                Ok(_) => {}
                Err(e) if e.is_timeout() => {}
                Err(e) => panic!("{codec:?}: resize to {width}x{height}: {e}"),
            }
            if session.desktop_size() == (width, height)
                && pipeline_frames(&session.stats()) > pipeline_frames(&before)
                && compared_at.is_none_or(|at| at.elapsed() >= Duration::from_millis(100))
            {
                compared_at = Some(Instant::now());
                let decoded = session.framebuffer().to_bgrx();
                psnr = wrd_test_pattern::decode_counter(&decoded, usize::from(width) * 4, width, height)
                    .map(|n| psnr_bgrx(&decoded, &wrd_test_pattern::expected_frame(width, height, n)));
            }
        }
        let after = session.stats();
        eprintln!("{codec:?}: resized to {width}x{height}: PSNR {psnr:?}");
        assert_eq!(
            after.reactivations, 0,
            "{codec:?}: the client was reactivated: {after:?}"
        );
        at_each_size(&before, &after);
    }
    assert!(session.is_active());
    drop(size_tx);
    server.stop().await;
}

/// A client on the graphics pipeline follows desktop resizes through ResetGraphics and a new
/// surface, without a deactivation-reactivation, and sees the right picture at each size.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_h264_client_is_resized_with_reset_graphics_not_reactivation() {
    let sizes = [(800, 600), (1024, 768), (640, 480), (1280, 720), (656, 488)];
    let idr_at_each_size = |before: &wrd_client::Stats, after: &wrd_client::Stats| {
        assert!(
            after.avc420_idr_frames > before.avc420_idr_frames,
            "no IDR at the new size: {after:?}"
        );
    };
    follows_resizes_through_reset_graphics(h264_config, &sizes, |s| s.avc420_frames, idr_at_each_size).await;
}

/// A pipeline client without H.264 follows resizes the same way, and gets the whole picture
/// as planar tiles at each new size.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_planar_client_is_resized_with_reset_graphics_not_reactivation() {
    let sizes = [(800, 600), (1024, 768), (656, 488)];
    let no_h264 = |_: &wrd_client::Stats, after: &wrd_client::Stats| {
        assert_eq!(after.avc420_frames, 0, "{after:?}");
    };
    follows_resizes_through_reset_graphics(planar_config, &sizes, |s| s.planar_rects, no_h264).await;
}

/// A desktop that can take clients' sizes (a headless session) but does not take this one in
/// time. The client keeps the size it asked for after the capability exchange; before, the
/// session went on at the desktop's size without telling it, and a client whose window was
/// smaller (xfreerdp, seen in CI) dropped the connection on the first picture that did not
/// fit. Now its first frame resizes the client to the desktop's size (a reactivation).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_whose_size_the_desktop_did_not_take_is_resized_to_the_desktops() {
    let shutdown = CancellationToken::new();
    let (publisher, bus) = FrameBus::new();
    let pattern = wrd_test_pattern::TestPattern::new(WIDTH, HEIGHT).unwrap();
    tokio::spawn(wrd_test_pattern::run(
        pattern,
        30,
        None,
        publisher,
        shutdown.clone(),
    ));
    // Requests arrive and nobody acts on them: the desktop stays 640x480.
    let (resize_tx, mut resize_rx) = tokio::sync::mpsc::unbounded_channel();
    let desktop = wrd_rdp::OwnedDesktop {
        connected: tokio::sync::watch::channel(0).0,
        resize: Some(resize_tx),
    };
    let server = start_owned(bus, Options::default(), shutdown, desktop).await;
    let mut config = client_config(server.addr, PASSWORD);
    // Wider and lower than the desktop: the desktop's pictures would not fit.
    (config.desktop_width, config.desktop_height) = (800, 400);
    let mut session = wrd_client::connect(config).await.unwrap();
    let asked = tokio::time::timeout(Duration::from_secs(5), resize_rx.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!((asked.width, asked.height), (800, 400));

    let deadline = soon(15);
    while session.desktop_size() != (WIDTH, HEIGHT) || session.stats().reactivations == 0 {
        assert!(
            Instant::now() < deadline,
            "the client was not resized to the desktop: {:?}, {:?}",
            session.desktop_size(),
            session.stats()
        );
        match session.next_event(soon(1)).await {
            Ok(_) => {}
            Err(e) if e.is_timeout() => {}
            Err(e) => panic!("{e}: {:?}", session.stats()),
        }
    }
    wait_for_pattern(&mut session).await;
    session.disconnect().await.unwrap();
    server.stop().await;
}
