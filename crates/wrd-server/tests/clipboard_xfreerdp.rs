//! The clipboard both ways with a real client, end to end: xfreerdp (FreeRDP 2, `+clipboard`)
//! on a private Xvfb, `xclip` as the program copying and pasting on the client's X display,
//! `wrd-server serve --source portal` on the real headless sway stack with its wlroots data
//! control clipboard, and `wl-copy` / `wl-paste` as the desktop's programs.
//!
//! Pastes are polled: a paste asked before the copy reached the other side finds the older
//! content (or none), as a user clicking too early would.

// Test code: a failed step is the test failing, so unwrap/panic are the right tools here.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use wrd_clipboard::Limits;
use wrd_clipboard::image::{DibKind, RgbaImage, dib_to_rgba, png_to_rgba, rgba_to_dib, rgba_to_png};
use wrd_testkit::{
    ChildGuard, Security, StackOptions, SwayStack, TestDir, XClipboardOwner, XFreeRdp, XFreeRdpOptions, Xvfb,
    output_with_timeout, poll_until,
};

const USER: &str = "rdpuser";
const PASSWORD: &str = "clipboard-pw";
const WIDTH: u32 = 1024;
const HEIGHT: u32 = 768;
/// Longest any single step may take.
const STEP: Duration = Duration::from_secs(20);
/// One paste attempt (the other side may be fetching over RDP).
const PASTE: Duration = Duration::from_secs(5);

struct Setup {
    // Dropped in this order: the client, the server, then the stack, the directory last.
    _rdp: XFreeRdp,
    xvfb: Xvfb,
    server: ChildGuard,
    stack: SwayStack,
    dir: TestDir,
}

fn start(name: &str) -> Setup {
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
        "info,wrd_server::clipboard=debug",
        "wlroots data control clipboard ready",
        STEP,
    );
    let xvfb = Xvfb::start(dir.path()).unwrap();
    let options = XFreeRdpOptions::new(port)
        .credentials(USER, PASSWORD)
        .security(Security::Nla)
        .size(WIDTH, HEIGHT)
        .arg("+clipboard");
    let mut rdp = XFreeRdp::spawn(&xvfb, &options, dir.path()).unwrap();
    rdp.wait_for_content(STEP).unwrap();
    Setup {
        _rdp: rdp,
        xvfb,
        server,
        stack,
        dir,
    }
}

impl Setup {
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

const TEXT_MIME: &str = "text/plain;charset=utf-8";

#[test]
fn text_with_non_ascii_and_newlines_both_ways() {
    let mut setup = start("clipboard-text");

    let from_desktop = "Grüße aus Köln — €, 日本語, 🦀\nzweite Zeile\n\ndritte\tmit Tab";
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
}

impl Setup {
    /// The X targets the client's clipboard offers now (for failure messages).
    fn client_targets(&self) -> String {
        let mut cmd: Command = self.xvfb.command("xclip");
        cmd.args(["-selection", "clipboard", "-o", "-t", "TARGETS"]);
        let out = output_with_timeout(&mut cmd, PASTE).unwrap();
        String::from_utf8_lossy(&out.stdout).replace('\n', " ")
    }
}

#[test]
fn html_both_ways() {
    let mut setup = start("clipboard-html");

    let from_desktop = "<p>Grüße <b>fett</b> und <a href=\"https://example.invalid/\">ein Link</a></p>";
    setup.desktop_copies("text/html", from_desktop.as_bytes());
    let pasted = setup.client_pastes("text/html", |data| {
        String::from_utf8_lossy(data).contains("<b>fett</b>")
    });
    let pasted = String::from_utf8(pasted).unwrap();
    eprintln!("client targets: {}", setup.client_targets());
    assert!(pasted.contains(from_desktop), "{pasted:?}");

    let from_client = "<ul><li>eins</li><li>zwei ü</li></ul>";
    let _owner = setup.client_copies("text/html", from_client.as_bytes());
    let pasted = setup.desktop_pastes("text/html", |data| {
        String::from_utf8_lossy(data).contains("zwei ü")
    });
    let pasted = String::from_utf8(pasted).unwrap();
    assert!(pasted.contains(from_client), "{pasted:?}");
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
fn an_image_both_ways_with_its_pixels() {
    let mut setup = start("clipboard-image");
    let image = picture(200, 120);

    setup.desktop_copies("image/png", &rgba_to_png(&image).unwrap());
    let pasted = setup.client_pastes("image/bmp", |data| bmp_to_rgba(data).is_some());
    eprintln!("client targets: {}", setup.client_targets());
    assert_eq!(bmp_to_rgba(&pasted).unwrap(), image);

    // xfreerdp 2 sends pictures as CF_DIB, from the X owner's image/bmp: it announces image/png
    // too, but fails to send it.
    let other = picture(90, 70);
    let _owner = setup.client_copies("image/bmp", &rgba_to_bmp(&other));
    let pasted = setup.desktop_pastes("image/png", |data| {
        png_to_rgba(data, &Limits::default()).is_ok_and(|got| got.width == 90)
    });
    assert_eq!(png_to_rgba(&pasted, &Limits::default()).unwrap(), other);
}

/// Users close the program they copied from: the desktop's selection is then cleared (an
/// empty Format List to the client), and a copy on the client afterwards must still reach the
/// desktop.
#[test]
fn a_client_copy_after_the_desktop_owner_exited() {
    let mut setup = start("clipboard-owner-exit");

    let from_desktop = "vom Desktop, dessen Programm gleich endet";
    setup.desktop_copies(TEXT_MIME, from_desktop.as_bytes());
    setup.client_pastes("UTF8_STRING", |data| data == from_desktop.as_bytes());

    assert_eq!(setup.stack.signal_programs("wl-copy", libc::SIGTERM), 1);
    setup.desktop_clipboard_empties();

    let from_client = "vom Client danach: ä\nzweite Zeile";
    let _owner = setup.client_copies("UTF8_STRING", from_client.as_bytes());
    let pasted = setup.desktop_pastes(TEXT_MIME, |data| data == from_client.as_bytes());
    assert_eq!(String::from_utf8(pasted).unwrap(), from_client);
}

impl Setup {
    /// Waits until the desktop's clipboard offers nothing (its owner is gone).
    fn desktop_clipboard_empties(&self) {
        poll_until(
            STEP,
            Duration::from_millis(100),
            "an empty desktop clipboard",
            || {
                let out = self
                    .stack
                    .output(self.stack.command("wl-paste").arg("--list-types"))
                    .unwrap();
                Ok((!out.status.success() || out.stdout.is_empty()).then_some(()))
            },
        )
        .unwrap();
    }
}

/// A 1920x1080 picture (8 MB as a DIB, more than one X request: the X side moves it with
/// `INCR`) both ways. The client's copy comes from an owner that does `INCR` as toolkits do
/// ([`XClipboardOwner`]; xclip's `INCR` is not understood by xfreerdp 2.11, see there).
#[test]
fn a_full_hd_picture_both_ways() {
    let mut setup = start("clipboard-full-hd");

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

/// Bytes unlike any text: every value, in an order that shows misplaced ranges.
fn file_bytes(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|index| u8::try_from((index * 31 + index / 251 + usize::from(seed)) % 256).unwrap())
        .collect()
}

/// The local paths of a `text/uri-list` (the test's names need no escapes but spaces).
fn uri_paths(data: &[u8]) -> Vec<std::path::PathBuf> {
    String::from_utf8_lossy(data)
        .lines()
        .filter(|line| line.starts_with("file://"))
        .map(|line| std::path::PathBuf::from(line.trim_start_matches("file://").replace("%20", " ")))
        .collect()
}

#[test]
fn files_from_the_client_land_in_the_session_directory() {
    let setup = start("clipboard-files-in");
    let source = setup.dir.path().join("client-files");
    std::fs::create_dir_all(source.join("tree/sub")).unwrap();
    let small = file_bytes(5_000, 1);
    // Several range requests (512 KiB each) and a short last one.
    let large = file_bytes(1_300_000, 2);
    std::fs::write(source.join("small file.bin"), &small).unwrap();
    std::fs::write(source.join("tree/sub/large.bin"), &large).unwrap();
    std::fs::write(source.join("tree/empty"), b"").unwrap();
    let list = format!(
        "file://{}\r\nfile://{}\r\n",
        source
            .join("small file.bin")
            .display()
            .to_string()
            .replace(' ', "%20"),
        source.join("tree").display()
    );
    let started = Instant::now();
    let _owner = setup.client_copies("text/uri-list", list.as_bytes());
    let pasted = setup.desktop_pastes("text/uri-list", |data| uri_paths(data).len() == 2);
    eprintln!(
        "client → desktop files pasted {:?} after the copy: {}",
        started.elapsed(),
        String::from_utf8_lossy(&pasted)
    );
    let paths = uri_paths(&pasted);
    let session_dir = paths[0].parent().unwrap().parent().unwrap().to_owned();
    assert!(
        session_dir
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("clip-"),
        "{}",
        session_dir.display()
    );
    assert_eq!(paths[0].file_name().unwrap(), "small file.bin");
    assert_eq!(std::fs::read(&paths[0]).unwrap(), small);
    assert_eq!(paths[1].file_name().unwrap(), "tree");
    assert_eq!(std::fs::read(paths[1].join("sub/large.bin")).unwrap(), large);
    assert_eq!(std::fs::read(paths[1].join("empty")).unwrap(), b"");
    let mode =
        std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&session_dir).unwrap().permissions());
    assert_eq!(mode & 0o777, 0o700);

    // File managers paste from x-special/gnome-copied-files: the same copy, saved once.
    let pasted = setup.desktop_pastes("x-special/gnome-copied-files", |data| data.starts_with(b"copy\n"));
    assert_eq!(uri_paths(&pasted), paths, "{}", String::from_utf8_lossy(&pasted));
    assert_eq!(std::fs::read_dir(&session_dir).unwrap().count(), 1);

    // Over the limit (64 MiB for all files of a paste, as for any item): the paste fails at
    // once, saying so, and nothing is fetched. The file is sparse: nothing of it is on disk.
    let big = source.join("big.bin");
    std::fs::File::create(&big)
        .unwrap()
        .set_len(65 * 1024 * 1024)
        .unwrap();
    let _big_owner = setup.client_copies(
        "text/uri-list",
        format!("file://{}\r\n", big.display()).as_bytes(),
    );
    poll_until(STEP, Duration::from_millis(200), "the limit's log line", || {
        let out = setup
            .stack
            .output(
                setup
                    .stack
                    .command("wl-paste")
                    .args(["--no-newline", "--type", "text/uri-list"]),
            )
            .unwrap();
        assert!(
            !uri_paths(&out.stdout)
                .iter()
                .any(|path| path.ends_with("big.bin")),
            "{}",
            String::from_utf8_lossy(&out.stdout)
        );
        Ok(setup
            .server
            .log_tail(100_000)
            .contains(
                "the pasted files together of 68157440 bytes exceeds the clipboard limit of 67108864 bytes",
            )
            .then_some(()))
    })
    .unwrap_or_else(|e| panic!("{e:#}; server log:\n{}", setup.server.log_tail(30)));

    // The session's directory goes with the session.
    drop(setup._rdp);
    poll_until(
        STEP,
        Duration::from_millis(100),
        "the session directory removed",
        || Ok((!session_dir.exists()).then_some(())),
    )
    .unwrap_or_else(|e| panic!("{e:#}; server log:\n{}", setup.server.log_tail(30)));
}

/// xfreerdp 2.11 (Debian, no FUSE) cannot paste a server's files (see `clipboard_files.rs`,
/// where the in-process client fetches them), but it must take our file announcement: its X
/// clipboard offers `text/uri-list`, and the session goes on.
#[test]
fn xfreerdp_takes_the_desktops_file_announcement() {
    let mut setup = start("clipboard-files-out");
    let source = setup.stack.dir().join("desktop-files");
    std::fs::create_dir_all(&source).unwrap();
    std::fs::set_permissions(&source, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    std::fs::write(source.join("first.bin"), file_bytes(70_000, 3)).unwrap();
    std::fs::set_permissions(
        source.join("first.bin"),
        std::os::unix::fs::PermissionsExt::from_mode(0o644),
    )
    .unwrap();
    let list = format!("file://{}\r\n", source.join("first.bin").display());
    setup.desktop_copies("text/uri-list", list.as_bytes());
    poll_until(
        STEP,
        Duration::from_millis(200),
        "the client's file targets",
        || {
            // xfreerdp 2.11 offers the list as text/uri-list only.
            Ok(setup.client_targets().contains("text/uri-list").then_some(()))
        },
    )
    .unwrap_or_else(|e| panic!("{e:#}; server log:\n{}", setup.server.log_tail(30)));

    let text = "nach den Dateien";
    setup.desktop_copies(TEXT_MIME, text.as_bytes());
    let pasted = setup.client_pastes("UTF8_STRING", |data| data == text.as_bytes());
    assert_eq!(pasted, text.as_bytes());
}
