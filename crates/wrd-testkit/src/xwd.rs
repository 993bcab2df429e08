//! Parser for X Window Dump files (`xwd -root -silent`), XWD version 7.
//!
//! Layout: a header of 25 CARD32 fields, always big-endian (xwd byte-swaps it on
//! little-endian hosts), then the window name (NUL-terminated, up to `header_size`), then
//! `ncolors` colormap entries of 12 bytes (pixel CARD32, red/green/blue CARD16, flags, pad;
//! big-endian too), then the image: `bytes_per_line * height` bytes, whose pixels are in the
//! X server's `byte_order`.

use std::collections::HashMap;

use anyhow::{Context, Result, bail, ensure};

use crate::Image;

const HEADER_FIELDS: usize = 25;
const HEADER_LEN: usize = HEADER_FIELDS * 4;
const XWD_FILE_VERSION: u32 = 7;
const Z_PIXMAP: u32 = 2;
const LSB_FIRST: u32 = 0;
const COLOR_ENTRY_LEN: usize = 12;
const MAX_DIM: u32 = 1 << 15;

// visual classes
const STATIC_GRAY: u32 = 0;
const GRAY_SCALE: u32 = 1;
const STATIC_COLOR: u32 = 2;
const PSEUDO_COLOR: u32 = 3;
const TRUE_COLOR: u32 = 4;
const DIRECT_COLOR: u32 = 5;

/// The header fields this parser uses (names as in X11/XWDFile.h).
#[derive(Debug, Clone, Copy)]
struct Header {
    header_size: u32,
    file_version: u32,
    pixmap_format: u32,
    width: u32,
    height: u32,
    byte_order: u32,
    bits_per_pixel: u32,
    bytes_per_line: u32,
    visual_class: u32,
    red_mask: u32,
    green_mask: u32,
    blue_mask: u32,
    ncolors: u32,
}

fn be32(b: &[u8], i: usize) -> u32 {
    u32::from_be_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]])
}

fn parse_header(data: &[u8]) -> Result<Header> {
    ensure!(
        data.len() >= HEADER_LEN,
        "XWD too short for its header ({} bytes)",
        data.len()
    );
    let f = |n: usize| be32(data, n * 4);
    let h = Header {
        header_size: f(0),
        file_version: f(1),
        pixmap_format: f(2),
        width: f(4),
        height: f(5),
        byte_order: f(7),
        bits_per_pixel: f(11),
        bytes_per_line: f(12),
        visual_class: f(13),
        red_mask: f(14),
        green_mask: f(15),
        blue_mask: f(16),
        ncolors: f(19),
    };
    ensure!(
        h.file_version == XWD_FILE_VERSION,
        "not an XWD v7 file (version {})",
        h.file_version
    );
    ensure!(
        h.header_size as usize >= HEADER_LEN,
        "XWD header_size {} < {HEADER_LEN}",
        h.header_size
    );
    ensure!(
        h.pixmap_format == Z_PIXMAP,
        "XWD pixmap format {} is not ZPixmap",
        h.pixmap_format
    );
    ensure!(
        (1..=MAX_DIM).contains(&h.width) && (1..=MAX_DIM).contains(&h.height),
        "XWD size {}x{} out of range",
        h.width,
        h.height
    );
    ensure!(
        matches!(h.bits_per_pixel, 8 | 16 | 24 | 32),
        "XWD bits_per_pixel {} not supported (8, 16, 24, 32)",
        h.bits_per_pixel
    );
    let min_line = u64::from(h.width) * u64::from(h.bits_per_pixel / 8);
    ensure!(
        u64::from(h.bytes_per_line) >= min_line,
        "XWD bytes_per_line {} < {min_line}",
        h.bytes_per_line
    );
    Ok(h)
}

/// Scales the `mask` bits of `pixel` to 0..=255.
fn channel(pixel: u32, mask: u32) -> u8 {
    if mask == 0 {
        return 0;
    }
    let shift = mask.trailing_zeros();
    let bits = (mask >> shift).count_ones();
    let v = u64::from((pixel & mask) >> shift);
    let scaled = if bits >= 8 {
        v >> (bits - 8)
    } else {
        let max = (1u64 << bits) - 1;
        (v * 255 + max / 2) / max
    };
    u8::try_from(scaled).unwrap_or(u8::MAX)
}

/// Parses an XWD (ZPixmap, 8/16/24/32 bits per pixel; TrueColor/DirectColor through the
/// channel masks, the other visual classes through the colormap) into an RGB [`Image`].
pub fn parse_xwd(data: &[u8]) -> Result<Image> {
    let h = parse_header(data)?;
    let cmap_start = h.header_size as usize;
    let cmap_len = (h.ncolors as usize)
        .checked_mul(COLOR_ENTRY_LEN)
        .context("XWD ncolors overflows")?;
    let img_start = cmap_start.checked_add(cmap_len).context("XWD header overflows")?;
    let stride = h.bytes_per_line as usize;
    let img_len = stride
        .checked_mul(h.height as usize)
        .context("XWD image size overflows")?;
    ensure!(
        data.len() >= img_start.saturating_add(img_len),
        "XWD truncated: {} bytes, need {} (header {}, colormap {cmap_len}, image {img_len})",
        data.len(),
        img_start.saturating_add(img_len),
        h.header_size
    );
    let pixels = &data[img_start..img_start + img_len];
    let bpp = (h.bits_per_pixel / 8) as usize;
    let (w, hgt) = (h.width as usize, h.height as usize);

    let decode_with_masks = matches!(h.visual_class, TRUE_COLOR | DIRECT_COLOR);
    let colormap: HashMap<u32, [u8; 3]> = if decode_with_masks {
        HashMap::new()
    } else {
        ensure!(
            matches!(
                h.visual_class,
                STATIC_GRAY | GRAY_SCALE | STATIC_COLOR | PSEUDO_COLOR
            ),
            "XWD visual class {} unknown",
            h.visual_class
        );
        data[cmap_start..img_start]
            .chunks_exact(COLOR_ENTRY_LEN)
            // 16-bit big-endian channels: the high byte is the 8-bit value
            .map(|e| (be32(e, 0), [e[4], e[6], e[8]]))
            .collect()
    };

    let mut rgb = Vec::with_capacity(w * hgt * 3);
    // Fast path: what Xvfb at depth 24 gives on x86 (32 bpp, LSBFirst, 0xRRGGBB): B,G,R,X bytes.
    if decode_with_masks
        && bpp == 4
        && h.byte_order == LSB_FIRST
        && (h.red_mask, h.green_mask, h.blue_mask) == (0xff_0000, 0xff00, 0xff)
    {
        for row in pixels.chunks_exact(stride) {
            for px in row[..w * 4].chunks_exact(4) {
                rgb.extend_from_slice(&[px[2], px[1], px[0]]);
            }
        }
        return Image::from_rgb(h.width, h.height, rgb);
    }

    for row in pixels.chunks_exact(stride) {
        for px in row[..w * bpp].chunks_exact(bpp) {
            let value = if h.byte_order == LSB_FIRST {
                px.iter().rev().fold(0u32, |acc, b| (acc << 8) | u32::from(*b))
            } else {
                px.iter().fold(0u32, |acc, b| (acc << 8) | u32::from(*b))
            };
            if decode_with_masks {
                rgb.extend_from_slice(&[
                    channel(value, h.red_mask),
                    channel(value, h.green_mask),
                    channel(value, h.blue_mask),
                ]);
            } else {
                match colormap.get(&value) {
                    Some(c) => rgb.extend_from_slice(c),
                    None => bail!("XWD pixel value {value} is not in the colormap"),
                }
            }
        }
    }
    Image::from_rgb(h.width, h.height, rgb)
}

#[cfg(test)]
#[allow(clippy::cast_possible_truncation)] // small test values
mod tests {
    use super::*;

    struct Spec {
        bpp: u32,
        byte_order: u32,
        visual_class: u32,
        masks: [u32; 3],
        colormap: Vec<(u32, [u16; 3])>,
        pad_to: u32,
    }

    /// Builds an XWD of `values` (row-major pixel values, `w` wide) the way xwd writes one.
    fn build(spec: &Spec, w: u32, values: &[u32]) -> Vec<u8> {
        let h = values.len() as u32 / w;
        let name = b"test\0";
        let header_size = (HEADER_LEN + name.len()) as u32;
        let bytes_pp = spec.bpp / 8;
        let bpl = (w * bytes_pp).div_ceil(spec.pad_to) * spec.pad_to;
        let fields: [u32; HEADER_FIELDS] = [
            header_size,
            7,
            Z_PIXMAP,
            24, // depth
            w,
            h,
            0, // xoffset
            spec.byte_order,
            32,
            spec.byte_order,
            32,
            spec.bpp,
            bpl,
            spec.visual_class,
            spec.masks[0],
            spec.masks[1],
            spec.masks[2],
            8,
            spec.colormap.len() as u32,
            spec.colormap.len() as u32,
            w,
            h,
            0,
            0,
            0,
        ];
        let mut out: Vec<u8> = fields.iter().flat_map(|f| f.to_be_bytes()).collect();
        out.extend_from_slice(name);
        for (pixel, [r, g, b]) in &spec.colormap {
            out.extend_from_slice(&pixel.to_be_bytes());
            for c in [r, g, b] {
                out.extend_from_slice(&c.to_be_bytes());
            }
            out.extend_from_slice(&[7, 0]); // flags DoRed|DoGreen|DoBlue, pad
        }
        for row in values.chunks(w as usize) {
            let mut line = Vec::new();
            for v in row {
                let be = v.to_be_bytes();
                let bytes = &be[4 - bytes_pp as usize..];
                if spec.byte_order == LSB_FIRST {
                    line.extend(bytes.iter().rev());
                } else {
                    line.extend_from_slice(bytes);
                }
            }
            line.resize(bpl as usize, 0xEE); // padding must be ignored
            out.extend_from_slice(&line);
        }
        out
    }

    const RGB888: [u32; 3] = [0xff_0000, 0xff00, 0xff];

    fn truecolor(bpp: u32, byte_order: u32, masks: [u32; 3]) -> Spec {
        Spec {
            bpp,
            byte_order,
            visual_class: TRUE_COLOR,
            masks,
            colormap: vec![],
            pad_to: 4,
        }
    }

    #[test]
    fn truecolor_32bpp_both_byte_orders() {
        let values = [
            0x00ff_0000,
            0x0000_ff00,
            0x0000_00ff,
            0x0012_3456,
            0xff00_0000,
            0x00ff_ffff,
        ];
        let expect = [
            [255, 0, 0],
            [0, 255, 0],
            [0, 0, 255],
            [0x12, 0x34, 0x56],
            [0, 0, 0],
            [255, 255, 255],
        ];
        for order in [0, 1] {
            let img = parse_xwd(&build(&truecolor(32, order, RGB888), 3, &values)).unwrap();
            assert_eq!(img.size(), (3, 2));
            for (i, e) in expect.iter().enumerate() {
                assert_eq!(
                    img.pixel(i as u32 % 3, i as u32 / 3),
                    Some(*e),
                    "order {order} pixel {i}"
                );
            }
        }
        // BGR masks go through the generic path
        let img = parse_xwd(&build(
            &truecolor(32, 0, [0xff, 0xff00, 0xff_0000]),
            1,
            &[0x0012_3456],
        ))
        .unwrap();
        assert_eq!(img.pixel(0, 0), Some([0x56, 0x34, 0x12]));
    }

    #[test]
    fn truecolor_24bpp_with_row_padding() {
        // 3 pixels * 3 bytes = 9 -> padded to 12 per row
        let values = [
            0x00ff_0000,
            0x0000_ff00,
            0x0000_00ff,
            0x0001_0203,
            0x0040_8080,
            0x0000_0000,
        ];
        for order in [0, 1] {
            let data = build(&truecolor(24, order, RGB888), 3, &values);
            let img = parse_xwd(&data).unwrap();
            assert_eq!(img.pixel(0, 1), Some([1, 2, 3]));
            assert_eq!(img.pixel(1, 1), Some([0x40, 0x80, 0x80]));
            assert_eq!(img.pixel(2, 0), Some([0, 0, 255]));
        }
    }

    #[test]
    fn truecolor_16bpp_rgb565_scales_channels() {
        let masks = [0xf800, 0x07e0, 0x001f];
        let img = parse_xwd(&build(&truecolor(16, 0, masks), 2, &[0xffff, 0x8410])).unwrap();
        assert_eq!(img.pixel(0, 0), Some([255, 255, 255]));
        // 0x8410: r=16/31, g=32/63, b=16/31
        assert_eq!(img.pixel(1, 0), Some([132, 130, 132]));
    }

    #[test]
    fn pseudocolor_8bpp_uses_the_colormap() {
        let spec = Spec {
            bpp: 8,
            byte_order: 0,
            visual_class: PSEUDO_COLOR,
            masks: [0; 3],
            colormap: vec![
                (0, [0, 0, 0]),
                (1, [0xffff, 0x8000, 0x0100]),
                (5, [0x1234, 0x5678, 0x9abc]),
            ],
            pad_to: 4,
        };
        let img = parse_xwd(&build(&spec, 3, &[1, 5, 0])).unwrap();
        assert_eq!(img.as_rgb(), &[255, 128, 1, 0x12, 0x56, 0x9a, 0, 0, 0]);
        assert!(parse_xwd(&build(&spec, 1, &[9])).is_err());
    }

    #[test]
    fn rejects_bad_input() {
        let good = build(&truecolor(32, 0, RGB888), 2, &[1, 2, 3, 4]);
        assert!(parse_xwd(&good).is_ok());
        assert!(
            parse_xwd(&good[..good.len() - 1])
                .unwrap_err()
                .to_string()
                .contains("truncated")
        );
        assert!(parse_xwd(&good[..50]).is_err());
        let mut v6 = good.clone();
        v6[7] = 6;
        assert!(parse_xwd(&v6).unwrap_err().to_string().contains("v7"));
        let mut xy = good.clone();
        xy[11] = 1; // XYPixmap
        assert!(parse_xwd(&xy).is_err());
        let mut huge = good;
        huge[16..20].copy_from_slice(&0x7fff_ffffu32.to_be_bytes()); // width
        assert!(parse_xwd(&huge).is_err());
    }
}
