//! Per-session display statistics: how long a frame takes from capture to the wire.

use std::time::{Duration, Instant};

use tracing::info;

/// Bucket width of [`LatencyHistogram`].
const BUCKET: Duration = Duration::from_micros(100);
/// Buckets up to one second; slower samples land in the last one (and in `max`).
const BUCKETS: usize = 10_000;

/// A fixed-resolution latency histogram (0.1 ms buckets up to 1 s): constant memory however
/// long the session, exact enough for medians and tails of frame times.
#[derive(Debug, Clone)]
pub(crate) struct LatencyHistogram {
    counts: Vec<u32>,
    samples: u64,
    max: Duration,
}

impl LatencyHistogram {
    pub(crate) fn new() -> Self {
        Self {
            counts: vec![0; BUCKETS],
            samples: 0,
            max: Duration::ZERO,
        }
    }

    pub(crate) fn record(&mut self, sample: Duration) {
        let index = usize::try_from(sample.as_micros() / BUCKET.as_micros())
            .unwrap_or(usize::MAX)
            .min(BUCKETS - 1);
        if let Some(count) = self.counts.get_mut(index) {
            *count = count.saturating_add(1);
        }
        self.samples += 1;
        self.max = self.max.max(sample);
    }

    pub(crate) fn samples(&self) -> u64 {
        self.samples
    }

    /// The quantile at `permille` (500 = median), as the upper edge of its bucket (the
    /// largest sample if that is smaller, or if it lies past the last bucket); `None` without
    /// samples.
    pub(crate) fn quantile(&self, permille: u64) -> Option<Duration> {
        if self.samples == 0 {
            return None;
        }
        // The rank of the sample sought, 1-based: ceil(permille * n / 1000), at least 1.
        let rank = (permille.min(1000) * self.samples).div_ceil(1000).max(1);
        let mut seen = 0u64;
        for (index, count) in self.counts.iter().enumerate() {
            seen += u64::from(*count);
            if seen >= rank {
                if index == BUCKETS - 1 {
                    return Some(self.max);
                }
                let upper = BUCKET * u32::try_from(index + 1).unwrap_or(u32::MAX);
                return Some(upper.min(self.max));
            }
        }
        Some(self.max)
    }

    pub(crate) fn max(&self) -> Duration {
        self.max
    }
}

/// What one client's display stream did, logged when it ends.
#[derive(Debug)]
pub(crate) struct DisplayStats {
    /// Frames whose updates were all handed to the encoder and written.
    pub frames_sent: u64,
    /// Bitmap rectangles handed to the encoder.
    pub rects_sent: u64,
    /// Frames the source produced that this client never saw separately (coalesced).
    pub frames_coalesced: u64,
    pub pointer_updates: u64,
    /// Capture (the source took the frame) → all of the frame's updates written to the socket.
    pub capture_to_wire: LatencyHistogram,
    /// Where an H.264 frame's capture-to-wire time went; `None` until the first one is sent.
    pub h264_stages: Option<Box<H264Stages>>,
}

/// The three parts of an H.264 frame's capture-to-wire time. They show which of the latency's
/// causes to work on: a busy encoder (or pacing that holds frames back), the encode itself, or
/// a flow-control window the client's acknowledgements keep full.
#[derive(Debug, Clone)]
pub(crate) struct H264Stages {
    /// Capture → the encoder starts on the frame.
    pub before_encode: LatencyHistogram,
    /// Colour conversion and encode.
    pub encode: LatencyHistogram,
    /// Encoded → handed to the writer (waiting for the window, and for the display task).
    pub after_encode: LatencyHistogram,
}

impl H264Stages {
    /// One frame's parts, from the times the encoder stamped on it and `handed_at`.
    pub(crate) fn record(
        &mut self,
        captured_at: Instant,
        encode_time: Duration,
        encoded_at: Instant,
        handed_at: Instant,
    ) {
        let encode_started = encoded_at.checked_sub(encode_time).unwrap_or(encoded_at);
        self.before_encode
            .record(encode_started.saturating_duration_since(captured_at));
        self.encode.record(encode_time);
        self.after_encode
            .record(handed_at.saturating_duration_since(encoded_at));
    }
}

impl DisplayStats {
    pub(crate) fn new() -> Self {
        Self {
            frames_sent: 0,
            rects_sent: 0,
            frames_coalesced: 0,
            pointer_updates: 0,
            capture_to_wire: LatencyHistogram::new(),
            h264_stages: None,
        }
    }

    /// Records where a sent H.264 frame's capture-to-wire time went.
    pub(crate) fn record_h264_stages(
        &mut self,
        captured_at: Instant,
        encode_time: Duration,
        encoded_at: Instant,
        handed_at: Instant,
    ) {
        self.h264_stages
            .get_or_insert_with(|| {
                Box::new(H264Stages {
                    before_encode: LatencyHistogram::new(),
                    encode: LatencyHistogram::new(),
                    after_encode: LatencyHistogram::new(),
                })
            })
            .record(captured_at, encode_time, encoded_at, handed_at);
    }

    /// One INFO line, with fields a benchmark can parse.
    pub(crate) fn log(&self) {
        let ms = |d: Option<Duration>| d.map_or(f64::NAN, |d| d.as_secs_f64() * 1000.0);
        let h = &self.capture_to_wire;
        info!(
            frames_sent = self.frames_sent,
            rects_sent = self.rects_sent,
            frames_coalesced = self.frames_coalesced,
            pointer_updates = self.pointer_updates,
            capture_to_wire_p50_ms = format_args!("{:.2}", ms(h.quantile(500))),
            capture_to_wire_p99_ms = format_args!("{:.2}", ms(h.quantile(990))),
            capture_to_wire_max_ms = format_args!("{:.2}", ms((h.samples() > 0).then(|| h.max()))),
            "display statistics"
        );
        if let Some(stages) = &self.h264_stages {
            // Displayed, not debug-formatted: numbers without quotes, like the line above.
            let p50 = |h: &LatencyHistogram| format!("{:.2}", ms(h.quantile(500)));
            let p99 = |h: &LatencyHistogram| format!("{:.2}", ms(h.quantile(990)));
            info!(
                frames = stages.encode.samples(),
                before_encode_p50_ms = %p50(&stages.before_encode),
                before_encode_p99_ms = %p99(&stages.before_encode),
                encode_p50_ms = %p50(&stages.encode),
                encode_p99_ms = %p99(&stages.encode),
                after_encode_p50_ms = %p50(&stages.after_encode),
                after_encode_p99_ms = %p99(&stages.after_encode),
                "H.264 capture-to-wire stages"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_of_a_known_distribution() {
        let mut h = LatencyHistogram::new();
        assert_eq!(h.quantile(500), None);
        // 1..=100 ms, one sample each.
        for ms in 1..=100u64 {
            h.record(Duration::from_millis(ms) - Duration::from_micros(50));
        }
        assert_eq!(h.samples(), 100);
        assert_eq!(h.quantile(500), Some(Duration::from_millis(50)));
        assert_eq!(h.quantile(990), Some(Duration::from_millis(99)));
        assert_eq!(h.quantile(1000), Some(Duration::from_micros(99_950)));
    }

    #[test]
    fn h264_stages_split_capture_to_wire_into_its_three_parts() {
        let mut stats = DisplayStats::new();
        let captured_at = Instant::now();
        let encoded_at = captured_at + Duration::from_millis(15);
        let handed_at = encoded_at + Duration::from_millis(7);
        stats.record_h264_stages(captured_at, Duration::from_millis(11), encoded_at, handed_at);
        let Some(stages) = stats.h264_stages.as_deref() else {
            panic!("no stages after a recorded frame");
        };
        let median = |h: &LatencyHistogram| h.quantile(500);
        assert_eq!(median(&stages.before_encode), Some(Duration::from_millis(4)));
        assert_eq!(median(&stages.encode), Some(Duration::from_millis(11)));
        assert_eq!(median(&stages.after_encode), Some(Duration::from_millis(7)));
        // A frame whose encode time exceeds its age (clock edges) counts as no wait, not as
        // a wrapped duration.
        stats.record_h264_stages(encoded_at, Duration::from_millis(20), encoded_at, encoded_at);
        let Some(stages) = stats.h264_stages.as_deref() else {
            panic!("stages lost");
        };
        assert_eq!(stages.before_encode.samples(), 2);
        assert_eq!(stages.before_encode.max(), Duration::from_millis(4));
    }

    #[test]
    fn slow_samples_are_reported_as_the_max() {
        let mut h = LatencyHistogram::new();
        h.record(Duration::from_secs(5));
        assert_eq!(h.max(), Duration::from_secs(5));
        assert_eq!(h.quantile(500), Some(Duration::from_secs(5)));
    }
}
