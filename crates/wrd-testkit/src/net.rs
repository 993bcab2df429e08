//! Ports on 127.0.0.1.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

use anyhow::{Result, bail};

/// A TCP port that was free on 127.0.0.1 a moment ago.
///
/// Binds `127.0.0.1:0`, reads the port the kernel chose and closes the socket again. Between
/// that and the server under test binding it, another process could take the port: a small
/// race, acceptable for tests (the kernel hands out ephemeral ports round-robin, so the same
/// port is rarely given twice in a row). Never assume 3389-3391 are free on these machines.
///
/// Panics if nothing can be bound on 127.0.0.1 (a broken machine).
pub fn free_port() -> u16 {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("binding 127.0.0.1:0");
    listener
        .local_addr()
        .expect("local_addr of a bound socket")
        .port()
}

/// Waits until something listens on `addr` (TCP), at most `timeout`.
///
/// Looks the socket up in `/proc/net/tcp` and `/proc/net/tcp6` (state LISTEN), so the server
/// under test sees no probing connection; a listener on the unspecified address (0.0.0.0,
/// ::) counts for every address. Falls back to connecting when `/proc` is not readable.
pub fn wait_for_port(addr: SocketAddr, timeout: Duration) -> Result<()> {
    let start = Instant::now();
    loop {
        if is_listening(addr) {
            return Ok(());
        }
        if start.elapsed() >= timeout {
            bail!("timed out after {timeout:?} waiting for a TCP listener on {addr}");
        }
        std::thread::sleep(Duration::from_millis(25));
    }
}

/// Whether a TCP socket listens on `addr` now (see [`wait_for_port`]).
pub fn is_listening(addr: SocketAddr) -> bool {
    match proc_listeners() {
        Some(list) => list.iter().any(|l| {
            l.port() == addr.port() && (l.ip() == addr.ip() || l.ip().is_unspecified() || v4_mapped(l, addr))
        }),
        None => TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok(),
    }
}

/// `::ffff:a.b.c.d` listeners serve IPv4 `a.b.c.d`.
fn v4_mapped(listener: &SocketAddr, addr: SocketAddr) -> bool {
    match (listener.ip(), addr.ip()) {
        (IpAddr::V6(l), IpAddr::V4(a)) => l.to_ipv4_mapped() == Some(a),
        _ => false,
    }
}

/// All listening TCP sockets of this network namespace; `None` if `/proc/net/tcp` is unreadable.
fn proc_listeners() -> Option<Vec<SocketAddr>> {
    let v4 = std::fs::read_to_string("/proc/net/tcp").ok()?;
    let v6 = std::fs::read_to_string("/proc/net/tcp6").unwrap_or_default();
    let mut out = parse_proc_net_tcp(&v4);
    out.extend(parse_proc_net_tcp(&v6));
    Some(out)
}

/// Parses `/proc/net/tcp{,6}`: local addresses of the sockets in state `0A` (LISTEN).
/// Addresses are printed as the raw network-order words, each shown as a native-endian
/// hex number, so each 8-digit group goes back through `to_ne_bytes`.
fn parse_proc_net_tcp(text: &str) -> Vec<SocketAddr> {
    let mut out = Vec::new();
    for line in text.lines().skip(1) {
        let mut fields = line.split_whitespace();
        let (Some(_sl), Some(local), Some(_remote), Some(state)) =
            (fields.next(), fields.next(), fields.next(), fields.next())
        else {
            continue;
        };
        if state != "0A" {
            continue;
        }
        let Some((ip_hex, port_hex)) = local.split_once(':') else {
            continue;
        };
        let Ok(port) = u16::from_str_radix(port_hex, 16) else {
            continue;
        };
        let ip = match ip_hex.len() {
            8 => u32::from_str_radix(ip_hex, 16)
                .ok()
                .map(|w| IpAddr::V4(Ipv4Addr::from(w.to_ne_bytes()))),
            32 => {
                let mut bytes = [0u8; 16];
                let mut ok = true;
                for (i, chunk) in bytes.chunks_exact_mut(4).enumerate() {
                    match ip_hex
                        .get(i * 8..i * 8 + 8)
                        .and_then(|h| u32::from_str_radix(h, 16).ok())
                    {
                        Some(w) => chunk.copy_from_slice(&w.to_ne_bytes()),
                        None => ok = false,
                    }
                }
                ok.then(|| IpAddr::V6(Ipv6Addr::from(bytes)))
            }
            _ => None,
        };
        if let Some(ip) = ip {
            out.push(SocketAddr::new(ip, port));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_port_then_wait_for_port() {
        let port = free_port();
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let err = wait_for_port(addr, Duration::from_millis(100)).unwrap_err();
        assert!(err.to_string().contains("timed out"), "{err}");
        let listener = TcpListener::bind(addr).unwrap();
        wait_for_port(addr, Duration::from_secs(5)).unwrap();
        drop(listener);
        assert!(!is_listening(addr));
    }

    #[test]
    fn parses_proc_net_tcp() {
        let v4 = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n   0: 0100007F:0D3E 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1\n   1: 00000000:07E8 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 2\n   2: 0100007F:9C40 0100007F:0D3E 01 00000000:00000000 00:00000000 00000000     0        0 3\n";
        let got = parse_proc_net_tcp(v4);
        if cfg!(target_endian = "little") {
            assert_eq!(
                got,
                vec![
                    SocketAddr::from(([127, 0, 0, 1], 3390)),
                    SocketAddr::from(([0, 0, 0, 0], 2024))
                ]
            );
        }
        let v6 = "  sl  local_address                         remote_address                        st\n   0: 00000000000000000000000001000000:0D3D 00000000000000000000000000000000:0000 0A 0\n";
        let got = parse_proc_net_tcp(v6);
        if cfg!(target_endian = "little") {
            assert_eq!(got, vec![SocketAddr::from((Ipv6Addr::LOCALHOST, 3389))]);
        }
    }
}
