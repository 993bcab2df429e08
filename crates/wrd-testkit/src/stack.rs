//! The headless Wayland desktop of the capture tests: a private session bus, sway (headless,
//! pixman), PipeWire + WirePlumber, xdg-desktop-portal + xdg-desktop-portal-wlr, all as an
//! unprivileged user, each a guarded child.
//!
//! sway refuses to run as root, and the session bus and portal accept only their own uid, so
//! when the tests run as root (CI) everything here, and every client of it (the program under
//! test, `grim`), runs as [`STACK_USER`] (created with `useradd` on first use) through
//! `setpriv`. Files that user must read or execute have to be somewhere it can reach: the stack
//! directory (owned by it) is the place; [`SwayStack::install`] copies a file there.
//!
//! `StackCore` holds what every desktop stack shares (the user, private XDG directories, the
//! environment, the session bus, PipeWire, guarded children, bounded waits); [`SwayStack`]
//! and `MutterStack` (mutter.rs) add their compositor to it.

use std::ffi::OsStr;
use std::os::unix::fs::{MetadataExt as _, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use anyhow::{Context, Result, bail, ensure};

use crate::process::{ChildGuard, output_with_timeout, poll_until};

/// The unprivileged user the stack runs as when the tests run as root.
pub const STACK_USER: &str = "rdpstack";
/// The patched portal backend built by scripts/build-xdpw-shm.sh (SHM screencopy, no GPU).
pub const XDPW_SHM: &str = "/opt/xdpw-shm/libexec/xdg-desktop-portal-wlr";
const XDPW_STOCK: &str = "/usr/libexec/xdg-desktop-portal-wlr";
pub(crate) const XDP: &str = "/usr/libexec/xdg-desktop-portal";
const STEP_TIMEOUT: Duration = Duration::from_secs(20);

/// What to put on the desktop.
#[derive(Debug, Clone, Default)]
pub struct StackOptions {
    /// Output size (default 1920x1080).
    pub size: Option<(u32, u32)>,
    /// A PNG to show as the wallpaper (`fill`); the stack copies it into its directory.
    pub wallpaper: Option<PathBuf>,
    /// Run `weston-presentation-shm` (continuous animation: a frame on every refresh).
    pub animate: bool,
}

#[derive(Debug, Clone)]
struct Identity {
    uid: u32,
    gid: u32,
    name: String,
    home: PathBuf,
}

/// A running stack. Dropping it stops every process (reverse start order).
#[derive(Debug)]
pub struct SwayStack {
    core: StackCore,
    wayland_display: String,
}

/// What every desktop stack shares: the stack user, its private XDG directories and
/// environment, guarded children (stopped in reverse start order on drop) and bounded waits.
#[derive(Debug)]
pub(crate) struct StackCore {
    // stopped in reverse order of start: see Drop
    guards: Vec<ChildGuard>,
    runner: Runner,
    log_dir: PathBuf,
}

/// Builds commands that run as the stack user in the stack's environment.
#[derive(Debug, Clone)]
pub(crate) struct Runner {
    dir: PathBuf,
    user: Option<Identity>,
    env: Vec<(String, String)>,
}

fn lookup_user(name: &str) -> Result<Option<Identity>> {
    let out = output_with_timeout(
        Command::new("getent").args(["passwd", name]),
        Duration::from_secs(10),
    )?;
    if !out.status.success() {
        return Ok(None);
    }
    let line = String::from_utf8_lossy(&out.stdout);
    let f: Vec<&str> = line.trim().split(':').collect();
    ensure!(f.len() >= 7, "odd passwd entry {line:?}");
    Ok(Some(Identity {
        name: f[0].to_owned(),
        uid: f[2].parse()?,
        gid: f[3].parse()?,
        home: PathBuf::from(f[5]),
    }))
}

/// Looks `name` up and creates it when missing, one caller at a time.
///
/// Tests run in parallel threads (and test binaries may run in parallel processes), and two
/// `useradd` at once do not fail cleanly: each checks that the name is free before taking the
/// lock on /etc/passwd, so both go on, the second entry (with the next uid) replaces the first,
/// and the home directory keeps the first uid, unwritable by the user. A file lock serialises
/// the check and the creation across threads and processes.
fn ensure_user(name: &str) -> Result<Identity> {
    let _lock = UserLock::take()?;
    let id = match lookup_user(name)? {
        Some(id) => id,
        None => {
            let out = output_with_timeout(
                Command::new("useradd").args(["--create-home", "--shell", "/bin/bash", name]),
                Duration::from_secs(30),
            )?;
            match lookup_user(name)? {
                Some(id) => id,
                None => bail!("useradd {name} failed: {}", String::from_utf8_lossy(&out.stderr)),
            }
        }
    };
    repair_home_owner(&id)?;
    Ok(id)
}

/// A home left owned by another uid (by the race [`ensure_user`] now prevents, on a machine
/// where it happened before) is given back to the user: programs run as the user keep their
/// state there (the server's TLS certificate, for one).
fn repair_home_owner(id: &Identity) -> Result<()> {
    let Ok(meta) = std::fs::metadata(&id.home) else {
        return Ok(());
    };
    if meta.uid() == id.uid {
        return Ok(());
    }
    eprintln!(
        "wrd-testkit: {} belongs to uid {}, not to {} (uid {}): giving it back",
        id.home.display(),
        meta.uid(),
        id.name,
        id.uid
    );
    let owner = format!("{}:{}", id.uid, id.gid);
    let out = output_with_timeout(
        Command::new("chown")
            .args(["-R", "--no-dereference", &owner])
            .arg(&id.home),
        Duration::from_secs(30),
    )?;
    ensure!(
        out.status.success(),
        "chown -R {owner} {}: {}",
        id.home.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(())
}

/// An exclusive `flock` on a fixed file, released when dropped (or when the process dies).
// The File is held only so that its descriptor, and with it the lock, lives as long as this.
struct UserLock(#[allow(dead_code)] std::fs::File);

impl UserLock {
    const PATH: &str = "/tmp/wrd-testkit-useradd.lock";

    fn take() -> Result<Self> {
        use std::os::fd::AsRawFd as _;
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(Self::PATH)
            .with_context(|| format!("opening {}", Self::PATH))?;
        // Bounded like every wait here: the holder runs at most one useradd (30 s) and a chown.
        poll_until(
            Duration::from_secs(90),
            Duration::from_millis(20),
            "the useradd lock",
            || {
                // SAFETY: flock on a descriptor this File owns for the whole call.
                let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
                if rc == 0 {
                    return Ok(Some(()));
                }
                let err = std::io::Error::last_os_error();
                match err.raw_os_error() {
                    Some(libc::EWOULDBLOCK) | Some(libc::EINTR) => Ok(None),
                    _ => Err(err).with_context(|| format!("locking {}", Self::PATH)),
                }
            },
        )?;
        Ok(Self(file))
    }
}

/// The stack user (created on first use), for tests that run a program as that user
/// themselves: its uid.
pub fn ensure_stack_user() -> Result<u32> {
    Ok(ensure_user(STACK_USER)?.uid)
}

fn chown(path: &Path, uid: u32, gid: u32) -> Result<()> {
    std::os::unix::fs::chown(path, Some(uid), Some(gid)).with_context(|| format!("chown {}", path.display()))
}

impl StackCore {
    /// Creates `<dir>/stack` (0700, owned by the stack user) with `run`, `data`, `state`,
    /// `cache` and `config/<d>` for each of `config_dirs`, and the environment of a
    /// `desktop` session (`XDG_CURRENT_DESKTOP`). `dir` must be reachable by the stack user:
    /// its mode is widened to 0711 (others may traverse it, not list it).
    pub(crate) fn prepare(dir: &Path, config_dirs: &[&str], desktop: &str) -> Result<Self> {
        // SAFETY: geteuid has no preconditions.
        let root = unsafe { libc::geteuid() } == 0;
        let user = if root {
            Some(ensure_user(STACK_USER)?)
        } else {
            None
        };
        let stack = dir.join("stack");
        let mut dirs: Vec<PathBuf> = ["", "run", "config", "data", "state", "cache"]
            .iter()
            .map(|d| stack.join(d))
            .collect();
        dirs.extend(config_dirs.iter().map(|d| stack.join("config").join(d)));
        for d in &dirs {
            std::fs::create_dir_all(d)?;
        }
        if let Some(u) = &user {
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o711))?;
            for d in &dirs {
                chown(d, u.uid, u.gid)?;
            }
        }
        std::fs::set_permissions(&stack, std::fs::Permissions::from_mode(0o700))?;
        std::fs::set_permissions(stack.join("run"), std::fs::Permissions::from_mode(0o700))?;
        let home = user.as_ref().map_or_else(
            || std::env::var("HOME").unwrap_or_else(|_| "/tmp".into()),
            |u| u.home.display().to_string(),
        );
        let name = user
            .as_ref()
            .map_or_else(|| std::env::var("USER").unwrap_or_default(), |u| u.name.clone());
        let run = stack.join("run");
        let s = |p: &Path| p.display().to_string();
        let env: Vec<(String, String)> = vec![
            ("PATH".into(), "/usr/local/bin:/usr/bin:/bin".into()),
            ("HOME".into(), home),
            ("USER".into(), name),
            ("LANG".into(), "C.UTF-8".into()),
            ("XDG_RUNTIME_DIR".into(), s(&run)),
            ("XDG_CONFIG_HOME".into(), s(&stack.join("config"))),
            ("XDG_DATA_HOME".into(), s(&stack.join("data"))),
            ("XDG_STATE_HOME".into(), s(&stack.join("state"))),
            ("XDG_CACHE_HOME".into(), s(&stack.join("cache"))),
            ("XDG_CURRENT_DESKTOP".into(), desktop.into()),
            ("XDG_SESSION_TYPE".into(), "wayland".into()),
            ("XDG_SESSION_DESKTOP".into(), desktop.to_lowercase()),
            (
                "DBUS_SESSION_BUS_ADDRESS".into(),
                format!("unix:path={}", s(&run.join("bus"))),
            ),
        ];
        Ok(Self {
            guards: Vec::new(),
            runner: Runner {
                dir: stack,
                user,
                env,
            },
            log_dir: dir.to_path_buf(),
        })
    }

    /// Gives `path` (made by us, as root) to the stack user.
    pub(crate) fn give(&self, path: &Path) -> Result<()> {
        match &self.runner.user {
            Some(u) => chown(path, u.uid, u.gid),
            None => Ok(()),
        }
    }

    /// `$XDG_RUNTIME_DIR` of the stack.
    pub(crate) fn run_dir(&self) -> PathBuf {
        self.runner.dir.join("run")
    }

    /// Adds (or replaces) a variable of the stack's environment, for everything started later.
    pub(crate) fn set_env(&mut self, key: &str, value: impl Into<String>) {
        self.runner.env.retain(|(k, _)| k != key);
        self.runner.env.push((key.to_owned(), value.into()));
    }

    /// The session bus (first: activated helpers inherit this environment).
    pub(crate) fn start_session_bus(&mut self) -> Result<()> {
        let bus = self.run_dir().join("bus");
        let mut dbus = self.command("dbus-daemon");
        dbus.args(["--session", "--nofork", "--nopidfile"])
            .arg(format!("--address=unix:path={}", bus.display()));
        self.spawn(dbus, "dbus-daemon")?;
        self.wait("the session bus socket", |_| Ok(bus.exists()))
    }

    /// PipeWire and WirePlumber (screen-cast streams are linked by the session manager).
    pub(crate) fn start_pipewire(&mut self) -> Result<()> {
        self.spawn(self.command("pipewire"), "pipewire")?;
        let pw_sock = self.run_dir().join("pipewire-0");
        self.wait("the pipewire socket", |_| Ok(pw_sock.exists()))?;
        self.spawn(self.command("wireplumber"), "wireplumber")?;
        self.wait("wireplumber", |r| {
            let out = r.output(r.command("pw-cli").args(["ls", "Client"]))?;
            Ok(String::from_utf8_lossy(&out.stdout)
                .to_lowercase()
                .contains("wireplumber"))
        })
    }

    /// Copies the named variables of the stack's environment into the bus's activation
    /// environment (for bus-activated services such as the portal's helpers).
    pub(crate) fn update_activation_environment(&self, names: &[&str]) -> Result<()> {
        let mut upd = self.command("dbus-update-activation-environment");
        upd.args(names);
        let out = self.output(&mut upd)?;
        ensure!(
            out.status.success(),
            "dbus-update-activation-environment failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Ok(())
    }

    pub(crate) fn command(&self, program: impl AsRef<OsStr>) -> Command {
        self.runner.command(program)
    }

    pub(crate) fn env(&self) -> &[(String, String)] {
        &self.runner.env
    }

    pub(crate) fn dir(&self) -> &Path {
        &self.runner.dir
    }

    pub(crate) fn install(&self, file: &Path) -> Result<PathBuf> {
        let name = file.file_name().context("file without a name")?;
        let dst = self.runner.dir.join(name);
        // A hard link when the file is already readable and executable by anyone and on the
        // same filesystem: test binaries are hundreds of MB, and a copy per test (kept when the
        // test fails) filled disks.
        let source = std::fs::metadata(file).with_context(|| format!("reading {}", file.display()))?;
        if let Ok(existing) = std::fs::metadata(&dst) {
            // Installed before (a second scene on the same desktop): the link is the file.
            // Copying onto it would truncate the source through the link.
            if (existing.dev(), existing.ino()) == (source.dev(), source.ino()) {
                return Ok(dst);
            }
            std::fs::remove_file(&dst).with_context(|| format!("replacing {}", dst.display()))?;
        }
        let world_executable = source.permissions().mode() & 0o005 == 0o005;
        if world_executable && std::fs::hard_link(file, &dst).is_ok() {
            return Ok(dst);
        }
        std::fs::copy(file, &dst).with_context(|| format!("copying {}", file.display()))?;
        std::fs::set_permissions(&dst, std::fs::Permissions::from_mode(0o755))?;
        self.give(&dst)?;
        Ok(dst)
    }

    pub(crate) fn output(&self, cmd: &mut Command) -> Result<Output> {
        self.runner.output(cmd)
    }

    pub(crate) fn spawn(&mut self, mut cmd: Command, name: &str) -> Result<()> {
        let g = ChildGuard::spawn(&mut cmd, name, &self.log_dir)?.with_grace(Duration::from_secs(2));
        self.guards.push(g);
        Ok(())
    }

    /// The guard of the child started as `name` (the latest, if several were).
    pub(crate) fn guard_mut(&mut self, name: &str) -> Option<&mut ChildGuard> {
        self.guards.iter_mut().rev().find(|g| g.name() == name)
    }

    pub(crate) fn wait(&mut self, what: &str, mut f: impl FnMut(&Runner) -> Result<bool>) -> Result<()> {
        self.wait_value(what, |r| Ok(f(r)?.then_some(())))
    }

    /// Polls `f` (bounded); every few polls checks that no stack process died meanwhile.
    pub(crate) fn wait_value<T>(
        &mut self,
        what: &str,
        mut f: impl FnMut(&Runner) -> Result<Option<T>>,
    ) -> Result<T> {
        let runner = &self.runner;
        let guards = &mut self.guards;
        let mut polls = 0u32;
        poll_until(STEP_TIMEOUT, Duration::from_millis(20), what, || {
            polls += 1;
            if polls.is_multiple_of(5) {
                for g in guards.iter_mut() {
                    g.ensure_running()?;
                }
            }
            f(runner)
        })
    }
}

impl SwayStack {
    /// Starts the stack in `<dir>/stack` (logs in `dir`). `dir` must be reachable by the stack
    /// user: its mode is widened to 0711 (others may traverse it, not list it).
    pub fn start(dir: &Path, opts: &StackOptions) -> Result<Self> {
        let mut core = StackCore::prepare(dir, &["sway", "xdg-desktop-portal-wlr"], "sway")?;
        let stack = core.dir().to_path_buf();
        let (w, h) = opts.size.unwrap_or((1920, 1080));
        let mut bg = "bg #204060 solid_color".to_owned();
        if let Some(wall) = &opts.wallpaper {
            let dst = stack.join("wallpaper.png");
            std::fs::copy(wall, &dst).with_context(|| format!("copying {}", wall.display()))?;
            core.give(&dst)?;
            bg = format!("bg {} fill", dst.display());
        }
        let sway_config = stack.join("config/sway/config");
        std::fs::write(
            &sway_config,
            format!(
                "output HEADLESS-1 resolution {w}x{h} position 0 0 {bg}\n\
                 default_border none\nfocus_follows_mouse no\nxwayland disable\nseat seat0 fallback true\n"
            ),
        )?;
        let xdpw_config = stack.join("config/xdg-desktop-portal-wlr/config");
        std::fs::write(
            &xdpw_config,
            "[screencast]\noutput_name=HEADLESS-1\nchooser_type=none\nmax_fps=60\n",
        )?;
        core.give(&sway_config)?;
        core.give(&xdpw_config)?;
        let run = core.run_dir();

        // 1. session bus
        core.start_session_bus()?;

        // 2. sway
        let mut sway = core.command("sway");
        sway.arg("-c")
            .arg(&sway_config)
            .env("WLR_BACKENDS", "headless")
            .env("WLR_RENDERER", "pixman")
            .env("WLR_LIBINPUT_NO_DEVICES", "1")
            .env("WLR_HEADLESS_OUTPUTS", "1");
        core.spawn(sway, "sway")?;
        let wl = core.wait_value("sway's sockets", |_| {
            let mut wl = None;
            let mut ipc = None;
            for e in std::fs::read_dir(&run)?.flatten() {
                let n = e.file_name().to_string_lossy().into_owned();
                if n.starts_with("wayland-") && !n.ends_with(".lock") {
                    wl = Some(n);
                } else if n.starts_with("sway-ipc.") {
                    ipc = Some(n);
                }
            }
            Ok(wl.zip(ipc))
        })?;
        core.set_env("WAYLAND_DISPLAY", wl.0.clone());
        core.set_env("SWAYSOCK", run.join(wl.1).display().to_string());
        core.wait("swaymsg get_outputs", |r| {
            Ok(r.output(r.command("swaymsg").args(["-t", "get_outputs"]))?
                .status
                .success())
        })?;
        core.update_activation_environment(&[
            "WAYLAND_DISPLAY",
            "SWAYSOCK",
            "XDG_CURRENT_DESKTOP",
            "XDG_SESSION_TYPE",
            "XDG_RUNTIME_DIR",
            "XDG_CONFIG_HOME",
            "XDG_DATA_HOME",
            "XDG_STATE_HOME",
            "XDG_CACHE_HOME",
        ])?;

        // 3. pipewire + wireplumber (the portal's streams are linked by the session manager)
        core.start_pipewire()?;

        // 4. portals
        let xdpw = std::env::var("XDPW_BIN").ok().unwrap_or_else(|| {
            if Path::new(XDPW_SHM).exists() {
                XDPW_SHM.to_owned()
            } else {
                tracing::warn!("{XDPW_SHM} missing (scripts/build-xdpw-shm.sh): stock xdpw fails ScreenCast without a GPU");
                XDPW_STOCK.to_owned()
            }
        });
        let mut cmd = core.command(&xdpw);
        // WRD_TEST_XDPW_LOG=TRACE (say) when a run needs to see its frames.
        let level = std::env::var("WRD_TEST_XDPW_LOG").unwrap_or_else(|_| "INFO".into());
        cmd.args(["-l", &level, "-c"]).arg(&xdpw_config);
        core.spawn(cmd, "xdg-desktop-portal-wlr")?;
        core.wait("xdg-desktop-portal-wlr on the bus", |r| {
            r.bus_has("org.freedesktop.impl.portal.desktop.wlr")
        })?;
        // The wlroots desktop this stack models has only xdg-desktop-portal-wlr: with other
        // backends installed (xdg-desktop-portal-gnome, for the GNOME tests), xdg-desktop-portal
        // ≤ 1.16 falls back to them for what -wlr lacks and starts them on this desktop.
        let portals = stack.join("portals");
        std::fs::create_dir_all(&portals)?;
        std::fs::copy(
            "/usr/share/xdg-desktop-portal/portals/wlr.portal",
            portals.join("wlr.portal"),
        )
        .context("copying wlr.portal (is xdg-desktop-portal-wlr installed?)")?;
        core.give(&portals)?;
        core.set_env("XDG_DESKTOP_PORTAL_DIR", portals.display().to_string());
        let mut cmd = core.command(XDP);
        cmd.arg("-v");
        core.spawn(cmd, "xdg-desktop-portal")?;
        core.wait("xdg-desktop-portal on the bus", |r| {
            r.bus_has("org.freedesktop.portal.Desktop")
        })?;

        // 5. something moving
        if opts.animate {
            core.spawn(core.command("weston-presentation-shm"), "weston-presentation-shm")?;
        }
        Ok(Self {
            core,
            wayland_display: wl.0,
        })
    }

    /// `program` as the stack user, in the stack's environment (and nothing else of ours).
    pub fn command(&self, program: impl AsRef<OsStr>) -> Command {
        self.core.command(program)
    }

    /// The stack's environment (`XDG_RUNTIME_DIR`, `WAYLAND_DISPLAY`, the bus address, ...).
    pub fn env(&self) -> &[(String, String)] {
        self.core.env()
    }

    /// `WAYLAND_DISPLAY` of sway.
    pub fn wayland_display(&self) -> &str {
        &self.wayland_display
    }

    /// The stack directory (owned by the stack user).
    pub fn dir(&self) -> &Path {
        self.core.dir()
    }

    /// Copies `file` into the stack directory (readable and executable by the stack user) and
    /// returns the copy's path: for binaries under root-only folders (CI clones).
    pub fn install(&self, file: &Path) -> Result<PathBuf> {
        self.core.install(file)
    }

    /// Runs `cmd` (from [`Self::command`]) to completion, at most 20 s.
    pub fn output(&self, cmd: &mut Command) -> Result<Output> {
        self.core.output(cmd)
    }

    /// `swaymsg ARGS` in this stack: its output, or an error with what it said.
    pub fn swaymsg(&self, args: &[&str]) -> Result<String> {
        let out = self.output(self.command("swaymsg").args(args))?;
        ensure!(
            out.status.success(),
            "swaymsg {args:?} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// Every window of sway's tree (`get_tree` nodes with an `app_id`, tiled or floating),
    /// depth first, as sway describes them (`app_id`, `name`, `rect`, `focused`, ...).
    pub fn windows(&self) -> Result<Vec<serde_json::Value>> {
        fn walk(node: &serde_json::Value, out: &mut Vec<serde_json::Value>) {
            if node.get("app_id").is_some_and(|a| !a.is_null()) {
                out.push(node.clone());
            }
            for key in ["nodes", "floating_nodes"] {
                for child in node[key].as_array().into_iter().flatten() {
                    walk(child, out);
                }
            }
        }
        let tree: serde_json::Value = serde_json::from_str(&self.swaymsg(&["-t", "get_tree", "-r"])?)
            .context("parsing swaymsg -t get_tree")?;
        let mut out = Vec::new();
        walk(&tree, &mut out);
        Ok(out)
    }

    /// The app id of the window sway has focused, if any.
    pub fn focused_app(&self) -> Result<Option<String>> {
        Ok(self
            .windows()?
            .into_iter()
            .find(|w| w["focused"].as_bool() == Some(true))
            .and_then(|w| w["app_id"].as_str().map(str::to_owned)))
    }

    /// A screenshot of the output with `grim` (PNG bytes).
    pub fn grim_png(&self) -> Result<Vec<u8>> {
        let out = self.output(self.command("grim").args(["-t", "png", "-"]))?;
        ensure!(
            out.status.success(),
            "grim failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Ok(out.stdout)
    }

    /// Sends `signal` to the processes running `program` in *this* stack (recognised by the
    /// stack's `XDG_RUNTIME_DIR` in their environment), never to another test's: to make a
    /// part of the desktop fail on purpose. Returns how many were signalled.
    pub fn signal_programs(&self, program: &str, signal: libc::c_int) -> usize {
        let Some(runtime_dir) = self
            .env()
            .iter()
            .find(|(k, _)| k == "XDG_RUNTIME_DIR")
            .map(|(_, v)| format!("XDG_RUNTIME_DIR={v}"))
        else {
            return 0;
        };
        let Ok(entries) = std::fs::read_dir("/proc") else {
            return 0;
        };
        let mut signalled = 0;
        for entry in entries.flatten() {
            let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
                continue;
            };
            let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
            let environ = std::fs::read(entry.path().join("environ")).unwrap_or_default();
            let ours = environ
                .split(|b| *b == 0)
                .any(|var| var == runtime_dir.as_bytes());
            let is_program = cmdline
                .split(|b| *b == 0)
                .next()
                .is_some_and(|argv0| argv0.ends_with(program.as_bytes()));
            // SAFETY: kill has no memory-safety preconditions; pid is a process of this stack.
            if ours && is_program && unsafe { libc::kill(pid, signal) } == 0 {
                signalled += 1;
            }
        }
        signalled
    }

    /// Starts a long-running program of the stack user as a guarded child (logged in the test
    /// directory, stopped with the stack).
    pub fn spawn_client(&mut self, cmd: Command, name: &str) -> Result<()> {
        self.core.spawn(cmd, name)
    }
}

impl Runner {
    pub(crate) fn command(&self, program: impl AsRef<OsStr>) -> Command {
        let mut cmd = match &self.user {
            Some(u) => {
                let mut c = Command::new("setpriv");
                c.arg(format!("--reuid={}", u.uid))
                    .arg(format!("--regid={}", u.gid))
                    .arg("--init-groups")
                    .arg("--pdeathsig=TERM")
                    .arg("--")
                    .arg(program);
                c
            }
            None => Command::new(program),
        };
        cmd.env_clear()
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .current_dir(&self.dir);
        cmd
    }

    pub(crate) fn output(&self, cmd: &mut Command) -> Result<Output> {
        output_with_timeout(cmd, STEP_TIMEOUT)
    }

    fn bus_call(&self, method: &str, name: &str) -> Result<String> {
        let out = self.output(
            self.command("dbus-send")
                .args([
                    "--session",
                    "--print-reply",
                    "--dest=org.freedesktop.DBus",
                    "/org/freedesktop/DBus",
                ])
                .arg(format!("org.freedesktop.DBus.{method}"))
                .arg(format!("string:{name}")),
        )?;
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    pub(crate) fn bus_has(&self, name: &str) -> Result<bool> {
        Ok(self.bus_call("NameHasOwner", name)?.contains("boolean true"))
    }

    /// Pids of bus-activated services (permission store, document portal): children of the
    /// bus that may have left its process group.
    fn activated_pids(&self) -> Vec<u32> {
        [
            "org.freedesktop.impl.portal.PermissionStore",
            "org.freedesktop.portal.Documents",
            // xdg-desktop-portal ≤ 1.16 falls back to any installed backend for an interface
            // the desktop's own lacks (RemoteDesktop on sway, when xdg-desktop-portal-gnome
            // is installed): activated on our bus
            "org.freedesktop.impl.portal.desktop.gnome",
            "org.freedesktop.impl.portal.desktop.gtk",
        ]
        .iter()
        .filter_map(|n| {
            let text = self.bus_call("GetConnectionUnixProcessID", n).ok()?;
            text.split_whitespace().last()?.parse().ok()
        })
        .collect()
    }
}

impl Drop for StackCore {
    fn drop(&mut self) {
        let activated = self.runner.activated_pids();
        while let Some(mut g) = self.guards.pop() {
            if let Err(e) = g.stop() {
                eprintln!("wrd-testkit: stopping {}: {e:#}", g.name());
            }
        }
        for pid in activated {
            // children of our bus, found by id on that bus; gone already if they shared its group
            if let Ok(p) = libc::pid_t::try_from(pid) {
                // SAFETY: kill(2) on one pid we learned from our own bus.
                unsafe { libc::kill(p, libc::SIGTERM) };
            }
        }
        // xdg-document-portal (started on the bus for the portal) mounts a FUSE file system
        // on $XDG_RUNTIME_DIR/doc and, killed, often leaves the mount behind: the test
        // directory could then never be removed, and mounts piled up on the machine. Detach
        // it (lazily: the dying portal may still hold it).
        let doc = self.run_dir().join("doc");
        if is_mount_point(&doc) {
            let mut cmd = self.runner.command("fusermount3");
            cmd.args(["-u", "-z"]).arg(&doc);
            match self.runner.output(&mut cmd) {
                Ok(out) if out.status.success() => {}
                Ok(out) => eprintln!(
                    "wrd-testkit: fusermount3 -u -z {}: {}",
                    doc.display(),
                    String::from_utf8_lossy(&out.stderr).trim_end()
                ),
                Err(e) => eprintln!("wrd-testkit: unmounting {}: {e:#}", doc.display()),
            }
        }
    }
}

/// Whether `path` is a mount point of this process's mount namespace (`/proc/self/mountinfo`,
/// field 5, where the kernel writes space, tab, newline and backslash as octal escapes).
fn is_mount_point(path: &Path) -> bool {
    let escaped = path
        .display()
        .to_string()
        .replace('\\', "\\134")
        .replace(' ', "\\040")
        .replace('\t', "\\011")
        .replace('\n', "\\012");
    std::fs::read_to_string("/proc/self/mountinfo").is_ok_and(|info| {
        info.lines()
            .any(|line| line.split(' ').nth(4) == Some(escaped.as_str()))
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    /// Removes the throwaway user (and its home) however the test ends.
    struct UserGone(String);

    impl Drop for UserGone {
        fn drop(&mut self) {
            // userdel leaves a home owned by another uid behind: that one goes by hand.
            if let Ok(Some(id)) = lookup_user(&self.0)
                && id.home.ends_with(&self.0)
            {
                let _ = std::fs::remove_dir_all(&id.home);
            }
            let _ = output_with_timeout(
                Command::new("userdel").args(["--remove", &self.0]),
                Duration::from_secs(30),
            );
        }
    }

    /// Eight tests asking for a missing user at once get one user whose home is its own (two
    /// racing `useradd` left the home to a uid that was then overwritten).
    #[test]
    fn concurrent_first_uses_create_one_user_owning_its_home() {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            eprintln!("skipped: creating a user needs root");
            return;
        }
        let name = format!("wrdrace{}", std::process::id() % 100_000);
        let _gone = UserGone(name.clone());
        let ids: Vec<Identity> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..8).map(|_| scope.spawn(|| ensure_user(&name))).collect();
            handles.into_iter().map(|h| h.join().unwrap().unwrap()).collect()
        });
        let uid = lookup_user(&name).unwrap().unwrap().uid;
        assert!(
            ids.iter().all(|id| id.uid == uid),
            "callers saw different uids: {ids:?}"
        );
        let owner = std::fs::metadata(&ids[0].home).unwrap().uid();
        assert_eq!(
            owner,
            uid,
            "{} belongs to uid {owner}, the user is {uid}",
            ids[0].home.display()
        );
    }
}
