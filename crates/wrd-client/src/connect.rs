//! The connection sequence: TCP, X.224 negotiation, TLS, CredSSP, then the rest of the RDP
//! connection sequence (basic settings, channels, licensing, capabilities, finalization).

use core::time::Duration;
use std::net::SocketAddr;
use std::sync::Arc;

use ironrdp::connector::credssp::{CredsspProcessGenerator, CredsspSequence};
use ironrdp::connector::sspi;
use ironrdp::connector::sspi::credssp::ClientState;
use ironrdp::connector::sspi::generator::GeneratorState;
use ironrdp::connector::{
    self, BitmapConfig, ClientConnector, ClientConnectorState, ConnectionResult, ConnectorError,
    ConnectorErrorExt as _, ConnectorErrorKind, ConnectorResult, Credentials, DesktopSize, ServerName,
};
use ironrdp::core::WriteBuf;
use ironrdp::pdu::gcc::KeyboardType;
use ironrdp::pdu::rdp::capability_sets::{
    BitmapCodecs, CodecProperty, MajorPlatformType, client_codecs_capabilities,
};
use ironrdp::pdu::rdp::client_info::{PerformanceFlags, TimezoneInfo};
use ironrdp_tokio::{FramedWrite as _, TokioFramed};
use tokio::net::TcpStream;
use tokio::time::{Instant, timeout_at};
use tracing::{debug, info};

use crate::error::{Phase, classify_connector_error};
use crate::transport::{CountingStream, SessionStream, WireCounters, tls_upgrade};
use crate::{ClientConfig, ClientError, Codec, Security};

/// Time spent in each phase of [`connect`](crate::connect).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ConnectPhases {
    /// TCP three-way handshake.
    pub tcp: Duration,
    /// X.224 connection request / confirm (security protocol negotiation).
    pub negotiation: Duration,
    /// TLS handshake.
    pub tls: Duration,
    /// CredSSP (NLA); zero with [`Security::Tls`].
    pub credssp: Duration,
    /// Basic settings exchange, channel joins, licensing, capabilities exchange, finalization.
    pub finalization: Duration,
}

/// What the connection sequence hands to the session.
pub(crate) struct Connected {
    pub(crate) framed: TokioFramed<SessionStream>,
    pub(crate) result: ConnectionResult,
    pub(crate) counters: Arc<WireCounters>,
    pub(crate) started: Instant,
    pub(crate) phases: ConnectPhases,
    pub(crate) local_addr: SocketAddr,
    /// What the graphics pipeline decodes, with [`Codec::H264`] or
    /// [`Codec::GraphicsWithoutH264`].
    pub(crate) gfx: Option<crate::gfx::Shared>,
    /// What the clipboard channel reported, with [`ClientConfig::clipboard`].
    pub(crate) clipboard: Option<crate::clipboard::Shared>,
}

fn codecs(codec: Codec) -> Result<BitmapCodecs, ClientError> {
    match codec {
        Codec::RemoteFx | Codec::H264 | Codec::GraphicsWithoutH264 => {
            // `client_codecs_capabilities` also lists QOI/QOIZ when `ironrdp-pdu/qoi` happens to
            // be enabled by feature unification, while the session decoder may not be built with
            // them: advertise RemoteFX only.
            let all = client_codecs_capabilities(&[])
                .map_err(|e| ClientError::Protocol(format!("codec capabilities: {e}")))?;
            Ok(BitmapCodecs(
                all.0
                    .into_iter()
                    .filter(|c| matches!(c.property, CodecProperty::RemoteFx(_)))
                    .collect(),
            ))
        }
        Codec::Bitmap => Ok(BitmapCodecs(Vec::new())),
    }
}

pub(crate) fn connector_config(config: &ClientConfig) -> Result<connector::Config, ClientError> {
    Ok(connector::Config {
        desktop_size: DesktopSize {
            width: config.desktop_width,
            height: config.desktop_height,
        },
        desktop_scale_factor: 0,
        enable_tls: config.security == Security::Tls,
        enable_credssp: config.security == Security::Nla,
        credentials: Credentials::UsernamePassword {
            username: config.username.clone(),
            password: config.password.clone(),
        },
        domain: config.domain.clone(),
        client_build: 0,
        client_name: config.client_name.clone(),
        keyboard_type: KeyboardType::IbmEnhanced,
        keyboard_subtype: 0,
        keyboard_functional_keys_count: 12,
        keyboard_layout: 0,
        ime_file_name: String::new(),
        bitmap: Some(BitmapConfig {
            lossy_compression: false,
            color_depth: 32,
            codecs: codecs(config.codec)?,
        }),
        dig_product_id: String::new(),
        client_dir: "C:\\Windows\\System32\\mstscax.dll".to_owned(),
        alternate_shell: String::new(),
        work_dir: String::new(),
        platform: MajorPlatformType::UNIX,
        hardware_id: None,
        request_data: None,
        autologon: false,
        enable_audio_playback: false,
        performance_flags: PerformanceFlags::default(),
        license_cache: None,
        timezone_info: TimezoneInfo::default(),
        compression_type: None,
        // Pointer updates become events and are never composited into the framebuffer, so
        // the framebuffer holds exactly what the server drew.
        enable_server_pointer: true,
        pointer_software_rendering: false,
        multitransport_flags: None,
    })
}

/// Run `fut` under `deadline`, naming `step` on timeout.
async fn bounded<F: Future>(deadline: Instant, step: &'static str, fut: F) -> Result<F::Output, ClientError> {
    timeout_at(deadline, fut).await.map_err(|_| {
        debug!(step, "connection step timed out");
        ClientError::Timeout(step)
    })
}

pub(crate) async fn run(config: &ClientConfig) -> Result<Connected, ClientError> {
    let started = Instant::now();
    let deadline = started + config.connect_timeout;
    let server_name = config.effective_server_name();
    let connector_config = connector_config(config)?;
    let mut phases = ConnectPhases::default();

    // TCP.
    let mut mark = Instant::now();
    let tcp = bounded(deadline, "TCP connect", TcpStream::connect(config.addr))
        .await?
        .map_err(ClientError::Connect)?;
    if let Err(e) = tcp.set_nodelay(true) {
        debug!(error = %e, "cannot set TCP_NODELAY");
    }
    let client_addr = tcp.local_addr().map_err(ClientError::Connect)?;
    phases.tcp = mark.elapsed();
    debug!(addr = %config.addr, %client_addr, "TCP connected");

    // X.224 negotiation.
    mark = Instant::now();
    let counters = Arc::new(WireCounters::default());
    let mut framed = TokioFramed::new(CountingStream::new(tcp, Arc::clone(&counters)));
    let mut connector = ClientConnector::new(connector_config, client_addr);
    let gfx = if config.codec.graphics_pipeline() {
        let shared = crate::gfx::Shared::default();
        let h264 = config.codec == Codec::H264;
        let pipeline = crate::gfx::pipeline(&shared, config.decode_pictures, h264)
            .map_err(|e| ClientError::Protocol(format!("starting the H.264 decoder: {e}")))?;
        crate::gfx::lock(&shared).acks.acknowledging = config.acknowledge_frames;
        let channels = ironrdp_dvc::DrdynvcClient::new().with_dynamic_channel(crate::gfx::Acknowledging {
            pipeline,
            shared: std::sync::Arc::clone(&shared),
        });
        connector = connector.with_static_channel(channels);
        Some(shared)
    } else {
        None
    };
    let clipboard = if config.clipboard {
        let shared = crate::clipboard::Shared::default();
        connector = connector.with_static_channel(ironrdp_cliprdr::CliprdrClient::new(Box::new(
            crate::clipboard::Recorder {
                shared: Arc::clone(&shared),
            },
        )));
        Some(shared)
    } else {
        None
    };
    bounded(
        deadline,
        "X.224 negotiation",
        ironrdp_tokio::connect_begin(&mut framed, &mut connector),
    )
    .await?
    .map_err(|e| classify_connector_error(&e, Phase::Negotiation))?;
    phases.negotiation = mark.elapsed();

    // TLS.
    mark = Instant::now();
    let (stream, leftover) = framed.into_inner();
    if !leftover.is_empty() {
        return Err(ClientError::Protocol(format!(
            "{} unexpected bytes before the TLS handshake",
            leftover.len()
        )));
    }
    let (tls, server_public_key) =
        bounded(deadline, "TLS handshake", tls_upgrade(stream, &server_name)).await??;
    connector.mark_security_upgrade_as_done();
    let mut framed = TokioFramed::new(tls);
    phases.tls = mark.elapsed();

    // CredSSP.
    if connector.should_perform_credssp() {
        mark = Instant::now();
        bounded(
            deadline,
            "NLA (CredSSP)",
            credssp(
                &mut connector,
                &mut framed,
                ServerName::new(server_name.clone()),
                server_public_key,
            ),
        )
        .await?
        .map_err(|e| classify_connector_error(&e, Phase::Credssp))?;
        phases.credssp = mark.elapsed();
        debug!("CredSSP done");
    }

    // The rest of the connection sequence.
    mark = Instant::now();
    let result = bounded(
        deadline,
        "connection finalization",
        finalize(connector, &mut framed),
    )
    .await?
    .map_err(|e| classify_connector_error(&e, Phase::Finalization))?;
    phases.finalization = mark.elapsed();

    info!(
        desktop_width = result.desktop_size.width,
        desktop_height = result.desktop_size.height,
        elapsed = ?started.elapsed(),
        "RDP connection established"
    );

    Ok(Connected {
        framed,
        result,
        counters,
        started,
        phases,
        local_addr: client_addr,
        gfx,
        clipboard,
    })
}

/// The CredSSP exchange, as `ironrdp_async::connect_finalize` performs it, kept separate so that
/// its errors and duration can be told apart from the rest of the connection sequence.
async fn credssp(
    connector: &mut ClientConnector,
    framed: &mut TokioFramed<SessionStream>,
    server_name: ServerName,
    server_public_key: Vec<u8>,
) -> ConnectorResult<()> {
    let selected_protocol = match connector.state {
        ClientConnectorState::Credssp { selected_protocol } => selected_protocol,
        _ => return Err(ConnectorError::general("invalid connector state for CredSSP")),
    };

    let (mut sequence, mut ts_request) = CredsspSequence::init(
        connector.config.credentials.clone(),
        connector.config.domain.as_deref(),
        selected_protocol,
        server_name,
        server_public_key,
        None,
    )?;

    let mut buf = WriteBuf::new();
    loop {
        let client_state = {
            let mut generator = sequence.process_ts_request(ts_request);
            resolve_without_network(&mut generator)?
        };

        buf.clear();
        let written = sequence.handle_process_result(client_state, &mut buf)?;
        if written.size().is_some() {
            framed
                .write_all(buf.filled())
                .await
                .map_err(|e| ConnectorError::custom("write CredSSP message", e))?;
        }

        let Some(hint) = sequence.next_pdu_hint() else {
            break;
        };
        let pdu = framed
            .read_by_hint(hint)
            .await
            .map_err(|e| ConnectorError::custom("read CredSSP message", e))?;
        match sequence.decode_server_message(&pdu)? {
            Some(next) => ts_request = next,
            None => break,
        }
    }

    connector.mark_credssp_as_done();
    Ok(())
}

/// Drive the CredSSP generator. Without a Kerberos configuration, sspi runs NTLM, which never
/// asks for network I/O; a request (a KDC lookup) is answered with an error.
fn resolve_without_network(generator: &mut CredsspProcessGenerator<'_>) -> ConnectorResult<ClientState> {
    const MAX_STEPS: usize = 16;
    let mut state = generator.start();
    for _ in 0..MAX_STEPS {
        match state {
            GeneratorState::Suspended(request) => {
                debug!(url = %request.url, "CredSSP asked for network I/O; not supported");
                state = generator.resume(Err(sspi::Error::new(
                    sspi::ErrorKind::NoAuthenticatingAuthority,
                    "wrd-client does not contact a KDC (NTLM only)",
                )));
            }
            GeneratorState::Completed(client_state) => {
                return client_state
                    .map_err(|e| ConnectorError::new("CredSSP", ConnectorErrorKind::Credssp(e)));
            }
        }
    }
    Err(ConnectorError::general("CredSSP generator did not complete"))
}

async fn finalize(
    mut connector: ClientConnector,
    framed: &mut TokioFramed<SessionStream>,
) -> ConnectorResult<ConnectionResult> {
    let mut buf = WriteBuf::new();
    loop {
        ironrdp_tokio::single_sequence_step(framed, &mut connector, &mut buf).await?;
        if matches!(connector.state, ClientConnectorState::Connected { .. })
            && let ClientConnectorState::Connected { result } = core::mem::take(&mut connector.state)
        {
            return Ok(result);
        }
    }
}
