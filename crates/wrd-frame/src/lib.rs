//! Frames as they travel from a frame source (PipeWire capture, the test pattern) to the RDP
//! sessions, and the [`FrameBus`] that carries them.
//!
//! This crate knows no outside system: no PipeWire, no IronRDP, no sockets. It owns the rules
//! every display path relies on:
//!
//! - a [`Frame`] is immutable once published and shared by all clients (`Arc`, `Bytes`);
//! - the bus keeps only the latest frame: a slow client skips frames, never queues them;
//! - a client that skipped frames still learns the union of their damage, so no change is lost.

mod bus;
mod cursor;
mod rect;

use std::time::Instant;

use bytes::Bytes;

pub use crate::bus::{CursorSubscriber, FrameBus, FramePublisher, FrameSubscriber, FrameUpdate};
pub use crate::cursor::{Cursor, CursorShape, CursorShapeError, MAX_CURSOR_SIZE};
pub use crate::rect::{Rect, accumulate_damage};

/// Byte order of a 32-bit pixel as it sits in memory (the names follow SPA/DRM "in memory" order:
/// `Bgrx` means byte 0 is blue).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PixelFormat {
    Bgrx,
    Bgra,
    Rgbx,
    Rgba,
    Xrgb,
    Argb,
    Xbgr,
    Abgr,
}

impl PixelFormat {
    pub const BYTES_PER_PIXEL: usize = 4;
}

/// One complete picture of the desktop, plus what changed since the previous one.
#[derive(Debug, Clone)]
pub struct Frame {
    /// Strictly increasing per bus, assigned by [`FramePublisher::publish`].
    pub seq: u64,
    pub width: u16,
    pub height: u16,
    /// Bytes per row; at least `width * 4`.
    pub stride: usize,
    pub format: PixelFormat,
    /// `stride * height` bytes.
    pub data: Bytes,
    /// Regions that differ from the previous frame on the same bus. Empty means "unknown": the
    /// whole frame is treated as damaged.
    pub damage: Vec<Rect>,
    pub captured_at: Instant,
}

/// The desktop's geometry as a source announces it, before or beside its frames.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DesktopLayout {
    pub width: u16,
    pub height: u16,
    /// Where each captured monitor sits in the desktop, in the source's order. One monitor
    /// covering everything for a single-stream source.
    pub monitors: Vec<Rect>,
}

impl DesktopLayout {
    /// One monitor filling the desktop.
    pub fn single(width: u16, height: u16) -> Self {
        Self {
            width,
            height,
            monitors: vec![Rect::new(0, 0, width, height)],
        }
    }
}

/// The parts of a [`Frame`] a source provides; the bus assigns the sequence number.
#[derive(Debug, Clone)]
pub struct NewFrame {
    pub width: u16,
    pub height: u16,
    pub stride: usize,
    pub format: PixelFormat,
    pub data: Bytes,
    pub damage: Vec<Rect>,
    pub captured_at: Instant,
}

/// Why a frame was refused by [`FramePublisher::publish`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FrameError {
    ZeroSize,
    StrideTooSmall { stride: usize, min: usize },
    DataTooShort { len: usize, needed: usize },
}

impl std::fmt::Display for FrameError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::ZeroSize => write!(f, "frame has zero width or height"),
            Self::StrideTooSmall { stride, min } => {
                write!(f, "frame stride {stride} is smaller than width*4 = {min}")
            }
            Self::DataTooShort { len, needed } => {
                write!(f, "frame data has {len} bytes, stride*height needs {needed}")
            }
        }
    }
}

impl std::error::Error for FrameError {}

impl NewFrame {
    fn validate(&self) -> Result<(), FrameError> {
        if self.width == 0 || self.height == 0 {
            return Err(FrameError::ZeroSize);
        }
        let min = usize::from(self.width) * PixelFormat::BYTES_PER_PIXEL;
        if self.stride < min {
            return Err(FrameError::StrideTooSmall {
                stride: self.stride,
                min,
            });
        }
        let needed = self.stride * usize::from(self.height);
        if self.data.len() < needed {
            return Err(FrameError::DataTooShort {
                len: self.data.len(),
                needed,
            });
        }
        Ok(())
    }
}

impl Frame {
    /// The full frame as a rectangle.
    pub fn bounds(&self) -> Rect {
        Rect::new(0, 0, self.width, self.height)
    }
}
