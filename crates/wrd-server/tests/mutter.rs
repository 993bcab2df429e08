//! `wrd-server serve --source mutter` on a real headless GNOME compositor (`mutter --headless`,
//! PipeWire and a session bus, run by wrd-testkit's `MutterStack` as an unprivileged user):
//! no consent dialog; the real FreeRDP client shows what Mutter shows; two monitors become
//! one desktop.

// Test code: a failed step is the test failing, so unwrap/panic are the right tools here.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use wrd_client::{ClientConfig, SessionEvent};
use wrd_testkit::{
    ChildGuard, Image, MutterStack, MutterStackOptions, Security, TestDir, XFreeRdp, XFreeRdpOptions, Xvfb,
    sixel_safe_picture,
};

const USER: &str = "rdpuser";
const PASSWORD: &str = "mutter-pw";
/// What `show_picture` fills the rest of the primary monitor with.
const BACKGROUND: [u8; 3] = [0x33, 0x66, 0x99];
/// RemoteFX is lossy: a pixel within this of the original counts as the same.
const TOLERANCE: u8 = 48;

fn stack(dir: &TestDir, monitors: &[(u32, u32)], pic: &Image) -> MutterStack {
    let mut stack = MutterStack::start(
        dir.path(),
        &MutterStackOptions {
            monitors: monitors.to_vec(),
        },
    )
    .unwrap();
    stack.show_picture(pic, BACKGROUND).unwrap();
    stack
}

fn start_server(stack: &MutterStack, dir: &TestDir) -> (ChildGuard, u16) {
    common::serve_mutter(
        stack,
        dir,
        (USER, PASSWORD),
        "info",
        "wrd-server ready",
        Duration::from_secs(30),
    )
}

/// Whether `shown` (the client's picture) has `pic` at `(x0, y0)` and the background beside it.
fn shows_picture(shown: &Image, pic: &Image, x0: u32, y0: u32) -> bool {
    let (pw, ph) = pic.size();
    let Ok(area) = shown.crop(x0, y0, pw, ph) else {
        return false;
    };
    let Ok(background) = shown.crop(x0 + pw, y0, 64, ph) else {
        return false;
    };
    area.fraction_different(pic, TOLERANCE).unwrap_or(1.0) < 0.01
        && background.fraction_matching(BACKGROUND, TOLERANCE) > 0.99
}

#[test]
fn the_real_client_sees_the_gnome_desktop_without_a_dialog() {
    let dir = TestDir::new("mutter-xfreerdp").unwrap();
    let pic = sixel_safe_picture(1024, 576).unwrap();
    let stack = stack(&dir, &[(1280, 720)], &pic);
    let (mut server, port) = start_server(&stack, &dir);
    let xvfb = Xvfb::start(dir.path()).unwrap();
    let options = XFreeRdpOptions::new(port)
        .credentials(USER, PASSWORD)
        .security(Security::Nla)
        .size(1280, 720);
    let mut rdp = XFreeRdp::spawn(&xvfb, &options, dir.path()).unwrap();
    // Mutter sends frames only on change: on a still screen the server's watchdog
    // re-negotiates the stream, which makes Mutter paint again.
    let shown = rdp
        .wait_for_client_area(Duration::from_secs(45), "the GNOME desktop's picture", |img| {
            img.size() == (1280, 720) && shows_picture(img, &pic, 0, 0)
        })
        .unwrap();
    shown.save_png(dir.join("client.png")).unwrap();
    rdp.stop().unwrap();
    server.signal(libc::SIGTERM).unwrap();
    let status = server
        .wait_timeout(Duration::from_secs(5))
        .unwrap()
        .expect("server did not stop");
    assert_eq!(status.code(), Some(0), "{}", server.log_tail(20));
}

#[test]
fn two_monitors_are_one_desktop() {
    let dir = TestDir::new("mutter-two-monitors").unwrap();
    let pic = sixel_safe_picture(640, 384).unwrap();
    let stack = stack(&dir, &[(1280, 720), (800, 600)], &pic);
    let (mut server, port) = start_server(&stack, &dir);
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let mut config = ClientConfig::new(addr, USER, PASSWORD);
        config.desktop_width = 1280;
        config.desktop_height = 720;
        let mut session = wrd_client::connect(config).await.unwrap();
        // The server offers the composed desktop: Meta-0 at (0,0) 1280x720 beside Meta-1 at
        // (1280,0) 800x600.
        assert_eq!(session.desktop_size(), (2080, 720));

        let deadline = tokio::time::Instant::now() + Duration::from_secs(45);
        let mut picture_seen = false;
        while !picture_seen {
            match session.next_event(deadline).await {
                Ok(SessionEvent::GraphicsUpdate { .. }) => {
                    let fb = session.framebuffer();
                    let (w, h) = (fb.width(), fb.height());
                    let mut rgb = Vec::with_capacity(usize::from(w) * usize::from(h) * 3);
                    for y in 0..h {
                        for x in 0..w {
                            rgb.extend_from_slice(&fb.rgb(x, y).unwrap());
                        }
                    }
                    let shown = Image::from_rgb(u32::from(w), u32::from(h), rgb).unwrap();
                    if shows_picture(&shown, &pic, 0, 0) {
                        // The second monitor (Mutter's own background) is in its place too:
                        // not the first monitor's background colour.
                        let second = shown.crop(1280, 0, 800, 600).unwrap();
                        assert!(second.fraction_matching(BACKGROUND, 8) < 0.01);
                        shown.save_png(dir.join("client.png")).unwrap();
                        picture_seen = true;
                    }
                }
                Ok(SessionEvent::Terminated(reason)) => panic!("session ended: {reason}"),
                Ok(_) => {}
                Err(e) => panic!("waiting for the picture: {e}\n{}", server.log_tail(20)),
            }
        }
        session.disconnect().await.unwrap();
    });
    server.signal(libc::SIGTERM).unwrap();
    let status = server
        .wait_timeout(Duration::from_secs(5))
        .unwrap()
        .expect("server did not stop");
    assert_eq!(status.code(), Some(0), "{}", server.log_tail(20));
    let log = server.log();
    assert!(
        log.contains("several monitors: composing them into one desktop"),
        "{log}"
    );
}
