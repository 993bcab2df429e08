//! Weston with its RDP backend (`--backend=rdp-backend.so`): a headless compositor that is its
//! own RDP server, one of the peers wrd-bench compares wrd-server with. It runs as the stack
//! user with the same private directories and environment as [`crate::SwayStack`] (see
//! stack.rs), listens on one 127.0.0.1 port with a self-signed certificate made here, and
//! offers TLS security only (weston 10 checks no password and has no NLA).

use std::ffi::OsStr;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, ensure};

use crate::net::is_listening;
use crate::stack::StackCore;

/// The Wayland socket name weston gets (inside the stack's private runtime directory).
const WAYLAND_DISPLAY: &str = "wayland-weston";

/// How weston runs.
#[derive(Debug, Clone)]
pub struct WestonRdpOptions {
    /// The desktop size (clients asking for another one get this one).
    pub size: (u32, u32),
    /// Where the RDP server listens (a 127.0.0.1 address).
    pub listen: SocketAddr,
}

/// A running weston RDP server. Dropping it stops it and what runs in it.
#[derive(Debug)]
pub struct WestonRdpStack {
    core: StackCore,
    pid: u32,
}

impl WestonRdpStack {
    /// Starts weston in `<dir>/stack` (logs in `dir`) and waits until it listens.
    pub fn start(dir: &Path, opts: &WestonRdpOptions) -> Result<Self> {
        ensure!(
            opts.listen.ip().is_loopback(),
            "weston's RDP backend is for loopback tests here, not {}",
            opts.listen
        );
        let mut core = StackCore::prepare(dir, &[], "weston")?;
        // FreeRDP 2 servers want an RSA certificate and key in PEM files.
        let (cert, key) = (core.dir().join("tls.crt"), core.dir().join("tls.key"));
        let out = core.output(
            core.command("openssl")
                .args(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2"])
                .args(["-subj", "/CN=localhost", "-keyout"])
                .arg(&key)
                .arg("-out")
                .arg(&cert),
        )?;
        ensure!(
            out.status.success(),
            "openssl could not make weston's certificate: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let (w, h) = opts.size;
        let mut weston = core.command("weston");
        weston
            .args(["--backend=rdp-backend.so", "--no-config"])
            // the desktop keeps its size whatever the client asks for
            .arg("--no-clients-resize")
            // no screen blanking while nobody types
            .arg("--idle-time=0")
            .arg(format!("--socket={WAYLAND_DISPLAY}"))
            .arg(format!("--address={}", opts.listen.ip()))
            .arg(format!("--port={}", opts.listen.port()))
            .arg(format!("--width={w}"))
            .arg(format!("--height={h}"))
            .arg(format!("--rdp-tls-cert={}", cert.display()))
            .arg(format!("--rdp-tls-key={}", key.display()));
        core.spawn(weston, "weston")?;
        let pid = core.guard_mut("weston").context("weston's guard")?.id();
        let socket = core.run_dir().join(WAYLAND_DISPLAY);
        let listen = opts.listen;
        core.wait("weston's RDP port and Wayland socket", |_| {
            Ok(is_listening(listen) && socket.exists())
        })?;
        core.set_env("WAYLAND_DISPLAY", WAYLAND_DISPLAY);
        Ok(Self { core, pid })
    }

    /// The weston process (compositor and RDP server in one).
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Fails if weston has exited.
    pub fn ensure_running(&mut self) -> Result<()> {
        self.core
            .guard_mut("weston")
            .context("weston's guard")?
            .ensure_running()
    }

    /// `program` as the stack user, in the stack's environment (`WAYLAND_DISPLAY` set).
    pub fn command(&self, program: impl AsRef<OsStr>) -> Command {
        self.core.command(program)
    }

    /// The stack's environment (`XDG_RUNTIME_DIR`, `WAYLAND_DISPLAY`, ...).
    pub fn env(&self) -> &[(String, String)] {
        self.core.env()
    }

    /// The stack directory (owned by the stack user).
    pub fn dir(&self) -> &Path {
        self.core.dir()
    }

    /// Copies `file` into the stack directory (readable and executable by the stack user).
    pub fn install(&self, file: &Path) -> Result<PathBuf> {
        self.core.install(file)
    }
}
