//! `clipboard`: time from a copy on one side to the pasted content being available on the
//! other, through wrd-server on a headless desktop and the real FreeRDP 2 client.
//!
//! wrd-server runs as `serve --source portal` on a [`SwayStack`] (its clipboard is the wlroots
//! data control one) or, with `--server wrd-mutter`, as `serve --source mutter` on a
//! [`MutterStack`] (the clipboard of its Mutter remote-desktop session); xfreerdp `+clipboard`
//! on a private Xvfb. On GNOME, wl-clipboard needs a keyboard on the seat, which headless
//! Mutter has only once a remote-desktop session typed a key: the client presses Shift first. Four cases, each run once per
//! round with content that differs from round to round (so a paste of the previous round never
//! counts):
//!
//! - text desktop → client: 1 KiB of UTF-8 (`wl-copy` in the sway session), pasted on the client
//!   as `UTF8_STRING` with `xclip -o`;
//! - text client → desktop: the same size copied on the client's X display by
//!   [`XClipboardOwner`], pasted with `wl-paste`;
//! - picture desktop → client: a 1920x1080 PNG copied with `wl-copy`, pasted as `image/bmp`
//!   (xfreerdp gets it as a DIB from the server);
//! - picture client → desktop: a 1920x1080 BMP (8 MB) copied by [`XClipboardOwner`] (with ICCCM
//!   `INCR` as toolkits do it), pasted as `image/png` with `wl-paste`.
//!
//! The clock starts just before the copying program is started and stops when a paste
//! returned exactly the copied content (pictures: the same pixels). Pastes are tried back to
//! back, each a new process as a user's paste would be, so the figure includes one paste
//! program's run and up to one more (the paste that started just before the content arrived).
//! Delayed rendering: nothing moves until the first paste asks, so the time is what a user
//! pasting right after the copy waits.

use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};
use serde::Serialize;
use wrd_clipboard::Limits;
use wrd_clipboard::image::{DibKind, RgbaImage, dib_to_rgba, png_to_rgba, rgba_to_dib, rgba_to_png};
use wrd_testkit::{
    ChildGuard, Security, XClipboardOwner, XFreeRdp, XFreeRdpOptions, Xvfb, output_with_timeout,
};

use crate::cli::{ClipboardArgs, ServerArg};

/// What wl-clipboard says on a seat without a keyboard.
const NO_KEYBOARD: &str = "This seat has no keyboard";
use crate::desktop::targets::{self, Target};
use crate::output::{Output, ms};
use crate::stats::Summary;

/// The desktop's size (the clipboard does not depend on it; small keeps the stack light).
const DESKTOP: (u16, u16) = (1280, 720);
/// One paste program's run at most.
const PASTE_TIMEOUT: Duration = Duration::from_secs(15);
const TEXT_BYTES: usize = 1024;
const PICTURE: (u32, u32) = (1920, 1080);
const TEXT_MIME: &str = "text/plain;charset=utf-8";

/// The four measured cases.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Case {
    TextToClient,
    TextToDesktop,
    PictureToClient,
    PictureToDesktop,
}

impl Case {
    const ALL: [Self; 4] = [
        Self::TextToClient,
        Self::TextToDesktop,
        Self::PictureToClient,
        Self::PictureToDesktop,
    ];

    fn label(self) -> &'static str {
        match self {
            Self::TextToClient => "text 1 KiB, desktop -> client",
            Self::TextToDesktop => "text 1 KiB, client -> desktop",
            Self::PictureToClient => "picture 1920x1080, desktop -> client",
            Self::PictureToDesktop => "picture 1920x1080, client -> desktop",
        }
    }

    fn key(self) -> &'static str {
        match self {
            Self::TextToClient => "text_to_client",
            Self::TextToDesktop => "text_to_desktop",
            Self::PictureToClient => "picture_to_client",
            Self::PictureToDesktop => "picture_to_desktop",
        }
    }
}

#[derive(Debug, Serialize)]
struct Record<'a> {
    bench: &'static str,
    case: &'static str,
    label: &'static str,
    bytes: usize,
    rounds: usize,
    /// Copy to paste, milliseconds.
    copy_to_paste_ms: Option<Summary>,
    samples_ms: &'a [f64],
}

/// Runs the benchmark: starts the stack, the server and the client once, then `--rounds`
/// rounds of the four cases.
pub fn run(args: &ClipboardArgs, out: &mut Output) -> Result<()> {
    if args.rounds == 0 {
        return Err(crate::UsageError("--rounds must be at least 1".into()).into());
    }
    let desktop = match args.server {
        ServerArg::Wrd => "headless sway",
        ServerArg::WrdMutter => "headless GNOME (Mutter)",
        ServerArg::Gnome | ServerArg::Weston => {
            return Err(crate::UsageError(
                "--server: wrd or wrd-mutter (the clipboard of wrd-server)".into(),
            )
            .into());
        }
    };
    crate::interrupt::install()?;
    let work = crate::desktop::new_work_dir("wrd-bench-clipboard")?;
    out.text(format!(
        "clipboard: wrd-server on {desktop}, xfreerdp +clipboard, {} rounds; logs in {}",
        args.rounds,
        work.display()
    ));
    let timeout = Duration::from_secs(60);
    let target = Target::start(args.server, &work, DESKTOP, Some(&args.wrd_server), timeout)?;
    let xvfb = Xvfb::start(&target.log_dir)?;
    let options = XFreeRdpOptions::new(target.addr.port())
        .credentials(targets::USER, &target.password)
        .security(Security::Nla)
        .size(u32::from(DESKTOP.0), u32::from(DESKTOP.1))
        .arg("+clipboard");
    let mut client = XFreeRdp::spawn(&xvfb, &options, &target.log_dir)?;
    client.wait_for_content(timeout)?;
    if args.server == ServerArg::WrdMutter {
        client.focus(timeout)?;
        give_the_seat_a_keyboard(&target, &xvfb, timeout)?;
    }

    let bench = Bench {
        target: &target,
        xvfb: &xvfb,
        desktop_owner: std::cell::RefCell::new(None),
    };
    let mut samples: Vec<Vec<f64>> = vec![Vec::new(); Case::ALL.len()];
    for round in 0..args.rounds {
        for (i, case) in Case::ALL.into_iter().enumerate() {
            crate::interrupt::check()?;
            let took = bench
                .measure(case, round)
                .with_context(|| format!("{} (round {})", case.label(), round + 1))
                .map_err(|e| anyhow::anyhow!("{e:#}; server log:\n{}", tail(&target.server_log(), 20)))?;
            samples[i].push(ms(took));
        }
    }
    for (case, samples) in Case::ALL.into_iter().zip(&samples) {
        let summary = Summary::of(samples);
        if let Some(s) = &summary {
            out.text(format!(
                "{:<38} median {:>7.1} ms  min {:>7.1}  max {:>7.1}  (n={})",
                case.label(),
                s.median,
                s.min,
                s.max,
                s.n
            ));
        }
        out.json(&Record {
            bench: "clipboard",
            case: case.key(),
            label: case.label(),
            bytes: match case {
                Case::TextToClient | Case::TextToDesktop => TEXT_BYTES,
                Case::PictureToClient | Case::PictureToDesktop => (PICTURE.0 * PICTURE.1 * 4) as usize,
            },
            rounds: args.rounds,
            copy_to_paste_ms: summary,
            samples_ms: samples,
        })?;
    }
    drop(client);
    Ok(())
}

/// Presses Shift at the client until wl-clipboard finds a keyboard on the desktop's seat.
fn give_the_seat_a_keyboard(target: &Target, xvfb: &Xvfb, limit: Duration) -> Result<()> {
    let started = Instant::now();
    while started.elapsed() < limit {
        output_with_timeout(xvfb.command("xdotool").args(["key", "shift"]), PASTE_TIMEOUT)?;
        let mut cmd = target.command("wl-paste")?;
        cmd.arg("--list-types");
        let out = output_with_timeout(&mut cmd, PASTE_TIMEOUT)?;
        if !String::from_utf8_lossy(&out.stderr).contains(NO_KEYBOARD) {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(300));
    }
    bail!("Mutter's seat got no keyboard within {limit:?} of Shift presses at the client")
}

fn tail(log: &str, n: usize) -> String {
    let lines: Vec<&str> = log.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

struct Bench<'a> {
    target: &'a Target,
    xvfb: &'a Xvfb,
    /// The last desktop copy's `wl-copy`, kept until the next desktop copy: by then the client's
    /// copy replaced it as the owner, so it ends unnoticed. Ended right after its case, it
    /// would leave the desktop without an owner just as the client copies, and Mutter's
    /// clipboard manager puts its saved copy of the content back at once: the desktop's new
    /// selection and the client's copy would cross (see issue 9's section in BENCHMARKS.md).
    desktop_owner: std::cell::RefCell<Option<ChildGuard>>,
}

impl Bench<'_> {
    fn measure(&self, case: Case, round: usize) -> Result<Duration> {
        if matches!(case, Case::TextToClient | Case::PictureToClient) {
            // Not the owner any more (a client copy came after it): it ends unnoticed, and
            // before the clock starts.
            drop(self.desktop_owner.take());
        }
        match case {
            Case::TextToClient => {
                let text = text_of(round, 'D');
                let started = Instant::now();
                self.desktop_copies(TEXT_MIME, text.as_bytes(), round)?;
                self.client_pastes("UTF8_STRING", started, |data| data == text.as_bytes())
            }
            Case::TextToDesktop => {
                let text = text_of(round, 'C');
                let started = Instant::now();
                let owner = XClipboardOwner::start(self.xvfb.display(), "UTF8_STRING", text.into_bytes())?;
                let text = text_of(round, 'C');
                let took = self.desktop_pastes(TEXT_MIME, started, |data| data == text.as_bytes())?;
                owner.stop()?;
                Ok(took)
            }
            Case::PictureToClient => {
                let image = picture_of(round, 0);
                let png = rgba_to_png(&image).context("encoding the PNG")?;
                let started = Instant::now();
                self.desktop_copies("image/png", &png, round)?;
                self.client_pastes("image/bmp", started, |data| {
                    bmp_to_rgba(data).is_some_and(|got| got == image)
                })
            }
            Case::PictureToDesktop => {
                let image = picture_of(round, 1);
                let bmp = rgba_to_bmp(&image)?;
                let started = Instant::now();
                let owner = XClipboardOwner::start(self.xvfb.display(), "image/bmp", bmp)?;
                let took = self.desktop_pastes("image/png", started, |data| {
                    png_to_rgba(data, &Limits::default()).is_ok_and(|got| got == image)
                })?;
                owner.stop()?;
                Ok(took)
            }
        }
    }

    /// `wl-copy` in the desktop's session; it serves until the guard is dropped or someone else copies.
    fn desktop_copies(&self, mime: &str, data: &[u8], round: usize) -> Result<()> {
        let file = self.target.log_dir.join(format!("copy-{round}"));
        std::fs::write(&file, data).with_context(|| format!("writing {}", file.display()))?;
        let installed = self.target.install(&file)?;
        let mut cmd = self.target.command("sh")?;
        cmd.arg("-c").arg(format!(
            "exec wl-copy --foreground --type '{mime}' < '{}'",
            installed.display()
        ));
        let owner = ChildGuard::spawn(&mut cmd, "wl-copy", &self.target.log_dir)?;
        *self.desktop_owner.borrow_mut() = Some(owner);
        Ok(())
    }

    fn client_pastes(
        &self,
        target: &str,
        started: Instant,
        wanted: impl Fn(&[u8]) -> bool,
    ) -> Result<Duration> {
        poll_paste(
            started,
            || {
                let mut cmd = self.xvfb.command("xclip");
                cmd.args(["-selection", "clipboard", "-o", "-t", target]);
                Ok(output_with_timeout(&mut cmd, PASTE_TIMEOUT)?.stdout)
            },
            wanted,
        )
    }

    fn desktop_pastes(
        &self,
        mime: &str,
        started: Instant,
        wanted: impl Fn(&[u8]) -> bool,
    ) -> Result<Duration> {
        poll_paste(
            started,
            || {
                let mut cmd = self.target.command("wl-paste")?;
                cmd.args(["--no-newline", "--type", mime]);
                Ok(output_with_timeout(&mut cmd, PASTE_TIMEOUT)?.stdout)
            },
            wanted,
        )
    }
}

/// Pastes back to back until one gives what `wanted` accepts; the time since `started`.
fn poll_paste(
    started: Instant,
    mut paste: impl FnMut() -> Result<Vec<u8>>,
    wanted: impl Fn(&[u8]) -> bool,
) -> Result<Duration> {
    let limit = Duration::from_secs(60);
    let mut last = 0;
    while started.elapsed() < limit {
        let data = paste()?;
        if wanted(&data) {
            return Ok(started.elapsed());
        }
        last = data.len();
    }
    bail!("no paste gave the copied content within {limit:?} (the last gave {last} bytes)")
}

/// 1 KiB of text, non-ASCII included, unique to the round and side.
fn text_of(round: usize, side: char) -> String {
    let mut text = format!("round {round} side {side}: Grüße, 日本語, 🦀 ");
    let filler = "abcdefghijklmnopqrstuvwxyz0123456789 ";
    while text.len() < TEXT_BYTES {
        text.push_str(filler);
    }
    while text.len() > TEXT_BYTES {
        text.pop();
    }
    text
}

/// An opaque 1920x1080 picture with gradients, unique to the round and side.
fn picture_of(round: usize, side: u32) -> RgbaImage {
    let (width, height) = PICTURE;
    let mut pixels = Vec::with_capacity((width * height * 4) as usize);
    let shift = u32::try_from(round).unwrap_or(0) * 3 + side * 101;
    for y in 0..height {
        for x in 0..width {
            // The low byte of each: gradients that wrap.
            pixels.extend_from_slice(&[
                (x + shift).to_le_bytes()[0],
                (y * 3 + shift).to_le_bytes()[0],
                (x ^ y).to_le_bytes()[0],
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

/// A BMP file (what X programs exchange as `image/bmp`): the 14-byte file header, then a DIB.
fn rgba_to_bmp(image: &RgbaImage) -> Result<Vec<u8>> {
    let dib = rgba_to_dib(image, DibKind::Dib, &Limits::default()).context("encoding the DIB")?;
    let mut bmp = b"BM".to_vec();
    bmp.extend_from_slice(&u32::try_from(14 + dib.len())?.to_le_bytes());
    bmp.extend_from_slice(&[0; 4]);
    bmp.extend_from_slice(&(14u32 + 40).to_le_bytes());
    bmp.extend_from_slice(&dib);
    Ok(bmp)
}

fn bmp_to_rgba(data: &[u8]) -> Option<RgbaImage> {
    if data.len() < 14 || !data.starts_with(b"BM") {
        return None;
    }
    dib_to_rgba(&data[14..], &Limits::default()).ok()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    #[test]
    fn texts_are_one_kib_and_differ_by_round_and_side() {
        for round in 0..3 {
            assert_eq!(text_of(round, 'D').len(), TEXT_BYTES);
        }
        assert_ne!(text_of(0, 'D'), text_of(1, 'D'));
        assert_ne!(text_of(0, 'D'), text_of(0, 'C'));
    }

    #[test]
    fn pictures_survive_the_bmp_round_trip_and_differ_by_round() {
        let image = picture_of(2, 1);
        assert_eq!(bmp_to_rgba(&rgba_to_bmp(&image).unwrap()).unwrap(), image);
        assert_ne!(picture_of(0, 0), picture_of(1, 0));
        assert_eq!(bmp_to_rgba(b"not a bmp"), None);
    }

    #[test]
    fn a_paste_that_never_matches_gives_up_with_what_it_got() {
        let started = Instant::now() - Duration::from_secs(61);
        let error = poll_paste(started, || Ok(vec![1, 2]), |_| false).unwrap_err();
        assert!(error.to_string().contains("within"), "{error}");
    }
}
