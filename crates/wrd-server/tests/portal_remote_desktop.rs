//! `wrd-server serve --source portal` on GNOME: headless Mutter with xdg-desktop-portal and
//! xdg-desktop-portal-gnome, whose RemoteDesktop (v1) asks for consent on every start. The
//! dialog is accepted by clicking it through a Mutter session of the test's own
//! (`wrd-mutter-probe click`); then the server's one RemoteDesktop session carries both the
//! screen and the input: the in-process client clicks a terminal to focus it and types a
//! command (scancodes and a Unicode key event) whose output file is read back exactly, and the
//! wheel scrolls the terminal back and forth (seen in the client's picture). Then
//! the portal's backend is stopped: the server ends with a clear line and exit 1.
//!
//! `wrd-mutter-probe` is another package's binary: `cargo test --workspace` builds it, a run
//! of this test alone needs `cargo build -p wrd-mutter` first.

// Test code: a failed step is the test failing, so unwrap/panic are the right tools here.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{settle, shared_dir, type_text, wait_for_file};

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use wrd_client::{ClientConfig, MouseButton, Session, SessionEvent};
use wrd_testkit::{ChildGuard, MutterStack, MutterStackOptions, TestDir, free_port, wait_for_port};

const USER: &str = "rdpuser";
const PASSWORD: &str = "portal-rd-pw";
/// The monitor the dialog's click positions were measured on.
const WIDTH: u16 = 1280;
const HEIGHT: u16 = 720;

/// Reads the client's updates until its picture satisfies `wanted` (at most 10 s).
async fn wait_for_picture(session: &mut Session, what: &str, wanted: impl Fn(&[u8]) -> bool) {
    let give_up = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        if wanted(&session.framebuffer().to_bgrx()) {
            return;
        }
        let deadline = (tokio::time::Instant::now() + Duration::from_millis(200)).min(give_up);
        match session.next_event(deadline).await {
            Ok(SessionEvent::Terminated(reason)) => panic!("session ended: {reason}"),
            Ok(_) => {}
            Err(wrd_client::ClientError::Timeout(_)) => {}
            Err(e) => panic!("{e}"),
        }
        assert!(
            tokio::time::Instant::now() < give_up,
            "{what}: not in the client's picture within 10 s"
        );
    }
}

/// `wrd-mutter-probe`, built beside the server by `cargo test --workspace`.
fn mutter_probe() -> PathBuf {
    let probe = Path::new(env!("CARGO_BIN_EXE_wrd-server")).with_file_name("wrd-mutter-probe");
    assert!(
        probe.exists(),
        "{} is missing: run `cargo build -p wrd-mutter` (or the whole workspace's tests) first",
        probe.display()
    );
    probe
}

#[test]
fn portal_remote_desktop_on_gnome_types_into_a_terminal() {
    let dir = TestDir::new("portal-remote-desktop").unwrap();
    let mut stack = MutterStack::start(
        dir.path(),
        &MutterStackOptions {
            monitors: vec![(u32::from(WIDTH), u32::from(HEIGHT))],
        },
    )
    .unwrap();
    stack.start_portal().unwrap();
    let shared = shared_dir(&dir);
    let binary = stack
        .install(Path::new(env!("CARGO_BIN_EXE_wrd-server")))
        .unwrap();
    let probe = stack.install(&mutter_probe()).unwrap();

    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let mut server_cmd: Command = stack.command(&binary);
    server_cmd
        .args([
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
    let mut server = ChildGuard::spawn(&mut server_cmd, "wrd-server", dir.path()).unwrap();
    // The server listens only once the portal session runs, after the dialog.
    stack.accept_remote_desktop_dialog(&probe).unwrap();
    wait_for_port(listen.parse().unwrap(), Duration::from_secs(30)).unwrap();
    // The input backend is chosen before the server listens.
    let log = server.log();
    assert!(
        log.contains(r#"backend="the portal's RemoteDesktop""#),
        "the server's input backend is not the portal's RemoteDesktop (a missed click on the \
         dialog's \"Allow remote interaction\" grants no keyboard or pointer):\n{log}"
    );

    let script = format!("cd {} && touch ready && PS1='$ ' exec sh -i", shared.display());
    let mut foot = stack.command("foot");
    foot.args(["--title", "portal-input", "sh", "-c", &script]);
    stack.spawn_client(foot, "input-terminal").unwrap();

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let mut config = ClientConfig::new(listen.parse().unwrap(), USER, PASSWORD);
        config.desktop_width = WIDTH;
        config.desktop_height = HEIGHT;
        let mut session = wrd_client::connect(config).await.unwrap();
        session
            .wait_for_frame(tokio::time::Instant::now() + Duration::from_secs(20))
            .await
            .unwrap();
        wait_for_file(&shared.join("ready"), "", Duration::from_secs(20));
        settle(&mut session, Duration::from_millis(1000), Duration::from_secs(20)).await;
        // Mutter maps a new window without focusing it on a desktop nobody used yet: a click
        // in the middle of the screen (the terminal is the only window) gives it the focus.
        session.send_mouse_move(WIDTH / 2, HEIGHT / 2).await.unwrap();
        session.send_mouse_button(MouseButton::Left, true).await.unwrap();
        session.send_mouse_button(MouseButton::Left, false).await.unwrap();
        settle(&mut session, Duration::from_millis(800), Duration::from_secs(5)).await;
        // Scancodes become evdev keycodes (NotifyKeyboardKeycode), the Unicode `@` a keysym
        // (NotifyKeyboardKeysym; Mutter types keysyms of its own keymap only).
        type_text(&mut session, "echo Portal ").await;
        session.send_unicode('@').await.unwrap();
        type_text(&mut session, " input >portal.txt\n").await;
        wait_for_file(
            &shared.join("portal.txt"),
            "Portal @ input\n",
            Duration::from_secs(10),
        );

        // The wheel (whole notches: NotifyPointerAxisDiscrete) scrolls the terminal, under the
        // pointer, back through its scrollback and forth to exactly where it was.
        type_text(&mut session, "seq 300\n").await;
        settle(&mut session, Duration::from_millis(1000), Duration::from_secs(10)).await;
        let at_end = session.framebuffer().to_bgrx();
        for _ in 0..5 {
            session.send_wheel(120).await.unwrap();
        }
        wait_for_picture(&mut session, "the terminal scrolled back", |p| {
            p != at_end.as_slice()
        })
        .await;
        for _ in 0..5 {
            session.send_wheel(-120).await.unwrap();
        }
        wait_for_picture(&mut session, "the terminal back at its end", |p| {
            p == at_end.as_slice()
        })
        .await;
        session.disconnect().await.unwrap();
    });

    // The desktop side going away (the portal's GNOME backend stopped) ends the capture: the
    // server says why and exits 1 without hanging.
    stack.stop_portal_backend().unwrap();
    let status = server.wait_timeout(Duration::from_secs(10)).unwrap();
    let log = server.log();
    match status {
        Some(status) => {
            assert_eq!(status.code(), Some(1), "{log}");
            assert!(log.contains("clients were disconnected"), "{log}");
        }
        None => panic!("the server kept running after the portal's backend stopped:\n{log}"),
    }
    assert!(
        log.contains("portal remote desktop started"),
        "the server did not start a RemoteDesktop session:\n{log}"
    );
}
