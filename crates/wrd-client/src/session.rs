//! The active session: PDU processing, input, statistics, disconnect.

use core::sync::atomic::Ordering;
use core::time::Duration;
use std::collections::{BTreeSet, VecDeque};
use std::sync::Arc;

use ironrdp::connector::connection_activation::{ConnectionActivationFactory, ConnectionActivationState};
use ironrdp::core::ReadCursor;
use ironrdp::core::WriteBuf;
use ironrdp::graphics::image_processing::PixelFormat;
use ironrdp::pdu::Action;
use ironrdp::pdu::fast_path::{FastPathHeader, FastPathUpdatePdu, Fragmentation, UpdateCode};
use ironrdp::pdu::geometry::InclusiveRectangle;
use ironrdp::pdu::input::MousePdu;
use ironrdp::pdu::input::fast_path::{FastPathInput, FastPathInputEvent, KeyboardFlags};
use ironrdp::pdu::input::mouse::PointerFlags;
use ironrdp::pdu::mcs::McsMessage;
use ironrdp::pdu::rdp::headers::CompressionFlags;
use ironrdp::pdu::x224::X224;
use ironrdp::session::image::DecodedImage;
use ironrdp::session::{ActiveStage, ActiveStageBuilder, ActiveStageOutput, fast_path};
use ironrdp_tokio::{FramedWrite as _, TokioFramed};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::time::{Instant, timeout, timeout_at};
use tracing::{debug, trace, warn};

use crate::connect::{ConnectPhases, Connected};
use crate::error::io_to_client;
use crate::transport::{SessionStream, WireCounters};
use crate::{ClientConfig, ClientError, Framebuffer, PixelLayout, Rect};

/// Something the server did, as decoded by [`Session::next_event`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionEvent {
    /// A region of the framebuffer was redrawn.
    GraphicsUpdate { region: Rect },
    /// The server changed the pointer (never drawn into the framebuffer).
    PointerChanged(PointerUpdate),
    /// The desktop has a new size: the server ran a deactivation-reactivation sequence, or
    /// reset the graphics pipeline (ResetGraphics); the framebuffer was
    /// reallocated (black) at the new size.
    Resized { width: u16, height: u16 },
    /// The server ended the session (error info / disconnect ultimatum). Later calls fail with
    /// [`ClientError::Disconnected`].
    Terminated(String),
}

/// Pointer change announced by the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PointerUpdate {
    Default,
    Hidden,
    Position {
        x: u16,
        y: u16,
    },
    Bitmap {
        width: u16,
        height: u16,
        hotspot_x: u16,
        hotspot_y: u16,
    },
}

/// Mouse button for [`Session::send_mouse_button`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MouseButton {
    Left,
    Right,
    Middle,
}

/// Counters and timings of one session. Durations are measured from the start of the TCP
/// connect.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    /// Bytes read from the TCP socket, everything included (X.224, TLS records, CredSSP, PDUs).
    pub bytes_received: u64,
    /// Bytes written to the TCP socket, everything included.
    pub bytes_sent: u64,
    /// Decrypted RDP PDU bytes received since the session became active.
    pub pdu_bytes_received: u64,
    /// RDP PDUs (fast-path or X.224 frames) received since the session became active.
    pub pdus_received: u64,
    /// Graphics updates decoded ([`SessionEvent::GraphicsUpdate`] count).
    pub graphics_updates: u64,
    /// Sum of the areas of the decoded graphics updates, in pixels.
    pub pixels_updated: u64,
    /// Codec ids of the surface bits the server sent (`CODEC_ID_NONE` 0, RemoteFX 3, ...), as
    /// seen in the first command of each unfragmented or first-fragment surface-commands
    /// update (compressed updates are not looked into).
    pub surface_codec_ids: BTreeSet<u8>,
    /// Fast-path bitmap updates (plain or RLE bitmaps, no codec) received.
    pub bitmap_update_pdus: u64,
    /// H.264 (AVC420) frames decoded from the graphics pipeline.
    pub avc420_frames: u64,
    /// Of them, IDR pictures (decodable on their own: a start, a resize, a recovery).
    pub avc420_idr_frames: u64,
    /// Planar rectangles (RDPGFX_CODECID_PLANAR) decoded from the graphics pipeline (with
    /// [`ClientConfig::decode_pictures`](crate::ClientConfig::decode_pictures) off: received).
    pub planar_rects: u64,
    /// Input events sent.
    pub input_events_sent: u64,
    /// Deactivation-reactivation sequences run (classic resizes; the graphics pipeline resizes
    /// with ResetGraphics instead).
    pub reactivations: u64,
    /// TCP connect start → RDP session active.
    pub connect_duration: Duration,
    /// Breakdown of `connect_duration`.
    pub connect_phases: ConnectPhases,
    /// When the first graphics update was decoded.
    pub first_frame_at: Option<Duration>,
    /// When the latest graphics update was decoded.
    pub last_frame_at: Option<Duration>,
}

#[derive(Debug)]
enum State {
    Active,
    /// The server ended the session.
    Terminated(String),
    /// The transport failed or a write was cut short: the stream cannot be used any more.
    Broken(String),
}

/// A live view of a session's socket byte counters (everything included: X.224, TLS records,
/// CredSSP, PDUs).
#[derive(Debug, Clone)]
pub struct WireBytes(Arc<WireCounters>);

impl WireBytes {
    pub fn received(&self) -> u64 {
        self.0.received.load(Ordering::Relaxed)
    }

    pub fn sent(&self) -> u64 {
        self.0.sent.load(Ordering::Relaxed)
    }
}

/// A connected RDP session. All methods are bounded: reads by the caller's deadline, writes by
/// [`ClientConfig::write_timeout`], a deactivation-reactivation sequence by
/// [`ClientConfig::connect_timeout`].
pub struct Session {
    framed: TokioFramed<SessionStream>,
    stage: ActiveStage,
    image: DecodedImage,
    layout: PixelLayout,
    activation_factory: ConnectionActivationFactory,
    pending: VecDeque<SessionEvent>,
    state: State,
    mouse: (u16, u16),
    write_timeout: Duration,
    reactivation_timeout: Duration,
    started: Instant,
    counters: Arc<WireCounters>,
    stats: Stats,
    local_addr: std::net::SocketAddr,
    /// With the graphics pipeline: what it decoded, and the desktop it is painted on (in the
    /// session's pixel layout), which the framebuffer shows once the pipeline has drawn.
    gfx: Option<crate::gfx::Shared>,
    gfx_image: Option<GfxImage>,
    /// With the clipboard channel: what it reported, and our next File Contents stream id.
    clipboard: Option<crate::clipboard::Shared>,
    next_stream: u32,
}

/// The desktop as the graphics pipeline paints it.
#[derive(Debug)]
struct GfxImage {
    width: u16,
    height: u16,
    data: Vec<u8>,
}

impl core::fmt::Debug for Session {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Session")
            .field("width", &self.image.width())
            .field("height", &self.image.height())
            .field("layout", &self.layout)
            .field("state", &self.state)
            .field("pending", &self.pending.len())
            .finish_non_exhaustive()
    }
}

fn pixel_format(layout: PixelLayout) -> PixelFormat {
    match layout {
        PixelLayout::Bgrx => PixelFormat::BgrX32,
        PixelLayout::Rgba => PixelFormat::RgbA32,
    }
}

fn rect(r: &InclusiveRectangle) -> Rect {
    Rect {
        x: r.left,
        y: r.top,
        width: r.right.saturating_sub(r.left).saturating_add(1),
        height: r.bottom.saturating_sub(r.top).saturating_add(1),
    }
}

/// What a fast-path frame carries, for [`Stats`]: the codec ids of surface bits and the number of
/// bitmap updates. Only headers are read; the frame is decoded for real by `ActiveStage`.
fn peek_fast_path(frame: &[u8], codec_ids: &mut BTreeSet<u8>, bitmap_updates: &mut u64) {
    /// `cmdType` values of surface commands ([MS-RDPBCGR] 2.2.9.2).
    const SET_SURFACE_BITS: u16 = 0x0001;
    const STREAM_SURFACE_BITS: u16 = 0x0006;
    const FRAME_MARKER: u16 = 0x0004;
    /// A frame marker is `cmdType`, `frameAction` (u16) and `frameId` (u32).
    const FRAME_MARKER_LEN: usize = 8;
    /// In surface bits, `codecID` follows `cmdType`, the destination rectangle (4 x u16) and
    /// `bpp`, `flags`, `reserved` (3 x u8).
    const CODEC_ID_OFFSET: usize = 2 + 8 + 3;

    let mut cursor = ReadCursor::new(frame);
    if ironrdp::core::decode_cursor::<FastPathHeader>(&mut cursor).is_err() {
        return;
    }
    while !cursor.is_empty() {
        let Ok(update) = ironrdp::core::decode_cursor::<FastPathUpdatePdu<'_>>(&mut cursor) else {
            return;
        };
        let starts_update = matches!(update.fragmentation, Fragmentation::Single | Fragmentation::First);
        let compressed = update
            .compression_flags
            .is_some_and(|f| f.contains(CompressionFlags::COMPRESSED));
        if !starts_update || compressed {
            continue;
        }
        match update.update_code {
            UpdateCode::Bitmap => *bitmap_updates += 1,
            UpdateCode::SurfaceCommands => {
                let mut data = update.data;
                while let Some(&[lo, hi]) = data.get(..2) {
                    match u16::from_le_bytes([lo, hi]) {
                        FRAME_MARKER => data = data.get(FRAME_MARKER_LEN..).unwrap_or_default(),
                        SET_SURFACE_BITS | STREAM_SURFACE_BITS => {
                            if let Some(&id) = data.get(CODEC_ID_OFFSET) {
                                codec_ids.insert(id);
                            }
                            break;
                        }
                        _ => break,
                    }
                }
            }
            _ => {}
        }
    }
}

/// `Some(reason)` if `frame` is an MCS Disconnect Provider Ultimatum (which `ActiveStage`
/// reports as a decode error rather than a termination).
fn disconnect_ultimatum(frame: &[u8]) -> Option<String> {
    match ironrdp::core::decode::<X224<McsMessage<'_>>>(frame) {
        Ok(X224(McsMessage::DisconnectProviderUltimatum(u))) => Some(format!(
            "server sent a disconnect ultimatum ({})",
            u.reason.description()
        )),
        _ => None,
    }
}

pub(crate) fn new_session(connected: Connected, config: &ClientConfig) -> Session {
    let Connected {
        framed,
        result,
        counters,
        started,
        phases,
        local_addr,
        gfx,
        clipboard,
    } = connected;

    let stage = ActiveStageBuilder {
        static_channels: result.static_channels,
        user_channel_id: result.user_channel_id,
        io_channel_id: result.io_channel_id,
        message_channel_id: result.message_channel_id,
        share_id: result.share_id,
        compression_type: result.compression_type,
        enable_server_pointer: result.enable_server_pointer,
        pointer_software_rendering: result.pointer_software_rendering,
    }
    .build();
    let image = DecodedImage::new(
        pixel_format(config.pixel_layout),
        result.desktop_size.width,
        result.desktop_size.height,
    );

    Session {
        framed,
        stage,
        image,
        layout: config.pixel_layout,
        activation_factory: result.activation_factory,
        pending: VecDeque::new(),
        state: State::Active,
        mouse: (0, 0),
        write_timeout: config.write_timeout,
        reactivation_timeout: config.connect_timeout,
        started,
        counters,
        stats: Stats {
            connect_duration: started.elapsed(),
            connect_phases: phases,
            ..Stats::default()
        },
        local_addr,
        gfx,
        gfx_image: None,
        clipboard,
        next_stream: 0,
    }
}

impl Session {
    /// This client's end of the TCP connection (tests use it to single out one connection).
    pub fn local_addr(&self) -> std::net::SocketAddr {
        self.local_addr
    }

    /// Desktop size announced by the server (the framebuffer size).
    pub fn desktop_size(&self) -> (u16, u16) {
        match &self.gfx_image {
            Some(g) => (g.width, g.height),
            None => (self.image.width(), self.image.height()),
        }
    }

    /// When [`connect`](crate::connect) started (before the TCP connect); the origin of the
    /// durations in [`Stats`].
    pub fn started_at(&self) -> Instant {
        self.started
    }

    /// Whether the session can still be used (not terminated, transport intact).
    pub fn is_active(&self) -> bool {
        matches!(self.state, State::Active)
    }

    /// View of the decoded desktop.
    pub fn framebuffer(&self) -> Framebuffer<'_> {
        if let Some(g) = &self.gfx_image {
            return Framebuffer {
                width: g.width,
                height: g.height,
                stride: usize::from(g.width) * 4,
                layout: self.layout,
                data: &g.data,
            };
        }
        Framebuffer {
            width: self.image.width(),
            height: self.image.height(),
            stride: self.image.stride(),
            layout: self.layout,
            data: self.image.data(),
        }
    }

    pub fn stats(&self) -> Stats {
        Stats {
            bytes_received: self.counters.received.load(Ordering::Relaxed),
            bytes_sent: self.counters.sent.load(Ordering::Relaxed),
            ..self.stats.clone()
        }
    }

    fn check_usable(&self) -> Result<(), ClientError> {
        match &self.state {
            State::Active => Ok(()),
            State::Terminated(reason) => {
                Err(ClientError::Disconnected(format!("session terminated: {reason}")))
            }
            State::Broken(reason) => Err(ClientError::Disconnected(reason.clone())),
        }
    }

    /// Read and decode PDUs until one produces an event, or `deadline` passes
    /// ([`ClientError::Timeout`]; the session stays usable). Protocol responses (e.g. frame
    /// acknowledgements) are sent as a side effect, each bounded by the write timeout.
    ///
    /// Bound the wait with `deadline` rather than by dropping the future: dropping it while a
    /// response is being written leaves the TLS stream in an unknown state.
    ///
    /// A PDU that cannot be decoded yields [`ClientError::Protocol`] and is skipped; the session
    /// stays usable. Transport failures yield [`ClientError::Disconnected`] and end the session.
    pub async fn next_event(&mut self, deadline: Instant) -> Result<SessionEvent, ClientError> {
        loop {
            if let Some(event) = self.pending.pop_front() {
                return Ok(event);
            }
            self.check_usable()?;
            // `read_pdu` is cancel-safe: bytes already read stay in the framed buffer.
            let (action, frame) = match timeout_at(deadline, self.framed.read_pdu()).await {
                Err(_) => return Err(ClientError::Timeout("waiting for a server PDU")),
                Ok(Err(e)) => return Err(self.broken(io_to_client("reading from the server", &e))),
                Ok(Ok(pdu)) => pdu,
            };
            self.process_frame(action, &frame).await?;
        }
    }

    /// Wait until at least one graphics update has been decoded.
    pub async fn wait_for_frame(&mut self, deadline: Instant) -> Result<(), ClientError> {
        loop {
            match self.next_event(deadline).await {
                Ok(SessionEvent::GraphicsUpdate { .. }) => return Ok(()),
                Ok(SessionEvent::Terminated(reason)) => {
                    return Err(ClientError::Disconnected(format!("session terminated: {reason}")));
                }
                Ok(_) => {}
                Err(ClientError::Timeout(_)) => return Err(ClientError::Timeout("waiting for a frame")),
                Err(e) => return Err(e),
            }
        }
    }

    /// Process events until `pred` holds for the framebuffer (checked now, then after every
    /// graphics update or resize).
    pub async fn wait_until(
        &mut self,
        deadline: Instant,
        mut pred: impl FnMut(&Framebuffer<'_>) -> bool,
    ) -> Result<(), ClientError> {
        if pred(&self.framebuffer()) {
            return Ok(());
        }
        loop {
            match self.next_event(deadline).await {
                Ok(SessionEvent::GraphicsUpdate { .. } | SessionEvent::Resized { .. }) => {
                    if pred(&self.framebuffer()) {
                        return Ok(());
                    }
                }
                Ok(SessionEvent::Terminated(reason)) => {
                    return Err(ClientError::Disconnected(format!("session terminated: {reason}")));
                }
                Ok(SessionEvent::PointerChanged(_)) => {}
                Err(ClientError::Timeout(_)) => {
                    return Err(ClientError::Timeout("waiting for the framebuffer condition"));
                }
                Err(e) => return Err(e),
            }
        }
    }

    fn broken(&mut self, error: ClientError) -> ClientError {
        if matches!(self.state, State::Active) {
            self.state = State::Broken(error.to_string());
        }
        error
    }

    fn terminate(&mut self, reason: String) {
        debug!(%reason, "session terminated by the server");
        self.pending.push_back(SessionEvent::Terminated(reason.clone()));
        self.state = State::Terminated(reason);
    }

    /// Write one frame under the write timeout. A timed-out or failed write leaves the TLS
    /// stream in an unknown state, so the session is marked unusable.
    async fn write(&mut self, bytes: &[u8], step: &'static str) -> Result<(), ClientError> {
        self.check_usable()?;
        match timeout(self.write_timeout, self.framed.write_all(bytes)).await {
            Err(_) => {
                self.state = State::Broken(format!("a write timed out while {step}"));
                Err(ClientError::Timeout(step))
            }
            Ok(Err(e)) => Err(self.broken(io_to_client(step, &e))),
            Ok(Ok(())) => Ok(()),
        }
    }

    async fn process_frame(&mut self, action: Action, frame: &[u8]) -> Result<(), ClientError> {
        self.stats.pdus_received += 1;
        self.stats.pdu_bytes_received += u64::try_from(frame.len()).unwrap_or(u64::MAX);
        trace!(?action, len = frame.len(), "PDU received");
        if action == Action::FastPath {
            peek_fast_path(
                frame,
                &mut self.stats.surface_codec_ids,
                &mut self.stats.bitmap_update_pdus,
            );
        }

        if action == Action::X224
            && let Some(reason) = disconnect_ultimatum(frame)
        {
            self.terminate(reason);
            return Ok(());
        }

        // A PDU the stage cannot handle is reported, but the framing is intact: the session
        // stays usable.
        let outputs = self
            .stage
            .process(&mut self.image, action, frame)
            .map_err(|e| ClientError::Protocol(format!("processing a server PDU: {}", e.report())))?;

        for output in outputs {
            match output {
                ActiveStageOutput::ResponseFrame(bytes) => {
                    if !bytes.is_empty() {
                        self.write(&bytes, "answering the server").await?;
                    }
                }
                ActiveStageOutput::GraphicsUpdate(region) => {
                    let region = rect(&region);
                    let at = self.started.elapsed();
                    self.stats.graphics_updates += 1;
                    self.stats.pixels_updated += region.area();
                    self.stats.first_frame_at.get_or_insert(at);
                    self.stats.last_frame_at = Some(at);
                    self.pending.push_back(SessionEvent::GraphicsUpdate { region });
                }
                ActiveStageOutput::PointerDefault => {
                    self.pending
                        .push_back(SessionEvent::PointerChanged(PointerUpdate::Default));
                }
                ActiveStageOutput::PointerHidden => {
                    self.pending
                        .push_back(SessionEvent::PointerChanged(PointerUpdate::Hidden));
                }
                ActiveStageOutput::PointerPosition { x, y } => {
                    self.pending
                        .push_back(SessionEvent::PointerChanged(PointerUpdate::Position { x, y }));
                }
                ActiveStageOutput::PointerBitmap(pointer) => {
                    self.pending
                        .push_back(SessionEvent::PointerChanged(PointerUpdate::Bitmap {
                            width: pointer.width,
                            height: pointer.height,
                            hotspot_x: pointer.hotspot_x,
                            hotspot_y: pointer.hotspot_y,
                        }));
                }
                ActiveStageOutput::Terminate(reason) => {
                    self.terminate(reason.description());
                }
                ActiveStageOutput::DeactivateAll => {
                    self.reactivate().await?;
                }
                ActiveStageOutput::MultitransportRequest(_) => {
                    debug!("ignoring a multitransport request (TCP only)");
                }
                ActiveStageOutput::AutoDetect(request) => {
                    debug!(?request, "auto-detect result");
                }
            }
        }
        self.paint_graphics_pipeline();
        self.service_clipboard().await
    }

    /// Paints what the graphics pipeline decoded onto the desktop (made the first time, from
    /// what the classic path drew so far) and reports each rectangle as a graphics update.
    fn paint_graphics_pipeline(&mut self) {
        let Some(shared) = &self.gfx else { return };
        let mut state = crate::gfx::lock(shared);
        if let Some((width, height)) = state.reset.take() {
            let (w, h) = (
                u16::try_from(width).unwrap_or(u16::MAX),
                u16::try_from(height).unwrap_or(u16::MAX),
            );
            if self
                .gfx_image
                .as_ref()
                .is_none_or(|g| (g.width, g.height) != (w, h))
            {
                self.gfx_image = Some(GfxImage {
                    width: w,
                    height: h,
                    data: vec![0; usize::from(w) * usize::from(h) * 4],
                });
                self.pending
                    .push_back(SessionEvent::Resized { width: w, height: h });
            }
        }
        self.stats.avc420_frames = state.avc420_frames;
        self.stats.avc420_idr_frames = state.avc420_idr_frames;
        self.stats.planar_rects = state.planar_rects;
        if state.updates.is_empty() {
            return;
        }
        let updates = std::mem::take(&mut state.updates);
        let image = self.gfx_image.get_or_insert_with(|| GfxImage {
            width: self.image.width(),
            height: self.image.height(),
            data: self.image.data().to_vec(),
        });
        let rgba_layout = self.layout == PixelLayout::Rgba;
        for update in updates {
            let (surface, r) = match &update {
                crate::gfx::GfxUpdate::FromPicture { surface, rect }
                | crate::gfx::GfxUpdate::Pixels { surface, rect, .. }
                | crate::gfx::GfxUpdate::Undecoded { surface, rect } => (*surface, rect.clone()),
            };
            let (ox, oy) = state.origins.get(&surface).copied().unwrap_or((0, 0));
            let (w, h) = (
                usize::from(r.right.saturating_sub(r.left)),
                usize::from(r.bottom.saturating_sub(r.top)),
            );
            let (dst_w, dst_h) = (usize::from(image.width), usize::from(image.height));
            let (x0, y0) = (
                ox as usize + usize::from(r.left),
                oy as usize + usize::from(r.top),
            );
            let w = w.min(dst_w.saturating_sub(x0));
            let h = h.min(dst_h.saturating_sub(y0));
            if w == 0 || h == 0 {
                continue;
            }
            for row in 0..h {
                let dst = (y0 + row) * dst_w * 4 + x0 * 4;
                let Some(out) = image.data.get_mut(dst..dst + w * 4) else {
                    break;
                };
                // Source pixels: B, G, R, X from the picture, or R, G, B, A sent as they are.
                let (src, src_is_bgr): (&[u8], bool) = match &update {
                    crate::gfx::GfxUpdate::FromPicture { .. } => {
                        let Some(picture) = state.pictures.get(&surface) else {
                            break;
                        };
                        if usize::from(r.top) + row >= picture.height {
                            break;
                        }
                        let start = (usize::from(r.top) + row) * picture.width * 4 + usize::from(r.left) * 4;
                        match picture.bgrx.get(start..start + w * 4) {
                            Some(src) => (src, true),
                            None => break,
                        }
                    }
                    crate::gfx::GfxUpdate::Pixels { rgba, .. } => {
                        let full_w = usize::from(r.right.saturating_sub(r.left));
                        let start = row * full_w * 4;
                        match rgba.get(start..start + w * 4) {
                            Some(src) => (src, false),
                            None => break,
                        }
                    }
                    // Reported as an update, nothing to paint.
                    crate::gfx::GfxUpdate::Undecoded { .. } => break,
                };
                copy_opaque(out, src, src_is_bgr == rgba_layout);
            }
            let region = Rect {
                x: u16::try_from(x0).unwrap_or(u16::MAX),
                y: u16::try_from(y0).unwrap_or(u16::MAX),
                width: u16::try_from(w).unwrap_or(u16::MAX),
                height: u16::try_from(h).unwrap_or(u16::MAX),
            };
            let at = self.started.elapsed();
            self.stats.graphics_updates += 1;
            self.stats.pixels_updated += region.area();
            self.stats.first_frame_at.get_or_insert(at);
            self.stats.last_frame_at = Some(at);
            self.pending.push_back(SessionEvent::GraphicsUpdate { region });
        }
    }

    /// Deactivation-reactivation sequence ([MS-RDPBCGR] 1.3.1.3), bounded by the connect
    /// timeout. Interrupting it would desynchronise the protocol, so failures break the session.
    async fn reactivate(&mut self) -> Result<(), ClientError> {
        debug!("Deactivate All received, running the reactivation sequence");
        let deadline = Instant::now() + self.reactivation_timeout;
        let mut sequence = self.activation_factory.create();
        let mut buf = WriteBuf::new();
        loop {
            let step = ironrdp_tokio::single_sequence_step_read(&mut self.framed, &mut sequence, &mut buf);
            let written = match timeout_at(deadline, step).await {
                Err(_) => {
                    self.state = State::Broken("deactivation-reactivation timed out".to_owned());
                    return Err(ClientError::Timeout("deactivation-reactivation"));
                }
                Ok(Err(e)) => {
                    let error = ClientError::Protocol(format!("deactivation-reactivation: {}", e.report()));
                    return Err(self.broken(error));
                }
                Ok(Ok(written)) => written,
            };
            if written.size().is_some() {
                let bytes = buf.filled().to_vec();
                self.write(&bytes, "answering the reactivation").await?;
            }
            if let ConnectionActivationState::Finalized {
                desktop_size,
                share_id,
                enable_server_pointer,
                pointer_software_rendering,
            } = sequence.connection_activation_state()
            {
                self.stage.set_fastpath_processor(
                    fast_path::ProcessorBuilder {
                        io_channel_id: sequence.io_channel_id(),
                        user_channel_id: sequence.user_channel_id(),
                        share_id,
                        enable_server_pointer,
                        pointer_software_rendering,
                        bulk_decompressor: None,
                    }
                    .build(),
                );
                self.stage.set_share_id(share_id);
                self.stage.set_enable_server_pointer(enable_server_pointer);
                self.image =
                    DecodedImage::new(pixel_format(self.layout), desktop_size.width, desktop_size.height);
                debug!(?desktop_size, "reactivation done");
                self.stats.reactivations += 1;
                self.pending.push_back(SessionEvent::Resized {
                    width: desktop_size.width,
                    height: desktop_size.height,
                });
                return Ok(());
            }
        }
    }

    /// Send fast-path input events (1 to 255) in one PDU.
    async fn send_fastpath(&mut self, events: Vec<FastPathInputEvent>) -> Result<(), ClientError> {
        let count = u64::try_from(events.len()).unwrap_or(u64::MAX);
        let pdu = FastPathInput::new(events).map_err(|e| ClientError::Protocol(format!("input PDU: {e}")))?;
        let frame = ironrdp::core::encode_vec(&pdu)
            .map_err(|e| ClientError::Protocol(format!("encoding input: {e}")))?;
        self.write(&frame, "sending input").await?;
        self.stats.input_events_sent += count;
        Ok(())
    }

    /// A scancode key press or release (set 1; `extended` for E0-prefixed keys).
    pub async fn send_key(&mut self, scancode: u8, extended: bool, pressed: bool) -> Result<(), ClientError> {
        let mut flags = KeyboardFlags::empty();
        if extended {
            flags |= KeyboardFlags::EXTENDED;
        }
        if !pressed {
            flags |= KeyboardFlags::RELEASE;
        }
        self.send_fastpath(vec![FastPathInputEvent::KeyboardEvent(flags, scancode)])
            .await
    }

    /// The client's lock keys (a Synchronize event, as clients send on connect and on focus).
    pub async fn send_sync_locks(&mut self, caps: bool, num: bool, scroll: bool) -> Result<(), ClientError> {
        use ironrdp::pdu::input::fast_path::SynchronizeFlags;
        let mut flags = SynchronizeFlags::empty();
        flags.set(SynchronizeFlags::CAPS_LOCK, caps);
        flags.set(SynchronizeFlags::NUM_LOCK, num);
        flags.set(SynchronizeFlags::SCROLL_LOCK, scroll);
        self.send_fastpath(vec![FastPathInputEvent::SyncEvent(flags)])
            .await
    }

    /// Type one character as Unicode keyboard events: press and release of each UTF-16 unit.
    pub async fn send_unicode(&mut self, ch: char) -> Result<(), ClientError> {
        let mut units = [0u16; 2];
        let events = ch
            .encode_utf16(&mut units)
            .iter()
            .flat_map(|&unit| {
                [
                    FastPathInputEvent::UnicodeKeyboardEvent(KeyboardFlags::empty(), unit),
                    FastPathInputEvent::UnicodeKeyboardEvent(KeyboardFlags::RELEASE, unit),
                ]
            })
            .collect();
        self.send_fastpath(events).await
    }

    /// Move the pointer to (`x`, `y`).
    pub async fn send_mouse_move(&mut self, x: u16, y: u16) -> Result<(), ClientError> {
        self.mouse = (x, y);
        self.send_mouse(PointerFlags::MOVE, 0).await
    }

    /// Press or release a button at the last position sent with
    /// [`send_mouse_move`](Self::send_mouse_move).
    pub async fn send_mouse_button(&mut self, button: MouseButton, pressed: bool) -> Result<(), ClientError> {
        let mut flags = match button {
            MouseButton::Left => PointerFlags::LEFT_BUTTON,
            MouseButton::Right => PointerFlags::RIGHT_BUTTON,
            MouseButton::Middle => PointerFlags::MIDDLE_BUTTON_OR_WHEEL,
        };
        if pressed {
            flags |= PointerFlags::DOWN;
        }
        self.send_mouse(flags, 0).await
    }

    /// Vertical wheel rotation (positive = away from the user; clamped to -256..=255, one notch
    /// is 120).
    pub async fn send_wheel(&mut self, rotation: i16) -> Result<(), ClientError> {
        self.send_mouse(PointerFlags::VERTICAL_WHEEL, rotation.clamp(-256, 255))
            .await
    }

    async fn send_mouse(&mut self, flags: PointerFlags, wheel: i16) -> Result<(), ClientError> {
        let (x, y) = self.mouse;
        self.send_fastpath(vec![FastPathInputEvent::MouseEvent(MousePdu {
            flags,
            number_of_wheel_rotation_units: wheel,
            x_position: x,
            y_position: y,
        })])
        .await
    }

    /// Tell the server to stop (`false`, as a client does when its window is minimized) or to
    /// resume (`true`: the whole desktop is visible again) sending display updates.
    pub async fn send_suppress_output(&mut self, allow_updates: bool) -> Result<(), ClientError> {
        use ironrdp::pdu::rdp::headers::ShareDataPdu;
        use ironrdp::pdu::rdp::suppress_output::SuppressOutputPdu;
        let desktop_rect = allow_updates.then(|| self.whole_desktop());
        self.send_share_data(
            ShareDataPdu::SuppressOutput(SuppressOutputPdu { desktop_rect }),
            "sending suppress output",
        )
        .await
    }

    /// Ask the server to send the whole picture again (Refresh Rectangle of the desktop).
    pub async fn send_refresh_rectangle(&mut self) -> Result<(), ClientError> {
        use ironrdp::pdu::rdp::headers::ShareDataPdu;
        use ironrdp::pdu::rdp::refresh_rectangle::RefreshRectanglePdu;
        let areas_to_refresh = vec![self.whole_desktop()];
        self.send_share_data(
            ShareDataPdu::RefreshRectangle(RefreshRectanglePdu { areas_to_refresh }),
            "sending refresh rectangle",
        )
        .await
    }

    fn whole_desktop(&self) -> InclusiveRectangle {
        let (width, height) = self.desktop_size();
        InclusiveRectangle {
            left: 0,
            top: 0,
            right: width.saturating_sub(1),
            bottom: height.saturating_sub(1),
        }
    }

    async fn send_share_data(
        &mut self,
        pdu: ironrdp::pdu::rdp::headers::ShareDataPdu,
        step: &'static str,
    ) -> Result<(), ClientError> {
        let mut buf = WriteBuf::new();
        self.stage
            .encode_static(&mut buf, pdu)
            .map_err(|e| ClientError::Protocol(format!("{step}: {e}")))?;
        self.write(buf.filled(), step).await
    }

    /// Turns the graphics pipeline's frame acknowledgements off (a client that is stuck: they
    /// are held back) or on again (the held ones are sent at once, in order, as a client that
    /// catches up would). Without the graphics pipeline there is nothing to acknowledge.
    pub async fn set_acknowledging(&mut self, on: bool) -> Result<(), ClientError> {
        let Some(shared) = &self.gfx else {
            return Ok(());
        };
        let held = {
            let mut state = crate::gfx::lock(shared);
            state.acks.acknowledging = on;
            if !on {
                return Ok(());
            }
            std::mem::take(&mut state.acks.held)
        };
        if held.is_empty() {
            return Ok(());
        }
        let channel_id = self
            .stage
            .get_dvc::<crate::gfx::Acknowledging>()
            .and_then(|channel| channel.channel_id())
            .ok_or_else(|| ClientError::Protocol("the graphics pipeline channel is not open".to_owned()))?;
        let messages = ironrdp_dvc::encode_dvc_messages(channel_id, held, ironrdp_svc::ChannelFlags::empty())
            .map_err(|e| ClientError::Protocol(format!("encoding frame acknowledgements: {e}")))?;
        let bytes = self
            .stage
            .encode_dvc_messages(messages)
            .map_err(|e| ClientError::Protocol(format!("encoding frame acknowledgements: {}", e.report())))?;
        self.write(&bytes, "sending held frame acknowledgements").await
    }

    /// Tells the server this client suspends frame acknowledgements (a FrameAcknowledge whose
    /// queue depth is `SUSPEND_FRAME_ACKNOWLEDGEMENT`, MS-RDPEGFX 2.2.2.13): from then on it
    /// acknowledges no frame, and the server sends frames without waiting for any. Without the
    /// graphics pipeline there is nothing to suspend.
    pub async fn suspend_acknowledgements(&mut self) -> Result<(), ClientError> {
        let Some(shared) = &self.gfx else {
            return Ok(());
        };
        let (frame_id, total_frames_decoded) = {
            let mut state = crate::gfx::lock(shared);
            state.acks.suspended = true;
            state.acks.held.clear();
            state.acks.latest.unwrap_or_default()
        };
        let suspend = ironrdp_egfx::pdu::GfxPdu::FrameAcknowledge(ironrdp_egfx::pdu::FrameAcknowledgePdu {
            queue_depth: ironrdp_egfx::pdu::QueueDepth::Suspend,
            frame_id,
            total_frames_decoded,
        });
        let channel_id = self
            .stage
            .get_dvc::<crate::gfx::Acknowledging>()
            .and_then(|channel| channel.channel_id())
            .ok_or_else(|| ClientError::Protocol("the graphics pipeline channel is not open".to_owned()))?;
        let message: ironrdp_dvc::DvcMessage = Box::new(suspend);
        let messages =
            ironrdp_dvc::encode_dvc_messages(channel_id, vec![message], ironrdp_svc::ChannelFlags::empty())
                .map_err(|e| ClientError::Protocol(format!("encoding the suspending acknowledgement: {e}")))?;
        let bytes = self.stage.encode_dvc_messages(messages).map_err(|e| {
            ClientError::Protocol(format!("encoding the suspending acknowledgement: {}", e.report()))
        })?;
        self.write(&bytes, "suspending frame acknowledgements").await
    }

    fn clipboard_state(&self) -> Result<&crate::clipboard::Shared, ClientError> {
        self.clipboard
            .as_ref()
            .ok_or_else(|| ClientError::Protocol("the clipboard channel was not asked for".to_owned()))
    }

    /// Answers what the clipboard channel asked of us since the last PDU: its initialization
    /// wants our (empty) Format List.
    async fn service_clipboard(&mut self) -> Result<(), ClientError> {
        let Some(shared) = &self.clipboard else {
            return Ok(());
        };
        if !std::mem::take(&mut crate::clipboard::lock(shared).wants_format_list) {
            return Ok(());
        }
        let bytes = self.clipboard_call("sending our clipboard format list", |cliprdr| {
            cliprdr.initiate_copy(&[])
        })?;
        self.write(&bytes, "sending our clipboard format list").await
    }

    fn clipboard_call(
        &mut self,
        what: &'static str,
        call: impl FnOnce(
            &mut ironrdp_cliprdr::CliprdrClient,
        )
            -> ironrdp::pdu::PduResult<ironrdp_cliprdr::CliprdrSvcMessages<ironrdp_cliprdr::Client>>,
    ) -> Result<Vec<u8>, ClientError> {
        let cliprdr = self
            .stage
            .get_svc_processor_mut::<ironrdp_cliprdr::CliprdrClient>()
            .ok_or_else(|| ClientError::Protocol("the clipboard channel is not open".to_owned()))?;
        let messages = call(cliprdr).map_err(|e| ClientError::Protocol(format!("{what}: {e}")))?;
        self.stage
            .process_svc_processor_messages(messages)
            .map_err(|e| ClientError::Protocol(format!("{what}: {}", e.report())))
    }

    /// Processes the server's PDUs until `found` returns something from the clipboard state.
    async fn wait_for_clipboard<T>(
        &mut self,
        deadline: Instant,
        what: &'static str,
        mut found: impl FnMut(&mut crate::clipboard::ClipState) -> Option<T>,
    ) -> Result<T, ClientError> {
        loop {
            if let Some(value) = found(&mut crate::clipboard::lock(self.clipboard_state()?)) {
                return Ok(value);
            }
            // Clipboard PDUs make no session event: read one PDU at a time (other events stay
            // queued for `next_event`).
            self.check_usable()?;
            let (action, frame) = match timeout_at(deadline, self.framed.read_pdu()).await {
                Err(_) => return Err(ClientError::Timeout(what)),
                Ok(Err(e)) => return Err(self.broken(io_to_client("reading from the server", &e))),
                Ok(Ok(pdu)) => pdu,
            };
            self.process_frame(action, &frame).await?;
        }
    }

    /// The server's latest clipboard Format List, (id, name) per format.
    pub fn clipboard_formats(&self) -> Vec<(u32, Option<String>)> {
        self.clipboard
            .as_ref()
            .map(|shared| crate::clipboard::lock(shared).formats.clone())
            .unwrap_or_default()
    }

    /// Waits for a server Format List with a format named `name`; returns its id.
    pub async fn wait_for_clipboard_format(
        &mut self,
        name: &str,
        deadline: Instant,
    ) -> Result<u32, ClientError> {
        self.wait_for_clipboard(deadline, "waiting for a clipboard format", |state| {
            state
                .formats
                .iter()
                .find(|(_, format)| format.as_deref() == Some(name))
                .map(|(id, _)| *id)
        })
        .await
    }

    /// Pastes the server's files: asks for its `FileGroupDescriptorW` (format `format_id`) and
    /// returns the list; `Err` when the server answers with a failure.
    pub async fn paste_file_list(
        &mut self,
        format_id: u32,
        deadline: Instant,
    ) -> Result<Vec<crate::RemoteFile>, ClientError> {
        {
            let mut state = crate::clipboard::lock(self.clipboard_state()?);
            state.file_list = None;
            state.data_failed = false;
        }
        let bytes = self.clipboard_call("asking for the server's file list", |cliprdr| {
            cliprdr.initiate_paste(ironrdp_cliprdr::pdu::ClipboardFormatId::new(format_id))
        })?;
        self.write(&bytes, "asking for the server's file list").await?;
        let list = self
            .wait_for_clipboard(deadline, "waiting for the server's file list", |state| {
                if state.data_failed {
                    return Some(None);
                }
                state.file_list.take().map(Some)
            })
            .await?;
        list.ok_or_else(|| ClientError::Protocol("the server failed to send its file list".to_owned()))
    }

    /// Asks `length` bytes at `position` of file `index` of the server's list (a File Contents
    /// range request); `Ok(None)` when the server answers with a failure.
    pub async fn file_range(
        &mut self,
        index: u32,
        position: u64,
        length: u32,
        deadline: Instant,
    ) -> Result<Option<Vec<u8>>, ClientError> {
        self.file_contents(
            index,
            ironrdp_cliprdr::pdu::FileContentsFlags::RANGE,
            position,
            length,
            deadline,
        )
        .await
    }

    /// Asks the size of file `index` of the server's list; `Ok(None)` for a failure answer.
    pub async fn file_size(&mut self, index: u32, deadline: Instant) -> Result<Option<u64>, ClientError> {
        let answer = self
            .file_contents(
                index,
                ironrdp_cliprdr::pdu::FileContentsFlags::SIZE,
                0,
                8,
                deadline,
            )
            .await?;
        answer
            .map(|data| {
                <[u8; 8]>::try_from(data.as_slice())
                    .map(u64::from_le_bytes)
                    .map_err(|_| ClientError::Protocol(format!("a size answer of {} bytes", data.len())))
            })
            .transpose()
    }

    async fn file_contents(
        &mut self,
        index: u32,
        flags: ironrdp_cliprdr::pdu::FileContentsFlags,
        position: u64,
        length: u32,
        deadline: Instant,
    ) -> Result<Option<Vec<u8>>, ClientError> {
        self.next_stream += 1;
        let stream_id = self.next_stream;
        let index = i32::try_from(index).map_err(|_| ClientError::Protocol(format!("file index {index}")))?;
        let bytes = self.clipboard_call("asking for file contents", |cliprdr| {
            cliprdr.request_file_contents(ironrdp_cliprdr::pdu::FileContentsRequest {
                stream_id,
                index,
                flags,
                position,
                requested_size: length,
                data_id: None,
            })
        })?;
        self.write(&bytes, "asking for file contents").await?;
        self.wait_for_clipboard(deadline, "waiting for file contents", |state| {
            state.contents.remove(&stream_id)
        })
        .await
    }

    /// Graceful shutdown: send a Shutdown Request, wait (bounded by the write timeout) for the
    /// server to deny it (then send the disconnect ultimatum) or to close the connection, then
    /// close TLS and TCP. The transport is closed in every case; `Err` means the server did not
    /// complete the exchange.
    pub async fn disconnect(mut self) -> Result<(), ClientError> {
        let result = self.shutdown_exchange().await;
        let (mut stream, _) = self.framed.into_inner();
        match timeout(self.write_timeout, stream.shutdown()).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => debug!(error = %e, "TLS shutdown error"),
            Err(_) => debug!("TLS shutdown timed out"),
        }
        // Read what the server still sends until it closes (bounded), so that the byte counts
        // include everything it wrote.
        let deadline = Instant::now() + self.write_timeout;
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            match timeout_at(deadline, stream.read(&mut buf)).await {
                Ok(Ok(0)) | Ok(Err(_)) => break,
                Ok(Ok(_)) => {}
                Err(_) => {
                    debug!("the server did not close the connection after the disconnect");
                    break;
                }
            }
        }
        debug!(?result, "disconnected");
        result
    }

    /// The socket's byte counters, readable after [`disconnect`](Self::disconnect) consumed
    /// the session (then they include everything the server sent up to its close).
    pub fn wire_bytes(&self) -> WireBytes {
        WireBytes(Arc::clone(&self.counters))
    }

    async fn shutdown_exchange(&mut self) -> Result<(), ClientError> {
        if !self.is_active() {
            return Ok(());
        }
        let outputs = self
            .stage
            .graceful_shutdown()
            .map_err(|e| ClientError::Protocol(format!("shutdown request: {}", e.report())))?;
        for output in outputs {
            if let ActiveStageOutput::ResponseFrame(bytes) = output {
                self.write(&bytes, "sending the shutdown request").await?;
            }
        }

        let deadline = Instant::now() + self.write_timeout;
        loop {
            let (action, frame) = match timeout_at(deadline, self.framed.read_pdu()).await {
                Err(_) => {
                    warn!("server did not react to the shutdown request");
                    return Err(ClientError::Timeout("disconnect"));
                }
                // Closing the connection is how ironrdp-server acknowledges the request.
                Ok(Err(e)) => {
                    debug!(error = %e, "connection closed after the shutdown request");
                    return Ok(());
                }
                Ok(Ok(pdu)) => pdu,
            };
            if action == Action::X224 && disconnect_ultimatum(&frame).is_some() {
                return Ok(());
            }
            let outputs = match self.stage.process(&mut self.image, action, &frame) {
                Ok(outputs) => outputs,
                Err(e) => {
                    debug!(error = %e.report(), "ignoring an undecodable PDU during shutdown");
                    continue;
                }
            };
            let mut done = false;
            for output in outputs {
                match output {
                    ActiveStageOutput::ResponseFrame(bytes) if !bytes.is_empty() => {
                        // The server may close while frames it sent before our request are
                        // still being answered: the close is its acknowledgement.
                        match self.write(&bytes, "answering during shutdown").await {
                            Ok(()) => {}
                            Err(ClientError::Disconnected(reason)) => {
                                debug!(reason, "connection closed after the shutdown request");
                                return Ok(());
                            }
                            Err(e) => return Err(e),
                        }
                    }
                    ActiveStageOutput::Terminate(_) => done = true,
                    _ => {}
                }
            }
            if done {
                return Ok(());
            }
        }
    }
}

/// Copies 4-byte pixels from `src` to `out` with an opaque alpha byte, swapping the first and
/// third bytes (R and B) when `swap_red_blue`. Written as whole-pixel integer operations in two
/// branch-free loops, so that it vectorises: it runs over every pixel of every picture.
fn copy_opaque(out: &mut [u8], src: &[u8], swap_red_blue: bool) {
    const OPAQUE: u32 = 0xFF00_0000;
    let pixels = out.chunks_exact_mut(4).zip(src.chunks_exact(4));
    if swap_red_blue {
        for (o, p) in pixels {
            let v = u32::from_le_bytes([p[0], p[1], p[2], p[3]]);
            let v = (v & 0x0000_FF00) | ((v & 0xFF) << 16) | ((v >> 16) & 0xFF) | OPAQUE;
            o.copy_from_slice(&v.to_le_bytes());
        }
    } else {
        for (o, p) in pixels {
            let v = u32::from_le_bytes([p[0], p[1], p[2], p[3]]) | OPAQUE;
            o.copy_from_slice(&v.to_le_bytes());
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use ironrdp::pdu::fast_path::EncryptionFlags;

    use super::*;

    #[test]
    fn pixels_are_copied_opaque_with_red_and_blue_swapped_on_request() {
        // Two pixels B, G, R, X with a transparent or garbage fourth byte.
        let src = [1, 2, 3, 0, 10, 20, 30, 77];
        let mut out = [0u8; 8];
        copy_opaque(&mut out, &src, false);
        assert_eq!(out, [1, 2, 3, 0xFF, 10, 20, 30, 0xFF]);
        copy_opaque(&mut out, &src, true);
        assert_eq!(out, [3, 2, 1, 0xFF, 30, 20, 10, 0xFF]);
    }

    fn fast_path_frame(updates: &[(UpdateCode, Fragmentation, Vec<u8>)]) -> Vec<u8> {
        let mut body = Vec::new();
        for (code, fragmentation, data) in updates {
            let pdu = FastPathUpdatePdu {
                fragmentation: *fragmentation,
                update_code: *code,
                compression_flags: None,
                compression_type: None,
                data,
            };
            body.extend(ironrdp::core::encode_vec(&pdu).unwrap());
        }
        let mut frame =
            ironrdp::core::encode_vec(&FastPathHeader::new(EncryptionFlags::empty(), body.len())).unwrap();
        frame.extend(body);
        frame
    }

    fn surface_bits(codec_id: u8) -> Vec<u8> {
        let mut cmd = vec![0x01, 0x00]; // SET_SURFACE_BITS
        cmd.extend([0u8; 8]); // destination
        cmd.extend([32, 0, 0, codec_id]); // bpp, flags, reserved, codecID
        cmd.extend([0u8; 16]);
        cmd
    }

    #[test]
    fn peeks_codec_ids_after_frame_markers_and_counts_bitmaps() {
        let mut marked = vec![0x04, 0x00, 0x00, 0x00, 0x07, 0x00, 0x00, 0x00]; // frame marker, begin
        marked.extend(surface_bits(3));
        let frame = fast_path_frame(&[
            (UpdateCode::SurfaceCommands, Fragmentation::Single, marked),
            (UpdateCode::SurfaceCommands, Fragmentation::First, surface_bits(0)),
            // a continuation's bytes are not a command header
            (UpdateCode::SurfaceCommands, Fragmentation::Next, surface_bits(9)),
            (UpdateCode::Bitmap, Fragmentation::Single, vec![0; 4]),
        ]);
        let (mut ids, mut bitmaps) = (BTreeSet::new(), 0);
        peek_fast_path(&frame, &mut ids, &mut bitmaps);
        assert_eq!(ids.into_iter().collect::<Vec<_>>(), [0, 3]);
        assert_eq!(bitmaps, 1);
    }

    #[test]
    fn garbage_is_ignored() {
        let (mut ids, mut bitmaps) = (BTreeSet::new(), 0);
        peek_fast_path(&[0xff, 0x00], &mut ids, &mut bitmaps);
        peek_fast_path(&[], &mut ids, &mut bitmaps);
        assert!(ids.is_empty());
        assert_eq!(bitmaps, 0);
    }
}
