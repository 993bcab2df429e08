//! The formats the bridge carries, named on each side.

/// Standard Windows clipboard format ids (MS-RDPECLIP 1.3.1.2, winuser.h).
pub const CF_DIB: u32 = 8;
pub const CF_UNICODETEXT: u32 = 13;
pub const CF_DIBV5: u32 = 17;

/// The ids we give the registered formats we announce (the range 0xC000–0xFFFF is the
/// registered formats'; each side picks its own ids and names them in the format list).
pub const SERVER_HTML_FORMAT_ID: u32 = 0xD010;

/// FreeRDP's own id for PNG (`CB_FORMAT_PNG`), which xfreerdp 2 announces without a name.
pub const FREERDP_PNG_FORMAT_ID: u32 = 0xD011;

/// The name Windows programs (browsers, Office) register PNG under.
pub const PNG_FORMAT_NAME: &str = "PNG";

/// FreeRDP's `CF_RAW`: not a Windows format (there is no format 0). xfreerdp 2 puts it at the
/// head of the list of every format it supports, which it sends when the channel starts and
/// when its X clipboard changes hands, before it knows what the new owner offers: such a list
/// says "something changed", not what was copied.
pub const FREERDP_RAW_FORMAT_ID: u32 = 0;

/// Our own selection on the desktop carries this MIME type, so the bridge recognises the
/// selection it made when the desktop reports it back (and does not announce it to the client
/// as new desktop content).
pub const OWN_SELECTION_MIME: &str = "application/x-wrd-server-clipboard";

/// A format in an RDP format list: its id, and its name for registered formats.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RdpFormat {
    pub id: u32,
    pub name: Option<String>,
}

impl RdpFormat {
    pub fn standard(id: u32) -> Self {
        Self { id, name: None }
    }

    pub fn registered(id: u32, name: &str) -> Self {
        Self {
            id,
            name: Some(name.to_owned()),
        }
    }

    /// What this format carries, when the bridge knows it.
    pub fn kind(&self) -> Option<RdpFormatKind> {
        match (self.id, self.name.as_deref()) {
            (CF_UNICODETEXT, _) => Some(RdpFormatKind::UnicodeText),
            (CF_DIB, _) => Some(RdpFormatKind::Dib),
            (CF_DIBV5, _) => Some(RdpFormatKind::DibV5),
            (id, Some(crate::html::CF_HTML_NAME)) if 0xC000 <= id => Some(RdpFormatKind::Html),
            (id, Some(PNG_FORMAT_NAME)) if 0xC000 <= id => Some(RdpFormatKind::Png),
            (FREERDP_PNG_FORMAT_ID, None) => Some(RdpFormatKind::Png),
            (id, Some(crate::files::FILE_GROUP_DESCRIPTOR_W_NAME)) if 0xC000 <= id => {
                Some(RdpFormatKind::FileList)
            }
            _ => None,
        }
    }
}

/// The RDP formats the bridge converts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RdpFormatKind {
    UnicodeText,
    Html,
    Dib,
    DibV5,
    /// PNG as it is (registered "PNG", or FreeRDP's unnamed id).
    Png,
    /// Files: the registered "FileGroupDescriptorW" list, each file's contents fetched with
    /// File Contents requests.
    FileList,
}

impl RdpFormatKind {
    /// The desktop format this one becomes.
    pub fn desktop(self) -> DesktopFormat {
        match self {
            Self::UnicodeText => DesktopFormat::Text,
            Self::Html => DesktopFormat::Html,
            Self::Dib | Self::DibV5 | Self::Png => DesktopFormat::Png,
            Self::FileList => DesktopFormat::Files,
        }
    }
}

/// What the desktop side carries, each under one or more MIME types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DesktopFormat {
    Text,
    Html,
    Png,
    /// Local files, named by `file://` URIs.
    Files,
}

/// MIME types of UTF-8 text, preferred first. `UTF8_STRING`, `TEXT` and `STRING` are the X11
/// atom names Xwayland programs and GTK still offer and ask for.
const TEXT_MIMES: &[&str] = &[
    "text/plain;charset=utf-8",
    "UTF8_STRING",
    "text/plain",
    "TEXT",
    "STRING",
];
const HTML_MIMES: &[&str] = &["text/html"];
const PNG_MIMES: &[&str] = &["image/png"];
/// `x-special/gnome-copied-files` is what GNOME's and other file managers paste from (an
/// operation line, `copy` or `cut`, then the URIs).
pub const URI_LIST_MIME: &str = "text/uri-list";
pub const GNOME_COPIED_FILES_MIME: &str = "x-special/gnome-copied-files";
const FILES_MIMES: &[&str] = &[URI_LIST_MIME, GNOME_COPIED_FILES_MIME];

impl DesktopFormat {
    /// Every MIME type this format is offered under, preferred first.
    pub fn mimes(self) -> &'static [&'static str] {
        match self {
            Self::Text => TEXT_MIMES,
            Self::Html => HTML_MIMES,
            Self::Png => PNG_MIMES,
            Self::Files => FILES_MIMES,
        }
    }

    pub fn from_mime(mime: &str) -> Option<Self> {
        [Self::Text, Self::Html, Self::Png, Self::Files]
            .into_iter()
            .find(|format| {
                format
                    .mimes()
                    .iter()
                    .any(|known| known.eq_ignore_ascii_case(mime))
            })
    }

    /// The best MIME type of this format in a desktop offer.
    pub fn best_mime_in(self, offered: &[String]) -> Option<&String> {
        self.mimes()
            .iter()
            .find_map(|preferred| offered.iter().find(|mime| mime.eq_ignore_ascii_case(preferred)))
    }
}
