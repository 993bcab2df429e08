//! The client's keyboard layout → an xkb layout and variant.
//!
//! A client announces its layout in the Client Core Data ([MS-RDPBCGR] 2.2.1.3.2,
//! `keyboardLayout`) as a Windows keyboard layout identifier (KLID): the low word is the
//! language (`0x0407` German), the high word picks a variant of that language's layouts
//! (`0x0001_0409` is US Dvorak), and IMEs use `0xE...` identifiers over a language
//! (`0xE001_0411`, Japanese IME). Identifiers and names follow Microsoft's list of keyboard
//! identifiers ("Keyboard identifiers and input method editors for Windows"). Scancodes name key
//! positions, so a desktop that builds its own keymap (a wlroots virtual keyboard) must use the
//! client's layout for a German client's `z` key to type `z`.
//!
//! The xkb names are those of xkeyboard-config's `evdev` rules: each Windows layout gets the xkb
//! layout users of that language pick, and a variant only where the Windows layout is a known
//! variant (Dvorak, Canadian Multilingual, Russian Typewriter, ...). Tests compile every entry
//! with the system's libxkbcommon and type through a few of them. An identifier that is not
//! listed gives `None`: the caller falls back to `us` and says so.
//!
//! [MS-RDPBCGR]: https://learn.microsoft.com/en-us/openspecs/windows_protocols/ms-rdpbcgr/

/// An xkb layout and variant (`variant` empty for the layout's default).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct XkbLayout {
    pub layout: &'static str,
    pub variant: &'static str,
}

/// Windows keyboard layout identifier → xkb layout. Sorted by identifier (a test checks).
const LAYOUTS: &[(u32, &str, &str)] = &[
    (0x0000_0401, "ara", ""),          // Arabic (101)
    (0x0000_0402, "bg", ""),           // Bulgarian (Typewriter)
    (0x0000_0404, "tw", ""),           // Chinese (Traditional) - US Keyboard
    (0x0000_0405, "cz", ""),           // Czech
    (0x0000_0406, "dk", ""),           // Danish
    (0x0000_0407, "de", ""),           // German
    (0x0000_0408, "gr", ""),           // Greek
    (0x0000_0409, "us", ""),           // US
    (0x0000_040A, "es", ""),           // Spanish
    (0x0000_040B, "fi", ""),           // Finnish
    (0x0000_040C, "fr", ""),           // French
    (0x0000_040D, "il", ""),           // Hebrew
    (0x0000_040E, "hu", ""),           // Hungarian
    (0x0000_040F, "is", ""),           // Icelandic
    (0x0000_0410, "it", ""),           // Italian
    (0x0000_0411, "jp", ""),           // Japanese
    (0x0000_0412, "kr", ""),           // Korean
    (0x0000_0413, "nl", ""),           // Dutch
    (0x0000_0414, "no", ""),           // Norwegian
    (0x0000_0415, "pl", ""),           // Polish (Programmers)
    (0x0000_0416, "br", ""),           // Portuguese (Brazil ABNT)
    (0x0000_0418, "ro", "winkeys"),    // Romanian (Legacy)
    (0x0000_0419, "ru", ""),           // Russian
    (0x0000_041A, "hr", ""),           // Croatian
    (0x0000_041B, "sk", ""),           // Slovak
    (0x0000_041C, "al", ""),           // Albanian
    (0x0000_041D, "se", ""),           // Swedish
    (0x0000_041E, "th", ""),           // Thai Kedmanee
    (0x0000_041F, "tr", ""),           // Turkish Q
    (0x0000_0420, "pk", ""),           // Urdu
    (0x0000_0422, "ua", "winkeys"),    // Ukrainian
    (0x0000_0423, "by", ""),           // Belarusian
    (0x0000_0424, "si", ""),           // Slovenian
    (0x0000_0425, "ee", ""),           // Estonian
    (0x0000_0426, "lv", ""),           // Latvian
    (0x0000_0427, "lt", "ibm"),        // Lithuanian IBM
    (0x0000_0428, "tj", ""),           // Tajik
    (0x0000_0429, "ir", ""),           // Persian
    (0x0000_042A, "vn", ""),           // Vietnamese
    (0x0000_042B, "am", "eastern"),    // Armenian Eastern (Legacy)
    (0x0000_042C, "az", ""),           // Azerbaijani Latin
    (0x0000_042F, "mk", ""),           // Macedonian
    (0x0000_0437, "ge", ""),           // Georgian
    (0x0000_0438, "fo", ""),           // Faeroese
    (0x0000_0439, "in", ""),           // Devanagari - INSCRIPT (Hindi)
    (0x0000_043A, "mt", ""),           // Maltese 47-Key
    (0x0000_043B, "no", "smi"),        // Norwegian with Sami
    (0x0000_043F, "kz", ""),           // Kazakh
    (0x0000_0440, "kg", ""),           // Kyrgyz Cyrillic
    (0x0000_0442, "tm", ""),           // Turkmen
    (0x0000_0444, "ru", "tt"),         // Tatar
    (0x0000_0445, "in", "ben"),        // Bangla
    (0x0000_0446, "in", "guru"),       // Punjabi (Gurmukhi)
    (0x0000_0447, "in", "guj"),        // Gujarati
    (0x0000_0449, "in", "tam"),        // Tamil
    (0x0000_044A, "in", "tel"),        // Telugu
    (0x0000_044B, "in", "kan"),        // Kannada
    (0x0000_044C, "in", "mal"),        // Malayalam
    (0x0000_0450, "mn", ""),           // Mongolian Cyrillic
    (0x0000_0452, "gb", "extd"),       // United Kingdom Extended
    (0x0000_0804, "cn", ""),           // Chinese (Simplified) - US Keyboard
    (0x0000_0807, "ch", ""),           // Swiss German
    (0x0000_0809, "gb", ""),           // United Kingdom
    (0x0000_080A, "latam", ""),        // Latin American
    (0x0000_080C, "be", ""),           // Belgian French
    (0x0000_0813, "be", ""),           // Belgian (Period)
    (0x0000_0816, "pt", ""),           // Portuguese
    (0x0000_081A, "rs", "latin"),      // Serbian (Latin)
    (0x0000_082C, "az", "cyrillic"),   // Azerbaijani Cyrillic
    (0x0000_0843, "uz", ""),           // Uzbek Cyrillic
    (0x0000_0C0C, "ca", "fr-legacy"),  // Canadian French (Legacy)
    (0x0000_0C1A, "rs", ""),           // Serbian (Cyrillic)
    (0x0000_1009, "ca", ""),           // Canadian French
    (0x0000_100C, "ch", "fr"),         // Swiss French
    (0x0000_141A, "ba", ""),           // Bosnian (Latin)
    (0x0000_1809, "ie", ""),           // Irish
    (0x0001_0405, "cz", "qwerty"),     // Czech (QWERTY)
    (0x0001_0409, "us", "dvorak"),     // United States-Dvorak
    (0x0001_0415, "pl", "qwertz"),     // Polish (214)
    (0x0001_0416, "br", ""),           // Portuguese (Brazil ABNT2)
    (0x0001_0418, "ro", "std"),        // Romanian (Standard)
    (0x0001_0419, "ru", "typewriter"), // Russian (Typewriter)
    (0x0001_041B, "sk", "qwerty"),     // Slovak (QWERTY)
    (0x0001_041F, "tr", "f"),          // Turkish F
    (0x0001_0427, "lt", ""),           // Lithuanian
    (0x0001_080C, "be", ""),           // Belgian (Comma)
    (0x0001_083B, "fi", "smi"),        // Finnish with Sami
    (0x0001_1009, "ca", "multix"),     // Canadian Multilingual Standard
    (0x0002_0409, "us", "intl"),       // United States-International
    (0x0002_0418, "ro", ""),           // Romanian (Programmers)
    (0x0002_0422, "ua", ""),           // Ukrainian (Enhanced)
    (0x0002_0427, "lt", "std"),        // Lithuanian Standard
    (0x0003_0409, "us", "dvorak-l"),   // United States-Dvorak for left hand
    (0x0004_0409, "us", "dvorak-r"),   // United States-Dvorak for right hand
];

/// The xkb layout for a Windows keyboard layout identifier, `None` when it is not one we know.
///
/// An IME identifier (`0xE...`) gives the layout of its language: an IME composes text on top
/// of the language's standard layout (the Japanese IME `0xE001_0411` is `jp`).
pub fn xkb_layout_for_klid(klid: u32) -> Option<XkbLayout> {
    let find = |klid: u32| {
        LAYOUTS
            .binary_search_by_key(&klid, |&(id, _, _)| id)
            .ok()
            .and_then(|index| LAYOUTS.get(index))
            .map(|&(_, layout, variant)| XkbLayout { layout, variant })
    };
    if klid & 0xF000_0000 == 0xE000_0000 {
        return find(klid & 0xFFFF);
    }
    find(klid)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use xkbcommon::xkb;

    use super::*;
    use crate::scancode::scancode_to_evdev;

    fn keymap(layout: &str, variant: &str) -> Option<xkb::Keymap> {
        let context = xkb::Context::new(xkb::CONTEXT_NO_FLAGS);
        xkb::Keymap::new_from_names(
            &context,
            "evdev",
            "pc105",
            layout,
            variant,
            None,
            xkb::KEYMAP_COMPILE_NO_FLAGS,
        )
    }

    /// The keysym a scancode gives, unshifted, through the layout's keymap.
    fn keysym(keymap: &xkb::Keymap, scancode: u8, extended: bool) -> u32 {
        let evdev = scancode_to_evdev(scancode, extended).unwrap();
        let state = xkb::State::new(keymap);
        // xkb keycodes are evdev codes + 8 (the X11 offset).
        state.key_get_one_sym(xkb::Keycode::new(evdev + 8)).raw()
    }

    #[test]
    fn the_table_is_sorted_without_duplicates() {
        assert!(LAYOUTS.windows(2).all(|pair| pair[0].0 < pair[1].0));
    }

    #[test]
    fn well_known_identifiers_name_their_layouts() {
        let cases = [
            (0x0000_0409, "us", ""),
            (0x0000_0407, "de", ""),
            (0x0000_040C, "fr", ""),
            (0x0000_0809, "gb", ""),
            (0x0000_0410, "it", ""),
            (0x0000_040A, "es", ""),
            (0x0000_080A, "latam", ""),
            (0x0000_0411, "jp", ""),
            (0x0000_0412, "kr", ""),
            (0x0000_0419, "ru", ""),
            (0x0000_0816, "pt", ""),
            (0x0000_0416, "br", ""),
            (0x0000_041D, "se", ""),
            (0x0000_0414, "no", ""),
            (0x0000_0406, "dk", ""),
            (0x0000_040B, "fi", ""),
            (0x0000_0807, "ch", ""),
            (0x0000_100C, "ch", "fr"),
            (0x0000_0813, "be", ""),
            (0x0000_0415, "pl", ""),
            (0x0000_0405, "cz", ""),
            (0x0000_040E, "hu", ""),
            (0x0000_041F, "tr", ""),
            (0x0001_0409, "us", "dvorak"),
            (0x0000_0413, "nl", ""),
            (0x0000_1009, "ca", ""),
            (0x0000_0C0C, "ca", "fr-legacy"),
            (0x0001_1009, "ca", "multix"),
            (0x0002_0409, "us", "intl"),
        ];
        for (klid, layout, variant) in cases {
            assert_eq!(
                xkb_layout_for_klid(klid),
                Some(XkbLayout { layout, variant }),
                "{klid:#010x}"
            );
        }
    }

    #[test]
    fn ime_identifiers_use_their_languages_layout() {
        assert_eq!(
            xkb_layout_for_klid(0xE001_0411),
            Some(XkbLayout {
                layout: "jp",
                variant: ""
            })
        );
        assert_eq!(
            xkb_layout_for_klid(0xE001_0412),
            Some(XkbLayout {
                layout: "kr",
                variant: ""
            })
        );
        assert_eq!(
            xkb_layout_for_klid(0xE00E_0804),
            Some(XkbLayout {
                layout: "cn",
                variant: ""
            })
        );
        // An IME over a language we do not know is unknown too.
        assert_eq!(xkb_layout_for_klid(0xE001_0400), None);
    }

    #[test]
    fn unknown_identifiers_are_none() {
        for klid in [0, 0x0000_0400, 0x0000_FFFF, 0x0009_0409, 0x0001_0407, 0xFFFF_FFFF] {
            assert_eq!(xkb_layout_for_klid(klid), None, "{klid:#010x}");
        }
    }

    #[test]
    fn every_entry_compiles_with_libxkbcommon() {
        // The check is worth something only if a wrong name fails.
        assert!(keymap("de", "no-such-variant").is_none());
        assert!(keymap("no-such-layout", "").is_none());
        for &(klid, layout, variant) in LAYOUTS {
            assert!(
                keymap(layout, variant).is_some(),
                "{klid:#010x}: {layout}({variant})"
            );
        }
    }

    /// Scancodes typed through the client's layout: what a user of that layout expects.
    /// Keysym values from X11's keysymdef.h.
    #[test]
    fn scancodes_type_the_layouts_characters() {
        let cases: &[(u32, u8, bool, u32, &str)] = &[
            // US: positions are as printed.
            (0x0409, 0x1E, false, 0x61, "a"),
            (0x0409, 0x15, false, 0x79, "y"),
            (0x0409, 0x2B, false, 0x5C, "backslash"),
            // German: QWERTZ, umlauts, sharp s.
            (0x0407, 0x15, false, 0x7A, "z"),
            (0x0407, 0x2C, false, 0x79, "y"),
            (0x0407, 0x0C, false, 0xDF, "ssharp"),
            (0x0407, 0x1A, false, 0xFC, "udiaeresis"),
            (0x0407, 0x27, false, 0xF6, "odiaeresis"),
            (0x0407, 0x28, false, 0xE4, "adiaeresis"),
            (0x0407, 0x56, false, 0x3C, "less"),
            // French: AZERTY.
            (0x040C, 0x10, false, 0x61, "a"),
            (0x040C, 0x1E, false, 0x71, "q"),
            (0x040C, 0x11, false, 0x7A, "z"),
            (0x040C, 0x32, false, 0x2C, "comma"),
            // United Kingdom: the two keys that differ from US.
            (0x0809, 0x2B, false, 0x23, "numbersign"),
            (0x0809, 0x56, false, 0x5C, "backslash"),
            // Swiss German: QWERTZ.
            (0x0807, 0x15, false, 0x7A, "z"),
            // US Dvorak.
            (0x0001_0409, 0x10, false, 0x27, "apostrophe"),
            (0x0001_0409, 0x11, false, 0x2C, "comma"),
            (0x0001_0409, 0x1F, false, 0x6F, "o"),
            // Russian: the F position is Cyrillic a.
            (0x0419, 0x21, false, 0x6C1, "Cyrillic_a"),
            // Japanese keys.
            (0x0411, 0x29, false, 0xFF2A, "Zenkaku_Hankaku"),
            (0x0411, 0x70, false, 0xFF27, "Hiragana_Katakana"),
            (0x0411, 0x79, false, 0xFF23, "Henkan_Mode"),
            (0x0411, 0x7B, false, 0xFF22, "Muhenkan"),
            (0x0411, 0x73, false, 0x5C, "backslash (Ro)"),
            (0x0411, 0x7D, false, 0x5C, "backslash (Yen)"),
            // Korean keys.
            (0x0412, 0x72, false, 0xFF31, "Hangul"),
            (0x0412, 0x71, false, 0xFF34, "Hangul_Hanja"),
            (0x0412, 0xF2, true, 0xFF31, "Hangul"),
            (0x0412, 0xF1, true, 0xFF34, "Hangul_Hanja"),
            // Keys the layout does not change.
            (0x0409, 0x1C, true, 0xFF8D, "KP_Enter"),
            (0x0409, 0x35, true, 0xFFAF, "KP_Divide"),
            (0x0409, 0x37, true, 0xFF61, "Print"),
            (0x0409, 0x54, false, 0xFF61, "Print (SysRq)"),
            (0x0409, 0x46, true, 0xFF13, "Pause"),
            (0x0409, 0x45, false, 0xFF7F, "Num_Lock"),
            (0x0409, 0x46, false, 0xFF14, "Scroll_Lock"),
            (0x0409, 0x3A, false, 0xFFE5, "Caps_Lock"),
            (0x0409, 0x5B, true, 0xFFEB, "Super_L"),
            (0x0409, 0x5C, true, 0xFFEC, "Super_R"),
            (0x0409, 0x5D, true, 0xFF67, "Menu"),
            (0x0409, 0x38, true, 0xFFEA, "Alt_R"),
            (0x0409, 0x1D, true, 0xFFE4, "Control_R"),
            (0x0409, 0x53, true, 0xFFFF, "Delete"),
            (0x0409, 0x47, true, 0xFF50, "Home"),
            (0x0409, 0x49, true, 0xFF55, "Prior"),
            (0x0409, 0x4B, true, 0xFF51, "Left"),
            (0x0409, 0x59, false, 0xFFBD, "KP_Equal"),
            // xkeyboard-config's evdev rules give F13-F23 media functions (inet(evdev)),
            // as they do for a local keyboard's F13 (F24 has no symbol: see the key names).
            (0x0409, 0x64, false, 0x1008_FF81, "XF86Tools (F13)"),
            (0x0409, 0x6E, false, 0x1008_FFB1, "XF86TouchpadOff (F23)"),
            (0x0409, 0x20, true, 0x1008_FF12, "XF86AudioMute"),
            (0x0409, 0x30, true, 0x1008_FF13, "XF86AudioRaiseVolume"),
            (0x0409, 0x2E, true, 0x1008_FF11, "XF86AudioLowerVolume"),
            (0x0409, 0x22, true, 0x1008_FF14, "XF86AudioPlay"),
            (0x0409, 0x24, true, 0x1008_FF15, "XF86AudioStop"),
            (0x0409, 0x10, true, 0x1008_FF16, "XF86AudioPrev"),
            (0x0409, 0x19, true, 0x1008_FF17, "XF86AudioNext"),
            (0x0409, 0x32, true, 0x1008_FF18, "XF86HomePage"),
            (0x0409, 0x6C, true, 0x1008_FF19, "XF86Mail"),
            (0x0409, 0x65, true, 0x1008_FF1B, "XF86Search"),
            (0x0409, 0x6A, true, 0x1008_FF26, "XF86Back"),
            (0x0409, 0x69, true, 0x1008_FF27, "XF86Forward"),
            // KEY_STOP, as Linux reports USB's AC Stop; xkb names its symbol Cancel.
            (0x0409, 0x68, true, 0xFF69, "Cancel"),
            (0x0409, 0x67, true, 0x1008_FF73, "XF86Reload"),
            (0x0409, 0x66, true, 0x1008_FF30, "XF86Favorites"),
            (0x0409, 0x21, true, 0x1008_FF1D, "XF86Calculator"),
            (0x0409, 0x5F, true, 0x1008_FF2F, "XF86Sleep"),
            (0x0409, 0x63, true, 0x1008_FF2B, "XF86WakeUp"),
            (0x0409, 0x5E, true, 0x1008_FF2A, "XF86PowerOff"),
        ];
        let mut wrong = Vec::new();
        for &(klid, scancode, extended, expected, name) in cases {
            let names = xkb_layout_for_klid(klid).unwrap();
            let keymap = keymap(names.layout, names.variant).unwrap();
            let got = keysym(&keymap, scancode, extended);
            if got != expected {
                wrong.push(format!(
                    "{klid:#06x} {}{scancode:#04x}: expected {name}, got {}",
                    if extended { "E0 " } else { "" },
                    xkb::keysym_get_name(xkb::Keysym::new(got)),
                ));
            }
        }
        assert!(wrong.is_empty(), "{wrong:#?}");
    }

    /// Keys whose symbols depend on the keymap's options land on xkb's key names (the
    /// `keycodes/evdev` file of xkeyboard-config, which names positions).
    #[test]
    fn scancodes_land_on_xkbs_key_names() {
        let keymap = keymap("us", "").unwrap();
        let cases: &[(u8, bool, &str)] = &[
            (0x29, false, "TLDE"),
            (0x56, false, "LSGT"),
            (0x59, false, "KPEQ"),
            (0x64, false, "FK13"),
            (0x76, false, "FK24"),
            (0x54, false, "PRSC"),
            (0x37, true, "PRSC"),
            (0x5B, true, "LWIN"),
            (0x5C, true, "RWIN"),
            (0x5D, true, "COMP"),
            (0x1C, true, "KPEN"),
            (0x70, false, "HKTG"),
            (0x73, false, "AB11"),
            (0x79, false, "HENK"),
            (0x7B, false, "MUHE"),
            (0x7D, false, "AE13"),
            (0x5C, false, "JPCM"),
            (0x72, false, "HNGL"),
            (0x71, false, "HJCV"),
            (0x7E, false, "I129"),
            (0x08, true, "UNDO"),
            (0x18, true, "COPY"),
            (0x0A, true, "PAST"),
            (0x17, true, "CUT"),
            (0x3B, true, "HELP"),
            (0x6B, true, "I152"),
            (0x6D, true, "I179"),
        ];
        for &(scancode, extended, name) in cases {
            let evdev = scancode_to_evdev(scancode, extended).unwrap();
            assert_eq!(
                keymap.key_get_name(xkb::Keycode::new(evdev + 8)),
                Some(name),
                "{}{scancode:#04x}",
                if extended { "E0 " } else { "" },
            );
        }
    }
}
