//! The renderer: geometry of the picture, painting, and damage between consecutive frames.
//!
//! Every pixel is painted by one function, [`Layout::paint`], which composites the full picture
//! (bars, then square, then counter) inside any rectangle. A full frame paints the whole bounds;
//! an incremental frame copies the previous picture and repaints only the damaged rectangles.
//! Both paths therefore produce the same bytes by construction, and the tests check that the
//! damage covers every pixel that changed.

use bytes::Bytes;
use wrd_frame::{PixelFormat, Rect, accumulate_damage};

/// Smallest accepted width and height: below this the counter no longer fits.
pub const MIN_SIZE: u16 = 64;
/// Largest accepted width and height (the largest desktop RDP negotiates).
pub const MAX_SIZE: u16 = 8192;
/// Number of 7-segment digits in the counter.
pub const COUNTER_DIGITS: usize = 8;
/// The counter (and the whole picture) repeats with this period: `n` is shown as
/// `n % COUNTER_MODULUS`.
pub const COUNTER_MODULUS: u64 = 100_000_000;

/// Square speed in pixels per frame. Different speeds on the two axes make the square sweep the
/// whole frame over time instead of bouncing along one diagonal.
const SPEED_X: u64 = 6;
const SPEED_Y: u64 = 4;
/// Width of the square's black border: it marks the square's edge even on light bars.
const SQUARE_BORDER: u16 = 2;
/// Past this many rectangles the damage collapses into its bounding box. The pattern produces at
/// most three (old square, new square, changed digits), so this is never reached in practice.
const MAX_DAMAGE_RECTS: usize = 8;

/// BGRx in memory order; the last byte is an opaque alpha for consumers that read BGRA.
type Pixel = [u8; 4];

const fn bgrx(r: u8, g: u8, b: u8) -> Pixel {
    [b, g, r, 0xFF]
}

const WHITE: Pixel = bgrx(255, 255, 255);
const BLACK: Pixel = bgrx(0, 0, 0);
/// Mid-grey differs by at least 127 in some channel from every bar, so the square stays visible
/// and measurable everywhere.
const SQUARE_GREY: Pixel = bgrx(128, 128, 128);
/// The echo box before any input arrived.
const ECHO_IDLE: Pixel = bgrx(64, 64, 64);
/// The echo box's colours after the first, second, … press, in turn. Half-saturated mixtures:
/// none is a bar colour or grey, and each differs from the next by at least 128 in a channel,
/// so a client sees every press even through a lossy codec.
const ECHO_COLOURS: [Pixel; 6] = [
    bgrx(255, 128, 0),
    bgrx(0, 128, 255),
    bgrx(128, 0, 255),
    bgrx(255, 0, 128),
    bgrx(0, 255, 128),
    bgrx(128, 255, 0),
];
/// SMPTE-like bar order, left to right.
const BARS: [Pixel; 8] = [
    bgrx(255, 255, 255),
    bgrx(255, 255, 0),
    bgrx(0, 255, 255),
    bgrx(0, 255, 0),
    bgrx(255, 0, 255),
    bgrx(255, 0, 0),
    bgrx(0, 0, 255),
    bgrx(0, 0, 0),
];

/// Segment bit masks per digit; bit 0 = a (top), b (top right), c (bottom right), d (bottom),
/// e (bottom left), f (top left), bit 6 = g (middle).
pub(crate) const DIGIT_SEGMENTS: [u8; 10] = [
    0b011_1111, // 0
    0b000_0110, // 1
    0b101_1011, // 2
    0b100_1111, // 3
    0b110_0110, // 4
    0b110_1101, // 5
    0b111_1101, // 6
    0b000_0111, // 7
    0b111_1111, // 8
    0b110_1111, // 9
];

/// Why a [`TestPattern`] cannot be built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PatternError {
    /// Width or height below [`MIN_SIZE`]: the counter would not fit.
    TooSmall { width: u16, height: u16 },
    /// Width or height above [`MAX_SIZE`].
    TooLarge { width: u16, height: u16 },
}

impl std::fmt::Display for PatternError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::TooSmall { width, height } => write!(
                f,
                "test pattern size {width}x{height} is too small: width and height must be at least {MIN_SIZE}"
            ),
            Self::TooLarge { width, height } => write!(
                f,
                "test pattern size {width}x{height} is too large: width and height must be at most {MAX_SIZE}"
            ),
        }
    }
}

impl std::error::Error for PatternError {}

/// One rendered frame.
#[derive(Debug, Clone)]
pub struct Rendered {
    /// The full picture, BGRx, stride `width * 4`.
    pub data: Bytes,
    /// What changed since the previously rendered index; empty means "the whole frame" (the
    /// first render, or an index that does not follow the previous one), as in
    /// [`wrd_frame::Frame::damage`].
    pub damage: Vec<Rect>,
}

/// Where everything sits in a frame of a given size. Pure geometry: shared by the renderer and by
/// the decoder, which must agree to the pixel.
#[derive(Debug, Clone)]
pub(crate) struct Geometry {
    pub width: u16,
    pub height: u16,
    /// Side of the moving square.
    side: u16,
    /// How far the square's top-left corner can travel on each axis.
    range_x: u64,
    range_y: u64,
    /// The black box behind the counter, at the top-left corner.
    pub counter_box: Rect,
    /// The input echo box, under the counter box: recoloured on each key or button press.
    pub echo_box: Rect,
    /// Scale of the counter: segment thickness in pixels. Digits are `6u x 10u`.
    unit: u16,
}

impl Geometry {
    pub fn new(width: u16, height: u16) -> Result<Self, PatternError> {
        if width < MIN_SIZE || height < MIN_SIZE {
            return Err(PatternError::TooSmall { width, height });
        }
        if width > MAX_SIZE || height > MAX_SIZE {
            return Err(PatternError::TooLarge { width, height });
        }
        // Box = 1u padding + 8 digits of 6u + 7 gaps of 2u + 1u padding = 64u wide, 12u tall.
        // At 64 px wide that is u = 1; from 256 px on, u = 4 gives ~24x40 px digits.
        let unit = (width / 64).min(height / 12).clamp(1, 4);
        let counter_box = Rect::new(0, 0, 64 * unit, 12 * unit);
        // As tall as the counter box where it fits (always at least 16 px: the counter box is at
        // most 48 px tall and the frame at least 64).
        let echo_box = Rect::new(0, 12 * unit, 12 * unit, (12 * unit).min(height - 12 * unit));
        // height/8 rounded, at least 16 px, but small enough to move in both directions.
        let side = ((height + 4) / 8).max(16).min(width.min(height) / 2);
        Ok(Self {
            width,
            height,
            side,
            range_x: u64::from(width - side),
            range_y: u64::from(height - side),
            counter_box,
            echo_box,
            unit,
        })
    }

    pub fn bounds(&self) -> Rect {
        Rect::new(0, 0, self.width, self.height)
    }

    pub fn stride(&self) -> usize {
        usize::from(self.width) * PixelFormat::BYTES_PER_PIXEL
    }

    pub fn frame_len(&self) -> usize {
        self.stride() * usize::from(self.height)
    }

    /// The square's rectangle for a shown counter value: a diagonal bounce starting from the
    /// middle of the frame (so it does not start hidden under the counter).
    pub fn square(&self, shown: u64) -> Rect {
        let x = bounce(shown, SPEED_X, self.range_x);
        let y = bounce(shown, SPEED_Y, self.range_y);
        // Both are at most `range`, which came from a u16.
        let x = u16::try_from(x).unwrap_or(0);
        let y = u16::try_from(y).unwrap_or(0);
        Rect::new(x, y, self.side, self.side)
    }

    fn digit_width(&self) -> u16 {
        6 * self.unit
    }

    fn digit_height(&self) -> u16 {
        10 * self.unit
    }

    /// Top-left corner of digit `i` (0 = most significant).
    fn digit_origin(&self, i: usize) -> (u16, u16) {
        let i = u16::try_from(i).unwrap_or(0);
        let pitch = self.digit_width() + 2 * self.unit;
        (
            self.counter_box.x + self.unit + i * pitch,
            self.counter_box.y + self.unit,
        )
    }

    /// Row where the middle segment starts.
    fn middle(&self) -> u16 {
        (self.digit_height() - self.unit) / 2
    }

    /// The cells of digits `first..=last`, as one rectangle.
    fn digit_span(&self, first: usize, last: usize) -> Rect {
        let (x0, y) = self.digit_origin(first);
        let (x1, _) = self.digit_origin(last);
        Rect::new(x0, y, x1 + self.digit_width() - x0, self.digit_height())
    }

    /// Segment `s` (0 = a .. 6 = g) of digit `i` as painted. Segments span the digit's full
    /// width or height and overlap at the corners: a blocky but unambiguous font.
    fn segment(&self, i: usize, s: usize) -> Rect {
        let (ox, oy) = self.digit_origin(i);
        let (w, h, t, m) = (self.digit_width(), self.digit_height(), self.unit, self.middle());
        let (x, y, sw, sh) = match s {
            0 => (0, 0, w, t),
            1 => (w - t, 0, t, m + t),
            2 => (w - t, m, t, h - m),
            3 => (0, h - t, w, t),
            4 => (0, m, t, h - m),
            5 => (0, 0, t, m + t),
            _ => (0, m, w, t),
        };
        Rect::new(ox + x, oy + y, sw, sh)
    }

    /// The part of segment `s` of digit `i` that no other segment covers: lit exactly when that
    /// segment is on, so the decoder samples it.
    pub fn segment_sample(&self, i: usize, s: usize) -> Rect {
        let (ox, oy) = self.digit_origin(i);
        let (w, h, t, m) = (self.digit_width(), self.digit_height(), self.unit, self.middle());
        let (x, y, sw, sh) = match s {
            0 => (t, 0, w - 2 * t, t),
            1 => (w - t, t, t, m - t),
            2 => (w - t, m + t, t, h - 2 * t - m),
            3 => (t, h - t, w - 2 * t, t),
            4 => (0, m + t, t, h - 2 * t - m),
            5 => (0, t, t, m - t),
            _ => (t, m, w - 2 * t, t),
        };
        Rect::new(ox + x, oy + y, sw, sh)
    }

    /// The two enclosed holes of digit `i` (inside "8"): dark in every digit, so a picture where
    /// they are bright is not a counter.
    pub fn digit_holes(&self, i: usize) -> [Rect; 2] {
        let (ox, oy) = self.digit_origin(i);
        let (w, h, t, m) = (self.digit_width(), self.digit_height(), self.unit, self.middle());
        [
            Rect::new(ox + t, oy + t, w - 2 * t, m - t),
            Rect::new(ox + t, oy + m + t, w - 2 * t, h - 2 * t - m),
        ]
    }
}

/// A triangle wave: `speed` px per step back and forth over `0..=range`, starting mid-way.
fn bounce(step: u64, speed: u64, range: u64) -> u64 {
    if range == 0 {
        return 0;
    }
    let period = 2 * range;
    // `step < COUNTER_MODULUS` keeps the product far below u64::MAX.
    let p = (step % period * speed + range / 2) % period;
    if p <= range { p } else { period - p }
}

/// The shown value's digits, most significant first, with leading zeros.
pub(crate) fn digits(shown: u64) -> [u8; COUNTER_DIGITS] {
    let mut out = [0u8; COUNTER_DIGITS];
    let mut v = shown % COUNTER_MODULUS;
    for d in out.iter_mut().rev() {
        *d = u8::try_from(v % 10).unwrap_or(0);
        v /= 10;
    }
    out
}

/// Geometry plus the precomputed row of bars, which is what painting needs.
#[derive(Debug, Clone)]
pub(crate) struct Layout {
    pub geometry: Geometry,
    /// One full row of the bar background, BGRx.
    bars_row: Vec<u8>,
}

impl Layout {
    pub fn new(width: u16, height: u16) -> Result<Self, PatternError> {
        let geometry = Geometry::new(width, height)?;
        let w = usize::from(width);
        let mut bars_row = Vec::with_capacity(geometry.stride());
        for x in 0..w {
            let bar = x * BARS.len() / w;
            bars_row.extend_from_slice(&BARS[bar.min(BARS.len() - 1)]);
        }
        Ok(Self { geometry, bars_row })
    }

    /// A fresh buffer holding the complete picture for `shown` after `presses` presses.
    pub fn full_frame(&self, shown: u64, presses: u64) -> Vec<u8> {
        let mut buf = vec![0u8; self.geometry.frame_len()];
        self.paint(&mut buf, self.geometry.bounds(), shown, presses);
        buf
    }

    /// Paints the complete picture for `shown` after `presses` presses inside `region` (clipped
    /// to the frame).
    pub fn paint(&self, buf: &mut [u8], region: Rect, shown: u64, presses: u64) {
        let g = &self.geometry;
        let Some(region) = region.intersect(&g.bounds()) else {
            return;
        };
        let stride = g.stride();
        let (x0, x1) = (
            usize::from(region.x) * 4,
            usize::from(region.x) * 4 + usize::from(region.width) * 4,
        );
        let bars = &self.bars_row[x0..x1];
        for y in usize::from(region.y)..usize::from(region.y) + usize::from(region.height) {
            buf[y * stride + x0..y * stride + x1].copy_from_slice(bars);
        }

        let square = g.square(shown);
        fill(buf, stride, square.intersect(&region), BLACK);
        let inner = Rect::new(
            square.x + SQUARE_BORDER,
            square.y + SQUARE_BORDER,
            square.width - 2 * SQUARE_BORDER,
            square.height - 2 * SQUARE_BORDER,
        );
        fill(buf, stride, inner.intersect(&region), SQUARE_GREY);

        // The echo box and the counter go on top so the square never hides them.
        fill(buf, stride, g.echo_box.intersect(&region), echo_colour(presses));
        if region.intersect(&g.counter_box).is_none() {
            return;
        }
        fill(buf, stride, g.counter_box.intersect(&region), BLACK);
        for (i, digit) in digits(shown).iter().enumerate() {
            let mask = DIGIT_SEGMENTS[usize::from(*digit)];
            for s in 0..7 {
                if mask & (1 << s) != 0 {
                    fill(buf, stride, g.segment(i, s).intersect(&region), WHITE);
                }
            }
        }
    }

    /// Everything that differs between the pictures for `from` and `to`: the square's old and
    /// new places and the span of digits that changed.
    pub fn damage_between(&self, from: u64, to: u64) -> Vec<Rect> {
        let g = &self.geometry;
        let bounds = g.bounds();
        let mut damage = Vec::new();
        let (old, new) = (g.square(from), g.square(to));
        if old != new {
            accumulate_damage(&mut damage, old, bounds, MAX_DAMAGE_RECTS);
            accumulate_damage(&mut damage, new, bounds, MAX_DAMAGE_RECTS);
        }
        let (a, b) = (digits(from), digits(to));
        let first = a.iter().zip(&b).position(|(x, y)| x != y);
        let last = a.iter().zip(&b).rposition(|(x, y)| x != y);
        if let (Some(first), Some(last)) = (first, last) {
            accumulate_damage(&mut damage, g.digit_span(first, last), bounds, MAX_DAMAGE_RECTS);
        }
        damage
    }
}

/// The echo box's colour after `presses` presses.
fn echo_colour(presses: u64) -> Pixel {
    match presses.checked_sub(1) {
        None => ECHO_IDLE,
        // The remainder is below the palette's length.
        Some(i) => ECHO_COLOURS[usize::try_from(i % ECHO_COLOURS.len() as u64).unwrap_or(0)],
    }
}

/// Fills a rectangle (already clipped to the frame) with one colour.
fn fill(buf: &mut [u8], stride: usize, rect: Option<Rect>, color: Pixel) {
    let Some(rect) = rect else {
        return;
    };
    let x0 = usize::from(rect.x) * 4;
    let x1 = x0 + usize::from(rect.width) * 4;
    for y in usize::from(rect.y)..usize::from(rect.y) + usize::from(rect.height) {
        for px in buf[y * stride + x0..y * stride + x1].chunks_exact_mut(4) {
            px.copy_from_slice(&color);
        }
    }
}

#[derive(Debug, Clone)]
struct Previous {
    index: u64,
    data: Bytes,
}

/// The test pattern renderer. Sans-I/O: it only turns a frame index into pixels and damage.
///
/// It remembers the last rendered frame so that the next consecutive one is produced by copying
/// it and repainting only what moved (a fresh buffer each time, since published frames are shared
/// immutably by every client).
#[derive(Debug, Clone)]
pub struct TestPattern {
    layout: Layout,
    previous: Option<Previous>,
    /// Key and button presses answered so far (the echo box's colour).
    presses: u64,
}

impl TestPattern {
    /// A pattern of `width` x `height` pixels; both must lie in [`MIN_SIZE`]`..=`[`MAX_SIZE`].
    pub fn new(width: u16, height: u16) -> Result<Self, PatternError> {
        Ok(Self {
            layout: Layout::new(width, height)?,
            previous: None,
            presses: 0,
        })
    }

    pub fn width(&self) -> u16 {
        self.layout.geometry.width
    }

    pub fn height(&self) -> u16 {
        self.layout.geometry.height
    }

    /// Bytes per row of every rendered frame: `width * 4` (no padding).
    pub fn stride(&self) -> usize {
        self.layout.geometry.stride()
    }

    /// Renders frame `n`. When `n` directly follows the previously rendered index, only the
    /// changed regions are repainted and reported as damage; otherwise the whole frame is painted
    /// and the damage is empty ("everything").
    pub fn render(&mut self, n: u64) -> Rendered {
        let shown = n % COUNTER_MODULUS;
        let (data, damage) = match self.previous.take() {
            Some(prev) if prev.index.checked_add(1) == Some(n) => {
                let damage = self.layout.damage_between(prev.index % COUNTER_MODULUS, shown);
                let mut buf = prev.data.to_vec();
                for rect in &damage {
                    self.layout.paint(&mut buf, *rect, shown, self.presses);
                }
                (buf, damage)
            }
            _ => (self.layout.full_frame(shown, self.presses), Vec::new()),
        };
        let data = Bytes::from(data);
        self.previous = Some(Previous {
            index: n,
            data: data.clone(),
        });
        Rendered { data, damage }
    }
}

impl TestPattern {
    /// Answers a key or button press at a client: the echo box (under the counter) takes its
    /// next colour. Returns the previously rendered frame with only the echo box repainted (the
    /// counter does not move), or frame 0 in full if nothing was rendered yet.
    pub fn press(&mut self) -> Rendered {
        self.presses += 1;
        let Some(prev) = self.previous.take() else {
            return self.render(0);
        };
        let echo = self.layout.geometry.echo_box;
        let mut buf = prev.data.to_vec();
        self.layout
            .paint(&mut buf, echo, prev.index % COUNTER_MODULUS, self.presses);
        let data = Bytes::from(buf);
        self.previous = Some(Previous {
            index: prev.index,
            data: data.clone(),
        });
        Rendered {
            data,
            damage: vec![echo],
        }
    }

    /// Presses answered so far.
    pub fn presses(&self) -> u64 {
        self.presses
    }

    /// Where the echo box is: the region a latency measurement watches.
    pub fn echo_box(&self) -> Rect {
        self.layout.geometry.echo_box
    }
}

/// The exact picture of frame `n` at this size: BGRx, stride `width * 4`, alpha byte 0xFF.
///
/// This is the reference that [`compare`](crate::compare) checks a client's screenshot against;
/// [`TestPattern::render`] produces the same bytes. Returns an empty vector for a size that
/// [`TestPattern::new`] refuses.
pub fn expected_frame(width: u16, height: u16, n: u64) -> Vec<u8> {
    match Layout::new(width, height) {
        Ok(layout) => layout.full_frame(n % COUNTER_MODULUS, 0),
        Err(_) => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pixel(buf: &[u8], width: u16, x: u16, y: u16) -> Pixel {
        let i = (usize::from(y) * usize::from(width) + usize::from(x)) * 4;
        [buf[i], buf[i + 1], buf[i + 2], buf[i + 3]]
    }

    /// Renders `start - 1` (full) then every index up to `end`, checking each frame against the
    /// reference and every changed pixel against the reported damage.
    fn check_damage(width: u16, height: u16, start: u64, end: u64) {
        let mut pattern = TestPattern::new(width, height).unwrap();
        let mut prev = pattern.render(start - 1).data;
        assert_eq!(prev.as_ref(), expected_frame(width, height, start - 1).as_slice());
        for n in start..=end {
            let cur = pattern.render(n);
            assert!(!cur.damage.is_empty(), "consecutive frame {n} must report damage");
            assert_eq!(
                cur.data.as_ref(),
                expected_frame(width, height, n).as_slice(),
                "frame {n}"
            );
            let mut changed = 0usize;
            for y in 0..height {
                for x in 0..width {
                    if pixel(&prev, width, x, y) != pixel(&cur.data, width, x, y) {
                        changed += 1;
                        let inside = cur.damage.iter().any(|r| {
                            x >= r.x && u32::from(x) < r.right() && y >= r.y && u32::from(y) < r.bottom()
                        });
                        assert!(
                            inside,
                            "frame {n}: pixel ({x},{y}) changed outside {:?}",
                            cur.damage
                        );
                    }
                }
            }
            assert!(changed > 0, "frame {n} changed nothing");
            let damaged: u64 = cur.damage.iter().map(Rect::area).sum();
            let total = u64::from(width) * u64::from(height);
            assert!(
                damaged * 2 < total,
                "frame {n}: damage {:?} is not small",
                cur.damage
            );
            prev = cur.data;
        }
    }

    #[test]
    fn sizes_are_checked() {
        assert_eq!(
            TestPattern::new(63, 100).unwrap_err(),
            PatternError::TooSmall {
                width: 63,
                height: 100
            }
        );
        assert_eq!(
            TestPattern::new(100, 10).unwrap_err(),
            PatternError::TooSmall {
                width: 100,
                height: 10
            }
        );
        assert_eq!(
            TestPattern::new(8193, 100).unwrap_err(),
            PatternError::TooLarge {
                width: 8193,
                height: 100
            }
        );
        assert!(TestPattern::new(64, 64).is_ok());
        assert!(TestPattern::new(8192, 8192).is_ok());
        assert!(TestPattern::new(64, 8192).is_ok());
        assert!(
            PatternError::TooSmall { width: 1, height: 2 }
                .to_string()
                .contains("1x2")
        );
        assert!(expected_frame(10, 10, 0).is_empty());
    }

    #[test]
    fn renders_are_deterministic() {
        let mut a = TestPattern::new(320, 200).unwrap();
        let mut b = TestPattern::new(320, 200).unwrap();
        for n in [0, 1, 2, 17, 18, 1000] {
            let (ra, rb) = (a.render(n), b.render(n));
            assert_eq!(ra.data, rb.data);
            assert_eq!(ra.damage, rb.damage);
        }
        assert_eq!(expected_frame(320, 200, 42), expected_frame(320, 200, 42));
        assert_ne!(expected_frame(320, 200, 42), expected_frame(320, 200, 43));
    }

    #[test]
    fn first_and_non_consecutive_renders_are_full() {
        let mut p = TestPattern::new(128, 96).unwrap();
        assert!(p.render(5).damage.is_empty());
        assert!(!p.render(6).damage.is_empty());
        assert!(p.render(6).damage.is_empty(), "same index again");
        assert!(p.render(100).damage.is_empty(), "jump forward");
        assert!(p.render(99).damage.is_empty(), "jump back");
        assert!(!p.render(100).damage.is_empty());
    }

    #[test]
    fn picture_has_bars_square_and_counter() {
        let (w, h) = (640u16, 480u16);
        let frame = expected_frame(w, h, 0);
        assert_eq!(frame.len(), 640 * 480 * 4);
        // Bar centres along the bottom row (the square starts in the middle, away from it).
        for (i, colour) in BARS.iter().enumerate() {
            let x = u16::try_from(i * 80 + 40).unwrap();
            assert_eq!(pixel(&frame, w, x, h - 1), *colour, "bar {i}");
            for c in &colour[..3] {
                assert!(*c == 0 || *c == 255);
            }
        }
        let g = Geometry::new(w, h).unwrap();
        let sq = g.square(0);
        assert_eq!(sq.width, 60);
        assert_eq!(
            pixel(&frame, w, sq.x + sq.width / 2, sq.y + sq.height / 2),
            SQUARE_GREY
        );
        assert_eq!(pixel(&frame, w, sq.x, sq.y), BLACK);
        assert_eq!(g.counter_box, Rect::new(0, 0, 256, 48));
        // Digit "0": top segment lit, middle segment dark.
        let (ox, oy) = g.digit_origin(0);
        assert_eq!(pixel(&frame, w, ox + 12, oy + 1), WHITE);
        assert_eq!(pixel(&frame, w, ox + 12, oy + 20), BLACK);
    }

    #[test]
    fn square_stays_inside_and_sweeps() {
        for (w, h) in [(64u16, 64u16), (64, 8192), (8192, 64), (1920, 1080), (100, 300)] {
            let g = Geometry::new(w, h).unwrap();
            assert!(g.side >= 16 || g.side == w.min(h) / 2);
            let (mut min, mut max) = ((u16::MAX, u16::MAX), (0u16, 0u16));
            for n in 0..5000 {
                let sq = g.square(n);
                assert!(
                    sq.right() <= u32::from(w) && sq.bottom() <= u32::from(h),
                    "{w}x{h} n={n}"
                );
                min = (min.0.min(sq.x), min.1.min(sq.y));
                max = (max.0.max(sq.x), max.1.max(sq.y));
            }
            // Over 5000 frames the square reaches (within one step) every wall.
            let speed = (SPEED_X, SPEED_Y);
            assert!(
                u64::from(min.0) < speed.0 && u64::from(min.1) < speed.1,
                "{w}x{h}: {min:?}"
            );
            assert!(u64::from(max.0) + speed.0 > g.range_x, "{w}x{h}: {max:?}");
            assert!(u64::from(max.1) + speed.1 > g.range_y, "{w}x{h}: {max:?}");
        }
    }

    #[test]
    fn damage_covers_every_change() {
        // Start, walls and the 9->10, 99->100, 999->1000 rollovers.
        check_damage(200, 120, 1, 260);
        check_damage(200, 120, 995, 1005);
        check_damage(96, 64, 1, 120);
        // Wrap of the 8-digit counter.
        check_damage(200, 120, COUNTER_MODULUS - 3, COUNTER_MODULUS + 2);
        check_damage(200, 120, 9_999_998, 10_000_001);
    }

    #[test]
    fn damage_covers_every_change_full_hd() {
        check_damage(1920, 1080, 8, 12);
        check_damage(1920, 1080, 99, 101);
    }

    #[test]
    fn digits_have_leading_zeros() {
        assert_eq!(digits(0), [0; 8]);
        assert_eq!(digits(1_234), [0, 0, 0, 0, 1, 2, 3, 4]);
        assert_eq!(digits(COUNTER_MODULUS + 7), [0, 0, 0, 0, 0, 0, 0, 7]);
    }
}
