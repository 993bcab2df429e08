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
pub mod scancode;
pub mod unicode;

pub use crate::layout::{XkbLayout, xkb_layout_for_klid};
pub use crate::scancode::{is_press_only, scancode_to_evdev};
pub use crate::unicode::{Utf16Joiner, Utf16Press, Utf16Step, keysym_for_char};
