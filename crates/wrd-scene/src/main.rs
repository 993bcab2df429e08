//! `wrd-scene animate|static|flip`: a full-screen Wayland client drawing the benchmark picture
//! (see the library docs). It needs only `wl_compositor` (v4), `wl_shm` and `xdg_wm_base`
//! (and `wl_seat` for `flip`), which sway, mutter and weston all offer.
//!
//! It prints a line whenever it starts drawing at a new size (`wrd-scene: drawing at WxH`: the
//! first configure may not have the full-screen size yet), one when the first frame is
//! committed and then, for `animate`, a line every
//! `--report-ms` with the number of frames committed so far and the seconds since the first:
//! `wrd-scene: frames=600 seconds=10.012`. `flip` prints `wrd-scene: keyboard focus` when its
//! window gets the keyboard (and `wrd-scene: keyboard focus lost`), and
//! `wrd-scene: key K colour I at S.NNNNNNNNN` for each key press it repaints for (evdev code
//! K, palette index I, `CLOCK_MONOTONIC` seconds when the key event was handled). It runs until the compositor closes the window or a
//! signal ends it.

mod window;

use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, ValueEnum};

/// Full-screen benchmark content for Wayland compositors.
#[derive(Debug, Parser)]
#[command(name = "wrd-scene", version)]
struct Cli {
    /// What to show
    #[arg(value_enum)]
    scene: Scene,

    /// Size to draw until the compositor says which size the full-screen window has
    #[arg(long, value_name = "WxH", default_value = "1920x1080", value_parser = parse_size)]
    size: (u32, u32),

    /// Interval of the frame-count lines (animate)
    #[arg(long, value_name = "MS", default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..))]
    report_ms: u64,
}

/// The scenes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Scene {
    /// Redraw the whole surface on every frame callback (moving bars and a frame counter)
    Animate,
    /// Draw frame 0 once, then nothing
    Static,
    /// One solid colour, repainted in the next colour on every key press (modifiers aside)
    Flip,
}

fn parse_size(s: &str) -> Result<(u32, u32), String> {
    let (w, h) = s
        .split_once('x')
        .ok_or_else(|| format!("{s:?}: expected WIDTHxHEIGHT"))?;
    let parse = |v: &str| {
        v.parse::<u32>()
            .ok()
            .filter(|n| (1..=8192).contains(n))
            .ok_or_else(|| format!("{s:?}: {v:?} is not a size between 1 and 8192"))
    };
    Ok((parse(w)?, parse(h)?))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match window::run(cli.scene, cli.size, Duration::from_millis(cli.report_ms)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("wrd-scene: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
