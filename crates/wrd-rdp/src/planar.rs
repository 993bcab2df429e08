//! Frames as planar-coded tiles, for graphics-pipeline clients without H.264.
//!
//! Planar (MS-RDPEGDI 2.2.2.5.1, `RDPGFX_CODECID_PLANAR` in MS-RDPEGFX) is lossless, run-length
//! coded per colour plane, and every EGFX client decodes it, RDP 8.0 ones included. Sans I/O:
//! a frame and what changed in, coded rectangles out.
//!
//! The damaged area is cut into 64x64 tiles of a fixed grid and each tile is compared with the
//! picture the client was sent last; of a tile that differs, only the smallest rectangle
//! holding every changed pixel is coded (a compositor's damage is often much larger than what
//! changed, and a lossless codec pays for every pixel it sends: a typed character is a few
//! hundred bytes, not a whole tile's twelve thousand).

use ironrdp_graphics::rdp6::BitmapStreamEncoder;
use ironrdp_pdu::geometry::ExclusiveRectangle;
use wrd_frame::{Frame, PixelFormat, Rect};

/// The side of the comparison grid's tiles.
pub const TILE: u16 = 64;

/// One coded rectangle: where it goes on the surface and its planar stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanarTile {
    pub rect: ExclusiveRectangle,
    pub data: Vec<u8>,
}

/// Codes the tiles of `frame` under `damage` (empty: everything) that differ from `previous`
/// (`None`, or a picture of another size: every tile under the damage).
pub fn encode_changed_tiles(
    frame: &Frame,
    damage: &[Rect],
    previous: Option<&Frame>,
) -> Result<Vec<PlanarTile>, PlanarError> {
    let previous = previous.filter(|p| (p.width, p.height) == (frame.width, frame.height));
    let mut tiles = Vec::new();
    for tile in damaged_tiles(frame.width, frame.height, damage) {
        let changed = match previous {
            Some(previous) => match changed_bounds(frame, previous, tile) {
                Some(changed) => changed,
                None => continue,
            },
            None => tile,
        };
        tiles.push(PlanarTile {
            rect: ExclusiveRectangle {
                left: changed.x,
                top: changed.y,
                right: changed.x + changed.width,
                bottom: changed.y + changed.height,
            },
            data: encode_rect(frame, changed)?,
        });
    }
    Ok(tiles)
}

/// The grid tiles (clipped to the frame) that any damage rectangle touches, each once, in
/// rows from the top.
fn damaged_tiles(width: u16, height: u16, damage: &[Rect]) -> Vec<Rect> {
    let whole = Rect::new(0, 0, width, height);
    let columns = usize::from(width.div_ceil(TILE));
    let rows = usize::from(height.div_ceil(TILE));
    let mut hit = vec![false; columns * rows];
    let everything = [whole];
    let damage = if damage.is_empty() {
        &everything[..]
    } else {
        damage
    };
    for rect in damage.iter().filter_map(|rect| rect.intersect(&whole)) {
        let (x0, y0) = (usize::from(rect.x / TILE), usize::from(rect.y / TILE));
        let x1 = usize::from((rect.x + rect.width - 1) / TILE);
        let y1 = usize::from((rect.y + rect.height - 1) / TILE);
        for row in y0..=y1 {
            for column in x0..=x1 {
                hit[row * columns + column] = true;
            }
        }
    }
    let mut tiles = Vec::new();
    for (index, _) in hit.iter().enumerate().filter(|(_, hit)| **hit) {
        // Both fit in u16: at most width / TILE and height / TILE.
        let column = u16::try_from(index % columns).unwrap_or(u16::MAX);
        let row = u16::try_from(index / columns).unwrap_or(u16::MAX);
        let (x, y) = (column * TILE, row * TILE);
        tiles.push(Rect::new(x, y, TILE.min(width - x), TILE.min(height - y)));
    }
    tiles
}

/// The smallest rectangle within `rect` holding every pixel in which `a` and `b` differ;
/// `None` if they are the same there. Pictures of different formats differ everywhere.
fn changed_bounds(a: &Frame, b: &Frame, rect: Rect) -> Option<Rect> {
    const PIXEL: usize = PixelFormat::BYTES_PER_PIXEL;
    fn row(frame: &Frame, y: usize, left: usize, bytes: usize) -> Option<&[u8]> {
        let start = y * frame.stride + left;
        frame.data.get(start..start + bytes)
    }
    if a.format != b.format {
        return Some(rect);
    }
    let (left, bytes) = (usize::from(rect.x) * PIXEL, usize::from(rect.width) * PIXEL);
    // (first, last) differing column and row, relative to `rect`.
    let mut columns: Option<(usize, usize)> = None;
    let mut rows: Option<(usize, usize)> = None;
    for dy in 0..usize::from(rect.height) {
        let y = usize::from(rect.y) + dy;
        let (Some(row_a), Some(row_b)) = (row(a, y, left, bytes), row(b, y, left, bytes)) else {
            // Outside either picture: treat as changed (coding it reports the error).
            return Some(rect);
        };
        if row_a == row_b {
            continue;
        }
        let pixels = || row_a.chunks_exact(PIXEL).zip(row_b.chunks_exact(PIXEL));
        let first = pixels().position(|(pa, pb)| pa != pb).unwrap_or(0);
        let last = pixels().rposition(|(pa, pb)| pa != pb).unwrap_or(first);
        columns = Some(columns.map_or((first, last), |(f, l)| (f.min(first), l.max(last))));
        rows = Some(rows.map_or((dy, dy), |(f, _)| (f, dy)));
    }
    let ((x0, x1), (y0, y1)) = (columns?, rows?);
    // All within `rect`, whose sides are u16.
    let narrow = |n: usize| u16::try_from(n).unwrap_or(u16::MAX);
    Some(Rect::new(
        rect.x + narrow(x0),
        rect.y + narrow(y0),
        narrow(x1 - x0 + 1),
        narrow(y1 - y0 + 1),
    ))
}

/// The planar stream of `rect` of `frame`: rows from the top, no alpha plane, run-length coded
/// unless that comes out larger than the raw planes.
pub fn encode_rect(frame: &Frame, rect: Rect) -> Result<Vec<u8>, PlanarError> {
    let (width, height) = (usize::from(rect.width), usize::from(rect.height));
    let needed_rows = usize::from(rect.y) + height;
    let row_end = (usize::from(rect.x) + width) * PixelFormat::BYTES_PER_PIXEL;
    if width == 0 || height == 0 || row_end > frame.stride || frame.data.len() < frame.stride * needed_rows {
        return Err(PlanarError::OutsideFrame {
            rect,
            width: frame.width,
            height: frame.height,
        });
    }
    let [r, g, b] = channel_offsets(frame.format);
    let left = usize::from(rect.x) * PixelFormat::BYTES_PER_PIXEL;
    let top = usize::from(rect.y);
    let pixels = || {
        (top..top + height).flat_map(move |y| {
            let start = y * frame.stride + left;
            frame.data[start..start + width * PixelFormat::BYTES_PER_PIXEL]
                .chunks_exact(PixelFormat::BYTES_PER_PIXEL)
        })
    };
    let channel = move |offset: usize| pixels().map(move |pixel| pixel[offset]);
    let raw_size = 1 + width * height * 3 + 1;
    // Run-length coding writes at most a control byte per 15 raw bytes and a few per row.
    let mut out = vec![0; 1 + 3 * height * (width + width / 15 + 4)];
    let mut encoder = BitmapStreamEncoder::new(width, height);
    let coded = encoder.encode_channels_stream((channel(r), channel(g), channel(b)), &mut out, true);
    match coded {
        Ok(len) if len < raw_size => {
            out.truncate(len);
            return Ok(out);
        }
        // Larger than raw, or over the bound: the raw planes instead.
        Ok(_) | Err(_) => {}
    }
    out.resize(raw_size.max(out.len()), 0);
    let len = encoder
        .encode_channels_stream((channel(r), channel(g), channel(b)), &mut out, false)
        .map_err(|e| PlanarError::Encode(format!("{e:?}")))?;
    out.truncate(len);
    Ok(out)
}

/// Byte offsets of red, green and blue in a pixel of `format` (memory order).
fn channel_offsets(format: PixelFormat) -> [usize; 3] {
    match format {
        PixelFormat::Bgrx | PixelFormat::Bgra => [2, 1, 0],
        PixelFormat::Rgbx | PixelFormat::Rgba => [0, 1, 2],
        PixelFormat::Xrgb | PixelFormat::Argb => [1, 2, 3],
        PixelFormat::Xbgr | PixelFormat::Abgr => [3, 2, 1],
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PlanarError {
    #[error("rectangle {rect:?} is outside the {width}x{height} frame")]
    OutsideFrame { rect: Rect, width: u16, height: u16 },
    #[error("planar encoding failed: {0}")]
    Encode(String),
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use bytes::Bytes;
    use ironrdp_graphics::rdp6::BitmapStreamDecoder;

    use super::*;

    /// A picture in `format` whose every pixel differs from its neighbours in some channel.
    fn picture(width: u16, height: u16, format: PixelFormat, seed: u8) -> Frame {
        let stride = usize::from(width) * 4 + 12; // padded rows, as capture buffers have
        let mut data = vec![0u8; stride * usize::from(height)];
        for y in 0..usize::from(height) {
            for x in 0..usize::from(width) {
                let [r, g, b] = [
                    u8::try_from((x * 7 + y) % 256).unwrap(),
                    u8::try_from((y * 5) % 256).unwrap().wrapping_add(seed),
                    if (x / 8 + y / 8) % 2 == 0 { 200 } else { 30 },
                ];
                let [ro, go, bo] = channel_offsets(format);
                let pixel = &mut data[y * stride + x * 4..][..4];
                pixel.fill(0xff);
                pixel[ro] = r;
                pixel[go] = g;
                pixel[bo] = b;
            }
        }
        Frame {
            seq: 1,
            width,
            height,
            stride,
            format,
            data: Bytes::from(data),
            damage: Vec::new(),
            captured_at: Instant::now(),
        }
    }

    /// The RGB of `rect` of `frame`, rows from the top.
    fn rgb_of(frame: &Frame, rect: Rect) -> Vec<u8> {
        let [r, g, b] = channel_offsets(frame.format);
        let mut out = Vec::new();
        for y in rect.y..rect.y + rect.height {
            for x in rect.x..rect.x + rect.width {
                let pixel = &frame.data[usize::from(y) * frame.stride + usize::from(x) * 4..][..4];
                out.extend([pixel[r], pixel[g], pixel[b]]);
            }
        }
        out
    }

    fn decode(data: &[u8], width: u16, height: u16) -> Vec<u8> {
        let mut rgb = Vec::new();
        BitmapStreamDecoder::default()
            .decode_bitmap_stream_to_rgb24(data, &mut rgb, usize::from(width), usize::from(height))
            .unwrap();
        rgb
    }

    #[test]
    fn a_rectangle_decodes_to_exactly_its_pixels_in_every_format() {
        for format in [
            PixelFormat::Bgrx,
            PixelFormat::Rgba,
            PixelFormat::Xrgb,
            PixelFormat::Abgr,
        ] {
            let frame = picture(150, 90, format, 3);
            let rect = Rect::new(13, 7, 101, 61);
            let data = encode_rect(&frame, rect).unwrap();
            assert_eq!(
                decode(&data, rect.width, rect.height),
                rgb_of(&frame, rect),
                "{format:?}"
            );
        }
    }

    #[test]
    fn flat_areas_are_run_length_coded_and_noise_is_not_larger_than_raw() {
        let mut frame = picture(64, 64, PixelFormat::Bgrx, 0);
        frame.data = Bytes::from(vec![0x80; frame.stride * 64]);
        let flat = encode_rect(&frame, Rect::new(0, 0, 64, 64)).unwrap();
        // About 5 bytes a row and plane (runs of at most 47), against 64 raw.
        assert!(
            flat.len() < 64 * 64 * 3 / 10,
            "{} bytes for a flat tile",
            flat.len()
        );
        // Pseudo-random bytes: no runs to find.
        let noise: Vec<u8> = (0..frame.stride * 64)
            .map(|i| u8::try_from((i * 2_654_435_761) >> 13 & 0xff).unwrap())
            .collect();
        frame.data = Bytes::from(noise);
        let data = encode_rect(&frame, Rect::new(0, 0, 64, 64)).unwrap();
        assert!(data.len() <= 2 + 64 * 64 * 3, "{} bytes", data.len());
        assert_eq!(decode(&data, 64, 64), rgb_of(&frame, Rect::new(0, 0, 64, 64)));
    }

    #[test]
    fn only_tiles_that_changed_under_the_damage_are_coded() {
        let before = picture(200, 130, PixelFormat::Bgrx, 0);
        let mut after = before.clone();
        let mut data = after.data.to_vec();
        // One pixel in the tile at (64, 64) and one in the last, partial tile (192.., 128..).
        data[70 * after.stride + 100 * 4] ^= 0xff;
        data[129 * after.stride + 199 * 4 + 1] ^= 0xff;
        // And two pixels of a 3x2 block in the first tile.
        for (x, y) in [(5, 10), (7, 11)] {
            data[y * after.stride + x * 4 + 2] ^= 0x0f;
        }
        after.data = Bytes::from(data);
        // The damage covers the whole picture; three tiles differ, each coded only where it
        // changed.
        let tiles = encode_changed_tiles(&after, &[], Some(&before)).unwrap();
        let rects: Vec<_> = tiles
            .iter()
            .map(|t| (t.rect.left, t.rect.top, t.rect.right, t.rect.bottom))
            .collect();
        assert_eq!(rects, [(5, 10, 8, 12), (100, 70, 101, 71), (199, 129, 200, 130)]);
        for tile in &tiles {
            let rect = Rect::new(
                tile.rect.left,
                tile.rect.top,
                tile.rect.right - tile.rect.left,
                tile.rect.bottom - tile.rect.top,
            );
            assert_eq!(decode(&tile.data, rect.width, rect.height), rgb_of(&after, rect));
        }
        // Without a previous picture (or one of another size), every damaged tile goes whole.
        let damage = [Rect::new(60, 0, 10, 10)];
        let tiles = encode_changed_tiles(&after, &damage, None).unwrap();
        assert_eq!(tiles.len(), 2, "the damage straddles two tiles");
        let smaller = picture(100, 100, PixelFormat::Bgrx, 0);
        assert_eq!(
            encode_changed_tiles(&after, &[], Some(&smaller)).unwrap().len(),
            4 * 3
        );
    }

    #[test]
    fn a_rectangle_outside_the_frame_is_an_error_not_a_panic() {
        let frame = picture(32, 32, PixelFormat::Bgrx, 0);
        assert!(encode_rect(&frame, Rect::new(20, 20, 20, 20)).is_err());
        assert!(encode_rect(&frame, Rect::new(0, 0, 0, 5)).is_err());
    }
}
