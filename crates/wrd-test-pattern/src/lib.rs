//! A built-in moving test pattern: the frame source used to check an RDP client or a network
//! path without a desktop, and the first thing a new user runs.
//!
//! The pattern travels the same display path as real capture, damage included, so a client that
//! shows it correctly also shows a desktop correctly. Its picture is a pure function of the frame
//! index `n`, which makes it checkable from the other end of the wire:
//!
//! - 8 full-saturation colour bars cover the frame (channels are 0 or 255 only, so even a lossy
//!   codec such as RemoteFX keeps them recognisable);
//! - a grey square with a black border bounces diagonally a few pixels per frame, so motion and
//!   damage handling are visible at a glance;
//! - `n` is drawn as 8 large 7-segment digits in a black box at the top-left corner, readable by
//!   a person and by [`decode_counter`];
//! - under the counter, the echo box takes the next of six colours on each key or button press
//!   at a client (when the driver is given an [`InputEcho`]), optionally after a set delay: the
//!   answer a latency measurement times.
//!
//! The crate has two halves:
//!
//! - the sans-I/O renderer [`TestPattern`] plus the reference helpers [`expected_frame`],
//!   [`decode_counter`] and [`compare`] that tests elsewhere use on client screenshots;
//! - the async driver [`run`] that publishes the frames on a [`wrd_frame::FrameBus`] at a given
//!   rate.
//!
//! The counter shows `n % 100_000_000` (8 digits) and the whole picture is a function of that
//! shown value, so [`compare`] can always rebuild the exact expected picture from what it reads.
//! At 60 fps the counter wraps after about 19 days; the square then jumps once.

mod check;
mod driver;
mod pattern;

pub use crate::check::{Comparison, compare, counter_box, decode_counter};
pub use crate::driver::{InputEcho, run};
pub use crate::pattern::{
    COUNTER_DIGITS, COUNTER_MODULUS, MAX_SIZE, MIN_SIZE, PatternError, Rendered, TestPattern, expected_frame,
};
