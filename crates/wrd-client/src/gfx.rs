//! The graphics pipeline (MS-RDPEGFX), for [`Codec::H264`](crate::Codec::H264) (H.264, AVC420)
//! and [`Codec::GraphicsWithoutH264`](crate::Codec::GraphicsWithoutH264) (an RDP 8.0 client: no
//! H.264, so the server sends planar or uncompressed rectangles).
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
//! Planar rectangles (RDPGFX_CODECID_PLANAR, the RDP 6.0 bitmap stream of [MS-RDPEGDI]
//! 2.2.2.5.1) are not decoded by IronRDP's client, which hands them to the handler's
//! `on_unhandled_pdu`: the handler decodes them into RGBA pixels of the destination rectangle.
//! Any pipeline may receive them, so both modes decode them.
//!
//! Without decoding (`ClientConfig::decode_pictures` off, for benchmarks), each frame is
//! counted and acknowledged and its rectangle reported, but no picture is made or painted.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use ironrdp::graphics::rdp6::BitmapStreamDecoder;
use ironrdp::pdu::PduResult;
use ironrdp::pdu::bitmap::rdp6::BitmapStream;
use ironrdp::pdu::geometry::ExclusiveRectangle;
use ironrdp_dvc::{DvcClientProcessor, DvcMessage, DvcProcessor};
use ironrdp_egfx::client::{BitmapUpdate, GraphicsPipelineClient, GraphicsPipelineHandler, Surface};
use ironrdp_egfx::decode::{DecodedFrame, DecoderError, DecoderResult, H264Decoder};
use ironrdp_egfx::pdu::{CapabilitiesV8Flags, CapabilitySet, Codec1Type, GfxPdu, WireToSurface1Pdu};
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
    /// Planar rectangles decoded (or, without decoding, received with a valid rectangle).
    pub planar_rects: u64,
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
    /// Pixels sent as they are (uncompressed) or decoded from a planar rectangle: R, G, B, A,
    /// `rect`'s width per row, top row first.
    Pixels {
        surface: u16,
        rect: ExclusiveRectangle,
        rgba: Vec<u8>,
    },
    /// A planar rectangle received but not decoded (`decode_pictures` off): reported, not
    /// painted, like an H.264 frame that is not decoded.
    Undecoded { surface: u16, rect: ExclusiveRectangle },
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

/// The channel's client with our handler and, with `h264`, our H.264 decoder (one that only
/// counts, without `decode`); `shared` is where they leave their work.
///
/// Without `h264` the client is an RDP 8.0 one: it advertises the V8 capability set alone and
/// has no H.264 decoder, so the server has to send other codecs (planar, uncompressed).
pub(crate) fn pipeline(
    shared: &Shared,
    decode: bool,
    h264: bool,
) -> Result<GraphicsPipelineClient, wrd_h264::H264Error> {
    let decoder: Option<Box<dyn H264Decoder>> = if h264 {
        Some(Box::new(Decoder {
            inner: if decode {
                Some(wrd_h264::H264Decoder::new()?)
            } else {
                None
            },
            shared: Arc::clone(shared),
        }))
    } else {
        None
    };
    let handler = Handler::new(Arc::clone(shared), decode, h264);
    Ok(GraphicsPipelineClient::new(Box::new(handler), decoder))
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

/// A handler that overrides nothing: what IronRDP's client does by default.
struct IronRdpDefaults;

impl GraphicsPipelineHandler for IronRdpDefaults {}

struct Handler {
    shared: Shared,
    /// Decode planar rectangles (`ClientConfig::decode_pictures`); otherwise count them only.
    decode: bool,
    /// Advertise H.264 (IronRDP's default capability sets) or V8 alone.
    h264: bool,
    /// Width and height of each surface, to reject planar rectangles that do not fit in it
    /// (IronRDP only warns about those before handing them over).
    surfaces: HashMap<u16, (u16, u16)>,
    planar: BitmapStreamDecoder,
    /// The planar decoder's output (R, G, B per pixel), reused from rectangle to rectangle.
    rgb: Vec<u8>,
}

impl Handler {
    fn new(shared: Shared, decode: bool, h264: bool) -> Self {
        Self {
            shared,
            decode,
            h264,
            surfaces: HashMap::new(),
            planar: BitmapStreamDecoder::default(),
            rgb: Vec::new(),
        }
    }

    /// Decodes a planar rectangle into a [`GfxUpdate::Pixels`]; bad data is logged and the
    /// rectangle skipped, since one broken update must not end a test client's session.
    fn on_planar(&mut self, pdu: &WireToSurface1Pdu) {
        let (surface, rect) = (pdu.surface_id, &pdu.destination_rectangle);
        let skip = |reason: &str| {
            warn!(
                surface,
                left = rect.left,
                top = rect.top,
                right = rect.right,
                bottom = rect.bottom,
                bytes = pdu.bitmap_data.len(),
                reason,
                "planar rectangle skipped"
            );
        };
        // Right and bottom are exclusive; a rectangle turned inside out is bad data.
        let (Some(width), Some(height)) = (
            rect.right.checked_sub(rect.left),
            rect.bottom.checked_sub(rect.top),
        ) else {
            return skip("rectangle turned inside out");
        };
        if width == 0 || height == 0 {
            return skip("empty rectangle");
        }
        let Some(&(surface_width, surface_height)) = self.surfaces.get(&surface) else {
            return skip("unknown surface");
        };
        if rect.right > surface_width || rect.bottom > surface_height {
            return skip("rectangle outside the surface");
        }
        if !self.decode {
            let mut state = lock(&self.shared);
            state.planar_rects += 1;
            state.updates.push(GfxUpdate::Undecoded {
                surface,
                rect: rect.clone(),
            });
            return;
        }
        let (width, height) = (usize::from(width), usize::from(height));
        if let Err(reason) = check_planar_size(&pdu.bitmap_data, width, height) {
            return skip(&reason);
        }
        self.rgb.clear();
        if let Err(e) =
            self.planar
                .decode_bitmap_stream_to_rgb24(&pdu.bitmap_data, &mut self.rgb, width, height)
        {
            return skip(&format!("undecodable stream: {e}"));
        }
        if self.rgb.len() != width * height * 3 {
            return skip(&format!(
                "decoded {} bytes instead of {}",
                self.rgb.len(),
                width * height * 3
            ));
        }
        // The decoder writes R, G, B per pixel in the stream's row order, which in the
        // graphics pipeline is top-down (unlike the bottom-up planar bitmaps of the classic
        // path), the order of `GfxUpdate::Pixels`. Alpha, if the server sent a plane of it, is
        // dropped by the decoder: the desktop is opaque.
        let mut rgba = Vec::with_capacity(width * height * 4);
        for pixel in self.rgb.chunks_exact(3) {
            rgba.extend_from_slice(&[pixel[0], pixel[1], pixel[2], 0xFF]);
        }
        let mut state = lock(&self.shared);
        state.planar_rects += 1;
        state.updates.push(GfxUpdate::Pixels {
            surface,
            rect: rect.clone(),
            rgba,
        });
    }
}

/// Checks that a planar stream without RLE holds exactly the planes of a `width` x `height`
/// picture. IronRDP's decoder only checks that there are enough bytes, so a stream made for a
/// larger rectangle would decode into sheared pixels instead of an error. (An RLE stream's
/// size says nothing about the picture's; its scanlines are checked while decoding.)
fn check_planar_size(data: &[u8], width: usize, height: usize) -> Result<(), String> {
    let stream = ironrdp::core::decode::<BitmapStream<'_>>(data)
        .map_err(|e| format!("undecodable stream header: {e}"))?;
    if stream.header.enable_rle_compression {
        return Ok(());
    }
    let luma = width * height;
    let chroma = if stream.has_subsampled_chroma() {
        width.div_ceil(2) * height.div_ceil(2)
    } else {
        luma
    };
    let alpha = if stream.header.use_alpha { luma } else { 0 };
    let expected = alpha + luma + 2 * chroma;
    let got = stream.color_panes_data().len();
    if got == expected {
        Ok(())
    } else {
        Err(format!(
            "{got} bytes of raw planes instead of {expected} for {width}x{height}"
        ))
    }
}

impl GraphicsPipelineHandler for Handler {
    fn capabilities(&self) -> Vec<CapabilitySet> {
        if self.h264 {
            IronRdpDefaults.capabilities()
        } else {
            // An RDP 8.0 client: V8 has no AVC flag, so the server's view of this client says
            // avc420 = false and it has to send planar (or uncompressed) rectangles.
            vec![CapabilitySet::V8 {
                flags: CapabilitiesV8Flags::SMALL_CACHE,
            }]
        }
    }

    fn on_reset_graphics(&mut self, width: u32, height: u32) {
        debug!(width, height, "graphics pipeline reset");
        // A reset deletes every surface ([MS-RDPEGFX] 3.3.5.14).
        self.surfaces.clear();
        let mut state = lock(&self.shared);
        state.reset = Some((width, height));
        state.pictures.clear();
        state.origins.clear();
    }

    fn on_surface_created(&mut self, surface: &Surface) {
        debug!(?surface, "graphics pipeline surface created");
        self.surfaces.insert(surface.id, (surface.width, surface.height));
    }

    fn on_surface_deleted(&mut self, surface_id: u16) {
        self.surfaces.remove(&surface_id);
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

    fn on_unhandled_pdu(&mut self, pdu: &GfxPdu) {
        match pdu {
            GfxPdu::WireToSurface1(w) if w.codec_id == Codec1Type::Planar => self.on_planar(w),
            GfxPdu::WireToSurface1(w) => debug!(
                surface = w.surface_id,
                codec = ?w.codec_id,
                "rectangle of a codec this client does not decode skipped"
            ),
            other => debug!(pdu = ?other, "graphics pipeline PDU ignored"),
        }
    }
}

#[cfg(test)]
// Test pictures and random streams are made of numbers cut to bytes on purpose.
#[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
mod tests {
    use ironrdp::graphics::rdp6::BitmapStreamEncoder;
    use ironrdp::graphics::zgfx::wrap_uncompressed;
    use ironrdp_egfx::pdu::{
        CapabilitiesConfirmPdu, CreateSurfacePdu, EndFramePdu, MapSurfaceToOutputPdu, PixelFormat,
        ResetGraphicsPdu, StartFramePdu, Timestamp,
    };

    use super::*;

    /// A picture whose size is a multiple of nothing useful, in varied colours with a few flat
    /// runs (so that RLE has runs to make): R, G, B per pixel, top row first.
    const WIDTH: u16 = 37;
    const HEIGHT: u16 = 21;
    const SURFACE: u16 = 3;

    fn picture() -> Vec<[u8; 3]> {
        let mut pixels = Vec::new();
        for y in 0..usize::from(HEIGHT) {
            for x in 0..usize::from(WIDTH) {
                let pixel = if (10..20).contains(&x) && y % 4 == 1 {
                    [0x20, 0xC0, 0x7F]
                } else {
                    [
                        (x * 7 + y * 3) as u8,
                        (x * x + 11 * y) as u8,
                        255u8.wrapping_sub((x * 5 + y * y) as u8),
                    ]
                };
                pixels.push(pixel);
            }
        }
        pixels
    }

    fn planar_stream(pixels: &[[u8; 3]], width: u16, height: u16, rle: bool) -> Vec<u8> {
        let mut encoder = BitmapStreamEncoder::new(usize::from(width), usize::from(height));
        let mut out = vec![0; pixels.len() * 4 + 64];
        let channel = |c: usize| pixels.iter().map(move |p| p[c]);
        let len = encoder
            .encode_channels_stream((channel(0), channel(1), channel(2)), &mut out, rle)
            .unwrap();
        out.truncate(len);
        out
    }

    fn rgba(pixels: &[[u8; 3]]) -> Vec<u8> {
        pixels.iter().flat_map(|&[r, g, b]| [r, g, b, 0xFF]).collect()
    }

    /// A rectangle of the picture's size, away from the surface's corner.
    fn destination() -> ExclusiveRectangle {
        ExclusiveRectangle {
            left: 5,
            top: 9,
            right: 5 + WIDTH,
            bottom: 9 + HEIGHT,
        }
    }

    fn planar_pdu(rect: ExclusiveRectangle, bitmap_data: Vec<u8>) -> GfxPdu {
        GfxPdu::WireToSurface1(WireToSurface1Pdu {
            surface_id: SURFACE,
            codec_id: Codec1Type::Planar,
            pixel_format: PixelFormat::XRgb,
            destination_rectangle: rect,
            bitmap_data,
        })
    }

    /// Our handler without H.264, with a 64x40 surface the server created.
    fn handler(decode: bool) -> (Handler, Shared) {
        let shared = Shared::default();
        let mut handler = Handler::new(Arc::clone(&shared), decode, false);
        handler.surfaces.insert(SURFACE, (64, 40));
        (handler, shared)
    }

    fn assert_no_update(shared: &Shared, what: &str) {
        let state = lock(shared);
        assert!(state.updates.is_empty(), "{what}: {:?}", state.updates);
        assert_eq!(state.planar_rects, 0, "{what}");
    }

    #[test]
    fn planar_rectangle_decodes_to_its_pixels_in_rgba() {
        let pixels = picture();
        for rle in [false, true] {
            let (mut handler, shared) = handler(true);
            handler.on_unhandled_pdu(&planar_pdu(
                destination(),
                planar_stream(&pixels, WIDTH, HEIGHT, rle),
            ));
            let state = lock(&shared);
            assert_eq!(state.planar_rects, 1, "rle {rle}");
            let [
                GfxUpdate::Pixels {
                    surface,
                    rect,
                    rgba: got,
                },
            ] = state.updates.as_slice()
            else {
                panic!("rle {rle}: {:?}", state.updates);
            };
            assert_eq!(*surface, SURFACE);
            assert_eq!(*rect, destination());
            assert_eq!(got.len(), usize::from(WIDTH) * usize::from(HEIGHT) * 4);
            assert!(*got == rgba(&pixels), "rle {rle}: pixels differ");
        }
    }

    #[test]
    fn bad_planar_data_is_skipped() {
        let pixels = picture();
        let wider = [pixels.clone(), pixels[..usize::from(HEIGHT)].to_vec()].concat();
        let cases: Vec<(&str, Vec<u8>)> = vec![
            ("empty", Vec::new()),
            ("raw header alone", vec![0x20]),
            ("RLE header alone", vec![0x30]),
            ("raw planes cut short", {
                let mut s = planar_stream(&pixels, WIDTH, HEIGHT, false);
                s.truncate(s.len() / 2);
                s
            }),
            ("RLE planes cut short", {
                let mut s = planar_stream(&pixels, WIDTH, HEIGHT, true);
                s.truncate(s.len() / 2);
                s
            }),
            ("RLE zero control byte", vec![0x30, 0x00, 0x00, 0x00]),
            (
                "raw planes of a wider picture",
                planar_stream(&wider, WIDTH + 1, HEIGHT, false),
            ),
            (
                "RLE planes of a wider picture",
                planar_stream(&wider, WIDTH + 1, HEIGHT, true),
            ),
            ("garbage", (0..600u32).map(|i| (i * 97 % 251) as u8).collect()),
        ];
        for (what, data) in cases {
            let (mut handler, shared) = handler(true);
            handler.on_unhandled_pdu(&planar_pdu(destination(), data));
            assert_no_update(&shared, what);
        }
    }

    #[test]
    fn random_planar_data_never_panics() {
        // Whatever a random stream decodes to, the handler must come back.
        let mut seed = 0x2545_F491_u32;
        let (mut handler, _shared) = handler(true);
        for round in 0..2000_usize {
            let len = round % 97;
            let mut data: Vec<u8> = (0..len)
                .map(|_| {
                    seed ^= seed << 13;
                    seed ^= seed >> 17;
                    seed ^= seed << 5;
                    seed as u8
                })
                .collect();
            if let Some(header) = data.first_mut() {
                // Every combination of RLE, no-alpha, subsampling and colour loss level.
                *header = (round % 64) as u8;
            }
            let rect = ExclusiveRectangle {
                left: 0,
                top: 0,
                right: 1 + (round % 7) as u16,
                bottom: 1 + (round % 5) as u16,
            };
            handler.on_unhandled_pdu(&planar_pdu(rect, data));
        }
    }

    #[test]
    fn planar_rectangles_that_do_not_fit_are_skipped() {
        let stream = planar_stream(&picture(), WIDTH, HEIGHT, true);
        let outside = ExclusiveRectangle {
            left: 30,
            top: 0,
            right: 30 + WIDTH,
            bottom: HEIGHT,
        };
        let inside_out = ExclusiveRectangle {
            left: 10,
            top: 9,
            right: 5,
            bottom: 9 + HEIGHT,
        };
        let empty = ExclusiveRectangle {
            left: 5,
            top: 9,
            right: 5,
            bottom: 9,
        };
        for (what, rect) in [("outside", outside), ("inside out", inside_out), ("empty", empty)] {
            let (mut handler, shared) = handler(true);
            handler.on_unhandled_pdu(&planar_pdu(rect, stream.clone()));
            assert_no_update(&shared, what);
        }
        let (mut handler, shared) = handler(true);
        handler.surfaces.clear();
        handler.on_unhandled_pdu(&planar_pdu(destination(), stream));
        assert_no_update(&shared, "unknown surface");
    }

    #[test]
    fn planar_rectangles_are_counted_not_decoded_without_decoding() {
        let (mut handler, shared) = handler(false);
        // Not even looked at: a client that does not decode costs nothing per byte.
        handler.on_unhandled_pdu(&planar_pdu(destination(), vec![0xAB; 7]));
        let state = lock(&shared);
        assert_eq!(state.planar_rects, 1);
        let [GfxUpdate::Undecoded { surface, rect }] = state.updates.as_slice() else {
            panic!("{:?}", state.updates);
        };
        assert_eq!((*surface, rect.clone()), (SURFACE, destination()));
    }

    #[test]
    fn other_codecs_are_skipped() {
        let (mut handler, shared) = handler(true);
        let GfxPdu::WireToSurface1(mut pdu) = planar_pdu(destination(), vec![0; 16]) else {
            unreachable!()
        };
        pdu.codec_id = Codec1Type::ClearCodec;
        handler.on_unhandled_pdu(&GfxPdu::WireToSurface1(pdu));
        assert_no_update(&shared, "ClearCodec");
    }

    #[test]
    fn advertises_v8_alone_without_h264() {
        let shared = Shared::default();
        assert_eq!(
            Handler::new(Arc::clone(&shared), true, false).capabilities(),
            vec![CapabilitySet::V8 {
                flags: CapabilitiesV8Flags::SMALL_CACHE
            }]
        );
        assert_eq!(
            Handler::new(Arc::clone(&shared), true, true).capabilities(),
            IronRdpDefaults.capabilities()
        );

        // What goes on the wire.
        let mut client = pipeline(&shared, true, false).unwrap();
        let messages = client.start(1).unwrap();
        let [message] = messages.as_slice() else {
            panic!("{} messages", messages.len());
        };
        let bytes = ironrdp::core::encode_vec(message.as_ref()).unwrap();
        let GfxPdu::CapabilitiesAdvertise(advertise) = ironrdp::core::decode::<GfxPdu>(&bytes).unwrap()
        else {
            panic!("not a CapabilitiesAdvertise PDU");
        };
        let sets: Vec<_> = advertise.0.iter().map(|set| set.parsed().unwrap()).collect();
        assert_eq!(
            sets,
            vec![Some(CapabilitySet::V8 {
                flags: CapabilitiesV8Flags::SMALL_CACHE
            })]
        );
    }

    /// Through IronRDP's client, as on the wire: the surface it creates, the planar rectangle
    /// it hands over, the acknowledgement of the frame.
    #[test]
    fn pipeline_without_h264_paints_planar_frames_and_acknowledges_them() {
        let shared = Shared::default();
        let mut client = pipeline(&shared, true, false).unwrap();
        client.start(1).unwrap();
        let pixels = picture();
        let pdus = [
            GfxPdu::CapabilitiesConfirm(CapabilitiesConfirmPdu::from_typed(&CapabilitySet::V8 {
                flags: CapabilitiesV8Flags::SMALL_CACHE,
            })),
            GfxPdu::ResetGraphics(ResetGraphicsPdu {
                width: 64,
                height: 40,
                monitors: Vec::new(),
            }),
            GfxPdu::CreateSurface(CreateSurfacePdu {
                surface_id: SURFACE,
                width: 64,
                height: 40,
                pixel_format: PixelFormat::XRgb,
            }),
            GfxPdu::MapSurfaceToOutput(MapSurfaceToOutputPdu {
                surface_id: SURFACE,
                output_origin_x: 0,
                output_origin_y: 0,
            }),
            GfxPdu::StartFrame(StartFramePdu {
                timestamp: Timestamp {
                    milliseconds: 0,
                    seconds: 0,
                    minutes: 0,
                    hours: 0,
                },
                frame_id: 7,
            }),
            planar_pdu(destination(), planar_stream(&pixels, WIDTH, HEIGHT, true)),
            GfxPdu::EndFrame(EndFramePdu { frame_id: 7 }),
        ];
        let mut responses = Vec::new();
        for pdu in &pdus {
            let bytes = ironrdp::core::encode_vec(pdu).unwrap();
            responses.extend(client.process(1, &wrap_uncompressed(&bytes)).unwrap());
        }
        let acks: Vec<_> = responses.iter().filter_map(frame_acknowledge).collect();
        assert_eq!(acks, vec![(7, 1)]);

        let state = lock(&shared);
        assert_eq!(state.planar_rects, 1);
        let [
            GfxUpdate::Pixels {
                surface,
                rect,
                rgba: got,
            },
        ] = state.updates.as_slice()
        else {
            panic!("{:?}", state.updates);
        };
        assert_eq!((*surface, rect.clone()), (SURFACE, destination()));
        assert!(*got == rgba(&pixels), "pixels differ");
    }
}
