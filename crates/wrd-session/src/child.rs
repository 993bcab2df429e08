//! One supervised child of the session: its own process group, its output forwarded to our
//! log (the last lines kept for when it dies), and a waiter thread that reports its exit.

use std::collections::VecDeque;
use std::io::{BufRead as _, BufReader};
use std::os::unix::process::CommandExt as _;
use std::process::{Command, ExitStatus, Stdio};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use tracing::debug;

use crate::SessionError;

/// Lines of a child's output kept to explain its death.
const TAIL_LINES: usize = 12;
/// How long the exit report waits for the child's last output lines.
const LAST_OUTPUT_WAIT: Duration = Duration::from_millis(200);

/// A child of the session that ended, with what it said last.
#[derive(Debug, Clone)]
pub struct ChildExit {
    pub name: String,
    pub status: ExitStatus,
    pub last_output: Vec<String>,
}

impl std::fmt::Display for ChildExit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} exited ({})", self.name, self.status)?;
        if let Some(last) = self.last_output.last() {
            write!(f, "; its last line: {last}")?;
        }
        Ok(())
    }
}

#[derive(Debug, Default)]
struct Shared {
    status: Mutex<Option<ExitStatus>>,
    exited: Condvar,
    tail: Mutex<VecDeque<String>>,
}

/// A running (or ended) child; its process group has the child's pid as id.
#[derive(Debug)]
pub(crate) struct SessionChild {
    name: String,
    pid: i32,
    shared: Arc<Shared>,
}

impl SessionChild {
    /// Starts `cmd` as `name` in a process group of its own, killed with us if we die first.
    /// Its exit is sent on `exits`.
    pub(crate) fn spawn(
        name: &str,
        mut cmd: Command,
        exits: &mpsc::UnboundedSender<ChildExit>,
    ) -> Result<Self, SessionError> {
        let spawn_error = |source| SessionError::Spawn {
            program: name.to_owned(),
            source,
        };
        let (reader, writer) = std::io::pipe().map_err(spawn_error)?;
        let writer2 = writer.try_clone().map_err(spawn_error)?;
        cmd.stdin(Stdio::null())
            .stdout(writer)
            .stderr(writer2)
            .process_group(0);
        // SAFETY: the hook runs in the forked child before exec and only makes one
        // async-signal-safe system call.
        unsafe {
            cmd.pre_exec(|| {
                // The session must not outlive the server, even a server killed with SIGKILL:
                // then nobody is left to stop it in order, and Mutter given SIGTERM with its
                // clients still connected lingers. (The signal is tied to the thread that
                // forks: sessions are started from the main thread, which lives as long as the
                // process. It survives exec, so the program itself gets it, not only a shell.)
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let mut child = cmd.spawn().map_err(spawn_error)?;
        // Our copies of the pipe's write end go with `cmd`: the reader sees EOF once the child
        // (and whatever inherited its output) is gone.
        drop(cmd);
        let pid = i32::try_from(child.id())
            .map_err(|_| spawn_error(std::io::Error::other("process id out of range")))?;
        let shared = Arc::new(Shared::default());

        let (output_done_tx, output_done_rx) = std::sync::mpsc::channel::<()>();
        let out_shared = Arc::clone(&shared);
        let out_name = name.to_owned();
        std::thread::Builder::new()
            .name(format!("out-{name}"))
            .spawn(move || {
                for line in BufReader::new(reader).lines() {
                    let Ok(line) = line else { break };
                    debug!(target: "wrd_session::child", child = %out_name, "{line}");
                    let mut tail = out_shared.tail.lock().unwrap_or_else(PoisonError::into_inner);
                    if tail.len() == TAIL_LINES {
                        tail.pop_front();
                    }
                    tail.push_back(line);
                }
                let _ = output_done_tx.send(());
            })
            .map_err(spawn_error)?;

        let wait_shared = Arc::clone(&shared);
        let wait_name = name.to_owned();
        let exits = exits.clone();
        std::thread::Builder::new()
            .name(format!("wait-{name}"))
            .spawn(move || {
                let status = match child.wait() {
                    Ok(status) => status,
                    // Only EINTR-like failures; treat the child as gone.
                    Err(_) => std::os::unix::process::ExitStatusExt::from_raw(-1),
                };
                // Its last words usually arrive a moment after the exit.
                let _ = output_done_rx.recv_timeout(LAST_OUTPUT_WAIT);
                let last_output = wait_shared
                    .tail
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .iter()
                    .cloned()
                    .collect();
                *wait_shared.status.lock().unwrap_or_else(PoisonError::into_inner) = Some(status);
                wait_shared.exited.notify_all();
                let _ = exits.send(ChildExit {
                    name: wait_name,
                    status,
                    last_output,
                });
            })
            .map_err(spawn_error)?;
        debug!(child = name, pid, "started");
        Ok(Self {
            name: name.to_owned(),
            pid,
            shared,
        })
    }

    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    pub(crate) fn pid(&self) -> i32 {
        self.pid
    }

    pub(crate) fn status(&self) -> Option<ExitStatus> {
        *self.shared.status.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The last lines the child wrote.
    pub(crate) fn last_output(&self) -> Vec<String> {
        self.shared
            .tail
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .cloned()
            .collect()
    }

    fn wait_exit(&self, limit: Duration) -> bool {
        let until = Instant::now() + limit;
        let mut status = self.shared.status.lock().unwrap_or_else(PoisonError::into_inner);
        while status.is_none() {
            let now = Instant::now();
            if now >= until {
                return false;
            }
            status = self
                .shared
                .exited
                .wait_timeout(status, until - now)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        true
    }

    /// SIGTERM to the child's process group, SIGKILL after `grace`; then the group's
    /// stragglers get SIGKILL too. Returns once the child was reaped (at most `grace` + 1 s).
    pub(crate) fn stop(&self, grace: Duration) {
        if self.status().is_none() {
            signal_group(self.pid, libc::SIGTERM);
            if !self.wait_exit(grace) {
                tracing::warn!(child = %self.name, "did not stop within {grace:?} of SIGTERM: killing it");
                signal_group(self.pid, libc::SIGKILL);
                self.wait_exit(Duration::from_secs(1));
            }
        }
        // Whatever else is still in its group (helpers it started).
        signal_group(self.pid, libc::SIGKILL);
    }
}

fn signal_group(pgid: i32, signal: libc::c_int) {
    // SAFETY: kill has no memory preconditions; a group that is gone gives ESRCH, ignored.
    unsafe {
        libc::kill(-pgid, signal);
    }
}
