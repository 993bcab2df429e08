//! The clipboard both ways on GNOME, end to end: xfreerdp (FreeRDP 2, `+clipboard`) on a
//! private Xvfb with `xclip`, `wrd-server serve --source mutter` on a real headless Mutter
//! (wrd-testkit's `MutterStack`) sharing the clipboard of its remote-desktop session, and
//! `wl-copy` / `wl-paste` as the desktop's programs.
//!
//! On GNOME, wl-clipboard has no data control protocol: it opens a surface of its own and uses
//! the seat's keyboard focus, so it needs a seat with a keyboard. Headless Mutter has one only
//! once a remote-desktop session typed a key: the client's user presses Shift first.

// Test code: a failed step is the test failing, so unwrap/panic are the right tools here.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod clipboard_common;
mod common;

use std::time::Duration;

use clipboard_common::{Rig, STEP, TEXT_MIME};
use wrd_testkit::{
    ChildGuard, MutterStack, MutterStackOptions, Security, TestDir, XFreeRdp, XFreeRdpOptions, Xvfb,
    output_with_timeout, poll_until,
};

const USER: &str = "rdpuser";
const PASSWORD: &str = "mutter-clip-pw";
const WIDTH: u32 = 1024;
const HEIGHT: u32 = 768;
/// What wl-clipboard says on a seat without a keyboard.
const NO_KEYBOARD: &str = "This seat has no keyboard";

type Setup = Rig<MutterStack>;

fn start(name: &str) -> Setup {
    start_with(name, XFreeRdpOptions::new)
}

/// [`start`] with the client's options made by `client` (from the server's port).
fn start_with(name: &str, client: impl FnOnce(u16) -> XFreeRdpOptions) -> Setup {
    let dir = TestDir::new(name).unwrap();
    let stack = MutterStack::start(
        dir.path(),
        &MutterStackOptions {
            monitors: vec![(WIDTH, HEIGHT)],
        },
    )
    .unwrap();
    let (server, port) = common::serve_mutter(
        &stack,
        &dir,
        (USER, PASSWORD),
        "info,wrd_server::clipboard=debug,wrd_mutter=debug",
        "clipboard: shared with clients through Mutter's remote-desktop session",
        STEP,
    );

    let xvfb = Xvfb::start(dir.path()).unwrap();
    let options = client(port)
        .credentials(USER, PASSWORD)
        .security(Security::Nla)
        .size(WIDTH, HEIGHT)
        .arg("+clipboard");
    let mut rdp = XFreeRdp::spawn(&xvfb, &options, dir.path()).unwrap();
    // Mutter sends frames only on change: the server's watchdog makes it paint again.
    rdp.wait_for_content(Duration::from_secs(45)).unwrap();
    rdp.focus(STEP).unwrap();
    let setup = Rig {
        rdp,
        xvfb,
        server,
        desktop: stack,
        dir,
    };
    give_the_seat_a_keyboard(&setup);
    setup
}

/// Presses Shift at the client until the desktop's seat has a keyboard (Mutter makes the
/// session's virtual keyboard on its first key).
fn give_the_seat_a_keyboard(setup: &Setup) {
    poll_until(
        STEP,
        Duration::from_millis(300),
        "a keyboard on Mutter's seat",
        || {
            let out =
                output_with_timeout(setup.xvfb.command("xdotool").args(["key", "shift"]), STEP).unwrap();
            assert!(out.status.success(), "xdotool: {out:?}");
            let out = setup
                .desktop
                .output(setup.desktop.command("wl-paste").arg("--list-types"))
                .unwrap();
            Ok((!String::from_utf8_lossy(&out.stderr).contains(NO_KEYBOARD)).then_some(()))
        },
    )
    .unwrap_or_else(|e| panic!("{e:#}; server log:\n{}", setup.server.log_tail(30)));
}

#[test]
fn text_with_non_ascii_and_newlines_both_ways_on_gnome() {
    let mut setup = start("clipboard-mutter-text");
    clipboard_common::text_both_ways(
        &mut setup,
        "Grüße aus GNOME — €, 日本語, 🦀\nzweite Zeile\n\ndritte\tmit Tab",
    );
}

#[test]
fn html_both_ways_on_gnome() {
    let mut setup = start("clipboard-mutter-html");
    clipboard_common::html_both_ways(&mut setup, "<p>Grüße <b>fett</b> aus GNOME</p>");
}

#[test]
fn an_image_both_ways_with_its_pixels_on_gnome() {
    clipboard_common::image_both_ways(&mut start("clipboard-mutter-image"));
}

/// 8 MB as a DIB through Mutter's pipes.
#[test]
fn a_full_hd_picture_both_ways_on_gnome() {
    clipboard_common::full_hd_picture_both_ways(&mut start("clipboard-mutter-full-hd"));
}

/// FreeRDP 3 (bookworm-backports) pastes the desktop's files through its FUSE mount.
#[test]
fn the_desktops_files_reach_freerdp3_through_its_fuse_mount_on_gnome() {
    clipboard_common::desktop_files_reach_freerdp3(start_with("clipboard-mutter-files-freerdp3", |port| {
        XFreeRdpOptions::new(port).freerdp3()
    }));
}

/// On GNOME Mutter's clipboard manager reads every new selection at once, ours included: the
/// files are fetched right after the client's copy rather than at the first paste.
#[test]
fn files_from_the_client_land_in_the_session_directory_on_gnome() {
    clipboard_common::client_files_land_in_the_session_directory(start("clipboard-mutter-files-in"));
}

/// The desktop program that copied exits: Mutter reports a selection without an owner (the
/// client is told the clipboard is empty), and a client copy afterwards still reaches the
/// desktop.
#[test]
fn a_client_copy_after_the_desktop_owner_exited_on_gnome() {
    let setup = start("clipboard-mutter-owner-exit");

    let from_desktop = "vom Desktop, dessen Programm gleich endet";
    let file = setup.desktop.dir().join("copy-owner-exit");
    std::fs::write(&file, from_desktop).unwrap();
    std::fs::set_permissions(&file, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
    let mut cmd = setup.desktop.command("sh");
    cmd.arg("-c").arg(format!(
        "exec wl-copy --foreground --type '{TEXT_MIME}' < '{}'",
        file.display()
    ));
    let mut owner = ChildGuard::spawn(&mut cmd, "wl-copy-owner", setup.dir.path()).unwrap();
    setup.client_pastes("UTF8_STRING", |data| data == from_desktop.as_bytes());

    owner.stop().unwrap();
    poll_until(
        STEP,
        Duration::from_millis(100),
        "the client told the desktop's clipboard is empty",
        || {
            Ok(setup
                .server
                .log()
                .contains("wrd_server::clipboard: clipboard: the desktop's selection changed mimes=[]")
                .then_some(()))
        },
    )
    .unwrap_or_else(|e| panic!("{e:#}; server log:\n{}", setup.server.log_tail(30)));

    let from_client = "vom Client danach: ä\nzweite Zeile";
    let _owner = setup.client_copies("UTF8_STRING", from_client.as_bytes());
    let pasted = setup.desktop_pastes(TEXT_MIME, |data| data == from_client.as_bytes());
    assert_eq!(String::from_utf8(pasted).unwrap(), from_client);
}
