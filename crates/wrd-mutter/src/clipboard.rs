//! The desktop's clipboard through a Mutter remote-desktop session (`EnableClipboard`,
//! `SetSelection`, `SelectionRead`, `SelectionWrite(Done)`, the `SelectionOwnerChanged` and
//! `SelectionTransfer` signals), in the same terms as wlroots' data control in wrd-wayland:
//! the desktop's selection with its MIME types, pastes from our selection to deliver or
//! refuse, and reads of the desktop's selection.
//!
//! It runs on the session's own D-Bus connection (Mutter ties the clipboard to the session,
//! and the session to its connection). One tokio task owns the signal streams and carries out
//! [`ClipboardCommand`]s in order; data never goes through it: each read of the desktop's
//! selection is drained by a task of its own (at most the item limit, at most
//! [`READ_TIMEOUT`]), one at a time because Mutter refuses parallel reads, and each paste from
//! our selection is written by a task of its own (at most [`WRITE_TIMEOUT`]).

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use futures_util::StreamExt as _;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::unix::pipe;
use tokio::sync::{mpsc, watch};
use tracing::{debug, warn};
use zbus::zvariant::{OwnedValue, Value};

use crate::proxies::RemoteDesktopSessionProxy;
use crate::{CALL_TIMEOUT, MutterError, MutterSession, SessionEnd};

/// How long a read of the desktop's selection may take (the owner writes into Mutter's pipe).
pub const READ_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a program pasting from us may take to read what we write.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(30);

/// What the desktop did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClipboardEvent {
    /// Another program took the selection: the MIME types it offers (empty: cleared). Our own
    /// selection is not reported (Mutter says `session-is-owner`).
    Selection(Vec<String>),
    /// A program pastes from our selection (`request` is Mutter's serial): answer with
    /// `Deliver` or `Refuse`.
    Paste { request: u64, mime: String },
    /// The end of a `Read`.
    ReadDone {
        request: u64,
        result: Result<Vec<u8>, String>,
    },
}

/// What to do on the desktop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClipboardCommand {
    /// Take the selection, offering these MIME types (none: give ours up).
    SetSelection { mimes: Vec<String> },
    /// Write `data` for a paste and close its pipe.
    Deliver { request: u64, data: Vec<u8> },
    /// Close a paste's pipe without data.
    Refuse { request: u64 },
    /// Read `mime` from the current selection; answered by `ReadDone`.
    Read { request: u64, mime: String },
}

/// The handle of a session's clipboard task. Dropping it ends the task (the session goes on).
#[derive(Debug)]
pub struct MutterClipboard {
    commands: mpsc::UnboundedSender<ClipboardCommand>,
    ended: watch::Receiver<Option<String>>,
    task: tokio::task::AbortHandle,
}

impl Drop for MutterClipboard {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl MutterClipboard {
    /// Queues a command; it fails only once the clipboard ended.
    pub fn send(&self, command: ClipboardCommand) -> Result<(), MutterError> {
        self.commands.send(command).map_err(|_| MutterError::Step {
            step: "clipboard",
            message: format!("the clipboard ended: {}", self.end_reason()),
        })
    }

    /// Waits until the clipboard ended (the session closed, Mutter left, the bus connection
    /// ended) and says why.
    pub async fn closed(&self) -> String {
        let mut ended = self.ended.clone();
        match ended.wait_for(Option::is_some).await {
            Ok(reason) => reason.clone().unwrap_or_default(),
            Err(_) => "the clipboard task stopped".to_owned(),
        }
    }

    fn end_reason(&self) -> String {
        self.ended
            .borrow()
            .clone()
            .unwrap_or_else(|| "the clipboard task stopped".to_owned())
    }
}

impl MutterSession {
    /// Turns the session's clipboard on (`EnableClipboard`) and starts its task. The current
    /// selection, if any, is the first event. `max_item_bytes` bounds each read of the
    /// desktop's selection (more is an error naming the limit). Once per session: Mutter
    /// refuses a second `EnableClipboard` ("Already enabled").
    pub async fn clipboard(
        &self,
        max_item_bytes: usize,
    ) -> Result<(MutterClipboard, mpsc::UnboundedReceiver<ClipboardEvent>), MutterError> {
        let proxy = self.remote_desktop.clone();
        // Subscribed before EnableClipboard, which announces the current owner at once.
        let owner_changed = proxy
            .receive_selection_owner_changed()
            .await
            .map_err(crate::step("SelectionOwnerChanged subscription"))?;
        let transfers = proxy
            .receive_selection_transfer()
            .await
            .map_err(crate::step("SelectionTransfer subscription"))?;
        call(
            "RemoteDesktop.Session.EnableClipboard",
            proxy.enable_clipboard(HashMap::new()),
        )
        .await?;
        let (commands, command_rx) = mpsc::unbounded_channel();
        let (events, event_rx) = mpsc::unbounded_channel();
        let (end_tx, ended) = watch::channel(None);
        let task = ClipboardTask {
            proxy,
            events,
            max_item_bytes,
            reads: VecDeque::new(),
            session_end: self.ended.clone(),
        };
        let task = tokio::spawn(task.run(command_rx, owner_changed, transfers, end_tx)).abort_handle();
        debug!(session = %self.remote_desktop_path.as_str(), "Mutter clipboard enabled");
        Ok((
            MutterClipboard {
                commands,
                ended,
                task,
            },
            event_rx,
        ))
    }
}

async fn call<T>(step: &'static str, call: impl Future<Output = zbus::Result<T>>) -> Result<T, MutterError> {
    match tokio::time::timeout(CALL_TIMEOUT, call).await {
        Ok(result) => result.map_err(crate::step(step)),
        Err(_) => Err(MutterError::Step {
            step,
            message: format!("no answer within {} s", CALL_TIMEOUT.as_secs()),
        }),
    }
}

struct ClipboardTask {
    proxy: RemoteDesktopSessionProxy<'static>,
    events: mpsc::UnboundedSender<ClipboardEvent>,
    max_item_bytes: usize,
    /// Reads waiting for the one in flight to finish.
    reads: VecDeque<(u64, String)>,
    session_end: watch::Receiver<Option<SessionEnd>>,
}

impl ClipboardTask {
    async fn run(
        mut self,
        mut commands: mpsc::UnboundedReceiver<ClipboardCommand>,
        mut owner_changed: crate::proxies::SelectionOwnerChangedStream,
        mut transfers: crate::proxies::SelectionTransferStream,
        end: watch::Sender<Option<String>>,
    ) {
        let mut reading: Option<tokio::task::JoinHandle<()>> = None;
        let mut session_end = self.session_end.clone();
        let reason = loop {
            tokio::select! {
                command = commands.recv() => match command {
                    Some(command) => self.execute(command, &mut reading).await,
                    None => break "the clipboard's handle was dropped".to_owned(),
                },
                signal = owner_changed.next() => match signal {
                    Some(signal) => match signal.args() {
                        Ok(args) => self.owner_changed(&args.options),
                        Err(e) => warn!("clipboard: an unreadable SelectionOwnerChanged from Mutter: {e}"),
                    },
                    None => break "the session bus connection ended".to_owned(),
                },
                signal = transfers.next() => match signal {
                    Some(signal) => match signal.args() {
                        Ok(args) => {
                            debug!(serial = args.serial, mime = %args.mime_type, "clipboard: a desktop program pastes from our selection");
                            self.emit(ClipboardEvent::Paste { request: u64::from(args.serial), mime: args.mime_type });
                        }
                        Err(e) => warn!("clipboard: an unreadable SelectionTransfer from Mutter: {e}"),
                    },
                    None => break "the session bus connection ended".to_owned(),
                },
                () = read_finished(&mut reading) => {
                    reading = None;
                    self.next_read(&mut reading);
                }
                reason = session_ended(&mut session_end) => break reason,
            }
        };
        if let Some(read) = reading {
            read.abort();
        }
        for (request, _) in self.reads.drain(..) {
            let _ = self.events.send(ClipboardEvent::ReadDone {
                request,
                result: Err(format!("the clipboard ended: {reason}")),
            });
        }
        debug!(%reason, "Mutter clipboard ended");
        end.send_replace(Some(reason));
    }

    fn emit(&self, event: ClipboardEvent) {
        // The receiver gone means nobody listens any more; the task ends with its handle.
        let _ = self.events.send(event);
    }

    fn owner_changed(&self, options: &HashMap<String, OwnedValue>) {
        match parse_owner_changed(options) {
            Ok(OwnerChange::Ours) => debug!("clipboard: our selection is the desktop's now"),
            Ok(OwnerChange::Other(mimes)) => {
                debug!(?mimes, "clipboard: the desktop's selection changed");
                self.emit(ClipboardEvent::Selection(mimes));
            }
            Err(e) => warn!(
                ?options,
                "clipboard: a SelectionOwnerChanged from Mutter we cannot read: {e}"
            ),
        }
    }

    async fn execute(
        &mut self,
        command: ClipboardCommand,
        reading: &mut Option<tokio::task::JoinHandle<()>>,
    ) {
        match command {
            ClipboardCommand::SetSelection { mimes } => {
                let mut options = HashMap::new();
                if !mimes.is_empty() {
                    options.insert("mime-types", Value::from(mimes.clone()));
                }
                match call(
                    "RemoteDesktop.Session.SetSelection",
                    self.proxy.set_selection(options),
                )
                .await
                {
                    Ok(()) => debug!(?mimes, "clipboard: took the desktop's selection"),
                    Err(e) => warn!(?mimes, "clipboard: taking the desktop's selection failed: {e}"),
                }
            }
            ClipboardCommand::Deliver { request, data } => {
                let proxy = self.proxy.clone();
                tokio::spawn(deliver(proxy, request, Some(data)));
            }
            ClipboardCommand::Refuse { request } => {
                let proxy = self.proxy.clone();
                tokio::spawn(deliver(proxy, request, None));
            }
            ClipboardCommand::Read { request, mime } => {
                self.reads.push_back((request, mime));
                if reading.is_none() {
                    self.next_read(reading);
                }
            }
        }
    }

    /// Starts the next queued read, if any (Mutter serves one at a time).
    fn next_read(&mut self, reading: &mut Option<tokio::task::JoinHandle<()>>) {
        if let Some((request, mime)) = self.reads.pop_front() {
            let proxy = self.proxy.clone();
            let events = self.events.clone();
            let limit = self.max_item_bytes;
            *reading = Some(tokio::spawn(async move {
                let result = read_selection(&proxy, &mime, limit)
                    .await
                    .map_err(|e| format!("reading {mime:?} from the desktop: {e}"));
                let _ = events.send(ClipboardEvent::ReadDone { request, result });
            }));
        }
    }
}

/// How long a read may wait for Mutter to count the previous one as over: Mutter closes the
/// pipe before it forgets the read, so the next `SelectionRead` can come in between and be
/// refused ("Tried to read in parallel", seen on mutter 43.8 after a 100 KB read).
const READ_BUSY_WAIT: Duration = Duration::from_secs(2);
const READ_BUSY_RETRY: Duration = Duration::from_millis(20);

/// One read of the desktop's selection: `SelectionRead` (again while Mutter still counts the
/// previous read, at most [`READ_BUSY_WAIT`]), then its pipe drained.
async fn read_selection(
    proxy: &RemoteDesktopSessionProxy<'static>,
    mime: &str,
    limit: usize,
) -> Result<Vec<u8>, String> {
    let give_up = tokio::time::Instant::now() + READ_BUSY_WAIT;
    loop {
        match tokio::time::timeout(CALL_TIMEOUT, proxy.selection_read(mime)).await {
            Ok(Ok(fd)) => return read_bounded(fd.into(), limit).await,
            Ok(Err(e)) if is_busy(&e) && tokio::time::Instant::now() < give_up => {
                debug!(%mime, "clipboard: Mutter still counts the previous read; asking again");
                tokio::time::sleep(READ_BUSY_RETRY).await;
            }
            Ok(Err(e)) => return Err(format!("Mutter RemoteDesktop.Session.SelectionRead failed: {e}")),
            Err(_) => {
                return Err(format!(
                    "Mutter did not answer SelectionRead within {} s",
                    CALL_TIMEOUT.as_secs()
                ));
            }
        }
    }
}

/// Mutter's answer to a read while it counts another one as open.
fn is_busy(error: &zbus::Error) -> bool {
    matches!(error, zbus::Error::MethodError(name, _, _)
        if name.as_str() == "org.freedesktop.DBus.Error.LimitsExceeded")
}

/// Resolves when the session is over, with why.
async fn session_ended(session_end: &mut watch::Receiver<Option<SessionEnd>>) -> String {
    match session_end.wait_for(Option::is_some).await {
        Ok(end) => end.map(|end| end.to_string()).unwrap_or_default(),
        Err(_) => "the session's watcher stopped".to_owned(),
    }
}

/// Resolves when the read in flight finished; never without one.
async fn read_finished(reading: &mut Option<tokio::task::JoinHandle<()>>) {
    match reading {
        Some(handle) => {
            if let Err(e) = handle.await {
                warn!("clipboard: a read of the desktop's selection stopped: {e}");
            }
        }
        None => std::future::pending().await,
    }
}

/// Answers a paste from our selection: `data` written into Mutter's pipe, or (`None`) the pipe
/// closed empty. Mutter holds an unanswered paste for 15 s; closing the pipe ends it at once.
async fn deliver(proxy: RemoteDesktopSessionProxy<'static>, serial: u64, data: Option<Vec<u8>>) {
    let Ok(serial) = u32::try_from(serial) else {
        warn!(
            serial,
            "clipboard: a paste serial Mutter cannot have sent; ignored"
        );
        return;
    };
    let fd = match call(
        "RemoteDesktop.Session.SelectionWrite",
        proxy.selection_write(serial),
    )
    .await
    {
        Ok(fd) => fd,
        Err(e) => {
            warn!(serial, "clipboard: answering a paste on the desktop: {e}");
            return;
        }
    };
    let success = match data {
        Some(data) => match write_bounded(fd.into(), &data).await {
            Ok(()) => true,
            Err(e) => {
                warn!(
                    serial,
                    bytes = data.len(),
                    "clipboard: writing a paste for the desktop: {e}"
                );
                false
            }
        },
        None => false,
    };
    if let Err(e) = call(
        "RemoteDesktop.Session.SelectionWriteDone",
        proxy.selection_write_done(serial, success),
    )
    .await
    {
        debug!(serial, "clipboard: {e}");
    }
}

async fn read_bounded(fd: std::os::fd::OwnedFd, limit: usize) -> Result<Vec<u8>, String> {
    let mut pipe = pipe::Receiver::from_owned_fd(fd).map_err(|e| format!("the pipe from Mutter: {e}"))?;
    let mut data = Vec::new();
    let read = async {
        let mut chunk = vec![0_u8; 64 * 1024];
        loop {
            let n = pipe.read(&mut chunk).await.map_err(|e| e.to_string())?;
            if n == 0 {
                return Ok(());
            }
            if data.len() + n > limit {
                return Err(format!("more than the limit of {limit} bytes per item"));
            }
            data.extend_from_slice(&chunk[..n]);
        }
    };
    match tokio::time::timeout(READ_TIMEOUT, read).await {
        Ok(Ok(())) => Ok(data),
        Ok(Err(e)) => Err(e),
        Err(_) => Err(format!(
            "the desktop's program sent {} bytes and no end within {} s",
            data.len(),
            READ_TIMEOUT.as_secs()
        )),
    }
}

async fn write_bounded(fd: std::os::fd::OwnedFd, data: &[u8]) -> Result<(), String> {
    let mut pipe = pipe::Sender::from_owned_fd(fd).map_err(|e| format!("the pipe to Mutter: {e}"))?;
    match tokio::time::timeout(WRITE_TIMEOUT, pipe.write_all(data)).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(format!(
            "the pasting program did not take the data within {} s",
            WRITE_TIMEOUT.as_secs()
        )),
    }
}

#[derive(Debug, PartialEq, Eq)]
enum OwnerChange {
    /// Our own selection (`session-is-owner`).
    Ours,
    /// Another program's, with its MIME types (empty: the selection was cleared).
    Other(Vec<String>),
}

fn parse_owner_changed(options: &HashMap<String, OwnedValue>) -> Result<OwnerChange, String> {
    let ours = match options.get("session-is-owner") {
        Some(value) => bool::try_from(&**value).map_err(|e| format!("session-is-owner: {e}"))?,
        None => false,
    };
    if ours {
        return Ok(OwnerChange::Ours);
    }
    match options.get("mime-types") {
        Some(value) => string_array(value)
            .map(OwnerChange::Other)
            .ok_or_else(|| format!("mime-types is not a list of strings: {:?}", &**value)),
        None => Ok(OwnerChange::Other(Vec::new())),
    }
}

/// A list of strings, as `as` or (what mutter 43 sends) `(as)`.
fn string_array(value: &Value<'_>) -> Option<Vec<String>> {
    match value {
        Value::Array(array) => array
            .iter()
            .map(|item| match item {
                Value::Str(s) => Some(s.to_string()),
                _ => None,
            })
            .collect(),
        Value::Structure(structure) => match structure.fields() {
            [only] => string_array(only),
            _ => None,
        },
        Value::Value(inner) => string_array(inner),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn owned(value: Value<'_>) -> OwnedValue {
        OwnedValue::try_from(value).unwrap()
    }

    fn mimes() -> Vec<String> {
        vec!["text/plain;charset=utf-8".into(), "UTF8_STRING".into()]
    }

    #[test]
    fn mutter_43s_struct_around_the_list_is_read() {
        let options = HashMap::from([
            (
                "mime-types".to_owned(),
                owned(Value::from(zbus::zvariant::Structure::from((mimes(),)))),
            ),
            ("session-is-owner".to_owned(), owned(Value::from(false))),
        ]);
        assert_eq!(parse_owner_changed(&options), Ok(OwnerChange::Other(mimes())));
    }

    #[test]
    fn a_plain_list_is_read_too() {
        let options = HashMap::from([("mime-types".to_owned(), owned(Value::from(mimes())))]);
        assert_eq!(parse_owner_changed(&options), Ok(OwnerChange::Other(mimes())));
    }

    #[test]
    fn our_own_selection_is_recognised() {
        let options = HashMap::from([
            ("mime-types".to_owned(), owned(Value::from(mimes()))),
            ("session-is-owner".to_owned(), owned(Value::from(true))),
        ]);
        assert_eq!(parse_owner_changed(&options), Ok(OwnerChange::Ours));
    }

    #[test]
    fn no_options_is_a_cleared_selection() {
        assert_eq!(
            parse_owner_changed(&HashMap::new()),
            Ok(OwnerChange::Other(Vec::new()))
        );
    }

    #[test]
    fn odd_shapes_are_errors_not_guesses() {
        let options = HashMap::from([("mime-types".to_owned(), owned(Value::from(7_u32)))]);
        assert!(parse_owner_changed(&options).is_err());
        let options = HashMap::from([("session-is-owner".to_owned(), owned(Value::from("yes")))]);
        assert!(parse_owner_changed(&options).is_err());
        let options = HashMap::from([("mime-types".to_owned(), owned(Value::from(vec![1_u32, 2])))]);
        assert!(parse_owner_changed(&options).is_err());
    }
}
