//! `wrd-server headless`: the server starts its own desktop session (session bus, PipeWire,
//! headless Mutter, a foot terminal) as the unprivileged stack user, and the real FreeRDP client
//! (under a private Xvfb, driven by xdotool) uses it:
//! - started as root with `--user`: the client sees the terminal at 1280x720, clicks it, types a
//!   command that writes a marker file; with `--keep-alive` a second connection finds the same
//!   terminal (the first one's command on screen) and the same shell; SIGTERM exits 0 and
//!   leaves no process of the session and no runtime directory;
//! - without `--keep-alive` the session ends (exit 0) once the last client has been gone for
//!   `--idle-timeout`;
//! - a program of the session dying (Mutter killed) ends the session: the connected client is
//!   disconnected, the log names the program, exit 1, nothing left behind;
//! - `--compositor gnome`: Mutter's monitor (a virtual one its screen cast made) takes the
//!   client's size at connect and follows the client's window growing to 1600x900 (Display
//!   Control): Mutter's monitor, the client's picture; the client still types into its terminal;
//! - `--compositor gnome` shares the session's clipboard (Mutter's remote-desktop session) with
//!   `xfreerdp +clipboard`: the client's copy pasted by `wl-paste` typed into the terminal, a
//!   `wl-copy` typed there pasted by `xclip` at the client;
//! - `--compositor sway` (headless sway, xdg-desktop-portal-wlr, wlroots virtual devices): the
//!   monitor takes the client's size at connect and follows the client's window growing to
//!   1600x900 (Display Control), the client's picture equal to the compositor's; the client
//!   types into its terminal; SIGTERM leaves nothing;
//! - a server killed with SIGKILL takes its session's programs along (they die with it), and
//!   the next start removes the runtime directory it left;
//! - root without `--user` is refused naming `--user`; missing programs are one line naming
//!   the Debian packages.
//!
//! The tests run as root (as CI does) or as any user (then the session runs as that user).

// Test code: a failed step is the test failing, so unwrap/panic are the right tools here.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use wrd_testkit::{
    ChildGuard, Image, STACK_USER, Security, TestDir, XFreeRdp, XFreeRdpOptions, Xvfb, ensure_stack_user,
    free_port, output_with_timeout, poll_until, wait_for_port,
};

const PASSWORD: &str = "headless-pw";
const WIDTH: u32 = 1280;
const HEIGHT: u32 = 720;
/// Longest any single step (the session coming up, a picture, a file) may take.
const STEP: Duration = Duration::from_secs(30);

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// The user the session runs as: the stack user under root, else whoever runs the test.
fn session_user() -> String {
    if is_root() {
        ensure_stack_user().unwrap();
        STACK_USER.to_owned()
    } else {
        std::env::var("USER").unwrap()
    }
}

/// `wrd-server headless` with `args`, logging at info.
fn headless_command(args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_wrd-server"));
    cmd.arg("headless");
    if is_root() {
        // Made (or repaired) before the server runs a session as it.
        ensure_stack_user().unwrap();
        cmd.args(["--user", STACK_USER]);
    }
    cmd.args(args).env("WRD_PASSWORD", PASSWORD).env(
        "RUST_LOG",
        std::env::var("WRD_TEST_SERVER_LOG").unwrap_or_else(|_| "info".into()),
    );
    cmd
}

/// A running `wrd-server headless` and what its log says about the session.
struct Headless {
    server: ChildGuard,
    port: u16,
    runtime_dir: PathBuf,
}

impl Headless {
    fn start(dir: &TestDir, extra: &[&str]) -> Self {
        Self::start_sized(dir, (WIDTH, HEIGHT), extra)
    }

    /// With the virtual monitor at `size` to begin with.
    fn start_sized(dir: &TestDir, size: (u32, u32), extra: &[&str]) -> Self {
        let port = free_port();
        let listen = format!("127.0.0.1:{port}");
        let size = format!("{}x{}", size.0, size.1);
        let mut args = vec!["--listen", &listen, "--size", &size];
        args.extend_from_slice(extra);
        let mut server = ChildGuard::spawn(&mut headless_command(&args), "wrd-server", dir.path())
            .unwrap()
            .with_grace(Duration::from_secs(10));
        server.wait_for_log("wrd-server ready", STEP).unwrap();
        wait_for_port(listen.parse().unwrap(), STEP).unwrap();
        let log = server.log();
        let runtime_dir = log
            .split_whitespace()
            .find_map(|w| w.strip_prefix("runtime_dir="))
            .map(PathBuf::from)
            .unwrap_or_else(|| panic!("no runtime_dir in the log:\n{log}"));
        assert!(runtime_dir.is_dir(), "{} is not there", runtime_dir.display());
        Self {
            server,
            port,
            runtime_dir,
        }
    }

    /// xfreerdp on `xvfb`, connected at 1280x720, showing the desktop with something on it.
    fn client(&self, xvfb: &Xvfb, dir: &TestDir) -> (XFreeRdp, Image) {
        self.client_with(xvfb, dir, &[])
    }

    fn client_with(&self, xvfb: &Xvfb, dir: &TestDir, extra: &[&str]) -> (XFreeRdp, Image) {
        let mut options = XFreeRdpOptions::new(self.port)
            .credentials(&session_user(), PASSWORD)
            .security(Security::Nla)
            .size(WIDTH, HEIGHT);
        for arg in extra {
            options = options.arg(*arg);
        }
        let mut rdp = XFreeRdp::spawn(xvfb, &options, dir.path()).unwrap();
        let picture = rdp.wait_for_content(STEP).unwrap();
        rdp.focus(STEP).unwrap();
        (rdp, picture)
    }

    /// Waits for the server to exit on its own (bounded) and returns its exit code.
    fn wait_exit(&mut self, limit: Duration) -> i32 {
        let status = self.server.wait_timeout(limit).unwrap().unwrap_or_else(|| {
            panic!(
                "the server did not exit within {limit:?}:\n{}",
                self.server.log_tail(30)
            )
        });
        status
            .code()
            .unwrap_or_else(|| panic!("the server died of a signal: {status}"))
    }

    /// Waits for the server to die of a signal (bounded); true if it did.
    fn wait_exit_signal(&mut self, limit: Duration) -> bool {
        use std::os::unix::process::ExitStatusExt as _;
        self.server
            .wait_timeout(limit)
            .unwrap()
            .is_some_and(|status| status.signal().is_some())
    }

    /// Asserts that nothing of the session is left: no process carrying its runtime directory
    /// (in its environment or its arguments), and the directory is gone.
    fn assert_nothing_left(&self) {
        let leftovers = processes_mentioning(&self.runtime_dir);
        assert!(
            leftovers.is_empty(),
            "processes of the session left behind: {leftovers:?}"
        );
        assert!(
            !self.runtime_dir.exists(),
            "{} was not removed",
            self.runtime_dir.display()
        );
    }
}

/// `(pid, command line)` of every process whose environment or command line names `dir`.
fn processes_mentioning(dir: &Path) -> Vec<(u32, String)> {
    let needle = dir.display().to_string();
    let me = std::process::id();
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&pid| pid != me)
        .filter_map(|pid| {
            let read = |f: &str| {
                std::fs::read(format!("/proc/{pid}/{f}"))
                    .map(|b| String::from_utf8_lossy(&b).replace('\0', " "))
                    .unwrap_or_default()
            };
            let cmdline = read("cmdline");
            (read("environ").contains(&needle) || cmdline.contains(&needle)).then_some((pid, cmdline))
        })
        .collect()
}

/// Runs xdotool on `xvfb` (what a user does at the client's keyboard and mouse).
fn xdotool(xvfb: &Xvfb, args: &[&str]) {
    let out = output_with_timeout(xvfb.command("xdotool").args(args), STEP).unwrap();
    assert!(
        out.status.success(),
        "xdotool {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Grows xfreerdp's window to 1600x900 (xfreerdp asks for the size through Display Control)
/// and waits until `resized` says the session's monitor has it (`what` names that).
fn grow_client_window(xvfb: &Xvfb, headless: &Headless, what: &str, resized: impl Fn() -> bool) {
    xdotool(
        xvfb,
        &[
            "search",
            "--onlyvisible",
            "--classname",
            "xfreerdp",
            "windowsize",
            "%@",
            "1600",
            "900",
        ],
    );
    poll_until(STEP, Duration::from_millis(100), what, || {
        Ok(resized().then_some(()))
    })
    .unwrap_or_else(|e| panic!("{e:#}; server log:\n{}", headless.server.log_tail(30)));
}

/// Clicks the middle of the remote desktop (where Mutter put the terminal): Mutter maps new
/// windows without focusing them on a desktop nobody used yet.
fn click_middle(xvfb: &Xvfb, rdp: &XFreeRdp) {
    let window = rdp.find_window().unwrap().expect("xfreerdp's window");
    let x = (i64::from(window.x) + i64::from(WIDTH / 2)).to_string();
    let y = (i64::from(window.y) + i64::from(HEIGHT / 2)).to_string();
    xdotool(xvfb, &["mousemove", "--sync", &x, &y]);
    xdotool(xvfb, &["click", "1"]);
}

/// A directory the session's user can write and the test can read.
fn shared_dir(dir: &TestDir) -> PathBuf {
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o711)).unwrap();
    let shared = dir.join("shared");
    std::fs::create_dir_all(&shared).unwrap();
    std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o777)).unwrap();
    shared
}

/// Waits until `path` holds exactly `expected`; on timeout the client's picture is saved.
fn wait_for_file(path: &Path, expected: &str, rdp: &XFreeRdp, dir: &TestDir) {
    let mut last = None;
    let found = poll_until(
        STEP,
        Duration::from_millis(50),
        "the typed command's file",
        || {
            last = std::fs::read_to_string(path).ok();
            Ok((last.as_deref() == Some(expected)).then_some(()))
        },
    );
    if let Err(e) = found {
        let shot = dir.join("timeout-client.png");
        if let Ok(img) = rdp.client_area_screenshot() {
            img.save_png(&shot).unwrap();
        }
        panic!(
            "{e:#}: {} holds {last:?}, wanted {expected:?}; the client's picture: {}",
            path.display(),
            shot.display()
        );
    }
}

/// Types `line` and Return into the focused terminal.
fn type_line(xvfb: &Xvfb, line: &str) {
    xdotool(xvfb, &["type", "--delay", "30", line]);
    xdotool(xvfb, &["key", "Return"]);
}

/// Waits until the client's picture has stayed the same for a moment; returns it.
fn settled_picture(rdp: &mut XFreeRdp) -> Image {
    let mut last = rdp.client_area_screenshot().unwrap();
    poll_until(STEP, Duration::from_millis(400), "a still client picture", || {
        let now = rdp.client_area_screenshot()?;
        let same = now.max_abs_diff(&last)? == 0;
        last = now;
        Ok(same.then(|| last.clone()))
    })
    .unwrap()
}

#[test]
fn a_client_uses_the_terminal_reconnects_to_it_with_keep_alive_and_sigterm_leaves_nothing() {
    let dir = TestDir::new("headless-keep-alive").unwrap();
    let shared = shared_dir(&dir);
    let mut headless = Headless::start(&dir, &["--keep-alive"]);
    let log = headless.server.log();
    assert!(
        log.contains("compositor=\"gnome\""),
        "gnome is the default compositor:\n{log}"
    );
    if is_root() {
        assert!(log.contains("running the session as rdpstack"), "{log}");
    }

    let xvfb = Xvfb::start(dir.path()).unwrap();
    let (mut rdp, _) = headless.client(&xvfb, &dir);
    click_middle(&xvfb, &rdp);
    let before = settled_picture(&mut rdp);
    let marker = shared.join("marker");
    type_line(&xvfb, &format!("echo first-visit > {}", marker.display()));
    wait_for_file(&marker, "first-visit\n", &rdp, &dir);
    let after = settled_picture(&mut rdp);
    // The terminal is what the client sees: the typed command is on the picture.
    let changed = after.fraction_different(&before, 32).unwrap();
    assert!(
        changed > 0.001,
        "the client's picture did not change while typing ({changed})"
    );
    after.save_png(dir.join("first-visit.png")).unwrap();
    rdp.stop().unwrap();

    // Gone for longer than a default idle timeout would matter? keep-alive has none: reconnect.
    let (mut rdp, _) = headless.client(&xvfb, &dir);
    let again = settled_picture(&mut rdp);
    again.save_png(dir.join("second-visit.png")).unwrap();
    let differ = again.fraction_different(&after, 40).unwrap();
    assert!(
        differ < 0.01,
        "the second connection does not show the first one's terminal ({differ} of the picture differs; see first-visit.png, second-visit.png)"
    );
    // The same shell, the same focus: the first visit's file is there to read.
    let copy = shared.join("second");
    type_line(&xvfb, &format!("cat {} > {}", marker.display(), copy.display()));
    wait_for_file(&copy, "first-visit\n", &rdp, &dir);

    headless.server.signal(libc::SIGTERM).unwrap();
    let started = Instant::now();
    assert_eq!(
        headless.wait_exit(Duration::from_secs(10)),
        0,
        "{}",
        headless.server.log_tail(30)
    );
    let stop_time = started.elapsed();
    headless.assert_nothing_left();
    assert!(stop_time < Duration::from_secs(5), "stopping took {stop_time:?}");
    // The client was told: its session ended without it being killed.
    rdp.wait_exit(Duration::from_secs(10)).unwrap();
}

#[test]
fn without_keep_alive_the_session_ends_after_the_idle_timeout() {
    let dir = TestDir::new("headless-idle").unwrap();
    let mut headless = Headless::start(&dir, &["--idle-timeout", "2"]);
    let xvfb = Xvfb::start(dir.path()).unwrap();
    // Nobody connected yet: the session waits for its first client.
    std::thread::sleep(Duration::from_secs(3));
    assert!(headless.server.is_running(), "{}", headless.server.log_tail(20));
    let (mut rdp, _) = headless.client(&xvfb, &dir);
    rdp.stop().unwrap();
    let left = Instant::now();
    assert_eq!(
        headless.wait_exit(Duration::from_secs(15)),
        0,
        "{}",
        headless.server.log_tail(30)
    );
    let lived = left.elapsed();
    assert!(
        lived >= Duration::from_secs(2) && lived < Duration::from_secs(8),
        "the session ended {lived:?} after the client left, not about 2 s"
    );
    assert!(
        headless.server.log().contains("no client for 2 s"),
        "{}",
        headless.server.log_tail(20)
    );
    headless.assert_nothing_left();
}

#[test]
fn a_dying_compositor_ends_the_session_and_disconnects_the_client() {
    let dir = TestDir::new("headless-child-dies").unwrap();
    let mut headless = Headless::start(&dir, &["--keep-alive"]);
    let xvfb = Xvfb::start(dir.path()).unwrap();
    let (mut rdp, _) = headless.client(&xvfb, &dir);
    let mutter = processes_mentioning(&headless.runtime_dir)
        .into_iter()
        .find(|(_, cmd)| cmd.starts_with("mutter "))
        .unwrap_or_else(|| {
            panic!(
                "no mutter in the session: {:?}",
                processes_mentioning(&headless.runtime_dir)
            )
        });
    // SAFETY: kill has no memory preconditions; the pid is the session's Mutter.
    unsafe { libc::kill(i32::try_from(mutter.0).unwrap(), libc::SIGKILL) };
    assert_eq!(
        headless.wait_exit(Duration::from_secs(15)),
        1,
        "{}",
        headless.server.log_tail(30)
    );
    let log = headless.server.log();
    assert!(
        log.contains("mutter exited"),
        "the log does not name mutter:\n{log}"
    );
    assert!(!log.contains("panicked"), "{log}");
    headless.assert_nothing_left();
    // The client was told: it ends on its own, not killed.
    let code = rdp.wait_exit(Duration::from_secs(15)).unwrap();
    assert!(code.code().is_some(), "xfreerdp ended with {code:?}");
}

#[test]
fn root_needs_user_and_missing_programs_name_their_packages() {
    let out = |cmd: &mut Command| output_with_timeout(cmd, STEP).unwrap();
    if is_root() {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_wrd-server"));
        cmd.args(["headless", "--listen", "127.0.0.1:1"])
            .env("WRD_PASSWORD", PASSWORD);
        let refused = out(&mut cmd);
        let stderr = String::from_utf8_lossy(&refused.stderr);
        assert_eq!(refused.status.code(), Some(2), "{stderr}");
        assert!(
            stderr.contains("--user NAME") && stderr.contains("root"),
            "{stderr}"
        );
    } else {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_wrd-server"));
        cmd.args(["headless", "--user", "root", "--listen", "127.0.0.1:1"])
            .env("WRD_PASSWORD", PASSWORD);
        let refused = out(&mut cmd);
        let stderr = String::from_utf8_lossy(&refused.stderr);
        assert_eq!(refused.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains("needs root"), "{stderr}");
    }

    // A machine without the desktop's programs (a PATH that has none of them).
    let empty = TestDir::new("headless-no-programs").unwrap();
    for (compositor, program, package) in [("gnome", "mutter", "mutter"), ("sway", "sway", "sway")] {
        let mut cmd = headless_command(&["--compositor", compositor, "--listen", "127.0.0.1:1"]);
        cmd.env("PATH", empty.path());
        let failed = out(&mut cmd);
        let stderr = String::from_utf8_lossy(&failed.stderr);
        assert_eq!(failed.status.code(), Some(1), "{stderr}");
        let line = stderr
            .lines()
            .find(|l| l.contains("missing programs"))
            .unwrap_or_else(|| panic!("no line on missing programs:\n{stderr}"));
        assert!(
            line.contains(program) && line.contains("install the Debian packages:") && line.contains(package),
            "{line}"
        );
        assert!(
            line.contains("dbus-daemon") && line.contains("pipewire-bin"),
            "{line}"
        );
    }
}

/// The sizes of Mutter's current monitor modes (DisplayConfig, on the session's bus, asked as
/// the session's user: the bus lets in only its owner).
fn mutter_monitor_sizes(runtime_dir: &Path) -> Vec<(u32, u32)> {
    let bus = format!("unix:path={}", runtime_dir.join("bus").display());
    let mut cmd = if is_root() {
        let mut cmd = Command::new("runuser");
        cmd.args(["-u", STACK_USER, "--", "dbus-send"]);
        cmd
    } else {
        Command::new("dbus-send")
    };
    cmd.env("DBUS_SESSION_BUS_ADDRESS", &bus).args([
        "--session",
        "--print-reply",
        "--dest=org.gnome.Mutter.DisplayConfig",
        "/org/gnome/Mutter/DisplayConfig",
        "org.gnome.Mutter.DisplayConfig.GetCurrentState",
    ]);
    let out = output_with_timeout(&mut cmd, STEP).unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    current_mode_sizes(&String::from_utf8_lossy(&out.stdout))
}

/// The sizes of the modes marked `is-current` in dbus-send's print of `GetCurrentState`: a
/// mode is `struct { string "WxH@R" int32 W int32 H ... array [ dict entry( string
/// "is-current" variant boolean true ) ... ] }`.
fn current_mode_sizes(reply: &str) -> Vec<(u32, u32)> {
    let mut sizes = Vec::new();
    let mut last_mode: Option<(u32, u32)> = None;
    let mut lines = reply.lines().map(str::trim).peekable();
    while let Some(line) = lines.next() {
        if let Some(id) = line.strip_prefix("string \"").and_then(|l| l.strip_suffix('"'))
            && let Some((size, _rate)) = id.split_once('@')
            && let Some((w, h)) = size.split_once('x')
            && let (Ok(w), Ok(h)) = (w.parse(), h.parse())
        {
            last_mode = Some((w, h));
        }
        if line == "string \"is-current\""
            && lines
                .peek()
                .is_some_and(|next| next.starts_with("variant") && next.ends_with("boolean true"))
            && let Some(size) = last_mode
        {
            sizes.push(size);
        }
    }
    sizes
}

#[test]
fn a_gnome_session_takes_the_clients_size_follows_its_resize_and_types_into_its_terminal() {
    let dir = TestDir::new("headless-gnome-resize").unwrap();
    let shared = shared_dir(&dir);
    // The session starts at another size than the client's: the client's wins at connect.
    let mut headless = Headless::start_sized(&dir, (1024, 768), &["--compositor", "gnome"]);
    let log = headless.server.log();
    assert!(log.contains("a virtual monitor of GNOME's"), "{log}");
    // "ready" comes once the capture runs; Mutter may list the monitor's current mode a moment
    // later (seen once in CI: no current mode yet), so the first size is waited for too.
    poll_until(
        STEP,
        Duration::from_millis(100),
        "GNOME's monitor at 1024x768 before any client",
        || Ok((mutter_monitor_sizes(&headless.runtime_dir) == [(1024, 768)]).then_some(())),
    )
    .unwrap();

    let xvfb = Xvfb::start(dir.path()).unwrap();
    let (mut rdp, _) = headless.client_with(&xvfb, &dir, &["/dynamic-resolution"]);
    poll_until(
        STEP,
        Duration::from_millis(100),
        "Mutter's monitor at the client's 1280x720",
        || Ok((mutter_monitor_sizes(&headless.runtime_dir) == [(WIDTH, HEIGHT)]).then_some(())),
    )
    .unwrap_or_else(|e| panic!("{e:#}; server log:\n{}", headless.server.log_tail(30)));
    rdp.wait_for_window(STEP).unwrap();
    assert_eq!(rdp.client_area_screenshot().unwrap().size(), (WIDTH, HEIGHT));
    click_middle(&xvfb, &rdp);
    let marker = shared.join("marker");
    type_line(&xvfb, &format!("echo on-gnome > {}", marker.display()));
    wait_for_file(&marker, "on-gnome\n", &rdp, &dir);
    let before = settled_picture(&mut rdp);

    // The client's window grows: it asks for 1600x900 (Display Control), Mutter's monitor and
    // the picture follow.
    grow_client_window(&xvfb, &headless, "Mutter's monitor at 1600x900", || {
        mutter_monitor_sizes(&headless.runtime_dir) == [(1600, 900)]
    });
    poll_until(
        STEP,
        Duration::from_millis(300),
        "the client's picture at 1600x900",
        || {
            rdp.wait_for_window(STEP)?;
            Ok((rdp.client_area_screenshot()?.size() == (1600, 900)).then_some(()))
        },
    )
    .unwrap_or_else(|e| panic!("{e:#}; server log:\n{}", headless.server.log_tail(30)));
    let after = settled_picture(&mut rdp);
    before.save_png(dir.join("before-resize.png")).unwrap();
    after.save_png(dir.join("resized.png")).unwrap();
    // The same desktop on a larger monitor, not a blank or stretched one: the terminal (in
    // the middle of the first picture, where Mutter put it) keeps its size in pixels, so as
    // many pixels have its background colour as before.
    let terminal = before.pixel(WIDTH / 2, HEIGHT / 2).unwrap();
    let pixels_like_the_terminal = |image: &Image| {
        let (w, h) = image.size();
        image.fraction_matching(terminal, 4) * f64::from(w * h)
    };
    let (was, is) = (
        pixels_like_the_terminal(&before),
        pixels_like_the_terminal(&after),
    );
    assert!(
        was > 10_000.0 && (0.9..1.1).contains(&(is / was)),
        "the terminal's {terminal:?} pixels went from {was} to {is}; see before-resize.png, resized.png"
    );

    // Still the same terminal, still typing (the pointer and keyboard map to the new size).
    click_middle(&xvfb, &rdp);
    let again = shared.join("again");
    type_line(&xvfb, &format!("echo after-resize > {}", again.display()));
    wait_for_file(&again, "after-resize\n", &rdp, &dir);

    headless.server.signal(libc::SIGTERM).unwrap();
    assert_eq!(
        headless.wait_exit(Duration::from_secs(10)),
        0,
        "{}",
        headless.server.log_tail(30)
    );
    headless.assert_nothing_left();
}

/// The clipboard of a headless GNOME session (Mutter's remote-desktop session) both ways: the
/// user at the client types `wl-paste` and `wl-copy` commands into the session's terminal,
/// `xclip` copies and pastes on the client's X display.
#[test]
fn a_gnome_session_shares_its_clipboard_with_the_client() {
    let dir = TestDir::new("headless-gnome-clipboard").unwrap();
    let shared = shared_dir(&dir);
    let mut headless = Headless::start(&dir, &["--compositor", "gnome"]);
    let log = headless.server.log();
    assert!(
        log.contains("clipboard: shared with clients through Mutter's remote-desktop session"),
        "{log}"
    );
    let xvfb = Xvfb::start(dir.path()).unwrap();
    let (rdp, _) = headless.client_with(&xvfb, &dir, &["+clipboard"]);
    click_middle(&xvfb, &rdp);

    // The client's copy, pasted into a file by a program of the desktop.
    let from_client = "vom Client: Grüße, €, 日本語\nzweite Zeile";
    let source = dir.join("x-copy");
    std::fs::write(&source, from_client).unwrap();
    let mut copy = xvfb.command("xclip");
    copy.args(["-selection", "clipboard", "-quiet", "-t", "UTF8_STRING", "-i"])
        .arg(&source);
    let _owner = ChildGuard::spawn(&mut copy, "xclip-copy", dir.path()).unwrap();
    let pasted = shared.join("pasted");
    type_line(&xvfb, &format!("wl-paste --no-newline > {}", pasted.display()));
    wait_for_file(&pasted, from_client, &rdp, &dir);

    // A copy on the desktop (of a file the test wrote), pasted at the client.
    let from_desktop = "vom Desktop: Ärger, Öl, Übel\n\tmit Tab";
    let to_copy = shared.join("to-copy");
    std::fs::write(&to_copy, from_desktop).unwrap();
    std::fs::set_permissions(&to_copy, std::fs::Permissions::from_mode(0o644)).unwrap();
    type_line(&xvfb, &format!("wl-copy < {}", to_copy.display()));
    let mut last = Vec::new();
    poll_until(STEP, Duration::from_millis(200), "the client's paste", || {
        let mut paste: Command = xvfb.command("xclip");
        paste.args(["-selection", "clipboard", "-o", "-t", "UTF8_STRING"]);
        last = output_with_timeout(&mut paste, Duration::from_secs(5))?.stdout;
        Ok((last == from_desktop.as_bytes()).then_some(()))
    })
    .unwrap_or_else(|e| {
        panic!(
            "{e:#}; last paste {:?}; server log:\n{}",
            String::from_utf8_lossy(&last),
            headless.server.log_tail(30)
        )
    });

    headless.server.signal(libc::SIGTERM).unwrap();
    assert_eq!(
        headless.wait_exit(Duration::from_secs(10)),
        0,
        "{}",
        headless.server.log_tail(30)
    );
    headless.assert_nothing_left();
}

/// sway's output size and the path of its IPC socket in the session's runtime directory.
fn sway_output_size(runtime_dir: &Path) -> (u64, u64) {
    let socket = std::fs::read_dir(runtime_dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.file_name().unwrap().to_string_lossy().starts_with("sway-ipc."))
        .expect("sway's IPC socket");
    let out = output_with_timeout(
        Command::new("swaymsg")
            .arg("-s")
            .arg(&socket)
            .args(["-t", "get_outputs", "-r"]),
        STEP,
    )
    .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let outputs: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let mode = &outputs[0]["current_mode"];
    (mode["width"].as_u64().unwrap(), mode["height"].as_u64().unwrap())
}

/// The compositor's picture (grim on the session's Wayland socket).
fn sway_screen(runtime_dir: &Path) -> Image {
    let out = output_with_timeout(
        Command::new("grim")
            .env("WAYLAND_DISPLAY", runtime_dir.join("wayland-1"))
            .args(["-t", "png", "-"]),
        STEP,
    )
    .unwrap();
    assert!(
        out.status.success(),
        "grim: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Image::decode_png(&out.stdout).unwrap()
}

#[test]
fn a_sway_session_takes_the_clients_size_follows_its_resize_and_types_into_its_terminal() {
    let dir = TestDir::new("headless-sway").unwrap();
    let shared = shared_dir(&dir);
    // The monitor starts at another size than the client's: the client's wins at connect.
    let mut headless = Headless::start_sized(&dir, (1024, 768), &["--compositor", "sway"]);
    let log = headless.server.log();
    assert!(log.contains("compositor=\"sway\""), "{log}");
    assert!(log.contains("wlroots virtual pointer and keyboard"), "{log}");
    assert_eq!(sway_output_size(&headless.runtime_dir), (1024, 768));

    let xvfb = Xvfb::start(dir.path()).unwrap();
    let (mut rdp, _) = headless.client_with(&xvfb, &dir, &["/dynamic-resolution"]);
    assert_eq!(
        sway_output_size(&headless.runtime_dir),
        (u64::from(WIDTH), u64::from(HEIGHT))
    );
    // sway tiles the only window over the whole output and focuses it; the click changes nothing.
    click_middle(&xvfb, &rdp);
    let marker = shared.join("marker");
    type_line(&xvfb, &format!("echo on-sway > {}", marker.display()));
    wait_for_file(&marker, "on-sway\n", &rdp, &dir);

    // The client's window grows: it asks for 1600x900 (Display Control), the monitor and the
    // picture follow.
    grow_client_window(&xvfb, &headless, "sway's output at 1600x900", || {
        sway_output_size(&headless.runtime_dir) == (1600, 900)
    });
    let mut last = None;
    let followed = poll_until(
        STEP,
        Duration::from_millis(300),
        "the client's picture at 1600x900",
        || {
            rdp.wait_for_window(STEP)?;
            let client = rdp.client_area_screenshot()?;
            let screen = sway_screen(&headless.runtime_dir);
            let ok = client.size() == (1600, 900) && client.fraction_different(&screen, 40)? < 0.02;
            last = Some((client, screen));
            Ok(ok.then_some(()))
        },
    );
    if let Err(e) = followed {
        if let Some((client, screen)) = last {
            client.save_png(dir.join("resize-client.png")).unwrap();
            screen.save_png(dir.join("resize-screen.png")).unwrap();
        }
        panic!(
            "{e:#}; see resize-client.png, resize-screen.png; server log:\n{}",
            headless.server.log_tail(30)
        );
    }
    // Still the same terminal, still typing.
    let again = shared.join("again");
    type_line(&xvfb, &format!("echo after-resize > {}", again.display()));
    wait_for_file(&again, "after-resize\n", &rdp, &dir);

    headless.server.signal(libc::SIGTERM).unwrap();
    assert_eq!(
        headless.wait_exit(Duration::from_secs(10)),
        0,
        "{}",
        headless.server.log_tail(30)
    );
    headless.assert_nothing_left();
}

#[test]
fn a_killed_server_takes_its_session_along_and_the_next_start_removes_what_was_left() {
    let dir = TestDir::new("headless-sigkill").unwrap();
    let mut headless = Headless::start(&dir, &["--keep-alive"]);
    let xvfb = Xvfb::start(dir.path()).unwrap();
    // A client has the terminal on screen (Mutter, foot and its shell all running).
    let (mut rdp, _) = headless.client(&xvfb, &dir);
    headless.server.signal(libc::SIGKILL).unwrap();
    assert!(headless.wait_exit_signal(Duration::from_secs(10)));
    let mut left = Vec::new();
    let gone = poll_until(
        Duration::from_secs(10),
        Duration::from_millis(100),
        "the session's end",
        || {
            left = processes_mentioning(&headless.runtime_dir);
            Ok(left.is_empty().then_some(()))
        },
    );
    assert!(
        gone.is_ok(),
        "processes of the session outlived its killed server: {left:?}"
    );
    rdp.wait_exit(Duration::from_secs(15)).unwrap();
    // Only the runtime directory stays (nobody was left to remove it): the next start does.
    assert!(headless.runtime_dir.exists());
    let next = Headless::start(&dir, &["--keep-alive"]);
    assert!(
        !headless.runtime_dir.exists(),
        "the next start left {} in place:\n{}",
        headless.runtime_dir.display(),
        next.server.log_tail(20)
    );
}
