//! ScreenCast and RemoteDesktop sessions through xdg-desktop-portal: the one crate that talks
//! to the portal.
//!
//! [`start_screencast`] asks for all monitors with the cursor delivered as the caller prefers
//! (as metadata, or drawn into the frames; falling back to what the backend offers), persistently when the
//! portal supports it: the restore token it gets back is kept (mode 0600) and offered on the
//! next start, so a restarted server needs no new consent. It returns the PipeWire remote and
//! the streams' node ids and positions; the caller hands them to the PipeWire thread. When
//! the portal offers RemoteDesktop with a keyboard and a pointer, the screen cast is made
//! inside one RemoteDesktop session (one consent dialog for both) and [`PortalInput`] sends
//! the desktop keys, buttons, motion and scrolling through it.
//!
//! [`probe`] (for `wrd-server doctor`) reports what the portal offers without starting a
//! session: interface versions and options, the backend its rules pick and why, and whether
//! a consent dialog can be skipped (restore token, xdg-desktop-portal-wlr's chooser).

mod input;
mod probe;
mod selection;
mod token;

use std::os::fd::OwnedFd;
use std::path::PathBuf;
use std::sync::Arc;

use ashpd::desktop::PersistMode;
use ashpd::desktop::remote_desktop::{DeviceType, RemoteDesktop, SelectDevicesOptions};
use ashpd::desktop::screencast::{CursorMode, Screencast, SelectSourcesOptions, SourceType};
use ashpd::desktop::{CreateSessionOptions, Session};
use ashpd::enumflags2::BitFlags;
use futures_util::StreamExt as _;
use tracing::{debug, info, warn};

pub use crate::input::{PortalInput, ScrollAxis};
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
/// RemoteDesktop's version from which devices (and the screen cast with them) can be restored
/// with a token; v1 asks on every start.
const REMOTE_DESKTOP_PERSIST_SINCE_VERSION: u32 = 2;

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
    #[error("portal input {call} failed: {message}")]
    Input { call: &'static str, message: String },
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

/// The portal session a screen cast belongs to.
#[derive(Debug)]
enum PortalSession {
    /// A ScreenCast session of its own (the portal offers no RemoteDesktop).
    ScreenCast(Session<Screencast>),
    /// A RemoteDesktop session with the screen cast in it; shared with its [`PortalInput`].
    RemoteDesktop(Arc<Session<RemoteDesktop>>),
}

/// A running screen cast (alone, or in a RemoteDesktop session). Keep it alive for as long as
/// the streams are used; dropping it does not close the portal session, [`CastSession::close`]
/// does.
#[derive(Debug)]
pub struct CastSession {
    session: PortalSession,
    /// The PipeWire remote with access to exactly the granted streams.
    pub remote: Option<OwnedFd>,
    pub streams: Vec<CastStream>,
    pub cursor: CursorDelivery,
    /// Whether a stored restore token was offered (and so no dialog should have appeared).
    pub restored: bool,
    pub portal_version: u32,
    /// Input into the desktop, when the screen cast is part of a RemoteDesktop session whose
    /// keyboard or pointer the user granted.
    pub input: Option<PortalInput>,
}

impl CastSession {
    /// Waits until the portal (or the user, from the desktop) closes the session, or the
    /// portal service leaves the bus: its sessions die with it, though the backend's stream
    /// may go on (xdg-desktop-portal-wlr keeps streaming for a session nobody can close).
    pub async fn closed(&self) -> Result<(), PortalError> {
        let subscribe = |e: ashpd::Error| step("Session.Closed subscription", &e);
        let closed = async {
            match &self.session {
                PortalSession::ScreenCast(session) => {
                    session.receive_closed().await.map_err(subscribe)?.next().await;
                }
                PortalSession::RemoteDesktop(session) => {
                    session.receive_closed().await.map_err(subscribe)?.next().await;
                }
            }
            Ok::<(), PortalError>(())
        };
        tokio::select! {
            result = closed => {
                result?;
                info!("the portal closed the screen-cast session");
            }
            result = portal_left_the_bus() => {
                result?;
                warn!("xdg-desktop-portal left the session bus: its screen-cast session is gone");
            }
        }
        Ok(())
    }

    /// Ends the screen cast (and the input of its RemoteDesktop session).
    pub async fn close(&self) -> Result<(), PortalError> {
        match &self.session {
            PortalSession::ScreenCast(session) => session.close().await,
            PortalSession::RemoteDesktop(session) => session.close().await,
        }
        .map_err(|e| step("Session.Close", &e))
    }
}

/// The portal's well-known name on the session bus.
const PORTAL_BUS_NAME: &str = "org.freedesktop.portal.Desktop";

/// Resolves when nobody owns the portal's name any more (at once if nobody does now).
async fn portal_left_the_bus() -> Result<(), PortalError> {
    fn watch(e: impl std::fmt::Display) -> PortalError {
        PortalError::Step {
            step: "watching the portal's bus name",
            message: e.to_string(),
        }
    }
    let connection = ashpd::zbus::Connection::session().await.map_err(watch)?;
    let dbus = ashpd::zbus::fdo::DBusProxy::new(&connection)
        .await
        .map_err(watch)?;
    let mut changes = dbus
        .receive_name_owner_changed_with_args(&[(0, PORTAL_BUS_NAME)])
        .await
        .map_err(watch)?;
    let name = ashpd::zbus::names::BusName::try_from(PORTAL_BUS_NAME).map_err(watch)?;
    // Subscribed first, then asked: an owner that leaves in between is still seen.
    if !dbus.name_has_owner(name).await.map_err(watch)? {
        return Ok(());
    }
    while let Some(change) = changes.next().await {
        if change.args().is_ok_and(|args| args.new_owner().is_none()) {
            return Ok(());
        }
    }
    // The bus connection itself ended: the portal is unreachable all the same.
    Ok(())
}

/// A request the portal answered with an error response (not a failed call).
fn step_response(step: &'static str, e: &ashpd::Error) -> PortalError {
    PortalError::Step {
        step,
        message: format!("the portal answered: {e}"),
    }
}

fn step(step: &'static str, e: &ashpd::Error) -> PortalError {
    PortalError::Step {
        step,
        message: e.to_string(),
    }
}

/// Starts casting every monitor. When the portal offers RemoteDesktop with a keyboard and a
/// pointer, the screen cast is part of one RemoteDesktop session and the result carries its
/// input ([`CastSession::input`]); else it is a ScreenCast session of its own. May show the
/// desktop's consent dialog unless a stored token is accepted.
pub async fn start_screencast(options: &ScreencastOptions) -> Result<CastSession, PortalError> {
    let screencast = Screencast::new()
        .await
        .map_err(|e| PortalError::Unavailable(e.to_string()))?;
    match remote_desktop_offer().await {
        Some(remote_desktop) => start_remote_desktop(screencast, remote_desktop, options).await,
        None => start_screencast_only(screencast, options).await,
    }
}

/// The portal's RemoteDesktop, when it offers both a keyboard and a pointer
/// (xdg-desktop-portal-wlr exports the interface with no device at all).
async fn remote_desktop_offer() -> Option<RemoteDesktop> {
    let portal = match RemoteDesktop::new().await {
        Ok(portal) => portal,
        Err(e) => {
            debug!(error = %e, "no RemoteDesktop portal: screen cast only");
            return None;
        }
    };
    match portal.available_device_types().await {
        Ok(types) if types.contains(DeviceType::Keyboard | DeviceType::Pointer) => Some(portal),
        Ok(types) => {
            debug!(
                ?types,
                "the RemoteDesktop portal offers no keyboard and pointer: screen cast only"
            );
            None
        }
        Err(e) => {
            debug!(error = %e, "RemoteDesktop's device types unknown: screen cast only");
            None
        }
    }
}

/// The cursor mode to ask for: the best the backend offers at or below what the caller wants.
async fn choose_cursor(portal: &Screencast, wanted: CursorDelivery) -> (Option<CursorMode>, CursorDelivery) {
    let modes = portal.available_cursor_modes().await.unwrap_or_else(|e| {
        debug!(error = %e, "cursor modes unknown (ScreenCast < v2): the cursor may be embedded");
        BitFlags::empty()
    });
    let want_metadata = wanted == CursorDelivery::Metadata;
    let (cursor_mode, cursor) = if want_metadata && modes.contains(CursorMode::Metadata) {
        (Some(CursorMode::Metadata), CursorDelivery::Metadata)
    } else if modes.contains(CursorMode::Embedded) {
        (Some(CursorMode::Embedded), CursorDelivery::Embedded)
    } else if modes.contains(CursorMode::Hidden) {
        (Some(CursorMode::Hidden), CursorDelivery::Hidden)
    } else {
        (None, CursorDelivery::Embedded)
    };
    if cursor != wanted {
        warn!(
            ?cursor,
            "the portal cannot send the cursor as metadata: clients see it {}",
            match cursor {
                CursorDelivery::Embedded => "drawn into the picture",
                _ => "not at all",
            }
        );
    }
    (cursor_mode, cursor)
}

fn cast_streams(streams: &[ashpd::desktop::screencast::Stream]) -> Result<Vec<CastStream>, PortalError> {
    let streams: Vec<CastStream> = streams
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
    Ok(streams)
}

async fn keep_token(options: &ScreencastOptions, token: Option<&str>) {
    match token {
        Some(new_token) => {
            if let Err(e) = options.restore_token.store(new_token).await {
                warn!(error = %e, "could not keep the portal's restore token: the next start may ask for consent again");
            }
        }
        None => debug!("the portal gave no restore token"),
    }
}

/// ScreenCast only: CreateSession → SelectSources → Start → OpenPipeWireRemote.
async fn start_screencast_only(
    portal: Screencast,
    options: &ScreencastOptions,
) -> Result<CastSession, PortalError> {
    let portal_version = portal.version();
    let session = portal
        .create_session(CreateSessionOptions::default())
        .await
        .map_err(|e| step("ScreenCast.CreateSession", &e))?;
    let (cursor_mode, cursor) = choose_cursor(&portal, options.cursor).await;

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
        keep_token(options, started.restore_token()).await;
    }
    let streams = cast_streams(started.streams())?;
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
        session: PortalSession::ScreenCast(session),
        remote: Some(remote),
        streams,
        cursor,
        restored: token.is_some(),
        portal_version,
        input: None,
    })
}

/// One RemoteDesktop session with the screen cast in it: RemoteDesktop.CreateSession →
/// SelectDevices (keyboard, pointer; persistent from RemoteDesktop v2) → ScreenCast.SelectSources
/// on the same session → RemoteDesktop.Start (one dialog for both) → OpenPipeWireRemote.
async fn start_remote_desktop(
    screencast: Screencast,
    portal: RemoteDesktop,
    options: &ScreencastOptions,
) -> Result<CastSession, PortalError> {
    let portal_version = screencast.version();
    let remote_desktop_version = portal.version();
    let session = portal
        .create_session(CreateSessionOptions::default())
        .await
        .map_err(|e| step("RemoteDesktop.CreateSession", &e))?;

    // RemoteDesktop v1 has no persistence: its grant is asked for on every start. From v2 the
    // token lives in the same file as a ScreenCast-only session's: a portal that changed its
    // offer between two starts refuses the other kind's token and asks once more.
    let persist = remote_desktop_version >= REMOTE_DESKTOP_PERSIST_SINCE_VERSION;
    let token = if persist {
        options.restore_token.load().await
    } else {
        None
    };
    let mut devices = SelectDevicesOptions::default().set_devices(DeviceType::Keyboard | DeviceType::Pointer);
    if persist {
        devices = devices
            .set_persist_mode(PersistMode::ExplicitlyRevoked)
            .set_restore_token(token.as_deref());
    }
    portal
        .select_devices(&session, devices)
        .await
        .map_err(|e| step("RemoteDesktop.SelectDevices", &e))?
        .response()
        .map_err(|e| step_response("RemoteDesktop.SelectDevices", &e))?;

    // The grant of a RemoteDesktop session is kept through SelectDevices, not here.
    let (cursor_mode, cursor) = choose_cursor(&screencast, options.cursor).await;
    let select = SelectSourcesOptions::default()
        .set_sources(BitFlags::from(SourceType::Monitor))
        .set_multiple(true)
        .set_cursor_mode(cursor_mode);
    screencast
        .select_sources(&session, select)
        .await
        .map_err(|e| step("ScreenCast.SelectSources", &e))?;
    let started = portal
        .start(&session, None, Default::default())
        .await
        .map_err(|e| step("RemoteDesktop.Start", &e))?
        .response()
        .map_err(|e| PortalError::Refused(e.to_string()))?;

    if persist {
        keep_token(options, started.restore_token()).await;
    }
    let streams = cast_streams(started.streams())?;
    let remote = screencast
        .open_pipe_wire_remote(&session, Default::default())
        .await
        .map_err(|e| step("ScreenCast.OpenPipeWireRemote", &e))?;
    let granted = started.devices();
    let session = Arc::new(session);
    let input = if granted.intersects(DeviceType::Keyboard | DeviceType::Pointer) {
        if !granted.contains(DeviceType::Keyboard | DeviceType::Pointer) {
            warn!(?granted, "the desktop granted only part of the input asked for");
        }
        Some(PortalInput::new(
            portal,
            Arc::clone(&session),
            streams.iter().map(|s| s.node_id).collect(),
            granted,
        ))
    } else {
        warn!(
            "the desktop shares the screen but granted no keyboard or pointer (\"allow remote interaction\" was off): view only"
        );
        None
    };
    info!(
        streams = streams.len(),
        ?cursor,
        devices = ?granted,
        restored = token.is_some(),
        portal_version,
        remote_desktop_version,
        "portal remote desktop started (screen cast and input in one session)"
    );
    Ok(CastSession {
        session: PortalSession::RemoteDesktop(session),
        remote: Some(remote),
        streams,
        cursor,
        restored: token.is_some(),
        portal_version,
        input,
    })
}

/// Default location of the restore token inside the server's state directory.
pub fn default_token_path(state_dir: &std::path::Path) -> PathBuf {
    state_dir.join("portal-restore-token")
}
