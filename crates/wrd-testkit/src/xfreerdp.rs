//! The FreeRDP 2 X11 client (`xfreerdp`, Debian's freerdp2-x11 2.11) on a private Xvfb.
//!
//! Window placement (checked on Xvfb 21 / FreeRDP 2.11.7): with no window manager, xfreerdp
//! maps one top-level window of exactly `/size:WxH` at (0,0), without decorations. The RDP
//! desktop is therefore the `W x H` rectangle at the top-left of the Xvfb screen; the rest of
//! the screen stays as Xvfb left it (black).

use std::fmt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};

use crate::process::signal_of;
use crate::{ChildGuard, Image, Xvfb, output_with_timeout, screenshot_display};

/// RDP security protocol to insist on (`/sec:`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Security {
    /// CredSSP (Network Level Authentication) over TLS.
    Nla,
    /// TLS without NLA (credentials checked after the connection, or not at all).
    Tls,
    /// Legacy RDP security.
    Rdp,
}

impl Security {
    fn arg(self) -> &'static str {
        match self {
            Self::Nla => "/sec:nla",
            Self::Tls => "/sec:tls",
            Self::Rdp => "/sec:rdp",
        }
    }
}

/// How to run xfreerdp. [`XFreeRdpOptions::args`] shows the resulting command line.
#[derive(Debug, Clone)]
pub struct XFreeRdpOptions {
    /// The client program: `xfreerdp` (FreeRDP 2.11, Debian 12's, the default) or `xfreerdp3`
    /// (FreeRDP 3 from bookworm-backports: its clipboard pastes a server's files through FUSE).
    pub program: String,
    /// Server host (default 127.0.0.1).
    pub host: String,
    pub port: u16,
    pub username: Option<String>,
    /// `None` with a username still passes `/p:` (empty), so xfreerdp never prompts.
    pub password: Option<String>,
    pub domain: Option<String>,
    /// `None`: let client and server negotiate.
    pub security: Option<Security>,
    /// Desktop size (`/size:WxH`, default 1280x720).
    pub width: u32,
    pub height: u32,
    /// Colour depth (`/bpp:`, default 32).
    pub bpp: u32,
    /// `/cert:ignore` (default true: tests use self-signed certificates).
    pub ignore_certificate: bool,
    /// `+grab-keyboard` / `-grab-keyboard` (default false).
    pub grab_keyboard: bool,
    /// `+auto-reconnect` / `-auto-reconnect` (default false: a dropped session ends the client).
    pub auto_reconnect: bool,
    /// `/log-level:` (OFF, FATAL, ERROR, WARN, INFO, DEBUG, TRACE; default INFO).
    pub log_level: String,
    /// `/kbd:0x<id>`: the keyboard layout the client announces (a Windows layout id such as
    /// 0x00000407, German). `None`: xfreerdp derives it from the X keyboard map.
    pub keyboard_layout: Option<u32>,
    /// Appended last, e.g. `/gfx`, `/rfx`, `/gfx:avc420`, `+clipboard`, `/log-filters:...`.
    pub extra_args: Vec<String>,
}

impl XFreeRdpOptions {
    /// Defaults for a server on 127.0.0.1:`port`.
    pub fn new(port: u16) -> Self {
        Self {
            program: "xfreerdp".to_owned(),
            host: "127.0.0.1".to_owned(),
            port,
            username: None,
            password: None,
            domain: None,
            security: None,
            width: 1280,
            height: 720,
            bpp: 32,
            ignore_certificate: true,
            grab_keyboard: false,
            auto_reconnect: false,
            log_level: "INFO".to_owned(),
            keyboard_layout: None,
            extra_args: Vec::new(),
        }
    }

    /// Runs FreeRDP 3's `xfreerdp3` instead of FreeRDP 2's `xfreerdp`.
    pub fn freerdp3(mut self) -> Self {
        "xfreerdp3".clone_into(&mut self.program);
        self
    }

    pub fn credentials(mut self, username: &str, password: &str) -> Self {
        self.username = Some(username.to_owned());
        self.password = Some(password.to_owned());
        self
    }

    pub fn security(mut self, security: Security) -> Self {
        self.security = Some(security);
        self
    }

    pub fn size(mut self, width: u32, height: u32) -> Self {
        self.width = width;
        self.height = height;
        self
    }

    pub fn log_level(mut self, level: &str) -> Self {
        level.clone_into(&mut self.log_level);
        self
    }

    /// The keyboard layout id to announce (`/kbd:`), e.g. 0x00000407 for German.
    pub fn keyboard_layout(mut self, klid: u32) -> Self {
        self.keyboard_layout = Some(klid);
        self
    }

    /// Adds one more argument (after the generated ones).
    pub fn arg(mut self, arg: impl Into<String>) -> Self {
        self.extra_args.push(arg.into());
        self
    }

    /// The xfreerdp arguments these options give.
    pub fn args(&self) -> Vec<String> {
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        let mut a = vec![format!("/v:{host}:{}", self.port)];
        if let Some(u) = &self.username {
            a.push(format!("/u:{u}"));
            a.push(format!("/p:{}", self.password.as_deref().unwrap_or("")));
        } else if let Some(p) = &self.password {
            a.push(format!("/p:{p}"));
        }
        if let Some(d) = &self.domain {
            a.push(format!("/d:{d}"));
        }
        if let Some(s) = self.security {
            a.push(s.arg().to_owned());
        }
        a.push(format!("/size:{}x{}", self.width, self.height));
        a.push(format!("/bpp:{}", self.bpp));
        if self.ignore_certificate {
            a.push("/cert:ignore".to_owned());
        }
        a.push(
            if self.grab_keyboard {
                "+grab-keyboard"
            } else {
                "-grab-keyboard"
            }
            .to_owned(),
        );
        a.push(
            if self.auto_reconnect {
                "+auto-reconnect"
            } else {
                "-auto-reconnect"
            }
            .to_owned(),
        );
        a.push(format!("/log-level:{}", self.log_level));
        if let Some(klid) = self.keyboard_layout {
            a.push(format!("/kbd:{klid:#010x}"));
        }
        a.extend(self.extra_args.iter().cloned());
        a
    }
}

/// Position and size of a window on the X screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WindowGeometry {
    pub x: i32,
    pub y: i32,
    pub width: u32,
    pub height: u32,
}

/// xfreerdp's exit code (FreeRDP 2.11 `client/X11/xfreerdp.h`, `enum XF_EXIT_CODE`, and
/// `xf_exit_code_from_disconnect_reason` in `xf_client.c`).
///
/// How the codes arise (from the 2.11.7 source and runs here):
/// - A failed connect maps `freerdp_get_last_error()`: generic NLA/CredSSP failures are
///   `AuthFailure` (132); if the server answers CredSSP with an NTSTATUS, it maps to
///   `LogonFailure` (134, STATUS_LOGON_FAILURE), `WrongPassword` (154), `AccessDenied` (155),
///   `AccountRestriction` (156), ...; anything unmapped is `ConnFailed` (131).
/// - A wrong NLA password against wrd-server (IronRDP + sspi): the server answers CredSSP with
///   NTSTATUS 0xC007030C, not in FreeRDP's table, hence `AuthFailure` (132), seen here.
/// - Nothing listening (connection refused): `ConnectTransportFailed` (147), seen here.
/// - Security protocol refused (e.g. `/sec:nla` to a TLS-only server):
///   `NegoFailure` (133), seen here against weston's RDP backend.
/// - The connection lost during the session (server killed): `ConnFailed` (131), seen here.
/// - A session that ends without an error: the server's Set Error Info PDU reason
///   (0 = none: `Success`; 1..=11 protocol-independent reasons such as `Disconnect`,
///   `Logoff`, `DisconnectByUser`; licensing 16..=26; RDP protocol errors 32).
/// - `+auth-only`: `Success` (0) once authentication succeeded.
/// - SIGTERM: xfreerdp prints a backtrace and dies of the signal: `Signal(15)`, seen here;
///   do not confuse it with exit code 143 (`TlsConnectFailed`), which a shell would also show.
/// - An argument it does not know: it prints its help and exits with an unrelated small code
///   (23, i.e. `License(23)`, seen for `/nonsense-flag`), not `ParseArguments` (128).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum XfExitCode {
    Success,
    Disconnect,
    Logoff,
    IdleTimeout,
    LogonTimeout,
    ConnReplaced,
    OutOfMemory,
    ConnDenied,
    ConnDeniedFips,
    UserPrivileges,
    FreshCredentialsRequired,
    DisconnectByUser,
    /// 16..=26: licensing errors (the code itself).
    License(i32),
    /// 32: an RDP protocol error (the Set Error Info reason was in 0x10c9..=0x1193).
    Rdp,
    ParseArguments,
    Memory,
    Protocol,
    ConnFailed,
    AuthFailure,
    NegoFailure,
    LogonFailure,
    AccountLockedOut,
    PreConnectFailed,
    ConnectUndefined,
    PostConnectFailed,
    DnsError,
    DnsNameNotFound,
    ConnectFailed,
    McsConnectInitialError,
    TlsConnectFailed,
    InsufficientPrivileges,
    ConnectCancelled,
    SecurityNegoConnectFailed,
    ConnectTransportFailed,
    PasswordExpired,
    PasswordMustChange,
    KdcUnreachable,
    AccountDisabled,
    PasswordCertainlyExpired,
    ClientRevoked,
    WrongPassword,
    AccessDenied,
    AccountRestriction,
    AccountExpired,
    LogonTypeNotGranted,
    NoOrMissingCredentials,
    Unknown,
    /// A code not in FreeRDP 2.11's table.
    Other(i32),
    /// Killed by this signal (no exit code).
    Signal(i32),
}

const CODE_TABLE: &[(i32, XfExitCode)] = {
    use XfExitCode::*;
    &[
        (0, Success),
        (1, Disconnect),
        (2, Logoff),
        (3, IdleTimeout),
        (4, LogonTimeout),
        (5, ConnReplaced),
        (6, OutOfMemory),
        (7, ConnDenied),
        (8, ConnDeniedFips),
        (9, UserPrivileges),
        (10, FreshCredentialsRequired),
        (11, DisconnectByUser),
        (32, Rdp),
        (128, ParseArguments),
        (129, Memory),
        (130, Protocol),
        (131, ConnFailed),
        (132, AuthFailure),
        (133, NegoFailure),
        (134, LogonFailure),
        (135, AccountLockedOut),
        (136, PreConnectFailed),
        (137, ConnectUndefined),
        (138, PostConnectFailed),
        (139, DnsError),
        (140, DnsNameNotFound),
        (141, ConnectFailed),
        (142, McsConnectInitialError),
        (143, TlsConnectFailed),
        (144, InsufficientPrivileges),
        (145, ConnectCancelled),
        (146, SecurityNegoConnectFailed),
        (147, ConnectTransportFailed),
        (148, PasswordExpired),
        (149, PasswordMustChange),
        (150, KdcUnreachable),
        (151, AccountDisabled),
        (152, PasswordCertainlyExpired),
        (153, ClientRevoked),
        (154, WrongPassword),
        (155, AccessDenied),
        (156, AccountRestriction),
        (157, AccountExpired),
        (158, LogonTypeNotGranted),
        (159, NoOrMissingCredentials),
        (255, Unknown),
    ]
};

impl XfExitCode {
    /// Maps a process exit code.
    pub fn from_code(code: i32) -> Self {
        if (16..=26).contains(&code) {
            return Self::License(code);
        }
        CODE_TABLE
            .iter()
            .find(|(c, _)| *c == code)
            .map_or(Self::Other(code), |(_, v)| *v)
    }

    /// Maps an exit status (a death by signal is [`XfExitCode::Signal`]).
    pub fn from_status(status: ExitStatus) -> Self {
        match (status.code(), signal_of(status)) {
            (Some(c), _) => Self::from_code(c),
            (None, Some(s)) => Self::Signal(s),
            (None, None) => Self::Other(-1),
        }
    }

    /// The numeric exit code (`None` for a signal).
    pub fn code(self) -> Option<i32> {
        match self {
            Self::License(c) | Self::Other(c) => Some(c),
            Self::Signal(_) => None,
            other => CODE_TABLE.iter().find(|(_, v)| *v == other).map(|(c, _)| *c),
        }
    }

    /// Whether the server turned the credentials down: 132 (generic NLA failure), 134, 154,
    /// 155, 156, 159.
    pub fn is_auth_rejection(self) -> bool {
        matches!(
            self,
            Self::AuthFailure
                | Self::LogonFailure
                | Self::WrongPassword
                | Self::AccessDenied
                | Self::AccountRestriction
                | Self::NoOrMissingCredentials
        )
    }

    /// Whether the session ended without an error (0, or the server's plain disconnect or
    /// logoff reasons 1, 2, 11).
    pub fn is_clean_end(self) -> bool {
        matches!(
            self,
            Self::Success | Self::Disconnect | Self::Logoff | Self::DisconnectByUser
        )
    }
}

impl fmt::Display for XfExitCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.code() {
            Some(c) => write!(f, "{self:?} (exit code {c})"),
            None => write!(f, "{self:?}"),
        }
    }
}

/// A running xfreerdp on an Xvfb display, guarded (stopped with its process group on drop).
/// Its HOME is a private folder in the test directory, so it neither reads nor writes the
/// real user's FreeRDP configuration or known hosts.
#[derive(Debug)]
pub struct XFreeRdp {
    guard: ChildGuard,
    display: String,
    options: XFreeRdpOptions,
    screen: (u32, u32),
    window: Option<WindowGeometry>,
}

impl XFreeRdp {
    /// Starts `xfreerdp` with `options` on `xvfb`; its log (stdout + stderr) and HOME go in `dir`.
    pub fn spawn(xvfb: &Xvfb, options: &XFreeRdpOptions, dir: &Path) -> Result<Self> {
        let home = unique_dir(dir, "xfreerdp-home")?;
        // Line-buffered (coreutils' stdbuf execs xfreerdp in place, same pid): its log is read
        // while it runs, and block buffering would hold back lines for seconds.
        let mut cmd = Command::new("stdbuf");
        cmd.args(["-oL", "-eL", &options.program])
            .args(options.args())
            .env("DISPLAY", xvfb.display())
            .env("HOME", &home)
            .env_remove("XDG_CONFIG_HOME")
            .env_remove("WAYLAND_DISPLAY");
        let guard = ChildGuard::spawn(&mut cmd, "xfreerdp", dir)?;
        tracing::debug!(display = xvfb.display(), port = options.port, "xfreerdp started");
        Ok(Self {
            guard,
            display: xvfb.display().to_owned(),
            options: options.clone(),
            screen: xvfb.size(),
            window: None,
        })
    }

    /// The options it was started with.
    pub fn options(&self) -> &XFreeRdpOptions {
        &self.options
    }

    /// The process guard (pid, signals, log path).
    pub fn guard(&mut self) -> &mut ChildGuard {
        &mut self.guard
    }

    /// Last `n` lines of xfreerdp's output.
    pub fn log_tail(&self, n: usize) -> String {
        self.guard.log_tail(n)
    }

    /// Whether xfreerdp still runs.
    pub fn is_running(&mut self) -> bool {
        self.guard.is_running()
    }

    /// The exit code if it has exited, `None` while it runs.
    pub fn exit_code(&mut self) -> Result<Option<XfExitCode>> {
        Ok(self.guard.try_wait()?.map(XfExitCode::from_status))
    }

    /// Waits up to `timeout` for xfreerdp to exit; an error (with the log tail) if it does not.
    pub fn wait_exit(&mut self, timeout: Duration) -> Result<XfExitCode> {
        match self.guard.wait_timeout(timeout)? {
            Some(st) => Ok(XfExitCode::from_status(st)),
            None => bail!(
                "xfreerdp still running after {timeout:?}; log tail:\n{}",
                self.log_tail(30)
            ),
        }
    }

    /// Stops it (SIGTERM to its group, SIGKILL after the grace period).
    pub fn stop(&mut self) -> Result<XfExitCode> {
        Ok(XfExitCode::from_status(self.guard.stop()?))
    }

    fn ensure_alive(&mut self, waiting_for: &str) -> Result<()> {
        if let Some(st) = self.guard.try_wait()? {
            bail!(
                "xfreerdp exited with {} while waiting for {waiting_for}; log tail:\n{}",
                XfExitCode::from_status(st),
                self.log_tail(30)
            );
        }
        Ok(())
    }

    /// The largest mapped xfreerdp window, found with `xdotool search --classname xfreerdp`.
    pub fn find_window(&self) -> Result<Option<WindowGeometry>> {
        Ok(self.find_window_with_id()?.map(|(_, g)| g))
    }

    /// The X id and geometry of the largest mapped xfreerdp window.
    fn find_window_with_id(&self) -> Result<Option<(String, WindowGeometry)>> {
        let search = output_with_timeout(
            Command::new("xdotool").env("DISPLAY", &self.display).args([
                "search",
                "--onlyvisible",
                "--classname",
                "xfreerdp",
            ]),
            Duration::from_secs(10),
        )?;
        // exit status 1 = no match
        let mut best: Option<(String, WindowGeometry)> = None;
        for id in String::from_utf8_lossy(&search.stdout).split_whitespace() {
            let out = output_with_timeout(
                Command::new("xdotool").env("DISPLAY", &self.display).args([
                    "getwindowgeometry",
                    "--shell",
                    id,
                ]),
                Duration::from_secs(10),
            )?;
            if !out.status.success() {
                continue; // the window went away in between
            }
            if let Some(g) = parse_geometry_shell(&String::from_utf8_lossy(&out.stdout))
                && best.as_ref().is_none_or(|(_, b)| {
                    u64::from(g.width) * u64::from(g.height) > u64::from(b.width) * u64::from(b.height)
                })
            {
                best = Some((id.to_owned(), g));
            }
        }
        Ok(best)
    }

    /// Gives xfreerdp's window the X input focus (`xdotool windowfocus --sync`), so that keys
    /// typed on the display (`xdotool type`/`key`, which go to the focused window) reach it.
    /// Xvfb has no window manager to do that on a click. Waits for the window first.
    pub fn focus(&mut self, timeout: Duration) -> Result<()> {
        if self.window.is_none() {
            self.wait_for_window(timeout)?;
        }
        let (id, _) = self
            .find_window_with_id()?
            .context("xfreerdp's window disappeared before it could be focused")?;
        let out = output_with_timeout(
            Command::new("xdotool")
                .env("DISPLAY", &self.display)
                .args(["windowfocus", "--sync", &id]),
            timeout,
        )?;
        ensure!(
            out.status.success(),
            "xdotool windowfocus {id} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim_end()
        );
        Ok(())
    }

    /// Waits until xfreerdp's window is mapped (at most `timeout`) and returns its geometry;
    /// an error if xfreerdp exits first.
    pub fn wait_for_window(&mut self, timeout: Duration) -> Result<WindowGeometry> {
        let start = Instant::now();
        loop {
            self.ensure_alive("its window")?;
            if let Some(g) = self.find_window()?.filter(|g| g.width > 0 && g.height > 0) {
                tracing::debug!(?g, elapsed = ?start.elapsed(), "xfreerdp window mapped");
                self.window = Some(g);
                return Ok(g);
            }
            if start.elapsed() >= timeout {
                bail!(
                    "no xfreerdp window within {timeout:?}; log tail:\n{}",
                    self.log_tail(30)
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The RDP desktop as the client shows it: a screenshot of the display cropped to the
    /// xfreerdp window (as found by [`XFreeRdp::wait_for_window`]; before that, the
    /// `/size` rectangle at (0,0), where xfreerdp puts it on a bare Xvfb), clipped to the screen.
    pub fn client_area_screenshot(&self) -> Result<Image> {
        let g = self.window.unwrap_or(WindowGeometry {
            x: 0,
            y: 0,
            width: self.options.width,
            height: self.options.height,
        });
        let shot = screenshot_display(&self.display)?;
        let x = u32::try_from(g.x.max(0)).unwrap_or(0).min(shot.width());
        let y = u32::try_from(g.y.max(0)).unwrap_or(0).min(shot.height());
        let w = g.width.min(shot.width() - x);
        let h = g.height.min(shot.height() - y);
        shot.crop(x, y, w, h)
            .with_context(|| format!("cropping the client area {g:?} of a {:?} screen", self.screen))
    }

    /// Waits for the window, then takes client-area screenshots every 100 ms until `pred`
    /// accepts one (returned). Errors if xfreerdp exits or `timeout` passes; on timeout the
    /// last picture is saved next to the log as `timeout-<what>.png`.
    pub fn wait_for_client_area(
        &mut self,
        timeout: Duration,
        what: &str,
        mut pred: impl FnMut(&Image) -> bool,
    ) -> Result<Image> {
        let start = Instant::now();
        if self.window.is_none() {
            self.wait_for_window(timeout)?;
        }
        loop {
            self.ensure_alive(what)?;
            let shot = self.client_area_screenshot()?;
            if pred(&shot) {
                return Ok(shot);
            }
            if start.elapsed() >= timeout {
                let path = timeout_png_path(self.guard.log_path(), what);
                let saved = shot
                    .save_png(&path)
                    .map_or_else(|e| format!(" (not saved: {e:#})"), |()| String::new());
                bail!(
                    "timed out after {timeout:?} waiting for {what}; last client area {}{saved}; xfreerdp log tail:\n{}",
                    path.display(),
                    self.log_tail(30)
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Waits until the client area shows something (is not one uniform colour).
    pub fn wait_for_content(&mut self, timeout: Duration) -> Result<Image> {
        self.wait_for_client_area(timeout, "non-uniform client area", |img| !img.is_uniform())
    }
}

/// Parses `xdotool getwindowgeometry --shell` output (`X=`, `Y=`, `WIDTH=`, `HEIGHT=` lines).
fn parse_geometry_shell(text: &str) -> Option<WindowGeometry> {
    let get = |key: &str| {
        text.lines().find_map(|l| {
            l.strip_prefix(key)
                .and_then(|v| v.strip_prefix('='))
                .map(str::trim)
        })
    };
    Some(WindowGeometry {
        x: get("X")?.parse().ok()?,
        y: get("Y")?.parse().ok()?,
        width: get("WIDTH")?.parse().ok()?,
        height: get("HEIGHT")?.parse().ok()?,
    })
}

fn unique_dir(parent: &Path, name: &str) -> Result<PathBuf> {
    let mut path = parent.join(name);
    let mut i = 2;
    while path.exists() {
        path = parent.join(format!("{name}.{i}"));
        i += 1;
    }
    std::fs::create_dir_all(&path).with_context(|| format!("creating {}", path.display()))?;
    Ok(path)
}

/// `timeout-<what>.png` next to `log_path` (unique).
pub(crate) fn timeout_png_path(log_path: &Path, what: &str) -> PathBuf {
    let dir = log_path.parent().unwrap_or(Path::new("."));
    let clean: String = what
        .chars()
        .take(60)
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    let mut path = dir.join(format!("timeout-{clean}.png"));
    let mut i = 2;
    while path.exists() {
        path = dir.join(format!("timeout-{clean}.{i}.png"));
        i += 1;
    }
    path
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{TestDir, XvfbOptions, free_port};

    #[test]
    fn exit_code_mapping() {
        assert_eq!(XfExitCode::from_code(0), XfExitCode::Success);
        assert_eq!(XfExitCode::from_code(132), XfExitCode::AuthFailure);
        assert_eq!(XfExitCode::from_code(134), XfExitCode::LogonFailure);
        assert_eq!(XfExitCode::from_code(147), XfExitCode::ConnectTransportFailed);
        assert_eq!(XfExitCode::from_code(20), XfExitCode::License(20));
        assert_eq!(XfExitCode::from_code(77), XfExitCode::Other(77));
        for c in (0..=300).filter(|c| !(12..16).contains(c)) {
            let e = XfExitCode::from_code(c);
            assert_eq!(e.code(), Some(c), "{e:?}");
        }
        assert!(XfExitCode::WrongPassword.is_auth_rejection());
        assert!(!XfExitCode::ConnFailed.is_auth_rejection());
        assert!(XfExitCode::Disconnect.is_clean_end());
        assert_eq!(XfExitCode::Signal(15).code(), None);
        assert_eq!(XfExitCode::AuthFailure.to_string(), "AuthFailure (exit code 132)");
    }

    #[test]
    fn builds_arguments() {
        let o = XFreeRdpOptions::new(4000)
            .credentials("u", "p w")
            .security(Security::Nla)
            .arg("/gfx");
        assert_eq!(
            o.args(),
            [
                "/v:127.0.0.1:4000",
                "/u:u",
                "/p:p w",
                "/sec:nla",
                "/size:1280x720",
                "/bpp:32",
                "/cert:ignore",
                "-grab-keyboard",
                "-auto-reconnect",
                "/log-level:INFO",
                "/gfx"
            ]
        );
        let mut o = XFreeRdpOptions::new(1);
        o.host = "::1".into();
        o.username = Some("x".into());
        assert_eq!(o.args()[..3], ["/v:[::1]:1", "/u:x", "/p:"]);
        let o = XFreeRdpOptions::new(1).keyboard_layout(0x407);
        assert_eq!(o.args().last().map(String::as_str), Some("/kbd:0x00000407"));
    }

    #[test]
    fn parses_xdotool_geometry() {
        let g = parse_geometry_shell("WINDOW=2097153\nX=0\nY=0\nWIDTH=1280\nHEIGHT=720\nSCREEN=0\n").unwrap();
        assert_eq!(
            g,
            WindowGeometry {
                x: 0,
                y: 0,
                width: 1280,
                height: 720
            }
        );
        assert!(parse_geometry_shell("WINDOW=1\n").is_none());
    }

    /// Real xfreerdp against a port where nothing listens: it must exit on its own with
    /// ConnectTransportFailed (147), and waiting for its window must fail fast saying so.
    #[test]
    fn xfreerdp_connection_refused_exit_code() {
        let dir = TestDir::new("xfreerdp-refused").unwrap();
        let xvfb = Xvfb::start_with(&XvfbOptions::default().size(800, 600), dir.path()).unwrap();
        let opts = XFreeRdpOptions::new(free_port())
            .credentials("test", "test")
            .size(640, 480);
        let mut client = XFreeRdp::spawn(&xvfb, &opts, dir.path()).unwrap();
        let err = client.wait_for_window(Duration::from_secs(30)).unwrap_err();
        assert!(
            err.to_string()
                .contains("xfreerdp exited with ConnectTransportFailed"),
            "{err:#}"
        );
        assert_eq!(
            client.wait_exit(Duration::from_secs(1)).unwrap(),
            XfExitCode::ConnectTransportFailed
        );
        assert!(
            client
                .log_tail(50)
                .contains("ERRCONNECT_CONNECT_TRANSPORT_FAILED"),
            "{}",
            client.log_tail(50)
        );
    }
}
