//! The clipboard between an RDP client and a Wayland desktop, without I/O.
//!
//! RDP clients speak MS-RDPECLIP: numbered Windows clipboard formats (`CF_UNICODETEXT`,
//! `CF_DIB`, `CF_DIBV5`, the registered "HTML Format" and `FileGroupDescriptorW`), and data is
//! fetched only when someone pastes (delayed rendering). Wayland desktops speak MIME types,
//! also fetched on paste. This crate is the logic in between:
//!
//! - [`text`]: `CF_UNICODETEXT` (UTF-16LE, CRLF, NUL-terminated) ↔ UTF-8 with LF;
//! - [`html`]: the CF_HTML header with its byte offsets ↔ `text/html`;
//! - [`image`]: `CF_DIB`/`CF_DIBV5` ↔ `image/png`;
//! - [`files`]: `FileGroupDescriptorW` ↔ names that are safe below a session directory, and
//!   `text/uri-list`;
//! - [`Bridge`]: the delayed-rendering state machine: which side owns the clipboard, which
//!   formats each side is offered, which fetch answers which paste.
//!
//! Every conversion takes untrusted bytes and returns a [`ConvertError`] for bad input (odd
//! UTF-16, a header that lies about sizes or offsets, a path escaping its directory), never a
//! panic, and refuses items over the [`Limits`] (64 MiB by default).
//!
//! It knows no outside system: no IronRDP, no Wayland. The RDP side maps IronRDP's PDUs to
//! [`RdpFormat`]s and [`BridgeInput`]s; the Wayland side does the same with its offers and pipes.

mod bridge;
pub mod files;
pub mod formats;
pub mod html;
pub mod image;
#[doc(hidden)]
pub mod oracles;
pub mod text;

pub use crate::bridge::{
    Bridge, BridgeInput, BridgeOutput, DesktopRequestId, RdpRequestId, convert_from_client,
    convert_from_desktop,
};
pub use crate::formats::{DesktopFormat, RdpFormat, RdpFormatKind};

/// The default limit of one clipboard item in either direction (issue 9: 64 MB).
pub const DEFAULT_MAX_ITEM_BYTES: usize = 64 * 1024 * 1024;

/// Size limits applied to every item, whichever way it goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The largest item accepted, in bytes, before or after conversion (a small PNG may
    /// decode to a huge bitmap: the decoded size counts too).
    pub max_item_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_item_bytes: DEFAULT_MAX_ITEM_BYTES,
        }
    }
}

impl Limits {
    /// `Err(TooLarge)` when `size` exceeds the limit.
    pub fn check(&self, what: &'static str, size: usize) -> Result<(), ConvertError> {
        if size > self.max_item_bytes {
            return Err(ConvertError::TooLarge {
                what,
                size,
                limit: self.max_item_bytes,
            });
        }
        Ok(())
    }
}

/// Why a clipboard item could not be converted. Each variant says what was wrong with the
/// input; callers log it and refuse the paste, the session goes on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConvertError {
    #[error("{what} of {size} bytes exceeds the clipboard limit of {limit} bytes")]
    TooLarge {
        what: &'static str,
        size: usize,
        limit: usize,
    },
    #[error("CF_UNICODETEXT has an odd length ({0} bytes) and no terminator before the last byte")]
    OddUtf16Length(usize),
    #[error("text is not valid UTF-8 at byte {0}")]
    InvalidUtf8(usize),
    #[error("CF_HTML: {0}")]
    Html(String),
    #[error("bitmap: {0}")]
    Bitmap(String),
    #[error("PNG: {0}")]
    Png(String),
    #[error("file list: {0}")]
    FileList(String),
    #[error("file name {name:?} refused: {reason}")]
    UnsafeFileName { name: String, reason: &'static str },
    #[error("URI list: {0}")]
    UriList(String),
}
