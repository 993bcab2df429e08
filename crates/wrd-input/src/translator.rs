//! One session's input translation: [`ClientInput`] in, [`DesktopInput`] out, in order.

use crate::evdev::{KEY_LEFTCTRL, KEY_PAUSE};
use crate::locks::{LockState, lock_taps};
use crate::pointer::PointerMap;
use crate::pressed::PressedState;
use crate::scancode::{is_press_only, scancode_to_evdev};
use crate::unicode::{Utf16Joiner, Utf16Step, keysym_for_char};
use crate::wheel::Wheel;
use crate::{Axis, ClientInput, DesktopInput};

/// Left Ctrl's scancode, the first half of Pause as RDP clients send it.
const SCANCODE_LEFT_CTRL: u8 = 0x1D;
/// NumLock's scancode, the second half of Pause.
const SCANCODE_NUM_LOCK: u8 = 0x45;

/// What one client event became.
#[must_use]
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Translation {
    /// Send these to the desktop, in this order.
    pub events: Vec<DesktopInput>,
    /// Client input that could not be translated: log it (see [`UnmappedReason::is_routine`]).
    /// Usually the event itself; a broken surrogate pair can also report an earlier one.
    pub unmapped: Vec<Unmapped>,
}

impl Translation {
    /// Nothing to send and nothing to report: the event was absorbed on purpose (a key
    /// release of typed text, a left Ctrl press held back for a moment, see [`Translator`]).
    pub fn is_empty(&self) -> bool {
        self.events.is_empty() && self.unmapped.is_empty()
    }
}

/// Client input that has no desktop equivalent, and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{reason}: {input:?}")]
pub struct Unmapped {
    pub input: ClientInput,
    pub reason: UnmappedReason,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum UnmappedReason {
    #[error("no evdev key for scancode {scancode:#04x} (extended: {extended})")]
    UnknownScancode { scancode: u8, extended: bool },
    /// FreeRDP sends a Tab release around every lock-key synchronisation; a client that
    /// connected with a key down sends its release.
    #[error("release of a key or button that is not held")]
    ReleaseWithoutPress,
    #[error("UTF-16 surrogate {code_unit:#06x} without its other half")]
    UnpairedSurrogate { code_unit: u16 },
    #[error("U+{code_point:04X} is a control character or noncharacter, it cannot be typed")]
    NotTypable { code_point: u32 },
    #[error("the desktop's monitors are not known yet")]
    NoPointerMap,
    #[error("the desktop's lock-key state is unknown, so the client's cannot be applied")]
    DesktopLocksUnknown,
}

impl UnmappedReason {
    /// Whether clients cause this in normal operation (log it quietly), rather than it showing
    /// a key our table lacks or a broken client.
    pub fn is_routine(&self) -> bool {
        matches!(
            self,
            Self::ReleaseWithoutPress | Self::NoPointerMap | Self::DesktopLocksUnknown
        )
    }
}

/// Translates one session's input, keeping the state that needs: keys and buttons held, the
/// desktop's lock keys, surrogate halves, partial wheel notches.
///
/// - **Keys** go through the scancode table ([`crate::scancode`]); the Korean `F1`/`F2` keys,
///   which have no release, are pressed and released at once.
/// - **Pause** arrives as left Ctrl down, NumLock down, left Ctrl up, NumLock up (the `E1`
///   prefix that tells it from Ctrl+NumLock is lost on the way; see [`crate::scancode`]). So a
///   left Ctrl press (not a repeat) is held back until the next event: if that is a NumLock
///   press, the pair is `KEY_PAUSE` (as Ctrl+NumLock is on Windows), the sequence's Ctrl release
///   is absorbed and the NumLock release releases Pause. Any other event first sends the held
///   back Ctrl press, so nothing is lost or reordered; the desktop only learns of a lone Ctrl
///   press when the next event arrives, which changes nothing it could act on.
/// - **Unicode** code units are joined into characters and typed as a keysym press and
///   release when pressed; their releases type nothing ([`crate::unicode`]).
/// - **Lock sync** taps the lock keys that differ from the desktop's state, which the caller
///   sets when it knows it ([`Translator::set_desktop_locks`]; a fresh wlroots virtual keyboard
///   starts with all locks off) and which is then followed through the lock keys passing by.
///   A lock key the client holds is left alone. Kana Lock is not synchronised.
/// - **Pointer** positions need the monitors ([`Translator::set_pointer_map`]); relative motion
///   and buttons pass through; wheel and smooth scroll follow [`Wheel`].
/// - A release of a key or button that is not held is reported, not sent.
#[derive(Debug, Default, Clone)]
pub struct Translator {
    pressed: PressedState,
    utf16: Utf16Joiner,
    wheel: Wheel,
    pointer: Option<PointerMap>,
    desktop_locks: Option<LockState>,
    pause: PauseSequence,
}

/// Where Pause's Ctrl+NumLock sequence stands.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
struct PauseSequence {
    /// A left Ctrl press not sent yet: it may start Pause.
    ctrl_held_back: bool,
    /// Pause was recognised: the sequence's left Ctrl release belongs to it.
    ctrl_release_is_pause: bool,
    /// Pause was recognised: the NumLock release releases it.
    num_lock_release_is_pause: bool,
}

impl Translator {
    pub fn new() -> Self {
        Self::default()
    }

    /// The monitors and the client's size, for absolute positions. Replace it whenever either
    /// changes.
    pub fn set_pointer_map(&mut self, map: PointerMap) {
        self.pointer = Some(map);
    }

    pub fn pointer_map(&self) -> Option<&PointerMap> {
        self.pointer.as_ref()
    }

    /// The desktop's lock keys as they are now, or `None` when unknown.
    pub fn set_desktop_locks(&mut self, locks: Option<LockState>) {
        self.desktop_locks = locks;
    }

    /// The desktop's lock keys as far as this session knows.
    pub fn desktop_locks(&self) -> Option<LockState> {
        self.desktop_locks
    }

    /// The keys and buttons this session holds on the desktop.
    pub fn pressed(&self) -> &PressedState {
        &self.pressed
    }

    pub fn translate(&mut self, input: ClientInput) -> Translation {
        let mut out = Translation::default();
        if std::mem::take(&mut self.pause.ctrl_held_back) {
            let num_lock_press = ClientInput::Key {
                scancode: SCANCODE_NUM_LOCK,
                extended: false,
                pressed: true,
            };
            if input == num_lock_press {
                self.press_key(KEY_PAUSE, &mut out);
                self.pause.ctrl_release_is_pause = true;
                self.pause.num_lock_release_is_pause = true;
                return out;
            }
            self.press_key(KEY_LEFTCTRL, &mut out);
        }
        match input {
            ClientInput::Key {
                scancode,
                extended,
                pressed,
            } => {
                self.key(input, scancode, extended, pressed, &mut out);
            }
            ClientInput::Unicode { code_unit, pressed } => {
                if pressed {
                    self.unicode(input, code_unit, &mut out);
                }
            }
            ClientInput::SyncLocks {
                caps,
                num,
                scroll,
                kana: _,
            } => {
                let client = LockState {
                    caps_lock: caps,
                    num_lock: num,
                    scroll_lock: scroll,
                };
                self.sync_locks(input, client, &mut out);
            }
            ClientInput::PointerMove { x, y } => match &self.pointer {
                Some(map) => {
                    let target = map.map(x, y);
                    out.events.push(DesktopInput::PointerAbsolute {
                        monitor: target.monitor,
                        x: target.x,
                        y: target.y,
                    });
                }
                None => out.unmapped.push(Unmapped {
                    input,
                    reason: UnmappedReason::NoPointerMap,
                }),
            },
            ClientInput::PointerMoveRelative { dx, dy } => {
                out.events.push(DesktopInput::PointerRelative {
                    dx: f64::from(dx),
                    dy: f64::from(dy),
                });
            }
            ClientInput::Button { button, pressed } => {
                let evdev_button = button.evdev_button();
                if pressed {
                    self.pressed.press_button(evdev_button);
                    out.events.push(DesktopInput::Button {
                        evdev_button,
                        pressed,
                    });
                } else if self.pressed.release_button(evdev_button) {
                    out.events.push(DesktopInput::Button {
                        evdev_button,
                        pressed,
                    });
                } else {
                    out.unmapped.push(Unmapped {
                        input,
                        reason: UnmappedReason::ReleaseWithoutPress,
                    });
                }
            }
            ClientInput::WheelVertical { units } => {
                out.events.extend(self.wheel.rotate(Axis::Vertical, units))
            }
            ClientInput::WheelHorizontal { units } => {
                out.events.extend(self.wheel.rotate(Axis::Horizontal, units));
            }
            ClientInput::Scroll { dx, dy } => {
                out.events
                    .extend(self.wheel.scroll(Axis::Vertical, i64::from(dy)));
                out.events
                    .extend(self.wheel.scroll(Axis::Horizontal, i64::from(dx)));
            }
        }
        out
    }

    /// Releases every key and button still held (the session ends) and forgets the session's
    /// partial state: a left Ctrl press still held back was never sent, so it needs no release.
    pub fn release_all(&mut self) -> Vec<DesktopInput> {
        self.pause = PauseSequence::default();
        self.utf16.clear();
        self.wheel.reset();
        self.pressed.release_all()
    }

    fn key(
        &mut self,
        input: ClientInput,
        scancode: u8,
        extended: bool,
        pressed: bool,
        out: &mut Translation,
    ) {
        if !extended && scancode == SCANCODE_LEFT_CTRL {
            if pressed && !self.pressed.is_key_held(KEY_LEFTCTRL) {
                self.pause.ctrl_held_back = true;
                return;
            }
            if !pressed && std::mem::take(&mut self.pause.ctrl_release_is_pause) {
                return;
            }
        }
        if !extended
            && scancode == SCANCODE_NUM_LOCK
            && !pressed
            && std::mem::take(&mut self.pause.num_lock_release_is_pause)
        {
            self.release_key(input, KEY_PAUSE, out);
            return;
        }
        let Some(evdev) = scancode_to_evdev(scancode, extended) else {
            out.unmapped.push(Unmapped {
                input,
                reason: UnmappedReason::UnknownScancode { scancode, extended },
            });
            return;
        };
        if is_press_only(scancode, extended) {
            if pressed {
                out.events.push(DesktopInput::Key { evdev, pressed: true });
                out.events.push(DesktopInput::Key {
                    evdev,
                    pressed: false,
                });
            } else {
                out.unmapped.push(Unmapped {
                    input,
                    reason: UnmappedReason::ReleaseWithoutPress,
                });
            }
            return;
        }
        if pressed {
            self.press_key(evdev, out);
        } else {
            self.release_key(input, evdev, out);
        }
    }

    fn press_key(&mut self, evdev: u32, out: &mut Translation) {
        // A repeat does not toggle a lock: the desktop's keyboard ignores repeats of lock keys.
        if self.pressed.press_key(evdev)
            && let Some(locks) = &mut self.desktop_locks
        {
            locks.toggle_by_key(evdev);
        }
        out.events.push(DesktopInput::Key { evdev, pressed: true });
    }

    fn release_key(&mut self, input: ClientInput, evdev: u32, out: &mut Translation) {
        if self.pressed.release_key(evdev) {
            out.events.push(DesktopInput::Key {
                evdev,
                pressed: false,
            });
        } else {
            out.unmapped.push(Unmapped {
                input,
                reason: UnmappedReason::ReleaseWithoutPress,
            });
        }
    }

    fn unicode(&mut self, input: ClientInput, code_unit: u16, out: &mut Translation) {
        let press = self.utf16.press(code_unit);
        if let Some(high) = press.abandoned_high {
            out.unmapped.push(Unmapped {
                input: ClientInput::Unicode {
                    code_unit: high,
                    pressed: true,
                },
                reason: UnmappedReason::UnpairedSurrogate { code_unit: high },
            });
        }
        match press.step {
            Utf16Step::Char(ch) => match keysym_for_char(ch) {
                Some(keysym) => {
                    out.events.push(DesktopInput::Keysym {
                        keysym,
                        pressed: true,
                    });
                    out.events.push(DesktopInput::Keysym {
                        keysym,
                        pressed: false,
                    });
                }
                None => out.unmapped.push(Unmapped {
                    input,
                    reason: UnmappedReason::NotTypable {
                        code_point: u32::from(ch),
                    },
                }),
            },
            Utf16Step::AwaitingLowSurrogate => {}
            Utf16Step::UnpairedLowSurrogate(code_unit) => out.unmapped.push(Unmapped {
                input,
                reason: UnmappedReason::UnpairedSurrogate { code_unit },
            }),
        }
    }

    fn sync_locks(&mut self, input: ClientInput, client: LockState, out: &mut Translation) {
        let Some(desktop) = self.desktop_locks else {
            out.unmapped.push(Unmapped {
                input,
                reason: UnmappedReason::DesktopLocksUnknown,
            });
            return;
        };
        // A lock key the client holds right now will be toggled by its own events; tapping it
        // would release it under the client's finger.
        let held = |key| self.pressed.is_key_held(key);
        let wanted = LockState {
            caps_lock: if held(crate::evdev::KEY_CAPSLOCK) {
                desktop.caps_lock
            } else {
                client.caps_lock
            },
            num_lock: if held(crate::evdev::KEY_NUMLOCK) {
                desktop.num_lock
            } else {
                client.num_lock
            },
            scroll_lock: if held(crate::evdev::KEY_SCROLLLOCK) {
                desktop.scroll_lock
            } else {
                client.scroll_lock
            },
        };
        out.events.extend(lock_taps(wanted, desktop));
        self.desktop_locks = Some(wanted);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;
    use crate::MouseButton;
    use crate::pointer::MonitorArea;

    // Kernel numbers (checked against the header in `evdev`), written out so the expectations
    // do not lean on the table under test.
    const LEFTCTRL: u32 = 29;
    const LEFTSHIFT: u32 = 42;
    const A: u32 = 30;
    const C: u32 = 46;
    const CAPSLOCK: u32 = 58;
    const NUMLOCK: u32 = 69;
    const SCROLLLOCK: u32 = 70;
    const PAUSE: u32 = 119;
    const HANGEUL: u32 = 122;
    const BTN_LEFT: u32 = 0x110;
    const BTN_SIDE: u32 = 0x113;

    fn key(scancode: u8, extended: bool, pressed: bool) -> ClientInput {
        ClientInput::Key {
            scancode,
            extended,
            pressed,
        }
    }

    fn down(evdev: u32) -> DesktopInput {
        DesktopInput::Key { evdev, pressed: true }
    }

    fn up(evdev: u32) -> DesktopInput {
        DesktopInput::Key {
            evdev,
            pressed: false,
        }
    }

    fn sent(events: &[DesktopInput]) -> Translation {
        Translation {
            events: events.to_vec(),
            unmapped: Vec::new(),
        }
    }

    fn refused(input: ClientInput, reason: UnmappedReason) -> Translation {
        Translation {
            events: Vec::new(),
            unmapped: vec![Unmapped { input, reason }],
        }
    }

    /// Runs `inputs` and returns everything sent, failing on any unmapped event.
    fn run(translator: &mut Translator, inputs: &[ClientInput]) -> Vec<DesktopInput> {
        let mut events = Vec::new();
        for &input in inputs {
            let translation = translator.translate(input);
            assert!(
                translation.unmapped.is_empty(),
                "{input:?}: {:?}",
                translation.unmapped
            );
            events.extend(translation.events);
        }
        events
    }

    #[test]
    fn a_key_press_and_release() {
        let mut t = Translator::new();
        assert_eq!(t.translate(key(0x1E, false, true)), sent(&[down(A)]));
        assert!(t.pressed().is_key_held(A));
        assert_eq!(t.translate(key(0x1E, false, false)), sent(&[up(A)]));
        assert!(t.pressed().is_empty());
    }

    #[test]
    fn auto_repeat_passes_through_and_is_released_once() {
        let mut t = Translator::new();
        let events = run(
            &mut t,
            &[
                key(0x1E, false, true),
                key(0x1E, false, true),
                key(0x1E, false, true),
            ],
        );
        assert_eq!(events, [down(A), down(A), down(A)]);
        assert_eq!(t.release_all(), [up(A)]);
        assert_eq!(t.release_all(), []);
    }

    #[test]
    fn unknown_scancodes_come_back_with_the_event() {
        let mut t = Translator::new();
        let input = key(0x55, false, true);
        assert_eq!(
            t.translate(input),
            refused(
                input,
                UnmappedReason::UnknownScancode {
                    scancode: 0x55,
                    extended: false
                }
            )
        );
        let input = key(0x2A, true, true);
        assert_eq!(
            t.translate(input),
            refused(
                input,
                UnmappedReason::UnknownScancode {
                    scancode: 0x2A,
                    extended: true
                }
            )
        );
    }

    #[test]
    fn a_release_without_press_is_reported_not_sent() {
        let mut t = Translator::new();
        // FreeRDP's focus-in: Tab up, lock state, Tab up.
        let tab_up = key(0x0F, false, false);
        assert_eq!(
            t.translate(tab_up),
            refused(tab_up, UnmappedReason::ReleaseWithoutPress)
        );
        assert!(t.translate(tab_up).unmapped[0].reason.is_routine());
    }

    #[test]
    fn pause_from_freerdp_is_one_pause_key_and_no_ctrl() {
        let mut t = Translator::new();
        // What FreeRDP and mstsc send for Pause, after IronRDP dropped the E1 flag.
        assert!(t.translate(key(0x1D, false, true)).is_empty());
        assert_eq!(t.translate(key(0x45, false, true)), sent(&[down(PAUSE)]));
        assert!(t.translate(key(0x1D, false, false)).is_empty());
        assert_eq!(t.translate(key(0x45, false, false)), sent(&[up(PAUSE)]));
        assert!(t.pressed().is_empty());
        // Twice in a row (auto-repeat sends the whole sequence again).
        let events = run(
            &mut t,
            &[
                key(0x1D, false, true),
                key(0x45, false, true),
                key(0x1D, false, false),
                key(0x45, false, false),
            ],
        );
        assert_eq!(events, [down(PAUSE), up(PAUSE)]);
    }

    #[test]
    fn ctrl_break_is_the_extended_pause_scancode() {
        let mut t = Translator::new();
        let events = run(
            &mut t,
            &[
                key(0x1D, false, true),
                key(0x46, true, true),
                key(0x46, true, false),
                key(0x1D, false, false),
            ],
        );
        assert_eq!(events, [down(LEFTCTRL), down(PAUSE), up(PAUSE), up(LEFTCTRL)]);
    }

    #[test]
    fn a_held_back_ctrl_is_sent_before_the_next_event() {
        let mut t = Translator::new();
        // Ctrl+C.
        assert!(t.translate(key(0x1D, false, true)).is_empty());
        assert_eq!(
            t.translate(key(0x2E, false, true)),
            sent(&[down(LEFTCTRL), down(C)])
        );
        assert_eq!(t.translate(key(0x2E, false, false)), sent(&[up(C)]));
        assert_eq!(t.translate(key(0x1D, false, false)), sent(&[up(LEFTCTRL)]));
        // A lone Ctrl tap.
        assert!(t.translate(key(0x1D, false, true)).is_empty());
        assert_eq!(
            t.translate(key(0x1D, false, false)),
            sent(&[down(LEFTCTRL), up(LEFTCTRL)])
        );
        // Ctrl+click.
        assert!(t.translate(key(0x1D, false, true)).is_empty());
        let click = ClientInput::Button {
            button: MouseButton::Left,
            pressed: true,
        };
        assert_eq!(
            t.translate(click),
            sent(&[
                down(LEFTCTRL),
                DesktopInput::Button {
                    evdev_button: BTN_LEFT,
                    pressed: true
                }
            ])
        );
    }

    #[test]
    fn a_held_back_ctrl_is_sent_even_when_the_next_event_is_unmapped() {
        let mut t = Translator::new();
        assert!(t.translate(key(0x1D, false, true)).is_empty());
        let unknown = key(0x55, false, true);
        let translation = t.translate(unknown);
        assert_eq!(translation.events, [down(LEFTCTRL)]);
        assert_eq!(translation.unmapped.len(), 1);
        assert_eq!(translation.unmapped[0].input, unknown);
    }

    #[test]
    fn ctrl_auto_repeat_is_not_held_back_again() {
        let mut t = Translator::new();
        let events = run(
            &mut t,
            &[
                key(0x1D, false, true),
                key(0x1D, false, true),
                key(0x1D, false, true),
            ],
        );
        assert_eq!(events, [down(LEFTCTRL), down(LEFTCTRL), down(LEFTCTRL)]);
        // Ctrl is held: NumLock now is NumLock, not Pause.
        assert_eq!(t.translate(key(0x45, false, true)), sent(&[down(NUMLOCK)]));
    }

    #[test]
    fn num_lock_after_other_keys_under_ctrl_is_num_lock() {
        let mut t = Translator::new();
        let events = run(
            &mut t,
            &[
                key(0x1D, false, true),
                key(0x2E, false, true),
                key(0x2E, false, false),
                key(0x45, false, true),
                key(0x45, false, false),
                key(0x1D, false, false),
            ],
        );
        assert_eq!(
            events,
            [
                down(LEFTCTRL),
                down(C),
                up(C),
                down(NUMLOCK),
                up(NUMLOCK),
                up(LEFTCTRL)
            ]
        );
    }

    #[test]
    fn release_all_does_not_release_a_ctrl_never_sent() {
        let mut t = Translator::new();
        let _ = t.translate(key(0x2A, false, true));
        assert!(t.translate(key(0x1D, false, true)).is_empty());
        assert_eq!(t.release_all(), [up(LEFTSHIFT)]);
        // The next session state is clean: NumLock is NumLock.
        assert_eq!(t.translate(key(0x45, false, true)), sent(&[down(NUMLOCK)]));
    }

    #[test]
    fn disconnect_with_shift_held_releases_it() {
        let mut t = Translator::new();
        let _ = run(&mut t, &[key(0x2A, false, true), key(0x1E, false, true)]);
        let click = ClientInput::Button {
            button: MouseButton::Button4,
            pressed: true,
        };
        let _ = run(&mut t, &[click]);
        assert_eq!(
            t.release_all(),
            [
                DesktopInput::Button {
                    evdev_button: BTN_SIDE,
                    pressed: false
                },
                up(A),
                up(LEFTSHIFT)
            ]
        );
        assert!(t.pressed().is_empty());
        // The keys were released, so their late releases are not sent twice.
        let late = key(0x2A, false, false);
        assert_eq!(
            t.translate(late),
            refused(late, UnmappedReason::ReleaseWithoutPress)
        );
    }

    #[test]
    fn a_pause_held_at_disconnect_is_released() {
        let mut t = Translator::new();
        let _ = run(&mut t, &[key(0x1D, false, true), key(0x45, false, true)]);
        assert_eq!(t.release_all(), [up(PAUSE)]);
    }

    #[test]
    fn korean_keys_without_release_are_tapped() {
        let mut t = Translator::new();
        assert_eq!(
            t.translate(key(0xF2, true, true)),
            sent(&[down(HANGEUL), up(HANGEUL)])
        );
        assert!(t.pressed().is_empty());
        let release = key(0xF2, true, false);
        assert_eq!(
            t.translate(release),
            refused(release, UnmappedReason::ReleaseWithoutPress)
        );
        // The 0x72 form has a release like any key.
        assert_eq!(t.translate(key(0x72, false, true)), sent(&[down(HANGEUL)]));
        assert_eq!(t.translate(key(0x72, false, false)), sent(&[up(HANGEUL)]));
    }

    #[test]
    fn unicode_types_a_keysym_on_press_only() {
        let mut t = Translator::new();
        let keysym = |keysym, pressed| DesktopInput::Keysym { keysym, pressed };
        assert_eq!(
            t.translate(ClientInput::Unicode {
                code_unit: 0xE4,
                pressed: true
            }),
            sent(&[keysym(0xE4, true), keysym(0xE4, false)])
        );
        assert!(
            t.translate(ClientInput::Unicode {
                code_unit: 0xE4,
                pressed: false
            })
            .is_empty()
        );
        // € is EuroSign.
        assert_eq!(
            t.translate(ClientInput::Unicode {
                code_unit: 0x20AC,
                pressed: true
            }),
            sent(&[keysym(0x20AC, true), keysym(0x20AC, false)])
        );
        assert!(t.pressed().is_empty());
    }

    #[test]
    fn a_surrogate_pair_types_one_character_in_either_order() {
        let unicode = |code_unit, pressed| ClientInput::Unicode { code_unit, pressed };
        let emoji = [
            DesktopInput::Keysym {
                keysym: 0x0101_F600,
                pressed: true,
            },
            DesktopInput::Keysym {
                keysym: 0x0101_F600,
                pressed: false,
            },
        ];
        // Presses, then releases (FreeRDP).
        let mut t = Translator::new();
        let events = run(
            &mut t,
            &[
                unicode(0xD83D, true),
                unicode(0xDE00, true),
                unicode(0xD83D, false),
                unicode(0xDE00, false),
            ],
        );
        assert_eq!(events, emoji);
        // Each half pressed and released.
        let mut t = Translator::new();
        let events = run(
            &mut t,
            &[
                unicode(0xD83D, true),
                unicode(0xD83D, false),
                unicode(0xDE00, true),
                unicode(0xDE00, false),
            ],
        );
        assert_eq!(events, emoji);
    }

    #[test]
    fn broken_surrogates_and_control_characters_are_reported() {
        let mut t = Translator::new();
        let lone_low = ClientInput::Unicode {
            code_unit: 0xDE00,
            pressed: true,
        };
        assert_eq!(
            t.translate(lone_low),
            refused(lone_low, UnmappedReason::UnpairedSurrogate { code_unit: 0xDE00 })
        );

        // A high half followed by a plain character: the half is reported, the character typed.
        assert!(
            t.translate(ClientInput::Unicode {
                code_unit: 0xD83D,
                pressed: true
            })
            .is_empty()
        );
        let translation = t.translate(ClientInput::Unicode {
            code_unit: u16::from(b'x'),
            pressed: true,
        });
        assert_eq!(
            translation.events,
            [
                DesktopInput::Keysym {
                    keysym: 0x78,
                    pressed: true
                },
                DesktopInput::Keysym {
                    keysym: 0x78,
                    pressed: false
                }
            ]
        );
        assert_eq!(
            translation.unmapped,
            [Unmapped {
                input: ClientInput::Unicode {
                    code_unit: 0xD83D,
                    pressed: true
                },
                reason: UnmappedReason::UnpairedSurrogate { code_unit: 0xD83D },
            }]
        );

        let bell = ClientInput::Unicode {
            code_unit: 0x07,
            pressed: true,
        };
        assert_eq!(
            t.translate(bell),
            refused(bell, UnmappedReason::NotTypable { code_point: 7 })
        );
    }

    #[test]
    fn lock_sync_needs_the_desktops_state() {
        let mut t = Translator::new();
        let sync = ClientInput::SyncLocks {
            caps: true,
            num: false,
            scroll: false,
            kana: false,
        };
        assert_eq!(
            t.translate(sync),
            refused(sync, UnmappedReason::DesktopLocksUnknown)
        );
    }

    #[test]
    fn lock_sync_taps_what_differs_and_follows_the_lock_keys() {
        let mut t = Translator::new();
        t.set_desktop_locks(Some(LockState::default()));
        let sync = |caps, num, scroll| ClientInput::SyncLocks {
            caps,
            num,
            scroll,
            kana: true,
        };

        assert_eq!(
            t.translate(sync(true, true, false)),
            sent(&[down(CAPSLOCK), up(CAPSLOCK), down(NUMLOCK), up(NUMLOCK)])
        );
        assert_eq!(
            t.desktop_locks(),
            Some(LockState {
                caps_lock: true,
                num_lock: true,
                scroll_lock: false
            })
        );
        assert_eq!(t.translate(sync(true, true, false)), sent(&[]));

        // The user presses Caps Lock (with a repeat): the desktop's Caps Lock is off again.
        let _ = run(
            &mut t,
            &[
                key(0x3A, false, true),
                key(0x3A, false, true),
                key(0x3A, false, false),
            ],
        );
        assert_eq!(
            t.desktop_locks(),
            Some(LockState {
                caps_lock: false,
                num_lock: true,
                scroll_lock: false
            })
        );
        // The client, back in focus, says Caps Lock is on and Scroll Lock too.
        assert_eq!(
            t.translate(sync(true, true, true)),
            sent(&[down(CAPSLOCK), up(CAPSLOCK), down(SCROLLLOCK), up(SCROLLLOCK)])
        );
        // Pause is not a NumLock press: the state stays.
        let _ = run(
            &mut t,
            &[
                key(0x1D, false, true),
                key(0x45, false, true),
                key(0x1D, false, false),
                key(0x45, false, false),
            ],
        );
        assert_eq!(
            t.desktop_locks(),
            Some(LockState {
                caps_lock: true,
                num_lock: true,
                scroll_lock: true
            })
        );
    }

    #[test]
    fn lock_sync_leaves_a_held_lock_key_alone() {
        let mut t = Translator::new();
        t.set_desktop_locks(Some(LockState::default()));
        // Caps Lock pressed and held: the desktop's Caps Lock is on now.
        let _ = run(&mut t, &[key(0x3A, false, true)]);
        assert_eq!(t.desktop_locks().map(|l| l.caps_lock), Some(true));
        let sync = ClientInput::SyncLocks {
            caps: false,
            num: true,
            scroll: false,
            kana: false,
        };
        assert_eq!(t.translate(sync), sent(&[down(NUMLOCK), up(NUMLOCK)]));
        assert_eq!(t.translate(key(0x3A, false, false)), sent(&[up(CAPSLOCK)]));
    }

    #[test]
    fn pointer_moves_need_the_monitors() {
        let mut t = Translator::new();
        let moved = ClientInput::PointerMove { x: 10, y: 20 };
        let translation = t.translate(moved);
        assert_eq!(translation, refused(moved, UnmappedReason::NoPointerMap));
        assert!(translation.unmapped[0].reason.is_routine());

        let monitors = vec![
            MonitorArea::new(0, 0, 800, 600),
            MonitorArea::new(800, 0, 800, 600),
        ];
        t.set_pointer_map(PointerMap::new(monitors, 1600, 600).unwrap());
        assert_eq!(
            t.translate(moved),
            sent(&[DesktopInput::PointerAbsolute {
                monitor: 0,
                x: 10.0,
                y: 20.0
            }])
        );
        assert_eq!(
            t.translate(ClientInput::PointerMove { x: 810, y: 599 }),
            sent(&[DesktopInput::PointerAbsolute {
                monitor: 1,
                x: 10.0,
                y: 599.0
            }])
        );
    }

    #[test]
    fn relative_motion_passes_through() {
        let mut t = Translator::new();
        assert_eq!(
            t.translate(ClientInput::PointerMoveRelative { dx: -5, dy: 7 }),
            sent(&[DesktopInput::PointerRelative { dx: -5.0, dy: 7.0 }])
        );
    }

    #[test]
    fn buttons_are_evdev_buttons() {
        let mut t = Translator::new();
        for (button, code) in [
            (MouseButton::Left, 0x110),
            (MouseButton::Right, 0x111),
            (MouseButton::Middle, 0x112),
            (MouseButton::Button4, 0x113),
            (MouseButton::Button5, 0x114),
        ] {
            assert_eq!(
                t.translate(ClientInput::Button {
                    button,
                    pressed: true
                }),
                sent(&[DesktopInput::Button {
                    evdev_button: code,
                    pressed: true
                }])
            );
            assert_eq!(
                t.translate(ClientInput::Button {
                    button,
                    pressed: false
                }),
                sent(&[DesktopInput::Button {
                    evdev_button: code,
                    pressed: false
                }])
            );
        }
        let stray = ClientInput::Button {
            button: MouseButton::Right,
            pressed: false,
        };
        assert_eq!(
            t.translate(stray),
            refused(stray, UnmappedReason::ReleaseWithoutPress)
        );
    }

    #[test]
    fn wheels_and_smooth_scroll_become_axis_events() {
        let mut t = Translator::new();
        let axis = |axis, value, discrete| DesktopInput::Axis {
            axis,
            value,
            discrete,
        };
        assert_eq!(
            t.translate(ClientInput::WheelVertical { units: 120 }),
            sent(&[axis(Axis::Vertical, -15.0, -1)])
        );
        assert_eq!(
            t.translate(ClientInput::WheelHorizontal { units: -120 }),
            sent(&[axis(Axis::Horizontal, -15.0, -1)])
        );
        assert_eq!(
            t.translate(ClientInput::Scroll {
                dx: 60 * 0x1_0000,
                dy: -120 * 0x1_0000
            }),
            sent(&[axis(Axis::Vertical, 15.0, 1), axis(Axis::Horizontal, 7.5, 0)])
        );
        assert_eq!(t.translate(ClientInput::WheelVertical { units: 0 }), sent(&[]));
    }

    #[test]
    fn unmapped_events_explain_themselves() {
        let unmapped = Unmapped {
            input: key(0x55, false, true),
            reason: UnmappedReason::UnknownScancode {
                scancode: 0x55,
                extended: false,
            },
        };
        let text = unmapped.to_string();
        assert!(text.contains("0x55"), "{text}");
        assert!(text.contains("Key"), "{text}");
        assert!(!unmapped.reason.is_routine());
        let text = UnmappedReason::NotTypable { code_point: 0x85 }.to_string();
        assert!(text.contains("U+0085"), "{text}");
    }
}
