//! Plain data shared by both sides: ids, configuration, stream descriptions and events.
//!
//! Nothing here holds a PipeWire object: every type is `Send` and can cross threads.

use std::fmt;
use std::os::fd::OwnedFd;
use std::path::PathBuf;

use wrd_frame::PixelFormat;

/// Our name for a stream (chosen by the async side, unique per thread). Not a PipeWire id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StreamId(pub u64);

impl fmt::Display for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// Where the thread connects.
#[derive(Debug)]
pub enum Remote {
    /// An fd handed out by the ScreenCast portal (`OpenPipeWireRemote`) or Mutter: only the
    /// nodes it grants are visible through it.
    Fd(OwnedFd),
    /// The user's daemon, found the usual way (`PIPEWIRE_REMOTE`, `$XDG_RUNTIME_DIR/pipewire-0`).
    Default,
    /// A daemon socket by path (tests with a private daemon; no environment involved).
    Socket(PathBuf),
}

/// The ranges a consumer stream offers during format negotiation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamConfig {
    /// `media.name` / stream name, for `pw-cli` and logs.
    pub name: String,
    /// Raw formats offered, most preferred first. Empty means all eight 32-bit formats.
    pub formats: Vec<PixelFormat>,
    /// Size hint (the default of the size range).
    pub preferred_size: (u32, u32),
    pub min_size: (u32, u32),
    pub max_size: (u32, u32),
    /// The only size offered, instead of the range: for producers that take the consumer's
    /// size (Mutter's virtual monitor is created, and later resized, at the size negotiated).
    /// Change it on a running stream with [`crate::PipeWireConnection::set_size`].
    pub fixed_size: Option<(u32, u32)>,
    /// Maximum frame rate (frames per second) of the variable-rate (0/1) range offered.
    pub max_framerate: u32,
    /// Also offer DMA-BUF with the LINEAR modifier (mapped by the CPU, plane offset honoured).
    /// No other modifier is ever advertised. Raw formats without a modifier are always offered
    /// first: they are what a GPU-less compositor produces.
    pub allow_dmabuf: bool,
    /// Number of buffers asked for (range 2..=16; PipeWire picks within both sides' ranges).
    pub buffers: u32,
    /// Largest cursor bitmap asked for in the cursor metadata.
    pub max_cursor_size: (u32, u32),
    /// Let PipeWire (the session manager) link the stream to its target node.
    pub autoconnect: bool,
    /// Start active; `false` connects inactive and waits for `StartStream`.
    pub start_active: bool,
}

impl Default for StreamConfig {
    fn default() -> Self {
        Self {
            name: "wrd-capture".to_owned(),
            formats: Vec::new(),
            preferred_size: (1920, 1080),
            min_size: (1, 1),
            max_size: (8192, 8192),
            fixed_size: None,
            max_framerate: 60,
            allow_dmabuf: true,
            buffers: 4,
            max_cursor_size: (256, 256),
            autoconnect: true,
            start_active: true,
        }
    }
}

/// All raw 32-bit formats, in the default order of preference.
pub const ALL_FORMATS: [PixelFormat; 8] = [
    PixelFormat::Bgrx,
    PixelFormat::Bgra,
    PixelFormat::Rgbx,
    PixelFormat::Rgba,
    PixelFormat::Xrgb,
    PixelFormat::Argb,
    PixelFormat::Xbgr,
    PixelFormat::Abgr,
];

impl StreamConfig {
    /// The formats to offer (the configured list, or all of them).
    pub fn offered_formats(&self) -> Vec<PixelFormat> {
        if self.formats.is_empty() {
            ALL_FORMATS.to_vec()
        } else {
            self.formats.clone()
        }
    }

    pub(crate) fn validate(&self) -> Result<(), String> {
        let (minw, minh) = self.min_size;
        let (maxw, maxh) = self.max_size;
        if minw == 0 || minh == 0 {
            return Err("min_size must be at least 1x1".into());
        }
        if minw > maxw || minh > maxh {
            return Err(format!("min_size {minw}x{minh} exceeds max_size {maxw}x{maxh}"));
        }
        if maxw > 16384 || maxh > 16384 {
            return Err(format!("max_size {maxw}x{maxh} exceeds 16384x16384"));
        }
        if let Some((w, h)) = self.fixed_size {
            validate_fixed_size(w, h)?;
        }
        if self.max_framerate == 0 || self.max_framerate > 1000 {
            return Err(format!("max_framerate {} not in 1..=1000", self.max_framerate));
        }
        if !(1..=64).contains(&self.buffers) {
            return Err(format!("buffers {} not in 1..=64", self.buffers));
        }
        if self.name.contains('\0') {
            return Err("name contains a NUL byte".into());
        }
        Ok(())
    }
}

/// A size a stream can be fixed to (see [`StreamConfig::fixed_size`]).
pub(crate) fn validate_fixed_size(width: u32, height: u32) -> Result<(), String> {
    if !(1..=16384).contains(&width) || !(1..=16384).contains(&height) {
        return Err(format!(
            "fixed size {width}x{height} not within 1x1..=16384x16384"
        ));
    }
    Ok(())
}

/// Where a stream is in its life, as PipeWire reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamState {
    Unconnected,
    Connecting,
    /// Connected, not (yet) receiving: no link, no format, or inactive.
    Paused,
    Streaming,
    Error(String),
    /// The daemon went away: the stream is over.
    Disconnected,
}

/// Memory the negotiated buffers live in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemoryKind {
    MemFd,
    MemPtr,
    DmaBuf,
}

/// A negotiated video format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VideoFormatInfo {
    pub format: PixelFormat,
    pub width: u32,
    pub height: u32,
    /// `(num, denom)`; `(0, 1)` is a variable frame rate.
    pub framerate: (u32, u32),
    pub max_framerate: (u32, u32),
    /// `Some(0)` (LINEAR) when DMA-BUF was negotiated; `None` for plain memory.
    pub modifier: Option<u64>,
}

/// A stream as the async side sees it: plain data, a snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PipeWireStream {
    pub id: StreamId,
    /// The node captured (the portal's / Mutter's stream node id).
    pub node_id: u32,
    /// The id of our own consumer node, once the daemon assigned it.
    pub local_node_id: Option<u32>,
    pub format: Option<VideoFormatInfo>,
    pub state: StreamState,
    pub active: bool,
}

impl PipeWireStream {
    /// Negotiated size, once there is a format.
    pub fn size(&self) -> Option<(u32, u32)> {
        self.format.map(|f| (f.width, f.height))
    }
}

/// What the thread reports besides frames. Delivered on an unbounded channel: events are rare
/// (state changes, not frames), so the thread never waits on it; see the crate docs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PipeWireEvent {
    StreamStateChanged {
        stream: StreamId,
        old: StreamState,
        new: StreamState,
        local_node_id: Option<u32>,
    },
    /// A (new) format was negotiated: first format, or a size/format change.
    FormatChanged {
        stream: StreamId,
        format: VideoFormatInfo,
    },
    /// Buffers were negotiated for the current format.
    BuffersNegotiated { stream: StreamId, memory: MemoryKind },
    /// A non-fatal problem with one stream (e.g. a buffer that did not fit its format).
    StreamError { stream: StreamId, message: String },
    /// The daemon went away: this stream is over (its frame receiver is closed too).
    StreamDisconnected { stream: StreamId, reason: String },
    /// An error the daemon reported on a proxy (non-fatal unless followed by `Disconnected`).
    CoreError {
        id: u32,
        seq: i32,
        res: i32,
        message: String,
    },
    /// The connection to the daemon is lost; the thread exits after sending this.
    Disconnected { reason: String },
}
