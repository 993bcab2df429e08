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
//! So with wlroots' virtual pointer: when the desktop announces a new size and no frame of that
//! size comes within [`FRAME_AFTER_RESIZE`], the pointer moves one pixel and back (the input
//! router does it, see [`PointerNudge`]). The cursor's two places are damage, the next copy
//! completes, and the whole new picture comes with it; nothing else changes on the desktop.

use std::time::Duration;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};
use wrd_frame::{FrameBus, FrameSubscriber};

/// How long a desktop may take to send its first frame at a new size before it is nudged.
pub const FRAME_AFTER_RESIZE: Duration = Duration::from_millis(300);

/// Nudges tried for one new size before giving up (logged).
const NUDGES: u32 = 3;

/// A request to the input router: move the pointer one pixel and back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PointerNudge;

/// Watches the desktop's announced layout until `shutdown` or the source ends, and asks for a
/// [`PointerNudge`] when a new size stays without a frame (see the module's comment).
pub async fn nudge_after_resizes(
    bus: FrameBus,
    nudges: mpsc::UnboundedSender<PointerNudge>,
    shutdown: CancellationToken,
) {
    let mut seen = bus.layout();
    loop {
        let layout = tokio::select! {
            layout = bus.next_layout(seen.as_ref()) => layout,
            () = shutdown.cancelled() => return,
        };
        let Some(layout) = layout else { return };
        let before = seen.replace(layout.clone());
        let size = (layout.width, layout.height);
        let resized = before.is_some_and(|b| (b.width, b.height) != size);
        // A desktop that never sent a frame is the capture watchdog's business.
        let Some(latest) = bus.latest() else { continue };
        if !resized || (latest.width, latest.height) == size {
            continue;
        }
        let mut frames = bus.subscribe();
        let mut attempt = 0;
        loop {
            let waited = tokio::select! {
                waited = tokio::time::timeout(FRAME_AFTER_RESIZE, frame_of_size(&mut frames, size)) => waited,
                () = shutdown.cancelled() => return,
            };
            match waited {
                Ok(true) => break,
                Ok(false) => return,
                Err(_) if bus.layout().is_some_and(|l| (l.width, l.height) != size) => break,
                Err(_) if attempt < NUDGES => {
                    attempt += 1;
                    debug!(
                        width = size.0,
                        height = size.1,
                        attempt,
                        "no frame at the desktop's new size yet: nudging the pointer"
                    );
                    if nudges.send(PointerNudge).is_err() {
                        return;
                    }
                }
                Err(_) => {
                    warn!(
                        width = size.0,
                        height = size.1,
                        "the desktop sent no picture at its new size, even after {NUDGES} pointer nudges: \
                         clients see it with the next change on the screen"
                    );
                    break;
                }
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
