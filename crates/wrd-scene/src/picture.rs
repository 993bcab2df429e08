//! The picture: diagonal colour bars that move 7 pixels along the diagonal per frame, with the
//! frame counter ([`crate::counter`]) drawn over them.
//!
//! Pixels are `wl_shm` XRGB8888: bytes B, G, R, X in memory. Every pixel of a frame comes from
//! one palette row shifted by `x + y + 7 * frame`, so painting a frame is one `memcpy` per
//! row; no two pixels 7 apart on the palette are equal, so every pixel changes every frame.

use crate::counter::{self, BIT_HEIGHT, BITS, CELL, Layout};

/// Length of the palette row (a power of two: shifts wrap with a mask).
const PERIOD: usize = 2048;
/// Pixels the bars move along the diagonal per frame.
const STEP: usize = 7;
/// Bars of 256 pixels: each a ramp from dark to bright of one colour.
const BARS: [[u8; 3]; 8] = [
    [255, 255, 255],
    [255, 255, 0],
    [0, 255, 255],
    [0, 255, 0],
    [255, 0, 255],
    [255, 0, 0],
    [0, 0, 255],
    [255, 128, 0],
];

/// Paints frames of one surface size.
#[derive(Debug, Clone)]
pub struct Painter {
    width: u32,
    height: u32,
    /// The palette row repeated to `PERIOD + width` pixels, as XRGB8888 bytes: row `y` of
    /// frame `f` is the `width` pixels starting at `(y + STEP * f) % PERIOD`.
    row: Vec<u8>,
    counter: Option<Layout>,
}

/// One palette entry (R, G, B): bar `i / 256`, ramping up within the bar. Never black or
/// white, so the counter's bits stand out from it.
fn palette(i: usize) -> [u8; 3] {
    let [r, g, b] = BARS[(i / 256) % BARS.len()];
    // 40..=240: a ramp that stays clear of pure black and white.
    let level = 40 + (i % 256) * 200 / 255;
    let scale = |c: u8| {
        u8::try_from(usize::from(c) * level / 255)
            .unwrap_or(u8::MAX)
            .max(16)
    };
    [scale(r), scale(g), scale(b)]
}

impl Painter {
    pub fn new(width: u32, height: u32) -> Self {
        let pixels = PERIOD + width as usize;
        let mut row = Vec::with_capacity(pixels * 4);
        for i in 0..pixels {
            let [r, g, b] = palette(i % PERIOD);
            row.extend_from_slice(&[b, g, r, 0xff]);
        }
        Self {
            width,
            height,
            row,
            counter: Layout::for_size(width, height),
        }
    }

    pub fn size(&self) -> (u32, u32) {
        (self.width, self.height)
    }

    /// Where the frame counter is, if the surface is large enough for one.
    pub fn counter_layout(&self) -> Option<Layout> {
        self.counter
    }

    /// Paints frame `frame` into `buf` (XRGB8888 rows of `stride` bytes). Returns `false`, and
    /// paints nothing, if `buf` is too small for the surface.
    pub fn paint(&self, buf: &mut [u8], stride: usize, frame: u32) -> bool {
        let row_bytes = self.width as usize * 4;
        let height = self.height as usize;
        if stride < row_bytes || height == 0 || buf.len() < stride * (height - 1) + row_bytes {
            return false;
        }
        // Only the shift modulo PERIOD matters; fold the frame number first so that it cannot
        // overflow.
        let shift = (frame as usize % PERIOD) * STEP;
        for (y, line) in buf.chunks_mut(stride).take(height).enumerate() {
            let start = (y + shift) % PERIOD * 4;
            line[..row_bytes].copy_from_slice(&self.row[start..start + row_bytes]);
        }
        if let Some(layout) = self.counter {
            // The counter carries the low 16 bits of the frame number.
            let value = u16::try_from(frame % 65536).unwrap_or_default();
            for bit in 0..BITS {
                let pixel: [u8; 4] = if counter::bit_is_set(value, bit) {
                    [0xff, 0xff, 0xff, 0xff]
                } else {
                    [0, 0, 0, 0xff]
                };
                let x0 = (layout.x + bit * CELL) as usize * 4;
                for y in layout.y..layout.y + BIT_HEIGHT {
                    let off = y as usize * stride + x0;
                    for px in buf[off..off + CELL as usize * 4].chunks_exact_mut(4) {
                        px.copy_from_slice(&pixel);
                    }
                }
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::counter::read;

    fn frame(p: &Painter, n: u32) -> Vec<u8> {
        let (w, h) = p.size();
        let mut buf = vec![0u8; (w * h * 4) as usize];
        assert!(p.paint(&mut buf, w as usize * 4, n));
        buf
    }

    #[test]
    fn every_tile_changes_between_consecutive_frames() {
        let p = Painter::new(1920, 1080);
        let (a, b) = (frame(&p, 41), frame(&p, 42));
        let stride = 1920 * 4;
        for ty in 0..1080usize.div_ceil(64) {
            for tx in 0..1920 / 64 {
                let changed = (ty * 64..((ty + 1) * 64).min(1080)).any(|y| {
                    let row = y * stride + tx * 64 * 4;
                    a[row..row + 64 * 4] != b[row..row + 64 * 4]
                });
                assert!(changed, "tile ({tx}, {ty}) did not change");
            }
        }
        // in fact every pixel outside the counter's bits changes
        let layout = p.counter_layout().unwrap();
        let unchanged = (0..1080u32)
            .flat_map(|y| (0..1920u32).map(move |x| (x, y)))
            .filter(|&(x, y)| {
                let o = (y as usize * 1920 + x as usize) * 4;
                a[o..o + 4] == b[o..o + 4] && !layout.overlaps(x, y, 1, 1)
            })
            .count();
        assert_eq!(unchanged, 0);
    }

    #[test]
    fn the_counter_reads_back_and_wraps() {
        let p = Painter::new(1920, 1080);
        let layout = p.counter_layout().unwrap();
        for n in [0u32, 1, 2, 99, 65535, 65536, 70000] {
            let buf = frame(&p, n);
            let got = read(layout, |x, y| buf[(y as usize * 1920 + x as usize) * 4 + 1]);
            assert_eq!(got, Some((n & 0xffff) as u16), "frame {n}");
        }
    }

    #[test]
    fn padded_stride_and_short_buffers() {
        let p = Painter::new(1280, 720);
        let stride = 1280 * 4 + 64;
        let mut buf = vec![0u8; stride * 720];
        assert!(p.paint(&mut buf, stride, 3));
        let layout = p.counter_layout().unwrap();
        assert_eq!(
            read(layout, |x, y| buf[y as usize * stride + x as usize * 4 + 1]),
            Some(3)
        );
        assert!(!p.paint(&mut buf[..stride * 719], stride, 3));
        assert!(!p.paint(&mut buf, 1280 * 4 - 4, 3));
    }

    #[test]
    fn the_palette_never_reads_as_a_counter_bit() {
        for i in 0..PERIOD {
            // only the counter's own cells are pure black or white
            let c = palette(i);
            assert!(
                c != [0, 0, 0] && c != [255, 255, 255],
                "palette entry {i} is {c:?}"
            );
        }
    }
}
