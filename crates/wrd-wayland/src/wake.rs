//! How a Wayland thread of ours sleeps: in `poll(2)` on its connection's socket and an eventfd
//! that the async side writes after each command, so it runs only when the compositor or a
//! command has something for it (no polling with sleeps).

use std::os::fd::{AsRawFd as _, FromRawFd as _, OwnedFd};

use wayland_client::backend::WaylandError;
use wayland_client::{Connection, EventQueue};

/// Wakes a thread out of [`flush_and_wait`]: an eventfd written after each command.
#[derive(Debug)]
pub(crate) struct Waker(OwnedFd);

impl Waker {
    pub(crate) fn new() -> std::io::Result<Self> {
        // SAFETY: eventfd has no memory-safety preconditions; the result is checked.
        let fd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: fd is a freshly created descriptor nobody else owns.
        Ok(Self(unsafe { OwnedFd::from_raw_fd(fd) }))
    }

    pub(crate) fn wake(&self) {
        let one = 1u64.to_ne_bytes();
        // SAFETY: writes 8 bytes from a live buffer to our own eventfd. It can only fail when
        // the counter is about to overflow, and then the thread is awake already.
        let _ = unsafe { libc::write(self.0.as_raw_fd(), one.as_ptr().cast(), one.len()) };
    }

    fn drain(&self) {
        let mut buf = [0u8; 8];
        // SAFETY: reads at most 8 bytes into a live buffer from our own non-blocking eventfd.
        let _ = unsafe { libc::read(self.0.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
    }
}

/// One step of a Wayland thread's loop, after it ran its queued commands and dispatched its
/// pending events (handling an event may make requests, which must go out before we sleep):
/// sends what is buffered, then sleeps until the compositor sends events (read into the
/// queue, for the next dispatch) or the waker is written. Returns early, without sleeping,
/// when events arrived meanwhile. An `Err` is the connection lost, described.
pub(crate) fn flush_and_wait<State>(
    connection: &Connection,
    queue: &mut EventQueue<State>,
    waker: &Waker,
) -> Result<(), String> {
    let want_write = match connection.flush() {
        Ok(()) => false,
        // The socket is full: wait until it drains as well.
        Err(WaylandError::Io(e)) if e.kind() == std::io::ErrorKind::WouldBlock => true,
        Err(e) => return Err(e.to_string()),
    };
    let Some(guard) = queue.prepare_read() else {
        return Ok(()); // events arrived meanwhile: dispatch them first
    };
    let mut fds = [
        libc::pollfd {
            fd: guard.connection_fd().as_raw_fd(),
            events: libc::POLLIN | if want_write { libc::POLLOUT } else { 0 },
            revents: 0,
        },
        libc::pollfd {
            fd: waker.0.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        },
    ];
    // SAFETY: fds is a live array of two initialised pollfd; its length is passed with it.
    let n = unsafe { libc::poll(fds.as_mut_ptr(), 2, -1) };
    if n < 0 {
        let e = std::io::Error::last_os_error();
        if e.kind() == std::io::ErrorKind::Interrupted {
            return Ok(());
        }
        return Err(format!("poll: {e}"));
    }
    if fds[0].revents & (libc::POLLIN | libc::POLLHUP | libc::POLLERR) != 0 {
        match guard.read() {
            Ok(_) => {}
            Err(WaylandError::Io(e)) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(e.to_string()),
        }
    } else {
        drop(guard);
    }
    if fds[1].revents & libc::POLLIN != 0 {
        waker.drain();
    }
    Ok(())
}
