use wrd_frame::Rect;

/// H.264 codes pictures in 16x16 macroblocks: a change anywhere in one re-codes all of it.
pub const MACROBLOCK: u16 = 16;

/// The damage grown outwards to the macroblock grid and clipped to the picture, overlapping
/// results merged. Empty damage means "unknown": the whole picture.
pub fn align_to_macroblocks(damage: &[Rect], width: u16, height: u16) -> Vec<Rect> {
    let picture = Rect::new(0, 0, width, height);
    if damage.is_empty() {
        return if picture.is_empty() {
            Vec::new()
        } else {
            vec![picture]
        };
    }
    let mut aligned: Vec<Rect> = Vec::with_capacity(damage.len());
    for rect in damage {
        let Some(rect) = rect.intersect(&picture) else {
            continue;
        };
        let mb = u32::from(MACROBLOCK);
        let left = u32::from(rect.x) / mb * mb;
        let top = u32::from(rect.y) / mb * mb;
        let right = rect.right().div_ceil(mb) * mb;
        let bottom = rect.bottom().div_ceil(mb) * mb;
        let grown = Rect::new(
            to_u16(left),
            to_u16(top),
            to_u16(right - left),
            to_u16(bottom - top),
        );
        let Some(mut grown) = grown.intersect(&picture) else {
            continue;
        };
        // Merge with every aligned rectangle it overlaps (shared edges stay apart: they
        // cost nothing twice), repeating until the list is stable.
        while let Some(pos) = aligned.iter().position(|other| overlaps(other, &grown)) {
            grown = grown.union(&aligned.swap_remove(pos));
        }
        aligned.push(grown);
    }
    aligned
}

fn overlaps(a: &Rect, b: &Rect) -> bool {
    a.intersect(b).is_some()
}

// Values derived from u16 coordinates rounded up to a multiple of 16 are at most 65536;
// clamping keeps the largest representable edge.
fn to_u16(value: u32) -> u16 {
    u16::try_from(value).unwrap_or(u16::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_small_change_grows_to_its_macroblocks() {
        let aligned = align_to_macroblocks(&[Rect::new(17, 3, 2, 20)], 1920, 1080);
        assert_eq!(aligned, vec![Rect::new(16, 0, 16, 32)]);
    }

    #[test]
    fn regions_are_clipped_to_a_picture_that_is_not_a_multiple_of_16() {
        let aligned = align_to_macroblocks(&[Rect::new(1000, 590, 30, 10)], 1010, 600);
        assert_eq!(aligned, vec![Rect::new(992, 576, 18, 24)]);
    }

    #[test]
    fn overlapping_regions_after_alignment_merge() {
        let aligned = align_to_macroblocks(&[Rect::new(0, 0, 10, 10), Rect::new(12, 12, 10, 10)], 640, 480);
        assert_eq!(aligned, vec![Rect::new(0, 0, 32, 32)]);
    }

    #[test]
    fn distant_regions_stay_apart() {
        let aligned = align_to_macroblocks(&[Rect::new(0, 0, 10, 10), Rect::new(100, 100, 10, 10)], 640, 480);
        assert_eq!(aligned, vec![Rect::new(0, 0, 16, 16), Rect::new(96, 96, 16, 16)]);
    }

    #[test]
    fn unknown_damage_is_the_whole_picture() {
        assert_eq!(
            align_to_macroblocks(&[], 640, 480),
            vec![Rect::new(0, 0, 640, 480)]
        );
    }

    #[test]
    fn damage_outside_the_picture_is_dropped() {
        assert!(align_to_macroblocks(&[Rect::new(700, 10, 10, 10)], 640, 480).is_empty());
    }
}
