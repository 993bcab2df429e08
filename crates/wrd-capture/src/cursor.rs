//! The desktop's pointer from the streams' cursor metadata (sans-I/O).
//!
//! Each monitor's stream reports the pointer when it is over that monitor (position of the
//! hotspot in the stream's pixels; the image only when it changed). This turns those reports
//! into one desktop pointer: where it is in the composed desktop, and what it looks like.

use std::collections::HashMap;
use std::sync::Arc;

use tracing::warn;
use wrd_frame::{Cursor, CursorShape, Rect};
use wrd_pipewire::CursorInfo;

/// Images remembered by the producer's cursor id; a producer re-selects an image by id
/// without sending it again.
const REMEMBERED_SHAPES: usize = 64;

#[derive(Debug, Default)]
pub struct CursorTracker {
    /// Per stream: the pointer's hotspot in that stream, when the pointer is over it.
    over: Vec<Option<(i32, i32, u32)>>,
    shapes: HashMap<u32, Arc<CursorShape>>,
    refused_shape_logged: bool,
}

impl CursorTracker {
    pub fn new(streams: usize) -> Self {
        Self {
            over: vec![None; streams],
            ..Self::default()
        }
    }

    /// Takes the cursor metadata of a frame of stream `index` (`None`: no pointer over that
    /// monitor) and returns the desktop's pointer, or `None` while it cannot be told yet (no
    /// image seen so far).
    pub fn update(&mut self, index: usize, info: Option<&CursorInfo>, monitors: &[Rect]) -> Option<Cursor> {
        if let Some(info) = info
            && let Some(bitmap) = &info.bitmap
        {
            match CursorShape::new(
                bitmap.width,
                bitmap.height,
                info.hotspot_x,
                info.hotspot_y,
                bitmap.rgba.clone(),
            ) {
                Ok(shape) => {
                    if self.shapes.len() >= REMEMBERED_SHAPES && !self.shapes.contains_key(&info.id) {
                        self.shapes.clear();
                    }
                    self.shapes.insert(info.id, Arc::new(shape));
                }
                // An empty image is how producers hide the pointer.
                Err(wrd_frame::CursorShapeError::Empty) => {
                    self.shapes.remove(&info.id);
                }
                Err(e) => {
                    if !self.refused_shape_logged {
                        warn!(error = %e, "a pointer image from the desktop was refused: the previous one is kept");
                        self.refused_shape_logged = true;
                    }
                }
            }
        }
        if let Some(slot) = self.over.get_mut(index) {
            *slot = info.map(|i| (i.x, i.y, i.id));
        }
        self.desktop_cursor(monitors)
    }

    fn desktop_cursor(&self, monitors: &[Rect]) -> Option<Cursor> {
        let over = self
            .over
            .iter()
            .enumerate()
            .find_map(|(index, over)| over.map(|(x, y, id)| (index, x, y, id)));
        let Some((index, x, y, id)) = over else {
            return Some(Cursor::Hidden);
        };
        let monitor = monitors.get(index)?;
        let Some(shape) = self.shapes.get(&id) else {
            // Over a monitor with an image we never got (or an empty one): nothing to draw.
            return Some(Cursor::Hidden);
        };
        // Positions just outside the monitor happen while the pointer crosses an edge.
        let clamp = |offset: u16, size: u16, v: i32| -> u16 {
            let max = i32::from(size.saturating_sub(1));
            offset.saturating_add(u16::try_from(v.clamp(0, max)).unwrap_or(0))
        };
        Some(Cursor::Visible {
            x: clamp(monitor.x, monitor.width, x),
            y: clamp(monitor.y, monitor.height, y),
            shape: Arc::clone(shape),
        })
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use wrd_pipewire::CursorBitmap;

    use super::*;

    fn info(id: u32, x: i32, y: i32, bitmap: bool) -> CursorInfo {
        CursorInfo {
            id,
            x,
            y,
            hotspot_x: 1,
            hotspot_y: 1,
            bitmap: bitmap.then(|| CursorBitmap {
                width: 2,
                height: 2,
                rgba: Bytes::from(vec![u8::try_from(id).unwrap(); 16]),
            }),
        }
    }

    const MONITORS: [Rect; 2] = [Rect::new(100, 0, 50, 50), Rect::new(0, 0, 100, 50)];

    #[test]
    fn the_pointer_is_placed_in_the_desktop_and_images_are_kept_by_id() {
        let mut t = CursorTracker::new(2);
        let Some(Cursor::Visible { x, y, shape }) = t.update(0, Some(&info(3, 10, 20, true)), &MONITORS)
        else {
            panic!()
        };
        assert_eq!((x, y), (110, 20));
        assert_eq!((shape.hotspot_x, shape.width), (1, 2));
        // A move without an image keeps the image.
        let Some(Cursor::Visible { x, shape: again, .. }) =
            t.update(0, Some(&info(3, 12, 20, false)), &MONITORS)
        else {
            panic!()
        };
        assert_eq!(x, 112);
        assert_eq!(again.id(), shape.id());
        // The pointer leaves monitor 0 for monitor 1.
        t.update(0, None, &MONITORS);
        let Some(Cursor::Visible { x, .. }) = t.update(1, Some(&info(3, 99, 60, false)), &MONITORS) else {
            panic!()
        };
        assert_eq!(x, 99, "clamped to the monitor");
        assert_eq!(t.update(1, None, &MONITORS), Some(Cursor::Hidden));
    }

    #[test]
    fn an_unknown_image_shows_no_pointer() {
        let mut t = CursorTracker::new(1);
        assert_eq!(
            t.update(0, Some(&info(9, 1, 1, false)), &MONITORS),
            Some(Cursor::Hidden)
        );
    }
}
