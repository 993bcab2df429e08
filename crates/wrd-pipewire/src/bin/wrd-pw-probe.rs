//! wrd-pw-probe: capture a screen through the ScreenCast portal with the PipeWire thread and
//! report what arrives, as JSON lines on stdout. A diagnostic tool, and the process the portal
//! tests and the benchmark run inside the desktop session (as the session's user, with its
//! bus and runtime dir).
//!
//! ```text
//! wrd-pw-probe [--seconds S] [--frames N] [--dump FILE] [--cursor hidden|embedded|metadata]
//! ```
//! - `--seconds S`: stop after S seconds (default 3); `--frames N`: or after N frames.
//! - `--dump FILE`: write the last frame with pixels as `WRDRAW <w> <h> <stride> <format>\n`
//!   followed by `stride * h` bytes.
//!
//! Lines: `{"event":"portal",...}` (node, size), `{"event":"pw",...}` (PipeWire events),
//! `{"event":"frame",...}` (the first few frames), `{"event":"summary",...}`. Exit 0 when at
//! least one frame arrived, 1 otherwise, 2 on usage errors.

use std::io::Write;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use ashpd::desktop::PersistMode;
use ashpd::desktop::screencast::{CursorMode, Screencast, SelectSourcesOptions, SourceType};
use wrd_pipewire::{PipeWireEvent, PipeWireThreadManager, Remote, StreamConfig};

struct Args {
    seconds: f64,
    frames: u64,
    dump: Option<String>,
    cursor: CursorMode,
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        seconds: 3.0,
        frames: u64::MAX,
        dump: None,
        cursor: CursorMode::Hidden,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut val = || it.next().ok_or_else(|| format!("{arg} needs a value"));
        match arg.as_str() {
            "--seconds" => a.seconds = val()?.parse().map_err(|e| format!("--seconds: {e}"))?,
            "--frames" => a.frames = val()?.parse().map_err(|e| format!("--frames: {e}"))?,
            "--dump" => a.dump = Some(val()?),
            "--cursor" => {
                a.cursor = match val()?.as_str() {
                    "hidden" => CursorMode::Hidden,
                    "embedded" => CursorMode::Embedded,
                    "metadata" => CursorMode::Metadata,
                    o => return Err(format!("unknown cursor mode {o}")),
                }
            }
            "-h" | "--help" => {
                return Err("usage: wrd-pw-probe [--seconds S] [--frames N] [--dump FILE] [--cursor hidden|embedded|metadata]".into());
            }
            o => return Err(format!("unknown argument {o}")),
        }
    }
    Ok(a)
}

fn json_str(s: &str) -> String {
    let mut o = String::with_capacity(s.len() + 2);
    o.push('"');
    for c in s.chars() {
        match c {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            c if (c as u32) < 0x20 => o.push_str(&format!("\\u{:04x}", c as u32)),
            c => o.push(c),
        }
    }
    o.push('"');
    o
}

fn emit(line: String) {
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
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    match run(args).await {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            emit(format!("{{\"event\":\"error\",\"message\":{}}}", json_str(&e)));
            ExitCode::from(1)
        }
    }
}

async fn run(args: Args) -> Result<bool, String> {
    let t0 = Instant::now();
    let ms = |t: Instant| t.duration_since(t0).as_secs_f64() * 1000.0;
    let portal = Screencast::new()
        .await
        .map_err(|e| format!("ScreenCast portal: {e}"))?;
    let session = portal
        .create_session(Default::default())
        .await
        .map_err(|e| format!("CreateSession: {e}"))?;
    let modes = portal.available_cursor_modes().await.unwrap_or_default();
    let cursor = if modes.contains(args.cursor) {
        args.cursor
    } else {
        CursorMode::Hidden
    };
    portal
        .select_sources(
            &session,
            SelectSourcesOptions::default()
                .set_cursor_mode(cursor)
                .set_sources(ashpd::enumflags2::BitFlags::from(SourceType::Monitor))
                .set_multiple(false)
                .set_persist_mode(PersistMode::DoNot),
        )
        .await
        .map_err(|e| format!("SelectSources: {e}"))?;
    let streams = portal
        .start(&session, None, Default::default())
        .await
        .map_err(|e| format!("Start: {e}"))?
        .response()
        .map_err(|e| format!("Start response: {e}"))?;
    let stream = streams.streams().first().ok_or("the portal returned no stream")?;
    let node = stream.pipe_wire_node_id();
    let (pw, ph) = stream.size().unwrap_or((0, 0));
    let fd = portal
        .open_pipe_wire_remote(&session, Default::default())
        .await
        .map_err(|e| format!("OpenPipeWireRemote: {e}"))?;
    let t_started = Instant::now();
    emit(format!(
        "{{\"event\":\"portal\",\"node\":{node},\"width\":{pw},\"height\":{ph},\"cursor_mode\":{},\"t_ms\":{:.1}}}",
        json_str(&format!("{cursor:?}")),
        ms(t_started)
    ));

    let (manager, mut conn) =
        tokio::task::spawn_blocking(move || PipeWireThreadManager::spawn(Remote::Fd(fd)))
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| e.to_string())?;
    let cfg = StreamConfig {
        preferred_size: (
            u32::try_from(pw).unwrap_or(1920).max(1),
            u32::try_from(ph).unwrap_or(1080).max(1),
        ),
        ..StreamConfig::default()
    };
    let mut handle = conn.create_stream(node, cfg).await.map_err(|e| e.to_string())?;

    let deadline = tokio::time::Instant::now() + Duration::from_secs_f64(args.seconds);
    let mut frames = 0u64;
    let mut first_frame_ms = None;
    let mut counting_since: Option<(Instant, u64)> = None;
    let mut last = None;
    loop {
        tokio::select! {
            ev = conn.next_event() => {
                let Some(ev) = ev else { break };
                emit(format!("{{\"event\":\"pw\",\"t_ms\":{:.1},\"what\":{}}}", ms(Instant::now()), json_str(&format!("{ev:?}"))));
                if matches!(ev, PipeWireEvent::Disconnected { .. }) {
                    break;
                }
            }
            f = handle.frames.recv() => {
                let Ok(f) = f else { break };
                frames += 1;
                let now = Instant::now();
                if first_frame_ms.is_none() {
                    first_frame_ms = Some(now.duration_since(t_started).as_secs_f64() * 1000.0);
                    // fps counts from the first frame on (negotiation excluded)
                    counting_since = Some((now, frames));
                }
                if frames <= 3 {
                    emit(format!(
                        "{{\"event\":\"frame\",\"seq\":{},\"width\":{},\"height\":{},\"stride\":{},\"format\":{},\"damage\":{},\"pixels_changed\":{},\"cursor\":{},\"t_ms\":{:.1}}}",
                        f.seq, f.width, f.height, f.stride, json_str(&format!("{:?}", f.format)),
                        f.damage.len(), f.pixels_changed, f.cursor.is_some(), ms(now)
                    ));
                }
                if f.pixels_changed {
                    last = Some(f);
                }
                if frames >= args.frames {
                    break;
                }
            }
            _ = tokio::time::sleep_until(deadline) => break,
        }
    }
    let stats = handle.frames.stats();
    let fps = counting_since.map_or(0.0, |(t, n)| {
        let secs = t.elapsed().as_secs_f64();
        if secs > 0.0 {
            (frames - n) as f64 / secs
        } else {
            0.0
        }
    });
    if let (Some(path), Some(f)) = (&args.dump, &last) {
        let mut bytes = format!("WRDRAW {} {} {} {:?}\n", f.width, f.height, f.stride, f.format).into_bytes();
        bytes.extend_from_slice(&f.data);
        std::fs::write(path, bytes).map_err(|e| format!("{path}: {e}"))?;
    }
    emit(format!(
        "{{\"event\":\"summary\",\"frames\":{frames},\"fps\":{fps:.2},\"first_frame_ms\":{},\"received\":{},\"published\":{},\"replaced\":{},\"invalid\":{},\"bytes_copied\":{},\"copy_nanos\":{},\"width\":{},\"height\":{},\"stride\":{},\"format\":{}}}",
        first_frame_ms.map_or("null".into(), |v| format!("{v:.1}")),
        stats.received,
        stats.published,
        stats.replaced,
        stats.invalid,
        stats.bytes_copied,
        stats.copy_nanos,
        last.as_ref().map_or(0, |f| f.width),
        last.as_ref().map_or(0, |f| f.height),
        last.as_ref().map_or(0, |f| f.stride),
        json_str(
            &last
                .as_ref()
                .map_or_else(String::new, |f| format!("{:?}", f.format))
        ),
    ));
    let t = Instant::now();
    manager.shutdown_async().await.map_err(|e| e.to_string())?;
    emit(format!(
        "{{\"event\":\"shutdown\",\"ms\":{:.2}}}",
        t.elapsed().as_secs_f64() * 1000.0
    ));
    let _ = session.close().await;
    Ok(frames > 0)
}
