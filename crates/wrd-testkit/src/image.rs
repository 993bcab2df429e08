//! An RGB picture: screenshots, crops, comparisons, PNG files.

use std::fmt;
use std::io::{BufWriter, Cursor};
use std::path::Path;

use anyhow::{Context, Result, bail, ensure};

/// 8-bit RGB pixels, row-major, no padding (`width * height * 3` bytes).
#[derive(Clone, PartialEq, Eq)]
pub struct Image {
    width: u32,
    height: u32,
    rgb: Vec<u8>,
}

impl fmt::Debug for Image {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Image({}x{})", self.width, self.height)
    }
}

fn byte_len(width: u32, height: u32) -> Result<usize> {
    (width as usize)
        .checked_mul(height as usize)
        .and_then(|n| n.checked_mul(3))
        .with_context(|| format!("image size {width}x{height} overflows"))
}

impl Image {
    /// A black image.
    pub fn new(width: u32, height: u32) -> Result<Self> {
        Ok(Self {
            width,
            height,
            rgb: vec![0; byte_len(width, height)?],
        })
    }

    /// An image filled with one colour.
    pub fn filled(width: u32, height: u32, rgb: [u8; 3]) -> Result<Self> {
        let n = byte_len(width, height)?;
        Ok(Self {
            width,
            height,
            rgb: rgb.iter().copied().cycle().take(n).collect(),
        })
    }

    /// Wraps packed RGB bytes (`width * height * 3`).
    pub fn from_rgb(width: u32, height: u32, rgb: Vec<u8>) -> Result<Self> {
        let n = byte_len(width, height)?;
        ensure!(
            rgb.len() == n,
            "{width}x{height} RGB needs {n} bytes, got {}",
            rgb.len()
        );
        Ok(Self { width, height, rgb })
    }

    /// Converts 32-bit B,G,R,X pixels (byte order in memory, i.e. DRM XRGB8888 / PipeWire
    /// BGRx / BGRA) with `stride` bytes per row.
    pub fn from_bgrx(width: u32, height: u32, stride: usize, data: &[u8]) -> Result<Self> {
        Self::from_32bit(width, height, stride, data, [2, 1, 0])
    }

    /// Converts 32-bit R,G,B,X pixels (byte order in memory: RGBx / RGBA).
    pub fn from_rgbx(width: u32, height: u32, stride: usize, data: &[u8]) -> Result<Self> {
        Self::from_32bit(width, height, stride, data, [0, 1, 2])
    }

    fn from_32bit(width: u32, height: u32, stride: usize, data: &[u8], idx: [usize; 3]) -> Result<Self> {
        let row = (width as usize).checked_mul(4).context("width overflows")?;
        ensure!(stride >= row, "stride {stride} < 4 * width {width}");
        let need = if height == 0 {
            0
        } else {
            stride * (height as usize - 1) + row
        };
        ensure!(
            data.len() >= need,
            "{width}x{height} stride {stride} needs {need} bytes, got {}",
            data.len()
        );
        let mut rgb = Vec::with_capacity(byte_len(width, height)?);
        for y in 0..height as usize {
            for px in data[y * stride..y * stride + row].chunks_exact(4) {
                rgb.extend_from_slice(&[px[idx[0]], px[idx[1]], px[idx[2]]]);
            }
        }
        Ok(Self { width, height, rgb })
    }

    pub fn width(&self) -> u32 {
        self.width
    }

    pub fn height(&self) -> u32 {
        self.height
    }

    /// `(width, height)`.
    pub fn size(&self) -> (u32, u32) {
        (self.width, self.height)
    }

    /// Packed RGB bytes.
    pub fn as_rgb(&self) -> &[u8] {
        &self.rgb
    }

    pub fn into_rgb(self) -> Vec<u8> {
        self.rgb
    }

    fn offset(&self, x: u32, y: u32) -> Option<usize> {
        (x < self.width && y < self.height).then(|| (y as usize * self.width as usize + x as usize) * 3)
    }

    /// The pixel at (x, y), `None` outside the image.
    pub fn pixel(&self, x: u32, y: u32) -> Option<[u8; 3]> {
        let o = self.offset(x, y)?;
        Some([self.rgb[o], self.rgb[o + 1], self.rgb[o + 2]])
    }

    /// Sets the pixel at (x, y); returns false (and does nothing) outside the image.
    pub fn set_pixel(&mut self, x: u32, y: u32, rgb: [u8; 3]) -> bool {
        match self.offset(x, y) {
            Some(o) => {
                self.rgb[o..o + 3].copy_from_slice(&rgb);
                true
            }
            None => false,
        }
    }

    /// Fills a rectangle, clipped to the image.
    pub fn fill_rect(&mut self, x: u32, y: u32, w: u32, h: u32, rgb: [u8; 3]) {
        for yy in y..y.saturating_add(h).min(self.height) {
            for xx in x..x.saturating_add(w).min(self.width) {
                self.set_pixel(xx, yy, rgb);
            }
        }
    }

    /// The `w` x `h` rectangle at (x, y); an error if it does not fit.
    pub fn crop(&self, x: u32, y: u32, w: u32, h: u32) -> Result<Self> {
        ensure!(
            x.checked_add(w).is_some_and(|r| r <= self.width)
                && y.checked_add(h).is_some_and(|b| b <= self.height),
            "crop {w}x{h}+{x}+{y} outside the {}x{} image",
            self.width,
            self.height
        );
        let mut rgb = Vec::with_capacity(byte_len(w, h)?);
        let stride = self.width as usize * 3;
        for row in y as usize..(y + h) as usize {
            let start = row * stride + x as usize * 3;
            rgb.extend_from_slice(&self.rgb[start..start + w as usize * 3]);
        }
        Ok(Self {
            width: w,
            height: h,
            rgb,
        })
    }

    fn same_size(&self, other: &Self) -> Result<()> {
        if self.size() != other.size() {
            bail!(
                "image sizes differ: {}x{} vs {}x{}",
                self.width,
                self.height,
                other.width,
                other.height
            );
        }
        Ok(())
    }

    /// Mean absolute difference per channel, 0.0 (identical) ..= 255.0; sizes must match.
    pub fn mean_abs_diff(&self, other: &Self) -> Result<f64> {
        self.same_size(other)?;
        if self.rgb.is_empty() {
            return Ok(0.0);
        }
        let sum: u64 = self
            .rgb
            .iter()
            .zip(&other.rgb)
            .map(|(a, b)| u64::from(a.abs_diff(*b)))
            .sum();
        Ok(sum as f64 / self.rgb.len() as f64)
    }

    /// Largest absolute difference of any channel of any pixel; sizes must match.
    pub fn max_abs_diff(&self, other: &Self) -> Result<u8> {
        self.same_size(other)?;
        Ok(self
            .rgb
            .iter()
            .zip(&other.rgb)
            .map(|(a, b)| a.abs_diff(*b))
            .max()
            .unwrap_or(0))
    }

    /// Fraction (0..=1) of pixels where some channel differs by more than `tolerance` from the
    /// other image's pixel at the same place: how much of the picture changed.
    pub fn fraction_different(&self, other: &Self, tolerance: u8) -> Result<f64> {
        self.same_size(other)?;
        let n = self.rgb.len() / 3;
        if n == 0 {
            return Ok(0.0);
        }
        let diff = self
            .rgb
            .chunks_exact(3)
            .zip(other.rgb.chunks_exact(3))
            .filter(|(a, b)| a.iter().zip(b.iter()).any(|(x, y)| x.abs_diff(*y) > tolerance))
            .count();
        Ok(diff as f64 / n as f64)
    }

    /// Fraction (0..=1) of pixels within `tolerance` (per channel) of `rgb`.
    pub fn fraction_matching(&self, rgb: [u8; 3], tolerance: u8) -> f64 {
        let n = self.rgb.len() / 3;
        if n == 0 {
            return 0.0;
        }
        let hits = self
            .rgb
            .chunks_exact(3)
            .filter(|px| {
                px.iter()
                    .zip(rgb.iter())
                    .all(|(a, b)| a.abs_diff(*b) <= tolerance)
            })
            .count();
        hits as f64 / n as f64
    }

    /// Mean colour.
    pub fn mean_color(&self) -> [f64; 3] {
        let n = self.rgb.len() / 3;
        if n == 0 {
            return [0.0; 3];
        }
        let mut sum = [0u64; 3];
        for px in self.rgb.chunks_exact(3) {
            for (s, v) in sum.iter_mut().zip(px) {
                *s += u64::from(*v);
            }
        }
        sum.map(|s| s as f64 / n as f64)
    }

    /// Whether every pixel has the same colour (true for an empty image).
    pub fn is_uniform(&self) -> bool {
        match self.rgb.get(..3) {
            Some(first) => self.rgb.chunks_exact(3).all(|px| px == first),
            None => true,
        }
    }

    /// Number of distinct colours, counting at most up to `limit`.
    pub fn count_colors(&self, limit: usize) -> usize {
        let mut seen = std::collections::HashSet::new();
        for px in self.rgb.chunks_exact(3) {
            seen.insert([px[0], px[1], px[2]]);
            if seen.len() >= limit {
                break;
            }
        }
        seen.len()
    }

    /// Encodes as an 8-bit RGB PNG.
    pub fn encode_png(&self) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        {
            let mut enc = png::Encoder::new(&mut out, self.width, self.height);
            enc.set_color(png::ColorType::Rgb);
            enc.set_depth(png::BitDepth::Eight);
            enc.set_compression(png::Compression::Fast);
            let mut w = enc.write_header().context("PNG header")?;
            w.write_image_data(&self.rgb).context("PNG data")?;
            w.finish().context("PNG end")?;
        }
        Ok(out)
    }

    /// Saves as PNG (creating parent directories): leave failing tests a picture to look at.
    pub fn save_png(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
        }
        let bytes = self.encode_png()?;
        let file = std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?;
        let mut w = BufWriter::new(file);
        std::io::Write::write_all(&mut w, &bytes).with_context(|| format!("writing {}", path.display()))?;
        std::io::Write::flush(&mut w).with_context(|| format!("writing {}", path.display()))?;
        Ok(())
    }

    /// Loads a raw frame dump as the probes write it (`wrd-pw-probe --dump`,
    /// `wrd-mutter-probe --dump-dir`): a header line `WRDRAW <w> <h> <stride> <format>` with a
    /// `wrd_frame::PixelFormat` name (`Bgrx`, `Rgba`, `Xrgb`, ...), then `stride * h` bytes.
    pub fn load_raw_dump(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        let nl = bytes
            .iter()
            .position(|&b| b == b'\n')
            .with_context(|| format!("{}: no header line", path.display()))?;
        let header = String::from_utf8_lossy(&bytes[..nl]);
        let f: Vec<&str> = header.split_whitespace().collect();
        ensure!(
            f.len() == 5 && f[0] == "WRDRAW",
            "{}: not a raw dump ({header:?})",
            path.display()
        );
        let (w, h, stride): (u32, u32, usize) = (f[1].parse()?, f[2].parse()?, f[3].parse()?);
        // where R, G and B sit in each 4-byte pixel, by the format's byte order in memory
        let idx = match f[4] {
            "Bgrx" | "Bgra" => [2, 1, 0],
            "Rgbx" | "Rgba" => [0, 1, 2],
            "Xrgb" | "Argb" => [1, 2, 3],
            "Xbgr" | "Abgr" => [3, 2, 1],
            other => bail!("{}: unknown pixel format {other}", path.display()),
        };
        Self::from_32bit(w, h, stride, &bytes[nl + 1..], idx).with_context(|| format!("{}", path.display()))
    }

    /// Loads a PNG file (any colour type; alpha is dropped, 16-bit is reduced to 8).
    pub fn load_png(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        Self::decode_png(&bytes).with_context(|| format!("decoding {}", path.display()))
    }

    /// Decodes PNG bytes (any colour type; alpha is dropped, 16-bit is reduced to 8).
    pub fn decode_png(bytes: &[u8]) -> Result<Self> {
        let mut dec = png::Decoder::new(Cursor::new(bytes));
        dec.set_transformations(png::Transformations::normalize_to_color8());
        let mut reader = dec.read_info().context("PNG header")?;
        let size = reader.output_buffer_size().context("PNG too large")?;
        let mut buf = vec![0; size];
        let info = reader.next_frame(&mut buf).context("PNG data")?;
        let (w, h) = (info.width, info.height);
        let n = byte_len(w, h)?;
        let stride = info.line_size;
        let mut rgb = Vec::with_capacity(n);
        for row in buf.chunks(stride).take(h as usize) {
            let row = &row[..stride.min(row.len())];
            match info.color_type {
                png::ColorType::Rgb => rgb.extend_from_slice(&row[..w as usize * 3]),
                png::ColorType::Rgba => row.chunks_exact(4).for_each(|p| rgb.extend_from_slice(&p[..3])),
                png::ColorType::Grayscale => row.iter().take(w as usize).for_each(|g| rgb.extend([*g; 3])),
                png::ColorType::GrayscaleAlpha => row.chunks_exact(2).for_each(|p| rgb.extend([p[0]; 3])),
                png::ColorType::Indexed => bail!("PNG palette was not expanded"),
            }
        }
        Self::from_rgb(w, h, rgb)
    }
}

#[cfg(test)]
#[allow(clippy::cast_possible_truncation)] // small test values
mod tests {
    use super::*;

    fn sample() -> Image {
        let mut img = Image::new(4, 3).unwrap();
        for y in 0..3 {
            for x in 0..4 {
                img.set_pixel(x, y, [x as u8 * 10, y as u8 * 20, 200]);
            }
        }
        img
    }

    #[test]
    fn crop_and_pixels() {
        let img = sample();
        assert_eq!(img.pixel(3, 2), Some([30, 40, 200]));
        assert_eq!(img.pixel(4, 0), None);
        let c = img.crop(1, 1, 3, 2).unwrap();
        assert_eq!(c.size(), (3, 2));
        assert_eq!(c.pixel(0, 0), Some([10, 20, 200]));
        assert_eq!(c.pixel(2, 1), Some([30, 40, 200]));
        assert!(img.crop(2, 0, 3, 1).is_err());
        assert!(img.crop(0, 0, 4, 3).unwrap() == img);
        assert!(img.crop(u32::MAX, 0, 2, 1).is_err());
    }

    #[test]
    fn raw_dumps_in_every_byte_order() {
        let dir = tempfile::tempdir().unwrap();
        // one pixel R=1 G=2 B=3 plus 4 bytes of row padding, 2 rows
        for (format, px) in [
            ("Bgrx", [3, 2, 1, 0]),
            ("Rgba", [1, 2, 3, 255]),
            ("Xrgb", [0, 1, 2, 3]),
            ("Abgr", [255, 3, 2, 1]),
        ] {
            let path = dir.path().join(format);
            let mut bytes = format!("WRDRAW 1 2 8 {format}\n").into_bytes();
            for _ in 0..2 {
                bytes.extend_from_slice(&px);
                bytes.extend_from_slice(&[9; 4]);
            }
            std::fs::write(&path, bytes).unwrap();
            let img = Image::load_raw_dump(&path).unwrap();
            assert_eq!(img.size(), (1, 2));
            assert_eq!(img.pixel(0, 1), Some([1, 2, 3]), "{format}");
        }
        let bad = dir.path().join("bad");
        std::fs::write(&bad, b"WRDRAW 1 1 4 Yuv\n\0\0\0\0").unwrap();
        assert!(
            Image::load_raw_dump(&bad)
                .unwrap_err()
                .to_string()
                .contains("unknown pixel format")
        );
    }

    #[test]
    fn diffs_and_stats() {
        let a = Image::filled(2, 2, [10, 10, 10]).unwrap();
        let mut b = a.clone();
        assert_eq!(a.mean_abs_diff(&b).unwrap(), 0.0);
        assert!(a.is_uniform());
        b.set_pixel(0, 0, [22, 10, 10]);
        assert!((a.mean_abs_diff(&b).unwrap() - 1.0).abs() < 1e-9); // 12 over 12 channels
        assert_eq!(a.max_abs_diff(&b).unwrap(), 12);
        assert_eq!(a.fraction_different(&b, 11).unwrap(), 0.25);
        assert_eq!(a.fraction_different(&b, 12).unwrap(), 0.0);
        assert!(!b.is_uniform());
        assert_eq!(b.count_colors(10), 2);
        assert_eq!(b.fraction_matching([10, 10, 10], 0), 0.75);
        assert_eq!(a.mean_color(), [10.0; 3]);
        assert!(a.mean_abs_diff(&Image::new(3, 2).unwrap()).is_err());
    }

    #[test]
    fn bgrx_with_stride() {
        // 2x2, stride 12 (4 bytes padding per row)
        let data = [
            1, 2, 3, 0, 4, 5, 6, 0, 9, 9, 9, 9, 7, 8, 9, 0, 10, 11, 12, 0, 9, 9, 9, 9,
        ];
        let img = Image::from_bgrx(2, 2, 12, &data).unwrap();
        assert_eq!(img.as_rgb(), &[3, 2, 1, 6, 5, 4, 9, 8, 7, 12, 11, 10]);
        let img = Image::from_rgbx(2, 2, 12, &data).unwrap();
        assert_eq!(img.pixel(1, 1), Some([10, 11, 12]));
        assert!(Image::from_bgrx(2, 2, 7, &data).is_err());
        assert!(Image::from_bgrx(2, 3, 12, &data).is_err());
    }

    #[test]
    fn png_round_trip() {
        let img = sample();
        let dir = crate::TestDir::new("png").unwrap();
        let p = dir.join("sub/a.png");
        img.save_png(&p).unwrap();
        assert_eq!(Image::load_png(&p).unwrap(), img);
    }
}
