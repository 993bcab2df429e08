//! wrd-mutter-probe: GNOME's remote-desktop API from inside a GNOME session, as JSON lines on
//! stdout. A diagnostic tool ("does the Mutter path work on this machine?"), and the process
//! the wrd-mutter tests run inside the desktop session (as the session's user, with its bus).
//!
//! ```text
//! wrd-mutter-probe probe
//! wrd-mutter-probe capture [--cursor hidden|embedded|metadata] [--seconds S] [--dump-dir DIR]
//!                          [--move-pointer] [--input-check] [--wait-closed S]
//! wrd-mutter-probe click X,Y [X,Y ...]
//! wrd-mutter-probe clipboard [--limit BYTES] [--read MIME]... [--offer MIME --answer deliver:TEXT|refuse]
//!                            [--seconds S]
//! ```
//! - `probe`: `{"event":"probe","available":...}` with Mutter's API versions and monitors.
//! - `capture`: starts a session on every monitor, consumes each stream with the PipeWire
//!   thread (the session's default PipeWire daemon) for S seconds (default 2), then prints a
//!   summary per stream. `--dump-dir DIR`: the last frame of stream i goes to `DIR/stream-i.raw`
//!   as `WRDRAW <w> <h> <stride> <format>\n` + `stride * h` bytes. `--move-pointer`: moves the
//!   pointer over stream 0 every 50 ms (Mutter sends frames only on change; this makes some),
//!   then collects for another 0.5 s.
//!   `--input-check`: calls every input method once (harmless keys and buttons).
//!   `--wait-closed S`: then waits up to S seconds for the session to end from Mutter's side
//!   (`{"event":"waiting"}` first, then `closed` or `not-closed`). At the end the session is
//!   stopped, and Mutter's confirmation awaited (`{"event":"closed","after":"stop"}`).
//!
//! - `click`: moves the pointer to each position on the primary monitor (logical pixels) and
//!   clicks the left button there, 0.3 s apart (`{"event":"click","x":..,"y":..}` each): the
//!   tests click through dialogs this way (xdg-desktop-portal-gnome's RemoteDesktop consent).
//!
//! - `clipboard`: a session's clipboard. It types Shift first (Mutter's seat has a keyboard,
//!   which Wayland programs copying and pasting need, only once a session typed a key:
//!   `{"event":"keyboard"}`). With `--read`: waits up to S seconds (default 10) for the
//!   desktop's selection (`selection` with its MIME types), then asks for every `--read` at
//!   once and prints each answer (`read`: `ok`, `data` or `error`); `--limit` bounds each
//!   read (default 64 MiB). With `--offer`: takes the selection for MIME (`offered`) and for S
//!   seconds answers every paste (`paste`) with TEXT or a refusal; the desktop's selection
//!   changes are printed meanwhile. Then the session is stopped and the clipboard's end
//!   awaited (`clipboard-closed` with the reason).
//!
//! Exit 0 when everything asked for happened (every stream got a frame, the session ended),
//! 1 otherwise, 2 on usage errors. Mutter sends frames only when the screen changes: on a
//! still screen a stream may send its first frame late, or (seen under load) not at all.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::sync::mpsc;
use wrd_mutter::{CursorMode, MutterOptions, MutterSession, Recording, ScrollAxis};
use wrd_pipewire::{CapturedFrame, PipeWireThreadManager, Remote, StreamConfig};

const USAGE: &str = "usage: wrd-mutter-probe probe\n       wrd-mutter-probe capture [--cursor hidden|embedded|metadata] [--seconds S] [--dump-dir DIR] [--move-pointer] [--input-check] [--wait-closed S] [--virtual WxH [--resize-to WxH]]\n       wrd-mutter-probe click X,Y [X,Y ...]\n       wrd-mutter-probe clipboard [--limit BYTES] [--read MIME]... [--offer MIME --answer deliver:TEXT|refuse] [--seconds S]";
/// evdev's left Shift: the key the clipboard command types to give the seat a keyboard.
const KEY_LEFTSHIFT: u32 = 42;
/// Time for the desktop to act on a click before the next one.
const CLICK_PAUSE: Duration = Duration::from_millis(300);
/// From the first move of a click session's new pointer to its first click.
const FIRST_CLICK_DELAY: Duration = Duration::from_millis(500);
/// evdev's left button.
const BTN_LEFT: i32 = 0x110;
/// Frames reported one by one (per stream); the rest only count.
const REPORTED_FRAMES: u64 = 3;
const REPORTED_CURSORS: u64 = 5;
/// Collecting time after the last pointer move.
const SETTLE: Duration = Duration::from_millis(500);
/// How long Mutter may take to confirm a stop with `Closed`.
const STOP_CONFIRMATION: Duration = Duration::from_secs(5);

struct CaptureArgs {
    cursor: CursorMode,
    seconds: f64,
    dump_dir: Option<PathBuf>,
    move_pointer: bool,
    input_check: bool,
    wait_closed: Option<f64>,
    /// Record a virtual monitor of the session's own at this size (instead of every monitor).
    virtual_size: Option<(u32, u32)>,
    /// Halfway through, ask the virtual monitor for this size.
    resize_to: Option<(u32, u32)>,
}

fn parse_size(text: &str) -> Result<(u32, u32), String> {
    text.split_once('x')
        .and_then(|(w, h)| Some((w.parse().ok()?, h.parse().ok()?)))
        .ok_or_else(|| format!("{text:?} is not WxH"))
}

enum Command {
    Probe,
    Capture(CaptureArgs),
    Click(Vec<(f64, f64)>),
    Clipboard(ClipboardArgs),
}

struct ClipboardArgs {
    limit: usize,
    reads: Vec<String>,
    /// The MIME type to offer and what to answer pastes with (`None`: refuse them).
    offer: Option<(String, Option<String>)>,
    seconds: f64,
}

fn parse_clipboard_args(mut it: impl Iterator<Item = String>) -> Result<ClipboardArgs, String> {
    let mut a = ClipboardArgs {
        limit: 64 << 20,
        reads: Vec::new(),
        offer: None,
        seconds: 10.0,
    };
    let mut offer = None;
    let mut answer = None;
    while let Some(arg) = it.next() {
        let mut val = || it.next().ok_or_else(|| format!("{arg} needs a value"));
        match arg.as_str() {
            "--limit" => a.limit = val()?.parse().map_err(|e| format!("--limit: {e}"))?,
            "--read" => a.reads.push(val()?),
            "--offer" => offer = Some(val()?),
            "--answer" => {
                let v = val()?;
                answer = Some(match v.strip_prefix("deliver:") {
                    Some(text) => Some(text.to_owned()),
                    None if v == "refuse" => None,
                    None => return Err(format!("--answer {v:?}: deliver:TEXT or refuse")),
                });
            }
            "--seconds" => a.seconds = val()?.parse().map_err(|e| format!("--seconds: {e}"))?,
            other => return Err(format!("unknown argument {other}")),
        }
    }
    if !(a.seconds.is_finite() && a.seconds > 0.0) {
        return Err("--seconds must be positive".into());
    }
    a.offer = match (offer, answer) {
        (Some(mime), Some(answer)) => Some((mime, answer)),
        (None, None) => None,
        _ => return Err("--offer and --answer go together".into()),
    };
    Ok(a)
}

fn parse_args() -> Result<Command, String> {
    let mut it = std::env::args().skip(1);
    match it.next().as_deref() {
        Some("probe") => match it.next() {
            None => Ok(Command::Probe),
            Some(extra) => Err(format!("probe takes no argument ({extra})")),
        },
        Some("click") => {
            let points = it
                .map(|arg| {
                    let (x, y) = arg
                        .split_once(',')
                        .ok_or_else(|| format!("click position {arg:?} is not X,Y"))?;
                    let number = |v: &str| {
                        v.trim()
                            .parse::<f64>()
                            .ok()
                            .filter(|n| n.is_finite() && *n >= 0.0)
                            .ok_or_else(|| format!("click position {arg:?}: {v:?} is not a coordinate"))
                    };
                    Ok((number(x)?, number(y)?))
                })
                .collect::<Result<Vec<_>, String>>()?;
            if points.is_empty() {
                return Err(format!("click needs at least one X,Y\n{USAGE}"));
            }
            Ok(Command::Click(points))
        }
        Some("capture") => {
            let mut a = CaptureArgs {
                cursor: CursorMode::Hidden,
                seconds: 2.0,
                dump_dir: None,
                move_pointer: false,
                input_check: false,
                wait_closed: None,
                virtual_size: None,
                resize_to: None,
            };
            while let Some(arg) = it.next() {
                let mut val = || it.next().ok_or_else(|| format!("{arg} needs a value"));
                match arg.as_str() {
                    "--cursor" => {
                        a.cursor = match val()?.as_str() {
                            "hidden" => CursorMode::Hidden,
                            "embedded" => CursorMode::Embedded,
                            "metadata" => CursorMode::Metadata,
                            other => return Err(format!("unknown cursor mode {other}")),
                        }
                    }
                    "--seconds" => a.seconds = val()?.parse().map_err(|e| format!("--seconds: {e}"))?,
                    "--dump-dir" => a.dump_dir = Some(PathBuf::from(val()?)),
                    "--move-pointer" => a.move_pointer = true,
                    "--input-check" => a.input_check = true,
                    "--virtual" => a.virtual_size = Some(parse_size(&val()?)?),
                    "--resize-to" => a.resize_to = Some(parse_size(&val()?)?),
                    "--wait-closed" => {
                        a.wait_closed = Some(val()?.parse().map_err(|e| format!("--wait-closed: {e}"))?);
                    }
                    other => return Err(format!("unknown argument {other}")),
                }
            }
            if !(a.seconds.is_finite() && a.seconds > 0.0) {
                return Err("--seconds must be positive".into());
            }
            if a.resize_to.is_some() && a.virtual_size.is_none() {
                return Err("--resize-to needs --virtual".into());
            }
            Ok(Command::Capture(a))
        }
        Some("clipboard") => parse_clipboard_args(it).map(Command::Clipboard),
        Some("-h" | "--help") | None => Err(USAGE.into()),
        Some(other) => Err(format!("unknown command {other}\n{USAGE}")),
    }
}

fn emit(line: &Value) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    let command = match parse_args() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let result = match command {
        Command::Probe => probe().await,
        Command::Capture(args) => capture(args).await,
        Command::Click(points) => click(&points).await,
        Command::Clipboard(args) => clipboard(args).await,
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            emit(&json!({"event": "error", "message": e}));
            ExitCode::from(1)
        }
    }
}

async fn probe() -> Result<bool, String> {
    match wrd_mutter::probe().await.map_err(|e| e.to_string())? {
        Some(p) => emit(&json!({
            "event": "probe",
            "available": true,
            "screencast_version": p.screencast_version,
            "remote_desktop_version": p.remote_desktop_version,
            "supported_device_types": p.supported_device_types,
            "monitors": p.monitors,
        })),
        None => emit(&json!({"event": "probe", "available": false})),
    }
    Ok(true)
}

/// Clicks at each of `points` on the primary monitor through a Mutter session of its own.
async fn click(points: &[(f64, f64)]) -> Result<bool, String> {
    let session = wrd_mutter::start(&MutterOptions {
        cursor: CursorMode::Hidden,
        recording: Recording::Monitors,
    })
    .await
    .map_err(|e| e.to_string())?;
    let input = session.input();
    for (i, &(x, y)) in points.iter().enumerate() {
        input
            .pointer_motion_absolute(0, x, y)
            .await
            .map_err(|e| format!("moving to {x},{y}: {e}"))?;
        if i == 0 {
            // A new session's pointer is a new device: applications take the seat's pointer
            // (and the pointer enters their window) only when it appears, so a click at once
            // can reach nobody.
            tokio::time::sleep(FIRST_CLICK_DELAY).await;
        }
        for pressed in [true, false] {
            input
                .pointer_button(BTN_LEFT, pressed)
                .await
                .map_err(|e| format!("clicking at {x},{y}: {e}"))?;
        }
        emit(&json!({"event": "click", "x": x, "y": y}));
        tokio::time::sleep(CLICK_PAUSE).await;
    }
    session.stop().await.map_err(|e| e.to_string())?;
    Ok(true)
}

/// A session's clipboard: reads of the desktop's selection, or our own offered (see the docs).
async fn clipboard(args: ClipboardArgs) -> Result<bool, String> {
    use wrd_mutter::{ClipboardCommand, ClipboardEvent};
    let session = wrd_mutter::start(&MutterOptions {
        cursor: CursorMode::Hidden,
        recording: Recording::Monitors,
    })
    .await
    .map_err(|e| e.to_string())?;
    let input = session.input();
    for pressed in [true, false] {
        input
            .keyboard_keycode(KEY_LEFTSHIFT, pressed)
            .await
            .map_err(|e| format!("typing Shift: {e}"))?;
    }
    emit(&json!({"event": "keyboard"}));
    let (clipboard, mut events) = session.clipboard(args.limit).await.map_err(|e| e.to_string())?;
    let deadline = tokio::time::Instant::now() + Duration::from_secs_f64(args.seconds);
    let mut all_done = true;

    if !args.reads.is_empty() {
        let mimes = loop {
            match tokio::time::timeout_at(deadline, events.recv()).await {
                Ok(Some(ClipboardEvent::Selection(mimes))) if !mimes.is_empty() => break mimes,
                Ok(Some(other)) => emit(&json!({"event": "other", "what": format!("{other:?}")})),
                Ok(None) => return Err("the clipboard ended before the desktop copied".into()),
                Err(_) => return Err("the desktop's selection did not come".into()),
            }
        };
        emit(&json!({"event": "selection", "mimes": mimes}));
        for (request, mime) in (1_u64..).zip(&args.reads) {
            clipboard
                .send(ClipboardCommand::Read {
                    request,
                    mime: mime.clone(),
                })
                .map_err(|e| e.to_string())?;
        }
        let mut answered = 0;
        let reads_deadline = deadline + wrd_mutter::READ_TIMEOUT;
        while answered < args.reads.len() {
            match tokio::time::timeout_at(reads_deadline, events.recv()).await {
                Ok(Some(ClipboardEvent::ReadDone { request, result })) => {
                    answered += 1;
                    let mime = usize::try_from(request - 1).ok().and_then(|i| args.reads.get(i));
                    emit(&match result {
                        Ok(data) => json!({"event": "read", "request": request, "mime": mime, "ok": true,
                            "bytes": data.len(), "data": String::from_utf8_lossy(&data)}),
                        Err(e) => {
                            json!({"event": "read", "request": request, "mime": mime, "ok": false, "error": e})
                        }
                    });
                }
                Ok(Some(other)) => emit(&json!({"event": "other", "what": format!("{other:?}")})),
                Ok(None) | Err(_) => {
                    all_done = false;
                    break;
                }
            }
        }
    }

    if let Some((mime, answer)) = &args.offer {
        clipboard
            .send(ClipboardCommand::SetSelection {
                mimes: vec![mime.clone()],
            })
            .map_err(|e| e.to_string())?;
        emit(&json!({"event": "offered", "mime": mime}));
        loop {
            match tokio::time::timeout_at(deadline, events.recv()).await {
                Ok(Some(ClipboardEvent::Paste { request, mime })) => {
                    let command = match answer {
                        Some(text) => ClipboardCommand::Deliver {
                            request,
                            data: text.clone().into_bytes(),
                        },
                        None => ClipboardCommand::Refuse { request },
                    };
                    clipboard.send(command).map_err(|e| e.to_string())?;
                    emit(&json!({"event": "paste", "mime": mime,
                        "answer": if answer.is_some() { "deliver" } else { "refuse" }}));
                }
                Ok(Some(ClipboardEvent::Selection(mimes))) => {
                    emit(&json!({"event": "selection", "mimes": mimes}))
                }
                Ok(Some(other)) => emit(&json!({"event": "other", "what": format!("{other:?}")})),
                Ok(None) => return Err("the clipboard ended while offering".into()),
                Err(_) => break,
            }
        }
    }

    session.stop().await.map_err(|e| e.to_string())?;
    match tokio::time::timeout(STOP_CONFIRMATION, clipboard.closed()).await {
        Ok(reason) => emit(&json!({"event": "clipboard-closed", "reason": reason})),
        Err(_) => {
            emit(&json!({"event": "clipboard-not-closed"}));
            all_done = false;
        }
    }
    Ok(all_done)
}

/// What the probe saw of one stream.
#[derive(Default)]
struct StreamTally {
    frames: u64,
    first_frame_ms: Option<f64>,
    cursor_frames: u64,
    cursor_bitmaps: u64,
    last_cursor: Option<(i32, i32)>,
    last_picture: Option<CapturedFrame>,
    /// The size of the last frame (a frame of a new size is always reported).
    last_size: Option<(u32, u32)>,
}

async fn capture(args: CaptureArgs) -> Result<bool, String> {
    let t0 = Instant::now();
    let ms = move || t0.elapsed().as_secs_f64() * 1000.0;
    let session = wrd_mutter::start(&MutterOptions {
        cursor: args.cursor,
        recording: match args.virtual_size {
            Some(_) => Recording::VirtualMonitor,
            None => Recording::Monitors,
        },
    })
    .await
    .map_err(|e| e.to_string())?;
    emit(&json!({
        "event": "session",
        "ms": ms(),
        "cursor": format!("{:?}", session.cursor),
        "remote_desktop_session": session.remote_desktop_session().as_str(),
        "streams": session.streams.iter().map(|s| json!({
            "node": s.node_id,
            "connector": s.connector,
            "position": s.position.map(|(x, y)| [x, y]),
            "size": s.size.map(|(w, h)| [w, h]),
        })).collect::<Vec<_>>(),
    }));

    let (manager, mut pw) = tokio::task::spawn_blocking(|| PipeWireThreadManager::spawn(Remote::Default))
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())?;
    let (frames_tx, mut frames_rx) = mpsc::unbounded_channel();
    let mut stream_ids = Vec::new();
    for (index, stream) in session.streams.iter().enumerate() {
        let mut config = StreamConfig {
            name: format!("wrd-mutter-probe-{index}"),
            max_cursor_size: wrd_mutter::CURSOR_BITMAP_MAX,
            ..StreamConfig::default()
        };
        if let Some((w, h)) = stream.size {
            config.preferred_size = (
                u32::try_from(w).unwrap_or(1920).max(1),
                u32::try_from(h).unwrap_or(1080).max(1),
            );
        }
        config.fixed_size = args.virtual_size;
        let mut handle = pw
            .create_stream(stream.node_id, config)
            .await
            .map_err(|e| format!("connecting to node {}: {e}", stream.node_id))?;
        stream_ids.push(handle.stream.id);
        let tx = frames_tx.clone();
        tokio::spawn(async move {
            while let Ok(frame) = handle.frames.recv().await {
                if tx.send((index, frame)).is_err() {
                    break;
                }
            }
        });
    }
    drop(frames_tx);

    if args.input_check {
        input_check(&session).await?;
    }

    let mut tallies: Vec<StreamTally> = session.streams.iter().map(|_| StreamTally::default()).collect();
    // With --move-pointer, the last half second only collects: frames for the last moves
    // arrive, so the last cursor position reported is the last one asked for.
    let moving_until = tokio::time::Instant::now() + Duration::from_secs_f64(args.seconds);
    let deadline = moving_until + if args.move_pointer { SETTLE } else { Duration::ZERO };
    let mut pointer_tick = tokio::time::interval(Duration::from_millis(50));
    let mut pointer_step: u32 = 0;
    let mut last_pointer = None;
    let pointer_area = session.streams[0].size.unwrap_or((640, 480));
    let halfway = tokio::time::Instant::now() + Duration::from_secs_f64(args.seconds / 2.0);
    let mut resize_to = args.resize_to;
    loop {
        tokio::select! {
            () = tokio::time::sleep_until(deadline) => break,
            () = tokio::time::sleep_until(halfway), if resize_to.is_some() => {
                if let (Some(size), Some(&id)) = (resize_to.take(), stream_ids.first()) {
                    pw.set_size(id, size).await.map_err(|e| format!("asking for {size:?}: {e}"))?;
                    emit(&json!({"event": "resize", "ms": ms(), "size": [size.0, size.1]}));
                }
            }
            event = pw.next_event() => {
                let Some(event) = event else { break };
                emit(&json!({"event": "pw", "ms": ms(), "what": format!("{event:?}")}));
            }
            frame = frames_rx.recv() => {
                let Some((index, frame)) = frame else { break };
                tally(&mut tallies[index], index, frame, ms());
            }
            _ = pointer_tick.tick(), if args.move_pointer && tokio::time::Instant::now() < moving_until => {
                let (x, y) = pointer_position(pointer_step, pointer_area);
                pointer_step += 1;
                session
                    .input()
                    .pointer_motion_absolute(0, x, y)
                    .await
                    .map_err(|e| e.to_string())?;
                last_pointer = Some((x, y));
            }
        }
    }

    let mut ok = true;
    for (index, t) in tallies.iter().enumerate() {
        ok &= t.frames > 0;
        if let (Some(dir), Some(f)) = (&args.dump_dir, &t.last_picture) {
            let path = dir.join(format!("stream-{index}.raw"));
            let mut bytes =
                format!("WRDRAW {} {} {} {:?}\n", f.width, f.height, f.stride, f.format).into_bytes();
            bytes.extend_from_slice(&f.data);
            std::fs::write(&path, bytes).map_err(|e| format!("{}: {e}", path.display()))?;
        }
        let picture = t.last_picture.as_ref();
        emit(&json!({
            "event": "summary",
            "stream": index,
            "connector": session.streams[index].connector,
            "frames": t.frames,
            "first_frame_ms": t.first_frame_ms,
            "width": picture.map(|f| f.width),
            "height": picture.map(|f| f.height),
            "format": picture.map(|f| format!("{:?}", f.format)),
            "cursor_frames": t.cursor_frames,
            "cursor_bitmaps": t.cursor_bitmaps,
            "last_cursor": t.last_cursor.map(|(x, y)| [x, y]),
            "last_pointer": if index == 0 { last_pointer.map(|(x, y)| json!([x, y])) } else { None },
        }));
    }

    if let Some(seconds) = args.wait_closed {
        let t = Instant::now();
        emit(&json!({"event": "waiting", "seconds": seconds}));
        match tokio::time::timeout(Duration::from_secs_f64(seconds), session.closed()).await {
            Ok(Ok(())) => {
                emit(&json!({"event": "closed", "after": "wait", "ms": t.elapsed().as_secs_f64() * 1000.0}))
            }
            Ok(Err(e)) => return Err(e.to_string()),
            Err(_) => {
                emit(&json!({"event": "not-closed", "after": "wait", "seconds": seconds}));
                ok = false;
            }
        }
    }
    if !session.is_closed() {
        let t = Instant::now();
        session.stop().await.map_err(|e| e.to_string())?;
        match tokio::time::timeout(STOP_CONFIRMATION, session.closed()).await {
            Ok(Ok(())) => {
                emit(&json!({"event": "closed", "after": "stop", "ms": t.elapsed().as_secs_f64() * 1000.0}))
            }
            Ok(Err(e)) => return Err(e.to_string()),
            Err(_) => {
                emit(
                    &json!({"event": "not-closed", "after": "stop", "seconds": STOP_CONFIRMATION.as_secs()}),
                );
                ok = false;
            }
        }
    }
    let t = Instant::now();
    manager.shutdown_async().await.map_err(|e| e.to_string())?;
    emit(&json!({"event": "shutdown", "ms": t.elapsed().as_secs_f64() * 1000.0}));
    Ok(ok)
}

fn tally(t: &mut StreamTally, index: usize, frame: CapturedFrame, now_ms: f64) {
    t.frames += 1;
    if t.first_frame_ms.is_none() {
        t.first_frame_ms = Some(now_ms);
    }
    let new_size = t.last_size.replace((frame.width, frame.height)) != Some((frame.width, frame.height));
    if t.frames <= REPORTED_FRAMES || new_size {
        emit(&json!({
            "event": "frame", "stream": index, "ms": now_ms, "seq": frame.seq,
            "width": frame.width, "height": frame.height, "stride": frame.stride,
            "format": format!("{:?}", frame.format), "pixels_changed": frame.pixels_changed,
            "cursor": frame.cursor.is_some(),
        }));
    }
    if let Some(cursor) = &frame.cursor {
        t.cursor_frames += 1;
        if cursor.bitmap.is_some() {
            t.cursor_bitmaps += 1;
        }
        t.last_cursor = Some((cursor.x, cursor.y));
        if t.cursor_frames <= REPORTED_CURSORS {
            emit(&json!({
                "event": "cursor", "stream": index, "ms": now_ms, "x": cursor.x, "y": cursor.y,
                "hotspot": [cursor.hotspot_x, cursor.hotspot_y],
                "bitmap": cursor.bitmap.as_ref().map(|b| [b.width, b.height]),
            }));
        }
    }
    if frame.pixels_changed {
        t.last_picture = Some(frame);
    }
}

/// A walk over the stream that never repeats two positions in a row (whole pixels: the
/// cursor metadata reports integers).
fn pointer_position(step: u32, (w, h): (i32, i32)) -> (f64, f64) {
    let span_x = f64::from((w - 100).max(1));
    let span_y = f64::from((h - 100).max(1));
    let x = 50.0 + (f64::from(step) * 37.0) % span_x;
    let y = 50.0 + (f64::from(step) * 23.0) % span_y;
    (x.floor(), y.floor())
}

/// Calls each input method once, with keys and buttons that change nothing on screen.
async fn input_check(session: &MutterSession) -> Result<(), String> {
    const KEY_LEFTSHIFT: u32 = 42;
    const XK_SHIFT_L: u32 = 0xffe1;
    const BTN_SIDE: i32 = 0x113;
    let mut calls = Vec::new();
    let mut record = |name: &str, result: Result<(), wrd_mutter::MutterError>| {
        let ok = result.is_ok();
        emit(
            &json!({"event": "input", "call": name, "ok": ok, "error": result.err().map(|e| e.to_string())}),
        );
        calls.push(ok);
    };
    record(
        "keyboard_keycode",
        session.input().keyboard_keycode(KEY_LEFTSHIFT, true).await,
    );
    record(
        "keyboard_keycode",
        session.input().keyboard_keycode(KEY_LEFTSHIFT, false).await,
    );
    record(
        "keyboard_keysym",
        session.input().keyboard_keysym(XK_SHIFT_L, true).await,
    );
    record(
        "keyboard_keysym",
        session.input().keyboard_keysym(XK_SHIFT_L, false).await,
    );
    record(
        "pointer_motion_relative",
        session.input().pointer_motion_relative(1.0, 1.0).await,
    );
    record(
        "pointer_button",
        session.input().pointer_button(BTN_SIDE, true).await,
    );
    record(
        "pointer_button",
        session.input().pointer_button(BTN_SIDE, false).await,
    );
    record(
        "pointer_axis",
        session
            .input()
            .pointer_axis(0.0, 0.0, wrd_mutter::AXIS_FINISH | wrd_mutter::AXIS_SOURCE_FINGER)
            .await,
    );
    record(
        "pointer_axis_discrete",
        session
            .input()
            .pointer_axis_discrete(ScrollAxis::Horizontal, 1)
            .await,
    );
    let bad = session
        .input()
        .pointer_motion_absolute(session.streams.len(), 1.0, 1.0)
        .await;
    emit(
        &json!({"event": "input", "call": "pointer_motion_absolute(no such stream)", "ok": bad.is_ok(), "error": bad.err().map(|e| e.to_string())}),
    );
    if calls.iter().all(|ok| *ok) {
        Ok(())
    } else {
        Err("an input call failed (see the input lines)".into())
    }
}
