//! Client errors, classified so that tests and the benchmark can tell "wrong password" from
//! "nothing listening" from "server hung".

use std::io;

use ironrdp::connector::sspi;
use ironrdp::connector::{ConnectorError, ConnectorErrorKind};

/// Why a client operation failed. `Display` gives one line with the detail inline; there is no
/// `source()` chain to walk.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The TCP connection could not be established (refused, unreachable, ...).
    #[error("cannot connect to the server: {0}")]
    Connect(io::Error),
    /// The TLS handshake (or TLS configuration) failed.
    #[error("TLS handshake failed: {0}")]
    Tls(String),
    /// The server rejected the credentials (NLA / CredSSP).
    #[error("authentication failed: {0}")]
    AuthenticationFailed(String),
    /// A bounded wait ran out; the string names the step.
    #[error("timed out: {0}")]
    Timeout(&'static str),
    /// The peer violated the protocol, the negotiation failed, or a PDU could not be decoded.
    #[error("protocol error: {0}")]
    Protocol(String),
    /// The connection is gone (closed by the server, reset, or the session was terminated).
    #[error("disconnected: {0}")]
    Disconnected(String),
}

impl ClientError {
    /// True for [`ClientError::Timeout`].
    pub fn is_timeout(&self) -> bool {
        matches!(self, Self::Timeout(_))
    }
}

/// `io::Error` from the transport while a session or connection sequence is running.
pub(crate) fn io_to_client(context: &str, e: &io::Error) -> ClientError {
    ClientError::Disconnected(format!("{context}: {}", describe_io(e)))
}

fn describe_io(e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::UnexpectedEof => "connection closed by the server".to_owned(),
        _ => e.to_string(),
    }
}

/// Phase of the connection sequence an error came from; it changes the classification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    Negotiation,
    Credssp,
    Finalization,
}

/// Whether a CredSSP-level `sspi::Error` means "the server does not accept these credentials".
fn sspi_is_auth_failure(e: &sspi::Error) -> bool {
    use sspi::ErrorKind as K;
    // A TsRequest carrying an errorCode is how a CredSSP server reports a rejected logon
    // (`TsRequest::check_error` turns it into `InvalidToken` with `nstatus` set).
    e.nstatus.is_some()
        || matches!(
            e.error_type,
            K::LogonDenied
                | K::UnknownCredentials
                | K::NoCredentials
                | K::IncompleteCredentials
                | K::WrongCredentialHandle
        )
}

/// Walk the `source()` chain looking for an `io::Error`.
fn find_io_error<'a>(e: &'a (dyn core::error::Error + 'static)) -> Option<&'a io::Error> {
    let mut cur: Option<&(dyn core::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        if let Some(io) = err.downcast_ref::<io::Error>() {
            return Some(io);
        }
        cur = err.source();
    }
    None
}

/// One line: the connector error followed by its source chain.
fn chain_line(e: &ConnectorError) -> String {
    let mut line = e.to_string();
    let mut cur = core::error::Error::source(e);
    while let Some(err) = cur {
        line.push_str(": ");
        line.push_str(&err.to_string());
        cur = err.source();
    }
    line
}

/// Classify an IronRDP connector error raised during `phase`.
pub(crate) fn classify_connector_error(e: &ConnectorError, phase: Phase) -> ClientError {
    let line = chain_line(e);
    match e.kind() {
        ConnectorErrorKind::AccessDenied => {
            return ClientError::AuthenticationFailed(format!("server denied access ({line})"));
        }
        ConnectorErrorKind::Credssp(sspi_err) if sspi_is_auth_failure(sspi_err) => {
            return ClientError::AuthenticationFailed(match sspi_err.nstatus {
                Some(status) => format!("server rejected the credentials (NTSTATUS {:#010x})", status.0),
                None => format!("{:?}: {}", sspi_err.error_type, sspi_err.description),
            });
        }
        ConnectorErrorKind::Credssp(_) => return ClientError::Protocol(line),
        ConnectorErrorKind::Negotiation(failure) => {
            return ClientError::Protocol(format!("security negotiation failed: {failure}"));
        }
        _ => {}
    }

    if let Some(io) = core::error::Error::source(e).and_then(find_io_error) {
        // A server that drops the connection in the middle of CredSSP (instead of answering
        // with an error code) is rejecting the logon: it is what older Windows servers do.
        if phase == Phase::Credssp
            && matches!(
                io.kind(),
                io::ErrorKind::UnexpectedEof | io::ErrorKind::ConnectionReset | io::ErrorKind::BrokenPipe
            )
        {
            return ClientError::AuthenticationFailed(format!(
                "server closed the connection during NLA ({})",
                describe_io(io)
            ));
        }
        if phase == Phase::Negotiation && io.kind() == io::ErrorKind::UnexpectedEof {
            return ClientError::Disconnected(
                "server closed the connection during security negotiation (is the requested security \
                 protocol enabled on the server?)"
                    .to_owned(),
            );
        }
        return io_to_client(
            match phase {
                Phase::Negotiation => "during X.224 negotiation",
                Phase::Credssp => "during CredSSP",
                Phase::Finalization => "during connection finalization",
            },
            io,
        );
    }

    ClientError::Protocol(line)
}

#[cfg(test)]
mod tests {
    use ironrdp::connector::ConnectorErrorExt as _;
    use ironrdp::connector::sspi::credssp::NStatusCode;

    use super::*;

    fn credssp_error(kind: sspi::ErrorKind, nstatus: Option<u32>) -> ConnectorError {
        let mut e = sspi::Error::new(kind, "test");
        e.nstatus = nstatus.map(NStatusCode);
        ConnectorError::new("CredSSP", ConnectorErrorKind::Credssp(e))
    }

    #[test]
    fn credssp_error_code_is_authentication_failure() {
        let e = credssp_error(sspi::ErrorKind::InvalidToken, Some(0xC000_006D));
        let c = classify_connector_error(&e, Phase::Credssp);
        assert!(matches!(c, ClientError::AuthenticationFailed(_)), "{c:?}");
        assert!(c.to_string().contains("0xc000006d"), "{c}");
    }

    #[test]
    fn logon_denied_is_authentication_failure() {
        let e = credssp_error(sspi::ErrorKind::LogonDenied, None);
        let c = classify_connector_error(&e, Phase::Credssp);
        assert!(matches!(c, ClientError::AuthenticationFailed(_)), "{c:?}");
    }

    #[test]
    fn other_credssp_errors_are_protocol_errors() {
        let e = credssp_error(sspi::ErrorKind::InternalError, None);
        let c = classify_connector_error(&e, Phase::Credssp);
        assert!(matches!(c, ClientError::Protocol(_)), "{c:?}");
    }

    #[test]
    fn early_user_auth_access_denied_is_authentication_failure() {
        let e = ConnectorError::new("CredSSP", ConnectorErrorKind::AccessDenied);
        let c = classify_connector_error(&e, Phase::Credssp);
        assert!(matches!(c, ClientError::AuthenticationFailed(_)), "{c:?}");
    }

    #[test]
    fn eof_depends_on_the_phase() {
        let eof = || ConnectorError::custom("read", io::Error::from(io::ErrorKind::UnexpectedEof));
        assert!(matches!(
            classify_connector_error(&eof(), Phase::Credssp),
            ClientError::AuthenticationFailed(_)
        ));
        assert!(matches!(
            classify_connector_error(&eof(), Phase::Negotiation),
            ClientError::Disconnected(_)
        ));
        assert!(matches!(
            classify_connector_error(&eof(), Phase::Finalization),
            ClientError::Disconnected(_)
        ));
    }
}
