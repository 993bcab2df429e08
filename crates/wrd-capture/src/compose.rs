//! Several captured monitors composed into one desktop picture (sans-I/O).
//!
//! A desktop with several monitors arrives as one PipeWire stream per monitor. RDP clients
//! are shown one desktop, so each stream's frames are copied, damage only, into a canvas at
//! the monitor's place, and the canvas is published with the damage translated. A single
//! monitor never goes through here: its frames are published as they come (no extra copy).

use std::time::Instant;

use bytes::Bytes;
use wrd_frame::{DesktopLayout, NewFrame, PixelFormat, Rect, accumulate_damage};

/// Past this many rectangles, accumulated damage collapses into its bounding box.
const MAX_DAMAGE_RECTS: usize = 32;

/// Where a monitor sits, as the capture session reports it (logical desktop coordinates,
/// possibly negative) and its size in pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MonitorPlacement {
    pub x: i32,
    pub y: i32,
    pub width: u16,
    pub height: u16,
}

/// Why monitors cannot be composed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ComposeError {
    #[error("no monitor to compose")]
    NoMonitors,
    #[error("the monitors span {width}x{height} pixels, more than an RDP desktop can (65535 per side)")]
    TooLarge { width: i64, height: i64 },
}

/// One stream's pixels, borrowed for a blit.
#[derive(Debug, Clone, Copy)]
pub struct StreamPixels<'a> {
    pub width: u16,
    pub height: u16,
    pub stride: usize,
    pub format: PixelFormat,
    pub data: &'a [u8],
    /// Empty: everything changed.
    pub damage: &'a [Rect],
}

/// The composed desktop: a BGRx canvas and the damage not yet published.
#[derive(Debug)]
pub struct DesktopCompositor {
    /// As reported; sizes follow the streams' actual frames.
    placements: Vec<MonitorPlacement>,
    /// Each monitor's rectangle in canvas coordinates (origin at the top-left-most edge).
    monitors: Vec<Rect>,
    width: u16,
    height: u16,
    canvas: Vec<u8>,
    damage: Vec<Rect>,
}

impl DesktopCompositor {
    pub fn new(placements: Vec<MonitorPlacement>) -> Result<Self, ComposeError> {
        let mut compositor = Self {
            placements,
            monitors: Vec::new(),
            width: 0,
            height: 0,
            canvas: Vec::new(),
            damage: Vec::new(),
        };
        compositor.relayout()?;
        Ok(compositor)
    }

    pub fn layout(&self) -> DesktopLayout {
        DesktopLayout {
            width: self.width,
            height: self.height,
            monitors: self.monitors.clone(),
        }
    }

    /// Recomputes the canvas from the placements; the picture restarts black, all damaged.
    fn relayout(&mut self) -> Result<(), ComposeError> {
        let left = self.placements.iter().map(|p| i64::from(p.x)).min();
        let top = self.placements.iter().map(|p| i64::from(p.y)).min();
        let right = self
            .placements
            .iter()
            .map(|p| i64::from(p.x) + i64::from(p.width))
            .max();
        let bottom = self
            .placements
            .iter()
            .map(|p| i64::from(p.y) + i64::from(p.height))
            .max();
        let (Some(left), Some(top), Some(right), Some(bottom)) = (left, top, right, bottom) else {
            return Err(ComposeError::NoMonitors);
        };
        let (width, height) = (right - left, bottom - top);
        let too_large = ComposeError::TooLarge { width, height };
        let (Ok(w), Ok(h)) = (u16::try_from(width), u16::try_from(height)) else {
            return Err(too_large);
        };
        if w == 0 || h == 0 {
            return Err(ComposeError::NoMonitors);
        }
        let mut monitors = Vec::with_capacity(self.placements.len());
        for p in &self.placements {
            // In range: each offset is below the span, which fits u16.
            let x = u16::try_from(i64::from(p.x) - left).map_err(|_| too_large.clone())?;
            let y = u16::try_from(i64::from(p.y) - top).map_err(|_| too_large.clone())?;
            monitors.push(Rect::new(x, y, p.width, p.height));
        }
        // Keep what each monitor showed: damage-driven desktops may not send the others again.
        let mut canvas = vec![0; usize::from(w) * usize::from(h) * 4];
        let (old_stride, new_stride) = (usize::from(self.width) * 4, usize::from(w) * 4);
        for (old, new) in self.monitors.iter().zip(&monitors) {
            let rows = usize::from(old.height.min(new.height));
            let len = usize::from(old.width.min(new.width)) * 4;
            for row in 0..rows {
                let from = (usize::from(old.y) + row) * old_stride + usize::from(old.x) * 4;
                let to = (usize::from(new.y) + row) * new_stride + usize::from(new.x) * 4;
                if let (Some(src), Some(dst)) =
                    (self.canvas.get(from..from + len), canvas.get_mut(to..to + len))
                {
                    dst.copy_from_slice(src);
                }
            }
        }
        self.monitors = monitors;
        self.width = w;
        self.height = h;
        self.canvas = canvas;
        self.damage = vec![Rect::new(0, 0, w, h)];
        Ok(())
    }

    /// Sets monitor `index`'s size (its stream negotiated a format). Returns whether the
    /// desktop was re-laid out.
    pub fn set_monitor_size(&mut self, index: usize, width: u16, height: u16) -> Result<bool, ComposeError> {
        let Some(placement) = self.placements.get_mut(index) else {
            return Ok(false);
        };
        if (placement.width, placement.height) == (width, height) {
            return Ok(false);
        }
        placement.width = width;
        placement.height = height;
        self.relayout()?;
        Ok(true)
    }

    /// Where monitor `index` sits in the desktop.
    pub fn monitor(&self, index: usize) -> Option<Rect> {
        self.monitors.get(index).copied()
    }

    /// Copies a stream's new frame (its damaged part) into its monitor's place. A frame of a new
    /// size re-lays the desktop out first (returns `Ok(true)`: the desktop size may have
    /// changed and everything is repainted).
    pub fn blit(&mut self, index: usize, pixels: StreamPixels<'_>) -> Result<bool, ComposeError> {
        let relaid = self.set_monitor_size(index, pixels.width, pixels.height)?;
        let Some(monitor) = self.monitors.get(index).copied() else {
            return Ok(relaid);
        };
        let frame_bounds = Rect::new(0, 0, pixels.width, pixels.height);
        let whole = [frame_bounds];
        let damage = if pixels.damage.is_empty() || relaid {
            &whole[..]
        } else {
            pixels.damage
        };
        let canvas_stride = usize::from(self.width) * 4;
        for rect in damage {
            let Some(rect) = rect.intersect(&frame_bounds) else {
                continue;
            };
            for row in 0..usize::from(rect.height) {
                let src_y = usize::from(rect.y) + row;
                let src_start = src_y * pixels.stride + usize::from(rect.x) * 4;
                let len = usize::from(rect.width) * 4;
                let Some(src) = pixels.data.get(src_start..src_start + len) else {
                    break; // a short buffer: the frame bus validated it, so only a bug gets here
                };
                let dst_y = usize::from(monitor.y) + src_y;
                let dst_start = dst_y * canvas_stride + (usize::from(monitor.x) + usize::from(rect.x)) * 4;
                let Some(dst) = self.canvas.get_mut(dst_start..dst_start + len) else {
                    break;
                };
                copy_as_bgrx(src, pixels.format, dst);
            }
            let desktop = Rect::new(monitor.x + rect.x, monitor.y + rect.y, rect.width, rect.height);
            accumulate_damage(
                &mut self.damage,
                desktop,
                Rect::new(0, 0, self.width, self.height),
                MAX_DAMAGE_RECTS,
            );
        }
        Ok(relaid)
    }

    /// The composed picture with the damage since the previous call; `None` when nothing
    /// changed. Copies the canvas: published frames are immutable and shared by every client.
    pub fn take_frame(&mut self, captured_at: Instant) -> Option<NewFrame> {
        if self.damage.is_empty() {
            return None;
        }
        Some(NewFrame {
            width: self.width,
            height: self.height,
            stride: usize::from(self.width) * 4,
            format: PixelFormat::Bgrx,
            data: Bytes::copy_from_slice(&self.canvas),
            damage: std::mem::take(&mut self.damage),
            captured_at,
        })
    }
}

/// Copies one row of pixels in `format` into BGRx.
fn copy_as_bgrx(src: &[u8], format: PixelFormat, dst: &mut [u8]) {
    // Byte index of B, G and R in a source pixel.
    let (b, g, r) = match format {
        PixelFormat::Bgrx | PixelFormat::Bgra => {
            dst.copy_from_slice(src);
            return;
        }
        PixelFormat::Rgbx | PixelFormat::Rgba => (2, 1, 0),
        PixelFormat::Xrgb | PixelFormat::Argb => (3, 2, 1),
        PixelFormat::Xbgr | PixelFormat::Abgr => (1, 2, 3),
    };
    for (d, s) in dst.chunks_exact_mut(4).zip(src.chunks_exact(4)) {
        d[0] = s[b];
        d[1] = s[g];
        d[2] = s[r];
        d[3] = 0xff;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn placement(x: i32, y: i32, width: u16, height: u16) -> MonitorPlacement {
        MonitorPlacement { x, y, width, height }
    }

    fn pixels<'a>(width: u16, height: u16, data: &'a [u8], damage: &'static [Rect]) -> StreamPixels<'a> {
        StreamPixels {
            width,
            height,
            stride: usize::from(width) * 4,
            format: PixelFormat::Bgrx,
            data,
            damage,
        }
    }

    fn pixel(frame: &NewFrame, x: usize, y: usize) -> &[u8] {
        let at = y * frame.stride + x * 4;
        &frame.data[at..at + 4]
    }

    #[test]
    fn two_monitors_side_by_side_with_a_negative_origin() {
        let mut c = DesktopCompositor::new(vec![placement(0, 0, 4, 2), placement(-2, 1, 2, 2)]).unwrap();
        let layout = c.layout();
        assert_eq!((layout.width, layout.height), (6, 3));
        assert_eq!(
            layout.monitors,
            vec![Rect::new(2, 0, 4, 2), Rect::new(0, 1, 2, 2)]
        );
        // The first frame is all black and all damaged.
        let first = c.take_frame(Instant::now()).unwrap();
        assert_eq!(first.damage, vec![Rect::new(0, 0, 6, 3)]);
        assert!(c.take_frame(Instant::now()).is_none(), "nothing new");

        c.blit(1, pixels(2, 2, &[7; 16], &[])).unwrap();
        let frame = c.take_frame(Instant::now()).unwrap();
        assert_eq!(frame.damage, vec![Rect::new(0, 1, 2, 2)]);
        assert_eq!(pixel(&frame, 0, 1), &[7, 7, 7, 7]);
        assert_eq!(pixel(&frame, 1, 2), &[7, 7, 7, 7]);
        assert_eq!(pixel(&frame, 2, 0), &[0, 0, 0, 0]);
    }

    #[test]
    fn damage_is_translated_and_only_damage_is_copied() {
        let mut c = DesktopCompositor::new(vec![placement(0, 0, 4, 4), placement(4, 0, 4, 4)]).unwrap();
        c.take_frame(Instant::now());
        static DAMAGE: [Rect; 1] = [Rect::new(1, 2, 2, 1)];
        c.blit(1, pixels(4, 4, &[9; 64], &DAMAGE)).unwrap();
        let frame = c.take_frame(Instant::now()).unwrap();
        assert_eq!(frame.damage, vec![Rect::new(5, 2, 2, 1)]);
        assert_eq!(pixel(&frame, 5, 2), &[9, 9, 9, 9]);
        assert_eq!(
            pixel(&frame, 4, 2),
            &[0, 0, 0, 0],
            "outside the damage: untouched"
        );
    }

    #[test]
    fn other_formats_become_bgrx() {
        let mut c = DesktopCompositor::new(vec![placement(0, 0, 1, 1), placement(1, 0, 1, 1)]).unwrap();
        let rgba = [10, 20, 30, 40];
        c.blit(
            0,
            StreamPixels {
                format: PixelFormat::Rgba,
                ..pixels(1, 1, &rgba, &[])
            },
        )
        .unwrap();
        let frame = c.take_frame(Instant::now()).unwrap();
        assert_eq!(pixel(&frame, 0, 0), &[30, 20, 10, 0xff]);
    }

    #[test]
    fn a_monitor_changing_size_relays_the_desktop_and_keeps_the_others() {
        let mut c = DesktopCompositor::new(vec![placement(0, 0, 4, 4), placement(4, 0, 4, 4)]).unwrap();
        c.blit(0, pixels(4, 4, &[5; 64], &[])).unwrap();
        c.take_frame(Instant::now());
        assert!(c.blit(1, pixels(8, 4, &[1; 128], &[])).unwrap());
        assert_eq!((c.layout().width, c.layout().height), (12, 4));
        let frame = c.take_frame(Instant::now()).unwrap();
        assert_eq!(frame.damage, vec![Rect::new(0, 0, 12, 4)]);
        assert_eq!(
            pixel(&frame, 3, 3),
            &[5, 5, 5, 5],
            "the first monitor's picture survives"
        );
        assert_eq!(pixel(&frame, 11, 3), &[1, 1, 1, 1]);
    }

    #[test]
    fn impossible_layouts_are_refused() {
        assert_eq!(
            DesktopCompositor::new(vec![]).unwrap_err(),
            ComposeError::NoMonitors
        );
        assert!(matches!(
            DesktopCompositor::new(vec![
                placement(-40_000, 0, 100, 100),
                placement(40_000, 0, 100, 100)
            ]),
            Err(ComposeError::TooLarge { .. })
        ));
    }
}
