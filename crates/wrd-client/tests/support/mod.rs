//! An in-process `ironrdp_server::RdpServer` serving a known picture, for the client tests.
//!
//! `RdpServer::run_connection` futures are `!Send` (the client loop uses `Rc`), so the server
//! runs on its own thread with a current-thread runtime; connections are served one at a time.

use core::net::SocketAddr;
use core::num::{NonZeroU16, NonZeroUsize};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use ironrdp::pdu::rdp::capability_sets::{BitmapCodecs, CodecProperty, server_codecs_capabilities};
use ironrdp_server::tokio_rustls::TlsAcceptor;
use ironrdp_server::tokio_rustls::rustls;
use ironrdp_server::tokio_rustls::rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use ironrdp_server::{
    BitmapUpdate, Credentials, DesktopSize, DisplayUpdate, KeyboardEvent, MouseEvent, PixelFormat, RdpServer,
    RdpServerDisplay, RdpServerDisplayUpdates, RdpServerInputHandler,
};
use tokio::sync::{mpsc, oneshot};

pub const WIDTH: u16 = 256;
pub const HEIGHT: u16 = 192;
pub const USERNAME: &str = "tester";
pub const PASSWORD: &str = "correct horse";

/// The solid square of the test picture: x, y, size, and its RGB colour.
pub const SQUARE: (u16, u16, u16) = (160, 32, 64);
pub const SQUARE_RGB: [u8; 3] = [230, 20, 40];

/// RGB of the test picture at (`x`, `y`): a gradient with a solid square.
pub fn expected_rgb(x: u16, y: u16) -> [u8; 3] {
    let (sx, sy, size) = SQUARE;
    if (sx..sx + size).contains(&x) && (sy..sy + size).contains(&y) {
        return SQUARE_RGB;
    }
    let r = u8::try_from(x).unwrap_or(255);
    let g = u8::try_from(u32::from(y) * 255 / u32::from(HEIGHT - 1)).unwrap_or(255);
    [r, g, 96]
}

/// The test picture as BGRx rows.
pub fn picture_bgrx() -> Vec<u8> {
    let mut data = Vec::with_capacity(usize::from(WIDTH) * usize::from(HEIGHT) * 4);
    for y in 0..HEIGHT {
        for x in 0..WIDTH {
            let [r, g, b] = expected_rgb(x, y);
            data.extend_from_slice(&[b, g, r, 0xFF]);
        }
    }
    data
}

fn picture_update() -> DisplayUpdate {
    DisplayUpdate::Bitmap(BitmapUpdate {
        x: 0,
        y: 0,
        width: NonZeroU16::new(WIDTH).unwrap(),
        height: NonZeroU16::new(HEIGHT).unwrap(),
        format: PixelFormat::BgrX32,
        data: picture_bgrx().into(),
        stride: NonZeroUsize::new(usize::from(WIDTH) * 4).unwrap(),
    })
}

/// Input received by the server, in a comparable form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    Key { code: u8, extended: bool, pressed: bool },
    Unicode { unit: u16, pressed: bool },
    Sync,
    Mouse(String),
}

struct InputRecorder(mpsc::UnboundedSender<Input>);

impl RdpServerInputHandler for InputRecorder {
    fn keyboard(&mut self, event: KeyboardEvent) {
        let input = match event {
            KeyboardEvent::Pressed { code, extended } => Input::Key {
                code,
                extended,
                pressed: true,
            },
            KeyboardEvent::Released { code, extended } => Input::Key {
                code,
                extended,
                pressed: false,
            },
            KeyboardEvent::UnicodePressed(unit) => Input::Unicode { unit, pressed: true },
            KeyboardEvent::UnicodeReleased(unit) => Input::Unicode { unit, pressed: false },
            KeyboardEvent::Synchronize(_) => Input::Sync,
        };
        let _ = self.0.send(input);
    }

    fn mouse(&mut self, event: MouseEvent) {
        let _ = self.0.send(Input::Mouse(format!("{event:?}")));
    }
}

type SharedSize = Arc<Mutex<DesktopSize>>;

/// Display: every `updates()` stream (one per connection or reactivation) starts with the test
/// picture, then forwards what the test pushes through `TestServer::display_tx`.
struct PictureDisplay {
    size: SharedSize,
    extra: Arc<tokio::sync::Mutex<mpsc::UnboundedReceiver<DisplayUpdate>>>,
}

struct PictureUpdates {
    first: Option<DisplayUpdate>,
    extra: Arc<tokio::sync::Mutex<mpsc::UnboundedReceiver<DisplayUpdate>>>,
}

#[async_trait::async_trait]
impl RdpServerDisplayUpdates for PictureUpdates {
    async fn next_update(&mut self) -> anyhow::Result<Option<DisplayUpdate>> {
        if let Some(first) = self.first.take() {
            return Ok(Some(first));
        }
        let mut rx = self.extra.lock().await;
        match rx.recv().await {
            Some(update) => Ok(Some(update)),
            // Test side gone: keep the connection open rather than ending it.
            None => core::future::pending().await,
        }
    }
}

#[async_trait::async_trait]
impl RdpServerDisplay for PictureDisplay {
    async fn size(&mut self) -> DesktopSize {
        *self.size.lock().unwrap()
    }

    async fn updates(&mut self) -> anyhow::Result<Box<dyn RdpServerDisplayUpdates>> {
        Ok(Box::new(PictureUpdates {
            first: Some(picture_update()),
            extra: Arc::clone(&self.extra),
        }))
    }
}

/// RemoteFX only (whether QOI/QOIZ are listed by default depends on feature unification).
fn remotefx_only() -> BitmapCodecs {
    let all = server_codecs_capabilities(&[]).unwrap();
    BitmapCodecs(
        all.0
            .into_iter()
            .filter(|c| {
                matches!(
                    c.property,
                    CodecProperty::RemoteFx(_) | CodecProperty::ImageRemoteFx(_)
                )
            })
            .collect(),
    )
}

/// Server security mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Nla,
    Tls,
}

/// A running test server; stopped on drop.
pub struct TestServer {
    pub addr: SocketAddr,
    pub input_rx: mpsc::UnboundedReceiver<Input>,
    display_tx: mpsc::UnboundedSender<DisplayUpdate>,
    size: SharedSize,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl TestServer {
    pub fn start(mode: Mode) -> Self {
        init_tracing();
        let (acceptor, pub_key) = tls_identity();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let (input_tx, input_rx) = mpsc::unbounded_channel();
        let (display_tx, display_rx) = mpsc::unbounded_channel();
        let (stop_tx, mut stop_rx) = oneshot::channel::<()>();
        let size = Arc::new(Mutex::new(DesktopSize {
            width: WIDTH,
            height: HEIGHT,
        }));
        let display = PictureDisplay {
            size: Arc::clone(&size),
            extra: Arc::new(tokio::sync::Mutex::new(display_rx)),
        };

        let thread = std::thread::Builder::new()
            .name(format!("rdp-test-server-{}", addr.port()))
            .spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                rt.block_on(async move {
                    let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                    let builder = RdpServer::builder().with_addr(addr);
                    let builder = match mode {
                        Mode::Nla => builder.with_hybrid(acceptor, pub_key),
                        Mode::Tls => builder.with_tls(acceptor),
                    };
                    let mut server = builder
                        .with_input_handler(InputRecorder(input_tx))
                        .with_display_handler(display)
                        .with_bitmap_codecs(remotefx_only())
                        .build();
                    server.set_credentials(Some(Credentials {
                        username: USERNAME.to_owned(),
                        password: PASSWORD.to_owned(),
                        domain: None,
                    }));
                    loop {
                        let stream = tokio::select! {
                            _ = &mut stop_rx => return,
                            accepted = listener.accept() => match accepted {
                                Ok((stream, _)) => {
                                    // ironrdp-server never sets TCP_NODELAY; without it Nagle
                                    // and delayed ACKs add ~40 ms stalls to the handshake.
                                    stream.set_nodelay(true).unwrap();
                                    stream
                                }
                                Err(e) => {
                                    tracing::warn!(error = %e, "accept failed");
                                    continue;
                                }
                            },
                        };
                        tokio::select! {
                            _ = &mut stop_rx => return,
                            result = server.run_connection(stream) => {
                                tracing::debug!(?result, "test server: connection ended");
                            }
                        }
                    }
                });
            })
            .unwrap();

        Self {
            addr,
            input_rx,
            display_tx,
            size,
            stop: Some(stop_tx),
            thread: Some(thread),
        }
    }

    /// Resize the served desktop (the server runs a deactivation-reactivation sequence).
    pub fn resize(&self, width: u16, height: u16) {
        let size = DesktopSize { width, height };
        *self.size.lock().unwrap() = size;
        self.display_tx.send(DisplayUpdate::Resize(size)).unwrap();
    }

    /// Next input event the server received, skipping keyboard synchronize events.
    pub async fn next_input(&mut self, timeout: Duration) -> Input {
        loop {
            let input = tokio::time::timeout(timeout, self.input_rx.recv())
                .await
                .expect("timed out waiting for input at the server")
                .expect("server input channel closed");
            if input != Input::Sync {
                return input;
            }
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Self-signed certificate made at test time: the TLS acceptor and the certificate's public key
/// (what CredSSP binds to).
fn tls_identity() -> (TlsAcceptor, Vec<u8>) {
    use x509_cert::der::Decode as _;

    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let cert_der = certified.cert.der().clone();
    let key_der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(certified.signing_key.serialize_der()));

    let cert = x509_cert::Certificate::from_der(&cert_der).unwrap();
    let pub_key = cert
        .tbs_certificate
        .subject_public_key_info
        .subject_public_key
        .as_bytes()
        .unwrap()
        .to_vec();

    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert_der], key_der)
        .unwrap();
    (TlsAcceptor::from(Arc::new(config)), pub_key)
}

fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
}
