//! Client input, translated out of IronRDP's types into wrd-input's [`ClientInput`], and
//! forwarded in order to whoever drives the desktop. Nothing is dropped: the channel is unbounded
//! (input arrives at human rates) and a session without an input backend says so in its log.

use std::net::SocketAddr;
use std::sync::Arc;

use ironrdp_server::{KeyboardEvent, MouseEvent, RdpServerInputHandler};
use tokio::sync::mpsc;
use tracing::{debug, info};

use crate::display::ClientPointer;

pub use wrd_input::{ClientInput, MouseButton};

/// Identifies one client connection for the lifetime of the process.
pub type SessionId = u64;

/// One message to whoever drives the desktop: a session's input, in order, framed by the
/// session's start and end (so the backend can pick the client's keymap and, at the end,
/// release whatever the client still held).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionInput {
    /// The session is active; `keyboard_layout` is the KLID the client announced (0: none).
    /// Sent again when a client reactivates.
    Opened {
        session: SessionId,
        keyboard_layout: u32,
    },
    /// One input event, in the order the client sent them.
    Input { session: SessionId, event: ClientInput },
    /// The session is over; nothing more comes from it.
    Closed { session: SessionId },
}

impl SessionInput {
    pub fn session(&self) -> SessionId {
        match self {
            Self::Opened { session, .. } | Self::Input { session, .. } | Self::Closed { session } => *session,
        }
    }
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

    fn deliver(&mut self, event: ClientInput) {
        match &self.route {
            InputRoute::Forward(tx) => {
                if tx
                    .send(SessionInput::Input {
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

    fn ignore(&mut self, event: ClientInput) {
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
        // IronRDP drops the handler when the session ends, however it ends: the backend
        // releases what this client still held.
        if let InputRoute::Forward(tx) = &self.route {
            // A closed channel means the backend is gone already; nothing is left to release.
            let _ = tx.send(SessionInput::Closed {
                session: self.session,
            });
        }
        if self.ignored > 0 {
            debug!(peer = %self.peer, ignored = self.ignored, "input events ignored in this session");
        }
    }
}

impl RdpServerInputHandler for SessionInputHandler {
    fn client_keyboard_layout(&mut self, klid: u32) {
        debug!(peer = %self.peer, klid = format_args!("{klid:#010x}"), "client keyboard layout");
        if let InputRoute::Forward(tx) = &self.route
            && tx
                .send(SessionInput::Opened {
                    session: self.session,
                    keyboard_layout: klid,
                })
                .is_err()
        {
            self.route = InputRoute::Ignore {
                reason: "the input backend has stopped",
            };
        }
    }

    fn keyboard(&mut self, event: KeyboardEvent) {
        let event = match event {
            KeyboardEvent::Pressed { code, extended } => ClientInput::Key {
                scancode: code,
                extended,
                pressed: true,
            },
            KeyboardEvent::Released { code, extended } => ClientInput::Key {
                scancode: code,
                extended,
                pressed: false,
            },
            KeyboardEvent::UnicodePressed(code_unit) => ClientInput::Unicode {
                code_unit,
                pressed: true,
            },
            KeyboardEvent::UnicodeReleased(code_unit) => ClientInput::Unicode {
                code_unit,
                pressed: false,
            },
            KeyboardEvent::Synchronize(flags) => {
                use ironrdp_pdu::input::fast_path::SynchronizeFlags as F;
                ClientInput::SyncLocks {
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
        let button = |button, pressed| ClientInput::Button { button, pressed };
        let event = match event {
            MouseEvent::Move { x, y } => {
                self.client_pointer.moved_to(x, y);
                ClientInput::PointerMove { x, y }
            }
            MouseEvent::RelMove { x, y } => ClientInput::PointerMoveRelative { dx: x, dy: y },
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
            MouseEvent::VerticalScroll { value } => ClientInput::WheelVertical { units: value },
            MouseEvent::HorizontalScroll { value } => ClientInput::WheelHorizontal { units: value },
            MouseEvent::Scroll { x, y } => ClientInput::Scroll { dx: x, dy: y },
        };
        self.deliver(event);
    }
}
