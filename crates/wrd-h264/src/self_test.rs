//! Whether H.264 works in this build: one small picture through the encoder and back through
//! the decoder, for `doctor` (openh264 is compiled into the binary, so this checks the code and
//! the CPU it runs on, not an installed library).

use std::time::Instant;

use bytes::Bytes;
use wrd_frame::{Frame, PixelFormat, Rect};

use crate::{EncoderSettings, H264Decoder, H264Encoder, H264Error, psnr_bgrx};

/// The self-test picture's side: a few macroblocks.
const SIDE: u16 = 64;

/// The decoded picture must be at least this close to the source (a smooth gradient codes far
/// above it; a broken conversion or codec lands far below).
const MIN_PSNR: f64 = 30.0;

/// What the self-test found.
#[derive(Debug, Clone, PartialEq)]
pub struct SelfTest {
    /// The library and how it is linked.
    pub library: &'static str,
    /// PSNR of the decoded test picture against its source, in dB.
    pub psnr: f64,
}

/// Encodes a 64x64 gradient as an IDR and decodes it again.
pub fn self_test() -> Result<SelfTest, H264Error> {
    let side = usize::from(SIDE);
    let mut pixels = vec![0u8; side * side * 4];
    for (i, px) in pixels.chunks_exact_mut(4).enumerate() {
        let (x, y) = (i % side, i / side);
        // Both fit a byte: x and y are below 64.
        let (x, y) = (
            u8::try_from(x * 4).unwrap_or(u8::MAX),
            u8::try_from(y * 4).unwrap_or(u8::MAX),
        );
        px.copy_from_slice(&[x, y, x / 2 + y / 2, 0xFF]);
    }
    let frame = Frame {
        seq: 0,
        width: SIDE,
        height: SIDE,
        stride: side * 4,
        format: PixelFormat::Bgrx,
        data: Bytes::from(pixels),
        damage: Vec::new(),
        captured_at: Instant::now(),
    };
    let mut encoder = H264Encoder::new(EncoderSettings::default())?;
    let encoded =
        encoder
            .encode(&frame, &[Rect::new(0, 0, SIDE, SIDE)])?
            .ok_or(H264Error::OpenH264Status {
                operation: "self-test encode (no picture)",
                status: 0,
            })?;
    let decoded = H264Decoder::new()?
        .decode(&encoded.data)?
        .ok_or(H264Error::OpenH264Status {
            operation: "self-test decode (no picture)",
            status: 0,
        })?;
    let psnr = psnr_bgrx(
        &frame.data,
        frame.stride,
        &decoded.bgrx,
        decoded.width * 4,
        side,
        side,
    );
    if psnr < MIN_PSNR {
        return Err(H264Error::Convert(format!(
            "self-test picture came back at {psnr:.1} dB (at least {MIN_PSNR} expected)"
        )));
    }
    Ok(SelfTest {
        library: "openh264, built into this binary",
        psnr,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    #[test]
    fn the_self_test_passes_on_a_working_build() {
        let result = self_test().unwrap();
        assert!(result.psnr >= MIN_PSNR, "{result:?}");
    }
}
