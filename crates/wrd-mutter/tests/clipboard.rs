//! wrd-mutter's clipboard against the real GNOME compositor (`mutter --headless` in
//! wrd-testkit's `MutterStack`), driven from inside the stack by `wrd-mutter-probe clipboard`
//! (a session's clipboard, JSON lines), with wl-clipboard as the desktop's programs:
//! - a `wl-copy` is seen with its MIME types; three reads asked at once are all answered
//!   with the exact text (Mutter serves one read at a time: they are queued);
//! - a read over the item limit fails with an error naming the limit;
//! - our selection is pasted by `wl-paste` with the exact text, and is not reported back as
//!   the desktop's; a refused paste gives nothing at once (not after Mutter's 15 s);
//! - stopping the session ends the clipboard, saying why.
//!
//! wl-clipboard has no data control protocol on GNOME: it uses a surface of its own and the
//! seat's keyboard, which headless Mutter has only once a session typed a key. The probe types
//! Shift first (`keyboard`), and the desktop's programs run only after that, while its session
//! lives.

// Test code: a failed expectation is the test failing.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::Value;
use wrd_testkit::{ChildGuard, MutterStack, MutterStackOptions, TestDir, output_with_timeout, poll_until};

const TEXT_MIME: &str = "text/plain;charset=utf-8";
/// Longest any single step may take.
const STEP: Duration = Duration::from_secs(20);

fn start(dir: &TestDir) -> (MutterStack, PathBuf) {
    let stack = MutterStack::start(dir.path(), &MutterStackOptions::default()).unwrap();
    let probe = stack
        .install(Path::new(env!("CARGO_BIN_EXE_wrd-mutter-probe")))
        .unwrap();
    (stack, probe)
}

/// The probe's JSON lines (its log also holds stderr's tracing lines, skipped).
fn lines(log: &str) -> Vec<Value> {
    log.lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v.get("event").is_some())
        .collect()
}

fn events<'a>(lines: &'a [Value], name: &str) -> Vec<&'a Value> {
    lines.iter().filter(|l| l["event"] == name).collect()
}

/// Starts the probe with `args` and waits until its session typed its key.
fn probe(stack: &MutterStack, probe: &Path, dir: &TestDir, name: &str, args: &[&str]) -> ChildGuard {
    let mut cmd = stack.command(probe);
    cmd.arg("clipboard").args(args);
    let mut guard = ChildGuard::spawn(&mut cmd, name, dir.path()).unwrap();
    guard
        .wait_for_log("{\"event\":\"keyboard\"}", STEP)
        .unwrap_or_else(|e| panic!("{e:#}\n{}", guard.log()));
    guard
}

/// Waits for the probe to end by itself; it must succeed. Returns its lines.
fn finish(mut guard: ChildGuard) -> Vec<Value> {
    let status = guard.wait_timeout(STEP).unwrap();
    let log = guard.log();
    assert!(
        status.is_some_and(|s| s.success()),
        "the probe ended with {status:?}:\n{log}"
    );
    let lines = lines(&log);
    let closed = events(&lines, "clipboard-closed");
    assert_eq!(closed.len(), 1, "{log}");
    assert_eq!(closed[0]["reason"], "Mutter closed the session", "{log}");
    lines
}

/// A desktop program copies `data` as text (wl-copy stays as the owner, stopped with the stack).
fn desktop_copies(stack: &mut MutterStack, dir: &TestDir, data: &str) {
    let file = dir.join("copied.txt");
    std::fs::write(&file, data).unwrap();
    std::fs::set_permissions(&file, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
    let mut cmd = stack.command("sh");
    cmd.arg("-c").arg(format!(
        "exec wl-copy --foreground --type '{TEXT_MIME}' < '{}'",
        file.display()
    ));
    stack.spawn_client(cmd, "wl-copy").unwrap();
}

#[test]
fn reads_are_queued_answered_exactly_and_bounded() {
    let dir = TestDir::new("mutter-clipboard-read").unwrap();
    let (mut stack, probe_bin) = start(&dir);
    // The directory the copied file is in must be reachable by the stack user.
    std::fs::set_permissions(dir.path(), std::os::unix::fs::PermissionsExt::from_mode(0o711)).unwrap();

    let text = format!(
        "Grüße vom Desktop: €, 日本語, 🦀\nzweite Zeile\n{}",
        "x".repeat(100_000)
    );
    let reader = probe(
        &stack,
        &probe_bin,
        &dir,
        "probe-read",
        &[
            "--read",
            TEXT_MIME,
            "--read",
            "text/plain",
            "--read",
            "UTF8_STRING",
            "--seconds",
            "10",
        ],
    );
    desktop_copies(&mut stack, &dir, &text);
    let lines = finish(reader);
    let selection = events(&lines, "selection");
    let mimes = selection[0]["mimes"].as_array().unwrap();
    assert!(mimes.iter().any(|m| m == TEXT_MIME), "{lines:#?}");
    let reads = events(&lines, "read");
    assert_eq!(reads.len(), 3, "{lines:#?}");
    for read in reads {
        assert_eq!(read["ok"], true, "{read}");
        assert!(read["data"] == text.as_str(), "{} bytes differ", read["bytes"]);
    }

    // The same copy with a limit below its size: refused, naming the limit.
    let limited = probe(
        &stack,
        &probe_bin,
        &dir,
        "probe-limit",
        &["--read", TEXT_MIME, "--limit", "1000", "--seconds", "10"],
    );
    let lines = finish(limited);
    let reads = events(&lines, "read");
    assert_eq!(reads.len(), 1, "{lines:#?}");
    assert_eq!(reads[0]["ok"], false, "{lines:#?}");
    let error = reads[0]["error"].as_str().unwrap();
    assert!(error.contains("limit of 1000 bytes"), "{error}");
}

/// `wl-paste` as the stack user: (stdout, how long it took).
fn paste(stack: &MutterStack) -> (Vec<u8>, Duration) {
    let started = Instant::now();
    let out = output_with_timeout(
        stack
            .command("wl-paste")
            .args(["--no-newline", "--type", TEXT_MIME]),
        STEP,
    )
    .unwrap();
    (out.stdout, started.elapsed())
}

/// Waits until the desktop's selection offers `mime` (our offer arrived).
fn wait_for_offer(stack: &MutterStack, guard: &ChildGuard, mime: &str) {
    poll_until(
        STEP,
        Duration::from_millis(100),
        "our offer on the desktop",
        || {
            let out = output_with_timeout(stack.command("wl-paste").arg("--list-types"), STEP)?;
            Ok(String::from_utf8_lossy(&out.stdout)
                .lines()
                .any(|l| l == mime)
                .then_some(()))
        },
    )
    .unwrap_or_else(|e| panic!("{e:#}\n{}", guard.log()));
}

#[test]
fn our_selection_is_pasted_or_refused_at_once() {
    let dir = TestDir::new("mutter-clipboard-offer").unwrap();
    let (stack, probe_bin) = start(&dir);

    let text = "Grüße aus dem Server: ñ, Ω\nzweite Zeile\n";
    let answer = format!("deliver:{text}");
    let offering = probe(
        &stack,
        &probe_bin,
        &dir,
        "probe-offer",
        &["--offer", TEXT_MIME, "--answer", &answer, "--seconds", "6"],
    );
    wait_for_offer(&stack, &offering, TEXT_MIME);
    let (pasted, _) = paste(&stack);
    assert_eq!(String::from_utf8(pasted).unwrap(), text);
    let lines = finish(offering);
    assert!(!events(&lines, "paste").is_empty(), "{lines:#?}");
    // Our own selection is not reported as the desktop's.
    assert!(events(&lines, "selection").is_empty(), "{lines:#?}");

    let refusing = probe(
        &stack,
        &probe_bin,
        &dir,
        "probe-refuse",
        &["--offer", TEXT_MIME, "--answer", "refuse", "--seconds", "6"],
    );
    wait_for_offer(&stack, &refusing, TEXT_MIME);
    let (pasted, took) = paste(&stack);
    assert!(pasted.is_empty(), "{pasted:?}");
    assert!(took < Duration::from_secs(5), "a refused paste took {took:?}");
    let lines = finish(refusing);
    assert!(
        events(&lines, "paste").iter().all(|p| p["answer"] == "refuse"),
        "{lines:#?}"
    );
}
