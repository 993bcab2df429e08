//! A private Xvfb display per test.

use std::ffi::OsStr;
use std::io::{PipeReader, Read};
use std::os::fd::AsRawFd;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};

use crate::{ChildGuard, Image, output_with_timeout, parse_xwd};

/// Longest a single screenshot (xwd or import) may take.
const SHOT_TIMEOUT: Duration = Duration::from_secs(20);

/// How to start Xvfb.
#[derive(Debug, Clone)]
pub struct XvfbOptions {
    pub width: u32,
    pub height: u32,
    /// Colour depth; 24 gives a TrueColor visual with 32-bit pixels.
    pub depth: u32,
    /// More Xvfb arguments.
    pub extra_args: Vec<String>,
    /// How long Xvfb may take to report its display number.
    pub start_timeout: Duration,
}

impl Default for XvfbOptions {
    fn default() -> Self {
        Self {
            width: 1920,
            height: 1080,
            depth: 24,
            extra_args: Vec::new(),
            start_timeout: Duration::from_secs(20),
        }
    }
}

impl XvfbOptions {
    /// Screen size (depth stays 24).
    pub fn size(mut self, width: u32, height: u32) -> Self {
        self.width = width;
        self.height = height;
        self
    }
}

/// A private Xvfb (`-displayfd`, so it picks a free display number itself and tells us;
/// `-nolisten tcp`: local socket only; `-noreset`: stays up when the last client leaves).
/// Stopped with its process group when dropped (drop X clients first, or they lose their
/// display).
#[derive(Debug)]
pub struct Xvfb {
    guard: ChildGuard,
    number: u32,
    display: String,
    width: u32,
    height: u32,
}

impl Xvfb {
    /// Starts a 1920x1080x24 Xvfb, its log in `log_dir`.
    pub fn start(log_dir: &Path) -> Result<Self> {
        Self::start_with(&XvfbOptions::default(), log_dir)
    }

    /// Starts Xvfb with `opts`.
    pub fn start_with(opts: &XvfbOptions, log_dir: &Path) -> Result<Self> {
        let (reader, writer) = std::io::pipe().context("creating the -displayfd pipe")?;
        let screen = format!("{}x{}x{}", opts.width, opts.height, opts.depth);
        let mut cmd = Command::new("Xvfb");
        // fd 1 (stdout) is the pipe: Xvfb writes "N\n" there once it accepts connections.
        cmd.args([
            "-displayfd",
            "1",
            "-screen",
            "0",
            &screen,
            "-nolisten",
            "tcp",
            "-noreset",
        ])
        .args(&opts.extra_args);
        let mut guard = ChildGuard::spawn_with_stdout(&mut cmd, "Xvfb", log_dir, Some(Stdio::from(writer)))?;
        // The Command still holds our copy of the pipe's write end: close it, so the reader
        // sees EOF if Xvfb dies before telling its display number.
        drop(cmd);
        let number = match read_display_number(reader, opts.start_timeout) {
            Ok(n) => n,
            Err(e) => {
                let _ = guard.stop();
                return Err(e.context(format!("starting Xvfb; its log:\n{}", guard.log_tail(20))));
            }
        };
        tracing::debug!(display = number, pid = guard.id(), "Xvfb up");
        Ok(Self {
            guard,
            number,
            display: format!(":{number}"),
            width: opts.width,
            height: opts.height,
        })
    }

    /// The display name, `":N"`.
    pub fn display(&self) -> &str {
        &self.display
    }

    /// The display number N.
    pub fn display_number(&self) -> u32 {
        self.number
    }

    /// Screen size.
    pub fn size(&self) -> (u32, u32) {
        (self.width, self.height)
    }

    /// A `Command` for `program` with `DISPLAY` set to this server.
    pub fn command(&self, program: impl AsRef<OsStr>) -> Command {
        let mut cmd = Command::new(program);
        cmd.env("DISPLAY", &self.display);
        cmd
    }

    /// Screenshot of the root window (see [`screenshot_display`]).
    pub fn screenshot(&self) -> Result<Image> {
        screenshot_display(&self.display)
    }

    /// Takes screenshots every 100 ms until `pred` accepts one (returned), at most `timeout`.
    /// On timeout the last screenshot is saved as `<log dir>/timeout-<what>.png`.
    pub fn wait_for_screen(
        &self,
        timeout: Duration,
        what: &str,
        mut pred: impl FnMut(&Image) -> bool,
    ) -> Result<Image> {
        let start = Instant::now();
        loop {
            let shot = self.screenshot()?;
            if pred(&shot) {
                return Ok(shot);
            }
            if start.elapsed() >= timeout {
                let path = crate::xfreerdp::timeout_png_path(self.guard.log_path(), what);
                let saved = shot
                    .save_png(&path)
                    .map_or_else(|e| format!(" (not saved: {e:#})"), |()| String::new());
                bail!(
                    "timed out after {timeout:?} waiting for the screen: {what}; last screenshot {}{saved}",
                    path.display()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The guard of the Xvfb process.
    pub fn guard(&mut self) -> &mut ChildGuard {
        &mut self.guard
    }

    /// Last `n` lines of Xvfb's log.
    pub fn log_tail(&self, n: usize) -> String {
        self.guard.log_tail(n)
    }
}

/// Reads "N\n" from Xvfb's -displayfd pipe, at most `timeout`.
fn read_display_number(mut reader: PipeReader, timeout: Duration) -> Result<u32> {
    let start = Instant::now();
    let mut buf = Vec::new();
    loop {
        if let Some(pos) = buf.iter().position(|b| *b == b'\n') {
            let text = String::from_utf8_lossy(&buf[..pos]).trim().to_owned();
            return text
                .parse()
                .with_context(|| format!("Xvfb wrote {text:?} instead of a display number"));
        }
        let remaining = timeout.saturating_sub(start.elapsed());
        if remaining.is_zero() {
            bail!("Xvfb did not report a display number within {timeout:?}");
        }
        let ms = libc::c_int::try_from(remaining.as_millis())
            .unwrap_or(libc::c_int::MAX)
            .max(1);
        let mut pfd = libc::pollfd {
            fd: reader.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd for an fd we own, for the duration of the call.
        let rc = unsafe { libc::poll(&raw mut pfd, 1, ms) };
        if rc < 0 {
            let e = std::io::Error::last_os_error();
            if e.kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e).context("poll on the -displayfd pipe");
        }
        if rc == 0 {
            continue;
        }
        let mut chunk = [0u8; 64];
        let n = reader.read(&mut chunk).context("reading the -displayfd pipe")?;
        ensure!(n > 0, "Xvfb exited before reporting a display number");
        buf.extend_from_slice(&chunk[..n]);
    }
}

fn in_path(program: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(program).is_file()))
}

/// Screenshot of the root window of X display `display` (e.g. `":3"`): `xwd -root -silent`
/// parsed in Rust, or, when xwd is not installed, `import -window root png:-` (ImageMagick).
/// The X cursor is not part of the picture.
pub fn screenshot_display(display: &str) -> Result<Image> {
    if in_path("xwd") || !in_path("import") {
        let out = output_with_timeout(
            Command::new("xwd").args(["-root", "-silent", "-display", display]),
            SHOT_TIMEOUT,
        )?;
        ensure!(
            out.status.success(),
            "xwd -display {display} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim_end()
        );
        parse_xwd(&out.stdout).with_context(|| format!("parsing xwd output of display {display}"))
    } else {
        let out = output_with_timeout(
            Command::new("import").args(["-display", display, "-silent", "-window", "root", "png:-"]),
            SHOT_TIMEOUT,
        )?;
        ensure!(
            out.status.success(),
            "import -display {display} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim_end()
        );
        Image::decode_png(&out.stdout).with_context(|| format!("decoding import's PNG of display {display}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::TestDir;

    /// Real Xvfb: screenshot size, black root, and what a client draws shows up in both the
    /// xwd and the import path with the right colours (byte order, masks).
    #[test]
    fn xvfb_smoke_screenshot() {
        let dir = TestDir::new("xvfb-smoke").unwrap();
        let t = Instant::now();
        let mut xvfb = Xvfb::start_with(&XvfbOptions::default().size(640, 480), dir.path()).unwrap();
        eprintln!("Xvfb {} up in {:?}", xvfb.display(), t.elapsed());
        let shot = xvfb.screenshot().unwrap();
        assert_eq!(shot.size(), (640, 480));
        assert!(shot.is_uniform(), "a fresh Xvfb root is one colour");

        // Paint a picture onto the root window with ImageMagick's display(1). It sets the root
        // background and exits with status 1 even when it worked (IM 6.9.11), so the status is
        // not checked: the screenshot is. The background survives display's exit only because
        // Xvfb runs with -noreset.
        let mut pattern = Image::filled(640, 480, [0, 0, 0]).unwrap();
        pattern.fill_rect(0, 0, 320, 240, [255, 0, 0]);
        pattern.fill_rect(320, 0, 320, 240, [0, 255, 0]);
        pattern.fill_rect(0, 240, 320, 240, [0, 0, 255]);
        pattern.fill_rect(320, 240, 320, 240, [0x12, 0x34, 0x56]);
        let png = dir.join("pattern.png");
        pattern.save_png(&png).unwrap();
        output_with_timeout(
            xvfb.command("display").arg("-window").arg("root").arg(&png),
            Duration::from_secs(20),
        )
        .unwrap();
        let shot = xvfb
            .wait_for_screen(Duration::from_secs(10), "pattern on root", |s| {
                s.mean_abs_diff(&pattern).is_ok_and(|d| d < 1.0)
            })
            .unwrap();
        shot.save_png(dir.join("xwd.png")).unwrap();
        assert_eq!(shot.pixel(10, 10), Some([255, 0, 0]));
        assert_eq!(shot.pixel(630, 10), Some([0, 255, 0]));
        assert_eq!(shot.pixel(10, 470), Some([0, 0, 255]));
        assert_eq!(shot.pixel(630, 470), Some([0x12, 0x34, 0x56]));

        // ImageMagick's import agrees with the xwd parser
        let out = output_with_timeout(
            Command::new("import").args(["-display", xvfb.display(), "-silent", "-window", "root", "png:-"]),
            Duration::from_secs(20),
        )
        .unwrap();
        assert!(out.status.success());
        let via_import = Image::decode_png(&out.stdout).unwrap();
        assert_eq!(via_import.max_abs_diff(&shot).unwrap(), 0);

        let pid = xvfb.guard().id();
        drop(xvfb);
        assert!(
            !Path::new(&format!("/proc/{pid}")).exists(),
            "Xvfb {pid} still there"
        );
    }

    #[test]
    fn two_displays_at_once() {
        let dir = TestDir::new("xvfb-two").unwrap();
        let opts = XvfbOptions::default().size(320, 200);
        let a = Xvfb::start_with(&opts, dir.path()).unwrap();
        let b = Xvfb::start_with(&opts, dir.path()).unwrap();
        assert_ne!(a.display(), b.display());
        assert_eq!(b.screenshot().unwrap().size(), (320, 200));
    }
}
