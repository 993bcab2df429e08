//! What the in-process server tests share: the server on the test pattern or on frames the
//! test publishes, client settings, bounded reads, the process's memory.

// Each test binary uses part of this.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use wrd_client::{ClientConfig, Instant, Session};
use wrd_frame::FrameBus;
use wrd_rdp::{AuthMode, Credentials, InputRoute, ServeSummary, ServerConfig, TlsIdentity};
use wrd_test_pattern::TestPattern;

pub const USER: &str = "alice";
pub const PASSWORD: &str = "correct horse";
pub const WIDTH: u16 = 640;
pub const HEIGHT: u16 = 480;

pub struct TestServer {
    pub addr: SocketAddr,
    pub shutdown: CancellationToken,
    pub server: JoinHandle<anyhow::Result<ServeSummary>>,
    _state: tempfile::TempDir,
}

pub struct Options {
    pub auth: AuthMode,
    pub max_clients: usize,
    pub fps: u32,
    pub handshake_timeout: Duration,
    pub h264: wrd_h264::EncoderSettings,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            auth: AuthMode::Nla(creds()),
            max_clients: 4,
            fps: 30,
            handshake_timeout: wrd_rdp::DEFAULT_HANDSHAKE_TIMEOUT,
            h264: wrd_h264::EncoderSettings::default(),
        }
    }
}

pub fn creds() -> Credentials {
    Credentials {
        username: USER.into(),
        password: PASSWORD.into(),
        domain: None,
    }
}

pub async fn start(options: Options) -> TestServer {
    // The server's log, for a failing test: `RUST_LOG=debug cargo test ...` (off by default).
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
    let shutdown = CancellationToken::new();
    let (publisher, bus) = FrameBus::new();
    let pattern = TestPattern::new(WIDTH, HEIGHT).unwrap();
    tokio::spawn(wrd_test_pattern::run(
        pattern,
        options.fps,
        None,
        publisher,
        shutdown.clone(),
    ));
    start_on(bus, options, shutdown).await
}

/// The server on frames the caller publishes on `bus`.
pub async fn start_on(bus: FrameBus, options: Options, shutdown: CancellationToken) -> TestServer {
    start_serving(bus, options, shutdown, None).await
}

/// The server on a desktop it owns (`serve_owned_desktop`): clients' sizes go to `desktop`'s
/// resize route.
pub async fn start_owned(
    bus: FrameBus,
    options: Options,
    shutdown: CancellationToken,
    desktop: wrd_rdp::OwnedDesktop,
) -> TestServer {
    start_serving(bus, options, shutdown, Some(desktop)).await
}

async fn start_serving(
    bus: FrameBus,
    options: Options,
    shutdown: CancellationToken,
    desktop: Option<wrd_rdp::OwnedDesktop>,
) -> TestServer {
    let state = tempfile::tempdir().unwrap();
    let tls = TlsIdentity::load_or_generate(state.path()).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let config = ServerConfig {
        auth: options.auth,
        tls,
        max_clients: options.max_clients,
        handshake_timeout: options.handshake_timeout,
        max_fps: wrd_rdp::DEFAULT_MAX_FPS,
        codec: wrd_rdp::Codec::default(),
        h264: options.h264,
        input: InputRoute::Ignore { reason: "test" },
        clipboard: wrd_rdp::ClipboardRoute::Off,
    };
    let server = match desktop {
        Some(desktop) => tokio::spawn(wrd_rdp::serve_owned_desktop(
            listener,
            config,
            bus,
            shutdown.clone(),
            desktop,
        )),
        None => tokio::spawn(wrd_rdp::serve(listener, config, bus, shutdown.clone())),
    };
    TestServer {
        addr,
        shutdown,
        server,
        _state: state,
    }
}

impl TestServer {
    pub async fn stop(self) -> ServeSummary {
        self.shutdown.cancel();
        tokio::time::timeout(Duration::from_secs(3), self.server)
            .await
            .unwrap()
            .unwrap()
            .unwrap()
    }
}

pub fn client_config(addr: SocketAddr, password: &str) -> ClientConfig {
    let mut config = ClientConfig::new(addr, USER, password);
    config.desktop_width = WIDTH;
    config.desktop_height = HEIGHT;
    config
}

pub fn soon(secs: u64) -> Instant {
    Instant::now() + Duration::from_secs(secs)
}

pub fn h264_config(addr: SocketAddr) -> ClientConfig {
    let mut config = client_config(addr, PASSWORD);
    config.codec = wrd_client::Codec::H264;
    config
}

/// A client whose graphics pipeline offers no H.264 (RDP 8.0 capabilities): planar tiles.
pub fn planar_config(addr: SocketAddr) -> ClientConfig {
    let mut config = client_config(addr, PASSWORD);
    config.codec = wrd_client::Codec::GraphicsWithoutH264;
    config
}

/// The process's resident memory, in bytes.
pub fn resident_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    let kib: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kib * 1024
}

/// Reads the session's events until `deadline` (a timeout is the end, not a failure).
pub async fn drain_until(session: &mut Session, deadline: Instant) {
    while Instant::now() < deadline {
        match session.next_event(deadline).await {
            Ok(_) => {}
            Err(e) if e.is_timeout() => break,
            Err(e) => panic!("{e}: {:?}", session.stats()),
        }
    }
}
