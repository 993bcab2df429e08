/// Peak signal-to-noise ratio in dB between two BGRx pictures of `width` x `height` (each with
/// its own stride), over the three colour channels. Identical pictures give `f64::INFINITY`.
pub fn psnr_bgrx(a: &[u8], a_stride: usize, b: &[u8], b_stride: usize, width: usize, height: usize) -> f64 {
    let mut squared_error: u64 = 0;
    for row in 0..height {
        let (Some(row_a), Some(row_b)) = (
            a.get(row * a_stride..row * a_stride + width * 4),
            b.get(row * b_stride..row * b_stride + width * 4),
        ) else {
            // A short buffer is as far from the other picture as it gets.
            return 0.0;
        };
        for (pa, pb) in row_a.chunks_exact(4).zip(row_b.chunks_exact(4)) {
            for channel in 0..3 {
                let diff = i64::from(pa[channel]) - i64::from(pb[channel]);
                squared_error += diff.unsigned_abs() * diff.unsigned_abs();
            }
        }
    }
    if squared_error == 0 {
        return f64::INFINITY;
    }
    // Pixel counts of real pictures are far below 2^52: the conversions are exact.
    #[allow(clippy::cast_precision_loss)]
    let mse = squared_error as f64 / (width * height * 3) as f64;
    10.0 * (255.0_f64 * 255.0 / mse).log10()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identical_pictures_are_infinitely_close() {
        let picture = vec![7u8; 4 * 4 * 4];
        assert!(psnr_bgrx(&picture, 16, &picture, 16, 4, 4).is_infinite());
    }

    #[test]
    fn an_error_of_one_everywhere_is_48_db() {
        let a = vec![100u8; 4 * 4 * 4];
        let b = vec![101u8; 4 * 4 * 4];
        let psnr = psnr_bgrx(&a, 16, &b, 16, 4, 4);
        assert!((psnr - 48.13).abs() < 0.01, "{psnr}");
    }

    #[test]
    fn the_padding_byte_is_ignored() {
        let a = vec![100u8; 4 * 4];
        let mut b = a.clone();
        b[3] = 0;
        assert!(psnr_bgrx(&a, 16, &b, 16, 4, 1).is_infinite());
    }
}
