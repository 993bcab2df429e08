//! The graphics pipeline (MS-RDPEGFX) with H.264 (AVC420), for [`Codec::H264`](crate::Codec).
//!
//! IronRDP's `GraphicsPipelineClient` runs the channel (capabilities, surfaces, frame
//! acknowledgements) inside the session's `ActiveStage`; this module gives it an H.264 decoder
//! and a handler, and keeps what they produce for the [`Session`](crate::Session) to paint.
//!
//! An AVC420 frame is the whole surface's picture; its destination rectangle bounds the regions
//! that changed. IronRDP would hand the handler the decoded picture cropped at the rectangle's
//! size but from the picture's top-left corner, which is right only for rectangles at (0, 0),
//! and copy every picture twice on the way. So the decoder keeps the whole decoded picture and
//! gives IronRDP its size only (`DecodedFrame::without_pixels`, our patch of ironrdp-egfx), and
//! the session copies each destination rectangle from it, at the same place, onto the
//! surface's place on the desktop. Picture buffers are reused, never freshly allocated.
//!
//! Without decoding (`ClientConfig::decode_pictures` off, for benchmarks), each frame is
//! counted and acknowledged and its rectangle reported, but no picture is made or painted.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use ironrdp::pdu::PduResult;
use ironrdp::pdu::geometry::ExclusiveRectangle;
use ironrdp_dvc::{DvcClientProcessor, DvcMessage, DvcProcessor};
use ironrdp_egfx::client::{BitmapUpdate, GraphicsPipelineClient, GraphicsPipelineHandler, Surface};
use ironrdp_egfx::decode::{DecodedFrame, DecoderError, DecoderResult, H264Decoder};
use ironrdp_egfx::pdu::Codec1Type;
use tracing::{debug, warn};

/// A decoded picture: B, G, R, X, `width * 4` bytes per row.
#[derive(Debug)]
pub(crate) struct Picture {
    pub width: usize,
    pub height: usize,
    pub bgrx: Vec<u8>,
}

/// What the pipeline produced since the session last looked.
#[derive(Debug, Default)]
pub(crate) struct GfxState {
    /// The latest decoded picture of each surface's H.264 stream (one stream per surface).
    pub pictures: HashMap<u16, Picture>,
    /// The picture the decoder made last, not yet assigned to its surface.
    last_decoded: Option<Picture>,
    /// Buffers of pictures no longer shown, for the decoder to write the next ones into (at
    /// most [`MAX_SPARE_BUFFERS`]): fresh 8 MB buffers for every 1080p picture cost more CPU
    /// in page faults than the decode itself.
    spare: Vec<Vec<u8>>,
    /// Where each surface sits on the desktop.
    pub origins: HashMap<u16, (u32, u32)>,
    /// Rectangles of surfaces that changed, in order.
    pub updates: Vec<GfxUpdate>,
    /// The server reset the graphics to this desktop size.
    pub reset: Option<(u32, u32)>,
    /// AVC420 frames decoded.
    pub avc420_frames: u64,
    /// Of them, IDR pictures (decodable on their own).
    pub avc420_idr_frames: u64,
    /// Frame acknowledgements: sent, or held back.
    pub acks: AckGate,
}

/// Whether the client acknowledges frames, and the acknowledgements it held back.
pub(crate) struct AckGate {
    pub acknowledging: bool,
    /// The client told the server it suspends acknowledgements (queue depth
    /// `SUSPEND_FRAME_ACKNOWLEDGEMENT`): none is sent or held from then on.
    pub suspended: bool,
    /// FrameAcknowledge PDUs not sent while not acknowledging, oldest first.
    pub held: Vec<DvcMessage>,
    /// The frame id and total frames decoded of the latest acknowledgement the pipeline made
    /// (sent, held or dropped): what a suspending acknowledgement carries.
    pub latest: Option<(u32, u32)>,
}

impl Default for AckGate {
    fn default() -> Self {
        Self {
            acknowledging: true,
            suspended: false,
            held: Vec::new(),
            latest: None,
        }
    }
}

impl std::fmt::Debug for AckGate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AckGate")
            .field("acknowledging", &self.acknowledging)
            .field("suspended", &self.suspended)
            .field("held", &self.held.len())
            .field("latest", &self.latest)
            .finish()
    }
}

/// Acknowledgements a stuck client holds back at most: a server that sends far more frames
/// than it may have in flight gets only the newest acknowledgements when the client resumes.
const MAX_HELD_ACKS: usize = 1024;

/// Spare picture buffers kept: one replaced picture's while the next is decoded is enough.
const MAX_SPARE_BUFFERS: usize = 2;

impl GfxState {
    /// Keeps `bgrx` for a later picture, if fewer than [`MAX_SPARE_BUFFERS`] wait already.
    fn recycle(&mut self, bgrx: Vec<u8>) {
        if self.spare.len() < MAX_SPARE_BUFFERS {
            self.spare.push(bgrx);
        }
    }
}

/// One changed rectangle of a surface (exclusive right and bottom, surface coordinates).
#[derive(Debug)]
pub(crate) enum GfxUpdate {
    /// From the surface's latest H.264 picture, at the same place.
    FromPicture { surface: u16, rect: ExclusiveRectangle },
    /// Pixels sent as they are (uncompressed): R, G, B, A, `rect`'s width per row.
    Pixels {
        surface: u16,
        rect: ExclusiveRectangle,
        rgba: Vec<u8>,
    },
}

pub(crate) type Shared = Arc<Mutex<GfxState>>;

pub(crate) fn lock(shared: &Shared) -> std::sync::MutexGuard<'_, GfxState> {
    shared.lock().unwrap_or_else(PoisonError::into_inner)
}

/// `RDPGFX_CMDID_FRAMEACKNOWLEDGE` ([MS-RDPEGFX] 2.2.1.1), the first field of the PDU.
const CMDID_FRAME_ACKNOWLEDGE: u16 = 0x000D;

/// The pipeline with a switch on its frame acknowledgements ([`AckGate`]): while off, they are
/// held back (a client that is stuck, to test a server's flow control), and sent all at once
/// when it is turned on again (see `Session::set_acknowledging`).
pub(crate) struct Acknowledging {
    pub pipeline: GraphicsPipelineClient,
    pub shared: Shared,
}

ironrdp::core::impl_as_any!(Acknowledging);

/// The frame id and total frames decoded of `message` if it is a FrameAcknowledge PDU
/// (header: cmdId, flags, pduLength; then queueDepth, frameId, totalFramesDecoded).
fn frame_acknowledge(message: &DvcMessage) -> Option<(u32, u32)> {
    let bytes = ironrdp::core::encode_vec(message.as_ref()).ok()?;
    let field = |at: usize| {
        bytes
            .get(at..at + 4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    };
    let cmd = bytes.get(..2).map(|c| u16::from_le_bytes([c[0], c[1]]))?;
    (cmd == CMDID_FRAME_ACKNOWLEDGE).then_some(())?;
    Some((field(12)?, field(16)?))
}

impl DvcProcessor for Acknowledging {
    fn channel_name(&self) -> &str {
        self.pipeline.channel_name()
    }

    fn start(&mut self, channel_id: u32) -> PduResult<Vec<DvcMessage>> {
        self.pipeline.start(channel_id)
    }

    fn process(&mut self, channel_id: u32, payload: &[u8]) -> PduResult<Vec<DvcMessage>> {
        let messages = self.pipeline.process(channel_id, payload)?;
        let mut state = lock(&self.shared);
        if let Some(latest) = messages.iter().rev().find_map(frame_acknowledge) {
            state.acks.latest = Some(latest);
        }
        if state.acks.acknowledging && !state.acks.suspended {
            return Ok(messages);
        }
        let (acks, others): (Vec<_>, Vec<_>) = messages
            .into_iter()
            .partition(|message| frame_acknowledge(message).is_some());
        if state.acks.suspended {
            // A client that suspended acknowledgements sends none.
            return Ok(others);
        }
        let held = &mut state.acks.held;
        held.extend(acks);
        if held.len() > MAX_HELD_ACKS {
            held.drain(..held.len() - MAX_HELD_ACKS);
        }
        Ok(others)
    }

    fn close(&mut self, channel_id: u32) {
        self.pipeline.close(channel_id);
    }
}

impl DvcClientProcessor for Acknowledging {}

/// Whether an Annex-B access unit holds an IDR slice (NAL unit type 5).
fn has_idr_slice(annex_b: &[u8]) -> bool {
    annex_b
        .windows(4)
        .any(|w| w[..3] == [0, 0, 1] && w[3] & 0x1F == 5)
}

/// The channel's client with our decoder (one that only counts, without `decode`) and
/// handler; `shared` is where they leave their work.
pub(crate) fn pipeline(shared: &Shared, decode: bool) -> Result<GraphicsPipelineClient, wrd_h264::H264Error> {
    let decoder = Decoder {
        inner: if decode {
            Some(wrd_h264::H264Decoder::new()?)
        } else {
            None
        },
        shared: Arc::clone(shared),
    };
    let handler = Handler {
        shared: Arc::clone(shared),
    };
    Ok(GraphicsPipelineClient::new(
        Box::new(handler),
        Some(Box::new(decoder)),
    ))
}

struct Decoder {
    /// `None`: count the frames, decode nothing.
    inner: Option<wrd_h264::H264Decoder>,
    shared: Shared,
}

impl H264Decoder for Decoder {
    fn decode(&mut self, data: &[u8]) -> DecoderResult<DecodedFrame> {
        let Some(inner) = self.inner.as_mut() else {
            let mut state = lock(&self.shared);
            state.avc420_frames += 1;
            if has_idr_slice(data) {
                state.avc420_idr_frames += 1;
            }
            // No picture, so no size either: as large as any destination rectangle, which
            // IronRDP then passes on to the handler alone.
            return Ok(DecodedFrame::without_pixels(
                u32::from(u16::MAX),
                u32::from(u16::MAX),
            ));
        };
        let mut bgrx = lock(&self.shared).spare.pop().unwrap_or_default();
        let decoded = inner.decode_into(data, &mut bgrx);
        let (width, height) = match decoded {
            Ok(Some(size)) => size,
            Ok(None) => {
                lock(&self.shared).recycle(bgrx);
                return Err(DecoderError::msg("the access unit completed no picture"));
            }
            Err(e) => {
                lock(&self.shared).recycle(bgrx);
                return Err(DecoderError::new("H.264 decode", e));
            }
        };
        let frame = DecodedFrame::without_pixels(
            u32::try_from(width).map_err(|e| DecoderError::new("picture width", e))?,
            u32::try_from(height).map_err(|e| DecoderError::new("picture height", e))?,
        );
        let mut state = lock(&self.shared);
        state.avc420_frames += 1;
        if has_idr_slice(data) {
            state.avc420_idr_frames += 1;
        }
        // IronRDP gets the size only (see the module docs); the session paints from this one.
        if let Some(unused) = state.last_decoded.replace(Picture { width, height, bgrx }) {
            state.recycle(unused.bgrx);
        }
        Ok(frame)
    }

    fn reset(&mut self) {
        if self.inner.is_none() {
            return;
        }
        match wrd_h264::H264Decoder::new() {
            Ok(decoder) => self.inner = Some(decoder),
            Err(e) => warn!(error = %e, "cannot make a new H.264 decoder after a graphics reset"),
        }
    }
}

struct Handler {
    shared: Shared,
}

impl GraphicsPipelineHandler for Handler {
    fn on_reset_graphics(&mut self, width: u32, height: u32) {
        debug!(width, height, "graphics pipeline reset");
        let mut state = lock(&self.shared);
        state.reset = Some((width, height));
        state.pictures.clear();
        state.origins.clear();
    }

    fn on_surface_created(&mut self, surface: &Surface) {
        debug!(?surface, "graphics pipeline surface created");
    }

    fn on_surface_deleted(&mut self, surface_id: u16) {
        let mut state = lock(&self.shared);
        state.pictures.remove(&surface_id);
        state.origins.remove(&surface_id);
    }

    fn on_surface_mapped(&mut self, surface_id: u16, origin_x: u32, origin_y: u32) {
        lock(&self.shared)
            .origins
            .insert(surface_id, (origin_x, origin_y));
    }

    fn on_bitmap_updated(&mut self, update: &BitmapUpdate) {
        let mut state = lock(&self.shared);
        let (surface, rect) = (update.surface_id, update.destination_rectangle.clone());
        if update.codec_id == Codec1Type::Avc420 {
            if let Some(picture) = state.last_decoded.take()
                && let Some(replaced) = state.pictures.insert(surface, picture)
            {
                state.recycle(replaced.bgrx);
            }
            state.updates.push(GfxUpdate::FromPicture { surface, rect });
        } else {
            let rgba = update.data.clone();
            state.updates.push(GfxUpdate::Pixels { surface, rect, rgba });
        }
    }
}
