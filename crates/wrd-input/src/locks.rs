//! Bringing the desktop's lock keys to the client's state.
//!
//! A client sends its Caps/Num/Scroll Lock state (a Synchronize event, [MS-RDPBCGR]
//! 2.2.8.1.1.3.1.1.5) when it connects and whenever its window gets focus back, because the
//! user may have toggled a lock key in another window meanwhile. Mutter's and the portal's
//! RemoteDesktop take key events only and cannot set a lock state, so the way there is to tap
//! each lock key whose state differs, which needs the desktop's current state. (A wlroots
//! virtual keyboard could set locked modifiers itself with its `modifiers` request, but the
//! taps work for it too, and a fresh one starts with all locks off.) Kana Lock has no evdev key
//! that toggles it; it is not synchronised.
//!
//! [MS-RDPBCGR]: https://learn.microsoft.com/en-us/openspecs/windows_protocols/ms-rdpbcgr/

use crate::DesktopInput;
use crate::evdev::{KEY_CAPSLOCK, KEY_NUMLOCK, KEY_SCROLLLOCK};

/// Which lock keys are on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct LockState {
    pub caps_lock: bool,
    pub num_lock: bool,
    pub scroll_lock: bool,
}

impl LockState {
    /// Flips the lock a tap of `evdev` toggles, if it is a lock key.
    pub(crate) fn toggle_by_key(&mut self, evdev: u32) {
        match evdev {
            KEY_CAPSLOCK => self.caps_lock = !self.caps_lock,
            KEY_NUMLOCK => self.num_lock = !self.num_lock,
            KEY_SCROLLLOCK => self.scroll_lock = !self.scroll_lock,
            _ => {}
        }
    }
}

/// The key taps (press then release of the lock key) that turn `desktop` into `client`, in the
/// order Caps, Num, Scroll Lock. Empty when they already agree.
pub fn lock_taps(client: LockState, desktop: LockState) -> Vec<DesktopInput> {
    let mut taps = Vec::new();
    for (key, wanted, current) in [
        (KEY_CAPSLOCK, client.caps_lock, desktop.caps_lock),
        (KEY_NUMLOCK, client.num_lock, desktop.num_lock),
        (KEY_SCROLLLOCK, client.scroll_lock, desktop.scroll_lock),
    ] {
        if wanted != current {
            taps.push(DesktopInput::Key {
                evdev: key,
                pressed: true,
            });
            taps.push(DesktopInput::Key {
                evdev: key,
                pressed: false,
            });
        }
    }
    taps
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    fn tap(evdev: u32) -> [DesktopInput; 2] {
        [
            DesktopInput::Key { evdev, pressed: true },
            DesktopInput::Key {
                evdev,
                pressed: false,
            },
        ]
    }

    fn locks(caps_lock: bool, num_lock: bool, scroll_lock: bool) -> LockState {
        LockState {
            caps_lock,
            num_lock,
            scroll_lock,
        }
    }

    #[test]
    fn equal_states_need_no_taps() {
        for bits in 0..8u8 {
            let state = locks(bits & 1 != 0, bits & 2 != 0, bits & 4 != 0);
            assert!(lock_taps(state, state).is_empty(), "{state:?}");
        }
    }

    #[test]
    fn each_differing_lock_is_tapped_once() {
        // Caps Lock is evdev 58, Num Lock 69, Scroll Lock 70.
        assert_eq!(
            lock_taps(locks(true, false, false), locks(false, false, false)),
            tap(58).to_vec()
        );
        assert_eq!(
            lock_taps(locks(false, false, false), locks(true, false, false)),
            tap(58).to_vec()
        );
        assert_eq!(
            lock_taps(locks(false, true, false), locks(false, false, false)),
            tap(69).to_vec()
        );
        assert_eq!(
            lock_taps(locks(false, false, true), locks(false, false, false)),
            tap(70).to_vec()
        );
        let all: Vec<_> = [tap(58), tap(69), tap(70)].concat();
        assert_eq!(
            lock_taps(locks(true, true, true), locks(false, false, false)),
            all
        );
        assert_eq!(
            lock_taps(locks(false, true, false), locks(true, true, true)),
            [tap(58), tap(70)].concat()
        );
    }

    #[test]
    fn applying_the_taps_reaches_the_clients_state() {
        for client_bits in 0..8u8 {
            for desktop_bits in 0..8u8 {
                let client = locks(client_bits & 1 != 0, client_bits & 2 != 0, client_bits & 4 != 0);
                let mut desktop = locks(
                    desktop_bits & 1 != 0,
                    desktop_bits & 2 != 0,
                    desktop_bits & 4 != 0,
                );
                for event in lock_taps(client, desktop) {
                    if let DesktopInput::Key { evdev, pressed: true } = event {
                        desktop.toggle_by_key(evdev);
                    }
                }
                assert_eq!(desktop, client);
            }
        }
    }
}
