//! A TCP relay on 127.0.0.1 that timestamps each connection it accepts.
//!
//! A program like xfreerdp does not say when it starts its TCP connect. Pointed at this relay
//! instead of the server, its connect shows up as an `accept` here; the accept returns once the
//! three-way handshake is done, which on loopback is a few microseconds after the connect
//! started. The relay then connects to the real server and copies bytes both ways (one thread
//! per direction, `TCP_NODELAY` on both sockets). What it adds to each round trip is two thread
//! wake-ups on loopback, a few tens of microseconds; the connection sequence has about a dozen
//! round trips.

use std::io;
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use tracing::{debug, warn};

/// The relay. Dropping it closes the connections it holds and stops accepting.
#[derive(Debug)]
pub struct Relay {
    local: SocketAddr,
    accepted: Receiver<Instant>,
    connections: Arc<Mutex<Vec<TcpStream>>>,
    stop: Arc<AtomicBool>,
}

impl Relay {
    /// Listens on an ephemeral port of 127.0.0.1 and forwards every connection to `target`.
    pub fn start(target: SocketAddr, connect_timeout: Duration) -> Result<Self> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).context("binding the relay on 127.0.0.1")?;
        let local = listener.local_addr().context("the relay's address")?;
        let (tx, accepted) = mpsc::channel();
        let connections = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (conns, stop_flag) = (Arc::clone(&connections), Arc::clone(&stop));
        std::thread::Builder::new()
            .name("relay-accept".into())
            .spawn(move || accept_loop(&listener, target, connect_timeout, &tx, &conns, &stop_flag))
            .context("starting the relay thread")?;
        Ok(Self {
            local,
            accepted,
            connections,
            stop,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// Forgets connection times not yet collected.
    pub fn drain_accepts(&self) {
        while self.accepted.try_recv().is_ok() {}
    }

    /// The time of the oldest connection accepted and not yet collected.
    pub fn take_accept(&self) -> Option<Instant> {
        self.accepted.try_recv().ok()
    }

    /// Shuts down both sockets of every relayed connection (their copy threads then end).
    pub fn close_connections(&self) {
        let mut conns = self
            .connections
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for s in conns.drain(..) {
            let _ = s.shutdown(Shutdown::Both);
        }
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        self.close_connections();
        // Wake the accept so the thread sees the flag.
        let _ = TcpStream::connect_timeout(&self.local, Duration::from_millis(200));
    }
}

fn accept_loop(
    listener: &TcpListener,
    target: SocketAddr,
    connect_timeout: Duration,
    accepted: &Sender<Instant>,
    connections: &Mutex<Vec<TcpStream>>,
    stop: &AtomicBool,
) {
    loop {
        let (client, peer) = match listener.accept() {
            Ok(c) => c,
            Err(e) => {
                warn!(error = %e, "relay: accept failed");
                std::thread::sleep(Duration::from_millis(10));
                continue;
            }
        };
        let at = Instant::now();
        if stop.load(Ordering::SeqCst) {
            return;
        }
        debug!(%peer, "relay: connection accepted");
        let _ = accepted.send(at);
        if let Err(e) = relay_one(client, target, connect_timeout, connections) {
            // The client sees its connection closed and fails; the run reports that.
            warn!(error = %e, %target, "relay: cannot forward a connection");
        }
    }
}

fn relay_one(
    client: TcpStream,
    target: SocketAddr,
    connect_timeout: Duration,
    connections: &Mutex<Vec<TcpStream>>,
) -> io::Result<()> {
    let server = TcpStream::connect_timeout(&target, connect_timeout)?;
    client.set_nodelay(true)?;
    server.set_nodelay(true)?;
    {
        let mut conns = connections
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        conns.push(client.try_clone()?);
        conns.push(server.try_clone()?);
    }
    let (client_rd, server_wr) = (client.try_clone()?, server.try_clone()?);
    std::thread::Builder::new()
        .name("relay-up".into())
        .spawn(move || pump(client_rd, server_wr))?;
    std::thread::Builder::new()
        .name("relay-down".into())
        .spawn(move || pump(server, client))?;
    Ok(())
}

/// Copies `from` to `to` until `from` ends, then ends `to`'s sending side.
fn pump(mut from: TcpStream, mut to: TcpStream) {
    let _ = io::copy(&mut from, &mut to);
    let _ = to.shutdown(Shutdown::Write);
    let _ = from.shutdown(Shutdown::Read);
}

#[cfg(test)]
mod tests {
    use std::io::{Read as _, Write as _};

    use super::*;

    #[test]
    fn relays_both_ways_and_timestamps_the_accept() {
        let echo = TcpListener::bind(("127.0.0.1", 0)).unwrap();
        let echo_addr = echo.local_addr().unwrap();
        std::thread::spawn(move || {
            let (mut s, _) = echo.accept().unwrap();
            let mut buf = [0u8; 5];
            s.read_exact(&mut buf).unwrap();
            s.write_all(&buf).unwrap();
        });
        let relay = Relay::start(echo_addr, Duration::from_secs(5)).unwrap();
        assert!(relay.take_accept().is_none());
        let before = Instant::now();
        let mut c = TcpStream::connect(relay.local_addr()).unwrap();
        c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        c.write_all(b"hello").unwrap();
        let mut buf = [0u8; 5];
        c.read_exact(&mut buf).unwrap();
        assert_eq!(&buf, b"hello");
        let at = relay.take_accept().unwrap();
        assert!(at >= before && at <= Instant::now());
        assert!(relay.take_accept().is_none());

        relay.close_connections();
        // The relayed connection is closed: EOF (or a reset) on our side.
        let n = c.read(&mut buf).unwrap_or(0);
        assert_eq!(n, 0);
    }
}
