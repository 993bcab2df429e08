//! Files copied on the desktop, pasted by a client: `wl-copy` offers `text/uri-list` (or
//! `x-special/gnome-copied-files`) in the sway session, `wrd-server serve --source portal`
//! announces them as `FileGroupDescriptorW`, and the in-process IronRDP client (`wrd-client`
//! with its clipboard channel) asks for the list and every file's bytes with File Contents
//! requests, as a Windows client pasting in Explorer does.
//!
//! xfreerdp cannot be this client: FreeRDP 2.11 turns a server's `FileGroupDescriptorW` into
//! `text/uri-list` only below the directory where it mounts the server's files with FUSE
//! (winpr's `convert_filedescriptors_to_file_list` returns nothing without that base path), and
//! Debian's xfreerdp 2.11 is built without FUSE: it logs "failed to get clipboard data in format
//! text/uri-list [source format FileGroupDescriptorW]" and pastes nothing. The other direction
//! (client files pasted on the desktop) runs with xfreerdp in `clipboard_xfreerdp.rs`.

// Test code: a failed step is the test failing, so unwrap/panic are the right tools here.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::time::Duration;

use wrd_client::{ClientConfig, RemoteFile, Session};
use wrd_testkit::{ChildGuard, StackOptions, SwayStack, TestDir};

const USER: &str = "rdpuser";
const PASSWORD: &str = "clipboard-files-pw";
const STEP: Duration = Duration::from_secs(20);

fn deadline() -> tokio::time::Instant {
    tokio::time::Instant::now() + STEP
}

/// Bytes unlike any text, so a misplaced range shows.
fn file_bytes(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|index| u8::try_from((index * 31 + index / 251 + usize::from(seed)) % 256).unwrap())
        .collect()
}

struct Setup {
    server: ChildGuard,
    stack: SwayStack,
    _dir: TestDir,
    port: u16,
}

fn start(name: &str) -> Setup {
    let dir = TestDir::new(name).unwrap();
    let stack = SwayStack::start(
        dir.path(),
        &StackOptions {
            size: Some((1024, 768)),
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
    Setup {
        server,
        stack,
        _dir: dir,
        port,
    }
}

impl Setup {
    /// A desktop program copies `data` as `mime` (wl-copy stays as the owner).
    fn desktop_copies(&mut self, mime: &str, data: &[u8]) {
        let file = self.stack.dir().join(format!("copy-{}", mime.replace('/', "_")));
        std::fs::write(&file, data).unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
        let mut cmd = self.stack.command("sh");
        cmd.arg("-c").arg(format!(
            "exec wl-copy --foreground --type '{mime}' < '{}'",
            file.display()
        ));
        self.stack.spawn_client(cmd, "wl-copy").unwrap();
    }

    async fn connect(&self) -> Session {
        let mut config = ClientConfig::new(
            format!("127.0.0.1:{}", self.port).parse().unwrap(),
            USER,
            PASSWORD,
        );
        config.clipboard = true;
        let mut session = wrd_client::connect(config).await.unwrap();
        session.wait_for_frame(deadline()).await.unwrap();
        session
    }

    fn fail(&self, what: &str, error: impl std::fmt::Display) -> ! {
        panic!("{what}: {error}; server log:\n{}", self.server.log_tail(30))
    }
}

/// Files readable by the stack's user (the server reads them as that user).
fn write_readable(path: &Path, data: &[u8]) {
    std::fs::write(path, data).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o644)).unwrap();
}

fn make_readable_dir(path: &Path) {
    std::fs::create_dir_all(path).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// Fetches a whole file as a client does: its size, then ranges of `chunk` bytes.
async fn fetch(session: &mut Session, setup: &Setup, index: u32, chunk: u32) -> Vec<u8> {
    let size = session
        .file_size(index, deadline())
        .await
        .unwrap_or_else(|e| setup.fail("asking a size", e))
        .unwrap_or_else(|| setup.fail("asking a size", "a failure answer"));
    let mut data = Vec::new();
    while (data.len() as u64) < size {
        let length = u32::try_from((size - data.len() as u64).min(u64::from(chunk))).unwrap();
        let part = session
            .file_range(index, data.len() as u64, length, deadline())
            .await
            .unwrap_or_else(|e| setup.fail("asking a range", e))
            .unwrap_or_else(|| setup.fail("asking a range", "a failure answer"));
        assert!(
            !part.is_empty() && part.len() <= length as usize,
            "{} bytes",
            part.len()
        );
        data.extend_from_slice(&part);
    }
    data
}

#[test]
fn desktop_files_and_directory_trees_reach_the_client() {
    let mut setup = start("clipboard-files-desktop");
    let source = setup.stack.dir().join("desktop-files");
    make_readable_dir(&source.join("tree/sub"));
    make_readable_dir(&source.join("tree"));
    let first = file_bytes(1_500_000, 1);
    let deep = file_bytes(4_321, 2);
    write_readable(&source.join("first file.bin"), &first);
    write_readable(&source.join("tree/sub/deep.bin"), &deep);
    write_readable(&source.join("tree/empty"), b"");
    write_readable(&source.join("doomed"), b"gone before the paste");
    let list = format!(
        "file://{}\r\nfile://{}\r\nfile://{}\r\n",
        source
            .join("first file.bin")
            .display()
            .to_string()
            .replace(' ', "%20"),
        source.join("tree").display(),
        source.join("doomed").display()
    );
    setup.desktop_copies("text/uri-list", list.as_bytes());

    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(async {
            let mut session = setup.connect().await;
            let format = session
                .wait_for_clipboard_format("FileGroupDescriptorW", deadline())
                .await
                .unwrap_or_else(|e| setup.fail("waiting for the desktop's files", e));
            let files = session
                .paste_file_list(format, deadline())
                .await
                .unwrap_or_else(|e| setup.fail("pasting the file list", e));
            let file = |name: &str, is_directory, size| RemoteFile {
                name: name.to_owned(),
                is_directory,
                size: Some(size),
            };
            assert_eq!(
                files,
                [
                    file("first file.bin", false, first.len() as u64),
                    file("tree", true, 0),
                    file("tree\\empty", false, 0),
                    file("tree\\sub", true, 0),
                    file("tree\\sub\\deep.bin", false, deep.len() as u64),
                    file("doomed", false, 21),
                ]
            );
            // A Windows client asks 64 KiB at a time; a large ask gets at most 4 MiB.
            assert_eq!(fetch(&mut session, &setup, 0, 64 * 1024).await, first);
            assert_eq!(fetch(&mut session, &setup, 4, 8 * 1024 * 1024).await, deep);
            assert_eq!(
                session.file_range(0, 1_000_000, 10, deadline()).await.unwrap(),
                Some(first[1_000_000..1_000_010].to_vec())
            );

            // A file gone since the copy is answered with a failure, and the session goes on.
            std::fs::remove_file(source.join("doomed")).unwrap();
            assert_eq!(session.file_range(5, 0, 21, deadline()).await.unwrap(), None);
            assert_eq!(fetch(&mut session, &setup, 4, 1000).await, deep);

            // File managers copy as x-special/gnome-copied-files.
            let copied = format!("copy\nfile://{}", source.join("tree/sub/deep.bin").display());
            setup.desktop_copies("x-special/gnome-copied-files", copied.as_bytes());
            let files = loop {
                let format = session
                    .wait_for_clipboard_format("FileGroupDescriptorW", deadline())
                    .await
                    .unwrap();
                let files = session.paste_file_list(format, deadline()).await.unwrap();
                if files.len() == 1 {
                    break files;
                }
                // Still the first copy: wait for the next Format List.
                let _ = session
                    .next_event(tokio::time::Instant::now() + Duration::from_millis(200))
                    .await;
            };
            assert_eq!(files, [file("deep.bin", false, deep.len() as u64)]);
            assert_eq!(fetch(&mut session, &setup, 0, 1000).await, deep);

            // Over the limit (64 MiB, sparse on disk): not offered, with the reason in the log;
            // the client gets the rest of the offer (wl-copy adds text types to a URI list).
            let big = source.join("big.bin");
            std::fs::File::create(&big)
                .unwrap()
                .set_len(65 * 1024 * 1024)
                .unwrap();
            std::fs::set_permissions(&big, std::fs::Permissions::from_mode(0o644)).unwrap();
            setup.desktop_copies(
                "text/uri-list",
                format!("file://{}\r\n", big.display()).as_bytes(),
            );
            let limit_line =
                "the copied files together of 68157440 bytes exceeds the clipboard limit of 67108864 bytes";
            let until = deadline();
            while !setup.server.log_tail(100_000).contains(limit_line) {
                match session
                    .next_event(tokio::time::Instant::now() + Duration::from_millis(200))
                    .await
                {
                    Ok(_) | Err(wrd_client::ClientError::Timeout(_)) => {}
                    Err(e) => setup.fail("waiting for the limit's log line", e),
                }
                assert!(tokio::time::Instant::now() < until, "no limit line");
            }
            let started = tokio::time::Instant::now();
            while session
                .clipboard_formats()
                .iter()
                .any(|(_, name)| name.as_deref() == Some("FileGroupDescriptorW"))
            {
                assert!(started.elapsed() < STEP, "the big file is still offered");
                let _ = session
                    .next_event(tokio::time::Instant::now() + Duration::from_millis(200))
                    .await;
            }
            assert!(
                session.clipboard_formats().iter().any(|(id, _)| *id == 13),
                "{:?}",
                session.clipboard_formats()
            );
            session.disconnect().await.unwrap();
        });
    let log = setup.server.log_tail(200);
    assert!(
        log.contains("cannot be read"),
        "no warn line for the failed read:\n{log}"
    );
}
