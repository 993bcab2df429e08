//! The graphics pipeline (MS-RDPEGFX) with H.264: the link between IronRDP's EGFX channel and
//! one client's display.
//!
//! IronRDP owns the channel: it calls our [`GfxFactory`] while the connection is set up, runs
//! the `GraphicsPipelineServer` on the dynamic-channel layer (capabilities, frame
//! acknowledgements) and writes whatever we hand it as `ServerEvent::Egfx`. The display
//! (`display.rs`) learns through the [`GfxLink`] when the pipeline is ready, creates the surface
//! and sends H.264 frames through the shared server handle. How many frames may be in flight is
//! ours to decide ([`FlowControl`], fed here with the client's acknowledgements): IronRDP's own
//! fixed window is set out of the way.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use ironrdp_egfx::pdu::{CapabilitiesAdvertisePdu, CapabilitySet};
use ironrdp_egfx::server::{GraphicsPipelineHandler, GraphicsPipelineServer};
use ironrdp_server::{GfxDvcBridge, GfxServerFactory, GfxServerHandle, ServerEvent, ServerEventSender};
use tokio::sync::{Notify, mpsc};
use tracing::{debug, info};

use crate::flow::FlowControl;

/// What the display needs from the EGFX channel, shared with IronRDP's side of it.
#[derive(Debug, Default)]
pub(crate) struct GfxLink {
    state: Mutex<LinkState>,
    /// Woken when the pipeline becomes ready or closes, and on every frame acknowledgement
    /// (a permit is kept if nobody waits, so no wake-up is lost).
    changed: Notify,
}

#[derive(Default)]
struct LinkState {
    handle: Option<GfxServerHandle>,
    events: Option<mpsc::UnboundedSender<ServerEvent>>,
    ready: bool,
    closed: bool,
    /// Frames in flight, round trip and frame rate; lives as long as the connection (frames
    /// sent before a resize are still acknowledged after it).
    flow: FlowControl,
}

impl std::fmt::Debug for LinkState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LinkState")
            .field("has_handle", &self.handle.is_some())
            .field("ready", &self.ready)
            .field("closed", &self.closed)
            .finish_non_exhaustive()
    }
}

/// The pipeline as the display sees it.
pub(crate) enum GfxStatus {
    /// Not (yet) negotiated: the client may not support it, or the channel is still opening.
    NotReady,
    Ready {
        handle: GfxServerHandle,
        events: mpsc::UnboundedSender<ServerEvent>,
    },
    Closed,
}

impl GfxLink {
    fn lock(&self) -> MutexGuard<'_, LinkState> {
        // Plain data swapped under the lock: still consistent after a panic elsewhere.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn status(&self) -> GfxStatus {
        let state = self.lock();
        if state.closed {
            return GfxStatus::Closed;
        }
        match (&state.handle, &state.events, state.ready) {
            (Some(handle), Some(events), true) => GfxStatus::Ready {
                handle: Arc::clone(handle),
                events: events.clone(),
            },
            _ => GfxStatus::NotReady,
        }
    }

    /// Runs `f` on the connection's flow control. Lock order: the pipeline server's lock (if
    /// held) before this one, as IronRDP's callbacks take them.
    pub(crate) fn with_flow<R>(&self, f: impl FnOnce(&mut FlowControl) -> R) -> R {
        f(&mut self.lock().flow)
    }

    /// Waits for the next change (ready, closed, a frame acknowledged). Cancel-safe.
    pub(crate) async fn changed(&self) {
        self.changed.notified().await;
    }
}

/// Locks the EGFX server shared with IronRDP's channel layer.
pub(crate) fn lock_server(handle: &GfxServerHandle) -> MutexGuard<'_, GraphicsPipelineServer> {
    // IronRDP's bridge panics on a poisoned lock; we take the state as it is instead.
    handle.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Handed to IronRDP's builder: makes the channel's server and shares it with the display.
pub(crate) struct GfxFactory {
    link: Arc<GfxLink>,
}

impl GfxFactory {
    pub(crate) fn new(link: Arc<GfxLink>) -> Self {
        Self { link }
    }
}

impl ServerEventSender for GfxFactory {
    fn set_sender(&mut self, sender: mpsc::UnboundedSender<ServerEvent>) {
        self.link.lock().events = Some(sender);
    }
}

impl GfxServerFactory for GfxFactory {
    fn build_gfx_handler(&self) -> Box<dyn GraphicsPipelineHandler> {
        Box::new(GfxHandler {
            link: Arc::clone(&self.link),
        })
    }

    fn build_server_with_handle(&self) -> Option<(GfxDvcBridge, GfxServerHandle)> {
        let mut server = GraphicsPipelineServer::new(self.build_gfx_handler());
        // Our window (crate::flow) decides; IronRDP's fixed one would cap it at 3.
        server.set_max_frames_in_flight(u32::MAX);
        let handle = Arc::new(Mutex::new(server));
        self.link.lock().handle = Some(Arc::clone(&handle));
        Some((GfxDvcBridge::new(Arc::clone(&handle)), handle))
    }
}

/// IronRDP's callbacks, run with the server's lock held: they touch only the link.
struct GfxHandler {
    link: Arc<GfxLink>,
}

impl GraphicsPipelineHandler for GfxHandler {
    fn capabilities_advertise(&mut self, pdu: &CapabilitiesAdvertisePdu) {
        debug!(capabilities = ?pdu, "client offers the graphics pipeline");
    }

    fn on_ready(&mut self, negotiated: &CapabilitySet) {
        info!(capabilities = ?negotiated, "graphics pipeline negotiated");
        self.link.lock().ready = true;
        self.link.changed.notify_one();
    }

    fn on_frame_ack(&mut self, frame_id: u32, queue_depth: u32, _total_frames_decoded: u32) {
        let now = std::time::Instant::now();
        self.link
            .with_flow(|flow| flow.acknowledged(frame_id, queue_depth, now));
        self.link.changed.notify_one();
    }

    fn on_close(&mut self) {
        debug!("graphics pipeline closed");
        let mut state = self.link.lock();
        state.closed = true;
        state.ready = false;
        drop(state);
        self.link.changed.notify_one();
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use ironrdp_dvc::DvcProcessor as _;
    use ironrdp_egfx::pdu::{
        Avc420Region, CapabilitiesV107Flags, FrameAcknowledgePdu, GfxPdu, QueueDepth, RawCapabilitySet,
    };

    use super::*;

    const CHANNEL: u32 = 7;

    fn from_client(server: &GfxServerHandle, pdu: GfxPdu) {
        let bytes = ironrdp_core::encode_vec(&pdu).unwrap();
        lock_server(server).process(CHANNEL, &bytes).unwrap();
    }

    fn acknowledge(server: &GfxServerHandle, frame_id: u32, queue_depth: QueueDepth) {
        from_client(
            server,
            GfxPdu::FrameAcknowledge(FrameAcknowledgePdu {
                queue_depth,
                frame_id,
                total_frames_decoded: frame_id + 1,
            }),
        );
    }

    /// Sends one AVC420 frame (the bytes are not decoded here) and returns its id.
    fn send_frame(server: &GfxServerHandle, surface: u16) -> u32 {
        lock_server(server)
            .send_avc420_frame(
                surface,
                &[0, 0, 0, 1, 0x65],
                &[Avc420Region::full_frame(64, 64, 22)],
                0,
            )
            .expect("the pipeline takes the frame")
    }

    /// A client that suspends frame acknowledgements sends none from then on: IronRDP's
    /// bookkeeping (patched, see vendor/README.md) must not keep a record per frame sent, or a
    /// long session grows for ever. (Our own flow control's side: `flow.rs` tests.)
    #[test]
    fn suspended_acknowledgements_leave_no_frame_tracked() {
        let link = Arc::new(GfxLink::default());
        let (server, _bridge) = {
            let factory = GfxFactory::new(Arc::clone(&link));
            let (bridge, handle) = factory.build_server_with_handle().unwrap();
            (handle, bridge)
        };
        lock_server(&server).start(CHANNEL).unwrap();
        from_client(
            &server,
            GfxPdu::CapabilitiesAdvertise(CapabilitiesAdvertisePdu(vec![RawCapabilitySet::from(
                &CapabilitySet::V10_7 {
                    flags: CapabilitiesV107Flags::SMALL_CACHE,
                },
            )])),
        );
        let surface = lock_server(&server).create_surface(64, 64).unwrap();
        assert!(lock_server(&server).map_surface_to_output(surface, 0, 0));

        let first = send_frame(&server, surface);
        send_frame(&server, surface);
        assert_eq!(lock_server(&server).frames_in_flight(), 2);

        acknowledge(&server, first, QueueDepth::Suspend);
        for _ in 0..500 {
            send_frame(&server, surface);
        }
        assert_eq!(
            lock_server(&server).frames_in_flight(),
            0,
            "frames tracked while acknowledgements are suspended"
        );
        // Our flow control heard the suspension through IronRDP's callback.
        assert!(link.with_flow(|flow| flow.is_suspended()));

        // Acknowledging again: frames are tracked again.
        acknowledge(&server, first + 1, QueueDepth::AvailableBytes(1));
        send_frame(&server, surface);
        assert_eq!(lock_server(&server).frames_in_flight(), 1);
    }
}
