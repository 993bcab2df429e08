//! Which monitors to record, from `DisplayConfig.GetCurrentState`: sans-I/O, so the layout
//! rules (transforms, scales, layout modes, mirrors, order) are unit-tested without Mutter.

use std::collections::HashMap;

use zbus::zvariant::OwnedValue;

use crate::proxies::{CurrentState, ModeInfo};

/// `layout-mode` values: in logical mode a monitor's layout size is its mode divided by its
/// scale; in physical mode it is the mode itself. Mutter's docs for the value disagree with
/// themselves; these are the values of mutter's `MetaLogicalMonitorLayoutMode`.
const LAYOUT_LOGICAL: u32 = 1;
const LAYOUT_PHYSICAL: u32 = 2;

/// One logical monitor to record.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct LayoutMonitor {
    /// The connector recorded (the first one when monitors mirror each other).
    pub connector: String,
    /// Other connectors showing the same picture (not recorded: same pixels).
    pub mirrors: Vec<String>,
    pub position: (i32, i32),
    /// Size in the layout; `None` when the connector's current mode is not listed.
    pub size: Option<(i32, i32)>,
    pub primary: bool,
}

fn bool_prop(props: &HashMap<String, OwnedValue>, key: &str) -> bool {
    props
        .get(key)
        .and_then(|v| bool::try_from(v).ok())
        .unwrap_or(false)
}

fn current_mode(modes: &[ModeInfo]) -> Option<(i32, i32)> {
    modes
        .iter()
        .find(|(_, _, _, _, _, _, props)| bool_prop(props, "is-current"))
        .map(|(_, w, h, _, _, _, _)| (*w, *h))
}

/// Layout size of a mode shown with `scale` and `transform` (odd transforms turn it by 90°).
fn layout_size(mode: (i32, i32), scale: f64, transform: u32, layout_mode: u32) -> (i32, i32) {
    let (w, h) = if transform % 2 == 1 {
        (mode.1, mode.0)
    } else {
        mode
    };
    if layout_mode == LAYOUT_PHYSICAL || !(scale.is_finite() && scale > 0.0) {
        return (w, h);
    }
    // Mutter rounds the scaled size the same way (roundf of width / scale).
    let scaled = |v: i32| {
        let r = (f64::from(v) / scale)
            .round()
            .clamp(f64::from(i32::MIN), f64::from(i32::MAX));
        #[allow(clippy::cast_possible_truncation)] // whole and within i32's range (just above)
        let r = r as i32;
        r
    };
    (scaled(w), scaled(h))
}

/// The logical monitors in the order streams are created: the primary first, then left to
/// right, top to bottom. A logical monitor without a connector is skipped.
pub(crate) fn monitors_to_record(state: &CurrentState) -> Vec<LayoutMonitor> {
    let (_serial, monitors, logical_monitors, properties) = state;
    let layout_mode = properties
        .get("layout-mode")
        .and_then(|v| u32::try_from(v).ok())
        .unwrap_or(LAYOUT_LOGICAL);
    let mut out: Vec<LayoutMonitor> = logical_monitors
        .iter()
        .filter_map(|(x, y, scale, transform, primary, specs, _)| {
            let (first, rest) = specs.split_first()?;
            let connector = first.0.clone();
            let size = monitors
                .iter()
                .find(|(spec, _, _)| spec.0 == connector)
                .and_then(|(_, modes, _)| current_mode(modes))
                .map(|mode| layout_size(mode, *scale, *transform, layout_mode));
            Some(LayoutMonitor {
                connector,
                mirrors: rest.iter().map(|s| s.0.clone()).collect(),
                position: (*x, *y),
                size,
                primary: *primary,
            })
        })
        .collect();
    out.sort_by_key(|m| (!m.primary, m.position.0, m.position.1));
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::proxies::{LogicalMonitorInfo, MonitorInfo, MonitorSpec};

    fn spec(connector: &str) -> MonitorSpec {
        (connector.into(), "V".into(), "P".into(), "S".into())
    }

    fn mode(w: i32, h: i32, current: bool) -> ModeInfo {
        let mut props = HashMap::new();
        props.insert("is-current".to_owned(), OwnedValue::from(current));
        (format!("{w}x{h}@60"), w, h, 60.0, 1.0, vec![1.0], props)
    }

    fn monitor(connector: &str, modes: Vec<ModeInfo>) -> MonitorInfo {
        (spec(connector), modes, HashMap::new())
    }

    fn logical(x: i32, y: i32, scale: f64, transform: u32, primary: bool, c: &[&str]) -> LogicalMonitorInfo {
        (
            x,
            y,
            scale,
            transform,
            primary,
            c.iter().map(|c| spec(c)).collect(),
            HashMap::new(),
        )
    }

    fn state(
        monitors: Vec<MonitorInfo>,
        logical: Vec<LogicalMonitorInfo>,
        layout_mode: Option<u32>,
    ) -> CurrentState {
        let mut props = HashMap::new();
        if let Some(m) = layout_mode {
            props.insert("layout-mode".to_owned(), OwnedValue::from(m));
        }
        (1, monitors, logical, props)
    }

    #[test]
    fn two_virtual_monitors_as_mutter_43_reports_them() {
        // What `mutter --headless --virtual-monitor 1280x720 --virtual-monitor 800x600` says.
        let s = state(
            vec![
                monitor("Meta-0", vec![mode(1280, 720, true)]),
                monitor("Meta-1", vec![mode(800, 600, true)]),
            ],
            vec![
                logical(0, 0, 1.0, 0, true, &["Meta-0"]),
                logical(1280, 0, 1.0, 0, false, &["Meta-1"]),
            ],
            Some(LAYOUT_PHYSICAL),
        );
        let m = monitors_to_record(&s);
        assert_eq!(m.len(), 2);
        assert_eq!(m[0].connector, "Meta-0");
        assert_eq!(m[0].position, (0, 0));
        assert_eq!(m[0].size, Some((1280, 720)));
        assert!(m[0].primary);
        assert_eq!(m[1].connector, "Meta-1");
        assert_eq!(m[1].position, (1280, 0));
        assert_eq!(m[1].size, Some((800, 600)));
    }

    #[test]
    fn primary_first_then_left_to_right() {
        let s = state(
            vec![
                monitor("A", vec![mode(100, 100, true)]),
                monitor("B", vec![mode(100, 100, true)]),
                monitor("C", vec![mode(100, 100, true)]),
            ],
            vec![
                logical(200, 0, 1.0, 0, false, &["C"]),
                logical(0, 0, 1.0, 0, false, &["A"]),
                logical(100, 0, 1.0, 0, true, &["B"]),
            ],
            None,
        );
        let names: Vec<_> = monitors_to_record(&s).into_iter().map(|m| m.connector).collect();
        assert_eq!(names, ["B", "A", "C"]);
    }

    #[test]
    fn the_current_mode_scale_and_rotation_give_the_layout_size() {
        let s = state(
            vec![monitor(
                "eDP-1",
                vec![mode(3840, 2160, false), mode(2560, 1600, true)],
            )],
            vec![logical(0, 0, 2.0, 1, true, &["eDP-1"])],
            Some(LAYOUT_LOGICAL),
        );
        // rotated by 90°, then halved
        assert_eq!(monitors_to_record(&s)[0].size, Some((800, 1280)));
        // physical layout: the scale does not change the layout size
        let s = state(s.1.clone(), s.2.clone(), Some(LAYOUT_PHYSICAL));
        assert_eq!(monitors_to_record(&s)[0].size, Some((1600, 2560)));
        // fractional scales round like mutter
        assert_eq!(layout_size((2560, 1600), 1.5, 0, LAYOUT_LOGICAL), (1707, 1067));
    }

    #[test]
    fn mirrors_are_recorded_once_and_unknown_modes_have_no_size() {
        let s = state(
            vec![monitor("HDMI-1", vec![mode(1920, 1080, false)])],
            vec![
                logical(0, 0, 1.0, 0, true, &["HDMI-1", "DP-2"]),
                logical(0, 0, 1.0, 0, false, &[]),
            ],
            Some(LAYOUT_PHYSICAL),
        );
        let m = monitors_to_record(&s);
        assert_eq!(m.len(), 1, "{m:?}");
        assert_eq!(m[0].connector, "HDMI-1");
        assert_eq!(m[0].mirrors, ["DP-2"]);
        assert_eq!(m[0].size, None);
    }
}
