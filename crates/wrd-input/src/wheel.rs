//! Wheel rotations → Wayland scroll axis values and discrete steps.
//!
//! RDP counts wheel rotation as Windows does: 120 units per notch (`WHEEL_DELTA`), vertical
//! positive away from the user (up), horizontal positive to the right ([MS-RDPBCGR]
//! 2.2.8.1.1.3.1.1.3, `PTRFLAGS_WHEEL`/`PTRFLAGS_HWHEEL`; `WM_MOUSEWHEEL`/`WM_MOUSEHWHEEL`).
//! High-resolution wheels send fractions of a notch (30 units, say). The input channel's smooth
//! scroll carries the same units times 65536.
//!
//! Wayland's `wl_pointer.axis` is positive down and right, so vertical values change sign and
//! horizontal ones do not. A notch is 15 axis units, the value libinput gives a wheel click and
//! wlroots passes on (weston's RDP backend uses 10, X's old default; 15 matches what local
//! wheels do on the desktops we drive). The value is always proportional to the rotation; the
//! discrete step count (`axis_discrete`, Mutter's and the portal's `NotifyPointerAxisDiscrete`)
//! is emitted when a whole notch has accumulated, and the partial remainder is kept, per axis.
//! When the direction reverses the remainder is dropped: a notch back should be a step back,
//! not the completion of the old direction's partial notch.
//!
//! [MS-RDPBCGR]: https://learn.microsoft.com/en-us/openspecs/windows_protocols/ms-rdpbcgr/

use crate::{Axis, DesktopInput};

/// RDP wheel units in one notch.
pub const WHEEL_UNITS_PER_NOTCH: i64 = 120;
/// `wl_pointer` axis units for one notch.
pub const WHEEL_NOTCH_VALUE: f64 = 15.0;
/// The input channel's scroll values are RDP wheel units times this.
const SCROLL_SUBUNITS_PER_UNIT: i64 = 0x1_0000;
/// One notch in the sub-units the accumulators count.
const NOTCH_SUBUNITS: i64 = WHEEL_UNITS_PER_NOTCH * SCROLL_SUBUNITS_PER_UNIT;

/// Partial notches per axis, in 1/65536 of an RDP wheel unit, with Wayland's sign.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Wheel {
    vertical: i64,
    horizontal: i64,
}

impl Wheel {
    /// A wheel event (`WheelVertical`/`WheelHorizontal`) in RDP units; `None` for a rotation of
    /// zero.
    pub fn rotate(&mut self, axis: Axis, units: i16) -> Option<DesktopInput> {
        self.scroll(axis, i64::from(units) * SCROLL_SUBUNITS_PER_UNIT)
    }

    /// A smooth scroll component from the input channel, in RDP units times 65536; `None` for
    /// zero.
    pub fn scroll(&mut self, axis: Axis, subunits: i64) -> Option<DesktopInput> {
        if subunits == 0 {
            return None;
        }
        // RDP's vertical axis points up, Wayland's down.
        let delta = match axis {
            Axis::Vertical => -subunits,
            Axis::Horizontal => subunits,
        };
        let pending = match axis {
            Axis::Vertical => &mut self.vertical,
            Axis::Horizontal => &mut self.horizontal,
        };
        if pending.signum() == -delta.signum() {
            *pending = 0;
        }
        *pending += delta;
        // Whole notches, truncated toward zero; the remainder keeps the sign of the movement.
        let steps = *pending / NOTCH_SUBUNITS;
        *pending -= steps * NOTCH_SUBUNITS;
        Some(DesktopInput::Axis {
            axis,
            value: subunits_to_value(delta),
            // |steps| <= 2^31 / 120 for any i32 input: an i32 holds it, clamp keeps it total.
            discrete: i32::try_from(steps).unwrap_or(if steps < 0 { i32::MIN } else { i32::MAX }),
        })
    }

    /// Drops partial notches (the session ends).
    pub fn reset(&mut self) {
        *self = Self::default();
    }
}

/// Exact for any delta an `i32` carries (far below 2^52).
fn subunits_to_value(subunits: i64) -> f64 {
    subunits as f64 * WHEEL_NOTCH_VALUE / NOTCH_SUBUNITS as f64
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    fn axis(axis: Axis, value: f64, discrete: i32) -> Option<DesktopInput> {
        Some(DesktopInput::Axis {
            axis,
            value,
            discrete,
        })
    }

    #[test]
    fn one_notch_up_is_minus_fifteen_and_one_step_up() {
        let mut wheel = Wheel::default();
        assert_eq!(wheel.rotate(Axis::Vertical, 120), axis(Axis::Vertical, -15.0, -1));
        assert_eq!(wheel.rotate(Axis::Vertical, -120), axis(Axis::Vertical, 15.0, 1));
        assert_eq!(wheel.rotate(Axis::Vertical, 240), axis(Axis::Vertical, -30.0, -2));
    }

    #[test]
    fn horizontal_keeps_its_sign() {
        let mut wheel = Wheel::default();
        assert_eq!(
            wheel.rotate(Axis::Horizontal, 120),
            axis(Axis::Horizontal, 15.0, 1)
        );
        assert_eq!(
            wheel.rotate(Axis::Horizontal, -120),
            axis(Axis::Horizontal, -15.0, -1)
        );
    }

    #[test]
    fn high_resolution_wheels_step_every_fourth_thirty() {
        let mut wheel = Wheel::default();
        for _ in 0..3 {
            assert_eq!(wheel.rotate(Axis::Vertical, -30), axis(Axis::Vertical, 3.75, 0));
        }
        assert_eq!(wheel.rotate(Axis::Vertical, -30), axis(Axis::Vertical, 3.75, 1));
        // The accumulator started over: three more are again partial.
        for _ in 0..3 {
            assert_eq!(wheel.rotate(Axis::Vertical, -30), axis(Axis::Vertical, 3.75, 0));
        }
        assert_eq!(wheel.rotate(Axis::Vertical, -30), axis(Axis::Vertical, 3.75, 1));
    }

    #[test]
    fn remainders_carry_over_notches() {
        let mut wheel = Wheel::default();
        // 100 + 100 = 200: one step at the second event, 80 left; +40 completes the next.
        assert_eq!(
            wheel.rotate(Axis::Horizontal, 100),
            axis(Axis::Horizontal, 12.5, 0)
        );
        assert_eq!(
            wheel.rotate(Axis::Horizontal, 100),
            axis(Axis::Horizontal, 12.5, 1)
        );
        assert_eq!(wheel.rotate(Axis::Horizontal, 40), axis(Axis::Horizontal, 5.0, 1));
    }

    #[test]
    fn reversing_drops_the_old_directions_remainder() {
        let mut wheel = Wheel::default();
        assert_eq!(wheel.rotate(Axis::Vertical, 90), axis(Axis::Vertical, -11.25, 0));
        // A whole notch the other way is a whole step, not the rest of the 90.
        assert_eq!(wheel.rotate(Axis::Vertical, -120), axis(Axis::Vertical, 15.0, 1));
    }

    #[test]
    fn axes_accumulate_separately() {
        let mut wheel = Wheel::default();
        assert_eq!(wheel.rotate(Axis::Vertical, 60), axis(Axis::Vertical, -7.5, 0));
        assert_eq!(wheel.rotate(Axis::Horizontal, 60), axis(Axis::Horizontal, 7.5, 0));
        assert_eq!(wheel.rotate(Axis::Vertical, 60), axis(Axis::Vertical, -7.5, -1));
        assert_eq!(wheel.rotate(Axis::Horizontal, 60), axis(Axis::Horizontal, 7.5, 1));
    }

    #[test]
    fn zero_rotation_is_nothing() {
        let mut wheel = Wheel::default();
        assert_eq!(wheel.rotate(Axis::Vertical, 0), None);
        assert_eq!(wheel.scroll(Axis::Horizontal, 0), None);
    }

    #[test]
    fn input_channel_scroll_is_wheel_units_times_65536() {
        let mut wheel = Wheel::default();
        // FreeRDP's ainput: one notch up is 120 * 0x10000 on y.
        assert_eq!(
            wheel.scroll(Axis::Vertical, 120 * 0x1_0000),
            axis(Axis::Vertical, -15.0, -1)
        );
        // Half a unit is a 1/240 notch: proportional, no step.
        assert_eq!(
            wheel.scroll(Axis::Horizontal, 0x8000),
            axis(Axis::Horizontal, 0.0625, 0)
        );
    }

    #[test]
    fn extreme_values_do_not_overflow() {
        let mut wheel = Wheel::default();
        let Some(DesktopInput::Axis { discrete, .. }) = wheel.rotate(Axis::Vertical, i16::MIN) else {
            panic!()
        };
        assert_eq!(discrete, 273); // 32768 / 120, down is positive
        let Some(DesktopInput::Axis { discrete, .. }) = wheel.scroll(Axis::Vertical, i64::from(i32::MIN))
        else {
            panic!()
        };
        // 2^31 / (120 * 65536) = 273.06...: adds to the 8 units left over from before.
        assert_eq!(discrete, 273);
    }

    #[test]
    fn reset_drops_partial_notches() {
        let mut wheel = Wheel::default();
        wheel.rotate(Axis::Vertical, 90);
        wheel.reset();
        assert_eq!(wheel.rotate(Axis::Vertical, 30), axis(Axis::Vertical, -3.75, 0));
    }
}
