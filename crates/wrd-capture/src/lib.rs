//! Frame sources: a desktop capture session pumped from the PipeWire thread onto the
//! [`FrameBus`](wrd_frame::FrameBus).
//!
//! This crate is glue: the portal is known only to `wrd-portal`, PipeWire only to
//! `wrd-pipewire`. It owns the policy between them: which stream feeds the bus, what counts as
//! the end of a capture, and the watchdog that turns a silent stream into a clear log line.

use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};
use wrd_frame::FramePublisher;
use wrd_pipewire::{PipeWireEvent, PipeWireThreadManager, Remote, StreamClosed, StreamConfig, StreamState};
use wrd_portal::{CastSession, PortalError, ScreencastOptions};

/// How long the first frame may take before the watchdog speaks up.
pub const FIRST_FRAME_DEADLINE: Duration = Duration::from_secs(5);

#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    #[error(transparent)]
    Portal(#[from] PortalError),
    #[error("PipeWire: {0}")]
    PipeWire(String),
}

/// Why a capture ended without an error of ours.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CaptureEnd {
    /// The server is shutting down.
    Shutdown,
    /// The portal session was closed from the desktop side (or the portal went away).
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

/// A started portal capture, before its frames are pumped.
#[derive(Debug)]
pub struct PortalCapture {
    session: CastSession,
}

impl PortalCapture {
    /// Starts the portal screen cast (this may show the desktop's consent dialog).
    pub async fn start(options: &ScreencastOptions) -> Result<Self, CaptureError> {
        let session = wrd_portal::start_screencast(options).await?;
        if session.streams.len() > 1 {
            warn!(
                streams = session.streams.len(),
                "the portal granted several monitors; only the first is shown to clients for now"
            );
        }
        Ok(Self { session })
    }

    pub fn session(&self) -> &CastSession {
        &self.session
    }

    /// Pumps frames onto `publisher` until shutdown, the desktop closes the session, or the
    /// stream is lost. Dropping the publisher at the end tells every client the source ended.
    pub async fn run(
        mut self,
        mut publisher: FramePublisher,
        shutdown: CancellationToken,
    ) -> Result<CaptureEnd, CaptureError> {
        let fd = self
            .session
            .remote
            .take()
            .ok_or_else(|| CaptureError::PipeWire("the portal session has no PipeWire remote".into()))?;
        let stream = self.session.streams[0].clone();
        let (manager, mut pw) =
            tokio::task::spawn_blocking(move || PipeWireThreadManager::spawn(Remote::Fd(fd)))
                .await
                .map_err(|e| CaptureError::PipeWire(format!("starting the PipeWire thread: {e}")))?
                .map_err(|e| CaptureError::PipeWire(e.to_string()))?;
        let mut config = StreamConfig {
            name: "wrd-server".to_owned(),
            ..StreamConfig::default()
        };
        if let Some((w, h)) = stream.size {
            config.preferred_size = (
                u32::try_from(w).unwrap_or(1920).max(1),
                u32::try_from(h).unwrap_or(1080).max(1),
            );
        }
        let mut handle = pw
            .create_stream(stream.node_id, config)
            .await
            .map_err(|e| CaptureError::PipeWire(format!("connecting to node {}: {e}", stream.node_id)))?;

        let mut published: u64 = 0;
        let watchdog = tokio::time::sleep(FIRST_FRAME_DEADLINE);
        tokio::pin!(watchdog);
        let mut watchdog_armed = true;
        // One subscription to the portal's Closed signal for the whole capture.
        let session_closed = self.session.closed();
        tokio::pin!(session_closed);
        let mut watching_session = true;
        let end = loop {
            tokio::select! {
                () = shutdown.cancelled() => break CaptureEnd::Shutdown,
                closed = &mut session_closed, if watching_session => match closed {
                    Ok(()) => break CaptureEnd::SessionClosed,
                    Err(e) => {
                        warn!(error = %e, "cannot watch the portal session: its end will be noticed through PipeWire");
                        watching_session = false;
                    }
                },
                frame = handle.frames.recv() => match frame {
                    Ok(frame) => {
                        let Some(new) = frame.into_new_frame() else { continue };
                        match publisher.publish(new) {
                            Ok(_) => {
                                published += 1;
                                if published == 1 {
                                    info!(node = stream.node_id, "first frame captured");
                                }
                                watchdog_armed = false;
                            }
                            Err(e) => warn!(error = %e, "dropped a malformed captured frame"),
                        }
                    }
                    Err(StreamClosed::Shutdown) => break CaptureEnd::Shutdown,
                    Err(closed) => break CaptureEnd::StreamLost(format!("{closed:?}")),
                },
                event = pw.next_event() => match event {
                    Some(PipeWireEvent::Disconnected { reason }) => break CaptureEnd::StreamLost(reason),
                    Some(PipeWireEvent::StreamDisconnected { reason, .. }) => break CaptureEnd::StreamLost(reason),
                    Some(PipeWireEvent::StreamStateChanged { new: StreamState::Error(message), .. }) => {
                        break CaptureEnd::StreamLost(message);
                    }
                    // The node we were linked to is gone (the portal backend stopped casting).
                    Some(PipeWireEvent::StreamStateChanged { old, new: StreamState::Unconnected, .. })
                        if old != StreamState::Connecting => {
                        break CaptureEnd::StreamLost("the screen-cast node went away".into());
                    }
                    Some(PipeWireEvent::FormatChanged { format, .. }) => info!(?format, "capture format negotiated"),
                    Some(PipeWireEvent::StreamError { message, .. }) => warn!(%message, "capture stream problem"),
                    Some(other) => debug!(event = ?other, "PipeWire event"),
                    None => break CaptureEnd::StreamLost("the PipeWire thread stopped".into()),
                },
                () = &mut watchdog, if watchdog_armed => {
                    watchdog_armed = false;
                    warn!(
                        node = stream.node_id,
                        "no frame from the screen cast within {} s: clients see nothing until the desktop draws something \
                         (some compositors send frames only on change); if this persists, check the portal backend's log",
                        FIRST_FRAME_DEADLINE.as_secs()
                    );
                }
            }
        };
        info!(frames = published, reason = %end, "capture ended");
        drop(publisher);
        if end == CaptureEnd::Shutdown {
            let _ = self.session.close().await;
        }
        if let Err(e) = manager.shutdown_async().await {
            debug!(error = %e, "PipeWire thread shutdown");
        }
        Ok(end)
    }
}
