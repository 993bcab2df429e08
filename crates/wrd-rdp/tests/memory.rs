//! What a client costs the server's memory when it does not keep up, measured in a process of
//! its own (resident memory is per process, and the other in-process tests allocate too).

// Test code: a failed step is the test failing, so unwrap/panic are the right tools here.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use common::*;
use tokio_util::sync::CancellationToken;
use wrd_client::Instant;
use wrd_frame::FrameBus;

/// Publishes frames of noise at `size` (four pictures in turn, each differing everywhere from
/// the one before: the costliest content to encode) every 33 ms until `stop`.
async fn publish_noise(
    mut publisher: wrd_frame::FramePublisher,
    (width, height): (u16, u16),
    stop: CancellationToken,
) {
    let mut state = 0x2545_F491_4F6C_DD1D_u64;
    let pictures: Vec<Vec<u8>> = (0..4)
        .map(|_| {
            (0..usize::from(width) * usize::from(height) * 4)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    state.to_le_bytes()[3]
                })
                .collect()
        })
        .collect();
    for picture in pictures.iter().cycle() {
        if stop.is_cancelled() {
            return;
        }
        let published = publisher.publish(wrd_frame::NewFrame {
            width,
            height,
            stride: usize::from(width) * 4,
            format: wrd_frame::PixelFormat::Bgrx,
            data: picture.clone().into(),
            damage: vec![wrd_frame::Rect::new(0, 0, width, height)],
            captured_at: std::time::Instant::now(),
        });
        if published.is_err() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(33)).await;
    }
}

/// A client may suspend frame acknowledgements (MS-RDPEGFX 2.2.2.13): the server then sends
/// frames without waiting for any. If such a client stops reading (a slow link, a stalled
/// machine), what the server has not written yet must not pile up: it holds at most a frame
/// or two back and sends the newest picture when the connection takes data again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_suspends_acknowledgements_and_stops_reading_costs_bounded_memory() {
    const SIZE: (u16, u16) = (960, 540);
    let shutdown = CancellationToken::new();
    let (publisher, bus) = FrameBus::new();
    tokio::spawn(publish_noise(publisher, SIZE, shutdown.clone()));
    let server = start_on(bus, Options::default(), shutdown).await;
    let mut config = h264_config(server.addr);
    (config.desktop_width, config.desktop_height) = SIZE;
    let mut session = wrd_client::connect(config).await.unwrap();
    let deadline = soon(10);
    while session.stats().avc420_frames < 3 {
        assert!(
            Instant::now() < deadline,
            "no H.264 frames: {:?}",
            session.stats()
        );
        let _ = session.next_event(soon(1)).await;
    }

    session.suspend_acknowledgements().await.unwrap();
    let at_suspend = session.stats().avc420_frames;
    drain_until(&mut session, soon(2)).await;
    let suspended_frames = session.stats().avc420_frames - at_suspend;
    // Without acknowledgements the frames keep coming (no window holds them back).
    assert!(
        suspended_frames >= 6,
        "{suspended_frames} frames in 2 s after suspending acknowledgements: {:?}",
        session.stats()
    );

    // The client reads nothing for 6 s; the desktop keeps changing.
    let rss_before = resident_bytes();
    tokio::time::sleep(Duration::from_secs(6)).await;
    let rss_growth = resident_bytes().saturating_sub(rss_before);

    let (frames, bytes) = (session.stats().avc420_frames, session.stats().bytes_received);
    drain_until(&mut session, soon(3)).await;
    let stats = session.stats();
    eprintln!(
        "suspended acknowledgements: {suspended_frames} frames in 2 s; not reading for 6 s: \
         resident memory {rss_growth:+} bytes; then {} frames, {} bytes in 3 s",
        stats.avc420_frames - frames,
        stats.bytes_received - bytes
    );
    assert!(session.is_active(), "{stats:?}");
    assert!(
        stats.avc420_frames > frames,
        "no frame after reading again: {stats:?}"
    );
    assert!(
        rss_growth < 16 << 20,
        "resident memory grew by {rss_growth} bytes while the client read nothing"
    );
    server.stop().await;
}
