//! Harness for wrd-server tests against real programs: guarded child processes, a private
//! Xvfb display per test, screenshots of it, and the FreeRDP 2 client (`xfreerdp`) on it.
//!
//! Used by other crates as a dev-dependency:
//!
//! ```no_run
//! use std::time::Duration;
//! use wrd_testkit::{TestDir, XFreeRdp, XFreeRdpOptions, Xvfb, free_port, wait_for_port};
//!
//! # fn main() -> anyhow::Result<()> {
//! let dir = TestDir::new("smoke")?;
//! let port = free_port();
//! // ... start the server under test on 127.0.0.1:port, e.g. as a ChildGuard ...
//! wait_for_port(([127, 0, 0, 1], port).into(), Duration::from_secs(20))?;
//! let xvfb = Xvfb::start(dir.path())?;
//! let opts = XFreeRdpOptions::new(port).credentials("test", "test").size(1280, 720);
//! let mut client = XFreeRdp::spawn(&xvfb, &opts, dir.path())?;
//! let picture = client.wait_for_content(Duration::from_secs(30))?;
//! picture.save_png(dir.path().join("client.png"))?;
//! # Ok(())
//! # }
//! ```
//!
//! Rules the harness keeps:
//! - every wait is bounded (a timeout is an error that says what was awaited, with log tails);
//! - it stops only processes it started: each child runs in its own process group, and the
//!   group is signalled only while its leader is known to be unreaped (see [`ChildGuard`]);
//! - it binds nothing but 127.0.0.1.
//!
//! The API is blocking. In a `#[tokio::test]` whose server runs in the same runtime, use
//! `flavor = "multi_thread"` (the test body then blocks only its own thread) or call the
//! harness from `spawn_blocking`.
//!
//! When a test fails (the thread is panicking), dropped [`ChildGuard`]s print the tail of their
//! logs to stderr and [`TestDir`] keeps its directory, so logs and saved screenshots can be
//! looked at afterwards.

// Test-support code: a failed harness step IS the test failing, so panicking helpers are
// acceptable here. Harness functions still prefer `anyhow::Result` with context; the few
// panics left (e.g. `free_port`) are on conditions that mean the machine itself is broken.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod dir;
mod image;
mod mutter;
mod net;
mod pipewire_daemon;
mod process;
mod stack;
mod weston;
mod x_selection;
mod xfreerdp;
mod xvfb;
mod xwd;

/// Re-exported for signal numbers (`wrd_testkit::libc::SIGTERM`) in [`ChildGuard::signal`].
pub use libc;

pub use dir::TestDir;
pub use image::Image;
pub use mutter::{MutterStack, MutterStackOptions, sixel_safe_picture};
pub use net::{free_port, is_listening, wait_for_port};
pub use pipewire_daemon::PipeWireDaemon;
pub use process::{ChildGuard, DEFAULT_GRACE, output_with_timeout, poll_until};
pub use stack::{STACK_USER, StackOptions, SwayStack, XDPW_SHM, ensure_stack_user};
pub use weston::{WestonRdpOptions, WestonRdpStack};
pub use x_selection::XClipboardOwner;
pub use xfreerdp::{Security, WindowGeometry, XFreeRdp, XFreeRdpOptions, XfExitCode};
pub use xvfb::{Xvfb, XvfbOptions, screenshot_display};
pub use xwd::parse_xwd;
