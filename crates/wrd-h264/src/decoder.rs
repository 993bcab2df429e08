use openh264::OpenH264API;
use openh264::decoder::{Decoder, DecoderConfig};
use openh264::formats::YUVSource;
use yuv::YuvPlanarImage;

use crate::H264Error;
use crate::convert::{MATRIX, RANGE};

/// A decoded picture, BGRx, `width * 4` bytes per row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodedPicture {
    pub width: usize,
    pub height: usize,
    pub bgrx: Vec<u8>,
}

/// Decodes the Annex-B access units [`crate::H264Encoder`] (or any AVC420 sender) produces.
pub struct H264Decoder {
    decoder: Decoder,
}

impl std::fmt::Debug for H264Decoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("H264Decoder").finish_non_exhaustive()
    }
}

impl H264Decoder {
    pub fn new() -> Result<Self, H264Error> {
        let decoder =
            Decoder::with_api_config(OpenH264API::from_source(), DecoderConfig::new()).map_err(|source| {
                H264Error::OpenH264 {
                    operation: "decoder creation",
                    source,
                }
            })?;
        Ok(Self { decoder })
    }

    /// Decodes one access unit; `None` when it completed no picture.
    pub fn decode(&mut self, access_unit: &[u8]) -> Result<Option<DecodedPicture>, H264Error> {
        let mut bgrx = Vec::new();
        Ok(self
            .decode_into(access_unit, &mut bgrx)?
            .map(|(width, height)| DecodedPicture { width, height, bgrx }))
    }

    /// Decodes one access unit into `bgrx` (B, G, R, X, `width * 4` bytes per row), reusing its
    /// allocation: a client decoding a 1080p stream would otherwise fault in and zero 8 MB of
    /// fresh memory for every picture. Returns the picture's size; `None` (and `bgrx`
    /// untouched) when the access unit completed no picture.
    pub fn decode_into(
        &mut self,
        access_unit: &[u8],
        bgrx: &mut Vec<u8>,
    ) -> Result<Option<(usize, usize)>, H264Error> {
        let Some(yuv) = self
            .decoder
            .decode(access_unit)
            .map_err(|source| H264Error::OpenH264 {
                operation: "decode",
                source,
            })?
        else {
            return Ok(None);
        };
        let (width, height) = yuv.dimensions();
        let (y_stride, u_stride, v_stride) = yuv.strides();
        let image = YuvPlanarImage {
            y_plane: yuv.y(),
            y_stride: to_u32(y_stride)?,
            u_plane: yuv.u(),
            u_stride: to_u32(u_stride)?,
            v_plane: yuv.v(),
            v_stride: to_u32(v_stride)?,
            width: to_u32(width)?,
            height: to_u32(height)?,
        };
        // Every byte is written by the conversion: a buffer of the right length is used as it
        // is (no zeroing); only growth zeroes the new part.
        bgrx.resize(width * height * 4, 0);
        yuv::yuv420_to_bgra(&image, bgrx, to_u32(width * 4)?, RANGE, MATRIX)
            .map_err(|err| H264Error::Convert(format!("decoded picture {width}x{height}: {err}")))?;
        Ok(Some((width, height)))
    }
}

fn to_u32(value: usize) -> Result<u32, H264Error> {
    u32::try_from(value).map_err(|_| H264Error::Convert(format!("{value} does not fit 32 bits")))
}
