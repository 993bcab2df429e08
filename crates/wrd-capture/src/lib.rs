//! Frame sources: a desktop capture session pumped from the PipeWire thread onto the
//! [`FrameBus`](wrd_frame::FrameBus).
//!
//! This crate is glue: the portal is known only to `wrd-portal`, Mutter's API only to
//! `wrd-mutter`, PipeWire only to `wrd-pipewire`. It owns the policy between them: which streams feed the bus and how several
//! monitors become one desktop ([`compose`]), the pointer from cursor metadata ([`cursor`]),
//! what counts as the end of a capture, and the watchdog that turns a silent stream into a
//! clear log line and a re-negotiated stream.

pub mod compose;
pub mod cursor;

use std::time::Duration;

use futures_util::future::select_all;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::{debug, error, info, trace, warn};
use wrd_frame::{DesktopLayout, FramePublisher};
use wrd_mutter::{CursorMode as MutterCursor, MutterError, MutterOptions, MutterSession, Recording};
use wrd_pipewire::{
    CapturedFrame, PipeWireConnection, PipeWireEvent, PipeWireThreadManager, Remote, StreamClosed,
    StreamConfig, StreamHandle, StreamId, StreamState,
};
use wrd_portal::{CastSession, CursorDelivery, PortalError, ScreencastOptions};

use crate::compose::{ComposeError, DesktopCompositor, MonitorPlacement, StreamPixels};
use crate::cursor::CursorTracker;

/// How long a stream may take to deliver its first frame before the watchdog re-negotiates
/// it. Doubled after each attempt.
pub const FIRST_FRAME_DEADLINE: Duration = Duration::from_secs(5);

/// A stream paused by the desktop for this long is re-negotiated.
const PAUSED_DEADLINE: Duration = Duration::from_secs(5);

/// Re-negotiations tried on a silent stream before the watchdog only reports.
const MAX_RENEGOTIATIONS: u32 = 3;

/// Size assumed for a monitor the session did not describe, until its stream negotiates one.
const UNKNOWN_MONITOR_SIZE: (u16, u16) = (1920, 1080);

#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    #[error(transparent)]
    Portal(#[from] PortalError),
    #[error(transparent)]
    Mutter(#[from] MutterError),
    #[error("PipeWire: {0}")]
    PipeWire(String),
    #[error("composing the monitors: {0}")]
    Compose(#[from] ComposeError),
}

/// Why a capture ended without an error of ours.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CaptureEnd {
    /// The server is shutting down.
    Shutdown,
    /// The capture session was closed from the desktop side (or its service went away).
    SessionClosed,
    /// The PipeWire stream or daemon went away.
    StreamLost(String),
}

impl std::fmt::Display for CaptureEnd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Shutdown => write!(f, "the server is shutting down"),
            Self::SessionClosed => write!(f, "the screen cast was closed from the desktop"),
            Self::StreamLost(reason) => write!(f, "the capture stream was lost: {reason}"),
        }
    }
}

/// One monitor's stream, as the capture session describes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MonitorStream {
    pub node_id: u32,
    /// In the desktop's logical coordinates, when the session says.
    pub position: Option<(i32, i32)>,
    pub size: Option<(i32, i32)>,
}

/// The desktop API a capture session came from. A closed set: each variant is one outside
/// system, known by its own crate.
#[derive(Debug)]
pub enum DesktopSession {
    /// xdg-desktop-portal ScreenCast (`wrd-portal`).
    Portal(CastSession),
    /// GNOME's own remote-desktop API, no consent dialog (`wrd-mutter`).
    Mutter(MutterSession),
}

impl DesktopSession {
    fn name(&self) -> &'static str {
        match self {
            Self::Portal(_) => "portal screen cast",
            Self::Mutter(_) => "Mutter screen cast",
        }
    }

    pub fn streams(&self) -> Vec<MonitorStream> {
        match self {
            Self::Portal(cast) => cast
                .streams
                .iter()
                .map(|s| MonitorStream {
                    node_id: s.node_id,
                    position: s.position,
                    size: s.size,
                })
                .collect(),
            Self::Mutter(session) => session
                .streams
                .iter()
                .map(|s| MonitorStream {
                    node_id: s.node_id,
                    position: s.position,
                    size: s.size,
                })
                .collect(),
        }
    }

    /// Whether the pointer comes as metadata beside the frames (else it is drawn into them,
    /// or not shown at all).
    pub fn cursor_metadata(&self) -> bool {
        match self {
            Self::Portal(cast) => cast.cursor == CursorDelivery::Metadata,
            Self::Mutter(session) => session.cursor == MutterCursor::Metadata,
        }
    }

    fn take_remote(&mut self) -> Result<Remote, CaptureError> {
        match self {
            Self::Portal(cast) => cast
                .remote
                .take()
                .map(Remote::Fd)
                .ok_or_else(|| CaptureError::PipeWire("the portal session has no PipeWire remote".into())),
            // Mutter's streams are nodes of the session's own PipeWire daemon.
            Self::Mutter(_) => Ok(Remote::Default),
        }
    }

    async fn closed(&self) -> Result<(), String> {
        match self {
            Self::Portal(cast) => cast.closed().await.map_err(|e| e.to_string()),
            Self::Mutter(session) => session.closed().await.map_err(|e| e.to_string()),
        }
    }

    /// Asks the desktop to report its pointer now. Mutter sends cursor metadata only when the
    /// pointer changes, so a stream that starts on a still desktop would leave clients without
    /// a pointer until someone moves it: a zero move makes Mutter report it without moving it.
    async fn reveal_pointer(&self) -> Result<(), String> {
        match self {
            // The portal's streams carry the pointer with their first frame.
            Self::Portal(_) => Ok(()),
            Self::Mutter(session) => session
                .input()
                .pointer_motion_relative(0.0, 0.0)
                .await
                .map_err(|e| e.to_string()),
        }
    }

    async fn close(&self) -> Result<(), String> {
        match self {
            Self::Portal(cast) => cast.close().await.map_err(|e| e.to_string()),
            Self::Mutter(session) => session.stop().await.map_err(|e| e.to_string()),
        }
    }
}

/// A started capture session, before its frames are pumped.
#[derive(Debug)]
pub struct Capture {
    session: DesktopSession,
    /// `Some` for a monitor that takes the size its stream asks for (Mutter's virtual
    /// monitor): the size asked at the start, and later sizes to ask for.
    sized: Option<SizedMonitor>,
}

/// A monitor whose size the capture chooses (see [`Capture::mutter_virtual_monitor`]).
#[derive(Debug)]
struct SizedMonitor {
    size: (u32, u32),
    /// `None` once its sender is gone.
    resizes: Option<mpsc::UnboundedReceiver<(u32, u32)>>,
}

impl Capture {
    /// Starts the portal screen cast (this may show the desktop's consent dialog).
    pub async fn portal(options: &ScreencastOptions) -> Result<Self, CaptureError> {
        let session = wrd_portal::start_screencast(options).await?;
        Ok(Self {
            session: DesktopSession::Portal(session),
            sized: None,
        })
    }

    /// Starts a session through Mutter's own API (GNOME): no consent dialog. The pointer comes
    /// as metadata, so clients draw it themselves.
    pub async fn mutter() -> Result<Self, CaptureError> {
        let options = MutterOptions {
            cursor: MutterCursor::Metadata,
            recording: Recording::Monitors,
        };
        let session = wrd_mutter::start(&options).await?;
        info!(
            streams = session.streams.len(),
            connectors = ?session.streams.iter().map(|s| s.connector.as_str()).collect::<Vec<_>>(),
            "Mutter screen cast started"
        );
        Ok(Self {
            session: DesktopSession::Mutter(session),
            sized: None,
        })
    }

    /// Like [`Capture::mutter`], but records a virtual monitor of its own that Mutter makes at
    /// `size` and resizes to every size that comes on `resizes` (the latest of those queued
    /// up: the stream re-negotiates its size, then frames of the new size follow). For a
    /// headless Mutter that has no monitor of its own.
    pub async fn mutter_virtual_monitor(
        size: (u32, u32),
        resizes: mpsc::UnboundedReceiver<(u32, u32)>,
    ) -> Result<Self, CaptureError> {
        let options = MutterOptions {
            cursor: MutterCursor::Metadata,
            recording: Recording::VirtualMonitor,
        };
        let session = wrd_mutter::start(&options).await?;
        info!(
            width = size.0,
            height = size.1,
            "Mutter screen cast of a virtual monitor started"
        );
        Ok(Self {
            session: DesktopSession::Mutter(session),
            sized: Some(SizedMonitor {
                size,
                resizes: Some(resizes),
            }),
        })
    }

    pub fn session(&self) -> &DesktopSession {
        &self.session
    }

    /// Input into a Mutter session (the same session the screen cast belongs to); `None` for
    /// a portal screen cast (see [`Capture::portal_input`]).
    pub fn mutter_input(&self) -> Option<wrd_mutter::MutterInput> {
        match &self.session {
            DesktopSession::Mutter(session) => Some(session.input()),
            DesktopSession::Portal(_) => None,
        }
    }

    /// The Mutter session itself (its clipboard goes with it: [`MutterSession::clipboard`]);
    /// `None` for a portal screen cast.
    pub fn mutter_session(&self) -> Option<&MutterSession> {
        match &self.session {
            DesktopSession::Mutter(session) => Some(session),
            DesktopSession::Portal(_) => None,
        }
    }

    /// Input into the portal's RemoteDesktop session the screen cast belongs to; `None` for a
    /// ScreenCast-only portal session (xdg-desktop-portal-wlr), a session whose keyboard and
    /// pointer the user did not grant, or a Mutter session. Its absolute positions name a
    /// monitor by its index in [`DesktopSession::streams`] (the order of the announced layout).
    pub fn portal_input(&self) -> Option<wrd_portal::PortalInput> {
        match &self.session {
            DesktopSession::Portal(cast) => cast.input.clone(),
            DesktopSession::Mutter(_) => None,
        }
    }

    /// Pumps frames onto `publisher` until shutdown, the desktop closes the session, or a
    /// stream is lost. Dropping the publisher at the end tells every client the source ended.
    pub async fn run(
        mut self,
        publisher: FramePublisher,
        shutdown: CancellationToken,
    ) -> Result<CaptureEnd, CaptureError> {
        let remote = self.session.take_remote()?;
        let mut monitors = self.session.streams();
        if let (Some(sized), [monitor]) = (&self.sized, monitors.as_mut_slice()) {
            // Known before any frame: the stream will ask for it.
            monitor.size = Some((
                i32::try_from(sized.size.0).unwrap_or(i32::MAX),
                i32::try_from(sized.size.1).unwrap_or(i32::MAX),
            ));
        }
        let (manager, pw) = tokio::task::spawn_blocking(move || PipeWireThreadManager::spawn(remote))
            .await
            .map_err(|e| CaptureError::PipeWire(format!("starting the PipeWire thread: {e}")))?
            .map_err(|e| CaptureError::PipeWire(e.to_string()))?;
        let result = Pump::start(&self.session, monitors, pw, publisher, self.sized.take())
            .await?
            .run(&self.session, &shutdown)
            .await;
        if let Ok(end) = &result {
            info!(reason = %end, "capture ended");
            if *end == CaptureEnd::Shutdown
                && let Err(e) = self.session.close().await
            {
                debug!(error = %e, "closing the capture session");
            }
        }
        if let Err(e) = manager.shutdown_async().await {
            debug!(error = %e, "PipeWire thread shutdown");
        }
        result
    }
}

/// One monitor's PipeWire stream and its watchdog.
#[derive(Debug)]
struct MonitorSlot {
    node_id: u32,
    handle: StreamHandle,
    frames: u64,
    /// Re-negotiations so far (for the first frame, or after a pause).
    attempts: u32,
    /// When the watchdog looks at this stream next, and why.
    watchdog: Option<(Instant, Silence)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Silence {
    NoFirstFrame,
    Paused,
}

/// What woke the pump.
enum Wake {
    End(CaptureEnd),
    SessionUnwatchable(String),
    Frame(usize, CapturedFrame),
    Event(Option<PipeWireEvent>),
    Watchdog,
    /// A size for the capture-sized monitor (`None`: nobody sends sizes any more).
    Resize(Option<(u32, u32)>),
}

/// The frames of every monitor, onto the bus.
struct Pump {
    pw: PipeWireConnection,
    slots: Vec<MonitorSlot>,
    publisher: FramePublisher,
    /// `Some` with several monitors: they are composed into one picture.
    compositor: Option<DesktopCompositor>,
    layout: DesktopLayout,
    /// `Some` when the pointer comes as metadata.
    cursor: Option<CursorTracker>,
    /// A stream (re)started streaming: the desktop should report the pointer again.
    reveal_pointer: bool,
    published: u64,
    /// The one monitor's size when the capture chooses it (Mutter's virtual monitor).
    sized: Option<SizedMonitor>,
}

impl Pump {
    async fn start(
        session: &DesktopSession,
        monitors: Vec<MonitorStream>,
        pw: PipeWireConnection,
        publisher: FramePublisher,
        sized: Option<SizedMonitor>,
    ) -> Result<Self, CaptureError> {
        if monitors.is_empty() {
            return Err(CaptureError::PipeWire("the capture session has no stream".into()));
        }
        if sized.is_some() && monitors.len() != 1 {
            return Err(CaptureError::PipeWire(format!(
                "a monitor sized by the capture must be the session's only one ({} streams)",
                monitors.len()
            )));
        }
        let placements = placements(&monitors);
        let (compositor, layout) = if placements.len() > 1 {
            let compositor = DesktopCompositor::new(placements)?;
            let layout = compositor.layout();
            info!(
                monitors = layout.monitors.len(),
                width = layout.width,
                height = layout.height,
                "several monitors: composing them into one desktop"
            );
            (Some(compositor), layout)
        } else {
            let (width, height) = placements
                .first()
                .map_or(UNKNOWN_MONITOR_SIZE, |p| (p.width, p.height));
            (None, DesktopLayout::single(width, height))
        };
        let mut pump = Self {
            pw,
            slots: Vec::with_capacity(monitors.len()),
            publisher,
            compositor,
            layout,
            cursor: session
                .cursor_metadata()
                .then(|| CursorTracker::new(monitors.len())),
            reveal_pointer: false,
            published: 0,
            sized,
        };
        // Clients can be offered the right size before any frame: some desktops send frames
        // only when something changes.
        if monitors.iter().all(|m| m.size.is_some()) {
            pump.publisher.announce_layout(pump.layout.clone());
        }
        let fixed = pump.sized.as_ref().map(|s| s.size);
        for monitor in &monitors {
            let handle = create_stream(&pump.pw, monitor.node_id, monitor.size, fixed).await?;
            pump.slots.push(MonitorSlot {
                node_id: monitor.node_id,
                handle,
                frames: 0,
                attempts: 0,
                watchdog: Some((Instant::now() + FIRST_FRAME_DEADLINE, Silence::NoFirstFrame)),
            });
        }
        Ok(pump)
    }

    async fn run(
        mut self,
        session: &DesktopSession,
        shutdown: &CancellationToken,
    ) -> Result<CaptureEnd, CaptureError> {
        let name = session.name();
        // One subscription to the session's end for the whole capture.
        let session_closed = session.closed();
        tokio::pin!(session_closed);
        let mut watching_session = true;
        loop {
            let next_watchdog = self.slots.iter().filter_map(|s| s.watchdog.map(|w| w.0)).min();
            let frames = select_all(self.slots.iter_mut().map(|s| Box::pin(s.handle.frames.recv())));
            // The select only says what woke us; the handling below needs `self` whole.
            let wake = tokio::select! {
                () = shutdown.cancelled() => Wake::End(CaptureEnd::Shutdown),
                closed = &mut session_closed, if watching_session => match closed {
                    Ok(()) => Wake::End(CaptureEnd::SessionClosed),
                    Err(e) => Wake::SessionUnwatchable(e),
                },
                (frame, index, _) = frames => match frame {
                    Ok(frame) => Wake::Frame(index, frame),
                    Err(StreamClosed::Shutdown) => Wake::End(CaptureEnd::Shutdown),
                    Err(closed) => Wake::End(CaptureEnd::StreamLost(closed.to_string())),
                },
                event = self.pw.next_event() => Wake::Event(event),
                () = sleep_until_opt(next_watchdog) => Wake::Watchdog,
                size = next_size(&mut self.sized) => Wake::Resize(size),
            };
            let end = match wake {
                Wake::End(end) => Some(end),
                Wake::SessionUnwatchable(e) => {
                    warn!(error = %e, "cannot watch the {name} session: its end will be noticed through PipeWire");
                    watching_session = false;
                    None
                }
                Wake::Frame(index, frame) => {
                    self.on_frame(index, frame)?;
                    None
                }
                Wake::Event(event) => self.on_event(event)?,
                Wake::Watchdog => {
                    self.on_watchdog().await?;
                    None
                }
                Wake::Resize(size) => {
                    self.on_resize(size).await;
                    None
                }
            };
            if let Some(end) = end {
                info!(frames = self.published, "{name}: {end}");
                return Ok(end);
            }
            if std::mem::take(&mut self.reveal_pointer)
                && self.cursor.is_some()
                && let Err(e) = session.reveal_pointer().await
            {
                debug!(error = %e, "asking the desktop for its pointer");
            }
        }
    }

    /// Asks the capture-sized monitor for `size` (the latest of the sizes queued up): its
    /// stream re-negotiates, the desktop resizes its monitor, and the new format and frames
    /// follow through the usual events.
    async fn on_resize(&mut self, size: Option<(u32, u32)>) {
        let Some(sized) = self.sized.as_mut() else {
            return;
        };
        let Some(mut size) = size else {
            debug!("no more sizes for the monitor: it keeps its size");
            // A closed channel would wake the loop at once, forever: stop listening.
            sized.resizes = None;
            return;
        };
        while let Some(Ok(newer)) = sized.resizes.as_mut().map(mpsc::UnboundedReceiver::try_recv) {
            size = newer;
        }
        if size == sized.size {
            debug!(
                width = size.0,
                height = size.1,
                "the monitor has that size already"
            );
            return;
        }
        let Some(stream) = self.slots.first().map(|s| s.handle.stream.id) else {
            return;
        };
        match self.pw.set_size(stream, size).await {
            Ok(_) => {
                info!(
                    width = size.0,
                    height = size.1,
                    "asking the desktop's monitor for the client's size"
                );
                sized.size = size;
            }
            Err(e) => warn!(
                width = size.0,
                height = size.1,
                error = %e,
                "could not ask the desktop's monitor for a new size: it keeps {}x{}",
                sized.size.0,
                sized.size.1
            ),
        }
    }

    fn slot_of(&self, stream: StreamId) -> Option<usize> {
        self.slots.iter().position(|s| s.handle.stream.id == stream)
    }

    fn on_frame(&mut self, index: usize, frame: CapturedFrame) -> Result<(), CaptureError> {
        if let Some(slot) = self.slots.get_mut(index) {
            slot.frames += 1;
            if slot.frames == 1 {
                info!(node = slot.node_id, "first frame captured");
            }
            slot.watchdog = None;
            slot.attempts = 0;
        }
        match &mut self.compositor {
            None => self.publish_single(frame),
            Some(_) => {
                self.compose(index, &frame)?;
                // Take what the other monitors have ready too: one composed picture for all.
                for other in 0..self.slots.len() {
                    if other == index {
                        continue;
                    }
                    if let Some(Ok(Some(frame))) =
                        self.slots.get_mut(other).map(|s| s.handle.frames.try_recv())
                    {
                        self.compose(other, &frame)?;
                    }
                }
                if let Some(new) = self
                    .compositor
                    .as_mut()
                    .and_then(|c| c.take_frame(frame.captured_at))
                {
                    self.publish(new);
                }
            }
        }
        Ok(())
    }

    fn publish_single(&mut self, frame: CapturedFrame) {
        let size = (
            u16::try_from(frame.width).unwrap_or(u16::MAX),
            u16::try_from(frame.height).unwrap_or(u16::MAX),
        );
        if (self.layout.width, self.layout.height) != size {
            self.layout = DesktopLayout::single(size.0, size.1);
            self.publisher.announce_layout(self.layout.clone());
        }
        self.update_cursor(0, &frame);
        if let Some(new) = frame.into_new_frame() {
            self.publish(new);
        }
    }

    fn compose(&mut self, index: usize, frame: &CapturedFrame) -> Result<(), CaptureError> {
        let Some(compositor) = self.compositor.as_mut() else {
            return Ok(());
        };
        if frame.pixels_changed {
            let (Ok(width), Ok(height)) = (u16::try_from(frame.width), u16::try_from(frame.height)) else {
                warn!(
                    width = frame.width,
                    height = frame.height,
                    "a monitor frame too large for RDP was dropped"
                );
                return Ok(());
            };
            let relaid = compositor.blit(
                index,
                StreamPixels {
                    width,
                    height,
                    stride: frame.stride,
                    format: frame.format,
                    data: &frame.data[..],
                    damage: &frame.damage[..],
                },
            )?;
            if relaid {
                self.layout = compositor.layout();
                info!(
                    width = self.layout.width,
                    height = self.layout.height,
                    "desktop re-laid out"
                );
                self.publisher.announce_layout(self.layout.clone());
            }
        }
        self.update_cursor(index, frame);
        Ok(())
    }

    fn update_cursor(&mut self, index: usize, frame: &CapturedFrame) {
        let Some(tracker) = self.cursor.as_mut() else {
            return;
        };
        if let Some(cursor) = tracker.update(index, frame.cursor.as_ref(), &self.layout.monitors) {
            self.publisher.publish_cursor(cursor);
        }
    }

    fn publish(&mut self, frame: wrd_frame::NewFrame) {
        match self.publisher.publish(frame) {
            Ok(seq) => {
                self.published += 1;
                trace!(seq, "frame published");
            }
            Err(e) => warn!(error = %e, "dropped a malformed captured frame"),
        }
    }

    fn on_event(&mut self, event: Option<PipeWireEvent>) -> Result<Option<CaptureEnd>, CaptureError> {
        let end = match event {
            Some(
                PipeWireEvent::Disconnected { reason } | PipeWireEvent::StreamDisconnected { reason, .. },
            ) => Some(CaptureEnd::StreamLost(reason)),
            Some(PipeWireEvent::StreamStateChanged {
                new: StreamState::Error(message),
                ..
            }) => Some(CaptureEnd::StreamLost(message)),
            // The node we were linked to is gone (the desktop stopped casting).
            Some(PipeWireEvent::StreamStateChanged {
                old,
                new: StreamState::Unconnected,
                ..
            }) if old != StreamState::Connecting => {
                Some(CaptureEnd::StreamLost("the screen-cast node went away".into()))
            }
            Some(PipeWireEvent::StreamStateChanged { stream, old, new, .. }) => {
                if let Some(slot) = self.slot_of(stream).and_then(|i| self.slots.get_mut(i)) {
                    match (&old, &new) {
                        (StreamState::Streaming, StreamState::Paused) => {
                            debug!(node = slot.node_id, "the desktop paused the stream");
                            if slot.watchdog.is_none() {
                                slot.watchdog = Some((Instant::now() + PAUSED_DEADLINE, Silence::Paused));
                            }
                        }
                        (_, StreamState::Streaming) => {
                            if slot.watchdog.is_some_and(|w| w.1 == Silence::Paused) {
                                slot.watchdog = None;
                            }
                            self.reveal_pointer = true;
                        }
                        _ => {}
                    }
                }
                None
            }
            Some(PipeWireEvent::FormatChanged { stream, format }) => {
                info!(?format, "capture format negotiated");
                self.on_format(stream, format.width, format.height)?;
                None
            }
            Some(PipeWireEvent::StreamError { message, .. }) => {
                warn!(%message, "capture stream problem");
                None
            }
            Some(other) => {
                debug!(event = ?other, "PipeWire event");
                None
            }
            None => Some(CaptureEnd::StreamLost("the PipeWire thread stopped".into())),
        };
        Ok(end)
    }

    /// A negotiated size is the desktop's (or its monitor's) size before any frame arrives.
    fn on_format(&mut self, stream: StreamId, width: u32, height: u32) -> Result<(), CaptureError> {
        let (Ok(width), Ok(height)) = (u16::try_from(width), u16::try_from(height)) else {
            return Ok(());
        };
        let Some(index) = self.slot_of(stream) else {
            return Ok(());
        };
        match &mut self.compositor {
            None => {
                let layout = DesktopLayout::single(width, height);
                if self.layout != layout || self.published == 0 {
                    self.layout = layout;
                    self.publisher.announce_layout(self.layout.clone());
                }
            }
            Some(compositor) => {
                compositor.set_monitor_size(index, width, height)?;
                self.layout = compositor.layout();
                self.publisher.announce_layout(self.layout.clone());
            }
        }
        Ok(())
    }

    /// A stream that stayed silent past its deadline is re-negotiated (it may have been set up
    /// while the desktop was not ready, or the desktop lost track of it); after a few attempts
    /// the watchdog only reports, loudly.
    async fn on_watchdog(&mut self) -> Result<(), CaptureError> {
        let now = Instant::now();
        for index in 0..self.slots.len() {
            let Some(slot) = self.slots.get_mut(index) else {
                continue;
            };
            let Some((at, why)) = slot.watchdog else { continue };
            if at > now {
                continue;
            }
            let what = match why {
                Silence::NoFirstFrame => format!(
                    "no frame from the desktop (node {}) within {} s of starting",
                    slot.node_id,
                    deadline_for(slot.attempts).as_secs()
                ),
                Silence::Paused => format!(
                    "the desktop paused the stream of node {} for {} s",
                    slot.node_id,
                    PAUSED_DEADLINE.as_secs()
                ),
            };
            if slot.attempts >= MAX_RENEGOTIATIONS {
                error!(
                    "{what}, even after {MAX_RENEGOTIATIONS} re-negotiations: clients see no live picture of this \
                     monitor. Some desktops send frames only when something changes; if the screen does change, \
                     check the portal backend's (or compositor's) log"
                );
                slot.watchdog = None;
                continue;
            }
            slot.attempts += 1;
            warn!(
                attempt = slot.attempts,
                of = MAX_RENEGOTIATIONS,
                "{what}: re-negotiating the stream"
            );
            let node_id = slot.node_id;
            let old = slot.handle.stream.id;
            if let Err(e) = self.pw.destroy_stream(old).await {
                debug!(error = %e, "destroying the silent stream");
            }
            let size = self
                .layout
                .monitors
                .get(index)
                .map(|m| (i32::from(m.width), i32::from(m.height)));
            let fixed = self.sized.as_ref().map(|s| s.size);
            let handle = create_stream(&self.pw, node_id, size, fixed).await?;
            if let Some(slot) = self.slots.get_mut(index) {
                slot.handle = handle;
                let attempts = slot.attempts;
                slot.watchdog = Some((Instant::now() + deadline_for(attempts), Silence::NoFirstFrame));
                slot.frames = 0;
            }
        }
        Ok(())
    }
}

/// The first-frame deadline after `attempts` re-negotiations: 5, 10, 20, 40 s.
fn deadline_for(attempts: u32) -> Duration {
    FIRST_FRAME_DEADLINE * 2u32.saturating_pow(attempts.min(8))
}

async fn sleep_until_opt(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// The next size for a capture-sized monitor; never resolves without one.
async fn next_size(sized: &mut Option<SizedMonitor>) -> Option<(u32, u32)> {
    match sized.as_mut().and_then(|s| s.resizes.as_mut()) {
        Some(resizes) => resizes.recv().await,
        None => std::future::pending().await,
    }
}

/// A consumer stream of `node_id`: preferring the monitor's `size` when known, or asking for
/// exactly `fixed` (a monitor that takes the size it is asked for).
async fn create_stream(
    pw: &PipeWireConnection,
    node_id: u32,
    size: Option<(i32, i32)>,
    fixed: Option<(u32, u32)>,
) -> Result<StreamHandle, CaptureError> {
    let max_cursor = u32::from(wrd_frame::MAX_CURSOR_SIZE);
    let mut config = StreamConfig {
        name: "wrd-server".to_owned(),
        // Room for the largest pointer image we pass on (Mutter needs at least 384x384).
        max_cursor_size: (max_cursor, max_cursor),
        ..StreamConfig::default()
    };
    if let Some((w, h)) = size {
        config.preferred_size = (
            u32::try_from(w).unwrap_or(1920).max(1),
            u32::try_from(h).unwrap_or(1080).max(1),
        );
    }
    config.fixed_size = fixed;
    pw.create_stream(node_id, config)
        .await
        .map_err(|e| CaptureError::PipeWire(format!("connecting to node {node_id}: {e}")))
}

/// Where each monitor goes: at its reported position, or, when the session did not say,
/// side by side from left to right in the session's order.
fn placements(monitors: &[MonitorStream]) -> Vec<MonitorPlacement> {
    let all_positioned = monitors.iter().all(|m| m.position.is_some());
    let mut next_x = 0i32;
    monitors
        .iter()
        .map(|m| {
            let (width, height) = m.size.map_or(UNKNOWN_MONITOR_SIZE, |(w, h)| {
                (
                    u16::try_from(w).unwrap_or(UNKNOWN_MONITOR_SIZE.0).max(1),
                    u16::try_from(h).unwrap_or(UNKNOWN_MONITOR_SIZE.1).max(1),
                )
            });
            let (x, y) = match m.position {
                Some(position) if all_positioned => position,
                _ => (next_x, 0),
            };
            next_x = next_x.saturating_add(i32::from(width));
            MonitorPlacement { x, y, width, height }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn monitor(position: Option<(i32, i32)>, size: Option<(i32, i32)>) -> MonitorStream {
        MonitorStream {
            node_id: 1,
            position,
            size,
        }
    }

    #[test]
    fn placements_follow_positions_or_go_side_by_side() {
        let placed = placements(&[
            monitor(Some((1920, 0)), Some((1280, 720))),
            monitor(Some((0, 0)), Some((1920, 1080))),
        ]);
        assert_eq!(
            placed,
            vec![
                MonitorPlacement {
                    x: 1920,
                    y: 0,
                    width: 1280,
                    height: 720
                },
                MonitorPlacement {
                    x: 0,
                    y: 0,
                    width: 1920,
                    height: 1080
                },
            ]
        );
        // One position missing: trust none of them.
        let placed = placements(&[monitor(Some((500, 500)), Some((100, 50))), monitor(None, None)]);
        assert_eq!(
            placed,
            vec![
                MonitorPlacement {
                    x: 0,
                    y: 0,
                    width: 100,
                    height: 50
                },
                MonitorPlacement {
                    x: 100,
                    y: 0,
                    width: 1920,
                    height: 1080
                },
            ]
        );
    }

    #[test]
    fn deadlines_double() {
        assert_eq!(deadline_for(0), Duration::from_secs(5));
        assert_eq!(deadline_for(3), Duration::from_secs(40));
    }
}
