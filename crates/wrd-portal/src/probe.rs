//! What xdg-desktop-portal offers on this session bus, for `wrd-server doctor`: the portal's
//! version, its ScreenCast / RemoteDesktop / Clipboard interfaces with their versions and
//! options, the installed backends and which one the portal's rules pick (see `selection`),
//! whether that backend is running, how xdg-desktop-portal-wlr is configured to pick a screen,
//! and whether a restore token is stored.
//!
//! Every bus call is bounded by [`ProbeOptions::call_timeout`]; a failing step is recorded in
//! [`PortalProbe::problems`] and the rest still runs.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use ashpd::zbus;
use ashpd::zbus::zvariant::OwnedValue;
use tracing::debug;

use crate::selection::{
    self, BackendChoice, PortalFile, PortalGeneration, PortalsConf, WLR_DEFAULT_CHOOSERS, WlrConfig,
};
use crate::{PortalError, RestoreTokenStore};

const PORTAL_NAME: &str = "org.freedesktop.portal.Desktop";
const PORTAL_PATH: &str = "/org/freedesktop/portal/desktop";
pub const SCREENCAST_IFACE: &str = "org.freedesktop.portal.ScreenCast";
pub const REMOTE_DESKTOP_IFACE: &str = "org.freedesktop.portal.RemoteDesktop";
pub const CLIPBOARD_IFACE: &str = "org.freedesktop.portal.Clipboard";
const IMPL_SCREENCAST: &str = "org.freedesktop.impl.portal.ScreenCast";
const IMPL_REMOTE_DESKTOP: &str = "org.freedesktop.impl.portal.RemoteDesktop";
const BACKEND_PREFIX: &str = "org.freedesktop.impl.portal.desktop.";
const WLR_BACKEND: &str = "org.freedesktop.impl.portal.desktop.wlr";

#[derive(Debug, Clone)]
pub struct ProbeOptions {
    /// Where `serve --source portal` keeps its restore token.
    pub restore_token: RestoreTokenStore,
    /// Bound of each bus call (the first one may start the portal through D-Bus activation).
    pub call_timeout: Duration,
}

/// How a name stands on the session bus.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BusState {
    /// Owned by a running process.
    Running {
        pid: Option<u32>,
        exe: Option<PathBuf>,
    },
    /// Not running, but D-Bus can start it on first use.
    Activatable,
    Absent,
}

/// xdg-desktop-portal itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frontend {
    pub bus: BusState,
    /// e.g. `1.16.0`.
    pub version: Option<String>,
    /// Where the version came from (`xdg-desktop-portal --version`, or the package).
    pub version_source: Option<String>,
    /// Interfaces exported on `/org/freedesktop/portal/desktop` (empty if it did not answer).
    pub interfaces: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScreenCastOffer {
    pub version: u32,
    /// `AvailableSourceTypes`: 1 monitor, 2 window, 4 virtual.
    pub source_types: u32,
    /// `AvailableCursorModes`: 1 hidden, 2 embedded, 4 metadata (ScreenCast ≥ 2).
    pub cursor_modes: Option<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RemoteDesktopOffer {
    pub version: u32,
    /// `AvailableDeviceTypes`: 1 keyboard, 2 pointer, 4 touchscreen. 0: the backend has none.
    pub device_types: u32,
}

/// An installed backend and how it stands on the bus.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backend {
    pub file: PortalFile,
    pub bus: BusState,
}

/// The backend the portal's rules pick for an interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selection {
    pub choice: BackendChoice,
    /// Its D-Bus name, when one was chosen.
    pub dbus_name: Option<String>,
}

/// xdg-desktop-portal-wlr's screen choice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WlrSetup {
    pub config: WlrConfig,
    /// How the config file was found (`-c` of the running backend, or the search path).
    pub config_origin: String,
    /// With `chooser_type=default`: which of its chooser programs are installed (the first
    /// found is run on every screen-cast start).
    pub choosers_installed: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortalProbe {
    pub frontend: Frontend,
    pub screencast: Option<ScreenCastOffer>,
    pub remote_desktop: Option<RemoteDesktopOffer>,
    /// The Clipboard portal's version (it needs a RemoteDesktop session).
    pub clipboard: Option<u32>,
    /// `XDG_CURRENT_DESKTOP` as the portal process sees it (or, if its environment cannot be
    /// read, as we do), and whose it is.
    pub current_desktop: Option<String>,
    pub current_desktop_origin: &'static str,
    /// The rules the portal's version follows.
    pub generation: PortalGeneration,
    pub portals_dir: PathBuf,
    pub backends: Vec<Backend>,
    /// The portals.conf in force (≥ 1.17), if any.
    pub portals_conf: Option<PathBuf>,
    pub screencast_backend: Selection,
    pub remote_desktop_backend: Selection,
    /// `org.freedesktop.impl.portal.desktop.*` names owned or activatable on the bus.
    pub backends_on_bus: Vec<(String, BusState)>,
    /// When the ScreenCast backend is xdg-desktop-portal-wlr.
    pub wlr: Option<WlrSetup>,
    pub restore_token_path: PathBuf,
    pub restore_token_stored: bool,
    /// Steps that failed (the other facts are still valid).
    pub problems: Vec<String>,
}

impl PortalProbe {
    pub fn backend(&self, name: &str) -> Option<&Backend> {
        self.backends.iter().find(|b| b.file.name == name)
    }
}

/// The bit names of a portal bitmask, in bit order.
pub fn flag_names(bits: u32, names: &[(u32, &'static str)]) -> Vec<&'static str> {
    names
        .iter()
        .filter(|(bit, _)| bits & bit != 0)
        .map(|(_, name)| *name)
        .collect()
}

pub const SOURCE_TYPE_NAMES: [(u32, &str); 3] = [(1, "monitor"), (2, "window"), (4, "virtual")];
pub const CURSOR_MODE_NAMES: [(u32, &str); 3] = [(1, "hidden"), (2, "embedded"), (4, "metadata")];
pub const DEVICE_TYPE_NAMES: [(u32, &str); 3] = [(1, "keyboard"), (2, "pointer"), (4, "touchscreen")];

async fn bounded<T, E: std::fmt::Display>(
    timeout: Duration,
    what: &str,
    fut: impl Future<Output = Result<T, E>>,
) -> Result<T, String> {
    match tokio::time::timeout(timeout, fut).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(format!("{what}: {e}")),
        Err(_) => Err(format!("{what}: no answer within {timeout:?}")),
    }
}

/// Looks at the portal on the session bus. Fails only when the session bus itself cannot be
/// reached; everything else is a fact (absent, failed) in the result.
pub async fn probe(options: &ProbeOptions) -> Result<PortalProbe, PortalError> {
    let t = options.call_timeout;
    let conn = bounded(t, "connecting", zbus::Connection::session())
        .await
        .map_err(PortalError::SessionBus)?;
    let dbus = bounded(t, "org.freedesktop.DBus", zbus::fdo::DBusProxy::new(&conn))
        .await
        .map_err(PortalError::SessionBus)?;
    let mut problems = Vec::new();
    let activatable: Vec<String> =
        match bounded(t, "ListActivatableNames", dbus.list_activatable_names()).await {
            Ok(names) => names.into_iter().map(|n| n.to_string()).collect(),
            Err(e) => {
                problems.push(e);
                Vec::new()
            }
        };

    // Introspecting the portal object starts the portal if it is only activatable, and the
    // portal starts the backends it picked.
    let owned_before = names(&dbus, t, &mut problems).await;
    let frontend_known =
        owned_before.iter().any(|n| n == PORTAL_NAME) || activatable.iter().any(|n| n == PORTAL_NAME);
    let interfaces = if frontend_known {
        match bounded(
            t,
            "introspecting the portal",
            conn.call_method(
                Some(PORTAL_NAME),
                PORTAL_PATH,
                Some("org.freedesktop.DBus.Introspectable"),
                "Introspect",
                &(),
            ),
        )
        .await
        .and_then(|reply| reply.body().deserialize::<String>().map_err(|e| e.to_string()))
        {
            Ok(xml) => interface_names(&xml),
            Err(e) => {
                problems.push(e);
                Vec::new()
            }
        }
    } else {
        Vec::new()
    };
    let owned = names(&dbus, t, &mut problems).await;
    let bus_state = |name: &str, process: Option<&Process>| {
        if owned.iter().any(|n| n == name) {
            BusState::Running {
                pid: process.map(|p| p.pid),
                exe: process.and_then(|p| p.exe.clone()),
            }
        } else if activatable.iter().any(|n| n == name) {
            BusState::Activatable
        } else {
            BusState::Absent
        }
    };

    let portal_process = if owned.iter().any(|n| n == PORTAL_NAME) {
        Process::of_name(&dbus, PORTAL_NAME, t).await
    } else {
        None
    };
    let (version, version_source) = portal_version(portal_process.as_ref()).await;
    let frontend = Frontend {
        bus: bus_state(PORTAL_NAME, portal_process.as_ref()),
        version,
        version_source,
        interfaces,
    };

    let has = |iface: &str| frontend.interfaces.iter().any(|i| i == iface);
    let prop = |iface: &'static str, name: &'static str| {
        let conn = conn.clone();
        async move {
            let reply = bounded(
                t,
                &format!("{iface}.{name}"),
                conn.call_method(
                    Some(PORTAL_NAME),
                    PORTAL_PATH,
                    Some("org.freedesktop.DBus.Properties"),
                    "Get",
                    &(iface, name),
                ),
            )
            .await?;
            let value: OwnedValue = reply
                .body()
                .deserialize()
                .map_err(|e| format!("{iface}.{name}: {e}"))?;
            u32::try_from(value).map_err(|e| format!("{iface}.{name}: {e}"))
        }
    };
    let screencast = if has(SCREENCAST_IFACE) {
        match prop(SCREENCAST_IFACE, "version").await {
            Ok(version) => Some(ScreenCastOffer {
                version,
                source_types: prop(SCREENCAST_IFACE, "AvailableSourceTypes")
                    .await
                    .unwrap_or_else(|e| {
                        problems.push(e);
                        0
                    }),
                cursor_modes: prop(SCREENCAST_IFACE, "AvailableCursorModes").await.ok(),
            }),
            Err(e) => {
                problems.push(e);
                None
            }
        }
    } else {
        None
    };
    let remote_desktop = if has(REMOTE_DESKTOP_IFACE) {
        match prop(REMOTE_DESKTOP_IFACE, "version").await {
            Ok(version) => Some(RemoteDesktopOffer {
                version,
                device_types: prop(REMOTE_DESKTOP_IFACE, "AvailableDeviceTypes")
                    .await
                    .unwrap_or_else(|e| {
                        problems.push(e);
                        0
                    }),
            }),
            Err(e) => {
                problems.push(e);
                None
            }
        }
    } else {
        None
    };
    let clipboard = if has(CLIPBOARD_IFACE) {
        prop(CLIPBOARD_IFACE, "version")
            .await
            .map_err(|e| problems.push(e))
            .ok()
    } else {
        None
    };

    // The portal's rules, applied with the portal's own environment when we can read it.
    let portal_env = portal_process.as_ref().and_then(|p| p.environ.clone());
    let (env, current_desktop_origin): (HashMap<String, String>, &'static str) = match portal_env {
        Some(env) => (env, "the portal's environment"),
        None => (std::env::vars().collect(), "this shell"),
    };
    let var = |name: &str| env.get(name).filter(|v| !v.is_empty()).cloned();
    let current_desktop = var("XDG_CURRENT_DESKTOP");
    let desktops = selection::current_desktops(current_desktop.as_deref().unwrap_or_default());
    let generation = PortalGeneration::of_version(frontend.version.as_deref());
    let prefix = install_prefix(portal_process.as_ref().and_then(|p| p.exe.as_deref()));
    // xdg-desktop-portal reads its backends from XDG_DESKTOP_PORTAL_DIR instead, when set.
    let portals_dir = var("XDG_DESKTOP_PORTAL_DIR")
        .map_or_else(|| prefix.join("share/xdg-desktop-portal/portals"), PathBuf::from);
    let portal_files = read_portal_files(&portals_dir, &mut problems);
    let portals_conf = match generation {
        PortalGeneration::PortalsConf => find_portals_conf(&var, &prefix, &desktops),
        PortalGeneration::UseIn => None,
    };
    let select = |impl_iface: &str| {
        let choice = selection::select_backend(
            impl_iface,
            generation,
            &desktops,
            &portal_files,
            portals_conf.as_ref(),
        );
        let dbus_name = choice
            .backend()
            .and_then(|b| portal_files.iter().find(|p| p.name == b))
            .map(|p| p.dbus_name.clone());
        Selection { choice, dbus_name }
    };
    let screencast_backend = select(IMPL_SCREENCAST);
    let remote_desktop_backend = select(IMPL_REMOTE_DESKTOP);

    let mut backends = Vec::new();
    for file in portal_files.iter().cloned() {
        let process = if owned.contains(&file.dbus_name) {
            Process::of_name(&dbus, &file.dbus_name, t).await
        } else {
            None
        };
        let bus = bus_state(&file.dbus_name, process.as_ref());
        backends.push(Backend { file, bus });
    }
    let mut backends_on_bus: Vec<(String, BusState)> = owned
        .iter()
        .chain(activatable.iter())
        .filter(|n| n.starts_with(BACKEND_PREFIX))
        .map(|n| (n.clone(), bus_state(n, None)))
        .collect();
    backends_on_bus.sort_by(|a, b| a.0.cmp(&b.0));
    backends_on_bus.dedup_by(|a, b| a.0 == b.0);

    let wlr = if screencast_backend.dbus_name.as_deref() == Some(WLR_BACKEND) {
        let process = if owned.iter().any(|n| n == WLR_BACKEND) {
            Process::of_name(&dbus, WLR_BACKEND, t).await
        } else {
            None
        };
        Some(wlr_setup(process.as_ref(), &var))
    } else {
        None
    };

    Ok(PortalProbe {
        frontend,
        screencast,
        remote_desktop,
        clipboard,
        current_desktop,
        current_desktop_origin,
        generation,
        portals_dir,
        backends,
        portals_conf: portals_conf.map(|c| c.path),
        screencast_backend,
        remote_desktop_backend,
        backends_on_bus,
        wlr,
        restore_token_path: options.restore_token.path().to_path_buf(),
        restore_token_stored: options.restore_token.load().await.is_some(),
        problems,
    })
}

async fn names(dbus: &zbus::fdo::DBusProxy<'_>, t: Duration, problems: &mut Vec<String>) -> Vec<String> {
    match bounded(t, "ListNames", dbus.list_names()).await {
        Ok(names) => names.into_iter().map(|n| n.to_string()).collect(),
        Err(e) => {
            problems.push(e);
            Vec::new()
        }
    }
}

/// `<interface name="...">` entries of introspection XML.
fn interface_names(xml: &str) -> Vec<String> {
    xml.split("<interface name=\"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .map(str::to_owned)
        .collect()
}

/// A process owning a bus name, as far as /proc lets us see it (same user: everything).
#[derive(Debug, Clone)]
struct Process {
    pid: u32,
    exe: Option<PathBuf>,
    args: Vec<String>,
    environ: Option<HashMap<String, String>>,
}

impl Process {
    async fn of_name(dbus: &zbus::fdo::DBusProxy<'_>, name: &str, t: Duration) -> Option<Process> {
        let bus_name = zbus::names::BusName::try_from(name).ok()?;
        let pid = bounded(
            t,
            "GetConnectionUnixProcessID",
            dbus.get_connection_unix_process_id(bus_name),
        )
        .await
        .map_err(|e| debug!(name, error = %e, "no pid"))
        .ok()?;
        let dir = PathBuf::from(format!("/proc/{pid}"));
        let split = |bytes: Vec<u8>| -> Vec<String> {
            bytes
                .split(|b| *b == 0)
                .filter(|s| !s.is_empty())
                .map(|s| String::from_utf8_lossy(s).into_owned())
                .collect()
        };
        let args = std::fs::read(dir.join("cmdline")).map(split).unwrap_or_default();
        let environ = std::fs::read(dir.join("environ")).ok().map(|bytes| {
            split(bytes)
                .into_iter()
                .filter_map(|kv| kv.split_once('=').map(|(k, v)| (k.to_owned(), v.to_owned())))
                .collect()
        });
        Some(Process {
            pid,
            exe: std::fs::read_link(dir.join("exe")).ok(),
            args,
            environ,
        })
    }
}

/// The running portal's own `--version`, else the installed package's version.
async fn portal_version(process: Option<&Process>) -> (Option<String>, Option<String>) {
    let bound = Duration::from_secs(3);
    if let Some(exe) = process.and_then(|p| p.exe.as_ref()) {
        let mut cmd = tokio::process::Command::new(exe);
        cmd.arg("--version").kill_on_drop(true);
        if let Ok(Ok(out)) = tokio::time::timeout(bound, cmd.output()).await
            && out.status.success()
        {
            // "xdg-desktop-portal 1.16.0"
            let text = String::from_utf8_lossy(&out.stdout);
            if let Some(version) = text.split_whitespace().nth(1) {
                return (
                    Some(version.to_owned()),
                    Some(format!("{} --version", exe.display())),
                );
            }
        }
    }
    let mut cmd = tokio::process::Command::new("dpkg-query");
    cmd.args(["-W", "-f=${Version}", "xdg-desktop-portal"])
        .kill_on_drop(true);
    if let Ok(Ok(out)) = tokio::time::timeout(bound, cmd.output()).await
        && out.status.success()
        && !out.stdout.is_empty()
    {
        return (
            Some(String::from_utf8_lossy(&out.stdout).trim().to_owned()),
            Some("the xdg-desktop-portal package".to_owned()),
        );
    }
    (None, None)
}

/// `/usr` for `/usr/libexec/xdg-desktop-portal`: the portal reads its data under
/// `PREFIX/share`.
fn install_prefix(exe: Option<&Path>) -> PathBuf {
    exe.and_then(Path::parent)
        .filter(|dir| dir.file_name().is_some_and(|n| n == "libexec" || n == "lib"))
        .and_then(Path::parent)
        .map_or_else(|| PathBuf::from("/usr"), Path::to_path_buf)
}

fn read_portal_files(dir: &Path, problems: &mut Vec<String>) -> Vec<PortalFile> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) => {
            problems.push(format!("{}: {e}", dir.display()));
            return Vec::new();
        }
    };
    let mut files = Vec::new();
    for entry in entries.flatten() {
        let path = entry.path();
        if path.extension().is_none_or(|e| e != "portal") {
            continue;
        }
        match std::fs::read_to_string(&path)
            .map_err(|e| e.to_string())
            .and_then(|text| PortalFile::parse(&path, &text))
        {
            Ok(file) => files.push(file),
            Err(e) => problems.push(format!("{}: {e}", path.display())),
        }
    }
    files.sort_by(|a, b| a.name.cmp(&b.name));
    files
}

fn find_portals_conf(
    var: &dyn Fn(&str) -> Option<String>,
    prefix: &Path,
    desktops: &[String],
) -> Option<PortalsConf> {
    let file_names = selection::portals_conf_names(desktops);
    for dir in selection::portals_conf_dirs(var, prefix) {
        for name in &file_names {
            let path = dir.join(name);
            if let Ok(text) = std::fs::read_to_string(&path)
                && let Some(conf) = PortalsConf::parse(&path, &text)
            {
                return Some(conf);
            }
        }
    }
    None
}

fn wlr_setup(process: Option<&Process>, our_var: &dyn Fn(&str) -> Option<String>) -> WlrSetup {
    let backend_env = process.and_then(|p| p.environ.as_ref());
    let var = |name: &str| match backend_env {
        Some(env) => env.get(name).filter(|v| !v.is_empty()).cloned(),
        None => our_var(name),
    };
    let from_args = process.and_then(|p| p.args.get(1..).and_then(selection::config_from_args));
    let (config, config_origin) = match from_args {
        Some(path) => {
            let config = std::fs::read_to_string(&path)
                .map(|text| WlrConfig::parse(&path, &text))
                .unwrap_or_else(|_| WlrConfig::defaults());
            (config, "given with -c to the running backend".to_owned())
        }
        None => match selection::wlr_config_candidates(&var)
            .into_iter()
            .find_map(|path| std::fs::read_to_string(&path).ok().map(|text| (path, text)))
        {
            Some((path, text)) => (
                WlrConfig::parse(&path, &text),
                "found on its search path".to_owned(),
            ),
            None => (
                WlrConfig::defaults(),
                "no config file: built-in defaults".to_owned(),
            ),
        },
    };
    let path_var = var("PATH").unwrap_or_else(|| "/usr/local/bin:/usr/bin:/bin".to_owned());
    let on_path = |program: &str| {
        std::env::split_paths(&path_var).any(|dir| {
            let candidate = dir.join(program);
            std::fs::metadata(&candidate).is_ok_and(|m| m.is_file())
        })
    };
    let choosers_installed = WLR_DEFAULT_CHOOSERS
        .iter()
        .filter(|c| on_path(c))
        .map(|c| (*c).to_owned())
        .collect();
    WlrSetup {
        config,
        config_origin,
        choosers_installed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn introspection_lists_interfaces() {
        let xml = r#"<node><interface name="org.freedesktop.DBus.Properties"><method name="Get"/></interface>
            <interface name="org.freedesktop.portal.ScreenCast"><property name="version" type="u" access="read"/></interface>
            <node name="request"/></node>"#;
        assert_eq!(
            interface_names(xml),
            [
                "org.freedesktop.DBus.Properties",
                "org.freedesktop.portal.ScreenCast"
            ]
        );
    }

    #[test]
    fn flags_are_named_in_bit_order() {
        assert_eq!(flag_names(3, &SOURCE_TYPE_NAMES), ["monitor", "window"]);
        assert_eq!(
            flag_names(7, &CURSOR_MODE_NAMES),
            ["hidden", "embedded", "metadata"]
        );
        assert!(flag_names(0, &DEVICE_TYPE_NAMES).is_empty());
    }

    #[test]
    fn the_install_prefix_comes_from_the_binary() {
        for (exe, prefix) in [
            (Some("/usr/libexec/xdg-desktop-portal"), "/usr"),
            (Some("/opt/xdp/libexec/xdg-desktop-portal"), "/opt/xdp"),
            (Some("/usr/lib/xdg-desktop-portal"), "/usr"),
            (Some("/weird/xdg-desktop-portal"), "/usr"),
            (None, "/usr"),
        ] {
            assert_eq!(
                install_prefix(exe.map(Path::new)),
                PathBuf::from(prefix),
                "{exe:?}"
            );
        }
    }
}
