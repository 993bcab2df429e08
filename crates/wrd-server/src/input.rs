//! The desktop's input: every session's client input, translated by wrd-input and sent, in
//! order, to the one backend this desktop takes input through.
//!
//! One task owns the backend and a [`Translator`] per session. Per-session state is what must
//! not mix between clients (keys held, surrogate halves, wheel remainders); what belongs to the
//! desktop (its lock-key state, the keymap loaded on a wlroots virtual keyboard, the keys the
//! desktop sees held) is kept here once.

use std::collections::{HashMap, HashSet};

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, trace, warn};
use wrd_frame::{DesktopLayout, FrameBus};
use wrd_input::{Axis, DesktopInput, LockState, MonitorArea, PointerMap, Translator, xkb_layout_for_klid};
use wrd_mutter::{MutterInput, ScrollAxis};
use wrd_portal::PortalInput;
use wrd_rdp::{SessionId, SessionInput};
use wrd_wayland::{VirtualInput, VirtualInputCommand};

use crate::repaint::{self, PointerNudge};

/// Where the desktop's input goes.
pub enum InputBackend {
    /// GNOME: Mutter's RemoteDesktop session (the one that also gives us the screen cast).
    Mutter(MutterInput),
    /// xdg-desktop-portal's RemoteDesktop session (the one that also gives us the screen cast).
    Portal(PortalInput),
    /// wlroots compositors: our own virtual pointer and keyboard, and where each captured
    /// monitor sits in the compositor's layout, as the capture reported it (in the desktop
    /// layout's order; `None` where it did not say).
    Wlroots(VirtualInput, Vec<Option<(i32, i32)>>),
}

impl InputBackend {
    pub fn describe(&self) -> &'static str {
        match self {
            Self::Mutter(_) => "Mutter RemoteDesktop",
            Self::Portal(_) => "the portal's RemoteDesktop",
            Self::Wlroots(..) => "wlroots virtual pointer and keyboard",
        }
    }
}

/// The xkb layout a wlroots virtual keyboard uses for a client that named none we know.
const DEFAULT_LAYOUT: (&str, &str) = ("us", "");

struct SessionState {
    translator: Translator,
    /// xkb layout and variant for the client's keyboard layout id.
    keymap: (&'static str, &'static str),
    /// The layout the pointer map was made for (rebuilt when the desktop's layout changes).
    layout: Option<DesktopLayout>,
}

/// Runs until `shutdown` or until every sender of `inputs` is gone. Backend errors are logged
/// with the event that failed; the sessions go on.
pub async fn run(
    backend: InputBackend,
    bus: FrameBus,
    mut inputs: mpsc::UnboundedReceiver<SessionInput>,
    shutdown: CancellationToken,
) {
    info!(
        backend = backend.describe(),
        "input: client input goes to the desktop"
    );
    if let InputBackend::Portal(portal) = &backend {
        info!(
            keyboard = portal.has_keyboard(),
            pointer = portal.has_pointer(),
            streams = ?portal.stream_node_ids(),
            "input: what the desktop granted the portal session"
        );
    }
    // Mutter drops the first key its virtual keyboard ever sends (the seat gains its keyboard
    // with it, and clients only then take keys); xdg-desktop-portal-gnome's RemoteDesktop is
    // Mutter's underneath, and other portals lose nothing by it. A Shift tap types nothing and
    // gets that over with before any client's key.
    for pressed in [true, false] {
        let key = wrd_input::evdev::KEY_LEFTSHIFT;
        let result = match &backend {
            InputBackend::Mutter(mutter) => mutter
                .keyboard_keycode(key, pressed)
                .await
                .map_err(|e| e.to_string()),
            InputBackend::Portal(portal) => portal
                .keyboard_keycode(key, pressed)
                .await
                .map_err(|e| e.to_string()),
            InputBackend::Wlroots(..) => Ok(()),
        };
        if let Err(e) = result {
            warn!(error = %e, "preparing the desktop's virtual keyboard");
        }
    }
    // wlroots' screen cast can stay silent after a resize until something moves: see
    // `crate::repaint`. The watcher asks, we move the pointer.
    let (nudge_tx, mut nudges) = mpsc::unbounded_channel();
    if matches!(backend, InputBackend::Wlroots(..)) {
        tokio::spawn(repaint::nudge_after_resizes(
            bus.clone(),
            nudge_tx,
            shutdown.clone(),
        ));
    } else {
        drop(nudge_tx);
    }
    let mut router = Router::new(backend, bus);
    loop {
        let message = tokio::select! {
            biased;
            message = inputs.recv() => message,
            Some(PointerNudge) = nudges.recv() => {
                router.nudge_pointer();
                continue;
            }
            () = shutdown.cancelled() => None,
        };
        let Some(message) = message else { break };
        router.handle(message).await;
    }
    router.release_everything().await;
    if let InputBackend::Wlroots(virtual_input, _) = router.backend
        && let Err(e) = virtual_input.stop()
    {
        debug!(error = %e, "stopping the virtual input devices");
    }
}

struct Router {
    backend: InputBackend,
    bus: FrameBus,
    sessions: HashMap<SessionId, SessionState>,
    /// The desktop's lock keys, when known: a fresh wlroots virtual keyboard starts with none
    /// locked, and so does an unattended Mutter seat; behind the portal it is not known.
    desktop_locks: Option<LockState>,
    /// The keymap loaded on the wlroots virtual keyboard.
    loaded_keymap: (&'static str, &'static str),
    /// Keys the desktop sees held, over all sessions: a client's auto-repeat presses are not
    /// sent again (Wayland clients repeat by themselves; Mutter warns about and drops them).
    desktop_keys_held: HashSet<u32>,
    /// The backend failed for good (the compositor went away): said once.
    backend_lost: bool,
}

impl Router {
    fn new(backend: InputBackend, bus: FrameBus) -> Self {
        let desktop_locks = match backend {
            InputBackend::Wlroots(..) => Some(LockState::default()),
            // Mutter reports its seat's Caps and Num Lock, read before each Synchronize (see
            // `read_desktop_locks`); until then, and for Scroll Lock, what our taps made it.
            InputBackend::Mutter(_) => Some(LockState::default()),
            // Behind the portal somebody sits at the desktop (they accepted the dialog): its
            // lock state is theirs and unknown to us, so lock sync is not applied.
            InputBackend::Portal(_) => None,
        };
        Self {
            backend,
            bus,
            sessions: HashMap::new(),
            desktop_locks,
            loaded_keymap: DEFAULT_LAYOUT,
            desktop_keys_held: HashSet::new(),
            backend_lost: false,
        }
    }

    /// Mutter: the seat's Caps and Num Lock as it reports them, so that a client's
    /// Synchronize sets them right even when something else toggled them (a local keyboard, a
    /// session of an earlier server). Scroll Lock stays what our taps made it (Mutter does not
    /// report it); if the read fails, so do the others.
    async fn read_desktop_locks(&mut self) {
        let InputBackend::Mutter(mutter) = &self.backend else {
            return;
        };
        match mutter.lock_state().await {
            Ok(seat) => {
                let scroll_lock = self.desktop_locks.is_some_and(|locks| locks.scroll_lock);
                self.desktop_locks = Some(LockState {
                    caps_lock: seat.caps_lock,
                    num_lock: seat.num_lock,
                    scroll_lock,
                });
            }
            Err(e) => debug!(error = %e, "Mutter's lock state not read: going by our own taps"),
        }
    }

    /// Moves the pointer one pixel and back: damage for a desktop that sends frames only for
    /// damage (see `crate::repaint`). wlroots only.
    fn nudge_pointer(&self) {
        if let InputBackend::Wlroots(virtual_input, _) = &self.backend {
            for dx in [1.0, -1.0] {
                if let Err(e) = virtual_input.send(VirtualInputCommand::PointerRelative { dx, dy: 0.0 }) {
                    debug!(error = %e, "nudging the pointer");
                    return;
                }
            }
        }
    }

    fn session(&mut self, session: SessionId) -> &mut SessionState {
        self.sessions.entry(session).or_insert_with(|| SessionState {
            translator: Translator::new(),
            keymap: DEFAULT_LAYOUT,
            layout: None,
        })
    }

    async fn handle(&mut self, message: SessionInput) {
        match message {
            SessionInput::Opened {
                session,
                keyboard_layout,
            } => {
                let keymap = match xkb_layout_for_klid(keyboard_layout) {
                    Some(layout) => (layout.layout, layout.variant),
                    None => {
                        if keyboard_layout != 0 {
                            info!(
                                session,
                                klid = format_args!("{keyboard_layout:#010x}"),
                                "unknown client keyboard layout: using {}",
                                DEFAULT_LAYOUT.0
                            );
                        }
                        DEFAULT_LAYOUT
                    }
                };
                debug!(
                    session,
                    layout = keymap.0,
                    variant = keymap.1,
                    "session input opened"
                );
                self.session(session).keymap = keymap;
            }
            SessionInput::Input { session, event } => {
                // Only absolute positions need the map (it is kept per session and rebuilt
                // when the desktop's layout changes).
                if matches!(event, wrd_rdp::ClientInput::PointerMove { .. }) {
                    self.refresh_pointer_map(session);
                }
                if matches!(event, wrd_rdp::ClientInput::SyncLocks { .. }) {
                    self.read_desktop_locks().await;
                }
                let locks = self.desktop_locks;
                let state = self.session(session);
                state.translator.set_desktop_locks(locks);
                let translation = state.translator.translate(event);
                let keymap = state.keymap;
                self.desktop_locks = state.translator.desktop_locks();
                for unmapped in &translation.unmapped {
                    if unmapped.reason.is_routine() {
                        debug!(session, input = ?unmapped.input, "input not sent: {}", unmapped.reason);
                    } else {
                        warn!(session, input = ?unmapped.input, "input not sent: {}", unmapped.reason);
                    }
                }
                for desktop_input in translation.events {
                    self.send(session, keymap, desktop_input).await;
                }
            }
            SessionInput::Closed { session } => {
                if let Some(mut state) = self.sessions.remove(&session) {
                    let releases = state.translator.release_all();
                    if !releases.is_empty() {
                        info!(
                            session,
                            count = releases.len(),
                            "releasing what the client still held"
                        );
                    }
                    for desktop_input in releases {
                        self.send(session, state.keymap, desktop_input).await;
                    }
                }
            }
        }
    }

    /// Builds (or rebuilds, after the desktop changed) the session's pointer map from the
    /// desktop layout the capture announced. Clients get the desktop's size, so client pixels
    /// are desktop pixels.
    fn refresh_pointer_map(&mut self, session: SessionId) {
        let layout = self.bus.layout();
        let state = self.session(session);
        if layout == state.layout {
            return;
        }
        if let Some(layout) = &layout {
            let monitors = layout
                .monitors
                .iter()
                .map(|m| {
                    MonitorArea::new(
                        i32::from(m.x),
                        i32::from(m.y),
                        u32::from(m.width),
                        u32::from(m.height),
                    )
                })
                .collect();
            match PointerMap::new(monitors, u32::from(layout.width), u32::from(layout.height)) {
                Ok(map) => state.translator.set_pointer_map(map),
                Err(e) => warn!(session, error = %e, ?layout, "no pointer mapping for this desktop layout"),
            }
        }
        state.layout = layout;
    }

    async fn send(&mut self, session: SessionId, keymap: (&'static str, &'static str), input: DesktopInput) {
        if let DesktopInput::Key { evdev, pressed } = input {
            // Only what changes the desktop's view of the key goes out.
            let changed = if pressed {
                self.desktop_keys_held.insert(evdev)
            } else {
                self.desktop_keys_held.remove(&evdev)
            };
            if !changed {
                return;
            }
        }
        let result = match &self.backend {
            InputBackend::Mutter(mutter) => send_to_mutter(mutter, input).await,
            InputBackend::Portal(portal) => send_to_portal(portal, input).await,
            InputBackend::Wlroots(virtual_input, monitor_places) => {
                let mut result = Ok(());
                if matches!(input, DesktopInput::Key { .. } | DesktopInput::Keysym { .. })
                    && keymap != self.loaded_keymap
                {
                    info!(
                        session,
                        layout = keymap.0,
                        variant = keymap.1,
                        "loading the client's keyboard layout"
                    );
                    result = virtual_input
                        .send(VirtualInputCommand::SetKeymap {
                            layout: keymap.0.to_owned(),
                            variant: keymap.1.to_owned(),
                        })
                        .map_err(|e| e.to_string());
                    if result.is_ok() {
                        self.loaded_keymap = keymap;
                    }
                }
                match result {
                    Ok(()) => send_to_wlroots(virtual_input, monitor_places, &self.bus, input),
                    Err(e) => Err(e),
                }
            }
        };
        if let Err(error) = result {
            if self.backend_lost {
                debug!(session, ?input, %error, "input not delivered");
            } else {
                warn!(session, ?input, %error, "the desktop did not take this input");
                if matches!(&self.backend, InputBackend::Wlroots(v, _) if v.error().is_some()) {
                    self.backend_lost = true;
                }
            }
        }
    }

    /// Releases every key and button of every session (shutdown).
    async fn release_everything(&mut self) {
        let sessions: Vec<SessionId> = self.sessions.keys().copied().collect();
        for session in sessions {
            self.handle(SessionInput::Closed { session }).await;
        }
    }
}

async fn send_to_mutter(mutter: &MutterInput, input: DesktopInput) -> Result<(), String> {
    let result = match input {
        DesktopInput::Key { evdev, pressed } => mutter.keyboard_keycode(evdev, pressed).await,
        DesktopInput::Keysym { keysym, pressed } => mutter.keyboard_keysym(keysym, pressed).await,
        DesktopInput::PointerAbsolute { monitor, x, y } => {
            mutter.pointer_motion_absolute(monitor, x, y).await
        }
        DesktopInput::PointerRelative { dx, dy } => mutter.pointer_motion_relative(dx, dy).await,
        DesktopInput::Button {
            evdev_button,
            pressed,
        } => {
            let button = i32::try_from(evdev_button)
                .map_err(|_| format!("button code {evdev_button} out of range"))?;
            mutter.pointer_button(button, pressed).await
        }
        DesktopInput::Axis {
            axis,
            value,
            discrete,
        } => {
            if discrete != 0 {
                let axis = match axis {
                    Axis::Vertical => ScrollAxis::Vertical,
                    Axis::Horizontal => ScrollAxis::Horizontal,
                };
                mutter.pointer_axis_discrete(axis, discrete).await
            } else {
                // A part of a notch (high-resolution wheels): Mutter's smooth scroll counts
                // 10.0 per step where wl_pointer counts 15.0.
                let steps = value / wrd_input::WHEEL_NOTCH_VALUE * MUTTER_AXIS_PER_STEP;
                let (dx, dy) = match axis {
                    Axis::Vertical => (0.0, steps),
                    Axis::Horizontal => (steps, 0.0),
                };
                mutter.pointer_axis(dx, dy, wrd_mutter::AXIS_SOURCE_WHEEL).await
            }
        }
    };
    result.map_err(|e| e.to_string())
}

/// Mutter's smooth-scroll distance of one wheel step.
const MUTTER_AXIS_PER_STEP: f64 = 10.0;

async fn send_to_portal(portal: &PortalInput, input: DesktopInput) -> Result<(), String> {
    let result = match input {
        DesktopInput::Key { evdev, pressed } => portal.keyboard_keycode(evdev, pressed).await,
        DesktopInput::Keysym { keysym, pressed } => portal.keyboard_keysym(keysym, pressed).await,
        DesktopInput::PointerAbsolute { monitor, x, y } => {
            portal.pointer_motion_absolute(monitor, x, y).await
        }
        DesktopInput::PointerRelative { dx, dy } => portal.pointer_motion_relative(dx, dy).await,
        DesktopInput::Button {
            evdev_button,
            pressed,
        } => portal.pointer_button(evdev_button, pressed).await,
        DesktopInput::Axis {
            axis,
            value,
            discrete,
        } => {
            if discrete != 0 {
                let axis = match axis {
                    Axis::Vertical => wrd_portal::ScrollAxis::Vertical,
                    Axis::Horizontal => wrd_portal::ScrollAxis::Horizontal,
                };
                portal.pointer_axis_discrete(axis, discrete).await
            } else {
                // A part of a notch (high-resolution wheels), as smooth scrolling. An RDP wheel
                // event is complete in itself (no "fingers still down" follows), so each one
                // is a whole scroll: `finish` ends it, and the desktop does not wait for more.
                // The portal passes the distance to the compositor as it is: Mutter's scale
                // (xdg-desktop-portal-gnome, the RemoteDesktop portal we test against).
                let steps = value / wrd_input::WHEEL_NOTCH_VALUE * MUTTER_AXIS_PER_STEP;
                let (dx, dy) = match axis {
                    Axis::Vertical => (0.0, steps),
                    Axis::Horizontal => (steps, 0.0),
                };
                portal.pointer_axis(dx, dy, true).await
            }
        }
    };
    result.map_err(|e| e.to_string())
}

fn send_to_wlroots(
    virtual_input: &VirtualInput,
    monitor_places: &[Option<(i32, i32)>],
    bus: &FrameBus,
    input: DesktopInput,
) -> Result<(), String> {
    let command = match input {
        DesktopInput::Key { evdev, pressed } => VirtualInputCommand::Key { evdev, pressed },
        DesktopInput::Keysym { keysym, pressed } => VirtualInputCommand::Keysym { keysym, pressed },
        DesktopInput::PointerAbsolute { monitor, x, y } => {
            let layout = bus.layout().ok_or("no desktop layout yet")?;
            let area = layout
                .monitors
                .get(monitor)
                .ok_or_else(|| format!("monitor {monitor} is not in the layout"))?;
            match monitor_places.get(monitor).copied().flatten() {
                // The capture said where its monitor is: the position lands on that output,
                // whatever other outputs the compositor has (xdg-desktop-portal-wlr casts
                // one output of several).
                Some(output_at) if monitor_places.len() == layout.monitors.len() => {
                    VirtualInputCommand::PointerOnOutput {
                        output_at,
                        x: pixel(x),
                        y: pixel(y),
                        extent_w: u32::from(area.width),
                        extent_h: u32::from(area.height),
                    }
                }
                // Otherwise the desktop we capture is taken for the whole output layout,
                // which wlroots maps absolute positions onto.
                _ => VirtualInputCommand::PointerAbsolute {
                    x: u32::from(area.x) + pixel(x),
                    y: u32::from(area.y) + pixel(y),
                    extent_w: u32::from(layout.width),
                    extent_h: u32::from(layout.height),
                },
            }
        }
        DesktopInput::PointerRelative { dx, dy } => VirtualInputCommand::PointerRelative { dx, dy },
        DesktopInput::Button {
            evdev_button,
            pressed,
        } => VirtualInputCommand::Button {
            button: evdev_button,
            pressed,
        },
        DesktopInput::Axis {
            axis,
            value,
            discrete,
        } => VirtualInputCommand::Axis {
            horizontal: axis == Axis::Horizontal,
            value,
            discrete,
        },
    };
    trace!(?command, "to the wlroots virtual devices");
    virtual_input.send(command).map_err(|e| e.to_string())
}

/// A position within a monitor (the translator keeps it inside) as a whole pixel.
fn pixel(v: f64) -> u32 {
    // Clamped to 0..=u16::MAX first, so the conversion is exact.
    let clamped = v.round().clamp(0.0, f64::from(u16::MAX));
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let whole = clamped as u32;
    whole
}

/// The test pattern's input: every key or button going down at any client (a Unicode key
/// included) is one press for the pattern's echo box. Runs until every session's sender and
/// the pattern are gone.
pub async fn echo_presses(
    mut inputs: mpsc::UnboundedReceiver<SessionInput>,
    presses: mpsc::UnboundedSender<()>,
) {
    while let Some(input) = inputs.recv().await {
        let SessionInput::Input { event, .. } = input else {
            continue;
        };
        let pressed = matches!(
            event,
            wrd_rdp::ClientInput::Key { pressed: true, .. }
                | wrd_rdp::ClientInput::Unicode { pressed: true, .. }
                | wrd_rdp::ClientInput::Button { pressed: true, .. }
        );
        if pressed && presses.send(()).is_err() {
            debug!("the test pattern stopped: no more presses to answer");
            return;
        }
    }
}
