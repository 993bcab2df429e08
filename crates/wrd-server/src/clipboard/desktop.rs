//! The desktop side of the clipboard hub: whichever API the desktop offers, in one vocabulary.
//!
//! - wlroots compositors: `zwlr_data_control_v1` ([`wrd_wayland::DataControl`], its own
//!   Wayland connection and thread);
//! - GNOME: the clipboard of the Mutter remote-desktop session the capture and input already
//!   use ([`wrd_mutter::MutterClipboard`]; Mutter ties it to that session).
//!
//! Both report the desktop's selection with its MIME types, pastes from our selection (to
//! deliver or refuse) and the end of reads of the desktop's selection, and take the same
//! commands; each bounds its own reads and writes (item limit, timeouts).

use tokio::sync::mpsc;

/// What the desktop did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DesktopEvent {
    /// The selection changed: the MIME types it offers (empty: cleared).
    Selection(Vec<String>),
    /// A program pastes from our selection: answer with `Deliver` or `Refuse`.
    Paste { request: u64, mime: String },
    /// The end of a `Read`.
    ReadDone {
        request: u64,
        result: Result<Vec<u8>, String>,
    },
}

/// What to do on the desktop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DesktopCommand {
    /// Take the selection, offering these MIME types.
    SetSelection { mimes: Vec<String> },
    /// Write `data` for a paste and close its pipe.
    Deliver { request: u64, data: Vec<u8> },
    /// Close a paste's pipe without data.
    Refuse { request: u64 },
    /// Read `mime` from the current selection; answered by `ReadDone`.
    Read { request: u64, mime: String },
}

/// The handle that takes commands.
pub enum DesktopClipboard {
    Wlroots(wrd_wayland::DataControl),
    Mutter(wrd_mutter::MutterClipboard),
}

/// Where the desktop's events arrive (kept apart from the handle so that the hub can wait on
/// them while it uses the handle).
pub enum DesktopEvents {
    Wlroots(mpsc::UnboundedReceiver<wrd_wayland::ClipboardEvent>),
    Mutter(mpsc::UnboundedReceiver<wrd_mutter::ClipboardEvent>),
}

impl DesktopClipboard {
    /// The API's name, for the log.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Wlroots(_) => "wlroots data control",
            Self::Mutter(_) => "Mutter's remote-desktop session",
        }
    }

    /// Queues a command; fails only once the desktop side ended, with the reason.
    pub fn send(&self, command: DesktopCommand) -> Result<(), String> {
        match self {
            Self::Wlroots(desktop) => desktop.send(to_wlroots(command)).map_err(|e| e.to_string()),
            Self::Mutter(desktop) => desktop.send(to_mutter(command)).map_err(|e| e.to_string()),
        }
    }

    /// Waits until the desktop side ended and says why.
    pub async fn closed(&self) -> String {
        match self {
            Self::Wlroots(desktop) => desktop.closed().await.to_string(),
            Self::Mutter(desktop) => desktop.closed().await,
        }
    }
}

impl DesktopEvents {
    /// The next event; `None` once the desktop side ended. Cancel-safe.
    pub async fn recv(&mut self) -> Option<DesktopEvent> {
        match self {
            Self::Wlroots(events) => events.recv().await.map(from_wlroots),
            Self::Mutter(events) => events.recv().await.map(from_mutter),
        }
    }
}

fn to_wlroots(command: DesktopCommand) -> wrd_wayland::ClipboardCommand {
    use wrd_wayland::ClipboardCommand as C;
    match command {
        DesktopCommand::SetSelection { mimes } => C::SetSelection { mimes },
        DesktopCommand::Deliver { request, data } => C::Deliver { request, data },
        DesktopCommand::Refuse { request } => C::Refuse { request },
        DesktopCommand::Read { request, mime } => C::Read { request, mime },
    }
}

fn to_mutter(command: DesktopCommand) -> wrd_mutter::ClipboardCommand {
    use wrd_mutter::ClipboardCommand as C;
    match command {
        DesktopCommand::SetSelection { mimes } => C::SetSelection { mimes },
        DesktopCommand::Deliver { request, data } => C::Deliver { request, data },
        DesktopCommand::Refuse { request } => C::Refuse { request },
        DesktopCommand::Read { request, mime } => C::Read { request, mime },
    }
}

fn from_wlroots(event: wrd_wayland::ClipboardEvent) -> DesktopEvent {
    use wrd_wayland::ClipboardEvent as E;
    match event {
        E::Selection(mimes) => DesktopEvent::Selection(mimes),
        E::Paste { request, mime } => DesktopEvent::Paste { request, mime },
        E::ReadDone { request, result } => DesktopEvent::ReadDone { request, result },
    }
}

fn from_mutter(event: wrd_mutter::ClipboardEvent) -> DesktopEvent {
    use wrd_mutter::ClipboardEvent as E;
    match event {
        E::Selection(mimes) => DesktopEvent::Selection(mimes),
        E::Paste { request, mime } => DesktopEvent::Paste { request, mime },
        E::ReadDone { request, result } => DesktopEvent::ReadDone { request, result },
    }
}

/// A desktop side started (its handle and events), or why there is none.
pub type Started = Result<(DesktopClipboard, DesktopEvents), String>;

/// How long the wlroots clipboard may take to come up.
const WLROOTS_READY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// wlroots data control on the compositor of `WAYLAND_DISPLAY`, if it offers it. `Err`: why
/// there is no clipboard (for the log).
pub async fn start_wlroots(max_item_bytes: usize) -> Started {
    let probe = tokio::task::spawn_blocking(|| wrd_wayland::probe(std::time::Duration::from_secs(2)))
        .await
        .map_err(|e| format!("probing the Wayland compositor: {e}"))?
        .map_err(|e| format!("probing the Wayland compositor: {e}"))?;
    if !probe.has_wlr_data_control() {
        return Err(format!(
            "the compositor offers no {}",
            wrd_wayland::WLR_DATA_CONTROL
        ));
    }
    let (desktop, events) =
        wrd_wayland::DataControl::start(wrd_wayland::WaylandSocket::Environment, max_item_bytes)
            .map_err(|e| format!("starting wlroots data control: {e}"))?;
    match tokio::time::timeout(WLROOTS_READY_TIMEOUT, desktop.ready()).await {
        Ok(Ok(())) => Ok((DesktopClipboard::Wlroots(desktop), DesktopEvents::Wlroots(events))),
        Ok(Err(e)) => Err(format!("starting wlroots data control: {e}")),
        Err(_) => Err(format!(
            "the compositor did not set up data control within {} s",
            WLROOTS_READY_TIMEOUT.as_secs()
        )),
    }
}

/// The clipboard of the Mutter session the capture runs in. `Err`: why there is none.
pub async fn start_mutter(session: &wrd_mutter::MutterSession, max_item_bytes: usize) -> Started {
    let (clipboard, events) = session
        .clipboard(max_item_bytes)
        .await
        .map_err(|e| format!("enabling Mutter's clipboard: {e}"))?;
    Ok((DesktopClipboard::Mutter(clipboard), DesktopEvents::Mutter(events)))
}
