//! RDP keyboard scancodes → Linux evdev keycodes.
//!
//! # What arrives
//!
//! An RDP keyboard event ([MS-RDPBCGR] 2.2.8.1.1.3.1.1.1 slow path, 2.2.8.1.2.2.1 fast path)
//! carries one byte of scan code set 1 as Windows sees it, plus `KBDFLAGS_EXTENDED` for the `E0`
//! prefix (and `KBDFLAGS_EXTENDED1` for `E1`, which only Pause uses; see below). The byte never
//! carries the break bit: press and release are a separate flag. The layout does not change the
//! code: it names a key position, and the client's layout is applied on the desktop side.
//!
//! # What we map it to
//!
//! Windows gets these codes from USB keyboards through Microsoft's "USB HID to PS/2 Scan Code
//! Translation Table"; Linux maps the same USB usages to evdev codes in
//! `drivers/hid/hid-input.c`. Each scancode is mapped to the evdev code a Linux desktop would
//! get from the same physical USB key, so a remote key behaves like a local one. The pairs were
//! read from Chromium's `ui/events/keycodes/dom/dom_code_data.inc` (it lists USB usage, evdev
//! and Windows scancode side by side) and checked against FreeRDP's keyboard-type-4 table
//! (`winpr/include/winpr/input.h`, the codes FreeRDP clients send) and QEMU's `keycodemapdb`
//! (which follows Linux's own PS/2 driver, so it differs on the rarer keys: where it does,
//! Windows' numbering wins, because Windows' numbering is what RDP clients send).
//!
//! - `0x01..=0x53` are evdev `KEY_ESC..=KEY_KPDOT` with the same numbers: evdev's first 83
//!   codes were numbered after the PC/AT keyboard's set-1 codes.
//! - F13–F23 are `0x64..=0x6E` and F24 is `0x76` (Microsoft's table; Linux's PS/2 numbering in
//!   keycodemapdb differs, and Chromium documents the same Windows choice).
//! - Print Screen is `E0 37`, and `0x54` is what Alt+Print Screen sends (SysRq); both are
//!   `KEY_SYSRQ`, which is the Print key of xkb's evdev keymap.
//! - The Menu key `E0 5D` is `KEY_COMPOSE`, the code Linux gives USB's Keyboard Application key.
//! - NumLock may also arrive as `E0 45` and right Shift as `E0 36` (what a Windows low-level
//!   keyboard hook reports; FreeRDP documents both): both are accepted as the plain keys.
//! - `E0 2A`, the "fake shift" PS/2 keyboards wrap around the editing keys, is not a key:
//!   Windows filters it out and it stays unmapped.
//!
//! # Pause
//!
//! A PC keyboard sends Pause as `E1 1D 45 E1 9D C5`: literally "Control, NumLock" behind an `E1`
//! prefix, with no release. RDP clients reproduce what mstsc sends (FreeRDP's
//! `input_send_fastpath_keyboard_pause_event` documents it): on press only, in one PDU,
//! `E1 1D` down, `45` down, `E1 1D` up, `45` up. Ctrl+Pause (Break) is sent as a normal
//! extended key, `E0 46`. IronRDP's server (0.13) drops the `E1` flag, so Pause reaches us as
//! "left Ctrl down, NumLock down, left Ctrl up, NumLock up", the same as a user pressing
//! Ctrl+NumLock; Windows itself treats Ctrl+NumLock as Pause. The [`Translator`] recognises the
//! sequence; this table only knows that `E0 46` is `KEY_PAUSE`.
//!
//! # Japanese and Korean keys
//!
//! - Japanese: Hiragana/Katakana `0x70`, Ro `0x73`, Henkan `0x79`, Muhenkan `0x7B`, Yen `0x7D`,
//!   Katakana `0x78`, Hiragana `0x77`, keypad comma `0x5C`. The Zenkaku/Hankaku key sits at
//!   `0x29`, the position of the grave key, and is `KEY_GRAVE` as on a Linux USB keyboard: the
//!   `jp` xkb layout turns it into `Zenkaku_Hankaku`.
//! - Korean: Windows reports the Hangul and Hanja keys as `0x72` and `0x71` (Chromium's table,
//!   FreeRDP's `RDP_SCANCODE_HANGUL`/`HANJA`); `E0 72`/`E0 71` are accepted too. A Korean 103-key
//!   keyboard sends `F2`/`F1` (Linux's `ATKBD_RET_HANGEUL`/`HANJA`), which have no release: the
//!   byte already has the break bit set. Windows clients forward them as `E0 F2`/`E0 F1`,
//!   press only (weston's RDP backend documents this); [`is_press_only`] says so, and the
//!   translator taps the key.
//!
//! [MS-RDPBCGR]: https://learn.microsoft.com/en-us/openspecs/windows_protocols/ms-rdpbcgr/
//! [`Translator`]: crate::Translator

use crate::evdev::*;

/// The evdev keycode for a set-1 scancode with or without the `E0` prefix; `None` for codes
/// that no keyboard we know sends (the caller logs them).
pub fn scancode_to_evdev(scancode: u8, extended: bool) -> Option<u32> {
    if extended {
        extended_key(scancode)
    } else {
        base_key(scancode)
    }
}

/// Whether the key sends a press and never a release (the Korean keys in their `F1`/`F2` form):
/// the translator then presses and releases it at once.
pub fn is_press_only(scancode: u8, _extended: bool) -> bool {
    matches!(scancode, 0xF1 | 0xF2)
}

fn base_key(scancode: u8) -> Option<u32> {
    let key = match scancode {
        // ESC..KP. : evdev numbered these after the set-1 codes.
        0x01..=0x53 => u32::from(scancode),
        0x54 => KEY_SYSRQ,
        0x56 => KEY_102ND,
        0x57 => KEY_F11,
        0x58 => KEY_F12,
        0x59 => KEY_KPEQUAL,
        0x5C => KEY_KPJPCOMMA,
        0x64 => KEY_F13,
        0x65 => KEY_F14,
        0x66 => KEY_F15,
        0x67 => KEY_F16,
        0x68 => KEY_F17,
        0x69 => KEY_F18,
        0x6A => KEY_F19,
        0x6B => KEY_F20,
        0x6C => KEY_F21,
        0x6D => KEY_F22,
        0x6E => KEY_F23,
        0x70 => KEY_KATAKANAHIRAGANA,
        0x71 | 0xF1 => KEY_HANJA,
        0x72 | 0xF2 => KEY_HANGEUL,
        0x73 => KEY_RO,
        0x76 => KEY_F24,
        0x77 => KEY_HIRAGANA,
        0x78 => KEY_KATAKANA,
        0x79 => KEY_HENKAN,
        0x7B => KEY_MUHENKAN,
        0x7D => KEY_YEN,
        0x7E => KEY_KPCOMMA,
        _ => return None,
    };
    Some(key)
}

fn extended_key(scancode: u8) -> Option<u32> {
    let key = match scancode {
        0x08 => KEY_UNDO,
        0x0A => KEY_PASTE,
        0x10 => KEY_PREVIOUSSONG,
        0x17 => KEY_CUT,
        0x18 => KEY_COPY,
        0x19 => KEY_NEXTSONG,
        0x1C => KEY_KPENTER,
        0x1D => KEY_RIGHTCTRL,
        0x20 => KEY_MUTE,
        0x21 => KEY_CALC,
        0x22 => KEY_PLAYPAUSE,
        0x24 => KEY_STOPCD,
        0x2C => KEY_EJECTCD,
        0x2E => KEY_VOLUMEDOWN,
        0x30 => KEY_VOLUMEUP,
        0x32 => KEY_HOMEPAGE,
        0x35 => KEY_KPSLASH,
        0x36 => KEY_RIGHTSHIFT,
        0x37 => KEY_SYSRQ,
        0x38 => KEY_RIGHTALT,
        0x3B => KEY_HELP,
        0x45 => KEY_NUMLOCK,
        0x46 => KEY_PAUSE,
        0x47 => KEY_HOME,
        0x48 => KEY_UP,
        0x49 => KEY_PAGEUP,
        0x4B => KEY_LEFT,
        0x4D => KEY_RIGHT,
        0x4F => KEY_END,
        0x50 => KEY_DOWN,
        0x51 => KEY_PAGEDOWN,
        0x52 => KEY_INSERT,
        0x53 => KEY_DELETE,
        0x5B => KEY_LEFTMETA,
        0x5C => KEY_RIGHTMETA,
        0x5D => KEY_COMPOSE,
        0x5E => KEY_POWER,
        0x5F => KEY_SLEEP,
        0x63 => KEY_WAKEUP,
        0x65 => KEY_SEARCH,
        0x66 => KEY_BOOKMARKS,
        0x67 => KEY_REFRESH,
        0x68 => KEY_STOP,
        0x69 => KEY_FORWARD,
        0x6A => KEY_BACK,
        0x6B => KEY_FILE,
        0x6C => KEY_MAIL,
        0x6D => KEY_CONFIG,
        0x71 | 0xF1 => KEY_HANJA,
        0x72 | 0xF2 => KEY_HANGEUL,
        _ => return None,
    };
    Some(key)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;
    use crate::evdev::tests::kernel_codes;

    /// Known pairs, written down from the sources named in the module doc (Chromium's Windows
    /// scancode column and FreeRDP's `RDP_SCANCODE_*` names), by kernel key name: the numbers
    /// come from the kernel header, not from this crate.
    const KNOWN: &[(u8, bool, &str)] = &[
        // Main block, every key of a US 104-key keyboard.
        (0x01, false, "KEY_ESC"),
        (0x02, false, "KEY_1"),
        (0x03, false, "KEY_2"),
        (0x04, false, "KEY_3"),
        (0x05, false, "KEY_4"),
        (0x06, false, "KEY_5"),
        (0x07, false, "KEY_6"),
        (0x08, false, "KEY_7"),
        (0x09, false, "KEY_8"),
        (0x0A, false, "KEY_9"),
        (0x0B, false, "KEY_0"),
        (0x0C, false, "KEY_MINUS"),
        (0x0D, false, "KEY_EQUAL"),
        (0x0E, false, "KEY_BACKSPACE"),
        (0x0F, false, "KEY_TAB"),
        (0x10, false, "KEY_Q"),
        (0x11, false, "KEY_W"),
        (0x12, false, "KEY_E"),
        (0x13, false, "KEY_R"),
        (0x14, false, "KEY_T"),
        (0x15, false, "KEY_Y"),
        (0x16, false, "KEY_U"),
        (0x17, false, "KEY_I"),
        (0x18, false, "KEY_O"),
        (0x19, false, "KEY_P"),
        (0x1A, false, "KEY_LEFTBRACE"),
        (0x1B, false, "KEY_RIGHTBRACE"),
        (0x1C, false, "KEY_ENTER"),
        (0x1D, false, "KEY_LEFTCTRL"),
        (0x1E, false, "KEY_A"),
        (0x1F, false, "KEY_S"),
        (0x20, false, "KEY_D"),
        (0x21, false, "KEY_F"),
        (0x22, false, "KEY_G"),
        (0x23, false, "KEY_H"),
        (0x24, false, "KEY_J"),
        (0x25, false, "KEY_K"),
        (0x26, false, "KEY_L"),
        (0x27, false, "KEY_SEMICOLON"),
        (0x28, false, "KEY_APOSTROPHE"),
        (0x29, false, "KEY_GRAVE"),
        (0x2A, false, "KEY_LEFTSHIFT"),
        (0x2B, false, "KEY_BACKSLASH"),
        (0x2C, false, "KEY_Z"),
        (0x2D, false, "KEY_X"),
        (0x2E, false, "KEY_C"),
        (0x2F, false, "KEY_V"),
        (0x30, false, "KEY_B"),
        (0x31, false, "KEY_N"),
        (0x32, false, "KEY_M"),
        (0x33, false, "KEY_COMMA"),
        (0x34, false, "KEY_DOT"),
        (0x35, false, "KEY_SLASH"),
        (0x36, false, "KEY_RIGHTSHIFT"),
        (0x37, false, "KEY_KPASTERISK"),
        (0x38, false, "KEY_LEFTALT"),
        (0x39, false, "KEY_SPACE"),
        (0x3A, false, "KEY_CAPSLOCK"),
        (0x3B, false, "KEY_F1"),
        (0x3C, false, "KEY_F2"),
        (0x3D, false, "KEY_F3"),
        (0x3E, false, "KEY_F4"),
        (0x3F, false, "KEY_F5"),
        (0x40, false, "KEY_F6"),
        (0x41, false, "KEY_F7"),
        (0x42, false, "KEY_F8"),
        (0x43, false, "KEY_F9"),
        (0x44, false, "KEY_F10"),
        (0x45, false, "KEY_NUMLOCK"),
        (0x46, false, "KEY_SCROLLLOCK"),
        (0x47, false, "KEY_KP7"),
        (0x48, false, "KEY_KP8"),
        (0x49, false, "KEY_KP9"),
        (0x4A, false, "KEY_KPMINUS"),
        (0x4B, false, "KEY_KP4"),
        (0x4C, false, "KEY_KP5"),
        (0x4D, false, "KEY_KP6"),
        (0x4E, false, "KEY_KPPLUS"),
        (0x4F, false, "KEY_KP1"),
        (0x50, false, "KEY_KP2"),
        (0x51, false, "KEY_KP3"),
        (0x52, false, "KEY_KP0"),
        (0x53, false, "KEY_KPDOT"),
        (0x54, false, "KEY_SYSRQ"),
        (0x56, false, "KEY_102ND"),
        (0x57, false, "KEY_F11"),
        (0x58, false, "KEY_F12"),
        (0x59, false, "KEY_KPEQUAL"),
        // F13-F24: Microsoft's numbering.
        (0x64, false, "KEY_F13"),
        (0x65, false, "KEY_F14"),
        (0x66, false, "KEY_F15"),
        (0x67, false, "KEY_F16"),
        (0x68, false, "KEY_F17"),
        (0x69, false, "KEY_F18"),
        (0x6A, false, "KEY_F19"),
        (0x6B, false, "KEY_F20"),
        (0x6C, false, "KEY_F21"),
        (0x6D, false, "KEY_F22"),
        (0x6E, false, "KEY_F23"),
        (0x76, false, "KEY_F24"),
        // Japanese, Brazilian and Korean keys.
        (0x70, false, "KEY_KATAKANAHIRAGANA"),
        (0x73, false, "KEY_RO"),
        (0x77, false, "KEY_HIRAGANA"),
        (0x78, false, "KEY_KATAKANA"),
        (0x79, false, "KEY_HENKAN"),
        (0x7B, false, "KEY_MUHENKAN"),
        (0x7D, false, "KEY_YEN"),
        (0x7E, false, "KEY_KPCOMMA"),
        (0x5C, false, "KEY_KPJPCOMMA"),
        (0x71, false, "KEY_HANJA"),
        (0x72, false, "KEY_HANGEUL"),
        (0xF1, false, "KEY_HANJA"),
        (0xF2, false, "KEY_HANGEUL"),
        (0x71, true, "KEY_HANJA"),
        (0x72, true, "KEY_HANGEUL"),
        (0xF1, true, "KEY_HANJA"),
        (0xF2, true, "KEY_HANGEUL"),
        // Extended (E0) keys.
        (0x1C, true, "KEY_KPENTER"),
        (0x1D, true, "KEY_RIGHTCTRL"),
        (0x35, true, "KEY_KPSLASH"),
        (0x36, true, "KEY_RIGHTSHIFT"),
        (0x37, true, "KEY_SYSRQ"),
        (0x38, true, "KEY_RIGHTALT"),
        (0x45, true, "KEY_NUMLOCK"),
        (0x46, true, "KEY_PAUSE"),
        (0x47, true, "KEY_HOME"),
        (0x48, true, "KEY_UP"),
        (0x49, true, "KEY_PAGEUP"),
        (0x4B, true, "KEY_LEFT"),
        (0x4D, true, "KEY_RIGHT"),
        (0x4F, true, "KEY_END"),
        (0x50, true, "KEY_DOWN"),
        (0x51, true, "KEY_PAGEDOWN"),
        (0x52, true, "KEY_INSERT"),
        (0x53, true, "KEY_DELETE"),
        (0x5B, true, "KEY_LEFTMETA"),
        (0x5C, true, "KEY_RIGHTMETA"),
        (0x5D, true, "KEY_COMPOSE"),
        // System keys.
        (0x5E, true, "KEY_POWER"),
        (0x5F, true, "KEY_SLEEP"),
        (0x63, true, "KEY_WAKEUP"),
        // Media keys.
        (0x10, true, "KEY_PREVIOUSSONG"),
        (0x19, true, "KEY_NEXTSONG"),
        (0x20, true, "KEY_MUTE"),
        (0x22, true, "KEY_PLAYPAUSE"),
        (0x24, true, "KEY_STOPCD"),
        (0x2C, true, "KEY_EJECTCD"),
        (0x2E, true, "KEY_VOLUMEDOWN"),
        (0x30, true, "KEY_VOLUMEUP"),
        // Browser and launch keys.
        (0x32, true, "KEY_HOMEPAGE"),
        (0x65, true, "KEY_SEARCH"),
        (0x66, true, "KEY_BOOKMARKS"),
        (0x67, true, "KEY_REFRESH"),
        (0x68, true, "KEY_STOP"),
        (0x69, true, "KEY_FORWARD"),
        (0x6A, true, "KEY_BACK"),
        (0x6B, true, "KEY_FILE"),
        (0x6C, true, "KEY_MAIL"),
        (0x6D, true, "KEY_CONFIG"),
        (0x21, true, "KEY_CALC"),
        // Editing keys of Microsoft's consumer keyboards.
        (0x08, true, "KEY_UNDO"),
        (0x0A, true, "KEY_PASTE"),
        (0x17, true, "KEY_CUT"),
        (0x18, true, "KEY_COPY"),
        (0x3B, true, "KEY_HELP"),
    ];

    #[test]
    fn known_scancodes_give_the_kernels_keycode() {
        let kernel = kernel_codes();
        for &(scancode, extended, name) in KNOWN {
            let expected = kernel[name];
            assert_eq!(
                scancode_to_evdev(scancode, extended),
                Some(expected),
                "{}{scancode:#04x} should be {name} ({expected})",
                if extended { "E0 " } else { "" },
            );
        }
    }

    #[test]
    fn the_table_holds_exactly_the_known_pairs() {
        // Every code the table maps is in the known list: nothing was added without a source.
        let known: std::collections::HashSet<(u8, bool)> = KNOWN.iter().map(|&(s, e, _)| (s, e)).collect();
        for extended in [false, true] {
            for scancode in 0..=u8::MAX {
                if scancode_to_evdev(scancode, extended).is_some() {
                    assert!(
                        known.contains(&(scancode, extended)),
                        "{scancode:#04x} extended={extended}"
                    );
                }
            }
        }
    }

    #[test]
    fn codes_no_keyboard_sends_are_unmapped() {
        for (scancode, extended) in [
            (0x00, false), // "no key"
            (0x55, false),
            (0x60, false),
            (0x7F, false),
            (0x80, false), // a break code is not a scancode in RDP
            (0xFF, false),
            (0x00, true),
            (0x01, true),
            (0x2A, true), // the fake shift
            (0x1E, true),
            (0xE0, true),
        ] {
            assert_eq!(
                scancode_to_evdev(scancode, extended),
                None,
                "{scancode:#04x} {extended}"
            );
        }
    }

    #[test]
    fn left_and_right_modifiers_are_distinct() {
        let pairs = [
            (0x1D, "KEY_LEFTCTRL", "KEY_RIGHTCTRL"),
            (0x38, "KEY_LEFTALT", "KEY_RIGHTALT"),
        ];
        let kernel = kernel_codes();
        for (scancode, left, right) in pairs {
            assert_eq!(scancode_to_evdev(scancode, false), Some(kernel[left]));
            assert_eq!(scancode_to_evdev(scancode, true), Some(kernel[right]));
        }
        assert_eq!(scancode_to_evdev(0x1C, false), Some(kernel["KEY_ENTER"]));
        assert_eq!(scancode_to_evdev(0x1C, true), Some(kernel["KEY_KPENTER"]));
        assert_eq!(scancode_to_evdev(0x35, false), Some(kernel["KEY_SLASH"]));
        assert_eq!(scancode_to_evdev(0x35, true), Some(kernel["KEY_KPSLASH"]));
    }

    #[test]
    fn only_the_korean_f1_f2_codes_are_press_only() {
        assert!(is_press_only(0xF1, true));
        assert!(is_press_only(0xF2, true));
        assert!(is_press_only(0xF1, false));
        assert!(!is_press_only(0x71, false));
        assert!(!is_press_only(0x72, true));
        assert!(!is_press_only(0x1E, false));
    }
}
