//! Resource bounds: 1000 stream create/destroy cycles (some of them linked and carrying a
//! frame) and repeated thread start/stop leave open fds, threads and RSS where they were.
//! Its own test binary (process), so that no other test's threads or fds blur the counts.

// Test code: a failed expectation is the test failing.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
// Test data is built with deliberate wrapping arithmetic and small casts.
#![allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]

mod common;

use std::time::{Duration, Instant};

use common::*;
use wrd_pipewire::test_source::{TestFrame, TestSource};
use wrd_pipewire::wrd_frame::PixelFormat;
use wrd_pipewire::{PipeWireConnection, PipeWireEvent, PipeWireThreadManager, Remote, StreamConfig};
use wrd_testkit::{PipeWireDaemon, TestDir};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_destroy_cycles_and_restarts_do_not_leak() {
    let dir = TestDir::new("pw-cycles").unwrap();
    let daemon = PipeWireDaemon::start(dir.path()).unwrap();
    let (w, h) = (320, 240);
    let source = TestSource::start(
        Remote::Socket(daemon.socket()),
        source_cfg(PixelFormat::Bgrx, w, h),
    )
    .unwrap();
    let (manager, mut conn) = PipeWireThreadManager::spawn(Remote::Socket(daemon.socket())).unwrap();

    // warm up: allocator arenas, PipeWire's pools, lazily created threads
    for i in 0..50 {
        cycle(&mut conn, &source, i % 10 == 0, (w, h)).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    while conn.try_next_event().is_some() {}
    let (fds0, threads0, rss0) = (open_fds(), proc_status("Threads"), proc_status("VmRSS"));
    let t = Instant::now();
    for i in 0..1000 {
        cycle(&mut conn, &source, i % 50 == 0, (w, h)).await;
    }
    let took = t.elapsed();
    tokio::time::sleep(Duration::from_millis(200)).await;
    while conn.try_next_event().is_some() {}
    let (fds1, threads1, rss1) = (open_fds(), proc_status("Threads"), proc_status("VmRSS"));
    eprintln!(
        "1000 cycles in {took:?}: fds {fds0} -> {fds1}, threads {threads0} -> {threads1}, RSS {rss0} -> {rss1} kB"
    );
    assert!(fds1 <= fds0 + 2, "open fds grew: {fds0} -> {fds1}");
    assert_eq!(threads1, threads0, "thread count changed");
    assert!(
        rss1 <= rss0 + 4 * 1024,
        "RSS grew by {} kB",
        rss1.saturating_sub(rss0)
    );
    manager.shutdown().unwrap();
    drop(conn);

    // whole threads: start, use, stop; each takes its threads and fds with it
    let (fds0, threads0) = (open_fds(), proc_status("Threads"));
    for _ in 0..30 {
        let (manager, conn) = PipeWireThreadManager::spawn(Remote::Socket(daemon.socket())).unwrap();
        conn.create_stream(source.node_id(), StreamConfig::default())
            .await
            .unwrap();
        manager.shutdown().unwrap();
    }
    let (fds1, threads1) = (open_fds(), proc_status("Threads"));
    eprintln!("30 thread restarts: fds {fds0} -> {fds1}, threads {threads0} -> {threads1}");
    assert!(fds1 <= fds0 + 2, "open fds grew over restarts: {fds0} -> {fds1}");
    // Fewer is fine: an idle worker of the runtime's blocking pool may retire meanwhile.
    assert!(
        threads1 <= threads0,
        "threads left behind by restarts: {threads0} -> {threads1}"
    );
}

/// One stream's life: create, wait for its node, (linked: negotiate, one frame, unlink),
/// destroy.
async fn cycle(conn: &mut PipeWireConnection, source: &TestSource, linked: bool, (w, h): (u32, u32)) {
    let mut handle = conn
        .create_stream(source.node_id(), StreamConfig::default())
        .await
        .unwrap();
    let id = handle.stream.id;
    let local = wait_event(conn, WAIT, |e| match e {
        PipeWireEvent::StreamStateChanged {
            stream,
            local_node_id: Some(n),
            ..
        } if *stream == id => Some(*n),
        _ => None,
    })
    .await;
    if linked {
        source.link_to(local).unwrap();
        wait_event(conn, WAIT, |e| match e {
            PipeWireEvent::BuffersNegotiated { stream, .. } if *stream == id => Some(()),
            _ => None,
        })
        .await;
        source
            .push_retry(TestFrame::new(pattern(w, h, 1), vec![]), WAIT)
            .unwrap();
        let f = next_frame(&mut handle.frames).await;
        assert_eq!((f.width, f.height), (w, h));
        source.unlink(local);
    }
    conn.destroy_stream(id).await.unwrap();
    // drain what the thread reported about this stream
    while conn.try_next_event().is_some() {}
}
