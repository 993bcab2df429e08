//! Input for wlroots compositors (sway, Wayfire, river, labwc, Hyprland) without a portal:
//! `zwlr_virtual_pointer_v1` and one persistent `zwp_virtual_keyboard_v1` for the session.
//!
//! Wayland objects are not `Send`, so one thread (`wayland-input`) owns the connection, the seat,
//! the virtual pointer and the virtual keyboard with its xkb state ([`crate::keyboard`]).
//! [`VirtualInput`] is the `Send` handle: commands ([`VirtualInputCommand`], in primitive evdev
//! and keysym terms) go over a `std::sync::mpsc` channel and an eventfd wakes the thread, which
//! sleeps in `poll(2)` on the Wayland socket and that eventfd together: it runs only when a
//! command or a compositor event arrives. Commands queued before the connection is up, or
//! before the keymap is uploaded, wait in the channel and run in order once it is.
//!
//! How the compositor maps positions: `motion_absolute(x, y, x_extent, y_extent)` is the
//! fraction `x / x_extent` of the *whole output layout's* bounding box in wlroots
//! (`wlr_cursor_warp_absolute` with a device that is not mapped to an output), so on sway a
//! pointer at `(x, y)` within `extent_w × extent_h` lands at `layout.x + x / extent_w *
//! layout.width`. A caller whose desktop picture is the whole layout (every monitor at its
//! place) passes the picture's size as the extent and picture coordinates as the position.
//! A caller that captures one output of several (xdg-desktop-portal-wlr casts one) names the
//! output by its place in the layout ([`VirtualInputCommand::PointerOnOutput`]): the thread
//! knows every output's logical place and size (`zxdg_output_v1`, kept up to date as outputs
//! come and go) and maps the position onto that output alone.
//!
//! Scrolling: `value` is in `wl_pointer.axis` units (a wheel notch is 15 on libinput
//! desktops), positive is down or right; `discrete` is the number of notches (0 for smooth
//! scrolling).

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write as _;
use std::os::fd::{AsFd as _, AsRawFd as _, FromRawFd as _};
use std::path::PathBuf;
use std::sync::mpsc::{self, TryRecvError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tokio::sync::{oneshot, watch};
use wayland_client::globals::{BindError, GlobalListContents, registry_queue_init};
use wayland_client::protocol::wl_pointer::{Axis, AxisSource, ButtonState};
use wayland_client::protocol::{wl_callback, wl_output, wl_registry, wl_seat};
use wayland_client::{Connection, Dispatch, Proxy as _, QueueHandle, WEnum, delegate_noop};
use wayland_protocols::xdg::xdg_output::zv1::client::{
    zxdg_output_manager_v1::ZxdgOutputManagerV1,
    zxdg_output_v1::{self, ZxdgOutputV1},
};
use wayland_protocols_misc::zwp_virtual_keyboard_v1::client::{
    zwp_virtual_keyboard_manager_v1::ZwpVirtualKeyboardManagerV1,
    zwp_virtual_keyboard_v1::ZwpVirtualKeyboardV1,
};
use wayland_protocols_wlr::virtual_pointer::v1::client::{
    zwlr_virtual_pointer_manager_v1::ZwlrVirtualPointerManagerV1,
    zwlr_virtual_pointer_v1::ZwlrVirtualPointerV1,
};

use crate::keyboard::{KeyboardAction, KeyboardModel, KeymapNames};
use crate::wake::{Waker, flush_and_wait};
use crate::{VIRTUAL_KEYBOARD, VIRTUAL_POINTER, WaylandProbe};

/// `wl_keyboard.keymap_format.xkb_v1`.
const KEYMAP_FORMAT_XKB_V1: u32 = 1;
/// Pointer buttons are evdev codes from `BTN_MISC` (0x100) to `KEY_MAX`; `BTN_LEFT` is 0x110.
const BUTTON_MIN: u32 = 0x100;
/// How long dropping or stopping the handle waits for the thread.
const STOP_TIMEOUT: Duration = Duration::from_secs(2);

/// One input event, in the terms the compositor takes.
#[derive(Debug, Clone, PartialEq)]
pub enum VirtualInputCommand {
    /// A key by its evdev code (`KEY_A` = 30), typed with the session's keymap.
    Key {
        evdev: u32,
        pressed: bool,
    },
    /// A keysym (`0x61` = `a`, `0x20ac` = `€`, `0x100_1f600` = 😀), wherever the keymap has
    /// it (with the Shift/AltGr level it needs), or on a key added to the keymap for it.
    Keysym {
        keysym: u32,
        pressed: bool,
    },
    /// A position within `extent_w × extent_h`, mapped onto the whole output layout.
    PointerAbsolute {
        x: u32,
        y: u32,
        extent_w: u32,
        extent_h: u32,
    },
    /// A position within `extent_w × extent_h`, mapped onto the one output whose top-left
    /// corner is at `output_at` in the compositor's layout (logical coordinates, as a screen
    /// cast reports its monitor's position), whatever other outputs there are. With no output
    /// there (or no xdg-output), it is mapped onto the whole layout as `PointerAbsolute` is,
    /// and that is logged once.
    PointerOnOutput {
        output_at: (i32, i32),
        x: u32,
        y: u32,
        extent_w: u32,
        extent_h: u32,
    },
    PointerRelative {
        dx: f64,
        dy: f64,
    },
    /// A button by its evdev code (`BTN_LEFT` = 0x110, `BTN_RIGHT` 0x111, `BTN_MIDDLE` 0x112,
    /// `BTN_SIDE` 0x113, `BTN_EXTRA` 0x114).
    Button {
        button: u32,
        pressed: bool,
    },
    /// A wheel turn: `value` in `wl_pointer` axis units (positive: down/right), `discrete`
    /// notches (0: smooth).
    Axis {
        horizontal: bool,
        value: f64,
        discrete: i32,
    },
    /// Recompiles the keymap from an xkb layout and variant (`de`, `nodeadkeys`); keys still
    /// pressed are released first.
    SetKeymap {
        layout: String,
        variant: String,
    },
    /// Releases every key and button still pressed (a client disconnected).
    ReleaseAll,
}

/// Which compositor to connect to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WaylandSocket {
    /// `$WAYLAND_DISPLAY` (or `$WAYLAND_SOCKET`) in `$XDG_RUNTIME_DIR`, as every client does.
    Environment,
    /// A socket by its path.
    Path(PathBuf),
}

impl std::fmt::Display for WaylandSocket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Environment => match std::env::var("WAYLAND_DISPLAY") {
                Ok(display) if !display.is_empty() => write!(f, "WAYLAND_DISPLAY={display}"),
                _ => f.write_str("WAYLAND_DISPLAY (not set)"),
            },
            Self::Path(path) => write!(f, "{}", path.display()),
        }
    }
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum VirtualInputError {
    #[error("cannot connect to the Wayland compositor at {socket}: {message}")]
    Connect { socket: String, message: String },
    #[error(
        "the compositor offers no {interface}: virtual input needs a wlroots compositor (sway, Wayfire, river, labwc, Hyprland)"
    )]
    MissingGlobal { interface: &'static str },
    #[error("keymap layout {layout:?} variant {variant:?}: {reason}")]
    Keymap {
        layout: String,
        variant: String,
        reason: String,
    },
    #[error("keysym {keysym:#x}: {reason}")]
    Keysym { keysym: u32, reason: String },
    #[error("invalid input command: {0}")]
    InvalidCommand(String),
    #[error("the connection to the Wayland compositor was lost: {0}")]
    ConnectionLost(String),
    #[error("the virtual input thread was stopped")]
    Stopped,
    #[error("cannot start the virtual input thread: {0}")]
    Thread(String),
}

/// Where the thread is, published on a `watch` channel.
#[derive(Debug, Clone)]
enum Status {
    Starting,
    /// Connected, devices created, keymap uploaded.
    Ready,
    Ended(VirtualInputError),
}

enum Request {
    Command {
        command: VirtualInputCommand,
        /// Answered once the compositor has processed the command (a `wl_display.sync` after
        /// it), or at once with the command's error.
        reply: Option<oneshot::Sender<Result<(), VirtualInputError>>>,
    },
    Stop,
}

/// The handle of the virtual input thread (`Send`; dropping it stops and joins the thread).
#[derive(Debug)]
pub struct VirtualInput {
    requests: mpsc::Sender<Request>,
    waker: Arc<Waker>,
    status: watch::Receiver<Status>,
    /// Signalled by the thread as it ends (a mutex only to make the handle `Sync`).
    done: Mutex<mpsc::Receiver<()>>,
    thread: Option<JoinHandle<()>>,
}

impl VirtualInput {
    /// Whether the compositor of `probe` offers both wlroots virtual devices.
    pub fn available(probe: &WaylandProbe) -> bool {
        probe.has_virtual_input()
    }

    /// Starts the thread: it connects, creates the devices and uploads the keymap of `keymap`
    /// while the caller goes on. Commands sent meanwhile are queued; [`Self::ready`] tells how
    /// the start went. Fails only when the thread cannot be created.
    pub fn start(socket: WaylandSocket, keymap: KeymapNames) -> Result<Self, VirtualInputError> {
        let waker = Arc::new(Waker::new().map_err(|e| VirtualInputError::Thread(format!("eventfd: {e}")))?);
        let (requests, inbox) = mpsc::channel();
        let (status_tx, status) = watch::channel(Status::Starting);
        let (done_tx, done) = mpsc::channel();
        let thread_waker = Arc::clone(&waker);
        let thread = std::thread::Builder::new()
            .name("wayland-input".into())
            .spawn(move || {
                let end = match run(&socket, &keymap, &inbox, &thread_waker, &status_tx) {
                    Ok(()) => VirtualInputError::Stopped,
                    Err(e) => {
                        tracing::error!(socket = %socket, "virtual input ended: {e}");
                        e
                    }
                };
                status_tx.send_replace(Status::Ended(end.clone()));
                // Commands that came after the end: answered with the reason.
                while let Ok(request) = inbox.try_recv() {
                    if let Request::Command {
                        reply: Some(reply), ..
                    } = request
                    {
                        let _ = reply.send(Err(end.clone()));
                    }
                }
                let _ = done_tx.send(());
            })
            .map_err(|e| VirtualInputError::Thread(e.to_string()))?;
        Ok(Self {
            requests,
            waker,
            status,
            done: Mutex::new(done),
            thread: Some(thread),
        })
    }

    /// Waits until the devices exist and the keymap is uploaded, or the start failed. A
    /// compositor that accepts the connection and then never answers keeps this waiting (the
    /// start's round trips block the thread): callers bound it with a timeout, and dropping
    /// the handle then leaves the thread behind after 2 s, logged.
    pub async fn ready(&self) -> Result<(), VirtualInputError> {
        let mut status = self.status.clone();
        let outcome = status
            .wait_for(|s| !matches!(s, Status::Starting))
            .await
            .map(|s| s.clone());
        match outcome {
            Ok(Status::Ready) => Ok(()),
            Ok(Status::Ended(e)) => Err(e),
            Ok(Status::Starting) | Err(_) => Err(VirtualInputError::Stopped),
        }
    }

    /// Queues `command` without waiting. Its failure (a keysym that cannot be typed, a keymap
    /// that does not compile) is logged with the command; the thread goes on. Fails only once
    /// the thread has ended, with the reason it ended.
    pub fn send(&self, command: VirtualInputCommand) -> Result<(), VirtualInputError> {
        self.push(Request::Command { command, reply: None })
    }

    /// Queues `command` and returns a future that resolves once the compositor has processed
    /// it, or with the command's error (or the thread's end). The command is queued now,
    /// whether or not the future is awaited.
    pub fn execute(
        &self,
        command: VirtualInputCommand,
    ) -> impl Future<Output = Result<(), VirtualInputError>> + Send + 'static {
        let (reply, answer) = oneshot::channel();
        let queued = self.push(Request::Command {
            command,
            reply: Some(reply),
        });
        let status = self.status.clone();
        async move {
            queued?;
            match answer.await {
                Ok(result) => result,
                // The thread ended with the command still queued or in flight.
                Err(_) => Err(ended_reason(&status)),
            }
        }
    }

    /// Why the thread ended, if it did.
    pub fn error(&self) -> Option<VirtualInputError> {
        match &*self.status.borrow() {
            Status::Ended(e) => Some(e.clone()),
            _ => None,
        }
    }

    /// Waits until the thread ends (the compositor went away, or it was stopped) and says why.
    pub async fn closed(&self) -> VirtualInputError {
        let mut status = self.status.clone();
        let _ = status.wait_for(|s| matches!(s, Status::Ended(_))).await;
        ended_reason(&status)
    }

    /// Releases whatever is still pressed, destroys the devices and joins the thread (bounded:
    /// past 2 s the thread is left behind and logged). `Ok` when it was running until now,
    /// else the reason it had ended.
    pub fn stop(mut self) -> Result<(), VirtualInputError> {
        let earlier = self.error();
        self.shutdown();
        match earlier {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    fn push(&self, request: Request) -> Result<(), VirtualInputError> {
        if let Some(e) = self.error() {
            return Err(e);
        }
        self.requests
            .send(request)
            .map_err(|_| ended_reason(&self.status))?;
        self.waker.wake();
        Ok(())
    }

    fn shutdown(&mut self) {
        let Some(thread) = self.thread.take() else {
            return;
        };
        if self.requests.send(Request::Stop).is_ok() {
            self.waker.wake();
        }
        let ended = match self.done.get_mut() {
            Ok(done) => done.recv_timeout(STOP_TIMEOUT),
            Err(poisoned) => poisoned.into_inner().recv_timeout(STOP_TIMEOUT),
        };
        match ended {
            Ok(()) | Err(mpsc::RecvTimeoutError::Disconnected) => {
                if thread.join().is_err() {
                    tracing::error!("the virtual input thread panicked");
                }
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {
                tracing::error!("the virtual input thread did not stop within {STOP_TIMEOUT:?}; left behind");
            }
        }
    }
}

impl Drop for VirtualInput {
    fn drop(&mut self) {
        self.shutdown();
    }
}

fn ended_reason(status: &watch::Receiver<Status>) -> VirtualInputError {
    match &*status.borrow() {
        Status::Ended(e) => e.clone(),
        _ => VirtualInputError::Stopped,
    }
}

/// The thread's dispatch state: the seat's capabilities and the `wl_display.sync` answers.
#[derive(Default)]
struct Dispatcher {
    seat_has_keyboard: bool,
    /// Present when the compositor has xdg-output (every wlroots compositor does).
    output_manager: Option<ZxdgOutputManagerV1>,
    /// The outputs by their registry name.
    outputs: BTreeMap<u32, OutputPlace>,
}

/// One output and where it sits in the layout (logical coordinates, from xdg-output).
struct OutputPlace {
    output: wl_output::WlOutput,
    xdg: Option<ZxdgOutputV1>,
    position: Option<(i32, i32)>,
    size: Option<(i32, i32)>,
}

impl Dispatcher {
    fn add_output(
        &mut self,
        registry: &wl_registry::WlRegistry,
        name: u32,
        version: u32,
        qh: &QueueHandle<Self>,
    ) {
        let output: wl_output::WlOutput = registry.bind(name, version.min(4), qh, ());
        let xdg = self
            .output_manager
            .as_ref()
            .map(|manager| manager.get_xdg_output(&output, qh, name));
        self.outputs.insert(
            name,
            OutputPlace {
                output,
                xdg,
                position: None,
                size: None,
            },
        );
    }

    /// The outputs' places in the layout: (x, y, width, height) of each output that has told.
    fn output_rects(&self) -> Vec<(i32, i32, i32, i32)> {
        self.outputs
            .values()
            .filter_map(|o| match (o.position, o.size) {
                (Some((x, y)), Some((w, h))) if w > 0 && h > 0 => Some((x, y, w, h)),
                _ => None,
            })
            .collect()
    }
}

/// The reply of an [`VirtualInput::execute`], sent when its `wl_display.sync` is done.
struct SyncReply(Mutex<Option<oneshot::Sender<Result<(), VirtualInputError>>>>);

impl Dispatch<wl_callback::WlCallback, SyncReply> for Dispatcher {
    fn event(
        _: &mut Self,
        _: &wl_callback::WlCallback,
        event: wl_callback::Event,
        reply: &SyncReply,
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        if let wl_callback::Event::Done { .. } = event
            && let Some(reply) = reply.0.lock().ok().and_then(|mut r| r.take())
        {
            let _ = reply.send(Ok(()));
        }
    }
}

impl Dispatch<wl_registry::WlRegistry, GlobalListContents> for Dispatcher {
    fn event(
        state: &mut Self,
        registry: &wl_registry::WlRegistry,
        event: wl_registry::Event,
        _: &GlobalListContents,
        _: &Connection,
        qh: &QueueHandle<Self>,
    ) {
        // Outputs come and go (monitors plugged, headless outputs made): their places decide
        // where absolute positions land.
        match event {
            wl_registry::Event::Global {
                name,
                interface,
                version,
            } if interface == wl_output::WlOutput::interface().name => {
                state.add_output(registry, name, version, qh);
            }
            wl_registry::Event::GlobalRemove { name } => {
                if let Some(place) = state.outputs.remove(&name) {
                    if let Some(xdg) = place.xdg {
                        xdg.destroy();
                    }
                    if place.output.version() >= 3 {
                        place.output.release();
                    }
                }
            }
            _ => {}
        }
    }
}

impl Dispatch<ZxdgOutputV1, u32> for Dispatcher {
    fn event(
        state: &mut Self,
        _: &ZxdgOutputV1,
        event: zxdg_output_v1::Event,
        name: &u32,
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        let Some(place) = state.outputs.get_mut(name) else {
            return;
        };
        match event {
            zxdg_output_v1::Event::LogicalPosition { x, y } => place.position = Some((x, y)),
            zxdg_output_v1::Event::LogicalSize { width, height } => place.size = Some((width, height)),
            _ => {}
        }
    }
}

impl Dispatch<wl_seat::WlSeat, ()> for Dispatcher {
    fn event(
        state: &mut Self,
        _: &wl_seat::WlSeat,
        event: wl_seat::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        if let wl_seat::Event::Capabilities {
            capabilities: WEnum::Value(capabilities),
        } = event
        {
            state.seat_has_keyboard = capabilities.contains(wl_seat::Capability::Keyboard);
        }
    }
}

// The virtual devices and their managers have no events; the outputs' own events are not
// needed (xdg-output says where they are).
delegate_noop!(Dispatcher: ignore wl_output::WlOutput);
delegate_noop!(Dispatcher: ignore ZxdgOutputManagerV1);
delegate_noop!(Dispatcher: ignore ZwlrVirtualPointerManagerV1);
delegate_noop!(Dispatcher: ignore ZwlrVirtualPointerV1);
delegate_noop!(Dispatcher: ignore ZwpVirtualKeyboardManagerV1);
delegate_noop!(Dispatcher: ignore ZwpVirtualKeyboardV1);

fn connect(socket: &WaylandSocket) -> Result<Connection, VirtualInputError> {
    let failed = |message: String| VirtualInputError::Connect {
        socket: socket.to_string(),
        message,
    };
    match socket {
        WaylandSocket::Environment => Connection::connect_to_env().map_err(|e| failed(e.to_string())),
        WaylandSocket::Path(path) => {
            let stream = std::os::unix::net::UnixStream::connect(path).map_err(|e| failed(e.to_string()))?;
            Connection::from_socket(stream).map_err(|e| failed(e.to_string()))
        }
    }
}

fn bind_error(interface: &'static str, e: BindError) -> VirtualInputError {
    match e {
        BindError::NotPresent => VirtualInputError::MissingGlobal { interface },
        BindError::UnsupportedVersion => VirtualInputError::MissingGlobal { interface },
    }
}

fn lost(e: impl std::fmt::Display) -> VirtualInputError {
    VirtualInputError::ConnectionLost(e.to_string())
}

/// The thread: set up, then serve commands and compositor events until stopped or cut off.
fn run(
    socket: &WaylandSocket,
    names: &KeymapNames,
    inbox: &mpsc::Receiver<Request>,
    waker: &Waker,
    status: &watch::Sender<Status>,
) -> Result<(), VirtualInputError> {
    let connection = connect(socket)?;
    let (globals, mut queue) = registry_queue_init::<Dispatcher>(&connection).map_err(lost)?;
    let qh = queue.handle();
    let mut dispatcher = Dispatcher::default();
    let seat: wl_seat::WlSeat = globals
        .bind(&qh, 1..=7, ())
        .map_err(|e| bind_error("wl_seat", e))?;
    // The seat's capabilities before our devices exist.
    queue.roundtrip(&mut dispatcher).map_err(lost)?;
    let seat_had_keyboard = dispatcher.seat_has_keyboard;
    let pointer_manager: ZwlrVirtualPointerManagerV1 = globals
        .bind(&qh, 1..=2, ())
        .map_err(|e| bind_error(VIRTUAL_POINTER, e))?;
    let keyboard_manager: ZwpVirtualKeyboardManagerV1 = globals
        .bind(&qh, 1..=1, ())
        .map_err(|e| bind_error(VIRTUAL_KEYBOARD, e))?;
    // Without xdg-output the outputs' places are unknown: positions on one output of several
    // are refused then (positions over the whole layout still work).
    dispatcher.output_manager = globals.bind(&qh, 1..=3, ()).ok();
    let output_interface = wl_output::WlOutput::interface().name;
    for global in globals.contents().clone_list() {
        if global.interface == output_interface {
            dispatcher.add_output(globals.registry(), global.name, global.version, &qh);
        }
    }
    let (model, first_actions) = KeyboardModel::new(names)?;
    let mut devices = Devices {
        pointer: pointer_manager.create_virtual_pointer(Some(&seat), &qh, ()),
        keyboard: keyboard_manager.create_virtual_keyboard(&seat, &qh, ()),
        model,
        buttons: BTreeSet::new(),
        epoch: Instant::now(),
        warned_missing_outputs: BTreeSet::new(),
    };
    devices.apply(first_actions)?;
    // The compositor has the devices and the keymap once this round trip is done (a manager
    // that refuses us, e.g. `unauthorized`, is a protocol error here).
    queue.roundtrip(&mut dispatcher).map_err(lost)?;
    status.send_replace(Status::Ready);
    tracing::info!(socket = %socket, layout = %names.layout, variant = %names.variant, "virtual pointer and keyboard ready");
    if !seat_had_keyboard {
        // A desktop without a keyboard (headless): ours is the seat's first, and applications
        // ask for their wl_keyboard only now. Keys sent in that moment reach nobody; the
        // keyboard lives as long as this handle, so only a session's very first keys can.
        tracing::info!("the seat had no keyboard before this virtual keyboard; applications take it now");
    }

    loop {
        loop {
            match inbox.try_recv() {
                Ok(Request::Command { command, reply }) => match devices.execute(&command, &dispatcher) {
                    Ok(()) => {
                        if let Some(reply) = reply {
                            connection.display().sync(&qh, SyncReply(Mutex::new(Some(reply))));
                        }
                    }
                    Err(e) => {
                        tracing::warn!(?command, "virtual input command failed: {e}");
                        if let Some(reply) = reply {
                            let _ = reply.send(Err(e));
                        }
                    }
                },
                Ok(Request::Stop) | Err(TryRecvError::Disconnected) => {
                    devices.close();
                    pointer_manager.destroy(); // (the keyboard manager has no destructor)
                    // Best effort: the releases go out if the compositor is still there.
                    let _ = connection.flush();
                    return Ok(());
                }
                Err(TryRecvError::Empty) => break,
            }
        }
        // Events first: handling them may make requests (binding a new output), which the
        // flush in `flush_and_wait` must send before we sleep.
        queue.dispatch_pending(&mut dispatcher).map_err(lost)?;
        flush_and_wait(&connection, &mut queue, waker).map_err(VirtualInputError::ConnectionLost)?;
    }
}

/// The virtual devices and what is pressed on them.
struct Devices {
    pointer: ZwlrVirtualPointerV1,
    keyboard: ZwpVirtualKeyboardV1,
    model: KeyboardModel,
    buttons: BTreeSet<u32>,
    epoch: Instant,
    /// Output places asked for that the layout does not have (said once each).
    warned_missing_outputs: BTreeSet<(i32, i32)>,
}

impl Devices {
    /// Milliseconds since the devices were made (the events' timestamps; they wrap as
    /// Wayland's do).
    fn time(&self) -> u32 {
        let ms = self.epoch.elapsed().as_millis() & u128::from(u32::MAX);
        u32::try_from(ms).unwrap_or(0)
    }

    fn execute(
        &mut self,
        command: &VirtualInputCommand,
        outputs: &Dispatcher,
    ) -> Result<(), VirtualInputError> {
        match command {
            VirtualInputCommand::Key { evdev, pressed } => {
                let actions = self.model.key(*evdev, *pressed)?;
                self.apply(actions)
            }
            VirtualInputCommand::Keysym { keysym, pressed } => {
                let actions = self.model.keysym(*keysym, *pressed)?;
                self.apply(actions)
            }
            VirtualInputCommand::SetKeymap { layout, variant } => {
                let actions = self
                    .model
                    .set_keymap(&KeymapNames::new(layout.clone(), variant.clone()))?;
                self.apply(actions)
            }
            VirtualInputCommand::PointerAbsolute {
                x,
                y,
                extent_w,
                extent_h,
            } => {
                if *extent_w == 0 || *extent_h == 0 || x > extent_w || y > extent_h {
                    return Err(VirtualInputError::InvalidCommand(format!(
                        "pointer position ({x}, {y}) outside its extent {extent_w}x{extent_h}"
                    )));
                }
                self.pointer
                    .motion_absolute(self.time(), *x, *y, *extent_w, *extent_h);
                self.pointer.frame();
                Ok(())
            }
            VirtualInputCommand::PointerOnOutput {
                output_at,
                x,
                y,
                extent_w,
                extent_h,
            } => {
                let rects = outputs.output_rects();
                let Some(target) = rects.iter().find(|r| (r.0, r.1) == *output_at) else {
                    if self.warned_missing_outputs.insert(*output_at) {
                        tracing::warn!(
                            ?output_at,
                            outputs = ?rects,
                            "no output at this place in the layout: pointer positions span the whole layout"
                        );
                    }
                    return self.execute(
                        &VirtualInputCommand::PointerAbsolute {
                            x: *x,
                            y: *y,
                            extent_w: *extent_w,
                            extent_h: *extent_h,
                        },
                        outputs,
                    );
                };
                let (lx, ly) = place_on_output(*target, (*x, *y), (*extent_w, *extent_h))?;
                let (bx, by, bw, bh) = bounding_box(&rects);
                tracing::trace!(?rects, at = ?(lx, ly), "pointer position on one output");
                // Integer layout coordinates over the layout's own size: wlroots lands the
                // pointer on exactly that logical pixel.
                let rel = |v: i32, origin: i32| u32::try_from(i64::from(v) - i64::from(origin)).unwrap_or(0);
                self.pointer
                    .motion_absolute(self.time(), rel(lx, bx), rel(ly, by), bw, bh);
                self.pointer.frame();
                Ok(())
            }
            VirtualInputCommand::PointerRelative { dx, dy } => {
                if !dx.is_finite() || !dy.is_finite() {
                    return Err(VirtualInputError::InvalidCommand(format!(
                        "relative motion ({dx}, {dy}) is not finite"
                    )));
                }
                self.pointer.motion(self.time(), *dx, *dy);
                self.pointer.frame();
                Ok(())
            }
            VirtualInputCommand::Button { button, pressed } => {
                if !(BUTTON_MIN..=crate::keyboard::EVDEV_KEY_MAX).contains(button) {
                    return Err(VirtualInputError::InvalidCommand(format!(
                        "{button:#x} is not a button code (BTN_LEFT is 0x110)"
                    )));
                }
                // Like keys: a repeated press or a release of a button that is up sends nothing.
                let changed = if *pressed {
                    self.buttons.insert(*button)
                } else {
                    self.buttons.remove(button)
                };
                if changed {
                    let state = if *pressed {
                        ButtonState::Pressed
                    } else {
                        ButtonState::Released
                    };
                    self.pointer.button(self.time(), *button, state);
                    self.pointer.frame();
                }
                Ok(())
            }
            VirtualInputCommand::Axis {
                horizontal,
                value,
                discrete,
            } => {
                if !value.is_finite() {
                    return Err(VirtualInputError::InvalidCommand(format!(
                        "scroll value {value} is not finite"
                    )));
                }
                let axis = if *horizontal {
                    Axis::HorizontalScroll
                } else {
                    Axis::VerticalScroll
                };
                let time = self.time();
                self.pointer.axis_source(AxisSource::Wheel);
                if *discrete != 0 {
                    // axis_discrete carries the value too: wlroots takes both from it.
                    self.pointer.axis_discrete(time, axis, *value, *discrete);
                } else {
                    self.pointer.axis(time, axis, *value);
                }
                self.pointer.frame();
                Ok(())
            }
            VirtualInputCommand::ReleaseAll => {
                let actions = self.model.release_all();
                self.apply(actions)?;
                let buttons = std::mem::take(&mut self.buttons);
                for button in buttons {
                    self.pointer.button(self.time(), button, ButtonState::Released);
                }
                self.pointer.frame();
                Ok(())
            }
        }
    }

    fn apply(&mut self, actions: Vec<KeyboardAction>) -> Result<(), VirtualInputError> {
        for action in actions {
            match action {
                KeyboardAction::Keymap(text) => {
                    let (file, size) = keymap_file(&text)?;
                    self.keyboard.keymap(KEYMAP_FORMAT_XKB_V1, file.as_fd(), size);
                }
                KeyboardAction::Key { evdev, pressed } => {
                    // wl_keyboard.key_state: 1 pressed, 0 released.
                    self.keyboard.key(self.time(), evdev, u32::from(pressed));
                }
                KeyboardAction::Modifiers(m) => {
                    self.keyboard.modifiers(m.depressed, m.latched, m.locked, m.group);
                }
            }
        }
        Ok(())
    }

    /// Releases what is still pressed and destroys the devices (a keyboard destroyed with
    /// keys down could leave them down in clients).
    fn close(&mut self) {
        if let Err(e) = self.execute(&VirtualInputCommand::ReleaseAll, &Dispatcher::default()) {
            tracing::warn!("releasing the keys on stop: {e}");
        }
        self.keyboard.destroy();
        self.pointer.destroy();
    }
}

/// The keymap in a sealed memfd, NUL-terminated as the compositor reads it (wlroots hands the
/// mapping to `xkb_keymap_new_from_string`).
/// The logical layout point for position `(x, y)` within `extent` on an output at `rect`
/// (x, y, width, height), inside the output.
fn place_on_output(
    rect: (i32, i32, i32, i32),
    (x, y): (u32, u32),
    (extent_w, extent_h): (u32, u32),
) -> Result<(i32, i32), VirtualInputError> {
    if extent_w == 0 || extent_h == 0 || x > extent_w || y > extent_h {
        return Err(VirtualInputError::InvalidCommand(format!(
            "pointer position ({x}, {y}) outside its extent {extent_w}x{extent_h}"
        )));
    }
    let (ox, oy, ow, oh) = rect;
    let along = |v: u32, extent: u32, origin: i32, size: i32| {
        let offset = (f64::from(v) * f64::from(size) / f64::from(extent)).floor();
        // The far edge (v == extent) is the output's last pixel, not the next output's first.
        let offset = offset.min(f64::from(size - 1)).max(0.0);
        // In range: 0 ≤ offset < size ≤ i32::MAX.
        #[allow(clippy::cast_possible_truncation)]
        let offset = offset as i32;
        origin.saturating_add(offset)
    };
    Ok((along(x, extent_w, ox, ow), along(y, extent_h, oy, oh)))
}

/// The bounding box of the outputs (x, y, width, height); width and height at least 1.
fn bounding_box(rects: &[(i32, i32, i32, i32)]) -> (i32, i32, u32, u32) {
    let x0 = rects.iter().map(|r| r.0).min().unwrap_or(0);
    let y0 = rects.iter().map(|r| r.1).min().unwrap_or(0);
    let x1 = rects
        .iter()
        .map(|r| i64::from(r.0) + i64::from(r.2))
        .max()
        .unwrap_or(1);
    let y1 = rects
        .iter()
        .map(|r| i64::from(r.1) + i64::from(r.3))
        .max()
        .unwrap_or(1);
    let side = |a: i64, b: i32| u32::try_from(a - i64::from(b)).unwrap_or(1).max(1);
    (x0, y0, side(x1, x0), side(y1, y0))
}

fn keymap_file(text: &str) -> Result<(std::fs::File, u32), VirtualInputError> {
    let failed = |e: std::io::Error| VirtualInputError::Keymap {
        layout: String::new(),
        variant: String::new(),
        reason: format!("cannot write the keymap to a memfd: {e}"),
    };
    // SAFETY: the name is a NUL-terminated literal; the result is checked.
    let fd = unsafe {
        libc::memfd_create(
            c"wrd-keymap".as_ptr(),
            libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING,
        )
    };
    if fd < 0 {
        return Err(failed(std::io::Error::last_os_error()));
    }
    // SAFETY: fd is a freshly created descriptor nobody else owns.
    let mut file = unsafe { std::fs::File::from_raw_fd(fd) };
    file.write_all(text.as_bytes()).map_err(failed)?;
    file.write_all(&[0]).map_err(failed)?;
    // The compositor maps it: sealed, it cannot change or shrink under the mapping.
    let seals = libc::F_SEAL_SHRINK | libc::F_SEAL_GROW | libc::F_SEAL_WRITE | libc::F_SEAL_SEAL;
    // SAFETY: fcntl on our own memfd with a plain integer argument.
    if unsafe { libc::fcntl(file.as_raw_fd(), libc::F_ADD_SEALS, seals) } < 0 {
        return Err(failed(std::io::Error::last_os_error()));
    }
    let size = u32::try_from(text.len() + 1).map_err(|_| VirtualInputError::Keymap {
        layout: String::new(),
        variant: String::new(),
        reason: "the keymap is larger than 4 GiB".into(),
    })?;
    Ok((file, size))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    fn block_on<F: Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(f)
    }

    #[test]
    fn the_handle_is_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<VirtualInput>();
    }

    #[test]
    fn a_missing_socket_is_reported_with_its_path_and_commands_fail_with_it() {
        let input = VirtualInput::start(
            WaylandSocket::Path("/nonexistent/wayland-9".into()),
            KeymapNames::default(),
        )
        .unwrap();
        let err = block_on(input.ready()).unwrap_err();
        assert!(
            matches!(&err, VirtualInputError::Connect { socket, .. } if socket.contains("/nonexistent/wayland-9")),
            "{err}"
        );
        let err = block_on(input.execute(VirtualInputCommand::ReleaseAll)).unwrap_err();
        assert!(matches!(err, VirtualInputError::Connect { .. }), "{err}");
        assert!(input.send(VirtualInputCommand::ReleaseAll).is_err());
        assert!(matches!(
            block_on(input.closed()),
            VirtualInputError::Connect { .. }
        ));
        assert!(input.stop().is_err());
    }

    #[test]
    fn the_keymap_file_is_the_text_and_a_nul() {
        use std::io::{Read as _, Seek as _};
        let (mut file, size) = keymap_file("xkb_keymap {};").unwrap();
        assert_eq!(size, 15);
        file.rewind().unwrap();
        let mut back = Vec::new();
        file.read_to_end(&mut back).unwrap();
        assert_eq!(back, b"xkb_keymap {};\0");
    }

    #[test]
    fn positions_land_on_the_named_output_within_the_layout() {
        // Two outputs side by side, the second scaled (a 2560x1440 picture, 1280x720 logical).
        let first = (0, 0, 1024, 768);
        let second = (1024, 0, 1280, 720);
        assert_eq!(bounding_box(&[first, second]), (0, 0, 2304, 768));
        assert_eq!(
            place_on_output(first, (512, 384), (1024, 768)).unwrap(),
            (512, 384)
        );
        assert_eq!(
            place_on_output(second, (1280, 720), (2560, 1440)).unwrap(),
            (1664, 360)
        );
        // The far edge is the output's last pixel, not the neighbour's first.
        assert_eq!(
            place_on_output(first, (1024, 768), (1024, 768)).unwrap(),
            (1023, 767)
        );
        // Outputs left of and above the origin.
        assert_eq!(
            bounding_box(&[(-800, -600, 800, 600), first]),
            (-800, -600, 1824, 1368)
        );
        assert!(place_on_output(first, (1025, 0), (1024, 768)).is_err());
        assert!(place_on_output(first, (0, 0), (0, 768)).is_err());
        assert_eq!(bounding_box(&[]), (0, 0, 1, 1));
    }
}
