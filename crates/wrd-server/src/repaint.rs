//! A picture for every new desktop size, on desktops that send frames only for damage.
//!
//! xdg-desktop-portal-wlr 0.7 captures with wlroots' `copy_with_damage`: a frame comes only
//! once something on the output changed since its previous copy. When the output's size
//! changes, the repaints that follow at once (wallpaper, windows) happen while the portal is
//! still re-negotiating its stream at the new size; they are used up by the copy it drops for
//! the old size, and on a still desktop no frame of the new size comes until something moves.
//! The client would keep the old picture (or none) after every resize. Measured on headless
//! sway: 1 or 2 of 10 resizes of a still desktop stayed without a picture for 20 s.
//!
//! The first frame of a screen cast waits for damage the same way: a still desktop (a headless
//! session before anything runs, a locked screen) sent nothing at all now and then, and the
//! capture watchdog's re-negotiations did not help, the new stream waiting for damage too
//! (seen in CI: no frame in 20 s, three streams).
//!
//! So with wlroots' virtual pointer: when the desktop announces its first size or a new one and
//! no frame of that size comes within [`FRAME_AFTER_RESIZE`], the pointer moves one pixel and
//! back (the input router does it, see [`PointerNudge`]). The cursor's two places are damage,
//! the next copy completes, and the whole picture comes with it; nothing else changes on the
//! desktop.

use std::time::Duration;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};
use wrd_frame::{FrameBus, FrameSubscriber};

/// How long a desktop may take to send its first frame (at all, or at a new size) before it is
/// nudged.
pub const FRAME_AFTER_RESIZE: Duration = Duration::from_millis(300);

/// Nudges tried for one new size before giving up (logged).
const NUDGES: u32 = 3;

/// A request to the input router: move the pointer one pixel and back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PointerNudge;

/// Watches the desktop's announced layout until `shutdown` or the source ends, and asks for a
/// [`PointerNudge`] when the first size, or a new one, stays without a frame (see the module's
/// comment).
pub async fn nudge_after_resizes(
    bus: FrameBus,
    nudges: mpsc::UnboundedSender<PointerNudge>,
    shutdown: CancellationToken,
) {
    let mut seen = bus.layout();
    if let Some(layout) = &seen
        && !await_picture(&bus, (layout.width, layout.height), &nudges, &shutdown).await
    {
        return;
    }
    loop {
        let layout = tokio::select! {
            layout = bus.next_layout(seen.as_ref()) => layout,
            () = shutdown.cancelled() => return,
        };
        let Some(layout) = layout else { return };
        let before = seen.replace(layout.clone());
        let size = (layout.width, layout.height);
        if before.is_some_and(|b| (b.width, b.height) == size) {
            continue;
        }
        if !await_picture(&bus, size, &nudges, &shutdown).await {
            return;
        }
    }
}

/// Waits for a frame of `size` (the desktop's first, or its first after a resize), nudging the
/// pointer when none comes within [`FRAME_AFTER_RESIZE`], at most [`NUDGES`] times. `false`
/// once there is nothing more to watch (shutdown, the source or the input router gone).
async fn await_picture(
    bus: &FrameBus,
    size: (u16, u16),
    nudges: &mpsc::UnboundedSender<PointerNudge>,
    shutdown: &CancellationToken,
) -> bool {
    let mut frames = bus.subscribe();
    if bus
        .latest()
        .is_some_and(|latest| (latest.width, latest.height) == size)
    {
        return true;
    }
    let mut attempt = 0;
    loop {
        let waited = tokio::select! {
            waited = tokio::time::timeout(FRAME_AFTER_RESIZE, frame_of_size(&mut frames, size)) => waited,
            () = shutdown.cancelled() => return false,
        };
        match waited {
            Ok(true) => return true,
            Ok(false) => return false,
            Err(_) if bus.layout().is_some_and(|l| (l.width, l.height) != size) => return true,
            Err(_) if attempt < NUDGES => {
                attempt += 1;
                debug!(
                    width = size.0,
                    height = size.1,
                    attempt,
                    "no frame at the desktop's size yet: nudging the pointer"
                );
                if nudges.send(PointerNudge).is_err() {
                    return false;
                }
            }
            Err(_) => {
                warn!(
                    width = size.0,
                    height = size.1,
                    "the desktop sent no picture at its size, even after {NUDGES} pointer nudges: \
                     clients see it with the next change on the screen"
                );
                return true;
            }
        }
    }
}

/// Waits for a frame of `size`; `false` once the publisher is gone.
async fn frame_of_size(frames: &mut FrameSubscriber, size: (u16, u16)) -> bool {
    loop {
        match frames.next().await {
            Some(update) if (update.frame.width, update.frame.height) == size => return true,
            Some(_) => {}
            None => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use std::time::Instant;

    use wrd_frame::{DesktopLayout, FramePublisher, NewFrame, PixelFormat, Rect};

    use super::*;

    fn frame(width: u16, height: u16) -> NewFrame {
        NewFrame {
            width,
            height,
            stride: usize::from(width) * 4,
            format: PixelFormat::Bgrx,
            data: vec![0; usize::from(width) * usize::from(height) * 4].into(),
            damage: vec![Rect::new(0, 0, width, height)],
            captured_at: Instant::now(),
        }
    }

    fn watch() -> (
        FramePublisher,
        mpsc::UnboundedReceiver<PointerNudge>,
        CancellationToken,
    ) {
        let (publisher, bus) = FrameBus::new();
        let (tx, rx) = mpsc::unbounded_channel();
        let shutdown = CancellationToken::new();
        tokio::spawn(nudge_after_resizes(bus, tx, shutdown.clone()));
        (publisher, rx, shutdown)
    }

    /// Nudges received within `span`.
    async fn nudges_within(nudges: &mut mpsc::UnboundedReceiver<PointerNudge>, span: Duration) -> u32 {
        let mut count = 0;
        let end = tokio::time::Instant::now() + span;
        while let Ok(Some(PointerNudge)) = tokio::time::timeout_at(end, nudges.recv()).await {
            count += 1;
        }
        count
    }

    #[tokio::test(start_paused = true)]
    async fn a_desktop_without_a_first_frame_is_nudged_at_most_three_times() {
        let (mut publisher, mut nudges, shutdown) = watch();
        publisher.announce_layout(DesktopLayout::single(64, 48));
        assert_eq!(nudges_within(&mut nudges, FRAME_AFTER_RESIZE / 2).await, 0);
        assert_eq!(nudges_within(&mut nudges, FRAME_AFTER_RESIZE * 10).await, NUDGES);
        shutdown.cancel();
    }

    #[tokio::test(start_paused = true)]
    async fn a_first_frame_in_time_needs_no_nudge_and_a_resize_without_one_does() {
        let (mut publisher, mut nudges, shutdown) = watch();
        publisher.announce_layout(DesktopLayout::single(64, 48));
        tokio::time::sleep(FRAME_AFTER_RESIZE / 2).await;
        publisher.publish(frame(64, 48)).unwrap();
        assert_eq!(nudges_within(&mut nudges, FRAME_AFTER_RESIZE * 10).await, 0);
        publisher.announce_layout(DesktopLayout::single(80, 60));
        assert_eq!(nudges_within(&mut nudges, FRAME_AFTER_RESIZE * 3 / 2).await, 1);
        publisher.publish(frame(80, 60)).unwrap();
        assert_eq!(nudges_within(&mut nudges, FRAME_AFTER_RESIZE * 10).await, 0);
        shutdown.cancel();
    }
}
