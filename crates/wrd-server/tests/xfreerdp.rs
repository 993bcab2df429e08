//! The real FreeRDP client (`xfreerdp` under a private Xvfb) against the real `wrd-server`
//! binary serving the test pattern. Screenshots are compared with the pattern itself. With
//! `/gfx:avc420` the client gets H.264 over the graphics pipeline (decoded through FFmpeg).

// Test code: a failed step is the test failing, so unwrap/panic are the right tools here.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::SocketAddr;
use std::process::Command;
use std::time::{Duration, Instant};

use wrd_testkit::{
    ChildGuard, Image, Security, TestDir, XFreeRdp, XFreeRdpOptions, Xvfb, free_port, wait_for_port,
};

const USER: &str = "rdpuser";
const PASSWORD: &str = "pattern-pw";
const WIDTH: u16 = 1024;
const HEIGHT: u16 = 768;

struct Server {
    guard: ChildGuard,
    port: u16,
}

fn start_server(dir: &TestDir, extra: &[&str]) -> Server {
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let size = format!("{WIDTH}x{HEIGHT}");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_wrd-server"));
    cmd.args([
        "serve",
        "--listen",
        &listen,
        "--source",
        "test-pattern",
        "--username",
        USER,
        "--size",
        &size,
    ])
    .args(extra)
    .env("WRD_PASSWORD", PASSWORD)
    .env("XDG_STATE_HOME", dir.join("state"))
    .env("XDG_CONFIG_HOME", dir.join("config"))
    .env("RUST_LOG", "info");
    let guard = ChildGuard::spawn(&mut cmd, "wrd-server", dir.path()).unwrap();
    let addr: SocketAddr = listen.parse().unwrap();
    wait_for_port(addr, Duration::from_secs(20)).unwrap();
    Server { guard, port }
}

fn client(xvfb: &Xvfb, port: u16, password: &str, dir: &TestDir) -> XFreeRdp {
    client_with(xvfb, port, password, dir, &[])
}

/// xfreerdp with more arguments (`/gfx:avc420`, ...).
fn client_with(xvfb: &Xvfb, port: u16, password: &str, dir: &TestDir, args: &[&str]) -> XFreeRdp {
    let mut options = XFreeRdpOptions::new(port)
        .credentials(USER, password)
        .security(Security::Nla)
        .size(u32::from(WIDTH), u32::from(HEIGHT));
    for arg in args {
        options = options.arg(*arg);
    }
    XFreeRdp::spawn(xvfb, &options, dir.path()).unwrap()
}

fn to_bgrx(image: &Image) -> Vec<u8> {
    image
        .as_rgb()
        .chunks_exact(3)
        .flat_map(|p| [p[2], p[1], p[0], 0xFF])
        .collect()
}

fn shows_pattern(image: &Image) -> bool {
    if image.size() != (u32::from(WIDTH), u32::from(HEIGHT)) {
        return false;
    }
    let cmp = wrd_test_pattern::compare(&to_bgrx(image), usize::from(WIDTH) * 4, WIDTH, HEIGHT, 48);
    cmp.frame_index.is_some() && cmp.mismatched_fraction < 0.02
}

fn shown_counter(image: &Image) -> Option<u64> {
    wrd_test_pattern::decode_counter(&to_bgrx(image), usize::from(WIDTH) * 4, WIDTH, HEIGHT)
}

/// Waits until the client shows the pattern, then until its counter has moved on: a live,
/// correct picture rather than one lucky frame.
fn assert_live_pattern(client: &mut XFreeRdp, dir: &TestDir, name: &str) {
    let first = client
        .wait_for_client_area(Duration::from_secs(30), "the test pattern", shows_pattern)
        .unwrap();
    first.save_png(dir.join(format!("{name}.png"))).unwrap();
    let n = shown_counter(&first).unwrap();
    client
        .wait_for_client_area(Duration::from_secs(10), "the pattern moving on", |img| {
            shows_pattern(img) && shown_counter(img).is_some_and(|m| m > n)
        })
        .unwrap();
}

#[test]
fn nla_client_sees_the_test_pattern() {
    let dir = TestDir::new("xfreerdp-nla").unwrap();
    let server = start_server(&dir, &[]);
    let xvfb = Xvfb::start(dir.path()).unwrap();
    let mut client = client(&xvfb, server.port, PASSWORD, &dir);
    assert_live_pattern(&mut client, &dir, "nla");
    drop(server);
}

#[test]
fn wrong_password_fails_and_the_next_client_is_served() {
    let dir = TestDir::new("xfreerdp-wrong-password").unwrap();
    let mut server = start_server(&dir, &[]);
    let xvfb = Xvfb::start(dir.path()).unwrap();

    let mut wrong = client(&xvfb, server.port, "not-the-password", &dir);
    let code = wrong.wait_exit(Duration::from_secs(20)).unwrap();
    assert!(
        code.is_auth_rejection(),
        "xfreerdp should report an authentication failure, got {code}"
    );
    server
        .guard
        .wait_for_log("authentication failed", Duration::from_secs(5))
        .unwrap();
    assert!(
        server.guard.log().contains("peer=127.0.0.1:"),
        "the failure is logged with the peer address"
    );

    let mut right = client(&xvfb, server.port, PASSWORD, &dir);
    assert_live_pattern(&mut right, &dir, "after-wrong-password");
}

#[test]
fn two_clients_at_once_both_see_the_pattern() {
    let dir = TestDir::new("xfreerdp-two-clients").unwrap();
    let server = start_server(&dir, &[]);
    let xvfb_a = Xvfb::start(dir.path()).unwrap();
    let xvfb_b = Xvfb::start(dir.path()).unwrap();
    let mut a = client(&xvfb_a, server.port, PASSWORD, &dir);
    let mut b = client(&xvfb_b, server.port, PASSWORD, &dir);
    assert_live_pattern(&mut a, &dir, "client-a");
    assert_live_pattern(&mut b, &dir, "client-b");
    // Both still connected and live after each other's checks.
    assert_live_pattern(&mut a, &dir, "client-a-again");
}

#[test]
fn max_clients_one_refuses_the_second_at_once() {
    let dir = TestDir::new("xfreerdp-max-clients").unwrap();
    let mut server = start_server(&dir, &["--max-clients", "1"]);
    let xvfb_a = Xvfb::start(dir.path()).unwrap();
    let xvfb_b = Xvfb::start(dir.path()).unwrap();
    let mut first = client(&xvfb_a, server.port, PASSWORD, &dir);
    assert_live_pattern(&mut first, &dir, "first");

    let started = Instant::now();
    let mut second = client(&xvfb_b, server.port, PASSWORD, &dir);
    let code = second.wait_exit(Duration::from_secs(10)).unwrap();
    assert!(
        !code.is_clean_end(),
        "the second client must be refused, got {code}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "refused at once, not after {:?}",
        started.elapsed()
    );
    server
        .guard
        .wait_for_log("client limit", Duration::from_secs(5))
        .unwrap();
    assert_live_pattern(&mut first, &dir, "first-still-live");
}

#[test]
fn sigterm_exits_0_within_2_s_with_a_client_connected() {
    let dir = TestDir::new("xfreerdp-sigterm").unwrap();
    let mut server = start_server(&dir, &[]);
    let xvfb = Xvfb::start(dir.path()).unwrap();
    let mut client = client(&xvfb, server.port, PASSWORD, &dir);
    assert_live_pattern(&mut client, &dir, "before-sigterm");

    let started = Instant::now();
    server.guard.signal(libc::SIGTERM).unwrap();
    let status = server.guard.wait_timeout(Duration::from_secs(2)).unwrap();
    let elapsed = started.elapsed();
    let status =
        status.unwrap_or_else(|| panic!("still running 2 s after SIGTERM:\n{}", server.guard.log_tail(20)));
    assert_eq!(status.code(), Some(0), "{}", server.guard.log_tail(20));
    assert!(elapsed < Duration::from_secs(2), "{elapsed:?}");
    // The client notices the end of the session.
    let code = client.wait_exit(Duration::from_secs(10)).unwrap();
    assert!(!matches!(code, wrd_testkit::XfExitCode::Signal(_)), "{code}");
}

#[test]
fn an_avc420_client_gets_h264_and_sees_the_live_pattern() {
    let dir = TestDir::new("xfreerdp-avc420").unwrap();
    let mut server = start_server(&dir, &[]);
    let xvfb = Xvfb::start(dir.path()).unwrap();
    let mut client = client_with(&xvfb, server.port, PASSWORD, &dir, &["/gfx:avc420"]);
    server
        .guard
        .wait_for_log("graphics pipeline: H.264 (AVC420)", Duration::from_secs(30))
        .unwrap();
    assert_live_pattern(&mut client, &dir, "avc420");
    assert!(client.is_running(), "{}", client.log_tail(20));
}

#[test]
fn a_pipeline_client_without_h264_gets_planar_and_sees_the_live_pattern() {
    // `mask:` filters FreeRDP's graphics pipeline capability versions: 2046 leaves only
    // RDP 8.0's, which has no H.264 (an older client, or one with H.264 turned off).
    let dir = TestDir::new("xfreerdp-gfx-planar").unwrap();
    let mut server = start_server(&dir, &[]);
    let xvfb = Xvfb::start(dir.path()).unwrap();
    let mut client = client_with(&xvfb, server.port, PASSWORD, &dir, &["/gfx:mask:2046"]);
    server
        .guard
        .wait_for_log("graphics pipeline: planar", Duration::from_secs(30))
        .unwrap();
    assert_live_pattern(&mut client, &dir, "planar");
    assert!(client.is_running(), "{}", client.log_tail(20));
}

#[test]
fn codec_remotefx_keeps_an_avc420_client_on_the_classic_path() {
    let dir = TestDir::new("xfreerdp-codec-remotefx").unwrap();
    let server = start_server(&dir, &["--codec", "remotefx"]);
    let xvfb = Xvfb::start(dir.path()).unwrap();
    let mut client = client_with(&xvfb, server.port, PASSWORD, &dir, &["/gfx:avc420"]);
    assert_live_pattern(&mut client, &dir, "remotefx");
    let log = server.guard.log();
    assert!(
        !log.contains("graphics pipeline"),
        "no graphics pipeline with --codec remotefx:\n{log}"
    );
}
