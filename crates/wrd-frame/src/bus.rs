//! A latest-frame-wins channel with damage history.
//!
//! `tokio::sync::watch` carries the newest frame (a publish never waits for anyone). Beside it,
//! a short history of each published frame's damage lets a subscriber that skipped frames
//! compute the union of everything that changed since the frame it last saw. If it fell further
//! behind than the history reaches, it is told to repaint everything.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::watch;

use crate::rect::accumulate_damage;
use crate::{Cursor, DesktopLayout, Frame, FrameError, NewFrame, Rect};

/// How many frames of damage history a bus keeps: at 60 fps, about two seconds.
const HISTORY_LEN: usize = 128;

/// Past this many rectangles a subscriber's merged damage collapses into its bounding box.
const MAX_DAMAGE_RECTS: usize = 32;

#[derive(Debug)]
struct HistoryEntry {
    seq: u64,
    width: u16,
    height: u16,
    /// Empty = the whole frame.
    damage: Vec<Rect>,
}

#[derive(Debug, Default)]
struct Shared {
    history: Mutex<VecDeque<HistoryEntry>>,
    /// Live [`FrameSubscriber`]s (clients), not counting [`FrameBus`] handles.
    subscribers: AtomicUsize,
}

/// Read side of a bus: clone it freely, [`subscribe`](Self::subscribe) once per client.
#[derive(Debug, Clone)]
pub struct FrameBus {
    rx: watch::Receiver<Option<Arc<Frame>>>,
    layout: watch::Receiver<Option<DesktopLayout>>,
    cursor: watch::Receiver<Option<Cursor>>,
    shared: Arc<Shared>,
}

/// Write side of a bus: owned by exactly one frame source. Dropping it ends every subscription.
#[derive(Debug)]
pub struct FramePublisher {
    tx: watch::Sender<Option<Arc<Frame>>>,
    layout: watch::Sender<Option<DesktopLayout>>,
    /// `None` until the source reports a pointer: sources whose frames carry the pointer drawn
    /// in never do, and clients then keep their own pointer untouched.
    cursor: watch::Sender<Option<Cursor>>,
    shared: Arc<Shared>,
    next_seq: u64,
}

/// One client's view of the desktop's pointer. Separate from [`FrameSubscriber`] so that a
/// display can wait on both at once.
#[derive(Debug)]
pub struct CursorSubscriber {
    rx: watch::Receiver<Option<Cursor>>,
}

/// One client's view of a bus.
#[derive(Debug)]
pub struct FrameSubscriber {
    rx: watch::Receiver<Option<Arc<Frame>>>,
    shared: Arc<Shared>,
    /// Sequence of the last frame handed out; 0 before the first.
    last_seq: u64,
    last_size: Option<(u16, u16)>,
    skipped_total: u64,
}

/// What a subscriber must send: the newest frame and the regions that changed since the
/// subscriber's previous update.
#[derive(Debug, Clone)]
pub struct FrameUpdate {
    pub frame: Arc<Frame>,
    /// Never empty: a full repaint is the frame's bounds.
    pub damage: Vec<Rect>,
    /// The frame size differs from the previous update's (or this is the first update).
    pub size_changed: bool,
    /// Frames published since the previous update that this subscriber never saw.
    pub skipped: u64,
}

impl FrameBus {
    pub fn new() -> (FramePublisher, FrameBus) {
        let (tx, rx) = watch::channel(None);
        let (layout_tx, layout_rx) = watch::channel(None);
        let (cursor_tx, cursor_rx) = watch::channel(None);
        let shared = Arc::new(Shared::default());
        let publisher = FramePublisher {
            tx,
            layout: layout_tx,
            cursor: cursor_tx,
            shared: Arc::clone(&shared),
            next_seq: 1,
        };
        let bus = FrameBus {
            rx,
            layout: layout_rx,
            cursor: cursor_rx,
            shared,
        };
        (publisher, bus)
    }

    /// A pointer subscription: the current pointer (if the source reported one) counts as
    /// unseen.
    pub fn subscribe_cursor(&self) -> CursorSubscriber {
        let mut rx = self.cursor.clone();
        if rx.borrow().is_some() {
            rx.mark_changed();
        }
        CursorSubscriber { rx }
    }

    /// The desktop's size: the newest frame's, else the size the source announced.
    pub fn desktop_size(&self) -> Option<(u16, u16)> {
        if let Some(frame) = self.rx.borrow().as_ref() {
            return Some((frame.width, frame.height));
        }
        self.layout.borrow().as_ref().map(|l| (l.width, l.height))
    }

    /// The layout the source announced (monitor positions), if it did.
    pub fn layout(&self) -> Option<DesktopLayout> {
        self.layout.borrow().clone()
    }

    /// Waits until the desktop's size is known (a frame or an announcement); `None` if the
    /// publisher is gone first.
    pub async fn wait_desktop_size(&self) -> Option<(u16, u16)> {
        self.wait_desktop_size_where(|_| true).await
    }

    /// Waits until the desktop's size is known and `wanted` accepts it (a resized desktop's
    /// first frame or announcement); with the publisher gone, the size as it is.
    pub async fn wait_desktop_size_where(&self, wanted: impl Fn((u16, u16)) -> bool) -> Option<(u16, u16)> {
        let mut frames = self.rx.clone();
        let mut layout = self.layout.clone();
        loop {
            if let Some(size) = self.desktop_size().filter(|s| wanted(*s)) {
                return Some(size);
            }
            tokio::select! {
                changed = frames.changed() => if changed.is_err() { return self.desktop_size() },
                changed = layout.changed() => if changed.is_err() { return self.desktop_size() },
            }
        }
    }

    /// Waits until the announced layout is not `seen` (a new one, sizes or monitors) and
    /// returns it; `None` once the publisher is gone. Unlike [`Self::desktop_size`], this sees
    /// a new size as soon as the source announces it, before any frame of that size.
    pub async fn next_layout(&self, seen: Option<&DesktopLayout>) -> Option<DesktopLayout> {
        let mut layout = self.layout.clone();
        loop {
            let current = layout.borrow_and_update().clone();
            if current.is_some() && current.as_ref() != seen {
                return current;
            }
            if layout.changed().await.is_err() {
                return None;
            }
        }
    }

    pub fn subscribe(&self) -> FrameSubscriber {
        let mut rx = self.rx.clone();
        // The current value counts as unseen for a new subscriber.
        rx.mark_changed();
        self.shared.subscribers.fetch_add(1, Ordering::Relaxed);
        FrameSubscriber {
            rx,
            shared: Arc::clone(&self.shared),
            last_seq: 0,
            last_size: None,
            skipped_total: 0,
        }
    }

    /// The newest frame, if any was published.
    pub fn latest(&self) -> Option<Arc<Frame>> {
        self.rx.borrow().clone()
    }

    /// Waits until a frame has been published (or the publisher is gone: `None`).
    pub async fn first_frame(&self) -> Option<Arc<Frame>> {
        let mut rx = self.rx.clone();
        match rx.wait_for(Option::is_some).await {
            Ok(frame) => frame.clone(),
            Err(_) => None,
        }
    }
}

impl FramePublisher {
    /// Publishes a frame and returns its sequence number. Never waits for subscribers.
    pub fn publish(&mut self, frame: NewFrame) -> Result<u64, FrameError> {
        frame.validate()?;
        let seq = self.next_seq;
        self.next_seq += 1;
        let entry = HistoryEntry {
            seq,
            width: frame.width,
            height: frame.height,
            damage: frame.damage.clone(),
        };
        {
            let mut history = self.shared.history.lock().unwrap_or_else(PoisonError::into_inner);
            if history.len() == HISTORY_LEN {
                history.pop_front();
            }
            history.push_back(entry);
        }
        let frame = Frame {
            seq,
            width: frame.width,
            height: frame.height,
            stride: frame.stride,
            format: frame.format,
            data: frame.data,
            damage: frame.damage,
            captured_at: frame.captured_at,
        };
        // `send_replace` stores the value even when nobody subscribes yet.
        self.tx.send_replace(Some(Arc::new(frame)));
        Ok(seq)
    }

    /// Announces the desktop's geometry before (or between) frames, so that clients can be
    /// offered the right size without waiting for a picture: some desktops send frames only
    /// when something changes.
    pub fn announce_layout(&mut self, layout: DesktopLayout) {
        self.layout.send_if_modified(|current| {
            let changed = current.as_ref() != Some(&layout);
            *current = Some(layout);
            changed
        });
    }

    /// Reports the desktop's pointer; subscribers are woken only when it changed.
    pub fn publish_cursor(&mut self, cursor: Cursor) {
        self.cursor.send_if_modified(|current| {
            let changed = current.as_ref() != Some(&cursor);
            *current = Some(cursor);
            changed
        });
    }

    /// How many subscribers (clients) currently watch this bus. A source may skip work
    /// while this is zero.
    pub fn subscriber_count(&self) -> usize {
        self.shared.subscribers.load(Ordering::Relaxed)
    }
}

impl CursorSubscriber {
    /// Waits for the pointer to change and returns it. `None` once the publisher is gone.
    ///
    /// Cancel-safe: `watch::Receiver::changed` is, and the value is read after it.
    pub async fn next(&mut self) -> Option<Cursor> {
        loop {
            self.rx.changed().await.ok()?;
            if let Some(cursor) = self.rx.borrow_and_update().clone() {
                return Some(cursor);
            }
        }
    }
}

impl Drop for FrameSubscriber {
    fn drop(&mut self) {
        self.shared.subscribers.fetch_sub(1, Ordering::Relaxed);
    }
}

impl FrameSubscriber {
    /// Waits for a frame newer than the last one returned. `None` once the publisher is gone.
    ///
    /// Cancel-safe: the subscriber's state changes only after the wait has completed, in code
    /// without an await point, so dropping the future at any await loses nothing.
    pub async fn next(&mut self) -> Option<FrameUpdate> {
        loop {
            let latest = self.rx.borrow_and_update().clone();
            if let Some(frame) = latest
                && frame.seq != self.last_seq
            {
                return Some(self.take(frame));
            }
            if self.rx.changed().await.is_err() {
                return None;
            }
        }
    }

    /// The update for the newest frame if one arrived since the last call, without waiting.
    pub fn try_next(&mut self) -> Option<FrameUpdate> {
        let latest = self.rx.borrow_and_update().clone()?;
        (latest.seq != self.last_seq).then(|| self.take(latest))
    }

    /// Forgets what this subscriber has seen: the next update repaints the whole frame
    /// (a client asked for a refresh, or its picture was reset).
    pub fn request_full_refresh(&mut self) {
        self.last_size = None;
        self.rx.mark_changed();
        self.last_seq = 0;
    }

    /// Frames skipped over the life of this subscriber (the client was slower than the source).
    pub fn skipped_total(&self) -> u64 {
        self.skipped_total
    }

    fn take(&mut self, frame: Arc<Frame>) -> FrameUpdate {
        let size = (frame.width, frame.height);
        let size_changed = self.last_size != Some(size);
        let skipped = if self.last_seq == 0 {
            0
        } else {
            frame.seq.saturating_sub(self.last_seq + 1)
        };
        let damage = if size_changed {
            vec![frame.bounds()]
        } else {
            self.damage_since(&frame)
        };
        self.last_seq = frame.seq;
        self.last_size = Some(size);
        self.skipped_total += skipped;
        FrameUpdate {
            frame,
            damage,
            size_changed,
            skipped,
        }
    }

    /// The union of the damage of every frame after `last_seq` up to and including `frame`.
    fn damage_since(&self, frame: &Frame) -> Vec<Rect> {
        let bounds = frame.bounds();
        let full = vec![bounds];
        if self.last_seq == 0 {
            return full;
        }
        let history = self.shared.history.lock().unwrap_or_else(PoisonError::into_inner);
        let first_needed = self.last_seq + 1;
        match history.front() {
            Some(oldest) if oldest.seq <= first_needed => {}
            // Fell behind the history: repaint everything.
            _ => return full,
        }
        let mut damage = Vec::new();
        for entry in history
            .iter()
            .filter(|e| e.seq >= first_needed && e.seq <= frame.seq)
        {
            if (entry.width, entry.height) != (frame.width, frame.height) || entry.damage.is_empty() {
                return full;
            }
            for rect in &entry.damage {
                accumulate_damage(&mut damage, *rect, bounds, MAX_DAMAGE_RECTS);
            }
        }
        if damage.is_empty() {
            // Frames with damage entirely off-screen still count as a new picture.
            return full;
        }
        damage
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use bytes::Bytes;

    use super::*;
    use crate::PixelFormat;

    fn frame(w: u16, h: u16, damage: Vec<Rect>) -> NewFrame {
        let stride = usize::from(w) * 4;
        NewFrame {
            width: w,
            height: h,
            stride,
            format: PixelFormat::Bgrx,
            data: Bytes::from(vec![0u8; stride * usize::from(h)]),
            damage,
            captured_at: Instant::now(),
        }
    }

    #[tokio::test]
    async fn first_update_is_full_then_damage_only() {
        let (mut publisher, bus) = FrameBus::new();
        let mut sub = bus.subscribe();
        publisher.publish(frame(100, 50, vec![])).unwrap();
        let first = sub.next().await.unwrap();
        assert!(first.size_changed);
        assert_eq!(first.damage, vec![Rect::new(0, 0, 100, 50)]);

        publisher
            .publish(frame(100, 50, vec![Rect::new(1, 2, 3, 4)]))
            .unwrap();
        let second = sub.next().await.unwrap();
        assert!(!second.size_changed);
        assert_eq!(second.damage, vec![Rect::new(1, 2, 3, 4)]);
        assert_eq!(second.skipped, 0);
    }

    #[tokio::test]
    async fn skipped_frames_merge_their_damage() {
        let (mut publisher, bus) = FrameBus::new();
        let mut sub = bus.subscribe();
        publisher.publish(frame(100, 100, vec![])).unwrap();
        sub.next().await.unwrap();
        publisher
            .publish(frame(100, 100, vec![Rect::new(0, 0, 10, 10)]))
            .unwrap();
        publisher
            .publish(frame(100, 100, vec![Rect::new(50, 50, 10, 10)]))
            .unwrap();
        publisher
            .publish(frame(100, 100, vec![Rect::new(10, 0, 5, 5)]))
            .unwrap();
        let update = sub.next().await.unwrap();
        assert_eq!(update.skipped, 2);
        assert_eq!(update.frame.seq, 4);
        assert_eq!(update.damage.len(), 2);
        assert!(update.damage.contains(&Rect::new(0, 0, 15, 10)));
        assert!(update.damage.contains(&Rect::new(50, 50, 10, 10)));
    }

    #[tokio::test]
    async fn falling_behind_history_repaints_everything() {
        let (mut publisher, bus) = FrameBus::new();
        let mut sub = bus.subscribe();
        publisher.publish(frame(64, 64, vec![])).unwrap();
        sub.next().await.unwrap();
        for _ in 0..HISTORY_LEN + 5 {
            publisher
                .publish(frame(64, 64, vec![Rect::new(0, 0, 1, 1)]))
                .unwrap();
        }
        let update = sub.next().await.unwrap();
        assert_eq!(update.damage, vec![Rect::new(0, 0, 64, 64)]);
    }

    #[tokio::test]
    async fn size_change_is_flagged() {
        let (mut publisher, bus) = FrameBus::new();
        let mut sub = bus.subscribe();
        publisher.publish(frame(64, 64, vec![])).unwrap();
        sub.next().await.unwrap();
        publisher
            .publish(frame(32, 16, vec![Rect::new(0, 0, 1, 1)]))
            .unwrap();
        let update = sub.next().await.unwrap();
        assert!(update.size_changed);
        assert_eq!(update.damage, vec![Rect::new(0, 0, 32, 16)]);
    }

    #[tokio::test]
    async fn late_subscriber_gets_current_frame_and_publisher_drop_ends() {
        let (mut publisher, bus) = FrameBus::new();
        publisher.publish(frame(8, 8, vec![])).unwrap();
        let mut sub = bus.subscribe();
        assert_eq!(sub.next().await.unwrap().frame.seq, 1);
        drop(publisher);
        let ended = tokio::time::timeout(Duration::from_secs(1), sub.next())
            .await
            .unwrap();
        assert!(ended.is_none());
    }

    #[tokio::test]
    async fn next_is_cancel_safe() {
        let (mut publisher, bus) = FrameBus::new();
        let mut sub = bus.subscribe();
        // Cancel a pending wait, then publish: the frame must still arrive.
        assert!(
            tokio::time::timeout(Duration::from_millis(10), sub.next())
                .await
                .is_err()
        );
        publisher.publish(frame(8, 8, vec![])).unwrap();
        assert_eq!(sub.next().await.unwrap().frame.seq, 1);
    }

    #[test]
    fn subscriber_count_counts_clients_only() {
        let (publisher, bus) = FrameBus::new();
        let _second_handle = bus.clone();
        assert_eq!(publisher.subscriber_count(), 0);
        let a = bus.subscribe();
        let b = bus.subscribe();
        assert_eq!(publisher.subscriber_count(), 2);
        drop(a);
        drop(b);
        assert_eq!(publisher.subscriber_count(), 0);
    }

    #[test]
    fn bad_frames_are_refused() {
        let (mut publisher, _bus) = FrameBus::new();
        let mut bad = frame(10, 10, vec![]);
        bad.stride = 8;
        assert_eq!(
            publisher.publish(bad).unwrap_err(),
            FrameError::StrideTooSmall { stride: 8, min: 40 }
        );
        let mut short = frame(10, 10, vec![]);
        short.data = Bytes::from(vec![0u8; 10]);
        assert!(matches!(
            publisher.publish(short),
            Err(FrameError::DataTooShort { .. })
        ));
    }

    #[tokio::test]
    async fn announced_layout_gives_the_size_before_any_frame() {
        let (mut publisher, bus) = FrameBus::new();
        assert_eq!(bus.desktop_size(), None);
        let waiter = tokio::spawn({
            let bus = bus.clone();
            async move { bus.wait_desktop_size().await }
        });
        publisher.announce_layout(DesktopLayout::single(640, 480));
        assert_eq!(waiter.await.unwrap(), Some((640, 480)));
        // A frame's size wins over the announcement.
        publisher.publish(frame(320, 200, vec![])).unwrap();
        assert_eq!(bus.desktop_size(), Some((320, 200)));
        drop(publisher);
        let (publisher, bus) = FrameBus::new();
        drop(publisher);
        assert_eq!(
            bus.wait_desktop_size().await,
            None,
            "a gone publisher ends the wait"
        );
    }

    #[tokio::test]
    async fn a_new_layout_is_seen_when_announced_before_its_frames() {
        let (mut publisher, bus) = FrameBus::new();
        publisher.announce_layout(DesktopLayout::single(640, 480));
        publisher.publish(frame(640, 480, vec![])).unwrap();
        let first = bus.next_layout(None).await;
        assert_eq!(first, Some(DesktopLayout::single(640, 480)));
        let waiter = tokio::spawn({
            let bus = bus.clone();
            async move { bus.next_layout(first.as_ref()).await }
        });
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished(), "the layout seen is not new");
        publisher.announce_layout(DesktopLayout::single(800, 600));
        assert_eq!(waiter.await.unwrap(), Some(DesktopLayout::single(800, 600)));
        // No frame of the new size yet: the desktop's size is still the frame's.
        assert_eq!(bus.desktop_size(), Some((640, 480)));
        drop(publisher);
        assert_eq!(
            bus.next_layout(Some(&DesktopLayout::single(800, 600))).await,
            None,
            "a gone publisher ends the wait"
        );
    }

    #[tokio::test]
    async fn a_resize_is_awaited_until_a_frame_of_the_new_size() {
        let (mut publisher, bus) = FrameBus::new();
        publisher.publish(frame(320, 200, vec![])).unwrap();
        let waiter = tokio::spawn({
            let bus = bus.clone();
            async move { bus.wait_desktop_size_where(|s| s == (640, 480)).await }
        });
        publisher.publish(frame(320, 200, vec![])).unwrap();
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished(), "a frame of the old size ended the wait");
        publisher.publish(frame(640, 480, vec![])).unwrap();
        assert_eq!(waiter.await.unwrap(), Some((640, 480)));
    }

    #[tokio::test]
    async fn cursor_changes_reach_subscribers_once_and_late_ones_get_the_current() {
        use crate::{Cursor, CursorShape};
        let (mut publisher, bus) = FrameBus::new();
        let mut early = bus.subscribe_cursor();
        let shape = Arc::new(CursorShape::new(1, 1, 0, 0, Bytes::from(vec![9; 4])).unwrap());
        let at = |x| Cursor::Visible {
            x,
            y: 5,
            shape: Arc::clone(&shape),
        };
        publisher.publish_cursor(at(1));
        assert_eq!(early.next().await, Some(at(1)));
        // The same pointer again wakes nobody.
        publisher.publish_cursor(at(1));
        publisher.publish_cursor(Cursor::Hidden);
        assert_eq!(early.next().await, Some(Cursor::Hidden));
        let mut late = bus.subscribe_cursor();
        assert_eq!(late.next().await, Some(Cursor::Hidden));
        drop(publisher);
        assert_eq!(early.next().await, None);
    }

    #[tokio::test]
    async fn no_cursor_reported_means_no_cursor_updates() {
        let (publisher, bus) = FrameBus::new();
        let mut sub = bus.subscribe_cursor();
        let waited = tokio::time::timeout(Duration::from_millis(50), sub.next()).await;
        assert!(waited.is_err(), "nothing to report while the source is silent");
        drop(publisher);
    }
}
