//! Connection parameters.

use core::fmt;
use core::net::SocketAddr;
use core::time::Duration;

/// Security protocol the client offers in the X.224 negotiation.
///
/// Only one protocol is offered, so a server that does not support it fails the negotiation
/// ([`ClientError::Protocol`](crate::ClientError::Protocol)) instead of silently downgrading.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Security {
    /// TLS + Network Level Authentication (CredSSP, NTLM): the credentials are checked before the
    /// RDP session is built. `PROTOCOL_HYBRID | PROTOCOL_HYBRID_EX`.
    #[default]
    Nla,
    /// TLS only (`PROTOCOL_SSL`): the credentials travel inside the Client Info PDU.
    Tls,
}

/// Bitmap codec the client advertises.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Codec {
    /// Advertise RemoteFX (lossy, tile based); servers that support it send RemoteFX surface bits.
    #[default]
    RemoteFx,
    /// Advertise no codec: servers fall back to plain (possibly RLE-compressed) bitmap updates.
    Bitmap,
    /// Open the graphics pipeline (MS-RDPEGFX) advertising H.264 (AVC420), decoded with
    /// openh264; RemoteFX is advertised too, for servers without the pipeline.
    H264,
    /// Open the graphics pipeline (MS-RDPEGFX) as an RDP 8.0 client: the V8 capability set
    /// alone, no H.264 (AVC420/AVC444), no H.264 decoder. The server then sends planar
    /// (RDPGFX_CODECID_PLANAR) or uncompressed rectangles, which the client decodes and
    /// paints ([`Stats::planar_rects`](crate::Stats::planar_rects) counts the planar ones).
    /// RemoteFX is advertised too, as with [`Codec::H264`], for servers without the pipeline.
    GraphicsWithoutH264,
}

impl Codec {
    /// Whether the client opens the graphics pipeline (MS-RDPEGFX).
    pub(crate) const fn graphics_pipeline(self) -> bool {
        matches!(self, Self::H264 | Self::GraphicsWithoutH264)
    }
}

/// Byte layout of the decoded framebuffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PixelLayout {
    /// Bytes `B, G, R, X` per pixel (`X` = 0xFF). The layout of most capture sources.
    #[default]
    Bgrx,
    /// Bytes `R, G, B, A` per pixel (`A` = 0xFF).
    Rgba,
}

impl PixelLayout {
    /// Byte offsets of the red, green and blue channels inside one 4-byte pixel.
    pub const fn rgb_offsets(self) -> [usize; 3] {
        match self {
            Self::Bgrx => [2, 1, 0],
            Self::Rgba => [0, 1, 2],
        }
    }
}

/// Everything [`connect`](crate::connect) needs.
#[derive(Clone)]
pub struct ClientConfig {
    /// Server address.
    pub addr: SocketAddr,
    /// Name of the server used for TLS SNI and the CredSSP service principal (`TERMSRV/<name>`).
    /// Defaults to the IP address of `addr`.
    pub server_name: Option<String>,
    pub username: String,
    pub password: String,
    pub domain: Option<String>,
    pub security: Security,
    /// Requested desktop size. The server may impose another one; the framebuffer always has the
    /// size the server announced.
    pub desktop_width: u16,
    pub desktop_height: u16,
    pub codec: Codec,
    pub pixel_layout: PixelLayout,
    /// Bound on the whole connection sequence (TCP connect, X.224, TLS, CredSSP, capabilities
    /// exchange and finalization), and on a later deactivation-reactivation sequence.
    pub connect_timeout: Duration,
    /// Bound on every single write (input, protocol responses) and on the graceful disconnect.
    pub write_timeout: Duration,
    /// Client computer name sent to the server (truncated to 15 characters by the protocol).
    pub client_name: String,
    /// With the graphics pipeline ([`Codec::H264`], [`Codec::GraphicsWithoutH264`]): acknowledge
    /// its frames (as every client must).
    /// `false` makes a client that has stopped acknowledging, for testing flow control.
    pub acknowledge_frames: bool,
    /// With the graphics pipeline ([`Codec::H264`], [`Codec::GraphicsWithoutH264`]): decode
    /// the pictures (H.264 frames, planar rectangles) and paint them (as every client does).
    /// `false` receives, counts and acknowledges every frame without decoding it, and leaves
    /// the framebuffer unpainted: a benchmark's stand-in for a client on another machine,
    /// whose decoding costs the server's machine nothing.
    pub decode_pictures: bool,
    /// Open the clipboard channel (`cliprdr`, with file streaming), for
    /// [`Session::clipboard_formats`](crate::Session::clipboard_formats) and the file methods.
    pub clipboard: bool,
}

impl ClientConfig {
    /// A configuration with defaults: NLA, 1024x768, RemoteFX, BGRx, 10 s connect timeout and
    /// 5 s write timeout.
    pub fn new(addr: SocketAddr, username: impl Into<String>, password: impl Into<String>) -> Self {
        Self {
            addr,
            server_name: None,
            username: username.into(),
            password: password.into(),
            domain: None,
            security: Security::Nla,
            desktop_width: 1024,
            desktop_height: 768,
            codec: Codec::RemoteFx,
            pixel_layout: PixelLayout::Bgrx,
            connect_timeout: Duration::from_secs(10),
            write_timeout: Duration::from_secs(5),
            client_name: "wrd-client".to_owned(),
            acknowledge_frames: true,
            decode_pictures: true,
            clipboard: false,
        }
    }

    pub(crate) fn effective_server_name(&self) -> String {
        self.server_name
            .clone()
            .unwrap_or_else(|| self.addr.ip().to_string())
    }
}

impl fmt::Debug for ClientConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientConfig")
            .field("addr", &self.addr)
            .field("server_name", &self.server_name)
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .field("domain", &self.domain)
            .field("security", &self.security)
            .field("desktop_width", &self.desktop_width)
            .field("desktop_height", &self.desktop_height)
            .field("codec", &self.codec)
            .field("pixel_layout", &self.pixel_layout)
            .field("connect_timeout", &self.connect_timeout)
            .field("write_timeout", &self.write_timeout)
            .field("client_name", &self.client_name)
            .field("acknowledge_frames", &self.acknowledge_frames)
            .field("decode_pictures", &self.decode_pictures)
            .field("clipboard", &self.clipboard)
            .finish()
    }
}
