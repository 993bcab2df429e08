//! `wrd-client`: a headless, async (tokio) RDP client built on IronRDP.
//!
//! It is the in-process client of the server's test suite and the base of the benchmark client:
//! it connects with NLA (CredSSP/NTLM) or TLS, decodes the graphics stream (RemoteFX or plain
//! bitmaps) into a framebuffer, sends fast-path input, and measures what a benchmark needs
//! ([`Stats`]).
//!
//! Every network wait is bounded: [`connect`] by [`ClientConfig::connect_timeout`], reads by the
//! deadline the caller passes, writes by [`ClientConfig::write_timeout`].
//!
//! **Not for production use:** the TLS layer accepts any server certificate (it still checks that
//! the server owns the certificate's key, and CredSSP binds to that key).
//!
//! ```no_run
//! # async fn demo() -> Result<(), wrd_client::ClientError> {
//! use std::time::Duration;
//! use wrd_client::{ClientConfig, Instant};
//!
//! let config = ClientConfig::new("127.0.0.1:3389".parse().unwrap(), "user", "secret");
//! let mut session = wrd_client::connect(config).await?;
//! session.wait_for_frame(Instant::now() + Duration::from_secs(5)).await?;
//! let pixels = session.framebuffer().to_bgrx();
//! # let _ = pixels;
//! session.disconnect().await
//! # }
//! ```

mod clipboard;
mod config;
mod connect;
mod error;
mod framebuffer;
mod gfx;
mod session;
mod transport;

pub use tokio::time::Instant;

pub use crate::clipboard::RemoteFile;
pub use crate::config::{ClientConfig, Codec, PixelLayout, Security};
pub use crate::connect::ConnectPhases;
pub use crate::error::ClientError;
pub use crate::framebuffer::{Framebuffer, Rect};
pub use crate::session::{MouseButton, PointerUpdate, Session, SessionEvent, Stats, WireBytes};

/// Connect, authenticate and complete the RDP connection sequence, all within
/// `config.connect_timeout`.
///
/// Errors: [`ClientError::Connect`] (TCP), [`ClientError::Tls`], [`ClientError::AuthenticationFailed`]
/// (credentials rejected during NLA), [`ClientError::Timeout`] naming the step that hung,
/// [`ClientError::Protocol`] (e.g. security negotiation refused), [`ClientError::Disconnected`].
pub async fn connect(config: ClientConfig) -> Result<Session, ClientError> {
    let connected = connect::run(&config).await?;
    Ok(session::new_session(connected, &config))
}
