//! `VirtualInput` on a real compositor: headless sway from wrd-testkit (run as the stack user;
//! the test connects to its socket by path), with `foot` terminals running bash as the
//! applications that receive the input. What the keyboard typed is read back from files the
//! typed shell commands write; where the pointer clicked, from sway's focused window
//! (`swaymsg -t get_tree`).
//!
//! The headless desktop has no keyboard of its own, so the first virtual keyboard gives the
//! seat its keyboard capability, and applications running then ask for their `wl_keyboard`
//! only after that: keys sent in between reach nobody. The tests therefore create a keyboard
//! before the terminals start, as a desktop with a real keyboard has one.

// Test code: a failed step is the test failing, so unwrap/panic are the right tools here.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;
use wrd_testkit::{Image, StackOptions, SwayStack, TestDir, poll_until};
use wrd_wayland::{KeymapNames, VirtualInput, VirtualInputCommand as Cmd, VirtualInputError, WaylandSocket};

const WIDTH: u32 = 1280;
const HEIGHT: u32 = 720;
const WAIT: Duration = Duration::from_secs(20);

// evdev codes (linux/input-event-codes.h)
const KEY_ENTER: u32 = 28;
const KEY_LEFTCTRL: u32 = 29;
const KEY_LEFTSHIFT: u32 = 42;
const KEY_W: u32 = 17;
const KEY_Y: u32 = 21;
const KEY_MINUS: u32 = 12;
const BTN_LEFT: u32 = 0x110;
const XK_RETURN: u32 = 0xff0d;

fn stack(dir: &TestDir) -> SwayStack {
    SwayStack::start(
        dir.path(),
        &StackOptions {
            size: Some((WIDTH, HEIGHT)),
            wallpaper: None,
            animate: false,
        },
    )
    .unwrap()
}

/// The compositor's socket, reached by path (the test runs outside the stack's environment).
fn socket(stack: &SwayStack) -> PathBuf {
    let run = stack
        .env()
        .iter()
        .find(|(k, _)| k == "XDG_RUNTIME_DIR")
        .map(|(_, v)| PathBuf::from(v))
        .unwrap();
    run.join(stack.wayland_display())
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// Bounded wait for an input future.
fn wait<T>(rt: &tokio::runtime::Runtime, what: &str, f: impl Future<Output = T>) -> T {
    rt.block_on(async {
        tokio::time::timeout(WAIT, f)
            .await
            .unwrap_or_else(|_| panic!("{what}: no answer within {WAIT:?}"))
    })
}

fn start_input(stack: &SwayStack, layout: &str) -> VirtualInput {
    VirtualInput::start(WaylandSocket::Path(socket(stack)), KeymapNames::new(layout, "")).unwrap()
}

fn swaymsg(stack: &SwayStack, args: &[&str]) -> String {
    stack.swaymsg(args).unwrap()
}

fn windows(stack: &SwayStack) -> Vec<Value> {
    stack.windows().unwrap()
}

fn focused_app(stack: &SwayStack) -> Option<String> {
    stack.focused_app().unwrap()
}

/// The centre of a window, in layout coordinates.
fn centre(stack: &SwayStack, app_id: &str) -> (u32, u32) {
    let w = windows(stack)
        .into_iter()
        .find(|w| w["app_id"].as_str() == Some(app_id))
        .unwrap_or_else(|| panic!("no window {app_id}"));
    let r = &w["rect"];
    let at = |k: &str| u32::try_from(r[k].as_i64().unwrap()).unwrap();
    (at("x") + at("width") / 2, at("y") + at("height") / 2)
}

/// A foot terminal running bash in the stack directory; returns once its first prompt is
/// shown (bash touches `<app_id>.prompt` from PROMPT_COMMAND) and sway has it focused.
fn terminal(stack: &mut SwayStack, app_id: &str) {
    let prompt = stack.dir().join(format!("{app_id}.prompt"));
    let mut cmd = stack.command("foot");
    cmd.arg(format!("--app-id={app_id}"))
        .args(["bash", "--norc", "--noprofile", "-i"])
        .env("PROMPT_COMMAND", format!("touch {}", prompt.display()))
        .env("PS1", "$ ");
    stack.spawn_client(cmd, app_id).unwrap();
    poll_until(
        WAIT,
        Duration::from_millis(20),
        "the shell's first prompt",
        || Ok(prompt.exists().then_some(())),
    )
    .unwrap();
    poll_until(
        WAIT,
        Duration::from_millis(20),
        "the new terminal focused",
        || Ok((focused_app(stack).as_deref() == Some(app_id)).then_some(())),
    )
    .unwrap();
}

/// A file a typed command wrote (bounded wait), as text.
fn written(stack: &SwayStack, path: &Path, what: &str) -> String {
    let found = poll_until(Duration::from_secs(8), Duration::from_millis(20), what, || {
        // Complete once it ends with the newline echo writes.
        Ok(std::fs::read_to_string(path)
            .ok()
            .filter(|text| text.ends_with('\n')))
    });
    match found {
        Ok(text) => text,
        Err(e) => {
            // What the terminal shows says what was typed instead.
            let shot = path.with_extension("png");
            if let Ok(png) = stack.grim_png() {
                let _ = std::fs::write(&shot, png);
            }
            panic!("{e:#}; the screen is in {}", shot.display())
        }
    }
}

/// The evdev key and Shift for an ASCII character on the US layout.
fn us_key(c: char) -> (u32, bool) {
    const ROWS: [(&str, u32); 3] = [("qwertyuiop", 16), ("asdfghjkl", 30), ("zxcvbnm", 44)];
    if c.is_ascii_alphabetic() {
        let lower = c.to_ascii_lowercase();
        for (row, first) in ROWS {
            if let Some(i) = row.find(lower) {
                return (first + u32::try_from(i).unwrap(), c.is_ascii_uppercase());
            }
        }
    }
    match c {
        '1'..='9' => (2 + (c as u32 - '1' as u32), false),
        '0' => (11, false),
        ' ' => (57, false),
        '-' => (12, false),
        '_' => (12, true),
        '.' => (52, false),
        '>' => (52, true),
        '/' => (53, false),
        ':' => (39, true),
        ';' => (39, false),
        '\n' => (KEY_ENTER, false),
        _ => panic!("no US key for {c:?} in this test"),
    }
}

fn tap(input: &VirtualInput, evdev: u32) {
    input.send(Cmd::Key { evdev, pressed: true }).unwrap();
    input
        .send(Cmd::Key {
            evdev,
            pressed: false,
        })
        .unwrap();
}

/// Types ASCII text with evdev keys of the US layout (Shift pressed as a key).
fn type_us(input: &VirtualInput, text: &str) {
    for c in text.chars() {
        let (key, shift) = us_key(c);
        if shift {
            input
                .send(Cmd::Key {
                    evdev: KEY_LEFTSHIFT,
                    pressed: true,
                })
                .unwrap();
        }
        tap(input, key);
        if shift {
            input
                .send(Cmd::Key {
                    evdev: KEY_LEFTSHIFT,
                    pressed: false,
                })
                .unwrap();
        }
    }
}

/// Types text as keysyms (whatever the keymap).
fn type_keysyms(input: &VirtualInput, text: &str) {
    for c in text.chars() {
        let keysym = match c {
            '\n' => XK_RETURN,
            ' '..='~' | '\u{a0}'..='\u{ff}' => c as u32,
            _ => 0x0100_0000 | c as u32,
        };
        input
            .send(Cmd::Keysym {
                keysym,
                pressed: true,
            })
            .unwrap();
        input
            .send(Cmd::Keysym {
                keysym,
                pressed: false,
            })
            .unwrap();
    }
}

#[test]
fn typing_ascii_a_ctrl_shortcut_and_unicode_queued_before_the_keymap_runs_a_shell_command() {
    let dir = TestDir::new("virtual-input-typing").unwrap();
    let mut stack = stack(&dir);
    let rt = runtime();
    // The desktop's own keyboard, there before the terminal.
    let resident = start_input(&stack, "us");
    wait(&rt, "the resident keyboard", resident.ready()).unwrap();
    terminal(&mut stack, "typing");
    // The keyboard under test: everything below is sent before its keymap is known to be
    // uploaded; it is queued, and the first key counts (a lost `e` would run `cho`).
    let input = start_input(&stack, "us");
    type_us(&input, "echo Typed: wrong");
    // Ctrl+W (readline's unix-word-rubout) erases the wrong word; without Ctrl a `w` is typed.
    input
        .send(Cmd::Key {
            evdev: KEY_LEFTCTRL,
            pressed: true,
        })
        .unwrap();
    tap(&input, KEY_W);
    input
        .send(Cmd::Key {
            evdev: KEY_LEFTCTRL,
            pressed: false,
        })
        .unwrap();
    // Not on the US layout: each goes out on a key added to the keymap for it.
    type_keysyms(&input, "äöü ß €");
    type_us(&input, " >typed.txt\n");
    wait(&rt, "the typing", input.execute(Cmd::ReleaseAll)).unwrap();
    wait(&rt, "the start", input.ready()).unwrap();

    let text = written(&stack, &stack.dir().join("typed.txt"), "typed.txt");
    assert_eq!(text, "Typed: äöü ß €\n");
    input.stop().unwrap();
    resident.stop().unwrap();
}

#[test]
fn a_german_keymap_types_z_on_the_y_key_and_sharp_s_left_of_backspace() {
    let dir = TestDir::new("virtual-input-german").unwrap();
    let mut stack = stack(&dir);
    let rt = runtime();
    let input = start_input(&stack, "us");
    wait(&rt, "the start", input.ready()).unwrap();
    terminal(&mut stack, "german");
    wait(
        &rt,
        "the German keymap",
        input.execute(Cmd::SetKeymap {
            layout: "de".into(),
            variant: String::new(),
        }),
    )
    .unwrap();
    // The command around the two keys as keysyms: they find their keys on the German layout.
    type_keysyms(&input, "echo ");
    tap(&input, KEY_Y);
    tap(&input, KEY_MINUS);
    type_keysyms(&input, " >de.txt\n");
    wait(&rt, "the typing", input.execute(Cmd::ReleaseAll)).unwrap();

    let text = written(&stack, &stack.dir().join("de.txt"), "de.txt");
    assert_eq!(text, "zß\n");
    // A layout xkb does not know is an error naming it; the session's keymap stays.
    let err = wait(
        &rt,
        "a bad keymap",
        input.execute(Cmd::SetKeymap {
            layout: "no-such-layout".into(),
            variant: String::new(),
        }),
    )
    .unwrap_err();
    assert!(err.to_string().contains("no-such-layout"), "{err}");
    input.stop().unwrap();
}

fn click(rt: &tokio::runtime::Runtime, input: &VirtualInput) {
    input
        .send(Cmd::Button {
            button: BTN_LEFT,
            pressed: true,
        })
        .unwrap();
    wait(
        rt,
        "the click",
        input.execute(Cmd::Button {
            button: BTN_LEFT,
            pressed: false,
        }),
    )
    .unwrap();
}

fn await_focus(stack: &SwayStack, app_id: &str) {
    poll_until(
        Duration::from_secs(5),
        Duration::from_millis(20),
        &format!("{app_id} focused"),
        || Ok((focused_app(stack).as_deref() == Some(app_id)).then_some(())),
    )
    .unwrap();
}

/// An output's place in the layout: (x, y, width, height).
fn output_rect(stack: &SwayStack, name: &str) -> (i64, i64, i64, i64) {
    let outputs: Value = serde_json::from_str(&swaymsg(stack, &["-t", "get_outputs", "-r"])).unwrap();
    let output = outputs
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["name"].as_str() == Some(name))
        .unwrap_or_else(|| panic!("no output {name}"));
    let r = &output["rect"];
    let v = |k: &str| r[k].as_i64().unwrap();
    (v("x"), v("y"), v("width"), v("height"))
}

/// The bounding box of all outputs: (x, y, width, height).
fn layout_box(stack: &SwayStack) -> (i64, i64, i64, i64) {
    let outputs: Value = serde_json::from_str(&swaymsg(stack, &["-t", "get_outputs", "-r"])).unwrap();
    let rects: Vec<(i64, i64, i64, i64)> = outputs
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| o["active"].as_bool() == Some(true))
        .map(|o| {
            let r = &o["rect"];
            let v = |k: &str| r[k].as_i64().unwrap();
            (v("x"), v("y"), v("x") + v("width"), v("y") + v("height"))
        })
        .collect();
    let x0 = rects.iter().map(|r| r.0).min().unwrap();
    let y0 = rects.iter().map(|r| r.1).min().unwrap();
    let x1 = rects.iter().map(|r| r.2).max().unwrap();
    let y1 = rects.iter().map(|r| r.3).max().unwrap();
    (x0, y0, x1 - x0, y1 - y0)
}

#[test]
fn clicks_move_the_focus_and_absolute_positions_span_the_whole_output_layout() {
    let dir = TestDir::new("virtual-input-pointer").unwrap();
    let mut stack = stack(&dir);
    let rt = runtime();
    let input = start_input(&stack, "us");
    wait(&rt, "the start", input.ready()).unwrap();
    terminal(&mut stack, "left");
    terminal(&mut stack, "right"); // sway tiles it beside the first and focuses it

    // Absolute: the left window's centre, with the screen as the extent.
    let (lx, ly) = centre(&stack, "left");
    let (rx, ry) = centre(&stack, "right");
    assert!(
        lx < WIDTH / 2 && rx > WIDTH / 2,
        "windows not side by side: {lx} {rx}"
    );
    input
        .send(Cmd::PointerAbsolute {
            x: lx,
            y: ly,
            extent_w: WIDTH,
            extent_h: HEIGHT,
        })
        .unwrap();
    click(&rt, &input);
    await_focus(&stack, "left");

    // Relative: from there onto the right window.
    input
        .send(Cmd::PointerRelative {
            dx: f64::from(rx) - f64::from(lx),
            dy: f64::from(ry) - f64::from(ly),
        })
        .unwrap();
    click(&rt, &input);
    await_focus(&stack, "right");

    // A second monitor: the extent now maps onto both (the layout's bounding box), not onto
    // the first one only. A window on the second monitor is reached at its layout position.
    swaymsg(&stack, &["create_output"]);
    let (bx, by, bw, bh) = poll_until(WAIT, Duration::from_millis(20), "a two-monitor layout", || {
        let b = layout_box(&stack);
        Ok((b.2 > i64::from(WIDTH)).then_some(b))
    })
    .unwrap();
    assert_eq!((bx, by), (0, 0));
    swaymsg(&stack, &["focus", "output", "HEADLESS-2"]);
    terminal(&mut stack, "second");
    let (sx, sy) = centre(&stack, "second");
    assert!(i64::from(sx) > i64::from(WIDTH), "the second window is at x {sx}");
    let extent = (u32::try_from(bw).unwrap(), u32::try_from(bh).unwrap());
    // Back to the left window, then to the second monitor's window, in layout coordinates.
    input
        .send(Cmd::PointerAbsolute {
            x: lx,
            y: ly,
            extent_w: extent.0,
            extent_h: extent.1,
        })
        .unwrap();
    click(&rt, &input);
    await_focus(&stack, "left");
    input
        .send(Cmd::PointerAbsolute {
            x: sx,
            y: sy,
            extent_w: extent.0,
            extent_h: extent.1,
        })
        .unwrap();
    click(&rt, &input);
    await_focus(&stack, "second");

    // One output of the two, as a screen cast of it sees it: positions in that picture land
    // on that output, not on the layout's bounding box.
    let on_first = |x: u32, y: u32| Cmd::PointerOnOutput {
        output_at: (0, 0),
        x,
        y,
        extent_w: WIDTH,
        extent_h: HEIGHT,
    };
    input.send(on_first(lx, ly)).unwrap();
    click(&rt, &input);
    await_focus(&stack, "left");
    // The second output's own picture (its logical size, its place in the layout), near its
    // left edge: the same fraction of the whole layout would be on the first output.
    let (ox, oy, ow, oh) = output_rect(&stack, "HEADLESS-2");
    let (ow, oh) = (u32::try_from(ow).unwrap(), u32::try_from(oh).unwrap());
    input
        .send(Cmd::PointerOnOutput {
            output_at: (i32::try_from(ox).unwrap(), i32::try_from(oy).unwrap()),
            x: ow / 20,
            y: oh / 2,
            extent_w: ow,
            extent_h: oh,
        })
        .unwrap();
    click(&rt, &input);
    await_focus(&stack, "second");
    // On an output that is not there, positions span the whole layout, as before: the first
    // window's place in layout coordinates reaches it.
    wait(
        &rt,
        "a position on a missing output",
        input.execute(Cmd::PointerOnOutput {
            output_at: (5000, 0),
            x: lx,
            y: ly,
            extent_w: extent.0,
            extent_h: extent.1,
        }),
    )
    .unwrap();
    click(&rt, &input);
    await_focus(&stack, "left");

    // Positions outside the extent are refused with a clear error.
    let err = wait(
        &rt,
        "a bad position",
        input.execute(Cmd::PointerAbsolute {
            x: 10,
            y: 10,
            extent_w: 0,
            extent_h: 10,
        }),
    )
    .unwrap_err();
    assert!(matches!(err, VirtualInputError::InvalidCommand(_)), "{err}");
    input.stop().unwrap();
}

#[test]
fn release_all_lets_go_of_a_held_shift() {
    let dir = TestDir::new("virtual-input-release").unwrap();
    let mut stack = stack(&dir);
    let rt = runtime();
    let input = start_input(&stack, "us");
    wait(&rt, "the start", input.ready()).unwrap();
    terminal(&mut stack, "release");
    type_us(&input, "echo ");
    // Shift held (a client that disconnects now): `a` is typed as `A`...
    input
        .send(Cmd::Key {
            evdev: KEY_LEFTSHIFT,
            pressed: true,
        })
        .unwrap();
    tap(&input, us_key('a').0);
    wait(&rt, "release all", input.execute(Cmd::ReleaseAll)).unwrap();
    // ... and after ReleaseAll a plain key is lowercase again, as is the rest of the line.
    type_us(&input, "b >lower.txt\n");
    wait(&rt, "the typing", input.execute(Cmd::ReleaseAll)).unwrap();
    let text = written(
        &stack,
        &stack.dir().join("lower.txt"),
        "lower.txt (a stuck Shift types LOWER.TXT)",
    );
    assert_eq!(text, "Ab\n");
    input.stop().unwrap();
}

#[test]
fn a_killed_compositor_ends_the_thread_with_an_error_and_no_hang() {
    let dir = TestDir::new("virtual-input-killed").unwrap();
    let stack = stack(&dir);
    let rt = runtime();
    let input = start_input(&stack, "us");
    wait(&rt, "the start", input.ready()).unwrap();
    assert!(input.error().is_none());

    let killed = stack.signal_programs("sway", libc::SIGKILL);
    assert!(killed > 0, "found no compositor of this stack to kill");
    let reason = wait(&rt, "the thread's end", input.closed());
    assert!(matches!(reason, VirtualInputError::ConnectionLost(_)), "{reason}");
    // Every later command fails with that reason, at once.
    let err = input
        .send(Cmd::Key {
            evdev: KEY_ENTER,
            pressed: true,
        })
        .unwrap_err();
    assert!(matches!(err, VirtualInputError::ConnectionLost(_)), "{err}");
    let err = wait(&rt, "a command after the end", input.execute(Cmd::ReleaseAll)).unwrap_err();
    assert!(matches!(err, VirtualInputError::ConnectionLost(_)), "{err}");
    let stopped = std::time::Instant::now();
    assert!(matches!(input.stop(), Err(VirtualInputError::ConnectionLost(_))));
    assert!(stopped.elapsed() < Duration::from_secs(1));
}

fn screenshot(stack: &SwayStack) -> Image {
    Image::decode_png(&stack.grim_png().unwrap()).unwrap()
}

fn scroll(rt: &tokio::runtime::Runtime, input: &VirtualInput, notches: i32) {
    // 15 per notch, as libinput reports a wheel; negative scrolls up.
    let command = Cmd::Axis {
        horizontal: false,
        value: 15.0 * f64::from(notches),
        discrete: notches,
    };
    wait(rt, "the scroll", input.execute(command)).unwrap();
}

#[test]
fn the_wheel_scrolls_a_terminal_back_and_forth() {
    let dir = TestDir::new("virtual-input-wheel").unwrap();
    let mut stack = stack(&dir);
    let rt = runtime();
    let input = start_input(&stack, "us");
    wait(&rt, "the start", input.ready()).unwrap();
    terminal(&mut stack, "wheel");
    // A scrollback to scroll through, then a file saying it is all printed.
    type_us(&input, "seq 1 300; touch printed\n");
    wait(&rt, "the typing", input.execute(Cmd::ReleaseAll)).unwrap();
    let printed = stack.dir().join("printed");
    poll_until(WAIT, Duration::from_millis(20), "the numbers printed", || {
        Ok(printed.exists().then_some(()))
    })
    .unwrap();
    // The pointer over the terminal (wheel events go to the surface under it).
    let (x, y) = centre(&stack, "wheel");
    input
        .send(Cmd::PointerAbsolute {
            x,
            y,
            extent_w: WIDTH,
            extent_h: HEIGHT,
        })
        .unwrap();
    let settled = poll_until(WAIT, Duration::from_millis(50), "a still terminal", || {
        let a = screenshot(&stack);
        std::thread::sleep(Duration::from_millis(100));
        let b = screenshot(&stack);
        Ok((a.max_abs_diff(&b).unwrap() == 0).then_some(b))
    })
    .unwrap();

    scroll(&rt, &input, -5);
    poll_until(
        WAIT,
        Duration::from_millis(20),
        "the terminal scrolled back",
        || Ok((screenshot(&stack).max_abs_diff(&settled).unwrap() != 0).then_some(())),
    )
    .unwrap();
    scroll(&rt, &input, 5);
    poll_until(
        WAIT,
        Duration::from_millis(20),
        "the terminal back at its end",
        || Ok((screenshot(&stack).max_abs_diff(&settled).unwrap() == 0).then_some(())),
    )
    .unwrap();
    input.stop().unwrap();
}
