//! The headless GNOME of the Mutter tests: a private session bus, PipeWire + WirePlumber and
//! `mutter --headless` with one or more virtual monitors, as the unprivileged stack user (see
//! stack.rs: the same user, directories, environment and guards as [`crate::SwayStack`]).
//!
//! Bare Mutter draws nothing but a plain background, so [`MutterStack::show_picture`] puts a
//! known picture on the primary monitor: `foot`, full screen, prints it as a sixel image, which
//! a terminal draws pixel for pixel at its top-left corner.
//!
//! [`MutterStack::start_portal`] adds xdg-desktop-portal with xdg-desktop-portal-gnome (the
//! portal's ScreenCast and RemoteDesktop on GNOME). Its RemoteDesktop asks for consent on every
//! start; [`MutterStack::accept_remote_desktop_dialog`] clicks through the dialog with the
//! pointer of a Mutter session of its own (`wrd-mutter-probe click`).

use std::collections::HashMap;
use std::ffi::OsStr;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use anyhow::{Context, Result, ensure};

use crate::image::Image;
use crate::stack::{StackCore, XDP};

/// The GNOME backend of the portal.
const XDP_GNOME: &str = "/usr/libexec/xdg-desktop-portal-gnome";
/// What xdg-desktop-portal-gnome 43 logs when it opens a dialog for a request that names no
/// parent window (as a server's does): the dialog is on its way to the screen.
const DIALOG_OPENED: &str = "Failed to associate portal window with parent window";
/// From that log line to a dialog that takes clicks: GTK draws it, Mutter maps it.
const DIALOG_SETTLE: Duration = Duration::from_millis(2000);
/// How long a dialog may take to open.
const DIALOG_TIMEOUT: Duration = Duration::from_secs(30);

/// The Wayland socket name Mutter gets (inside the stack's private runtime directory).
const WAYLAND_DISPLAY: &str = "wayland-mutter";
/// Mutter's services the stack waits for before it counts as up.
const MUTTER_SERVICES: [&str; 3] = [
    "org.gnome.Mutter.DisplayConfig",
    "org.gnome.Mutter.ScreenCast",
    "org.gnome.Mutter.RemoteDesktop",
];
/// Rows left free under a picture: the terminal's cursor goes to the line below the image, and
/// a picture reaching the last line would scroll the screen.
const PICTURE_MARGIN: u32 = 64;

/// A picture [`MutterStack::show_picture`] shows exactly: 16x16 blocks of the 216 colours
/// sixel keeps (channels in multiples of 51), neighbours always different, so a picture
/// shifted, scaled or cut by a pixel does not match.
pub fn sixel_safe_picture(width: u32, height: u32) -> Result<Image> {
    let mut img = Image::new(width, height)?;
    for y in 0..height {
        for x in 0..width {
            let n = ((x / 16) * 31 + (y / 16) * 17) % 216;
            let c = |v: u32| u8::try_from(v * 51).unwrap_or(u8::MAX);
            img.set_pixel(x, y, [c(n / 36), c((n / 6) % 6), c(n % 6)]);
        }
    }
    Ok(img)
}

/// What Mutter shows.
#[derive(Debug, Clone)]
pub struct MutterStackOptions {
    /// One virtual monitor per entry (`--virtual-monitor WxH`), laid out left to right; the
    /// first is the primary. Default: one 1280x720 monitor.
    pub monitors: Vec<(u32, u32)>,
}

impl Default for MutterStackOptions {
    fn default() -> Self {
        Self {
            monitors: vec![(1280, 720)],
        }
    }
}

/// A running headless GNOME. Dropping it stops every process it started (reverse start order).
#[derive(Debug)]
pub struct MutterStack {
    core: StackCore,
    monitors: Vec<(u32, u32)>,
    /// Consent dialogs clicked through so far (each log line of an opened dialog is one).
    dialogs_accepted: usize,
}

impl MutterStack {
    /// Starts the stack in `<dir>/stack` (logs in `dir`); `dir` must be reachable by the stack
    /// user (its mode is widened to 0711).
    pub fn start(dir: &Path, opts: &MutterStackOptions) -> Result<Self> {
        ensure!(
            !opts.monitors.is_empty(),
            "Mutter needs at least one virtual monitor"
        );
        let mut core = StackCore::prepare(dir, &[], "GNOME")?;
        core.start_session_bus()?;
        // Before Mutter: its screen casts need PipeWire, and their consumers WirePlumber.
        core.start_pipewire()?;

        let mut mutter = core.command("mutter");
        mutter
            .args(["--headless", "--wayland", "--no-x11"])
            .arg(format!("--wayland-display={WAYLAND_DISPLAY}"))
            // Defaults only: no dconf service activated on our bus, no user settings.
            .env("GSETTINGS_BACKEND", "memory")
            // Its screen-cast debug lines (buffers, lost frames) in mutter.log, for when a
            // stream stays silent.
            .env("MUTTER_DEBUG", "screen-cast");
        for (w, h) in &opts.monitors {
            mutter.arg("--virtual-monitor").arg(format!("{w}x{h}"));
        }
        core.spawn(mutter, "mutter")?;
        let socket = core.run_dir().join(WAYLAND_DISPLAY);
        core.wait("Mutter's Wayland socket", |_| Ok(socket.exists()))?;
        for service in MUTTER_SERVICES {
            core.wait(&format!("{service} on the bus"), |r| r.bus_has(service))?;
        }
        core.set_env("WAYLAND_DISPLAY", WAYLAND_DISPLAY);
        Ok(Self {
            core,
            monitors: opts.monitors.clone(),
            dialogs_accepted: 0,
        })
    }

    /// Starts xdg-desktop-portal-gnome and xdg-desktop-portal (`XDG_CURRENT_DESKTOP=GNOME`
    /// picks the GNOME backend): the portal's ScreenCast and RemoteDesktop on this desktop.
    pub fn start_portal(&mut self) -> Result<()> {
        ensure!(
            Path::new(XDP_GNOME).exists(),
            "{XDP_GNOME} is missing: scripts/install-deps.sh installs xdg-desktop-portal-gnome"
        );
        // Bus-activated helpers (permission store, the GTK backend) see this desktop.
        self.core.update_activation_environment(&[
            "WAYLAND_DISPLAY",
            "XDG_CURRENT_DESKTOP",
            "XDG_SESSION_TYPE",
            "XDG_RUNTIME_DIR",
            "XDG_CONFIG_HOME",
            "XDG_DATA_HOME",
            "XDG_STATE_HOME",
            "XDG_CACHE_HOME",
        ])?;
        let mut backend = self.core.command(XDP_GNOME);
        // Defaults only, as for Mutter: no dconf service on our bus.
        backend.env("GSETTINGS_BACKEND", "memory");
        self.core.spawn(backend, "xdg-desktop-portal-gnome")?;
        self.core.wait("xdg-desktop-portal-gnome on the bus", |r| {
            r.bus_has("org.freedesktop.impl.portal.desktop.gnome")
        })?;
        let mut portal = self.core.command(XDP);
        portal.arg("-v");
        self.core.spawn(portal, "xdg-desktop-portal")?;
        self.core.wait("xdg-desktop-portal on the bus", |r| {
            r.bus_has("org.freedesktop.portal.Desktop")
        })
    }

    /// Waits (at most 30 s) for the next consent dialog of xdg-desktop-portal-gnome's
    /// RemoteDesktop and accepts it: turns on "Allow remote interaction", then presses "Share".
    /// `probe` is `wrd-mutter-probe` installed in the stack ([`Self::install`]): it clicks
    /// through a Mutter session of its own, which needs no dialog.
    ///
    /// The positions were measured on xdg-desktop-portal-gnome 43 (the dialog centred on the
    /// primary monitor, its size fixed), as offsets from the monitor's centre.
    pub fn accept_remote_desktop_dialog(&mut self, probe: &Path) -> Result<()> {
        let wanted = self.dialogs_accepted + 1;
        let backend_log = self
            .core
            .guard_mut("xdg-desktop-portal-gnome")
            .context("the portal was not started (MutterStack::start_portal)")?
            .log_path()
            .to_path_buf();
        crate::process::poll_until(
            DIALOG_TIMEOUT,
            Duration::from_millis(50),
            "xdg-desktop-portal-gnome's consent dialog",
            || {
                let log = std::fs::read(&backend_log)
                    .map(|b| String::from_utf8_lossy(&b).into_owned())
                    .unwrap_or_default();
                Ok((log.matches(DIALOG_OPENED).count() >= wanted).then_some(()))
            },
        )?;
        std::thread::sleep(DIALOG_SETTLE);
        let (w, h) = self.monitors[0];
        let (cx, cy) = (f64::from(w / 2), f64::from(h / 2));
        let toggle = format!("{},{}", cx + 189.0, cy + 72.0);
        let share = format!("{},{}", cx + 212.0, cy - 128.0);
        let mut click = self.command(probe);
        click.args(["click", &toggle, &share]);
        let out = self.output(&mut click)?;
        ensure!(
            out.status.success(),
            "clicking through the consent dialog failed ({}): {}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        self.dialogs_accepted = wanted;
        Ok(())
    }

    /// `program` as the stack user, in the stack's environment (and nothing else of ours).
    pub fn command(&self, program: impl AsRef<OsStr>) -> Command {
        self.core.command(program)
    }

    /// The stack's environment (`XDG_RUNTIME_DIR`, `WAYLAND_DISPLAY`, the bus address, ...).
    pub fn env(&self) -> &[(String, String)] {
        self.core.env()
    }

    /// `WAYLAND_DISPLAY` of Mutter.
    pub fn wayland_display(&self) -> &str {
        WAYLAND_DISPLAY
    }

    /// The stack directory (owned by the stack user).
    pub fn dir(&self) -> &Path {
        self.core.dir()
    }

    /// Copies `file` into the stack directory (readable and executable by the stack user) and
    /// returns the copy's path.
    pub fn install(&self, file: &Path) -> Result<PathBuf> {
        self.core.install(file)
    }

    /// Runs `cmd` (from [`Self::command`]) to completion, at most 20 s.
    pub fn output(&self, cmd: &mut Command) -> Result<Output> {
        self.core.output(cmd)
    }

    /// Starts a long-running program of the stack user as a guarded child (logged in the test
    /// directory, stopped with the stack).
    pub fn spawn_client(&mut self, cmd: Command, name: &str) -> Result<()> {
        self.core.spawn(cmd, name)
    }

    /// Shows `picture` at the top-left corner of the primary monitor, the rest of it filled
    /// with `background`: a full-screen `foot` (no decorations, no text cursor) prints it as a
    /// sixel image. Sixel colours are percentages, so every channel of the picture must be a
    /// multiple of 51 (0, 51, ..., 255: exact in both scales), with at most 256 colours; it
    /// must leave 64 rows free at the bottom (the terminal's cursor goes below it).
    ///
    /// Returns once the terminal runs; Mutter maps the window a moment later (and animates
    /// it), so look for the picture with a bounded retry.
    pub fn show_picture(&mut self, picture: &Image, background: [u8; 3]) -> Result<()> {
        let (mw, mh) = self.monitors[0];
        ensure!(
            picture.width() <= mw && picture.height() + PICTURE_MARGIN <= mh,
            "a {}x{} picture does not fit a {mw}x{mh} monitor with {PICTURE_MARGIN} rows to spare",
            picture.width(),
            picture.height()
        );
        let path = self.core.dir().join("picture.six");
        std::fs::write(&path, sixel(picture)?).with_context(|| format!("writing {}", path.display()))?;
        self.core.give(&path)?;
        let [r, g, b] = background;
        let mut foot = self.command("foot");
        foot.arg("--fullscreen")
            .arg("--override")
            .arg(format!("colors.background={r:02x}{g:02x}{b:02x}"))
            .args(["--override", "pad=0x0", "sh", "-c"])
            // hide the text cursor, draw, then keep the terminal open
            .arg(r#"printf '\033[?25l'; cat "$1"; exec sleep 100000"#)
            .arg("sh")
            .arg(&path);
        self.core.spawn(foot, "foot-picture")
    }

    /// Stops xdg-desktop-portal-gnome (SIGTERM) and waits for it to be gone, at most 5 s: the
    /// portal's sessions lose their backend.
    pub fn stop_portal_backend(&mut self) -> Result<()> {
        let backend = self
            .core
            .guard_mut("xdg-desktop-portal-gnome")
            .context("the portal was not started (MutterStack::start_portal)")?;
        backend.signal(libc::SIGTERM)?;
        let status = backend.wait_timeout(Duration::from_secs(5))?;
        ensure!(
            status.is_some(),
            "xdg-desktop-portal-gnome was still running 5 s after SIGTERM"
        );
        Ok(())
    }

    /// Kills Mutter with SIGKILL (a compositor crash: no goodbye on the bus) and waits for it
    /// to be gone, at most 5 s.
    pub fn kill_mutter(&mut self) -> Result<()> {
        let mutter = self
            .core
            .guard_mut("mutter")
            .context("this stack has no Mutter")?;
        mutter.signal(libc::SIGKILL)?;
        let status = mutter.wait_timeout(Duration::from_secs(5))?;
        ensure!(status.is_some(), "Mutter was still running 5 s after SIGKILL");
        Ok(())
    }
}

/// `picture` as a sixel image (DEC VT340 graphics, as foot draws them): 1:1 pixels, one
/// palette entry per colour, run-length coded bands of six rows.
fn sixel(picture: &Image) -> Result<Vec<u8>> {
    let (w, h) = picture.size();
    let mut palette: Vec<[u8; 3]> = Vec::new();
    let mut index: HashMap<[u8; 3], usize> = HashMap::new();
    let mut pixels = Vec::with_capacity(w as usize * h as usize);
    for (i, rgb) in picture.as_rgb().chunks_exact(3).enumerate() {
        let rgb = [rgb[0], rgb[1], rgb[2]];
        ensure!(
            rgb.iter().all(|c| c % 51 == 0),
            "pixel {} has colour {rgb:?}: sixel colours are percentages, use multiples of 51",
            i
        );
        let next = palette.len();
        let slot = *index.entry(rgb).or_insert(next);
        if slot == next {
            palette.push(rgb);
        }
        pixels.push(slot);
    }
    ensure!(
        palette.len() <= 256,
        "{} colours: sixel has 256 registers",
        palette.len()
    );

    // DCS P1=0 P2=1 (unset pixels stay transparent) q; raster attributes: aspect 1:1, size.
    let mut out = format!("\x1bP0;1;0q\"1;1;{w};{h}");
    for (i, [r, g, b]) in palette.iter().enumerate() {
        let pct = |c: u8| u32::from(c) * 100 / 255;
        write!(out, "#{i};2;{};{};{}", pct(*r), pct(*g), pct(*b))?;
    }
    let (w, h) = (w as usize, h as usize);
    for band in (0..h).step_by(6) {
        let rows = band..(band + 6).min(h);
        let mut used: Vec<usize> = rows
            .clone()
            .flat_map(|y| pixels[y * w..(y + 1) * w].iter().copied())
            .collect();
        used.sort_unstable();
        used.dedup();
        for (n, colour) in used.iter().enumerate() {
            if n > 0 {
                out.push('$'); // back to the start of the band for the next colour
            }
            write!(out, "#{colour}")?;
            let column = |x: usize| {
                let bits = rows
                    .clone()
                    .enumerate()
                    .filter(|(_, y)| pixels[y * w + x] == *colour)
                    .fold(0u8, |acc, (bit, _)| acc | (1 << bit));
                char::from(63 + bits)
            };
            let mut x = 0;
            while x < w {
                let c = column(x);
                let mut run = 1;
                while x + run < w && column(x + run) == c {
                    run += 1;
                }
                if run > 3 {
                    write!(out, "!{run}{c}")?;
                } else {
                    out.extend(std::iter::repeat_n(c, run));
                }
                x += run;
            }
        }
        out.push('-'); // next band
    }
    out.push_str("\x1b\\");
    Ok(out.into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sixel_encodes_bands_colours_and_runs() {
        // 5 wide, 7 tall: two bands; a red left column, the rest white.
        let mut img = Image::filled(5, 7, [255, 255, 255]).unwrap();
        for y in 0..7 {
            img.set_pixel(0, y, [255, 0, 0]);
        }
        let s = String::from_utf8(sixel(&img).unwrap()).unwrap();
        // palette in order of first use (pixel 0 is red), percentages
        assert!(
            s.starts_with("\x1bP0;1;0q\"1;1;5;7#0;2;100;0;0#1;2;100;100;100"),
            "{s:?}"
        );
        // band 1: red column all six bits (~), then white over the other four columns
        assert!(s.contains("#0~!4?$#1?!4~-"), "{s:?}");
        // band 2: one row only (bit 0 = 1 → '@')
        assert!(s.contains("#0@!4?$#1?!4@-"), "{s:?}");
        assert!(s.ends_with("-\x1b\\"));
    }

    #[test]
    fn sixel_refuses_colours_it_cannot_keep() {
        let img = Image::filled(2, 2, [10, 0, 0]).unwrap();
        assert!(sixel(&img).unwrap_err().to_string().contains("multiples of 51"));
    }
}
