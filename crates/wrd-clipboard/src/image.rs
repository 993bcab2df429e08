//! `CF_DIB` / `CF_DIBV5` ↔ `image/png`.
//!
//! A DIB is a `BITMAPINFOHEADER` (40 bytes; `BITMAPV4HEADER` 108, `BITMAPV5HEADER` 124 for
//! CF_DIBV5), optional colour masks or table, then rows padded to 4 bytes, bottom-up unless the
//! height is negative. Only what clipboards carry in practice is read: 24-bit and 32-bit
//! pixels, `BI_RGB` or `BI_BITFIELDS` with byte-aligned masks. Everything in the header is
//! checked against the buffer before a pixel is read: a header that lies about its size, its
//! dimensions or its masks is refused.

use crate::{ConvertError, Limits};

/// Top-down, tightly packed 8-bit RGBA pixels: the form both directions convert through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RgbaImage {
    pub width: u32,
    pub height: u32,
    pub pixels: Vec<u8>,
}

const BI_RGB: u32 = 0;
const BI_BITFIELDS: u32 = 3;
const INFO_HEADER_LEN: usize = 40;
const V4_HEADER_LEN: usize = 108;
const V5_HEADER_LEN: usize = 124;
/// `LCS_sRGB` ("sRGB" as a big-endian FOURCC read little-endian).
const LCS_SRGB: u32 = 0x7352_4742;
/// `LCS_GM_IMAGES`: the rendering intent Windows writes for pictures.
const LCS_GM_IMAGES: u32 = 4;

fn bad(message: impl Into<String>) -> ConvertError {
    ConvertError::Bitmap(message.into())
}

fn u16_at(data: &[u8], offset: usize) -> u16 {
    u16::from_le_bytes([data[offset], data[offset + 1]])
}

fn u32_at(data: &[u8], offset: usize) -> u32 {
    u32::from_le_bytes([data[offset], data[offset + 1], data[offset + 2], data[offset + 3]])
}

/// Reads a CF_DIB or CF_DIBV5 into RGBA.
pub fn dib_to_rgba(data: &[u8], limits: &Limits) -> Result<RgbaImage, ConvertError> {
    limits.check("bitmap", data.len())?;
    if data.len() < INFO_HEADER_LEN {
        return Err(bad(format!(
            "{} bytes is too short for a BITMAPINFOHEADER",
            data.len()
        )));
    }
    let header_len = u32_at(data, 0) as usize;
    if !matches!(header_len, INFO_HEADER_LEN | V4_HEADER_LEN | V5_HEADER_LEN) {
        return Err(bad(format!(
            "unknown header size {header_len} (expected 40, 108 or 124)"
        )));
    }
    if data.len() < header_len {
        return Err(bad(format!(
            "header says {header_len} bytes, the buffer has {}",
            data.len()
        )));
    }
    let width = i32::from_le_bytes([data[4], data[5], data[6], data[7]]);
    let height = i32::from_le_bytes([data[8], data[9], data[10], data[11]]);
    let planes = u16_at(data, 12);
    let bit_count = u16_at(data, 14);
    let compression = u32_at(data, 16);
    let colors_used = u32_at(data, 32) as usize;
    if planes != 1 {
        return Err(bad(format!("{planes} planes (must be 1)")));
    }
    let width = u32::try_from(width)
        .ok()
        .filter(|&w| w > 0)
        .ok_or_else(|| bad(format!("width {width}")))?;
    let top_down = height < 0;
    let height = height.unsigned_abs();
    if height == 0 {
        return Err(bad("height 0"));
    }
    let bytes_per_pixel = match bit_count {
        24 => 3usize,
        32 => 4,
        other => {
            return Err(bad(format!(
                "{other}-bit pixels are not supported (24 and 32 are)"
            )));
        }
    };

    // Where the masks are: in a V4/V5 header, or as three DWORDs after a plain one.
    let mut cursor = header_len;
    let masks = match compression {
        BI_RGB => None,
        BI_BITFIELDS if bit_count == 32 => {
            if header_len == INFO_HEADER_LEN {
                if data.len() < cursor + 12 {
                    return Err(bad("BI_BITFIELDS without its three masks"));
                }
                let masks = [
                    u32_at(data, cursor),
                    u32_at(data, cursor + 4),
                    u32_at(data, cursor + 8),
                    0,
                ];
                cursor += 12;
                Some(masks)
            } else {
                Some([
                    u32_at(data, 40),
                    u32_at(data, 44),
                    u32_at(data, 48),
                    u32_at(data, 52),
                ])
            }
        }
        other => {
            return Err(bad(format!(
                "compression {other} with {bit_count}-bit pixels is not supported"
            )));
        }
    };
    // A colour table on a true-colour bitmap is an optional palette hint: skipped.
    let table_len = colors_used
        .checked_mul(4)
        .ok_or_else(|| bad("colour table size overflows"))?;
    cursor = cursor
        .checked_add(table_len)
        .ok_or_else(|| bad("colour table size overflows"))?;

    let (width_us, height_us) = (width as usize, height as usize);
    let rgba_len = width_us
        .checked_mul(height_us)
        .and_then(|n| n.checked_mul(4))
        .ok_or_else(|| bad(format!("{width}x{height} overflows")))?;
    limits.check("decoded bitmap", rgba_len)?;
    let stride = width_us
        .checked_mul(bytes_per_pixel)
        .map(|row| row.div_ceil(4) * 4)
        .ok_or_else(|| bad("row size overflows"))?;
    let pixel_len = stride
        .checked_mul(height_us)
        .ok_or_else(|| bad("pixel data size overflows"))?;
    let pixels_end = cursor
        .checked_add(pixel_len)
        .ok_or_else(|| bad("pixel data size overflows"))?;
    if data.len() < pixels_end {
        return Err(bad(format!(
            "{width}x{height} {bit_count}-bit pixels need {pixels_end} bytes, the buffer has {}",
            data.len()
        )));
    }

    let channel = |mask: u32, name: &str| -> Result<Option<usize>, ConvertError> {
        match mask {
            0 => Ok(None),
            0x0000_00ff => Ok(Some(0)),
            0x0000_ff00 => Ok(Some(1)),
            0x00ff_0000 => Ok(Some(2)),
            0xff00_0000 => Ok(Some(3)),
            other => Err(bad(format!("{name} mask {other:#010x} is not one whole byte"))),
        }
    };
    let (red, green, blue, alpha) = match masks {
        Some([r, g, b, a]) => {
            let byte = |mask, name| channel(mask, name)?.ok_or_else(|| bad(format!("{name} mask is 0")));
            (
                byte(r, "red")?,
                byte(g, "green")?,
                byte(b, "blue")?,
                channel(a, "alpha")?,
            )
        }
        // BI_RGB: BGR(X); the fourth byte of 32-bit pixels carries alpha in practice (CF_DIBV5
        // from browsers and Office), or is zero everywhere (then the picture is opaque).
        None => (2, 1, 0, (bytes_per_pixel == 4).then_some(3)),
    };

    let source = &data[cursor..pixels_end];
    let mut pixels = Vec::with_capacity(rgba_len);
    for row in 0..height_us {
        let source_row = if top_down { row } else { height_us - 1 - row };
        let line = &source[source_row * stride..source_row * stride + width_us * bytes_per_pixel];
        for pixel in line.chunks_exact(bytes_per_pixel) {
            pixels.extend_from_slice(&[
                pixel[red],
                pixel[green],
                pixel[blue],
                alpha.map_or(0xff, |index| pixel[index]),
            ]);
        }
    }
    if alpha.is_some() && pixels.chunks_exact(4).all(|pixel| pixel[3] == 0) {
        for pixel in pixels.chunks_exact_mut(4) {
            pixel[3] = 0xff;
        }
    }
    Ok(RgbaImage {
        width,
        height,
        pixels,
    })
}

/// Which DIB flavour to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DibKind {
    /// `CF_DIB`: a 40-byte header, 32-bit `BI_RGB` (alpha in the fourth byte).
    Dib,
    /// `CF_DIBV5`: a 124-byte header, 32-bit `BI_BITFIELDS` with an alpha mask, sRGB.
    DibV5,
}

/// Writes RGBA as a bottom-up 32-bit DIB, the layout every Windows program reads.
pub fn rgba_to_dib(image: &RgbaImage, kind: DibKind, limits: &Limits) -> Result<Vec<u8>, ConvertError> {
    let (width, height) = (image.width as usize, image.height as usize);
    let expected = width.checked_mul(height).and_then(|n| n.checked_mul(4));
    if expected != Some(image.pixels.len()) {
        return Err(bad(format!(
            "{}x{} RGBA needs {expected:?} bytes, got {}",
            width,
            height,
            image.pixels.len()
        )));
    }
    let width_i32 = i32::try_from(image.width).map_err(|_| bad("width too large for a DIB"))?;
    let height_i32 = i32::try_from(image.height).map_err(|_| bad("height too large for a DIB"))?;
    let size_image = u32::try_from(image.pixels.len()).map_err(|_| bad("image too large for a DIB"))?;
    let header_len = match kind {
        DibKind::Dib => INFO_HEADER_LEN,
        DibKind::DibV5 => V5_HEADER_LEN,
    };
    limits.check("bitmap", header_len + image.pixels.len())?;
    let mut out = Vec::with_capacity(header_len + image.pixels.len());
    let header_len_u32: u32 = match kind {
        DibKind::Dib => 40,
        DibKind::DibV5 => 124,
    };
    out.extend_from_slice(&header_len_u32.to_le_bytes());
    out.extend_from_slice(&width_i32.to_le_bytes());
    out.extend_from_slice(&height_i32.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes()); // planes
    out.extend_from_slice(&32u16.to_le_bytes()); // bits per pixel
    let compression = match kind {
        DibKind::Dib => BI_RGB,
        DibKind::DibV5 => BI_BITFIELDS,
    };
    out.extend_from_slice(&compression.to_le_bytes());
    out.extend_from_slice(&size_image.to_le_bytes());
    out.extend_from_slice(&2835u32.to_le_bytes()); // 72 dpi, as pixels per metre
    out.extend_from_slice(&2835u32.to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes()); // colours used
    out.extend_from_slice(&0u32.to_le_bytes()); // colours important
    if kind == DibKind::DibV5 {
        for mask in [0x00ff_0000u32, 0x0000_ff00, 0x0000_00ff, 0xff00_0000] {
            out.extend_from_slice(&mask.to_le_bytes());
        }
        out.extend_from_slice(&LCS_SRGB.to_le_bytes());
        out.extend_from_slice(&[0; 36]); // endpoints (unused with sRGB)
        out.extend_from_slice(&[0; 12]); // gamma (unused with sRGB)
        out.extend_from_slice(&LCS_GM_IMAGES.to_le_bytes());
        out.extend_from_slice(&[0; 12]); // profile data, profile size, reserved
    }
    for row in image.pixels.chunks_exact(width * 4).rev() {
        for pixel in row.chunks_exact(4) {
            out.extend_from_slice(&[pixel[2], pixel[1], pixel[0], pixel[3]]);
        }
    }
    Ok(out)
}

/// Encodes RGBA as PNG (fast compression: a paste is waiting for it).
pub fn rgba_to_png(image: &RgbaImage) -> Result<Vec<u8>, ConvertError> {
    let png_error = |error: png::EncodingError| ConvertError::Png(error.to_string());
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, image.width, image.height);
    encoder.set_color(png::ColorType::Rgba);
    encoder.set_depth(png::BitDepth::Eight);
    encoder.set_compression(png::Compression::Fast);
    let mut writer = encoder.write_header().map_err(png_error)?;
    writer.write_image_data(&image.pixels).map_err(png_error)?;
    writer.finish().map_err(png_error)?;
    Ok(out)
}

/// Decodes a PNG into RGBA; the decoded size counts against the limit before it is allocated.
pub fn png_to_rgba(data: &[u8], limits: &Limits) -> Result<RgbaImage, ConvertError> {
    limits.check("image/png", data.len())?;
    let png_error = |error: png::DecodingError| ConvertError::Png(error.to_string());
    let mut decoder = png::Decoder::new_with_limits(
        std::io::Cursor::new(data),
        png::Limits {
            bytes: limits.max_item_bytes,
        },
    );
    decoder.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
    let mut reader = decoder.read_info().map_err(png_error)?;
    let (width, height) = (reader.info().width, reader.info().height);
    let rgba_len = (width as usize)
        .checked_mul(height as usize)
        .and_then(|n| n.checked_mul(4))
        .ok_or_else(|| ConvertError::Png(format!("{width}x{height} overflows")))?;
    limits.check("decoded image", rgba_len)?;
    let buffer_len = reader
        .output_buffer_size()
        .ok_or_else(|| ConvertError::Png(format!("{width}x{height} has no addressable output size")))?;
    let mut buffer = vec![0; buffer_len];
    let frame = reader.next_frame(&mut buffer).map_err(png_error)?;
    let mut pixels = Vec::with_capacity(rgba_len);
    for row in buffer.chunks_exact(frame.line_size).take(frame.height as usize) {
        match frame.color_type {
            png::ColorType::Rgba => pixels.extend_from_slice(&row[..frame.width as usize * 4]),
            png::ColorType::Rgb => {
                for p in row.chunks_exact(3).take(frame.width as usize) {
                    pixels.extend_from_slice(&[p[0], p[1], p[2], 0xff]);
                }
            }
            png::ColorType::GrayscaleAlpha => {
                for p in row.chunks_exact(2).take(frame.width as usize) {
                    pixels.extend_from_slice(&[p[0], p[0], p[0], p[1]]);
                }
            }
            png::ColorType::Grayscale => {
                for &gray in row.iter().take(frame.width as usize) {
                    pixels.extend_from_slice(&[gray, gray, gray, 0xff]);
                }
            }
            png::ColorType::Indexed => {
                return Err(ConvertError::Png(
                    "palette not expanded by the decoder".to_owned(),
                ));
            }
        }
    }
    if pixels.len() != rgba_len {
        return Err(ConvertError::Png(format!(
            "decoded {} bytes for {width}x{height}",
            pixels.len()
        )));
    }
    Ok(RgbaImage {
        width: frame.width,
        height: frame.height,
        pixels,
    })
}

/// CF_DIB/CF_DIBV5 → PNG.
pub fn dib_to_png(data: &[u8], limits: &Limits) -> Result<Vec<u8>, ConvertError> {
    let png = rgba_to_png(&dib_to_rgba(data, limits)?)?;
    limits.check("image/png", png.len())?;
    Ok(png)
}

/// PNG → CF_DIB or CF_DIBV5.
pub fn png_to_dib(data: &[u8], kind: DibKind, limits: &Limits) -> Result<Vec<u8>, ConvertError> {
    rgba_to_dib(&png_to_rgba(data, limits)?, kind, limits)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn header(len: u32, width: i32, height: i32, bits: u16, compression: u32) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&width.to_le_bytes());
        out.extend_from_slice(&height.to_le_bytes());
        out.extend_from_slice(&1u16.to_le_bytes());
        out.extend_from_slice(&bits.to_le_bytes());
        out.extend_from_slice(&compression.to_le_bytes());
        out.extend_from_slice(&[0; 20]);
        out
    }

    /// A 2x2 CF_DIBV5 as Chromium on Windows writes it: a V5 header, BI_BITFIELDS with an
    /// alpha mask, bottom-up, half-transparent pixels.
    fn dibv5_with_alpha() -> Vec<u8> {
        let mut out = header(124, 2, 2, 32, BI_BITFIELDS);
        for mask in [0x00ff_0000u32, 0x0000_ff00, 0x0000_00ff, 0xff00_0000] {
            out.extend_from_slice(&mask.to_le_bytes());
        }
        out.extend_from_slice(&LCS_SRGB.to_le_bytes());
        out.extend_from_slice(&[0; 48]);
        out.extend_from_slice(&LCS_GM_IMAGES.to_le_bytes());
        out.extend_from_slice(&[0; 12]);
        assert_eq!(out.len(), 124);
        // Bottom row first: blue opaque, white transparent; then red half, green quarter.
        out.extend_from_slice(&[0xff, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x00]);
        out.extend_from_slice(&[0, 0, 0xff, 0x80, 0, 0xff, 0, 0x40]);
        out
    }

    #[test]
    fn a_dibv5_with_alpha_keeps_its_alpha() {
        let image = dib_to_rgba(&dibv5_with_alpha(), &Limits::default()).unwrap();
        assert_eq!((image.width, image.height), (2, 2));
        assert_eq!(
            image.pixels,
            [
                0xff, 0, 0, 0x80, 0, 0xff, 0, 0x40, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00
            ]
        );
        let png = dib_to_png(&dibv5_with_alpha(), &Limits::default()).unwrap();
        assert_eq!(png_to_rgba(&png, &Limits::default()).unwrap(), image);
    }

    #[test]
    fn a_24_bit_top_down_dib_with_row_padding() {
        // 3x2, 9 bytes a row padded to 12, top-down (negative height).
        let mut data = header(40, 3, -2, 24, BI_RGB);
        data.extend_from_slice(&[1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 0, 0]);
        data.extend_from_slice(&[10, 11, 12, 13, 14, 15, 16, 17, 18, 0, 0, 0]);
        let image = dib_to_rgba(&data, &Limits::default()).unwrap();
        assert_eq!(
            image.pixels,
            [
                3, 2, 1, 255, 6, 5, 4, 255, 9, 8, 7, 255, 12, 11, 10, 255, 15, 14, 13, 255, 18, 17, 16, 255
            ]
        );
    }

    #[test]
    fn a_32_bit_dib_with_zero_alpha_is_opaque() {
        let mut data = header(40, 1, 1, 32, BI_RGB);
        data.extend_from_slice(&[1, 2, 3, 0]);
        assert_eq!(
            dib_to_rgba(&data, &Limits::default()).unwrap().pixels,
            [3, 2, 1, 255]
        );
    }

    #[test]
    fn bitfields_after_a_plain_header() {
        let mut data = header(40, 1, 1, 32, BI_BITFIELDS);
        for mask in [0x0000_00ffu32, 0x0000_ff00, 0x00ff_0000] {
            data.extend_from_slice(&mask.to_le_bytes());
        }
        data.extend_from_slice(&[1, 2, 3, 4]);
        assert_eq!(
            dib_to_rgba(&data, &Limits::default()).unwrap().pixels,
            [1, 2, 3, 255]
        );
    }

    #[test]
    fn lying_headers_are_refused() {
        let good = dibv5_with_alpha();
        let mut cases: Vec<(&str, Vec<u8>)> = Vec::new();
        let mut patched = |name, offset: usize, bytes: &[u8]| {
            let mut data = good.clone();
            data[offset..offset + bytes.len()].copy_from_slice(bytes);
            cases.push((name, data));
        };
        patched("header size past the buffer", 0, &200u32.to_le_bytes());
        patched("unknown header size", 0, &64u32.to_le_bytes());
        patched("taller than the data", 8, &3i32.to_le_bytes());
        patched("huge", 4, &0x7fff_ffffi32.to_le_bytes());
        patched("negative width", 4, &(-2i32).to_le_bytes());
        patched("zero height", 8, &0i32.to_le_bytes());
        patched("most negative height", 8, &i32::MIN.to_le_bytes());
        patched("two planes", 12, &2u16.to_le_bytes());
        patched("16-bit", 14, &16u16.to_le_bytes());
        patched("RLE8", 16, &1u32.to_le_bytes());
        patched("a colour table past the end", 32, &1000u32.to_le_bytes());
        patched("colour table overflow", 32, &u32::MAX.to_le_bytes());
        patched("a mask across bytes", 40, &0x00ff_f000u32.to_le_bytes());
        patched("no red", 40, &0u32.to_le_bytes());
        cases.push(("truncated pixels", good[..good.len() - 1].to_vec()));
        cases.push(("too short for a header", good[..39].to_vec()));
        for (name, data) in cases {
            let result = dib_to_rgba(&data, &Limits::default());
            let refused = matches!(
                result,
                Err(ConvertError::Bitmap(_) | ConvertError::TooLarge { .. })
            );
            assert!(refused, "{name}: {result:?}");
        }
    }

    #[test]
    fn a_bitmap_larger_than_the_limit_is_refused_before_allocating() {
        let mut data = header(40, 4000, 4000, 32, BI_RGB);
        data.resize(40 + 16, 0);
        let limits = Limits { max_item_bytes: 1024 };
        assert!(matches!(
            dib_to_rgba(&data, &limits),
            Err(ConvertError::TooLarge { .. })
        ));
    }

    #[test]
    fn png_to_dib_and_back() {
        let image = RgbaImage {
            width: 3,
            height: 2,
            pixels: (0..24).map(|i| i * 10).collect(),
        };
        let png = rgba_to_png(&image).unwrap();
        for kind in [DibKind::Dib, DibKind::DibV5] {
            let dib = png_to_dib(&png, kind, &Limits::default()).unwrap();
            assert_eq!(dib_to_rgba(&dib, &Limits::default()).unwrap(), image, "{kind:?}");
        }
    }

    #[test]
    fn a_png_decoding_beyond_the_limit_is_refused() {
        let image = RgbaImage {
            width: 64,
            height: 64,
            pixels: vec![0; 64 * 64 * 4],
        };
        let png = rgba_to_png(&image).unwrap();
        let limits = Limits { max_item_bytes: 4096 };
        assert!(png.len() < 4096);
        assert!(matches!(
            png_to_rgba(&png, &limits),
            Err(ConvertError::TooLarge { .. })
        ));
        assert!(matches!(
            png_to_rgba(b"not a png", &Limits::default()),
            Err(ConvertError::Png(_))
        ));
    }
}
