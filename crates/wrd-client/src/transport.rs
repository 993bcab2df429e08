//! TCP stream with byte counters, and the TLS upgrade.

use core::pin::Pin;
use core::sync::atomic::{AtomicU64, Ordering};
use core::task::{Context, Poll};
use std::io;
use std::sync::Arc;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::rustls;
use tracing::debug;

use crate::ClientError;

/// Bytes that crossed the TCP socket (TLS records and the plain-text X.224 negotiation included).
#[derive(Debug, Default)]
pub(crate) struct WireCounters {
    pub(crate) received: AtomicU64,
    pub(crate) sent: AtomicU64,
}

/// A `TcpStream` counting the bytes read and written.
#[derive(Debug)]
pub(crate) struct CountingStream {
    inner: TcpStream,
    counters: Arc<WireCounters>,
}

impl CountingStream {
    pub(crate) fn new(inner: TcpStream, counters: Arc<WireCounters>) -> Self {
        Self { inner, counters }
    }
}

fn add(counter: &AtomicU64, n: usize) {
    counter.fetch_add(u64::try_from(n).unwrap_or(u64::MAX), Ordering::Relaxed);
}

impl AsyncRead for CountingStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let this = &mut *self;
        let res = Pin::new(&mut this.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = res {
            add(&this.counters.received, buf.filled().len().saturating_sub(before));
        }
        res
    }
}

impl AsyncWrite for CountingStream {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        let res = Pin::new(&mut this.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = res {
            add(&this.counters.sent, n);
        }
        res
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// The stream the RDP session runs on after the security upgrade.
pub(crate) type SessionStream = TlsStream<CountingStream>;

/// TLS client configuration for a *test and benchmark* client: any server certificate is
/// accepted (RDP servers almost always present self-signed certificates, and the caller talks to
/// a server it controls). Handshake signatures are still verified against the presented
/// certificate, so the peer must own the certificate's key — which is what CredSSP binds to.
fn tls_config() -> Result<rustls::ClientConfig, ClientError> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .map_err(|e| ClientError::Tls(format!("TLS configuration: {e}")))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(danger::AcceptAnyCertificate { provider }))
        .with_no_client_auth();
    // CredSSP does not support TLS session resumption ([MS-CSSP] 3.1.5).
    config.resumption = rustls::client::Resumption::disabled();
    Ok(config)
}

/// Perform the TLS handshake and return the stream with the server's certificate public key
/// (the `subjectPublicKey` BIT STRING contents, as CredSSP's `pubKeyAuth` expects).
pub(crate) async fn tls_upgrade(
    stream: CountingStream,
    server_name: &str,
) -> Result<(SessionStream, Vec<u8>), ClientError> {
    let config = tls_config()?;
    let name = rustls::pki_types::ServerName::try_from(server_name.to_owned())
        .map_err(|e| ClientError::Tls(format!("invalid server name {server_name:?}: {e}")))?;
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tls = connector
        .connect(name, stream)
        .await
        .map_err(|e| match e.kind() {
            io::ErrorKind::UnexpectedEof | io::ErrorKind::ConnectionReset | io::ErrorKind::BrokenPipe => {
                ClientError::Tls(format!("connection closed during the handshake: {e}"))
            }
            _ => ClientError::Tls(e.to_string()),
        })?;
    let cert = tls
        .get_ref()
        .1
        .peer_certificates()
        .and_then(|certs| certs.first())
        .ok_or_else(|| ClientError::Tls("server presented no certificate".to_owned()))?;
    let public_key = server_public_key(cert.as_ref())?;
    debug!(public_key_len = public_key.len(), "TLS handshake done");
    Ok((tls, public_key))
}

fn server_public_key(cert_der: &[u8]) -> Result<Vec<u8>, ClientError> {
    use x509_cert::der::Decode as _;

    let cert = x509_cert::Certificate::from_der(cert_der)
        .map_err(|e| ClientError::Tls(format!("cannot parse the server certificate: {e}")))?;
    cert.tbs_certificate
        .subject_public_key_info
        .subject_public_key
        .as_bytes()
        .map(<[u8]>::to_vec)
        .ok_or_else(|| ClientError::Tls("server certificate public key is not byte aligned".to_owned()))
}

mod danger {
    use std::sync::Arc;

    use tokio_rustls::rustls;
    use tokio_rustls::rustls::client::danger::{
        HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier,
    };
    use tokio_rustls::rustls::crypto::CryptoProvider;
    use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName, UnixTime};
    use tokio_rustls::rustls::{DigitallySignedStruct, SignatureScheme};

    /// Accepts every certificate chain; verifies handshake signatures normally.
    #[derive(Debug)]
    pub(super) struct AcceptAnyCertificate {
        pub(super) provider: Arc<CryptoProvider>,
    }

    impl ServerCertVerifier for AcceptAnyCertificate {
        fn verify_server_cert(
            &self,
            _end_entity: &CertificateDer<'_>,
            _intermediates: &[CertificateDer<'_>],
            _server_name: &ServerName<'_>,
            _ocsp_response: &[u8],
            _now: UnixTime,
        ) -> Result<ServerCertVerified, rustls::Error> {
            Ok(ServerCertVerified::assertion())
        }

        fn verify_tls12_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            rustls::crypto::verify_tls12_signature(
                message,
                cert,
                dss,
                &self.provider.signature_verification_algorithms,
            )
        }

        fn verify_tls13_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            rustls::crypto::verify_tls13_signature(
                message,
                cert,
                dss,
                &self.provider.signature_verification_algorithms,
            )
        }

        fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
            self.provider
                .signature_verification_algorithms
                .supported_schemes()
        }
    }
}
