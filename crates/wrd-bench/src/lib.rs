//! `wrd-bench`: a benchmark client for RDP servers.
//!
//! - `first-frame`: time from the start of the TCP connect to the first complete picture, with
//!   the in-process client ([`wrd_client`]) or the real FreeRDP client (`xfreerdp` on a
//!   private Xvfb), over several runs: median, min, p95, max.
//! - `watch`: N clients receive and decode for S seconds; update and byte rates per client, and
//!   the server process's CPU (% of one core) and memory (RSS) over the same window.
//! - `desktop`: wrd-server and its peers (gnome-remote-desktop, weston's RDP backend), each on
//!   its own headless desktop, shown the same scenes (`wrd-scene`, a typing terminal) and
//!   measured with `watch`'s machinery, one after another; a table of the results.
//! - `latency`: the same servers and desktops, input-to-pixel latency: key presses from the
//!   client against `wrd-scene flip`, timed to the picture showing the new colour.
//! - `press`: input-to-pixel latency of any server, timed to a change in a region the caller
//!   names (the test pattern's echo box, for instance).
//! - `peers-table`: one table of the servers side by side from a `desktop` and a `latency` run,
//!   written into BENCHMARKS.md (`scripts/bench-peers.sh`).
//!
//! Output is text plus one JSON line per measurement ([`output`]). The binary is a thin
//! wrapper around [`run`].

pub mod cli;
pub mod clipboard;
pub mod coverage;
pub mod desktop;
pub mod first_frame;
pub mod interrupt;
pub mod latency;
pub mod output;
pub mod peers;
pub mod press;
pub mod procfs;
pub mod relay;
pub mod stats;
pub mod watch;
pub mod x11;
pub mod xfreerdp;

use anyhow::Result;

use crate::cli::{Cli, Command};
use crate::output::Output;

/// A mistake in the command line or environment found after parsing (exit status 2).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// Runs the command `cli` asks for.
pub fn run(cli: &Cli) -> Result<()> {
    let mut out = Output::new(cli.json.as_deref())?;
    match &cli.command {
        Command::FirstFrame(args) => first_frame::run(args, &mut out),
        Command::Watch(args) => watch::run(args, &mut out),
        Command::Desktop(args) => desktop::run(args, &mut out),
        Command::Latency(args) => latency::run(args, &mut out),
        Command::Press(args) => press::run(args, &mut out),
        Command::PeersTable(args) => peers::run(args, &mut out),
        Command::Clipboard(args) => clipboard::run(args, &mut out),
    }
}
