//! Helpers shared by the input tests: typing through the in-process client, and reading back
//! what a shell in the remote terminal wrote.

// Each test binary uses its own subset of these.
#![allow(dead_code)]

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use wrd_client::{Session, SessionEvent};
use wrd_testkit::TestDir;

pub const LEFT_SHIFT: u8 = 0x2A;

/// Set-1 scancodes of the US layout: (scancode, shifted).
pub fn us_scancode(c: char) -> (u8, bool) {
    const ROW1: &str = "1234567890-=";
    const ROW1_SHIFT: &str = "!@#$%^&*()_+";
    const QWERTY: [(&str, u8); 3] = [("qwertyuiop", 0x10), ("asdfghjkl", 0x1E), ("zxcvbnm", 0x2C)];
    if let Some(i) = ROW1.find(c) {
        return (0x02 + u8::try_from(i).unwrap(), false);
    }
    if let Some(i) = ROW1_SHIFT.find(c) {
        return (0x02 + u8::try_from(i).unwrap(), true);
    }
    for (row, first) in QWERTY {
        if let Some(i) = row.find(c.to_ascii_lowercase()) {
            return (first + u8::try_from(i).unwrap(), c.is_ascii_uppercase());
        }
    }
    match c {
        ' ' => (0x39, false),
        '\n' => (0x1C, false),
        '.' => (0x34, false),
        '>' => (0x34, true),
        '/' => (0x35, false),
        '\'' => (0x28, false),
        _ => panic!("no scancode for {c:?} in the tests' table"),
    }
}

/// Types ASCII as scancodes (US positions); anything else as Unicode key events.
pub async fn type_text(session: &mut Session, text: &str) {
    for c in text.chars() {
        if c.is_ascii() {
            let (code, shift) = us_scancode(c);
            if shift {
                session.send_key(LEFT_SHIFT, false, true).await.unwrap();
            }
            session.send_key(code, false, true).await.unwrap();
            session.send_key(code, false, false).await.unwrap();
            if shift {
                session.send_key(LEFT_SHIFT, false, false).await.unwrap();
            }
        } else {
            session.send_unicode(c).await.unwrap();
        }
    }
}

/// A directory the desktop's user can write and the test can read.
pub fn shared_dir(dir: &TestDir) -> PathBuf {
    let shared = dir.join("typed");
    std::fs::create_dir_all(&shared).unwrap();
    std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o777)).unwrap();
    shared
}

/// Waits until `path` holds exactly `expected` (the shell wrote it), bounded.
pub fn wait_for_file(path: &Path, expected: &str, limit: Duration) {
    let until = Instant::now() + limit;
    let mut last = None;
    while Instant::now() < until {
        if let Ok(text) = std::fs::read_to_string(path) {
            if text == expected {
                return;
            }
            last = Some(text);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!(
        "{} never held {expected:?} within {limit:?}; last seen: {last:?}",
        path.display()
    );
}

/// Reads the client's events until `quiet` passes without a graphics update (bounded).
pub async fn settle(session: &mut Session, quiet: Duration, limit: Duration) {
    let give_up = tokio::time::Instant::now() + limit;
    loop {
        let deadline = (tokio::time::Instant::now() + quiet).min(give_up);
        match session.next_event(deadline).await {
            Ok(SessionEvent::Terminated(reason)) => panic!("session ended: {reason}"),
            Ok(_) => {
                if tokio::time::Instant::now() >= give_up {
                    return;
                }
            }
            Err(wrd_client::ClientError::Timeout(_)) => return,
            Err(e) => panic!("{e}"),
        }
    }
}

/// `wrd-server serve --source portal` on `stack` (the binary installed for the stack user),
/// listening on a free loopback port with `user`/`password` (NLA). `RUST_LOG` is `log` unless
/// `WRD_TEST_SERVER_LOG` says otherwise. Returns once the server logged `ready`, the screen
/// cast started and the port is open, each within `step`.
pub fn serve_portal(
    stack: &wrd_testkit::SwayStack,
    dir: &TestDir,
    credentials: (&str, &str),
    log: &str,
    ready: &str,
    step: Duration,
) -> (wrd_testkit::ChildGuard, u16) {
    let binary = stack
        .install(Path::new(env!("CARGO_BIN_EXE_wrd-server")))
        .unwrap();
    let cmd = stack.command(&binary);
    serve(
        cmd,
        "portal",
        "portal screen cast started",
        dir,
        credentials,
        log,
        ready,
        step,
    )
}

/// [`serve_portal`] on headless Mutter: `wrd-server serve --source mutter`.
pub fn serve_mutter(
    stack: &wrd_testkit::MutterStack,
    dir: &TestDir,
    credentials: (&str, &str),
    log: &str,
    ready: &str,
    step: Duration,
) -> (wrd_testkit::ChildGuard, u16) {
    let binary = stack
        .install(Path::new(env!("CARGO_BIN_EXE_wrd-server")))
        .unwrap();
    let cmd = stack.command(&binary);
    serve(
        cmd,
        "mutter",
        "Mutter screen cast started",
        dir,
        credentials,
        log,
        ready,
        step,
    )
}

/// Runs `cmd` (the installed binary, in the desktop's environment) as `serve --source
/// source` on a free loopback port; waits for `ready`, then `started`, then the port.
#[allow(clippy::too_many_arguments)]
fn serve(
    mut cmd: std::process::Command,
    source: &str,
    started: &str,
    dir: &TestDir,
    (user, password): (&str, &str),
    log: &str,
    ready: &str,
    step: Duration,
) -> (wrd_testkit::ChildGuard, u16) {
    let port = wrd_testkit::free_port();
    let listen = format!("127.0.0.1:{port}");
    cmd.args([
        "serve",
        "--source",
        source,
        "--listen",
        &listen,
        "--username",
        user,
    ])
    .env("WRD_PASSWORD", password)
    .env(
        "RUST_LOG",
        std::env::var("WRD_TEST_SERVER_LOG").unwrap_or_else(|_| log.to_owned()),
    );
    let mut server = wrd_testkit::ChildGuard::spawn(&mut cmd, "wrd-server", dir.path()).unwrap();
    server.wait_for_log(ready, step).unwrap();
    server.wait_for_log(started, step).unwrap();
    wrd_testkit::wait_for_port(listen.parse().unwrap(), step).unwrap();
    (server, port)
}
