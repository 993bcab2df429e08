//! GNOME's private remote-desktop API, the one crate that talks to it: Mutter's
//! `org.gnome.Mutter.RemoteDesktop` + `org.gnome.Mutter.ScreenCast` (what gnome-remote-desktop
//! uses). Unlike the xdg-desktop-portal, it asks nobody for consent, so it serves unattended
//! GNOME machines and headless GNOME sessions. It is private to GNOME and versioned by Mutter;
//! this crate follows mutter 43 (Debian 12) and is tested against it.
//!
//! [`start`] opens one remote-desktop session with a screen cast tied to it and records every
//! monitor Mutter shows (`DisplayConfig.GetCurrentState`), in order: the primary first, then
//! left to right; or ([`Recording::VirtualMonitor`]) one virtual monitor that takes the size
//! its stream's consumer negotiates, and follows when the consumer re-negotiates (a headless
//! session whose monitor follows the client). Each [`MutterStream`] names a PipeWire node on the session's ordinary
//! PipeWire daemon (no fd is handed out: consumers connect the usual way, `PIPEWIRE_REMOTE` or
//! `$XDG_RUNTIME_DIR/pipewire-0`). The same session injects input (the `pointer_*` and
//! `keyboard_*` methods of [`MutterSession`]).
//!
//! ```text
//!  RemoteDesktop.CreateSession ──► RD session ── SessionId ──┐
//!  ScreenCast.CreateSession({remote-desktop-session-id}) ◄───┘──► SC session
//!  SC session.RecordMonitor(connector, {cursor-mode}) × monitors ──► streams
//!    (or RecordVirtual({cursor-mode, is-platform}) ──► one virtual monitor's stream)
//!  (subscribe: PipeWireStreamAdded per stream, RD session Closed, Mutter's name owner)
//!  RD session.Start ──► PipeWireStreamAdded(node) per stream ──► Parameters (position, size)
//! ```
//!
//! The session shares the desktop's clipboard too ([`MutterSession::clipboard`]: the
//! desktop's selection and its MIME types, pastes from ours, reads of theirs).
//!
//! Mutter ties every session to the D-Bus connection that created it: all calls go through
//! the session's own connection, and dropping the [`MutterSession`] (closing that connection)
//! ends the session in Mutter too.

mod clipboard;
mod display;
mod proxies;

use std::collections::HashMap;
use std::fmt;
use std::time::Duration;

use futures_util::StreamExt as _;
use tokio::sync::watch;
use tracing::{debug, info, warn};
use zbus::names::BusName;
use zbus::proxy::CacheProperties;
use zbus::zvariant::{OwnedObjectPath, OwnedValue, Value};

pub use crate::clipboard::{ClipboardCommand, ClipboardEvent, MutterClipboard, READ_TIMEOUT, WRITE_TIMEOUT};
use crate::display::LayoutMonitor;
use crate::proxies::{
    DISPLAY_CONFIG_NAME, DisplayConfigProxy, REMOTE_DESKTOP_NAME, RemoteDesktopProxy,
    RemoteDesktopSessionProxy, SCREEN_CAST_NAME, ScreenCastProxy, ScreenCastSessionProxy,
    ScreenCastStreamProxy,
};

/// How long Mutter may take to announce each stream's PipeWire node after `Start`.
pub const STREAM_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest wait for any one D-Bus call (Mutter answers in milliseconds; a hung compositor
/// must not hang us).
pub const CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// The cursor bitmap size Mutter's cursor metadata is made for: mutter offers exactly
/// `CURSOR_META_SIZE(384, 384)`, so a consumer's `SPA_META_Cursor` size range must reach it
/// (`wrd_pipewire::StreamConfig::max_cursor_size`), or PipeWire drops the metadata and
/// [`CursorMode::Metadata`] shows no cursor at all.
pub const CURSOR_BITMAP_MAX: (u32, u32) = (384, 384);

/// `NotifyPointerAxis` flags.
pub const AXIS_FINISH: u32 = 1;
pub const AXIS_SOURCE_WHEEL: u32 = 2;
pub const AXIS_SOURCE_FINGER: u32 = 4;
pub const AXIS_SOURCE_CONTINUOUS: u32 = 8;

/// Device types Mutter can emulate (`SupportedDeviceTypes`).
pub const DEVICE_KEYBOARD: u32 = 1;
pub const DEVICE_POINTER: u32 = 2;
pub const DEVICE_TOUCHSCREEN: u32 = 4;

#[derive(Debug, thiserror::Error)]
pub enum MutterError {
    #[error(
        "GNOME's remote desktop API is not available: {0}. It exists only inside a GNOME (Mutter) session: run there, with that session's DBUS_SESSION_BUS_ADDRESS, or use --source portal"
    )]
    Unavailable(String),
    #[error("Mutter {step} failed: {message}")]
    Step { step: &'static str, message: String },
    #[error(
        "Mutter shows no monitor to record (DisplayConfig lists no active logical monitor); a headless GNOME needs a virtual monitor (mutter --virtual-monitor WxH)"
    )]
    NoStreams,
    #[error(
        "Mutter did not announce the PipeWire stream of monitor {connector} within {} s; is PipeWire (pipewire and wireplumber) running in this session?",
        STREAM_TIMEOUT.as_secs()
    )]
    StreamTimeout { connector: String },
    #[error("Mutter closed the session while it was starting ({0}); see Mutter's log (journalctl --user)")]
    ClosedWhileStarting(&'static str),
    #[error("there is no stream {index}: the session records {count} monitor(s)")]
    NoSuchStream { index: usize, count: usize },
}

fn step(step: &'static str) -> impl FnOnce(zbus::Error) -> MutterError {
    move |e| MutterError::Step {
        step,
        message: e.to_string(),
    }
}

fn fdo_step(step: &'static str) -> impl FnOnce(zbus::fdo::Error) -> MutterError {
    move |e| MutterError::Step {
        step,
        message: e.to_string(),
    }
}

/// How Mutter delivers the cursor (its `cursor-mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CursorMode {
    /// Not at all.
    Hidden,
    /// Drawn into the frames.
    Embedded,
    /// As PipeWire metadata (position, bitmap): frames stay cursor-free, the client draws it.
    /// The consumer must accept bitmaps up to [`CURSOR_BITMAP_MAX`].
    Metadata,
}

impl CursorMode {
    fn to_mutter(self) -> u32 {
        match self {
            Self::Hidden => 0,
            Self::Embedded => 1,
            Self::Metadata => 2,
        }
    }
}

/// What a session records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recording {
    /// Every monitor Mutter shows (`RecordMonitor` each).
    Monitors,
    /// One virtual monitor of the session's own (`RecordVirtual`, `is-platform`): Mutter
    /// makes it when the stream's consumer negotiates a format, at the size negotiated, and
    /// resizes it when the consumer re-negotiates another size. For a headless Mutter that
    /// runs with no monitor of its own. Its [`MutterStream`] has no size or position until
    /// then.
    VirtualMonitor,
}

#[derive(Debug, Clone)]
pub struct MutterOptions {
    pub cursor: CursorMode,
    pub recording: Recording,
}

/// The connector a virtual monitor's stream is described with until Mutter names it.
pub const VIRTUAL_CONNECTOR: &str = "virtual";

/// One monitor being recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MutterStream {
    /// The PipeWire node on the session's PipeWire daemon.
    pub node_id: u32,
    /// The monitor's connector (e.g. `DP-1`, `Meta-0` for a virtual monitor).
    pub connector: String,
    /// Position in Mutter's layout (the stream's `Parameters`, else `DisplayConfig`).
    pub position: Option<(i32, i32)>,
    /// Size in Mutter's layout (the stream's `Parameters`, else `DisplayConfig`).
    pub size: Option<(i32, i32)>,
}

/// Why a session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SessionEnd {
    /// Mutter sent `Closed` (our `stop`, a monitor went away, or Mutter ended it).
    Closed,
    /// Mutter's name left the bus (or changed owner): Mutter exited or crashed.
    MutterLeft,
    /// Our connection to the session bus ended.
    BusLost,
}

impl fmt::Display for SessionEnd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Closed => "Mutter closed the session",
            Self::MutterLeft => "Mutter left the session bus",
            Self::BusLost => "the session bus connection ended",
        })
    }
}

/// A running remote-desktop session with its screen cast. Dropping it ends the session in
/// Mutter (its D-Bus connection closes); [`MutterSession::stop`] ends it explicitly.
pub struct MutterSession {
    pub streams: Vec<MutterStream>,
    pub cursor: CursorMode,
    remote_desktop: RemoteDesktopSessionProxy<'static>,
    remote_desktop_path: OwnedObjectPath,
    /// Object paths of the streams, in the order of `streams` (input names them).
    stream_paths: Vec<OwnedObjectPath>,
    ended: watch::Receiver<Option<SessionEnd>>,
    watcher: tokio::task::AbortHandle,
}

impl fmt::Debug for MutterSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MutterSession")
            .field("streams", &self.streams)
            .field("cursor", &self.cursor)
            .field("remote_desktop_path", &self.remote_desktop_path)
            .field("stream_paths", &self.stream_paths)
            .field("ended", &*self.ended.borrow())
            .finish_non_exhaustive()
    }
}

impl Drop for MutterSession {
    fn drop(&mut self) {
        // The watcher holds signal streams, hence the connection: stop it so the connection
        // closes and Mutter ends the session.
        self.watcher.abort();
    }
}

impl MutterSession {
    /// Resolves when the session is over: Mutter closed it (the remote-desktop session's
    /// `Closed` signal, e.g. after [`Self::stop`]), or Mutter left the bus. Any number of
    /// callers may wait; once over, it returns at once.
    pub async fn closed(&self) -> Result<(), MutterError> {
        let mut ended = self.ended.clone();
        ended
            .wait_for(Option::is_some)
            .await
            .map(|_| ())
            .map_err(|_| MutterError::Step {
                step: "watching the session",
                message: "the watcher stopped without seeing the end".into(),
            })
    }

    /// Whether the session is over already.
    pub fn is_closed(&self) -> bool {
        self.ended.borrow().is_some()
    }

    /// Ends the session (`RemoteDesktop.Session.Stop`); its screen cast and streams end with it.
    /// Stopping a session that is over already is not an error.
    pub async fn stop(&self) -> Result<(), MutterError> {
        if self.is_closed() {
            return Ok(());
        }
        match self.remote_desktop.stop().await {
            Ok(()) => Ok(()),
            Err(e) => {
                // Mutter may have closed it just now (the object is gone): its Closed signal
                // came first on this connection, the watcher may not have seen it yet.
                let mut ended = self.ended.clone();
                let seen =
                    tokio::time::timeout(Duration::from_millis(500), ended.wait_for(Option::is_some)).await;
                if matches!(seen, Ok(Ok(_))) {
                    Ok(())
                } else {
                    Err(step("RemoteDesktop.Session.Stop")(e))
                }
            }
        }
    }

    /// The remote-desktop session's object path (input goes there).
    pub fn remote_desktop_session(&self) -> &OwnedObjectPath {
        &self.remote_desktop_path
    }

    /// A handle that sends input into this session; cheap to clone, usable from any task.
    /// Input sent after the session ended fails with a D-Bus error.
    pub fn input(&self) -> MutterInput {
        MutterInput {
            remote_desktop: self.remote_desktop.clone(),
            stream_paths: self.stream_paths.clone().into(),
        }
    }
}

/// Sends input into a [`MutterSession`] (its `RemoteDesktop.Session.Notify*` methods). Mutter
/// applies it as from a virtual keyboard and pointer, in the order the calls are made.
#[derive(Clone)]
pub struct MutterInput {
    remote_desktop: RemoteDesktopSessionProxy<'static>,
    /// Object paths of the session's streams, in the order of [`MutterSession::streams`].
    stream_paths: std::sync::Arc<[OwnedObjectPath]>,
}

impl fmt::Debug for MutterInput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MutterInput")
            .field("stream_paths", &self.stream_paths)
            .finish_non_exhaustive()
    }
}

impl MutterInput {
    fn stream_path(&self, stream: usize) -> Result<&str, MutterError> {
        self.stream_paths
            .get(stream)
            .map(|p| p.as_str())
            .ok_or(MutterError::NoSuchStream {
                index: stream,
                count: self.stream_paths.len(),
            })
    }

    /// Moves the pointer to `(x, y)` in the pixels of stream `stream` (an index into
    /// [`Self::streams`]).
    pub async fn pointer_motion_absolute(&self, stream: usize, x: f64, y: f64) -> Result<(), MutterError> {
        let path = self.stream_path(stream)?;
        self.remote_desktop
            .notify_pointer_motion_absolute(path, x, y)
            .await
            .map_err(step("NotifyPointerMotionAbsolute"))
    }

    pub async fn pointer_motion_relative(&self, dx: f64, dy: f64) -> Result<(), MutterError> {
        self.remote_desktop
            .notify_pointer_motion_relative(dx, dy)
            .await
            .map_err(step("NotifyPointerMotionRelative"))
    }

    /// `button`: an evdev code (`BTN_LEFT` 0x110, `BTN_RIGHT` 0x111, `BTN_MIDDLE` 0x112, ...).
    pub async fn pointer_button(&self, button: i32, pressed: bool) -> Result<(), MutterError> {
        self.remote_desktop
            .notify_pointer_button(button, pressed)
            .await
            .map_err(step("NotifyPointerButton"))
    }

    /// Smooth scrolling: 10.0 is one wheel step; `flags` from the `AXIS_*` constants.
    pub async fn pointer_axis(&self, dx: f64, dy: f64, flags: u32) -> Result<(), MutterError> {
        self.remote_desktop
            .notify_pointer_axis(dx, dy, flags)
            .await
            .map_err(step("NotifyPointerAxis"))
    }

    /// Wheel steps on one axis (positive: down / right). Zero steps do nothing (Mutter would
    /// refuse them).
    pub async fn pointer_axis_discrete(&self, axis: ScrollAxis, steps: i32) -> Result<(), MutterError> {
        if steps == 0 {
            return Ok(());
        }
        self.remote_desktop
            .notify_pointer_axis_discrete(axis.to_mutter(), steps)
            .await
            .map_err(step("NotifyPointerAxisDiscrete"))
    }

    /// `keycode`: an evdev key code (`KEY_A` = 30, ...).
    pub async fn keyboard_keycode(&self, keycode: u32, pressed: bool) -> Result<(), MutterError> {
        self.remote_desktop
            .notify_keyboard_keycode(keycode, pressed)
            .await
            .map_err(step("NotifyKeyboardKeycode"))
    }

    /// `keysym`: an X keysym (`XK_Return` = 0xff0d, ...), mapped by Mutter's current keymap.
    pub async fn keyboard_keysym(&self, keysym: u32, pressed: bool) -> Result<(), MutterError> {
        self.remote_desktop
            .notify_keyboard_keysym(keysym, pressed)
            .await
            .map_err(step("NotifyKeyboardKeysym"))
    }

    /// The seat's Caps Lock and Num Lock as Mutter reports them now (read from the session,
    /// not cached): whatever toggled them, a local keyboard or an earlier session. Mutter
    /// before 42 has no such properties: an error.
    pub async fn lock_state(&self) -> Result<SeatLocks, MutterError> {
        let caps_lock = self
            .remote_desktop
            .caps_lock_state()
            .await
            .map_err(step("RemoteDesktop.Session.CapsLockState"))?;
        let num_lock = self
            .remote_desktop
            .num_lock_state()
            .await
            .map_err(step("RemoteDesktop.Session.NumLockState"))?;
        Ok(SeatLocks { caps_lock, num_lock })
    }
}

/// The lock keys of Mutter's seat (it does not report Scroll Lock).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeatLocks {
    pub caps_lock: bool,
    pub num_lock: bool,
}

/// The axis of a discrete scroll.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScrollAxis {
    Vertical,
    Horizontal,
}

impl ScrollAxis {
    fn to_mutter(self) -> u32 {
        match self {
            Self::Vertical => 0,
            Self::Horizontal => 1,
        }
    }
}

/// What Mutter's API offers on this session bus.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MutterProbe {
    pub screencast_version: i32,
    pub remote_desktop_version: i32,
    /// Bit mask of `DEVICE_*`.
    pub supported_device_types: u32,
    /// Connectors of the monitors a session would record, in stream order.
    pub monitors: Vec<String>,
}

async fn connect() -> Result<zbus::Connection, MutterError> {
    let builder = zbus::connection::Builder::session()
        .map_err(|e| MutterError::Unavailable(format!("no session bus address ({e})")))?;
    builder
        .method_timeout(CALL_TIMEOUT)
        .build()
        .await
        .map_err(|e| MutterError::Unavailable(format!("cannot connect to the session bus ({e})")))
}

/// Which of Mutter's three services are on the bus: `(screen cast, remote desktop, display config)`.
async fn services(connection: &zbus::Connection) -> Result<(bool, bool, bool), MutterError> {
    let dbus = zbus::fdo::DBusProxy::builder(connection)
        .cache_properties(CacheProperties::No)
        .build()
        .await
        .map_err(step("org.freedesktop.DBus proxy"))?;
    let mut has = [false; 3];
    for (slot, name) in has
        .iter_mut()
        .zip([SCREEN_CAST_NAME, REMOTE_DESKTOP_NAME, DISPLAY_CONFIG_NAME])
    {
        let bus_name = BusName::from_static_str(name).map_err(|e| MutterError::Step {
            step: "NameHasOwner",
            message: format!("{name}: {e}"),
        })?;
        *slot = dbus
            .name_has_owner(bus_name)
            .await
            .map_err(fdo_step("NameHasOwner"))?;
    }
    Ok((has[0], has[1], has[2]))
}

fn require_all(has: (bool, bool, bool)) -> Result<(), MutterError> {
    if has == (true, true, true) {
        return Ok(());
    }
    let missing: Vec<&str> = [
        (has.0, SCREEN_CAST_NAME),
        (has.1, REMOTE_DESKTOP_NAME),
        (has.2, DISPLAY_CONFIG_NAME),
    ]
    .into_iter()
    .filter(|(present, _)| !present)
    .map(|(_, name)| name)
    .collect();
    Err(MutterError::Unavailable(format!(
        "{} not on the session bus",
        missing.join(", ")
    )))
}

/// Proxies for the three well-known objects, uncached (each property is read once).
async fn service_proxies(
    connection: &zbus::Connection,
) -> Result<
    (
        RemoteDesktopProxy<'static>,
        ScreenCastProxy<'static>,
        DisplayConfigProxy<'static>,
    ),
    MutterError,
> {
    let rd = RemoteDesktopProxy::builder(connection)
        .cache_properties(CacheProperties::No)
        .build()
        .await
        .map_err(step("RemoteDesktop proxy"))?;
    let sc = ScreenCastProxy::builder(connection)
        .cache_properties(CacheProperties::No)
        .build()
        .await
        .map_err(step("ScreenCast proxy"))?;
    let dc = DisplayConfigProxy::builder(connection)
        .cache_properties(CacheProperties::No)
        .build()
        .await
        .map_err(step("DisplayConfig proxy"))?;
    Ok((rd, sc, dc))
}

async fn layout(dc: &DisplayConfigProxy<'_>) -> Result<Vec<LayoutMonitor>, MutterError> {
    let state = dc
        .get_current_state()
        .await
        .map_err(step("DisplayConfig.GetCurrentState"))?;
    Ok(display::monitors_to_record(&state))
}

/// Looks for Mutter's API on the session bus. `Ok(None)`: it is not there (not a GNOME
/// session); an error: there is no session bus, or only part of the API, or it misbehaves.
pub async fn probe() -> Result<Option<MutterProbe>, MutterError> {
    let connection = connect().await?;
    let has = services(&connection).await?;
    if !has.0 && !has.1 {
        return Ok(None);
    }
    require_all(has)?;
    let (rd, sc, dc) = service_proxies(&connection).await?;
    Ok(Some(MutterProbe {
        screencast_version: sc.version().await.map_err(step("ScreenCast.Version"))?,
        remote_desktop_version: rd.version().await.map_err(step("RemoteDesktop.Version"))?,
        supported_device_types: rd
            .supported_device_types()
            .await
            .map_err(step("RemoteDesktop.SupportedDeviceTypes"))?,
        monitors: layout(&dc).await?.into_iter().map(|m| m.connector).collect(),
    }))
}

/// Starts a remote-desktop session recording every monitor (see the crate docs). No dialog:
/// Mutter trusts every client of the session bus.
pub async fn start(options: &MutterOptions) -> Result<MutterSession, MutterError> {
    let connection = connect().await?;
    require_all(services(&connection).await?)?;
    let (rd, sc, dc) = service_proxies(&connection).await?;
    let targets = match options.recording {
        Recording::Monitors => {
            let monitors = layout(&dc).await?;
            if monitors.is_empty() {
                return Err(MutterError::NoStreams);
            }
            for m in monitors.iter().filter(|m| !m.mirrors.is_empty()) {
                debug!(connector = %m.connector, mirrors = ?m.mirrors, "mirrored monitors: recording the first only");
            }
            monitors.into_iter().map(Target::Monitor).collect()
        }
        Recording::VirtualMonitor => vec![Target::Virtual],
    };
    let rd_path = rd
        .create_session()
        .await
        .map_err(step("RemoteDesktop.CreateSession"))?;
    let rd_session = RemoteDesktopSessionProxy::builder(&connection)
        .path(rd_path.clone())
        .map_err(step("RemoteDesktop.Session proxy"))?
        .cache_properties(CacheProperties::No)
        .build()
        .await
        .map_err(step("RemoteDesktop.Session proxy"))?;
    match set_up(&connection, &rd, &sc, &rd_session, &targets, options).await {
        Ok((streams, stream_paths, watch)) => {
            let (tx, ended) = watch::channel(None);
            let watcher = tokio::spawn(watch.run(tx)).abort_handle();
            info!(
                streams = ?streams,
                cursor = ?options.cursor,
                recording = ?options.recording,
                session = %rd_path.as_str(),
                "Mutter remote-desktop session started"
            );
            Ok(MutterSession {
                streams,
                cursor: options.cursor,
                remote_desktop: rd_session,
                remote_desktop_path: rd_path,
                stream_paths,
                ended,
                watcher,
            })
        }
        Err(e) => {
            // Mutter would end it when this connection closes; say so explicitly anyway.
            if let Err(stop) = rd_session.stop().await {
                debug!(error = %stop, "stopping the half-started session");
            }
            Err(e)
        }
    }
}

/// The signal streams that tell a session is over.
struct EndWatch {
    closed: proxies::ClosedStream,
    owner_changed: zbus::proxy::OwnerChangedStream<'static>,
}

impl EndWatch {
    async fn run(mut self, tx: watch::Sender<Option<SessionEnd>>) {
        let end = tokio::select! {
            closed = self.closed.next() => match closed {
                Some(_) => SessionEnd::Closed,
                None => SessionEnd::BusLost,
            },
            owner = self.owner_changed.next() => match owner {
                Some(_) => SessionEnd::MutterLeft,
                None => SessionEnd::BusLost,
            },
        };
        info!(reason = %end, "Mutter remote-desktop session ended");
        tx.send_replace(Some(end));
    }
}

type SetUp = (Vec<MutterStream>, Vec<OwnedObjectPath>, EndWatch);

/// One stream to record.
#[derive(Debug)]
enum Target {
    Monitor(LayoutMonitor),
    Virtual,
}

impl Target {
    fn connector(&self) -> &str {
        match self {
            Self::Monitor(m) => &m.connector,
            Self::Virtual => VIRTUAL_CONNECTOR,
        }
    }
}

async fn set_up(
    connection: &zbus::Connection,
    rd: &RemoteDesktopProxy<'static>,
    sc: &ScreenCastProxy<'static>,
    rd_session: &RemoteDesktopSessionProxy<'static>,
    targets: &[Target],
    options: &MutterOptions,
) -> Result<SetUp, MutterError> {
    let session_id = rd_session
        .session_id()
        .await
        .map_err(step("RemoteDesktop.Session.SessionId"))?;
    let sc_path = sc
        .create_session(HashMap::from([(
            "remote-desktop-session-id",
            Value::from(session_id.as_str()),
        )]))
        .await
        .map_err(step("ScreenCast.CreateSession"))?;
    let sc_session = ScreenCastSessionProxy::builder(connection)
        .path(sc_path)
        .map_err(step("ScreenCast.Session proxy"))?
        .cache_properties(CacheProperties::No)
        .build()
        .await
        .map_err(step("ScreenCast.Session proxy"))?;

    // Every subscription before Start: Mutter sends PipeWireStreamAdded once, right after it.
    let mut recordings = Vec::with_capacity(targets.len());
    for target in targets {
        let cursor_mode = ("cursor-mode", Value::U32(options.cursor.to_mutter()));
        let path = match target {
            Target::Monitor(monitor) => sc_session
                .record_monitor(&monitor.connector, HashMap::from([cursor_mode]))
                .await
                .map_err(|e| MutterError::Step {
                    step: "ScreenCast.Session.RecordMonitor",
                    message: format!("{}: {e}", monitor.connector),
                })?,
            Target::Virtual => sc_session
                .record_virtual(HashMap::from([cursor_mode, ("is-platform", Value::Bool(true))]))
                .await
                .map_err(step("ScreenCast.Session.RecordVirtual"))?,
        };
        let stream = ScreenCastStreamProxy::builder(connection)
            .path(path.clone())
            .map_err(step("ScreenCast.Stream proxy"))?
            .cache_properties(CacheProperties::No)
            .build()
            .await
            .map_err(step("ScreenCast.Stream proxy"))?;
        let added = stream
            .receive_pipewire_stream_added()
            .await
            .map_err(step("PipeWireStreamAdded subscription"))?;
        recordings.push((target, path, stream, added));
    }
    let mut closed = rd_session
        .receive_closed()
        .await
        .map_err(step("RemoteDesktop.Session.Closed subscription"))?;
    let mut owner_changed = rd
        .inner()
        .receive_owner_changed()
        .await
        .map_err(step("NameOwnerChanged subscription"))?;

    rd_session.start().await.map_err(|e| MutterError::Step {
        step: "RemoteDesktop.Session.Start",
        message: format!("{e} (Mutter needs PipeWire running in this session for screen casts)"),
    })?;

    let deadline = tokio::time::Instant::now() + STREAM_TIMEOUT;
    let mut streams = Vec::with_capacity(recordings.len());
    let mut paths = Vec::with_capacity(recordings.len());
    for (target, path, stream, mut added) in recordings {
        let node_id = tokio::select! {
            signal = tokio::time::timeout_at(deadline, added.next()) => match signal {
                Ok(Some(signal)) => signal
                    .args()
                    .map_err(step("PipeWireStreamAdded arguments"))?
                    .node_id,
                Ok(None) => return Err(MutterError::ClosedWhileStarting("the bus connection ended")),
                Err(_) => return Err(MutterError::StreamTimeout { connector: target.connector().to_owned() }),
            },
            _ = closed.next() => return Err(MutterError::ClosedWhileStarting("Closed signal")),
            _ = owner_changed.next() => return Err(MutterError::ClosedWhileStarting("Mutter left the bus")),
        };
        let parameters = match stream.parameters().await {
            Ok(p) => p,
            Err(e) => {
                debug!(error = %e, connector = %target.connector(), "no stream parameters: using DisplayConfig's layout");
                HashMap::new()
            }
        };
        streams.push(match target {
            Target::Monitor(monitor) => describe_stream(node_id, monitor, &parameters),
            Target::Virtual => describe_virtual_stream(node_id, &parameters),
        });
        paths.push(path);
    }
    // Mutter 43 puts the cursor image into the metadata only when the image changes; a
    // pointer that first shows up while a stream runs can be announced with an empty image
    // that is never corrected. A motion of nothing now, before any consumer connects, shows
    // the pointer (Mutter's virtual pointer is created) with its image set, so the first
    // frames carry it. It moves nothing.
    if let Err(e) = rd_session.notify_pointer_motion_relative(0.0, 0.0).await {
        debug!(error = %e, "could not show the pointer before streaming");
    }
    Ok((
        streams,
        paths,
        EndWatch {
            closed,
            owner_changed,
        },
    ))
}

/// The stream as Mutter describes it (`Parameters`), completed from the layout.
fn describe_stream(
    node_id: u32,
    monitor: &LayoutMonitor,
    parameters: &HashMap<String, OwnedValue>,
) -> MutterStream {
    let pair = |key: &str| {
        parameters
            .get(key)
            .and_then(|v| <(i32, i32)>::try_from(&**v).ok())
    };
    let connector = parameters
        .get("output-name")
        .and_then(|v| <&str>::try_from(v).ok())
        .unwrap_or(&monitor.connector);
    if connector != monitor.connector {
        warn!(asked = %monitor.connector, got = %connector, "Mutter records another output than asked for");
    }
    MutterStream {
        node_id,
        connector: connector.to_owned(),
        position: pair("position").or(Some(monitor.position)),
        size: pair("size").or(monitor.size),
    }
}

/// A virtual monitor's stream: Mutter knows its place and size only once a consumer
/// negotiated one (before that, its `Parameters` are empty).
fn describe_virtual_stream(node_id: u32, parameters: &HashMap<String, OwnedValue>) -> MutterStream {
    let pair = |key: &str| {
        parameters
            .get(key)
            .and_then(|v| <(i32, i32)>::try_from(&**v).ok())
    };
    MutterStream {
        node_id,
        connector: parameters
            .get("output-name")
            .and_then(|v| <&str>::try_from(v).ok())
            .unwrap_or(VIRTUAL_CONNECTOR)
            .to_owned(),
        position: pair("position"),
        size: pair("size"),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn monitor() -> LayoutMonitor {
        LayoutMonitor {
            connector: "Meta-1".into(),
            mirrors: vec![],
            position: (1280, 0),
            size: Some((800, 600)),
            primary: false,
        }
    }

    #[test]
    fn stream_parameters_win_over_the_layout() {
        let params = HashMap::from([
            (
                "position".to_owned(),
                OwnedValue::try_from(Value::from((10, 20))).unwrap(),
            ),
            (
                "size".to_owned(),
                OwnedValue::try_from(Value::from((640, 480))).unwrap(),
            ),
            (
                "output-name".to_owned(),
                OwnedValue::try_from(Value::from("Meta-1")).unwrap(),
            ),
        ]);
        let s = describe_stream(42, &monitor(), &params);
        assert_eq!(
            s,
            MutterStream {
                node_id: 42,
                connector: "Meta-1".into(),
                position: Some((10, 20)),
                size: Some((640, 480)),
            }
        );
    }

    #[test]
    fn without_parameters_the_layout_is_used() {
        let s = describe_stream(7, &monitor(), &HashMap::new());
        assert_eq!(s.position, Some((1280, 0)));
        assert_eq!(s.size, Some((800, 600)));
        assert_eq!(s.connector, "Meta-1");
    }

    #[test]
    fn a_virtual_monitor_has_no_size_before_negotiation() {
        let s = describe_virtual_stream(9, &HashMap::new());
        assert_eq!(
            s,
            MutterStream {
                node_id: 9,
                connector: VIRTUAL_CONNECTOR.into(),
                position: None,
                size: None,
            }
        );
    }

    #[test]
    fn missing_services_are_named() {
        assert!(require_all((true, true, true)).is_ok());
        let e = require_all((true, false, false)).unwrap_err().to_string();
        assert!(
            e.contains(
                "org.gnome.Mutter.RemoteDesktop, org.gnome.Mutter.DisplayConfig not on the session bus"
            ),
            "{e}"
        );
        assert!(e.contains("GNOME"), "{e}");
    }

    #[test]
    fn cursor_modes_are_mutters_numbers() {
        assert_eq!(CursorMode::Hidden.to_mutter(), 0);
        assert_eq!(CursorMode::Embedded.to_mutter(), 1);
        assert_eq!(CursorMode::Metadata.to_mutter(), 2);
    }
}
