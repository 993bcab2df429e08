//! `wrd-scene` on a real compositor (headless sway from wrd-testkit), seen through `grim`:
//! `animate` changes every 64x64 tile of the screen from one screenshot to the next and its
//! frame counter moves forward; `static` shows frame 0 and stays still; `flip` repaints the
//! whole screen in the next palette colour on each key press (from `wtype`) and not on a
//! modifier.

// Test code: a failed step is the test failing, so unwrap/panic are the right tools here.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::time::Duration;

use wrd_scene::counter::{self, Layout};
use wrd_scene::flip::PALETTE;
use wrd_testkit::{ChildGuard, Image, StackOptions, SwayStack, TestDir, poll_until};

const WIDTH: u32 = 1280;
const HEIGHT: u32 = 720;
const TILE: u32 = 64;

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

fn start_scene(stack: &SwayStack, scene: &str, dir: &TestDir) -> ChildGuard {
    let binary = stack.install(Path::new(env!("CARGO_BIN_EXE_wrd-scene"))).unwrap();
    let mut cmd = stack.command(binary);
    cmd.arg(scene).args(["--report-ms", "200"]);
    let mut guard = ChildGuard::spawn(&mut cmd, &format!("wrd-scene-{scene}"), dir.path()).unwrap();
    // The first configure may come before the full-screen size is known.
    guard
        .wait_for_log(&format!("drawing at {WIDTH}x{HEIGHT}"), Duration::from_secs(20))
        .unwrap();
    guard
}

/// The first screenshot whose counter is legible (the full-screen buffer is on screen).
fn legible_screenshot(stack: &SwayStack) -> (Image, u16) {
    poll_until(
        Duration::from_secs(10),
        Duration::from_millis(20),
        "the full-screen picture",
        || {
            let shot = screenshot(stack);
            Ok(read_counter(&shot).map(|n| (shot, n)))
        },
    )
    .unwrap()
}

fn screenshot(stack: &SwayStack) -> Image {
    let image = Image::decode_png(&stack.grim_png().unwrap()).unwrap();
    assert_eq!(image.size(), (WIDTH, HEIGHT));
    image
}

fn read_counter(image: &Image) -> Option<u16> {
    let layout = Layout::for_size(WIDTH, HEIGHT).unwrap();
    counter::read(layout, |x, y| image.pixel(x, y).unwrap()[1])
}

/// Tiles (64x64, the last row and column cut at the screen's edge) that are the same in both.
fn unchanged_tiles(a: &Image, b: &Image) -> Vec<(u32, u32)> {
    let mut same = Vec::new();
    for ty in 0..HEIGHT.div_ceil(TILE) {
        for tx in 0..WIDTH.div_ceil(TILE) {
            let (w, h) = ((WIDTH - tx * TILE).min(TILE), (HEIGHT - ty * TILE).min(TILE));
            let ta = a.crop(tx * TILE, ty * TILE, w, h).unwrap();
            let tb = b.crop(tx * TILE, ty * TILE, w, h).unwrap();
            if ta.max_abs_diff(&tb).unwrap() == 0 {
                same.push((tx, ty));
            }
        }
    }
    same
}

#[test]
fn animate_changes_every_tile_and_counts_up() {
    let dir = TestDir::new("wrd-scene-animate").unwrap();
    let stack = stack(&dir);
    let mut scene = start_scene(&stack, "animate", &dir);
    // Two screenshots with at least one frame between them: the counter has moved.
    let (first, a) = legible_screenshot(&stack);
    let (second, b) = poll_until(
        Duration::from_secs(10),
        Duration::from_millis(20),
        "a later frame",
        || {
            let shot = screenshot(&stack);
            let n = read_counter(&shot).expect("the counter is legible");
            Ok((n != a).then_some((shot, n)))
        },
    )
    .unwrap();
    assert!(
        b.wrapping_sub(a) <= counter::MAX_STEP,
        "the counter went from {a} to {b}"
    );
    let same = unchanged_tiles(&first, &second);
    assert!(
        same.is_empty(),
        "tiles unchanged between frames {a} and {b}: {same:?}"
    );
    // The scene reports how many frames it committed, at about the compositor's rate.
    scene
        .wait_for_log("wrd-scene: frames=", Duration::from_secs(5))
        .unwrap();
    assert!(scene.is_running(), "{}", scene.log_tail(10));
}

#[test]
fn static_shows_frame_zero_and_stays_still() {
    let dir = TestDir::new("wrd-scene-static").unwrap();
    let stack = stack(&dir);
    let scene = start_scene(&stack, "static", &dir);
    let (first, n) = legible_screenshot(&stack);
    assert_eq!(n, 0);
    std::thread::sleep(Duration::from_millis(500));
    let second = screenshot(&stack);
    assert_eq!(
        first.max_abs_diff(&second).unwrap(),
        0,
        "the static scene changed"
    );
    // It is the picture of frame 0: the same as the library paints.
    let painter = wrd_scene::picture::Painter::new(WIDTH, HEIGHT);
    let mut expected = vec![0u8; (WIDTH * HEIGHT * 4) as usize];
    assert!(painter.paint(&mut expected, WIDTH as usize * 4, 0));
    let expected = Image::from_bgrx(WIDTH, HEIGHT, WIDTH as usize * 4, &expected).unwrap();
    assert_eq!(first.max_abs_diff(&expected).unwrap(), 0);
    drop(scene);
}

#[test]
fn flip_repaints_the_whole_screen_on_each_key() {
    let dir = TestDir::new("wrd-scene-flip").unwrap();
    let stack = stack(&dir);
    let mut scene = start_scene(&stack, "flip", &dir);
    poll_until(
        Duration::from_secs(10),
        Duration::from_millis(20),
        "the first colour on the whole screen",
        || {
            let shot = screenshot(&stack);
            let uniform = Image::filled(WIDTH, HEIGHT, PALETTE[0]).unwrap();
            Ok((shot.max_abs_diff(&uniform).unwrap() == 0).then_some(()))
        },
    )
    .unwrap();
    // headless sway has no keyboard until wtype makes a virtual one: wtype waits before typing
    // so that the scene has its wl_keyboard and focus by then. a, Shift+b, c: three
    // repaints; the Shift modifier (a modifiers event) none. (wtype numbers the keys of its
    // own keymap, so the key codes are not asserted.)
    let mut wtype = stack.command("wtype");
    wtype.args([
        "-s", "2000", "a", "-M", "shift", "b", "-m", "shift", "-s", "200", "c",
    ]);
    let typed = stack.output(&mut wtype).unwrap();
    assert!(typed.status.success(), "wtype: {typed:?}");
    scene.wait_for_log(" colour 3", Duration::from_secs(5)).unwrap();
    let log = scene.log();
    assert!(log.contains("wrd-scene: keyboard focus"), "{log}");
    let colours: Vec<&str> = log
        .lines()
        .filter(|l| l.starts_with("wrd-scene: key "))
        .filter_map(|l| l.split_once(" colour ")?.1.split_once(" at ").map(|(c, _)| c))
        .collect();
    assert_eq!(colours, ["1", "2", "3"], "{log}");
    let expected = Image::filled(WIDTH, HEIGHT, PALETTE[3]).unwrap();
    poll_until(
        Duration::from_secs(5),
        Duration::from_millis(20),
        "the fourth colour on the whole screen",
        || Ok((screenshot(&stack).max_abs_diff(&expected).unwrap() == 0).then_some(())),
    )
    .unwrap();
    assert!(scene.is_running(), "{}", scene.log_tail(10));
}
