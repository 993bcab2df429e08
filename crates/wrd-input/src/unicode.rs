//! Unicode keyboard events → X keysyms.
//!
//! Clients without a physical keyboard (mobile clients, some web clients, IMEs) send text as
//! UTF-16 code units ([MS-RDPBCGR] 2.2.8.1.2.2.2, `TS_FP_UNICODE_KEYBOARD_EVENT`), each with a
//! press and a release. A character outside the Basic Multilingual Plane takes two code units,
//! a high and a low surrogate, in two events; clients send the pair either as
//! press-high, press-low, release-high, release-low (FreeRDP: one event per code unit of the
//! string, presses then releases) or as press-high, release-high, press-low, release-low. Both
//! come out as one character, on the press of the low half. Releases type nothing.
//!
//! Desktops take such text as keysyms (Mutter's and the portal's `NotifyKeyboardKeysym`; a
//! wlroots virtual keyboard needs a keymap holding the keysym). The keysym is the one
//! libxkbcommon's `xkb_utf32_to_keysym` gives, through the `xkeysym` crate which follows it:
//! Latin-1 maps 1:1 (`ä` is `0xE4`), characters that have a legacy keysym get it (`€` is
//! `EuroSign` `0x20AC`, Cyrillic `а` is `Cyrillic_a` `0x6C1`), all others are
//! `0x0100_0000 | code point`. Legacy keysyms matter: xkb layouts use them (the `ru` layout's
//! keys carry `Cyrillic_a`, not `U0430`), and Mutter looks a keysym up in the current keymap
//! as it is. Exceptions, for typing: carriage return and line feed are `Return` (a line break
//! typed as text means Enter; xkbcommon says `Linefeed` for U+000A, which keymaps do not hold),
//! backspace, tab, escape and delete are their function keysyms, other control characters type
//! nothing and are refused.
//!
//! [MS-RDPBCGR]: https://learn.microsoft.com/en-us/openspecs/windows_protocols/ms-rdpbcgr/

/// `XK_BackSpace`.
const KEYSYM_BACKSPACE: u32 = 0xFF08;
/// `XK_Tab`.
const KEYSYM_TAB: u32 = 0xFF09;
/// `XK_Return`.
const KEYSYM_RETURN: u32 = 0xFF0D;
/// `XK_Escape`.
const KEYSYM_ESCAPE: u32 = 0xFF1B;
/// `XK_Delete`.
const KEYSYM_DELETE: u32 = 0xFFFF;

/// The keysym that types `ch`, or `None` when it cannot be typed (control characters other than
/// the editing ones, Unicode noncharacters).
pub fn keysym_for_char(ch: char) -> Option<u32> {
    let keysym = match ch {
        '\r' | '\n' => KEYSYM_RETURN,
        '\u{8}' => KEYSYM_BACKSPACE,
        '\t' => KEYSYM_TAB,
        '\u{1b}' => KEYSYM_ESCAPE,
        '\u{7f}' => KEYSYM_DELETE,
        c if c.is_control() => return None,
        c => xkeysym::Keysym::from_char(c).raw(),
    };
    (keysym != xkeysym::Keysym::NoSymbol.raw()).then_some(keysym)
}

/// Joins the UTF-16 code units of pressed Unicode keyboard events into characters.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Utf16Joiner {
    /// A high surrogate waiting for its low half.
    pending_high: Option<u16>,
}

/// What one pressed code unit completed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Utf16Press {
    /// A high surrogate that was waiting and is given up, because this code unit is not its low
    /// half: the client sent a broken pair, the caller reports it.
    pub abandoned_high: Option<u16>,
    pub step: Utf16Step,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Utf16Step {
    /// A whole character: type it.
    Char(char),
    /// The first half of a surrogate pair: nothing to type until the second.
    AwaitingLowSurrogate,
    /// A low surrogate with no high surrogate before it: a broken pair.
    UnpairedLowSurrogate(u16),
}

impl Utf16Joiner {
    /// Takes the code unit of a pressed Unicode keyboard event. (Releases carry nothing to type
    /// and must not reach here: the pair's halves may be released in any order.)
    pub fn press(&mut self, code_unit: u16) -> Utf16Press {
        // Every code unit outside the surrogate range is a scalar value on its own.
        if let Some(ch) = char::from_u32(u32::from(code_unit)) {
            return Utf16Press {
                abandoned_high: self.pending_high.take(),
                step: Utf16Step::Char(ch),
            };
        }
        if code_unit < 0xDC00 {
            return Utf16Press {
                abandoned_high: self.pending_high.replace(code_unit),
                step: Utf16Step::AwaitingLowSurrogate,
            };
        }
        let step = match self.pending_high.take() {
            // A high and a low surrogate always decode to a scalar value; the fallback keeps
            // the function total without a panic path.
            Some(high) => match char::decode_utf16([high, code_unit]).next() {
                Some(Ok(ch)) => Utf16Step::Char(ch),
                _ => Utf16Step::UnpairedLowSurrogate(code_unit),
            },
            None => Utf16Step::UnpairedLowSurrogate(code_unit),
        };
        Utf16Press {
            abandoned_high: None,
            step,
        }
    }

    /// Forgets a waiting high surrogate (the session ends).
    pub fn clear(&mut self) {
        self.pending_high = None;
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    /// Known pairs from X11's keysymdef.h (names in the comments), not from the xkeysym table.
    #[test]
    fn characters_get_their_keysyms() {
        let cases = [
            ('a', 0x61),                // a
            ('A', 0x41),                // A
            (' ', 0x20),                // space
            ('~', 0x7E),                // asciitilde
            ('ä', 0xE4),                // adiaeresis
            ('ö', 0xF6),                // odiaeresis
            ('ü', 0xFC),                // udiaeresis
            ('ß', 0xDF),                // ssharp
            ('é', 0xE9),                // eacute
            ('\u{a0}', 0xA0),           // nobreakspace
            ('ÿ', 0xFF),                // ydiaeresis
            ('€', 0x20AC),              // EuroSign
            ('ő', 0x1F5),               // odoubleacute (Latin-2)
            ('ł', 0x1B3),               // lstroke
            ('а', 0x6C1),               // Cyrillic_a
            ('я', 0x6D1),               // Cyrillic_ya
            ('α', 0x7E1),               // Greek_alpha
            ('א', 0xCE0),               // hebrew_aleph
            ('–', 0xAAA),               // endash
            ('₩', 0xEFF),               // Korean_Won
            ('漢', 0x0100_6F22),        // no legacy keysym: U6F22
            ('\u{1F600}', 0x0101_F600), // U1F600, outside the BMP
            ('\r', 0xFF0D),             // Return
            ('\n', 0xFF0D),             // Return, not Linefeed
            ('\u{8}', 0xFF08),          // BackSpace
            ('\t', 0xFF09),             // Tab
            ('\u{1b}', 0xFF1B),         // Escape
            ('\u{7f}', 0xFFFF),         // Delete
        ];
        for (ch, keysym) in cases {
            assert_eq!(
                keysym_for_char(ch),
                Some(keysym),
                "{ch:?} (U+{:04X})",
                u32::from(ch)
            );
        }
    }

    #[test]
    fn control_characters_and_noncharacters_are_not_typed() {
        for ch in [
            '\0', '\u{1}', '\u{b}', '\u{1f}', '\u{85}', '\u{9f}', '\u{fffe}', '\u{ffff}', '\u{fdd0}',
        ] {
            assert_eq!(keysym_for_char(ch), None, "U+{:04X}", u32::from(ch));
        }
    }

    #[test]
    fn the_keysyms_agree_with_libxkbcommon_over_the_whole_of_unicode() {
        // The system's libxkbcommon (C) against xkeysym (Rust), every scalar value but the
        // controls we handle on purpose: they must give the same keysym, or both none.
        let mut differences = Vec::new();
        for ch in (0..=0x10FFFF).filter_map(char::from_u32) {
            if ch.is_control() {
                continue;
            }
            let ours = keysym_for_char(ch).unwrap_or(0);
            let xkb = xkbcommon::xkb::utf32_to_keysym(u32::from(ch)).raw();
            if ours != xkb {
                differences.push((u32::from(ch), ours, xkb));
            }
        }
        assert!(
            differences.is_empty(),
            "(code point, ours, libxkbcommon): {differences:x?}"
        );
    }

    #[test]
    fn a_bmp_code_unit_is_a_character() {
        let mut joiner = Utf16Joiner::default();
        let press = joiner.press(0x00E4);
        assert_eq!(
            press,
            Utf16Press {
                abandoned_high: None,
                step: Utf16Step::Char('ä')
            }
        );
    }

    #[test]
    fn a_surrogate_pair_is_one_character_on_the_low_half() {
        let mut joiner = Utf16Joiner::default();
        // U+1F600 is D83D DE00 in UTF-16.
        assert_eq!(joiner.press(0xD83D).step, Utf16Step::AwaitingLowSurrogate);
        let press = joiner.press(0xDE00);
        assert_eq!(
            press,
            Utf16Press {
                abandoned_high: None,
                step: Utf16Step::Char('\u{1F600}')
            }
        );
        // U+10FFFF, the last scalar value: DBFF DFFF.
        assert_eq!(joiner.press(0xDBFF).step, Utf16Step::AwaitingLowSurrogate);
        assert_eq!(joiner.press(0xDFFF).step, Utf16Step::Char('\u{10FFFF}'));
        // U+10000, the first: D800 DC00.
        assert_eq!(joiner.press(0xD800).step, Utf16Step::AwaitingLowSurrogate);
        assert_eq!(joiner.press(0xDC00).step, Utf16Step::Char('\u{10000}'));
    }

    #[test]
    fn broken_pairs_are_reported() {
        let mut joiner = Utf16Joiner::default();
        assert_eq!(joiner.press(0xDE00).step, Utf16Step::UnpairedLowSurrogate(0xDE00));

        // A high surrogate followed by a plain character: the high half is given up, the
        // character is still typed.
        assert_eq!(joiner.press(0xD83D).step, Utf16Step::AwaitingLowSurrogate);
        let press = joiner.press(u16::from(b'x'));
        assert_eq!(
            press,
            Utf16Press {
                abandoned_high: Some(0xD83D),
                step: Utf16Step::Char('x')
            }
        );

        // Two high surrogates: the first is given up, the second waits.
        assert_eq!(joiner.press(0xD83D).abandoned_high, None);
        let press = joiner.press(0xD83C);
        assert_eq!(
            press,
            Utf16Press {
                abandoned_high: Some(0xD83D),
                step: Utf16Step::AwaitingLowSurrogate
            }
        );
        assert_eq!(joiner.press(0xDF89).step, Utf16Step::Char('\u{1F389}'));
    }

    #[test]
    fn clear_forgets_a_waiting_high_surrogate() {
        let mut joiner = Utf16Joiner::default();
        joiner.press(0xD83D);
        joiner.clear();
        assert_eq!(joiner.press(0xDE00).step, Utf16Step::UnpairedLowSurrogate(0xDE00));
    }
}
