//! `probe_daemon` (for `wrd-server doctor`) against a real private PipeWire daemon, a socket
//! nobody listens on, and a socket that never answers.

// Test code: a failed expectation is the test failing.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, Instant};

use wrd_pipewire::{PipeWireError, Remote, probe_daemon};
use wrd_testkit::{PipeWireDaemon, TestDir};

#[test]
fn a_private_daemon_tells_its_version_and_has_no_session_manager() {
    let dir = TestDir::new("pw-probe").unwrap();
    let daemon = PipeWireDaemon::start(dir.path()).unwrap();
    let info = probe_daemon(Remote::Socket(daemon.socket()), Duration::from_secs(5)).unwrap();
    assert!(!info.name.is_empty(), "{info:?}");
    // the daemon and this process use the same installed libpipewire
    assert_eq!(info.version, info.library_version, "{info:?}");
    assert!(
        info.version.starts_with("0.3.") || info.version.starts_with("1."),
        "{info:?}"
    );
    // the private daemon runs without WirePlumber
    assert!(info.session_managers.is_empty(), "{info:?}");
}

#[test]
fn no_daemon_is_a_connect_error() {
    let dir = TestDir::new("pw-probe-none").unwrap();
    let err = probe_daemon(Remote::Socket(dir.join("nobody")), Duration::from_secs(5)).unwrap_err();
    assert!(matches!(err, PipeWireError::Connect(_)), "{err:?}");
}

#[test]
fn a_silent_socket_is_a_timeout_within_the_bound() {
    let dir = TestDir::new("pw-probe-silent").unwrap();
    let path = dir.join("silent");
    // the kernel completes the connection; nobody ever reads or answers
    let _listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
    let started = Instant::now();
    let err = probe_daemon(Remote::Socket(path), Duration::from_millis(500)).unwrap_err();
    assert!(matches!(err, PipeWireError::Timeout(_)), "{err:?}");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
}
