//! Round trips of every conversion, and random exchanges through the bridge.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashSet;
use std::path::PathBuf;

use proptest::prelude::*;
use wrd_clipboard::files::{FileEntry, build_file_list, build_uri_list, parse_file_list, parse_uri_list};
use wrd_clipboard::formats::CF_UNICODETEXT;
use wrd_clipboard::html::{cf_html_to_html, html_to_cf_html};
use wrd_clipboard::image::{DibKind, RgbaImage, dib_to_rgba, png_to_rgba, rgba_to_dib, rgba_to_png};
use wrd_clipboard::text::{utf8_to_utf16le, utf16le_to_utf8};
use wrd_clipboard::{Bridge, BridgeInput, BridgeOutput, DesktopRequestId, Limits, RdpFormat};

fn image() -> impl Strategy<Value = RgbaImage> {
    (1u32..24, 1u32..24).prop_flat_map(|(width, height)| {
        proptest::collection::vec(any::<u8>(), (width * height * 4) as usize).prop_map(move |mut pixels| {
            // A picture whose alpha is zero everywhere reads back as opaque (a 32-bit CF_DIB
            // with no alpha at all looks exactly like that): keep one pixel visible.
            pixels[3] = pixels[3].max(1);
            RgbaImage {
                width,
                height,
                pixels,
            }
        })
    })
}

proptest! {
    // Failures are reported with their minimal input; nothing is written beside the sources.
    #![proptest_config(ProptestConfig { failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn desktop_text_round_trips(text in "[^\u{0}\r]*") {
        let windows = utf8_to_utf16le(text.as_bytes(), &Limits::default()).unwrap();
        prop_assert_eq!(utf16le_to_utf8(&windows, &Limits::default()).unwrap(), text);
    }

    #[test]
    fn windows_text_round_trips(text in "[^\u{0}]*") {
        let crlf = text.replace("\r\n", "\n").replace('\r', "").replace('\n', "\r\n");
        let bytes: Vec<u8> = crlf.encode_utf16().chain([0]).flat_map(u16::to_le_bytes).collect();
        let unix = utf16le_to_utf8(&bytes, &Limits::default()).unwrap();
        prop_assert_eq!(utf8_to_utf16le(unix.as_bytes(), &Limits::default()).unwrap(), bytes);
    }

    #[test]
    fn any_bytes_as_text_do_not_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = utf16le_to_utf8(&bytes, &Limits::default());
        let _ = utf8_to_utf16le(&bytes, &Limits::default());
        let _ = cf_html_to_html(&bytes, &Limits::default());
        let _ = dib_to_rgba(&bytes, &Limits::default());
        let _ = parse_file_list(&bytes, &Limits::default());
        let _ = parse_uri_list(&bytes, &Limits::default());
    }

    #[test]
    fn html_round_trips(html in "[^\u{0}]*") {
        // A leading byte-order mark is taken off as an encoding mark, by design.
        prop_assume!(!html.starts_with('\u{feff}'));
        let cf_html = html_to_cf_html(html.as_bytes(), &Limits::default()).unwrap();
        prop_assert_eq!(cf_html_to_html(&cf_html, &Limits::default()).unwrap(), html);
    }

    #[test]
    fn cf_html_with_shifted_offsets_never_panics(html in "[a-zé<>/]{0,40}", shift in -300i64..300, which in 0usize..4) {
        let cf_html = String::from_utf8(html_to_cf_html(html.as_bytes(), &Limits::default()).unwrap()).unwrap();
        let key = ["StartHTML:", "EndHTML:", "StartFragment:", "EndFragment:"][which];
        let at = cf_html.find(key).unwrap() + key.len();
        let value: i64 = cf_html[at..at + 10].parse().unwrap();
        let patched = format!("{}{:010}{}", &cf_html[..at], (value + shift).max(0), &cf_html[at + 10..]);
        if let Ok(fragment) = cf_html_to_html(patched.as_bytes(), &Limits::default()) {
            // Whatever is accepted is a slice of the buffer, never more.
            prop_assert!(patched.contains(&fragment));
        }
    }

    #[test]
    fn pictures_round_trip_through_both_dibs_and_png(image in image()) {
        let png = rgba_to_png(&image).unwrap();
        prop_assert_eq!(&png_to_rgba(&png, &Limits::default()).unwrap(), &image);
        for kind in [DibKind::Dib, DibKind::DibV5] {
            let dib = rgba_to_dib(&image, kind, &Limits::default()).unwrap();
            prop_assert_eq!(&dib_to_rgba(&dib, &Limits::default()).unwrap(), &image);
        }
    }

    #[test]
    fn file_lists_round_trip(names in proptest::collection::vec("[a-zA-Z0-9 äß_.-]{1,20}(/[a-z0-9]{1,8}){0,2}", 0..6), sizes in proptest::collection::vec(proptest::option::of(0u64..1 << 40), 6)) {
        let entries: Vec<FileEntry> = names
            .iter()
            .zip(&sizes)
            .filter(|(name, _)| name.split('/').all(|part| part != "." && part != ".."))
            .map(|(name, size)| FileEntry { relative_path: PathBuf::from(name), is_directory: size.is_none(), size: *size })
            .collect();
        let data = build_file_list(&entries).unwrap();
        prop_assert_eq!(parse_file_list(&data, &Limits { max_item_bytes: usize::MAX }).unwrap(), entries);
    }

    #[test]
    fn uri_lists_round_trip(paths in proptest::collection::vec("(/[^/\u{0}\r\n]{1,12}){1,4}", 0..5)) {
        let paths: Vec<PathBuf> = paths.into_iter().map(PathBuf::from).collect();
        let refs: Vec<&std::path::Path> = paths.iter().map(PathBuf::as_path).collect();
        let data = build_uri_list(&refs).unwrap();
        prop_assert_eq!(parse_uri_list(&data, &Limits::default()).unwrap(), paths);
    }
}

#[derive(Debug, Clone)]
enum Op {
    ClientCopy,
    DesktopCopy,
    DesktopPaste,
    ClientAnswers(bool),
    ClientPaste,
    DesktopAnswers(bool),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        Just(Op::ClientCopy),
        Just(Op::DesktopCopy),
        Just(Op::DesktopPaste),
        any::<bool>().prop_map(Op::ClientAnswers),
        Just(Op::ClientPaste),
        any::<bool>().prop_map(Op::DesktopAnswers),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { failure_persistence: None, ..ProptestConfig::default() })]

    /// Whatever order things happen in: each desktop paste is answered at most once, at most
    /// one request is in flight to the client, and once the client answers everything asked,
    /// no desktop paste is left waiting.
    #[test]
    fn every_desktop_paste_is_answered_once(ops in proptest::collection::vec(op(), 1..60)) {
        let mut bridge = Bridge::new(Limits::default());
        let mut next = 0u64;
        let mut open_pastes: HashSet<u64> = HashSet::new();
        let mut asked = 0usize;
        let mut reads = Vec::new();
        let apply = |bridge: &mut Bridge, input, asked: &mut usize, open_pastes: &mut HashSet<u64>, reads: &mut Vec<_>| {
            for output in bridge.handle(input) {
                match output {
                    BridgeOutput::RequestFromClient { format_id } => {
                        assert_eq!(format_id, CF_UNICODETEXT);
                        *asked += 1;
                        assert!(*asked <= 1, "two requests in flight");
                    }
                    BridgeOutput::DeliverToDesktop { request, .. } | BridgeOutput::FailDesktopPaste { request, .. } => {
                        assert!(open_pastes.remove(&request.0), "paste {request:?} answered twice or never asked");
                    }
                    BridgeOutput::ReadFromDesktop { request, .. } => reads.push(request),
                    _ => {}
                }
            }
        };
        for op in ops {
            let input = match op {
                Op::ClientCopy => BridgeInput::ClientFormatList(vec![RdpFormat::standard(CF_UNICODETEXT)]),
                Op::DesktopCopy => BridgeInput::DesktopSelection(vec!["text/plain".into()]),
                Op::DesktopPaste => {
                    next += 1;
                    open_pastes.insert(next);
                    BridgeInput::DesktopPaste { request: DesktopRequestId(next), mime: "text/plain".into() }
                }
                Op::ClientAnswers(ok) => {
                    asked = asked.saturating_sub(1);
                    BridgeInput::ClientData { data: ok.then(|| vec![b'x', 0, 0, 0]) }
                }
                Op::ClientPaste => BridgeInput::ClientPaste { format_id: CF_UNICODETEXT },
                Op::DesktopAnswers(ok) => match reads.pop() {
                    Some(request) => BridgeInput::DesktopData { request, data: if ok { Ok(b"y".to_vec()) } else { Err("gone".into()) } },
                    None => continue,
                },
            };
            apply(&mut bridge, input, &mut asked, &mut open_pastes, &mut reads);
        }
        // The client answers whatever is still asked.
        while asked == 1 {
            asked = 0;
            apply(&mut bridge, BridgeInput::ClientData { data: Some(vec![b'z', 0, 0, 0]) }, &mut asked, &mut open_pastes, &mut reads);
        }
        prop_assert!(open_pastes.is_empty(), "pastes never answered: {open_pastes:?}");
        prop_assert_eq!(bridge.queued_desktop_pastes(), 0);
    }
}
