//! The clipboard channel (MS-RDPECLIP, `cliprdr`) of each session, forwarded to one clipboard
//! owner outside the session.
//!
//! IronRDP runs the channel and calls our [`CliprdrBackend`] with what the client says (its
//! format list, its paste requests, its answers); the backend turns each into a
//! [`ClientClipboard`] event on one channel shared by all sessions ([`ClipboardRoute`]), like
//! input. What goes back to a client goes through [`ClientClipboardSender`], which the first
//! event of a session ([`ClientClipboard::Opened`]) carries: it queues IronRDP server events
//! that the session's loop turns into PDUs.

use std::path::Component;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use ironrdp_cliprdr::backend::{ClipboardMessage, CliprdrBackend, CliprdrBackendFactory};
use ironrdp_cliprdr::pdu::{
    ClipboardFileAttributes, ClipboardFormat, ClipboardFormatId, ClipboardFormatName,
    ClipboardGeneralCapabilityFlags, FileContentsFlags, FileContentsRequest, FileContentsResponse,
    FileDescriptor, FormatDataRequest, FormatDataResponse, LockDataId,
};
use ironrdp_server::{CliprdrServerFactory, ServerEvent, ServerEventSender};
use tokio::sync::mpsc;
use tracing::{debug, warn};
use wrd_clipboard::RdpFormat;
use wrd_clipboard::files::{FileEntry, safe_relative_path};

use crate::input::SessionId;

/// What a session's clipboard channel reports.
#[derive(Debug)]
pub enum ClientClipboard {
    /// The channel exists; answers to this client go through `to_client`.
    Opened { to_client: ClientClipboardSender },
    /// The client copied (its Format List; the first one comes when the channel starts).
    FormatList(Vec<RdpFormat>),
    /// The client's Format List Response to our last Format List (`ok: false`: refused).
    FormatListAnswered { ok: bool },
    /// The client pastes (a Format Data Request).
    DataRequest { format_id: u32 },
    /// The client's answer to our Format Data Request (`None`: a failure response).
    DataResponse { data: Option<Vec<u8>> },
    /// The client's answer to our Format Data Request for its `FileGroupDescriptorW`, decoded
    /// by IronRDP (which rewrites `..` and absolute parts away, with a warning) and every name
    /// checked again by wrd-clipboard (`Err`: the name refused and why).
    FileList(Result<Vec<FileEntry>, String>),
    /// The client asks for part of a file we offered (File Contents Request).
    FileContentsRequest(FileRequest),
    /// The client's answer to our File Contents Request (`None`: a failure response).
    FileContentsResponse { stream_id: u32, data: Option<Vec<u8>> },
    /// The channel (the session) ended.
    Closed,
}

/// A client's File Contents Request for a file we offered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileRequest {
    pub stream_id: u32,
    /// The file's place in the list we announced.
    pub index: usize,
    pub kind: FileRequestKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileRequestKind {
    /// `FILECONTENTS_SIZE`: the file's size as 8 bytes.
    Size,
    /// `FILECONTENTS_RANGE`: up to `length` bytes at `position`.
    Range { position: u64, length: u32 },
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
pub struct ClientClipboardSender {
    events: mpsc::UnboundedSender<ServerEvent>,
    /// The capabilities negotiated with the client (set by the channel's backend).
    capabilities: Arc<AtomicU32>,
}

/// Positions from 2 GiB on need `CB_HUGE_FILE_SUPPORT_ENABLED` (MS-RDPECLIP 2.2.5.3).
const HUGE_FILE_POSITION: u64 = 0x8000_0000;

impl ClientClipboardSender {
    fn send(&self, message: ClipboardMessage) {
        // A session that ended has dropped its receiver; its Closed event follows.
        let _ = self.events.send(ServerEvent::Clipboard(message));
    }

    fn negotiated(&self) -> ClipboardGeneralCapabilityFlags {
        ClipboardGeneralCapabilityFlags::from_bits_retain(self.capabilities.load(Ordering::Acquire))
    }

    /// Whether the client takes part in file transfers (`CB_STREAM_FILECLIP_ENABLED` on both
    /// sides). IronRDP ends the session on a file message without it, so nothing about files
    /// is sent otherwise.
    pub fn can_transfer_files(&self) -> bool {
        self.negotiated()
            .contains(ClipboardGeneralCapabilityFlags::STREAM_FILECLIP_ENABLED)
    }

    /// A Format List of files (`FileGroupDescriptorW` and `Preferred DropEffect`); IronRDP
    /// keeps the list, answers the client's request for it, and checks the index of every
    /// File Contents Request against it.
    pub fn announce_files(&self, files: &[FileEntry]) -> Result<(), String> {
        if !self.can_transfer_files() {
            return Err(
                "the client did not negotiate file transfers (CB_STREAM_FILECLIP_ENABLED)".to_owned(),
            );
        }
        let descriptors = files.iter().map(file_descriptor).collect::<Result<Vec<_>, _>>()?;
        self.send(ClipboardMessage::SendInitiateFileCopy(descriptors));
        Ok(())
    }

    /// A File Contents Request: the size of file `index` of the client's list.
    pub fn request_file_size(&self, stream_id: u32, index: usize) -> Result<(), String> {
        self.request_file_contents(stream_id, index, FileContentsFlags::SIZE, 0, 8)
    }

    /// A File Contents Request: `length` bytes at `position` of file `index` (within the size
    /// the list gave: IronRDP ends the session on a request past it).
    pub fn request_file_range(
        &self,
        stream_id: u32,
        index: usize,
        position: u64,
        length: u32,
    ) -> Result<(), String> {
        self.request_file_contents(stream_id, index, FileContentsFlags::RANGE, position, length)
    }

    fn request_file_contents(
        &self,
        stream_id: u32,
        index: usize,
        flags: FileContentsFlags,
        position: u64,
        length: u32,
    ) -> Result<(), String> {
        if !self.can_transfer_files() {
            return Err(
                "the client did not negotiate file transfers (CB_STREAM_FILECLIP_ENABLED)".to_owned(),
            );
        }
        if HUGE_FILE_POSITION <= position
            && !self
                .negotiated()
                .contains(ClipboardGeneralCapabilityFlags::HUGE_FILE_SUPPORT_ENABLED)
        {
            return Err(format!(
                "position {position} needs huge file support, which the client did not negotiate"
            ));
        }
        let index = i32::try_from(index).map_err(|_| format!("file index {index} is out of range"))?;
        self.send(ClipboardMessage::SendFileContentsRequest(FileContentsRequest {
            stream_id,
            index,
            flags,
            position,
            requested_size: length,
            data_id: None,
        }));
        Ok(())
    }

    /// The answer to a File Contents Request: the size, the bytes, or a failure (`None`).
    pub fn respond_file_contents(&self, stream_id: u32, answer: Option<FileAnswer>) {
        let response = match answer {
            Some(FileAnswer::Size(size)) => FileContentsResponse::new_size_response(stream_id, size),
            Some(FileAnswer::Data(data)) => FileContentsResponse::new_data_response(stream_id, data),
            None => FileContentsResponse::new_error(stream_id),
        };
        self.send(ClipboardMessage::SendFileContentsResponse(response));
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

/// What a File Contents Response carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileAnswer {
    Size(u64),
    Data(Vec<u8>),
}

/// Our entry → IronRDP's descriptor (name and `\`-separated relative directory).
fn file_descriptor(entry: &FileEntry) -> Result<FileDescriptor, String> {
    let parts = entry
        .relative_path
        .components()
        .map(|component| match component {
            Component::Normal(part) => part
                .to_str()
                .ok_or_else(|| format!("{} is not UTF-8", entry.relative_path.display())),
            _ => Err(format!(
                "{} is not a plain relative path",
                entry.relative_path.display()
            )),
        })
        .collect::<Result<Vec<&str>, String>>()?;
    let Some((name, parents)) = parts.split_last() else {
        return Err("an empty file name".to_owned());
    };
    let mut descriptor = FileDescriptor::new(*name).with_attributes(if entry.is_directory {
        ClipboardFileAttributes::DIRECTORY
    } else {
        ClipboardFileAttributes::NORMAL
    });
    if !parents.is_empty() {
        descriptor = descriptor.with_relative_path(parents.join("\\"));
    }
    if let Some(size) = entry.size {
        descriptor = descriptor.with_file_size(size);
    }
    Ok(descriptor)
}

/// IronRDP's descriptor from the client → our entry, its name checked (refused unless plainly
/// relative: nothing may be written outside the session's directory).
fn file_entry(descriptor: &FileDescriptor) -> Result<FileEntry, String> {
    let wire_name = match &descriptor.relative_path {
        Some(parents) if !parents.is_empty() => format!("{parents}\\{}", descriptor.name),
        _ => descriptor.name.clone(),
    };
    let relative_path = safe_relative_path(&wire_name).map_err(|error| error.to_string())?;
    Ok(FileEntry {
        relative_path,
        is_directory: descriptor
            .attributes
            .is_some_and(|attributes| attributes.contains(ClipboardFileAttributes::DIRECTORY)),
        size: descriptor.file_size,
    })
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
        let capabilities = Arc::new(AtomicU32::new(0));
        let backend = SessionCliprdr {
            session: self.session,
            route: self.route.clone(),
            capabilities: Arc::clone(&capabilities),
        };
        match self.events.lock().unwrap_or_else(PoisonError::into_inner).clone() {
            Some(events) => backend.forward(ClientClipboard::Opened {
                to_client: ClientClipboardSender { events, capabilities },
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
    /// Shared with the session's [`ClientClipboardSender`].
    capabilities: Arc<AtomicU32>,
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
        // Long names: registered formats ("HTML Format") are known by their names. Files are
        // streamed through File Contents requests, named without their source paths; no
        // clipboard locking (each paste fetches at once, from the list current then).
        ClipboardGeneralCapabilityFlags::USE_LONG_FORMAT_NAMES
            | ClipboardGeneralCapabilityFlags::STREAM_FILECLIP_ENABLED
            | ClipboardGeneralCapabilityFlags::FILECLIP_NO_FILE_PATHS
            | ClipboardGeneralCapabilityFlags::HUGE_FILE_SUPPORT_ENABLED
    }

    fn on_ready(&mut self) {
        debug!(session = self.session, "clipboard channel ready");
    }

    fn on_request_format_list(&mut self) {}

    fn on_format_list_response(&mut self, ok: bool) {
        if !ok {
            warn!(
                session = self.session,
                "clipboard: the client refused our format list"
            );
        }
        self.forward(ClientClipboard::FormatListAnswered { ok });
    }

    fn on_process_negotiated_capabilities(&mut self, capabilities: ClipboardGeneralCapabilityFlags) {
        debug!(session = self.session, ?capabilities, "clipboard capabilities");
        self.capabilities.store(capabilities.bits(), Ordering::Release);
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
        // IronRDP checked the index against the list we announced.
        let kind = if request.flags.contains(FileContentsFlags::SIZE) {
            FileRequestKind::Size
        } else {
            FileRequestKind::Range {
                position: request.position,
                length: request.requested_size,
            }
        };
        self.forward(ClientClipboard::FileContentsRequest(FileRequest {
            stream_id: request.stream_id,
            index: usize::try_from(request.index).unwrap_or(usize::MAX),
            kind,
        }));
    }

    fn on_file_contents_response(&mut self, response: FileContentsResponse<'_>) {
        let data = (!response.is_error()).then(|| response.data().to_vec());
        self.forward(ClientClipboard::FileContentsResponse {
            stream_id: response.stream_id(),
            data,
        });
    }

    fn on_remote_file_list(&mut self, files: &[FileDescriptor], _clip_data_id: Option<u32>) {
        let entries = files.iter().map(file_entry).collect::<Result<Vec<_>, _>>();
        if let Err(reason) = &entries {
            warn!(
                session = self.session,
                "clipboard: the client's file list is refused: {reason}"
            );
        }
        self.forward(ClientClipboard::FileList(entries));
    }

    fn on_lock(&mut self, _data_id: LockDataId) {}

    fn on_unlock(&mut self, _data_id: LockDataId) {}
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]

    use super::*;

    #[test]
    fn entries_become_descriptors_and_back() {
        let entries = [
            FileEntry {
                relative_path: "dir".into(),
                is_directory: true,
                size: Some(0),
            },
            FileEntry {
                relative_path: "dir/sub/ä b.txt".into(),
                is_directory: false,
                size: Some(5_000_000_000),
            },
        ];
        for entry in &entries {
            let descriptor = file_descriptor(entry).unwrap();
            assert_eq!(file_entry(&descriptor).unwrap(), *entry);
        }
        let descriptor = file_descriptor(&entries[1]).unwrap();
        assert_eq!(descriptor.name, "ä b.txt");
        assert_eq!(descriptor.relative_path.as_deref(), Some("dir\\sub"));
    }

    #[test]
    fn hostile_names_from_the_client_are_refused() {
        // IronRDP rewrites `..` and absolute parts away before we see a list; whatever it lets
        // through is checked again, and a descriptor built by hand shows each case.
        for (parents, name) in [
            (None, ".."),
            (Some(".."), "x"),
            (Some("a\\..\\.."), "x"),
            (None, "/etc/passwd"),
            (Some("C:"), "x"),
            (None, "C:\\x"),
            (Some("\\\\server\\share"), "x"),
            (None, ""),
        ] {
            let mut descriptor = FileDescriptor::new(name);
            if let Some(parents) = parents {
                descriptor = descriptor.with_relative_path(parents);
            }
            assert!(file_entry(&descriptor).is_err(), "{parents:?} {name:?}");
        }
        // Sizes are passed on as they are: the download's plan holds them to the limit.
        let huge = FileDescriptor::new("big").with_file_size(u64::MAX);
        assert_eq!(file_entry(&huge).unwrap().size, Some(u64::MAX));
    }
}
