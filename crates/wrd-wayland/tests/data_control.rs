//! `DataControl` on a real compositor: headless sway from wrd-testkit, with `wl-copy` and
//! `wl-paste` (wl-clipboard) as the desktop programs that copy and paste.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;
use std::time::Duration;

use tokio::sync::mpsc::UnboundedReceiver;
use wrd_testkit::{StackOptions, SwayStack, TestDir, output_with_timeout};
use wrd_wayland::{ClipboardCommand, ClipboardEvent, DataControl, WaylandSocket};

const WAIT: Duration = Duration::from_secs(20);
const TEXT_MIME: &str = "text/plain;charset=utf-8";

fn stack(dir: &TestDir) -> SwayStack {
    SwayStack::start(
        dir.path(),
        &StackOptions {
            size: Some((640, 480)),
            wallpaper: None,
            animate: false,
        },
    )
    .unwrap()
}

fn socket(stack: &SwayStack) -> PathBuf {
    let run = stack
        .env()
        .iter()
        .find(|(k, _)| k == "XDG_RUNTIME_DIR")
        .map(|(_, v)| PathBuf::from(v))
        .unwrap();
    run.join(stack.wayland_display())
}

fn next_event(
    rt: &tokio::runtime::Runtime,
    events: &mut UnboundedReceiver<ClipboardEvent>,
    wanted: impl Fn(&ClipboardEvent) -> bool,
) -> ClipboardEvent {
    rt.block_on(async {
        tokio::time::timeout(WAIT, async {
            loop {
                let event = events.recv().await.expect("the clipboard thread ended");
                if wanted(&event) {
                    return event;
                }
            }
        })
        .await
        .expect("no such clipboard event in time")
    })
}

#[test]
fn desktop_copies_are_seen_and_read_and_our_selection_is_pasted() {
    let dir = TestDir::new("data-control").unwrap();
    let mut stack = stack(&dir);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (control, mut events) = DataControl::start(WaylandSocket::Path(socket(&stack)), 1 << 20).unwrap();
    rt.block_on(async { tokio::time::timeout(WAIT, control.ready()).await })
        .unwrap()
        .unwrap();

    // The desktop copies: the selection's MIME types arrive, and a read gives the text.
    let text = "Grüße aus Köln\nzweite Zeile 🦀";
    let mut copy = stack.command("wl-copy");
    copy.args(["--foreground", "--", text]);
    stack.spawn_client(copy, "wl-copy").unwrap();
    let event = next_event(
        &rt,
        &mut events,
        |event| matches!(event, ClipboardEvent::Selection(mimes) if mimes.iter().any(|m| m == TEXT_MIME)),
    );
    println!("desktop selection: {event:?}");
    control
        .send(ClipboardCommand::Read {
            request: 1,
            mime: TEXT_MIME.into(),
        })
        .unwrap();
    let event = next_event(&rt, &mut events, |event| {
        matches!(event, ClipboardEvent::ReadDone { .. })
    });
    assert_eq!(
        event,
        ClipboardEvent::ReadDone {
            request: 1,
            result: Ok(text.as_bytes().to_vec())
        }
    );

    // We take the selection; a desktop program pastes from it and gets what we deliver.
    control
        .send(ClipboardCommand::SetSelection {
            mimes: vec![TEXT_MIME.into(), "application/x-test-marker".into()],
        })
        .unwrap();
    let event = next_event(&rt, &mut events, |event| {
        matches!(event, ClipboardEvent::Selection(_))
    });
    assert_eq!(
        event,
        ClipboardEvent::Selection(vec![TEXT_MIME.into(), "application/x-test-marker".into()])
    );
    let mut paste = stack.command("wl-paste");
    paste.args(["--no-newline", "--type", TEXT_MIME]);
    let pasted = std::thread::spawn(move || output_with_timeout(&mut paste, WAIT));
    let event = next_event(&rt, &mut events, |event| {
        matches!(event, ClipboardEvent::Paste { .. })
    });
    let ClipboardEvent::Paste { request, mime } = event else {
        unreachable!()
    };
    assert_eq!(mime, TEXT_MIME);
    let reply = "von RDP: ünïcödé\nund eine zweite Zeile";
    control
        .send(ClipboardCommand::Deliver {
            request,
            data: reply.as_bytes().to_vec(),
        })
        .unwrap();
    let out = pasted.join().unwrap().unwrap();
    assert!(
        out.status.success(),
        "wl-paste: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8(out.stdout).unwrap(), reply);

    // A refused paste closes the pipe empty: wl-paste gets nothing.
    let mut paste = stack.command("wl-paste");
    paste.args(["--no-newline", "--type", TEXT_MIME]);
    let pasted = std::thread::spawn(move || output_with_timeout(&mut paste, WAIT));
    let ClipboardEvent::Paste { request, .. } = next_event(&rt, &mut events, |event| {
        matches!(event, ClipboardEvent::Paste { .. })
    }) else {
        unreachable!()
    };
    control.send(ClipboardCommand::Refuse { request }).unwrap();
    let out = pasted.join().unwrap().unwrap();
    assert!(out.stdout.is_empty(), "{:?}", out.stdout);

    // A large item (4 MiB, past a pipe's buffer many times) goes through whole.
    let big: Vec<u8> = (0..4 << 20)
        .map(|i: u32| b'a' + u8::try_from(i % 26).unwrap())
        .collect();
    let mut paste = stack.command("wl-paste");
    paste.args(["--no-newline", "--type", TEXT_MIME]);
    let pasted = std::thread::spawn(move || output_with_timeout(&mut paste, WAIT));
    let ClipboardEvent::Paste { request, .. } = next_event(&rt, &mut events, |event| {
        matches!(event, ClipboardEvent::Paste { .. })
    }) else {
        unreachable!()
    };
    control
        .send(ClipboardCommand::Deliver {
            request,
            data: big.clone(),
        })
        .unwrap();
    let out = pasted.join().unwrap().unwrap();
    assert_eq!(out.stdout.len(), big.len());
    assert!(out.stdout == big);
    drop(control);
}
