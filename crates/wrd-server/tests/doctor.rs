//! `wrd-server doctor` against real components: inside the headless sway stack (sway,
//! PipeWire + WirePlumber, xdg-desktop-portal 1.16 + xdg-desktop-portal-wlr, run by
//! wrd-testkit's `SwayStack` as an unprivileged user), inside headless GNOME (`MutterStack`
//! with xdg-desktop-portal 1.16 + xdg-desktop-portal-gnome 43) and outside any session.

// Test code: a failed step is the test failing, so unwrap/panic are the right tools here.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::process::Output;
use std::time::Duration;

use wrd_testkit::{MutterStack, MutterStackOptions, StackOptions, SwayStack, TestDir, output_with_timeout};

const BOUND: Duration = Duration::from_secs(60);

fn text(out: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}--- stderr\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The line of `report` that starts with `label` (labels are padded to one column).
fn line<'a>(report: &'a str, label: &str) -> &'a str {
    report
        .lines()
        .find(|l| l.starts_with(&format!("{label} ")))
        .unwrap_or_else(|| panic!("no `{label}` line in:\n{report}"))
}

#[test]
fn inside_headless_gnome_doctor_picks_mutter_and_its_clipboard() {
    let dir = TestDir::new("doctor-gnome").unwrap();
    let mut stack = MutterStack::start(dir.path(), &MutterStackOptions::default()).unwrap();
    stack.start_portal().unwrap();
    let binary = stack
        .install(Path::new(env!("CARGO_BIN_EXE_wrd-server")))
        .unwrap();

    let out = output_with_timeout(stack.command(&binary).arg("doctor"), BOUND).unwrap();
    let all = text(&out);
    assert_eq!(out.status.code(), Some(0), "{all}");
    let report = String::from_utf8(out.stdout.clone()).unwrap();
    println!("{report}");
    // xdg-desktop-portal 1.16 has no Clipboard interface (it comes with 1.18).
    let portal = line(&report, "portal");
    assert!(portal.contains("xdg-desktop-portal 1.16"), "{all}");
    assert!(portal.contains("Clipboard: absent"), "{all}");
    assert!(report.contains("→ serve would use: mutter"), "{all}");
    assert!(report.contains("→ clipboard: Mutter RemoteDesktop v"), "{all}");
    let out = output_with_timeout(stack.command(&binary).args(["doctor", "--json"]), BOUND).unwrap();
    let json: serde_json::Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&out)));
    assert_eq!(json["decision"]["source"], "mutter");
    assert_eq!(json["decision"]["clipboard"], "mutter_remote_desktop");
}

#[test]
fn inside_the_sway_stack_doctor_finds_the_portal_and_wlroots_input() {
    let dir = TestDir::new("doctor-sway").unwrap();
    let stack = SwayStack::start(
        dir.path(),
        &StackOptions {
            size: Some((1280, 720)),
            ..StackOptions::default()
        },
    )
    .unwrap();
    let binary = stack
        .install(Path::new(env!("CARGO_BIN_EXE_wrd-server")))
        .unwrap();

    let out = output_with_timeout(stack.command(&binary).arg("doctor"), BOUND).unwrap();
    let all = text(&out);
    assert_eq!(out.status.code(), Some(0), "{all}");
    let report = String::from_utf8(out.stdout.clone()).unwrap();
    println!("{report}");
    let wayland = stack.wayland_display();
    assert!(
        line(&report, "session").starts_with(&format!(
            "session      {wayland} (XDG_CURRENT_DESKTOP=sway), session bus ok"
        )),
        "{all}"
    );
    let pipewire = line(&report, "pipewire");
    assert!(
        pipewire.contains("connected; session manager: WirePlumber"),
        "{all}"
    );
    let portal = line(&report, "portal");
    assert!(portal.contains("xdg-desktop-portal 1.16"), "{all}");
    assert!(portal.contains("ScreenCast v4 (monitor"), "{all}");
    assert!(portal.contains("RemoteDesktop: absent"), "{all}");
    let backend = line(&report, "backend");
    assert!(
        backend.contains("ScreenCast → wlr (org.freedesktop.impl.portal.desktop.wlr, running /"),
        "{all}"
    );
    assert!(backend.contains("its UseIn= names sway"), "{all}");
    // The stack's portal reads its backends from XDG_DESKTOP_PORTAL_DIR (-wlr only), and so
    // does the probe.
    assert!(report.contains("installed: wlr\n"), "{all}");
    assert!(
        line(&report, "wlr config").contains("chooser_type=none, output_name=HEADLESS-1"),
        "{all}"
    );
    assert!(
        line(&report, "grant").contains("no restore token stored yet"),
        "{all}"
    );
    let wl = line(&report, "wayland");
    assert!(wl.contains("sway (pid "), "{all}");
    assert!(wl.contains("zwlr_virtual_pointer_manager_v1 v2"), "{all}");
    assert!(wl.contains("zwp_virtual_keyboard_manager_v1 v1"), "{all}");
    assert!(wl.contains("zwlr_screencopy_manager_v1 v3"), "{all}");
    // The H.264 self-test ran in this binary.
    assert!(
        line(&report, "codecs")
            .starts_with("codecs       H.264 (AVC420, openh264, built into this binary; self-test passed)"),
        "{all}"
    );
    assert!(
        report.contains(
            "→ serve would use: portal (xdg-desktop-portal ScreenCast): `wrd-server serve --source portal`"
        ),
        "{all}"
    );
    assert!(
        report.contains(
            "→ input: wlroots virtual pointer v2 + keyboard v1, with each client's keyboard layout"
        ),
        "{all}"
    );
    assert!(report.contains("→ clipboard: wlroots data control v2"), "{all}");
    assert!(
        report
            .contains("→ consent dialog: none: xdg-desktop-portal-wlr is configured with chooser_type=none"),
        "{all}"
    );
    assert!(!report.contains("missing"), "{all}");

    // --json: one object with the same facts and verdict
    let out = output_with_timeout(stack.command(&binary).args(["doctor", "--json"]), BOUND).unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let json: serde_json::Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&out)));
    assert_eq!(json["exit_code"], 0);
    assert_eq!(json["decision"]["source"], "portal");
    assert_eq!(json["decision"]["dialog"], "never");
    assert_eq!(json["decision"]["input"], "wlroots_virtual_devices");
    assert_eq!(json["decision"]["clipboard"], "wlroots_data_control");
    let portal = &json["report"]["portal"]["value"];
    assert_eq!(portal["screencast"]["version"], 4);
    assert_eq!(portal["remote_desktop"], serde_json::Value::Null);
    assert_eq!(portal["screencast_backend"]["name"], "wlr");
    assert_eq!(portal["screencast_backend"]["bus"], "running");
    assert_eq!(portal["wlr"]["chooser_type"], "none");
    assert_eq!(json["report"]["pipewire"]["status"], "found");
    assert_eq!(json["report"]["h264"]["status"], "found");
    assert_eq!(json["report"]["wayland"]["value"]["family"], "wlroots");
    assert_eq!(json["report"]["wayland"]["value"]["virtual_pointer"], 2);
    assert_eq!(json["report"]["wayland"]["value"]["virtual_keyboard"], 1);

    // A stored grant is what decides the dialog on the next start.
    let state = stack.dir().join("state/wrd-server");
    let out = output_with_timeout(
        stack
            .command("sh")
            .arg("-c")
            .arg("mkdir -p \"$1\" && printf stored-grant > \"$1/portal-restore-token\"")
            .arg("sh")
            .arg(&state),
        BOUND,
    )
    .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let out = output_with_timeout(stack.command(&binary).arg("doctor"), BOUND).unwrap();
    let report = String::from_utf8(out.stdout.clone()).unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        line(&report, "grant").contains("restore token stored"),
        "{report}"
    );
    assert!(
        report.contains("→ consent dialog: none: a stored grant (restore token"),
        "{report}"
    );
}

#[test]
fn outside_any_session_doctor_exits_1_and_says_what_is_missing() {
    let dir = TestDir::new("doctor-nowhere").unwrap();
    let runtime = dir.join("run");
    std::fs::create_dir_all(&runtime).unwrap();
    // A fresh command per run: each run adds its own pre-exec step (setsid) to the command.
    let doctor = || {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_wrd-server"));
        cmd.arg("doctor")
            .env_clear()
            .env("PATH", "/usr/local/bin:/usr/bin:/bin")
            .env("HOME", dir.path())
            // an empty runtime directory: no bus, no PipeWire, no Wayland socket to fall back on
            .env("XDG_RUNTIME_DIR", &runtime);
        cmd
    };
    let out = output_with_timeout(&mut doctor(), BOUND).unwrap();
    let all = text(&out);
    assert_eq!(out.status.code(), Some(1), "{all}");
    let report = String::from_utf8(out.stdout.clone()).unwrap();
    println!("{report}");
    assert!(
        line(&report, "session").contains("no WAYLAND_DISPLAY, no session bus"),
        "{all}"
    );
    assert!(
        line(&report, "pipewire").starts_with("pipewire     no: "),
        "{all}"
    );
    assert!(report.contains("WAYLAND_DISPLAY is not set"), "{all}");
    assert!(report.contains("no session bus"), "{all}");
    assert!(report.contains("install pipewire and wireplumber"), "{all}");
    assert!(report.contains("→ no desktop to serve here"), "{all}");
    assert!(
        report.contains("`wrd-server serve --source test-pattern`"),
        "{all}"
    );

    let out = output_with_timeout(doctor().arg("--json"), BOUND).unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["exit_code"], 1);
    assert_eq!(json["decision"]["source"], serde_json::Value::Null);
    assert_eq!(json["report"]["wayland"]["status"], "skipped");
    assert!(!json["decision"]["missing"].as_array().unwrap().is_empty());
}
