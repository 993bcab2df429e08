//! Guarded child processes and bounded waits.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

/// Time a process group gets between SIGTERM and SIGKILL when a guard stops it.
pub const DEFAULT_GRACE: Duration = Duration::from_secs(3);
/// How long to wait for a SIGKILLed process to be reapable before giving up.
const KILL_WAIT: Duration = Duration::from_secs(10);
const POLL_STEP: Duration = Duration::from_millis(10);

/// Calls `f` every `interval` until it returns `Ok(Some(value))`, at most `timeout`.
/// An `Err` from `f` ends the wait at once; a timeout is an error naming `what`.
pub fn poll_until<T>(
    timeout: Duration,
    interval: Duration,
    what: &str,
    mut f: impl FnMut() -> Result<Option<T>>,
) -> Result<T> {
    let start = Instant::now();
    loop {
        if let Some(v) = f()? {
            return Ok(v);
        }
        let elapsed = start.elapsed();
        if elapsed >= timeout {
            bail!("timed out after {timeout:?} waiting for {what}");
        }
        std::thread::sleep(interval.min(timeout - elapsed));
    }
}

/// Whether the child `pid` has exited, WITHOUT reaping it (`waitid(WNOWAIT)`): while it stays
/// a zombie its pid, which is also its process-group id, cannot be reused, so signalling the
/// group can only reach processes it started.
fn has_exited_unreaped(pid: u32) -> io::Result<bool> {
    let id = libc::id_t::from(pid);
    // SAFETY: siginfo_t is plain old data; all-zero is a valid value for an out-parameter.
    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
    // SAFETY: `info` is a valid, writable siginfo_t; WNOWAIT leaves the child waitable, so the
    // std `Child` can still reap it.
    let rc = unsafe {
        libc::waitid(
            libc::P_PID,
            id,
            &raw mut info,
            libc::WEXITED | libc::WNOHANG | libc::WNOWAIT,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: after a successful waitid the si_pid field is initialised (0 = no state change).
    Ok(unsafe { info.si_pid() } != 0)
}

/// Makes `cmd` start in a new session, hence its own process group (pgid = its pid), with no
/// controlling terminal: terminal signals (Ctrl-C) do not reach it and nothing it runs can
/// block on a `/dev/tty` prompt. It also gets SIGTERM if the thread that started it dies
/// (`PR_SET_PDEATHSIG`), so an interrupted test run does not leave it behind; note that this
/// is the *thread*: a guard kept beyond the test thread that spawned it (a shared static) would
/// see its process terminated when that thread ends.
fn isolate(cmd: &mut Command) {
    let parent = libc::pid_t::try_from(std::process::id()).unwrap_or(0);
    // SAFETY: the closure runs in the forked child before exec and only calls setsid(2),
    // prctl(2), getppid(2) and raise(3), all async-signal-safe; it allocates nothing.
    unsafe {
        cmd.pre_exec(move || {
            if libc::setsid() < 0 {
                return Err(io::Error::last_os_error());
            }
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM) != 0 {
                return Err(io::Error::last_os_error());
            }
            // the parent may have died before prctl took effect
            if libc::getppid() != parent {
                libc::raise(libc::SIGTERM);
            }
            Ok(())
        });
    }
}

/// Sends `sig` to the process group `pgid` (ESRCH, "no such group", is not an error).
fn kill_group(pgid: u32, sig: libc::c_int) -> io::Result<()> {
    let pgid = libc::pid_t::try_from(pgid).map_err(|_| io::Error::other("pid out of range"))?;
    // SAFETY: kill(2) with a negative pid signals that process group; no memory is involved.
    let rc = unsafe { libc::kill(-pgid, sig) };
    if rc != 0 {
        let e = io::Error::last_os_error();
        if e.raw_os_error() != Some(libc::ESRCH) {
            return Err(e);
        }
    }
    Ok(())
}

fn kill_pid(pid: u32, sig: libc::c_int) -> io::Result<()> {
    let pid = libc::pid_t::try_from(pid).map_err(|_| io::Error::other("pid out of range"))?;
    // SAFETY: kill(2) on one pid; no memory is involved.
    let rc = unsafe { libc::kill(pid, sig) };
    if rc != 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// A child process started in its own session and process group (see `isolate`), with stdin from /dev/null and stdout +
/// stderr appended to one log file (`<log_dir>/<name>.log`).
///
/// On drop (or [`ChildGuard::stop`]) the whole group gets SIGTERM, then SIGKILL after the
/// grace period. Whenever the leader is found to have exited, processes it left behind in
/// its group are SIGKILLed before the leader is reaped (see `has_exited_unreaped`). Processes
/// that left the group (`setsid`, daemons that fork away) are out of its reach.
///
/// If the thread is panicking when the guard drops, the log tail is printed to stderr.
#[derive(Debug)]
pub struct ChildGuard {
    child: Child,
    name: String,
    log_path: PathBuf,
    grace: Duration,
    status: Option<ExitStatus>,
}

impl ChildGuard {
    /// Starts `cmd` (stdin, stdout, stderr and process group are set here) as `name`.
    pub fn spawn(cmd: &mut Command, name: &str, log_dir: &Path) -> Result<Self> {
        Self::spawn_with_stdout(cmd, name, log_dir, None)
    }

    /// Like [`ChildGuard::spawn`], but stdout goes to `stdout` when given (e.g. a pipe).
    pub(crate) fn spawn_with_stdout(
        cmd: &mut Command,
        name: &str,
        log_dir: &Path,
        stdout: Option<Stdio>,
    ) -> Result<Self> {
        let log_path = unique_log_path(log_dir, name);
        let log = File::options()
            .create_new(true)
            .append(true)
            .open(&log_path)
            .with_context(|| format!("creating log {}", log_path.display()))?;
        let log_err = log.try_clone().context("duplicating the log file handle")?;
        cmd.stdin(Stdio::null()).stderr(log_err);
        isolate(cmd);
        match stdout {
            Some(s) => cmd.stdout(s),
            None => cmd.stdout(log),
        };
        let child = cmd.spawn().with_context(|| {
            format!(
                "starting {name} ({:?}); is it installed? (scripts/install-deps.sh)",
                cmd.get_program()
            )
        })?;
        tracing::debug!(name, pid = child.id(), log = %log_path.display(), "started");
        Ok(Self {
            child,
            name: name.to_owned(),
            log_path,
            grace: DEFAULT_GRACE,
            status: None,
        })
    }

    /// Sets the time between SIGTERM and SIGKILL (default [`DEFAULT_GRACE`]).
    pub fn with_grace(mut self, grace: Duration) -> Self {
        self.grace = grace;
        self
    }

    /// The name given at spawn.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Process id of the leader (also its process-group id).
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// The log file (stdout + stderr, unless stdout was redirected).
    pub fn log_path(&self) -> &Path {
        &self.log_path
    }

    /// The whole log (lossy UTF-8).
    pub fn log(&self) -> String {
        std::fs::read(&self.log_path)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    }

    /// The last `n` lines of the log (reads at most the last 256 KiB).
    pub fn log_tail(&self, n: usize) -> String {
        tail_of_file(&self.log_path, n)
    }

    /// Exit status, if the process has been reaped already.
    pub fn exit_status(&self) -> Option<ExitStatus> {
        self.status
    }

    /// Sends `sig` (e.g. `libc::SIGTERM`) to the leader only; an error once it has been reaped.
    pub fn signal(&self, sig: libc::c_int) -> Result<()> {
        if self.status.is_some() {
            bail!("{} (pid {}) has already exited", self.name, self.id());
        }
        kill_pid(self.id(), sig).with_context(|| format!("signal {sig} to {}", self.name))
    }

    /// Sends `sig` to the whole process group (no-op once the leader has been reaped).
    pub fn signal_group(&self, sig: libc::c_int) -> Result<()> {
        if self.status.is_some() {
            return Ok(());
        }
        kill_group(self.id(), sig).with_context(|| format!("signal {sig} to the group of {}", self.name))
    }

    /// Non-blocking: the exit status if the leader has exited (reaping it and killing what it
    /// left in its group), `None` while it runs.
    pub fn try_wait(&mut self) -> Result<Option<ExitStatus>> {
        if let Some(st) = self.status {
            return Ok(Some(st));
        }
        let pid = self.id();
        if !has_exited_unreaped(pid).with_context(|| format!("waitid on {} (pid {pid})", self.name))? {
            return Ok(None);
        }
        // The leader is a zombie: the group id is still reserved, only its leftovers receive this.
        kill_group(pid, libc::SIGKILL).ok();
        let st = self
            .child
            .wait()
            .with_context(|| format!("reaping {}", self.name))?;
        tracing::debug!(name = %self.name, pid, status = %st, "exited");
        self.status = Some(st);
        Ok(Some(st))
    }

    /// Waits up to `timeout` for the leader to exit; `None` if it is still running.
    pub fn wait_timeout(&mut self, timeout: Duration) -> Result<Option<ExitStatus>> {
        let start = Instant::now();
        loop {
            if let Some(st) = self.try_wait()? {
                return Ok(Some(st));
            }
            let elapsed = start.elapsed();
            if elapsed >= timeout {
                return Ok(None);
            }
            std::thread::sleep(POLL_STEP.min(timeout - elapsed));
        }
    }

    /// Whether the leader is still running (a failed check counts as "not running").
    pub fn is_running(&mut self) -> bool {
        matches!(self.try_wait(), Ok(None))
    }

    /// Errors (with the log tail) if the process has exited: for "it must still be up" checks.
    pub fn ensure_running(&mut self) -> Result<()> {
        match self.try_wait()? {
            None => Ok(()),
            Some(st) => bail!(
                "{} exited unexpectedly ({st}); log tail:\n{}",
                self.name,
                self.log_tail(30)
            ),
        }
    }

    /// Polls the log until it contains `needle`, at most `timeout`; errors early if the process
    /// exits first.
    pub fn wait_for_log(&mut self, needle: &str, timeout: Duration) -> Result<()> {
        let what = format!("{:?} in the log of {}", needle, self.name);
        poll_until(timeout, Duration::from_millis(25), &what, || {
            if self.log().contains(needle) {
                return Ok(Some(()));
            }
            if let Some(st) = self.try_wait()? {
                bail!(
                    "{} exited ({st}) before logging {needle:?}; log tail:\n{}",
                    self.name,
                    self.log_tail(30)
                );
            }
            Ok(None)
        })
        .with_context(|| format!("log tail of {}:\n{}", self.name, self.log_tail(30)))
    }

    /// Stops the process group: SIGTERM, the grace period, then SIGKILL. Returns the leader's
    /// exit status (at once if it has exited already).
    pub fn stop(&mut self) -> Result<ExitStatus> {
        if let Some(st) = self.try_wait()? {
            return Ok(st);
        }
        kill_group(self.id(), libc::SIGTERM).with_context(|| format!("SIGTERM to {}", self.name))?;
        if let Some(st) = self.wait_timeout(self.grace)? {
            return Ok(st);
        }
        tracing::debug!(name = %self.name, grace = ?self.grace, "no exit after SIGTERM, sending SIGKILL");
        kill_group(self.id(), libc::SIGKILL).with_context(|| format!("SIGKILL to {}", self.name))?;
        match self.wait_timeout(KILL_WAIT)? {
            Some(st) => Ok(st),
            None => bail!(
                "{} (pid {}) survived SIGKILL for {KILL_WAIT:?}",
                self.name,
                self.id()
            ),
        }
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let was_running = self.status.is_none();
        if let Err(e) = self.stop() {
            eprintln!("wrd-testkit: stopping {} (pid {}): {e:#}", self.name, self.id());
        }
        if std::thread::panicking() {
            eprintln!(
                "wrd-testkit: ---- {} (pid {}, {}{}) log tail ----\n{}\nwrd-testkit: ---- end of {} ----",
                self.name,
                self.id(),
                self.status
                    .map_or_else(|| "status unknown".to_owned(), |s| s.to_string()),
                if was_running {
                    ", stopped by the harness"
                } else {
                    ""
                },
                self.log_tail(40),
                self.log_path.display(),
            );
        }
    }
}

/// `<dir>/<name>.log`, or `<name>.2.log`, ... if taken.
fn unique_log_path(dir: &Path, name: &str) -> PathBuf {
    let clean: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let mut path = dir.join(format!("{clean}.log"));
    let mut i = 2;
    while path.exists() {
        path = dir.join(format!("{clean}.{i}.log"));
        i += 1;
    }
    path
}

/// Last `n` lines of a file, reading at most its last 256 KiB.
pub(crate) fn tail_of_file(path: &Path, n: usize) -> String {
    const MAX: u64 = 256 * 1024;
    let Ok(mut f) = File::open(path) else {
        return String::new();
    };
    let len = f.metadata().map(|m| m.len()).unwrap_or(0);
    if len > MAX && f.seek(SeekFrom::Start(len - MAX)).is_err() {
        return String::new();
    }
    let mut buf = Vec::new();
    if f.read_to_end(&mut buf).is_err() {
        return String::new();
    }
    let text = String::from_utf8_lossy(&buf);
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// Runs `cmd` to completion with stdout/stderr captured, at most `timeout`; on timeout its
/// process group is killed and an error returned. The exit status is NOT checked.
pub fn output_with_timeout(cmd: &mut Command, timeout: Duration) -> Result<Output> {
    let program = cmd.get_program().to_string_lossy().into_owned();
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    isolate(cmd);
    let mut child = cmd
        .spawn()
        .with_context(|| format!("starting {program}; is it installed? (scripts/install-deps.sh)"))?;
    let pid = child.id();
    let readers = [
        child.stdout.take().map(read_all_thread),
        child.stderr.take().map(read_all_thread),
    ];
    let start = Instant::now();
    let timed_out = loop {
        match has_exited_unreaped(pid) {
            Ok(true) => break false,
            Ok(false) => {}
            Err(e) => {
                kill_group(pid, libc::SIGKILL).ok();
                let _ = child.wait();
                return Err(e).with_context(|| format!("waiting for {program}"));
            }
        }
        if start.elapsed() >= timeout {
            break true;
        }
        std::thread::sleep(Duration::from_millis(2));
    };
    // The leader is unreaped (exited or not): its group holds only what it started. Killing
    // leftovers also closes pipes they inherited, so the reader threads finish.
    kill_group(pid, libc::SIGKILL).ok();
    let status = child.wait().with_context(|| format!("reaping {program}"))?;
    let [out, err] = readers.map(|r| r.and_then(|h| h.join().ok()).unwrap_or_default());
    if timed_out {
        bail!(
            "{program} did not finish within {timeout:?}; stderr: {}",
            String::from_utf8_lossy(&err).trim_end()
        );
    }
    Ok(Output {
        status,
        stdout: out,
        stderr: err,
    })
}

fn read_all_thread(mut r: impl Read + Send + 'static) -> std::thread::JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = r.read_to_end(&mut v);
        v
    })
}

/// `Some(signal)` if the status is a death by signal.
pub(crate) fn signal_of(st: ExitStatus) -> Option<i32> {
    st.signal()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::TestDir;

    /// Whether `pid` names a live (non-zombie) process.
    fn alive(pid: u32) -> bool {
        match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
            // state is the field after the ")" that closes the command name
            Ok(s) => s
                .rsplit_once(')')
                .is_some_and(|(_, rest)| !rest.trim_start().starts_with('Z')),
            Err(_) => false,
        }
    }

    fn read_pid(g: &mut ChildGuard) -> u32 {
        poll_until(
            Duration::from_secs(5),
            Duration::from_millis(10),
            "pid line",
            || Ok(g.log().lines().next().and_then(|l| l.trim().parse().ok())),
        )
        .unwrap()
    }

    #[test]
    fn drop_kills_the_whole_group() {
        let dir = TestDir::new("guard-drop").unwrap();
        let mut g = ChildGuard::spawn(
            Command::new("sh").args(["-c", "sleep 300 & echo $!; wait"]),
            "sh",
            dir.path(),
        )
        .unwrap();
        let leader = g.id();
        let grandchild = read_pid(&mut g);
        assert!(alive(leader) && alive(grandchild));
        assert!(g.is_running());
        assert_eq!(g.wait_timeout(Duration::from_millis(50)).unwrap(), None);
        drop(g);
        assert!(!alive(leader), "leader {leader} survived");
        poll_until(
            Duration::from_secs(5),
            Duration::from_millis(10),
            "grandchild gone",
            || Ok((!alive(grandchild)).then_some(())),
        )
        .unwrap();
    }

    #[test]
    fn term_ignored_then_killed() {
        let dir = TestDir::new("guard-kill").unwrap();
        let mut g = ChildGuard::spawn(
            Command::new("sh").args(["-c", "trap '' TERM; echo $$; while :; do sleep 0.05; done"]),
            "stubborn",
            dir.path(),
        )
        .unwrap()
        .with_grace(Duration::from_millis(300));
        read_pid(&mut g); // the trap is set once it printed
        let t = Instant::now();
        let st = g.stop().unwrap();
        assert_eq!(signal_of(st), Some(libc::SIGKILL), "{st}");
        assert!(t.elapsed() >= Duration::from_millis(300));
        assert_eq!(g.exit_status(), Some(st));
        assert!(g.signal(libc::SIGTERM).is_err());
    }

    #[test]
    fn exit_status_log_tail_and_wait_for_log() {
        let dir = TestDir::new("guard-log").unwrap();
        let mut g = ChildGuard::spawn(
            Command::new("sh").args([
                "-c",
                "for i in 1 2 3 4 5; do echo line$i; done; echo err >&2; exit 7",
            ]),
            "lines",
            dir.path(),
        )
        .unwrap();
        let st = g.wait_timeout(Duration::from_secs(10)).unwrap().unwrap();
        assert_eq!(st.code(), Some(7));
        assert_eq!(g.log_tail(2), "line5\nerr");
        assert!(g.log_path().ends_with("lines.log"));
        assert!(g.ensure_running().is_err());
        g.wait_for_log("line3", Duration::from_secs(1)).unwrap();
        let err = g.wait_for_log("never", Duration::from_secs(1)).unwrap_err();
        assert!(format!("{err:#}").contains("exited"), "{err:#}");

        // a second guard of the same name gets its own log
        let g2 = ChildGuard::spawn(Command::new("true").arg("x"), "lines", dir.path()).unwrap();
        assert!(g2.log_path().ends_with("lines.2.log"));
    }

    #[test]
    fn output_with_timeout_bounds_the_wait() {
        let out = output_with_timeout(
            Command::new("sh").args(["-c", "echo hi; echo ho >&2"]),
            Duration::from_secs(10),
        )
        .unwrap();
        assert!(out.status.success());
        assert_eq!(out.stdout, b"hi\n");
        assert_eq!(out.stderr, b"ho\n");
        let t = Instant::now();
        // the background sleep keeps stdout open: it must be killed with its group
        let err = output_with_timeout(
            Command::new("sh").args(["-c", "sleep 300 & sleep 300"]),
            Duration::from_millis(200),
        )
        .unwrap_err();
        assert!(err.to_string().contains("did not finish"), "{err}");
        assert!(t.elapsed() < Duration::from_secs(5));
        // leftovers of a leader that exited do not hold the call up
        let t = Instant::now();
        let out = output_with_timeout(
            Command::new("sh").args(["-c", "sleep 300 & echo done"]),
            Duration::from_secs(10),
        )
        .unwrap();
        assert_eq!(out.stdout, b"done\n");
        assert!(t.elapsed() < Duration::from_secs(5));
        assert!(output_with_timeout(&mut Command::new("/nonexistent/tool"), Duration::from_secs(1)).is_err());
    }

    #[test]
    fn poll_until_times_out_and_propagates_errors() {
        let err = poll_until(
            Duration::from_millis(50),
            Duration::from_millis(10),
            "nothing",
            || Ok(None::<()>),
        )
        .unwrap_err();
        assert!(err.to_string().contains("waiting for nothing"));
        let mut n = 0;
        assert_eq!(
            poll_until(Duration::from_secs(1), Duration::from_millis(1), "n", || {
                n += 1;
                Ok((n == 3).then_some(n))
            })
            .unwrap(),
            3
        );
        assert!(
            poll_until::<()>(Duration::from_secs(1), Duration::from_millis(1), "e", || bail!(
                "boom"
            ))
            .is_err()
        );
    }
}
