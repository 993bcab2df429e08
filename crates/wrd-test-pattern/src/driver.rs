//! The async driver: publishes the pattern on a frame bus at a fixed rate.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use tokio::time::MissedTickBehavior;
use tokio_util::sync::CancellationToken;
use wrd_frame::{FramePublisher, NewFrame, PixelFormat};

use crate::pattern::TestPattern;

/// Above this rate the interval would be shorter than a millisecond; nothing displays that fast
/// and such a request is a configuration mistake, so it is capped.
const MAX_FPS: u32 = 1000;

/// How often the driver logs a summary.
const SUMMARY_EVERY: Duration = Duration::from_secs(1);

/// Input the pattern answers: each message is one key or button press at a client, answered by
/// recolouring the echo box `delay` after it arrived.
///
/// The delay is a known latency added on purpose: a latency measurement against the pattern
/// must find it (plus the few milliseconds of the path itself).
#[derive(Debug)]
pub struct InputEcho {
    pub presses: mpsc::UnboundedReceiver<()>,
    pub delay: Duration,
}

/// Publishes a rendered frame. Returns `false` if the bus refused it.
fn publish_rendered(
    pattern: &TestPattern,
    rendered: crate::pattern::Rendered,
    publisher: &mut FramePublisher,
) -> bool {
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

/// Renders and publishes frame `n`. Returns `false` if the bus refused the frame, which for a
/// pattern of a valid size cannot happen; the driver then stops rather than spin.
fn publish(pattern: &mut TestPattern, n: u64, publisher: &mut FramePublisher) -> bool {
    let rendered = pattern.render(n);
    publish_rendered(pattern, rendered, publisher)
}

/// Presses waiting for their answer, each with the time it is due. Arrivals are in order and
/// the delay is fixed, so the queue is sorted by due time.
#[derive(Debug, Default)]
struct EchoQueue {
    due: VecDeque<tokio::time::Instant>,
    /// The sender side is gone: no more presses will come.
    closed: bool,
}

impl EchoQueue {
    /// Waits for the next press to arrive (pushing its due time) or to fall due (returning
    /// `true`). Pending forever without an echo.
    async fn next(&mut self, echo: Option<&mut InputEcho>) -> bool {
        let Some(echo) = echo else {
            return std::future::pending().await;
        };
        let first_due = self.due.front().copied();
        tokio::select! {
            biased;
            () = async {
                match first_due {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => std::future::pending().await,
                }
            } => {
                self.due.pop_front();
                true
            }
            press = echo.presses.recv(), if !self.closed => {
                match press {
                    Some(()) => self.due.push_back(tokio::time::Instant::now() + echo.delay),
                    None => self.closed = true,
                }
                false
            }
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
///
/// With `echo`, every press is answered (its delay after it arrived) by a frame of its own in
/// which only the echo box changed, whatever the frame rate (also at `fps == 0`).
pub async fn run(
    mut pattern: TestPattern,
    fps: u32,
    mut echo: Option<InputEcho>,
    mut publisher: FramePublisher,
    cancel: CancellationToken,
) {
    let (width, height) = (pattern.width(), pattern.height());
    tracing::info!(
        width,
        height,
        fps,
        echo_delay_ms = echo.as_ref().map(|e| e.delay.as_millis()),
        "test pattern started"
    );
    if !publish(&mut pattern, 0, &mut publisher) {
        return;
    }
    let mut queue = EchoQueue::default();
    if fps == 0 {
        loop {
            tokio::select! {
                biased;
                () = cancel.cancelled() => break,
                due = queue.next(echo.as_mut()) => {
                    if due {
                        let rendered = pattern.press();
                        if !publish_rendered(&pattern, rendered, &mut publisher) {
                            return;
                        }
                    }
                }
            }
        }
        tracing::debug!(presses = pattern.presses(), "test pattern stopped");
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
            due = queue.next(echo.as_mut()) => {
                if due {
                    let rendered = pattern.press();
                    if !publish_rendered(&pattern, rendered, &mut publisher) {
                        return;
                    }
                }
                continue;
            }
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
    tracing::debug!(frame = n, presses = pattern.presses(), "test pattern stopped");
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
            None,
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
            None,
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
            None,
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
            run(TestPattern::new(64, 64).unwrap(), 30, None, publisher, cancel),
        )
        .await
        .unwrap();
        // A huge rate is capped rather than turned into a zero-length interval.
        let (publisher, bus) = FrameBus::new();
        let cancel = CancellationToken::new();
        let task = tokio::spawn(run(
            TestPattern::new(64, 64).unwrap(),
            u32::MAX,
            None,
            publisher,
            cancel.clone(),
        ));
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(latest(&bus).seq <= 102);
        cancel.cancel();
        task.await.unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn a_press_recolours_only_the_echo_box_after_the_delay() {
        let (publisher, bus) = FrameBus::new();
        let cancel = CancellationToken::new();
        let (presses, rx) = mpsc::unbounded_channel();
        let echo = InputEcho {
            presses: rx,
            delay: Duration::from_millis(40),
        };
        let task = tokio::spawn(run(
            TestPattern::new(320, 240).unwrap(),
            0,
            Some(echo),
            publisher,
            cancel.clone(),
        ));
        let first = bus.first_frame().await.unwrap();
        let echo_box = TestPattern::new(320, 240).unwrap().echo_box();

        presses.send(()).unwrap();
        tokio::time::sleep(Duration::from_millis(39)).await;
        assert_eq!(latest(&bus).seq, first.seq, "answered before the delay");
        tokio::time::sleep(Duration::from_millis(2)).await;
        let answered = latest(&bus);
        assert_eq!(answered.seq, first.seq + 1, "not answered after the delay");
        assert_eq!(answered.damage, vec![echo_box]);
        // Only the echo box changed, and the comparison leaves it out.
        let check = compare(&answered.data, answered.stride, 320, 240, 0);
        assert_eq!(check.mismatched_pixels, 0, "{check}");
        let changed: Vec<usize> = first
            .data
            .chunks_exact(4)
            .zip(answered.data.chunks_exact(4))
            .enumerate()
            .filter(|(_, (a, b))| a != b)
            .map(|(i, _)| i)
            .collect();
        assert_eq!(changed.len() as u64, echo_box.area(), "{echo_box:?}");

        // Two quick presses: two answers, in order, each its delay after its press.
        presses.send(()).unwrap();
        tokio::time::sleep(Duration::from_millis(10)).await;
        presses.send(()).unwrap();
        tokio::time::sleep(Duration::from_millis(35)).await;
        assert_eq!(latest(&bus).seq, first.seq + 2);
        tokio::time::sleep(Duration::from_millis(10)).await;
        assert_eq!(latest(&bus).seq, first.seq + 3);

        cancel.cancel();
        task.await.unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn presses_are_answered_between_ticks_and_the_count_goes_on() {
        let (publisher, bus) = FrameBus::new();
        let cancel = CancellationToken::new();
        let (presses, rx) = mpsc::unbounded_channel();
        let echo = InputEcho {
            presses: rx,
            delay: Duration::ZERO,
        };
        let _sub = bus.subscribe();
        let task = tokio::spawn(run(
            TestPattern::new(320, 240).unwrap(),
            10,
            Some(echo),
            publisher,
            cancel.clone(),
        ));
        bus.first_frame().await.unwrap();
        tokio::time::sleep(Duration::from_millis(150)).await;
        let before = latest(&bus);
        presses.send(()).unwrap();
        tokio::time::sleep(Duration::from_millis(1)).await;
        let answered = latest(&bus);
        assert_eq!(
            answered.seq,
            before.seq + 1,
            "a press is answered at once, not on the next tick"
        );
        assert_eq!(
            counter(&answered),
            counter(&before),
            "the counter does not move for a press"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
        let next = latest(&bus);
        assert_eq!(counter(&next), counter(&before).map(|c| c + 1));
        let check = compare(&next.data, next.stride, 320, 240, 0);
        assert_eq!(check.mismatched_pixels, 0, "{check}");
        // the echo box keeps its colour in later frames
        let g = TestPattern::new(320, 240).unwrap().echo_box();
        let at = (usize::from(g.y) * 320 + usize::from(g.x)) * 4;
        assert_eq!(next.data[at..at + 4], answered.data[at..at + 4]);
        assert_ne!(next.data[at..at + 4], before.data[at..at + 4]);

        cancel.cancel();
        task.await.unwrap();
    }
}
