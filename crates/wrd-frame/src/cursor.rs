//! The desktop's pointer, as a source reports it beside the frames (cursor metadata), so that
//! clients draw it themselves instead of seeing it baked into the picture.

use std::hash::{Hash, Hasher};
use std::sync::Arc;

use bytes::Bytes;

/// Largest pointer image we pass on. RDP's large-pointer support allows 384x384; most clients
/// handle 96x96 through the classic pointer PDUs, which is also far above what desktops draw.
pub const MAX_CURSOR_SIZE: u16 = 384;

/// A pointer image: straight-alpha RGBA (bytes R, G, B, A), rows without padding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CursorShape {
    /// Identifies the image by content (size, hotspot, pixels): equal ids, equal images. Lets a
    /// client cache an image once and re-select it cheaply.
    id: u64,
    pub width: u16,
    pub height: u16,
    pub hotspot_x: u16,
    pub hotspot_y: u16,
    /// `width * height * 4` bytes.
    pub rgba: Bytes,
}

/// Why a pointer image was refused by [`CursorShape::new`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CursorShapeError {
    Empty,
    TooLarge { width: u32, height: u32 },
    WrongLength { len: usize, needed: usize },
}

impl std::fmt::Display for CursorShapeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Empty => write!(f, "cursor image has zero width or height"),
            Self::TooLarge { width, height } => write!(
                f,
                "cursor image {width}x{height} exceeds {MAX_CURSOR_SIZE}x{MAX_CURSOR_SIZE}"
            ),
            Self::WrongLength { len, needed } => {
                write!(f, "cursor image has {len} bytes, width*height*4 needs {needed}")
            }
        }
    }
}

impl std::error::Error for CursorShapeError {}

impl CursorShape {
    /// Checks the image and computes its identity. A hotspot outside the image is clamped to
    /// its last pixel (some producers report it one past the edge).
    pub fn new(
        width: u32,
        height: u32,
        hotspot_x: i32,
        hotspot_y: i32,
        rgba: Bytes,
    ) -> Result<Self, CursorShapeError> {
        if width == 0 || height == 0 {
            return Err(CursorShapeError::Empty);
        }
        let too_large = CursorShapeError::TooLarge { width, height };
        let (Ok(w), Ok(h)) = (u16::try_from(width), u16::try_from(height)) else {
            return Err(too_large);
        };
        if w > MAX_CURSOR_SIZE || h > MAX_CURSOR_SIZE {
            return Err(too_large);
        }
        let needed = usize::from(w) * usize::from(h) * 4;
        if rgba.len() != needed {
            return Err(CursorShapeError::WrongLength {
                len: rgba.len(),
                needed,
            });
        }
        let clamp = |v: i32, max: u16| u16::try_from(v.max(0)).unwrap_or(u16::MAX).min(max - 1);
        let (hotspot_x, hotspot_y) = (clamp(hotspot_x, w), clamp(hotspot_y, h));
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        (w, h, hotspot_x, hotspot_y).hash(&mut hasher);
        rgba.hash(&mut hasher);
        Ok(Self {
            id: hasher.finish(),
            width: w,
            height: h,
            hotspot_x,
            hotspot_y,
            rgba,
        })
    }

    pub fn id(&self) -> u64 {
        self.id
    }
}

/// The pointer as the desktop shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cursor {
    /// The desktop shows no pointer (hidden by an application, or outside every captured
    /// monitor).
    Hidden,
    /// The hotspot at `(x, y)` in desktop coordinates (the frame's pixel grid).
    Visible { x: u16, y: u16, shape: Arc<CursorShape> },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_follows_content() {
        let a = CursorShape::new(2, 2, 0, 0, Bytes::from(vec![1; 16])).unwrap();
        let b = CursorShape::new(2, 2, 0, 0, Bytes::from(vec![1; 16])).unwrap();
        let c = CursorShape::new(2, 2, 1, 0, Bytes::from(vec![1; 16])).unwrap();
        let d = CursorShape::new(2, 2, 0, 0, Bytes::from(vec![2; 16])).unwrap();
        assert_eq!(a.id(), b.id());
        assert_ne!(a.id(), c.id());
        assert_ne!(a.id(), d.id());
    }

    #[test]
    fn bad_images_are_refused_and_hotspots_clamped() {
        assert_eq!(
            CursorShape::new(0, 4, 0, 0, Bytes::new()),
            Err(CursorShapeError::Empty)
        );
        assert_eq!(
            CursorShape::new(2, 2, 0, 0, Bytes::from(vec![0; 15])),
            Err(CursorShapeError::WrongLength { len: 15, needed: 16 })
        );
        assert!(matches!(
            CursorShape::new(1000, 2, 0, 0, Bytes::new()),
            Err(CursorShapeError::TooLarge { .. })
        ));
        let s = CursorShape::new(4, 4, 9, -3, Bytes::from(vec![0; 64])).unwrap();
        assert_eq!((s.hotspot_x, s.hotspot_y), (3, 0));
    }
}
