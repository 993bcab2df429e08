//! The clipboard channel's client side (MS-RDPECLIP on IronRDP's `CliprdrClient`), for tests
//! of a server's clipboard: what the server offers, its file list, and its files' contents
//! through File Contents requests. The client copies nothing itself (its Format List is empty).
//!
//! IronRDP calls the backend from inside `ActiveStage::process`; the backend only records what
//! came into [`ClipState`], shared with the [`Session`](crate::Session), whose methods send the
//! requests and read the answers from there.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use ironrdp_cliprdr::backend::CliprdrBackend;
use ironrdp_cliprdr::pdu::{
    ClipboardFileAttributes, ClipboardFormat, ClipboardGeneralCapabilityFlags, FileContentsRequest,
    FileContentsResponse, FileDescriptor, FormatDataRequest, FormatDataResponse, LockDataId,
};

/// One entry of the server's file list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteFile {
    /// The name as the list gives it, parents first, `\`-separated.
    pub name: String,
    pub is_directory: bool,
    pub size: Option<u64>,
}

/// What the channel reported so far.
#[derive(Debug, Default)]
pub(crate) struct ClipState {
    /// IronRDP asks for our first Format List (the channel's initialization).
    pub(crate) wants_format_list: bool,
    /// The server's latest Format List: (id, name).
    pub(crate) formats: Vec<(u32, Option<String>)>,
    /// How many Format Lists the server sent.
    pub(crate) format_lists: u64,
    /// The server's file list, once asked for and received.
    pub(crate) file_list: Option<Vec<RemoteFile>>,
    /// The server answered our Format Data Request with a failure.
    pub(crate) data_failed: bool,
    /// File Contents answers by stream id (`None`: a failure response).
    pub(crate) contents: HashMap<u32, Option<Vec<u8>>>,
}

pub(crate) type Shared = Arc<Mutex<ClipState>>;

pub(crate) fn lock(shared: &Shared) -> MutexGuard<'_, ClipState> {
    shared.lock().unwrap_or_else(PoisonError::into_inner)
}

#[derive(Debug)]
pub(crate) struct Recorder {
    pub(crate) shared: Shared,
}

ironrdp_core::impl_as_any!(Recorder);

impl CliprdrBackend for Recorder {
    fn temporary_directory(&self) -> &str {
        "/tmp"
    }

    fn client_capabilities(&self) -> ClipboardGeneralCapabilityFlags {
        ClipboardGeneralCapabilityFlags::USE_LONG_FORMAT_NAMES
            | ClipboardGeneralCapabilityFlags::STREAM_FILECLIP_ENABLED
            | ClipboardGeneralCapabilityFlags::FILECLIP_NO_FILE_PATHS
            | ClipboardGeneralCapabilityFlags::HUGE_FILE_SUPPORT_ENABLED
    }

    fn on_ready(&mut self) {}

    fn on_request_format_list(&mut self) {
        lock(&self.shared).wants_format_list = true;
    }

    fn on_process_negotiated_capabilities(&mut self, _capabilities: ClipboardGeneralCapabilityFlags) {}

    fn on_remote_copy(&mut self, available_formats: &[ClipboardFormat]) {
        let mut state = lock(&self.shared);
        state.formats = available_formats
            .iter()
            .map(|format| {
                (
                    format.id().value(),
                    format.name().map(|name| name.value().to_owned()),
                )
            })
            .collect();
        state.format_lists += 1;
        state.file_list = None;
    }

    fn on_format_data_request(&mut self, _request: FormatDataRequest) {
        // We announce nothing, so the server has nothing to ask.
    }

    fn on_format_data_response(&mut self, response: FormatDataResponse<'_>) {
        if response.is_error() {
            lock(&self.shared).data_failed = true;
        }
    }

    fn on_file_contents_request(&mut self, _request: FileContentsRequest) {}

    fn on_file_contents_response(&mut self, response: FileContentsResponse<'_>) {
        let data = (!response.is_error()).then(|| response.data().to_vec());
        lock(&self.shared).contents.insert(response.stream_id(), data);
    }

    fn on_lock(&mut self, _data_id: LockDataId) {}

    fn on_unlock(&mut self, _data_id: LockDataId) {}

    fn on_remote_file_list(&mut self, files: &[FileDescriptor], _clip_data_id: Option<u32>) {
        let files = files
            .iter()
            .map(|file| RemoteFile {
                name: match &file.relative_path {
                    Some(parents) if !parents.is_empty() => format!("{parents}\\{}", file.name),
                    _ => file.name.clone(),
                },
                is_directory: file
                    .attributes
                    .is_some_and(|attributes| attributes.contains(ClipboardFileAttributes::DIRECTORY)),
                size: file.file_size,
            })
            .collect();
        lock(&self.shared).file_list = Some(files);
    }
}
