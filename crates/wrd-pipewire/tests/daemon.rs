//! The PipeWire thread against a real, private PipeWire daemon and an in-process test source.

// Test code: a failed expectation is the test failing.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
// Test data is built with deliberate wrapping arithmetic and small casts.
#![allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]

mod common;

use std::time::{Duration, Instant};

use common::*;
use wrd_pipewire::test_source::{PushError, TestCursor, TestFrame, TestSource};
use wrd_pipewire::wrd_frame::{PixelFormat, Rect};
use wrd_pipewire::{
    ALL_FORMATS, PipeWireError, PipeWireEvent, PipeWireThreadManager, Remote, StreamClosed, StreamConfig,
    StreamId, StreamState,
};
use wrd_testkit::{PipeWireDaemon, TestDir};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exact_pixels_stride_offset_and_damage() {
    let (w, h) = (320, 200);
    let mut scfg = source_cfg(PixelFormat::Bgrx, w, h);
    scfg.stride = w * 4 + 64; // padded rows
    scfg.chunk_offset = 4096 + 128; // pixels do not start at the buffer's start
    let mut rig = rig("pw-exact", scfg, StreamConfig::default()).await;
    let fmt = rig.handle.stream.id;
    let _ = fmt;

    // frame 1: no damage information -> whole frame
    let p1 = pattern(w, h, 1);
    let f1 = push_first(
        &rig.source,
        &mut rig.handle.frames,
        TestFrame::new(p1.clone(), vec![]),
    )
    .await;
    assert_eq!((f1.width, f1.height), (w, h));
    assert_eq!(f1.format, PixelFormat::Bgrx);
    assert_eq!(f1.stride, (w * 4 + 64) as usize);
    assert_eq!(f1.data.len(), f1.stride * h as usize);
    assert!(f1.pixels_changed);
    assert!(f1.damage.is_empty(), "no damage info must mean the whole frame");
    assert_eq!(tight_pixels(&f1), p1, "pixels differ");
    assert_eq!(f1.stream_id, rig.handle.stream.id);
    assert!(f1.pts_ns.is_some() && f1.source_seq.is_some());

    // frame 2: two known rectangles
    let p2 = pattern(w, h, 2);
    let damage = vec![Rect::new(10, 20, 30, 40), Rect::new(200, 100, 50, 60)];
    rig.source
        .push_retry(TestFrame::new(p2.clone(), damage.clone()), WAIT)
        .unwrap();
    let f2 = next_frame(&mut rig.handle.frames).await;
    assert_eq!(tight_pixels(&f2), p2);
    assert_eq!(f2.damage, damage);
    assert!(f2.seq > f1.seq);
    assert_eq!(f2.merged, 0);

    // damage partly outside the frame is clipped
    let p3 = pattern(w, h, 3);
    rig.source
        .push_retry(
            TestFrame::new(p3.clone(), vec![Rect::new(300, 190, 100, 100)]),
            WAIT,
        )
        .unwrap();
    let f3 = next_frame(&mut rig.handle.frames).await;
    assert_eq!(f3.damage, vec![Rect::new(300, 190, 20, 10)]);

    // it converts to the frame bus's input without copying
    let nf = f3.clone().into_new_frame().unwrap();
    assert_eq!(nf.data.as_ptr(), f3.data.as_ptr());
    assert_eq!((nf.width, nf.height, nf.stride), (320, 200, f3.stride));

    let stats = rig.handle.frames.stats();
    assert_eq!(stats.invalid, 0);
    assert!(stats.taken >= 3);
    rig.manager.shutdown().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_format_negotiates_and_matches() {
    let dir = TestDir::new("pw-formats").unwrap();
    let daemon = PipeWireDaemon::start(dir.path()).unwrap();
    let (manager, mut conn) = PipeWireThreadManager::spawn(Remote::Socket(daemon.socket())).unwrap();
    for (i, fmt) in ALL_FORMATS.into_iter().enumerate() {
        let (w, h) = (64 + 16 * i as u32, 48);
        let source = TestSource::start(Remote::Socket(daemon.socket()), source_cfg(fmt, w, h)).unwrap();
        let mut handle = conn
            .create_stream(source.node_id(), StreamConfig::default())
            .await
            .unwrap();
        let id = handle.stream.id;
        let local = wait_event(&mut conn, WAIT, |e| match e {
            PipeWireEvent::StreamStateChanged {
                stream,
                local_node_id: Some(n),
                ..
            } if *stream == id => Some(*n),
            _ => None,
        })
        .await;
        source.link_to(local).unwrap();
        let negotiated = wait_event(&mut conn, WAIT, |e| match e {
            PipeWireEvent::FormatChanged { stream, format } if *stream == id => Some(*format),
            _ => None,
        })
        .await;
        assert_eq!(negotiated.format, fmt);
        assert_eq!((negotiated.width, negotiated.height), (w, h));
        assert_eq!(negotiated.framerate, (0, 1), "variable frame rate");
        assert_eq!(negotiated.modifier, None);
        wait_streaming(&mut conn, id).await;
        let p = pattern(w, h, i as u32);
        let f = push_first(&source, &mut handle.frames, TestFrame::new(p.clone(), vec![])).await;
        assert_eq!(f.format, fmt, "{fmt:?}");
        assert_eq!(tight_pixels(&f), p, "{fmt:?}");
        conn.destroy_stream(id).await.unwrap();
        assert_eq!(handle.frames.recv().await.unwrap_err(), StreamClosed::Destroyed);
    }
    manager.shutdown().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn linear_dmabuf_is_mapped_with_its_offset() {
    let (w, h) = (256, 128);
    let mut scfg = source_cfg(PixelFormat::Bgra, w, h);
    scfg.dmabuf = true;
    scfg.chunk_offset = 8192 + 256;
    scfg.stride = w * 4 + 128;
    let mut rig = rig("pw-dmabuf", scfg, StreamConfig::default()).await;
    let st = rig.handle.stream.clone();
    let _ = st;
    let p = pattern(w, h, 7);
    let f = push_first(
        &rig.source,
        &mut rig.handle.frames,
        TestFrame::new(p.clone(), vec![Rect::new(0, 0, 8, 8)]),
    )
    .await;
    assert_eq!(f.format, PixelFormat::Bgra);
    assert_eq!(f.stride, (w * 4 + 128) as usize);
    assert_eq!(tight_pixels(&f), p);
    assert_eq!(f.damage, vec![Rect::new(0, 0, 8, 8)]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dmabuf_is_not_offered_when_disabled() {
    let mut scfg = source_cfg(PixelFormat::Bgrx, 64, 64);
    scfg.dmabuf = true;
    let dir = TestDir::new("pw-nodmabuf").unwrap();
    let daemon = PipeWireDaemon::start(dir.path()).unwrap();
    let source = TestSource::start(Remote::Socket(daemon.socket()), scfg).unwrap();
    let (manager, mut conn) = PipeWireThreadManager::spawn(Remote::Socket(daemon.socket())).unwrap();
    let cfg = StreamConfig {
        allow_dmabuf: false,
        ..StreamConfig::default()
    };
    let handle = conn.create_stream(source.node_id(), cfg).await.unwrap();
    let id = handle.stream.id;
    let local = wait_event(&mut conn, WAIT, |e| match e {
        PipeWireEvent::StreamStateChanged {
            stream,
            local_node_id: Some(n),
            ..
        } if *stream == id => Some(*n),
        _ => None,
    })
    .await;
    // the link cannot negotiate (the source only has DMA-BUF): no format ever arrives
    let _ = source.link_to(local);
    let got = tokio::time::timeout(Duration::from_millis(800), async {
        loop {
            match conn.next_event().await {
                Some(PipeWireEvent::FormatChanged { .. }) => return true,
                Some(_) => {}
                None => return false,
            }
        }
    })
    .await;
    assert!(
        got.is_err() || got == Ok(false),
        "a format was negotiated without DMA-BUF support"
    );
    manager.shutdown().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cursor_metadata_and_cursor_only_updates() {
    let (w, h) = (128, 96);
    let mut rig = rig(
        "pw-cursor",
        source_cfg(PixelFormat::Bgrx, w, h),
        StreamConfig::default(),
    )
    .await;
    let bitmap: Vec<u8> = (0..16 * 16 * 4usize).map(|i| (i % 251) as u8).collect();
    let p = pattern(w, h, 11);
    let mut frame = TestFrame::new(p.clone(), vec![Rect::new(1, 1, 2, 2)]);
    frame.cursor = Some(TestCursor {
        id: 5,
        x: 40,
        y: 30,
        hotspot_x: 3,
        hotspot_y: 4,
        bitmap: Some((16, 16, bitmap.clone())),
    });
    let f = push_first(&rig.source, &mut rig.handle.frames, frame).await;
    let c = f.cursor.clone().expect("cursor metadata");
    assert_eq!((c.id, c.x, c.y, c.hotspot_x, c.hotspot_y), (5, 40, 30, 3, 4));
    let bm = c.bitmap.expect("bitmap");
    assert_eq!((bm.width, bm.height), (16, 16));
    assert_eq!(&bm.rgba[..], &bitmap[..]);

    // the pointer moves, nothing else changes: a cursor-only buffer (chunk size 0)
    let mut moved = TestFrame::new(Vec::new(), vec![]);
    moved.no_pixels = true;
    moved.cursor = Some(TestCursor {
        id: 5,
        x: 41,
        y: 35,
        hotspot_x: 3,
        hotspot_y: 4,
        bitmap: None,
    });
    rig.source.push_retry(moved, WAIT).unwrap();
    let g = next_frame(&mut rig.handle.frames).await;
    assert!(!g.pixels_changed);
    assert!(g.clone().into_new_frame().is_none());
    assert_eq!(
        g.data.as_ptr(),
        f.data.as_ptr(),
        "cursor-only updates share the last pixels"
    );
    let c = g.cursor.unwrap();
    assert_eq!((c.x, c.y), (41, 35));
    assert!(c.bitmap.is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_consumer_gets_merged_damage_and_memory_stays_bounded() {
    let (w, h) = (640, 480);
    let mut rig = rig(
        "pw-slow",
        source_cfg(PixelFormat::Bgrx, w, h),
        StreamConfig::default(),
    )
    .await;
    // one frame read, to start from a known point
    push_first(
        &rig.source,
        &mut rig.handle.frames,
        TestFrame::new(pattern(w, h, 0), vec![]),
    )
    .await;
    let base_stats = rig.handle.frames.stats();

    // the async side stops reading for 2 s while the source publishes ~100 frames/s
    let rss_before = proc_status("VmRSS");
    let mut rss_max = rss_before;
    let start = Instant::now();
    let mut pushed: Vec<Rect> = Vec::new();
    let mut last = Vec::new();
    let mut n = 0u32;
    while start.elapsed() < Duration::from_secs(2) {
        n += 1;
        let r = Rect::new(
            u16::try_from((n * 37) % 600).unwrap(),
            u16::try_from((n * 53) % 440).unwrap(),
            7,
            5,
        );
        last = pattern(w, h, n);
        // every push is queued at once: the consumer thread keeps taking buffers
        rig.source
            .push_retry(TestFrame::new(last.clone(), vec![r]), Duration::from_secs(1))
            .unwrap();
        pushed.push(r);
        rss_max = rss_max.max(proc_status("VmRSS"));
        std::thread::sleep(Duration::from_millis(10));
    }
    // let the last one through
    wrd_testkit::poll_until(
        Duration::from_secs(5),
        Duration::from_millis(5),
        "last frame",
        || Ok((rig.handle.frames.stats().published - base_stats.published >= u64::from(n)).then_some(())),
    )
    .unwrap();
    let f = next_frame(&mut rig.handle.frames).await;
    assert_eq!(tight_pixels(&f), last, "the newest frame wins");
    assert_eq!(f.merged, n - 1, "every missed frame was merged");
    let stats = rig.handle.frames.stats();
    assert_eq!(stats.replaced - base_stats.replaced, u64::from(n - 1));
    assert_eq!(stats.invalid, 0);
    // every rectangle pushed is inside the damage delivered
    assert!(!f.damage.is_empty());
    for r in &pushed {
        for (x, y) in [(r.x, r.y), (r.x + r.width - 1, r.y + r.height - 1)] {
            assert!(
                f.damage
                    .iter()
                    .any(|d| x >= d.x && y >= d.y && u32::from(x) < d.right() && u32::from(y) < d.bottom()),
                "({x},{y}) of {r:?} not covered by {:?}",
                f.damage
            );
        }
    }
    // ~200 frames of 1.2 MB went through; memory must not have followed
    let growth_kb = rss_max.saturating_sub(rss_before);
    assert!(
        growth_kb < 32 * 1024,
        "RSS grew by {growth_kb} kB while not reading"
    );
    eprintln!(
        "slow consumer: {n} frames pushed, 1 delivered with {} rects, RSS +{growth_kb} kB",
        f.damage.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_the_daemon_is_reported_within_a_second() {
    let (w, h) = (320, 240);
    let mut rig = rig(
        "pw-kill",
        source_cfg(PixelFormat::Bgrx, w, h),
        StreamConfig::default(),
    )
    .await;
    // a second stream (never linked): it must hear of the loss too
    let other = rig
        .conn
        .create_stream(u32::MAX, StreamConfig::default())
        .await
        .unwrap();
    let mut other_frames = other.frames;
    push_first(
        &rig.source,
        &mut rig.handle.frames,
        TestFrame::new(pattern(w, h, 1), vec![]),
    )
    .await;

    let killed = Instant::now();
    rig.daemon.kill().unwrap();
    let ids = [rig.handle.stream.id, other.stream.id];
    let mut disconnected: Vec<StreamId> = Vec::new();
    let global = tokio::time::timeout(Duration::from_secs(1), async {
        loop {
            match rig.conn.next_event().await {
                Some(PipeWireEvent::StreamDisconnected { stream, .. }) => disconnected.push(stream),
                Some(PipeWireEvent::Disconnected { reason }) => return reason,
                Some(_) => {}
                None => panic!("event channel closed before Disconnected"),
            }
        }
    })
    .await
    .expect("no Disconnected event within 1 s of the daemon's death");
    let took = killed.elapsed();
    disconnected.sort();
    assert_eq!(disconnected, ids, "every stream reports the loss");
    // frame receivers end too
    let e = tokio::time::timeout(Duration::from_secs(1), rig.handle.frames.recv())
        .await
        .unwrap()
        .unwrap_err();
    assert!(matches!(e, StreamClosed::Disconnected(_)), "{e:?}");
    assert!(matches!(
        other_frames.recv().await,
        Err(StreamClosed::Disconnected(_))
    ));
    // the thread exits cleanly; commands fail fast
    wrd_testkit::poll_until(
        Duration::from_secs(1),
        Duration::from_millis(5),
        "thread exit",
        || Ok(rig.manager.is_finished().then_some(())),
    )
    .unwrap();
    assert_eq!(
        rig.conn
            .create_stream(1, StreamConfig::default())
            .await
            .unwrap_err(),
        PipeWireError::ThreadGone
    );
    let t = Instant::now();
    rig.manager.shutdown().unwrap();
    assert!(t.elapsed() < Duration::from_secs(1));
    eprintln!("daemon killed: Disconnected after {took:?} ({global})");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_joins_fast_and_drop_shuts_down() {
    let (w, h) = (160, 120);
    let mut rig = rig(
        "pw-shutdown",
        source_cfg(PixelFormat::Rgba, w, h),
        StreamConfig::default(),
    )
    .await;
    push_first(
        &rig.source,
        &mut rig.handle.frames,
        TestFrame::new(pattern(w, h, 1), vec![]),
    )
    .await;
    let commands = rig.manager.commands();
    let t = Instant::now();
    rig.manager.shutdown().unwrap();
    let took = t.elapsed();
    assert!(took < Duration::from_secs(1), "shutdown took {took:?}");
    assert_eq!(
        rig.handle.frames.recv().await.unwrap_err(),
        StreamClosed::Shutdown
    );
    assert!(commands.is_closed());
    assert_eq!(
        commands
            .create_stream(1, StreamConfig::default())
            .await
            .unwrap_err(),
        PipeWireError::ThreadGone
    );
    // the event channel ends
    while rig.conn.next_event().await.is_some() {}

    // dropping a manager shuts its thread down as well
    let (manager, conn) = PipeWireThreadManager::spawn(Remote::Socket(rig.daemon.socket())).unwrap();
    let h = conn
        .create_stream(u32::MAX, StreamConfig::default())
        .await
        .unwrap();
    let mut frames = h.frames;
    let t = Instant::now();
    drop(manager);
    assert!(t.elapsed() < Duration::from_secs(1));
    assert_eq!(frames.recv().await.unwrap_err(), StreamClosed::Shutdown);
    assert!(conn.commands().is_closed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_commands_are_error_replies_and_the_thread_lives_on() {
    let dir = TestDir::new("pw-errors").unwrap();
    let daemon = PipeWireDaemon::start(dir.path()).unwrap();
    let (manager, conn) = PipeWireThreadManager::spawn(Remote::Socket(daemon.socket())).unwrap();
    let bad = StreamConfig {
        min_size: (0, 0),
        ..StreamConfig::default()
    };
    assert!(matches!(
        conn.create_stream(1, bad).await,
        Err(PipeWireError::InvalidConfig(_))
    ));
    let bad = StreamConfig {
        name: "nul\0byte".into(),
        ..StreamConfig::default()
    };
    assert!(matches!(
        conn.create_stream(1, bad).await,
        Err(PipeWireError::InvalidConfig(_))
    ));
    let cmds = conn.commands();
    let id = StreamId(4242);
    cmds.create_stream_with_id(id, 1, StreamConfig::default())
        .await
        .unwrap();
    assert_eq!(
        cmds.create_stream_with_id(id, 1, StreamConfig::default())
            .await
            .unwrap_err(),
        PipeWireError::StreamExists(id)
    );
    assert_eq!(
        conn.destroy_stream(StreamId(9)).await.unwrap_err(),
        PipeWireError::NoSuchStream(StreamId(9))
    );
    assert_eq!(
        conn.start_stream(StreamId(9)).await.unwrap_err(),
        PipeWireError::NoSuchStream(StreamId(9))
    );
    // stop / start a real one
    let s = conn.stop_stream(id).await.unwrap();
    assert!(!s.active);
    let s = conn.start_stream(id).await.unwrap();
    assert!(s.active);
    let s = conn.destroy_stream(id).await.unwrap();
    assert_eq!(s.state, StreamState::Unconnected);
    // still alive
    conn.create_stream(1, StreamConfig::default()).await.unwrap();
    assert!(!manager.is_finished());

    // a daemon that is not there: a connect error, not a hang or a panic
    let err = PipeWireThreadManager::spawn(Remote::Socket(dir.join("nope"))).unwrap_err();
    assert!(matches!(err, PipeWireError::Connect(_)), "{err}");
    manager.shutdown().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inactive_streams_start_on_command() {
    let (w, h) = (64, 64);
    let dir = TestDir::new("pw-inactive").unwrap();
    let daemon = PipeWireDaemon::start(dir.path()).unwrap();
    let source = TestSource::start(
        Remote::Socket(daemon.socket()),
        source_cfg(PixelFormat::Bgrx, w, h),
    )
    .unwrap();
    let (manager, mut conn) = PipeWireThreadManager::spawn(Remote::Socket(daemon.socket())).unwrap();
    let cfg = StreamConfig {
        start_active: false,
        ..StreamConfig::default()
    };
    let mut handle = conn.create_stream(source.node_id(), cfg).await.unwrap();
    assert!(!handle.stream.active);
    let id = handle.stream.id;
    let local = wait_event(&mut conn, WAIT, |e| match e {
        PipeWireEvent::StreamStateChanged {
            stream,
            local_node_id: Some(n),
            ..
        } if *stream == id => Some(*n),
        _ => None,
    })
    .await;
    source.link_to(local).unwrap();
    // inactive: nothing flows
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(matches!(
        source.push(TestFrame::new(pattern(w, h, 1), vec![])),
        Err(PushError::NotNegotiated | PushError::NoBuffer)
    ));
    assert!(handle.frames.try_recv().unwrap().is_none());
    let s = conn.start_stream(id).await.unwrap();
    assert!(s.active);
    wait_event(&mut conn, WAIT, |e| match e {
        PipeWireEvent::BuffersNegotiated { stream, memory } if *stream == id => Some(*memory),
        _ => None,
    })
    .await;
    let p = pattern(w, h, 3);
    let f = push_first(&source, &mut handle.frames, TestFrame::new(p.clone(), vec![])).await;
    assert_eq!(tight_pixels(&f), p);
    // stopped again: no more frames
    conn.stop_stream(id).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let _ = source.push(TestFrame::new(pattern(w, h, 4), vec![]));
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        handle.frames.try_recv().unwrap().is_none(),
        "a stopped stream delivered a frame"
    );
    manager.shutdown().unwrap();
}
