//! Frame pacing: at most `max_fps` frames per second to a client, without holding back a source
//! that is no faster than that.
//!
//! A plain minimum interval after each frame taken ("not before the last one + 1/max_fps")
//! does not do this when the source runs at `max_fps` itself: every frame is taken a little
//! after it arrives (the task's wake-up, the timer's millisecond ticks), so the next allowed
//! time slips a little further behind the source with each frame, until a frame waits a whole
//! period and the next one replaces it. At 60 fps from a 60 fps source that costs one frame
//! in about sixteen and holds every frame half a period on average (measured: 55 of 60 fps
//! delivered, 8-9 ms from capture to the encoder's start, BENCHMARKS.md).
//!
//! So the pacer keeps a schedule instead (the generic cell rate algorithm of ATM traffic
//! shaping): each frame taken moves a theoretical time one interval on from where the
//! schedule, not the frame, was; a frame may go up to half an interval before that time. A
//! source at `max_fps` whose frames arrive up to half an interval early or late is never held,
//! and over any span no more than one frame beyond `max_fps` goes out.

use std::time::Duration;

use tokio::time::Instant;

/// Paces one client's frames. Sans I/O: the caller says when it took a frame and asks when the
/// next one may be taken.
#[derive(Debug, Clone)]
pub(crate) struct FramePacer {
    interval: Duration,
    /// How far ahead of the schedule a frame may go: half an interval.
    tolerance: Duration,
    /// When the next frame is due on the schedule; `None` before the first frame (or after a
    /// reset): the next frame goes at once.
    due: Option<Instant>,
}

impl FramePacer {
    /// At most `max_fps` frames per second (at least 1).
    pub(crate) fn new(max_fps: u32) -> Self {
        let interval = Duration::from_secs(1) / max_fps.max(1);
        Self {
            interval,
            tolerance: interval / 2,
            due: None,
        }
    }

    /// The earliest time the next frame may be taken; `None`: now.
    pub(crate) fn next_allowed(&self) -> Option<Instant> {
        self.due.map(|due| due.checked_sub(self.tolerance).unwrap_or(due))
    }

    /// A frame was taken at `now`.
    pub(crate) fn frame_taken(&mut self, now: Instant) {
        // A frame later than its time (a slower source) restarts the schedule from itself;
        // an early one (within the tolerance) keeps it, so the schedule never drifts.
        let from = self.due.map_or(now, |due| due.max(now));
        self.due = Some(from + self.interval);
    }

    /// Forgets the schedule: the next frame goes at once (a new stream starts from a full
    /// picture, which should not wait).
    pub(crate) fn reset(&mut self) {
        self.due = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds the pacer frames arriving at `arrivals` (offsets from a start), each taken when
    /// it has arrived and the pacer allows, plus `wake_delay` (a task's wake-up). A frame that
    /// another arrival overtakes while it waits is replaced, as the frame bus does. Returns
    /// when each frame was taken (offsets from the start) and how long it waited.
    fn run(max_fps: u32, arrivals: &[Duration], wake_delay: Duration) -> (Vec<Duration>, Vec<Duration>) {
        let start = Instant::now();
        let mut pacer = FramePacer::new(max_fps);
        let mut taken_at = Vec::new();
        let mut waits = Vec::new();
        let mut i = 0;
        while i < arrivals.len() {
            let arrived = start + arrivals[i];
            let mut taken = pacer.next_allowed().map_or(arrived, |at| at.max(arrived)) + wake_delay;
            // Frames that arrived while this one waited replace it.
            while i + 1 < arrivals.len() && start + arrivals[i + 1] <= taken {
                i += 1;
                let arrived = start + arrivals[i];
                taken = taken.max(arrived + wake_delay);
            }
            waits.push(taken - (start + arrivals[i]));
            taken_at.push(taken - start);
            pacer.frame_taken(taken);
            i += 1;
        }
        (taken_at, waits)
    }

    fn periodic(fps: u32, seconds: u32, jitter: impl Fn(u32) -> i64) -> Vec<Duration> {
        let period_us = 1_000_000 / i64::from(fps);
        (0..fps * seconds)
            .map(|n| {
                let at = i64::from(n) * period_us + 50_000 + jitter(n);
                Duration::from_micros(u64::try_from(at).unwrap_or(0))
            })
            .collect()
    }

    #[test]
    fn a_source_at_max_fps_is_never_held_back_even_with_jitter_and_late_wakeups() {
        // 60 fps for 10 s, each frame up to ±3 ms off its time, each take 1 ms late (tokio's
        // timer ticks): the old "interval after the last take" lost one frame in about 16.
        let jitter = |n: u32| i64::from(n.wrapping_mul(7_919) % 6_001) - 3_000;
        let arrivals = periodic(60, 10, jitter);
        let (taken, waits) = run(60, &arrivals, Duration::from_millis(1));
        assert_eq!(taken.len(), arrivals.len(), "every frame goes out");
        let longest = waits.iter().max().copied().unwrap_or_default();
        assert!(
            longest <= Duration::from_millis(1),
            "no frame waits beyond the wake-up: {longest:?}"
        );
    }

    #[test]
    fn a_faster_source_is_capped_at_max_fps() {
        for (source_fps, max_fps) in [(240, 30), (144, 60), (61, 60), (120, 60)] {
            let arrivals = periodic(source_fps, 10, |_| 0);
            let (taken, _) = run(max_fps, &arrivals, Duration::ZERO);
            // The n-th frame after the first goes no sooner than n intervals less half of
            // one: never more than max_fps, one frame of slack.
            let interval = Duration::from_secs(1) / max_fps;
            for (n, at) in (0u32..).zip(&taken) {
                assert!(
                    *at + interval / 2 >= taken[0] + interval * n,
                    "{source_fps} fps source at max_fps {max_fps}: frame {n} at {at:?}"
                );
            }
            // And the cap is reached: a 10 s source gives about 10 s of frames at max_fps.
            let expected = usize::try_from(max_fps * 10).unwrap_or(usize::MAX);
            assert!(
                taken.len() + 2 >= expected,
                "{source_fps} fps source at max_fps {max_fps}: {} frames in 10 s",
                taken.len()
            );
        }
    }

    #[test]
    fn a_burst_after_a_pause_does_not_exceed_the_cap() {
        // 100 frames 1 ms apart after a second of silence: the schedule restarts at the first
        // and lets at most one more go ahead of it.
        let arrivals: Vec<Duration> = (0..100).map(|n| Duration::from_millis(1_000 + n)).collect();
        let start = Instant::now();
        let mut pacer = FramePacer::new(60);
        pacer.frame_taken(start);
        let mut taken_at = Vec::new();
        for arrival in arrivals {
            let arrived = start + arrival;
            if pacer.next_allowed().is_none_or(|at| at <= arrived) {
                pacer.frame_taken(arrived);
                taken_at.push(arrival);
            }
        }
        assert_eq!(taken_at.len(), 7, "{taken_at:?}");
        let pairs = taken_at.windows(2);
        // After the first two (the one frame of slack), an interval apart (arrivals are whole
        // milliseconds, so a gap may be a fraction of one short).
        assert!(
            pairs
                .skip(1)
                .all(|w| w[1] - w[0] >= Duration::from_micros(15_600)),
            "{taken_at:?}"
        );
    }

    #[test]
    fn a_slower_source_is_followed_as_it_is() {
        let arrivals = periodic(45, 10, |n| i64::from(n % 5) * 1_000);
        let (taken, waits) = run(60, &arrivals, Duration::ZERO);
        assert_eq!(taken.len(), arrivals.len());
        assert!(waits.iter().all(Duration::is_zero), "{waits:?}");
    }

    #[test]
    fn a_reset_lets_the_next_frame_go_at_once() {
        let start = Instant::now();
        let mut pacer = FramePacer::new(30);
        assert_eq!(pacer.next_allowed(), None);
        pacer.frame_taken(start);
        assert!(pacer.next_allowed().is_some_and(|at| at > start));
        pacer.reset();
        assert_eq!(pacer.next_allowed(), None);
    }
}
