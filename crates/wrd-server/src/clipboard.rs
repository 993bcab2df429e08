//! The desktop's clipboard shared with every session's client.
//!
//! One task owns the desktop side ([`DesktopClipboard`]: wlroots data control, or the Mutter
//! session's clipboard on GNOME) and a wrd-clipboard [`Bridge`] per session: the sans-I/O
//! state machine decides what to announce and fetch, this task only carries its outputs to
//! the client (through the session's
//! [`ClientClipboardSender`]) or to the desktop (as [`DesktopCommand`]s), and feeds it what
//! comes back. Each client shares the desktop's clipboard; clients do not see each other's
//! copies except through the desktop (our own selection is not announced back).
//!
//! Every wait is bounded: a client that does not answer a Format Data Request within
//! [`CLIENT_ANSWER_TIMEOUT`] fails the desktop paste waiting on it; reads and writes on the
//! desktop side are bounded by wrd-wayland and wrd-mutter.
//!
//! Files ([`files`]): a desktop selection of local files is looked up before it is announced
//! (its URI list read at once), then offered to the clients that negotiated file transfers as
//! `FileGroupDescriptorW`, their File Contents requests answered from disk; a client's files
//! pasted on the desktop are fetched into the session's clipboard directory first.

pub mod desktop;
mod files;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};
use wrd_clipboard::formats::DesktopFormat;
use wrd_clipboard::{Bridge, BridgeInput, BridgeOutput, DesktopRequestId, Limits, RdpRequestId};
use wrd_rdp::{ClientClipboard, ClientClipboardSender, SessionClipboard, SessionId};

use self::desktop::{DesktopClipboard, DesktopCommand, DesktopEvent, DesktopEvents};

/// How long a client may take to send what it copied once asked.
pub const CLIENT_ANSWER_TIMEOUT: Duration = Duration::from_secs(10);

struct Session {
    bridge: Bridge,
    to_client: ClientClipboardSender,
    /// The client's first Format List (sent as the channel starts) has been seen.
    saw_format_list: bool,
    /// When the Format Data Request in flight to this client expires.
    answer_deadline: Option<Instant>,
    /// The client's files pasted on the desktop: downloads and the session's directory.
    files: files::SessionFiles,
}

/// The desktop's selection of files, once looked up.
struct DesktopFileSelection {
    /// Bumped on every desktop selection; a lookup of an older one is dropped.
    generation: u64,
    /// The read of the selection's URI list in flight: our read id.
    read: Option<u64>,
    /// The lookup's result for `generation` (offered to clients that can take files).
    files: Option<Arc<files::DesktopFiles>>,
}

/// What the hub's own background work reports.
enum FileWork {
    /// The desktop's URI list of `generation` looked up.
    Resolved {
        generation: u64,
        mimes: Vec<String>,
        result: Result<files::DesktopFiles, String>,
    },
    /// A download for a desktop paste ended.
    Downloaded(files::DownloadDone),
}

struct Hub {
    desktop: DesktopClipboard,
    limits: Limits,
    sessions: HashMap<SessionId, Session>,
    /// The session whose clipboard our desktop selection is (pastes from it go there).
    desktop_owner: Option<SessionId>,
    /// The desktop's selection as last reported (not ours), for clients that join later.
    desktop_mimes: Vec<String>,
    /// Desktop pastes waiting in a session's bridge.
    pastes: HashMap<u64, SessionId>,
    /// Reads of the desktop's selection: our read id → the session and its bridge's id.
    reads: HashMap<u64, (SessionId, RdpRequestId)>,
    next_read: u64,
    desktop_files: DesktopFileSelection,
    /// File Contents stream ids of our downloads (unique across sessions).
    next_stream: u32,
    file_work: mpsc::UnboundedSender<FileWork>,
}

/// Runs until `shutdown`, or until the desktop side ends (logged; sessions go on without a
/// clipboard: their events are then only drained).
pub async fn run(
    desktop: DesktopClipboard,
    mut desktop_events: DesktopEvents,
    mut sessions: mpsc::UnboundedReceiver<SessionClipboard>,
    limits: Limits,
    shutdown: CancellationToken,
) {
    info!(
        max_item_bytes = limits.max_item_bytes,
        "clipboard: shared with clients through {}",
        desktop.name()
    );
    let (file_work, mut file_work_done) = mpsc::unbounded_channel();
    let mut hub = Hub {
        desktop,
        limits,
        sessions: HashMap::new(),
        desktop_owner: None,
        desktop_mimes: Vec::new(),
        pastes: HashMap::new(),
        reads: HashMap::new(),
        next_read: 0,
        desktop_files: DesktopFileSelection {
            generation: 0,
            read: None,
            files: None,
        },
        next_stream: 0,
        file_work,
    };
    loop {
        let deadline = hub
            .sessions
            .values()
            .filter_map(|session| session.answer_deadline)
            .min();
        tokio::select! {
            () = shutdown.cancelled() => return,
            event = desktop_events.recv() => match event {
                Some(event) => hub.on_desktop(event),
                None => {
                    warn!("clipboard: the desktop side ended ({}); clients keep their sessions without it", hub.desktop.closed().await);
                    return;
                }
            },
            Some(event) = sessions.recv() => hub.on_session(event),
            Some(work) = file_work_done.recv() => hub.on_file_work(work),
            () = sleep_until(deadline) => hub.expire_answers(),
        }
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

impl Hub {
    fn on_desktop(&mut self, event: DesktopEvent) {
        match event {
            DesktopEvent::Selection(mimes) => {
                if mimes
                    .iter()
                    .any(|mime| mime == wrd_clipboard::formats::OWN_SELECTION_MIME)
                {
                    return;
                }
                debug!(?mimes, "clipboard: the desktop's selection changed");
                self.desktop_owner = None;
                self.desktop_mimes.clone_from(&mimes);
                if self.look_up_desktop_files(&mimes) {
                    // Announced once the files are known.
                    return;
                }
                let ids: Vec<SessionId> = self.sessions.keys().copied().collect();
                for id in ids {
                    self.feed(id, BridgeInput::DesktopSelection(mimes.clone()));
                }
            }
            DesktopEvent::Paste { request, mime } => match self.desktop_owner {
                Some(owner) if self.sessions.contains_key(&owner) => {
                    self.pastes.insert(request, owner);
                    self.feed(
                        owner,
                        BridgeInput::DesktopPaste {
                            request: DesktopRequestId(request),
                            mime,
                        },
                    );
                }
                _ => {
                    warn!(request, %mime, "clipboard: a paste on the desktop failed: the client that copied is gone");
                    self.command(DesktopCommand::Refuse { request });
                }
            },
            DesktopEvent::ReadDone { request, result } => {
                if self.desktop_files.read == Some(request) {
                    self.desktop_files.read = None;
                    self.desktop_files_read(result);
                } else if let Some((session, bridge_request)) = self.reads.remove(&request) {
                    self.feed(
                        session,
                        BridgeInput::DesktopData {
                            request: bridge_request,
                            data: result,
                        },
                    );
                } else {
                    debug!(
                        request,
                        "clipboard: a desktop read for a client that left; dropped"
                    );
                }
            }
        }
    }

    fn on_session(&mut self, SessionClipboard { session, event }: SessionClipboard) {
        match event {
            ClientClipboard::Opened { to_client } => {
                debug!(session, "clipboard: channel open");
                self.sessions.insert(
                    session,
                    Session {
                        bridge: Bridge::new(self.limits),
                        to_client,
                        saw_format_list: false,
                        answer_deadline: None,
                        files: files::SessionFiles::new(session),
                    },
                );
            }
            ClientClipboard::FormatList(formats) => {
                debug!(session, ?formats, "clipboard: the client's formats");
                let first = self
                    .sessions
                    .get_mut(&session)
                    .is_some_and(|slot| !std::mem::replace(&mut slot.saw_format_list, true));
                let outputs = self.feed(session, BridgeInput::ClientFormatList(formats));
                let took_desktop = outputs
                    .iter()
                    .any(|output| matches!(output, BridgeOutput::AnnounceToDesktop(_)));
                if first && !took_desktop && !self.desktop_mimes.is_empty() {
                    // A client that joins with nothing to give learns what the desktop holds.
                    self.announce_desktop_to(session);
                }
            }
            ClientClipboard::FormatListAnswered { ok } => {
                self.feed(session, BridgeInput::ClientTookAnnouncement { ok });
            }
            ClientClipboard::DataRequest { format_id } => {
                self.feed(session, BridgeInput::ClientPaste { format_id });
            }
            ClientClipboard::DataResponse { data } => {
                let awaited = self
                    .sessions
                    .get_mut(&session)
                    .is_some_and(|slot| slot.answer_deadline.take().is_some());
                if !awaited {
                    // Late (we gave up at the timeout and failed that paste) or unasked.
                    warn!(
                        session,
                        bytes = data.as_ref().map(Vec::len),
                        "clipboard: the client sent data nobody waits for any more; dropped"
                    );
                    return;
                }
                self.feed(session, BridgeInput::ClientData { data });
            }
            ClientClipboard::FileList(files) => {
                let awaited = self
                    .sessions
                    .get_mut(&session)
                    .is_some_and(|slot| slot.answer_deadline.take().is_some());
                if !awaited {
                    warn!(
                        session,
                        "clipboard: the client sent a file list nobody waits for any more; dropped"
                    );
                    return;
                }
                self.feed(session, BridgeInput::ClientFileList { files });
            }
            ClientClipboard::FileContentsRequest(request) => {
                let Some(slot) = self.sessions.get(&session) else {
                    return;
                };
                match &self.desktop_files.files {
                    Some(desktop) if self.desktop_owner.is_none() => {
                        files::serve(
                            session,
                            Arc::clone(desktop),
                            request,
                            &slot.files,
                            slot.to_client.clone(),
                        );
                    }
                    _ => {
                        warn!(
                            session,
                            ?request,
                            "clipboard: the client asked for a file the desktop no longer offers"
                        );
                        slot.to_client.respond_file_contents(request.stream_id, None);
                    }
                }
            }
            ClientClipboard::FileContentsResponse { stream_id, data } => {
                let delivered = self
                    .sessions
                    .get_mut(&session)
                    .is_some_and(|slot| slot.files.answer(stream_id, data));
                if !delivered {
                    warn!(
                        session,
                        stream_id, "clipboard: file contents nobody waits for any more; dropped"
                    );
                }
            }
            ClientClipboard::Closed => {
                debug!(session, "clipboard: channel closed");
                self.sessions.remove(&session);
                let orphaned: Vec<u64> = self
                    .pastes
                    .iter()
                    .filter(|(_, owner)| **owner == session)
                    .map(|(request, _)| *request)
                    .collect();
                for request in orphaned {
                    self.pastes.remove(&request);
                    warn!(
                        session,
                        "clipboard: a paste on the desktop failed: the client left before sending its data"
                    );
                    self.command(DesktopCommand::Refuse { request });
                }
                self.reads.retain(|_, (owner, _)| *owner != session);
                if self.desktop_owner == Some(session) {
                    self.desktop_owner = None;
                }
            }
        }
    }

    fn expire_answers(&mut self) {
        let now = Instant::now();
        let expired: Vec<SessionId> = self
            .sessions
            .iter()
            .filter(|(_, slot)| slot.answer_deadline.is_some_and(|deadline| deadline <= now))
            .map(|(id, _)| *id)
            .collect();
        for id in expired {
            warn!(
                session = id,
                "clipboard: the client did not send its data within {CLIENT_ANSWER_TIMEOUT:?}"
            );
            if let Some(slot) = self.sessions.get_mut(&id) {
                slot.answer_deadline = None;
            }
            self.feed(id, BridgeInput::ClientData { data: None });
        }
    }

    /// Feeds one session's bridge and carries out what it says; returns the outputs.
    fn feed(&mut self, id: SessionId, input: BridgeInput) -> Vec<BridgeOutput> {
        let Some(slot) = self.sessions.get_mut(&id) else {
            return Vec::new();
        };
        let outputs = slot.bridge.handle(input);
        for output in &outputs {
            match output {
                BridgeOutput::AnnounceToClient(formats) => {
                    debug!(
                        session = id,
                        ?formats,
                        "clipboard: announcing the desktop's formats"
                    );
                    slot.to_client.announce(formats);
                }
                BridgeOutput::AnnounceFilesToClient(entries) => {
                    debug!(
                        session = id,
                        files = entries.len(),
                        "clipboard: announcing the desktop's files"
                    );
                    if let Err(reason) = slot.to_client.announce_files(entries) {
                        warn!(
                            session = id,
                            "clipboard: the desktop's files cannot be offered: {reason}"
                        );
                    }
                }
                BridgeOutput::FetchClientFiles {
                    request,
                    mime,
                    files: entries,
                    copy,
                } => {
                    self.next_stream = self.next_stream.wrapping_add(1);
                    let work = self.file_work.clone();
                    let started = files::paste_files(
                        &mut slot.files,
                        *copy,
                        *request,
                        mime.clone(),
                        files::DownloadJob {
                            session: id,
                            stream_id: self.next_stream,
                            entries: entries.clone(),
                            limits: self.limits,
                            answer_timeout: CLIENT_ANSWER_TIMEOUT,
                        },
                        slot.to_client.clone(),
                        move |done| {
                            // The hub is gone only when the server is shutting down.
                            let _ = work.send(FileWork::Downloaded(done));
                        },
                    );
                    if let files::PasteOfFiles::Answer(result) = started {
                        debug!(
                            session = id,
                            "clipboard: the client's files, fetched before, pasted again"
                        );
                        answer_file_paste(&self.desktop, &mut self.pastes, id, *request, result);
                    }
                }
                BridgeOutput::AnnounceToDesktop(mimes) => {
                    debug!(
                        session = id,
                        ?mimes,
                        "clipboard: the client copied; taking the desktop's selection"
                    );
                    self.desktop_owner = Some(id);
                    self.desktop_mimes.clear();
                    send(
                        &self.desktop,
                        DesktopCommand::SetSelection { mimes: mimes.clone() },
                    );
                }
                BridgeOutput::RequestFromClient { format_id } => {
                    slot.answer_deadline = Some(Instant::now() + CLIENT_ANSWER_TIMEOUT);
                    slot.to_client.request(*format_id);
                }
                BridgeOutput::DeliverToDesktop { request, data } => {
                    self.pastes.remove(&request.0);
                    debug!(
                        session = id,
                        bytes = data.len(),
                        "clipboard: client data pasted on the desktop"
                    );
                    send(
                        &self.desktop,
                        DesktopCommand::Deliver {
                            request: request.0,
                            data: data.clone(),
                        },
                    );
                }
                BridgeOutput::FailDesktopPaste { request, reason } => {
                    self.pastes.remove(&request.0);
                    warn!(session = id, "clipboard: a paste on the desktop failed: {reason}");
                    send(&self.desktop, DesktopCommand::Refuse { request: request.0 });
                }
                BridgeOutput::ReadFromDesktop { request, mime } => {
                    self.next_read += 1;
                    self.reads.insert(self.next_read, (id, *request));
                    send(
                        &self.desktop,
                        DesktopCommand::Read {
                            request: self.next_read,
                            mime: mime.clone(),
                        },
                    );
                }
                BridgeOutput::DeliverToClient { data } => {
                    debug!(
                        session = id,
                        bytes = data.len(),
                        "clipboard: desktop data pasted in the client"
                    );
                    slot.to_client.respond(Some(data.clone()));
                }
                BridgeOutput::ClientCopyCrossed => info!(
                    session = id,
                    "clipboard: the client's copy crossed the desktop's newer one on the wire; the desktop's stays \
                     on both sides (the client took it after sending its own)"
                ),
                BridgeOutput::FailClientPaste { reason } => {
                    warn!(session = id, "clipboard: a paste in the client failed: {reason}");
                    slot.to_client.respond(None);
                }
            }
        }
        outputs
    }

    fn command(&self, command: DesktopCommand) {
        send(&self.desktop, command);
    }

    /// Starts reading the files a desktop selection names, when it names any; `true` when the
    /// announcement waits for them.
    fn look_up_desktop_files(&mut self, mimes: &[String]) -> bool {
        self.desktop_files.generation += 1;
        self.desktop_files.files = None;
        self.desktop_files.read = None;
        let Some(mime) = DesktopFormat::Files.best_mime_in(mimes) else {
            return false;
        };
        self.next_read += 1;
        self.desktop_files.read = Some(self.next_read);
        send(
            &self.desktop,
            DesktopCommand::Read {
                request: self.next_read,
                mime: mime.clone(),
            },
        );
        true
    }

    fn desktop_files_read(&mut self, result: Result<Vec<u8>, String>) {
        let generation = self.desktop_files.generation;
        let mimes = self.desktop_mimes.clone();
        let Some(mime) = DesktopFormat::Files.best_mime_in(&mimes).cloned() else {
            return;
        };
        let limits = self.limits;
        let work = self.file_work.clone();
        tokio::spawn(async move {
            let result = match result {
                Ok(data) => files::resolve_desktop_files(mime, data, limits).await,
                Err(reason) => Err(format!("reading the desktop's file list failed: {reason}")),
            };
            let _ = work.send(FileWork::Resolved {
                generation,
                mimes,
                result,
            });
        });
    }

    fn on_file_work(&mut self, work: FileWork) {
        match work {
            FileWork::Resolved {
                generation,
                mimes,
                result,
            } => {
                if generation != self.desktop_files.generation || mimes != self.desktop_mimes {
                    // A newer selection, or a client's copy, took the desktop's clipboard since.
                    debug!("clipboard: a lookup of an older desktop selection; dropped");
                    return;
                }
                match result {
                    Ok(found) => {
                        info!(
                            entries = found.entries.len(),
                            "clipboard: the desktop copied files"
                        );
                        self.desktop_files.files = Some(Arc::new(found));
                    }
                    Err(reason) => {
                        warn!("clipboard: the desktop's copied files cannot be offered: {reason}");
                    }
                }
                let ids: Vec<SessionId> = self.sessions.keys().copied().collect();
                for id in ids {
                    self.announce_desktop_to(id);
                }
            }
            FileWork::Downloaded(done) => {
                let Some(slot) = self.sessions.get_mut(&done.session) else {
                    // Its pastes were refused when the session closed.
                    return;
                };
                for (request, result) in slot.files.finish(&done) {
                    answer_file_paste(&self.desktop, &mut self.pastes, done.session, request, result);
                }
            }
        }
    }

    /// Tells one session what the desktop holds: its files (to a client that can take them),
    /// else the rest of its offer.
    fn announce_desktop_to(&mut self, id: SessionId) {
        let mimes = self.desktop_mimes.clone();
        // IronRDP refuses (and ends the session) to send a file list before the channel is
        // ready, which the client's first Format List makes it.
        let can_take_files = self
            .sessions
            .get(&id)
            .is_some_and(|slot| slot.saw_format_list && slot.to_client.can_transfer_files());
        let input = match &self.desktop_files.files {
            Some(found) if can_take_files => BridgeInput::DesktopFiles {
                mimes,
                files: found.entries.clone(),
            },
            _ => BridgeInput::DesktopSelection(mimes),
        };
        self.feed(id, input);
    }
}

/// Answers a desktop paste of the client's files (unless it was refused already: its session
/// closed).
fn answer_file_paste(
    desktop: &DesktopClipboard,
    pastes: &mut HashMap<u64, SessionId>,
    session: SessionId,
    request: DesktopRequestId,
    result: Result<Vec<u8>, String>,
) {
    if pastes.remove(&request.0).is_none() {
        return;
    }
    match result {
        Ok(data) => {
            debug!(
                session,
                bytes = data.len(),
                "clipboard: the client's files pasted on the desktop"
            );
            send(
                desktop,
                DesktopCommand::Deliver {
                    request: request.0,
                    data,
                },
            );
        }
        Err(reason) => {
            warn!(
                session,
                "clipboard: a paste of files on the desktop failed: {reason}"
            );
            send(desktop, DesktopCommand::Refuse { request: request.0 });
        }
    }
}

fn send(desktop: &DesktopClipboard, command: DesktopCommand) {
    if let Err(e) = desktop.send(command) {
        warn!("clipboard: the desktop side is gone: {e}");
    }
}
