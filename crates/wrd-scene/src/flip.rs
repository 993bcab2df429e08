//! The flipper's colours: `wrd-scene flip` fills its whole surface with one of [`PALETTE`] and
//! moves to the next one on every key press, so a client can tell from any few pixels of its
//! picture which press the screen shows ([`index_of`]).
//!
//! The colours are far apart (every pair differs by at least 180 in one channel), so lossy
//! codecs (RemoteFX quantises; a solid tile comes back within a few units) never make one
//! look like another.

/// The colours (R, G, B) in the order the flipper shows them, cycling.
pub const PALETTE: [[u8; 3]; 8] = [
    [220, 40, 40],
    [40, 200, 40],
    [40, 40, 220],
    [230, 220, 40],
    [220, 40, 220],
    [40, 210, 220],
    [230, 230, 230],
    [20, 20, 20],
];

/// How far (largest difference in any channel) a decoded pixel may be from its palette colour.
pub const TOLERANCE: u8 = 40;

/// The palette index of `rgb`, if it is within [`TOLERANCE`] of one colour.
pub fn index_of(rgb: [u8; 3]) -> Option<usize> {
    PALETTE
        .iter()
        .position(|c| c.iter().zip(rgb).all(|(&a, b)| a.abs_diff(b) <= TOLERANCE))
}

/// The palette index that follows `index`.
pub fn next_index(index: usize) -> usize {
    (index + 1) % PALETTE.len()
}

/// Whether an evdev key code (as `wl_keyboard.key` gives it) is a modifier or lock key: the
/// flipper ignores those, since servers and input stacks press them on their own (a Shift tap
/// to prime a virtual keyboard, lock keys synchronised on connect).
pub fn is_modifier(evdev_code: u32) -> bool {
    // Left/right Ctrl, Shift, Alt, Meta; Caps, Num and Scroll Lock; Compose (Menu).
    matches!(
        evdev_code,
        29 | 97 | 42 | 54 | 56 | 100 | 125 | 126 | 58 | 69 | 70 | 127
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn colours_are_told_apart_within_the_tolerance() {
        for (i, a) in PALETTE.iter().enumerate() {
            assert_eq!(index_of(*a), Some(i));
            for b in &PALETTE[i + 1..] {
                let spread = a.iter().zip(b).map(|(x, y)| x.abs_diff(*y)).max().unwrap();
                assert!(spread > 2 * TOLERANCE, "{a:?} and {b:?} are too close");
            }
        }
        let [r, g, b] = PALETTE[2];
        assert_eq!(index_of([r + TOLERANCE, g - TOLERANCE, b]), Some(2));
        assert_eq!(index_of([r + TOLERANCE + 1, g, b]), None);
        assert_eq!(index_of([128, 128, 128]), None);
    }

    #[test]
    fn the_sequence_cycles() {
        assert_eq!(next_index(7), 0);
        assert_eq!(next_index(3), 4);
        assert!(is_modifier(42) && !is_modifier(30));
    }
}
