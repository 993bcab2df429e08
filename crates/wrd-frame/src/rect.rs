/// An axis-aligned rectangle in desktop pixels. Never empty when produced by [`Rect::new`]
/// with non-zero sizes; operations that could produce an empty rectangle return `Option`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Rect {
    pub x: u16,
    pub y: u16,
    pub width: u16,
    pub height: u16,
}

impl Rect {
    pub const fn new(x: u16, y: u16, width: u16, height: u16) -> Self {
        Self { x, y, width, height }
    }

    pub fn is_empty(&self) -> bool {
        self.width == 0 || self.height == 0
    }

    /// Exclusive right edge, computed without overflow.
    pub fn right(&self) -> u32 {
        u32::from(self.x) + u32::from(self.width)
    }

    /// Exclusive bottom edge, computed without overflow.
    pub fn bottom(&self) -> u32 {
        u32::from(self.y) + u32::from(self.height)
    }

    pub fn area(&self) -> u64 {
        u64::from(self.width) * u64::from(self.height)
    }

    /// The part of `self` inside `other`, if any.
    pub fn intersect(&self, other: &Rect) -> Option<Rect> {
        let left = self.x.max(other.x);
        let top = self.y.max(other.y);
        let right = self.right().min(other.right());
        let bottom = self.bottom().min(other.bottom());
        if right <= u32::from(left) || bottom <= u32::from(top) {
            return None;
        }
        Some(Rect::from_edges(u32::from(left), u32::from(top), right, bottom))
    }

    /// The smallest rectangle containing both.
    pub fn union(&self, other: &Rect) -> Rect {
        let left = self.x.min(other.x);
        let top = self.y.min(other.y);
        let right = self.right().max(other.right());
        let bottom = self.bottom().max(other.bottom());
        Rect::from_edges(u32::from(left), u32::from(top), right, bottom)
    }

    /// Whether the two rectangles overlap or share an edge (so that their union wastes nothing
    /// along the shared side).
    pub fn touches(&self, other: &Rect) -> bool {
        u32::from(self.x) <= other.right()
            && u32::from(other.x) <= self.right()
            && u32::from(self.y) <= other.bottom()
            && u32::from(other.y) <= self.bottom()
    }

    // Edges come from u16 coordinates plus u16 sizes, so they fit u16 after clamping to the
    // largest representable desktop (65535).
    fn from_edges(left: u32, top: u32, right: u32, bottom: u32) -> Rect {
        let clamp = |v: u32| u16::try_from(v).unwrap_or(u16::MAX);
        let (left, top) = (clamp(left), clamp(top));
        Rect {
            x: left,
            y: top,
            width: clamp(right).saturating_sub(left),
            height: clamp(bottom).saturating_sub(top),
        }
    }
}

/// Adds `rect` to a damage list, clipped to `bounds`, merging it with any rectangle it touches.
/// Keeps the list short: once it holds more than `max_rects`, everything collapses into the
/// bounding box (encoding one larger rectangle beats sending many tiny ones).
pub fn accumulate_damage(list: &mut Vec<Rect>, rect: Rect, bounds: Rect, max_rects: usize) {
    let Some(mut rect) = rect.intersect(&bounds) else {
        return;
    };
    // Merge until no rectangle in the list touches the growing one.
    while let Some(pos) = list.iter().position(|r| r.touches(&rect)) {
        let other = list.swap_remove(pos);
        rect = rect.union(&other);
    }
    list.push(rect);
    if list.len() > max_rects {
        let mut bbox = list[0];
        for r in list.iter().skip(1) {
            bbox = bbox.union(r);
        }
        list.clear();
        list.push(bbox);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SCREEN: Rect = Rect::new(0, 0, 100, 100);

    #[test]
    fn intersect_and_union() {
        let a = Rect::new(10, 10, 20, 20);
        let b = Rect::new(20, 25, 20, 20);
        assert_eq!(a.intersect(&b), Some(Rect::new(20, 25, 10, 5)));
        assert_eq!(a.union(&b), Rect::new(10, 10, 30, 35));
        assert_eq!(a.intersect(&Rect::new(30, 0, 5, 5)), None);
    }

    #[test]
    fn union_near_u16_max_does_not_wrap() {
        let a = Rect::new(65_000, 65_000, 535, 535);
        let b = Rect::new(0, 0, 1, 1);
        assert_eq!(a.union(&b), Rect::new(0, 0, 65_535, 65_535));
    }

    #[test]
    fn accumulate_merges_touching_and_clips() {
        let mut list = Vec::new();
        accumulate_damage(&mut list, Rect::new(0, 0, 10, 10), SCREEN, 8);
        accumulate_damage(&mut list, Rect::new(10, 0, 10, 10), SCREEN, 8);
        accumulate_damage(&mut list, Rect::new(50, 50, 80, 80), SCREEN, 8);
        assert_eq!(list.len(), 2);
        assert!(list.contains(&Rect::new(0, 0, 20, 10)));
        assert!(list.contains(&Rect::new(50, 50, 50, 50)));
        accumulate_damage(&mut list, Rect::new(200, 200, 5, 5), SCREEN, 8);
        assert_eq!(list.len(), 2, "off-screen damage is dropped");
    }

    #[test]
    fn accumulate_collapses_past_limit() {
        let mut list = Vec::new();
        for i in 0..5u16 {
            accumulate_damage(&mut list, Rect::new(i * 20, i * 20, 5, 5), SCREEN, 4);
        }
        assert_eq!(list, vec![Rect::new(0, 0, 85, 85)]);
    }
}
