//! A private PipeWire daemon per test.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, Result};

use crate::process::{ChildGuard, poll_until};

/// A `pipewire` daemon of our own: its own runtime, config and state directories under the
/// test directory, so it shares nothing with a daemon of the machine's user. The socket is
/// `<runtime_dir>/pipewire-0`; connect to it by path.
///
/// No session manager runs: nothing links streams automatically. Tests link nodes explicitly
/// (the daemon's `link-factory`), which keeps them deterministic.
#[derive(Debug)]
pub struct PipeWireDaemon {
    guard: ChildGuard,
    runtime_dir: PathBuf,
}

impl PipeWireDaemon {
    /// Starts `pipewire` with its directories under `dir` and waits (at most 10 s) for its
    /// socket. The log is `<dir>/pipewire.log`.
    pub fn start(dir: &Path) -> Result<Self> {
        let runtime_dir = dir.join("pw-runtime");
        let config_dir = dir.join("pw-config");
        let state_dir = dir.join("pw-state");
        for d in [&runtime_dir, &config_dir, &state_dir] {
            std::fs::create_dir_all(d).with_context(|| format!("creating {}", d.display()))?;
        }
        let mut cmd = Command::new("pipewire");
        cmd.env_clear()
            .env(
                "PATH",
                std::env::var_os("PATH").unwrap_or_else(|| "/usr/bin:/bin".into()),
            )
            .env("HOME", dir)
            .env("XDG_RUNTIME_DIR", &runtime_dir)
            .env("XDG_CONFIG_HOME", &config_dir)
            .env("XDG_STATE_HOME", &state_dir)
            .env(
                "PIPEWIRE_DEBUG",
                std::env::var("WRD_PIPEWIRE_DEBUG").unwrap_or_else(|_| "2".into()),
            );
        let mut guard = ChildGuard::spawn(&mut cmd, "pipewire", dir)?.with_grace(Duration::from_secs(2));
        let socket = runtime_dir.join("pipewire-0");
        poll_until(
            Duration::from_secs(10),
            Duration::from_millis(10),
            "the pipewire socket",
            || {
                guard.ensure_running()?;
                Ok(socket.exists().then_some(()))
            },
        )?;
        Ok(Self { guard, runtime_dir })
    }

    /// The daemon's socket.
    pub fn socket(&self) -> PathBuf {
        self.runtime_dir.join("pipewire-0")
    }

    /// Its `XDG_RUNTIME_DIR`.
    pub fn runtime_dir(&self) -> &Path {
        &self.runtime_dir
    }

    /// Process id of the daemon.
    pub fn pid(&self) -> u32 {
        self.guard.id()
    }

    /// The guard (signals, logs, exit status).
    pub fn guard(&mut self) -> &mut ChildGuard {
        &mut self.guard
    }

    /// SIGKILLs the daemon (no chance to say goodbye to its clients) and reaps it.
    pub fn kill(&mut self) -> Result<()> {
        self.guard.signal(libc::SIGKILL)?;
        self.guard
            .wait_timeout(Duration::from_secs(10))?
            .context("pipewire survived SIGKILL for 10 s")?;
        Ok(())
    }

    /// Stops the daemon (SIGTERM, then SIGKILL).
    pub fn stop(&mut self) -> Result<()> {
        self.guard.stop().map(|_| ())
    }
}
