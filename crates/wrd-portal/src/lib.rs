//! ScreenCast sessions through xdg-desktop-portal: the one crate that talks to the portal.
//!
//! [`start_screencast`] asks for all monitors with the cursor delivered as the caller prefers
//! (as metadata, or drawn into the frames; falling back to what the backend offers), persistently when the
//! portal supports it: the restore token it gets back is kept (mode 0600) and offered on the
//! next start, so a restarted server needs no new consent. It returns the PipeWire remote and
//! the streams' node ids and positions; the caller hands them to the PipeWire thread.
//!
//! [`probe`] (for `wrd-server doctor`) reports what the portal offers without starting a
//! session: interface versions and options, the backend its rules pick and why, and whether
//! a consent dialog can be skipped (restore token, xdg-desktop-portal-wlr's chooser).

mod probe;
mod selection;
mod token;

use std::os::fd::OwnedFd;
use std::path::PathBuf;

use ashpd::desktop::PersistMode;
use ashpd::desktop::screencast::{CursorMode, Screencast, SelectSourcesOptions, SourceType};
use ashpd::desktop::{CreateSessionOptions, Session};
use ashpd::enumflags2::BitFlags;
use futures_util::StreamExt as _;
use tracing::{debug, info, warn};

pub use crate::probe::{
    Backend, BusState, CLIPBOARD_IFACE, CURSOR_MODE_NAMES, DEVICE_TYPE_NAMES, Frontend, PortalProbe,
    ProbeOptions, REMOTE_DESKTOP_IFACE, RemoteDesktopOffer, SCREENCAST_IFACE, SOURCE_TYPE_NAMES,
    ScreenCastOffer, Selection, WlrSetup, flag_names, probe,
};
pub use crate::selection::{
    BackendChoice, PortalFile, PortalGeneration, PortalsConf, WLR_DEFAULT_CHOOSERS, WlrConfig,
    current_desktops, select_backend,
};
pub use crate::token::RestoreTokenStore;

/// ScreenCast's version from which sources can be restored with a token (xdg-desktop-portal
/// ≥ 1.12).
const PERSIST_SINCE_VERSION: u32 = 4;

#[derive(Debug, thiserror::Error)]
pub enum PortalError {
    #[error(
        "the ScreenCast portal is not available on the session bus ({0}); is xdg-desktop-portal running with a backend for this desktop?"
    )]
    Unavailable(String),
    #[error("portal {step} failed: {message}")]
    Step { step: &'static str, message: String },
    #[error("the user or the portal refused the screen cast ({0})")]
    Refused(String),
    #[error("the portal returned no stream")]
    NoStreams,
    #[error("cannot reach the session bus ({0}); is DBUS_SESSION_BUS_ADDRESS set?")]
    SessionBus(String),
}

/// How the cursor reaches us.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CursorDelivery {
    /// As PipeWire metadata (position, bitmap): the client draws it, frames stay cursor-free.
    Metadata,
    /// Drawn into the frames by the compositor (the backend offers nothing better).
    Embedded,
    /// Not at all.
    Hidden,
}

/// One monitor being cast.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CastStream {
    pub node_id: u32,
    /// Position in the compositor's logical desktop, when the portal says.
    pub position: Option<(i32, i32)>,
    /// Size in the compositor's logical desktop, when the portal says.
    pub size: Option<(i32, i32)>,
}

#[derive(Debug, Clone)]
pub struct ScreencastOptions {
    /// Where the restore token lives (`$XDG_STATE_HOME/wrd-server/portal-restore-token`).
    pub restore_token: RestoreTokenStore,
    /// How the caller wants the cursor; the best the backend offers at or below it is used
    /// (metadata, else embedded, else hidden).
    pub cursor: CursorDelivery,
}

/// A running ScreenCast session. Keep it alive for as long as the streams are used; dropping
/// it does not close the portal session, [`CastSession::close`] does.
#[derive(Debug)]
pub struct CastSession {
    session: Session<Screencast>,
    /// The PipeWire remote with access to exactly the granted streams.
    pub remote: Option<OwnedFd>,
    pub streams: Vec<CastStream>,
    pub cursor: CursorDelivery,
    /// Whether a stored restore token was offered (and so no dialog should have appeared).
    pub restored: bool,
    pub portal_version: u32,
}

impl CastSession {
    /// Waits until the portal (or the user, from the desktop) closes the session.
    pub async fn closed(&self) -> Result<(), PortalError> {
        let mut closed = self
            .session
            .receive_closed()
            .await
            .map_err(|e| step("Session.Closed subscription", &e))?;
        closed.next().await;
        Ok(())
    }

    /// Ends the screen cast.
    pub async fn close(&self) -> Result<(), PortalError> {
        self.session.close().await.map_err(|e| step("Session.Close", &e))
    }
}

fn step(step: &'static str, e: &ashpd::Error) -> PortalError {
    PortalError::Step {
        step,
        message: e.to_string(),
    }
}

/// Starts casting every monitor. May show the desktop's consent dialog unless a stored token
/// is accepted.
pub async fn start_screencast(options: &ScreencastOptions) -> Result<CastSession, PortalError> {
    let portal = Screencast::new()
        .await
        .map_err(|e| PortalError::Unavailable(e.to_string()))?;
    let portal_version = portal.version();
    let session = portal
        .create_session(CreateSessionOptions::default())
        .await
        .map_err(|e| step("ScreenCast.CreateSession", &e))?;

    let modes = portal.available_cursor_modes().await.unwrap_or_else(|e| {
        debug!(error = %e, "cursor modes unknown (ScreenCast < v2): the cursor may be embedded");
        BitFlags::empty()
    });
    let want_metadata = options.cursor == CursorDelivery::Metadata;
    let (cursor_mode, cursor) = if want_metadata && modes.contains(CursorMode::Metadata) {
        (Some(CursorMode::Metadata), CursorDelivery::Metadata)
    } else if modes.contains(CursorMode::Embedded) {
        (Some(CursorMode::Embedded), CursorDelivery::Embedded)
    } else if modes.contains(CursorMode::Hidden) {
        (Some(CursorMode::Hidden), CursorDelivery::Hidden)
    } else {
        (None, CursorDelivery::Embedded)
    };
    if cursor != options.cursor {
        warn!(
            ?cursor,
            "the portal cannot send the cursor as metadata: clients see it {}",
            match cursor {
                CursorDelivery::Embedded => "drawn into the picture",
                _ => "not at all",
            }
        );
    }

    let persist = portal_version >= PERSIST_SINCE_VERSION;
    let token = if persist {
        options.restore_token.load().await
    } else {
        None
    };
    let mut select = SelectSourcesOptions::default()
        .set_sources(BitFlags::from(SourceType::Monitor))
        .set_multiple(true)
        .set_cursor_mode(cursor_mode);
    if persist {
        select = select
            .set_persist_mode(PersistMode::ExplicitlyRevoked)
            .set_restore_token(token.as_deref());
    }
    portal
        .select_sources(&session, select)
        .await
        .map_err(|e| step("ScreenCast.SelectSources", &e))?;
    let started = portal
        .start(&session, None, Default::default())
        .await
        .map_err(|e| step("ScreenCast.Start", &e))?
        .response()
        .map_err(|e| PortalError::Refused(e.to_string()))?;

    if persist {
        match started.restore_token() {
            Some(new_token) => {
                if let Err(e) = options.restore_token.store(new_token).await {
                    warn!(error = %e, "could not keep the portal's restore token: the next start may ask for consent again");
                }
            }
            None => debug!("the portal gave no restore token"),
        }
    }
    let streams: Vec<CastStream> = started
        .streams()
        .iter()
        .map(|s| CastStream {
            node_id: s.pipe_wire_node_id(),
            position: s.position(),
            size: s.size(),
        })
        .collect();
    if streams.is_empty() {
        return Err(PortalError::NoStreams);
    }
    let remote = portal
        .open_pipe_wire_remote(&session, Default::default())
        .await
        .map_err(|e| step("ScreenCast.OpenPipeWireRemote", &e))?;
    info!(
        streams = streams.len(),
        ?cursor,
        restored = token.is_some(),
        portal_version,
        "portal screen cast started"
    );
    Ok(CastSession {
        session,
        remote: Some(remote),
        streams,
        cursor,
        restored: token.is_some(),
        portal_version,
    })
}

/// Default location of the restore token inside the server's state directory.
pub fn default_token_path(state_dir: &std::path::Path) -> PathBuf {
    state_dir.join("portal-restore-token")
}
