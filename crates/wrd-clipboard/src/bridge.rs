//! The delayed-rendering state machine between the RDP client and the desktop.
//!
//! Both sides announce what they hold and hand data over only when someone pastes. The
//! [`Bridge`] keeps who owns the clipboard and what it offers, turns an announcement on one
//! side into an announcement on the other, a paste on one side into a fetch from the other,
//! and the fetched data into the pasting side's format. The caller does the I/O: it feeds
//! [`BridgeInput`]s and carries out the [`BridgeOutput`]s in order.
//!
//! MS-RDPECLIP allows one Format Data Request in flight per direction: desktop pastes are
//! queued and asked of the client one at a time; the client asks one thing at a time itself.
//! The caller bounds every wait (a client that never answers is fed `ClientData { data: None }`)
//! so no paste waits for ever.

use std::collections::VecDeque;

use crate::files::{FileEntry, parse_file_list};
use crate::formats::{
    CF_DIB, CF_DIBV5, CF_UNICODETEXT, DesktopFormat, FREERDP_RAW_FORMAT_ID, OWN_SELECTION_MIME, RdpFormat,
    RdpFormatKind, SERVER_HTML_FORMAT_ID,
};
use crate::html::{CF_HTML_NAME, cf_html_to_html, html_to_cf_html};
use crate::image::{DibKind, dib_to_png, png_to_dib, png_to_rgba};
use crate::text::{utf8_to_utf16le, utf16le_to_utf8};
use crate::{ConvertError, Limits};

/// Names one desktop paste (one pipe the desktop gave us to write into).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DesktopRequestId(pub u64);

/// Names one read of the desktop's selection made for a client paste.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RdpRequestId(pub u64);

/// What happened on either side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BridgeInput {
    /// The client copied: its Format List.
    ClientFormatList(Vec<RdpFormat>),
    /// The client's Format List Response to our last announcement (`ok: false`: it refused
    /// the list). Until it comes, a Format List from the client crossed ours on the wire.
    ClientTookAnnouncement { ok: bool },
    /// The desktop's selection changed: the MIME types it offers (empty: cleared).
    DesktopSelection(Vec<String>),
    /// A desktop program pastes from our selection, asking for `mime`.
    DesktopPaste { request: DesktopRequestId, mime: String },
    /// The client's answer to our Format Data Request; `None` for a failure response or no
    /// answer in time.
    ClientData { data: Option<Vec<u8>> },
    /// The client's answer to our Format Data Request for its `FileGroupDescriptorW`, already
    /// decoded by the RDP side (`Err`: why the list was refused).
    ClientFileList { files: Result<Vec<FileEntry>, String> },
    /// The desktop's selection changed to local files (the caller read its URI list and
    /// looked the files up); `mimes` is the whole offer.
    DesktopFiles {
        mimes: Vec<String>,
        files: Vec<FileEntry>,
    },
    /// The client pastes: its Format Data Request.
    ClientPaste { format_id: u32 },
    /// What a desktop read returned (`Err`: why it failed).
    DesktopData {
        request: RdpRequestId,
        data: Result<Vec<u8>, String>,
    },
}

/// What the caller must do, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BridgeOutput {
    /// Send a Format List to the client.
    AnnounceToClient(Vec<RdpFormat>),
    /// Offer the client these files (a Format List of `FileGroupDescriptorW`; the list itself
    /// and the File Contents requests are then answered from it).
    AnnounceFilesToClient(Vec<FileEntry>),
    /// Take the desktop's selection with a source offering these MIME types.
    AnnounceToDesktop(Vec<String>),
    /// Send a Format Data Request to the client.
    RequestFromClient { format_id: u32 },
    /// Write `data` for a desktop paste and close its pipe.
    DeliverToDesktop {
        request: DesktopRequestId,
        data: Vec<u8>,
    },
    /// Fetch these files' contents from the client (File Contents requests), then answer the
    /// desktop paste as `mime` with where they were saved.
    FetchClientFiles {
        request: DesktopRequestId,
        mime: String,
        files: Vec<FileEntry>,
        /// Which of the client's copies the files are (the same for every paste of one copy:
        /// the caller fetches them once).
        copy: u64,
    },
    /// Close a desktop paste's pipe without data; `reason` is for the log.
    FailDesktopPaste {
        request: DesktopRequestId,
        reason: String,
    },
    /// Read `mime` from the desktop's current selection, answer with `DesktopData`.
    ReadFromDesktop { request: RdpRequestId, mime: String },
    /// Send a successful Format Data Response.
    DeliverToClient { data: Vec<u8> },
    /// Send a failed Format Data Response; `reason` is for the log.
    FailClientPaste { reason: String },
    /// The client's Format List crossed our announcement of the desktop's newer selection: the
    /// client sent it before it had ours, and took ours after (its own copy is replaced
    /// there), so the desktop's stays the clipboard on both sides. For the log.
    ClientCopyCrossed,
}

/// Who holds what was copied last.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Owner {
    Nobody,
    /// The client, with the formats of its last Format List that the bridge converts.
    Client(Vec<(RdpFormat, RdpFormatKind)>),
    /// The desktop, with the MIME types of its selection.
    Desktop(Vec<String>),
}

#[derive(Debug)]
struct QueuedDesktopPaste {
    request: DesktopRequestId,
    /// The client format asked for; decides the conversion.
    source: RdpFormatKind,
    format_id: u32,
    /// The MIME type the desktop asked for.
    mime: String,
    /// The client's clipboard generation it was asked of: a paste of older content fails.
    generation: u64,
}

/// What the client answered to a Format Data Request.
enum ClientAnswer {
    Data(Option<Vec<u8>>),
    Files(Result<Vec<FileEntry>, String>),
}

#[derive(Debug)]
struct PendingClientPaste {
    request: RdpRequestId,
    kind: RdpFormatKind,
}

/// The formats of a client's Format List that the bridge converts (none for FreeRDP's list of
/// everything it supports: nothing we know of was copied yet).
fn carried_formats(formats: Vec<RdpFormat>) -> Vec<(RdpFormat, RdpFormatKind)> {
    if formats.iter().any(|format| format.id == FREERDP_RAW_FORMAT_ID) {
        return Vec::new();
    }
    formats
        .into_iter()
        .filter_map(|format| format.kind().map(|kind| (format, kind)))
        .collect()
}

/// The state machine. See the module documentation.
#[derive(Debug)]
pub struct Bridge {
    limits: Limits,
    owner: Owner,
    /// Bumped on every client Format List.
    client_generation: u64,
    /// Desktop pastes waiting for client data; the front one is in flight when `in_flight`.
    desktop_pastes: VecDeque<QueuedDesktopPaste>,
    in_flight: bool,
    client_paste: Option<PendingClientPaste>,
    next_read: u64,
    /// Our last announcement to the client is not answered yet (no Format List Response).
    announcement_unanswered: bool,
}

impl Bridge {
    pub fn new(limits: Limits) -> Self {
        Self {
            limits,
            owner: Owner::Nobody,
            client_generation: 0,
            desktop_pastes: VecDeque::new(),
            in_flight: false,
            client_paste: None,
            next_read: 0,
            announcement_unanswered: false,
        }
    }

    /// Feeds one input; returns what to do, in order.
    pub fn handle(&mut self, input: BridgeInput) -> Vec<BridgeOutput> {
        let mut out = Vec::new();
        match input {
            BridgeInput::ClientFormatList(formats) => {
                let carried = carried_formats(formats);
                if self.announcement_unanswered
                    && matches!(self.owner, Owner::Desktop(_))
                    && !carried.is_empty()
                {
                    self.announcement_unanswered = false;
                    // The lists crossed: the client takes ours after sending its own, so ours
                    // is what both sides hold. Taking its list instead would leave each side
                    // sure the other owns the clipboard, and every paste failing, until
                    // somebody copies again. (At most one list is passed over per
                    // announcement, for a client that never answers announcements.)
                    out.push(BridgeOutput::ClientCopyCrossed);
                } else {
                    self.client_format_list(carried, &mut out);
                }
            }
            BridgeInput::ClientTookAnnouncement { ok: _ } => self.announcement_unanswered = false,
            BridgeInput::DesktopSelection(mimes) => self.desktop_selection(mimes, &mut out),
            BridgeInput::DesktopPaste { request, mime } => self.desktop_paste(request, &mime, &mut out),
            BridgeInput::ClientData { data } => self.client_data(ClientAnswer::Data(data), &mut out),
            BridgeInput::ClientFileList { files } => {
                self.client_data(ClientAnswer::Files(files), &mut out);
            }
            BridgeInput::DesktopFiles { mimes, files } => {
                if files.is_empty() {
                    self.desktop_selection(mimes, &mut out);
                } else {
                    self.owner = Owner::Desktop(mimes);
                    out.push(BridgeOutput::AnnounceFilesToClient(files));
                }
            }
            BridgeInput::ClientPaste { format_id } => self.client_paste(format_id, &mut out),
            BridgeInput::DesktopData { request, data } => self.desktop_data(request, data, &mut out),
        }
        if out.iter().any(|output| {
            matches!(
                output,
                BridgeOutput::AnnounceToClient(_) | BridgeOutput::AnnounceFilesToClient(_)
            )
        }) {
            self.announcement_unanswered = true;
        }
        out
    }

    /// Number of desktop pastes waiting on the client (for tests and statistics).
    pub fn queued_desktop_pastes(&self) -> usize {
        self.desktop_pastes.len()
    }

    /// A client's copy, with the formats of its list that the bridge converts.
    fn client_format_list(&mut self, known: Vec<(RdpFormat, RdpFormatKind)>, out: &mut Vec<BridgeOutput>) {
        self.client_generation += 1;
        let mut mimes: Vec<String> = Vec::new();
        for desktop in [
            DesktopFormat::Text,
            DesktopFormat::Html,
            DesktopFormat::Png,
            DesktopFormat::Files,
        ] {
            if known.iter().any(|(_, kind)| kind.desktop() == desktop) {
                mimes.extend(desktop.mimes().iter().map(|mime| (*mime).to_owned()));
            }
        }
        // Queued pastes of the old content fail now; the one in flight fails when its
        // answer comes (it answers for the new content).
        let in_flight = if self.in_flight {
            self.desktop_pastes.pop_front()
        } else {
            None
        };
        for stale in self.desktop_pastes.drain(..) {
            out.push(BridgeOutput::FailDesktopPaste {
                request: stale.request,
                reason: "the client's clipboard changed before the paste was answered".to_owned(),
            });
        }
        self.desktop_pastes.extend(in_flight);
        if mimes.is_empty() {
            // Nothing we can carry: the desktop keeps what it has.
            self.owner = Owner::Nobody;
            return;
        }
        mimes.push(OWN_SELECTION_MIME.to_owned());
        self.owner = Owner::Client(known);
        out.push(BridgeOutput::AnnounceToDesktop(mimes));
    }

    fn desktop_selection(&mut self, mimes: Vec<String>, out: &mut Vec<BridgeOutput>) {
        if mimes.iter().any(|mime| mime == OWN_SELECTION_MIME) {
            // Our own selection, reported back by the desktop.
            return;
        }
        let mut formats = Vec::new();
        if DesktopFormat::Text.best_mime_in(&mimes).is_some() {
            formats.push(RdpFormat::standard(CF_UNICODETEXT));
        }
        if DesktopFormat::Html.best_mime_in(&mimes).is_some() {
            formats.push(RdpFormat::registered(SERVER_HTML_FORMAT_ID, CF_HTML_NAME));
        }
        if DesktopFormat::Png.best_mime_in(&mimes).is_some() {
            formats.push(RdpFormat::standard(CF_DIBV5));
            formats.push(RdpFormat::standard(CF_DIB));
        }
        // An empty list too: the client must stop pasting what it had from us before.
        self.owner = Owner::Desktop(mimes);
        out.push(BridgeOutput::AnnounceToClient(formats));
    }

    fn desktop_paste(&mut self, request: DesktopRequestId, mime: &str, out: &mut Vec<BridgeOutput>) {
        let fail = |reason: String| BridgeOutput::FailDesktopPaste { request, reason };
        let Owner::Client(formats) = &self.owner else {
            out.push(fail("the client does not own the clipboard".to_owned()));
            return;
        };
        let Some(format) = DesktopFormat::from_mime(mime) else {
            out.push(fail(format!("MIME type {mime:?} is not one we offered")));
            return;
        };
        // For pictures: CF_DIBV5 carries alpha, CF_DIB is what every client has; PNG comes
        // last, since xfreerdp 2 announces it but cannot send it (it answers with a failure).
        let preference: &[RdpFormatKind] = match format {
            DesktopFormat::Text => &[RdpFormatKind::UnicodeText],
            DesktopFormat::Html => &[RdpFormatKind::Html],
            DesktopFormat::Png => &[RdpFormatKind::DibV5, RdpFormatKind::Dib, RdpFormatKind::Png],
            DesktopFormat::Files => &[RdpFormatKind::FileList],
        };
        let Some((rdp, kind)) = preference
            .iter()
            .find_map(|wanted| formats.iter().find(|(_, kind)| kind == wanted))
        else {
            out.push(fail(format!("the client offers no format for {mime:?}")));
            return;
        };
        self.desktop_pastes.push_back(QueuedDesktopPaste {
            request,
            source: *kind,
            format_id: rdp.id,
            mime: mime.to_owned(),
            generation: self.client_generation,
        });
        self.ask_client(out);
    }

    fn ask_client(&mut self, out: &mut Vec<BridgeOutput>) {
        if self.in_flight {
            return;
        }
        if let Some(front) = self.desktop_pastes.front() {
            self.in_flight = true;
            out.push(BridgeOutput::RequestFromClient {
                format_id: front.format_id,
            });
        }
    }

    fn client_data(&mut self, answer: ClientAnswer, out: &mut Vec<BridgeOutput>) {
        if !self.in_flight {
            // An answer nobody asked for (or after we gave up on it): nothing to do.
            return;
        }
        self.in_flight = false;
        let Some(paste) = self.desktop_pastes.pop_front() else {
            return;
        };
        let fail = |reason: String| BridgeOutput::FailDesktopPaste {
            request: paste.request,
            reason,
        };
        let stale = paste.generation != self.client_generation;
        out.push(match answer {
            ClientAnswer::Data(None) => fail("the client failed to send its data".to_owned()),
            ClientAnswer::Files(Err(reason)) => fail(reason),
            _ if stale => fail("the client's clipboard changed before the paste was answered".to_owned()),
            ClientAnswer::Data(Some(data)) if paste.source == RdpFormatKind::FileList => {
                // The RDP side decodes file lists itself; raw list bytes come only when it could
                // not, and our own parser says why.
                match parse_file_list(&data, &self.limits) {
                    Ok(files) => self.fetch_files(&paste, files),
                    Err(error) => fail(error.to_string()),
                }
            }
            ClientAnswer::Data(Some(data)) => match convert_from_client(paste.source, &data, &self.limits) {
                Ok(data) => BridgeOutput::DeliverToDesktop {
                    request: paste.request,
                    data,
                },
                Err(error) => fail(error.to_string()),
            },
            ClientAnswer::Files(Ok(files)) if paste.source == RdpFormatKind::FileList => {
                self.fetch_files(&paste, files)
            }
            ClientAnswer::Files(Ok(_)) => fail("the client sent a file list for another format".to_owned()),
        });
        self.ask_client(out);
    }

    fn fetch_files(&self, paste: &QueuedDesktopPaste, files: Vec<FileEntry>) -> BridgeOutput {
        if files.is_empty() {
            return BridgeOutput::FailDesktopPaste {
                request: paste.request,
                reason: "the client's file list is empty".to_owned(),
            };
        }
        BridgeOutput::FetchClientFiles {
            request: paste.request,
            mime: paste.mime.clone(),
            files,
            copy: paste.generation,
        }
    }

    fn client_paste(&mut self, format_id: u32, out: &mut Vec<BridgeOutput>) {
        let fail = |reason: String| BridgeOutput::FailClientPaste { reason };
        let Owner::Desktop(mimes) = &self.owner else {
            out.push(fail("the desktop does not own the clipboard".to_owned()));
            return;
        };
        let kind = match format_id {
            CF_UNICODETEXT => RdpFormatKind::UnicodeText,
            SERVER_HTML_FORMAT_ID => RdpFormatKind::Html,
            CF_DIBV5 => RdpFormatKind::DibV5,
            CF_DIB => RdpFormatKind::Dib,
            other => {
                out.push(fail(format!("format {other:#x} was not announced")));
                return;
            }
        };
        let Some(mime) = kind.desktop().best_mime_in(mimes) else {
            out.push(fail(format!(
                "the desktop offers nothing for format {format_id:#x}"
            )));
            return;
        };
        let mime = mime.clone();
        // A client asking again before we answered has given up on its earlier paste: the
        // earlier read's data, when it comes, is dropped.
        self.next_read += 1;
        let request = RdpRequestId(self.next_read);
        self.client_paste = Some(PendingClientPaste { request, kind });
        out.push(BridgeOutput::ReadFromDesktop { request, mime });
    }

    fn desktop_data(
        &mut self,
        request: RdpRequestId,
        data: Result<Vec<u8>, String>,
        out: &mut Vec<BridgeOutput>,
    ) {
        let Some(pending) = self.client_paste.take_if(|pending| pending.request == request) else {
            // A read the client no longer waits for.
            return;
        };
        let result = data.and_then(|data| {
            convert_from_desktop(pending.kind, &data, &self.limits).map_err(|error| error.to_string())
        });
        out.push(match result {
            Ok(data) => BridgeOutput::DeliverToClient { data },
            Err(reason) => BridgeOutput::FailClientPaste { reason },
        });
    }
}

/// Client format data → the desktop's bytes.
pub fn convert_from_client(
    kind: RdpFormatKind,
    data: &[u8],
    limits: &Limits,
) -> Result<Vec<u8>, ConvertError> {
    match kind {
        RdpFormatKind::UnicodeText => utf16le_to_utf8(data, limits).map(String::into_bytes),
        RdpFormatKind::Html => cf_html_to_html(data, limits).map(String::into_bytes),
        RdpFormatKind::Dib | RdpFormatKind::DibV5 => dib_to_png(data, limits),
        RdpFormatKind::Png => checked_png(data, limits),
        RdpFormatKind::FileList => Err(ConvertError::FileList(
            "files are fetched one by one, not converted".to_owned(),
        )),
    }
}

/// The desktop's bytes → client format data.
pub fn convert_from_desktop(
    kind: RdpFormatKind,
    data: &[u8],
    limits: &Limits,
) -> Result<Vec<u8>, ConvertError> {
    match kind {
        RdpFormatKind::UnicodeText => utf8_to_utf16le(data, limits),
        RdpFormatKind::Html => html_to_cf_html(data, limits),
        RdpFormatKind::DibV5 => png_to_dib(data, DibKind::DibV5, limits),
        RdpFormatKind::Dib => png_to_dib(data, DibKind::Dib, limits),
        RdpFormatKind::Png => checked_png(data, limits),
        RdpFormatKind::FileList => Err(ConvertError::FileList(
            "files are served one by one, not converted".to_owned(),
        )),
    }
}

/// PNG passed on as it is, once it decodes within the limits (a receiver gets no PNG we would
/// not have accepted ourselves).
fn checked_png(data: &[u8], limits: &Limits) -> Result<Vec<u8>, ConvertError> {
    png_to_rgba(data, limits)?;
    Ok(data.to_vec())
}
