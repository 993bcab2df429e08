//! Frames from the [`FrameBus`] become IronRDP display updates.
//!
//! Each client gets its own [`FrameSubscriber`]: the bus hands it the newest frame and the
//! merged damage since the frame it last sent. The damaged regions go to IronRDP as bitmaps
//! that borrow the shared frame's bytes (no copy); IronRDP's encoder then compares them tile by
//! tile against what this client already has and encodes only tiles that differ (RemoteFX or
//! bitmap, whichever the client negotiated). A slow client simply asks for its next update
//! later and receives one coalesced update: nothing queues up behind it.

use std::collections::VecDeque;
use std::num::{NonZeroU16, NonZeroUsize};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use anyhow::Context as _;
use ironrdp_egfx::pdu::Avc420Region;
use ironrdp_pdu::pointer::PointerPositionAttribute;
use ironrdp_server::{
    BitmapUpdate, DesktopSize, DisplayUpdate, PixelFormat as RdpPixelFormat, RGBAPointer, RdpServerDisplay,
    RdpServerDisplayUpdates,
};
use tokio::sync::Notify;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, trace, warn};
use wrd_frame::{Cursor, CursorShape, CursorSubscriber, Frame, FrameBus, FrameSubscriber, PixelFormat, Rect};
use wrd_h264::{EncodedFrame, EncoderInput, EncoderOutput, EncoderSettings, EncoderThread, FrameKind};

use crate::flow::Verdict;
use crate::gfx::{GfxLink, GfxStatus, lock_server};
use crate::pacing::FramePacer;
use crate::planar::{self, PlanarTile};
use crate::stats::DisplayStats;

/// How long `size()` waits for the source to know the desktop's size (its first frame, or its
/// announcement) before falling back to the nominal size (a client must not hang in the
/// handshake because a source is slow to start).
const FIRST_FRAME_WAIT: Duration = Duration::from_secs(5);

/// How long a client's handshake waits for the desktop to take the client's size (a headless
/// sway output changes in a few milliseconds; the first frame of the new size follows).
const RESIZE_WAIT: Duration = Duration::from_secs(3);

/// A request that the desktop take a client's size: at connect (the size the client asked
/// for) and when a client asks for a new layout (Display Control). Only a desktop the server
/// owns (a headless session) can follow it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DesktopResize {
    pub width: u16,
    pub height: u16,
}

/// Where [`DesktopResize`] requests go.
pub type ResizeRoute = tokio::sync::mpsc::UnboundedSender<DesktopResize>;

/// Size reported when the source has not produced a frame yet.
const FALLBACK_SIZE: DesktopSize = DesktopSize {
    width: 1024,
    height: 768,
};

/// Pointer images a client is asked to keep. Clients announce at least this many cache
/// entries (mstsc 25, FreeRDP 32), so any index below it is valid everywhere.
const POINTER_CACHE_SLOTS: u16 = 20;

/// Largest pointer image sent through the classic pointer PDUs (MS-RDPBCGR 2.2.9.1.1.4.4:
/// larger ones need the large-pointer capability, which not every client offers). Bigger
/// images are cropped around their hotspot.
const MAX_POINTER_SIDE: u16 = 96;

/// A desktop pointer closer than this (in pixels, on both axes) to where this client last put
/// its own pointer is the echo of the client's own move: telling the client would only make
/// its pointer jump back and forth.
const POINTER_ECHO_SLACK: u16 = 2;

/// Where this client last placed its pointer, shared by its input handler (writer) and its
/// display (reader).
#[derive(Debug, Default)]
pub(crate) struct ClientPointer(Mutex<Option<(u16, u16)>>);

impl ClientPointer {
    pub(crate) fn moved_to(&self, x: u16, y: u16) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = Some((x, y));
    }

    fn is_near(&self, x: u16, y: u16) -> bool {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .is_some_and(|(cx, cy)| {
                cx.abs_diff(x) <= POINTER_ECHO_SLACK && cy.abs_diff(y) <= POINTER_ECHO_SLACK
            })
    }
}

/// One client's display: the source of its updates.
#[derive(Debug)]
pub struct WrdDisplayHandler {
    bus: FrameBus,
    /// Frames per second sent to this client at most.
    max_fps: u32,
    /// Cancelled (used as a one-shot latch) when IronRDP first asks for updates: the
    /// connection sequence, authentication included, is complete.
    activated: CancellationToken,
    client_pointer: Arc<ClientPointer>,
    /// Set when the desktop can take the client's size.
    resize: Option<ResizeRoute>,
    /// The size the client asked for at connect, which it keeps after the capability
    /// exchange whatever the desktop does: the first update stream starts from it, so that a
    /// desktop that did not take it in time resizes the client with its first frame (a
    /// reactivation) instead of sending it pictures larger than it has.
    size_at_connect: Option<(u16, u16)>,
    /// The client's graphics pipeline, when the session offers one: frames then go as H.264
    /// once the client has negotiated AVC420.
    gfx: Option<Arc<GfxLink>>,
    /// H.264 was asked for (`--codec h264`): a client without it is worth a warning.
    h264_required: bool,
    /// The encoder's settings for this client's H.264 stream.
    h264_settings: EncoderSettings,
    /// What the client asked of its output (Suppress Output, Refresh Rectangle), shared with
    /// the update stream.
    output: Arc<OutputRequests>,
}

/// The client's requests about its output, set by IronRDP's PDU handler and read by the
/// update stream, which is woken for each.
#[derive(Debug, Default)]
struct OutputRequests {
    /// The client is minimized: no frames until it resumes (the bus meanwhile keeps only the
    /// newest frame and the merged damage, so nothing grows).
    suppressed: AtomicBool,
    /// The client wants its whole picture again.
    refresh: AtomicBool,
    changed: Notify,
    /// Shared with IronRDP's update encoder, which diffs each bitmap against the picture it
    /// sent last: set, it forgets that picture, so that a repaint is not diffed to nothing.
    encoder_reset: Arc<AtomicBool>,
}

impl WrdDisplayHandler {
    /// `max_fps` caps the frames per second sent to this client (at least 1); a faster source
    /// is coalesced, a slower one is followed as it is.
    pub fn new(bus: FrameBus, activated: CancellationToken, max_fps: u32) -> Self {
        Self::with_client_pointer(bus, activated, max_fps, Arc::default())
    }

    pub(crate) fn with_client_pointer(
        bus: FrameBus,
        activated: CancellationToken,
        max_fps: u32,
        client_pointer: Arc<ClientPointer>,
    ) -> Self {
        Self {
            bus,
            max_fps,
            activated,
            client_pointer,
            resize: None,
            size_at_connect: None,
            gfx: None,
            h264_required: false,
            h264_settings: EncoderSettings::default(),
            output: Arc::default(),
        }
    }

    /// Sizes the client asks for go to `route` (see [`DesktopResize`]).
    pub fn with_resize(mut self, route: Option<ResizeRoute>) -> Self {
        self.resize = route;
        self
    }

    /// The flag with which the display makes IronRDP's encoder send the next update whole
    /// (to be given to `RdpServer::set_encoder_reset_handle`).
    pub(crate) fn encoder_reset_handle(&self) -> Arc<AtomicBool> {
        Arc::clone(&self.output.encoder_reset)
    }

    /// Frames go through `link`'s graphics pipeline as H.264, encoded with `settings`, when the
    /// client negotiates AVC420.
    pub(crate) fn with_graphics_pipeline(
        mut self,
        link: Arc<GfxLink>,
        h264_required: bool,
        settings: EncoderSettings,
    ) -> Self {
        self.gfx = Some(link);
        self.h264_required = h264_required;
        self.h264_settings = settings;
        self
    }
}

#[async_trait::async_trait]
impl RdpServerDisplay for WrdDisplayHandler {
    /// With a desktop that can change its size, the client's: asks for it and waits (bounded)
    /// for the desktop to have it, so the session starts at the size the client wants. The
    /// desktop's size as it is otherwise (if it never comes, the client is resized to the
    /// desktop once its frames arrive).
    async fn request_initial_size(&mut self, client_size: DesktopSize) -> DesktopSize {
        if let Some(route) = &self.resize {
            let wanted = (client_size.width, client_size.height);
            self.size_at_connect = Some(wanted);
            if self.bus.desktop_size() != Some(wanted)
                && route
                    .send(DesktopResize {
                        width: wanted.0,
                        height: wanted.1,
                    })
                    .is_ok()
            {
                let resized =
                    tokio::time::timeout(RESIZE_WAIT, self.bus.wait_desktop_size_where(|s| s == wanted))
                        .await;
                if !matches!(resized, Ok(Some(size)) if size == wanted) {
                    warn!(
                        width = wanted.0,
                        height = wanted.1,
                        "the desktop did not take the client's size within {} s: the client gets the desktop's",
                        RESIZE_WAIT.as_secs()
                    );
                }
            }
        }
        self.size().await
    }

    /// A client's new layout (Display Control: its window was resized): the desktop takes
    /// the primary monitor's size when it can; the client follows once frames of that size
    /// arrive (the update stream sends `Resize`).
    fn request_layout(&mut self, layout: ironrdp_displaycontrol::pdu::DisplayControlMonitorLayout) {
        let monitors = layout.monitors();
        let Some(primary) = monitors
            .iter()
            .find(|m| m.is_primary())
            .or_else(|| monitors.first())
        else {
            return;
        };
        let (width, height) = primary.dimensions();
        let Some(route) = &self.resize else {
            debug!(
                width,
                height, "a client asks for a new desktop size; this desktop keeps its own"
            );
            return;
        };
        let (Ok(width), Ok(height)) = (u16::try_from(width), u16::try_from(height)) else {
            warn!(
                width,
                height, "a client asks for a desktop size out of range: ignored"
            );
            return;
        };
        debug!(
            width,
            height,
            monitors = monitors.len(),
            "a client asks for a new desktop size"
        );
        // The receiver is gone only when the server is shutting down.
        let _ = route.send(DesktopResize { width, height });
    }

    /// A minimized client gets no frames (its window shows nothing; sending would only build a
    /// backlog it must chew through on restore). Resuming repaints the whole picture.
    fn suppress_output(&mut self, suppressed: bool) {
        let was = self.output.suppressed.swap(suppressed, Ordering::Relaxed);
        if was != suppressed {
            info!(
                suppressed,
                "the client {} display updates",
                if suppressed { "stops" } else { "resumes" }
            );
        }
        if !suppressed {
            self.output.refresh.store(true, Ordering::Relaxed);
        }
        self.output.changed.notify_one();
    }

    fn refresh_requested(&mut self) {
        debug!("the client asks for its picture again");
        self.output.suppressed.store(false, Ordering::Relaxed);
        self.output.refresh.store(true, Ordering::Relaxed);
        self.output.changed.notify_one();
    }

    async fn size(&mut self) -> DesktopSize {
        let size = match self.bus.desktop_size() {
            Some(size) => Some(size),
            None => tokio::time::timeout(FIRST_FRAME_WAIT, self.bus.wait_desktop_size())
                .await
                .ok()
                .flatten(),
        };
        match size {
            Some((width, height)) => DesktopSize { width, height },
            None => {
                warn!(
                    "the desktop's size is still unknown after {} s: offering {}x{}; the client \
                     is resized when the first frame arrives",
                    FIRST_FRAME_WAIT.as_secs(),
                    FALLBACK_SIZE.width,
                    FALLBACK_SIZE.height
                );
                FALLBACK_SIZE
            }
        }
    }

    async fn updates(&mut self) -> anyhow::Result<Box<dyn RdpServerDisplayUpdates>> {
        self.activated.cancel();
        let subscriber = self.bus.subscribe();
        let cursor = self.bus.subscribe_cursor();
        // After a reactivation the client has the size the update stream resized it to, the
        // desktop's as it is now.
        let current = match self.size_at_connect.take() {
            Some((width, height)) => DesktopSize { width, height },
            None => self.size().await,
        };
        Ok(Box::new(DisplayUpdates {
            subscriber,
            cursor,
            cursor_open: true,
            pointer: PointerState::default(),
            client_pointer: Arc::clone(&self.client_pointer),
            pending: VecDeque::new(),
            size: (current.width, current.height),
            pacer: FramePacer::new(self.max_fps),
            in_flight: None,
            started: std::time::Instant::now(),
            stats: DisplayStats::new(),
            gfx_link: self.gfx.clone(),
            h264_required: self.h264_required,
            h264_settings: self.h264_settings.clone(),
            output: Arc::clone(&self.output),
            gfx: if self.gfx.is_some() {
                GfxState::Waiting
            } else {
                GfxState::Declined
            },
        }))
    }
}

/// The update stream of one client between two (re)activations.
#[derive(Debug)]
struct DisplayUpdates {
    subscriber: FrameSubscriber,
    cursor: CursorSubscriber,
    /// False once the source is gone (the frame side then ends the stream too).
    cursor_open: bool,
    /// What this client was last told about the pointer.
    pointer: PointerState,
    client_pointer: Arc<ClientPointer>,
    /// Updates computed from one frame but not yet handed to IronRDP. Kept here, not in the
    /// future, so `next_update` stays cancel-safe.
    pending: VecDeque<DisplayUpdate>,
    /// The desktop size this activation was negotiated with.
    size: (u16, u16),
    /// Frame pacing (`max_fps`): says when the next frame may be taken. Frames published
    /// meanwhile are coalesced by the bus (their damage merged), never queued.
    pacer: FramePacer,
    /// Capture time of the frame whose updates are in `pending` or being written: IronRDP asks
    /// for the next update only once the previous one is on the wire.
    in_flight: Option<std::time::Instant>,
    /// Frames captured before this stream began (the picture a new client starts from) say
    /// how old the picture was, not how fast it travelled: they are not timed.
    started: std::time::Instant,
    stats: DisplayStats,
    gfx_link: Option<Arc<GfxLink>>,
    h264_required: bool,
    h264_settings: EncoderSettings,
    gfx: GfxState,
    output: Arc<OutputRequests>,
}

/// Whether this client's frames go through the graphics pipeline.
enum GfxState {
    /// The session offers the pipeline; the client has not negotiated it (yet).
    Waiting,
    /// Classic updates (bitmaps, RemoteFX) for the rest of this stream.
    Declined,
    Active(Box<GfxStream>),
}

impl std::fmt::Debug for GfxState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Waiting => f.write_str("Waiting"),
            Self::Declined => f.write_str("Declined"),
            Self::Active(stream) => write!(f, "Active(surface {})", stream.surface),
        }
    }
}

/// One stream of frames on one EGFX surface.
struct GfxStream {
    handle: ironrdp_server::GfxServerHandle,
    events: tokio::sync::mpsc::UnboundedSender<ironrdp_server::ServerEvent>,
    surface: u16,
    /// The surface's size, the desktop's as the client knows it through the pipeline (the
    /// activation's `size` stays what IronRDP negotiated; a resize does not reactivate).
    surface_size: (u16, u16),
    /// One receiver per frame handed to the writer and not yet written, oldest first (see
    /// [`send_write_marker`]); [`FlowControl`](crate::flow::FlowControl) counts them.
    unwritten: VecDeque<tokio::sync::oneshot::Receiver<Option<std::net::SocketAddr>>>,
    epoch: std::time::Instant,
    codec: StreamCodec,
}

/// How a pipeline stream codes its frames.
enum StreamCodec {
    /// H.264 (AVC420) from an encoder thread: clients that offer it.
    Avc420(H264Stream),
    /// Lossless planar tiles, coded on this task as frames are taken: clients whose pipeline
    /// offers no H.264 (RDP 8.0 clients, H.264 disabled).
    Planar(PlanarStream),
}

struct H264Stream {
    input: EncoderInput,
    output: EncoderOutput,
    /// An encoded frame the pipeline could not take yet (the flow-control window is full).
    /// While one waits here the encoder's output fills and its input keeps only the newest
    /// frame. Encoded frames are dropped only all together, after a stall (see
    /// `crate::flow`), and then the stream restarts from an IDR.
    waiting: Option<EncodedFrame>,
    /// After a stall: encoded frames are dropped until the IDR asked for arrives (a predicted
    /// frame would refer to pictures the client never got).
    awaiting_idr: bool,
    refine_qp: u8,
}

struct PlanarStream {
    /// A coded frame the pipeline could not take yet (the flow-control window is full). While
    /// one waits no newer frame is taken: the bus merges their damage meanwhile, so nothing
    /// queues and nothing is lost.
    waiting: Option<PlanarFrame>,
    /// The picture coded last, whose tiles the next frame's are compared with.
    last_coded: Option<Arc<Frame>>,
    /// The next frame goes whole (a new or reset surface, a client that asked to repaint).
    whole_next: bool,
}

struct PlanarFrame {
    tiles: Vec<PlanarTile>,
    captured_at: std::time::Instant,
}

impl Drop for DisplayUpdates {
    fn drop(&mut self) {
        self.stats.log();
        if let (GfxState::Active(_), Some(link)) = (&self.gfx, &self.gfx_link) {
            let now = std::time::Instant::now();
            let (rtt, window, in_flight, unwritten, suspended) = link.with_flow(|flow| {
                (
                    flow.rtt(),
                    flow.window(now),
                    flow.in_flight(),
                    flow.unwritten(),
                    flow.is_suspended(),
                )
            });
            info!(
                rtt_ms = rtt.map(|rtt| rtt.as_secs_f64() * 1000.0),
                window,
                in_flight,
                unwritten,
                acknowledgements_suspended = suspended,
                "graphics pipeline flow control"
            );
        }
    }
}

#[async_trait::async_trait]
impl RdpServerDisplayUpdates for DisplayUpdates {
    async fn next_update(&mut self) -> anyhow::Result<Option<DisplayUpdate>> {
        loop {
            if let Some(update) = self.pending.pop_front() {
                return Ok(Some(update));
            }
            if let Some(captured_at) = self.in_flight.take() {
                self.stats.frames_sent += 1;
                if captured_at >= self.started {
                    self.stats.capture_to_wire.record(captured_at.elapsed());
                }
            }
            self.start_gfx_if_ready()?;
            self.flush_gfx()?;
            self.pace_encoder();
            if self.output.refresh.swap(false, Ordering::Relaxed) {
                self.subscriber.request_full_refresh();
                if let GfxState::Active(stream) = &mut self.gfx {
                    // The client may have dropped what it held while minimized: a picture
                    // that depends on nothing before it.
                    match &mut stream.codec {
                        StreamCodec::Avc420(h264) => h264.input.request_idr(),
                        StreamCodec::Planar(planar) => planar.whole_next = true,
                    }
                } else {
                    // Nothing is pending: the next update IronRDP encodes is the repaint.
                    self.output.encoder_reset.store(true, Ordering::Relaxed);
                }
            }
            let suppressed = self.output.suppressed.load(Ordering::Relaxed);
            // Cancel-safe: sleeping, `FrameSubscriber::next`, `CursorSubscriber::next`,
            // `Notify::notified` (a notification finding no waiter is kept as a permit),
            // `GfxLink::changed`, `EncoderOutput::recv` and a `&mut oneshot::Receiver` are,
            // and the state changes only after the select.
            // While active, every acknowledgement may open the window: for the waiting frame,
            // or for the encoder to start the next one.
            let link = match (&self.gfx_link, &self.gfx) {
                (Some(link), GfxState::Waiting | GfxState::Active(_)) => Some(Arc::clone(link)),
                _ => None,
            };
            let gfx_changed = async move {
                match link {
                    Some(link) => link.changed().await,
                    None => std::future::pending().await,
                }
            };
            // A planar frame waiting for the window holds the next one back (the bus merges
            // what comes meanwhile).
            let planar_waiting = matches!(&self.gfx, GfxState::Active(stream)
                if matches!(&stream.codec, StreamCodec::Planar(planar) if planar.waiting.is_some()));
            let (gfx_output, oldest_unwritten) = match &mut self.gfx {
                GfxState::Active(stream) => {
                    let stream = &mut **stream;
                    let output = match &mut stream.codec {
                        StreamCodec::Avc420(h264) => h264.waiting.is_none().then_some(&mut h264.output),
                        StreamCodec::Planar(_) => None,
                    };
                    (output, stream.unwritten.front_mut())
                }
                _ => (None, None),
            };
            let encoded = async move {
                match gfx_output {
                    Some(output) => output.recv().await,
                    None => std::future::pending().await,
                }
            };
            // The writer wrote the oldest frame (an error: the writer is gone, which the next
            // send reports; the frame is not waiting any more either way).
            let written = async move {
                match oldest_unwritten {
                    Some(marker) => {
                        let _ = marker.await;
                    }
                    None => std::future::pending().await,
                }
            };
            let next_frame_at = self.pacer.next_allowed();
            let subscriber = &mut self.subscriber;
            let frame = async move {
                if let Some(at) = next_frame_at {
                    tokio::time::sleep_until(at).await;
                }
                subscriber.next().await
            };
            let cursor_open = self.cursor_open;
            let cursor = self.cursor.next();
            let output = Arc::clone(&self.output);
            let output_changed = async move { output.changed.notified().await };
            let update = tokio::select! {
                // The pointer first: it is small and what the user watches most closely.
                biased;
                cursor = cursor, if cursor_open => {
                    match cursor {
                        Some(cursor) => self.queue_pointer(&cursor),
                        None => self.cursor_open = false,
                    }
                    continue;
                }
                () = output_changed => continue,
                () = gfx_changed => continue,
                () = written => {
                    self.frame_written();
                    continue;
                }
                encoded = encoded => {
                    self.take_encoded(encoded);
                    continue;
                }
                update = frame, if !suppressed && !planar_waiting => update,
            };
            let Some(update) = update else {
                debug!("frame source ended: closing the display stream");
                return Ok(None);
            };
            let frame = &update.frame;
            if let GfxState::Active(stream) = &mut self.gfx
                && (frame.width, frame.height) != stream.surface_size
                && !stream.reset_graphics(frame.width, frame.height)?
            {
                info!(
                    width = frame.width,
                    height = frame.height,
                    "the graphics pipeline cannot take the new size: classic updates"
                );
                self.gfx = GfxState::Declined;
                self.subscriber.request_full_refresh();
            }
            if !matches!(self.gfx, GfxState::Active(_)) && (frame.width, frame.height) != self.size {
                debug!(
                    width = frame.width,
                    height = frame.height,
                    "source size changed: resizing the client"
                );
                // IronRDP reactivates the client at the new size and asks for a fresh update
                // stream, whose first update repaints everything. (A client on the graphics
                // pipeline gets ResetGraphics instead, above.)
                return Ok(Some(DisplayUpdate::Resize(DesktopSize {
                    width: frame.width,
                    height: frame.height,
                })));
            }
            self.pacer.frame_taken(Instant::now());
            if let GfxState::Active(stream) = &mut self.gfx {
                if update.skipped > 0 {
                    self.stats.frames_coalesced += update.skipped;
                }
                if let Some(link) = &self.gfx_link {
                    let now = std::time::Instant::now();
                    link.with_flow(|flow| flow.source_frame(now));
                }
                match &mut stream.codec {
                    StreamCodec::Avc420(h264) => h264.input.submit(Arc::clone(&update.frame), &update.damage),
                    StreamCodec::Planar(planar) => planar.code(&update.frame, &update.damage),
                }
                continue;
            }
            if update.skipped > 0 {
                trace!(
                    skipped = update.skipped,
                    "client slower than the source: frames coalesced"
                );
                self.stats.frames_coalesced += update.skipped;
            }
            for rect in &update.damage {
                self.pending
                    .push_back(DisplayUpdate::Bitmap(bitmap_for(frame, *rect)?));
            }
            self.stats.rects_sent += u64::try_from(update.damage.len()).unwrap_or(u64::MAX);
            self.in_flight = Some(frame.captured_at);
        }
    }
}

impl DisplayUpdates {
    /// Starts the pipeline's stream once the client's graphics pipeline is negotiated: a
    /// surface the size of the desktop mapped to the output, and the whole current picture as
    /// its first frame; H.264 from an encoder thread when the client offers it, planar tiles
    /// otherwise.
    fn start_gfx_if_ready(&mut self) -> anyhow::Result<()> {
        if let (GfxState::Active(_), Some(link)) = (&self.gfx, &self.gfx_link)
            && matches!(link.status(), GfxStatus::Closed)
        {
            // The client closed its graphics pipeline: the picture goes on as classic updates.
            info!("graphics pipeline closed by the client: classic updates from now on");
            self.gfx = GfxState::Declined;
            self.subscriber.request_full_refresh();
            return Ok(());
        }
        let (GfxState::Waiting, Some(link)) = (&self.gfx, &self.gfx_link) else {
            return Ok(());
        };
        let (handle, events) = match link.status() {
            GfxStatus::NotReady => return Ok(()),
            GfxStatus::Closed => {
                self.gfx = GfxState::Declined;
                return Ok(());
            }
            GfxStatus::Ready { handle, events } => (handle, events),
        };
        let (width, height) = self.size;
        let mut server = lock_server(&handle);
        let avc420 = server.supports_avc420();
        if server.surface_ids().next().is_some() {
            // A new update stream after a resize: ResetGraphics at the new size drops the old
            // surfaces (clients loop on deactivate/reactivate; this they follow).
            server.resize(width, height);
        } else {
            server.set_output_dimensions(width, height);
        }
        let Some(surface) = server.create_surface(width, height) else {
            warn!("the graphics pipeline refused a {width}x{height} surface: classic updates");
            self.gfx = GfxState::Declined;
            return Ok(());
        };
        server.map_surface_to_output(surface, 0, 0);
        let messages = server.drain_output();
        let channel = server.channel_id();
        drop(server);
        send_gfx(&events, channel, messages)?;
        let codec = if avc420 {
            StreamCodec::Avc420(self.start_h264(surface, width, height)?)
        } else {
            if self.h264_required {
                warn!(
                    surface,
                    width,
                    height,
                    "codec h264: the client's graphics pipeline offers no H.264 (AVC420): planar"
                );
            } else {
                info!(
                    surface,
                    width, height, "graphics pipeline: planar (lossless; the client offers no H.264)"
                );
            }
            StreamCodec::Planar(PlanarStream {
                waiting: None,
                last_coded: None,
                whole_next: true,
            })
        };
        self.subscriber.request_full_refresh();
        self.pacer.reset();
        self.gfx = GfxState::Active(Box::new(GfxStream {
            handle,
            events,
            surface,
            surface_size: (width, height),
            unwritten: VecDeque::new(),
            epoch: std::time::Instant::now(),
            codec,
        }));
        Ok(())
    }

    /// The encoder thread of an H.264 stream.
    fn start_h264(&self, surface: u16, width: u16, height: u16) -> anyhow::Result<H264Stream> {
        let settings = self.h264_settings.clone();
        let refine_qp = settings.refine_qp;
        let (bitrate_bps, idr_interval, threads) =
            (settings.bitrate_bps, settings.idr_interval, settings.threads);
        // Two encoded frames may wait for the pipeline; past that the encoder coalesces.
        let (input, output) = EncoderThread::spawn(settings, 2).context("starting the H.264 encoder")?;
        // Paced by `pace_encoder` from the first frame on.
        output.want_next(true);
        info!(
            surface,
            width,
            height,
            bitrate_mbit = f64::from(bitrate_bps) / 1e6,
            idr_interval_s = idr_interval.map(|interval| interval.as_secs()),
            encoder_threads = threads,
            "graphics pipeline: H.264 (AVC420)"
        );
        Ok(H264Stream {
            input,
            output,
            waiting: None,
            awaiting_idr: false,
            refine_qp,
        })
    }

    fn take_encoded(&mut self, encoded: Option<Result<EncodedFrame, wrd_h264::H264Error>>) {
        let GfxState::Active(stream) = &mut self.gfx else {
            return;
        };
        let surface_size = stream.surface_size;
        let StreamCodec::Avc420(stream) = &mut stream.codec else {
            return;
        };
        match encoded {
            Some(Ok(frame)) if (frame.width, frame.height) != surface_size => {
                trace!(
                    source_seq = frame.source_seq,
                    "frame of the size before a reset: dropped"
                );
            }
            Some(Ok(frame)) if stream.awaiting_idr && frame.kind == FrameKind::Predicted => {
                trace!(
                    source_seq = frame.source_seq,
                    "predicted frame before the IDR: dropped"
                );
            }
            Some(Ok(frame)) => {
                stream.awaiting_idr = false;
                stream.waiting = Some(frame);
            }
            // The encoder logged it; the next frame is encoded afresh.
            Some(Err(_)) => {}
            None => {
                warn!("the H.264 encoder stopped: classic updates from now on");
                self.gfx = GfxState::Declined;
                self.subscriber.request_full_refresh();
            }
        }
    }

    /// Lets the encoder start on the next frame only when nothing waits for the window and the
    /// frame could go out at the latest on the next acknowledgement. Encoding further ahead
    /// would only queue pictures that age while newer ones arrive (capture-to-wire time, not
    /// frames); encoding only once there is room would leave the window idle for an encode
    /// after each acknowledgement (fewer frames at the same round trip).
    fn pace_encoder(&self) {
        let (GfxState::Active(stream), Some(link)) = (&self.gfx, &self.gfx_link) else {
            return;
        };
        let StreamCodec::Avc420(h264) = &stream.codec else {
            return;
        };
        let now = std::time::Instant::now();
        let room = link.with_flow(|flow| flow.has_room_after(1, now));
        h264.output.want_next(h264.waiting.is_none() && room);
    }

    /// Hands the waiting frame to the pipeline if the flow-control window allows; after a
    /// stall, an H.264 stream drops what was encoded meanwhile and asks for an IDR instead.
    fn flush_gfx(&mut self) -> anyhow::Result<()> {
        let (GfxState::Active(stream), Some(link)) = (&mut self.gfx, &self.gfx_link) else {
            return Ok(());
        };
        let waiting = match &stream.codec {
            StreamCodec::Avc420(h264) => h264.waiting.is_some(),
            StreamCodec::Planar(planar) => planar.waiting.is_some(),
        };
        if !waiting {
            return Ok(());
        }
        let mut server = lock_server(&stream.handle);
        let now = std::time::Instant::now();
        match link.with_flow(|flow| flow.try_send(now)) {
            Verdict::Send => {}
            Verdict::Wait => return Ok(()),
            Verdict::Resync => match &mut stream.codec {
                StreamCodec::Avc420(h264) => {
                    drop(server);
                    // Everything encoded while the client was stuck shows an old picture: the
                    // client gets the current one as an IDR instead.
                    let mut dropped = u64::from(h264.waiting.take().is_some());
                    while h264.output.try_recv().is_some() {
                        dropped += 1;
                    }
                    h264.input.request_idr();
                    h264.awaiting_idr = true;
                    self.stats.frames_coalesced += dropped;
                    info!(
                        dropped,
                        "the client acknowledges frames again after a stall: going on from an IDR"
                    );
                    return Ok(());
                }
                // The waiting tiles change the picture the client has (every frame before
                // them was sent) into the current one: they still go.
                StreamCodec::Planar(_) => info!("the client acknowledges frames again after a stall"),
            },
        }
        let timestamp = u32::try_from(stream.epoch.elapsed().as_millis()).unwrap_or(u32::MAX);
        let (frame_id, rects, captured_at) = match &mut stream.codec {
            StreamCodec::Avc420(h264) => {
                let Some(frame) = h264.waiting.take() else {
                    return Ok(());
                };
                let (qp, quality) = match frame.kind {
                    FrameKind::Refinement => (h264.refine_qp, 100),
                    FrameKind::Idr | FrameKind::Predicted => (26, 70),
                };
                let regions: Vec<Avc420Region> = frame
                    .regions
                    .iter()
                    .map(|rect| Avc420Region {
                        left: rect.x,
                        top: rect.y,
                        right: rect.x + rect.width.saturating_sub(1),
                        bottom: rect.y + rect.height.saturating_sub(1),
                        quantization_parameter: qp,
                        quality,
                    })
                    .collect();
                let Some(frame_id) =
                    server.send_avc420_frame(stream.surface, &frame.data, &regions, timestamp)
                else {
                    h264.waiting = Some(frame);
                    return Ok(());
                };
                if frame.captured_at >= self.started {
                    self.stats.record_h264_stages(
                        frame.captured_at,
                        frame.encode_time,
                        frame.encoded_at,
                        now,
                    );
                }
                (frame_id, frame.regions.len(), frame.captured_at)
            }
            StreamCodec::Planar(planar) => {
                let Some(frame) = planar.waiting.take() else {
                    return Ok(());
                };
                let rects = frame.tiles.len();
                let tiles = frame
                    .tiles
                    .into_iter()
                    .map(|tile| (tile.rect, tile.data))
                    .collect();
                let Some(frame_id) = server.send_planar_frame(stream.surface, tiles, timestamp) else {
                    // Only a pipeline that is not ready or a surface that is gone refuse: the
                    // next frame repaints the whole picture.
                    warn!(
                        surface = stream.surface,
                        "the graphics pipeline refused a planar frame: the next one repaints everything"
                    );
                    planar.whole_next = true;
                    self.subscriber.request_full_refresh();
                    return Ok(());
                };
                (frame_id, rects, frame.captured_at)
            }
        };
        link.with_flow(|flow| flow.sent(frame_id, now));
        let messages = server.drain_output();
        let channel = server.channel_id();
        drop(server);
        send_gfx(&stream.events, channel, messages)?;
        stream.unwritten.push_back(send_write_marker(&stream.events)?);
        self.stats.frames_sent += 1;
        self.stats.rects_sent += u64::try_from(rects).unwrap_or(u64::MAX);
        if captured_at >= self.started {
            self.stats.capture_to_wire.record(captured_at.elapsed());
        }
        Ok(())
    }

    /// The writer wrote the oldest frame waiting for it: the next may go.
    fn frame_written(&mut self) {
        let (GfxState::Active(stream), Some(link)) = (&mut self.gfx, &self.gfx_link) else {
            return;
        };
        if stream.unwritten.pop_front().is_some() {
            link.with_flow(crate::flow::FlowControl::written);
        }
    }

    /// Queues what the client needs to show `cursor`: a new image (or a cached one) and the
    /// position, each only when it changed.
    fn queue_pointer(&mut self, cursor: &Cursor) {
        let before = self.pending.len();
        match cursor {
            Cursor::Hidden => {
                if self.pointer.shown != Some(None) {
                    self.pending.push_back(DisplayUpdate::HidePointer);
                    self.pointer.shown = Some(None);
                }
            }
            Cursor::Visible { x, y, shape } => {
                if self.pointer.shown != Some(Some(shape.id())) {
                    let update = self.pointer.select(shape);
                    self.pending.push_back(update);
                    self.pointer.shown = Some(Some(shape.id()));
                }
                let position = (*x, *y);
                if self.pointer.position != Some(position) {
                    self.pointer.position = Some(position);
                    if !self.client_pointer.is_near(*x, *y) {
                        self.pending
                            .push_back(DisplayUpdate::PointerPosition(PointerPositionAttribute {
                                x: *x,
                                y: *y,
                            }));
                    }
                }
            }
        }
        self.stats.pointer_updates += u64::try_from(self.pending.len() - before).unwrap_or(0);
    }
}

impl GfxStream {
    /// The desktop took a new size: ResetGraphics at that size (which deletes the surface) and
    /// a new surface, without deactivating the client (some clients loop on a reactivation;
    /// every EGFX client follows ResetGraphics). What was encoded at the old size is dropped;
    /// the stream starts the new size with a whole picture (an IDR, or every tile). `false` if
    /// the pipeline refused.
    fn reset_graphics(&mut self, width: u16, height: u16) -> anyhow::Result<bool> {
        let mut server = lock_server(&self.handle);
        server.resize(width, height);
        let surface = server.create_surface(width, height);
        if let Some(surface) = surface {
            server.map_surface_to_output(surface, 0, 0);
        }
        let messages = server.drain_output();
        let channel = server.channel_id();
        drop(server);
        // The reset goes out even without a surface: the old one is gone on both sides.
        send_gfx(&self.events, channel, messages)?;
        let Some(surface) = surface else {
            return Ok(false);
        };
        debug!(
            surface,
            width, height, "graphics pipeline reset to the desktop's new size"
        );
        self.surface = surface;
        self.surface_size = (width, height);
        match &mut self.codec {
            StreamCodec::Avc420(h264) => {
                h264.waiting = None;
                while h264.output.try_recv().is_some() {}
                h264.input.request_idr();
                h264.awaiting_idr = true;
            }
            StreamCodec::Planar(planar) => {
                planar.waiting = None;
                planar.whole_next = true;
            }
        }
        Ok(true)
    }
}

impl PlanarStream {
    /// Codes the tiles of `frame` that changed (under `damage`, against the picture coded
    /// before) as the frame that waits for the pipeline. Runs on the session's task: planar is
    /// cheap next to H.264, and a client on this path is one that cannot take H.264.
    fn code(&mut self, frame: &Arc<Frame>, damage: &[Rect]) {
        let whole = std::mem::take(&mut self.whole_next);
        let (damage, previous) = if whole {
            (&[][..], None)
        } else {
            (damage, self.last_coded.as_deref())
        };
        match planar::encode_changed_tiles(frame, damage, previous) {
            Ok(tiles) => {
                self.last_coded = Some(Arc::clone(frame));
                if !tiles.is_empty() {
                    self.waiting = Some(PlanarFrame {
                        tiles,
                        captured_at: frame.captured_at,
                    });
                }
            }
            Err(e) => {
                // A frame that does not hold what it says: skip it, and send the next whole.
                warn!(error = %e, seq = frame.seq, "cannot code a frame as planar tiles: skipped");
                self.whole_next = true;
            }
        }
    }
}

/// Hands EGFX PDUs to IronRDP's writer (as DVC data on the pipeline's channel).
fn send_gfx(
    events: &tokio::sync::mpsc::UnboundedSender<ironrdp_server::ServerEvent>,
    channel: Option<u32>,
    messages: Vec<ironrdp_dvc::DvcMessage>,
) -> anyhow::Result<()> {
    if messages.is_empty() {
        return Ok(());
    }
    let channel = channel.context("graphics pipeline without a channel id")?;
    let messages =
        ironrdp_dvc::encode_dvc_messages(channel, messages, ironrdp_svc::ChannelFlags::SHOW_PROTOCOL)
            .map_err(|e| anyhow::anyhow!("encoding graphics pipeline PDUs: {e}"))?;
    events
        .send(ironrdp_server::ServerEvent::Egfx(
            ironrdp_server::EgfxServerMessage::SendMessages { messages },
        ))
        .map_err(|_| anyhow::anyhow!("the session's writer is gone"))
}

/// Queues a marker behind what `events` holds, answered once IronRDP has written all of it
/// to the connection: IronRDP handles its server events one after the other, each write
/// finished before the next event, and answers `GetLocalAddr` from its own state, so the
/// answer comes exactly when the events before it are on the socket.
fn send_write_marker(
    events: &tokio::sync::mpsc::UnboundedSender<ironrdp_server::ServerEvent>,
) -> anyhow::Result<tokio::sync::oneshot::Receiver<Option<std::net::SocketAddr>>> {
    let (marker, written) = tokio::sync::oneshot::channel();
    events
        .send(ironrdp_server::ServerEvent::GetLocalAddr(marker))
        .map_err(|_| anyhow::anyhow!("the session's writer is gone"))?;
    Ok(written)
}

/// The pointer as one client knows it, and the images it keeps in its pointer cache.
#[derive(Debug, Default)]
struct PointerState {
    /// `None`: never told; `Some(None)`: hidden; `Some(Some(id))`: that image shown.
    shown: Option<Option<u64>>,
    position: Option<(u16, u16)>,
    /// Image ids by cache slot, least recently used first.
    cache: VecDeque<(u64, u16)>,
}

impl PointerState {
    /// The update that makes the client show `shape`: the cached image if it has it, else the
    /// image itself, stored in a free (or the least recently used) slot.
    fn select(&mut self, shape: &CursorShape) -> DisplayUpdate {
        if let Some(pos) = self.cache.iter().position(|(id, _)| *id == shape.id())
            && let Some(entry) = self.cache.remove(pos)
        {
            self.cache.push_back(entry);
            return DisplayUpdate::CachedPointer(entry.1);
        }
        let slot = if self.cache.len() < usize::from(POINTER_CACHE_SLOTS) {
            u16::try_from(self.cache.len()).unwrap_or(0)
        } else {
            self.cache.pop_front().map_or(0, |(_, slot)| slot)
        };
        self.cache.push_back((shape.id(), slot));
        DisplayUpdate::RGBAPointer(rdp_pointer(shape, slot))
    }
}

/// Our RGBA, top-down image as RDP's 32-bpp color pointer: BGRA rows bottom-up (like a DIB),
/// cropped around the hotspot to what every client takes.
fn rdp_pointer(shape: &CursorShape, cache_index: u16) -> RGBAPointer {
    let crop = |size: u16, hot: u16| -> (u16, u16) {
        let side = size.min(MAX_POINTER_SIDE);
        // Keep the hotspot inside the cropped image, as centred as the image allows.
        let start = hot.saturating_sub(side / 2).min(size - side);
        (start, side)
    };
    let (x0, width) = crop(shape.width, shape.hotspot_x);
    let (y0, height) = crop(shape.height, shape.hotspot_y);
    let src_stride = usize::from(shape.width) * 4;
    let mut data = Vec::with_capacity(usize::from(width) * usize::from(height) * 4);
    for row in (y0..y0 + height).rev() {
        let start = usize::from(row) * src_stride + usize::from(x0) * 4;
        let line = shape
            .rgba
            .get(start..start + usize::from(width) * 4)
            .unwrap_or_default();
        for px in line.chunks_exact(4) {
            data.extend_from_slice(&[px[2], px[1], px[0], px[3]]);
        }
    }
    RGBAPointer {
        cache_index,
        width,
        height,
        hot_x: shape.hotspot_x - x0,
        hot_y: shape.hotspot_y - y0,
        data,
    }
}

/// A bitmap update for `rect` of `frame` that shares the frame's bytes.
fn bitmap_for(frame: &Arc<Frame>, rect: Rect) -> anyhow::Result<BitmapUpdate> {
    let rect = rect
        .intersect(&frame.bounds())
        .context("damage rectangle lies outside the frame")?;
    let bpp = PixelFormat::BYTES_PER_PIXEL;
    let start = usize::from(rect.y) * frame.stride + usize::from(rect.x) * bpp;
    let end = start + (usize::from(rect.height) - 1) * frame.stride + usize::from(rect.width) * bpp;
    anyhow::ensure!(
        end <= frame.data.len(),
        "damage rectangle {rect:?} reaches past the frame data"
    );
    Ok(BitmapUpdate {
        x: rect.x,
        y: rect.y,
        width: NonZeroU16::new(rect.width).context("empty damage rectangle")?,
        height: NonZeroU16::new(rect.height).context("empty damage rectangle")?,
        format: rdp_pixel_format(frame.format),
        data: frame.data.slice(start..end),
        stride: NonZeroUsize::new(frame.stride).context("zero stride")?,
    })
}

/// Our formats name bytes in memory order, as IronRDP's do.
fn rdp_pixel_format(format: PixelFormat) -> RdpPixelFormat {
    match format {
        PixelFormat::Bgrx => RdpPixelFormat::BgrX32,
        PixelFormat::Bgra => RdpPixelFormat::BgrA32,
        PixelFormat::Rgbx => RdpPixelFormat::RgbX32,
        PixelFormat::Rgba => RdpPixelFormat::RgbA32,
        PixelFormat::Xrgb => RdpPixelFormat::XRgb32,
        PixelFormat::Argb => RdpPixelFormat::ARgb32,
        PixelFormat::Xbgr => RdpPixelFormat::XBgr32,
        PixelFormat::Abgr => RdpPixelFormat::ABgr32,
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use bytes::Bytes;
    use wrd_frame::NewFrame;

    use super::*;

    fn solid(width: u16, height: u16, value: u8, damage: Vec<Rect>) -> NewFrame {
        let stride = usize::from(width) * 4;
        NewFrame {
            width,
            height,
            stride,
            format: PixelFormat::Bgrx,
            data: Bytes::from(vec![value; stride * usize::from(height)]),
            damage,
            captured_at: Instant::now(),
        }
    }

    #[tokio::test]
    async fn first_update_is_whole_frame_then_only_damage() {
        let (mut publisher, bus) = FrameBus::new();
        publisher.publish(solid(64, 32, 1, vec![])).unwrap();
        let mut display = WrdDisplayHandler::new(bus, CancellationToken::new(), 60);
        assert_eq!(
            display.size().await,
            DesktopSize {
                width: 64,
                height: 32
            }
        );
        let mut updates = display.updates().await.unwrap();

        let Some(DisplayUpdate::Bitmap(full)) = updates.next_update().await.unwrap() else {
            panic!()
        };
        assert_eq!(
            (full.x, full.y, full.width.get(), full.height.get()),
            (0, 0, 64, 32)
        );

        publisher
            .publish(solid(64, 32, 2, vec![Rect::new(8, 4, 10, 6)]))
            .unwrap();
        let Some(DisplayUpdate::Bitmap(part)) = updates.next_update().await.unwrap() else {
            panic!()
        };
        assert_eq!(
            (part.x, part.y, part.width.get(), part.height.get()),
            (8, 4, 10, 6)
        );
        assert_eq!(part.stride.get(), 256);
        // The slice starts at the rectangle's first pixel and ends at its last.
        assert_eq!(part.data.len(), 5 * 256 + 10 * 4);
        assert!(part.data.iter().all(|b| *b == 2));
    }

    #[tokio::test]
    async fn size_change_asks_for_resize() {
        let (mut publisher, bus) = FrameBus::new();
        publisher.publish(solid(64, 32, 1, vec![])).unwrap();
        let mut display = WrdDisplayHandler::new(bus, CancellationToken::new(), 60);
        let mut updates = display.updates().await.unwrap();
        updates.next_update().await.unwrap();
        publisher.publish(solid(128, 64, 1, vec![])).unwrap();
        let update = updates.next_update().await.unwrap();
        assert!(matches!(
            update,
            Some(DisplayUpdate::Resize(DesktopSize {
                width: 128,
                height: 64
            }))
        ));
    }

    #[tokio::test]
    async fn source_end_ends_updates() {
        let (mut publisher, bus) = FrameBus::new();
        publisher.publish(solid(64, 32, 1, vec![])).unwrap();
        let mut display = WrdDisplayHandler::new(bus, CancellationToken::new(), 60);
        let mut updates = display.updates().await.unwrap();
        updates.next_update().await.unwrap();
        drop(publisher);
        assert!(updates.next_update().await.unwrap().is_none());
    }

    #[tokio::test(start_paused = true)]
    async fn frames_are_paced_to_max_fps_and_coalesced() {
        let (mut publisher, bus) = FrameBus::new();
        publisher.publish(solid(64, 32, 0, vec![])).unwrap();
        let mut display = WrdDisplayHandler::new(bus, CancellationToken::new(), 30);
        let mut updates = display.updates().await.unwrap();
        // A source at 240 fps for one second, each frame damaging its own column.
        let source = tokio::spawn(async move {
            for i in 0..240u16 {
                tokio::time::sleep(Duration::from_micros(4_167)).await;
                publisher
                    .publish(solid(64, 32, 1, vec![Rect::new(i % 64, 0, 1, 1)]))
                    .unwrap();
            }
            publisher
        });
        let started = tokio::time::Instant::now();
        // Updates from one frame arrive at the same (paused) instant; count the instants.
        let mut frame_times = std::collections::HashSet::new();
        let mut columns = std::collections::HashSet::new();
        while started.elapsed() < Duration::from_millis(1_050) {
            let Ok(update) = tokio::time::timeout(Duration::from_millis(100), updates.next_update()).await
            else {
                continue;
            };
            let Some(DisplayUpdate::Bitmap(bitmap)) = update.unwrap() else {
                panic!()
            };
            if bitmap.width.get() == 64 {
                continue; // the first, full frame
            }
            frame_times.insert(tokio::time::Instant::now());
            for x in bitmap.x..bitmap.x + bitmap.width.get() {
                columns.insert(x);
            }
        }
        let _publisher = source.await.unwrap();
        let frames = frame_times.len();
        assert!(
            (25..=32).contains(&frames),
            "{frames} updates in a second at max_fps 30"
        );
        // Coalesced, not dropped: every column the source damaged was sent.
        assert_eq!(columns.len(), 64);
    }

    #[tokio::test(start_paused = true)]
    async fn a_source_at_max_fps_loses_no_frame_to_pacing() {
        let (mut publisher, bus) = FrameBus::new();
        publisher.publish(solid(64, 32, 0, vec![])).unwrap();
        let mut display = WrdDisplayHandler::new(bus, CancellationToken::new(), 60);
        let mut updates = display.updates().await.unwrap();
        updates.next_update().await.unwrap(); // the first, full frame
        // 60 fps for 5 s, each frame up to 3 ms off its time, as a compositor's are.
        const FRAMES: u32 = 300;
        let source = tokio::spawn(async move {
            let start = tokio::time::Instant::now();
            for i in 0..FRAMES {
                let jitter_us = u64::from(i.wrapping_mul(7_919) % 6_001);
                let due = start + Duration::from_micros(u64::from(i + 1) * 16_667 + jitter_us - 3_000);
                tokio::time::sleep_until(due).await;
                let column = u16::try_from(i % 64).unwrap();
                publisher
                    .publish(solid(64, 32, 1, vec![Rect::new(column, 0, 1, 1)]))
                    .unwrap();
            }
            publisher
        });
        let mut frame_times = std::collections::HashSet::new();
        while frame_times.len() < usize::try_from(FRAMES).unwrap() {
            let Ok(update) = tokio::time::timeout(Duration::from_millis(200), updates.next_update()).await
            else {
                break; // the source has ended and everything sent has arrived
            };
            let Some(DisplayUpdate::Bitmap(_)) = update.unwrap() else {
                panic!()
            };
            frame_times.insert(tokio::time::Instant::now());
        }
        let _publisher = source.await.unwrap();
        // A minimum interval after each frame taken lost one frame in about sixteen here.
        assert_eq!(
            frame_times.len(),
            usize::try_from(FRAMES).unwrap(),
            "frames sent of {FRAMES}"
        );
    }

    fn shape(width: u32, height: u32, hot: (i32, i32), seed: u8) -> Arc<CursorShape> {
        let rgba: Vec<u8> = (0..width * height * 4)
            .map(|i| u8::try_from(i % 251).unwrap().wrapping_add(seed))
            .collect();
        Arc::new(CursorShape::new(width, height, hot.0, hot.1, Bytes::from(rgba)).unwrap())
    }

    async fn next(updates: &mut Box<dyn RdpServerDisplayUpdates>) -> DisplayUpdate {
        tokio::time::timeout(Duration::from_secs(1), updates.next_update())
            .await
            .expect("an update within a second")
            .unwrap()
            .expect("the stream is open")
    }

    #[tokio::test]
    async fn size_comes_from_the_announced_layout_before_any_frame() {
        let (mut publisher, bus) = FrameBus::new();
        publisher.announce_layout(wrd_frame::DesktopLayout::single(800, 600));
        let mut display = WrdDisplayHandler::new(bus, CancellationToken::new(), 60);
        let started = std::time::Instant::now();
        assert_eq!(
            display.size().await,
            DesktopSize {
                width: 800,
                height: 600
            }
        );
        assert!(started.elapsed() < Duration::from_millis(500));
    }

    #[tokio::test]
    async fn pointer_images_are_sent_once_then_cached_and_moves_are_positions() {
        let (mut publisher, bus) = FrameBus::new();
        publisher.publish(solid(64, 32, 1, vec![])).unwrap();
        let arrow = shape(2, 2, (1, 0), 0);
        let beam = shape(3, 1, (0, 0), 7);
        publisher.publish_cursor(Cursor::Visible {
            x: 10,
            y: 20,
            shape: Arc::clone(&arrow),
        });
        let mut display = WrdDisplayHandler::new(bus, CancellationToken::new(), 60);
        let mut updates = display.updates().await.unwrap();

        // The pointer goes before the picture.
        let DisplayUpdate::RGBAPointer(image) = next(&mut updates).await else {
            panic!("the image first")
        };
        assert_eq!((image.cache_index, image.width, image.height), (0, 2, 2));
        assert_eq!((image.hot_x, image.hot_y), (1, 0));
        // BGRA, bottom row first: the first pixel sent is the source's (0, 1) = bytes 8..12.
        let src = &arrow.rgba;
        assert_eq!(&image.data[..4], &[src[10], src[9], src[8], src[11]]);
        let DisplayUpdate::PointerPosition(at) = next(&mut updates).await else {
            panic!("then the position")
        };
        assert_eq!((at.x, at.y), (10, 20));
        assert!(matches!(next(&mut updates).await, DisplayUpdate::Bitmap(_)));

        // A move: only the position.
        publisher.publish_cursor(Cursor::Visible {
            x: 11,
            y: 20,
            shape: Arc::clone(&arrow),
        });
        assert!(matches!(
            next(&mut updates).await,
            DisplayUpdate::PointerPosition(_)
        ));
        // A new image gets the next slot; going back to the first uses the cache.
        publisher.publish_cursor(Cursor::Visible {
            x: 11,
            y: 20,
            shape: Arc::clone(&beam),
        });
        let DisplayUpdate::RGBAPointer(image) = next(&mut updates).await else {
            panic!("the new image")
        };
        assert_eq!(image.cache_index, 1);
        publisher.publish_cursor(Cursor::Visible {
            x: 11,
            y: 20,
            shape: Arc::clone(&arrow),
        });
        assert!(matches!(
            next(&mut updates).await,
            DisplayUpdate::CachedPointer(0)
        ));
        publisher.publish_cursor(Cursor::Hidden);
        assert!(matches!(next(&mut updates).await, DisplayUpdate::HidePointer));
        // Nothing else is pending.
        assert!(
            tokio::time::timeout(Duration::from_millis(100), updates.next_update())
                .await
                .is_err()
        );
    }

    #[tokio::test]
    async fn the_clients_own_pointer_moves_are_not_echoed() {
        let (mut publisher, bus) = FrameBus::new();
        publisher.publish(solid(64, 32, 1, vec![])).unwrap();
        let client_pointer = Arc::new(ClientPointer::default());
        let mut display = WrdDisplayHandler::with_client_pointer(
            bus,
            CancellationToken::new(),
            60,
            Arc::clone(&client_pointer),
        );
        let mut updates = display.updates().await.unwrap();
        assert!(matches!(next(&mut updates).await, DisplayUpdate::Bitmap(_)));
        let arrow = shape(2, 2, (0, 0), 0);
        client_pointer.moved_to(30, 15);
        publisher.publish_cursor(Cursor::Visible {
            x: 31,
            y: 15,
            shape: Arc::clone(&arrow),
        });
        assert!(matches!(next(&mut updates).await, DisplayUpdate::RGBAPointer(_)));
        // The position is where the client already is: not sent.
        assert!(
            tokio::time::timeout(Duration::from_millis(100), updates.next_update())
                .await
                .is_err()
        );
        // Moved by someone else: sent.
        publisher.publish_cursor(Cursor::Visible {
            x: 50,
            y: 5,
            shape: arrow,
        });
        assert!(matches!(
            next(&mut updates).await,
            DisplayUpdate::PointerPosition(_)
        ));
    }

    #[test]
    fn large_pointers_are_cropped_around_the_hotspot() {
        let big = shape(128, 128, (120, 4), 0);
        let pointer = rdp_pointer(&big, 3);
        assert_eq!((pointer.width, pointer.height), (96, 96));
        assert_eq!((pointer.hot_x, pointer.hot_y), (120 - 32, 4));
        assert_eq!(pointer.data.len(), 96 * 96 * 4);
    }
}
