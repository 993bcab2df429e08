//! Which part of the desktop the decoded updates have drawn so far.
//!
//! "First complete picture" for the in-process client means: the union of the rectangles of all
//! decoded graphics updates since the session became active covers every pixel of the desktop.
//! This needs nothing from the server but the updates themselves, so it works against any RDP
//! server, whatever it shows. [`Coverage`] tracks that union exactly, one bit per pixel (a
//! 1920x1080 desktop takes 253 KiB); marking a rectangle costs one OR per 64 pixels of each of
//! its rows.

use wrd_client::Rect;

/// Exact union of rectangles over a `width` x `height` area.
#[derive(Debug, Clone)]
pub struct Coverage {
    width: u16,
    height: u16,
    words_per_row: usize,
    bits: Vec<u64>,
    covered: u64,
}

impl Coverage {
    /// Nothing covered yet.
    pub fn new(width: u16, height: u16) -> Self {
        let words_per_row = usize::from(width).div_ceil(64);
        Self {
            width,
            height,
            words_per_row,
            bits: vec![0; words_per_row * usize::from(height)],
            covered: 0,
        }
    }

    /// Forget everything and track a `width` x `height` area (after a desktop resize).
    pub fn reset(&mut self, width: u16, height: u16) {
        *self = Self::new(width, height);
    }

    pub fn size(&self) -> (u16, u16) {
        (self.width, self.height)
    }

    /// Pixels in the area.
    pub fn total(&self) -> u64 {
        u64::from(self.width) * u64::from(self.height)
    }

    /// Pixels covered by at least one rectangle so far.
    pub fn covered(&self) -> u64 {
        self.covered
    }

    /// Whether every pixel is covered (never for an empty area).
    pub fn is_complete(&self) -> bool {
        self.total() > 0 && self.covered == self.total()
    }

    /// Covered share, 0.0..=1.0 (0 for an empty area).
    pub fn fraction(&self) -> f64 {
        match self.total() {
            0 => 0.0,
            // Both are below 2^32, exact in an f64.
            total => self.covered as f64 / total as f64,
        }
    }

    /// Marks `rect` (clipped to the area) as covered; returns how many pixels it newly covered.
    pub fn add(&mut self, rect: Rect) -> u64 {
        let x0 = usize::from(rect.x.min(self.width));
        let x1 = (usize::from(rect.x) + usize::from(rect.width)).min(usize::from(self.width));
        let y0 = usize::from(rect.y.min(self.height));
        let y1 = (usize::from(rect.y) + usize::from(rect.height)).min(usize::from(self.height));
        if x0 >= x1 || y0 >= y1 {
            return 0;
        }
        let (first_word, last_word) = (x0 / 64, (x1 - 1) / 64);
        let mut added = 0u64;
        for y in y0..y1 {
            let row = y * self.words_per_row;
            for w in first_word..=last_word {
                let lo = if w == first_word { x0 % 64 } else { 0 };
                let hi = if w == last_word { (x1 - 1) % 64 } else { 63 };
                // Bits lo..=hi set.
                let mask = (u64::MAX >> (63 - hi)) & (u64::MAX << lo);
                if let Some(word) = self.bits.get_mut(row + w) {
                    let before = *word;
                    *word |= mask;
                    added += u64::from((*word).count_ones() - before.count_ones());
                }
            }
        }
        self.covered += added;
        added
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(x: u16, y: u16, width: u16, height: u16) -> Rect {
        Rect { x, y, width, height }
    }

    #[test]
    fn one_full_rectangle_completes() {
        let mut c = Coverage::new(1280, 720);
        assert!(!c.is_complete());
        assert_eq!(c.add(r(0, 0, 1280, 720)), 1280 * 720);
        assert!(c.is_complete());
        assert_eq!(c.fraction(), 1.0);
        assert_eq!(c.add(r(10, 10, 100, 100)), 0, "nothing new");
    }

    #[test]
    fn tiles_complete_only_when_all_are_in() {
        // 64x64 tiles over 200x130 (edges are partial tiles), added in a scrambled order.
        let mut c = Coverage::new(200, 130);
        let mut tiles = Vec::new();
        for ty in 0..3u16 {
            for tx in 0..4u16 {
                tiles.push(r(tx * 64, ty * 64, 64, 64));
            }
        }
        tiles.reverse();
        tiles.swap(0, 5);
        let last = tiles.pop().unwrap();
        for t in tiles {
            c.add(t);
            assert!(!c.is_complete());
        }
        c.add(last);
        assert!(c.is_complete());
        assert_eq!(c.covered(), 200 * 130);
    }

    #[test]
    fn overlaps_are_counted_once() {
        let mut c = Coverage::new(100, 100);
        assert_eq!(c.add(r(0, 0, 60, 60)), 3600);
        // 40x40 square overlapping the first in a 20x20 corner
        assert_eq!(c.add(r(40, 40, 40, 40)), 1600 - 400);
        assert_eq!(c.covered(), 3600 + 1200);
    }

    #[test]
    fn rectangles_are_clipped() {
        let mut c = Coverage::new(70, 10);
        assert_eq!(c.add(r(60, 5, 100, 100)), 10 * 5);
        assert_eq!(c.add(r(70, 0, 5, 5)), 0, "starts at the right edge");
        assert_eq!(c.add(r(0, 10, 5, 5)), 0, "starts below the bottom");
        assert_eq!(c.add(r(u16::MAX, u16::MAX, u16::MAX, u16::MAX)), 0);
        assert_eq!(c.add(r(3, 3, 0, 4)), 0, "empty");
        assert_eq!(c.covered(), 50);
    }

    #[test]
    fn word_boundaries() {
        // Rows of 130 pixels: words 0..64, 64..128, 128..130.
        let mut c = Coverage::new(130, 1);
        assert_eq!(c.add(r(63, 0, 2, 1)), 2);
        assert_eq!(c.add(r(0, 0, 64, 1)), 63);
        assert_eq!(c.add(r(127, 0, 3, 1)), 3);
        assert_eq!(c.add(r(64, 0, 64, 1)), 62);
        assert!(c.is_complete());
    }

    #[test]
    fn single_pixels_fill_a_small_area() {
        let mut c = Coverage::new(65, 3);
        for y in 0..3 {
            for x in 0..65 {
                assert!(!c.is_complete());
                assert_eq!(c.add(r(x, y, 1, 1)), 1);
            }
        }
        assert!(c.is_complete());
    }

    #[test]
    fn reset_and_empty_area() {
        let mut c = Coverage::new(10, 10);
        c.add(r(0, 0, 10, 10));
        c.reset(20, 10);
        assert_eq!(c.size(), (20, 10));
        assert_eq!(c.covered(), 0);
        let mut empty = Coverage::new(0, 0);
        assert_eq!(empty.add(r(0, 0, 5, 5)), 0);
        assert!(!empty.is_complete());
        assert_eq!(empty.fraction(), 0.0);
    }
}
