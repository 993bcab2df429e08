//! zbus proxies for the parts of Mutter's private D-Bus API we use, as mutter 43 defines them
//! (GNOME mutter, `data/dbus-interfaces/org.gnome.Mutter.{RemoteDesktop,ScreenCast,DisplayConfig}.xml`).
//!
//! Session and stream objects are created per client and live under the service's name; their
//! proxies are built with a path (`builder(..).path(..)`) and without property caching: every
//! property is read once, and caching would cost a `GetAll` and a match rule per object.

use std::collections::HashMap;

use zbus::zvariant::{OwnedObjectPath, OwnedValue, Value};

pub(crate) const REMOTE_DESKTOP_NAME: &str = "org.gnome.Mutter.RemoteDesktop";
pub(crate) const SCREEN_CAST_NAME: &str = "org.gnome.Mutter.ScreenCast";
pub(crate) const DISPLAY_CONFIG_NAME: &str = "org.gnome.Mutter.DisplayConfig";

#[zbus::proxy(
    interface = "org.gnome.Mutter.RemoteDesktop",
    default_service = "org.gnome.Mutter.RemoteDesktop",
    default_path = "/org/gnome/Mutter/RemoteDesktop",
    gen_blocking = false
)]
pub(crate) trait RemoteDesktop {
    fn create_session(&self) -> zbus::Result<OwnedObjectPath>;

    /// Bit mask: 1 keyboard, 2 pointer, 4 touchscreen.
    #[zbus(property)]
    fn supported_device_types(&self) -> zbus::Result<u32>;

    #[zbus(property)]
    fn version(&self) -> zbus::Result<i32>;
}

#[zbus::proxy(
    interface = "org.gnome.Mutter.RemoteDesktop.Session",
    default_service = "org.gnome.Mutter.RemoteDesktop",
    gen_blocking = false
)]
pub(crate) trait RemoteDesktopSession {
    /// Ties a ScreenCast session to this one (`remote-desktop-session-id`).
    #[zbus(property)]
    fn session_id(&self) -> zbus::Result<String>;

    /// The seat's Caps Lock (Mutter 42 and later).
    #[zbus(property)]
    fn caps_lock_state(&self) -> zbus::Result<bool>;

    /// The seat's Num Lock (Mutter 42 and later).
    #[zbus(property)]
    fn num_lock_state(&self) -> zbus::Result<bool>;

    /// Starts this session and the ScreenCast session tied to it.
    fn start(&self) -> zbus::Result<()>;

    fn stop(&self) -> zbus::Result<()>;

    #[zbus(signal)]
    fn closed(&self) -> zbus::Result<()>;

    /// `keycode`: an evdev key code; `state`: pressed.
    fn notify_keyboard_keycode(&self, keycode: u32, state: bool) -> zbus::Result<()>;

    /// `keysym`: an X keysym; `state`: pressed.
    fn notify_keyboard_keysym(&self, keysym: u32, state: bool) -> zbus::Result<()>;

    /// `button`: an evdev button code (`BTN_LEFT` = 0x110); `state`: pressed.
    fn notify_pointer_button(&self, button: i32, state: bool) -> zbus::Result<()>;

    /// Smooth scrolling; 10.0 is one wheel step. `flags`: 1 finish, 2 wheel, 4 finger,
    /// 8 continuous.
    fn notify_pointer_axis(&self, dx: f64, dy: f64, flags: u32) -> zbus::Result<()>;

    /// `axis`: 0 vertical, 1 horizontal.
    fn notify_pointer_axis_discrete(&self, axis: u32, steps: i32) -> zbus::Result<()>;

    fn notify_pointer_motion_relative(&self, dx: f64, dy: f64) -> zbus::Result<()>;

    /// `stream`: the ScreenCast stream's object path; `x`, `y` in that stream's pixels.
    fn notify_pointer_motion_absolute(&self, stream: &str, x: f64, y: f64) -> zbus::Result<()>;

    /// Turns the clipboard on for this session: `SelectionOwnerChanged` and
    /// `SelectionTransfer` start, and the current owner's MIME types are sent at once.
    /// Options: `mime-types` (as) to take the selection in the same call.
    fn enable_clipboard(&self, options: HashMap<&str, Value<'_>>) -> zbus::Result<()>;

    /// Takes the selection with `mime-types` (as) in the options; without it, gives ours up.
    fn set_selection(&self, options: HashMap<&str, Value<'_>>) -> zbus::Result<()>;

    /// Answers `SelectionTransfer` `serial`: the write end of a pipe the paste reads from.
    fn selection_write(&self, serial: u32) -> zbus::Result<zbus::zvariant::OwnedFd>;

    /// Says a `SelectionWrite` is over (mutter 43 only logs it: closing the pipe ends the paste).
    fn selection_write_done(&self, serial: u32, success: bool) -> zbus::Result<()>;

    /// The read end of a pipe Mutter writes the current selection's `mime_type` into. One
    /// read at a time: a second while one is open fails ("Tried to read in parallel").
    fn selection_read(&self, mime_type: &str) -> zbus::Result<zbus::zvariant::OwnedFd>;

    /// The desktop's selection changed: `mime-types` (mutter 43 sends `(as)`, a struct around
    /// the array), `session-is-owner` (b); both absent when the selection was cleared.
    #[zbus(signal)]
    fn selection_owner_changed(&self, options: HashMap<String, OwnedValue>) -> zbus::Result<()>;

    /// A program pastes from our selection: answer `serial` with `SelectionWrite`.
    #[zbus(signal)]
    fn selection_transfer(&self, mime_type: String, serial: u32) -> zbus::Result<()>;
}

#[zbus::proxy(
    interface = "org.gnome.Mutter.ScreenCast",
    default_service = "org.gnome.Mutter.ScreenCast",
    default_path = "/org/gnome/Mutter/ScreenCast",
    gen_blocking = false
)]
pub(crate) trait ScreenCast {
    fn create_session(&self, properties: HashMap<&str, Value<'_>>) -> zbus::Result<OwnedObjectPath>;

    #[zbus(property)]
    fn version(&self) -> zbus::Result<i32>;
}

#[zbus::proxy(
    interface = "org.gnome.Mutter.ScreenCast.Session",
    default_service = "org.gnome.Mutter.ScreenCast",
    gen_blocking = false
)]
pub(crate) trait ScreenCastSession {
    /// `connector`: e.g. `DP-1`; properties: `cursor-mode` (u).
    fn record_monitor(
        &self,
        connector: &str,
        properties: HashMap<&str, Value<'_>>,
    ) -> zbus::Result<OwnedObjectPath>;

    /// A new virtual monitor, made when the stream's consumer negotiates a format, at the size
    /// negotiated (and re-made at a new size on a re-negotiation); properties: `cursor-mode`
    /// (u), `is-platform` (b: a monitor of the session, as a physical one would be, not an
    /// extra screen to cast).
    fn record_virtual(&self, properties: HashMap<&str, Value<'_>>) -> zbus::Result<OwnedObjectPath>;
}

#[zbus::proxy(
    interface = "org.gnome.Mutter.ScreenCast.Stream",
    default_service = "org.gnome.Mutter.ScreenCast",
    gen_blocking = false
)]
pub(crate) trait ScreenCastStream {
    /// The PipeWire node of this stream exists (sent to the session's owner only).
    #[zbus(signal, name = "PipeWireStreamAdded")]
    fn pipewire_stream_added(&self, node_id: u32) -> zbus::Result<()>;

    /// `position` (ii), `size` (ii) in the compositor's layout, `output-name` (s).
    #[zbus(property)]
    fn parameters(&self) -> zbus::Result<HashMap<String, OwnedValue>>;
}

/// A monitor as `GetCurrentState` lists it: `(connector, vendor, product, serial)`, modes,
/// properties.
pub(crate) type MonitorSpec = (String, String, String, String);
/// `(id, width, height, refresh, preferred scale, supported scales, properties)`.
pub(crate) type ModeInfo = (String, i32, i32, f64, f64, Vec<f64>, HashMap<String, OwnedValue>);
pub(crate) type MonitorInfo = (MonitorSpec, Vec<ModeInfo>, HashMap<String, OwnedValue>);
/// `(x, y, scale, transform, primary, monitors, properties)`.
pub(crate) type LogicalMonitorInfo = (
    i32,
    i32,
    f64,
    u32,
    bool,
    Vec<MonitorSpec>,
    HashMap<String, OwnedValue>,
);
pub(crate) type CurrentState = (
    u32,
    Vec<MonitorInfo>,
    Vec<LogicalMonitorInfo>,
    HashMap<String, OwnedValue>,
);

#[zbus::proxy(
    interface = "org.gnome.Mutter.DisplayConfig",
    default_service = "org.gnome.Mutter.DisplayConfig",
    default_path = "/org/gnome/Mutter/DisplayConfig",
    gen_blocking = false
)]
pub(crate) trait DisplayConfig {
    fn get_current_state(&self) -> zbus::Result<CurrentState>;
}
