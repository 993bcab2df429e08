//! BGRx → I420, region by region, into a picture the encoder keeps between frames.

use wrd_frame::{Frame, PixelFormat, Rect};
use yuv::{BufferStoreMut, YuvConversionMode, YuvPlanarImageMut, YuvRange, YuvStandardMatrix};

use crate::H264Error;

/// The colour space of every picture we encode and decode. RDP's graphics pipeline (and
/// FreeRDP's AVC decoder) use BT.709 with full-range samples.
pub(crate) const RANGE: YuvRange = YuvRange::Full;
pub(crate) const MATRIX: YuvStandardMatrix = YuvStandardMatrix::Bt709;

/// An I420 picture of even size (H.264 4:2:0 needs it; an odd frame leaves one padding
/// column or row, black). Only the damaged regions are rewritten on each frame: the rest
/// still holds the previous frame's samples, which is what the encoder compares against.
#[derive(Debug)]
pub(crate) struct I420Picture {
    width: usize,
    height: usize,
    y: Vec<u8>,
    u: Vec<u8>,
    v: Vec<u8>,
}

impl I420Picture {
    pub(crate) fn new(frame_width: u16, frame_height: u16) -> Self {
        let width = usize::from(frame_width).next_multiple_of(2);
        let height = usize::from(frame_height).next_multiple_of(2);
        Self {
            width,
            height,
            // Black in full range: Y 0, chroma at the midpoint.
            y: vec![0; width * height],
            u: vec![128; width * height / 4],
            v: vec![128; width * height / 4],
        }
    }

    /// Width and height in samples (both even).
    pub(crate) fn size(&self) -> (usize, usize) {
        (self.width, self.height)
    }

    /// The Y, U and V planes: `height` rows of `width` samples, then two planes of
    /// `height / 2` rows of `width / 2`.
    pub(crate) fn planes(&self) -> (&[u8], &[u8], &[u8]) {
        (&self.y, &self.u, &self.v)
    }

    /// Converts `region` of `frame` (x and y even: macroblock-aligned) into the picture.
    pub(crate) fn convert_region(&mut self, frame: &Frame, region: Rect) -> Result<(), H264Error> {
        if region.is_empty() {
            return Ok(());
        }
        let (x, y) = (usize::from(region.x), usize::from(region.y));
        let source_start = y * frame.stride + x * PixelFormat::BYTES_PER_PIXEL;
        let short = || H264Error::ShortBuffer {
            width: frame.width,
            height: frame.height,
            stride: frame.stride,
            expected: source_start,
            actual: frame.data.len(),
        };
        let source = frame.data.get(source_start..).ok_or_else(short)?;
        if region.width.is_multiple_of(2) && region.height.is_multiple_of(2) {
            return self.convert(source, frame.stride, x, y, region);
        }
        // A region ending on an odd edge of the frame: 4:2:0 takes pixels in pairs, so the
        // last column or row is repeated into the picture's padding.
        let even = Rect::new(
            region.x,
            region.y,
            region.width.next_multiple_of(2),
            region.height.next_multiple_of(2),
        );
        let (row_bytes, even_row_bytes) = (usize::from(region.width) * 4, usize::from(even.width) * 4);
        let mut scratch = vec![0u8; even_row_bytes * usize::from(even.height)];
        for (row, target) in scratch.chunks_exact_mut(even_row_bytes).enumerate() {
            let source_row = row.min(usize::from(region.height) - 1) * frame.stride;
            let pixels = source.get(source_row..source_row + row_bytes).ok_or_else(short)?;
            target[..row_bytes].copy_from_slice(pixels);
            if even_row_bytes > row_bytes {
                let (left, right) = target.split_at_mut(row_bytes);
                right.copy_from_slice(&left[row_bytes - 4..]);
            }
        }
        self.convert(&scratch, even_row_bytes, x, y, even)
    }

    fn convert(
        &mut self,
        source: &[u8],
        stride: usize,
        x: usize,
        y: usize,
        region: Rect,
    ) -> Result<(), H264Error> {
        let chroma_stride = self.width / 2;
        let chroma_start = (y / 2) * chroma_stride + x / 2;
        let (y_plane, u_plane, v_plane) = (
            self.y.get_mut(y * self.width + x..),
            self.u.get_mut(chroma_start..),
            self.v.get_mut(chroma_start..),
        );
        let (Some(y_plane), Some(u_plane), Some(v_plane)) = (y_plane, u_plane, v_plane) else {
            return Err(H264Error::Convert(format!(
                "region {region:?} lies outside the picture"
            )));
        };
        let mut target = YuvPlanarImageMut {
            y_plane: BufferStoreMut::Borrowed(y_plane),
            y_stride: to_u32(self.width)?,
            u_plane: BufferStoreMut::Borrowed(u_plane),
            u_stride: to_u32(chroma_stride)?,
            v_plane: BufferStoreMut::Borrowed(v_plane),
            v_stride: to_u32(chroma_stride)?,
            width: u32::from(region.width),
            height: u32::from(region.height),
        };
        // The x byte is ignored either way: BGRx and BGRA convert alike.
        yuv::bgra_to_yuv420(
            &mut target,
            source,
            to_u32(stride)?,
            RANGE,
            MATRIX,
            YuvConversionMode::Balanced,
        )
        .map_err(|err| H264Error::Convert(format!("{region:?}: {err}")))
    }
}

/// Checks that a frame can be converted: a BGRx-like format and a buffer as large as its
/// size and stride promise.
pub(crate) fn check_frame(frame: &Frame) -> Result<(), H264Error> {
    if !matches!(frame.format, PixelFormat::Bgrx | PixelFormat::Bgra) {
        return Err(H264Error::UnsupportedFormat(frame.format));
    }
    if frame.width == 0 || frame.height == 0 {
        return Err(H264Error::BadSize {
            width: frame.width,
            height: frame.height,
            reason: "empty",
        });
    }
    // openh264 codes at most level 5.2.
    let (long, short) = (frame.width.max(frame.height), frame.width.min(frame.height));
    if long > 3840 || short > 2160 {
        return Err(H264Error::BadSize {
            width: frame.width,
            height: frame.height,
            reason: "larger than 3840x2160",
        });
    }
    let row = usize::from(frame.width) * PixelFormat::BYTES_PER_PIXEL;
    let expected = frame.stride * (usize::from(frame.height) - 1) + row;
    if frame.stride < row || frame.data.len() < expected {
        return Err(H264Error::ShortBuffer {
            width: frame.width,
            height: frame.height,
            stride: frame.stride,
            expected,
            actual: frame.data.len(),
        });
    }
    Ok(())
}

fn to_u32(value: usize) -> Result<u32, H264Error> {
    u32::try_from(value).map_err(|_| H264Error::Convert(format!("stride {value} does not fit 32 bits")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use std::time::Instant;

    fn to_bgrx(picture: &I420Picture, width: usize, height: usize) -> Vec<u8> {
        let image = yuv::YuvPlanarImage {
            y_plane: &picture.y,
            y_stride: to_u32(picture.width).unwrap(),
            u_plane: &picture.u,
            u_stride: to_u32(picture.width / 2).unwrap(),
            v_plane: &picture.v,
            v_stride: to_u32(picture.width / 2).unwrap(),
            width: to_u32(width).unwrap(),
            height: to_u32(height).unwrap(),
        };
        let mut out = vec![0; width * height * 4];
        yuv::yuv420_to_bgra(&image, &mut out, to_u32(width * 4).unwrap(), RANGE, MATRIX).unwrap();
        out
    }

    #[test]
    fn grey_text_survives_the_round_trip() {
        let terminal = crate::synthetic::Terminal::filled(64, 32, 16);
        let frame = Frame {
            seq: 0,
            width: 64,
            height: 32,
            stride: 256,
            format: PixelFormat::Bgrx,
            data: Bytes::copy_from_slice(terminal.pixels()),
            damage: Vec::new(),
            captured_at: Instant::now(),
        };
        let mut picture = I420Picture::new(64, 32);
        picture.convert_region(&frame, Rect::new(0, 0, 64, 32)).unwrap();
        let back = to_bgrx(&picture, 64, 32);
        let psnr = crate::psnr_bgrx(&frame.data, 256, &back, 256, 64, 32);
        assert!(
            psnr >= 45.0,
            "{psnr:.1} dB; first pixels {:?} vs {:?}",
            &frame.data[..16],
            &back[..16]
        );
    }
}
