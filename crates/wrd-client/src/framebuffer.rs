//! Read-only view of the decoded desktop image.

use crate::PixelLayout;

/// Rectangle in desktop pixels (exclusive right/bottom edges via `width`/`height`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Rect {
    pub x: u16,
    pub y: u16,
    pub width: u16,
    pub height: u16,
}

impl Rect {
    /// Number of pixels covered.
    pub fn area(&self) -> u64 {
        u64::from(self.width) * u64::from(self.height)
    }
}

/// Borrowed view of the client's framebuffer: `height` rows of `stride` bytes, 4 bytes a pixel in
/// [`layout`](Self::layout) order.
#[derive(Debug, Clone, Copy)]
pub struct Framebuffer<'a> {
    pub(crate) width: u16,
    pub(crate) height: u16,
    pub(crate) stride: usize,
    pub(crate) layout: PixelLayout,
    pub(crate) data: &'a [u8],
}

impl<'a> Framebuffer<'a> {
    pub fn width(&self) -> u16 {
        self.width
    }

    pub fn height(&self) -> u16 {
        self.height
    }

    /// Bytes per row.
    pub fn stride(&self) -> usize {
        self.stride
    }

    pub fn layout(&self) -> PixelLayout {
        self.layout
    }

    /// The raw pixel bytes (`height * stride`). The 4th byte of a pixel is whatever the decoder
    /// wrote (0 where nothing was drawn yet); [`to_bgrx`](Self::to_bgrx) and
    /// [`to_rgba`](Self::to_rgba) normalise it to 0xFF.
    pub fn data(&self) -> &'a [u8] {
        self.data
    }

    /// The 4 raw bytes of pixel (`x`, `y`), or `None` outside the image.
    pub fn pixel_bytes(&self, x: u16, y: u16) -> Option<&'a [u8]> {
        if x >= self.width || y >= self.height {
            return None;
        }
        let start = usize::from(y) * self.stride + usize::from(x) * 4;
        self.data.get(start..start + 4)
    }

    /// `[r, g, b]` of pixel (`x`, `y`), or `None` outside the image.
    pub fn rgb(&self, x: u16, y: u16) -> Option<[u8; 3]> {
        let px = self.pixel_bytes(x, y)?;
        let [r, g, b] = self.layout.rgb_offsets();
        Some([px[r], px[g], px[b]])
    }

    /// Tightly packed copy (`width * 4` bytes a row) in `B, G, R, X` order, `X` = 0xFF.
    pub fn to_bgrx(&self) -> Vec<u8> {
        self.convert(|[r, g, b]| [b, g, r, 0xFF])
    }

    /// Tightly packed copy (`width * 4` bytes a row) in `R, G, B, A` order, `A` = 0xFF.
    pub fn to_rgba(&self) -> Vec<u8> {
        self.convert(|[r, g, b]| [r, g, b, 0xFF])
    }

    fn convert(&self, f: impl Fn([u8; 3]) -> [u8; 4]) -> Vec<u8> {
        let width = usize::from(self.width);
        let mut out = Vec::with_capacity(width * usize::from(self.height) * 4);
        let [ro, go, bo] = self.layout.rgb_offsets();
        for row in self
            .data
            .chunks(self.stride.max(1))
            .take(usize::from(self.height))
        {
            for px in row.chunks_exact(4).take(width) {
                out.extend_from_slice(&f([px[ro], px[go], px[bo]]));
            }
        }
        out
    }
}
