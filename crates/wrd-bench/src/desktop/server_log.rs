//! What wrd-server reports about a client session in its log.
//!
//! At the end of each client session wrd-server logs, at INFO level, one line with the message
//! `display statistics` and the fields `frames_sent`, `capture_to_wire_p50_ms`,
//! `capture_to_wire_p99_ms` and `capture_to_wire_max_ms` (tracing's default format:
//! `... display statistics frames_sent=123 capture_to_wire_p50_ms=3.2 ...`). Peers report
//! nothing of the kind, and a wrd-server without that line reports nothing either: both are
//! "n/a", never a number.

use serde::Serialize;

/// The message of the line.
pub const MESSAGE: &str = "display statistics";

/// Capture-to-wire figures of one client session. A session that timed no frame logs `NaN`
/// for the times: `None` here.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct DisplayStatistics {
    pub frames_sent: u64,
    pub capture_to_wire_p50_ms: Option<f64>,
    pub capture_to_wire_p99_ms: Option<f64>,
    pub capture_to_wire_max_ms: Option<f64>,
}

/// Removes ANSI colour sequences (`ESC [ ... letter`), which tracing adds on a terminal.
fn strip_ansi(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            if chars.next() == Some('[') {
                for c in chars.by_ref() {
                    if c.is_ascii_alphabetic() {
                        break;
                    }
                }
            }
            continue;
        }
        out.push(c);
    }
    out
}

/// A time field: a finite number, or `NaN` (nothing timed). Anything else is not a statistics
/// line.
fn time_field(value: &str) -> Option<Option<f64>> {
    match value.parse::<f64>() {
        Ok(v) if v.is_finite() && v >= 0.0 => Some(Some(v)),
        Ok(v) if v.is_nan() => Some(None),
        _ => None,
    }
}

/// The statistics on one log line, if it is such a line: the message, then (in any order, each
/// `key=value`) at least `frames_sent` and the two percentiles.
pub fn parse_line(line: &str) -> Option<DisplayStatistics> {
    let line = strip_ansi(line);
    let (_, fields) = line.split_once(MESSAGE)?;
    let mut frames_sent = None;
    let (mut p50, mut p99, mut max) = (None, None, None);
    for token in fields.split_whitespace() {
        let Some((key, value)) = token.split_once('=') else {
            continue;
        };
        match key {
            "frames_sent" => frames_sent = Some(value.parse::<u64>().ok()?),
            "capture_to_wire_p50_ms" => p50 = Some(time_field(value)?),
            "capture_to_wire_p99_ms" => p99 = Some(time_field(value)?),
            "capture_to_wire_max_ms" => max = Some(time_field(value)?),
            _ => {}
        }
    }
    Some(DisplayStatistics {
        frames_sent: frames_sent?,
        capture_to_wire_p50_ms: p50?,
        capture_to_wire_p99_ms: p99?,
        capture_to_wire_max_ms: max.flatten(),
    })
}

/// Every statistics line of a log, in order.
pub fn parse_log(log: &str) -> Vec<DisplayStatistics> {
    log.lines().filter_map(parse_line).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const LINE: &str = "2026-11-30T07:01:02.345678Z  INFO session{id=3 peer=127.0.0.1:40000}: wrd_rdp::display: \
                        display statistics frames_sent=123 capture_to_wire_p50_ms=3.2 \
                        capture_to_wire_p99_ms=9.75 capture_to_wire_max_ms=20.5";

    #[test]
    fn parses_the_line() {
        assert_eq!(
            parse_line(LINE),
            Some(DisplayStatistics {
                frames_sent: 123,
                capture_to_wire_p50_ms: Some(3.2),
                capture_to_wire_p99_ms: Some(9.75),
                capture_to_wire_max_ms: Some(20.5),
            })
        );
    }

    #[test]
    fn colours_other_fields_and_order_do_not_matter() {
        let coloured = "\u{1b}[2m2026-11-30\u{1b}[0m \u{1b}[32m INFO\u{1b}[0m display statistics \
                        \u{1b}[3mcapture_to_wire_p99_ms\u{1b}[0m\u{1b}[2m=\u{1b}[0m1.5 peer=x \
                        \u{1b}[3mframes_sent\u{1b}[0m\u{1b}[2m=\u{1b}[0m7 capture_to_wire_p50_ms=0.5";
        let s = parse_line(coloured).unwrap();
        assert_eq!(s.frames_sent, 7);
        assert_eq!(
            (s.capture_to_wire_p50_ms, s.capture_to_wire_p99_ms),
            (Some(0.5), Some(1.5))
        );
        assert_eq!(s.capture_to_wire_max_ms, None);
    }

    #[test]
    fn other_lines_and_incomplete_lines_are_not_statistics() {
        assert_eq!(parse_line("INFO session ended frames_sent=3"), None);
        assert_eq!(
            parse_line("INFO display statistics frames_sent=3 capture_to_wire_p50_ms=1"),
            None
        );
        assert_eq!(
            parse_line(
                "INFO display statistics frames_sent=x capture_to_wire_p50_ms=1 capture_to_wire_p99_ms=2"
            ),
            None
        );
        assert_eq!(
            parse_line(
                "INFO display statistics frames_sent=1 capture_to_wire_p50_ms=-1 capture_to_wire_p99_ms=2"
            ),
            None
        );
    }

    #[test]
    fn a_session_without_timed_frames_is_still_a_statistics_line() {
        // what wrd-rdp logs for a session that timed no frame
        let line = "INFO display statistics frames_sent=0 rects_sent=0 frames_coalesced=0 \
                    pointer_updates=0 capture_to_wire_p50_ms=NaN capture_to_wire_p99_ms=NaN \
                    capture_to_wire_max_ms=NaN";
        assert_eq!(
            parse_line(line),
            Some(DisplayStatistics {
                frames_sent: 0,
                capture_to_wire_p50_ms: None,
                capture_to_wire_p99_ms: None,
                capture_to_wire_max_ms: None,
            })
        );
    }

    #[test]
    fn a_log_without_the_line_has_no_statistics() {
        let log = "INFO wrd_server: listening on 127.0.0.1:3389\nINFO portal screen cast started\n";
        assert!(parse_log(log).is_empty());
        let two = format!("{LINE}\nINFO something else\n{}\n", LINE.replace("=123", "=5"));
        let all = parse_log(&two);
        assert_eq!(all.iter().map(|s| s.frames_sent).collect::<Vec<_>>(), [123, 5]);
    }
}
