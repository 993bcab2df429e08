//! The RDP face of wrd-server, on IronRDP.
//!
//! Owns: the TLS identity ([`tls`]), who may log in and the brake on guessing ([`auth`]),
//! our own accept loop with one thread per session ([`server`], [`session`]), turning frames
//! into display updates ([`display`]) and client input into [`ClientInput`]s ([`input`]).
//! Knows nothing of PipeWire, portals or compositors: frames arrive on a [`wrd_frame::FrameBus`]
//! and input leaves on a channel.

pub mod auth;
pub mod clipboard;
pub mod display;
mod flow;
mod gfx;
pub mod input;
mod pacing;
pub mod planar;
pub mod server;
pub mod session;
mod stats;
pub mod tls;
pub mod transport;

use ironrdp_pdu::rdp::capability_sets::BitmapCodecs;

pub use crate::auth::{AuthMode, Credentials};
pub use crate::clipboard::{
    ClientClipboard, ClientClipboardSender, ClipboardRoute, FileAnswer, FileRequest, FileRequestKind,
    SessionClipboard,
};
pub use crate::display::{DesktopResize, ResizeRoute};
pub use crate::input::{ClientInput, InputRoute, MouseButton, SessionId, SessionInput};
pub use crate::server::{
    DEFAULT_HANDSHAKE_TIMEOUT, DEFAULT_MAX_FPS, OwnedDesktop, ServeSummary, ServerConfig, serve,
    serve_owned_desktop,
};
pub use crate::tls::TlsIdentity;

/// Which picture encodings the server offers its clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Codec {
    /// H.264 through the graphics pipeline to clients that negotiate AVC420, lossless planar
    /// tiles through the pipeline to pipeline clients without it, RemoteFX or bitmaps (as the
    /// client negotiates) to clients without the pipeline.
    #[default]
    Auto,
    /// Like `Auto`, but a client without H.264 is worth a warning in the log.
    H264,
    /// No graphics pipeline: RemoteFX, or bitmaps for clients without it.
    RemoteFx,
    /// Bitmaps only.
    Bitmap,
}

impl Codec {
    fn offers_graphics_pipeline(self) -> bool {
        matches!(self, Self::Auto | Self::H264)
    }
}

/// The bitmap codecs we offer outside the graphics pipeline: RemoteFX unless only bitmaps are
/// wanted (clients that do not take RemoteFX get bitmaps).
fn bitmap_codecs(codec: Codec) -> BitmapCodecs {
    let remotefx = if codec == Codec::Bitmap {
        "remotefx:off"
    } else {
        "remotefx:on"
    };
    // Only fails on an unknown codec name, which would be a bug in these literals.
    ironrdp_pdu::rdp::capability_sets::server_codecs_capabilities(&[remotefx])
        .unwrap_or_else(|_| BitmapCodecs(Vec::new()))
}
