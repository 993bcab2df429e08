//! `wrd-server doctor`: what this machine offers, which source `serve` would use, and whether
//! the desktop will ask for consent.
//!
//! Three steps, kept apart so the middle one can be table-tested:
//! 1. [`gather`] runs every probe (each in the crate that knows that system, each bounded by a
//!    timeout, none able to hide another's result) and distils them into a [`MachineReport`].
//! 2. [`decide`] is pure: report in, [`Decision`] out.
//! 3. [`render_text`] / JSON print both; the exit code says whether a desktop can be served.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use serde::Serialize;
use wrd_portal::{BackendChoice, BusState, PortalGeneration, PortalProbe, RestoreTokenStore};
use wrd_wayland::WaylandProbe;

use crate::cli::{DoctorArgs, SourceArg};
use crate::config::{self, Env};

/// Bound of one connection attempt or round trip (PipeWire, Wayland, each bus call).
const STEP_TIMEOUT: Duration = Duration::from_secs(3);
/// Bound of the whole portal probe (several bus calls; the first may start the portal).
const PORTAL_TIMEOUT: Duration = Duration::from_secs(15);
/// The portal's ScreenCast version from which a grant can be remembered (restore token).
const PERSIST_SINCE: u32 = 4;
/// The portal's RemoteDesktop version from which its grant can be remembered (v1 asks on every
/// start).
const REMOTE_DESKTOP_PERSIST_SINCE: u32 = 2;

/// A probe's outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", content = "value", rename_all = "snake_case")]
pub enum Probed<T> {
    Found(T),
    Failed(String),
    /// Not looked at, and why (nothing to connect to, or not built in).
    Skipped(String),
}

impl<T> Probed<T> {
    pub fn found(&self) -> Option<&T> {
        match self {
            Self::Found(v) => Some(v),
            Self::Failed(_) | Self::Skipped(_) => None,
        }
    }
}

/// The session's environment, as this process sees it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SessionFacts {
    pub wayland_display: Option<String>,
    /// The session bus address, or the `$XDG_RUNTIME_DIR/bus` fallback when it exists.
    pub session_bus: Option<String>,
    pub current_desktop: Option<String>,
    pub session_type: Option<String>,
    /// `SWAYSOCK` is set: a sway session.
    pub swaysock: bool,
    /// The config file `serve` would read and the source it names.
    pub config_file: Option<PathBuf>,
    pub configured_source: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PipeWireFacts {
    pub name: String,
    pub version: String,
    pub library_version: String,
    pub session_managers: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ScreenCastFacts {
    pub version: u32,
    pub source_types: Vec<String>,
    /// `None`: ScreenCast < 2 does not say.
    pub cursor_modes: Option<Vec<String>>,
}

impl ScreenCastFacts {
    pub fn can_cast_monitors(&self) -> bool {
        self.source_types.iter().any(|s| s == "monitor")
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RemoteDesktopFacts {
    pub version: u32,
    pub device_types: Vec<String>,
}

/// The backend the portal's rules pick for one interface.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BackendFacts {
    /// The `.portal` file's name (`wlr`, `gnome`), if one was chosen.
    pub name: Option<String>,
    pub dbus_name: Option<String>,
    /// Why (or why none), in words.
    pub why: String,
    /// `running`, `activatable`, `absent` (or `none` when nothing was chosen).
    pub bus: String,
    /// The running backend's program.
    pub exe: Option<PathBuf>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WlrFacts {
    pub config_file: Option<PathBuf>,
    pub config_origin: String,
    pub chooser_type: String,
    pub chooser_cmd: Option<String>,
    pub output_name: Option<String>,
    pub choosers_installed: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PortalFacts {
    /// `running`, `activatable` or `absent`.
    pub bus: String,
    pub version: Option<String>,
    pub version_source: Option<String>,
    pub screencast: Option<ScreenCastFacts>,
    pub remote_desktop: Option<RemoteDesktopFacts>,
    pub clipboard_version: Option<u32>,
    /// `XDG_CURRENT_DESKTOP` as the portal sees it.
    pub current_desktop: Option<String>,
    pub current_desktop_origin: String,
    /// `UseIn` (≤ 1.16) or `portals.conf` (≥ 1.17).
    pub rules: String,
    pub portals_conf: Option<PathBuf>,
    pub installed_backends: Vec<String>,
    pub screencast_backend: BackendFacts,
    pub remote_desktop_backend: BackendFacts,
    pub wlr: Option<WlrFacts>,
    pub restore_token: PathBuf,
    pub restore_token_stored: bool,
    pub problems: Vec<String>,
}

/// Mutter's own D-Bus API (`org.gnome.Mutter.ScreenCast` / `RemoteDesktop`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MutterFacts {
    pub screencast_version: i32,
    pub remote_desktop_version: i32,
    /// Bits: 1 keyboard, 2 pointer, 4 touchscreen.
    pub supported_device_types: u32,
    pub monitors: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WaylandFacts {
    pub display: String,
    pub compositor: Option<String>,
    pub compositor_pid: Option<u32>,
    /// `wlroots`, `mutter`, `kwin`, `weston`, `unknown`.
    pub family: String,
    pub virtual_pointer: Option<u32>,
    pub virtual_keyboard: Option<u32>,
    pub screencopy: Option<u32>,
    /// The data-control protocol and its version.
    pub data_control: Option<(String, u32)>,
    /// The version of wlroots' data control, the protocol `serve` takes the clipboard through.
    pub wlr_data_control: Option<u32>,
    pub outputs: usize,
    pub globals: usize,
}

impl WaylandFacts {
    pub fn has_virtual_input(&self) -> bool {
        self.virtual_pointer.is_some() && self.virtual_keyboard.is_some()
    }
}

/// Everything the decision needs and the report shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MachineReport {
    pub session: SessionFacts,
    pub pipewire: Probed<PipeWireFacts>,
    pub portal: Probed<PortalFacts>,
    /// `Found(None)`: Mutter's API is not on the bus.
    pub mutter: Probed<Option<MutterFacts>>,
    pub wayland: Probed<WaylandFacts>,
    /// H.264 in this build (the self-test: one picture encoded and decoded).
    pub h264: Probed<H264Facts>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct H264Facts {
    /// The library and how it is linked.
    pub library: String,
}

/// Where `serve` gets the desktop's picture.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DesktopSource {
    /// Mutter's own API: no dialog, ever.
    Mutter,
    /// xdg-desktop-portal's ScreenCast.
    Portal,
}

impl DesktopSource {
    pub fn name(self) -> &'static str {
        match self {
            Self::Mutter => "mutter",
            Self::Portal => "portal",
        }
    }
}

/// Where keyboard and mouse would go.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum InputBackend {
    MutterRemoteDesktop,
    PortalRemoteDesktop,
    WlrootsVirtualDevices,
    None,
}

/// Where the clipboard would be shared from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ClipboardBackend {
    MutterRemoteDesktop,
    WlrootsDataControl,
    None,
}

/// Will somebody have to click "Share"?
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Dialog {
    /// Nobody is ever asked.
    Never,
    /// Not on this start (a stored grant is offered).
    NotThisTime,
    /// Once; the grant is then remembered.
    Once,
    /// On every start.
    EveryStart,
    /// No desktop source: nothing to ask about.
    NotApplicable,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Decision {
    pub source: Option<DesktopSource>,
    /// The command that serves this desktop (or the no-desktop alternative).
    pub serve_command: String,
    pub input: InputBackend,
    pub input_note: String,
    pub clipboard: ClipboardBackend,
    pub clipboard_note: String,
    pub dialog: Dialog,
    pub dialog_why: String,
    /// What is missing for a desktop source, each with what to do.
    pub missing: Vec<String>,
    /// Things that work but deserve a look.
    pub warnings: Vec<String>,
}

impl Decision {
    pub fn exit_code(&self) -> u8 {
        if self.source.is_some() { 0 } else { 1 }
    }
}

const TEST_PATTERN_COMMAND: &str = "wrd-server serve --source test-pattern";

/// The decision: which source, which input backend, which dialog. Pure.
pub fn decide(report: &MachineReport) -> Decision {
    let mut missing = Vec::new();
    // PipeWire's problems come last: without a session they are a consequence, not the cause.
    let mut pipewire_missing = Vec::new();
    let mut warnings = Vec::new();
    let session = &report.session;

    // PipeWire carries the frames of both desktop sources.
    let pipewire_ok = match &report.pipewire {
        Probed::Found(pw) => {
            if pw.session_managers.is_empty() {
                pipewire_missing.push(
                    "PipeWire runs without a session manager, so nothing links the screen-cast stream to us: \
                     start `wireplumber` in the session (package wireplumber)"
                        .to_owned(),
                );
                false
            } else {
                true
            }
        }
        Probed::Failed(e) => {
            pipewire_missing.push(format!(
                "no PipeWire daemon ({e}): install pipewire and wireplumber, then start `pipewire` and \
                 `wireplumber` in the session (or `systemctl --user start pipewire wireplumber`)"
            ));
            false
        }
        Probed::Skipped(why) => {
            pipewire_missing.push(format!("PipeWire not checked: {why}"));
            false
        }
    };

    let mutter = report.mutter.found().and_then(Option::as_ref);
    let portal = report.portal.found();
    let screencast = portal.and_then(|p| p.screencast.as_ref());
    let wayland = report.wayland.found();

    let source = if mutter.is_some_and(|m| m.screencast_version > 0) {
        pipewire_ok.then_some(DesktopSource::Mutter)
    } else if let (Some(p), Some(sc)) = (portal, screencast) {
        let backend_usable = p.screencast_backend.bus != "absent";
        if !sc.can_cast_monitors() {
            missing.push(format!(
                "the ScreenCast portal's backend ({}) offers no monitor source (offers: {})",
                p.screencast_backend.name.as_deref().unwrap_or("unknown"),
                list_or_none(&sc.source_types)
            ));
        }
        if !backend_usable {
            missing.push(format!(
                "the portal picks {} for ScreenCast but {} is neither running nor installed for D-Bus \
                 activation: install it or start it in the session",
                p.screencast_backend.name.as_deref().unwrap_or("a backend"),
                p.screencast_backend
                    .dbus_name
                    .as_deref()
                    .unwrap_or("its D-Bus name")
            ));
        }
        (pipewire_ok && backend_usable && sc.can_cast_monitors()).then_some(DesktopSource::Portal)
    } else {
        explain_no_desktop(report, &mut missing);
        None
    };
    if source.is_none() && missing.is_empty() && pipewire_missing.is_empty() {
        explain_no_desktop(report, &mut missing);
    }
    missing.append(&mut pipewire_missing);

    // A portal that sees another desktop than this shell picks backends for that one.
    if let Some(p) = portal
        && p.current_desktop_origin == "the portal's environment"
        && p.current_desktop != session.current_desktop
        && session.current_desktop.is_some()
    {
        warnings.push(format!(
            "the portal runs with XDG_CURRENT_DESKTOP={} but this shell has {}: run \
             `dbus-update-activation-environment --all` (or `systemctl --user import-environment`) in the \
             session, then restart xdg-desktop-portal",
            p.current_desktop.as_deref().unwrap_or("(unset)"),
            session.current_desktop.as_deref().unwrap_or("(unset)")
        ));
    }
    if let Some(configured) = &session.configured_source
        && let Some(s) = source
        && configured != s.name()
    {
        warnings.push(format!(
            "the config file {} sets source = \"{configured}\": `serve` uses that unless given --source {}",
            session
                .config_file
                .as_ref()
                .map_or_else(String::new, |p| p.display().to_string()),
            s.name()
        ));
    }

    let (input, input_note) = choose_input(source, mutter, portal, wayland);
    let (clipboard, clipboard_note) = choose_clipboard(source, mutter, portal, wayland);
    let (dialog, dialog_why) = match source {
        Some(DesktopSource::Mutter) => (
            Dialog::Never,
            "Mutter's own screen-cast API asks nobody (the server runs as the session's user)".to_owned(),
        ),
        Some(DesktopSource::Portal) => match (portal, screencast) {
            (Some(p), Some(sc)) => portal_dialog(p, sc),
            _ => (Dialog::NotApplicable, String::new()),
        },
        None => (
            Dialog::NotApplicable,
            "no desktop source, nothing to consent to".to_owned(),
        ),
    };
    let serve_command = match source {
        Some(s) => format!("wrd-server serve --source {}", s.name()),
        None => TEST_PATTERN_COMMAND.to_owned(),
    };
    Decision {
        source,
        serve_command,
        input,
        input_note,
        clipboard,
        clipboard_note,
        dialog,
        dialog_why,
        missing,
        warnings,
    }
}

fn list_or_none(items: &[String]) -> String {
    if items.is_empty() {
        "none".to_owned()
    } else {
        items.join(", ")
    }
}

/// Why there is no desktop source, most basic cause first, each with what to do.
fn explain_no_desktop(report: &MachineReport, missing: &mut Vec<String>) {
    let session = &report.session;
    if session.wayland_display.is_none() {
        missing.push(
            "not inside a Wayland session (WAYLAND_DISPLAY is not set): run this from a terminal of the \
             desktop session, or serve the built-in test pattern"
                .to_owned(),
        );
    }
    match &report.portal {
        Probed::Failed(_) if session.session_bus.is_none() => missing.push(
            "no session bus: DBUS_SESSION_BUS_ADDRESS is unset and $XDG_RUNTIME_DIR/bus does not exist; run \
             inside the desktop session"
                .to_owned(),
        ),
        Probed::Failed(e) => missing.push(format!("the portal could not be asked: {e}")),
        Probed::Skipped(why) => missing.push(format!("the portal was not asked: {why}")),
        Probed::Found(p) if p.bus == "absent" => missing.push(
            "xdg-desktop-portal is neither running nor installed for D-Bus activation: install \
             xdg-desktop-portal and a backend for your desktop"
                .to_owned(),
        ),
        Probed::Found(p) if p.screencast.is_none() => {
            let desktop = p.current_desktop.as_deref().unwrap_or("(unset)");
            let package = match report.wayland.found().map(|w| w.family.as_str()) {
                Some("mutter") => "xdg-desktop-portal-gnome",
                Some("kwin") => "xdg-desktop-portal-kde",
                Some("wlroots") => "xdg-desktop-portal-wlr",
                _ => match desktop.to_ascii_lowercase().as_str() {
                    d if d.contains("gnome") => "xdg-desktop-portal-gnome",
                    d if d.contains("kde") => "xdg-desktop-portal-kde",
                    _ => {
                        "xdg-desktop-portal-wlr (wlroots: sway, Hyprland, river, Wayfire), \
                          xdg-desktop-portal-gnome (GNOME) or xdg-desktop-portal-kde (KDE)"
                    }
                },
            };
            let why = match &p.screencast_backend.name {
                Some(name) => format!(
                    "the portal picks {name} ({}) but it exports no ScreenCast; is {name} running? ",
                    p.screencast_backend.why
                ),
                None => format!("{}; ", p.screencast_backend.why),
            };
            missing.push(format!(
                "the portal has no ScreenCast for XDG_CURRENT_DESKTOP={desktop}: {why}install {package}, \
                 then restart xdg-desktop-portal"
            ));
        }
        Probed::Found(_) => {}
    }
}

fn choose_input(
    source: Option<DesktopSource>,
    mutter: Option<&MutterFacts>,
    portal: Option<&PortalFacts>,
    wayland: Option<&WaylandFacts>,
) -> (InputBackend, String) {
    // The same order as `serve`: the Mutter session itself, the portal's RemoteDesktop session,
    // then wlroots virtual devices.
    if source == Some(DesktopSource::Mutter)
        && mutter.is_some_and(|m| m.remote_desktop_version > 0 && m.supported_device_types & 3 != 0)
    {
        return (
            InputBackend::MutterRemoteDesktop,
            "Mutter's RemoteDesktop API (no dialog), the desktop's own keyboard layout".to_owned(),
        );
    }
    // `serve --source portal` makes its screen cast part of a RemoteDesktop session when the
    // portal offers a keyboard and a pointer, and takes input through it.
    if source == Some(DesktopSource::Portal)
        && let Some(rd) = portal.and_then(portal_remote_desktop)
    {
        return (
            InputBackend::PortalRemoteDesktop,
            format!(
                "the portal's RemoteDesktop v{} ({}), in the same session as the screen cast; the desktop's own keyboard layout",
                rd.version,
                rd.device_types.join(", ")
            ),
        );
    }
    if source.is_some()
        && let Some(w) = wayland.filter(|w| w.has_virtual_input())
    {
        return (
            InputBackend::WlrootsVirtualDevices,
            format!(
                "wlroots virtual pointer v{} + keyboard v{}, with each client's keyboard layout",
                w.virtual_pointer.unwrap_or_default(),
                w.virtual_keyboard.unwrap_or_default()
            ),
        );
    }
    let why = if source.is_none() {
        "no desktop".to_owned()
    } else {
        "neither a RemoteDesktop API nor wlroots virtual pointer/keyboard is offered: view only".to_owned()
    };
    (InputBackend::None, why)
}

/// The clipboard `serve` shares, by the same rule as `serve` (wrd-server's `clipboard_route`).
fn choose_clipboard(
    source: Option<DesktopSource>,
    mutter: Option<&MutterFacts>,
    portal: Option<&PortalFacts>,
    wayland: Option<&WaylandFacts>,
) -> (ClipboardBackend, String) {
    match source {
        None => (ClipboardBackend::None, "no desktop".to_owned()),
        Some(DesktopSource::Mutter) => (
            ClipboardBackend::MutterRemoteDesktop,
            format!(
                "Mutter RemoteDesktop v{} (the capture's session): text, HTML and pictures both ways, fetched when pasted (64 MB per item; off with --view-only)",
                mutter.map_or(0, |m| m.remote_desktop_version)
            ),
        ),
        Some(DesktopSource::Portal) => match wayland.and_then(|w| w.wlr_data_control) {
            Some(version) => (
                ClipboardBackend::WlrootsDataControl,
                format!(
                    "wlroots data control v{version}: text, HTML and pictures both ways, fetched when pasted (64 MB per item; off with --view-only)"
                ),
            ),
            None => (
                ClipboardBackend::None,
                format!(
                    "the compositor offers no {}, and {}: no clipboard",
                    wrd_wayland::WLR_DATA_CONTROL,
                    portal_clipboard(portal)
                ),
            ),
        },
    }
}

/// What the portal's Clipboard interface (xdg-desktop-portal ≥ 1.18, with RemoteDesktop v2)
/// means for `serve --source portal`: nothing yet, and why.
fn portal_clipboard(portal: Option<&PortalFacts>) -> String {
    match portal {
        Some(p) => match p.clipboard_version {
            Some(v) => format!("wrd-server does not use the portal's Clipboard v{v} yet"),
            None => format!(
                "the portal offers no Clipboard interface (xdg-desktop-portal {}; it comes with 1.18)",
                p.version.as_deref().unwrap_or("of unknown version")
            ),
        },
        None => "there is no portal".to_owned(),
    }
}

/// The portal's RemoteDesktop when `serve` uses it: it offers a keyboard and a pointer.
fn portal_remote_desktop(p: &PortalFacts) -> Option<&RemoteDesktopFacts> {
    p.remote_desktop.as_ref().filter(|rd| {
        ["keyboard", "pointer"]
            .iter()
            .all(|t| rd.device_types.iter().any(|d| d == t))
    })
}

fn portal_dialog(p: &PortalFacts, sc: &ScreenCastFacts) -> (Dialog, String) {
    // With RemoteDesktop, one dialog grants screen and input, remembered through RemoteDesktop.
    let remote_desktop = portal_remote_desktop(p);
    let persists = match remote_desktop {
        Some(rd) => rd.version >= REMOTE_DESKTOP_PERSIST_SINCE,
        None => sc.version >= PERSIST_SINCE,
    };
    if persists && p.restore_token_stored {
        return (
            Dialog::NotThisTime,
            format!(
                "a stored grant (restore token {}) will be offered; if the desktop refuses it, it asks once more",
                p.restore_token.display()
            ),
        );
    }
    let then = if persists {
        format!("then remembered in {}", p.restore_token.display())
    } else if let Some(rd) = remote_desktop {
        format!(
            "RemoteDesktop v{} cannot remember a grant (v{REMOTE_DESKTOP_PERSIST_SINCE} can: xdg-desktop-portal ≥ 1.18)",
            rd.version
        )
    } else {
        format!(
            "ScreenCast v{} cannot remember a grant (v{PERSIST_SINCE} can: xdg-desktop-portal ≥ 1.12)",
            sc.version
        )
    };
    let repeated = if persists {
        Dialog::Once
    } else {
        Dialog::EveryStart
    };
    if let Some(wlr) = &p.wlr {
        let file = wlr.config_file.as_ref().map_or_else(
            || "~/.config/xdg-desktop-portal-wlr/config".to_owned(),
            |f| f.display().to_string(),
        );
        let which = wlr.output_name.as_deref().unwrap_or("the first output");
        return match wlr.chooser_type.as_str() {
            "none" => (
                Dialog::Never,
                format!(
                    "xdg-desktop-portal-wlr is configured with chooser_type=none: it casts {which} without asking ({file})"
                ),
            ),
            "simple" | "dmenu" => (
                repeated,
                format!(
                    "xdg-desktop-portal-wlr runs `{}` to pick the screen; {then}. To never ask: chooser_type=none \
                     and output_name=NAME under [screencast] in {file}",
                    wlr.chooser_cmd.as_deref().unwrap_or("its chooser_cmd")
                ),
            ),
            _ => match wlr.choosers_installed.first() {
                Some(chooser) => (
                    repeated,
                    format!(
                        "xdg-desktop-portal-wlr runs {chooser} to pick the screen (chooser_type=default); {then}. \
                         To never ask: chooser_type=none and output_name=NAME under [screencast] in {file}"
                    ),
                ),
                None => (
                    Dialog::Never,
                    format!(
                        "xdg-desktop-portal-wlr finds none of its chooser programs ({}) and casts the first \
                         output without asking",
                        wrd_portal::WLR_DEFAULT_CHOOSERS.join(", ")
                    ),
                ),
            },
        };
    }
    let backend = p
        .screencast_backend
        .name
        .as_deref()
        .unwrap_or("the portal backend");
    if persists {
        (repeated, format!("{backend} asks once ({then})"))
    } else {
        (repeated, format!("{backend} asks on every start: {then}"))
    }
}

// ---------------------------------------------------------------------------------------------
// Gathering

/// Runs the probes (concurrently, each bounded) and distils them.
pub async fn gather(env: &Env, config: Option<&Path>) -> Result<MachineReport, config::ConfigError> {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let configured = config::configured_source(config, env)?;
    let state_dir = env.state_dir()?;
    let bus_fallback = var("XDG_RUNTIME_DIR")
        .map(|d| Path::new(&d).join("bus"))
        .filter(|p| p.exists())
        .map(|p| format!("unix:path={}", p.display()));
    let session = SessionFacts {
        wayland_display: var("WAYLAND_DISPLAY"),
        session_bus: var("DBUS_SESSION_BUS_ADDRESS").or(bus_fallback),
        current_desktop: var("XDG_CURRENT_DESKTOP"),
        session_type: var("XDG_SESSION_TYPE"),
        swaysock: var("SWAYSOCK").is_some(),
        config_file: configured.as_ref().map(|(p, _)| p.clone()),
        configured_source: configured.and_then(|(_, s)| s).map(|s| {
            match s {
                SourceArg::TestPattern => "test-pattern",
                SourceArg::Portal => "portal",
                SourceArg::Mutter => "mutter",
            }
            .to_owned()
        }),
    };

    let token = RestoreTokenStore::new(wrd_portal::default_token_path(&state_dir));
    let portal_task = async {
        if session.session_bus.is_none() {
            return Probed::Failed("DBUS_SESSION_BUS_ADDRESS is not set".to_owned());
        }
        let options = wrd_portal::ProbeOptions {
            restore_token: token,
            call_timeout: STEP_TIMEOUT,
        };
        match tokio::time::timeout(PORTAL_TIMEOUT, wrd_portal::probe(&options)).await {
            Ok(Ok(probe)) => Probed::Found(portal_facts(&probe)),
            Ok(Err(e)) => Probed::Failed(e.to_string()),
            Err(_) => Probed::Failed(format!("no answer within {PORTAL_TIMEOUT:?}")),
        }
    };
    let pipewire_task = blocking(|| {
        wrd_pipewire::probe_daemon(wrd_pipewire::Remote::Default, STEP_TIMEOUT)
            .map(|d| PipeWireFacts {
                name: d.name,
                version: d.version,
                library_version: d.library_version,
                session_managers: d.session_managers,
            })
            .map_err(|e| e.to_string())
    });
    let wayland_task = async {
        if session.wayland_display.is_none() {
            return Probed::Skipped("WAYLAND_DISPLAY is not set".to_owned());
        }
        blocking(|| {
            wrd_wayland::probe(STEP_TIMEOUT)
                .map(|w| wayland_facts(&w))
                .map_err(|e| e.to_string())
        })
        .await
    };
    let h264_task = blocking(|| {
        wrd_h264::self_test()
            .map(|t| H264Facts {
                library: t.library.to_owned(),
            })
            .map_err(|e| e.to_string())
    });
    let (portal, pipewire, wayland, mutter, h264) = tokio::join!(
        portal_task,
        pipewire_task,
        wayland_task,
        probe_mutter(),
        h264_task
    );
    Ok(MachineReport {
        session,
        pipewire,
        portal,
        mutter,
        wayland,
        h264,
    })
}

/// Mutter's API (GNOME), bounded like the portal's probe.
async fn probe_mutter() -> Probed<Option<MutterFacts>> {
    match tokio::time::timeout(PORTAL_TIMEOUT, wrd_mutter::probe()).await {
        Ok(Ok(found)) => Probed::Found(found.map(|m| MutterFacts {
            screencast_version: m.screencast_version,
            remote_desktop_version: m.remote_desktop_version,
            supported_device_types: m.supported_device_types,
            monitors: m.monitors,
        })),
        Ok(Err(e)) => Probed::Failed(e.to_string()),
        Err(_) => Probed::Failed(format!("no answer within {PORTAL_TIMEOUT:?}")),
    }
}

/// A blocking probe on the blocking pool; its own timeout bounds it, a panic is a failure.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T, String> + Send + 'static) -> Probed<T> {
    match tokio::task::spawn_blocking(f).await {
        Ok(Ok(v)) => Probed::Found(v),
        Ok(Err(e)) => Probed::Failed(e),
        Err(e) => Probed::Failed(format!("the probe failed: {e}")),
    }
}

fn bus_word(state: &BusState) -> String {
    match state {
        BusState::Running { .. } => "running",
        BusState::Activatable => "activatable",
        BusState::Absent => "absent",
    }
    .to_owned()
}

fn portal_facts(p: &PortalProbe) -> PortalFacts {
    let names = |bits: u32, table: &[(u32, &'static str)]| -> Vec<String> {
        wrd_portal::flag_names(bits, table)
            .into_iter()
            .map(str::to_owned)
            .collect()
    };
    let backend_facts = |sel: &wrd_portal::Selection| {
        let backend = sel.choice.backend().and_then(|name| p.backend(name));
        let why = match &sel.choice {
            BackendChoice::Config { file, key, backend } => {
                format!("{key}={backend} in {}", file.display())
            }
            BackendChoice::UseIn { desktop, .. } => format!("its UseIn= names {desktop}"),
            BackendChoice::Fallback { .. } => "fallback: no backend is meant for this desktop".to_owned(),
            BackendChoice::DisabledByConfig { file } => format!("disabled (none) in {}", file.display()),
            BackendChoice::Nothing => "no installed backend implements it".to_owned(),
        };
        BackendFacts {
            name: sel.choice.backend().map(str::to_owned),
            dbus_name: sel.dbus_name.clone(),
            why,
            bus: backend.map_or_else(|| "none".to_owned(), |b| bus_word(&b.bus)),
            exe: backend.and_then(|b| match &b.bus {
                BusState::Running { exe, .. } => exe.clone(),
                BusState::Activatable | BusState::Absent => None,
            }),
        }
    };
    PortalFacts {
        bus: bus_word(&p.frontend.bus),
        version: p.frontend.version.clone(),
        version_source: p.frontend.version_source.clone(),
        screencast: p.screencast.map(|sc| ScreenCastFacts {
            version: sc.version,
            source_types: names(sc.source_types, &wrd_portal::SOURCE_TYPE_NAMES),
            cursor_modes: sc.cursor_modes.map(|m| names(m, &wrd_portal::CURSOR_MODE_NAMES)),
        }),
        remote_desktop: p.remote_desktop.map(|rd| RemoteDesktopFacts {
            version: rd.version,
            device_types: names(rd.device_types, &wrd_portal::DEVICE_TYPE_NAMES),
        }),
        clipboard_version: p.clipboard,
        current_desktop: p.current_desktop.clone(),
        current_desktop_origin: p.current_desktop_origin.to_owned(),
        rules: match p.generation {
            PortalGeneration::UseIn => "UseIn",
            PortalGeneration::PortalsConf => "portals.conf",
        }
        .to_owned(),
        portals_conf: p.portals_conf.clone(),
        installed_backends: p.backends.iter().map(|b| b.file.name.clone()).collect(),
        screencast_backend: backend_facts(&p.screencast_backend),
        remote_desktop_backend: backend_facts(&p.remote_desktop_backend),
        wlr: p.wlr.as_ref().map(|w| WlrFacts {
            config_file: w.config.path.clone(),
            config_origin: w.config_origin.clone(),
            chooser_type: w.config.chooser_type.clone(),
            chooser_cmd: w.config.chooser_cmd.clone(),
            output_name: w.config.output_name.clone(),
            choosers_installed: w.choosers_installed.clone(),
        }),
        restore_token: p.restore_token_path.clone(),
        restore_token_stored: p.restore_token_stored,
        problems: p.problems.clone(),
    }
}

fn wayland_facts(w: &WaylandProbe) -> WaylandFacts {
    WaylandFacts {
        display: w.display.clone(),
        compositor: w.compositor_process.clone(),
        compositor_pid: w.compositor_pid,
        family: w.family().name().to_owned(),
        virtual_pointer: w.version_of(wrd_wayland::VIRTUAL_POINTER),
        virtual_keyboard: w.version_of(wrd_wayland::VIRTUAL_KEYBOARD),
        screencopy: w.version_of(wrd_wayland::SCREENCOPY),
        data_control: w.data_control().map(|(n, v)| (n.to_owned(), v)),
        wlr_data_control: w.version_of(wrd_wayland::WLR_DATA_CONTROL),
        outputs: w.outputs(),
        globals: w.globals.len(),
    }
}

// ---------------------------------------------------------------------------------------------
// Output

const LABEL: usize = 12;

fn line(out: &mut String, label: &str, text: &str) {
    out.push_str(&format!("{label:<LABEL$} {text}\n"));
}

fn versioned(name: &str, version: Option<u32>) -> String {
    match version {
        Some(v) => format!("{name} v{v}"),
        None => format!("{name}: absent"),
    }
}

/// The human-readable report: a line per fact, then the verdict.
pub fn render_text(report: &MachineReport, decision: &Decision) -> String {
    let mut out = String::new();
    let s = &report.session;
    let mut session = match &s.wayland_display {
        Some(d) => format!(
            "{d} (XDG_CURRENT_DESKTOP={})",
            s.current_desktop.as_deref().unwrap_or("unset")
        ),
        None => "no WAYLAND_DISPLAY".to_owned(),
    };
    session.push_str(if s.session_bus.is_some() {
        ", session bus ok"
    } else {
        ", no session bus"
    });
    line(&mut out, "session", &session);
    if let Some(file) = &s.config_file {
        line(
            &mut out,
            "config",
            &format!(
                "{}: source = {}",
                file.display(),
                s.configured_source
                    .as_deref()
                    .unwrap_or("(default: test-pattern)")
            ),
        );
    }

    let pipewire = match &report.pipewire {
        Probed::Found(pw) => format!(
            "{} ({}), connected; session manager: {}",
            pw.version,
            pw.name,
            if pw.session_managers.is_empty() {
                "none".to_owned()
            } else {
                pw.session_managers.join(", ")
            }
        ),
        Probed::Failed(e) => format!("no: {e}"),
        Probed::Skipped(why) => format!("not checked: {why}"),
    };
    line(&mut out, "pipewire", &pipewire);

    match &report.portal {
        Probed::Found(p) => render_portal(&mut out, p),
        Probed::Failed(e) => line(&mut out, "portal", &format!("no: {e}")),
        Probed::Skipped(why) => line(&mut out, "portal", &format!("not checked: {why}")),
    }

    let mutter = match &report.mutter {
        Probed::Found(Some(m)) => format!(
            "ScreenCast v{}, RemoteDesktop v{} (devices: {}), monitors: {}",
            m.screencast_version,
            m.remote_desktop_version,
            list_or_none(
                &wrd_portal::flag_names(m.supported_device_types, &wrd_portal::DEVICE_TYPE_NAMES)
                    .into_iter()
                    .map(str::to_owned)
                    .collect::<Vec<_>>()
            ),
            list_or_none(&m.monitors)
        ),
        Probed::Found(None) => "absent (not a GNOME session)".to_owned(),
        Probed::Failed(e) => format!("no: {e}"),
        Probed::Skipped(why) => format!("not checked: {why}"),
    };
    line(&mut out, "mutter api", &mutter);

    let wayland = match &report.wayland {
        Probed::Found(w) => {
            let who = match (&w.compositor, w.compositor_pid) {
                (Some(name), Some(pid)) => format!("{name} (pid {pid}, {})", w.family),
                _ => w.family.clone(),
            };
            format!(
                "{who} on {}: {}, {}, {}, data-control: {}; {} output{}",
                w.display,
                versioned(wrd_wayland::VIRTUAL_POINTER, w.virtual_pointer),
                versioned(wrd_wayland::VIRTUAL_KEYBOARD, w.virtual_keyboard),
                versioned(wrd_wayland::SCREENCOPY, w.screencopy),
                w.data_control
                    .as_ref()
                    .map_or_else(|| "absent".to_owned(), |(n, v)| format!("{n} v{v}")),
                w.outputs,
                if w.outputs == 1 { "" } else { "s" }
            )
        }
        Probed::Failed(e) => format!("no: {e}"),
        Probed::Skipped(why) => format!("not checked: {why}"),
    };
    line(&mut out, "wayland", &wayland);

    let codecs = match &report.h264 {
        Probed::Found(h) => format!(
            "H.264 (AVC420, {}; self-test passed) to clients whose graphics pipeline offers it, \
             else RemoteFX, else bitmaps",
            h.library
        ),
        Probed::Failed(e) => format!("RemoteFX, else bitmaps; no H.264: its self-test failed: {e}"),
        Probed::Skipped(why) => format!("RemoteFX, else bitmaps; H.264 not checked: {why}"),
    };
    line(&mut out, "codecs", &codecs);

    for m in &decision.missing {
        line(&mut out, "missing", m);
    }
    for w in &decision.warnings {
        line(&mut out, "warning", w);
    }
    match decision.source {
        Some(source) => {
            let screen = match source {
                DesktopSource::Mutter => "mutter (Mutter's screen-cast API)",
                DesktopSource::Portal => "portal (xdg-desktop-portal ScreenCast)",
            };
            out.push_str(&format!(
                "→ serve would use: {screen}: `{}`\n",
                decision.serve_command
            ));
            out.push_str(&format!("→ input: {}\n", decision.input_note));
            out.push_str(&format!("→ clipboard: {}\n", decision.clipboard_note));
            let dialog = match decision.dialog {
                Dialog::Never | Dialog::NotThisTime => "none",
                Dialog::Once => "yes, once",
                Dialog::EveryStart => "yes, on every start",
                Dialog::NotApplicable => "n/a",
            };
            out.push_str(&format!("→ consent dialog: {dialog}: {}\n", decision.dialog_why));
        }
        None => {
            out.push_str("→ no desktop to serve here (see `missing` above)\n");
            out.push_str(&format!(
                "→ without a desktop, check clients and the network with the built-in test pattern: `{}`\n",
                decision.serve_command
            ));
        }
    }
    out
}

fn render_portal(out: &mut String, p: &PortalFacts) {
    let version = p.version.as_deref().map_or_else(
        || "xdg-desktop-portal (version unknown)".to_owned(),
        |v| format!("xdg-desktop-portal {v}"),
    );
    if p.bus == "absent" {
        line(out, "portal", "no: xdg-desktop-portal is not on the session bus");
        return;
    }
    let screencast = match &p.screencast {
        Some(sc) => format!(
            "ScreenCast v{} ({}; cursor: {})",
            sc.version,
            list_or_none(&sc.source_types),
            sc.cursor_modes
                .as_deref()
                .map_or_else(|| "unknown".to_owned(), list_or_none)
        ),
        None => "ScreenCast: absent".to_owned(),
    };
    let remote = match &p.remote_desktop {
        Some(rd) => format!(
            "RemoteDesktop v{} ({})",
            rd.version,
            list_or_none(&rd.device_types)
        ),
        None => "RemoteDesktop: absent".to_owned(),
    };
    let clipboard = match p.clipboard_version {
        Some(v) => format!("Clipboard v{v}"),
        None => "Clipboard: absent".to_owned(),
    };
    line(
        out,
        "portal",
        &format!("{version}: {screencast}, {remote}, {clipboard}"),
    );

    let describe = |b: &BackendFacts| match &b.name {
        Some(name) => {
            let state = match (&b.exe, b.bus.as_str()) {
                (Some(exe), _) => format!("running {}", exe.display()),
                (None, state) => state.to_owned(),
            };
            format!(
                "{name} ({}, {state}): {}",
                b.dbus_name.as_deref().unwrap_or("?"),
                b.why
            )
        }
        None => format!("none: {}", b.why),
    };
    let rules = match p.rules.as_str() {
        "UseIn" => "UseIn= rules (xdg-desktop-portal ≤ 1.16)".to_owned(),
        _ => match &p.portals_conf {
            Some(conf) => format!("portals.conf rules: {}", conf.display()),
            None => "portals.conf rules (no portals.conf found: UseIn= fallback)".to_owned(),
        },
    };
    line(
        out,
        "backend",
        &format!(
            "ScreenCast → {}; for XDG_CURRENT_DESKTOP={} ({}); {rules}",
            describe(&p.screencast_backend),
            p.current_desktop.as_deref().unwrap_or("unset"),
            p.current_desktop_origin
        ),
    );
    line(
        out,
        "",
        &format!(
            "RemoteDesktop → {}; installed: {}",
            describe(&p.remote_desktop_backend),
            list_or_none(&p.installed_backends)
        ),
    );
    if let Some(w) = &p.wlr {
        let file = w.config_file.as_ref().map_or_else(
            || "no config file".to_owned(),
            |f| format!("{}, {}", f.display(), w.config_origin),
        );
        let mut text = format!("chooser_type={}", w.chooser_type);
        if let Some(output) = &w.output_name {
            text.push_str(&format!(", output_name={output}"));
        }
        if let Some(cmd) = &w.chooser_cmd {
            text.push_str(&format!(", chooser_cmd={cmd}"));
        }
        if w.chooser_type == "default" {
            text.push_str(&format!(
                ", chooser programs installed: {}",
                list_or_none(&w.choosers_installed)
            ));
        }
        line(out, "wlr config", &format!("{text} ({file}); casts one output"));
    }
    line(
        out,
        "grant",
        &if p.restore_token_stored {
            format!("restore token stored ({})", p.restore_token.display())
        } else {
            format!("no restore token stored yet ({})", p.restore_token.display())
        },
    );
    for problem in &p.problems {
        line(out, "note", problem);
    }
}

#[derive(Serialize)]
struct JsonOutput<'a> {
    report: &'a MachineReport,
    decision: &'a Decision,
    exit_code: u8,
}

/// `wrd-server doctor`.
pub fn run(args: DoctorArgs) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("wrd-server: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let env = Env::from_process();
    let gathered = runtime.block_on(gather(&env, args.config.as_deref()));
    // A probe thread stuck on a hung peer must not keep us: its timeout already answered.
    runtime.shutdown_timeout(Duration::from_millis(100));
    let report = match gathered {
        Ok(report) => report,
        Err(e) => {
            eprintln!("wrd-server: {e}");
            return ExitCode::from(2);
        }
    };
    let decision = decide(&report);
    let code = decision.exit_code();
    if args.json {
        let json = JsonOutput {
            report: &report,
            decision: &decision,
            exit_code: code,
        };
        match serde_json::to_string_pretty(&json) {
            Ok(text) => println!("{text}"),
            Err(e) => {
                eprintln!("wrd-server: cannot write the report as JSON: {e}");
                return ExitCode::from(1);
            }
        }
    } else {
        print!("{}", render_text(&report, &decision));
    }
    ExitCode::from(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| (*s).to_owned()).collect()
    }

    fn sway_session() -> SessionFacts {
        SessionFacts {
            wayland_display: Some("wayland-1".into()),
            session_bus: Some("unix:path=/run/user/1000/bus".into()),
            current_desktop: Some("sway".into()),
            session_type: Some("wayland".into()),
            swaysock: true,
            config_file: None,
            configured_source: None,
        }
    }

    fn pipewire() -> Probed<PipeWireFacts> {
        Probed::Found(PipeWireFacts {
            name: "pipewire-0".into(),
            version: "0.3.65".into(),
            library_version: "0.3.65".into(),
            session_managers: strings(&["WirePlumber"]),
        })
    }

    fn backend(name: &str, bus: &str) -> BackendFacts {
        BackendFacts {
            name: Some(name.into()),
            dbus_name: Some(format!("org.freedesktop.impl.portal.desktop.{name}")),
            why: "its UseIn= names sway".into(),
            bus: bus.into(),
            exe: None,
        }
    }

    fn no_backend() -> BackendFacts {
        BackendFacts {
            name: None,
            dbus_name: None,
            why: "no installed backend implements it".into(),
            bus: "none".into(),
            exe: None,
        }
    }

    fn wlr_portal(chooser_type: &str) -> PortalFacts {
        PortalFacts {
            bus: "running".into(),
            version: Some("1.16.0".into()),
            version_source: None,
            screencast: Some(ScreenCastFacts {
                version: 4,
                source_types: strings(&["monitor"]),
                cursor_modes: Some(strings(&["hidden", "embedded"])),
            }),
            remote_desktop: None,
            clipboard_version: None,
            current_desktop: Some("sway".into()),
            current_desktop_origin: "the portal's environment".into(),
            rules: "UseIn".into(),
            portals_conf: None,
            installed_backends: strings(&["wlr"]),
            screencast_backend: backend("wlr", "running"),
            remote_desktop_backend: no_backend(),
            wlr: Some(WlrFacts {
                config_file: Some("/home/u/.config/xdg-desktop-portal-wlr/config".into()),
                config_origin: "found on its search path".into(),
                chooser_type: chooser_type.into(),
                chooser_cmd: None,
                output_name: Some("HEADLESS-1".into()),
                choosers_installed: Vec::new(),
            }),
            restore_token: "/home/u/.local/state/wrd-server/portal-restore-token".into(),
            restore_token_stored: false,
            problems: Vec::new(),
        }
    }

    fn gnome_portal() -> PortalFacts {
        PortalFacts {
            screencast: Some(ScreenCastFacts {
                version: 4,
                source_types: strings(&["monitor", "window"]),
                cursor_modes: Some(strings(&["hidden", "embedded", "metadata"])),
            }),
            remote_desktop: Some(RemoteDesktopFacts {
                version: 1,
                device_types: strings(&["keyboard", "pointer", "touchscreen"]),
            }),
            current_desktop: Some("GNOME".into()),
            installed_backends: strings(&["gnome", "gtk"]),
            screencast_backend: backend("gnome", "running"),
            remote_desktop_backend: backend("gnome", "running"),
            wlr: None,
            ..wlr_portal("none")
        }
    }

    fn sway_wayland() -> Probed<WaylandFacts> {
        Probed::Found(WaylandFacts {
            display: "wayland-1".into(),
            compositor: Some("sway".into()),
            compositor_pid: Some(42),
            family: "wlroots".into(),
            virtual_pointer: Some(2),
            virtual_keyboard: Some(1),
            screencopy: Some(3),
            data_control: Some(("zwlr_data_control_manager_v1".into(), 2)),
            wlr_data_control: Some(2),
            outputs: 1,
            globals: 40,
        })
    }

    fn mutter_wayland() -> Probed<WaylandFacts> {
        Probed::Found(WaylandFacts {
            display: "wayland-0".into(),
            compositor: Some("gnome-shell".into()),
            compositor_pid: Some(7),
            family: "mutter".into(),
            virtual_pointer: None,
            virtual_keyboard: None,
            screencopy: None,
            data_control: None,
            wlr_data_control: None,
            outputs: 1,
            globals: 30,
        })
    }

    fn sway() -> MachineReport {
        MachineReport {
            session: sway_session(),
            pipewire: pipewire(),
            portal: Probed::Found(wlr_portal("none")),
            mutter: Probed::Found(None),
            wayland: sway_wayland(),
            h264: h264(),
        }
    }

    fn h264() -> Probed<H264Facts> {
        Probed::Found(H264Facts {
            library: "openh264, built into this binary".into(),
        })
    }

    fn gnome(mutter: Probed<Option<MutterFacts>>) -> MachineReport {
        MachineReport {
            session: SessionFacts {
                current_desktop: Some("GNOME".into()),
                swaysock: false,
                ..sway_session()
            },
            pipewire: pipewire(),
            portal: Probed::Found(gnome_portal()),
            mutter,
            wayland: mutter_wayland(),
            h264: h264(),
        }
    }

    fn mutter_api() -> Probed<Option<MutterFacts>> {
        Probed::Found(Some(MutterFacts {
            screencast_version: 4,
            remote_desktop_version: 1,
            supported_device_types: 7,
            monitors: strings(&["Meta-0"]),
        }))
    }

    fn nowhere() -> MachineReport {
        MachineReport {
            session: SessionFacts::default(),
            pipewire: Probed::Failed("could not connect to PipeWire: Host is down".into()),
            portal: Probed::Failed("DBUS_SESSION_BUS_ADDRESS is not set".into()),
            mutter: Probed::Skipped("no session bus".into()),
            wayland: Probed::Skipped("WAYLAND_DISPLAY is not set".into()),
            h264: Probed::Failed("openh264 encoder creation failed: unsupported".into()),
        }
    }

    /// One row of the decision table: the verdict in a line, plus words the reasons must hold.
    #[track_caller]
    fn check(report: MachineReport, verdict: &str, reasons: &[&str]) {
        let d = decide(&report);
        let shown = format!(
            "source={} input={:?} dialog={:?} exit={}",
            d.source.map_or("none", DesktopSource::name),
            d.input,
            d.dialog,
            d.exit_code()
        );
        assert_eq!(shown, verdict, "{d:#?}");
        let text = format!("{} | {} | {}", d.dialog_why, d.missing.join(" | "), d.input_note);
        for reason in reasons {
            assert!(text.contains(reason), "{reason:?} not in {text:?}");
        }
    }

    fn with_portal(mut report: MachineReport, edit: impl FnOnce(&mut PortalFacts)) -> MachineReport {
        if let Probed::Found(p) = &mut report.portal {
            edit(p);
        }
        report
    }

    #[test]
    fn the_clipboard_follows_the_source_and_the_compositor() {
        let d = decide(&sway());
        assert_eq!(d.clipboard, ClipboardBackend::WlrootsDataControl);
        assert!(
            d.clipboard_note.contains("wlroots data control v2"),
            "{}",
            d.clipboard_note
        );
        assert!(render_text(&sway(), &d).contains("→ clipboard: wlroots data control v2"));
        let mut no_data_control = sway();
        if let Probed::Found(w) = &mut no_data_control.wayland {
            w.wlr_data_control = None;
        }
        let d = decide(&no_data_control);
        assert_eq!(d.clipboard, ClipboardBackend::None);
        assert!(
            d.clipboard_note
                .contains("offers no zwlr_data_control_manager_v1"),
            "{}",
            d.clipboard_note
        );
        let d = decide(&gnome(mutter_api()));
        assert_eq!(d.clipboard, ClipboardBackend::MutterRemoteDesktop);
        assert!(
            d.clipboard_note.contains("Mutter RemoteDesktop v1"),
            "{}",
            d.clipboard_note
        );
        assert!(render_text(&gnome(mutter_api()), &d).contains("→ clipboard: Mutter RemoteDesktop v1"));
        // GNOME through the portal (no Mutter API on the bus): xdg-desktop-portal 1.16 has no
        // Clipboard interface, and Mutter no wlroots data control.
        let mut portal_only = gnome(Probed::Found(None));
        if let Probed::Found(p) = &mut portal_only.portal {
            p.version = Some("1.16.0".into());
        }
        let d = decide(&portal_only);
        assert_eq!(d.source, Some(DesktopSource::Portal));
        assert_eq!(d.clipboard, ClipboardBackend::None);
        assert!(
            d.clipboard_note.contains(
                "the portal offers no Clipboard interface (xdg-desktop-portal 1.16.0; it comes with 1.18)"
            ),
            "{}",
            d.clipboard_note
        );
        assert_eq!(decide(&nowhere()).clipboard, ClipboardBackend::None);
    }

    #[test]
    fn decision_table() {
        // sway + xdg-desktop-portal-wlr (the test stack): portal, wlroots input, no dialog
        check(
            sway(),
            "source=portal input=WlrootsVirtualDevices dialog=Never exit=0",
            &["chooser_type=none", "HEADLESS-1", "each client's keyboard layout"],
        );
        // a stored grant wins over everything on ScreenCast v4
        check(
            with_portal(sway(), |p| p.restore_token_stored = true),
            "source=portal input=WlrootsVirtualDevices dialog=NotThisTime exit=0",
            &["stored grant"],
        );
        // wlr with its default chooser and slurp installed: asked once, then the token
        check(
            with_portal(sway(), |p| {
                if let Some(w) = &mut p.wlr {
                    w.chooser_type = "default".into();
                    w.choosers_installed = strings(&["slurp", "wofi"]);
                }
            }),
            "source=portal input=WlrootsVirtualDevices dialog=Once exit=0",
            &["runs slurp", "chooser_type=none"],
        );
        // wlr default chooser, none installed: xdpw takes the first output silently
        check(
            with_portal(sway(), |p| {
                if let Some(w) = &mut p.wlr {
                    w.chooser_type = "default".into();
                }
            }),
            "source=portal input=WlrootsVirtualDevices dialog=Never exit=0",
            &["finds none of its chooser programs"],
        );
        // an old portal (ScreenCast v3) asks on every start
        check(
            with_portal(sway(), |p| {
                if let (Some(sc), Some(w)) = (&mut p.screencast, &mut p.wlr) {
                    sc.version = 3;
                    w.chooser_type = "simple".into();
                    w.chooser_cmd = Some("slurp -f %o -or".into());
                }
            }),
            "source=portal input=WlrootsVirtualDevices dialog=EveryStart exit=0",
            &["cannot remember a grant", "slurp -f %o -or"],
        );
        // GNOME with Mutter's API: mutter, never a dialog, Mutter's RemoteDesktop for input
        check(
            gnome(mutter_api()),
            "source=mutter input=MutterRemoteDesktop dialog=Never exit=0",
            &["asks nobody"],
        );
        // GNOME without Mutter's API (not probed / absent): the GNOME portal's RemoteDesktop
        // session carries screen and input; its v1 cannot remember the grant: asked every start
        check(
            gnome(Probed::Skipped("not built".into())),
            "source=portal input=PortalRemoteDesktop dialog=EveryStart exit=0",
            &[
                "the portal's RemoteDesktop v1 (keyboard, pointer, touchscreen), in the same session",
                "gnome asks on every start",
                "RemoteDesktop v1 cannot remember a grant",
            ],
        );
        check(
            gnome(Probed::Found(None)),
            "source=portal input=PortalRemoteDesktop dialog=EveryStart exit=0",
            &[],
        );
        // A RemoteDesktop v2 portal remembers the grant: asked once
        check(
            with_portal(gnome(Probed::Found(None)), |p| {
                if let Some(rd) = &mut p.remote_desktop {
                    rd.version = 2;
                }
            }),
            "source=portal input=PortalRemoteDesktop dialog=Once exit=0",
            &["gnome asks once"],
        );
        // A RemoteDesktop without a keyboard is not used: ScreenCast alone, view only
        check(
            with_portal(gnome(Probed::Found(None)), |p| {
                if let Some(rd) = &mut p.remote_desktop {
                    rd.device_types = strings(&["pointer"]);
                }
            }),
            "source=portal input=None dialog=Once exit=0",
            &["gnome asks once"],
        );
        // Mutter's API without PipeWire: nothing can carry frames
        check(
            MachineReport {
                pipewire: Probed::Failed("could not connect".into()),
                ..gnome(mutter_api())
            },
            "source=none input=None dialog=NotApplicable exit=1",
            &["install pipewire and wireplumber"],
        );
        // PipeWire without a session manager
        check(
            MachineReport {
                pipewire: Probed::Found(PipeWireFacts {
                    session_managers: Vec::new(),
                    ..pipewire().found().cloned().unwrap()
                }),
                ..sway()
            },
            "source=none input=None dialog=NotApplicable exit=1",
            &["start `wireplumber`"],
        );
        // a wlroots compositor without virtual devices: view only
        check(
            MachineReport {
                wayland: mutter_wayland(),
                ..sway()
            },
            "source=portal input=None dialog=Never exit=0",
            &["view only"],
        );
        // the portal without a ScreenCast backend for this desktop
        check(
            with_portal(sway(), |p| {
                p.screencast = None;
                p.screencast_backend = no_backend();
            }),
            "source=none input=None dialog=NotApplicable exit=1",
            &[
                "no ScreenCast for XDG_CURRENT_DESKTOP=sway",
                "install xdg-desktop-portal-wlr",
            ],
        );
        // the picked backend is gone from the bus
        check(
            with_portal(sway(), |p| p.screencast_backend.bus = "absent".into()),
            "source=none input=None dialog=NotApplicable exit=1",
            &["neither running nor installed"],
        );
        // no session at all
        check(
            nowhere(),
            "source=none input=None dialog=NotApplicable exit=1",
            &["WAYLAND_DISPLAY is not set", "no session bus", "install pipewire"],
        );
    }

    #[test]
    fn warnings_name_the_fix() {
        let report = MachineReport {
            session: SessionFacts {
                current_desktop: Some("GNOME".into()),
                config_file: Some("/etc/wrd.toml".into()),
                configured_source: Some("test-pattern".into()),
                ..sway_session()
            },
            ..sway()
        };
        let d = decide(&report);
        let all = d.warnings.join("\n");
        assert!(all.contains("dbus-update-activation-environment"), "{all}");
        assert!(all.contains("source = \"test-pattern\""), "{all}");
    }

    #[test]
    fn text_report_of_the_sway_stack() {
        let report = sway();
        let text = render_text(&report, &decide(&report));
        let expected = "\
session      wayland-1 (XDG_CURRENT_DESKTOP=sway), session bus ok
pipewire     0.3.65 (pipewire-0), connected; session manager: WirePlumber
portal       xdg-desktop-portal 1.16.0: ScreenCast v4 (monitor; cursor: hidden, embedded), RemoteDesktop: absent, Clipboard: absent
backend      ScreenCast → wlr (org.freedesktop.impl.portal.desktop.wlr, running): its UseIn= names sway; for XDG_CURRENT_DESKTOP=sway (the portal's environment); UseIn= rules (xdg-desktop-portal ≤ 1.16)
             RemoteDesktop → none: no installed backend implements it; installed: wlr
wlr config   chooser_type=none, output_name=HEADLESS-1 (/home/u/.config/xdg-desktop-portal-wlr/config, found on its search path); casts one output
grant        no restore token stored yet (/home/u/.local/state/wrd-server/portal-restore-token)
mutter api   absent (not a GNOME session)
wayland      sway (pid 42, wlroots) on wayland-1: zwlr_virtual_pointer_manager_v1 v2, zwp_virtual_keyboard_manager_v1 v1, zwlr_screencopy_manager_v1 v3, data-control: zwlr_data_control_manager_v1 v2; 1 output
codecs       H.264 (AVC420, openh264, built into this binary; self-test passed) to clients whose graphics pipeline offers it, else RemoteFX, else bitmaps
→ serve would use: portal (xdg-desktop-portal ScreenCast): `wrd-server serve --source portal`
→ input: wlroots virtual pointer v2 + keyboard v1, with each client's keyboard layout
→ clipboard: wlroots data control v2: text, HTML and pictures both ways, fetched when pasted (64 MB per item; off with --view-only)
→ consent dialog: none: xdg-desktop-portal-wlr is configured with chooser_type=none: it casts HEADLESS-1 without asking (/home/u/.config/xdg-desktop-portal-wlr/config)
";
        assert_eq!(text, expected);
    }

    #[test]
    fn text_report_without_a_session() {
        let report = nowhere();
        let text = render_text(&report, &decide(&report));
        assert!(
            text.starts_with("session      no WAYLAND_DISPLAY, no session bus\n"),
            "{text}"
        );
        assert!(text.contains("→ no desktop to serve here"), "{text}");
        assert!(
            text.contains("codecs       RemoteFX, else bitmaps; no H.264: its self-test failed: openh264"),
            "{text}"
        );
        assert!(
            text.contains("`wrd-server serve --source test-pattern`"),
            "{text}"
        );
    }

    #[test]
    fn json_has_the_verdict_and_every_probe() {
        let report = sway();
        let decision = decide(&report);
        let value = serde_json::to_value(JsonOutput {
            report: &report,
            decision: &decision,
            exit_code: decision.exit_code(),
        })
        .unwrap();
        assert_eq!(value["decision"]["source"], "portal");
        assert_eq!(value["decision"]["dialog"], "never");
        assert_eq!(value["decision"]["input"], "wlroots_virtual_devices");
        assert_eq!(value["report"]["pipewire"]["status"], "found");
        assert_eq!(value["report"]["portal"]["value"]["screencast"]["version"], 4);
        assert_eq!(value["report"]["wayland"]["value"]["virtual_pointer"], 2);
        assert_eq!(value["report"]["h264"]["status"], "found");
        assert_eq!(value["exit_code"], 0);
    }
}
