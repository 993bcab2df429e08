//! The frame counter drawn into every animated frame, and reading it back.
//!
//! 16 cells of 64x64 pixels in a row, aligned to the 64-pixel grid that RemoteFX (and most RDP
//! codecs) tile the screen with. The upper half of cell `i` is white when bit `i` of the frame
//! number's Gray code is set and black otherwise; the lower half belongs to the moving picture,
//! so these tiles change every frame like all others. Gray code makes consecutive frame numbers
//! differ in one bit: a picture torn between two consecutive frames still reads as one of
//! them. Lossy codecs blur the edges, so only the middle of each half-cell is sampled, and a
//! sample that is neither clearly black nor clearly white makes the whole read fail rather
//! than guess.

/// Bits of the counter (frame numbers wrap at 65536).
pub const BITS: u32 = 16;
/// Width and height of one cell.
pub const CELL: u32 = 64;
/// Height of the part of a cell that carries the bit.
pub const BIT_HEIGHT: u32 = CELL / 2;
/// Half the side of the square sampled in the middle of each bit.
const SAMPLE_HALF: u32 = 8;
/// A sampled average at or below this is a 0 bit, at or above [`WHITE`] a 1 bit.
const BLACK: u32 = 64;
const WHITE: u32 = 192;
/// A counter that moved forward by more than this is a misread, not a new frame: at 60 fps it
/// is over 15 s of frames, far more than any client misses between two updates.
pub const MAX_STEP: u16 = 1024;

/// Where the counter is on a surface of a given size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    /// Top-left corner of cell 0 (cell `i` starts at `x + i * CELL`).
    pub x: u32,
    pub y: u32,
}

impl Layout {
    /// The counter's place on a `width` x `height` surface: one cell in from the left, the
    /// second-last full row of cells (away from the top-left corner, where a pointer may sit,
    /// and from the middle, where compositors put it). `None` when the surface is too small
    /// (narrower than 18 cells, or lower than 3).
    pub fn for_size(width: u32, height: u32) -> Option<Self> {
        if width < CELL * (BITS + 2) || height < CELL * 3 {
            return None;
        }
        Some(Self {
            x: CELL,
            y: (height / CELL - 2) * CELL,
        })
    }

    /// The rectangle `(x, y, width, height)` holding the bits (the upper halves of the cells).
    pub fn bits_rect(self) -> (u32, u32, u32, u32) {
        (self.x, self.y, CELL * BITS, BIT_HEIGHT)
    }

    /// Whether the rectangle `(x, y, width, height)` overlaps the bits.
    pub fn overlaps(self, x: u32, y: u32, width: u32, height: u32) -> bool {
        let (bx, by, bw, bh) = self.bits_rect();
        x < bx + bw && bx < x.saturating_add(width) && y < by + bh && by < y.saturating_add(height)
    }
}

/// The Gray code of `n`: consecutive numbers differ in exactly one bit.
pub fn gray(n: u16) -> u16 {
    n ^ (n >> 1)
}

/// The number whose Gray code is `g`.
pub fn from_gray(g: u16) -> u16 {
    let mut n = g;
    let mut shift = g >> 1;
    while shift != 0 {
        n ^= shift;
        shift >>= 1;
    }
    n
}

/// Whether bit `bit` (0 = cell 0, leftmost) of frame `frame`'s counter is white.
pub fn bit_is_set(frame: u16, bit: u32) -> bool {
    (gray(frame) >> bit) & 1 == 1
}

/// Reads the counter from a picture. `brightness(x, y)` is the brightness (0–255) of the pixel
/// at `(x, y)` (e.g. its green channel). `None` if any bit is unreadable.
pub fn read(layout: Layout, mut brightness: impl FnMut(u32, u32) -> u8) -> Option<u16> {
    let mut g: u16 = 0;
    for bit in 0..BITS {
        let cx = layout.x + bit * CELL + CELL / 2;
        let cy = layout.y + BIT_HEIGHT / 2;
        let mut sum = 0u32;
        for y in cy - SAMPLE_HALF..cy + SAMPLE_HALF {
            for x in cx - SAMPLE_HALF..cx + SAMPLE_HALF {
                sum += u32::from(brightness(x, y));
            }
        }
        let mean = sum / (4 * SAMPLE_HALF * SAMPLE_HALF);
        if mean >= WHITE {
            g |= 1 << bit;
        } else if mean > BLACK {
            return None;
        }
    }
    Some(from_gray(g))
}

/// Counts distinct frames from successive reads of the counter.
///
/// A read that moved forward by 1..=[`MAX_STEP`] frames is a new frame; the same value is the
/// same frame; anything else (backwards, or a huge jump) is a misread and is counted as a
/// glitch. Three glitches in a row mean the picture really changed under us (the scene was
/// restarted): the counter then follows the new value.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FrameCounter {
    last: Option<u16>,
    glitch_run: u32,
    /// Distinct frames seen (the first read counts as one).
    pub frames: u64,
    /// Reads that were neither the same frame nor a plausible next one.
    pub glitches: u64,
    /// Reads where some bit was unreadable.
    pub unreadable: u64,
}

impl FrameCounter {
    /// Records one read (`None`: unreadable). Returns whether it was a new frame.
    pub fn record(&mut self, read: Option<u16>) -> bool {
        let Some(value) = read else {
            self.unreadable += 1;
            return false;
        };
        let Some(last) = self.last else {
            self.last = Some(value);
            self.frames += 1;
            return true;
        };
        let step = value.wrapping_sub(last);
        if step == 0 {
            self.glitch_run = 0;
            return false;
        }
        if step <= MAX_STEP {
            self.last = Some(value);
            self.glitch_run = 0;
            self.frames += 1;
            return true;
        }
        self.glitches += 1;
        self.glitch_run += 1;
        if self.glitch_run >= 3 {
            self.last = Some(value);
            self.glitch_run = 0;
        }
        false
    }

    /// The last frame number read, if any.
    pub fn last(&self) -> Option<u16> {
        self.last
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gray_code_round_trips_and_steps_one_bit() {
        for n in 0..=u16::MAX {
            assert_eq!(from_gray(gray(n)), n);
            let next = n.wrapping_add(1);
            assert_eq!((gray(n) ^ gray(next)).count_ones(), 1, "{n}");
        }
    }

    #[test]
    fn layout_fits_and_stays_in_the_picture() {
        let l = Layout::for_size(1920, 1080).unwrap();
        assert_eq!(l, Layout { x: 64, y: 896 });
        let (x, y, w, h) = l.bits_rect();
        assert!(x + w <= 1920 && y + CELL <= 1080);
        assert_eq!((x % CELL, y % CELL, h), (0, 0, 32));
        assert!(Layout::for_size(1280, 720).is_some());
        assert_eq!(Layout::for_size(1151, 1080), None);
        assert_eq!(Layout::for_size(1920, 191), None);
    }

    #[test]
    fn overlap() {
        let l = Layout::for_size(1920, 1080).unwrap();
        assert!(l.overlaps(0, 0, 1920, 1080));
        assert!(l.overlaps(64 + 1023, 896 + 31, 1, 1));
        assert!(!l.overlaps(64 + 1024, 896, 10, 10));
        assert!(!l.overlaps(0, 896 + 32, 1920, 10));
        assert!(!l.overlaps(0, 0, 64, 1080));
    }

    fn ideal_brightness(layout: Layout, frame: u16) -> impl FnMut(u32, u32) -> u8 {
        move |x, y| {
            assert!(
                y >= layout.y && y < layout.y + BIT_HEIGHT,
                "sampled outside the bits"
            );
            let bit = (x - layout.x) / CELL;
            if bit_is_set(frame, bit) { 255 } else { 0 }
        }
    }

    #[test]
    fn reads_back_what_was_drawn() {
        let l = Layout::for_size(1920, 1080).unwrap();
        for frame in [0, 1, 2, 3, 255, 256, 4095, 40000, u16::MAX] {
            assert_eq!(read(l, ideal_brightness(l, frame)), Some(frame));
        }
    }

    #[test]
    fn noise_within_bounds_reads_and_grey_does_not() {
        let l = Layout::for_size(1920, 1080).unwrap();
        let mut ideal = ideal_brightness(l, 1234);
        // codec noise: 0 → up to 60, 255 → down to 200
        assert_eq!(
            read(l, |x, y| if ideal(x, y) == 0 { 60 } else { 200 }),
            Some(1234)
        );
        assert_eq!(read(l, |_, _| 128), None);
    }

    #[test]
    fn frame_counter_counts_forward_steps_only() {
        let mut c = FrameCounter::default();
        assert!(c.record(Some(10)));
        assert!(!c.record(Some(10)));
        assert!(c.record(Some(11)));
        assert!(c.record(Some(15))); // skipped frames still make one received frame
        assert!(!c.record(None));
        assert!(!c.record(Some(3))); // backwards: glitch
        assert!(!c.record(Some(15 + MAX_STEP + 1))); // too far: glitch
        assert!(c.record(Some(16)));
        assert_eq!((c.frames, c.glitches, c.unreadable), (4, 2, 1));
        // wrap-around is a step forward
        let mut w = FrameCounter::default();
        w.record(Some(u16::MAX));
        assert!(w.record(Some(0)));
        // three misreads in a row: the counter follows
        let mut r = FrameCounter::default();
        r.record(Some(5000));
        for v in [7, 8, 9] {
            assert!(!r.record(Some(v)));
        }
        assert_eq!(r.last(), Some(9));
        assert!(r.record(Some(10)));
    }
}
