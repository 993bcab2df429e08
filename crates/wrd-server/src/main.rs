//! `wrd-server`: parses the command line, resolves the settings, and wires a frame source to
//! the RDP server. Policy lives in the library crates; this file only connects them.

mod cli;
mod clipboard;
mod config;
mod doctor;
mod headless;
mod input;
mod repaint;

use std::process::ExitCode;

use anyhow::Context as _;
use clap::Parser as _;
use tokio::net::TcpListener;
use tokio::signal::unix::{SignalKind, signal};
use tokio_util::sync::CancellationToken;
use tracing::{debug, error, info, warn};
use wrd_capture::{Capture, CaptureEnd};
use wrd_frame::FrameBus;
use wrd_portal::{CursorDelivery, RestoreTokenStore, ScreencastOptions};
use wrd_rdp::{AuthMode, ClipboardRoute, Credentials, InputRoute, ServerConfig, TlsIdentity};

use crate::cli::{Cli, Command, SecurityArg, SourceArg};
use crate::config::{Auth, ConfigError, Env, Settings, TlsSource};

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging();
    match cli.command {
        Command::Serve(args) => {
            let settings = match Settings::resolve(&args, &Env::from_process()) {
                Ok(settings) => settings,
                Err(e) => return config_error(&e),
            };
            run(serve(settings, None))
        }
        Command::Headless(args) => headless::run_headless(args),
        Command::Doctor(args) => doctor::run(args),
    }
}

pub(crate) fn config_error(e: &ConfigError) -> ExitCode {
    eprintln!("wrd-server: {e}");
    ExitCode::from(2)
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // Colours only for a person at a terminal, never in log files or the journal.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(std::io::stderr)
        .init();
}

pub(crate) fn run(job: impl Future<Output = Result<(), RunError>>) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            error!("cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let result = runtime.block_on(job);
    // Do not wait for stragglers (a blocking task stuck on a dead client): the promise is an
    // exit within two seconds of SIGTERM.
    runtime.shutdown_timeout(std::time::Duration::from_millis(200));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(RunError::Config(e)) => config_error(&e),
        Err(RunError::Runtime(e)) => {
            error!("{e:#}");
            ExitCode::from(1)
        }
    }
}

/// A frame source; it returns `Some(reason)` when it ended on its own rather than for shutdown.
type SourceTask = tokio::task::JoinHandle<Option<String>>;

pub(crate) enum RunError {
    /// Found only once we act on the settings (a certificate file that does not parse).
    Config(ConfigError),
    Runtime(anyhow::Error),
}

impl From<anyhow::Error> for RunError {
    fn from(e: anyhow::Error) -> Self {
        Self::Runtime(e)
    }
}

/// What a headless session adds to serving (headless.rs).
pub(crate) struct SessionHooks<'a> {
    /// Runs once the desktop is captured and its input backend is ready: the session's apps
    /// start only then (on sway, apps take only a keyboard that existed when they started).
    pub on_ready: Box<dyn FnOnce() -> anyhow::Result<()> + 'a>,
    /// Ends the serving: `Ok(reason)` a normal end (the idle timeout), `Err(reason)` the
    /// session failing (one of its programs died). Clients are disconnected either way.
    pub end: std::pin::Pin<Box<dyn Future<Output = Result<String, String>> + 'a>>,
    /// The client count the idle timeout watches, and where clients' sizes go.
    pub desktop: wrd_rdp::OwnedDesktop,
    /// `Some` for a headless GNOME: the capture records a virtual monitor of its own and sizes it.
    pub sized_monitor: Option<SizedMonitorHook>,
}

/// A virtual monitor the capture makes at `size` and resizes to each size from `resizes`.
pub(crate) struct SizedMonitorHook {
    pub size: (u32, u32),
    pub resizes: tokio::sync::mpsc::UnboundedReceiver<(u32, u32)>,
}

async fn serve(settings: Settings, hooks: Option<SessionHooks<'_>>) -> Result<(), RunError> {
    let tls = match &settings.tls {
        TlsSource::Files { cert, key } => TlsIdentity::load(cert, key)
            .map_err(|e| RunError::Config(ConfigError::from_message(format!("tls: {e:#}"))))?,
        TlsSource::Generated => TlsIdentity::load_or_generate(&settings.state_dir).with_context(|| {
            format!(
                "preparing the TLS certificate in {}",
                settings.state_dir.display()
            )
        })?,
    };
    let (auth, auth_text) = match &settings.auth {
        Auth::None => (AuthMode::None, "none (--no-auth, loopback only)".to_owned()),
        Auth::Password {
            security,
            username,
            password,
            source,
        } => {
            let creds = Credentials {
                username: username.clone(),
                password: password.clone(),
                domain: None,
            };
            match security {
                SecurityArg::Nla => (
                    AuthMode::Nla(creds),
                    format!("NLA, user {username:?}, password from {source}"),
                ),
                SecurityArg::Tls => (
                    AuthMode::TlsOnly(creds),
                    format!("TLS only, user {username:?}, password from {source}"),
                ),
            }
        }
    };

    let (on_ready, session_end, desktop, sized_monitor) = match hooks {
        Some(h) => (Some(h.on_ready), Some(h.end), Some(h.desktop), h.sized_monitor),
        None => (None, None, None, None),
    };
    let shutdown = CancellationToken::new();
    let (publisher, bus) = FrameBus::new();
    let limits = wrd_clipboard::Limits::default();
    let (source_task, input, mutter_clipboard) = match settings.source {
        SourceArg::TestPattern => {
            let (width, height) = settings.pattern_size;
            let pattern = wrd_test_pattern::TestPattern::new(width, height)
                .map_err(|e| RunError::Config(ConfigError::from_message(format!("size: {e}"))))?;
            info!(width, height, fps = settings.pattern_fps, "source: test pattern");
            let fps = settings.pattern_fps;
            let (route, echo) = if settings.view_only {
                let reason = "the server runs with --view-only";
                (InputRoute::Ignore { reason }, None)
            } else {
                let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
                let (presses, echo) = tokio::sync::mpsc::unbounded_channel();
                tokio::spawn(input::echo_presses(rx, presses));
                let echo = wrd_test_pattern::InputEcho {
                    presses: echo,
                    delay: settings.pattern_input_delay,
                };
                (InputRoute::Forward(tx), Some(echo))
            };
            let cancel = shutdown.clone();
            let task: SourceTask = tokio::spawn(async move {
                wrd_test_pattern::run(pattern, fps, echo, publisher, cancel).await;
                None
            });
            (task, route, None)
        }
        SourceArg::Portal | SourceArg::Mutter => {
            let capture = if settings.source == SourceArg::Portal {
                let options = ScreencastOptions {
                    restore_token: RestoreTokenStore::new(wrd_portal::default_token_path(
                        &settings.state_dir,
                    )),
                    // Clients draw the pointer themselves when the desktop can say where it is
                    // and what it looks like; else the desktop draws it into the picture.
                    cursor: CursorDelivery::Metadata,
                };
                info!(
                    "source: desktop screen cast through xdg-desktop-portal (the desktop may ask for consent)"
                );
                Capture::portal(&options)
                    .await
                    .context("starting the portal screen cast")?
            } else if let Some(monitor) = sized_monitor {
                info!(
                    "source: a virtual monitor of GNOME's through Mutter's remote-desktop API, sized by the client"
                );
                Capture::mutter_virtual_monitor(monitor.size, monitor.resizes)
                    .await
                    .context("starting the Mutter screen cast of a virtual monitor")?
            } else {
                info!("source: GNOME desktop through Mutter's remote-desktop API (no consent dialog)");
                Capture::mutter()
                    .await
                    .context("starting the Mutter screen cast")?
            };
            let route = if settings.view_only {
                InputRoute::Ignore {
                    reason: "the server runs with --view-only",
                }
            } else {
                match input_backend(&capture).await {
                    Ok(backend) => {
                        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
                        tokio::spawn(input::run(backend, bus.clone(), rx, shutdown.clone()));
                        InputRoute::Forward(tx)
                    }
                    Err(reason) => {
                        warn!("input: {reason}: clients can watch but not control this desktop");
                        InputRoute::Ignore {
                            reason: "this desktop offers no way to send it input (see the server's start-up log)",
                        }
                    }
                }
            };
            // Mutter's clipboard belongs to the capture's session: taken before the capture
            // task owns it.
            let mutter_clipboard = match capture.mutter_session() {
                Some(session) if !settings.view_only => {
                    Some(clipboard::desktop::start_mutter(session, limits.max_item_bytes).await)
                }
                _ => None,
            };
            let cancel = shutdown.clone();
            let task: SourceTask = tokio::spawn(async move {
                match capture.run(publisher, cancel).await {
                    Ok(CaptureEnd::Shutdown) => None,
                    Ok(end) => Some(end.to_string()),
                    Err(e) => Some(format!("capture failed: {e}")),
                }
            });
            (task, route, mutter_clipboard)
        }
    };

    if let Some(on_ready) = on_ready {
        on_ready()?;
    }
    let clipboard = clipboard_route(
        settings.source,
        settings.view_only,
        mutter_clipboard,
        limits,
        &shutdown,
    )
    .await;

    let listener = TcpListener::bind(settings.listen)
        .await
        .with_context(|| format!("cannot listen on {}", settings.listen))?;
    let local = listener.local_addr().context("reading the listening address")?;
    info!(address = %local, tls_sha256 = %tls.fingerprint, auth = %auth_text, "wrd-server ready: connect an RDP client to {local}");

    let config = ServerConfig {
        auth,
        tls,
        max_clients: settings.max_clients,
        handshake_timeout: wrd_rdp::DEFAULT_HANDSHAKE_TIMEOUT,
        max_fps: settings.max_fps,
        codec: settings.codec.into(),
        h264: settings.h264.encoder_settings(),
        input,
        clipboard,
    };
    tokio::spawn(stop_on_signal(shutdown.clone()));
    let server = async {
        match desktop {
            Some(desktop) => {
                wrd_rdp::serve_owned_desktop(listener, config, bus, shutdown.clone(), desktop).await
            }
            None => wrd_rdp::serve(listener, config, bus, shutdown.clone()).await,
        }
    };
    tokio::pin!(server);
    let mut source_task = source_task;
    let session_end = async {
        match session_end {
            Some(end) => end.await,
            None => std::future::pending().await,
        }
    };
    tokio::pin!(session_end);
    // The server runs until a signal, or until the source ends on its own (the desktop closed
    // the screen cast, the capture stream died): then clients are told and we exit 1.
    let (summary, source_end) = tokio::select! {
        summary = &mut server => {
            shutdown.cancel();
            let end = source_task.await.unwrap_or_else(|e| Some(format!("the frame source task failed: {e}")));
            (summary?, end)
        }
        ended = &mut source_task => {
            let end = ended.unwrap_or_else(|e| Some(format!("the frame source task failed: {e}")));
            shutdown.cancel();
            (server.await?, end)
        }
        end = &mut session_end => {
            shutdown.cancel();
            let summary = server.await?;
            // The source ends with the shutdown; its reason is not the session's.
            let _ = source_task.await;
            match end {
                Ok(reason) => {
                    info!("{reason}: ending the session");
                    (summary, None)
                }
                Err(reason) => (summary, Some(reason)),
            }
        }
    };
    info!(
        accepted = summary.accepted,
        refused_over_limit = summary.refused_over_limit,
        refused_throttled = summary.refused_throttled,
        auth_failures = summary.auth_failures,
        "stopped"
    );
    match source_end {
        None => Ok(()),
        Some(reason) => Err(RunError::Runtime(anyhow::anyhow!(
            "{reason}: clients were disconnected"
        ))),
    }
}

/// SIGINT or SIGTERM: stop accepting, close sessions, exit 0.
async fn stop_on_signal(shutdown: CancellationToken) {
    let (Ok(mut term), Ok(mut int)) = (signal(SignalKind::terminate()), signal(SignalKind::interrupt()))
    else {
        error!("cannot install signal handlers: stop the server with SIGKILL");
        return;
    };
    tokio::select! {
        _ = term.recv() => info!("SIGTERM: shutting down"),
        _ = int.recv() => info!("SIGINT: shutting down"),
        () = shutdown.cancelled() => return,
    }
    shutdown.cancel();
}

/// How long the wlroots virtual devices may take to come up.
const VIRTUAL_INPUT_READY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// The way into the desktop that goes with the capture: the Mutter session itself, the
/// portal's RemoteDesktop session the screen cast belongs to, or on a wlroots compositor our own virtual pointer and keyboard, made now (not on the first key:
/// applications on a desktop without a keyboard only take keys from one that existed when
/// they asked for it).
async fn input_backend(capture: &Capture) -> Result<input::InputBackend, String> {
    if let Some(mutter) = capture.mutter_input() {
        return Ok(input::InputBackend::Mutter(mutter));
    }
    if let Some(portal) = capture.portal_input() {
        return Ok(input::InputBackend::Portal(portal));
    }
    let probe = tokio::task::spawn_blocking(|| wrd_wayland::probe(std::time::Duration::from_secs(2)))
        .await
        .map_err(|e| format!("probing the Wayland compositor: {e}"))?
        .map_err(|e| format!("probing the Wayland compositor: {e}"))?;
    if !wrd_wayland::VirtualInput::available(&probe) {
        return Err(
            "the portal session has no keyboard or pointer (not offered, or not granted) and the compositor has no wlroots virtual pointer and keyboard"
                .to_owned(),
        );
    }
    let devices = wrd_wayland::VirtualInput::start(
        wrd_wayland::WaylandSocket::Environment,
        wrd_wayland::KeymapNames::default(),
    )
    .map_err(|e| format!("starting the virtual pointer and keyboard: {e}"))?;
    match tokio::time::timeout(VIRTUAL_INPUT_READY_TIMEOUT, devices.ready()).await {
        Ok(Ok(())) => {
            let places: Vec<_> = capture.session().streams().iter().map(|s| s.position).collect();
            debug!(
                ?places,
                "the captured monitors' places in the compositor's layout"
            );
            Ok(input::InputBackend::Wlroots(devices, places))
        }
        Ok(Err(e)) => Err(format!("starting the virtual pointer and keyboard: {e}")),
        Err(_) => Err(format!(
            "the compositor did not set up the virtual pointer and keyboard within {} s",
            VIRTUAL_INPUT_READY_TIMEOUT.as_secs()
        )),
    }
}

/// The desktop's clipboard for clients: the Mutter session's on GNOME (`mutter`, already
/// enabled with the capture's session), wlroots data control when the desktop is a wlroots
/// compositor reached through the portal; off otherwise (said once in the log, with why).
async fn clipboard_route(
    source: SourceArg,
    view_only: bool,
    mutter: Option<clipboard::desktop::Started>,
    limits: wrd_clipboard::Limits,
    shutdown: &CancellationToken,
) -> ClipboardRoute {
    let off = |why: &str| {
        info!("clipboard: off ({why})");
        ClipboardRoute::Off
    };
    let started = match source {
        SourceArg::TestPattern => return off("the test pattern has no clipboard"),
        _ if view_only => return off("--view-only"),
        SourceArg::Mutter => match mutter {
            Some(started) => started,
            None => return off("the capture has no Mutter session"),
        },
        SourceArg::Portal => clipboard::desktop::start_wlroots(limits.max_item_bytes).await,
    };
    let (desktop, events) = match started {
        Ok(started) => started,
        Err(why) => return off(&why),
    };
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(clipboard::run(desktop, events, rx, limits, shutdown.clone()));
    ClipboardRoute::Forward(tx)
}
