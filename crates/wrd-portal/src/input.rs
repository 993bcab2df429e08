//! Input into a portal RemoteDesktop session: the portal's `Notify*` calls, in the desktop's
//! terms (evdev key and button codes, keysyms, positions in a monitor's stream).

use std::sync::Arc;

use ashpd::desktop::Session;
use ashpd::desktop::remote_desktop::{Axis, DeviceType, KeyState, RemoteDesktop};
use ashpd::enumflags2::BitFlags;

use crate::PortalError;

/// Which way a discrete wheel step scrolls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScrollAxis {
    Vertical,
    Horizontal,
}

/// A cloneable handle on the input of one portal RemoteDesktop session (the session the screen
/// cast belongs to). Calls fail once the session is closed.
#[derive(Debug, Clone)]
pub struct PortalInput {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    portal: RemoteDesktop,
    session: Arc<Session<RemoteDesktop>>,
    /// The PipeWire node id of each monitor's stream, in the order of the monitors: absolute
    /// positions are given relative to one stream.
    streams: Vec<u32>,
    /// What the user granted (the dialog may leave out keyboard or pointer).
    devices: BitFlags<DeviceType>,
}

fn failed(call: &'static str, e: &ashpd::Error) -> PortalError {
    PortalError::Input {
        call,
        message: e.to_string(),
    }
}

fn state(pressed: bool) -> KeyState {
    if pressed {
        KeyState::Pressed
    } else {
        KeyState::Released
    }
}

fn code(call: &'static str, what: &str, value: u32) -> Result<i32, PortalError> {
    i32::try_from(value).map_err(|_| PortalError::Input {
        call,
        message: format!("{what} {value} does not fit the portal's int32"),
    })
}

impl PortalInput {
    pub(crate) fn new(
        portal: RemoteDesktop,
        session: Arc<Session<RemoteDesktop>>,
        streams: Vec<u32>,
        devices: BitFlags<DeviceType>,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                portal,
                session,
                streams,
                devices,
            }),
        }
    }

    /// The PipeWire node ids of the monitors' streams, in the order of the monitors.
    pub fn stream_node_ids(&self) -> &[u32] {
        &self.inner.streams
    }

    /// Whether the user granted the keyboard.
    pub fn has_keyboard(&self) -> bool {
        self.inner.devices.contains(DeviceType::Keyboard)
    }

    /// Whether the user granted the pointer.
    pub fn has_pointer(&self) -> bool {
        self.inner.devices.contains(DeviceType::Pointer)
    }

    /// A key by its evdev code (`KEY_*`): the desktop's keymap decides what it types.
    pub async fn keyboard_keycode(&self, evdev: u32, pressed: bool) -> Result<(), PortalError> {
        const CALL: &str = "RemoteDesktop.NotifyKeyboardKeycode";
        let keycode = code(CALL, "key code", evdev)?;
        let i = &self.inner;
        i.portal
            .notify_keyboard_keycode(&i.session, keycode, state(pressed), Default::default())
            .await
            .map_err(|e| failed(CALL, &e))
    }

    /// A key by its X keysym.
    pub async fn keyboard_keysym(&self, keysym: u32, pressed: bool) -> Result<(), PortalError> {
        const CALL: &str = "RemoteDesktop.NotifyKeyboardKeysym";
        let keysym = code(CALL, "keysym", keysym)?;
        let i = &self.inner;
        i.portal
            .notify_keyboard_keysym(&i.session, keysym, state(pressed), Default::default())
            .await
            .map_err(|e| failed(CALL, &e))
    }

    /// Moves the pointer to (`x`, `y`) in the logical pixels of monitor number `monitor`.
    pub async fn pointer_motion_absolute(&self, monitor: usize, x: f64, y: f64) -> Result<(), PortalError> {
        const CALL: &str = "RemoteDesktop.NotifyPointerMotionAbsolute";
        let i = &self.inner;
        let node = *i.streams.get(monitor).ok_or_else(|| PortalError::Input {
            call: CALL,
            message: format!(
                "monitor {monitor} has no stream (the session has {})",
                i.streams.len()
            ),
        })?;
        i.portal
            .notify_pointer_motion_absolute(&i.session, node, x, y, Default::default())
            .await
            .map_err(|e| failed(CALL, &e))
    }

    /// Moves the pointer by (`dx`, `dy`).
    pub async fn pointer_motion_relative(&self, dx: f64, dy: f64) -> Result<(), PortalError> {
        const CALL: &str = "RemoteDesktop.NotifyPointerMotion";
        let i = &self.inner;
        i.portal
            .notify_pointer_motion(&i.session, dx, dy, Default::default())
            .await
            .map_err(|e| failed(CALL, &e))
    }

    /// A button by its evdev code (`BTN_LEFT` = 0x110, ...).
    pub async fn pointer_button(&self, evdev_button: u32, pressed: bool) -> Result<(), PortalError> {
        const CALL: &str = "RemoteDesktop.NotifyPointerButton";
        let button = code(CALL, "button code", evdev_button)?;
        let i = &self.inner;
        i.portal
            .notify_pointer_button(&i.session, button, state(pressed), Default::default())
            .await
            .map_err(|e| failed(CALL, &e))
    }

    /// Whole wheel steps (positive: down or right).
    pub async fn pointer_axis_discrete(&self, axis: ScrollAxis, steps: i32) -> Result<(), PortalError> {
        const CALL: &str = "RemoteDesktop.NotifyPointerAxisDiscrete";
        let axis = match axis {
            ScrollAxis::Vertical => Axis::Vertical,
            ScrollAxis::Horizontal => Axis::Horizontal,
        };
        let i = &self.inner;
        i.portal
            .notify_pointer_axis_discrete(&i.session, axis, steps, Default::default())
            .await
            .map_err(|e| failed(CALL, &e))
    }

    /// Smooth scrolling by (`dx`, `dy`). `finish` marks the last event of a scroll (the
    /// portal's "fingers lifted"): the desktop ends the scroll there.
    pub async fn pointer_axis(&self, dx: f64, dy: f64, finish: bool) -> Result<(), PortalError> {
        const CALL: &str = "RemoteDesktop.NotifyPointerAxis";
        let i = &self.inner;
        let options = ashpd::desktop::remote_desktop::NotifyPointerAxisOptions::default().set_finish(finish);
        i.portal
            .notify_pointer_axis(&i.session, dx, dy, options)
            .await
            .map_err(|e| failed(CALL, &e))
    }
}
