//! The Wayland client side of wrd-server: the one crate that speaks the Wayland protocol.
//!
//! [`VirtualInput`] injects pointer and keyboard input on wlroots compositors (its own thread;
//! see the `virtual_input` module). For `wrd-server doctor`: what does this compositor offer?
//! [`probe`] connects to `$WAYLAND_DISPLAY`, lists the registry's globals with their versions,
//! and finds out which process serves the socket. The helpers on [`WaylandProbe`] name the
//! globals wrd-server can use: wlroots' virtual pointer and the virtual keyboard (input without
//! a RemoteDesktop portal), screencopy, and data control (clipboard without a portal).

mod data_control;
mod keyboard;
mod virtual_input;
mod wake;

pub use data_control::{ClipboardCommand, ClipboardEvent, DataControl, DataControlError};
pub use keyboard::{KeymapNames, Modifiers};
pub use virtual_input::{VirtualInput, VirtualInputCommand, VirtualInputError, WaylandSocket};

use std::os::fd::{AsRawFd as _, BorrowedFd};
use std::time::Duration;

use wayland_client::globals::{GlobalListContents, registry_queue_init};
use wayland_client::protocol::wl_registry;
use wayland_client::{Connection, Dispatch, QueueHandle};

/// wlroots' virtual pointer (absolute and relative motion, buttons, axes).
pub const VIRTUAL_POINTER: &str = "zwlr_virtual_pointer_manager_v1";
/// The virtual keyboard (a keymap of our own, then key events).
pub const VIRTUAL_KEYBOARD: &str = "zwp_virtual_keyboard_manager_v1";
/// wlroots' screen capture protocol (what xdg-desktop-portal-wlr casts with).
pub const SCREENCOPY: &str = "zwlr_screencopy_manager_v1";
/// wlroots' clipboard access for privileged clients.
pub const WLR_DATA_CONTROL: &str = "zwlr_data_control_manager_v1";
/// The standardised successor of [`WLR_DATA_CONTROL`].
pub const EXT_DATA_CONTROL: &str = "ext_data_control_manager_v1";
/// One per monitor.
pub const OUTPUT: &str = "wl_output";

#[derive(Debug, thiserror::Error)]
pub enum WaylandError {
    #[error("WAYLAND_DISPLAY is not set: not inside a Wayland session")]
    NoDisplay,
    #[error("cannot connect to the Wayland compositor at {display}: {message}")]
    Connect { display: String, message: String },
    #[error("the compositor's registry could not be read: {0}")]
    Registry(String),
    #[error("the compositor did not answer within {0:?}")]
    Timeout(Duration),
}

/// One global of the compositor's registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Global {
    pub interface: String,
    pub version: u32,
}

/// Which compositor family serves the socket, from the globals only it offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompositorFamily {
    /// sway, Wayfire, river, labwc, Hyprland (wlr protocols).
    Wlroots,
    /// GNOME's compositor.
    Mutter,
    /// KDE's compositor.
    KWin,
    Weston,
    Unknown,
}

impl CompositorFamily {
    pub fn name(self) -> &'static str {
        match self {
            Self::Wlroots => "wlroots",
            Self::Mutter => "mutter",
            Self::KWin => "kwin",
            Self::Weston => "weston",
            Self::Unknown => "unknown",
        }
    }
}

/// What the compositor offers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WaylandProbe {
    /// The socket's name, as in `WAYLAND_DISPLAY` (e.g. `wayland-1`).
    pub display: String,
    /// The process serving the socket (its pid and `comm`, e.g. `sway`), when the kernel says.
    pub compositor_pid: Option<u32>,
    pub compositor_process: Option<String>,
    /// Every global, in registry order.
    pub globals: Vec<Global>,
}

impl WaylandProbe {
    /// The version of `interface`, if the compositor offers it.
    pub fn version_of(&self, interface: &str) -> Option<u32> {
        self.globals
            .iter()
            .filter(|g| g.interface == interface)
            .map(|g| g.version)
            .max()
    }

    /// Virtual pointer and keyboard both present: input can be injected without a portal.
    pub fn has_virtual_input(&self) -> bool {
        self.version_of(VIRTUAL_POINTER).is_some() && self.version_of(VIRTUAL_KEYBOARD).is_some()
    }

    /// wlroots' data control, the one [`DataControl`] speaks, is offered.
    pub fn has_wlr_data_control(&self) -> bool {
        self.version_of(WLR_DATA_CONTROL).is_some()
    }

    /// The data-control protocol offered (standard one preferred) and its version.
    pub fn data_control(&self) -> Option<(&'static str, u32)> {
        [EXT_DATA_CONTROL, WLR_DATA_CONTROL]
            .into_iter()
            .find_map(|name| self.version_of(name).map(|v| (name, v)))
    }

    /// Monitors announced.
    pub fn outputs(&self) -> usize {
        self.globals.iter().filter(|g| g.interface == OUTPUT).count()
    }

    pub fn family(&self) -> CompositorFamily {
        family_of(self.globals.iter().map(|g| g.interface.as_str()))
    }
}

/// Tells the compositor family by the private protocols only it offers.
pub fn family_of<'a>(interfaces: impl IntoIterator<Item = &'a str> + Clone) -> CompositorFamily {
    let any = |pred: &dyn Fn(&str) -> bool| interfaces.clone().into_iter().any(pred);
    if any(&|i| i == "gtk_shell1") {
        CompositorFamily::Mutter
    } else if any(&|i| {
        // not org_kde_kwin_server_decoration_manager: sway offers that one too
        i.starts_with("org_kde_plasma_")
            || i.starts_with("kde_output_device")
            || i == "org_kde_kwin_outputmanagement"
    }) {
        CompositorFamily::KWin
    } else if any(&|i| i.starts_with("weston_")) {
        CompositorFamily::Weston
    } else if any(&|i| i.starts_with("zwlr_")) {
        CompositorFamily::Wlroots
    } else {
        CompositorFamily::Unknown
    }
}

struct RegistryState;

impl Dispatch<wl_registry::WlRegistry, GlobalListContents> for RegistryState {
    fn event(
        _: &mut Self,
        _: &wl_registry::WlRegistry,
        _: wl_registry::Event,
        _: &GlobalListContents,
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        // The initial list is all we read; later additions do not matter to a probe.
    }
}

/// Connects to the compositor of `$WAYLAND_DISPLAY` and lists its globals. Blocking; bounded by
/// `timeout` (the round trip runs on its own thread, left behind if the compositor hangs).
pub fn probe(timeout: Duration) -> Result<WaylandProbe, WaylandError> {
    let display = std::env::var("WAYLAND_DISPLAY")
        .ok()
        .filter(|d| !d.is_empty())
        .ok_or(WaylandError::NoDisplay)?;
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    let worker_display = display.clone();
    std::thread::Builder::new()
        .name("wayland-probe".into())
        .spawn(move || {
            let _ = tx.send(probe_blocking(worker_display));
        })
        .map_err(|e| WaylandError::Connect {
            display: display.clone(),
            message: format!("cannot start a thread: {e}"),
        })?;
    rx.recv_timeout(timeout)
        .unwrap_or(Err(WaylandError::Timeout(timeout)))
}

fn probe_blocking(display: String) -> Result<WaylandProbe, WaylandError> {
    let connection = Connection::connect_to_env().map_err(|e| WaylandError::Connect {
        display: display.clone(),
        message: e.to_string(),
    })?;
    let compositor_pid = peer_pid(connection.backend().poll_fd());
    let (globals, _queue) = registry_queue_init::<RegistryState>(&connection)
        .map_err(|e| WaylandError::Registry(e.to_string()))?;
    let globals = globals
        .contents()
        .clone_list()
        .into_iter()
        .map(|g| Global {
            interface: g.interface,
            version: g.version,
        })
        .collect();
    let compositor_process = compositor_pid.and_then(|pid| {
        std::fs::read_to_string(format!("/proc/{pid}/comm"))
            .ok()
            .map(|comm| comm.trim().to_owned())
    });
    Ok(WaylandProbe {
        display,
        compositor_pid,
        compositor_process,
        globals,
    })
}

/// The pid of the process at the other end of a Unix socket (`SO_PEERCRED`).
fn peer_pid(fd: BorrowedFd<'_>) -> Option<u32> {
    let mut cred = libc::ucred {
        pid: 0,
        uid: 0,
        gid: 0,
    };
    let mut len = libc::socklen_t::try_from(std::mem::size_of::<libc::ucred>()).ok()?;
    // SAFETY: fd is a live socket for the duration of the borrow; cred and len are valid,
    // correctly sized out-parameters.
    let rc = unsafe {
        libc::getsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_PEERCRED,
            std::ptr::from_mut(&mut cred).cast(),
            &mut len,
        )
    };
    if rc != 0 || cred.pid <= 0 {
        return None;
    }
    u32::try_from(cred.pid).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check_family(interfaces: &[&str], expected: CompositorFamily) {
        assert_eq!(family_of(interfaces.iter().copied()), expected, "{interfaces:?}");
    }

    #[test]
    fn families_are_told_by_their_private_protocols() {
        use CompositorFamily::*;
        check_family(
            &[
                "wl_compositor",
                "org_kde_kwin_server_decoration_manager",
                "zwlr_layer_shell_v1",
                "zwlr_screencopy_manager_v1",
            ],
            Wlroots,
        );
        check_family(&["wl_compositor", "gtk_shell1", "zwp_linux_dmabuf_v1"], Mutter);
        check_family(
            &["wl_compositor", "org_kde_plasma_shell", "zwlr_layer_shell_v1"],
            KWin,
        );
        check_family(&["wl_compositor", "kde_output_device_v2"], KWin);
        check_family(&["wl_compositor", "weston_capture_v1"], Weston);
        check_family(&["wl_compositor", "xdg_wm_base"], Unknown);
    }

    fn probe_with(globals: &[(&str, u32)]) -> WaylandProbe {
        WaylandProbe {
            display: "wayland-test".into(),
            compositor_pid: None,
            compositor_process: None,
            globals: globals
                .iter()
                .map(|(i, v)| Global {
                    interface: (*i).into(),
                    version: *v,
                })
                .collect(),
        }
    }

    #[test]
    fn helpers_name_what_the_server_can_use() {
        let sway = probe_with(&[
            (OUTPUT, 4),
            (VIRTUAL_POINTER, 2),
            (VIRTUAL_KEYBOARD, 1),
            (SCREENCOPY, 3),
            (WLR_DATA_CONTROL, 2),
            (OUTPUT, 4),
        ]);
        assert!(sway.has_virtual_input());
        assert_eq!(sway.version_of(SCREENCOPY), Some(3));
        assert_eq!(sway.data_control(), Some((WLR_DATA_CONTROL, 2)));
        assert_eq!(sway.outputs(), 2);

        let both = probe_with(&[(WLR_DATA_CONTROL, 2), (EXT_DATA_CONTROL, 1)]);
        assert_eq!(both.data_control(), Some((EXT_DATA_CONTROL, 1)));

        let pointer_only = probe_with(&[(VIRTUAL_POINTER, 2)]);
        assert!(!pointer_only.has_virtual_input());
        assert_eq!(pointer_only.data_control(), None);
    }
}
