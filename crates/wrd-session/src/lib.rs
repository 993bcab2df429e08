//! A private headless desktop session, owned by the process that starts it: a session bus,
//! PipeWire + WirePlumber, a headless compositor (Mutter, or sway with xdg-desktop-portal-wlr),
//! and the session's apps (a terminal by default). sway has one headless output; Mutter starts
//! with no monitor: its one monitor is the virtual one its screen cast makes (see
//! [`Compositor::Gnome`]).
//!
//! Every program is a child in a process group of its own, with a private `XDG_RUNTIME_DIR`
//! (nothing of a running desktop of the same user is touched) and a clean environment (nothing
//! of ours, such as a password variable, leaks into it). Their output goes to our log; the
//! first one to exit is reported on a channel ([`Session::take_exits`]). [`Session::stop`] (also
//! on drop) stops them in reverse order and then kills whatever else still carries the
//! session's runtime directory (a terminal's shell, bus-activated services), so nothing is
//! left behind.
//!
//! This crate knows nothing of RDP: the server captures and drives the desktop through the
//! environment [`PreparedSession::process_env`] gives it.
//!
//! The start is synchronous and meant for the main thread before any other thread exists:
//! [`drop_privileges`] and setting our own environment are only sound then, and the children
//! die with the thread that started them (`PR_SET_PDEATHSIG`).

mod child;
mod programs;
mod sweep;
mod user;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use tracing::{info, warn};

pub use crate::child::ChildExit;
use crate::child::SessionChild;
pub use crate::programs::{Program, XDPW_SHM, find, missing, required};
pub use crate::sweep::session_processes;
pub use crate::user::{SessionUser, drop_privileges, effective_uid};

/// Each start-up step (a socket appearing, a service on the bus) may take this long.
const STEP_TIMEOUT: Duration = Duration::from_secs(20);
const POLL: Duration = Duration::from_millis(20);
/// How long a child may take to exit after SIGTERM before it is killed.
const STOP_GRACE: Duration = Duration::from_millis(1500);
/// Mutter's Wayland socket in the private runtime directory (named on its command line).
const MUTTER_SOCKET: &str = "wayland-0";
/// sway's: it cannot be named, and sway skips `wayland-0` on purpose (other compositors
/// hard-code it), so in a fresh runtime directory it is always this one.
const SWAY_SOCKET: &str = "wayland-1";
/// The only output of headless sway.
pub const SWAY_OUTPUT: &str = "HEADLESS-1";
const MUTTER_SERVICES: [&str; 2] = ["org.gnome.Mutter.ScreenCast", "org.gnome.Mutter.RemoteDesktop"];

/// Which compositor runs the desktop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compositor {
    /// `mutter --headless`, captured and driven through Mutter's own D-Bus API (no consent
    /// dialog). Runs without a GPU. It starts with no monitor (Mutter 43 runs fine so): the
    /// capture records a virtual monitor (`RecordVirtual`), which Mutter makes at the size the
    /// capture's stream asks for and resizes when the stream asks for another, so the monitor
    /// follows the client (a `--virtual-monitor` would keep its size for Mutter's life).
    Gnome,
    /// sway with the headless backend and the pixman renderer, captured through
    /// xdg-desktop-portal-wlr (its shared-memory build) and driven through wlroots' virtual
    /// pointer and keyboard.
    Sway,
}

impl Compositor {
    pub fn name(self) -> &'static str {
        match self {
            Self::Gnome => "gnome",
            Self::Sway => "sway",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error("no user {0:?} in the password database")]
    NoSuchUser(String),
    #[error("{what}: {source}")]
    System {
        what: String,
        #[source]
        source: std::io::Error,
    },
    #[error("missing programs: {} (install the Debian packages: {})", names(.0), packages(.0))]
    MissingPrograms(Vec<Program>),
    #[error("cannot start {program}: {source}")]
    Spawn {
        program: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{what} did not happen within {} s", .limit.as_secs())]
    Timeout { what: String, limit: Duration },
    #[error("{0} while the session was starting")]
    ChildDied(ChildExit),
}

fn names(programs: &[Program]) -> String {
    programs.iter().map(|p| p.name).collect::<Vec<_>>().join(", ")
}

fn packages(programs: &[Program]) -> String {
    let mut packages: Vec<&str> = programs.iter().map(|p| p.package).collect();
    packages.dedup();
    packages.join(" ")
}

/// What to run.
#[derive(Debug, Clone)]
pub struct SessionOptions {
    pub compositor: Compositor,
    /// sway's output's size at the start. Mutter's monitor is the capture's to size (see
    /// [`Compositor::Gnome`]).
    pub size: (u32, u32),
}

/// A session planned but not started: its runtime directory exists (0700, ours), its
/// environment is known.
#[derive(Debug)]
pub struct PreparedSession {
    options: SessionOptions,
    user: SessionUser,
    runtime_dir: PathBuf,
    /// The environment of every child (and, for the variables in [`Self::process_env`], ours).
    env: Vec<(String, String)>,
}

/// Variables of the session that the server itself needs: where the session bus, PipeWire and
/// the compositor are.
const PROCESS_VARS: [&str; 6] = [
    "XDG_RUNTIME_DIR",
    "DBUS_SESSION_BUS_ADDRESS",
    "WAYLAND_DISPLAY",
    "XDG_CURRENT_DESKTOP",
    "XDG_SESSION_TYPE",
    "HOME",
];

impl PreparedSession {
    /// Checks the programs and creates the private runtime directory. Run as `user` (after
    /// [`drop_privileges`], or as that user from the start).
    pub fn prepare(options: SessionOptions, user: SessionUser) -> Result<Self, SessionError> {
        let path = std::env::var("PATH").unwrap_or_else(|_| "/usr/local/bin:/usr/bin:/bin".to_owned());
        let missing = missing(options.compositor, &path);
        if !missing.is_empty() {
            return Err(SessionError::MissingPrograms(missing));
        }
        let runtime_dir = create_runtime_dir(user.uid)?;
        let desktop = match options.compositor {
            Compositor::Gnome => "GNOME",
            Compositor::Sway => "sway",
        };
        let s = |p: &Path| p.display().to_string();
        let lang = std::env::var("LANG")
            .ok()
            .filter(|l| !l.is_empty())
            .unwrap_or_else(|| "C.UTF-8".to_owned());
        let env = vec![
            ("PATH".to_owned(), path),
            ("HOME".to_owned(), s(&user.home)),
            ("USER".to_owned(), user.name.clone()),
            ("LOGNAME".to_owned(), user.name.clone()),
            ("SHELL".to_owned(), s(&user.shell)),
            ("LANG".to_owned(), lang),
            ("XDG_RUNTIME_DIR".to_owned(), s(&runtime_dir)),
            (
                "DBUS_SESSION_BUS_ADDRESS".to_owned(),
                format!("unix:path={}", s(&runtime_dir.join("bus"))),
            ),
            ("XDG_SESSION_TYPE".to_owned(), "wayland".to_owned()),
            ("XDG_CURRENT_DESKTOP".to_owned(), desktop.to_owned()),
            ("XDG_SESSION_DESKTOP".to_owned(), desktop.to_lowercase()),
            (
                "WAYLAND_DISPLAY".to_owned(),
                match options.compositor {
                    Compositor::Gnome => MUTTER_SOCKET,
                    Compositor::Sway => SWAY_SOCKET,
                }
                .to_owned(),
            ),
        ];
        Ok(Self {
            options,
            user,
            runtime_dir,
            env,
        })
    }

    /// The variables this process must have to reach the session (bus, PipeWire, Wayland).
    pub fn process_env(&self) -> impl Iterator<Item = (&str, &str)> {
        self.env
            .iter()
            .filter(|(k, _)| PROCESS_VARS.contains(&k.as_str()))
            .map(|(k, v)| (k.as_str(), v.as_str()))
    }

    pub fn runtime_dir(&self) -> &Path {
        &self.runtime_dir
    }

    /// Starts the bus, PipeWire and the compositor, and returns once the compositor serves its
    /// screen-cast API (Mutter's services, or the portal). On error everything started is stopped.
    pub fn start(self) -> Result<Session, SessionError> {
        let (exits_tx, exits_rx) = mpsc::unbounded_channel();
        let mut session = Session {
            options: self.options,
            user: self.user,
            runtime_dir: self.runtime_dir,
            env: self.env,
            children: Vec::new(),
            exits_tx,
            exits_rx: Some(exits_rx),
            stopped: false,
        };
        let started = Instant::now();
        session.start_desktop()?;
        info!(
            compositor = session.options.compositor.name(),
            width = session.options.size.0,
            height = session.options.size.1,
            runtime_dir = %session.runtime_dir.display(),
            user = %session.user.name,
            ms = started.elapsed().as_millis(),
            "headless session up"
        );
        Ok(session)
    }
}

/// Runtime directories are named `wrd-session-<uid>-<pid>-<nonce>` in the temporary folder.
const RUNTIME_DIR_PREFIX: &str = "wrd-session-";

fn create_runtime_dir(uid: u32) -> Result<PathBuf, SessionError> {
    use std::os::unix::fs::DirBuilderExt as _;
    let base = std::env::temp_dir();
    remove_stale_runtime_dirs(&base, uid);
    let pid = std::process::id();
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let dir = base.join(format!("{RUNTIME_DIR_PREFIX}{uid}-{pid}-{nanos:x}"));
    // 0700 from the start, and never an existing directory (someone else's).
    std::fs::DirBuilder::new()
        .mode(0o700)
        .create(&dir)
        .map_err(|source| SessionError::System {
            what: format!("creating the session's runtime directory {}", dir.display()),
            source,
        })?;
    Ok(dir)
}

/// Removes the runtime directories of this user's sessions whose server is gone without
/// cleaning up (killed with SIGKILL: its programs died with it, the directory stayed).
fn remove_stale_runtime_dirs(base: &Path, uid: u32) {
    use std::os::unix::fs::MetadataExt as _;
    let Ok(entries) = std::fs::read_dir(base) else {
        return;
    };
    let ours = format!("{RUNTIME_DIR_PREFIX}{uid}-");
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix(&ours))
            .and_then(|rest| rest.split('-').next())
            .and_then(|pid| pid.parse::<i32>().ok())
        else {
            continue;
        };
        // SAFETY: signal 0 only checks that the process exists.
        let gone = unsafe { libc::kill(pid, 0) } != 0
            && std::io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH);
        let owned = entry.metadata().is_ok_and(|m| m.uid() == uid && m.is_dir());
        if gone && owned {
            match std::fs::remove_dir_all(entry.path()) {
                Ok(()) => {
                    info!(dir = %entry.path().display(), "removed the runtime directory of a session whose server was killed")
                }
                Err(e) => {
                    warn!(dir = %entry.path().display(), error = %e, "could not remove a stale session runtime directory")
                }
            }
        }
    }
}

/// A running session. Dropping it stops it.
#[derive(Debug)]
pub struct Session {
    options: SessionOptions,
    user: SessionUser,
    runtime_dir: PathBuf,
    env: Vec<(String, String)>,
    /// In start order; stopped in reverse.
    children: Vec<SessionChild>,
    exits_tx: mpsc::UnboundedSender<ChildExit>,
    exits_rx: Option<mpsc::UnboundedReceiver<ChildExit>>,
    stopped: bool,
}

impl Session {
    /// A command for a program of the session: its environment only, the user's home as the
    /// working directory.
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut cmd = Command::new(program);
        cmd.env_clear()
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .current_dir(&self.user.home);
        cmd
    }

    /// The session's environment.
    pub fn env(&self) -> &[(String, String)] {
        &self.env
    }

    pub fn runtime_dir(&self) -> &Path {
        &self.runtime_dir
    }

    pub fn compositor(&self) -> Compositor {
        self.options.compositor
    }

    /// What changes the monitor's size while the session runs, through the compositor: sway
    /// (its headless output takes any size; the screen cast follows). `None` for Mutter: its
    /// monitor follows the size of the capture's stream (see [`Compositor::Gnome`]).
    pub fn monitor_resizer(&self) -> Option<MonitorResizer> {
        match self.options.compositor {
            Compositor::Gnome => None,
            Compositor::Sway => Some(MonitorResizer {
                env: self.env.clone(),
                home: self.user.home.clone(),
            }),
        }
    }

    /// The exits of the session's children, as they happen (once: the receiver is handed out
    /// to whoever supervises the session). Any exit before [`Self::stop`] is the session failing.
    pub fn take_exits(&mut self) -> Option<mpsc::UnboundedReceiver<ChildExit>> {
        self.exits_rx.take()
    }

    /// Runs `command_line` as an app of the session (a terminal by default): `sh -c 'exec
    /// COMMAND_LINE'`, so the program replaces the shell and is our child itself (it dies with
    /// us; a shell's children would not). A compound command needs a shell of its own
    /// (`sh -c 'a; b'`). Call it from the thread that started the session (see the crate's notes).
    pub fn start_app(&mut self, command_line: &str) -> Result<(), SessionError> {
        let mut cmd = self.command("sh");
        cmd.arg("-c").arg(format!("exec {command_line}"));
        let name = command_line.split_whitespace().next().unwrap_or("app").to_owned();
        self.spawn(&name, cmd)?;
        info!(command = command_line, "session app started");
        Ok(())
    }

    fn spawn(&mut self, name: &str, cmd: Command) -> Result<(), SessionError> {
        let child = SessionChild::spawn(name, cmd, &self.exits_tx)?;
        self.children.push(child);
        Ok(())
    }

    fn start_desktop(&mut self) -> Result<(), SessionError> {
        let bus = self.runtime_dir.join("bus");
        let mut dbus = self.command("dbus-daemon");
        dbus.args(["--session", "--nofork", "--nopidfile"])
            .arg(format!("--address=unix:path={}", bus.display()));
        self.spawn("dbus-daemon", dbus)?;
        self.wait("the session bus socket", || bus.exists())?;

        let pipewire = self.command("pipewire");
        self.spawn("pipewire", pipewire)?;
        let pw_socket = self.runtime_dir.join("pipewire-0");
        self.wait("PipeWire's socket", || pw_socket.exists())?;
        // Screen-cast streams are linked by the session manager.
        let wireplumber = self.command("wireplumber");
        self.spawn("wireplumber", wireplumber)?;

        match self.options.compositor {
            Compositor::Gnome => self.start_mutter(),
            Compositor::Sway => self.start_sway(),
        }
    }

    fn start_mutter(&mut self) -> Result<(), SessionError> {
        let mut mutter = self.command("mutter");
        mutter
            .args(["--headless", "--wayland", "--no-x11"])
            .arg(format!("--wayland-display={MUTTER_SOCKET}"))
            // Mutter must make its own display, not nest in ours.
            .env_remove("WAYLAND_DISPLAY")
            // GNOME's defaults: no dconf service is activated on the private bus.
            .env("GSETTINGS_BACKEND", "memory");
        self.spawn("mutter", mutter)?;
        let socket = self.runtime_dir.join(MUTTER_SOCKET);
        self.wait("Mutter's Wayland socket", || socket.exists())?;
        for service in MUTTER_SERVICES {
            self.wait_for_service(service)?;
        }
        Ok(())
    }

    fn start_sway(&mut self) -> Result<(), SessionError> {
        let (w, h) = self.options.size;
        let config = self.runtime_dir.join("sway.config");
        let xdpw_config = self.runtime_dir.join("xdpw.config");
        let portals = self.runtime_dir.join("portals");
        let write = |path: &Path, text: &str| {
            std::fs::write(path, text).map_err(|source| SessionError::System {
                what: format!("writing {}", path.display()),
                source,
            })
        };
        write(
            &config,
            &format!(
                "output {SWAY_OUTPUT} resolution {w}x{h} position 0 0 bg #204060 solid_color\n\
                 xwayland disable\nseat seat0 fallback true\n"
            ),
        )?;
        // No chooser: the only output is cast, without a question.
        write(
            &xdpw_config,
            &format!("[screencast]\noutput_name={SWAY_OUTPUT}\nchooser_type=none\nmax_fps=60\n"),
        )?;
        // xdg-desktop-portal 1.16 starts every installed backend as a fallback (-gnome would
        // try to reach a Mutter that is not there): it reads backends from a folder holding
        // only -wlr's.
        std::fs::create_dir_all(&portals)
            .and_then(|()| std::fs::copy(programs::WLR_PORTAL_FILE, portals.join("wlr.portal")))
            .map_err(|source| SessionError::System {
                what: format!("preparing the portal's backend folder {}", portals.display()),
                source,
            })?;

        let mut sway = self.command("sway");
        sway.arg("-c")
            .arg(&config)
            .env_remove("WAYLAND_DISPLAY")
            .env("WLR_BACKENDS", "headless")
            .env("WLR_RENDERER", "pixman")
            .env("WLR_LIBINPUT_NO_DEVICES", "1")
            .env("WLR_HEADLESS_OUTPUTS", "1");
        self.spawn("sway", sway)?;
        let socket = self.runtime_dir.join(SWAY_SOCKET);
        self.wait("sway's Wayland socket", || socket.exists())?;
        let run = self.runtime_dir.clone();
        self.wait("sway's IPC socket", || sway_ipc_socket(&run).is_some())?;
        if let Some(ipc) = sway_ipc_socket(&self.runtime_dir) {
            self.env.push(("SWAYSOCK".to_owned(), ipc.display().to_string()));
        }

        let mut xdpw = self.command(programs::xdpw());
        xdpw.args(["-l", "INFO", "-c"]).arg(&xdpw_config);
        self.spawn("xdg-desktop-portal-wlr", xdpw)?;
        self.wait_for_service("org.freedesktop.impl.portal.desktop.wlr")?;
        let mut portal = self.command(programs::XDP);
        portal.env("XDG_DESKTOP_PORTAL_DIR", &portals);
        self.spawn("xdg-desktop-portal", portal)?;
        self.wait_for_service("org.freedesktop.portal.Desktop")
    }

    /// Polls `done` (bounded), failing early if a child died meanwhile.
    fn wait(&mut self, what: &str, mut done: impl FnMut() -> bool) -> Result<(), SessionError> {
        let until = Instant::now() + STEP_TIMEOUT;
        loop {
            if done() {
                return Ok(());
            }
            if let Some(dead) = self.children.iter().find(|c| c.status().is_some()) {
                let exit = ChildExit {
                    name: dead.name().to_owned(),
                    status: dead
                        .status()
                        .unwrap_or_else(|| std::os::unix::process::ExitStatusExt::from_raw(-1)),
                    last_output: dead.last_output(),
                };
                for line in &exit.last_output {
                    warn!(child = %exit.name, "{line}");
                }
                self.stop();
                return Err(SessionError::ChildDied(exit));
            }
            if Instant::now() >= until {
                self.stop();
                return Err(SessionError::Timeout {
                    what: what.to_owned(),
                    limit: STEP_TIMEOUT,
                });
            }
            std::thread::sleep(POLL);
        }
    }

    /// Waits until `name` is owned on the session bus.
    fn wait_for_service(&mut self, name: &str) -> Result<(), SessionError> {
        let env = self.env.clone();
        let home = self.user.home.clone();
        self.wait(&format!("{name} on the session bus"), || {
            let mut ask = Command::new("dbus-send");
            ask.env_clear()
                .envs(env.iter().map(|(k, v)| (k, v)))
                .current_dir(&home)
                .args([
                    "--session",
                    "--print-reply",
                    "--dest=org.freedesktop.DBus",
                    "/org/freedesktop/DBus",
                    "org.freedesktop.DBus.NameHasOwner",
                ])
                .arg(format!("string:{name}"));
            ask.output().is_ok_and(|out| {
                out.status.success() && String::from_utf8_lossy(&out.stdout).contains("boolean true")
            })
        })
    }

    /// Stops every child (reverse start order: apps, compositor, PipeWire, bus), kills
    /// whatever else carries the session's runtime directory, and removes that directory.
    /// Idempotent.
    pub fn stop(&mut self) {
        if self.stopped {
            return;
        }
        self.stopped = true;
        for child in self.children.iter().rev() {
            child.stop(STOP_GRACE);
        }
        let stragglers = sweep::kill_stragglers(&self.runtime_dir);
        if stragglers > 0 {
            info!(
                stragglers,
                "killed processes the session's programs had left behind"
            );
        }
        if let Err(e) = std::fs::remove_dir_all(&self.runtime_dir) {
            warn!(dir = %self.runtime_dir.display(), error = %e, "could not remove the session's runtime directory");
        }
        let pids: Vec<i32> = self.children.iter().map(SessionChild::pid).collect();
        info!(?pids, "headless session stopped");
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Resizes a running session's monitor (see [`Session::monitor_resizer`]); can be sent to
/// another thread.
#[derive(Debug, Clone)]
pub struct MonitorResizer {
    env: Vec<(String, String)>,
    home: PathBuf,
}

impl MonitorResizer {
    /// The command that gives the monitor `width`x`height` (`swaymsg output HEADLESS-1
    /// resolution WxH`, in the session's environment). Run it to completion.
    pub fn command(&self, width: u32, height: u32) -> Command {
        let mut cmd = Command::new("swaymsg");
        cmd.env_clear()
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .current_dir(&self.home)
            .args(["output", SWAY_OUTPUT, "resolution", &format!("{width}x{height}")]);
        cmd
    }
}

fn sway_ipc_socket(run: &Path) -> Option<PathBuf> {
    std::fs::read_dir(run)
        .ok()?
        .flatten()
        .map(|e| e.path())
        .find(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("sway-ipc.") && n.ends_with(".sock"))
        })
}
