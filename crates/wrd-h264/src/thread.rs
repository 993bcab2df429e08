//! One encoder on a thread of its own, fed with the latest frame.
//!
//! Input: a one-frame slot (a mutex held only to swap the frame in or out, plus a condvar).
//! A frame submitted while one is waiting replaces it and its damage is merged in, so the
//! encoder always works on the newest picture and a slow consumer never builds a queue.
//! Output: a bounded tokio channel of encoded frames. Encoded frames cannot be dropped (each
//! predicted frame depends on the ones before it), so when the consumer stops reading, the
//! thread waits on the channel and the slot keeps coalescing: memory stays bounded.
//!
//! Pacing: a consumer that can send only so many frames (a flow-control window) says when it
//! is ready for the next one ([`EncoderOutput::want_next`]). The thread then starts work only
//! while the consumer has asked for more than it was given, so no encoded frame ages in the
//! channel while newer pictures arrive: the one encoded next is the newest when it is needed.

use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use wrd_frame::{Frame, Rect, accumulate_damage};

use crate::{EncodedFrame, EncoderSettings, FrameKind, H264Encoder, H264Error};

/// Damage rectangles kept per waiting frame before they collapse into their bounding box.
const MAX_PENDING_RECTS: usize = 64;

/// Counters of one encoder thread.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EncoderStats {
    pub submitted: u64,
    /// Frames replaced in the slot by a newer one before the encoder took them.
    pub coalesced: u64,
    pub encoded: u64,
    pub idr: u64,
    pub refinements: u64,
    pub bytes: u64,
    pub encode_time: Duration,
}

#[derive(Debug)]
struct Pending {
    frame: Arc<Frame>,
    /// `None`: the whole frame.
    damage: Option<Vec<Rect>>,
}

#[derive(Debug, Default)]
struct State {
    pending: Option<Pending>,
    idr_requested: bool,
    closed: bool,
    stats: EncoderStats,
    /// Results (frames or errors) the consumer is ready for in total since the start; `None`:
    /// not paced, the channel's capacity is the only bound.
    demand: Option<u64>,
    /// Results handed to the channel in total.
    delivered: u64,
}

#[derive(Debug, Default)]
struct Shared {
    state: Mutex<State>,
    wake: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // The lock is held only to move plain data in or out; a panic elsewhere cannot leave
        // it half-updated, so a poisoned lock is still consistent.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Starts encoder threads.
#[derive(Debug)]
pub struct EncoderThread;

impl EncoderThread {
    /// Spawns the thread (named `h264-encoder`). `output_capacity` (at least 1) bounds the
    /// encoded frames waiting for the consumer.
    pub fn spawn(
        settings: EncoderSettings,
        output_capacity: usize,
    ) -> Result<(EncoderInput, EncoderOutput), H264Error> {
        let encoder = H264Encoder::new(settings)?;
        let shared = Arc::new(Shared::default());
        let (tx, rx) = mpsc::channel(output_capacity.max(1));
        let thread_shared = Arc::clone(&shared);
        let output_shared = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("h264-encoder".to_owned())
            .spawn(move || run(encoder, &thread_shared, &tx))
            .map_err(H264Error::Spawn)?;
        Ok((
            EncoderInput {
                shared,
                thread: Some(thread),
            },
            EncoderOutput {
                rx,
                shared: output_shared,
                received: 0,
            },
        ))
    }
}

/// The feeding side. Dropping it stops the thread once its current frame is delivered (or
/// at once if the [`EncoderOutput`] is gone too).
#[derive(Debug)]
pub struct EncoderInput {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl EncoderInput {
    /// Hands the encoder the newest frame; `damage` is what changed since the previously
    /// submitted frame (empty: everything). Never waits for the encoder.
    pub fn submit(&self, frame: Arc<Frame>, damage: &[Rect]) {
        let mut state = self.shared.lock();
        state.stats.submitted += 1;
        let bounds = Rect::new(0, 0, frame.width, frame.height);
        let merged = match state.pending.take() {
            None => (!damage.is_empty()).then(|| damage.to_vec()),
            Some(previous) => {
                state.stats.coalesced += 1;
                let same_size = previous.frame.width == frame.width && previous.frame.height == frame.height;
                match previous.damage {
                    Some(mut rects) if same_size && !damage.is_empty() => {
                        for rect in damage {
                            accumulate_damage(&mut rects, *rect, bounds, MAX_PENDING_RECTS);
                        }
                        Some(rects)
                    }
                    _ => None,
                }
            }
        };
        state.pending = Some(Pending {
            frame,
            damage: merged,
        });
        drop(state);
        self.shared.wake.notify_one();
    }

    /// The next encoded frame will be an IDR (re-encoding the last frame if no new one comes).
    pub fn request_idr(&self) {
        self.shared.lock().idr_requested = true;
        self.shared.wake.notify_one();
    }

    pub fn stats(&self) -> EncoderStats {
        self.shared.lock().stats.clone()
    }
}

impl Drop for EncoderInput {
    fn drop(&mut self) {
        self.shared.lock().closed = true;
        self.shared.wake.notify_one();
        // Join only a thread that has already finished: one blocked handing a frame to a
        // consumer that still exists ends by itself when that consumer reads or goes away.
        if let Some(thread) = self.thread.take_if(|thread| thread.is_finished()) {
            let _ = thread.join();
        }
    }
}

/// The consuming side: encoded frames in order.
#[derive(Debug)]
pub struct EncoderOutput {
    rx: mpsc::Receiver<Result<EncodedFrame, H264Error>>,
    shared: Arc<Shared>,
    /// Results taken from the channel in total.
    received: u64,
}

impl EncoderOutput {
    /// The next encoded frame, or the error encoding a frame gave (the thread goes on with the
    /// next one). `None` once the input is dropped and everything is delivered. Cancel-safe.
    pub async fn recv(&mut self) -> Option<Result<EncodedFrame, H264Error>> {
        let result = self.rx.recv().await;
        self.received += u64::from(result.is_some());
        result
    }

    /// Like [`Self::recv`], without waiting.
    pub fn try_recv(&mut self) -> Option<Result<EncodedFrame, H264Error>> {
        let result = self.rx.try_recv().ok();
        self.received += u64::from(result.is_some());
        result
    }

    /// Paces the encoder from now on: `true` when the consumer could send an encoded frame at
    /// once (the thread may start on the next one), `false` when it could not (the thread
    /// finishes what it is doing, delivers it and then waits, while its input keeps
    /// coalescing). Cheap; call it whenever the answer may have changed.
    pub fn want_next(&self, ready: bool) {
        let demand = self.received + u64::from(ready);
        let mut state = self.shared.lock();
        if state.demand == Some(demand) {
            return;
        }
        state.demand = Some(demand);
        drop(state);
        self.shared.wake.notify_one();
    }
}

enum Work {
    Encode(Pending),
    Reencode(Arc<Frame>),
    Refine,
}

fn run(mut encoder: H264Encoder, shared: &Shared, tx: &mpsc::Sender<Result<EncodedFrame, H264Error>>) {
    let refine_after = encoder.settings().refine_after;
    let mut last_frame: Option<Arc<Frame>> = None;
    let mut last_activity = Instant::now();
    // A refinement that failed is not retried until a new frame comes (no busy loop).
    let mut refine_failed = false;
    loop {
        let work = {
            let mut state = shared.lock();
            loop {
                if state.closed {
                    return;
                }
                // Paced and given all it asked for: nothing starts until the consumer asks.
                if state.demand.is_some_and(|demand| state.delivered >= demand) {
                    state = shared.wake.wait(state).unwrap_or_else(PoisonError::into_inner);
                    continue;
                }
                if let Some(pending) = state.pending.take() {
                    if std::mem::take(&mut state.idr_requested) {
                        encoder.request_idr();
                    }
                    break Work::Encode(pending);
                }
                if state.idr_requested
                    && let Some(frame) = last_frame.clone()
                {
                    state.idr_requested = false;
                    encoder.request_idr();
                    break Work::Reencode(frame);
                }
                let refine_at = refine_after
                    .filter(|_| encoder.needs_refinement() && !refine_failed)
                    .map(|after| last_activity + after);
                match refine_at {
                    None => state = shared.wake.wait(state).unwrap_or_else(PoisonError::into_inner),
                    Some(deadline) => {
                        let now = Instant::now();
                        if now >= deadline {
                            break Work::Refine;
                        }
                        state = shared
                            .wake
                            .wait_timeout(state, deadline - now)
                            .unwrap_or_else(PoisonError::into_inner)
                            .0;
                    }
                }
            }
        };
        let result = match work {
            Work::Encode(pending) => {
                last_activity = Instant::now();
                refine_failed = false;
                let result = encoder.encode(&pending.frame, pending.damage.as_deref().unwrap_or(&[]));
                last_frame = Some(pending.frame);
                result
            }
            Work::Reencode(frame) => encoder.encode(&frame, &[]),
            Work::Refine => {
                let result = encoder.refine();
                refine_failed = result.is_err();
                result
            }
        };
        let outcome = match result {
            Ok(None) => continue,
            Ok(Some(encoded)) => {
                let mut state = shared.lock();
                state.stats.encoded += 1;
                state.stats.bytes += encoded.data.len() as u64;
                state.stats.encode_time += encoded.encode_time;
                match encoded.kind {
                    FrameKind::Idr => state.stats.idr += 1,
                    FrameKind::Refinement => state.stats.refinements += 1,
                    FrameKind::Predicted => {}
                }
                Ok(encoded)
            }
            Err(err) => {
                tracing::warn!(error = %err, "H.264 encoding failed; waiting for the next frame");
                Err(err)
            }
        };
        shared.lock().delivered += 1;
        if tx.blocking_send(outcome).is_err() {
            return;
        }
    }
}
