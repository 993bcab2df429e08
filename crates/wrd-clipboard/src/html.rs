//! The registered Windows format "HTML Format" (CF_HTML) ↔ `text/html`.
//!
//! CF_HTML is UTF-8: an ASCII header of `Key:Value` lines giving byte offsets into the whole
//! buffer (`StartHTML`, `EndHTML`, `StartFragment`, `EndFragment`), then an HTML document in
//! which the copied part lies between the fragment offsets. The desktop gets the fragment (what
//! the user selected); the desktop's HTML goes to Windows wrapped as a fragment.
//! Reference: "HTML Clipboard Format" in Microsoft's Win32 documentation.

use crate::{ConvertError, Limits};

/// The registered name RDP clients announce the format under.
pub const CF_HTML_NAME: &str = "HTML Format";

/// CF_HTML bytes → the HTML fragment the user copied.
///
/// Every offset is checked against the buffer (trailing NULs removed) and against each
/// other: the header must end before the document, the fragment must lie inside the document,
/// and the fragment must be UTF-8 cut on character boundaries. A header that fails any check
/// is refused rather than guessed at.
pub fn cf_html_to_html(data: &[u8], limits: &Limits) -> Result<String, ConvertError> {
    limits.check("CF_HTML", data.len())?;
    let bad = |message: String| ConvertError::Html(message);
    let end = data.iter().rposition(|&b| b != 0).map_or(0, |last| last + 1);
    let data = &data[..end];

    // The header is the ASCII lines before the first '<'; offsets are never read from
    // anything past it.
    let header_len = data.iter().position(|&b| b == b'<').unwrap_or(data.len());
    let header =
        std::str::from_utf8(&data[..header_len]).map_err(|_| bad("the header is not text".to_owned()))?;
    let mut offsets = HeaderOffsets::default();
    let mut saw_version = false;
    for line in header.split(['\r', '\n']).filter(|line| !line.is_empty()) {
        let Some((key, value)) = line.split_once(':') else {
            return Err(bad(format!("header line without a colon: {line:?}")));
        };
        let slot = match key {
            "Version" => {
                saw_version = true;
                continue;
            }
            "StartHTML" => &mut offsets.start_html,
            "EndHTML" => &mut offsets.end_html,
            "StartFragment" => &mut offsets.start_fragment,
            "EndFragment" => &mut offsets.end_fragment,
            // StartSelection/EndSelection/SourceURL and anything newer: not needed.
            _ => continue,
        };
        let parsed: i64 = value
            .trim()
            .parse()
            .map_err(|_| bad(format!("{key} is not a number: {value:?}")))?;
        // -1 means "absent" (a fragment without context, for StartHTML/EndHTML).
        *slot = if parsed == -1 {
            None
        } else {
            Some(usize::try_from(parsed).map_err(|_| bad(format!("{key} is negative: {parsed}")))?)
        };
    }
    if !saw_version {
        return Err(bad("no Version line: not a CF_HTML header".to_owned()));
    }
    let start_fragment = offsets
        .start_fragment
        .ok_or_else(|| bad("no StartFragment".to_owned()))?;
    let end_fragment = offsets
        .end_fragment
        .ok_or_else(|| bad("no EndFragment".to_owned()))?;
    let (doc_start, doc_end) = match (offsets.start_html, offsets.end_html) {
        (Some(start), Some(end)) => (start, end),
        (None, None) => (start_fragment, end_fragment),
        _ => return Err(bad("only one of StartHTML and EndHTML is given".to_owned())),
    };
    let len = data.len();
    let ordered = header_len <= doc_start
        && doc_start <= start_fragment
        && start_fragment <= end_fragment
        && end_fragment <= doc_end
        && doc_end <= len;
    if !ordered {
        return Err(bad(format!(
            "offsets out of order or outside the {len}-byte buffer (header ends at {header_len}): \
             StartHTML {doc_start}, StartFragment {start_fragment}, EndFragment {end_fragment}, \
             EndHTML {doc_end}"
        )));
    }
    let fragment = std::str::from_utf8(&data[start_fragment..end_fragment]).map_err(|_| {
        bad("the fragment offsets do not cut the UTF-8 text on character boundaries".to_owned())
    })?;
    Ok(fragment.to_owned())
}

#[derive(Default)]
struct HeaderOffsets {
    start_html: Option<usize>,
    end_html: Option<usize>,
    start_fragment: Option<usize>,
    end_fragment: Option<usize>,
}

const FRAGMENT_PREFIX: &str = "<html><body>\r\n<!--StartFragment-->";
const FRAGMENT_SUFFIX: &str = "<!--EndFragment-->\r\n</body></html>";

/// `text/html` bytes from the desktop → CF_HTML (NUL-terminated).
///
/// Desktop HTML is UTF-8, or UTF-16 with a byte-order mark (Firefox and other GTK programs
/// have offered it that way).
pub fn html_to_cf_html(data: &[u8], limits: &Limits) -> Result<Vec<u8>, ConvertError> {
    limits.check("text/html", data.len())?;
    let html = decode_desktop_html(data)?;
    // Offsets are written with ten digits so the header's length is known before them.
    let header_len = "Version:0.9\r\n".len()
        + "StartHTML:0000000000\r\n".len()
        + "EndHTML:0000000000\r\n".len()
        + "StartFragment:0000000000\r\n".len()
        + "EndFragment:0000000000\r\n".len();
    let start_fragment = header_len + FRAGMENT_PREFIX.len();
    let end_fragment = start_fragment + html.len();
    let end_html = end_fragment + FRAGMENT_SUFFIX.len();
    let mut out = format!(
        "Version:0.9\r\nStartHTML:{header_len:010}\r\nEndHTML:{end_html:010}\r\n\
         StartFragment:{start_fragment:010}\r\nEndFragment:{end_fragment:010}\r\n"
    );
    out.push_str(FRAGMENT_PREFIX);
    out.push_str(&html);
    out.push_str(FRAGMENT_SUFFIX);
    let mut bytes = out.into_bytes();
    bytes.push(0);
    limits.check("CF_HTML", bytes.len())?;
    Ok(bytes)
}

fn decode_desktop_html(data: &[u8]) -> Result<String, ConvertError> {
    if let Some(rest) = data.strip_prefix(&[0xff, 0xfe]) {
        if rest.len() % 2 == 1 {
            return Err(ConvertError::Html(
                "UTF-16 text/html with an odd length".to_owned(),
            ));
        }
        let units: Vec<u16> = rest
            .chunks_exact(2)
            .map(|pair| u16::from_le_bytes([pair[0], pair[1]]))
            .collect();
        return Ok(String::from_utf16_lossy(&units).trim_end_matches('\0').to_owned());
    }
    let data = data.strip_prefix("\u{feff}".as_bytes()).unwrap_or(data);
    let html = std::str::from_utf8(data).map_err(|error| ConvertError::InvalidUtf8(error.valid_up_to()))?;
    Ok(html.trim_end_matches('\0').to_owned())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    /// The shape Chromium-based browsers and Office put on the Windows clipboard (and mstsc
    /// forwards unchanged): SourceURL, a full document, the fragment markers on the same line.
    const WINDOWS_SAMPLE: &str = "Version:0.9\r\n\
StartHTML:0000000150\r\n\
EndHTML:0000000292\r\n\
StartFragment:0000000186\r\n\
EndFragment:0000000256\r\n\
SourceURL:https://example.invalid/page.html\r\n\
<html>\r\n\
<body>\r\n\
<!--StartFragment--><p>Grüße <b>bold</b> and <a href=\"https://x.invalid/\">a link</a></p><!--EndFragment-->\r\n\
</body>\r\n\
</html>";

    #[test]
    fn a_windows_sample_gives_its_fragment() {
        let fragment = cf_html_to_html(WINDOWS_SAMPLE.as_bytes(), &Limits::default()).unwrap();
        assert_eq!(
            fragment,
            "<p>Grüße <b>bold</b> and <a href=\"https://x.invalid/\">a link</a></p>"
        );
        // A terminator and padding after the document change nothing.
        let mut padded = WINDOWS_SAMPLE.as_bytes().to_vec();
        padded.extend_from_slice(&[0, 0, 0]);
        assert_eq!(cf_html_to_html(&padded, &Limits::default()).unwrap(), fragment);
    }

    #[test]
    fn a_fragment_without_context_is_accepted() {
        let data = "Version:1.0\r\nStartHTML:-1\r\nEndHTML:-1\r\nStartFragment:0000000089\r\nEndFragment:0000000097\r\n<b>x</b>";
        assert_eq!(
            cf_html_to_html(data.as_bytes(), &Limits::default()).unwrap(),
            "<b>x</b>"
        );
    }

    #[test]
    fn lying_headers_are_refused() {
        let sample = WINDOWS_SAMPLE;
        let cases = [
            // Fragment past the end of the buffer.
            sample.replace("EndFragment:0000000256", "EndFragment:0000009999"),
            // Fragment starting inside the header.
            sample.replace("StartFragment:0000000186", "StartFragment:0000000010"),
            // Fragment end before its start.
            sample.replace("EndFragment:0000000256", "EndFragment:0000000180"),
            // A fragment cut in the middle of "ü" (two bytes at 191..193).
            sample.replace("StartFragment:0000000186", "StartFragment:0000000192"),
            sample.replace("StartFragment:0000000186", "StartFragment:-5"),
            sample.replace("StartFragment:0000000186", "StartFragment:abc"),
            sample.replace("StartFragment:0000000186\r\n", ""),
            sample.replace("EndHTML:0000000292", "EndHTML:-1"),
            sample.replace("Version:0.9\r\n", ""),
            String::new(),
            "<html>no header</html>".to_owned(),
        ];
        for case in cases {
            let result = cf_html_to_html(case.as_bytes(), &Limits::default());
            assert!(
                matches!(result, Err(ConvertError::Html(_))),
                "{case:?} gave {result:?}"
            );
        }
    }

    #[test]
    fn desktop_html_round_trips() {
        let html = "<meta charset=\"utf-8\"><p>Ünïcode <i>text</i></p>\n<ul><li>x</li></ul>";
        let cf_html = html_to_cf_html(html.as_bytes(), &Limits::default()).unwrap();
        assert_eq!(cf_html.last(), Some(&0));
        assert_eq!(cf_html_to_html(&cf_html, &Limits::default()).unwrap(), html);
    }

    #[test]
    fn utf16_desktop_html_is_decoded() {
        let mut data = vec![0xff, 0xfe];
        data.extend("<b>é</b>".encode_utf16().flat_map(u16::to_le_bytes));
        let cf_html = html_to_cf_html(&data, &Limits::default()).unwrap();
        assert_eq!(cf_html_to_html(&cf_html, &Limits::default()).unwrap(), "<b>é</b>");
    }
}
