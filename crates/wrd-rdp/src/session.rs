//! One client connection, from the first byte to the last, on a thread of its own.
//!
//! IronRDP's connection future is `!Send` (it shares state through `Rc`), so it cannot be a
//! task of the multi-threaded runtime. Each connection therefore gets an OS thread with a
//! current-thread runtime. That also isolates clients: encoding for one never delays the
//! accept loop or another client.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use ironrdp_server::{
    CredentialDecision, CredentialValidationError, CredentialValidator, RdpServer, ServerEvent,
};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info_span, warn};
use wrd_frame::FrameBus;

use crate::auth::{AuthMode, Credentials};
use crate::clipboard::{ClipboardRoute, SessionCliprdrFactory};
use crate::display::{ClientPointer, WrdDisplayHandler};
use crate::input::{InputRoute, SessionId, SessionInputHandler};
use crate::tls::TlsIdentity;
use crate::transport::{StallGuard, WRITE_STALL_LIMIT, WireBytes};

/// How long a session may take to close itself after the server asked it to quit.
const QUIT_GRACE: Duration = Duration::from_millis(800);

/// Everything a session needs, cloned from the server for each connection.
#[derive(Debug, Clone)]
pub(crate) struct SessionContext {
    pub id: SessionId,
    pub peer: SocketAddr,
    pub auth: AuthMode,
    pub tls: TlsIdentity,
    pub bus: FrameBus,
    pub input: InputRoute,
    pub clipboard: ClipboardRoute,
    pub handshake_timeout: Duration,
    pub max_fps: u32,
    /// Set when the desktop can take the client's size (a headless session).
    pub resize: Option<crate::display::ResizeRoute>,
    pub codec: crate::Codec,
    pub h264: wrd_h264::EncoderSettings,
    /// Server shutdown.
    pub shutdown: CancellationToken,
}

/// How a session ended.
#[derive(Debug)]
pub enum SessionOutcome {
    /// The client or the server closed the session normally.
    Closed,
    /// The client failed to authenticate.
    AuthFailed(String),
    /// The client did not finish the connection sequence in time.
    HandshakeTimeout,
    /// Ended because the server is shutting down.
    Shutdown,
    /// Anything else: network errors, protocol errors, a vanished client.
    Failed(anyhow::Error),
}

/// What the accept loop learns when a session ends.
#[derive(Debug)]
pub(crate) struct SessionEnded {
    pub id: SessionId,
    pub peer: SocketAddr,
    /// Whether the client got past authentication into an active session.
    pub activated: bool,
    pub duration: Duration,
    pub outcome: SessionOutcome,
    /// Bytes the session wrote to and read from its socket, everything included.
    pub bytes_sent: u64,
    pub bytes_received: u64,
}

/// Runs the session to its end on the calling thread (which it blocks), and reports how it
/// ended on `report` the moment that is known: before the session's runtime is torn down, so
/// an authentication failure counts before the client can retry.
pub(crate) fn run_on_this_thread(
    ctx: SessionContext,
    stream: std::net::TcpStream,
    report: &mpsc::UnboundedSender<SessionEnded>,
) {
    let started = Instant::now();
    let activated = CancellationToken::new();
    let (id, peer) = (ctx.id, ctx.peer);
    let bytes = Arc::new(WireBytes::default());
    let ended = |outcome| SessionEnded {
        id,
        peer,
        activated: activated.is_cancelled(),
        duration: started.elapsed(),
        outcome,
        bytes_sent: bytes.sent(),
        bytes_received: bytes.received(),
    };
    match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => {
            let span = info_span!("session", id, %peer);
            let _entered = span.enter();
            runtime.block_on(async {
                let outcome = run(ctx, stream, activated.clone(), Arc::clone(&bytes)).await;
                // The accept loop may be gone (shutting down); nothing left to tell then.
                let _ = report.send(ended(outcome));
            });
            // Dropping the runtime waits for IronRDP's blocking encoder tasks, if any.
            drop(runtime);
        }
        Err(e) => {
            let outcome =
                SessionOutcome::Failed(anyhow::Error::new(e).context("creating the session runtime"));
            let _ = report.send(ended(outcome));
        }
    }
}

async fn run(
    ctx: SessionContext,
    stream: std::net::TcpStream,
    activated: CancellationToken,
    bytes: Arc<WireBytes>,
) -> SessionOutcome {
    let stream = match TcpStream::from_std(stream) {
        Ok(stream) => stream,
        Err(e) => return SessionOutcome::Failed(anyhow::Error::new(e).context("registering the socket")),
    };
    let tls_rejection = Arc::new(Mutex::new(None));
    let mut server = build_server(&ctx, activated.clone(), Arc::clone(&tls_rejection));
    let quit = server.event_sender().clone();

    let connection = server.run_connection(StallGuard::new(stream, WRITE_STALL_LIMIT, bytes));
    tokio::pin!(connection);

    let handshake_deadline = async {
        tokio::select! {
            () = activated.cancelled() => std::future::pending::<()>().await,
            () = tokio::time::sleep(ctx.handshake_timeout) => {}
        }
    };

    let result = tokio::select! {
        result = &mut connection => result,
        () = handshake_deadline => return SessionOutcome::HandshakeTimeout,
        () = ctx.shutdown.cancelled() => {
            // Ask IronRDP to end the session cleanly; if it cannot (a write is stuck on a dead
            // client), dropping the future closes the socket.
            let _ = quit.send(ServerEvent::Quit("server shutting down".to_owned()));
            if tokio::time::timeout(QUIT_GRACE, &mut connection).await.is_err() {
                debug!("session did not close within the grace period: dropping it");
            }
            return SessionOutcome::Shutdown;
        }
    };

    if let Some(reason) = tls_rejection
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .take()
    {
        return SessionOutcome::AuthFailed(reason);
    }
    match result {
        Ok(()) => SessionOutcome::Closed,
        Err(error) => match auth_failure(&error) {
            Some(reason) => SessionOutcome::AuthFailed(reason),
            None => SessionOutcome::Failed(error),
        },
    }
}

fn build_server(
    ctx: &SessionContext,
    activated: CancellationToken,
    tls_rejection: Arc<Mutex<Option<String>>>,
) -> RdpServer {
    // `with_addr` only matters to `RdpServer::run`, which we do not use: we accept ourselves.
    let builder = RdpServer::builder().with_addr(ctx.peer);
    let builder = match &ctx.auth {
        AuthMode::Nla(_) => builder.with_hybrid(ctx.tls.acceptor.clone(), ctx.tls.public_key.clone()),
        AuthMode::TlsOnly(_) | AuthMode::None => builder.with_tls(ctx.tls.acceptor.clone()),
    };
    // The input handler records where the client puts its pointer; the display uses that to
    // avoid echoing the client's own moves back to it.
    let client_pointer = Arc::new(ClientPointer::default());
    // The graphics pipeline is offered unless a classic codec is forced; clients that
    // negotiate H.264 in it get H.264.
    let gfx = ctx
        .codec
        .offers_graphics_pipeline()
        .then(|| Arc::new(crate::gfx::GfxLink::default()));
    let mut display = WrdDisplayHandler::with_client_pointer(
        ctx.bus.clone(),
        activated,
        ctx.max_fps,
        Arc::clone(&client_pointer),
    )
    .with_resize(ctx.resize.clone());
    if let Some(link) = &gfx {
        display = display.with_graphics_pipeline(
            Arc::clone(link),
            ctx.codec == crate::Codec::H264,
            ctx.h264.clone(),
        );
    }
    let encoder_reset = display.encoder_reset_handle();
    let gfx_factory = gfx
        .map(|link| Box::new(crate::gfx::GfxFactory::new(link)) as Box<dyn ironrdp_server::GfxServerFactory>);
    let mut server = builder
        .with_input_handler(SessionInputHandler::new(
            ctx.id,
            ctx.peer,
            ctx.input.clone(),
            Arc::clone(&client_pointer),
        ))
        .with_display_handler(display)
        .with_bitmap_codecs(crate::bitmap_codecs(ctx.codec))
        .with_gfx_factory(gfx_factory)
        // A desktop that takes the client's size starts the session at it (the display
        // handler's `request_initial_size` resizes the desktop before answering).
        .with_honor_client_desktop_size(ctx.resize.is_some())
        .with_cliprdr_factory(match &ctx.clipboard {
            ClipboardRoute::Off => None,
            ClipboardRoute::Forward(route) => {
                Some(Box::new(SessionCliprdrFactory::new(ctx.id, route.clone())))
            }
        })
        .build();
    server.set_encoder_reset_handle(encoder_reset);
    match &ctx.auth {
        AuthMode::Nla(creds) => server.set_credentials(Some(ironrdp_credentials(creds))),
        AuthMode::TlsOnly(creds) => server.set_credential_validator(Some(Arc::new(TlsPasswordCheck {
            expected: creds.clone(),
            rejection: tls_rejection,
        }))),
        AuthMode::None => {}
    }
    server
}

fn ironrdp_credentials(creds: &Credentials) -> ironrdp_server::Credentials {
    ironrdp_server::Credentials {
        username: creds.username.clone(),
        password: creds.password.clone(),
        domain: creds.domain.clone(),
    }
}

/// Checks the password a TLS-only client sends in its client info, and remembers a rejection
/// so the session can be reported as an authentication failure.
struct TlsPasswordCheck {
    expected: Credentials,
    rejection: Arc<Mutex<Option<String>>>,
}

#[async_trait::async_trait]
impl CredentialValidator for TlsPasswordCheck {
    async fn validate(
        &self,
        offered: &ironrdp_server::Credentials,
    ) -> Result<CredentialDecision, CredentialValidationError> {
        let domain_ok = match &self.expected.domain {
            Some(domain) => offered
                .domain
                .as_deref()
                .is_some_and(|d| d.eq_ignore_ascii_case(domain)),
            None => true,
        };
        if offered.username == self.expected.username
            && offered.password == self.expected.password
            && domain_ok
        {
            return Ok(CredentialDecision::Accept);
        }
        let reason = format!("wrong username or password for user {:?}", offered.username);
        *self.rejection.lock().unwrap_or_else(PoisonError::into_inner) = Some(reason);
        Ok(CredentialDecision::Reject)
    }
}

/// Recognises a CredSSP/NTLM rejection of the client's credentials in IronRDP's error chain.
pub(crate) fn auth_failure(error: &anyhow::Error) -> Option<String> {
    for cause in error.chain() {
        if let Some(sspi_error) = cause.downcast_ref::<sspi::Error>() {
            use sspi::ErrorKind as K;
            return match sspi_error.error_type {
                K::LogonDenied | K::NoCredentials | K::UnknownCredentials => Some(format!(
                    "NLA rejected the credentials: {}",
                    sspi_error.description
                )),
                _ => {
                    warn!(error = %format!("{error:#}"), "CredSSP failed for another reason than credentials");
                    None
                }
            };
        }
    }
    None
}
