//! wrd-bench measured against wrd-server's test pattern, whose rate, answer delay and bytes
//! are known, and against servers that misbehave (nothing listening, not TLS, wrong password,
//! silent, stalled): every figure must match what the server did, every failure must be one
//! clear line and exit status 1 within its bound.

// Test code: a failed step is the test failing, so unwrap/panic are the right tools here.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use wrd_testkit::{ChildGuard, TestDir, free_port, output_with_timeout, wait_for_port};

const USER: &str = "bench";
const PASSWORD: &str = "bench-password";
/// The test pattern's echo box at 640x480 (unit 4: under the 48 px tall counter box).
const ECHO_REGION: &str = "0,48,48x48";

fn wrd_bench() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_wrd-bench"));
    cmd.env("WRD_PASSWORD", PASSWORD);
    cmd
}

/// wrd-server beside wrd-bench in the target directory (`cargo test --workspace` builds both).
fn wrd_server_binary() -> PathBuf {
    let bench = PathBuf::from(env!("CARGO_BIN_EXE_wrd-bench"));
    let server = bench.with_file_name("wrd-server");
    assert!(
        server.exists(),
        "{} is missing: build the workspace (cargo build --workspace) first",
        server.display()
    );
    server
}

struct PatternServer {
    addr: SocketAddr,
    child: ChildGuard,
}

/// A test-pattern server on a free loopback port (640x480), with `extra` arguments.
fn pattern_server(dir: &TestDir, name: &str, extra: &[&str]) -> PatternServer {
    let port = free_port();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let state = dir.join(format!("{name}-state"));
    let mut cmd = Command::new(wrd_server_binary());
    cmd.args([
        "serve",
        "--source",
        "test-pattern",
        "--size",
        "640x480",
        "--username",
        USER,
    ])
    .arg("--listen")
    .arg(addr.to_string())
    .args(extra)
    .env("WRD_PASSWORD", PASSWORD)
    .env("XDG_STATE_HOME", &state)
    .env("XDG_CONFIG_HOME", &state)
    .env("RUST_LOG", "info");
    let mut child = ChildGuard::spawn(&mut cmd, name, dir.path()).unwrap();
    wait_for_port(addr, Duration::from_secs(20)).unwrap_or_else(|e| panic!("{e:#}\n{}", child.log_tail(30)));
    child.ensure_running().unwrap();
    PatternServer { addr, child }
}

fn run(cmd: &mut Command, bound: Duration) -> (Output, Duration) {
    let started = Instant::now();
    let out = output_with_timeout(cmd, bound).unwrap();
    (out, started.elapsed())
}

fn text(out: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn json_lines(path: &std::path::Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// The `bytes_sent` of the server's log line for its client's session end.
fn logged_bytes_sent(server: &mut ChildGuard) -> u64 {
    server
        .wait_for_log("client disconnected", Duration::from_secs(10))
        .unwrap();
    let log = server.log();
    let line = log.lines().find(|l| l.contains("client disconnected")).unwrap();
    let field = line
        .split_whitespace()
        .find_map(|w| w.strip_prefix("bytes_sent="))
        .unwrap_or_else(|| panic!("no bytes_sent in {line:?}"));
    field.parse().unwrap()
}

#[test]
fn watch_sees_the_pattern_rate_and_every_byte_the_server_wrote() {
    let dir = TestDir::new("bench-pattern-watch").unwrap();
    let mut server = pattern_server(&dir, "server", &["--fps", "20"]);
    let json = dir.join("watch.jsonl");
    let (out, _) = run(
        wrd_bench()
            .arg("--json")
            .arg(&json)
            .args([
                "watch",
                "--frame-counter=pattern",
                "--username",
                USER,
                "--seconds",
                "5",
                "--addr",
            ])
            .arg(server.addr.to_string()),
        Duration::from_secs(60),
    );
    assert!(out.status.success(), "{}", text(&out));
    let records = json_lines(&json);
    let client = records
        .iter()
        .find(|r| r["bench"] == "watch_client")
        .unwrap_or_else(|| panic!("no client record: {records:?}"));

    // The distinct counter values the client's picture showed: the configured 20 per second.
    // (Update bursts are no measure of this here: a debug-built server on a busy machine takes
    // 20 ms and more to encode one rectangle, which splits a frame into two bursts.)
    let fps = client["frames_per_s"].as_f64().unwrap();
    assert!(
        (18.0..=21.0).contains(&fps),
        "{fps} frames/s for a 20 fps pattern: {client}"
    );
    assert_eq!(client["counter_unreadable"], 0, "{client}");
    assert_eq!(client["counter_glitches"], 0, "{client}");
    assert!(client["bursts_per_s"].as_f64().unwrap() >= fps * 0.5, "{client}");

    // What the client read over the whole connection is exactly what the server wrote.
    let received = client["connection_bytes_received"].as_u64().unwrap();
    let sent = logged_bytes_sent(&mut server.child);
    assert_eq!(
        received, sent,
        "client counted {received} bytes, server wrote {sent}"
    );
    assert!(received > 10_000, "{received}");
}

/// Median of `press` against a pattern server started with `extra` arguments.
fn press_median(dir: &TestDir, name: &str, extra: &[&str]) -> (f64, serde_json::Value) {
    let server = pattern_server(dir, name, extra);
    let json = dir.join(format!("{name}.jsonl"));
    let (out, _) = run(
        wrd_bench()
            .arg("--json")
            .arg(&json)
            .args(["press", "--username", USER, "--region", ECHO_REGION])
            .args([
                "--samples",
                "20",
                "--warmup",
                "3",
                "--interval-ms",
                "60",
                "--addr",
            ])
            .arg(server.addr.to_string()),
        Duration::from_secs(60),
    );
    assert!(out.status.success(), "{}", text(&out));
    let record = json_lines(&json).pop().unwrap();
    assert_eq!(record["missed"], 0, "{record}");
    assert_eq!(record["presses"], 20, "{record}");
    (record["summary_ms"]["median"].as_f64().unwrap(), record)
}

#[test]
fn press_measures_a_known_answer_delay() {
    let dir = TestDir::new("bench-pattern-press").unwrap();
    // A still pattern: no frames of its own compete with the answers for the frame pacing.
    let (base, base_record) = press_median(&dir, "no-delay", &["--fps", "0"]);
    let (delayed, delayed_record) = press_median(
        &dir,
        "delay-50",
        &["--fps", "0", "--pattern-input-delay-ms", "50"],
    );
    // The measured difference is the delay the server added, within 5 ms.
    let added = delayed - base;
    assert!(
        (added - 50.0).abs() <= 5.0,
        "measured {added:.1} ms for a 50 ms delay\nwithout: {base_record}\nwith: {delayed_record}"
    );
    // Nothing can answer before the delay has passed: a clock started late would show less.
    let fastest = delayed_record["summary_ms"]["min"].as_f64().unwrap();
    assert!(
        fastest >= 50.0,
        "a press answered after {fastest} ms: {delayed_record}"
    );
    assert!(base < 25.0, "the path itself took {base} ms: {base_record}");
}

/// Runs wrd-bench `args` (against `addr`, with `--timeout 3`) and expects exit status 1, one
/// error line containing `expected`, within `bound`.
fn expect_failure(args: &[&str], addr: SocketAddr, expected: &[&str], bound: Duration) {
    let (out, took) = run(
        wrd_bench()
            .args(args)
            .args(["--username", USER, "--timeout", "3", "--addr"])
            .arg(addr.to_string()),
        bound + Duration::from_secs(10),
    );
    let all = text(&out);
    assert_eq!(out.status.code(), Some(1), "{args:?}: {all}");
    assert!(took <= bound, "{args:?} took {took:?}: {all}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let error = stderr
        .lines()
        .find(|l| l.starts_with("wrd-bench: error:"))
        .unwrap_or_else(|| panic!("{args:?}: no error line: {all}"));
    let lower = error.to_lowercase();
    assert!(
        expected.iter().any(|e| lower.contains(e)),
        "{args:?}: the error line says none of {expected:?}: {error}"
    );
}

const COMMANDS: [&[&str]; 3] = [
    &["first-frame", "--runs", "1", "--warmup", "0"],
    &["watch", "--seconds", "1"],
    &[
        "press",
        "--region",
        ECHO_REGION,
        "--samples",
        "1",
        "--warmup",
        "0",
    ],
];

#[test]
fn nothing_listening_is_a_clear_error() {
    let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    for args in COMMANDS {
        expect_failure(args, addr, &["refused"], Duration::from_secs(5));
    }
}

#[test]
fn a_wrong_password_is_a_clear_error() {
    let dir = TestDir::new("bench-pattern-auth").unwrap();
    let server = pattern_server(&dir, "server", &["--fps", "5"]);
    let (out, took) = run(
        wrd_bench()
            .env("WRD_PASSWORD", "not-the-password")
            .args(["first-frame", "--runs", "1", "--warmup", "0", "--username", USER])
            .args(["--timeout", "5", "--addr"])
            .arg(server.addr.to_string()),
        Duration::from_secs(30),
    );
    let all = text(&out);
    assert_eq!(out.status.code(), Some(1), "{all}");
    assert!(took < Duration::from_secs(10), "{took:?}: {all}");
    let stderr = String::from_utf8_lossy(&out.stderr).to_lowercase();
    assert!(
        stderr.contains("authentication") || stderr.contains("logon") || stderr.contains("credssp"),
        "{all}"
    );
}

/// A fake server on a free loopback port; each accepted connection is handed to `serve` on a
/// thread of its own. Stops accepting when dropped.
struct FakeServer {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
}

impl FakeServer {
    fn start(serve: fn(TcpStream)) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = Arc::clone(&stop);
        std::thread::spawn(move || {
            while !stopping.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        stream.set_nonblocking(false).unwrap();
                        std::thread::spawn(move || serve(stream));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
        });
        Self { addr, stop }
    }
}

impl Drop for FakeServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Reads whatever the client sends for up to 20 s (keeps the connection open, says nothing).
fn drain(mut stream: TcpStream) {
    stream.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut buf = [0u8; 4096];
    while matches!(stream.read(&mut buf), Ok(n) if n > 0) {}
}

#[test]
fn a_server_that_answers_nothing_is_a_clear_error() {
    let fake = FakeServer::start(drain);
    for args in COMMANDS {
        expect_failure(args, fake.addr, &["timed out", "timeout"], Duration::from_secs(8));
    }
}

/// Answers the X.224 connection request with a confirm that selects CredSSP over TLS, then
/// sends bytes that are not a TLS handshake.
fn not_tls(mut stream: TcpStream) {
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut request = [0u8; 1024];
    if !matches!(stream.read(&mut request), Ok(n) if n > 0) {
        return;
    }
    let confirm = [
        0x03, 0x00, 0x00, 0x13, // TPKT, 19 bytes
        0x0e, 0xd0, 0x00, 0x00, 0x12, 0x34, 0x00, // X.224 connection confirm
        0x02, 0x00, 0x08, 0x00, 0x02, 0x00, 0x00, 0x00, // RDP_NEG_RSP: PROTOCOL_HYBRID
    ];
    let _ = stream.write_all(&confirm);
    let _ = stream.write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
    drain(stream);
}

#[test]
fn a_server_that_does_not_speak_tls_is_a_clear_error() {
    let fake = FakeServer::start(not_tls);
    for args in COMMANDS {
        expect_failure(args, fake.addr, &["tls"], Duration::from_secs(8));
    }
}

/// A relay to a real server that stops passing the server's bytes on once `stall_after` has
/// passed, keeping both connections open.
fn stalling_relay(server: SocketAddr, stall_after: Duration) -> FakeServer {
    static TARGET: std::sync::OnceLock<(SocketAddr, Duration)> = std::sync::OnceLock::new();
    TARGET.set((server, stall_after)).unwrap();
    FakeServer::start(|client| {
        let (server, stall_after) = *TARGET.get().unwrap();
        let upstream = TcpStream::connect(server).unwrap();
        let started = Instant::now();
        let (mut up_read, mut client_write) = (upstream.try_clone().unwrap(), client.try_clone().unwrap());
        std::thread::spawn(move || {
            let mut buf = [0u8; 16 * 1024];
            while let Ok(n) = up_read.read(&mut buf) {
                if n == 0 {
                    return;
                }
                if started.elapsed() < stall_after {
                    let _ = client_write.write_all(&buf[..n]);
                }
            }
        });
        let (mut client_read, mut up_write) = (client, upstream);
        let mut buf = [0u8; 16 * 1024];
        while let Ok(n) = client_read.read(&mut buf) {
            if n == 0 || up_write.write_all(&buf[..n]).is_err() {
                return;
            }
        }
    })
}

#[test]
fn a_server_that_stops_sending_mid_session_is_a_clear_error() {
    let dir = TestDir::new("bench-pattern-stall").unwrap();
    let server = pattern_server(&dir, "server", &["--fps", "0"]);
    // Long enough to connect and show the first picture, short of the first press.
    let relay = stalling_relay(server.addr, Duration::from_secs(2));
    let (out, took) = run(
        wrd_bench()
            .args(["press", "--username", USER, "--region", ECHO_REGION])
            .args(["--samples", "3", "--warmup", "0", "--interval-ms", "2500"])
            .args(["--press-timeout-ms", "1000", "--timeout", "5", "--addr"])
            .arg(relay.addr.to_string()),
        Duration::from_secs(40),
    );
    let all = text(&out);
    assert_eq!(out.status.code(), Some(1), "{all}");
    assert!(took < Duration::from_secs(25), "{took:?}: {all}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("none of the 3 presses changed the region"),
        "{all}"
    );
}

#[test]
fn xfreerdp_measures_the_same_known_delay_as_the_in_process_client() {
    let dir = TestDir::new("bench-pattern-xfreerdp").unwrap();
    let server = pattern_server(&dir, "server", &["--fps", "0", "--pattern-input-delay-ms", "50"]);
    let mut medians = Vec::new();
    for client in ["wrd", "xfreerdp"] {
        let json = dir.join(format!("{client}.jsonl"));
        let (out, _) = run(
            wrd_bench()
                .arg("--json")
                .arg(&json)
                .args([
                    "press",
                    "--client",
                    client,
                    "--username",
                    USER,
                    "--region",
                    ECHO_REGION,
                ])
                .args(["--width", "640", "--height", "480"])
                .args([
                    "--samples",
                    "15",
                    "--warmup",
                    "3",
                    "--interval-ms",
                    "100",
                    "--addr",
                ])
                .arg(server.addr.to_string()),
            Duration::from_secs(90),
        );
        assert!(out.status.success(), "{client}: {}", text(&out));
        let record = json_lines(&json).pop().unwrap();
        assert_eq!(record["client"], client, "{record}");
        assert_eq!(record["missed"], 0, "{record}");
        let min = record["summary_ms"]["min"].as_f64().unwrap();
        assert!(min >= 50.0, "{client} saw an answer after {min} ms: {record}");
        medians.push((record["summary_ms"]["median"].as_f64().unwrap(), record));
    }
    // The real client adds its own input handling, decoding and painting, and the polling;
    // beyond that both measure the same path.
    let (ours, theirs) = (medians[0].0, medians[1].0);
    assert!(
        (theirs - ours).abs() <= 20.0,
        "in-process {ours:.1} ms, xfreerdp {theirs:.1} ms\n{}\n{}",
        medians[0].1,
        medians[1].1
    );
}

#[test]
fn watch_measures_h264_over_the_graphics_pipeline_too() {
    let dir = TestDir::new("bench-pattern-watch-h264").unwrap();
    let mut server = pattern_server(&dir, "server", &["--fps", "20"]);
    let json = dir.join("watch.jsonl");
    let (out, _) = run(
        wrd_bench()
            .arg("--json")
            .arg(&json)
            .args(["watch", "--codec", "h264", "--frame-counter=pattern"])
            .args(["--username", USER, "--seconds", "5"])
            .args(["--settle", "2", "--addr"])
            .arg(server.addr.to_string()),
        Duration::from_secs(60),
    );
    assert!(out.status.success(), "{}", text(&out));
    let records = json_lines(&json);
    let client = records.iter().find(|r| r["bench"] == "watch_client").unwrap();
    // Every picture in the window came as H.264, and the lossy pictures still show every
    // pattern frame's counter.
    let h264_frames = client["avc420_frames"].as_u64().unwrap();
    assert!(h264_frames >= 80, "{h264_frames} H.264 frames: {client}");
    let fps = client["frames_per_s"].as_f64().unwrap();
    assert_eq!(client["counter_unreadable"], 0, "{client}");
    assert!(
        (18.0..=21.0).contains(&fps),
        "{fps} frames/s for a 20 fps pattern: {client}"
    );
    let received = client["connection_bytes_received"].as_u64().unwrap();
    assert_eq!(received, logged_bytes_sent(&mut server.child), "{client}");
}
