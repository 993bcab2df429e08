//! Files through the clipboard, the parts that touch the disk.
//!
//! - Desktop → client: the desktop's `text/uri-list` (or `x-special/gnome-copied-files`) is
//!   looked up into a [`DesktopFiles`] list (plain files, and directories with their whole tree
//!   under relative names; symbolic links inside a copied directory are skipped, a copied link
//!   itself is followed), announced as `FileGroupDescriptorW`, and every File Contents Request
//!   of the client is answered by reading the file on a blocking thread ([`serve`]).
//! - Client → desktop: a paste of the client's files fetches each one with File Contents
//!   requests, one at a time, into a fresh directory of the session's own clipboard directory
//!   ([`SessionFiles`], 0700, removed when the session and its downloads end), then answers the
//!   paste with the saved files' URIs ([`spawn_download`]). Names were checked by wrd-clipboard
//!   (plainly relative, or refused); files are created with `O_CREAT | O_EXCL | O_NOFOLLOW` and
//!   directories one component at a time, each checked to be a real directory, so nothing is
//!   written outside the paste's directory.
//!
//! Disk I/O runs on tokio's blocking threads: the hub task never waits on the disk.

use std::collections::HashMap;
use std::fs::{DirBuilder, File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tracing::{debug, info, warn};
use wrd_clipboard::files::{Download, DownloadStep, FileEntry, desktop_file_paths, pasted_file_paths};
use wrd_clipboard::{DesktopRequestId, Limits};
use wrd_rdp::{ClientClipboardSender, FileAnswer, FileRequest, FileRequestKind, SessionId};

/// The most one File Contents answer carries (a client asking more gets less, as the protocol
/// allows), so one request never makes us hold a whole large file.
pub const MAX_RANGE_ANSWER: u32 = 4 * 1024 * 1024;

/// The most entries one desktop copy may name, directories' contents included.
const MAX_DESKTOP_ENTRIES: usize = 10_000;

/// A name in a `FILEDESCRIPTORW` is 260 UTF-16 code units with the terminator.
const MAX_NAME_UNITS: usize = 259;

/// The desktop's copied files: what the client was offered, and where each is on disk (same
/// order: the client asks by index).
#[derive(Debug)]
pub struct DesktopFiles {
    pub entries: Vec<FileEntry>,
    sources: Vec<PathBuf>,
}

/// Reads the desktop's file URIs (`mime` is the type `data` was read as) and looks up every
/// file, on a blocking thread. `Err` says why nothing can be offered.
pub async fn resolve_desktop_files(
    mime: String,
    data: Vec<u8>,
    limits: Limits,
) -> Result<DesktopFiles, String> {
    tokio::task::spawn_blocking(move || {
        let paths = desktop_file_paths(&mime, &data, &limits).map_err(|error| error.to_string())?;
        list_desktop_files(&paths, &limits)
    })
    .await
    .map_err(|error| format!("the file lookup failed: {error}"))?
}

fn list_desktop_files(paths: &[PathBuf], limits: &Limits) -> Result<DesktopFiles, String> {
    let mut files = DesktopFiles {
        entries: Vec::new(),
        sources: Vec::new(),
    };
    let mut total: u64 = 0;
    for path in paths {
        let name = path
            .file_name()
            .ok_or_else(|| format!("{} has no file name", path.display()))?;
        if files
            .entries
            .iter()
            .any(|entry| entry.relative_path.as_os_str() == name)
        {
            return Err(format!(
                "two copied files are named {:?}: the client would get one over the other",
                name
            ));
        }
        add_desktop_entry(&mut files, path, PathBuf::from(name), &mut total, limits, true)?;
    }
    Ok(files)
}

fn add_desktop_entry(
    files: &mut DesktopFiles,
    source: &Path,
    relative: PathBuf,
    total: &mut u64,
    limits: &Limits,
    top_level: bool,
) -> Result<(), String> {
    if MAX_DESKTOP_ENTRIES <= files.entries.len() {
        return Err(format!("more than {MAX_DESKTOP_ENTRIES} files and directories"));
    }
    // A copied link is followed (the user copied what it points to); links found inside a
    // copied directory are skipped, so a tree cannot lead the client anywhere else.
    let metadata = if top_level {
        std::fs::metadata(source)
    } else {
        std::fs::symlink_metadata(source)
    }
    .map_err(|error| format!("{}: {error}", source.display()))?;
    let name_units = relative.to_str().map(|name| name.encode_utf16().count());
    match name_units {
        None => return Err(format!("{} is not a UTF-8 name", relative.display())),
        Some(units) if MAX_NAME_UNITS < units => {
            return Err(format!(
                "{} is longer than {MAX_NAME_UNITS} characters",
                relative.display()
            ));
        }
        Some(_) => {}
    }
    if metadata.is_dir() {
        files.entries.push(FileEntry {
            relative_path: relative.clone(),
            is_directory: true,
            size: Some(0),
        });
        files.sources.push(source.to_owned());
        let mut children: Vec<PathBuf> = std::fs::read_dir(source)
            .map_err(|error| format!("{}: {error}", source.display()))?
            .map(|child| child.map(|child| child.path()))
            .collect::<Result<_, _>>()
            .map_err(|error| format!("{}: {error}", source.display()))?;
        children.sort();
        for child in children {
            let Some(name) = child.file_name() else {
                continue;
            };
            add_desktop_entry(files, &child, relative.join(name), total, limits, false)?;
        }
    } else if metadata.is_file() {
        *total = total.saturating_add(metadata.len());
        limits
            .check(
                "the copied files together",
                usize::try_from(*total).unwrap_or(usize::MAX),
            )
            .map_err(|error| error.to_string())?;
        files.entries.push(FileEntry {
            relative_path: relative,
            is_directory: false,
            size: Some(metadata.len()),
        });
        files.sources.push(source.to_owned());
    } else {
        debug!(path = %source.display(), "clipboard: not a file or directory; not offered");
    }
    Ok(())
}

/// Answers one File Contents Request of the client from the desktop's files, on a blocking
/// thread; a failure is answered as one, with a warn line. At most [`SERVING_PER_SESSION`]
/// reads of a session run at once (each holds up to [`MAX_RANGE_ANSWER`] bytes); later
/// requests wait their turn.
pub fn serve(
    session: SessionId,
    files: Arc<DesktopFiles>,
    request: FileRequest,
    session_files: &SessionFiles,
    to_client: ClientClipboardSender,
) {
    let serving = Arc::clone(&session_files.serving);
    tokio::spawn(async move {
        let Ok(_permit) = serving.acquire_owned().await else {
            return;
        };
        let answer = tokio::task::spawn_blocking(move || answer_file_request(&files, request))
            .await
            .unwrap_or_else(|error| Err(format!("the read failed: {error}")));
        match answer {
            Ok(answer) => to_client.respond_file_contents(request.stream_id, Some(answer)),
            Err(reason) => {
                warn!(
                    session,
                    ?request,
                    "clipboard: a file the client asked for cannot be read: {reason}"
                );
                to_client.respond_file_contents(request.stream_id, None);
            }
        }
    });
}

/// How many File Contents answers of one session are read at once.
pub const SERVING_PER_SESSION: usize = 4;

fn answer_file_request(files: &DesktopFiles, request: FileRequest) -> Result<FileAnswer, String> {
    let (Some(entry), Some(source)) = (files.entries.get(request.index), files.sources.get(request.index))
    else {
        return Err(format!("there is no file {} in the list", request.index));
    };
    if entry.is_directory {
        return Err(format!("{} is a directory", source.display()));
    }
    let mut file = File::open(source).map_err(|error| format!("{}: {error}", source.display()))?;
    match request.kind {
        FileRequestKind::Size => {
            let size = file
                .metadata()
                .map_err(|error| format!("{}: {error}", source.display()))?
                .len();
            Ok(FileAnswer::Size(size))
        }
        FileRequestKind::Range { position, length } => {
            let length = length.min(MAX_RANGE_ANSWER);
            file.seek(SeekFrom::Start(position))
                .map_err(|error| format!("{} at {position}: {error}", source.display()))?;
            let mut data = Vec::with_capacity(usize::try_from(length).unwrap_or(0));
            file.take(u64::from(length))
                .read_to_end(&mut data)
                .map_err(|error| format!("{} at {position}: {error}", source.display()))?;
            Ok(FileAnswer::Data(data))
        }
    }
}

/// The clipboard directory of one session: `$XDG_RUNTIME_DIR/wrd-server/clip-<pid>-<session>`
/// (the server's process id too: session numbers start again in every server). Made 0700 on
/// the first paste of files; removed when the last holder (the session, its downloads) drops.
/// Without `XDG_RUNTIME_DIR` there is no private place for them, and pastes of files fail.
#[derive(Debug)]
pub struct SessionDir {
    /// The runtime directory and the session's directory in it.
    paths: Option<(PathBuf, PathBuf)>,
}

impl SessionDir {
    pub fn new(session: SessionId) -> Self {
        Self {
            paths: std::env::var_os("XDG_RUNTIME_DIR")
                .map(PathBuf::from)
                .filter(|runtime| runtime.is_absolute())
                .map(|runtime| {
                    let path = runtime
                        .join("wrd-server")
                        .join(format!("clip-{}-{session}", std::process::id()));
                    (runtime, path)
                }),
        }
    }

    fn paths(&self) -> Result<(PathBuf, PathBuf), String> {
        self.paths.clone().ok_or_else(|| {
            "XDG_RUNTIME_DIR is not set (or not absolute): there is no private directory for pasted files"
                .to_owned()
        })
    }
}

impl Drop for SessionDir {
    fn drop(&mut self) {
        let Some((_, path)) = self.paths.take() else {
            return;
        };
        let remove = move || match std::fs::remove_dir_all(&path) {
            Ok(()) => debug!(path = %path.display(), "clipboard: session directory removed"),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
            Err(error) => {
                warn!(path = %path.display(), "clipboard: cannot remove the session directory: {error}")
            }
        };
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => drop(runtime.spawn_blocking(remove)),
            Err(_) => remove(),
        }
    }
}

/// The client-to-desktop file transfers of one session.
#[derive(Debug)]
pub struct SessionFiles {
    dir: Arc<SessionDir>,
    /// Downloads in progress: their stream id → where the client's answers go.
    downloads: HashMap<u32, mpsc::UnboundedSender<Option<Vec<u8>>>>,
    /// The desktop pastes each download answers, and the client's copy it fetches.
    waiting: HashMap<u32, (u64, Vec<(DesktopRequestId, String)>)>,
    /// The last copy fetched, and where its top-level files were saved: later pastes of the
    /// same copy get them again without a fetch (file managers paste under several types).
    saved: Option<(u64, Vec<PathBuf>)>,
    pastes: u64,
    /// Turns of the desktop's file reads for this client.
    serving: Arc<tokio::sync::Semaphore>,
}

impl SessionFiles {
    pub fn new(session: SessionId) -> Self {
        Self {
            dir: Arc::new(SessionDir::new(session)),
            downloads: HashMap::new(),
            waiting: HashMap::new(),
            saved: None,
            pastes: 0,
            serving: Arc::new(tokio::sync::Semaphore::new(SERVING_PER_SESSION)),
        }
    }

    /// Hands a File Contents Response to the download that asked; `false` when none did.
    pub fn answer(&mut self, stream_id: u32, data: Option<Vec<u8>>) -> bool {
        match self.downloads.get(&stream_id) {
            Some(download) => download.send(data).is_ok(),
            None => false,
        }
    }

    /// A download ended: what each desktop paste waiting on it gets (the data as its MIME
    /// type asks, or why it fails).
    pub fn finish(&mut self, done: &DownloadDone) -> Vec<(DesktopRequestId, Result<Vec<u8>, String>)> {
        self.downloads.remove(&done.stream_id);
        let Some((copy, waiting)) = self.waiting.remove(&done.stream_id) else {
            return Vec::new();
        };
        if let Ok(paths) = &done.result {
            self.saved = Some((copy, paths.clone()));
        }
        waiting
            .into_iter()
            .map(|(request, mime)| (request, paste_data(&mime, &done.result)))
            .collect()
    }
}

fn paste_data(mime: &str, saved: &Result<Vec<PathBuf>, String>) -> Result<Vec<u8>, String> {
    let paths = saved.as_ref().map_err(Clone::clone)?;
    let paths: Vec<&Path> = paths.iter().map(PathBuf::as_path).collect();
    pasted_file_paths(mime, &paths).map_err(|error| error.to_string())
}

/// The end of a download.
#[derive(Debug)]
pub struct DownloadDone {
    pub session: SessionId,
    pub stream_id: u32,
    /// Where the top-level files and directories were saved, or why the fetch failed.
    pub result: Result<Vec<PathBuf>, String>,
}

/// What a download needs from the hub.
pub struct DownloadJob {
    pub session: SessionId,
    pub stream_id: u32,
    pub entries: Vec<FileEntry>,
    pub limits: Limits,
    pub answer_timeout: Duration,
}

/// How a desktop paste of the client's files goes on.
pub enum PasteOfFiles {
    /// This copy's files are saved already: the paste's data, now.
    Answer(Result<Vec<u8>, String>),
    /// Answered when the download of this copy ends (see [`SessionFiles::finish`]).
    Fetching,
}

/// A desktop paste (`request`, as `mime`) of the client's copy `copy`: answered from the files
/// saved for it, or joined to the download of it in progress, or a new download (`job`) whose
/// end goes to `report`.
pub fn paste_files(
    files: &mut SessionFiles,
    copy: u64,
    request: DesktopRequestId,
    mime: String,
    job: DownloadJob,
    to_client: ClientClipboardSender,
    report: impl FnOnce(DownloadDone) + Send + 'static,
) -> PasteOfFiles {
    if let Some((saved_copy, paths)) = &files.saved
        && *saved_copy == copy
    {
        return PasteOfFiles::Answer(paste_data(&mime, &Ok(paths.clone())));
    }
    if let Some((_, waiting)) = files.waiting.values_mut().find(|(fetching, _)| *fetching == copy) {
        waiting.push((request, mime));
        return PasteOfFiles::Fetching;
    }
    files.waiting.insert(job.stream_id, (copy, vec![(request, mime)]));
    spawn_download(files, job, to_client, report);
    PasteOfFiles::Fetching
}

fn spawn_download(
    files: &mut SessionFiles,
    job: DownloadJob,
    to_client: ClientClipboardSender,
    report: impl FnOnce(DownloadDone) + Send + 'static,
) {
    let (answers_tx, answers) = mpsc::unbounded_channel();
    files.downloads.insert(job.stream_id, answers_tx);
    files.pastes += 1;
    let paste = files.pastes;
    let dir = Arc::clone(&files.dir);
    tokio::spawn(async move {
        let (session, stream_id) = (job.session, job.stream_id);
        let started = tokio::time::Instant::now();
        let result = match dir.paths() {
            Ok((runtime, session_dir)) => {
                let paste_dir = session_dir.join(paste.to_string());
                let result = download(&runtime, &session_dir, &paste_dir, job, &to_client, answers).await;
                match &result {
                    Ok(_) => info!(
                        session,
                        dir = %paste_dir.display(),
                        elapsed_ms = started.elapsed().as_millis(),
                        "clipboard: the client's files were saved for a desktop paste"
                    ),
                    Err(_) => {
                        let _ = tokio::task::spawn_blocking(move || std::fs::remove_dir_all(paste_dir)).await;
                    }
                }
                result
            }
            Err(reason) => Err(reason),
        };
        // The session directory (`dir`) lives on while the hub's session holds it.
        drop(dir);
        report(DownloadDone {
            session,
            stream_id,
            result,
        });
    });
}

async fn download(
    runtime: &Path,
    session_dir: &Path,
    paste_dir: &Path,
    job: DownloadJob,
    to_client: &ClientClipboardSender,
    mut answers: mpsc::UnboundedReceiver<Option<Vec<u8>>>,
) -> Result<Vec<PathBuf>, String> {
    let mut plan = Download::new(job.entries, &job.limits).map_err(|error| error.to_string())?;
    debug!(
        session = job.session,
        files = plan.entries().len(),
        bytes = plan.total_bytes(),
        "clipboard: fetching the client's files"
    );
    let (runtime, session_dir, paste) = (runtime.to_owned(), session_dir.to_owned(), paste_dir.to_owned());
    blocking(move || make_paste_dir(&runtime, &session_dir, &paste)).await?;
    let mut file: Option<(usize, File)> = None;
    let mut next_answer = async |what: &str| -> Result<Option<Vec<u8>>, String> {
        match tokio::time::timeout(job.answer_timeout, answers.recv()).await {
            Ok(Some(answer)) => Ok(answer),
            Ok(None) => Err("the session ended".to_owned()),
            Err(_) => Err(format!(
                "the client did not answer the request for {what} within {:?}",
                job.answer_timeout
            )),
        }
    };
    loop {
        match plan.next_step() {
            DownloadStep::Done => break,
            DownloadStep::Directory { index } => {
                let path = inside(paste_dir, &plan.entries()[index].relative_path)?;
                let root = paste_dir.to_owned();
                blocking(move || make_dirs(&root, &path)).await?;
            }
            DownloadStep::CreateFile { index } => {
                let path = inside(paste_dir, &plan.entries()[index].relative_path)?;
                let root = paste_dir.to_owned();
                let created = blocking(move || create_file(&root, &path)).await?;
                file = Some((index, created));
            }
            DownloadStep::AskSize { index } => {
                to_client.request_file_size(job.stream_id, index)?;
                let what = format!("the size of {}", plan.entries()[index].relative_path.display());
                let answer = next_answer(&what)
                    .await?
                    .ok_or_else(|| format!("the client failed to send {what}"))?;
                let size = <[u8; 8]>::try_from(answer.as_slice())
                    .map(u64::from_le_bytes)
                    .map_err(|_| format!("{what} came as {} bytes, not 8", answer.len()))?;
                plan.size_answered(size).map_err(|error| error.to_string())?;
            }
            DownloadStep::AskRange {
                index,
                position,
                length,
            } => {
                to_client.request_file_range(job.stream_id, index, position, length)?;
                let what = format!(
                    "bytes {position}.. of {}",
                    plan.entries()[index].relative_path.display()
                );
                let data = next_answer(&what)
                    .await?
                    .ok_or_else(|| format!("the client failed to send {what}"))?;
                plan.range_answered(length, data.len())
                    .map_err(|error| error.to_string())?;
                let Some((open_index, mut open)) = file.take() else {
                    return Err("a range came for a file that is not open".to_owned());
                };
                if open_index != index {
                    return Err("a range came for a file that is not open".to_owned());
                }
                open = blocking(move || {
                    open.write_all(&data)
                        .map(|()| open)
                        .map_err(|error| format!("writing a pasted file: {error}"))
                })
                .await?;
                file = Some((open_index, open));
            }
        }
    }
    drop(file);
    // The paste names the top-level entries; a directory brings its tree.
    Ok(plan
        .entries()
        .iter()
        .filter(|entry| entry.relative_path.components().count() == 1)
        .map(|entry| paste_dir.join(&entry.relative_path))
        .collect())
}

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, String> + Send + 'static,
) -> Result<T, String> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|error| format!("a disk task failed: {error}"))?
}

/// `root` joined with a checked relative path; anything but plain names is refused again here
/// (the last line of defence: the names were checked when the list arrived).
fn inside(root: &Path, relative: &Path) -> Result<PathBuf, String> {
    if relative.as_os_str().is_empty()
        || !relative
            .components()
            .all(|component| matches!(component, Component::Normal(_)))
    {
        return Err(format!("{} is not a plain relative name", relative.display()));
    }
    let path = root.join(relative);
    if !path.starts_with(root) {
        return Err(format!("{} leaves the paste's directory", relative.display()));
    }
    Ok(path)
}

/// Makes the paste's directory below the session's, below `runtime` (the runtime directory:
/// every directory in between must be a real directory of the runtime directory's owner that
/// nobody else may write to).
fn make_paste_dir(runtime: &Path, session_dir: &Path, paste_dir: &Path) -> Result<(), String> {
    let owner = std::fs::metadata(runtime)
        .map_err(|error| format!("{}: {error}", runtime.display()))?
        .uid();
    make_dirs(runtime, session_dir)?;
    let mut current = session_dir;
    while current != runtime {
        let metadata =
            std::fs::symlink_metadata(current).map_err(|error| format!("{}: {error}", current.display()))?;
        if !metadata.is_dir() || metadata.uid() != owner || metadata.mode() & 0o022 != 0 {
            return Err(format!(
                "{} is not a private directory of the runtime directory's owner",
                current.display()
            ));
        }
        current = current
            .parent()
            .ok_or_else(|| format!("{} is not below {}", session_dir.display(), runtime.display()))?;
    }
    DirBuilder::new()
        .mode(0o700)
        .create(paste_dir)
        .map_err(|error| format!("cannot make {}: {error}", paste_dir.display()))
}

/// Makes `path` and its missing parents below `root`, one component at a time; an existing
/// component must be a real directory (not a link).
fn make_dirs(root: &Path, path: &Path) -> Result<(), String> {
    let relative = path
        .strip_prefix(root)
        .map_err(|_| format!("{} is not inside {}", path.display(), root.display()))?;
    let mut current = root.to_owned();
    for component in relative.components() {
        current.push(component);
        match DirBuilder::new().mode(0o700).create(&current) {
            Ok(()) => {}
            Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {
                let metadata = std::fs::symlink_metadata(&current)
                    .map_err(|error| format!("{}: {error}", current.display()))?;
                if !metadata.is_dir() {
                    return Err(format!("{} exists and is not a directory", current.display()));
                }
            }
            Err(error) => return Err(format!("cannot make {}: {error}", current.display())),
        }
    }
    Ok(())
}

/// Creates a new file (never an existing one, never through a link) below `root`.
fn create_file(root: &Path, path: &Path) -> Result<File, String> {
    if let Some(parent) = path.parent() {
        make_dirs(root, parent)?;
    }
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
        .map_err(|error| format!("cannot create {}: {error}", path.display()))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use std::os::unix::fs::PermissionsExt as _;

    use super::*;

    #[test]
    fn a_desktop_copy_lists_files_and_directory_trees() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::write(root.join("a.txt"), b"hello").unwrap();
        std::fs::create_dir_all(root.join("tree/sub")).unwrap();
        std::fs::write(root.join("tree/sub/b.bin"), vec![7u8; 1000]).unwrap();
        std::os::unix::fs::symlink("/etc/passwd", root.join("tree/link")).unwrap();
        let files = list_desktop_files(&[root.join("a.txt"), root.join("tree")], &Limits::default()).unwrap();
        let names: Vec<(String, bool, Option<u64>)> = files
            .entries
            .iter()
            .map(|entry| {
                (
                    entry.relative_path.display().to_string(),
                    entry.is_directory,
                    entry.size,
                )
            })
            .collect();
        assert_eq!(
            names,
            [
                ("a.txt".to_owned(), false, Some(5)),
                ("tree".to_owned(), true, Some(0)),
                ("tree/sub".to_owned(), true, Some(0)),
                ("tree/sub/b.bin".to_owned(), false, Some(1000)),
            ]
        );
        // Ranges are read from the right file; sizes too; a directory or a wrong index fails.
        let files = Arc::new(files);
        let range = |index, position, length| {
            answer_file_request(
                &files,
                FileRequest {
                    stream_id: 1,
                    index,
                    kind: FileRequestKind::Range { position, length },
                },
            )
        };
        assert_eq!(range(0, 1, 3).unwrap(), FileAnswer::Data(b"ell".to_vec()));
        assert_eq!(range(0, 3, 100).unwrap(), FileAnswer::Data(b"lo".to_vec()));
        assert_eq!(range(3, 990, 100).unwrap(), FileAnswer::Data(vec![7; 10]));
        assert!(range(1, 0, 1).is_err());
        assert!(range(9, 0, 1).is_err());
        assert_eq!(
            answer_file_request(
                &files,
                FileRequest {
                    stream_id: 1,
                    index: 3,
                    kind: FileRequestKind::Size
                }
            )
            .unwrap(),
            FileAnswer::Size(1000)
        );
        // Over the limit together: refused with the reason.
        let error = list_desktop_files(
            &[root.join("a.txt"), root.join("tree")],
            &Limits { max_item_bytes: 1000 },
        )
        .unwrap_err();
        assert!(error.contains("exceeds the clipboard limit"), "{error}");
        // Two top-level entries of the same name cannot both be offered.
        std::fs::create_dir(root.join("other")).unwrap();
        std::fs::write(root.join("other/a.txt"), b"x").unwrap();
        assert!(
            list_desktop_files(
                &[root.join("a.txt"), root.join("other/a.txt")],
                &Limits::default()
            )
            .is_err()
        );
    }

    #[test]
    fn pasted_files_stay_inside_their_directory() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("session/paste");
        make_paste_dir(dir.path(), &dir.path().join("session"), &root).unwrap();
        // A session directory others may write to is refused.
        std::fs::create_dir(dir.path().join("open")).unwrap();
        std::fs::set_permissions(dir.path().join("open"), std::fs::Permissions::from_mode(0o777)).unwrap();
        assert!(make_paste_dir(dir.path(), &dir.path().join("open"), &dir.path().join("open/p")).is_err());
        for hostile in ["../x", "/etc/passwd", "a/../../x", ""] {
            assert!(inside(&root, Path::new(hostile)).is_err(), "{hostile:?}");
        }
        // A link planted where a directory or file is expected is not followed.
        let outside = dir.path().join("outside");
        std::fs::create_dir(&outside).unwrap();
        std::os::unix::fs::symlink(&outside, root.join("d")).unwrap();
        assert!(make_dirs(&root, &root.join("d/e")).is_err());
        assert!(create_file(&root, &root.join("d/f")).is_err());
        std::os::unix::fs::symlink(outside.join("g"), root.join("g")).unwrap();
        assert!(create_file(&root, &root.join("g")).is_err());
        assert!(!outside.join("g").exists());
        assert_eq!(std::fs::read_dir(&outside).unwrap().count(), 0);
        // An existing file is never reused.
        create_file(&root, &root.join("new/h")).unwrap();
        assert!(create_file(&root, &root.join("new/h")).is_err());
    }

    #[tokio::test]
    async fn the_session_directory_goes_when_its_last_holder_does() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("clip");
        std::fs::create_dir(&path).unwrap();
        std::fs::write(path.join("x"), b"x").unwrap();
        let session_dir = SessionDir {
            paths: Some((dir.path().to_owned(), path.clone())),
        };
        drop(session_dir);
        crate::clipboard::files::tests::wait_until_gone(&path).await;
    }

    pub(super) async fn wait_until_gone(path: &Path) {
        for _ in 0..100 {
            if !path.exists() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("{} is still there", path.display());
    }
}
