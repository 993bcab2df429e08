//! Frames from the [`FrameBus`] become IronRDP display updates.
//!
//! Each client gets its own [`FrameSubscriber`]: the bus hands it the newest frame and the
//! merged damage since the frame it last sent. The damaged regions go to IronRDP as bitmaps
//! that borrow the shared frame's bytes (no copy); IronRDP's encoder then compares them tile by
//! tile against what this client already has and encodes only tiles that differ (RemoteFX or
//! bitmap, whichever the client negotiated). A slow client simply asks for its next update
//! later and receives one coalesced update: nothing queues up behind it.

use std::collections::VecDeque;
use std::num::{NonZeroU16, NonZeroUsize};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use ironrdp_server::{
    BitmapUpdate, DesktopSize, DisplayUpdate, PixelFormat as RdpPixelFormat, RdpServerDisplay,
    RdpServerDisplayUpdates,
};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::{debug, trace};
use wrd_frame::{Frame, FrameBus, FrameSubscriber, PixelFormat, Rect};

/// How long `size()` waits for the source's first frame before falling back to the nominal
/// size (a client must not hang in the handshake because a source is slow to start).
const FIRST_FRAME_WAIT: Duration = Duration::from_secs(5);

/// Size reported when the source has not produced a frame yet.
const FALLBACK_SIZE: DesktopSize = DesktopSize {
    width: 1024,
    height: 768,
};

/// One client's display: the source of its updates.
#[derive(Debug)]
pub struct WrdDisplayHandler {
    bus: FrameBus,
    /// Shortest time between two frames sent to this client (from `max_fps`).
    min_frame_interval: Duration,
    /// Cancelled (used as a one-shot latch) when IronRDP first asks for updates: the
    /// connection sequence, authentication included, is complete.
    activated: CancellationToken,
}

impl WrdDisplayHandler {
    /// `max_fps` caps the frames per second sent to this client (at least 1); a faster source
    /// is coalesced, a slower one is followed as it is.
    pub fn new(bus: FrameBus, activated: CancellationToken, max_fps: u32) -> Self {
        let min_frame_interval = Duration::from_secs(1) / max_fps.max(1);
        Self {
            bus,
            min_frame_interval,
            activated,
        }
    }
}

#[async_trait::async_trait]
impl RdpServerDisplay for WrdDisplayHandler {
    async fn size(&mut self) -> DesktopSize {
        let frame = match self.bus.latest() {
            Some(frame) => Some(frame),
            None => tokio::time::timeout(FIRST_FRAME_WAIT, self.bus.first_frame())
                .await
                .ok()
                .flatten(),
        };
        match frame {
            Some(frame) => DesktopSize {
                width: frame.width,
                height: frame.height,
            },
            None => FALLBACK_SIZE,
        }
    }

    async fn updates(&mut self) -> anyhow::Result<Box<dyn RdpServerDisplayUpdates>> {
        self.activated.cancel();
        let subscriber = self.bus.subscribe();
        let current = self.size().await;
        Ok(Box::new(DisplayUpdates {
            subscriber,
            pending: VecDeque::new(),
            size: (current.width, current.height),
            min_frame_interval: self.min_frame_interval,
            next_frame_at: None,
        }))
    }
}

/// The update stream of one client between two (re)activations.
#[derive(Debug)]
struct DisplayUpdates {
    subscriber: FrameSubscriber,
    /// Updates computed from one frame but not yet handed to IronRDP. Kept here, not in the
    /// future, so `next_update` stays cancel-safe.
    pending: VecDeque<DisplayUpdate>,
    /// The desktop size this activation was negotiated with.
    size: (u16, u16),
    min_frame_interval: Duration,
    /// Frame pacing: the next frame is not taken before this. Frames published meanwhile are
    /// coalesced by the bus (their damage merged), never queued.
    next_frame_at: Option<Instant>,
}

#[async_trait::async_trait]
impl RdpServerDisplayUpdates for DisplayUpdates {
    async fn next_update(&mut self) -> anyhow::Result<Option<DisplayUpdate>> {
        loop {
            if let Some(update) = self.pending.pop_front() {
                return Ok(Some(update));
            }
            // Cancel-safe: sleeping and `FrameSubscriber::next` are, and the state changes
            // only below the last await.
            if let Some(at) = self.next_frame_at {
                tokio::time::sleep_until(at).await;
            }
            let Some(update) = self.subscriber.next().await else {
                debug!("frame source ended: closing the display stream");
                return Ok(None);
            };
            let frame = &update.frame;
            if (frame.width, frame.height) != self.size {
                debug!(
                    width = frame.width,
                    height = frame.height,
                    "source size changed: resizing the client"
                );
                // IronRDP reactivates the client at the new size and asks for a fresh update
                // stream, whose first update repaints everything.
                return Ok(Some(DisplayUpdate::Resize(DesktopSize {
                    width: frame.width,
                    height: frame.height,
                })));
            }
            self.next_frame_at = Some(Instant::now() + self.min_frame_interval);
            if update.skipped > 0 {
                trace!(
                    skipped = update.skipped,
                    "client slower than the source: frames coalesced"
                );
            }
            for rect in &update.damage {
                self.pending
                    .push_back(DisplayUpdate::Bitmap(bitmap_for(frame, *rect)?));
            }
        }
    }
}

/// A bitmap update for `rect` of `frame` that shares the frame's bytes.
fn bitmap_for(frame: &Arc<Frame>, rect: Rect) -> anyhow::Result<BitmapUpdate> {
    let rect = rect
        .intersect(&frame.bounds())
        .context("damage rectangle lies outside the frame")?;
    let bpp = PixelFormat::BYTES_PER_PIXEL;
    let start = usize::from(rect.y) * frame.stride + usize::from(rect.x) * bpp;
    let end = start + (usize::from(rect.height) - 1) * frame.stride + usize::from(rect.width) * bpp;
    anyhow::ensure!(
        end <= frame.data.len(),
        "damage rectangle {rect:?} reaches past the frame data"
    );
    Ok(BitmapUpdate {
        x: rect.x,
        y: rect.y,
        width: NonZeroU16::new(rect.width).context("empty damage rectangle")?,
        height: NonZeroU16::new(rect.height).context("empty damage rectangle")?,
        format: rdp_pixel_format(frame.format),
        data: frame.data.slice(start..end),
        stride: NonZeroUsize::new(frame.stride).context("zero stride")?,
    })
}

/// Our formats name bytes in memory order, as IronRDP's do.
fn rdp_pixel_format(format: PixelFormat) -> RdpPixelFormat {
    match format {
        PixelFormat::Bgrx => RdpPixelFormat::BgrX32,
        PixelFormat::Bgra => RdpPixelFormat::BgrA32,
        PixelFormat::Rgbx => RdpPixelFormat::RgbX32,
        PixelFormat::Rgba => RdpPixelFormat::RgbA32,
        PixelFormat::Xrgb => RdpPixelFormat::XRgb32,
        PixelFormat::Argb => RdpPixelFormat::ARgb32,
        PixelFormat::Xbgr => RdpPixelFormat::XBgr32,
        PixelFormat::Abgr => RdpPixelFormat::ABgr32,
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use bytes::Bytes;
    use wrd_frame::NewFrame;

    use super::*;

    fn solid(width: u16, height: u16, value: u8, damage: Vec<Rect>) -> NewFrame {
        let stride = usize::from(width) * 4;
        NewFrame {
            width,
            height,
            stride,
            format: PixelFormat::Bgrx,
            data: Bytes::from(vec![value; stride * usize::from(height)]),
            damage,
            captured_at: Instant::now(),
        }
    }

    #[tokio::test]
    async fn first_update_is_whole_frame_then_only_damage() {
        let (mut publisher, bus) = FrameBus::new();
        publisher.publish(solid(64, 32, 1, vec![])).unwrap();
        let mut display = WrdDisplayHandler::new(bus, CancellationToken::new(), 60);
        assert_eq!(
            display.size().await,
            DesktopSize {
                width: 64,
                height: 32
            }
        );
        let mut updates = display.updates().await.unwrap();

        let Some(DisplayUpdate::Bitmap(full)) = updates.next_update().await.unwrap() else {
            panic!()
        };
        assert_eq!(
            (full.x, full.y, full.width.get(), full.height.get()),
            (0, 0, 64, 32)
        );

        publisher
            .publish(solid(64, 32, 2, vec![Rect::new(8, 4, 10, 6)]))
            .unwrap();
        let Some(DisplayUpdate::Bitmap(part)) = updates.next_update().await.unwrap() else {
            panic!()
        };
        assert_eq!(
            (part.x, part.y, part.width.get(), part.height.get()),
            (8, 4, 10, 6)
        );
        assert_eq!(part.stride.get(), 256);
        // The slice starts at the rectangle's first pixel and ends at its last.
        assert_eq!(part.data.len(), 5 * 256 + 10 * 4);
        assert!(part.data.iter().all(|b| *b == 2));
    }

    #[tokio::test]
    async fn size_change_asks_for_resize() {
        let (mut publisher, bus) = FrameBus::new();
        publisher.publish(solid(64, 32, 1, vec![])).unwrap();
        let mut display = WrdDisplayHandler::new(bus, CancellationToken::new(), 60);
        let mut updates = display.updates().await.unwrap();
        updates.next_update().await.unwrap();
        publisher.publish(solid(128, 64, 1, vec![])).unwrap();
        let update = updates.next_update().await.unwrap();
        assert!(matches!(
            update,
            Some(DisplayUpdate::Resize(DesktopSize {
                width: 128,
                height: 64
            }))
        ));
    }

    #[tokio::test]
    async fn source_end_ends_updates() {
        let (mut publisher, bus) = FrameBus::new();
        publisher.publish(solid(64, 32, 1, vec![])).unwrap();
        let mut display = WrdDisplayHandler::new(bus, CancellationToken::new(), 60);
        let mut updates = display.updates().await.unwrap();
        updates.next_update().await.unwrap();
        drop(publisher);
        assert!(updates.next_update().await.unwrap().is_none());
    }

    #[tokio::test(start_paused = true)]
    async fn frames_are_paced_to_max_fps_and_coalesced() {
        let (mut publisher, bus) = FrameBus::new();
        publisher.publish(solid(64, 32, 0, vec![])).unwrap();
        let mut display = WrdDisplayHandler::new(bus, CancellationToken::new(), 30);
        let mut updates = display.updates().await.unwrap();
        // A source at 240 fps for one second, each frame damaging its own column.
        let source = tokio::spawn(async move {
            for i in 0..240u16 {
                tokio::time::sleep(Duration::from_micros(4_167)).await;
                publisher
                    .publish(solid(64, 32, 1, vec![Rect::new(i % 64, 0, 1, 1)]))
                    .unwrap();
            }
            publisher
        });
        let started = tokio::time::Instant::now();
        // Updates from one frame arrive at the same (paused) instant; count the instants.
        let mut frame_times = std::collections::HashSet::new();
        let mut columns = std::collections::HashSet::new();
        while started.elapsed() < Duration::from_millis(1_050) {
            let Ok(update) = tokio::time::timeout(Duration::from_millis(100), updates.next_update()).await
            else {
                continue;
            };
            let Some(DisplayUpdate::Bitmap(bitmap)) = update.unwrap() else {
                panic!()
            };
            if bitmap.width.get() == 64 {
                continue; // the first, full frame
            }
            frame_times.insert(tokio::time::Instant::now());
            for x in bitmap.x..bitmap.x + bitmap.width.get() {
                columns.insert(x);
            }
        }
        let _publisher = source.await.unwrap();
        let frames = frame_times.len();
        assert!(
            (25..=32).contains(&frames),
            "{frames} updates in a second at max_fps 30"
        );
        // Coalesced, not dropped: every column the source damaged was sent.
        assert_eq!(columns.len(), 64);
    }
}
