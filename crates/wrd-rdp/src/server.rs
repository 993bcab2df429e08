//! The accept loop: admission (throttled addresses, the client limit), one thread per
//! session, authentication bookkeeping, and graceful shutdown.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, mpsc, watch};
use tokio_util::sync::CancellationToken;
use tracing::{debug, error, info, warn};
use wrd_frame::FrameBus;

use crate::auth::{AuthMode, AuthThrottle, FailureOutcome};
use crate::clipboard::ClipboardRoute;
use crate::display::ResizeRoute;
use crate::input::{InputRoute, SessionId};
use crate::session::{self, SessionContext, SessionEnded, SessionOutcome};
use crate::tls::TlsIdentity;
use crate::transport::configure_socket;

/// Sessions are given this long to close after shutdown is requested, so the whole process
/// exits well within two seconds of SIGTERM.
const SHUTDOWN_GRACE: Duration = Duration::from_millis(1200);

/// Default for [`ServerConfig::max_fps`].
pub const DEFAULT_MAX_FPS: u32 = 60;

/// Default for [`ServerConfig::handshake_timeout`].
pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(30);

/// How the RDP side of the server behaves.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub auth: AuthMode,
    pub tls: TlsIdentity,
    /// Connections (handshaking or active) served at once; more are refused at accept.
    pub max_clients: usize,
    /// A client must complete TLS, authentication and the connection sequence within this.
    pub handshake_timeout: Duration,
    /// Frames per second sent to each client at most (a faster source is coalesced).
    pub max_fps: u32,
    /// What pictures are encoded as (`--codec`).
    pub codec: crate::Codec,
    /// The H.264 encoder's settings for each client on the graphics pipeline (bit rate, frame
    /// rate planned for, IDR interval, refinement).
    pub h264: wrd_h264::EncoderSettings,
    pub input: InputRoute,
    /// Where the clipboard channel's events go (`Off`: clients are not offered the channel).
    pub clipboard: ClipboardRoute,
}

/// What happened over a server's life, for logs and tests.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ServeSummary {
    pub accepted: u64,
    pub refused_over_limit: u64,
    pub refused_throttled: u64,
    pub auth_failures: u64,
}

/// Serves RDP clients on `listener` until `shutdown` is cancelled, then closes every session
/// and returns (within about 1.2 s).
pub async fn serve(
    listener: TcpListener,
    config: ServerConfig,
    bus: FrameBus,
    shutdown: CancellationToken,
) -> anyhow::Result<ServeSummary> {
    let desktop = OwnedDesktop {
        connected: watch::Sender::new(0),
        resize: None,
    };
    serve_owned_desktop(listener, config, bus, shutdown, desktop).await
}

/// What a server that owns its desktop (`wrd-server headless`) learns from and asks of
/// [`serve_owned_desktop`].
#[derive(Debug, Clone)]
pub struct OwnedDesktop {
    /// Kept at the number of connections being served (handshaking or active): what a
    /// headless session's idle timeout watches.
    pub connected: watch::Sender<usize>,
    /// Where clients' sizes go (at connect, and Display Control layouts); `None` when the
    /// desktop cannot change its size.
    pub resize: Option<ResizeRoute>,
}

/// [`serve`] for a desktop the server owns (see [`OwnedDesktop`]).
pub async fn serve_owned_desktop(
    listener: TcpListener,
    config: ServerConfig,
    bus: FrameBus,
    shutdown: CancellationToken,
    desktop: OwnedDesktop,
) -> anyhow::Result<ServeSummary> {
    let OwnedDesktop { connected, resize } = desktop;
    anyhow::ensure!(config.max_clients > 0, "max_clients must be at least 1");
    let local = listener.local_addr().context("reading the listening address")?;
    info!(address = %local, max_clients = config.max_clients, "accepting RDP clients");

    let slots = Arc::new(Semaphore::new(config.max_clients));
    let (ended_tx, mut ended_rx) = mpsc::unbounded_channel::<SessionEnded>();
    let mut throttle = AuthThrottle::default();
    let mut summary = ServeSummary::default();
    let mut next_id: SessionId = 1;

    loop {
        tokio::select! {
            () = shutdown.cancelled() => break,
            Some(ended) = ended_rx.recv() => {
                on_session_ended(ended, &mut throttle, &mut summary);
            }
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(conn) => conn,
                    Err(e) => {
                        // Usually out of file descriptors: back off briefly instead of spinning.
                        warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                };
                // Sessions that ended since the last turn may carry authentication failures
                // that decide this admission.
                while let Ok(ended) = ended_rx.try_recv() {
                    on_session_ended(ended, &mut throttle, &mut summary);
                }
                if let Some(remaining) = throttle.blocked_for(peer.ip(), Instant::now()) {
                    summary.refused_throttled += 1;
                    warn!(%peer, remaining_s = remaining.as_secs(), "refused: too many failed logins from this address");
                    continue;
                }
                let Ok(slot) = Arc::clone(&slots).try_acquire_owned() else {
                    summary.refused_over_limit += 1;
                    warn!(%peer, max_clients = config.max_clients, "refused: the server is at its client limit");
                    continue;
                };
                if let Err(e) = configure_socket(&stream) {
                    warn!(%peer, error = %e, "could not set keepalive on the connection: dead clients may take longer to notice");
                }
                let stream = match stream.into_std() {
                    Ok(stream) => stream,
                    Err(e) => {
                        warn!(%peer, error = %e, "could not hand the connection to a session");
                        continue;
                    }
                };
                let id = next_id;
                next_id += 1;
                summary.accepted += 1;
                info!(session = id, %peer, "client connected");
                let ctx = SessionContext {
                    id,
                    peer,
                    auth: config.auth.clone(),
                    tls: config.tls.clone(),
                    bus: bus.clone(),
                    input: config.input.clone(),
                    clipboard: config.clipboard.clone(),
                    handshake_timeout: config.handshake_timeout,
                    max_fps: config.max_fps,
                    resize: resize.clone(),
                    codec: config.codec,
                    h264: config.h264.clone(),
                    shutdown: shutdown.child_token(),
                };
                let ended_tx = ended_tx.clone();
                connected.send_modify(|n| *n += 1);
                let session_connected = connected.clone();
                let spawned = std::thread::Builder::new().name(format!("rdp-session-{id}")).spawn(move || {
                    // The session reports its end before the slot is released: shutdown waits
                    // for all slots and then reads the reports, so none is missed.
                    session::run_on_this_thread(ctx, stream, &ended_tx);
                    session_connected.send_modify(|n| *n = n.saturating_sub(1));
                    drop(slot);
                });
                if let Err(e) = spawned {
                    connected.send_modify(|n| *n = n.saturating_sub(1));
                    error!(%peer, error = %e, "could not start a session thread");
                }
            }
        }
    }

    drop(listener);
    info!("shutting down: closing sessions");
    let max = u32::try_from(config.max_clients).unwrap_or(u32::MAX);
    match tokio::time::timeout(SHUTDOWN_GRACE, slots.acquire_many(max)).await {
        Ok(_) => debug!("all sessions closed"),
        Err(_) => warn!("some sessions did not close in time; they end with the process"),
    }
    while let Ok(ended) = ended_rx.try_recv() {
        on_session_ended(ended, &mut throttle, &mut summary);
    }
    Ok(summary)
}

fn on_session_ended(ended: SessionEnded, throttle: &mut AuthThrottle, summary: &mut ServeSummary) {
    let SessionEnded {
        id,
        peer,
        activated,
        duration,
        outcome,
        bytes_sent,
        bytes_received,
    } = ended;
    let secs = duration.as_secs_f32();
    match outcome {
        SessionOutcome::AuthFailed(reason) => {
            summary.auth_failures += 1;
            match throttle.record_failure(peer.ip(), Instant::now()) {
                FailureOutcome::Counted { failures_in_window } => {
                    warn!(session = id, %peer, failures_in_window, "authentication failed: {reason}");
                }
                FailureOutcome::Blocked(block) => warn!(
                    session = id, %peer, block_s = block.as_secs(),
                    "authentication failed: {reason}; too many failures, refusing this address for a while"
                ),
            }
        }
        SessionOutcome::Closed => {
            info!(session = id, %peer, duration_s = secs, bytes_sent, bytes_received, "client disconnected")
        }
        SessionOutcome::Shutdown => {
            info!(session = id, %peer, duration_s = secs, bytes_sent, bytes_received, "session closed for shutdown")
        }
        SessionOutcome::HandshakeTimeout => {
            warn!(session = id, %peer, "client did not complete the connection sequence in time: dropped");
        }
        SessionOutcome::Failed(error) => {
            warn!(session = id, %peer, duration_s = secs, bytes_sent, bytes_received, error = %format!("{error:#}"), "session ended with an error");
        }
    }
    if activated {
        throttle.record_success(peer.ip());
    }
}
