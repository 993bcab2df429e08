//! The live desktop's traffic, on the real headless stack (sway + PipeWire +
//! xdg-desktop-portal-wlr as an unprivileged user) with `wrd-server serve --source portal`:
//! - a still desktop costs nothing once the picture settled, and a terminal being typed into
//!   sends only small rectangles (the in-process IronRDP client, which sees every update);
//! - a line printed in a terminal is in the client's picture within 200 ms;
//! - the compositor or the portal service dying mid-session ends the sessions with a clear log
//!   line, exit 1, no hang (the portal's backend stopping: `portal.rs`).

// Test code: a failed step is the test failing, so unwrap/panic are the right tools here.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use wrd_client::{ClientConfig, SessionEvent};
use wrd_testkit::{
    ChildGuard, Image, Security, StackOptions, SwayStack, TestDir, XFreeRdp, XFreeRdpOptions, Xvfb,
    free_port, wait_for_port,
};

const USER: &str = "rdpuser";
const PASSWORD: &str = "desktop-pw";
const WIDTH: u16 = 1280;
const HEIGHT: u16 = 720;

fn wallpaper(dir: &TestDir) -> PathBuf {
    let bgrx = wrd_test_pattern::expected_frame(WIDTH, HEIGHT, 777);
    let image = Image::from_bgrx(u32::from(WIDTH), u32::from(HEIGHT), usize::from(WIDTH) * 4, &bgrx).unwrap();
    let path = dir.join("wallpaper.png");
    image.save_png(&path).unwrap();
    path
}

fn stack(dir: &TestDir) -> SwayStack {
    SwayStack::start(
        dir.path(),
        &StackOptions {
            size: Some((u32::from(WIDTH), u32::from(HEIGHT))),
            wallpaper: Some(wallpaper(dir)),
            animate: false,
        },
    )
    .unwrap()
}

fn start_server(stack: &SwayStack, port: u16, dir: &TestDir) -> ChildGuard {
    let binary = stack
        .install(Path::new(env!("CARGO_BIN_EXE_wrd-server")))
        .unwrap();
    let listen = format!("127.0.0.1:{port}");
    let mut cmd = stack.command(&binary);
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
    .env(
        "RUST_LOG",
        std::env::var("WRD_TEST_SERVER_LOG").unwrap_or_else(|_| "info".into()),
    );
    let guard = ChildGuard::spawn(&mut cmd, "wrd-server", dir.path()).unwrap();
    wait_for_port(listen.parse().unwrap(), Duration::from_secs(30)).unwrap();
    guard
}

/// A terminal (foot, full screen under sway's tiling) that shows whatever is written to a FIFO
/// the moment it is written. Returns the FIFO's path.
fn terminal_fed_by_fifo(stack: &mut SwayStack, name: &str) -> PathBuf {
    let fifo = stack.dir().join(format!("{name}.fifo"));
    let out = stack.output(stack.command("mkfifo").arg(&fifo)).unwrap();
    assert!(
        out.status.success(),
        "mkfifo: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Opened read-write so that the terminal's reader never sees an end of file between
    // the test's writes.
    let script = format!("clear; printf 'ready\\n'; exec cat 0<>{}", fifo.display());
    let mut cmd = stack.command("foot");
    cmd.args(["--title", name, "sh", "-c", &script]);
    stack.spawn_client(cmd, name).unwrap();
    fifo
}

fn feed(fifo: &Path, text: &str) -> Instant {
    let mut f = std::fs::OpenOptions::new().write(true).open(fifo).unwrap();
    let at = Instant::now();
    f.write_all(text.as_bytes()).unwrap();
    at
}

/// Reads the client's events until `quiet` passes without a graphics update (bounded).
async fn settle(session: &mut wrd_client::Session, quiet: Duration, limit: Duration) {
    let give_up = tokio::time::Instant::now() + limit;
    loop {
        let deadline = (tokio::time::Instant::now() + quiet).min(give_up);
        match session.next_event(deadline).await {
            Ok(SessionEvent::GraphicsUpdate { .. }) => {
                assert!(tokio::time::Instant::now() < give_up, "the picture never settled");
            }
            Ok(SessionEvent::Terminated(reason)) => panic!("session ended: {reason}"),
            Ok(_) => {}
            Err(wrd_client::ClientError::Timeout(_)) => return,
            Err(e) => panic!("{e}"),
        }
    }
}

/// Graphics updates received within `window`.
async fn collect_updates(session: &mut wrd_client::Session, window: Duration) -> Vec<wrd_client::Rect> {
    let until = tokio::time::Instant::now() + window;
    let mut regions = Vec::new();
    loop {
        match session.next_event(until).await {
            Ok(SessionEvent::GraphicsUpdate { region }) => regions.push(region),
            Ok(SessionEvent::Terminated(reason)) => panic!("session ended: {reason}"),
            Ok(_) => {}
            Err(wrd_client::ClientError::Timeout(_)) => return regions,
            Err(e) => panic!("{e}"),
        }
    }
}

#[test]
fn a_still_desktop_is_silent_typing_is_small_and_a_printed_line_arrives_within_200_ms() {
    let dir = TestDir::new("desktop-updates").unwrap();
    let mut stack = stack(&dir);
    let fifo = terminal_fed_by_fifo(&mut stack, "typing");
    let port = free_port();
    let mut server = start_server(&stack, port, &dir);
    server
        .wait_for_log("portal screen cast started", Duration::from_secs(20))
        .unwrap();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let mut config = ClientConfig::new(addr, USER, PASSWORD);
        config.desktop_width = WIDTH;
        config.desktop_height = HEIGHT;
        let mut session = wrd_client::connect(config).await.unwrap();
        assert_eq!(session.desktop_size(), (WIDTH, HEIGHT));
        settle(&mut session, Duration::from_secs(1), Duration::from_secs(20)).await;

        // Still: nothing at all for two seconds.
        let before = session.stats();
        let updates = collect_updates(&mut session, Duration::from_secs(2)).await;
        let after = session.stats();
        assert!(updates.is_empty(), "a still desktop sent {updates:?}");
        let bytes = after.bytes_received - before.bytes_received;
        assert!(bytes < 1024, "a still desktop cost {bytes} bytes in 2 s");

        // Typing: a character every 100 ms. Only small rectangles, around the text.
        let typing = std::thread::spawn({
            let fifo = fifo.clone();
            move || {
                for _ in 0..20 {
                    feed(&fifo, "x");
                    std::thread::sleep(Duration::from_millis(100));
                }
            }
        });
        let updates = collect_updates(&mut session, Duration::from_secs(3)).await;
        typing.join().unwrap();
        assert!(updates.len() >= 5, "typing 20 characters gave only {updates:?}");
        let screen = u64::from(WIDTH) * u64::from(HEIGHT);
        for region in &updates {
            let area = u64::from(region.width) * u64::from(region.height);
            assert!(
                area * 50 <= screen,
                "a typed character sent a large update: {region:?} ({area} of {screen} pixels)"
            );
        }
        // A printed line: the first update arrives within 200 ms of the write.
        settle(&mut session, Duration::from_millis(500), Duration::from_secs(10)).await;
        for attempt in 0..3 {
            let before = session.framebuffer().data().to_vec();
            let written = feed(&fifo, &format!("\nline {attempt}: the quick brown fox\n"));
            let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
            loop {
                match session.next_event(deadline).await.unwrap() {
                    SessionEvent::GraphicsUpdate { .. } => break,
                    SessionEvent::Terminated(reason) => panic!("session ended: {reason}"),
                    _ => {}
                }
            }
            let took = written.elapsed();
            assert_ne!(
                session.framebuffer().data(),
                &before[..],
                "the update changed nothing"
            );
            eprintln!("line {attempt}: first update in the in-process client after {took:?}");
            assert!(
                took <= Duration::from_millis(200),
                "a printed line took {took:?} to arrive"
            );
            settle(&mut session, Duration::from_millis(500), Duration::from_secs(10)).await;
        }
        session.disconnect().await.unwrap();
    });

    server.signal(libc::SIGTERM).unwrap();
    let status = server
        .wait_timeout(Duration::from_secs(5))
        .unwrap()
        .expect("server did not stop");
    assert_eq!(status.code(), Some(0), "{}", server.log_tail(20));
    assert!(
        server.log().contains("display statistics"),
        "each session reports its statistics: {}",
        server.log_tail(20)
    );
}

/// Kills `program` of the stack in the middle of an xfreerdp session: the server must end the
/// session with a clear line naming why (`expected`), exit 1 without hanging or panicking, and
/// the client must be disconnected (not killed).
fn dying_part_of_the_desktop_ends_the_sessions_cleanly(program: &str, expected: &str) {
    let dir = TestDir::new(&format!("desktop-{program}-dies")).unwrap();
    let stack = stack(&dir);
    let port = free_port();
    let mut server = start_server(&stack, port, &dir);
    server
        .wait_for_log("portal screen cast started", Duration::from_secs(20))
        .unwrap();
    let xvfb = Xvfb::start(dir.path()).unwrap();
    let options = XFreeRdpOptions::new(port)
        .credentials(USER, PASSWORD)
        .security(Security::Nla)
        .size(u32::from(WIDTH), u32::from(HEIGHT));
    let mut rdp = XFreeRdp::spawn(&xvfb, &options, dir.path()).unwrap();
    rdp.wait_for_content(Duration::from_secs(30)).unwrap();

    let killed = stack.signal_programs(program, libc::SIGKILL);
    assert!(killed > 0, "found no {program} of this stack to kill");
    let status = server.wait_timeout(Duration::from_secs(15)).unwrap();
    let log = server.log();
    let Some(status) = status else {
        panic!("the server kept running after {program} died:\n{log}")
    };
    assert_eq!(status.code(), Some(1), "{log}");
    assert!(log.contains("clients were disconnected"), "{log}");
    assert!(log.contains(expected), "no line says {expected:?}:\n{log}");
    assert!(!log.contains("panicked"), "{log}");
    let code = rdp.wait_exit(Duration::from_secs(10)).unwrap();
    assert!(!matches!(code, wrd_testkit::XfExitCode::Signal(_)), "{code}");
}

#[test]
fn the_compositor_dying_ends_the_sessions_cleanly() {
    dying_part_of_the_desktop_ends_the_sessions_cleanly("sway", "clients were disconnected");
}

/// The portal service going away closes its screen-cast sessions: ours ends with a clear line.
#[test]
fn the_portal_dying_ends_the_sessions_cleanly() {
    dying_part_of_the_desktop_ends_the_sessions_cleanly(
        "xdg-desktop-portal",
        "xdg-desktop-portal left the session bus",
    );
}
