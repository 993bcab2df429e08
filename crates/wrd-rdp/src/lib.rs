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
pub mod input;
pub mod server;
pub mod session;
mod stats;
pub mod tls;
pub mod transport;

use ironrdp_pdu::rdp::capability_sets::BitmapCodecs;

pub use crate::auth::{AuthMode, Credentials};
pub use crate::clipboard::{ClientClipboard, ClientClipboardSender, ClipboardRoute, SessionClipboard};
pub use crate::input::{ClientInput, InputRoute, MouseButton, SessionId, SessionInput};
pub use crate::server::{DEFAULT_HANDSHAKE_TIMEOUT, DEFAULT_MAX_FPS, ServeSummary, ServerConfig, serve};
pub use crate::tls::TlsIdentity;

/// The bitmap codecs we offer: RemoteFX (clients that do not take it get bitmaps).
fn bitmap_codecs() -> BitmapCodecs {
    // Only fails on an unknown codec name, which would be a bug in this literal.
    ironrdp_pdu::rdp::capability_sets::server_codecs_capabilities(&["remotefx:on"])
        .unwrap_or_else(|_| BitmapCodecs(Vec::new()))
}
