//! Frames leaving the PipeWire thread, and the latest-wins slot that carries them.
//!
//! The thread copies each frame once out of the PipeWire buffer into a pooled `Vec<u8>`, wraps
//! it in `Bytes` (returned to the pool when the last clone drops) and puts it in the stream's
//! slot. The slot holds at most one frame: a frame not read before the next arrives is
//! replaced, and its damage (and a cursor bitmap change) is merged into the newer one, so a
//! slow consumer skips frames but never misses a change. Publishing takes a mutex held only
//! for a few pointer moves by either side (no await, no I/O under it): the thread never waits
//! for the async side.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use bytes::Bytes;
use tokio::sync::Notify;
use wrd_frame::{NewFrame, PixelFormat, Rect, accumulate_damage};

use crate::StreamId;

/// More damage rectangles than this collapse into their bounding box.
pub const MAX_DAMAGE_RECTS: usize = 32;

/// A cursor bitmap, converted to RGBA (byte order R, G, B, A; straight alpha as sent).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CursorBitmap {
    pub width: u32,
    pub height: u32,
    /// `width * height * 4` bytes, no padding.
    pub rgba: Bytes,
}

/// Cursor metadata of a frame (`SPA_META_Cursor`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CursorInfo {
    /// The compositor's cursor id (changes with the cursor image, source-defined).
    pub id: u32,
    /// Position of the hotspot in frame coordinates.
    pub x: i32,
    pub y: i32,
    pub hotspot_x: i32,
    pub hotspot_y: i32,
    /// Present when the bitmap changed with this frame (or a frame merged into it).
    pub bitmap: Option<CursorBitmap>,
}

/// One captured frame, owned: no PipeWire memory is referenced.
#[derive(Debug, Clone)]
pub struct CapturedFrame {
    pub stream_id: StreamId,
    /// Per-stream sequence number of the buffer this frame came from; a gap means frames were
    /// merged into this one (see `merged`).
    pub seq: u64,
    pub width: u32,
    pub height: u32,
    /// Bytes per row of `data` (the producer's stride, kept).
    pub stride: usize,
    pub format: PixelFormat,
    /// `stride * height` bytes.
    pub data: Bytes,
    /// Changed regions since the previous frame *delivered*. Empty: the whole frame (unknown
    /// damage), following `wrd_frame`'s convention. Meaningless when `pixels_changed` is false.
    pub damage: Vec<Rect>,
    /// False for a cursor-only update: `data` is the previous frame's pixels (shared, not
    /// copied) and nothing in it changed.
    pub pixels_changed: bool,
    pub cursor: Option<CursorInfo>,
    /// When the thread took the buffer from PipeWire.
    pub captured_at: Instant,
    /// `SPA_META_Header` presentation time (CLOCK_MONOTONIC ns for most producers) and
    /// sequence, when the producer sent a header.
    pub pts_ns: Option<i64>,
    pub source_seq: Option<u64>,
    /// How many older frames were merged into this one because the consumer had not read them.
    pub merged: u32,
}

impl CapturedFrame {
    /// The full frame as a rectangle (clamped to `u16`).
    pub fn bounds(&self) -> Rect {
        Rect::new(0, 0, clamp_u16(self.width), clamp_u16(self.height))
    }

    /// Converts into the frame bus's input (cheap: `data` is shared, damage moved). `None` for a
    /// cursor-only update or a size beyond 65535.
    pub fn into_new_frame(self) -> Option<NewFrame> {
        if !self.pixels_changed {
            return None;
        }
        Some(NewFrame {
            width: u16::try_from(self.width).ok()?,
            height: u16::try_from(self.height).ok()?,
            stride: self.stride,
            format: self.format,
            data: self.data,
            damage: self.damage,
            captured_at: self.captured_at,
        })
    }

    /// Adds the changes of `older` (a frame being replaced) to `self`.
    fn absorb(&mut self, older: CapturedFrame) {
        self.merged = self.merged.saturating_add(older.merged).saturating_add(1);
        if older.pixels_changed {
            if !self.pixels_changed {
                // a cursor-only update shares the pixels of the frame before; that frame's
                // damage is what the consumer has not seen yet
                self.pixels_changed = true;
                self.damage = older.damage;
            } else if (older.width, older.height) != (self.width, self.height)
                || older.damage.is_empty()
                || self.damage.is_empty()
            {
                self.damage.clear(); // full frame
            } else {
                let bounds = self.bounds();
                for r in older.damage {
                    accumulate_damage(&mut self.damage, r, bounds, MAX_DAMAGE_RECTS);
                }
            }
        }
        // keep a cursor bitmap change the consumer has not seen
        if let (Some(cur), Some(old)) = (self.cursor.as_mut(), older.cursor)
            && cur.bitmap.is_none()
            && old.bitmap.is_some()
            && old.id == cur.id
        {
            cur.bitmap = old.bitmap;
        }
    }
}

pub(crate) fn clamp_u16(v: u32) -> u16 {
    u16::try_from(v).unwrap_or(u16::MAX)
}

/// Counters of one stream, readable from the async side at any time.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FrameStats {
    /// Buffers taken from PipeWire.
    pub received: u64,
    /// Frames put into the slot.
    pub published: u64,
    /// Frames replaced in the slot before the consumer read them (their damage merged on).
    pub replaced: u64,
    /// Buffers refused (no data, sizes that do not fit the format, unmappable memory).
    pub invalid: u64,
    /// Frames the consumer took.
    pub taken: u64,
    /// Bytes copied out of PipeWire buffers.
    pub bytes_copied: u64,
    /// Time the thread spent copying pixels (sum over all frames), in nanoseconds.
    pub copy_nanos: u64,
}

#[derive(Debug, Default)]
struct Counters {
    received: AtomicU64,
    published: AtomicU64,
    replaced: AtomicU64,
    invalid: AtomicU64,
    taken: AtomicU64,
    bytes_copied: AtomicU64,
    copy_nanos: AtomicU64,
}

/// Why a frame receiver will get no more frames.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StreamClosed {
    #[error("the stream was destroyed")]
    Destroyed,
    #[error("the PipeWire daemon went away: {0}")]
    Disconnected(String),
    #[error("the PipeWire thread shut down")]
    Shutdown,
}

#[derive(Debug, Default)]
struct SlotState {
    pending: Option<CapturedFrame>,
    closed: Option<StreamClosed>,
}

/// Shared between the thread (publisher) and one [`FrameReceiver`].
#[derive(Debug, Default)]
pub(crate) struct FrameSlot {
    state: Mutex<SlotState>,
    notify: Notify,
    counters: Counters,
}

impl FrameSlot {
    fn lock(&self) -> MutexGuard<'_, SlotState> {
        // a poisoned lock only means a panic elsewhere while holding it; the state is still a
        // plain Option, so carry on
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Puts `frame` in the slot, merging a frame not yet read into it. Never waits beyond the
    /// slot's short critical section. Returns the number of frames replaced (0 or 1).
    pub(crate) fn publish(&self, mut frame: CapturedFrame) -> u64 {
        let replaced = {
            let mut st = self.lock();
            if st.closed.is_some() {
                return 0;
            }
            let replaced = match st.pending.take() {
                Some(old) => {
                    frame.absorb(old);
                    1
                }
                None => 0,
            };
            st.pending = Some(frame);
            replaced
        };
        self.counters.published.fetch_add(1, Ordering::Relaxed);
        self.counters.replaced.fetch_add(replaced, Ordering::Relaxed);
        self.notify.notify_one();
        replaced
    }

    /// Ends the stream for the receiver (a frame still pending can be read first).
    pub(crate) fn close(&self, why: StreamClosed) {
        {
            let mut st = self.lock();
            if st.closed.is_none() {
                st.closed = Some(why);
            }
        }
        self.notify.notify_one();
    }

    pub(crate) fn count_received(&self) {
        self.counters.received.fetch_add(1, Ordering::Relaxed);
    }
    pub(crate) fn count_invalid(&self) {
        self.counters.invalid.fetch_add(1, Ordering::Relaxed);
    }
    pub(crate) fn count_copied(&self, n: usize, took: std::time::Duration) {
        self.counters
            .bytes_copied
            .fetch_add(u64::try_from(n).unwrap_or(u64::MAX), Ordering::Relaxed);
        self.counters.copy_nanos.fetch_add(
            u64::try_from(took.as_nanos()).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
    }

    fn stats(&self) -> FrameStats {
        let c = &self.counters;
        FrameStats {
            received: c.received.load(Ordering::Relaxed),
            published: c.published.load(Ordering::Relaxed),
            replaced: c.replaced.load(Ordering::Relaxed),
            invalid: c.invalid.load(Ordering::Relaxed),
            taken: c.taken.load(Ordering::Relaxed),
            bytes_copied: c.bytes_copied.load(Ordering::Relaxed),
            copy_nanos: c.copy_nanos.load(Ordering::Relaxed),
        }
    }
}

/// The async side's end of one stream's frames: always the newest frame, with the merged
/// damage of every frame it replaced.
#[derive(Debug)]
pub struct FrameReceiver {
    stream: StreamId,
    slot: Arc<FrameSlot>,
}

impl FrameReceiver {
    pub(crate) fn new(stream: StreamId) -> (Self, Arc<FrameSlot>) {
        let slot = Arc::new(FrameSlot::default());
        (
            Self {
                stream,
                slot: slot.clone(),
            },
            slot,
        )
    }

    pub fn stream_id(&self) -> StreamId {
        self.stream
    }

    /// Waits for the next frame. Cancel-safe: a frame is taken only when this returns it.
    /// After the stream ends, a frame still pending is returned first, then the reason.
    pub async fn recv(&mut self) -> Result<CapturedFrame, StreamClosed> {
        loop {
            if let Some(r) = self.poll_slot() {
                return r;
            }
            self.slot.notify.notified().await;
        }
    }

    /// The pending frame, if any, without waiting. `Err` once the stream ended and nothing is
    /// pending.
    pub fn try_recv(&mut self) -> Result<Option<CapturedFrame>, StreamClosed> {
        match self.poll_slot() {
            Some(Ok(f)) => Ok(Some(f)),
            Some(Err(e)) => Err(e),
            None => Ok(None),
        }
    }

    fn poll_slot(&self) -> Option<Result<CapturedFrame, StreamClosed>> {
        let mut st = self.slot.lock();
        if let Some(f) = st.pending.take() {
            drop(st);
            self.slot.counters.taken.fetch_add(1, Ordering::Relaxed);
            return Some(Ok(f));
        }
        st.closed.clone().map(Err)
    }

    /// Whether the stream has ended (frames may still be pending).
    pub fn is_closed(&self) -> bool {
        self.slot.lock().closed.is_some()
    }

    pub fn stats(&self) -> FrameStats {
        self.slot.stats()
    }
}

/// Recycles frame buffers: a frame's `Bytes` returns its `Vec` here when its last clone drops,
/// so steady-state capture allocates (and page-faults) nothing.
#[derive(Debug, Clone)]
pub(crate) struct BufferPool {
    inner: Arc<Mutex<Vec<Vec<u8>>>>,
    keep: usize,
}

impl BufferPool {
    pub(crate) fn new(keep: usize) -> Self {
        Self {
            inner: Arc::new(Mutex::new(Vec::new())),
            keep,
        }
    }

    /// A buffer of exactly `len` bytes (contents unspecified: the caller overwrites them).
    pub(crate) fn take(&self, len: usize) -> Vec<u8> {
        let reuse = {
            let mut free = self
                .inner
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let pos = free
                .iter()
                .position(|v| v.capacity() >= len && v.capacity() <= len * 2);
            pos.map(|p| free.swap_remove(p))
        };
        let mut v = reuse.unwrap_or_default();
        if v.capacity() < len {
            v = Vec::with_capacity(len);
        }
        // the caller overwrites every byte it exposes; resizing a reused buffer (returned with
        // its length) to `len` writes only bytes beyond that length
        v.resize(len, 0);
        v
    }

    /// Wraps `buf` so that it comes back to the pool when the last `Bytes` clone drops.
    pub(crate) fn share(&self, buf: Vec<u8>) -> Bytes {
        Bytes::from_owner(Pooled {
            buf,
            pool: self.clone(),
        })
    }

    fn give_back(&self, buf: Vec<u8>) {
        let mut free = self
            .inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        // kept with its length: `take` then only truncates, or extends past the old length
        if free.len() < self.keep {
            free.push(buf);
        }
    }

    #[cfg(test)]
    fn free_count(&self) -> usize {
        self.inner.lock().map(|f| f.len()).unwrap_or(0)
    }
}

struct Pooled {
    buf: Vec<u8>,
    pool: BufferPool,
}

impl AsRef<[u8]> for Pooled {
    fn as_ref(&self) -> &[u8] {
        &self.buf
    }
}

impl Drop for Pooled {
    fn drop(&mut self) {
        self.pool.give_back(std::mem::take(&mut self.buf));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(seq: u64, damage: Vec<Rect>) -> CapturedFrame {
        CapturedFrame {
            stream_id: StreamId(1),
            seq,
            width: 100,
            height: 100,
            stride: 400,
            format: PixelFormat::Bgrx,
            data: Bytes::from(vec![0u8; 40_000]),
            damage,
            pixels_changed: true,
            cursor: None,
            captured_at: Instant::now(),
            pts_ns: None,
            source_seq: None,
            merged: 0,
        }
    }

    #[test]
    fn replaced_frames_merge_their_damage() {
        let (mut rx, slot) = FrameReceiver::new(StreamId(1));
        slot.publish(frame(1, vec![Rect::new(0, 0, 10, 10)]));
        slot.publish(frame(2, vec![Rect::new(50, 50, 10, 10)]));
        slot.publish(frame(3, vec![Rect::new(80, 0, 5, 5)]));
        let f = rx.try_recv().unwrap().unwrap();
        assert_eq!(f.seq, 3);
        assert_eq!(f.merged, 2);
        assert_eq!(f.damage.len(), 3);
        for r in [
            Rect::new(0, 0, 10, 10),
            Rect::new(50, 50, 10, 10),
            Rect::new(80, 0, 5, 5),
        ] {
            assert!(f.damage.contains(&r), "{r:?} missing from {:?}", f.damage);
        }
        assert!(rx.try_recv().unwrap().is_none());
        let s = rx.stats();
        assert_eq!((s.published, s.replaced, s.taken), (3, 2, 1));
    }

    #[test]
    fn full_damage_wins_and_cursor_only_keeps_pixel_damage() {
        let (mut rx, slot) = FrameReceiver::new(StreamId(1));
        slot.publish(frame(1, vec![]));
        slot.publish(frame(2, vec![Rect::new(1, 1, 1, 1)]));
        assert!(rx.try_recv().unwrap().unwrap().damage.is_empty());

        slot.publish(frame(3, vec![Rect::new(5, 5, 5, 5)]));
        let mut cursor_only = frame(4, vec![]);
        cursor_only.pixels_changed = false;
        slot.publish(cursor_only);
        let f = rx.try_recv().unwrap().unwrap();
        assert!(f.pixels_changed);
        assert_eq!(f.damage, vec![Rect::new(5, 5, 5, 5)]);
    }

    #[test]
    fn cursor_bitmap_change_survives_merge() {
        let (mut rx, slot) = FrameReceiver::new(StreamId(1));
        let bitmap = CursorBitmap {
            width: 1,
            height: 1,
            rgba: Bytes::from_static(&[1, 2, 3, 4]),
        };
        let mut a = frame(1, vec![]);
        a.cursor = Some(CursorInfo {
            id: 7,
            x: 1,
            y: 1,
            hotspot_x: 0,
            hotspot_y: 0,
            bitmap: Some(bitmap.clone()),
        });
        let mut b = frame(2, vec![]);
        b.cursor = Some(CursorInfo {
            id: 7,
            x: 9,
            y: 9,
            hotspot_x: 0,
            hotspot_y: 0,
            bitmap: None,
        });
        slot.publish(a);
        slot.publish(b);
        let c = rx.try_recv().unwrap().unwrap().cursor.unwrap();
        assert_eq!((c.x, c.y), (9, 9));
        assert_eq!(c.bitmap, Some(bitmap));
    }

    #[tokio::test]
    async fn recv_wakes_and_reports_close_after_pending() {
        let (mut rx, slot) = FrameReceiver::new(StreamId(3));
        let s2 = slot.clone();
        let h = tokio::spawn(async move { rx.recv().await.map(|f| f.seq).map(|s| (s, rx)) });
        tokio::task::yield_now().await;
        s2.publish(frame(9, vec![]));
        let (seq, mut rx) = h.await.unwrap().unwrap();
        assert_eq!(seq, 9);
        slot.publish(frame(10, vec![]));
        slot.close(StreamClosed::Destroyed);
        assert_eq!(rx.recv().await.unwrap().seq, 10);
        assert_eq!(rx.recv().await.unwrap_err(), StreamClosed::Destroyed);
        assert!(rx.is_closed());
    }

    #[test]
    fn pool_recycles_when_last_clone_drops() {
        let pool = BufferPool::new(2);
        let b = pool.share(pool.take(1000));
        let c = b.clone();
        drop(b);
        assert_eq!(pool.free_count(), 0);
        drop(c);
        assert_eq!(pool.free_count(), 1);
        let v = pool.take(900);
        assert_eq!(v.len(), 900);
        assert!(v.capacity() >= 1000);
        assert_eq!(pool.free_count(), 0);
        // never more than `keep` kept
        let bufs: Vec<Bytes> = (0..4).map(|_| pool.share(pool.take(10))).collect();
        drop(bufs);
        assert_eq!(pool.free_count(), 2);
    }

    #[test]
    fn into_new_frame() {
        let f = frame(1, vec![Rect::new(0, 0, 1, 1)]);
        let n = f.clone().into_new_frame().unwrap();
        assert_eq!((n.width, n.height, n.stride), (100, 100, 400));
        let mut c = f;
        c.pixels_changed = false;
        assert!(c.into_new_frame().is_none());
    }
}
