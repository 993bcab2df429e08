//! The async driver: publishes the pattern on a frame bus at a fixed rate.

use std::time::{Duration, Instant};

use tokio::time::MissedTickBehavior;
use tokio_util::sync::CancellationToken;
use wrd_frame::{FramePublisher, NewFrame, PixelFormat};

use crate::pattern::TestPattern;

/// Above this rate the interval would be shorter than a millisecond; nothing displays that fast
/// and such a request is a configuration mistake, so it is capped.
const MAX_FPS: u32 = 1000;

/// How often the driver logs a summary.
const SUMMARY_EVERY: Duration = Duration::from_secs(1);

/// Renders and publishes frame `n`. Returns `false` if the bus refused the frame, which for a
/// pattern of a valid size cannot happen; the driver then stops rather than spin.
fn publish(pattern: &mut TestPattern, n: u64, publisher: &mut FramePublisher) -> bool {
    let rendered = pattern.render(n);
    let frame = NewFrame {
        width: pattern.width(),
        height: pattern.height(),
        stride: pattern.stride(),
        format: PixelFormat::Bgrx,
        data: rendered.data,
        damage: rendered.damage,
        captured_at: Instant::now(),
    };
    match publisher.publish(frame) {
        Ok(_) => true,
        Err(error) => {
            tracing::error!(%error, "test pattern frame refused by the frame bus; stopping the pattern");
            false
        }
    }
}

/// Publishes the test pattern on `publisher` until `cancel` fires.
///
/// Frame 0 goes out at once, so a client that connects right away has a picture. Then:
///
/// - `fps == 0`: a static picture. Nothing more is rendered and the task sleeps until cancelled,
///   so an idle server costs no CPU.
/// - otherwise frames 1, 2, … follow at `fps` per second (capped at 1000). The counter shows the
///   index of the frame, which grows by exactly one per published frame. Ticks missed because
///   the runtime was busy are skipped, not bunched up.
///
/// While no client subscribes to the bus (`subscriber_count() == 0`), ticks pass without
/// rendering or publishing; the next published frame simply continues the count.
pub async fn run(
    mut pattern: TestPattern,
    fps: u32,
    mut publisher: FramePublisher,
    cancel: CancellationToken,
) {
    let (width, height) = (pattern.width(), pattern.height());
    tracing::info!(width, height, fps, "test pattern started");
    if !publish(&mut pattern, 0, &mut publisher) {
        return;
    }
    if fps == 0 {
        cancel.cancelled().await;
        tracing::debug!("test pattern stopped");
        return;
    }

    let period = Duration::from_secs(1) / fps.min(MAX_FPS);
    let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Skip);

    let mut n = 0u64;
    let mut summary_at = tokio::time::Instant::now() + SUMMARY_EVERY;
    let (mut published, mut idle, mut render_time) = (0u32, 0u32, Duration::ZERO);
    loop {
        tokio::select! {
            biased;
            () = cancel.cancelled() => break,
            _ = ticks.tick() => {}
        }
        if publisher.subscriber_count() == 0 {
            idle += 1;
        } else {
            n += 1;
            let started = Instant::now();
            if !publish(&mut pattern, n, &mut publisher) {
                return;
            }
            render_time += started.elapsed();
            published += 1;
        }
        let now = tokio::time::Instant::now();
        if now >= summary_at {
            tracing::debug!(
                frame = n,
                published,
                idle_ticks = idle,
                avg_render_us = render_time.checked_div(published).unwrap_or_default().as_micros(),
                "test pattern"
            );
            (published, idle, render_time) = (0, 0, Duration::ZERO);
            summary_at = now + SUMMARY_EVERY;
        }
    }
    tracing::debug!(frame = n, "test pattern stopped");
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use wrd_frame::{Frame, FrameBus};

    use super::*;
    use crate::check::{compare, decode_counter};

    fn counter(frame: &Frame) -> Option<u64> {
        decode_counter(&frame.data, frame.stride, frame.width, frame.height)
    }

    fn latest(bus: &FrameBus) -> Arc<Frame> {
        bus.latest().expect("a frame was published")
    }

    #[tokio::test(start_paused = true)]
    async fn publishes_at_the_requested_rate() {
        let (publisher, bus) = FrameBus::new();
        let cancel = CancellationToken::new();
        let task = tokio::spawn(run(
            TestPattern::new(160, 96).unwrap(),
            30,
            publisher,
            cancel.clone(),
        ));

        let first = bus.first_frame().await.unwrap();
        assert_eq!(first.seq, 1);
        assert_eq!(counter(&first), Some(0));
        assert!(first.damage.is_empty(), "the first frame is a full one");

        let mut sub = bus.subscribe();
        tokio::time::sleep(Duration::from_millis(1010)).await;
        let frame = latest(&bus);
        assert!(
            (30..=32).contains(&frame.seq),
            "published {} frames in one virtual second",
            frame.seq
        );
        assert_eq!(
            counter(&frame),
            Some(frame.seq - 1),
            "the counter shows the published index"
        );
        assert!(!frame.damage.is_empty(), "later frames carry damage");
        let check = compare(&frame.data, frame.stride, frame.width, frame.height, 0);
        assert_eq!(check.mismatched_pixels, 0, "{check}");

        // A subscriber that fell behind still gets the newest frame.
        let update = sub.next().await.unwrap();
        assert_eq!(update.frame.seq, frame.seq);

        tokio::time::sleep(Duration::from_secs(1)).await;
        let frame = latest(&bus);
        assert!(
            (60..=63).contains(&frame.seq),
            "published {} frames in two virtual seconds",
            frame.seq
        );

        cancel.cancel();
        task.await.unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn zero_fps_publishes_one_frame_and_waits() {
        let (publisher, bus) = FrameBus::new();
        let cancel = CancellationToken::new();
        let task = tokio::spawn(run(
            TestPattern::new(128, 64).unwrap(),
            0,
            publisher,
            cancel.clone(),
        ));
        bus.first_frame().await.unwrap();
        tokio::time::sleep(Duration::from_secs(60)).await;
        let frame = latest(&bus);
        assert_eq!(frame.seq, 1);
        assert_eq!(counter(&frame), Some(0));
        assert!(!task.is_finished());
        cancel.cancel();
        task.await.unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn no_subscribers_means_no_rendering() {
        let (publisher, bus) = FrameBus::new();
        let cancel = CancellationToken::new();
        let task = tokio::spawn(run(
            TestPattern::new(128, 64).unwrap(),
            60,
            publisher,
            cancel.clone(),
        ));
        let first = bus.first_frame().await.unwrap();
        assert_eq!(first.seq, 1);
        // With the only receiver gone, the driver keeps its clock but publishes nothing.
        drop(bus);
        tokio::time::sleep(Duration::from_secs(2)).await;
        assert!(!task.is_finished());
        cancel.cancel();
        task.await.unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn cancel_stops_promptly() {
        let (publisher, _bus) = FrameBus::new();
        let cancel = CancellationToken::new();
        cancel.cancel();
        // Already cancelled: frame 0 goes out, then the loop ends at once.
        tokio::time::timeout(
            Duration::from_millis(1),
            run(TestPattern::new(64, 64).unwrap(), 30, publisher, cancel),
        )
        .await
        .unwrap();
        // A huge rate is capped rather than turned into a zero-length interval.
        let (publisher, bus) = FrameBus::new();
        let cancel = CancellationToken::new();
        let task = tokio::spawn(run(
            TestPattern::new(64, 64).unwrap(),
            u32::MAX,
            publisher,
            cancel.clone(),
        ));
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(latest(&bus).seq <= 102);
        cancel.cancel();
        task.await.unwrap();
    }
}
