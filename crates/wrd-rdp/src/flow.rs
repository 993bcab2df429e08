//! Flow control of the graphics pipeline, sans-I/O: how many H.264 frames one client may have
//! unacknowledged, from the round trip its acknowledgements measure and the frame rate.
//!
//! A frame is in flight from the moment it is handed to the writer until the client's
//! FrameAcknowledge for it arrives. The window is the bandwidth-delay product in frames,
//! `ceil(RTT × frames per second) + 1` (the frames sent during one round trip, plus the one
//! being decoded), at least [`MIN_WINDOW`] and at most [`MAX_WINDOW`]. RTT is smoothed like TCP's
//! (an exponentially weighted moving average, gain 1/8); the frame rate is the source's, the
//! frames it offered in the last second, not the frames sent (the window limits those, so they
//! would shrink it further).
//!
//! A client that stops acknowledging keeps its window full and gets nothing more. When it has
//! been stuck longer than [`FlowControl::stall_threshold`] and acknowledges again (or suspends
//! acknowledgements), the next send is a [`Verdict::Resync`]: the frames encoded while it was
//! stuck are stale, the caller drops them and starts again from an IDR of the current picture.
//!
//! Independently of acknowledgements, at most [`MAX_UNWRITTEN`] frames may be handed to the
//! writer and not yet written to the socket. Acknowledgements bound nothing for a client that
//! suspended them, and on a link slower than the encoder the writer's queue (IronRDP's, in
//! memory) would otherwise grow for as long as the session lasts; this way frames wait in the
//! encoder, which keeps only the newest picture.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// Fewest frames in flight: one being decoded and one on the way keeps a LAN client busy.
pub(crate) const MIN_WINDOW: u32 = 2;

/// Most frames in flight. At 60 fps this covers a 150 ms round trip; on a longer one the rate
/// drops to `MAX_WINDOW / RTT` instead of queueing more (every frame in flight is latency the
/// user sees, and a saturated link inflates the measured RTT itself).
pub(crate) const MAX_WINDOW: u32 = 10;

/// `queueDepth` of a FrameAcknowledge that suspends acknowledgements (MS-RDPEGFX 2.2.2.13):
/// the client will not acknowledge frames until it sends another value.
pub(crate) const SUSPEND_FRAME_ACKNOWLEDGEMENT: u32 = 0xFFFF_FFFF;

/// The shortest time without progress that counts as a stall (see
/// [`FlowControl::stall_threshold`]).
const MIN_STALL: Duration = Duration::from_secs(1);

/// A stall is also at least this many smoothed round trips (a slow link is not a stuck client).
const STALL_RTTS: u32 = 4;

/// The source's frame rate is counted over this span.
const RATE_SPAN: Duration = Duration::from_secs(1);

/// Source frames remembered for the rate (a bound should the caller report more than it
/// sends: above any real capture rate).
const MAX_RATE_SAMPLES: usize = 480;

/// Frames remembered in flight; the window keeps far fewer, this only bounds memory should a
/// caller send regardless of it.
const MAX_TRACKED: usize = 64;

/// Most frames handed to the writer and not yet written to the socket: one being written and
/// one queued behind it keep the connection busy.
pub(crate) const MAX_UNWRITTEN: u32 = 2;

/// What the caller may do with an encoded frame now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Send it.
    Send,
    /// The window is full, or the writer has [`MAX_UNWRITTEN`] frames: keep it and wait for
    /// an acknowledgement or a write.
    Wait,
    /// The client was stuck and moves again: drop what was encoded meanwhile and send an IDR.
    Resync,
}

/// One client's frames in flight, round trip and source frame rate.
#[derive(Debug, Default)]
pub(crate) struct FlowControl {
    /// Frames sent and not acknowledged, oldest first: (frame id, when sent).
    in_flight: VecDeque<(u32, Instant)>,
    /// Smoothed round trip, from the first acknowledgement on.
    srtt: Option<Duration>,
    /// When the source offered its recent frames, oldest first.
    source_frames: VecDeque<Instant>,
    /// The client suspended acknowledgements: frames go without a window.
    suspended: bool,
    /// Since when a frame has been waiting for the window to open.
    blocked_since: Option<Instant>,
    /// Frames handed to the writer and not yet written to the socket.
    unwritten: u32,
}

impl FlowControl {
    /// The source offered a frame (whether or not it is sent).
    pub(crate) fn source_frame(&mut self, now: Instant) {
        self.source_frames.push_back(now);
        while self.source_frames.len() > MAX_RATE_SAMPLES
            || self
                .source_frames
                .front()
                .is_some_and(|t| now.saturating_duration_since(*t) >= RATE_SPAN)
        {
            self.source_frames.pop_front();
        }
    }

    /// Frame `frame_id` was handed to the writer (see [`Self::written`]).
    pub(crate) fn sent(&mut self, frame_id: u32, now: Instant) {
        self.unwritten = self.unwritten.saturating_add(1);
        if self.suspended {
            // No acknowledgement will come for it.
            return;
        }
        if self.in_flight.len() >= MAX_TRACKED {
            self.in_flight.pop_front();
        }
        self.in_flight.push_back((frame_id, now));
    }

    /// The writer wrote the oldest frame handed to it (writes complete in order).
    pub(crate) fn written(&mut self) {
        self.unwritten = self.unwritten.saturating_sub(1);
    }

    /// Frames handed to the writer and not yet written.
    pub(crate) fn unwritten(&self) -> u32 {
        self.unwritten
    }

    /// The client's FrameAcknowledge for `frame_id` with its `queue_depth`.
    pub(crate) fn acknowledged(&mut self, frame_id: u32, queue_depth: u32, now: Instant) {
        if queue_depth == SUSPEND_FRAME_ACKNOWLEDGEMENT {
            // Nothing in flight will be acknowledged any more.
            self.suspended = true;
            self.in_flight.clear();
            return;
        }
        self.suspended = false;
        let Some(index) = self.in_flight.iter().position(|(id, _)| *id == frame_id) else {
            // Sent while acknowledgements were suspended, or not ours: no round trip to learn.
            return;
        };
        let Some((_, sent_at)) = self.in_flight.remove(index) else {
            return;
        };
        // Frames before it that the client skipped are no longer in flight either (clients
        // acknowledge in order; a lost acknowledgement must not hold a slot for ever).
        self.in_flight.drain(..index);
        if self.is_stalled(now) {
            // How long the client was stuck, not how far away it is.
            return;
        }
        let sample = now.saturating_duration_since(sent_at);
        self.srtt = Some(match self.srtt {
            None => sample,
            Some(srtt) => (srtt * 7 + sample) / 8,
        });
    }

    /// Smoothed round trip, once an acknowledgement measured one.
    pub(crate) fn rtt(&self) -> Option<Duration> {
        self.srtt
    }

    /// Frames the source offered in the last second.
    pub(crate) fn source_rate(&self, now: Instant) -> u32 {
        let recent = self
            .source_frames
            .iter()
            .filter(|t| now.saturating_duration_since(**t) < RATE_SPAN)
            .count();
        u32::try_from(recent).unwrap_or(u32::MAX)
    }

    /// Frames allowed in flight now.
    pub(crate) fn window(&self, now: Instant) -> u32 {
        let rtt = self.srtt.unwrap_or_default();
        // In whole nanoseconds: a float product such as 0.1 s × 30 would round up to 4.
        let frames_per_rtt =
            (rtt.as_nanos() * u128::from(self.source_rate(now))).div_ceil(Duration::from_secs(1).as_nanos());
        let frames_per_rtt = u32::try_from(frames_per_rtt).unwrap_or(u32::MAX);
        frames_per_rtt.saturating_add(1).clamp(MIN_WINDOW, MAX_WINDOW)
    }

    pub(crate) fn in_flight(&self) -> u32 {
        u32::try_from(self.in_flight.len()).unwrap_or(u32::MAX)
    }

    pub(crate) fn is_suspended(&self) -> bool {
        self.suspended
    }

    /// How long a frame may wait for the window before the client counts as stuck.
    pub(crate) fn stall_threshold(&self) -> Duration {
        self.srtt
            .map_or(MIN_STALL, |rtt| (rtt * STALL_RTTS).max(MIN_STALL))
    }

    fn is_stalled(&self, now: Instant) -> bool {
        self.blocked_since
            .is_some_and(|since| now.saturating_duration_since(since) >= self.stall_threshold())
    }

    /// Whether a frame could go once `events` more frames are acknowledged and as many more
    /// written (0: now, what [`Self::try_send`] would answer, without its effects).
    pub(crate) fn has_room_after(&self, events: u32, now: Instant) -> bool {
        let window_open = self.suspended || self.in_flight() < self.window(now).saturating_add(events);
        window_open && self.unwritten < MAX_UNWRITTEN.saturating_add(events)
    }

    /// Whether a frame may go now. A `Wait` for the window starts the stall clock (one for the
    /// writer does not: a slow link is not a stuck client); the first `Send` after a stall is
    /// a `Resync`.
    pub(crate) fn try_send(&mut self, now: Instant) -> Verdict {
        if !self.suspended && self.in_flight() >= self.window(now) {
            self.blocked_since.get_or_insert(now);
            return Verdict::Wait;
        }
        if self.unwritten >= MAX_UNWRITTEN {
            return Verdict::Wait;
        }
        let stalled = self.is_stalled(now);
        self.blocked_since = None;
        if stalled { Verdict::Resync } else { Verdict::Send }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    /// A source at `fps` for one second before `now`.
    fn source_at(flow: &mut FlowControl, start: Instant, fps: u32) -> Instant {
        let step = Duration::from_secs(1) / fps;
        let mut t = start;
        for _ in 0..fps {
            t += step;
            flow.source_frame(t);
        }
        t
    }

    /// Sends and acknowledges `n` frames, each acknowledged `rtt` after it was sent.
    fn round_trips(
        flow: &mut FlowControl,
        mut now: Instant,
        first_id: u32,
        n: u32,
        rtt: Duration,
    ) -> Instant {
        for id in first_id..first_id + n {
            assert_eq!(flow.try_send(now), Verdict::Send);
            flow.sent(id, now);
            flow.written();
            now += rtt;
            flow.acknowledged(id, 1, now);
        }
        now
    }

    #[test]
    fn room_now_is_what_a_send_would_find_and_room_after_acknowledgements_counts_them() {
        let mut flow = FlowControl::default();
        let now = source_at(&mut flow, Instant::now(), 60);
        for id in 0..MIN_WINDOW {
            assert!(flow.has_room_after(0, now));
            assert_eq!(flow.try_send(now), Verdict::Send);
            flow.sent(id, now);
            flow.written();
        }
        assert!(!flow.has_room_after(0, now));
        assert!(flow.has_room_after(1, now));
        assert_eq!(flow.try_send(now), Verdict::Wait);
        flow.sent(MIN_WINDOW, now);
        flow.written();
        assert!(!flow.has_room_after(1, now));
        flow.acknowledged(0, 1, now + ms(5));
        assert!(flow.has_room_after(1, now + ms(5)));
        flow.acknowledged(1, SUSPEND_FRAME_ACKNOWLEDGEMENT, now + ms(6));
        for id in 3..20 {
            flow.sent(id, now + ms(7));
            flow.written();
        }
        assert!(
            flow.has_room_after(0, now + ms(7)),
            "suspended acknowledgements: no window"
        );
    }

    #[test]
    fn the_window_is_at_least_two_before_any_measurement() {
        let mut flow = FlowControl::default();
        let now = source_at(&mut flow, Instant::now(), 60);
        assert_eq!(flow.rtt(), None);
        assert_eq!(flow.window(now), MIN_WINDOW);
        assert_eq!(flow.try_send(now), Verdict::Send);
        flow.sent(0, now);
        assert_eq!(flow.try_send(now), Verdict::Send);
        flow.sent(1, now);
        assert_eq!(flow.try_send(now), Verdict::Wait);
    }

    #[test]
    fn the_window_is_rtt_times_frame_rate_plus_one() {
        let mut flow = FlowControl::default();
        let start = Instant::now();
        // 100 ms round trips at 30 fps: 3 frames per round trip, + 1.
        let now = round_trips(&mut flow, start, 0, 30, ms(100));
        let now = source_at(&mut flow, now, 30);
        assert_eq!(flow.rtt(), Some(ms(100)));
        assert_eq!(flow.source_rate(now), 30);
        assert_eq!(flow.window(now), 4);
        // 50 ms at 30 fps: 1.5 → 2, + 1 (the average has converged after 200 round trips).
        let now = round_trips(&mut flow, now, 100, 200, ms(50));
        let now = source_at(&mut flow, now, 30);
        assert_eq!(flow.rtt(), Some(ms(50)));
        assert_eq!(flow.window(now), 3);
        // The same round trip at 60 fps: 3 + 1 (a second later: the 30 fps second is over).
        let now = source_at(&mut flow, now + Duration::from_secs(1), 60);
        assert_eq!(flow.source_rate(now), 60);
        assert_eq!(flow.window(now), 4);
    }

    #[test]
    fn the_window_has_bounds() {
        let mut flow = FlowControl::default();
        // 1 ms on a LAN at 60 fps: 0.06 → 1, + 1 = 2.
        let now = round_trips(&mut flow, Instant::now(), 0, 20, ms(1));
        let now = source_at(&mut flow, now, 60);
        assert_eq!(flow.window(now), MIN_WINDOW);
        // 600 ms at 60 fps would be 37: capped.
        let now = round_trips(&mut flow, now, 100, 80, ms(600));
        let now = source_at(&mut flow, now, 60);
        assert_eq!(flow.window(now), MAX_WINDOW);
        // A still desktop: no frames in the last second, the least window.
        assert_eq!(flow.window(now + Duration::from_secs(2)), MIN_WINDOW);
    }

    #[test]
    fn one_slow_acknowledgement_moves_the_average_by_an_eighth() {
        let mut flow = FlowControl::default();
        let now = round_trips(&mut flow, Instant::now(), 0, 10, ms(40));
        round_trips(&mut flow, now, 10, 1, ms(120));
        assert_eq!(flow.rtt(), Some(ms(50)));
    }

    #[test]
    fn a_client_that_stops_acknowledging_gets_nothing_more_then_resyncs() {
        let mut flow = FlowControl::default();
        let start = Instant::now();
        let mut now = round_trips(&mut flow, start, 0, 10, ms(10));
        // Two frames go out, no acknowledgement comes back.
        for id in 10..12 {
            assert_eq!(flow.try_send(now), Verdict::Send);
            flow.sent(id, now);
            flow.written();
            now += ms(33);
        }
        // Ten seconds of frames waiting: never allowed.
        for _ in 0..300 {
            flow.source_frame(now);
            assert_eq!(flow.try_send(now), Verdict::Wait);
            now += ms(33);
        }
        assert_eq!(flow.in_flight(), 2);
        // It acknowledges again: the next frame resyncs, and the stall did not count as RTT.
        flow.acknowledged(10, 1, now);
        flow.acknowledged(11, 0, now);
        assert_eq!(flow.rtt(), Some(ms(10)));
        assert_eq!(flow.try_send(now), Verdict::Resync);
        flow.sent(12, now);
        flow.written();
        assert_eq!(flow.try_send(now), Verdict::Send);
    }

    #[test]
    fn a_short_wait_for_the_window_is_no_stall() {
        let mut flow = FlowControl::default();
        let mut now = Instant::now();
        for id in 0..2 {
            flow.sent(id, now);
            flow.written();
        }
        assert_eq!(flow.try_send(now), Verdict::Wait);
        now += ms(200);
        flow.acknowledged(0, 1, now);
        assert_eq!(flow.try_send(now), Verdict::Send);
        assert_eq!(flow.rtt(), Some(ms(200)));
    }

    /// A client that suspended acknowledgements on a link slower than the encoder: frames
    /// wait for the writer, not in its queue, and that wait is no stall.
    #[test]
    fn frames_wait_for_the_writer_whatever_the_acknowledgements() {
        let mut flow = FlowControl::default();
        let mut now = Instant::now();
        flow.acknowledged(0, SUSPEND_FRAME_ACKNOWLEDGEMENT, now);
        for id in 0..MAX_UNWRITTEN {
            assert!(flow.has_room_after(0, now));
            assert_eq!(flow.try_send(now), Verdict::Send);
            flow.sent(id, now);
        }
        assert_eq!(flow.unwritten(), MAX_UNWRITTEN);
        assert!(!flow.has_room_after(0, now));
        assert!(flow.has_room_after(1, now), "room once the next write completes");
        // Ten seconds on a link that takes nothing.
        for _ in 0..300 {
            now += ms(33);
            assert_eq!(flow.try_send(now), Verdict::Wait);
        }
        flow.written();
        assert_eq!(
            flow.try_send(now),
            Verdict::Send,
            "a slow writer is not a stuck client"
        );
        flow.sent(MAX_UNWRITTEN, now);
        assert_eq!(flow.try_send(now), Verdict::Wait);
    }

    #[test]
    fn the_stall_threshold_grows_with_a_long_round_trip() {
        let mut flow = FlowControl::default();
        assert_eq!(flow.stall_threshold(), MIN_STALL);
        round_trips(&mut flow, Instant::now(), 0, 1, ms(500));
        assert_eq!(flow.stall_threshold(), ms(2_000));
    }

    #[test]
    fn suspended_acknowledgements_open_the_window_and_stop_tracking() {
        let mut flow = FlowControl::default();
        let mut now = Instant::now();
        flow.sent(0, now);
        flow.written();
        flow.sent(1, now);
        flow.written();
        assert_eq!(flow.try_send(now), Verdict::Wait);
        now += ms(1_500);
        flow.acknowledged(0, SUSPEND_FRAME_ACKNOWLEDGEMENT, now);
        assert!(flow.is_suspended());
        assert_eq!(flow.in_flight(), 0);
        // The stuck client suspended: resync once, then frames go without a window.
        assert_eq!(flow.try_send(now), Verdict::Resync);
        for id in 2..100 {
            flow.sent(id, now);
            flow.written();
            assert_eq!(flow.try_send(now), Verdict::Send);
        }
        assert_eq!(flow.in_flight(), 0);
        // Acknowledging again brings the window back.
        flow.acknowledged(50, 3, now);
        assert!(!flow.is_suspended());
        flow.sent(100, now);
        flow.written();
        flow.sent(101, now);
        flow.written();
        assert_eq!(flow.try_send(now), Verdict::Wait);
    }

    #[test]
    fn an_acknowledgement_frees_the_frames_before_it() {
        let mut flow = FlowControl::default();
        let now = Instant::now();
        for id in 0..2 {
            flow.sent(id, now);
        }
        // The acknowledgement of frame 0 was lost; frame 1's arrives.
        flow.acknowledged(1, 0, now + ms(20));
        assert_eq!(flow.in_flight(), 0);
        // Unknown ids change nothing.
        flow.sent(2, now);
        flow.acknowledged(77, 0, now + ms(30));
        assert_eq!(flow.in_flight(), 1);
    }

    #[test]
    fn memory_is_bounded_whatever_the_caller_does() {
        let mut flow = FlowControl::default();
        let mut now = Instant::now();
        for id in 0..10_000 {
            flow.sent(id, now);
            flow.source_frame(now);
            now += Duration::from_micros(100);
        }
        assert!(flow.in_flight.len() <= MAX_TRACKED);
        assert!(flow.source_frames.len() <= MAX_RATE_SAMPLES);
    }
}
