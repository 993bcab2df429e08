//! `wrd-server serve --source portal` on the real headless stack (sway + PipeWire +
//! xdg-desktop-portal-wlr, run by wrd-testkit's `SwayStack` as an unprivileged user) with the
//! real FreeRDP client: the client shows what the compositor shows (`grim`), the grant is
//! remembered with a restore token, and closing the capture ends the sessions cleanly. With
//! `/gfx:avc420` (H.264 over the graphics pipeline, FFmpeg decoding), once the picture settles
//! (the refinement IDR after motion stops) the client shows what the compositor shows too.

// Test code: a failed step is the test failing, so unwrap/panic are the right tools here.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use wrd_testkit::{
    ChildGuard, Image, Security, StackOptions, SwayStack, TestDir, XFreeRdp, XFreeRdpOptions, Xvfb,
    free_port, wait_for_port,
};

const USER: &str = "rdpuser";
const PASSWORD: &str = "portal-pw";
const WIDTH: u16 = 1280;
const HEIGHT: u16 = 720;

/// The wallpaper: a test-pattern picture (solid colour regions and digits), which survives
/// RemoteFX's lossy coding well enough for a tight pixel comparison.
fn wallpaper() -> Image {
    let bgrx = wrd_test_pattern::expected_frame(WIDTH, HEIGHT, 4242);
    Image::from_bgrx(u32::from(WIDTH), u32::from(HEIGHT), usize::from(WIDTH) * 4, &bgrx).unwrap()
}

fn start_server(stack: &SwayStack, binary: &Path, port: u16, dir: &TestDir) -> ChildGuard {
    let listen = format!("127.0.0.1:{port}");
    let mut cmd = stack.command(binary);
    cmd.args([
        "serve",
        "--source",
        "portal",
        "--listen",
        &listen,
        "--username",
        USER,
    ])
    .env("WRD_PASSWORD", PASSWORD)
    .env("RUST_LOG", "info");
    let guard = ChildGuard::spawn(&mut cmd, "wrd-server", dir.path()).unwrap();
    let addr: SocketAddr = listen.parse().unwrap();
    wait_for_port(addr, Duration::from_secs(30)).unwrap();
    guard
}

/// What the desktop shows.
enum Content {
    /// A still picture (the test pattern's frame 4242), which the client's can be compared with.
    Wallpaper,
    /// `wrd-scene animate`, a picture that changes every frame.
    Animation,
}

/// A headless sway desktop with `wrd-server serve --source portal` on it, its screen cast
/// started. Bind every field (`_name` for unused ones: `_` would drop it at once); they drop
/// in reverse order: the server, then the desktop, then its directory.
struct PortalDesktop {
    dir: TestDir,
    stack: SwayStack,
    binary: PathBuf,
    port: u16,
    server: ChildGuard,
}

fn portal_desktop(name: &str, content: Content) -> PortalDesktop {
    let dir = TestDir::new(name).unwrap();
    let wallpaper = match content {
        Content::Wallpaper => {
            let wall = dir.join("wallpaper.png");
            wallpaper().save_png(&wall).unwrap();
            Some(wall)
        }
        Content::Animation => None,
    };
    let stack = SwayStack::start(
        dir.path(),
        &StackOptions {
            size: Some((u32::from(WIDTH), u32::from(HEIGHT))),
            animate: wallpaper.is_none(),
            wallpaper,
        },
    )
    .unwrap();
    let binary = stack
        .install(Path::new(env!("CARGO_BIN_EXE_wrd-server")))
        .unwrap();
    let port = free_port();
    let mut server = start_server(&stack, &binary, port, &dir);
    server
        .wait_for_log("portal screen cast started", Duration::from_secs(20))
        .unwrap();
    PortalDesktop {
        dir,
        stack,
        binary,
        port,
        server,
    }
}

fn client(xvfb: &Xvfb, port: u16, dir: &TestDir) -> XFreeRdp {
    client_with(xvfb, port, dir, &[])
}

/// xfreerdp with more arguments (`/gfx:avc420`, ...).
fn client_with(xvfb: &Xvfb, port: u16, dir: &TestDir, args: &[&str]) -> XFreeRdp {
    let mut options = XFreeRdpOptions::new(port)
        .credentials(USER, PASSWORD)
        .security(Security::Nla)
        .size(u32::from(WIDTH), u32::from(HEIGHT));
    for arg in args {
        options = options.arg(*arg);
    }
    XFreeRdp::spawn(xvfb, &options, dir.path()).unwrap()
}

#[test]
fn the_client_sees_the_compositor_and_the_grant_is_remembered() {
    let PortalDesktop {
        dir,
        stack,
        binary,
        port,
        mut server,
    } = portal_desktop("portal-xfreerdp", Content::Wallpaper);

    let compositor = Image::decode_png(&stack.grim_png().unwrap()).unwrap();
    assert_eq!(compositor.size(), (u32::from(WIDTH), u32::from(HEIGHT)));
    let xvfb = Xvfb::start(dir.path()).unwrap();
    let mut rdp = client(&xvfb, port, &dir);
    let shown = rdp
        .wait_for_client_area(Duration::from_secs(30), "the compositor's picture", |img| {
            img.size() == compositor.size() && img.fraction_different(&compositor, 48).unwrap() < 0.01
        })
        .unwrap();
    shown.save_png(dir.join("client.png")).unwrap();
    compositor.save_png(dir.join("grim.png")).unwrap();

    // A second start reuses the stored grant: the restore token file exists (0600) and the
    // portal is offered it.
    rdp.stop().unwrap();
    server.signal(libc::SIGTERM).unwrap();
    let status = server
        .wait_timeout(Duration::from_secs(5))
        .unwrap()
        .expect("server did not stop");
    assert_eq!(status.code(), Some(0), "{}", server.log_tail(20));
    let token = stack.dir().join("state/wrd-server/portal-restore-token");
    let meta =
        std::fs::metadata(&token).unwrap_or_else(|e| panic!("no restore token at {}: {e}", token.display()));
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&meta.permissions()) & 0o777,
        0o600
    );
    let mut again = start_server(&stack, &binary, port, &dir);
    again
        .wait_for_log("restored=true", Duration::from_secs(20))
        .unwrap();
    let mut rdp = client(&xvfb, port, &dir);
    rdp.wait_for_window(Duration::from_secs(30)).unwrap();

    // Killing the portal backend mid-session ends the capture: the server says why, tells the
    // client, and exits 1 without hanging.
    let killed = stack.signal_programs("xdg-desktop-portal-wlr", libc::SIGTERM);
    assert!(killed > 0, "found no portal backend of this stack to stop");
    let status = again.wait_timeout(Duration::from_secs(10)).unwrap();
    let log = again.log();
    match status {
        Some(status) => {
            assert_eq!(status.code(), Some(1), "{log}");
            assert!(log.contains("clients were disconnected"), "{log}");
        }
        None => panic!("the server kept running after its capture ended:\n{log}"),
    }
    let code = rdp.wait_exit(Duration::from_secs(10)).unwrap();
    assert!(!matches!(code, wrd_testkit::XfExitCode::Signal(_)), "{code}");
}

#[test]
fn an_avc420_client_sees_the_compositor_picture() {
    let PortalDesktop {
        dir,
        stack,
        binary: _binary,
        port,
        mut server,
    } = portal_desktop("h264-desktop", Content::Wallpaper);

    let compositor = Image::decode_png(&stack.grim_png().unwrap()).unwrap();
    assert_eq!(compositor.size(), (u32::from(WIDTH), u32::from(HEIGHT)));
    let xvfb = Xvfb::start(dir.path()).unwrap();
    let mut rdp = client_with(&xvfb, port, &dir, &["/gfx:avc420"]);
    server
        .wait_for_log("graphics pipeline: H.264 (AVC420)", Duration::from_secs(30))
        .unwrap();
    let shown = rdp
        .wait_for_client_area(Duration::from_secs(30), "the compositor's picture", |img| {
            img.size() == compositor.size() && img.fraction_different(&compositor, 48).unwrap() < 0.01
        })
        .unwrap();
    shown.save_png(dir.join("client.png")).unwrap();
    compositor.save_png(dir.join("grim.png")).unwrap();
    assert!(rdp.is_running(), "{}", rdp.log_tail(20));
}

/// The real FreeRDP client on the graphics pipeline follows desktop resizes sent as
/// ResetGraphics and a new surface (its window takes each new size) without a
/// deactivation-reactivation: the server starts the H.264 stream once, for the whole session.
#[test]
fn xfreerdp_follows_resizes_through_reset_graphics() {
    let PortalDesktop {
        dir,
        stack,
        binary: _binary,
        port,
        mut server,
    } = portal_desktop("h264-reset-graphics", Content::Animation);
    let xvfb = Xvfb::start(dir.path()).unwrap();
    let mut rdp = client_with(&xvfb, port, &dir, &["/gfx:avc420"]);
    server
        .wait_for_log("graphics pipeline: H.264 (AVC420)", Duration::from_secs(30))
        .unwrap();
    rdp.wait_for_content(Duration::from_secs(30)).unwrap();
    for (w, h) in [(1024u32, 768u32), (800, 600), (1280, 720)] {
        stack
            .swaymsg(&["output", "HEADLESS-1", "resolution", &format!("{w}x{h}")])
            .unwrap();
        let started = std::time::Instant::now();
        loop {
            let window = rdp.wait_for_window(Duration::from_secs(5)).unwrap();
            if (window.width, window.height) == (w, h) {
                break;
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "the xfreerdp window stays {}x{} after the desktop became {w}x{h}\n{}\n{}",
                window.width,
                window.height,
                rdp.log_tail(20),
                server.log_tail(20)
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        rdp.wait_for_content(Duration::from_secs(30)).unwrap();
    }
    assert!(rdp.is_running(), "{}", rdp.log_tail(20));
    server.ensure_running().unwrap();
    let log = server.log_tail(100_000);
    let starts = log.matches("graphics pipeline: H.264 (AVC420)").count();
    assert_eq!(
        starts,
        1,
        "the H.264 stream was restarted (a reactivation?):\n{}",
        server.log_tail(40)
    );
}

/// H.264 through ten desktop resizes in a row (sway's output resized under the screen cast,
/// on a desktop whose content keeps changing): the session lives on, each new size reaches the
/// client, and H.264 frames follow each one.
#[test]
fn an_h264_session_survives_ten_resizes() {
    ten_resizes("h264-resizes", Content::Animation);
}

/// The same on a still desktop: xdg-desktop-portal-wlr 0.7 sends a frame only for damage, and
/// the repaints of a resize come while it re-negotiates; without the server's pointer nudge
/// (`wrd-server`'s `repaint`), 1 or 2 of these 10 sizes never reached the client.
#[test]
fn a_still_desktop_shows_each_of_ten_sizes() {
    ten_resizes("still-resizes", Content::Wallpaper);
}

/// Resizes sway's output ten times under an H.264 client; each size must reach it with a
/// new H.264 frame within 10 s.
fn ten_resizes(name: &str, content: Content) {
    let PortalDesktop {
        dir: _dir,
        stack,
        binary: _binary,
        port,
        mut server,
    } = portal_desktop(name, content);

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let mut config = wrd_client::ClientConfig::new(addr, USER, PASSWORD);
        config.desktop_width = WIDTH;
        config.desktop_height = HEIGHT;
        config.codec = wrd_client::Codec::H264;
        let mut session = wrd_client::connect(config).await.unwrap();
        let soon = |s| wrd_client::Instant::now() + Duration::from_secs(s);
        let deadline = soon(20);
        while session.stats().avc420_frames == 0 {
            assert!(
                wrd_client::Instant::now() < deadline,
                "no H.264 frame: {:?}",
                session.stats()
            );
            let _ = session.next_event(soon(1)).await;
        }
        let sizes = [(1024, 768), (1280, 720), (800, 600), (1600, 900), (1280, 720)];
        for i in 0..10 {
            let (w, h) = sizes[i % sizes.len()];
            stack
                .swaymsg(&["output", "HEADLESS-1", "resolution", &format!("{w}x{h}")])
                .unwrap();
            let frames_before = session.stats().avc420_frames;
            let deadline = soon(10);
            while session.desktop_size() != (w, h) || session.stats().avc420_frames == frames_before {
                assert!(
                    wrd_client::Instant::now() < deadline,
                    "resize {} to {w}x{h}: the client has {:?}, {:?}\n{}",
                    i + 1,
                    session.desktop_size(),
                    session.stats(),
                    server.log_tail(20)
                );
                match session.next_event(soon(1)).await {
                    Ok(_) => {}
                    Err(e) if e.is_timeout() => {}
                    Err(e) => panic!("resize {} to {w}x{h}: {e}\n{}", i + 1, server.log_tail(20)),
                }
            }
        }
        assert!(session.is_active());
        session.disconnect().await.unwrap();
    });
    server.ensure_running().unwrap();
}
