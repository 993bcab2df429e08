//! The keys and buttons a session holds down on the desktop.
//!
//! When a client disconnects with a key or button held (it crashed, the network dropped, the
//! user closed the window during Alt+Tab), the desktop never sees the release: a modifier stays
//! stuck until someone presses it again. The tracker records what is held so that the session's
//! end can release it. It also tells a release of something not held from a real one: such a
//! release is not passed on (Mutter ignores it with a warning, "Received multiple virtual key
//! releases").

use crate::DesktopInput;

/// Keys (evdev keycodes) and buttons (evdev button codes) held, each once, in the order they
/// were pressed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct PressedState {
    keys: Vec<u32>,
    buttons: Vec<u32>,
}

impl PressedState {
    /// Records a key press; `false` when the key was already held (the client's auto-repeat).
    pub fn press_key(&mut self, evdev: u32) -> bool {
        press(&mut self.keys, evdev)
    }

    /// Records a key release; `false` when the key was not held.
    pub fn release_key(&mut self, evdev: u32) -> bool {
        release(&mut self.keys, evdev)
    }

    /// Records a button press; `false` when the button was already held.
    pub fn press_button(&mut self, evdev_button: u32) -> bool {
        press(&mut self.buttons, evdev_button)
    }

    /// Records a button release; `false` when the button was not held.
    pub fn release_button(&mut self, evdev_button: u32) -> bool {
        release(&mut self.buttons, evdev_button)
    }

    pub fn is_key_held(&self, evdev: u32) -> bool {
        self.keys.contains(&evdev)
    }

    pub fn is_button_held(&self, evdev_button: u32) -> bool {
        self.buttons.contains(&evdev_button)
    }

    /// Nothing is held.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty() && self.buttons.is_empty()
    }

    /// Releases everything held and forgets it: buttons first (a drag ends where it is, with
    /// its modifiers still applied), then keys, the last pressed first.
    pub fn release_all(&mut self) -> Vec<DesktopInput> {
        let buttons = self
            .buttons
            .drain(..)
            .rev()
            .map(|evdev_button| DesktopInput::Button {
                evdev_button,
                pressed: false,
            });
        let keys = self.keys.drain(..).rev().map(|evdev| DesktopInput::Key {
            evdev,
            pressed: false,
        });
        buttons.chain(keys).collect()
    }
}

fn press(held: &mut Vec<u32>, code: u32) -> bool {
    if held.contains(&code) {
        return false;
    }
    held.push(code);
    true
}

fn release(held: &mut Vec<u32>, code: u32) -> bool {
    let Some(index) = held.iter().position(|&c| c == code) else {
        return false;
    };
    held.remove(index);
    true
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    #[test]
    fn a_repeated_press_is_held_once() {
        let mut state = PressedState::default();
        assert!(state.press_key(42));
        assert!(!state.press_key(42));
        assert!(!state.press_key(42));
        assert!(state.release_key(42));
        assert!(!state.is_key_held(42));
        assert!(state.is_empty());
    }

    #[test]
    fn releasing_what_is_not_held_is_told_apart() {
        let mut state = PressedState::default();
        assert!(!state.release_key(15));
        assert!(!state.release_button(0x110));
        assert!(state.press_button(0x110));
        assert!(state.release_button(0x110));
        assert!(!state.release_button(0x110));
    }

    #[test]
    fn release_all_lets_go_of_everything_once() {
        let mut state = PressedState::default();
        state.press_key(29); // left Ctrl
        state.press_key(42); // left Shift
        state.press_key(30); // A
        state.press_key(42); // repeat: still once
        state.press_button(0x110);
        state.press_button(0x112);
        state.release_key(30);
        assert_eq!(
            state.release_all(),
            vec![
                DesktopInput::Button {
                    evdev_button: 0x112,
                    pressed: false
                },
                DesktopInput::Button {
                    evdev_button: 0x110,
                    pressed: false
                },
                DesktopInput::Key {
                    evdev: 42,
                    pressed: false
                },
                DesktopInput::Key {
                    evdev: 29,
                    pressed: false
                },
            ]
        );
        assert!(state.is_empty());
        assert!(state.release_all().is_empty());
    }

    #[test]
    fn keys_and_buttons_are_separate() {
        // evdev numbers keys and buttons in one space, but a key code and a button code never
        // mean the same thing to a backend: keep them apart.
        let mut state = PressedState::default();
        state.press_key(0x110);
        assert!(!state.is_button_held(0x110));
        assert!(state.is_key_held(0x110));
    }
}
