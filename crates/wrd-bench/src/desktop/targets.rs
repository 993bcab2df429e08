//! The servers under test, each on its own headless desktop, started and stopped by us.
//!
//! Every desktop is one of wrd-testkit's stacks (as the unprivileged stack user when we are
//! root, with private XDG directories and session bus):
//!
//! - wrd-server on sway: [`SwayStack`] (sway, PipeWire, xdg-desktop-portal-wlr), then
//!   `wrd-server serve --source portal` inside it, NLA.
//! - wrd-server on GNOME: [`MutterStack`] with one virtual monitor of the benchmark's size,
//!   then `wrd-server serve --source mutter` inside it, NLA: the same compositor as grd's.
//! - gnome-remote-desktop 43: [`MutterStack`] with one virtual monitor of the benchmark's size
//!   (grd 43's default screen-share mode, `mirror-primary`, records the primary monitor;
//!   without a monitor it fails the session with "Failed to record monitor: Unknown
//!   monitor"), credentials and TLS files set with `grdctl --headless`, then the daemon, NLA.
//!   grd 43 cannot bind to one address: while it runs, a packet filter drops whatever reaches
//!   its port from anywhere but the loopback interface ([`LoopbackOnly`]).
//! - weston 10's RDP backend: [`WestonRdpStack`] on 127.0.0.1, TLS only (weston 10 accepts
//!   any user and password and offers no NLA).
//!
//! Dropping a [`Target`] stops the server, then its desktop.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, Result, bail, ensure};
use wrd_testkit::{
    ChildGuard, MutterStack, MutterStackOptions, StackOptions, SwayStack, WestonRdpOptions, WestonRdpStack,
    free_port, is_listening, output_with_timeout, poll_until, wait_for_port,
};

use crate::cli::ServerArg;

/// The user name the clients log in with.
pub const USER: &str = "bench";
const GRD_DAEMON: &str = "/usr/libexec/gnome-remote-desktop-daemon";

/// How the client authenticates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Security {
    Nla,
    Tls,
}

impl From<Security> for wrd_testkit::Security {
    fn from(security: Security) -> Self {
        match security {
            Security::Nla => Self::Nla,
            Security::Tls => Self::Tls,
        }
    }
}

/// The desktop a server runs in.
#[derive(Debug)]
enum Desktop {
    Sway(SwayStack),
    Mutter(MutterStack),
    Weston(WestonRdpStack),
}

impl Desktop {
    fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        match self {
            Self::Sway(s) => s.command(program),
            Self::Mutter(s) => s.command(program),
            Self::Weston(s) => s.command(program),
        }
    }

    fn install(&self, file: &Path) -> Result<PathBuf> {
        match self {
            Self::Sway(s) => s.install(file),
            Self::Mutter(s) => s.install(file),
            Self::Weston(s) => s.install(file),
        }
    }

    fn env(&self) -> &[(String, String)] {
        match self {
            Self::Sway(s) => s.env(),
            Self::Mutter(s) => s.env(),
            Self::Weston(s) => s.env(),
        }
    }

    fn runtime_dir(&self) -> Result<PathBuf> {
        self.env()
            .iter()
            .find(|(k, _)| k == "XDG_RUNTIME_DIR")
            .map(|(_, v)| PathBuf::from(v))
            .context("the desktop has no XDG_RUNTIME_DIR")
    }
}

/// A running server under test and its desktop.
#[derive(Debug)]
pub struct Target {
    pub kind: ServerArg,
    pub addr: SocketAddr,
    pub security: Security,
    pub password: String,
    /// The RDP server's process: what CPU and RSS are measured on.
    pub server_pid: u32,
    /// The server, when it is a program of its own (not weston, which is its desktop).
    server: Option<ChildGuard>,
    /// Where this target's logs are.
    pub log_dir: PathBuf,
    desktop: Option<Desktop>,
    firewall: Option<LoopbackOnly>,
}

impl Target {
    /// Starts `kind` at `size` in `<work>/<name>`.
    pub fn start(
        kind: ServerArg,
        work: &Path,
        size: (u16, u16),
        wrd_server: Option<&Path>,
        timeout: Duration,
    ) -> Result<Self> {
        let dir = work.join(match kind {
            ServerArg::Wrd => "wrd",
            ServerArg::WrdMutter => "wrd-mutter",
            ServerArg::Gnome => "gnome",
            ServerArg::Weston => "weston",
        });
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let size = (u32::from(size.0), u32::from(size.1));
        match kind {
            ServerArg::Wrd | ServerArg::WrdMutter => {
                let binary = wrd_server.context("--wrd-server is needed to measure wrd-server")?;
                start_wrd(kind, dir, size, binary, timeout)
            }
            ServerArg::Gnome => start_gnome(dir, size, timeout),
            ServerArg::Weston => start_weston(dir, size),
        }
    }

    /// The name of the server in tables.
    pub fn label(&self) -> &'static str {
        label(self.kind)
    }

    /// A program of this desktop, as its user, in its environment (`WAYLAND_DISPLAY` set).
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Result<Command> {
        Ok(self
            .desktop
            .as_ref()
            .context("the desktop is gone")?
            .command(program))
    }

    /// Copies a program where this desktop's user can run it.
    pub fn install(&self, file: &Path) -> Result<PathBuf> {
        self.desktop
            .as_ref()
            .context("the desktop is gone")?
            .install(file)
    }

    /// Every process of this desktop now (compositor, bus, PipeWire, portals, the server and
    /// what they started), found by the desktop's private runtime directory.
    pub fn desktop_pids(&self) -> Result<Vec<u32>> {
        let dir = self
            .desktop
            .as_ref()
            .context("the desktop is gone")?
            .runtime_dir()?;
        Ok(processes_of_session(&dir))
    }

    /// The server's log so far (empty for weston, whose log is its desktop's).
    pub fn server_log(&self) -> String {
        self.server.as_ref().map(ChildGuard::log).unwrap_or_default()
    }

    /// Fails if the server has exited.
    pub fn ensure_running(&mut self) -> Result<()> {
        match (&mut self.server, &mut self.desktop) {
            (Some(server), _) => server.ensure_running(),
            (None, Some(Desktop::Weston(weston))) => weston.ensure_running(),
            (None, _) => bail!("the server is gone"),
        }
    }
}

impl Drop for Target {
    fn drop(&mut self) {
        if let Some(mut server) = self.server.take()
            && let Err(e) = server.stop()
        {
            eprintln!("wrd-bench: stopping {}: {e:#}", server.name());
        }
        // The desktop stops its own programs when dropped; then the packet filter goes.
        self.desktop = None;
        self.firewall = None;
    }
}

pub fn label(kind: ServerArg) -> &'static str {
    match kind {
        ServerArg::Wrd => "wrd-server (sway)",
        ServerArg::WrdMutter => "wrd-server (mutter)",
        ServerArg::Gnome => "gnome-remote-desktop",
        ServerArg::Weston => "weston (RDP backend)",
    }
}

/// A password nobody guesses, from the kernel's random source (hex).
fn random_password() -> Result<String> {
    let mut bytes = [0u8; 12];
    std::io::Read::read_exact(
        &mut std::fs::File::open("/dev/urandom").context("opening /dev/urandom")?,
        &mut bytes,
    )
    .context("reading /dev/urandom")?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

fn loopback(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

/// wrd-server's log filter: `info` (its `display statistics` line is at INFO), or the
/// `WRD_BENCH_SERVER_LOG` environment variable to look closer (which must keep that line).
fn server_log_filter() -> String {
    std::env::var("WRD_BENCH_SERVER_LOG").unwrap_or_else(|_| "info".to_owned())
}

/// Whether `kind` is wrd-server (on any desktop).
pub fn is_ours(kind: ServerArg) -> bool {
    matches!(kind, ServerArg::Wrd | ServerArg::WrdMutter)
}

fn start_wrd(
    kind: ServerArg,
    dir: PathBuf,
    size: (u32, u32),
    binary: &Path,
    timeout: Duration,
) -> Result<Target> {
    let (desktop, source, started) = match kind {
        ServerArg::WrdMutter => {
            let stack = MutterStack::start(&dir, &MutterStackOptions { monitors: vec![size] })
                .context("starting headless mutter")?;
            (Desktop::Mutter(stack), "mutter", "Mutter screen cast started")
        }
        _ => {
            let stack = SwayStack::start(
                &dir,
                &StackOptions {
                    size: Some(size),
                    wallpaper: None,
                    animate: false,
                },
            )
            .context("starting the sway stack")?;
            (Desktop::Sway(stack), "portal", "portal screen cast started")
        }
    };
    let installed = desktop.install(binary)?;
    let addr = loopback(free_port());
    let password = random_password()?;
    let mut cmd = desktop.command(&installed);
    cmd.args(["serve", "--source", source, "--username", USER])
        .arg("--listen")
        .arg(addr.to_string())
        .env("WRD_PASSWORD", &password)
        .env("RUST_LOG", server_log_filter());
    let mut server = ChildGuard::spawn(&mut cmd, "wrd-server", &dir)?;
    server.wait_for_log(started, timeout)?;
    wait_for_port(addr, timeout)?;
    Ok(Target {
        kind,
        addr,
        security: Security::Nla,
        password,
        server_pid: server.id(),
        server: Some(server),
        log_dir: dir,
        desktop: Some(desktop),
        firewall: None,
    })
}

/// Runs a short command of the stack (bounded), failing with its output if it fails.
fn run_ok(stack: &MutterStack, program: &str, args: &[&str]) -> Result<()> {
    let out = stack.output(stack.command(program).args(args))?;
    ensure!(
        out.status.success(),
        "{program} {} failed ({}): {}{}",
        args.join(" "),
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(())
}

fn start_gnome(dir: PathBuf, size: (u32, u32), timeout: Duration) -> Result<Target> {
    let stack = MutterStack::start(&dir, &MutterStackOptions { monitors: vec![size] })
        .context("starting headless mutter")?;
    // A self-signed RSA certificate: what FreeRDP 2 based servers expect.
    let (cert, key) = (stack.dir().join("tls.crt"), stack.dir().join("tls.key"));
    let (c, k) = (cert.display().to_string(), key.display().to_string());
    run_ok(
        &stack,
        "openssl",
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=localhost",
            "-keyout",
            &k,
            "-out",
            &c,
        ],
    )?;
    let password = random_password()?;
    // grdctl keeps these in the stack's own dconf database and key file (private XDG
    // directories). The throwaway password is visible in this one short command line; that is
    // all it protects.
    run_ok(&stack, "grdctl", &["--headless", "rdp", "set-tls-cert", &c])?;
    run_ok(&stack, "grdctl", &["--headless", "rdp", "set-tls-key", &k])?;
    run_ok(
        &stack,
        "grdctl",
        &["--headless", "rdp", "set-credentials", USER, &password],
    )?;
    run_ok(&stack, "grdctl", &["--headless", "rdp", "disable-view-only"])?;
    run_ok(&stack, "grdctl", &["--headless", "rdp", "enable"])?;

    let port = free_port();
    let firewall = LoopbackOnly::install(port).context(
        "gnome-remote-desktop 43 listens on every address; refusing to start it without a packet filter \
         that keeps its port to the loopback interface",
    )?;
    let mut cmd = stack.command(GRD_DAEMON);
    cmd.args(["--headless", "--rdp-port", &port.to_string()]);
    let mut server = ChildGuard::spawn(&mut cmd, "gnome-remote-desktop", &dir)?;
    let addr = loopback(port);
    poll_until(
        timeout,
        Duration::from_millis(50),
        "gnome-remote-desktop listening",
        || {
            server.ensure_running()?;
            Ok(is_listening(addr).then_some(()))
        },
    )
    .with_context(|| format!("gnome-remote-desktop log:\n{}", server.log_tail(20)))?;
    Ok(Target {
        kind: ServerArg::Gnome,
        addr,
        security: Security::Nla,
        password,
        server_pid: server.id(),
        server: Some(server),
        log_dir: dir,
        desktop: Some(Desktop::Mutter(stack)),
        firewall: Some(firewall),
    })
}

fn start_weston(dir: PathBuf, size: (u32, u32)) -> Result<Target> {
    let addr = loopback(free_port());
    let stack = WestonRdpStack::start(&dir, &WestonRdpOptions { size, listen: addr })
        .context("starting weston's RDP backend")?;
    Ok(Target {
        kind: ServerArg::Weston,
        addr,
        security: Security::Tls,
        // weston 10 accepts any password; a random one shows nothing depends on it
        password: random_password()?,
        server_pid: stack.pid(),
        server: None,
        log_dir: dir,
        desktop: Some(Desktop::Weston(stack)),
        firewall: None,
    })
}

/// Pids of the processes whose environment has `XDG_RUNTIME_DIR=<runtime_dir>`: every program
/// of one private desktop (its compositor, bus, PipeWire, portals, servers and the services
/// the bus activated), whatever process group they ended up in. Processes whose environment
/// cannot be read (other users' when not root) are not listed.
pub fn processes_of_session(runtime_dir: &Path) -> Vec<u32> {
    let needle = format!("XDG_RUNTIME_DIR={}", runtime_dir.display());
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut pids: Vec<u32> = entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/environ"))
                .is_ok_and(|env| env.split(|b| *b == 0).any(|var| var == needle.as_bytes()))
        })
        .collect();
    pids.sort_unstable();
    pids
}

/// An nftables table of our own that drops TCP packets to one port arriving on any interface
/// but loopback; deleted on drop.
#[derive(Debug)]
pub struct LoopbackOnly {
    table: String,
}

impl LoopbackOnly {
    pub fn install(port: u16) -> Result<Self> {
        let table = format!("wrd_bench_{}_{port}", std::process::id());
        let nft = |args: &[&str]| -> Result<()> {
            let out = output_with_timeout(Command::new("nft").args(args), Duration::from_secs(10))?;
            if !out.status.success() {
                bail!(
                    "nft {}: {}",
                    args.join(" "),
                    String::from_utf8_lossy(&out.stderr).trim()
                );
            }
            Ok(())
        };
        nft(&["add", "table", "inet", &table])?;
        let me = Self { table };
        let t = me.table.as_str();
        nft(&[
            "add",
            "chain",
            "inet",
            t,
            "input",
            "{ type filter hook input priority -10 ; policy accept ; }",
        ])?;
        nft(&[
            "add",
            "rule",
            "inet",
            t,
            "input",
            "iifname",
            "!=",
            "lo",
            "tcp",
            "dport",
            &port.to_string(),
            "drop",
        ])?;
        Ok(me)
    }
}

impl Drop for LoopbackOnly {
    fn drop(&mut self) {
        let out = output_with_timeout(
            Command::new("nft").args(["delete", "table", "inet", &self.table]),
            Duration::from_secs(10),
        );
        match out {
            Ok(o) if o.status.success() => {}
            Ok(o) => eprintln!(
                "wrd-bench: deleting nftables table {}: {}",
                self.table,
                String::from_utf8_lossy(&o.stderr).trim()
            ),
            Err(e) => eprintln!("wrd-bench: deleting nftables table {}: {e:#}", self.table),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_a_process_by_its_runtime_dir() {
        let dir = std::env::temp_dir().join(format!("wrd-bench-session-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut child = Command::new("sleep")
            .arg("30")
            .env("XDG_RUNTIME_DIR", &dir)
            .spawn()
            .unwrap();
        let pid = child.id();
        // The new program's environment shows in /proc a moment after spawn returns.
        let found = poll_until(
            Duration::from_secs(5),
            Duration::from_millis(10),
            "the child",
            || {
                let found = processes_of_session(&dir);
                Ok((!found.is_empty()).then_some(found))
            },
        );
        child.kill().unwrap();
        child.wait().unwrap();
        assert_eq!(found.unwrap(), [pid]);
        assert!(processes_of_session(&dir.join("other")).is_empty());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
