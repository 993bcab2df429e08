//! The delayed-rendering state machine, one exchange at a time.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use wrd_clipboard::formats::{CF_DIB, CF_DIBV5, CF_UNICODETEXT, OWN_SELECTION_MIME, SERVER_HTML_FORMAT_ID};
use wrd_clipboard::image::{DibKind, RgbaImage, png_to_rgba, rgba_to_dib, rgba_to_png};
use wrd_clipboard::{Bridge, BridgeInput, BridgeOutput, DesktopRequestId, Limits, RdpFormat};

fn utf16(text: &str) -> Vec<u8> {
    text.encode_utf16()
        .chain([0])
        .flat_map(u16::to_le_bytes)
        .collect()
}

fn client_copies_text_and_html(bridge: &mut Bridge) -> Vec<BridgeOutput> {
    bridge.handle(BridgeInput::ClientFormatList(vec![
        RdpFormat::standard(CF_UNICODETEXT),
        RdpFormat::standard(1), // CF_TEXT: not carried
        RdpFormat::registered(0xC09E, "HTML Format"),
        RdpFormat::registered(0xC0A1, "Rich Text Format"),
    ]))
}

#[test]
fn a_client_copy_is_announced_and_fetched_only_when_pasted() {
    let mut bridge = Bridge::new(Limits::default());
    let out = client_copies_text_and_html(&mut bridge);
    let [BridgeOutput::AnnounceToDesktop(mimes)] = out.as_slice() else {
        panic!("{out:?}")
    };
    assert!(mimes.contains(&"text/plain;charset=utf-8".to_owned()));
    assert!(mimes.contains(&"UTF8_STRING".to_owned()));
    assert!(mimes.contains(&"text/html".to_owned()));
    assert!(!mimes.iter().any(|mime| mime.starts_with("image/")));
    assert_eq!(mimes.last().unwrap(), OWN_SELECTION_MIME);

    // Our own selection reported back changes nothing.
    assert_eq!(bridge.handle(BridgeInput::DesktopSelection(mimes.clone())), []);

    let paste = DesktopRequestId(7);
    let out = bridge.handle(BridgeInput::DesktopPaste {
        request: paste,
        mime: "text/plain".to_owned(),
    });
    assert_eq!(
        out,
        [BridgeOutput::RequestFromClient {
            format_id: CF_UNICODETEXT
        }]
    );
    let out = bridge.handle(BridgeInput::ClientData {
        data: Some(utf16("zwei\r\nZeilen ü")),
    });
    assert_eq!(
        out,
        [BridgeOutput::DeliverToDesktop {
            request: paste,
            data: "zwei\nZeilen ü".into()
        }]
    );

    // HTML is fetched under the client's own id for it.
    let out = bridge.handle(BridgeInput::DesktopPaste {
        request: DesktopRequestId(8),
        mime: "text/html".to_owned(),
    });
    assert_eq!(out, [BridgeOutput::RequestFromClient { format_id: 0xC09E }]);
}

#[test]
fn desktop_pastes_wait_their_turn() {
    let mut bridge = Bridge::new(Limits::default());
    client_copies_text_and_html(&mut bridge);
    let first = bridge.handle(BridgeInput::DesktopPaste {
        request: DesktopRequestId(1),
        mime: "UTF8_STRING".into(),
    });
    assert_eq!(
        first,
        [BridgeOutput::RequestFromClient {
            format_id: CF_UNICODETEXT
        }]
    );
    // A second paste while the first is in flight is queued, not asked.
    let second = bridge.handle(BridgeInput::DesktopPaste {
        request: DesktopRequestId(2),
        mime: "text/html".into(),
    });
    assert_eq!(second, []);
    assert_eq!(bridge.queued_desktop_pastes(), 2);
    let out = bridge.handle(BridgeInput::ClientData { data: None });
    assert_eq!(
        out,
        [
            BridgeOutput::FailDesktopPaste {
                request: DesktopRequestId(1),
                reason: "the client failed to send its data".into()
            },
            BridgeOutput::RequestFromClient { format_id: 0xC09E },
        ]
    );
}

#[test]
fn a_new_client_copy_fails_the_pastes_of_the_old_one() {
    let mut bridge = Bridge::new(Limits::default());
    client_copies_text_and_html(&mut bridge);
    bridge.handle(BridgeInput::DesktopPaste {
        request: DesktopRequestId(1),
        mime: "text/plain".into(),
    });
    bridge.handle(BridgeInput::DesktopPaste {
        request: DesktopRequestId(2),
        mime: "text/plain".into(),
    });
    let out = client_copies_text_and_html(&mut bridge);
    assert!(
        matches!(
            &out[0],
            BridgeOutput::FailDesktopPaste {
                request: DesktopRequestId(2),
                ..
            }
        ),
        "{out:?}"
    );
    assert!(matches!(&out[1], BridgeOutput::AnnounceToDesktop(_)));
    // The answer to the request in flight is for the new content: the old paste fails.
    let out = bridge.handle(BridgeInput::ClientData {
        data: Some(utf16("new")),
    });
    assert!(
        matches!(
            &out[..],
            [BridgeOutput::FailDesktopPaste {
                request: DesktopRequestId(1),
                ..
            }]
        ),
        "{out:?}"
    );
}

#[test]
fn a_desktop_copy_is_announced_and_read_only_when_pasted() {
    let mut bridge = Bridge::new(Limits::default());
    let out = bridge.handle(BridgeInput::DesktopSelection(vec![
        "text/plain;charset=utf-8".into(),
        "text/plain".into(),
        "image/png".into(),
        "text/html".into(),
    ]));
    assert_eq!(
        out,
        [BridgeOutput::AnnounceToClient(vec![
            RdpFormat::standard(CF_UNICODETEXT),
            RdpFormat::registered(SERVER_HTML_FORMAT_ID, "HTML Format"),
            RdpFormat::standard(CF_DIBV5),
            RdpFormat::standard(CF_DIB),
        ])]
    );
    let out = bridge.handle(BridgeInput::ClientPaste {
        format_id: CF_UNICODETEXT,
    });
    let [BridgeOutput::ReadFromDesktop { request, mime }] = out.as_slice() else {
        panic!("{out:?}")
    };
    assert_eq!(mime, "text/plain;charset=utf-8");
    let out = bridge.handle(BridgeInput::DesktopData {
        request: *request,
        data: Ok(b"a\nb".to_vec()),
    });
    assert_eq!(
        out,
        [BridgeOutput::DeliverToClient {
            data: utf16("a\r\nb")
        }]
    );

    // A picture: PNG read, DIB sent, pixels kept.
    let image = RgbaImage {
        width: 2,
        height: 1,
        pixels: vec![1, 2, 3, 255, 4, 5, 6, 128],
    };
    let out = bridge.handle(BridgeInput::ClientPaste { format_id: CF_DIB });
    let [BridgeOutput::ReadFromDesktop { request, mime }] = out.as_slice() else {
        panic!("{out:?}")
    };
    assert_eq!(mime, "image/png");
    let png = rgba_to_png(&image).unwrap();
    let out = bridge.handle(BridgeInput::DesktopData {
        request: *request,
        data: Ok(png),
    });
    assert_eq!(
        out,
        [BridgeOutput::DeliverToClient {
            data: rgba_to_dib(&image, DibKind::Dib, &Limits::default()).unwrap()
        }]
    );
}

#[test]
fn a_client_dibv5_reaches_the_desktop_as_png() {
    let mut bridge = Bridge::new(Limits::default());
    let out = bridge.handle(BridgeInput::ClientFormatList(vec![
        RdpFormat::standard(CF_DIB),
        RdpFormat::standard(CF_DIBV5),
    ]));
    assert_eq!(
        out,
        [BridgeOutput::AnnounceToDesktop(vec![
            "image/png".into(),
            OWN_SELECTION_MIME.into()
        ])]
    );
    let out = bridge.handle(BridgeInput::DesktopPaste {
        request: DesktopRequestId(3),
        mime: "image/png".into(),
    });
    // CF_DIBV5 (with alpha) is preferred.
    assert_eq!(out, [BridgeOutput::RequestFromClient { format_id: CF_DIBV5 }]);
    let image = RgbaImage {
        width: 1,
        height: 2,
        pixels: vec![9, 8, 7, 6, 5, 4, 3, 2],
    };
    let dib = rgba_to_dib(&image, DibKind::DibV5, &Limits::default()).unwrap();
    let out = bridge.handle(BridgeInput::ClientData { data: Some(dib) });
    let [BridgeOutput::DeliverToDesktop { data, .. }] = out.as_slice() else {
        panic!("{out:?}")
    };
    assert_eq!(png_to_rgba(data, &Limits::default()).unwrap(), image);
}

#[test]
fn pastes_of_the_wrong_owner_or_format_fail_at_once() {
    let mut bridge = Bridge::new(Limits::default());
    let out = bridge.handle(BridgeInput::ClientPaste {
        format_id: CF_UNICODETEXT,
    });
    assert!(matches!(&out[..], [BridgeOutput::FailClientPaste { .. }]));
    let out = bridge.handle(BridgeInput::DesktopPaste {
        request: DesktopRequestId(1),
        mime: "text/plain".into(),
    });
    assert!(matches!(&out[..], [BridgeOutput::FailDesktopPaste { .. }]));

    bridge.handle(BridgeInput::DesktopSelection(vec!["text/plain".into()]));
    for format_id in [CF_DIB, 0xC123, SERVER_HTML_FORMAT_ID] {
        let out = bridge.handle(BridgeInput::ClientPaste { format_id });
        assert!(
            matches!(&out[..], [BridgeOutput::FailClientPaste { .. }]),
            "{format_id:#x}: {out:?}"
        );
    }
    client_copies_text_and_html(&mut bridge);
    let out = bridge.handle(BridgeInput::DesktopPaste {
        request: DesktopRequestId(2),
        mime: "image/png".into(),
    });
    assert!(matches!(&out[..], [BridgeOutput::FailDesktopPaste { .. }]));
}

#[test]
fn bad_or_oversized_data_fails_the_paste_with_the_reason() {
    let mut bridge = Bridge::new(Limits { max_item_bytes: 16 });
    bridge.handle(BridgeInput::DesktopSelection(vec!["text/plain".into()]));
    let out = bridge.handle(BridgeInput::ClientPaste {
        format_id: CF_UNICODETEXT,
    });
    let [BridgeOutput::ReadFromDesktop { request, .. }] = out.as_slice() else {
        panic!("{out:?}")
    };
    let out = bridge.handle(BridgeInput::DesktopData {
        request: *request,
        data: Ok(vec![b'x'; 17]),
    });
    let [BridgeOutput::FailClientPaste { reason }] = out.as_slice() else {
        panic!("{out:?}")
    };
    assert!(
        reason.contains("exceeds the clipboard limit of 16 bytes"),
        "{reason}"
    );

    // The client answered our announcement (Format List Response), then copied.
    bridge.handle(BridgeInput::ClientTookAnnouncement { ok: true });
    client_copies_text_and_html(&mut bridge);
    bridge.handle(BridgeInput::DesktopPaste {
        request: DesktopRequestId(1),
        mime: "text/plain".into(),
    });
    let out = bridge.handle(BridgeInput::ClientData {
        data: Some(vec![b'a', 0, b'b']),
    });
    let [BridgeOutput::FailDesktopPaste { reason, .. }] = out.as_slice() else {
        panic!("{out:?}")
    };
    assert!(reason.contains("odd length"), "{reason}");
}

#[test]
fn a_stale_desktop_read_is_dropped() {
    let mut bridge = Bridge::new(Limits::default());
    bridge.handle(BridgeInput::DesktopSelection(vec!["text/plain".into()]));
    let first = bridge.handle(BridgeInput::ClientPaste {
        format_id: CF_UNICODETEXT,
    });
    let second = bridge.handle(BridgeInput::ClientPaste {
        format_id: CF_UNICODETEXT,
    });
    let [BridgeOutput::ReadFromDesktop { request: old, .. }] = first.as_slice() else {
        panic!()
    };
    let [BridgeOutput::ReadFromDesktop { request: new, .. }] = second.as_slice() else {
        panic!()
    };
    assert_eq!(
        bridge.handle(BridgeInput::DesktopData {
            request: *old,
            data: Ok(b"old".to_vec())
        }),
        []
    );
    let out = bridge.handle(BridgeInput::DesktopData {
        request: *new,
        data: Ok(b"new".to_vec()),
    });
    assert_eq!(out, [BridgeOutput::DeliverToClient { data: utf16("new") }]);
}

/// What xfreerdp 2 sends: the list of everything it supports, headed by its `CF_RAW` (0), when
/// the channel starts and when its X clipboard changes hands; then the real list, where PNG is
/// FreeRDP's unnamed 0xD011.
#[test]
fn freerdp_lists_of_everything_are_not_copies_and_its_png_passes_through() {
    let mut bridge = Bridge::new(Limits::default());
    let everything = vec![
        RdpFormat::standard(0),
        RdpFormat::standard(CF_UNICODETEXT),
        RdpFormat::standard(1),
        RdpFormat::standard(0xD011),
        RdpFormat::standard(CF_DIB),
        RdpFormat::registered(0xD010, "HTML Format"),
    ];
    assert_eq!(
        bridge.handle(BridgeInput::ClientFormatList(everything.clone())),
        []
    );
    // The desktop's copy is announced, and the client's echo of everything changes nothing.
    bridge.handle(BridgeInput::DesktopSelection(vec!["text/plain".into()]));
    assert_eq!(bridge.handle(BridgeInput::ClientFormatList(everything)), []);

    let out = bridge.handle(BridgeInput::ClientFormatList(vec![RdpFormat::standard(0xD011)]));
    assert_eq!(
        out,
        [BridgeOutput::AnnounceToDesktop(vec![
            "image/png".into(),
            OWN_SELECTION_MIME.into()
        ])]
    );
    let out = bridge.handle(BridgeInput::DesktopPaste {
        request: DesktopRequestId(1),
        mime: "image/png".into(),
    });
    assert_eq!(out, [BridgeOutput::RequestFromClient { format_id: 0xD011 }]);
    let png = rgba_to_png(&RgbaImage {
        width: 1,
        height: 1,
        pixels: vec![1, 2, 3, 4],
    })
    .unwrap();
    let out = bridge.handle(BridgeInput::ClientData {
        data: Some(png.clone()),
    });
    assert_eq!(
        out,
        [BridgeOutput::DeliverToDesktop {
            request: DesktopRequestId(1),
            data: png
        }]
    );
    // Something that is not a PNG is not passed on.
    bridge.handle(BridgeInput::DesktopPaste {
        request: DesktopRequestId(2),
        mime: "image/png".into(),
    });
    let out = bridge.handle(BridgeInput::ClientData {
        data: Some(b"not a png".to_vec()),
    });
    assert!(
        matches!(&out[..], [BridgeOutput::FailDesktopPaste { .. }]),
        "{out:?}"
    );
}

fn entry(path: &str, is_directory: bool, size: Option<u64>) -> wrd_clipboard::files::FileEntry {
    wrd_clipboard::files::FileEntry {
        relative_path: path.into(),
        is_directory,
        size,
    }
}

#[test]
fn client_files_are_offered_as_uri_lists_and_fetched_when_pasted() {
    let mut bridge = Bridge::new(Limits::default());
    let out = bridge.handle(BridgeInput::ClientFormatList(vec![
        RdpFormat::registered(0xC0BC, "FileGroupDescriptorW"),
        RdpFormat::registered(0xC0BD, "Preferred DropEffect"),
    ]));
    let [BridgeOutput::AnnounceToDesktop(mimes)] = out.as_slice() else {
        panic!("{out:?}")
    };
    assert_eq!(
        mimes,
        &[
            "text/uri-list",
            "x-special/gnome-copied-files",
            OWN_SELECTION_MIME
        ]
    );
    let paste = DesktopRequestId(3);
    let out = bridge.handle(BridgeInput::DesktopPaste {
        request: paste,
        mime: "x-special/gnome-copied-files".to_owned(),
    });
    assert_eq!(out, [BridgeOutput::RequestFromClient { format_id: 0xC0BC }]);
    let files = vec![entry("a.txt", false, Some(3))];
    let out = bridge.handle(BridgeInput::ClientFileList {
        files: Ok(files.clone()),
    });
    assert_eq!(
        out,
        [BridgeOutput::FetchClientFiles {
            request: paste,
            mime: "x-special/gnome-copied-files".to_owned(),
            files,
            copy: 1
        }]
    );

    // A refused list (a hostile name) fails the paste with the reason; so does raw list data
    // our own parser refuses.
    let paste = DesktopRequestId(4);
    bridge.handle(BridgeInput::DesktopPaste {
        request: paste,
        mime: "text/uri-list".to_owned(),
    });
    let out = bridge.handle(BridgeInput::ClientFileList {
        files: Err("file name \"../x\" refused: dot path component".to_owned()),
    });
    assert!(
        matches!(&out[..], [BridgeOutput::FailDesktopPaste { request, reason }] if *request == paste && reason.contains("../x")),
        "{out:?}"
    );
    bridge.handle(BridgeInput::DesktopPaste {
        request: DesktopRequestId(5),
        mime: "text/uri-list".to_owned(),
    });
    let mut hostile = wrd_clipboard::files::build_file_list(&[entry("x", false, Some(1))]).unwrap();
    for (index, unit) in "/etc/passwd".encode_utf16().enumerate() {
        hostile[4 + 72 + index * 2..4 + 72 + index * 2 + 2].copy_from_slice(&unit.to_le_bytes());
    }
    let out = bridge.handle(BridgeInput::ClientData { data: Some(hostile) });
    assert!(
        matches!(&out[..], [BridgeOutput::FailDesktopPaste { reason, .. }] if reason.contains("absolute path")),
        "{out:?}"
    );
}

#[test]
fn desktop_files_are_announced_as_a_file_list() {
    let mut bridge = Bridge::new(Limits::default());
    let mimes = vec!["text/uri-list".to_owned(), "text/plain".to_owned()];
    let files = vec![entry("d", true, Some(0)), entry("d/b", false, Some(9))];
    let out = bridge.handle(BridgeInput::DesktopFiles {
        mimes: mimes.clone(),
        files: files.clone(),
    });
    assert_eq!(out, [BridgeOutput::AnnounceFilesToClient(files)]);
    // No files after all (e.g. none could be read): the rest of the offer is announced.
    let out = bridge.handle(BridgeInput::DesktopFiles {
        mimes,
        files: Vec::new(),
    });
    assert_eq!(
        out,
        [BridgeOutput::AnnounceToClient(vec![RdpFormat::standard(
            CF_UNICODETEXT
        )])]
    );
}

/// The desktop's copy and the client's cross on the wire: the client sent its Format List
/// before it had our announcement, and takes ours after it (its own copy is replaced there).
/// The desktop's stays the clipboard on both sides; a client copy after the client answered
/// our announcement is a copy as usual.
#[test]
fn crossing_copies_leave_the_desktops_on_both_sides() {
    let mut bridge = Bridge::new(Limits::default());
    let out = bridge.handle(BridgeInput::DesktopSelection(vec!["text/plain".to_owned()]));
    assert!(
        matches!(out.as_slice(), [BridgeOutput::AnnounceToClient(_)]),
        "{out:?}"
    );
    // The client's list comes before its answer to ours: crossed.
    assert_eq!(
        client_copies_text_and_html(&mut bridge),
        [BridgeOutput::ClientCopyCrossed]
    );
    // The desktop still owns: a client paste reads the desktop.
    let out = bridge.handle(BridgeInput::ClientPaste {
        format_id: CF_UNICODETEXT,
    });
    assert!(
        matches!(out.as_slice(), [BridgeOutput::ReadFromDesktop { .. }]),
        "{out:?}"
    );

    // Answered, then copied: the client owns.
    let mut bridge = Bridge::new(Limits::default());
    bridge.handle(BridgeInput::DesktopSelection(vec!["text/plain".to_owned()]));
    assert_eq!(
        bridge.handle(BridgeInput::ClientTookAnnouncement { ok: true }),
        []
    );
    let out = client_copies_text_and_html(&mut bridge);
    assert!(
        matches!(out.as_slice(), [BridgeOutput::AnnounceToDesktop(_)]),
        "{out:?}"
    );

    // A client that never answers announcements loses at most one list per announcement.
    let mut bridge = Bridge::new(Limits::default());
    bridge.handle(BridgeInput::DesktopSelection(vec!["text/plain".to_owned()]));
    assert_eq!(
        client_copies_text_and_html(&mut bridge),
        [BridgeOutput::ClientCopyCrossed]
    );
    let out = client_copies_text_and_html(&mut bridge);
    assert!(
        matches!(out.as_slice(), [BridgeOutput::AnnounceToDesktop(_)]),
        "{out:?}"
    );
}
