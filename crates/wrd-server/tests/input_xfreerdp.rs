//! A real client's input reaching the desktop, end to end: xdotool types and clicks on a
//! private Xvfb, xfreerdp (FreeRDP 2) sends it to `wrd-server serve --source portal` on the
//! real headless sway stack (run as an unprivileged user), the server's wlroots virtual
//! pointer and keyboard hand it to sway, and foot terminals running bash show what arrived:
//! - typing a shell command (shifted characters, Ctrl+U / Ctrl+W line editing) writes exactly
//!   the file it says;
//! - a client announcing the German layout (`/kbd:0x00000407`, `de` X keymap under xfreerdp)
//!   types `ä ö ü ß €` as real keys of that layout;
//! - clicks move sway's focus between two terminals, and the keys follow;
//! - the wheel scrolls a terminal's history up and back down;
//! - Shift held when the client vanishes is released: the next client types lowercase.
//!
//! Order matters on this keyboard-less headless desktop: the server (and its virtual
//! keyboard) starts before the terminals, since clients started earlier may never take it.

// Test code: a failed step is the test failing, so unwrap/panic are the right tools here.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use wrd_testkit::{
    ChildGuard, Image, Security, StackOptions, SwayStack, TestDir, XFreeRdp, XFreeRdpOptions, Xvfb,
    output_with_timeout, poll_until,
};

const USER: &str = "rdpuser";
const PASSWORD: &str = "input-pw";
const WIDTH: u32 = 1280;
const HEIGHT: u32 = 720;
/// Longest any single step (a window appearing, a file being written, a picture changing) may take.
const STEP: Duration = Duration::from_secs(20);
/// Windows' keyboard layout id of German (Germany).
const KLID_GERMAN: u32 = 0x0000_0407;

/// The stack, with the server (and so its virtual keyboard) already up, as the module says.
struct Desktop {
    // Dropped in this order: the server before the stack it uses, the directory last (kept
    // when the test failed).
    server: ChildGuard,
    stack: SwayStack,
    port: u16,
    dir: TestDir,
}

impl Desktop {
    fn start(name: &str) -> Self {
        let dir = TestDir::new(name).unwrap();
        let stack = SwayStack::start(
            dir.path(),
            &StackOptions {
                size: Some((WIDTH, HEIGHT)),
                wallpaper: None,
                animate: false,
            },
        )
        .unwrap();
        let (server, port) = common::serve_portal(
            &stack,
            &dir,
            (USER, PASSWORD),
            "info",
            "virtual pointer and keyboard ready",
            STEP,
        );
        Self {
            server,
            stack,
            port,
            dir,
        }
    }

    /// A foot terminal titled `name` running an interactive bash (prompt `$ `) in a folder of
    /// its own, `<stack>/<name>`, which is returned once bash showed its first prompt and
    /// sway focused the new window.
    fn shell(&mut self, name: &str) -> PathBuf {
        let work = self.stack.dir().join(name);
        let out = self.stack.output(self.stack.command("mkdir").arg(&work)).unwrap();
        assert!(
            out.status.success(),
            "mkdir: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut cmd = self.stack.command("foot");
        cmd.args(["--title", name, "--working-directory"])
            .arg(&work)
            .args(["bash", "--norc", "--noprofile", "-i"])
            .env("PS1", "$ ")
            // Each prompt adds a line: the test knows when bash is ready for input.
            .env("PROMPT_COMMAND", "echo >> .prompts");
        self.stack.spawn_client(cmd, name).unwrap();
        self.wait_for_file(
            &work.join(".prompts"),
            |_| true,
            &format!("bash's prompt in {name}"),
        );
        self.wait_focused(name);
        work
    }

    /// A foot terminal titled `name` that prints `seq 1 500` and then waits; returns once the
    /// output is complete and sway focused it.
    fn long_output(&mut self, name: &str) {
        let done = self.stack.dir().join(format!("{name}.done"));
        let script = format!("seq 1 500; touch {}; exec sleep 600", done.display());
        let mut cmd = self.stack.command("foot");
        cmd.args(["--title", name, "sh", "-c", &script]);
        self.stack.spawn_client(cmd, name).unwrap();
        self.wait_for_file(&done, |_| true, &format!("seq's output in {name}"));
        self.wait_focused(name);
    }

    /// sway's window tree (`swaymsg -t get_tree`, run as the stack user).
    fn tree(&self) -> serde_json::Value {
        serde_json::from_str(&self.stack.swaymsg(&["-t", "get_tree"]).unwrap()).unwrap()
    }

    /// The title of the window sway has focused, if a window has the focus.
    fn focused(&self) -> Option<String> {
        find_node(&self.tree(), &|n| n["focused"] == true && n["type"] == "con")
            .and_then(|n| n["name"].as_str().map(str::to_owned))
    }

    fn wait_focused(&self, name: &str) {
        let mut last = None;
        let found = poll_until(STEP, Duration::from_millis(50), "sway's focus", || {
            last = self.focused();
            Ok((last.as_deref() == Some(name)).then_some(()))
        });
        assert!(
            found.is_ok(),
            "sway did not focus {name:?} within {STEP:?}; focused: {last:?}"
        );
    }

    /// The centre of window `name` on the desktop (sway's layout coordinates, which are the
    /// client's: the output is at 0,0 and the client has the desktop's size).
    fn centre_of(&self, name: &str) -> (i64, i64) {
        let tree = self.tree();
        let node = find_node(&tree, &|n| n["name"] == name && n["type"] == "con")
            .unwrap_or_else(|| panic!("no window {name:?} in sway's tree: {tree}"));
        let rect = &node["rect"];
        let get = |k: &str| rect[k].as_i64().unwrap();
        (get("x") + get("width") / 2, get("y") + get("height") / 2)
    }

    /// The compositor's picture now (grim).
    fn screen(&self) -> Image {
        Image::decode_png(&self.stack.grim_png().unwrap()).unwrap()
    }

    /// Waits until the compositor's picture is the same twice in a row 300 ms apart.
    fn settled_screen(&self) -> Image {
        let mut last = self.screen();
        poll_until(STEP, Duration::from_millis(300), "a still desktop", || {
            let now = self.screen();
            let same = now.max_abs_diff(&last).unwrap() == 0;
            last = now;
            Ok(same.then(|| last.clone()))
        })
        .unwrap()
    }

    fn wait_screen(&self, what: &str, pred: impl Fn(&Image) -> bool) -> Image {
        let mut last = None;
        let found = poll_until(STEP, Duration::from_millis(100), what, || {
            let now = self.screen();
            let ok = pred(&now);
            last = Some(now);
            Ok(ok.then(|| last.clone().unwrap()))
        });
        found.unwrap_or_else(|e| {
            let path = self.dir.join("timeout-screen.png");
            if let Some(shot) = last {
                shot.save_png(&path).unwrap();
            }
            panic!("{e:#}; last compositor picture in {}", path.display())
        })
    }

    /// Waits (bounded) until `path` exists and `done` accepts its text; returns the text. On
    /// timeout the compositor's picture is saved in the test directory.
    fn wait_for_file(&self, path: &Path, done: impl Fn(&str) -> bool, what: &str) -> String {
        let mut last = None;
        let found = poll_until(STEP, Duration::from_millis(50), what, || {
            last = std::fs::read_to_string(path).ok();
            Ok(last.as_deref().filter(|t| done(t)).map(str::to_owned))
        });
        found.unwrap_or_else(|e| {
            let shot = self.dir.join("timeout-file.png");
            self.screen().save_png(&shot).unwrap();
            panic!(
                "{e:#}; {} holds {last:?}; the desktop: {}",
                path.display(),
                shot.display()
            )
        })
    }

    /// xfreerdp on `xvfb`, connected, showing the desktop and holding the X focus.
    fn client(&self, xvfb: &Xvfb, klid: Option<u32>) -> XFreeRdp {
        let mut options = XFreeRdpOptions::new(self.port)
            .credentials(USER, PASSWORD)
            .security(Security::Nla)
            .size(WIDTH, HEIGHT);
        if let Some(klid) = klid {
            options = options.keyboard_layout(klid);
        }
        let mut rdp = XFreeRdp::spawn(xvfb, &options, self.dir.path()).unwrap();
        rdp.wait_for_content(STEP).unwrap();
        rdp.focus(STEP).unwrap();
        rdp
    }
}

fn find_node<'a>(
    node: &'a serde_json::Value,
    pred: &dyn Fn(&serde_json::Value) -> bool,
) -> Option<&'a serde_json::Value> {
    if pred(node) {
        return Some(node);
    }
    ["nodes", "floating_nodes"]
        .iter()
        .filter_map(|k| node[*k].as_array())
        .flatten()
        .find_map(|child| find_node(child, pred))
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

/// A whole line written by a command (the file ends with a newline).
fn line_written(text: &str) -> bool {
    text.ends_with('\n')
}

#[test]
fn typing_through_xfreerdp_runs_the_command_with_shift_and_ctrl_line_editing() {
    let mut desktop = Desktop::start("input-typing");
    let work = desktop.shell("typing");
    let xvfb = Xvfb::start(desktop.dir.path()).unwrap();
    let _rdp = desktop.client(&xvfb, None);

    let started = Instant::now();
    // Ctrl+U erases the whole line, Ctrl+W the last word: only what is left runs.
    xdotool(&xvfb, &["type", "echo wrong > typed.txt"]);
    xdotool(&xvfb, &["key", "ctrl+u"]);
    xdotool(&xvfb, &["type", "echo \"Right: 42, #1\" wrong"]);
    xdotool(&xvfb, &["key", "ctrl+w"]);
    xdotool(&xvfb, &["type", "> typed.txt"]);
    xdotool(&xvfb, &["key", "Return"]);
    let text = desktop.wait_for_file(&work.join("typed.txt"), line_written, "typed.txt");
    eprintln!("typed command ran {:?} after typing began", started.elapsed());
    assert_eq!(text, "Right: 42, #1\n");
}

#[test]
fn a_german_layout_client_types_german_characters() {
    let mut desktop = Desktop::start("input-german");
    let work = desktop.shell("german");
    let xvfb = Xvfb::start(desktop.dir.path()).unwrap();
    // The client's own keyboard is German: ä, ö, ü, ß are keys of it, € is AltGr+E. xfreerdp 2
    // sends scancodes only (no Unicode events): with a US keymap, xdotool would type these on
    // a remapped spare keycode, which xfreerdp drops ("Unknown key with X keycode 0x08").
    // `/kbd` makes the announced layout explicit (xfreerdp would also find it in the keymap).
    let out = output_with_timeout(
        xvfb.command("setxkbmap").args(["-display", xvfb.display(), "de"]),
        STEP,
    )
    .unwrap();
    assert!(
        out.status.success(),
        "setxkbmap de: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let _rdp = desktop.client(&xvfb, Some(KLID_GERMAN));

    // z and y swap places between the US and German layouts: typed right only when the
    // desktop's keymap is the client's.
    xdotool(&xvfb, &["type", "echo 'äöü ß € zy' > german.txt"]);
    xdotool(&xvfb, &["key", "Return"]);
    let text = desktop.wait_for_file(&work.join("german.txt"), line_written, "german.txt");
    assert_eq!(text, "äöü ß € zy\n");
    let log = desktop.server.log();
    assert!(
        log.lines()
            .any(|l| l.contains("loading the client's keyboard layout") && l.contains(r#"layout="de""#)),
        "the server never loaded the de keymap:\n{}",
        desktop.server.log_tail(30)
    );
}

/// Clicks `button` at desktop position `at` through xfreerdp's window (client pixels are
/// desktop pixels: the client asked for the desktop's size).
fn click(xvfb: &Xvfb, rdp: &XFreeRdp, at: (i64, i64), button: &str, repeat: u32) {
    let window = rdp.find_window().unwrap().expect("xfreerdp's window");
    let x = (i64::from(window.x) + at.0).to_string();
    let y = (i64::from(window.y) + at.1).to_string();
    let repeat = repeat.to_string();
    xdotool(xvfb, &["mousemove", "--sync", &x, &y]);
    xdotool(xvfb, &["click", "--repeat", &repeat, "--delay", "50", button]);
}

#[test]
fn clicks_move_the_focus_between_windows_and_the_keys_follow() {
    let mut desktop = Desktop::start("input-clicks");
    let left = desktop.shell("left");
    let right = desktop.shell("right");
    // sway tiles them side by side and focuses the newer one.
    let (left_centre, right_centre) = (desktop.centre_of("left"), desktop.centre_of("right"));
    assert!(
        left_centre.0 < right_centre.0,
        "not side by side: {left_centre:?} {right_centre:?}"
    );
    let xvfb = Xvfb::start(desktop.dir.path()).unwrap();
    let rdp = desktop.client(&xvfb, None);
    assert_eq!(desktop.focused().as_deref(), Some("right"));

    click(&xvfb, &rdp, left_centre, "1", 1);
    desktop.wait_focused("left");
    xdotool(&xvfb, &["type", "echo left > clicked.txt"]);
    xdotool(&xvfb, &["key", "Return"]);
    let text = desktop.wait_for_file(&left.join("clicked.txt"), line_written, "left/clicked.txt");
    assert_eq!(text, "left\n");

    click(&xvfb, &rdp, right_centre, "1", 1);
    desktop.wait_focused("right");
    xdotool(&xvfb, &["type", "echo right > clicked.txt"]);
    xdotool(&xvfb, &["key", "Return"]);
    let text = desktop.wait_for_file(&right.join("clicked.txt"), line_written, "right/clicked.txt");
    assert_eq!(text, "right\n");
    assert_eq!(
        std::fs::read_to_string(left.join("clicked.txt")).unwrap(),
        "left\n",
        "keys meant for the right window reached the left one"
    );
}

#[test]
fn the_wheel_scrolls_a_terminal_up_and_back_down() {
    let mut desktop = Desktop::start("input-wheel");
    desktop.long_output("history");
    let xvfb = Xvfb::start(desktop.dir.path()).unwrap();
    let mut rdp = desktop.client(&xvfb, None);
    let centre = desktop.centre_of("history");
    // Point at the terminal first: the pointer's entry alone changes nothing foot draws.
    let window = rdp.find_window().unwrap().expect("xfreerdp's window");
    xdotool(
        &xvfb,
        &[
            "mousemove",
            "--sync",
            &(i64::from(window.x) + centre.0).to_string(),
            &(i64::from(window.y) + centre.1).to_string(),
        ],
    );
    let bottom = desktop.settled_screen();
    let client_bottom = rdp
        .wait_for_client_area(STEP, "the client showing the terminal's end", |img| {
            img.mean_abs_diff(&bottom).is_ok_and(|d| d < 2.0)
        })
        .unwrap();

    // Wheel up (X button 4), three notches: older lines come into view.
    click(&xvfb, &rdp, centre, "4", 3);
    let scrolled = desktop.wait_screen("the terminal scrolled up", |img| {
        img.max_abs_diff(&bottom).unwrap() != 0
    });
    rdp.wait_for_client_area(STEP, "the client showing the scrolled terminal", |img| {
        img.mean_abs_diff(&scrolled).is_ok_and(|d| d < 2.0) && img.max_abs_diff(&client_bottom).unwrap() != 0
    })
    .unwrap();

    // Wheel down (button 5), more notches than up: back at the end, exactly as before.
    click(&xvfb, &rdp, centre, "5", 6);
    desktop.wait_screen("the terminal back at its end", |img| {
        img.max_abs_diff(&bottom).unwrap() == 0
    });
}

#[test]
fn shift_held_when_the_client_vanishes_is_released_for_the_next_client() {
    let mut desktop = Desktop::start("input-shift");
    let work = desktop.shell("shift");
    let xvfb = Xvfb::start(desktop.dir.path()).unwrap();
    let mut rdp = desktop.client(&xvfb, None);

    // cat writes each line it reads to the file: what the keys typed, byte for byte.
    xdotool(&xvfb, &["type", "cat > letters.txt"]);
    xdotool(&xvfb, &["key", "Return"]);
    desktop.wait_for_file(&work.join("letters.txt"), |_| true, "cat's output file");
    let before = desktop.settled_screen();
    xdotool(&xvfb, &["keydown", "Shift_L"]);
    xdotool(&xvfb, &["key", "b"]);
    // The terminal echoes the (shifted) letter: Shift is down on the desktop now.
    desktop.wait_screen("the letter echoed", |img| img.max_abs_diff(&before).unwrap() != 0);
    // The client dies with Shift still held (killed: it sends nothing more).
    rdp.stop().unwrap();
    desktop
        .server
        .wait_for_log("releasing what the client still held", STEP)
        .unwrap();
    xdotool(&xvfb, &["keyup", "Shift_L"]);

    let _rdp = desktop.client(&xvfb, None);
    xdotool(&xvfb, &["type", "a"]);
    xdotool(&xvfb, &["key", "Return"]);
    // (A Shift still down would make the line "BA" and Return an escape sequence in foot:
    // nothing would be written.)
    let text = desktop.wait_for_file(&work.join("letters.txt"), line_written, "letters.txt");
    assert_eq!(text, "Ba\n", "Shift held by the first client must not outlive it");
}
