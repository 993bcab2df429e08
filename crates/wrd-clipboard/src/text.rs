//! `CF_UNICODETEXT` ↔ UTF-8.
//!
//! Windows text is UTF-16LE with CRLF line ends and a NUL terminator; Wayland text
//! (`text/plain;charset=utf-8`) is UTF-8 with LF and no terminator.

use crate::{ConvertError, Limits};

/// `CF_UNICODETEXT` bytes → UTF-8 text with LF line ends.
///
/// The text ends at the first NUL code unit (data after it is padding some clients send);
/// a missing terminator is accepted (the whole buffer is text). An odd byte count is refused
/// unless the terminator comes before the stray byte. Unpaired surrogates become U+FFFD: a
/// clipboard is better pasted with one replaced character than not at all.
pub fn utf16le_to_utf8(data: &[u8], limits: &Limits) -> Result<String, ConvertError> {
    limits.check("CF_UNICODETEXT", data.len())?;
    let mut units = Vec::with_capacity(data.len() / 2);
    let mut terminated = false;
    for pair in data.chunks_exact(2) {
        let unit = u16::from_le_bytes([pair[0], pair[1]]);
        if unit == 0 {
            terminated = true;
            break;
        }
        units.push(unit);
    }
    if !terminated && data.len() % 2 == 1 {
        return Err(ConvertError::OddUtf16Length(data.len()));
    }
    let text = String::from_utf16_lossy(&units);
    Ok(crlf_to_lf(&text))
}

/// UTF-8 text (from the desktop) → `CF_UNICODETEXT` bytes: LF becomes CRLF (a CRLF already
/// there stays one), NUL-terminated. Text stops at an embedded NUL, as Windows would read it.
pub fn utf8_to_utf16le(data: &[u8], limits: &Limits) -> Result<Vec<u8>, ConvertError> {
    limits.check("text/plain", data.len())?;
    let text = std::str::from_utf8(data).map_err(|error| ConvertError::InvalidUtf8(error.valid_up_to()))?;
    let text = text.split('\0').next().unwrap_or_default();
    let crlf = lf_to_crlf(text);
    let mut out = Vec::with_capacity(crlf.len() * 2 + 2);
    for unit in crlf.encode_utf16().chain(std::iter::once(0)) {
        out.extend_from_slice(&unit.to_le_bytes());
    }
    limits.check("CF_UNICODETEXT", out.len())?;
    Ok(out)
}

/// CRLF → LF; a lone CR (old Mac line end) is kept as it is.
pub fn crlf_to_lf(text: &str) -> String {
    text.replace("\r\n", "\n")
}

/// LF → CRLF, leaving an existing CRLF alone.
pub fn lf_to_crlf(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 16);
    let mut previous = '\0';
    for c in text.chars() {
        if c == '\n' && previous != '\r' {
            out.push('\r');
        }
        out.push(c);
        previous = c;
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn utf16(text: &str) -> Vec<u8> {
        text.encode_utf16().flat_map(u16::to_le_bytes).collect()
    }

    #[test]
    fn windows_text_becomes_unix_text() {
        let cases: &[(&[u8], &str)] = &[
            (&utf16("a\r\nb\0"), "a\nb"),
            (&utf16("no terminator"), "no terminator"),
            (&utf16("stop\0after the terminator"), "stop"),
            (&utf16("Grüße, 日本, 🦀\r\n\0"), "Grüße, 日本, 🦀\n"),
            (&utf16("lone\rcr\0"), "lone\rcr"),
            (&[], ""),
            // A NUL then one stray byte: the text ended before it.
            (&[b'a', 0, 0, 0, 7], "a"),
            // An unpaired high surrogate.
            (&[0x3d, 0xd8, b'x', 0, 0, 0], "\u{fffd}x"),
        ];
        for (input, expected) in cases {
            assert_eq!(
                utf16le_to_utf8(input, &Limits::default()).unwrap(),
                *expected,
                "{input:?}"
            );
        }
    }

    #[test]
    fn odd_length_without_terminator_is_refused() {
        assert_eq!(
            utf16le_to_utf8(&[b'a', 0, b'b'], &Limits::default()),
            Err(ConvertError::OddUtf16Length(3))
        );
    }

    #[test]
    fn unix_text_becomes_windows_text() {
        assert_eq!(
            utf8_to_utf16le(b"a\nb", &Limits::default()).unwrap(),
            utf16("a\r\nb\0")
        );
        assert_eq!(
            utf8_to_utf16le(b"a\r\nb", &Limits::default()).unwrap(),
            utf16("a\r\nb\0")
        );
        assert_eq!(utf8_to_utf16le(b"", &Limits::default()).unwrap(), utf16("\0"));
        assert_eq!(
            utf8_to_utf16le(b"cut\0here", &Limits::default()).unwrap(),
            utf16("cut\0")
        );
        assert_eq!(
            utf8_to_utf16le(b"\xffbad", &Limits::default()),
            Err(ConvertError::InvalidUtf8(0))
        );
    }

    #[test]
    fn items_over_the_limit_are_refused() {
        let limits = Limits { max_item_bytes: 8 };
        assert!(matches!(
            utf8_to_utf16le(b"123456789", &limits),
            Err(ConvertError::TooLarge { .. })
        ));
        // 4 characters fit as UTF-8, not as UTF-16 with a terminator.
        assert!(matches!(
            utf8_to_utf16le(b"1234", &limits),
            Err(ConvertError::TooLarge { .. })
        ));
        assert!(matches!(
            utf16le_to_utf8(&[0; 10], &limits),
            Err(ConvertError::TooLarge { .. })
        ));
    }
}
