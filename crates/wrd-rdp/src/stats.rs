//! Per-session display statistics: how long a frame takes from capture to the wire.

use std::time::Duration;

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
}

impl DisplayStats {
    pub(crate) fn new() -> Self {
        Self {
            frames_sent: 0,
            rects_sent: 0,
            frames_coalesced: 0,
            pointer_updates: 0,
            capture_to_wire: LatencyHistogram::new(),
        }
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
    fn slow_samples_are_reported_as_the_max() {
        let mut h = LatencyHistogram::new();
        h.record(Duration::from_secs(5));
        assert_eq!(h.max(), Duration::from_secs(5));
        assert_eq!(h.quantile(500), Some(Duration::from_secs(5)));
    }
}
