//! Client pointer positions → a monitor and a position in its stream's coordinates.
//!
//! The client sees one desktop picture: the bounding box of the captured monitors, at the size
//! the client has (the same as the desktop's, or another when the client scales). Desktop
//! backends take absolute positions per stream: Mutter's and the portal's
//! `NotifyPointerMotionAbsolute(stream, x, y)` are in the stream's coordinate space, which is
//! the monitor's size unless the stream is scaled (a HiDPI monitor streamed at its logical
//! size, say), hence a stream size per monitor.
//!
//! - Scaling maps the client's first and last pixel to the desktop's first and last pixel
//!   (`x * (desktop - 1) / (client - 1)`), so that a scaled-down client still reaches the last
//!   row and column, where panels, docks and hot corners wait. With equal sizes it is exact.
//! - A point in no monitor (a gap of an L-shaped or uneven layout, the bounding box being
//!   larger than the monitors) goes to the nearest point of the nearest monitor; ties go to the
//!   earlier monitor in the list (sources list the primary first).
//! - Within a monitor the position scales continuously to the stream size.

/// One captured monitor: its place in the desktop and the size of its stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MonitorArea {
    /// Left edge, in desktop pixels.
    pub x: i32,
    /// Top edge, in desktop pixels.
    pub y: i32,
    /// Width in desktop pixels.
    pub width: u32,
    /// Height in desktop pixels.
    pub height: u32,
    /// Width of the stream's coordinate space.
    pub stream_width: u32,
    /// Height of the stream's coordinate space.
    pub stream_height: u32,
}

impl MonitorArea {
    /// A monitor whose stream has its desktop size.
    pub fn new(x: i32, y: i32, width: u32, height: u32) -> Self {
        Self {
            x,
            y,
            width,
            height,
            stream_width: width,
            stream_height: height,
        }
    }

    /// The same monitor with a stream of another size.
    pub fn with_stream_size(self, stream_width: u32, stream_height: u32) -> Self {
        Self {
            stream_width,
            stream_height,
            ..self
        }
    }
}

/// Why a [`PointerMap`] cannot be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PointerMapError {
    #[error("the desktop has no monitor to point at")]
    NoMonitors,
    #[error("monitor {index} has an empty area or stream ({monitor:?})")]
    EmptyMonitor { index: usize, monitor: MonitorArea },
    #[error("the client's desktop is empty ({width}x{height})")]
    EmptyClient { width: u32, height: u32 },
}

/// Where a client position lands.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PointerTarget {
    /// Index into the monitors the map was made from.
    pub monitor: usize,
    /// Stream coordinates.
    pub x: f64,
    pub y: f64,
}

/// The desktop's monitors as a client of a given size sees them.
#[derive(Debug, Clone, PartialEq)]
pub struct PointerMap {
    monitors: Vec<MonitorArea>,
    /// The bounding box of the monitors, in desktop pixels.
    left: f64,
    top: f64,
    desktop_width: u32,
    desktop_height: u32,
    client_width: u32,
    client_height: u32,
}

impl PointerMap {
    /// `monitors` in the source's order (the index a [`PointerTarget`] names); the client's
    /// desktop size as negotiated.
    pub fn new(
        monitors: Vec<MonitorArea>,
        client_width: u32,
        client_height: u32,
    ) -> Result<Self, PointerMapError> {
        if let Some((index, monitor)) = monitors
            .iter()
            .enumerate()
            .find(|(_, m)| m.width == 0 || m.height == 0 || m.stream_width == 0 || m.stream_height == 0)
        {
            return Err(PointerMapError::EmptyMonitor {
                index,
                monitor: *monitor,
            });
        }
        if client_width == 0 || client_height == 0 {
            return Err(PointerMapError::EmptyClient {
                width: client_width,
                height: client_height,
            });
        }
        let left = monitors
            .iter()
            .map(|m| m.x)
            .min()
            .ok_or(PointerMapError::NoMonitors)?;
        let top = monitors
            .iter()
            .map(|m| m.y)
            .min()
            .ok_or(PointerMapError::NoMonitors)?;
        let right = monitors
            .iter()
            .map(|m| i64::from(m.x) + i64::from(m.width))
            .max()
            .unwrap_or(0);
        let bottom = monitors
            .iter()
            .map(|m| i64::from(m.y) + i64::from(m.height))
            .max()
            .unwrap_or(0);
        Ok(Self {
            monitors,
            left: f64::from(left),
            top: f64::from(top),
            // An i32 edge plus a u32 size minus an i32 edge is below 2^34; the clamp keeps it
            // total for absurd layouts.
            desktop_width: u32::try_from(right - i64::from(left)).unwrap_or(u32::MAX),
            desktop_height: u32::try_from(bottom - i64::from(top)).unwrap_or(u32::MAX),
            client_width,
            client_height,
        })
    }

    pub fn monitors(&self) -> &[MonitorArea] {
        &self.monitors
    }

    /// The bounding box of the monitors, in desktop pixels.
    pub fn desktop_size(&self) -> (u32, u32) {
        (self.desktop_width, self.desktop_height)
    }

    pub fn client_size(&self) -> (u32, u32) {
        (self.client_width, self.client_height)
    }

    /// Where the client's position `(x, y)` lands.
    pub fn map(&self, x: u16, y: u16) -> PointerTarget {
        let desktop_x = self.left + scale(x, self.client_width, self.desktop_width);
        let desktop_y = self.top + scale(y, self.client_height, self.desktop_height);

        let inside = self.monitors.iter().position(|m| {
            let (left, top) = (f64::from(m.x), f64::from(m.y));
            (left..left + f64::from(m.width)).contains(&desktop_x)
                && (top..top + f64::from(m.height)).contains(&desktop_y)
        });
        let (index, px, py) = match inside {
            Some(index) => (index, desktop_x, desktop_y),
            None => self.nearest(desktop_x, desktop_y),
        };
        let Some(monitor) = self.monitors.get(index) else {
            // Unreachable: the map has at least one monitor and both searches return one of
            // them. Monitor 0's origin keeps the function total.
            return PointerTarget {
                monitor: 0,
                x: 0.0,
                y: 0.0,
            };
        };
        PointerTarget {
            monitor: index,
            x: (px - f64::from(monitor.x)) * f64::from(monitor.stream_width) / f64::from(monitor.width),
            y: (py - f64::from(monitor.y)) * f64::from(monitor.stream_height) / f64::from(monitor.height),
        }
    }

    /// The monitor closest to a desktop point outside all of them, and the point moved onto its
    /// nearest pixel.
    fn nearest(&self, x: f64, y: f64) -> (usize, f64, f64) {
        let mut best = (0, x, y, f64::INFINITY);
        for (index, m) in self.monitors.iter().enumerate() {
            let (left, top) = (f64::from(m.x), f64::from(m.y));
            let cx = x.clamp(left, left + f64::from(m.width) - 1.0);
            let cy = y.clamp(top, top + f64::from(m.height) - 1.0);
            let distance = (cx - x).powi(2) + (cy - y).powi(2);
            if distance < best.3 {
                best = (index, cx, cy, distance);
            }
        }
        (best.0, best.1, best.2)
    }
}

/// A client coordinate scaled to the desktop, first and last pixels matching.
fn scale(position: u16, client: u32, desktop: u32) -> f64 {
    if client <= 1 || desktop <= 1 {
        return 0.0;
    }
    let position = f64::from(u32::from(position).min(client - 1));
    position * f64::from(desktop - 1) / f64::from(client - 1)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    fn target(monitor: usize, x: f64, y: f64) -> PointerTarget {
        PointerTarget { monitor, x, y }
    }

    #[test]
    fn one_monitor_at_the_clients_size_is_the_identity() {
        let map = PointerMap::new(vec![MonitorArea::new(0, 0, 1920, 1080)], 1920, 1080).unwrap();
        for (x, y) in [(0, 0), (1, 1), (960, 540), (1919, 1079), (1234, 567)] {
            assert_eq!(map.map(x, y), target(0, f64::from(x), f64::from(y)));
        }
    }

    #[test]
    fn a_smaller_client_reaches_every_edge() {
        let map = PointerMap::new(vec![MonitorArea::new(0, 0, 1920, 1080)], 960, 540).unwrap();
        assert_eq!(map.map(0, 0), target(0, 0.0, 0.0));
        assert_eq!(map.map(959, 539), target(0, 1919.0, 1079.0));
        // The middle scales by 1919/959 and 1079/539.
        let middle = map.map(480, 270);
        assert!((middle.x - 480.0 * 1919.0 / 959.0).abs() < 1e-9);
        assert!((middle.y - 270.0 * 1079.0 / 539.0).abs() < 1e-9);
    }

    #[test]
    fn a_larger_client_is_scaled_down() {
        let map = PointerMap::new(vec![MonitorArea::new(0, 0, 1280, 720)], 2560, 1440).unwrap();
        assert_eq!(map.map(2559, 1439), target(0, 1279.0, 719.0));
        assert_eq!(map.map(0, 0), target(0, 0.0, 0.0));
    }

    #[test]
    fn positions_past_the_clients_size_are_clamped() {
        let map = PointerMap::new(vec![MonitorArea::new(0, 0, 800, 600)], 800, 600).unwrap();
        assert_eq!(map.map(800, 600), target(0, 799.0, 599.0));
        assert_eq!(map.map(u16::MAX, u16::MAX), target(0, 799.0, 599.0));
    }

    #[test]
    fn side_by_side_monitors_get_their_own_coordinates() {
        let monitors = vec![
            MonitorArea::new(0, 0, 1920, 1080),
            MonitorArea::new(1920, 0, 1280, 1024),
        ];
        let map = PointerMap::new(monitors, 3200, 1080).unwrap();
        assert_eq!(map.desktop_size(), (3200, 1080));
        assert_eq!(map.map(1919, 500), target(0, 1919.0, 500.0));
        assert_eq!(map.map(1920, 500), target(1, 0.0, 500.0));
        assert_eq!(map.map(3199, 1023), target(1, 1279.0, 1023.0));
    }

    #[test]
    fn the_gap_below_a_shorter_monitor_goes_to_the_nearest_pixel() {
        let monitors = vec![
            MonitorArea::new(0, 0, 1920, 1080),
            MonitorArea::new(1920, 0, 1280, 1024),
        ];
        let map = PointerMap::new(monitors, 3200, 1080).unwrap();
        // Below the second monitor (rows 1024..1080 there are in no monitor): its bottom row.
        assert_eq!(map.map(2500, 1050), target(1, 580.0, 1023.0));
        // Right next to the first monitor's edge, the first is nearer.
        assert_eq!(map.map(1921, 1079), target(0, 1919.0, 1079.0));
    }

    #[test]
    fn monitors_at_negative_positions_and_gaps_between_them() {
        // A monitor left of the origin, a gap of 100 pixels, one at the origin, lower down.
        let monitors = vec![
            MonitorArea::new(0, 200, 1000, 800),
            MonitorArea::new(-1100, 0, 1000, 800),
        ];
        let map = PointerMap::new(monitors, 2100, 1000).unwrap();
        assert_eq!(map.desktop_size(), (2100, 1000));
        // Client (0, 0) is desktop (-1100, 0): the second monitor's origin.
        assert_eq!(map.map(0, 0), target(1, 0.0, 0.0));
        // Client x 1100 is desktop 0: the first monitor, 200 rows down its top is at client 200.
        assert_eq!(map.map(1100, 200), target(0, 0.0, 0.0));
        // In the gap (desktop x -100..=-1): desktop -70 is 31 from the second monitor's last
        // column and 70 from the first's; desktop -40 is 61 and 40.
        assert_eq!(map.map(1030, 300), target(1, 999.0, 300.0));
        assert_eq!(map.map(1060, 300), target(0, 0.0, 100.0));
    }

    #[test]
    fn a_point_equally_far_from_two_monitors_goes_to_the_earlier_one() {
        // Columns 100..=200 are a gap; column 150 is 51 from both monitors' nearest columns.
        let left = MonitorArea::new(0, 0, 100, 100);
        let right = MonitorArea::new(201, 0, 100, 100);
        let map = PointerMap::new(vec![left, right], 301, 100).unwrap();
        assert_eq!(map.map(150, 50), target(0, 99.0, 50.0));
        let map = PointerMap::new(vec![right, left], 301, 100).unwrap();
        assert_eq!(map.map(150, 50), target(0, 0.0, 50.0));
    }

    #[test]
    fn a_scaled_stream_gets_stream_coordinates() {
        // A 2560x1440 area streamed at 1280x720 (a monitor with scale 2 in logical pixels).
        let monitors = vec![MonitorArea::new(0, 0, 2560, 1440).with_stream_size(1280, 720)];
        let map = PointerMap::new(monitors, 2560, 1440).unwrap();
        assert_eq!(map.map(2000, 1000), target(0, 1000.0, 500.0));
        assert_eq!(map.map(1, 1), target(0, 0.5, 0.5));
    }

    #[test]
    fn bad_geometry_is_refused() {
        assert_eq!(
            PointerMap::new(vec![], 800, 600),
            Err(PointerMapError::NoMonitors)
        );
        let empty = MonitorArea::new(0, 0, 0, 600);
        assert_eq!(
            PointerMap::new(vec![MonitorArea::new(0, 0, 800, 600), empty], 800, 600),
            Err(PointerMapError::EmptyMonitor {
                index: 1,
                monitor: empty
            })
        );
        let no_stream = MonitorArea::new(0, 0, 800, 600).with_stream_size(0, 600);
        assert!(matches!(
            PointerMap::new(vec![no_stream], 800, 600),
            Err(PointerMapError::EmptyMonitor { index: 0, .. })
        ));
        assert_eq!(
            PointerMap::new(vec![MonitorArea::new(0, 0, 800, 600)], 0, 600),
            Err(PointerMapError::EmptyClient {
                width: 0,
                height: 600
            })
        );
    }

    #[test]
    fn a_one_pixel_client_points_at_the_origin() {
        let map = PointerMap::new(vec![MonitorArea::new(0, 0, 800, 600)], 1, 1).unwrap();
        assert_eq!(map.map(0, 0), target(0, 0.0, 0.0));
        assert_eq!(map.map(5, 5), target(0, 0.0, 0.0));
    }
}
