//! Client input, translated out of IronRDP's types into our own closed enum, and forwarded
//! in order to whoever drives the desktop. Nothing is dropped: the channel is unbounded
//! (input arrives at human rates) and a session without an input backend says so in its log.

use std::net::SocketAddr;
use std::sync::Arc;

use ironrdp_server::{KeyboardEvent, MouseEvent, RdpServerInputHandler};
use tokio::sync::mpsc;
use tracing::{debug, info};

use crate::display::ClientPointer;

/// Identifies one client connection for the lifetime of the process.
pub type SessionId = u64;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MouseButton {
    Left,
    Right,
    Middle,
    /// "Back" (X1).
    Button4,
    /// "Forward" (X2).
    Button5,
}

/// One input event from an RDP client, in RDP's own terms (scancodes, wheel units); mapping to
/// the desktop's terms is the input backend's job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputEvent {
    /// Scancode set 1; `extended` is the E0 prefix.
    Key {
        scancode: u8,
        extended: bool,
        pressed: bool,
    },
    /// A UTF-16 code unit typed without a scancode (mobile and web clients).
    Unicode {
        code_unit: u16,
        pressed: bool,
    },
    /// The client's lock-key state, sent on focus and connect.
    SyncLocks {
        caps: bool,
        num: bool,
        scroll: bool,
        kana: bool,
    },
    /// Absolute position in desktop pixels.
    PointerMove {
        x: u16,
        y: u16,
    },
    PointerMoveRelative {
        dx: i32,
        dy: i32,
    },
    Button {
        button: MouseButton,
        pressed: bool,
    },
    /// Wheel rotation in RDP units (120 per notch); positive is away from the user.
    WheelVertical {
        units: i16,
    },
    /// Smooth scroll from the input DVC, in RDP units.
    Scroll {
        dx: i32,
        dy: i32,
    },
}

/// An input event and the session it came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionInput {
    pub session: SessionId,
    pub event: InputEvent,
}

/// Where a session's input goes.
#[derive(Debug, Clone)]
pub enum InputRoute {
    /// Forward to the desktop's input backend.
    Forward(mpsc::UnboundedSender<SessionInput>),
    /// No backend (view-only session, or a source that has no input, like the test pattern):
    /// the first event is logged with this reason, the rest are counted.
    Ignore { reason: &'static str },
}

/// The [`RdpServerInputHandler`] of one session.
#[derive(Debug)]
pub(crate) struct SessionInputHandler {
    session: SessionId,
    peer: SocketAddr,
    route: InputRoute,
    ignored: u64,
    client_pointer: Arc<ClientPointer>,
}

impl SessionInputHandler {
    pub(crate) fn new(
        session: SessionId,
        peer: SocketAddr,
        route: InputRoute,
        client_pointer: Arc<ClientPointer>,
    ) -> Self {
        Self {
            session,
            peer,
            route,
            ignored: 0,
            client_pointer,
        }
    }

    fn deliver(&mut self, event: InputEvent) {
        match &self.route {
            InputRoute::Forward(tx) => {
                if tx
                    .send(SessionInput {
                        session: self.session,
                        event,
                    })
                    .is_err()
                {
                    // The backend is gone (shutting down); say so once per session.
                    self.route = InputRoute::Ignore {
                        reason: "the input backend has stopped",
                    };
                    self.ignore(event);
                }
            }
            InputRoute::Ignore { .. } => self.ignore(event),
        }
    }

    fn ignore(&mut self, event: InputEvent) {
        self.ignored += 1;
        if self.ignored == 1
            && let InputRoute::Ignore { reason } = &self.route
        {
            info!(peer = %self.peer, ?event, "input from this client is ignored: {reason}");
        }
    }
}

impl Drop for SessionInputHandler {
    fn drop(&mut self) {
        if self.ignored > 0 {
            debug!(peer = %self.peer, ignored = self.ignored, "input events ignored in this session");
        }
    }
}

impl RdpServerInputHandler for SessionInputHandler {
    fn keyboard(&mut self, event: KeyboardEvent) {
        let event = match event {
            KeyboardEvent::Pressed { code, extended } => InputEvent::Key {
                scancode: code,
                extended,
                pressed: true,
            },
            KeyboardEvent::Released { code, extended } => InputEvent::Key {
                scancode: code,
                extended,
                pressed: false,
            },
            KeyboardEvent::UnicodePressed(code_unit) => InputEvent::Unicode {
                code_unit,
                pressed: true,
            },
            KeyboardEvent::UnicodeReleased(code_unit) => InputEvent::Unicode {
                code_unit,
                pressed: false,
            },
            KeyboardEvent::Synchronize(flags) => {
                use ironrdp_pdu::input::fast_path::SynchronizeFlags as F;
                InputEvent::SyncLocks {
                    caps: flags.contains(F::CAPS_LOCK),
                    num: flags.contains(F::NUM_LOCK),
                    scroll: flags.contains(F::SCROLL_LOCK),
                    kana: flags.contains(F::KANA_LOCK),
                }
            }
        };
        self.deliver(event);
    }

    fn mouse(&mut self, event: MouseEvent) {
        let button = |button, pressed| InputEvent::Button { button, pressed };
        let event = match event {
            MouseEvent::Move { x, y } => {
                self.client_pointer.moved_to(x, y);
                InputEvent::PointerMove { x, y }
            }
            MouseEvent::RelMove { x, y } => InputEvent::PointerMoveRelative { dx: x, dy: y },
            MouseEvent::LeftPressed => button(MouseButton::Left, true),
            MouseEvent::LeftReleased => button(MouseButton::Left, false),
            MouseEvent::RightPressed => button(MouseButton::Right, true),
            MouseEvent::RightReleased => button(MouseButton::Right, false),
            MouseEvent::MiddlePressed => button(MouseButton::Middle, true),
            MouseEvent::MiddleReleased => button(MouseButton::Middle, false),
            MouseEvent::Button4Pressed => button(MouseButton::Button4, true),
            MouseEvent::Button4Released => button(MouseButton::Button4, false),
            MouseEvent::Button5Pressed => button(MouseButton::Button5, true),
            MouseEvent::Button5Released => button(MouseButton::Button5, false),
            MouseEvent::VerticalScroll { value } => InputEvent::WheelVertical { units: value },
            MouseEvent::Scroll { x, y } => InputEvent::Scroll { dx: x, dy: y },
        };
        self.deliver(event);
    }
}
