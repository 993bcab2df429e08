//! H.264 of a real desktop: `wrd-server serve --source portal` on the headless sway stack
//! (wrd-testkit's `SwayStack`, as an unprivileged user) with the real FreeRDP client asking for
//! the graphics pipeline with AVC420 (`xfreerdp /gfx:avc420`, FFmpeg decoding): once the
//! picture settles (the refinement IDR after motion stops), the client shows what the
//! compositor shows (`grim`).

// Test code: a failed step is the test failing, so unwrap/panic are the right tools here.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use wrd_testkit::{
    ChildGuard, Image, Security, StackOptions, SwayStack, TestDir, XFreeRdp, XFreeRdpOptions, Xvfb,
    free_port, wait_for_port,
};

const USER: &str = "rdpuser";
const PASSWORD: &str = "h264-pw";
const WIDTH: u16 = 1280;
const HEIGHT: u16 = 720;

/// The wallpaper: a test-pattern picture (solid colour regions and digits): sharp edges for
/// H.264 to keep sharp.
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

fn client(xvfb: &Xvfb, port: u16, dir: &TestDir) -> XFreeRdp {
    let options = XFreeRdpOptions::new(port)
        .credentials(USER, PASSWORD)
        .security(Security::Nla)
        .size(u32::from(WIDTH), u32::from(HEIGHT))
        .arg("/gfx:avc420");
    XFreeRdp::spawn(xvfb, &options, dir.path()).unwrap()
}

#[test]
fn an_avc420_client_sees_the_compositor_picture() {
    let dir = TestDir::new("h264-desktop").unwrap();
    let wall = dir.join("wallpaper.png");
    wallpaper().save_png(&wall).unwrap();
    let stack = SwayStack::start(
        dir.path(),
        &StackOptions {
            size: Some((u32::from(WIDTH), u32::from(HEIGHT))),
            wallpaper: Some(wall),
            animate: false,
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

    let compositor = Image::decode_png(&stack.grim_png().unwrap()).unwrap();
    assert_eq!(compositor.size(), (u32::from(WIDTH), u32::from(HEIGHT)));
    let xvfb = Xvfb::start(dir.path()).unwrap();
    let mut rdp = client(&xvfb, port, &dir);
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
