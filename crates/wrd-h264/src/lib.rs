//! H.264 for the desktop: the one crate that knows openh264 and the colour conversion.
//!
//! - [`H264Encoder`] turns BGRx frames into Annex-B access units (what EGFX AVC420 carries).
//!   Only the damaged macroblocks are converted to I420; a frame without damage costs nothing.
//!   It sends an IDR on start, on resize, on request and periodically, and a high-quality
//!   refinement IDR once motion stops so text ends up sharp.
//! - [`EncoderThread`] runs one encoder on a thread of its own, fed with the latest frame: a
//!   frame submitted while the encoder is busy replaces the waiting one (its damage is merged),
//!   so a slow client never builds a queue of frames. A consumer with a flow-control window
//!   paces it ([`EncoderOutput::want_next`]) so that nothing is encoded long before it can go.
//! - [`H264Decoder`] decodes the access units back to BGRx (the test client, tests, the bench).
//! - [`psnr_bgrx`] measures how close a decoded picture is to its source.
//! - [`self_test`] checks that H.264 works in this build (`doctor`).
//!
//! No RDP here: the caller maps the [`EncodedFrame`]'s regions to its protocol.

mod convert;
mod decoder;
mod encoder;
mod openh264_encoder;
mod quality;
mod regions;
mod self_test;
mod settings;
pub mod synthetic;
mod thread;

pub use crate::decoder::{DecodedPicture, H264Decoder};
pub use crate::encoder::{EncodedFrame, FrameKind, H264Encoder};
pub use crate::quality::psnr_bgrx;
pub use crate::regions::{MACROBLOCK, align_to_macroblocks};
pub use crate::self_test::{SelfTest, self_test};
pub use crate::settings::{ContentMode, EncoderEffort, EncoderSettings, NetworkProfile};
pub use crate::thread::{EncoderInput, EncoderOutput, EncoderStats, EncoderThread};

/// Why encoding or decoding failed.
#[derive(Debug, thiserror::Error)]
pub enum H264Error {
    #[error("pixel format {0:?} is not supported by the H.264 encoder (BGRx or BGRA only)")]
    UnsupportedFormat(wrd_frame::PixelFormat),
    #[error("frame of {width}x{height} cannot be encoded: {reason}")]
    BadSize {
        width: u16,
        height: u16,
        reason: &'static str,
    },
    #[error(
        "frame buffer holds {actual} bytes, {expected} expected for {width}x{height} with stride {stride}"
    )]
    ShortBuffer {
        width: u16,
        height: u16,
        stride: usize,
        expected: usize,
        actual: usize,
    },
    #[error("colour conversion failed: {0}")]
    Convert(String),
    #[error("openh264 {operation} failed: {source}")]
    OpenH264 {
        operation: &'static str,
        #[source]
        source: openh264::Error,
    },
    #[error("openh264 {operation} returned status {status}")]
    OpenH264Status { operation: &'static str, status: i32 },
    #[error("the encoder thread could not be started: {0}")]
    Spawn(#[source] std::io::Error),
}
