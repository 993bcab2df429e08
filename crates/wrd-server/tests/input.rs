//! Client input reaching a real desktop through `wrd-server serve`, driven by the in-process
//! IronRDP client (which sends exactly the events a test names):
//! - headless sway (`--source portal`, input through our wlroots virtual keyboard): scancodes,
//!   Unicode key events (`äöü ß €`), lock-key synchronisation, and a client that disconnects
//!   with Shift held leaves no key pressed;
//! - headless mutter (`--source mutter`, input through Mutter's RemoteDesktop): a click
//!   focuses the terminal, scancodes and Unicode key events type into it, Caps Lock follows
//!   the client's lock sync, also when it was left on by an earlier server's session (the
//!   seat's state is read from Mutter).
//!
//! - `--view-only`: the same typing changes nothing, and the server says so once.
//!
//! Each check ends in a file the shell in the remote terminal writes, read back exactly.

// Test code: a failed step is the test failing, so unwrap/panic are the right tools here.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{LEFT_SHIFT, settle, shared_dir, type_text, wait_for_file};

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use wrd_client::{ClientConfig, Session};
use wrd_testkit::{
    ChildGuard, Image, MutterStack, MutterStackOptions, StackOptions, SwayStack, TestDir, free_port,
    wait_for_port,
};

const USER: &str = "rdpuser";
const PASSWORD: &str = "input-pw";
const WIDTH: u16 = 1024;
const HEIGHT: u16 = 768;

fn start_server(mut cmd: Command, source: &str, port: u16, dir: &TestDir, extra: &[&str]) -> ChildGuard {
    let listen = format!("127.0.0.1:{port}");
    cmd.args([
        "serve",
        "--source",
        source,
        "--listen",
        &listen,
        "--username",
        USER,
    ])
    .args(extra)
    .env("WRD_PASSWORD", PASSWORD)
    .env(
        "RUST_LOG",
        std::env::var("WRD_TEST_SERVER_LOG").unwrap_or_else(|_| "info".into()),
    );
    let guard = ChildGuard::spawn(&mut cmd, "wrd-server", dir.path()).unwrap();
    wait_for_port(listen.parse().unwrap(), Duration::from_secs(30)).unwrap();
    guard
}

fn sway(dir: &TestDir) -> SwayStack {
    SwayStack::start(
        dir.path(),
        &StackOptions {
            size: Some((u32::from(WIDTH), u32::from(HEIGHT))),
            wallpaper: None,
            animate: false,
        },
    )
    .unwrap()
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// Saves the client's picture in the test directory (kept when the test fails).
fn snapshot(session: &Session, dir: &TestDir, name: &str) {
    let fb = session.framebuffer();
    let image = Image::from_bgrx(
        u32::from(fb.width()),
        u32::from(fb.height()),
        usize::from(fb.width()) * 4,
        &fb.to_bgrx(),
    )
    .unwrap();
    image.save_png(dir.join(format!("{name}.png"))).unwrap();
}

async fn connect(port: u16) -> Session {
    let mut config = ClientConfig::new(format!("127.0.0.1:{port}").parse().unwrap(), USER, PASSWORD);
    config.desktop_width = WIDTH;
    config.desktop_height = HEIGHT;
    let mut session = wrd_client::connect(config).await.unwrap();
    session
        .wait_for_frame(tokio::time::Instant::now() + Duration::from_secs(20))
        .await
        .unwrap();
    session
}

/// A shell in a terminal, its working directory `cwd`. Returns the command to spawn.
fn terminal(mut foot: Command, cwd: &Path) -> Command {
    // `ready` tells the test the shell runs (the window is mapped by then or very soon).
    let script = format!("cd {} && touch ready && PS1='$ ' exec sh -i", cwd.display());
    foot.args(["--title", "input", "sh", "-c", &script]);
    foot
}

#[test]
fn sway_keys_unicode_lock_sync_and_release_on_disconnect() {
    let dir = TestDir::new("input-sway").unwrap();
    let mut stack = sway(&dir);
    let shared = shared_dir(&dir);
    let port = free_port();
    let binary = stack
        .install(Path::new(env!("CARGO_BIN_EXE_wrd-server")))
        .unwrap();
    // The server first: its virtual keyboard must exist before the terminal asks for one.
    let server = start_server(stack.command(&binary), "portal", port, &dir, &[]);
    let foot = terminal(stack.command("foot"), &shared);
    stack.spawn_client(foot, "input-terminal").unwrap();

    runtime().block_on(async {
        let mut session = connect(port).await;
        // The terminal maps and draws its prompt.
        wait_for_file(&shared.join("ready"), "", Duration::from_secs(20));
        settle(&mut session, Duration::from_millis(1000), Duration::from_secs(20)).await;

        // Scancodes and Unicode key events.
        type_text(&mut session, "echo 'äöü ß €' >unicode.txt\n").await;
        wait_for_file(&shared.join("unicode.txt"), "äöü ß €\n", Duration::from_secs(10));

        // Caps Lock as the client says: typed letters come out capitalised, then not.
        type_text(&mut session, "echo ").await;
        session.send_sync_locks(true, false, false).await.unwrap();
        type_text(&mut session, "ab").await;
        session.send_sync_locks(false, false, false).await.unwrap();
        type_text(&mut session, "c >locks.txt\n").await;
        wait_for_file(&shared.join("locks.txt"), "ABc\n", Duration::from_secs(10));

        // A client that leaves with Shift held: the server releases it.
        session.send_key(LEFT_SHIFT, false, true).await.unwrap();
        session.disconnect().await.unwrap();
        let mut session = connect(port).await;
        type_text(&mut session, "echo q >released.txt\n").await;
        wait_for_file(&shared.join("released.txt"), "q\n", Duration::from_secs(10));
        session.disconnect().await.unwrap();
    });
    drop(server);
}

#[test]
fn view_only_ignores_input_and_says_so_once() {
    let dir = TestDir::new("input-view-only").unwrap();
    let mut stack = sway(&dir);
    let shared = shared_dir(&dir);
    let port = free_port();
    let binary = stack
        .install(Path::new(env!("CARGO_BIN_EXE_wrd-server")))
        .unwrap();
    let server = start_server(stack.command(&binary), "portal", port, &dir, &["--view-only"]);
    let foot = terminal(stack.command("foot"), &shared);
    stack.spawn_client(foot, "input-terminal").unwrap();

    runtime().block_on(async {
        let mut session = connect(port).await;
        wait_for_file(&shared.join("ready"), "", Duration::from_secs(20));
        settle(&mut session, Duration::from_millis(1000), Duration::from_secs(20)).await;
        type_text(&mut session, "echo typed >view-only.txt\n").await;
        session.send_mouse_move(10, 10).await.unwrap();
        // Whatever would have been typed would be there well within this.
        settle(&mut session, Duration::from_millis(1500), Duration::from_secs(10)).await;
        session.disconnect().await.unwrap();
    });
    assert!(
        !shared.join("view-only.txt").exists(),
        "a view-only session typed into the desktop"
    );
    drop(server);
    let log = std::fs::read_to_string(dir.join("wrd-server.log")).unwrap();
    let said = log
        .matches("input from this client is ignored: the server runs with --view-only")
        .count();
    assert_eq!(said, 1, "expected one log line about ignored input:\n{log}");
}

#[test]
fn mutter_keys_unicode_and_lock_sync_from_the_seats_state() {
    let dir = TestDir::new("input-mutter").unwrap();
    let mut stack = MutterStack::start(
        dir.path(),
        &MutterStackOptions {
            monitors: vec![(u32::from(WIDTH), u32::from(HEIGHT))],
        },
    )
    .unwrap();
    let shared = shared_dir(&dir);
    let port = free_port();
    let binary = stack
        .install(Path::new(env!("CARGO_BIN_EXE_wrd-server")))
        .unwrap();
    let server = start_server(stack.command(&binary), "mutter", port, &dir, &[]);
    let foot = terminal(stack.command("foot"), &shared);
    stack.spawn_client(foot, "input-terminal").unwrap();

    runtime().block_on(async {
        let mut session = connect(port).await;
        wait_for_file(&shared.join("ready"), "", Duration::from_secs(20));
        settle(&mut session, Duration::from_millis(1000), Duration::from_secs(20)).await;
        // Mutter maps a new window without focusing it on a desktop nobody used yet: a click
        // in the middle of the screen (the terminal is the only window) gives it the focus.
        session.send_mouse_move(WIDTH / 2, HEIGHT / 2).await.unwrap();
        session
            .send_mouse_button(wrd_client::MouseButton::Left, true)
            .await
            .unwrap();
        session
            .send_mouse_button(wrd_client::MouseButton::Left, false)
            .await
            .unwrap();
        // Focus follows asynchronously; the terminal repaints its cursor once it has it.
        settle(&mut session, Duration::from_millis(800), Duration::from_secs(5)).await;
        // Unicode key events become keysyms that Mutter types through the desktop's own
        // keymap (Mutter 43 cannot type a keysym its keymap lacks): `~` and `@` are in `us`.
        type_text(&mut session, "echo Typed ").await;
        session.send_unicode('~').await.unwrap();
        session.send_unicode('@').await.unwrap();
        type_text(&mut session, " >mutter.txt\n").await;
        settle(&mut session, Duration::from_millis(500), Duration::from_secs(5)).await;
        snapshot(&session, &dir, "mutter-after-typing");
        wait_for_file(&shared.join("mutter.txt"), "Typed ~@\n", Duration::from_secs(10));

        // Caps Lock as the client says, through Mutter's virtual keyboard.
        type_text(&mut session, "echo ").await;
        session.send_sync_locks(true, false, false).await.unwrap();
        type_text(&mut session, "ab").await;
        session.send_sync_locks(false, false, false).await.unwrap();
        type_text(&mut session, "c >locks.txt\n").await;
        wait_for_file(&shared.join("locks.txt"), "ABc\n", Duration::from_secs(10));
        // Caps Lock left on: the seat keeps it after this server is gone.
        session.send_sync_locks(true, false, false).await.unwrap();
        settle(&mut session, Duration::from_millis(300), Duration::from_secs(5)).await;
        session.disconnect().await.unwrap();
    });
    drop(server);

    // A new server on the same desktop, where Caps Lock is on from a session it never saw.
    // The client's Synchronize says off: the server must read the seat's state from Mutter
    // and turn it off. Going by its own taps it would believe it off already, and the command
    // would be typed in capitals (and fail).
    let port = free_port();
    let server = start_server(stack.command(&binary), "mutter", port, &dir, &[]);
    runtime().block_on(async {
        let mut session = connect(port).await;
        settle(&mut session, Duration::from_millis(1000), Duration::from_secs(20)).await;
        session.send_sync_locks(false, false, false).await.unwrap();
        type_text(&mut session, "echo restarted >restart.txt\n").await;
        wait_for_file(
            &shared.join("restart.txt"),
            "restarted\n",
            Duration::from_secs(10),
        );
        session.disconnect().await.unwrap();
    });
    drop(server);
}

fn wait_for_focus(stack: &SwayStack, app_id: &str) {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while stack.focused_app().unwrap().as_deref() != Some(app_id) {
        assert!(
            std::time::Instant::now() < deadline,
            "{app_id} never got the focus (focused: {:?})",
            stack.focused_app().unwrap()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A desktop with two outputs of which the screen cast shows one (xdg-desktop-portal-wlr casts
/// a single output): a client's click lands on the output it sees, not on the place of the
/// same fraction of both outputs together.
#[test]
fn sway_clicks_land_on_the_captured_output_of_two() {
    let dir = TestDir::new("input-sway-two-outputs").unwrap();
    let mut stack = sway(&dir);
    let port = free_port();
    let binary = stack
        .install(Path::new(env!("CARGO_BIN_EXE_wrd-server")))
        .unwrap();
    // The cast is of the only output there is at the start, HEADLESS-1 at (0, 0).
    let server = start_server(stack.command(&binary), "portal", port, &dir, &[]);
    let mut left = stack.command("foot");
    left.args(["--app-id=left", "sh"]);
    stack.spawn_client(left, "left-terminal").unwrap();
    wait_for_focus(&stack, "left");
    // A second output to its right, with a window of its own that takes the focus.
    let position = WIDTH.to_string();
    for args in [
        &["create_output"][..],
        &["output", "HEADLESS-2", "position", &position, "0"],
        &["focus", "output", "HEADLESS-2"],
    ] {
        stack.swaymsg(args).unwrap();
    }
    let mut right = stack.command("foot");
    right.args(["--app-id=right", "sh"]);
    stack.spawn_client(right, "right-terminal").unwrap();
    wait_for_focus(&stack, "right");

    runtime().block_on(async {
        let mut session = connect(port).await;
        assert_eq!(session.desktop_size(), (WIDTH, HEIGHT));
        // The middle of what the client sees: the left window. Over the layout of both
        // outputs the same fraction is on the right output.
        session.send_mouse_move(WIDTH / 2, HEIGHT / 2).await.unwrap();
        session
            .send_mouse_button(wrd_client::MouseButton::Left, true)
            .await
            .unwrap();
        session
            .send_mouse_button(wrd_client::MouseButton::Left, false)
            .await
            .unwrap();
        wait_for_focus(&stack, "left");
        session.disconnect().await.unwrap();
    });
    drop(server);
}
