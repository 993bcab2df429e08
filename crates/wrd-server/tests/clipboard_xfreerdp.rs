//! The clipboard both ways with a real client, end to end: xfreerdp (FreeRDP 2, `+clipboard`)
//! on a private Xvfb, `xclip` as the program copying and pasting on the client's X display,
//! `wrd-server serve --source portal` on the real headless sway stack with its wlroots data
//! control clipboard, and `wl-copy` / `wl-paste` as the desktop's programs. The cases every
//! desktop shares are in `clipboard_common` (GNOME runs them too, in `clipboard_mutter.rs`).

// Test code: a failed step is the test failing, so unwrap/panic are the right tools here.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod clipboard_common;
mod common;

use std::time::Duration;

use clipboard_common::{Rig, STEP, TEXT_MIME, file_bytes};
use wrd_testkit::{Security, StackOptions, SwayStack, TestDir, XFreeRdp, XFreeRdpOptions, Xvfb, poll_until};

const USER: &str = "rdpuser";
const PASSWORD: &str = "clipboard-pw";
const WIDTH: u32 = 1024;
const HEIGHT: u32 = 768;

type Setup = Rig<SwayStack>;

fn start(name: &str) -> Setup {
    start_with(name, XFreeRdpOptions::new)
}

/// [`start`] with the client's options made by `client` (from the server's port).
fn start_with(name: &str, client: impl FnOnce(u16) -> XFreeRdpOptions) -> Setup {
    let dir = TestDir::new(name).unwrap();
    let stack = SwayStack::start(
        dir.path(),
        &StackOptions {
            size: Some((WIDTH, HEIGHT)),
            wallpaper: None,
            animate: false,
        },
    )
    .unwrap();
    let (server, port) = common::serve_portal(
        &stack,
        &dir,
        (USER, PASSWORD),
        "info,wrd_server::clipboard=debug",
        "wlroots data control clipboard ready",
        STEP,
    );
    let xvfb = Xvfb::start(dir.path()).unwrap();
    let options = client(port)
        .credentials(USER, PASSWORD)
        .security(Security::Nla)
        .size(WIDTH, HEIGHT)
        .arg("+clipboard");
    let mut rdp = XFreeRdp::spawn(&xvfb, &options, dir.path()).unwrap();
    rdp.wait_for_content(STEP).unwrap();
    Rig {
        rdp,
        xvfb,
        server,
        desktop: stack,
        dir,
    }
}

#[test]
fn text_with_non_ascii_and_newlines_both_ways() {
    let mut setup = start("clipboard-text");
    clipboard_common::text_both_ways(
        &mut setup,
        "Grüße aus Köln — €, 日本語, 🦀\nzweite Zeile\n\ndritte\tmit Tab",
    );
}

#[test]
fn html_both_ways() {
    let mut setup = start("clipboard-html");
    clipboard_common::html_both_ways(
        &mut setup,
        "<p>Grüße <b>fett</b> und <a href=\"https://example.invalid/\">ein Link</a></p>",
    );
}

#[test]
fn an_image_both_ways_with_its_pixels() {
    clipboard_common::image_both_ways(&mut start("clipboard-image"));
}

#[test]
fn a_full_hd_picture_both_ways() {
    clipboard_common::full_hd_picture_both_ways(&mut start("clipboard-full-hd"));
}

#[test]
fn files_from_the_client_land_in_the_session_directory() {
    clipboard_common::client_files_land_in_the_session_directory(start("clipboard-files-in"));
}

/// Users close the program they copied from: the desktop's selection is then cleared (an
/// empty Format List to the client), and a copy on the client afterwards must still reach the
/// desktop.
#[test]
fn a_client_copy_after_the_desktop_owner_exited() {
    let mut setup = start("clipboard-owner-exit");

    let from_desktop = "vom Desktop, dessen Programm gleich endet";
    setup.desktop_copies(TEXT_MIME, from_desktop.as_bytes());
    setup.client_pastes("UTF8_STRING", |data| data == from_desktop.as_bytes());

    assert_eq!(setup.desktop.signal_programs("wl-copy", libc::SIGTERM), 1);
    desktop_clipboard_empties(&setup);

    let from_client = "vom Client danach: ä\nzweite Zeile";
    let _owner = setup.client_copies("UTF8_STRING", from_client.as_bytes());
    let pasted = setup.desktop_pastes(TEXT_MIME, |data| data == from_client.as_bytes());
    assert_eq!(String::from_utf8(pasted).unwrap(), from_client);
}

/// Waits until the desktop's clipboard offers nothing (its owner is gone).
fn desktop_clipboard_empties(setup: &Setup) {
    poll_until(
        STEP,
        Duration::from_millis(100),
        "an empty desktop clipboard",
        || {
            let out = setup
                .desktop
                .output(setup.desktop.command("wl-paste").arg("--list-types"))
                .unwrap();
            Ok((!out.status.success() || out.stdout.is_empty()).then_some(()))
        },
    )
    .unwrap();
}

/// xfreerdp 2.11 (Debian, no FUSE) cannot paste a server's files (see `clipboard_files.rs`,
/// where the in-process client fetches them), but it must take our file announcement: its X
/// clipboard offers `text/uri-list`, and the session goes on.
#[test]
fn xfreerdp_takes_the_desktops_file_announcement() {
    let mut setup = start("clipboard-files-out");
    let source = setup.desktop.dir().join("desktop-files");
    std::fs::create_dir_all(&source).unwrap();
    std::fs::set_permissions(&source, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    std::fs::write(source.join("first.bin"), file_bytes(70_000, 3)).unwrap();
    std::fs::set_permissions(
        source.join("first.bin"),
        std::os::unix::fs::PermissionsExt::from_mode(0o644),
    )
    .unwrap();
    let list = format!("file://{}\r\n", source.join("first.bin").display());
    setup.desktop_copies("text/uri-list", list.as_bytes());
    poll_until(
        STEP,
        Duration::from_millis(200),
        "the client's file targets",
        || {
            // xfreerdp 2.11 offers the list as text/uri-list only.
            Ok(setup.client_targets().contains("text/uri-list").then_some(()))
        },
    )
    .unwrap_or_else(|e| panic!("{e:#}; server log:\n{}", setup.server.log_tail(30)));

    let text = "nach den Dateien";
    setup.desktop_copies(TEXT_MIME, text.as_bytes());
    let pasted = setup.client_pastes("UTF8_STRING", |data| data == text.as_bytes());
    assert_eq!(pasted, text.as_bytes());
}

/// FreeRDP 3 (bookworm-backports) pastes the desktop's files through its FUSE mount.
#[test]
fn the_desktops_files_reach_freerdp3_through_its_fuse_mount() {
    clipboard_common::desktop_files_reach_freerdp3(start_with("clipboard-files-freerdp3", |port| {
        XFreeRdpOptions::new(port).freerdp3()
    }));
}
