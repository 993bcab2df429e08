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

pub mod desktop;

use std::collections::HashMap;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};
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
    let mut hub = Hub {
        desktop,
        limits,
        sessions: HashMap::new(),
        desktop_owner: None,
        desktop_mimes: Vec::new(),
        pastes: HashMap::new(),
        reads: HashMap::new(),
        next_read: 0,
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
                if let Some((session, bridge_request)) = self.reads.remove(&request) {
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
                    self.feed(session, BridgeInput::DesktopSelection(self.desktop_mimes.clone()));
                }
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
}

fn send(desktop: &DesktopClipboard, command: DesktopCommand) {
    if let Err(e) = desktop.send(command) {
        warn!("clipboard: the desktop side is gone: {e}");
    }
}
