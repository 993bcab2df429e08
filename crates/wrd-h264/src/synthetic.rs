//! Synthetic desktop content for the tests and the benchmark: a terminal full of text.
//!
//! Text is what H.264 handles worst (sharp one-pixel edges, no motion to hide behind), so it
//! is what the quality checks and the "typing" benchmark use. The glyphs are pseudo-random
//! 1-pixel strokes in 8x16 cells, black on an off-white background: the statistics of small
//! text without a font dependency.

use wrd_frame::Rect;

/// Width and height of one character cell.
pub const CELL_WIDTH: u16 = 8;
pub const CELL_HEIGHT: u16 = 16;

const BACKGROUND: [u8; 4] = [0xf4, 0xf1, 0xee, 0xff];
const INK: [u8; 4] = [0x20, 0x20, 0x20, 0xff];

/// A BGRx terminal of `width` x `height` pixels, filled with text up to character `typed`
/// (cells in reading order), stride `width * 4`.
#[derive(Debug, Clone)]
pub struct Terminal {
    width: u16,
    columns: u16,
    rows: u16,
    pixels: Vec<u8>,
    typed: u32,
}

impl Terminal {
    pub fn new(width: u16, height: u16) -> Self {
        let mut pixels = Vec::with_capacity(usize::from(width) * usize::from(height) * 4);
        for _ in 0..usize::from(width) * usize::from(height) {
            pixels.extend_from_slice(&BACKGROUND);
        }
        Self {
            width,
            columns: width / CELL_WIDTH,
            rows: height / CELL_HEIGHT,
            pixels,
            typed: 0,
        }
    }

    /// A terminal whose first `cells` characters are already typed.
    pub fn filled(width: u16, height: u16, cells: u32) -> Self {
        let mut terminal = Self::new(width, height);
        for _ in 0..cells {
            terminal.type_char();
        }
        terminal
    }

    pub fn stride(&self) -> usize {
        usize::from(self.width) * 4
    }

    pub fn pixels(&self) -> &[u8] {
        &self.pixels
    }

    /// Types the next character; returns the cell it changed (`None` once the screen is full).
    pub fn type_char(&mut self) -> Option<Rect> {
        let capacity = u32::from(self.columns) * u32::from(self.rows);
        if self.typed >= capacity || self.columns == 0 {
            return None;
        }
        let index = self.typed;
        self.typed += 1;
        let column = u16::try_from(index % u32::from(self.columns)).ok()?;
        let row = u16::try_from(index / u32::from(self.columns)).ok()?;
        let cell = Rect::new(column * CELL_WIDTH, row * CELL_HEIGHT, CELL_WIDTH, CELL_HEIGHT);
        // Every eighth cell is a space, as in prose.
        if index % 8 == 7 {
            return Some(cell);
        }
        let mut seed = index.wrapping_mul(2_654_435_761) ^ 0x9e37_79b9;
        // Glyph body: rows 3..13, columns 1..7; strokes are one pixel wide.
        for y in 3..13u16 {
            for x in 1..7u16 {
                seed ^= seed << 13;
                seed ^= seed >> 17;
                seed ^= seed << 5;
                if seed.is_multiple_of(3) {
                    let offset = usize::from(cell.y + y) * self.stride() + usize::from(cell.x + x) * 4;
                    if let Some(pixel) = self.pixels.get_mut(offset..offset + 4) {
                        pixel.copy_from_slice(&INK);
                    }
                }
            }
        }
        Some(cell)
    }
}
