//! What the clipboard suites share (`clipboard_xfreerdp.rs` on sway, `clipboard_mutter.rs` on
//! GNOME): the client's side (xfreerdp `+clipboard` on a private Xvfb, `xclip` copying and
//! pasting there), the desktop's programs (`wl-copy` / `wl-paste` as the desktop's user), and
//! the cases that must hold on every desktop, each written once.
//!
//! Pastes are polled: a paste asked before the copy reached the other side finds the older
//! content (or none), as a user clicking too early would.

// Each suite uses a part of this module.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use wrd_clipboard::Limits;
use wrd_clipboard::image::{DibKind, RgbaImage, dib_to_rgba, png_to_rgba, rgba_to_dib, rgba_to_png};
use wrd_testkit::{
    ChildGuard, MutterStack, SwayStack, TestDir, XClipboardOwner, XFreeRdp, Xvfb, output_with_timeout,
    poll_until,
};

/// Longest any single step may take.
pub const STEP: Duration = Duration::from_secs(30);
/// One paste attempt (the other side may be fetching over RDP).
pub const PASTE: Duration = Duration::from_secs(5);
pub const TEXT_MIME: &str = "text/plain;charset=utf-8";

/// A desktop whose programs run as its own user (sway's and Mutter's test stacks).
pub trait DesktopPrograms {
    fn dir(&self) -> &Path;
    fn command(&self, program: &str) -> Command;
    fn output(&self, cmd: &mut Command) -> anyhow::Result<Output>;
    fn spawn_client(&mut self, cmd: Command, name: &str) -> anyhow::Result<()>;
}

macro_rules! desktop_programs {
    ($stack:ty) => {
        impl DesktopPrograms for $stack {
            fn dir(&self) -> &Path {
                <$stack>::dir(self)
            }
            fn command(&self, program: &str) -> Command {
                <$stack>::command(self, program)
            }
            fn output(&self, cmd: &mut Command) -> anyhow::Result<Output> {
                <$stack>::output(self, cmd)
            }
            fn spawn_client(&mut self, cmd: Command, name: &str) -> anyhow::Result<()> {
                <$stack>::spawn_client(self, cmd, name)
            }
        }
    };
}
desktop_programs!(SwayStack);
desktop_programs!(MutterStack);

/// A desktop, wrd-server on it, and xfreerdp with the clipboard connected to it.
pub struct Rig<D> {
    // Dropped in this order: the client, the server, then the desktop, the directory last.
    pub rdp: XFreeRdp,
    pub xvfb: Xvfb,
    pub server: ChildGuard,
    pub desktop: D,
    pub dir: TestDir,
}

impl<D: DesktopPrograms> Rig<D> {
    /// A desktop program copies `data` as `mime` (wl-copy stays as the owner, stopped with the
    /// desktop).
    pub fn desktop_copies(&mut self, mime: &str, data: &[u8]) {
        let file = self
            .desktop
            .dir()
            .join(format!("copy-{}", mime.replace('/', "_")));
        std::fs::write(&file, data).unwrap();
        // Written by the test (root); read by wl-copy as the desktop's user.
        std::fs::set_permissions(&file, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
        let mut cmd = self.desktop.command("sh");
        cmd.arg("-c").arg(format!(
            "exec wl-copy --foreground --type '{mime}' < '{}'",
            file.display()
        ));
        self.desktop.spawn_client(cmd, "wl-copy").unwrap();
    }

    /// What a desktop program pastes as `mime`, polled until `wanted` accepts it.
    pub fn desktop_pastes(&self, mime: &str, wanted: impl Fn(&[u8]) -> bool) -> Vec<u8> {
        let mut last = Vec::new();
        let found = poll_until(STEP, Duration::from_millis(200), "the desktop's paste", || {
            let out = self
                .desktop
                .output(
                    self.desktop
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
    pub fn client_copies(&self, target: &str, data: &[u8]) -> ChildGuard {
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
    pub fn client_pastes(&self, target: &str, wanted: impl Fn(&[u8]) -> bool) -> Vec<u8> {
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

    /// The X targets the client's clipboard offers now (for failure messages).
    pub fn client_targets(&self) -> String {
        let mut cmd: Command = self.xvfb.command("xclip");
        cmd.args(["-selection", "clipboard", "-o", "-t", "TARGETS"]);
        let out = output_with_timeout(&mut cmd, PASTE).unwrap();
        String::from_utf8_lossy(&out.stdout).replace('\n', " ")
    }
}

/// Text with non-ASCII characters, newlines and a tab both ways (CRLF from the client becomes
/// LF); a later desktop copy replaces the client's on both sides.
pub fn text_both_ways<D: DesktopPrograms>(rig: &mut Rig<D>, from_desktop: &str) {
    let started = Instant::now();
    rig.desktop_copies(TEXT_MIME, from_desktop.as_bytes());
    let pasted = rig.client_pastes("UTF8_STRING", |data| data == from_desktop.as_bytes());
    eprintln!(
        "desktop → client text pasted {:?} after the copy",
        started.elapsed()
    );
    assert_eq!(String::from_utf8(pasted).unwrap(), from_desktop);

    let from_client = "vom Client: ñ, ø, ß, Ω ≈ 3.14\nLinie 2\r\nLinie 3";
    let started = Instant::now();
    let _owner = rig.client_copies("UTF8_STRING", from_client.as_bytes());
    // CRLF from the client is a Windows line end: the desktop gets LF.
    let expected = from_client.replace("\r\n", "\n");
    let pasted = rig.desktop_pastes(TEXT_MIME, |data| data == expected.as_bytes());
    eprintln!(
        "client → desktop text pasted {:?} after the copy",
        started.elapsed()
    );
    assert_eq!(String::from_utf8(pasted).unwrap(), expected);

    let again = "wieder vom Desktop: Ärger, Öl, Übel";
    rig.desktop_copies(TEXT_MIME, again.as_bytes());
    let pasted = rig.client_pastes("UTF8_STRING", |data| data == again.as_bytes());
    assert_eq!(String::from_utf8(pasted).unwrap(), again);
}

/// HTML both ways (CF_HTML on the wire, `text/html` on both ends).
pub fn html_both_ways<D: DesktopPrograms>(rig: &mut Rig<D>, from_desktop: &str) {
    rig.desktop_copies("text/html", from_desktop.as_bytes());
    let pasted = rig.client_pastes("text/html", |data| {
        String::from_utf8_lossy(data).contains("<b>fett</b>")
    });
    let pasted = String::from_utf8(pasted).unwrap();
    eprintln!("client targets: {}", rig.client_targets());
    assert!(pasted.contains(from_desktop), "{pasted:?}");

    let from_client = "<ul><li>eins</li><li>zwei ü</li></ul>";
    let _owner = rig.client_copies("text/html", from_client.as_bytes());
    let pasted = rig.desktop_pastes("text/html", |data| {
        String::from_utf8_lossy(data).contains("zwei ü")
    });
    let pasted = String::from_utf8(pasted).unwrap();
    assert!(pasted.contains(from_client), "{pasted:?}");
}

/// A small picture each way, pixels equal: PNG on the desktop, a DIB on the wire, a BMP on X.
pub fn image_both_ways<D: DesktopPrograms>(rig: &mut Rig<D>) {
    let image = picture(200, 120);
    rig.desktop_copies("image/png", &rgba_to_png(&image).unwrap());
    let pasted = rig.client_pastes("image/bmp", |data| bmp_to_rgba(data).is_some());
    eprintln!("client targets: {}", rig.client_targets());
    assert_eq!(bmp_to_rgba(&pasted).unwrap(), image);

    // xfreerdp 2 sends pictures as CF_DIB, from the X owner's image/bmp: it announces image/png
    // too, but fails to send it.
    let other = picture(90, 70);
    let _owner = rig.client_copies("image/bmp", &rgba_to_bmp(&other));
    let pasted = rig.desktop_pastes("image/png", |data| {
        png_to_rgba(data, &Limits::default()).is_ok_and(|got| got.width == 90)
    });
    assert_eq!(png_to_rgba(&pasted, &Limits::default()).unwrap(), other);
}

/// A 1920x1080 picture (8 MB as a DIB, more than one X request: the X side moves it with
/// `INCR`) both ways. The client's copy comes from an owner that does `INCR` as toolkits do
/// ([`XClipboardOwner`]; xclip's `INCR` is not understood by xfreerdp 2.11, see there).
pub fn full_hd_picture_both_ways<D: DesktopPrograms>(rig: &mut Rig<D>) {
    let image = picture(1920, 1080);
    rig.desktop_copies("image/png", &rgba_to_png(&image).unwrap());
    let pasted = rig.client_pastes("image/bmp", |data| {
        bmp_to_rgba(data).is_some_and(|got| got.width == 1920)
    });
    assert_eq!(bmp_to_rgba(&pasted).unwrap(), image);

    let mut other = picture(1920, 1080);
    other.pixels.reverse();
    for pixel in other.pixels.chunks_exact_mut(4) {
        pixel[3] = 255;
    }
    let owner = XClipboardOwner::start(rig.xvfb.display(), "image/bmp", rgba_to_bmp(&other)).unwrap();
    let pasted = rig.desktop_pastes("image/png", |data| {
        png_to_rgba(data, &Limits::default()).is_ok_and(|got| got.pixels == other.pixels)
    });
    assert_eq!(png_to_rgba(&pasted, &Limits::default()).unwrap(), other);
    owner.stop().unwrap();
}

/// The client's files pasted on the desktop: a file and a directory tree copied on the client
/// (xfreerdp announces `FileGroupDescriptorW`), pasted as `text/uri-list` and as
/// `x-special/gnome-copied-files` from the same download in the session's 0700 directory,
/// bytes equal; a copy over the item limit fails with a log line naming both sizes; the
/// directory goes with the session.
pub fn client_files_land_in_the_session_directory<D: DesktopPrograms>(rig: Rig<D>) {
    let source = rig.dir.path().join("client-files");
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
    let _owner = rig.client_copies("text/uri-list", list.as_bytes());
    let pasted = rig.desktop_pastes("text/uri-list", |data| uri_paths(data).len() == 2);
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
    let pasted = rig.desktop_pastes("x-special/gnome-copied-files", |data| data.starts_with(b"copy\n"));
    assert_eq!(uri_paths(&pasted), paths, "{}", String::from_utf8_lossy(&pasted));
    assert_eq!(std::fs::read_dir(&session_dir).unwrap().count(), 1);

    // Over the limit (64 MiB for all files of a paste, as for any item): the paste fails at
    // once, saying so, and nothing is fetched. The file is sparse: nothing of it is on disk.
    let big = source.join("big.bin");
    std::fs::File::create(&big)
        .unwrap()
        .set_len(65 * 1024 * 1024)
        .unwrap();
    let _big_owner = rig.client_copies(
        "text/uri-list",
        format!("file://{}\r\n", big.display()).as_bytes(),
    );
    poll_until(STEP, Duration::from_millis(200), "the limit's log line", || {
        let out = rig
            .desktop
            .output(
                rig.desktop
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
        Ok(rig
            .server
            .log_tail(100_000)
            .contains(
                "the pasted files together of 68157440 bytes exceeds the clipboard limit of 67108864 bytes",
            )
            .then_some(()))
    })
    .unwrap_or_else(|e| panic!("{e:#}; server log:\n{}", rig.server.log_tail(30)));

    // The session's directory goes with the session.
    let Rig { rdp, server, .. } = rig;
    drop(rdp);
    poll_until(
        STEP,
        Duration::from_millis(100),
        "the session directory removed",
        || Ok((!session_dir.exists()).then_some(())),
    )
    .unwrap_or_else(|e| panic!("{e:#}; server log:\n{}", server.log_tail(30)));
}

/// The desktop's files pasted by FreeRDP 3 (`rig`'s client must be `xfreerdp3`): its X
/// clipboard offers `text/uri-list` of files in its FUSE mount, and reading them there makes it
/// ask us for their contents (File Contents requests); the bytes must be the desktop's.
pub fn desktop_files_reach_freerdp3<D: DesktopPrograms>(mut rig: Rig<D>) {
    let source = rig.desktop.dir().join("desktop-files");
    std::fs::create_dir_all(source.join("tree")).unwrap();
    let first = file_bytes(1_500_000, 4);
    let second = file_bytes(4_321, 5);
    std::fs::write(source.join("first.bin"), &first).unwrap();
    std::fs::write(source.join("tree/second.bin"), &second).unwrap();
    for path in ["", "tree"] {
        std::fs::set_permissions(
            source.join(path),
            std::os::unix::fs::PermissionsExt::from_mode(0o755),
        )
        .unwrap();
    }
    for path in ["first.bin", "tree/second.bin"] {
        std::fs::set_permissions(
            source.join(path),
            std::os::unix::fs::PermissionsExt::from_mode(0o644),
        )
        .unwrap();
    }
    let list = format!(
        "file://{}\r\nfile://{}\r\n",
        source.join("first.bin").display(),
        source.join("tree").display()
    );
    let started = Instant::now();
    rig.desktop_copies("text/uri-list", list.as_bytes());
    let pasted = rig.client_pastes("text/uri-list", |data| uri_paths(data).len() == 2);
    let paths = uri_paths(&pasted);
    eprintln!("FreeRDP 3 pastes {paths:?}");
    assert_eq!(std::fs::read(&paths[0]).unwrap(), first);
    assert_eq!(std::fs::read(paths[1].join("second.bin")).unwrap(), second);
    eprintln!(
        "desktop → client files read {:?} after the copy",
        started.elapsed()
    );
}

/// An opaque test picture: gradients and a sharp edge, no two neighbours alike.
pub fn picture(width: u32, height: u32) -> RgbaImage {
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
pub fn bmp_to_rgba(data: &[u8]) -> Option<RgbaImage> {
    if data.len() < 14 || &data[..2] != b"BM" {
        return None;
    }
    dib_to_rgba(&data[14..], &Limits::default()).ok()
}

/// A BMP file of `image`: the file header, then the DIB.
pub fn rgba_to_bmp(image: &RgbaImage) -> Vec<u8> {
    let dib = rgba_to_dib(image, DibKind::Dib, &Limits::default()).unwrap();
    let mut bmp = b"BM".to_vec();
    bmp.extend_from_slice(&u32::try_from(14 + dib.len()).unwrap().to_le_bytes());
    bmp.extend_from_slice(&[0; 4]);
    bmp.extend_from_slice(&(14u32 + 40).to_le_bytes()); // pixels after the two headers
    bmp.extend_from_slice(&dib);
    bmp
}

/// Bytes unlike any text: every value, in an order that shows misplaced ranges.
pub fn file_bytes(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|index| u8::try_from((index * 31 + index / 251 + usize::from(seed)) % 256).unwrap())
        .collect()
}

/// The local paths of a `text/uri-list` (the test's names need no escapes but spaces).
pub fn uri_paths(data: &[u8]) -> Vec<PathBuf> {
    String::from_utf8_lossy(data)
        .lines()
        .filter(|line| line.starts_with("file://"))
        .map(|line| PathBuf::from(line.trim_start_matches("file://").replace("%20", " ")))
        .collect()
}
