//! Socket-level defences against clients that vanish without closing the connection.
//!
//! Three layers, because each catches what the others miss:
//! - TCP keepalive finds a silent peer that is gone while nothing is being sent;
//! - `TCP_USER_TIMEOUT` aborts when sent data stays unacknowledged;
//! - [`StallGuard`] fails a write that has made no progress for [`WRITE_STALL_LIMIT`], which
//!   also catches a peer whose kernel still acknowledges but whose application stopped reading.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use socket2::{SockRef, TcpKeepalive};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::Sleep;

/// Idle time before the first keepalive probe, probe interval and probe count: a vanished
/// peer is noticed after about 10 + 5 * 3 = 25 s of silence, inside the 30 s promise.
const KEEPALIVE_IDLE: Duration = Duration::from_secs(10);
const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(5);
const KEEPALIVE_RETRIES: u32 = 3;
/// Unacknowledged data older than this aborts the connection.
const USER_TIMEOUT: Duration = Duration::from_secs(20);
/// A write that cannot make progress for this long fails the session.
pub const WRITE_STALL_LIMIT: Duration = Duration::from_secs(20);

/// Applies keepalive, user timeout and no-delay to an accepted connection.
pub fn configure_socket(stream: &TcpStream) -> io::Result<()> {
    let sock = SockRef::from(stream);
    // Display updates are written in large bursts; small input replies should not wait.
    sock.set_tcp_nodelay(true)?;
    let keepalive = TcpKeepalive::new()
        .with_time(KEEPALIVE_IDLE)
        .with_interval(KEEPALIVE_INTERVAL)
        .with_retries(KEEPALIVE_RETRIES);
    sock.set_tcp_keepalive(&keepalive)?;
    sock.set_tcp_user_timeout(Some(USER_TIMEOUT))?;
    Ok(())
}

/// Bytes that went through a connection's socket, everything included (X.224, TLS records,
/// CredSSP, PDUs): what a client counts on its side of the same socket.
#[derive(Debug, Default)]
pub struct WireBytes {
    sent: AtomicU64,
    received: AtomicU64,
}

impl WireBytes {
    /// Bytes the socket accepted for sending.
    pub fn sent(&self) -> u64 {
        self.sent.load(Ordering::Relaxed)
    }

    /// Bytes read from the socket.
    pub fn received(&self) -> u64 {
        self.received.load(Ordering::Relaxed)
    }
}

/// Wraps a stream so that a write which stays pending for longer than `limit` fails with
/// `TimedOut` instead of waiting forever for a reader that will never come back.
#[derive(Debug)]
pub struct StallGuard<S> {
    inner: S,
    limit: Duration,
    bytes: Arc<WireBytes>,
    /// Armed while a write is pending; cleared by any progress.
    stall_timer: Option<Pin<Box<Sleep>>>,
}

impl<S> StallGuard<S> {
    /// Guards `inner`, counting what passes through it into `bytes`.
    pub fn new(inner: S, limit: Duration, bytes: Arc<WireBytes>) -> Self {
        Self {
            inner,
            limit,
            bytes,
            stall_timer: None,
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for StallGuard<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let result = Pin::new(&mut self.inner).poll_read(cx, buf);
        let read = buf.filled().len().saturating_sub(before);
        self.bytes
            .received
            .fetch_add(u64::try_from(read).unwrap_or(u64::MAX), Ordering::Relaxed);
        result
    }
}

impl<S: AsyncWrite + Unpin> StallGuard<S> {
    /// Runs one write-side poll under the stall timer.
    fn guarded<T>(
        &mut self,
        cx: &mut Context<'_>,
        op: impl FnOnce(Pin<&mut S>, &mut Context<'_>) -> Poll<io::Result<T>>,
    ) -> Poll<io::Result<T>> {
        match op(Pin::new(&mut self.inner), cx) {
            Poll::Ready(result) => {
                self.stall_timer = None;
                Poll::Ready(result)
            }
            Poll::Pending => {
                let limit = self.limit;
                let timer = self
                    .stall_timer
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep(limit)));
                if timer.as_mut().poll(cx).is_ready() {
                    self.stall_timer = None;
                    return Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        format!("the client has not read anything for {} s", limit.as_secs()),
                    )));
                }
                Poll::Pending
            }
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for StallGuard<S> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let result = self.guarded(cx, |s, cx| s.poll_write(cx, buf));
        if let Poll::Ready(Ok(written)) = result {
            self.bytes
                .sent
                .fetch_add(u64::try_from(written).unwrap_or(u64::MAX), Ordering::Relaxed);
        }
        result
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.guarded(cx, |s, cx| s.poll_flush(cx))
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.guarded(cx, |s, cx| s.poll_shutdown(cx))
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::AsyncWriteExt as _;

    use tokio::time::Instant;

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn stalled_write_times_out() {
        // A duplex pipe whose reader never reads: writes stall once its buffer is full.
        let (client, _server_keeps_pipe_open) = tokio::io::duplex(64);
        let mut guarded = StallGuard::new(client, Duration::from_secs(20), Arc::default());
        let started = Instant::now();
        let err = guarded.write_all(&[0u8; 4096]).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        let waited = started.elapsed();
        assert!(
            waited >= Duration::from_secs(20) && waited < Duration::from_secs(21),
            "{waited:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn slow_but_progressing_reader_is_fine() {
        let (client, mut server) = tokio::io::duplex(64);
        let mut guarded = StallGuard::new(client, Duration::from_secs(20), Arc::default());
        let reader = tokio::spawn(async move {
            let mut buf = [0u8; 64];
            let mut total = 0;
            while total < 4096 {
                tokio::time::sleep(Duration::from_secs(5)).await;
                total += tokio::io::AsyncReadExt::read(&mut server, &mut buf)
                    .await
                    .unwrap();
            }
        });
        guarded.write_all(&[0u8; 4096]).await.unwrap();
        reader.await.unwrap();
    }

    #[tokio::test]
    async fn bytes_both_ways_are_counted() {
        use tokio::io::AsyncReadExt as _;
        let (client, mut server) = tokio::io::duplex(1 << 16);
        let bytes = Arc::new(WireBytes::default());
        let mut guarded = StallGuard::new(client, Duration::from_secs(20), Arc::clone(&bytes));
        guarded.write_all(&[1u8; 5000]).await.unwrap();
        server.write_all(&[2u8; 300]).await.unwrap();
        let mut buf = [0u8; 300];
        guarded.read_exact(&mut buf).await.unwrap();
        assert_eq!((bytes.sent(), bytes.received()), (5000, 300));
    }
}
