//! Client input in RDP's terms → input in the terms Wayland desktops take.
//!
//! RDP clients send scancodes (set 1, with an extended flag), UTF-16 code units, lock-key
//! states, positions in the client's desktop pixels, buttons and wheel rotations in units of
//! 1/120 notch. The desktop backends (xdg-desktop-portal RemoteDesktop, Mutter's RemoteDesktop,
//! wlroots virtual pointer and keyboard) take Linux evdev keycodes, X keysyms, positions in a
//! stream's (monitor's) coordinates, and scroll axis values. This crate is the pure logic in
//! between, with the state it needs (keys held, surrogate halves, partial wheel notches):
//!
//! - [`scancode_to_evdev`]: the scancode table (sources and conventions in [`scancode`]);
//! - [`keysym_for_char`] and [`Utf16Joiner`]: Unicode input ([`unicode`]);
//! - [`xkb_layout_for_klid`]: the client's keyboard layout as xkb names ([`layout`]);
//! - [`lock_taps`]: the key taps that bring the desktop's lock keys to the client's state;
//! - [`Wheel`]: wheel units to axis values and discrete steps;
//! - [`PointerMap`]: client positions to a monitor and its stream coordinates;
//! - [`PressedState`]: keys and buttons held, released on disconnect;
//! - [`Translator`]: all of it behind `translate(ClientInput) -> Translation`.
//!
//! It knows no outside system: no IronRDP, no D-Bus, no Wayland. The RDP side converts
//! IronRDP's events into [`ClientInput`]; a backend sends each [`DesktopInput`] its own way.

pub mod evdev;
pub mod layout;
mod locks;
mod pointer;
mod pressed;
pub mod scancode;
mod translator;
pub mod unicode;
mod wheel;

pub use crate::layout::{XkbLayout, xkb_layout_for_klid};
pub use crate::locks::{LockState, lock_taps};
pub use crate::pointer::{MonitorArea, PointerMap, PointerMapError, PointerTarget};
pub use crate::pressed::PressedState;
pub use crate::scancode::{is_press_only, scancode_to_evdev};
pub use crate::translator::{Translation, Translator, Unmapped, UnmappedReason};
pub use crate::unicode::{Utf16Joiner, Utf16Press, Utf16Step, keysym_for_char};
pub use crate::wheel::{WHEEL_NOTCH_VALUE, WHEEL_UNITS_PER_NOTCH, Wheel};

/// A mouse button as RDP names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MouseButton {
    Left,
    Right,
    Middle,
    /// `XBUTTON1`, "back".
    Button4,
    /// `XBUTTON2`, "forward".
    Button5,
}

impl MouseButton {
    /// The evdev button code: Linux reports a mouse's back and forward thumb buttons as
    /// `BTN_SIDE` and `BTN_EXTRA` (X11 buttons 8 and 9), which is what desktops expect.
    pub fn evdev_button(self) -> u32 {
        match self {
            Self::Left => evdev::BTN_LEFT,
            Self::Right => evdev::BTN_RIGHT,
            Self::Middle => evdev::BTN_MIDDLE,
            Self::Button4 => evdev::BTN_SIDE,
            Self::Button5 => evdev::BTN_EXTRA,
        }
    }
}

/// One input event from an RDP client, in RDP's own terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientInput {
    /// Scancode set 1; `extended` is the `E0` prefix.
    Key {
        scancode: u8,
        extended: bool,
        pressed: bool,
    },
    /// A UTF-16 code unit typed without a scancode (mobile and web clients, IMEs).
    Unicode {
        code_unit: u16,
        pressed: bool,
    },
    /// The client's lock-key state, sent on connect and when the client window gets focus.
    SyncLocks {
        caps: bool,
        num: bool,
        scroll: bool,
        kana: bool,
    },
    /// Absolute position in the client's desktop pixels.
    PointerMove {
        x: u16,
        y: u16,
    },
    /// Relative motion in mouse counts.
    PointerMoveRelative {
        dx: i32,
        dy: i32,
    },
    Button {
        button: MouseButton,
        pressed: bool,
    },
    /// Vertical wheel rotation in RDP units: 120 per notch, positive away from the user
    /// (scroll up), as Windows' `WM_MOUSEWHEEL`.
    WheelVertical {
        units: i16,
    },
    /// Horizontal wheel rotation in RDP units: 120 per notch, positive to the right, as
    /// Windows' `WM_MOUSEHWHEEL`.
    WheelHorizontal {
        units: i16,
    },
    /// Smooth scroll from the input dynamic virtual channel (`Microsoft::Windows::RDS::Input`):
    /// RDP wheel units times 65536, same signs as the wheel events (`dy` positive is up,
    /// `dx` positive is right). FreeRDP sends its wheel this way when the channel is open,
    /// the factor leaving room for high-resolution wheels.
    Scroll {
        dx: i32,
        dy: i32,
    },
}

/// Which scroll axis.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Axis {
    Vertical,
    Horizontal,
}

/// One input event in the desktop's terms.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum DesktopInput {
    /// A Linux evdev keycode (`linux/input-event-codes.h`; xkb keycode minus 8). A press of a
    /// key already held is the client's auto-repeat, passed on as the client sent it.
    Key { evdev: u32, pressed: bool },
    /// An X keysym, for text typed without a key position (Unicode events). Always sent as a
    /// press and a release in a row.
    Keysym { keysym: u32, pressed: bool },
    /// Absolute position on the monitor at index `monitor` of the [`PointerMap`], in that
    /// monitor's stream coordinates (what `NotifyPointerMotionAbsolute` takes with the stream).
    PointerAbsolute { monitor: usize, x: f64, y: f64 },
    /// Relative motion, in the client's mouse counts (not scaled: they are not pixels).
    PointerRelative { dx: f64, dy: f64 },
    /// A Linux evdev button code (`BTN_LEFT` = 0x110, ...).
    Button { evdev_button: u32, pressed: bool },
    /// Scrolling, in Wayland's conventions: positive is down or right. `value` is in
    /// `wl_pointer` axis units, 15 per wheel notch (what libinput and wlroots report for a
    /// wheel); `discrete` counts whole notches completed by this event (0 while a
    /// high-resolution wheel is between notches: send the value alone then).
    Axis { axis: Axis, value: f64, discrete: i32 },
}
