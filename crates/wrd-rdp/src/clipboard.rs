//! The clipboard channel (MS-RDPECLIP, `cliprdr`) of each session, forwarded to one clipboard
//! owner outside the session.
//!
//! IronRDP runs the channel and calls our [`CliprdrBackend`] with what the client says (its
//! format list, its paste requests, its answers); the backend turns each into a
//! [`ClientClipboard`] event on one channel shared by all sessions ([`ClipboardRoute`]), like
//! input. What goes back to a client goes through [`ClientClipboardSender`], which the first
//! event of a session ([`ClientClipboard::Opened`]) carries: it queues IronRDP server events
//! that the session's loop turns into PDUs.

use std::sync::{Arc, Mutex, PoisonError};

use ironrdp_cliprdr::backend::{ClipboardMessage, CliprdrBackend, CliprdrBackendFactory};
use ironrdp_cliprdr::pdu::{
    ClipboardFormat, ClipboardFormatId, ClipboardFormatName, ClipboardGeneralCapabilityFlags,
    FileContentsRequest, FileContentsResponse, FormatDataRequest, FormatDataResponse, LockDataId,
};
use ironrdp_server::{CliprdrServerFactory, ServerEvent, ServerEventSender};
use tokio::sync::mpsc;
use tracing::{debug, warn};
use wrd_clipboard::RdpFormat;

use crate::input::SessionId;

/// What a session's clipboard channel reports.
#[derive(Debug)]
pub enum ClientClipboard {
    /// The channel exists; answers to this client go through `to_client`.
    Opened { to_client: ClientClipboardSender },
    /// The client copied (its Format List; the first one comes when the channel starts).
    FormatList(Vec<RdpFormat>),
    /// The client pastes (a Format Data Request).
    DataRequest { format_id: u32 },
    /// The client's answer to our Format Data Request (`None`: a failure response).
    DataResponse { data: Option<Vec<u8>> },
    /// The channel (the session) ended.
    Closed,
}

/// One event and the session it is from.
#[derive(Debug)]
pub struct SessionClipboard {
    pub session: SessionId,
    pub event: ClientClipboard,
}

/// Where sessions send their clipboard events.
#[derive(Debug, Clone)]
pub enum ClipboardRoute {
    /// No clipboard: the channel is not offered to clients.
    Off,
    /// To the clipboard owner (one consumer for all sessions).
    Forward(mpsc::UnboundedSender<SessionClipboard>),
}

/// Sends clipboard PDUs to one client (through its session's IronRDP event queue).
#[derive(Debug, Clone)]
pub struct ClientClipboardSender(mpsc::UnboundedSender<ServerEvent>);

impl ClientClipboardSender {
    fn send(&self, message: ClipboardMessage) {
        // A session that ended has dropped its receiver; its Closed event follows.
        let _ = self.0.send(ServerEvent::Clipboard(message));
    }

    /// A Format List: what our side (the desktop) holds now.
    pub fn announce(&self, formats: &[RdpFormat]) {
        let formats = formats
            .iter()
            .map(|format| {
                let base = ClipboardFormat::new(ClipboardFormatId::new(format.id));
                match &format.name {
                    Some(name) => base.with_name(ClipboardFormatName::new(name.clone())),
                    None => base,
                }
            })
            .collect();
        self.send(ClipboardMessage::SendInitiateCopy(formats));
    }

    /// A Format Data Request for what the client copied.
    pub fn request(&self, format_id: u32) {
        self.send(ClipboardMessage::SendInitiatePaste(ClipboardFormatId::new(
            format_id,
        )));
    }

    /// The Format Data Response to the client's paste (`None`: a failure response).
    pub fn respond(&self, data: Option<Vec<u8>>) {
        let response = match data {
            Some(data) => FormatDataResponse::new_data(data),
            None => FormatDataResponse::new_error(),
        };
        self.send(ClipboardMessage::SendFormatData(response));
    }
}

/// The per-session factory IronRDP asks for the channel's backend.
#[derive(Debug)]
pub(crate) struct SessionCliprdrFactory {
    session: SessionId,
    route: mpsc::UnboundedSender<SessionClipboard>,
    /// The session's IronRDP event queue, given to us before the connection starts.
    events: Arc<Mutex<Option<mpsc::UnboundedSender<ServerEvent>>>>,
}

impl SessionCliprdrFactory {
    pub(crate) fn new(session: SessionId, route: mpsc::UnboundedSender<SessionClipboard>) -> Self {
        Self {
            session,
            route,
            events: Arc::default(),
        }
    }
}

impl ServerEventSender for SessionCliprdrFactory {
    fn set_sender(&mut self, sender: mpsc::UnboundedSender<ServerEvent>) {
        *self.events.lock().unwrap_or_else(PoisonError::into_inner) = Some(sender);
    }
}

impl CliprdrBackendFactory for SessionCliprdrFactory {
    fn build_cliprdr_backend(&self) -> Box<dyn CliprdrBackend> {
        let backend = SessionCliprdr {
            session: self.session,
            route: self.route.clone(),
        };
        match self.events.lock().unwrap_or_else(PoisonError::into_inner).clone() {
            Some(events) => backend.forward(ClientClipboard::Opened {
                to_client: ClientClipboardSender(events),
            }),
            None => warn!("clipboard: the session gave no event queue; nothing can be sent to the client"),
        }
        Box::new(backend)
    }
}

impl CliprdrServerFactory for SessionCliprdrFactory {}

/// The backend of one session's channel: everything the client says, forwarded.
#[derive(Debug)]
struct SessionCliprdr {
    session: SessionId,
    route: mpsc::UnboundedSender<SessionClipboard>,
}

ironrdp_core::impl_as_any!(SessionCliprdr);

impl SessionCliprdr {
    fn forward(&self, event: ClientClipboard) {
        // The owner is gone only when the server is shutting down.
        let _ = self.route.send(SessionClipboard {
            session: self.session,
            event,
        });
    }
}

impl Drop for SessionCliprdr {
    fn drop(&mut self) {
        self.forward(ClientClipboard::Closed);
    }
}

impl CliprdrBackend for SessionCliprdr {
    fn temporary_directory(&self) -> &str {
        // Only a client sends its temporary directory.
        ""
    }

    fn client_capabilities(&self) -> ClipboardGeneralCapabilityFlags {
        // Long names: registered formats ("HTML Format") are known by their names.
        ClipboardGeneralCapabilityFlags::USE_LONG_FORMAT_NAMES
    }

    fn on_ready(&mut self) {
        debug!(session = self.session, "clipboard channel ready");
    }

    fn on_request_format_list(&mut self) {}

    fn on_process_negotiated_capabilities(&mut self, capabilities: ClipboardGeneralCapabilityFlags) {
        debug!(session = self.session, ?capabilities, "clipboard capabilities");
    }

    fn on_remote_copy(&mut self, available_formats: &[ClipboardFormat]) {
        let formats = available_formats
            .iter()
            .map(|format| RdpFormat {
                id: format.id().value(),
                name: format.name().map(|name| name.value().to_owned()),
            })
            .collect();
        self.forward(ClientClipboard::FormatList(formats));
    }

    fn on_format_data_request(&mut self, request: FormatDataRequest) {
        self.forward(ClientClipboard::DataRequest {
            format_id: request.format.value(),
        });
    }

    fn on_format_data_response(&mut self, response: FormatDataResponse<'_>) {
        let data = (!response.is_error()).then(|| response.data().to_vec());
        self.forward(ClientClipboard::DataResponse { data });
    }

    fn on_file_contents_request(&mut self, request: FileContentsRequest) {
        // We never announce files, so a client asking for file contents is confused.
        warn!(
            session = self.session,
            ?request,
            "clipboard: file contents asked for, none offered"
        );
    }

    fn on_file_contents_response(&mut self, _response: FileContentsResponse<'_>) {
        warn!(
            session = self.session,
            "clipboard: file contents received, none asked for"
        );
    }

    fn on_lock(&mut self, _data_id: LockDataId) {}

    fn on_unlock(&mut self, _data_id: LockDataId) {}
}
