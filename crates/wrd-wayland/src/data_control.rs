//! The clipboard of wlroots compositors without a portal: `zwlr_data_control_v1`.
//!
//! Like [`crate::VirtualInput`], one thread (`wayland-clipboard`) owns the connection, the seat,
//! the data control device, the desktop's current selection offer and our own selection
//! source; it sleeps in `poll(2)` on the Wayland socket and an eventfd that wakes it for each
//! [`ClipboardCommand`] (sent over a `std::sync::mpsc` channel). What happens on the desktop
//! comes out as [`ClipboardEvent`]s on a tokio unbounded channel (human-rate events, never
//! dropped).
//!
//! Data moves through pipes, never through the Wayland thread: a read of the desktop's
//! selection (`receive` on the offer) is drained by a short-lived thread `wayland-clip-read`,
//! and data for a program pasting from our selection (`send` on our source) is written by a
//! thread `wayland-clip-write`. Both are bounded in time and in size, so a program that never
//! writes or never reads costs a thread for at most that long, not the clipboard.

use std::collections::HashMap;
use std::io::{Read as _, Write as _};
use std::os::fd::{AsFd as _, AsRawFd as _, BorrowedFd, FromRawFd as _, OwnedFd};
use std::sync::mpsc::{self, TryRecvError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc as tokio_mpsc, watch};
use wayland_client::globals::{GlobalListContents, registry_queue_init};
use wayland_client::protocol::{wl_registry, wl_seat};
use wayland_client::{Connection, Dispatch, Proxy as _, QueueHandle, delegate_noop, event_created_child};
use wayland_protocols_wlr::data_control::v1::client::{
    zwlr_data_control_device_v1::{self, ZwlrDataControlDeviceV1},
    zwlr_data_control_manager_v1::ZwlrDataControlManagerV1,
    zwlr_data_control_offer_v1::{self, ZwlrDataControlOfferV1},
    zwlr_data_control_source_v1::{self, ZwlrDataControlSourceV1},
};

use crate::wake::{Waker, flush_and_wait};
use crate::{WLR_DATA_CONTROL, WaylandSocket};

/// How long a read of the desktop's selection may take (the owner writes into our pipe).
pub const READ_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a program pasting from us may take to read what we write.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(30);
/// How long dropping or stopping the handle waits for the thread.
const STOP_TIMEOUT: Duration = Duration::from_secs(2);

/// What the desktop did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClipboardEvent {
    /// The selection changed: the MIME types it offers (empty: cleared). Our own selection is
    /// reported too (it carries the MIME types we gave it).
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
pub enum ClipboardCommand {
    /// Take the selection with a source offering these MIME types.
    SetSelection { mimes: Vec<String> },
    /// Write `data` for a paste and close its pipe.
    Deliver { request: u64, data: Vec<u8> },
    /// Close a paste's pipe without data.
    Refuse { request: u64 },
    /// Read `mime` from the current selection; answered by `ReadDone`.
    Read { request: u64, mime: String },
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum DataControlError {
    #[error("cannot connect to the Wayland compositor at {socket}: {message}")]
    Connect { socket: String, message: String },
    #[error(
        "the compositor offers no {WLR_DATA_CONTROL} (or no wl_seat): clipboard needs a wlroots compositor"
    )]
    MissingGlobal,
    #[error("the connection to the Wayland compositor was lost: {0}")]
    ConnectionLost(String),
    #[error("the compositor ended our data control device")]
    Finished,
    #[error("the clipboard thread was stopped")]
    Stopped,
    #[error("cannot start the clipboard thread: {0}")]
    Thread(String),
}

#[derive(Debug, Clone)]
enum Status {
    Starting,
    Ready,
    Ended(DataControlError),
}

enum Request {
    Command(ClipboardCommand),
    Stop,
}

/// The handle of the clipboard thread (`Send`; dropping it stops and joins the thread).
#[derive(Debug)]
pub struct DataControl {
    requests: mpsc::Sender<Request>,
    waker: Arc<Waker>,
    status: watch::Receiver<Status>,
    done: Mutex<mpsc::Receiver<()>>,
    thread: Option<JoinHandle<()>>,
}

impl DataControl {
    /// Starts the thread; events arrive on the returned receiver. `max_item_bytes` bounds a
    /// read of the desktop's selection (more is refused with an error naming the limit).
    pub fn start(
        socket: WaylandSocket,
        max_item_bytes: usize,
    ) -> Result<(Self, tokio_mpsc::UnboundedReceiver<ClipboardEvent>), DataControlError> {
        let waker = Arc::new(Waker::new().map_err(|e| DataControlError::Thread(format!("eventfd: {e}")))?);
        let (requests, inbox) = mpsc::channel();
        let (status_tx, status) = watch::channel(Status::Starting);
        let (events_tx, events) = tokio_mpsc::unbounded_channel();
        let (done_tx, done) = mpsc::channel();
        let thread_waker = Arc::clone(&waker);
        let thread = std::thread::Builder::new()
            .name("wayland-clipboard".into())
            .spawn(move || {
                let end = match run(
                    &socket,
                    max_item_bytes,
                    &inbox,
                    &thread_waker,
                    &status_tx,
                    &events_tx,
                ) {
                    Ok(()) => DataControlError::Stopped,
                    Err(e) => {
                        tracing::error!(socket = %socket, "clipboard ended: {e}");
                        e
                    }
                };
                status_tx.send_replace(Status::Ended(end));
                let _ = done_tx.send(());
            })
            .map_err(|e| DataControlError::Thread(e.to_string()))?;
        Ok((
            Self {
                requests,
                waker,
                status,
                done: Mutex::new(done),
                thread: Some(thread),
            },
            events,
        ))
    }

    /// Waits until the device is made, or the start failed.
    pub async fn ready(&self) -> Result<(), DataControlError> {
        let mut status = self.status.clone();
        let outcome = status
            .wait_for(|s| !matches!(s, Status::Starting))
            .await
            .map(|s| s.clone());
        match outcome {
            Ok(Status::Ready) => Ok(()),
            Ok(Status::Ended(e)) => Err(e),
            Ok(Status::Starting) | Err(_) => Err(DataControlError::Stopped),
        }
    }

    /// Queues a command. Fails only once the thread has ended, with the reason.
    pub fn send(&self, command: ClipboardCommand) -> Result<(), DataControlError> {
        if let Status::Ended(e) = &*self.status.borrow() {
            return Err(e.clone());
        }
        self.requests
            .send(Request::Command(command))
            .map_err(|_| DataControlError::Stopped)?;
        self.waker.wake();
        Ok(())
    }

    /// Waits until the thread ends and says why.
    pub async fn closed(&self) -> DataControlError {
        let mut status = self.status.clone();
        let _ = status.wait_for(|s| matches!(s, Status::Ended(_))).await;
        match &*status.borrow() {
            Status::Ended(e) => e.clone(),
            _ => DataControlError::Stopped,
        }
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
                    tracing::error!("the clipboard thread panicked");
                }
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {
                tracing::error!("the clipboard thread did not stop within {STOP_TIMEOUT:?}; left behind");
            }
        }
    }
}

impl Drop for DataControl {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// The thread's dispatch state.
struct State {
    events: tokio_mpsc::UnboundedSender<ClipboardEvent>,
    /// MIME types of each offer the compositor introduced, until it is the selection or dropped.
    offers: HashMap<wayland_client::backend::ObjectId, Vec<String>>,
    /// The desktop's current selection.
    selection: Option<ZwlrDataControlOfferV1>,
    /// Our own selection, while it is the selection.
    source: Option<ZwlrDataControlSourceV1>,
    /// Pipes of pastes from our selection, waiting for `Deliver` or `Refuse`.
    pastes: HashMap<u64, OwnedFd>,
    next_paste: u64,
    finished: bool,
}

fn lost(e: impl std::fmt::Display) -> DataControlError {
    DataControlError::ConnectionLost(e.to_string())
}

fn connect(socket: &WaylandSocket) -> Result<Connection, DataControlError> {
    let failed = |message: String| DataControlError::Connect {
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

fn run(
    socket: &WaylandSocket,
    max_item_bytes: usize,
    inbox: &mpsc::Receiver<Request>,
    waker: &Waker,
    status: &watch::Sender<Status>,
    events: &tokio_mpsc::UnboundedSender<ClipboardEvent>,
) -> Result<(), DataControlError> {
    let connection = connect(socket)?;
    let (globals, mut queue) = registry_queue_init::<State>(&connection).map_err(lost)?;
    let qh = queue.handle();
    let seat: wl_seat::WlSeat = globals
        .bind(&qh, 1..=7, ())
        .map_err(|_| DataControlError::MissingGlobal)?;
    let manager: ZwlrDataControlManagerV1 = globals
        .bind(&qh, 1..=2, ())
        .map_err(|_| DataControlError::MissingGlobal)?;
    let device = manager.get_data_device(&seat, &qh, ());
    let mut state = State {
        events: events.clone(),
        offers: HashMap::new(),
        selection: None,
        source: None,
        pastes: HashMap::new(),
        next_paste: 0,
        finished: false,
    };
    // The current selection arrives right after the device is made.
    queue.roundtrip(&mut state).map_err(lost)?;
    status.send_replace(Status::Ready);
    tracing::info!(socket = %socket, "wlroots data control clipboard ready");

    loop {
        loop {
            match inbox.try_recv() {
                Ok(Request::Command(command)) => {
                    execute(&mut state, &manager, &device, &qh, max_item_bytes, command)
                }
                Ok(Request::Stop) | Err(TryRecvError::Disconnected) => {
                    if let Some(source) = state.source.take() {
                        source.destroy();
                    }
                    if let Some(offer) = state.selection.take() {
                        offer.destroy();
                    }
                    device.destroy();
                    manager.destroy();
                    let _ = connection.flush();
                    return Ok(());
                }
                Err(TryRecvError::Empty) => break,
            }
        }
        if state.finished {
            return Err(DataControlError::Finished);
        }
        // Events first: handling them may make requests (destroying a replaced offer), which
        // the flush in `flush_and_wait` must send before we sleep.
        queue.dispatch_pending(&mut state).map_err(lost)?;
        if state.finished {
            return Err(DataControlError::Finished);
        }
        flush_and_wait(&connection, &mut queue, waker).map_err(DataControlError::ConnectionLost)?;
    }
}

fn execute(
    state: &mut State,
    manager: &ZwlrDataControlManagerV1,
    device: &ZwlrDataControlDeviceV1,
    qh: &QueueHandle<State>,
    max_item_bytes: usize,
    command: ClipboardCommand,
) {
    match command {
        ClipboardCommand::SetSelection { mimes } => {
            let source = manager.create_data_source(qh, ());
            for mime in &mimes {
                source.offer(mime.clone());
            }
            device.set_selection(Some(&source));
            if let Some(old) = state.source.replace(source) {
                old.destroy();
            }
            tracing::debug!(?mimes, "took the desktop's selection");
        }
        ClipboardCommand::Deliver { request, data } => match state.pastes.remove(&request) {
            Some(fd) => spawn_io("wayland-clip-write", move || {
                if let Err(e) = write_bounded(fd, &data, WRITE_TIMEOUT) {
                    tracing::warn!(
                        request,
                        bytes = data.len(),
                        "writing a paste for the desktop: {e}"
                    );
                }
            }),
            None => tracing::warn!(request, "a paste to deliver is not waiting (already answered?)"),
        },
        ClipboardCommand::Refuse { request } => {
            // Closing the pipe empty tells the pasting program there is nothing.
            drop(state.pastes.remove(&request));
        }
        ClipboardCommand::Read { request, mime } => {
            let events = state.events.clone();
            let Some(offer) = &state.selection else {
                let _ = events.send(ClipboardEvent::ReadDone {
                    request,
                    result: Err("the desktop's clipboard is empty".into()),
                });
                return;
            };
            let (reader, writer) = match pipe() {
                Ok(pair) => pair,
                Err(e) => {
                    let _ = events.send(ClipboardEvent::ReadDone {
                        request,
                        result: Err(format!("pipe: {e}")),
                    });
                    return;
                }
            };
            offer.receive(mime.clone(), writer.as_fd());
            // Our copy of the write end is closed once the request is on its way, so the
            // read sees EOF when the owner closes its own.
            drop(writer);
            spawn_io("wayland-clip-read", move || {
                let result = read_bounded(reader, max_item_bytes, READ_TIMEOUT)
                    .map_err(|e| format!("reading {mime:?} from the desktop: {e}"));
                let _ = events.send(ClipboardEvent::ReadDone { request, result });
            });
        }
    }
}

fn spawn_io(name: &str, work: impl FnOnce() + Send + 'static) {
    if let Err(e) = std::thread::Builder::new().name(name.to_owned()).spawn(work) {
        tracing::error!("cannot start a clipboard transfer thread: {e}");
    }
}

fn pipe() -> std::io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: pipe2 writes two descriptors into a live array of two; the result is checked.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: both descriptors were just created and are owned by nobody else.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

fn set_nonblocking(fd: &OwnedFd) -> std::io::Result<()> {
    // SAFETY: fcntl on a descriptor we own, with integer arguments.
    let flags = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETFL) };
    // SAFETY: as above.
    if flags < 0 || unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_SETFL, flags | libc::O_NONBLOCK) } < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// Waits until `fd` is ready for `events` or the deadline passes.
fn wait_ready(fd: BorrowedFd<'_>, events: libc::c_short, deadline: Instant) -> std::io::Result<()> {
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(std::io::Error::new(std::io::ErrorKind::TimedOut, "timed out"));
        }
        let mut pollfd = libc::pollfd {
            fd: fd.as_raw_fd(),
            events,
            revents: 0,
        };
        let timeout = libc::c_int::try_from(left.as_millis())
            .unwrap_or(libc::c_int::MAX)
            .max(1);
        // SAFETY: one live, initialised pollfd.
        let n = unsafe { libc::poll(&mut pollfd, 1, timeout) };
        if n < 0 {
            let e = std::io::Error::last_os_error();
            if e.kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        if 0 < n {
            return Ok(());
        }
    }
}

/// Reads to EOF, refusing more than `limit` bytes or taking longer than `timeout`.
pub(crate) fn read_bounded(fd: OwnedFd, limit: usize, timeout: Duration) -> std::io::Result<Vec<u8>> {
    set_nonblocking(&fd)?;
    let deadline = Instant::now() + timeout;
    let mut file = std::fs::File::from(fd);
    let mut data = Vec::new();
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        match file.read(&mut chunk) {
            Ok(0) => return Ok(data),
            Ok(n) => {
                if limit < data.len() + n {
                    return Err(std::io::Error::other(format!(
                        "more than the clipboard limit of {limit} bytes"
                    )));
                }
                data.extend_from_slice(&chunk[..n]);
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                wait_ready(file.as_fd(), libc::POLLIN, deadline)?;
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

/// Writes everything, giving up after `timeout` (a reader that went away gives `EPIPE`).
pub(crate) fn write_bounded(fd: OwnedFd, data: &[u8], timeout: Duration) -> std::io::Result<()> {
    set_nonblocking(&fd)?;
    let deadline = Instant::now() + timeout;
    let mut file = std::fs::File::from(fd);
    let mut written = 0;
    while written < data.len() {
        match file.write(&data[written..]) {
            Ok(n) => written += n,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                wait_ready(file.as_fd(), libc::POLLOUT, deadline)?;
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

impl Dispatch<wl_registry::WlRegistry, GlobalListContents> for State {
    fn event(
        _: &mut Self,
        _: &wl_registry::WlRegistry,
        _: wl_registry::Event,
        _: &GlobalListContents,
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
    }
}

impl Dispatch<ZwlrDataControlDeviceV1, ()> for State {
    fn event(
        state: &mut Self,
        _: &ZwlrDataControlDeviceV1,
        event: zwlr_data_control_device_v1::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        match event {
            zwlr_data_control_device_v1::Event::DataOffer { id } => {
                state.offers.insert(id.id(), Vec::new());
            }
            zwlr_data_control_device_v1::Event::Selection { id } => {
                if let Some(old) = state.selection.take() {
                    old.destroy();
                }
                let mimes = match &id {
                    Some(offer) => state.offers.remove(&offer.id()).unwrap_or_default(),
                    None => Vec::new(),
                };
                state.selection = id;
                let _ = state.events.send(ClipboardEvent::Selection(mimes));
            }
            // Middle-click paste is not carried over RDP.
            zwlr_data_control_device_v1::Event::PrimarySelection { id: Some(offer) } => {
                state.offers.remove(&offer.id());
                offer.destroy();
            }
            zwlr_data_control_device_v1::Event::Finished => state.finished = true,
            _ => {}
        }
    }

    event_created_child!(State, ZwlrDataControlDeviceV1, [
        zwlr_data_control_device_v1::EVT_DATA_OFFER_OPCODE => (ZwlrDataControlOfferV1, ()),
    ]);
}

impl Dispatch<ZwlrDataControlOfferV1, ()> for State {
    fn event(
        state: &mut Self,
        offer: &ZwlrDataControlOfferV1,
        event: zwlr_data_control_offer_v1::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        if let zwlr_data_control_offer_v1::Event::Offer { mime_type } = event
            && let Some(mimes) = state.offers.get_mut(&offer.id())
        {
            mimes.push(mime_type);
        }
    }
}

impl Dispatch<ZwlrDataControlSourceV1, ()> for State {
    fn event(
        state: &mut Self,
        source: &ZwlrDataControlSourceV1,
        event: zwlr_data_control_source_v1::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        match event {
            zwlr_data_control_source_v1::Event::Send { mime_type, fd } => {
                state.next_paste += 1;
                let request = state.next_paste;
                state.pastes.insert(request, fd);
                let _ = state.events.send(ClipboardEvent::Paste {
                    request,
                    mime: mime_type,
                });
            }
            zwlr_data_control_source_v1::Event::Cancelled => {
                if state.source.as_ref() == Some(source) {
                    state.source = None;
                }
                source.destroy();
            }
            _ => {}
        }
    }
}

delegate_noop!(State: ignore wl_seat::WlSeat);
delegate_noop!(State: ignore ZwlrDataControlManagerV1);

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    #[test]
    fn the_handle_is_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<DataControl>();
    }

    #[test]
    fn reads_are_bounded_in_size_and_time() {
        let (reader, writer) = pipe().unwrap();
        let mut file = std::fs::File::from(writer);
        file.write_all(b"0123456789").unwrap();
        drop(file);
        assert_eq!(
            read_bounded(reader, 10, Duration::from_secs(1)).unwrap(),
            b"0123456789"
        );

        let (reader, writer) = pipe().unwrap();
        let mut file = std::fs::File::from(writer);
        file.write_all(b"0123456789").unwrap();
        drop(file);
        let error = read_bounded(reader, 9, Duration::from_secs(1)).unwrap_err();
        assert!(error.to_string().contains("limit of 9 bytes"), "{error}");

        // A writer that never closes: the read gives up at its deadline.
        let (reader, _writer) = pipe().unwrap();
        let started = Instant::now();
        let error = read_bounded(reader, 10, Duration::from_millis(200)).unwrap_err();
        assert_eq!(error.kind(), std::io::ErrorKind::TimedOut);
        assert!(started.elapsed() < Duration::from_secs(2));
    }

    #[test]
    fn writes_are_bounded_in_time() {
        // Nobody reads: the pipe fills (64 KiB) and the write gives up at its deadline.
        let (_reader, writer) = pipe().unwrap();
        let error = write_bounded(writer, &vec![0; 1 << 20], Duration::from_millis(200)).unwrap_err();
        assert_eq!(error.kind(), std::io::ErrorKind::TimedOut);
        let (reader, writer) = pipe().unwrap();
        write_bounded(writer, b"abc", Duration::from_secs(1)).unwrap();
        assert_eq!(read_bounded(reader, 10, Duration::from_secs(1)).unwrap(), b"abc");
    }

    #[test]
    fn a_missing_socket_is_reported() {
        let (control, _events) =
            DataControl::start(WaylandSocket::Path("/nonexistent/wayland-9".into()), 1024).unwrap();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let error = runtime.block_on(control.ready()).unwrap_err();
        assert!(matches!(error, DataControlError::Connect { .. }), "{error}");
        assert!(control.send(ClipboardCommand::Refuse { request: 1 }).is_err());
    }
}
