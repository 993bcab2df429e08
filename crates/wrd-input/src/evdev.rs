//! Linux input event codes (`linux/input-event-codes.h`): the key and button numbers every
//! Wayland input path takes (virtual keyboards, Mutter's and the portal's `NotifyKeyboardKeycode`,
//! `NotifyPointerButton`). Only the codes this crate produces are named here; the tests compare
//! every one of them with the kernel header installed on the machine.

/// Declares the constants and, for the tests, the list of (name, value) pairs to check against
/// the kernel header.
macro_rules! event_codes {
    ($($(#[$doc:meta])* $name:ident = $value:expr;)*) => {
        $($(#[$doc])* pub const $name: u32 = $value;)*

        #[cfg(test)]
        pub(crate) const ALL: &[(&str, u32)] = &[$((stringify!($name), $value)),*];
    };
}

event_codes! {
    KEY_ESC = 1;
    KEY_1 = 2;
    KEY_0 = 11;
    KEY_BACKSPACE = 14;
    KEY_TAB = 15;
    KEY_Q = 16;
    KEY_ENTER = 28;
    KEY_LEFTCTRL = 29;
    KEY_A = 30;
    KEY_GRAVE = 41;
    KEY_LEFTSHIFT = 42;
    KEY_Z = 44;
    KEY_RIGHTSHIFT = 54;
    KEY_KPASTERISK = 55;
    KEY_LEFTALT = 56;
    KEY_SPACE = 57;
    KEY_CAPSLOCK = 58;
    KEY_F1 = 59;
    KEY_F10 = 68;
    KEY_NUMLOCK = 69;
    KEY_SCROLLLOCK = 70;
    KEY_KP7 = 71;
    KEY_KPDOT = 83;
    KEY_ZENKAKUHANKAKU = 85;
    KEY_102ND = 86;
    KEY_F11 = 87;
    KEY_F12 = 88;
    KEY_RO = 89;
    KEY_KATAKANA = 90;
    KEY_HIRAGANA = 91;
    KEY_HENKAN = 92;
    KEY_KATAKANAHIRAGANA = 93;
    KEY_MUHENKAN = 94;
    KEY_KPJPCOMMA = 95;
    KEY_KPENTER = 96;
    KEY_RIGHTCTRL = 97;
    KEY_KPSLASH = 98;
    /// The Print Screen key (xkb's `<PRSC>` is evdev 99 + 8).
    KEY_SYSRQ = 99;
    KEY_RIGHTALT = 100;
    KEY_HOME = 102;
    KEY_UP = 103;
    KEY_PAGEUP = 104;
    KEY_LEFT = 105;
    KEY_RIGHT = 106;
    KEY_END = 107;
    KEY_DOWN = 108;
    KEY_PAGEDOWN = 109;
    KEY_INSERT = 110;
    KEY_DELETE = 111;
    KEY_MUTE = 113;
    KEY_VOLUMEDOWN = 114;
    KEY_VOLUMEUP = 115;
    KEY_POWER = 116;
    KEY_KPEQUAL = 117;
    KEY_PAUSE = 119;
    KEY_KPCOMMA = 121;
    KEY_HANGEUL = 122;
    KEY_HANJA = 123;
    KEY_YEN = 124;
    KEY_LEFTMETA = 125;
    KEY_RIGHTMETA = 126;
    /// The Menu (context menu, "Application") key: Linux maps USB's Keyboard Application usage
    /// here, and xkb calls it `<COMP>`/`<MENU>` (keysym `Menu`).
    KEY_COMPOSE = 127;
    KEY_STOP = 128;
    KEY_UNDO = 131;
    KEY_COPY = 133;
    KEY_PASTE = 135;
    KEY_CUT = 137;
    KEY_HELP = 138;
    KEY_CALC = 140;
    KEY_SLEEP = 142;
    KEY_WAKEUP = 143;
    /// "AL Local Machine Browser", the "My Computer" launch key.
    KEY_FILE = 144;
    KEY_MAIL = 155;
    KEY_BOOKMARKS = 156;
    KEY_BACK = 158;
    KEY_FORWARD = 159;
    KEY_EJECTCD = 161;
    KEY_NEXTSONG = 163;
    KEY_PLAYPAUSE = 164;
    KEY_PREVIOUSSONG = 165;
    KEY_STOPCD = 166;
    /// "AL Consumer Control Configuration", the "Media Select" launch key.
    KEY_CONFIG = 171;
    KEY_HOMEPAGE = 172;
    KEY_REFRESH = 173;
    KEY_F13 = 183;
    KEY_F14 = 184;
    KEY_F15 = 185;
    KEY_F16 = 186;
    KEY_F17 = 187;
    KEY_F18 = 188;
    KEY_F19 = 189;
    KEY_F20 = 190;
    KEY_F21 = 191;
    KEY_F22 = 192;
    KEY_F23 = 193;
    KEY_F24 = 194;
    KEY_SEARCH = 217;

    BTN_LEFT = 0x110;
    BTN_RIGHT = 0x111;
    BTN_MIDDLE = 0x112;
    /// The "back" thumb button (X11 button 8): what Linux reports for a mouse's fourth button.
    BTN_SIDE = 0x113;
    /// The "forward" thumb button (X11 button 9).
    BTN_EXTRA = 0x114;
}

#[cfg(test)]
pub(crate) mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use std::collections::HashMap;

    /// The kernel's own numbers, read from the header the build machine has (linux-libc-dev, a
    /// dependency of libc6-dev in scripts/install-deps.sh).
    pub(crate) fn kernel_codes() -> HashMap<String, u32> {
        let path = "/usr/include/linux/input-event-codes.h";
        let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {path}: {e}"));
        let mut codes = HashMap::new();
        for line in text.lines() {
            let mut words = line.split_whitespace();
            if words.next() != Some("#define") {
                continue;
            }
            let (Some(name), Some(value)) = (words.next(), words.next()) else {
                continue;
            };
            let parsed = match value.strip_prefix("0x") {
                Some(hex) => u32::from_str_radix(hex, 16).ok(),
                None => value.parse().ok(),
            };
            if let Some(parsed) = parsed {
                codes.insert(name.to_owned(), parsed);
            }
        }
        codes
    }

    #[test]
    fn every_named_code_matches_the_kernel_header() {
        let kernel = kernel_codes();
        for (name, value) in super::ALL {
            assert_eq!(kernel.get(*name), Some(value), "{name}");
        }
    }
}
