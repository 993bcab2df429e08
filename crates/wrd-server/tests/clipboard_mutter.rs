//! The clipboard both ways on GNOME, end to end: xfreerdp (FreeRDP 2, `+clipboard`) on a
//! private Xvfb with `xclip`, `wrd-server serve --source mutter` on a real headless Mutter
//! (wrd-testkit's `MutterStack`) sharing the clipboard of its remote-desktop session, and
//! `wl-copy` / `wl-paste` as the desktop's programs.
//!
//! On GNOME, wl-clipboard has no data control protocol: it opens a surface of its own and uses
//! the seat's keyboard focus, so it needs a seat with a keyboard. Headless Mutter has one only
//! once a remote-desktop session typed a key: the client's user presses Shift first.

// Test code: a failed step is the test failing, so unwrap/panic are the right tools here.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use wrd_clipboard::Limits;
use wrd_clipboard::image::{DibKind, RgbaImage, dib_to_rgba, png_to_rgba, rgba_to_dib, rgba_to_png};
use wrd_testkit::{
    ChildGuard, MutterStack, MutterStackOptions, Security, TestDir, XClipboardOwner, XFreeRdp,
    XFreeRdpOptions, Xvfb, free_port, output_with_timeout, poll_until, wait_for_port,
};

const USER: &str = "rdpuser";
const PASSWORD: &str = "mutter-clip-pw";
const WIDTH: u32 = 1024;
const HEIGHT: u32 = 768;
/// Longest any single step may take.
const STEP: Duration = Duration::from_secs(30);
/// One paste attempt (the other side may be fetching over RDP).
const PASTE: Duration = Duration::from_secs(5);
const TEXT_MIME: &str = "text/plain;charset=utf-8";
/// What wl-clipboard says on a seat without a keyboard.
const NO_KEYBOARD: &str = "This seat has no keyboard";

struct Setup {
    // Dropped in this order: the client, the server, then the stack, the directory last.
    _rdp: XFreeRdp,
    xvfb: Xvfb,
    server: ChildGuard,
    stack: MutterStack,
    dir: TestDir,
}

fn start(name: &str) -> Setup {
    let dir = TestDir::new(name).unwrap();
    let stack = MutterStack::start(
        dir.path(),
        &MutterStackOptions {
            monitors: vec![(WIDTH, HEIGHT)],
        },
    )
    .unwrap();
    let port = free_port();
    let binary = stack
        .install(Path::new(env!("CARGO_BIN_EXE_wrd-server")))
        .unwrap();
    let listen = format!("127.0.0.1:{port}");
    let mut cmd = stack.command(&binary);
    cmd.args([
        "serve",
        "--source",
        "mutter",
        "--listen",
        &listen,
        "--username",
        USER,
    ])
    .env("WRD_PASSWORD", PASSWORD)
    .env(
        "RUST_LOG",
        std::env::var("WRD_TEST_SERVER_LOG")
            .unwrap_or_else(|_| "info,wrd_server::clipboard=debug,wrd_mutter=debug".to_owned()),
    );
    let mut server = ChildGuard::spawn(&mut cmd, "wrd-server", dir.path()).unwrap();
    server
        .wait_for_log(
            "clipboard: shared with clients through Mutter's remote-desktop session",
            STEP,
        )
        .unwrap();
    wait_for_port(listen.parse().unwrap(), STEP).unwrap();

    let xvfb = Xvfb::start(dir.path()).unwrap();
    let options = XFreeRdpOptions::new(port)
        .credentials(USER, PASSWORD)
        .security(Security::Nla)
        .size(WIDTH, HEIGHT)
        .arg("+clipboard");
    let mut rdp = XFreeRdp::spawn(&xvfb, &options, dir.path()).unwrap();
    // Mutter sends frames only on change: the server's watchdog makes it paint again.
    rdp.wait_for_content(Duration::from_secs(45)).unwrap();
    rdp.focus(STEP).unwrap();
    let setup = Setup {
        _rdp: rdp,
        xvfb,
        server,
        stack,
        dir,
    };
    setup.give_the_seat_a_keyboard();
    setup
}

impl Setup {
    /// Presses Shift at the client until the desktop's seat has a keyboard (Mutter makes the
    /// session's virtual keyboard on its first key).
    fn give_the_seat_a_keyboard(&self) {
        poll_until(
            STEP,
            Duration::from_millis(300),
            "a keyboard on Mutter's seat",
            || {
                let out =
                    output_with_timeout(self.xvfb.command("xdotool").args(["key", "shift"]), STEP).unwrap();
                assert!(out.status.success(), "xdotool: {out:?}");
                let out = self
                    .stack
                    .output(self.stack.command("wl-paste").arg("--list-types"))
                    .unwrap();
                Ok((!String::from_utf8_lossy(&out.stderr).contains(NO_KEYBOARD)).then_some(()))
            },
        )
        .unwrap_or_else(|e| panic!("{e:#}; server log:\n{}", self.server.log_tail(30)));
    }

    /// A desktop program copies `data` as `mime` (wl-copy stays as the owner, stopped with the stack).
    fn desktop_copies(&mut self, mime: &str, data: &[u8]) {
        let file = self.stack.dir().join(format!("copy-{}", mime.replace('/', "_")));
        std::fs::write(&file, data).unwrap();
        // Written by the test (root); read by wl-copy as the stack user.
        std::fs::set_permissions(&file, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
        let mut cmd = self.stack.command("sh");
        cmd.arg("-c").arg(format!(
            "exec wl-copy --foreground --type '{mime}' < '{}'",
            file.display()
        ));
        self.stack.spawn_client(cmd, "wl-copy").unwrap();
    }

    /// What a desktop program pastes as `mime`, polled until `wanted` accepts it.
    fn desktop_pastes(&self, mime: &str, wanted: impl Fn(&[u8]) -> bool) -> Vec<u8> {
        let mut last = Vec::new();
        let found = poll_until(STEP, Duration::from_millis(200), "the desktop's paste", || {
            let out = self
                .stack
                .output(
                    self.stack
                        .command("wl-paste")
                        .args(["--no-newline", "--type", mime]),
                )
                .unwrap();
            last = out.stdout;
            Ok(wanted(&last).then(|| last.clone()))
        });
        found.unwrap_or_else(|e| {
            panic!(
                "{e:#}; last paste {:?}; server log:\n{}",
                String::from_utf8_lossy(&last),
                self.server.log_tail(30)
            )
        })
    }

    /// The client's user copies `data` as X target `target` (xclip stays as the owner).
    fn client_copies(&self, target: &str, data: &[u8]) -> ChildGuard {
        let file = self
            .dir
            .path()
            .join(format!("x-copy-{}", target.replace('/', "_")));
        std::fs::write(&file, data).unwrap();
        let mut cmd = self.xvfb.command("xclip");
        cmd.args(["-selection", "clipboard", "-quiet", "-t", target, "-i"])
            .arg(&file);
        ChildGuard::spawn(&mut cmd, "xclip-copy", self.dir.path()).unwrap()
    }

    /// What the client's user pastes as X target `target`, polled until `wanted` accepts it.
    fn client_pastes(&self, target: &str, wanted: impl Fn(&[u8]) -> bool) -> Vec<u8> {
        let mut last = Vec::new();
        let found = poll_until(STEP, Duration::from_millis(200), "the client's paste", || {
            let mut cmd: Command = self.xvfb.command("xclip");
            cmd.args(["-selection", "clipboard", "-o", "-t", target]);
            let out = output_with_timeout(&mut cmd, PASTE).unwrap();
            last = out.stdout;
            Ok(wanted(&last).then(|| last.clone()))
        });
        found.unwrap_or_else(|e| {
            panic!(
                "{e:#}; last paste {:?}; server log:\n{}",
                String::from_utf8_lossy(&last),
                self.server.log_tail(30)
            )
        })
    }
}

#[test]
fn text_with_non_ascii_and_newlines_both_ways_on_gnome() {
    let mut setup = start("clipboard-mutter-text");

    let from_desktop = "Grüße aus GNOME — €, 日本語, 🦀\nzweite Zeile\n\ndritte\tmit Tab";
    let started = Instant::now();
    setup.desktop_copies(TEXT_MIME, from_desktop.as_bytes());
    let pasted = setup.client_pastes("UTF8_STRING", |data| data == from_desktop.as_bytes());
    eprintln!(
        "desktop → client text pasted {:?} after the copy",
        started.elapsed()
    );
    assert_eq!(String::from_utf8(pasted).unwrap(), from_desktop);

    let from_client = "vom Client: ñ, ø, ß, Ω ≈ 3.14\nLinie 2\r\nLinie 3";
    let started = Instant::now();
    let _owner = setup.client_copies("UTF8_STRING", from_client.as_bytes());
    // CRLF from the client is a Windows line end: the desktop gets LF.
    let expected = from_client.replace("\r\n", "\n");
    let pasted = setup.desktop_pastes(TEXT_MIME, |data| data == expected.as_bytes());
    eprintln!(
        "client → desktop text pasted {:?} after the copy",
        started.elapsed()
    );
    assert_eq!(String::from_utf8(pasted).unwrap(), expected);

    // A second desktop copy replaces the client's on both sides.
    let again = "wieder vom Desktop: Ärger, Öl, Übel";
    setup.desktop_copies(TEXT_MIME, again.as_bytes());
    let pasted = setup.client_pastes("UTF8_STRING", |data| data == again.as_bytes());
    assert_eq!(String::from_utf8(pasted).unwrap(), again);
}

/// An opaque test picture: gradients and a sharp edge, no two neighbours alike.
fn picture(width: u32, height: u32) -> RgbaImage {
    let mut pixels = Vec::with_capacity((width * height * 4) as usize);
    for y in 0..height {
        for x in 0..width {
            let edge = if x < width / 3 { 255 } else { 0 };
            pixels.extend_from_slice(&[
                u8::try_from(x * 7 % 256).unwrap(),
                u8::try_from(y * 5 % 256).unwrap(),
                edge,
                255,
            ]);
        }
    }
    RgbaImage {
        width,
        height,
        pixels,
    }
}

/// A BMP file (what X programs get as `image/bmp`): a 14-byte file header, then a DIB.
fn bmp_to_rgba(data: &[u8]) -> Option<RgbaImage> {
    if data.len() < 14 || &data[..2] != b"BM" {
        return None;
    }
    dib_to_rgba(&data[14..], &Limits::default()).ok()
}

/// A BMP file of `image`: the file header, then the DIB.
fn rgba_to_bmp(image: &RgbaImage) -> Vec<u8> {
    let dib = rgba_to_dib(image, DibKind::Dib, &Limits::default()).unwrap();
    let mut bmp = b"BM".to_vec();
    bmp.extend_from_slice(&u32::try_from(14 + dib.len()).unwrap().to_le_bytes());
    bmp.extend_from_slice(&[0; 4]);
    bmp.extend_from_slice(&(14u32 + 40).to_le_bytes()); // pixels after the two headers
    bmp.extend_from_slice(&dib);
    bmp
}

#[test]
fn an_image_both_ways_with_its_pixels_on_gnome() {
    let mut setup = start("clipboard-mutter-image");
    let image = picture(200, 120);

    setup.desktop_copies("image/png", &rgba_to_png(&image).unwrap());
    let pasted = setup.client_pastes("image/bmp", |data| bmp_to_rgba(data).is_some());
    assert_eq!(bmp_to_rgba(&pasted).unwrap(), image);

    // xfreerdp 2 sends pictures as CF_DIB, from the X owner's image/bmp.
    let other = picture(90, 70);
    let _owner = setup.client_copies("image/bmp", &rgba_to_bmp(&other));
    let pasted = setup.desktop_pastes("image/png", |data| {
        png_to_rgba(data, &Limits::default()).is_ok_and(|got| got.width == 90)
    });
    assert_eq!(png_to_rgba(&pasted, &Limits::default()).unwrap(), other);
}

#[test]
fn html_both_ways_on_gnome() {
    let mut setup = start("clipboard-mutter-html");

    let from_desktop = "<p>Grüße <b>fett</b> aus GNOME</p>";
    setup.desktop_copies("text/html", from_desktop.as_bytes());
    let pasted = setup.client_pastes("text/html", |data| {
        String::from_utf8_lossy(data).contains("<b>fett</b>")
    });
    let pasted = String::from_utf8(pasted).unwrap();
    assert!(pasted.contains(from_desktop), "{pasted:?}");

    let from_client = "<ul><li>eins</li><li>zwei ü</li></ul>";
    let _owner = setup.client_copies("text/html", from_client.as_bytes());
    let pasted = setup.desktop_pastes("text/html", |data| {
        String::from_utf8_lossy(data).contains("zwei ü")
    });
    let pasted = String::from_utf8(pasted).unwrap();
    assert!(pasted.contains(from_client), "{pasted:?}");
}

/// The desktop program that copied exits: Mutter reports a selection without an owner (the
/// client is told the clipboard is empty), and a client copy afterwards still reaches the
/// desktop.
#[test]
fn a_client_copy_after_the_desktop_owner_exited_on_gnome() {
    let setup = start("clipboard-mutter-owner-exit");

    let from_desktop = "vom Desktop, dessen Programm gleich endet";
    let file = setup.stack.dir().join("copy-owner-exit");
    std::fs::write(&file, from_desktop).unwrap();
    std::fs::set_permissions(&file, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
    let mut cmd = setup.stack.command("sh");
    cmd.arg("-c").arg(format!(
        "exec wl-copy --foreground --type '{TEXT_MIME}' < '{}'",
        file.display()
    ));
    let mut owner = ChildGuard::spawn(&mut cmd, "wl-copy-owner", setup.dir.path()).unwrap();
    setup.client_pastes("UTF8_STRING", |data| data == from_desktop.as_bytes());

    owner.stop().unwrap();
    poll_until(
        STEP,
        Duration::from_millis(100),
        "the client told the desktop's clipboard is empty",
        || {
            Ok(setup
                .server
                .log()
                .contains("wrd_server::clipboard: clipboard: the desktop's selection changed mimes=[]")
                .then_some(()))
        },
    )
    .unwrap_or_else(|e| panic!("{e:#}; server log:\n{}", setup.server.log_tail(30)));

    let from_client = "vom Client danach: ä\nzweite Zeile";
    let _owner = setup.client_copies("UTF8_STRING", from_client.as_bytes());
    let pasted = setup.desktop_pastes(TEXT_MIME, |data| data == from_client.as_bytes());
    assert_eq!(String::from_utf8(pasted).unwrap(), from_client);
}

/// A 1920x1080 picture (8 MB as a DIB) both ways through Mutter's pipes. The client's copy
/// comes from an owner that does X `INCR` as toolkits do ([`XClipboardOwner`]).
#[test]
fn a_full_hd_picture_both_ways_on_gnome() {
    let mut setup = start("clipboard-mutter-full-hd");

    let image = picture(1920, 1080);
    setup.desktop_copies("image/png", &rgba_to_png(&image).unwrap());
    let pasted = setup.client_pastes("image/bmp", |data| {
        bmp_to_rgba(data).is_some_and(|got| got.width == 1920)
    });
    assert_eq!(bmp_to_rgba(&pasted).unwrap(), image);

    let mut other = picture(1920, 1080);
    other.pixels.reverse();
    for pixel in other.pixels.chunks_exact_mut(4) {
        pixel[3] = 255;
    }
    let owner = XClipboardOwner::start(setup.xvfb.display(), "image/bmp", rgba_to_bmp(&other)).unwrap();
    let pasted = setup.desktop_pastes("image/png", |data| {
        png_to_rgba(data, &Limits::default()).is_ok_and(|got| got.pixels == other.pixels)
    });
    assert_eq!(png_to_rgba(&pasted, &Limits::default()).unwrap(), other);
    owner.stop().unwrap();
}
