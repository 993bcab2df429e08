//! Reading the pattern back: the counter decoder and the screenshot comparison that tests in other
//! crates run on what a client displays.
//!
//! Both tolerate lossy codecs: segments are classified by the mean brightness of their area, and
//! the comparison counts only pixels off by more than a tolerance.

use wrd_frame::{PixelFormat, Rect};

use crate::pattern::{COUNTER_DIGITS, DIGIT_SEGMENTS, Geometry, expected_frame};

/// Mean brightness (0..=255) above which a segment counts as lit. White segments sit on a black
/// box, so the midpoint leaves more than 100 levels of margin either way.
const LIT_THRESHOLD: u32 = 128;

/// How closely a picture matches the test pattern frame whose counter it shows.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    /// The counter read from the picture (`n % 100_000_000`), or `None` if it could not be read;
    /// then nothing else is known and the picture counts as entirely mismatched.
    pub frame_index: Option<u64>,
    /// Share of pixels (0.0..=1.0) where some colour channel differs by more than the tolerance.
    pub mismatched_fraction: f64,
    pub mismatched_pixels: u64,
    pub total_pixels: u64,
    /// Largest difference seen in any colour channel of any pixel (255 when unreadable).
    pub max_channel_diff: u8,
    /// The first mismatched pixel in row order, `(x, y)`, as a debugging hint.
    pub first_mismatch: Option<(u16, u16)>,
}

impl Comparison {
    fn unreadable(width: u16, height: u16) -> Self {
        let total_pixels = u64::from(width) * u64::from(height);
        Self {
            frame_index: None,
            mismatched_fraction: 1.0,
            mismatched_pixels: total_pixels,
            total_pixels,
            max_channel_diff: u8::MAX,
            first_mismatch: (total_pixels > 0).then_some((0, 0)),
        }
    }
}

impl std::fmt::Display for Comparison {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.frame_index {
            None => write!(f, "test pattern counter unreadable"),
            Some(n) => write!(
                f,
                "frame {n}: {}/{} pixels mismatched ({:.3}%), max channel diff {}, first at {:?}",
                self.mismatched_pixels,
                self.total_pixels,
                self.mismatched_fraction * 100.0,
                self.max_channel_diff,
                self.first_mismatch
            ),
        }
    }
}

/// Whether a buffer with this stride holds `height` rows of `width` BGRx pixels.
fn holds_picture(len: usize, stride: usize, width: u16, height: u16) -> bool {
    let row = usize::from(width) * PixelFormat::BYTES_PER_PIXEL;
    height > 0 && stride >= row && len >= stride * (usize::from(height) - 1) + row
}

/// Mean of (B + G + R) / 3 over a rectangle that lies inside the picture.
fn mean_brightness(bgrx: &[u8], stride: usize, rect: Rect) -> u32 {
    let x0 = usize::from(rect.x) * 4;
    let x1 = x0 + usize::from(rect.width) * 4;
    let mut sum = 0u64;
    for y in usize::from(rect.y)..usize::from(rect.y) + usize::from(rect.height) {
        let Some(row) = bgrx.get(y * stride + x0..y * stride + x1) else {
            return 0;
        };
        for px in row.chunks_exact(4) {
            sum += u64::from(px[0]) + u64::from(px[1]) + u64::from(px[2]);
        }
    }
    let count = 3 * rect.area();
    if count == 0 {
        return 0;
    }
    u32::try_from(sum / count).unwrap_or(u32::MAX)
}

/// Where the counter sits in a `width` x `height` picture of the pattern (`None` for a size the
/// pattern does not support), so that a reader can decode it only after an update touched it.
pub fn counter_box(width: u16, height: u16) -> Option<Rect> {
    Geometry::new(width, height).ok().map(|g| g.counter_box)
}

/// Reads the frame counter back from a BGRx picture of the test pattern at `width` x `height`
/// (`stride` bytes per row, at least `width * 4`).
///
/// Works on pictures that went through a lossy codec (each channel off by ±40 or so): every
/// segment is judged by its mean brightness. Returns `None` when the picture does not hold a
/// counter: wrong size, a digit whose holes are bright, or a segment combination that is no
/// digit. The value read is `n % 100_000_000`, which equals `n` for the first 10^8 frames.
pub fn decode_counter(bgrx: &[u8], stride: usize, width: u16, height: u16) -> Option<u64> {
    let geometry = Geometry::new(width, height).ok()?;
    if !holds_picture(bgrx.len(), stride, width, height) {
        return None;
    }
    let mut value = 0u64;
    for i in 0..COUNTER_DIGITS {
        if geometry
            .digit_holes(i)
            .iter()
            .any(|hole| mean_brightness(bgrx, stride, *hole) >= LIT_THRESHOLD)
        {
            return None;
        }
        let mut mask = 0u8;
        for s in 0..7 {
            if mean_brightness(bgrx, stride, geometry.segment_sample(i, s)) >= LIT_THRESHOLD {
                mask |= 1 << s;
            }
        }
        let digit = DIGIT_SEGMENTS.iter().position(|m| *m == mask)?;
        value = value * 10 + u64::try_from(digit).ok()?;
    }
    Some(value)
}

/// Compares a BGRx picture (a client's screenshot of the test pattern) with the exact frame its
/// counter shows.
///
/// Decodes the counter from `actual_bgrx`, renders [`expected_frame`] for that index and counts
/// the pixels where any of B, G, R differs by more than `tolerance` (the fourth byte is
/// ignored). The input echo box is left out: its colour depends on the presses the pattern
/// answered, not on the frame index. A lossless path gives 0 mismatches at tolerance 0; a lossy one (RemoteFX) stays
/// well under 2 % at a tolerance around 48. If the counter cannot be read, the result has
/// `frame_index: None` and counts every pixel as mismatched.
pub fn compare(actual_bgrx: &[u8], stride: usize, width: u16, height: u16, tolerance: u8) -> Comparison {
    let Some(index) = decode_counter(actual_bgrx, stride, width, height) else {
        return Comparison::unreadable(width, height);
    };
    let expected = expected_frame(width, height, index);
    let echo_box = match Geometry::new(width, height) {
        Ok(g) => g.echo_box,
        Err(_) => return Comparison::unreadable(width, height),
    };
    let row_len = usize::from(width) * PixelFormat::BYTES_PER_PIXEL;
    let total_pixels = u64::from(width) * u64::from(height);
    let mut mismatched_pixels = 0u64;
    let mut max_channel_diff = 0u8;
    let mut first_mismatch = None;
    for (y, want_row) in (0..height).zip(expected.chunks_exact(row_len)) {
        let start = usize::from(y) * stride;
        let Some(got_row) = actual_bgrx.get(start..start + row_len) else {
            return Comparison::unreadable(width, height);
        };
        for (x, (got, want)) in (0..width).zip(got_row.chunks_exact(4).zip(want_row.chunks_exact(4))) {
            let in_echo = (u32::from(echo_box.x)..echo_box.right()).contains(&u32::from(x))
                && (u32::from(echo_box.y)..echo_box.bottom()).contains(&u32::from(y));
            if in_echo {
                continue;
            }
            let diff = (0..3).map(|c| got[c].abs_diff(want[c])).max().unwrap_or(0);
            max_channel_diff = max_channel_diff.max(diff);
            if diff > tolerance {
                mismatched_pixels += 1;
                first_mismatch.get_or_insert((x, y));
            }
        }
    }
    Comparison {
        frame_index: Some(index),
        // Both counts are far below 2^53, so the conversion is exact.
        mismatched_fraction: mismatched_pixels as f64 / total_pixels as f64,
        mismatched_pixels,
        total_pixels,
        max_channel_diff,
        first_mismatch,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pattern::COUNTER_MODULUS;

    /// A small deterministic generator (xorshift64*), enough for test noise.
    struct Noise(u64);

    impl Noise {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
        }

        /// Adds a uniform offset in `-amp..=amp` to every colour channel.
        fn apply(&mut self, bgrx: &mut [u8], amp: i16) {
            let span = u64::try_from(2 * amp + 1).unwrap();
            for px in bgrx.chunks_exact_mut(4) {
                for c in &mut px[..3] {
                    let offset = i16::try_from(self.next() % span).unwrap() - amp;
                    *c = u8::try_from((i16::from(*c) + offset).clamp(0, 255)).unwrap();
                }
            }
        }
    }

    fn values() -> Vec<u64> {
        let mut v: Vec<u64> = (0..=120).collect();
        v.extend([
            999, 1000, 12_345_678, 87_654_321, 99_999_999, 10_000_000, 31_415_926, 55_555_555,
        ]);
        let mut noise = Noise(7);
        v.extend((0..40).map(|_| noise.next() % COUNTER_MODULUS));
        v
    }

    #[test]
    fn counter_round_trips() {
        for (w, h) in [(320u16, 200u16), (64, 64), (1024, 768)] {
            let stride = usize::from(w) * 4;
            for n in values() {
                let frame = expected_frame(w, h, n);
                assert_eq!(decode_counter(&frame, stride, w, h), Some(n), "{w}x{h} n={n}");
            }
        }
        let frame = expected_frame(320, 200, COUNTER_MODULUS + 5);
        assert_eq!(decode_counter(&frame, 1280, 320, 200), Some(5));
    }

    #[test]
    fn the_counter_box_holds_everything_the_decoder_reads() {
        let (w, h) = (640u16, 480u16);
        let stride = usize::from(w) * 4;
        let bx = counter_box(w, h).unwrap();
        let inside = |x: usize, y: usize| {
            (usize::from(bx.x)..usize::from(bx.x + bx.width)).contains(&x)
                && (usize::from(bx.y)..usize::from(bx.y + bx.height)).contains(&y)
        };
        // Frame 12345678 everywhere but in the box, which shows frame 87654321: the box alone
        // decides what is read.
        let (outer, inner) = (expected_frame(w, h, 12_345_678), expected_frame(w, h, 87_654_321));
        let mut mixed = outer.clone();
        for y in 0..usize::from(h) {
            for x in (0..usize::from(w)).filter(|&x| inside(x, y)) {
                let at = y * stride + x * 4;
                mixed[at..at + 4].copy_from_slice(&inner[at..at + 4]);
            }
        }
        assert_eq!(decode_counter(&mixed, stride, w, h), Some(87_654_321));
        assert_eq!(counter_box(w, 10), None);
    }

    #[test]
    fn counter_survives_noise_and_padding() {
        let (w, h) = (400u16, 240u16);
        let mut noise = Noise(0x1234_5678);
        for n in values() {
            let mut frame = expected_frame(w, h, n);
            noise.apply(&mut frame, 30);
            assert_eq!(decode_counter(&frame, usize::from(w) * 4, w, h), Some(n), "n={n}");
        }
        // Rows padded to a larger stride, as screenshots often are.
        let tight = expected_frame(w, h, 4711);
        let stride = usize::from(w) * 4 + 64;
        let mut padded = vec![0xAAu8; stride * usize::from(h)];
        for (dst, src) in padded
            .chunks_exact_mut(stride)
            .zip(tight.chunks_exact(usize::from(w) * 4))
        {
            dst[..src.len()].copy_from_slice(src);
        }
        assert_eq!(decode_counter(&padded, stride, w, h), Some(4711));
        assert_eq!(compare(&padded, stride, w, h, 0).mismatched_pixels, 0);
    }

    #[test]
    fn non_pattern_pictures_do_not_decode() {
        let (w, h) = (320u16, 200u16);
        let stride = 1280;
        let len = stride * 200;
        assert_eq!(decode_counter(&vec![0xFF; len], stride, w, h), None, "all white");
        assert_eq!(decode_counter(&vec![0; len], stride, w, h), None, "all black");
        let frame = expected_frame(w, h, 3);
        assert_eq!(
            decode_counter(&frame[..len - 1], stride, w, h),
            None,
            "short buffer"
        );
        assert_eq!(decode_counter(&frame, stride, w, h + 1), None, "wrong size");
        assert_eq!(decode_counter(&frame, 1000, w, h), None, "stride below width*4");
        assert_eq!(
            decode_counter(&frame, stride, 10, 10),
            None,
            "size the pattern refuses"
        );
        let unreadable = compare(&vec![0xFF; len], stride, w, h, 48);
        assert_eq!(unreadable.frame_index, None);
        assert!((unreadable.mismatched_fraction - 1.0).abs() < f64::EPSILON);
    }

    #[test]
    fn compare_detects_a_moved_square() {
        let (w, h) = (640u16, 360u16);
        let stride = usize::from(w) * 4;
        let n = 321;
        let exact = compare(&expected_frame(w, h, n), stride, w, h, 0);
        assert_eq!(exact.frame_index, Some(n));
        assert_eq!(exact.mismatched_pixels, 0);
        assert_eq!(exact.mismatched_fraction, 0.0);
        assert_eq!(exact.max_channel_diff, 0);
        assert_eq!(exact.first_mismatch, None);

        // The square of frame n + 10 under the counter of frame n: what a client that missed an
        // update of the square (but not of the counter) would show.
        let mut moved = expected_frame(w, h, n + 10);
        let counter = expected_frame(w, h, n);
        let geometry = Geometry::new(w, h).unwrap();
        let boxed = geometry.counter_box;
        for y in usize::from(boxed.y)..usize::from(boxed.y) + usize::from(boxed.height) {
            let range = y * stride + usize::from(boxed.x) * 4
                ..y * stride + (usize::from(boxed.x) + usize::from(boxed.width)) * 4;
            moved[range.clone()].copy_from_slice(&counter[range]);
        }
        let result = compare(&moved, stride, w, h, 48);
        assert_eq!(result.frame_index, Some(n));
        assert!(
            result.mismatched_pixels > 0 && result.mismatched_fraction > 0.0,
            "{result}"
        );
        assert!(result.mismatched_fraction < 0.05, "{result}");
        assert!(result.first_mismatch.is_some());
    }

    #[test]
    fn compare_tolerates_lossy_noise() {
        let (w, h) = (640u16, 360u16);
        let mut frame = expected_frame(w, h, 77);
        Noise(99).apply(&mut frame, 40);
        let result = compare(&frame, usize::from(w) * 4, w, h, 48);
        assert_eq!(result.frame_index, Some(77));
        assert_eq!(result.mismatched_pixels, 0, "{result}");
        assert!(result.max_channel_diff <= 40 && result.max_channel_diff > 30);
    }
}
