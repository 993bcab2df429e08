//! An X program that copies: it owns the `CLIPBOARD` selection of a display and hands one
//! target's data to whoever pastes, the way GTK and Qt programs do (ICCCM, with `INCR` for
//! large data).
//!
//! Why not `xclip -i`: for data above its chunk size (about 1 MiB on Xvfb) xclip starts an
//! `INCR` transfer with an *empty* `INCR` property, where ICCCM says the property holds a lower
//! bound of the size. FreeRDP 2.11's X client reads an empty property as "no data", answers the
//! server with a failure and never reads the chunks, while xclip waits for ever for the next
//! chunk to be taken (and serves no later paste). Toolkits put the size there, so a 1920x1080
//! picture copied in a real program goes through; this owner behaves like them.

use std::os::fd::AsRawFd as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};
use x11rb::connection::Connection as _;
use x11rb::protocol::Event;
use x11rb::protocol::xproto::{
    self, AtomEnum, ChangeWindowAttributesAux, ConnectionExt as _, CreateWindowAux, EventMask, PropMode,
    Property, SelectionNotifyEvent, WindowClass,
};
use x11rb::rust_connection::RustConnection;
use x11rb::wrapper::ConnectionExt as _;

/// Data above this size goes in `INCR` chunks of this size (GTK uses a similar bound).
const CHUNK: usize = 256 * 1024;
/// How long taking the selection may take.
const TAKE_TIMEOUT: Duration = Duration::from_secs(5);
/// How often the serving thread looks at its stop flag when no event comes.
const STOP_POLL: Duration = Duration::from_millis(50);

/// Owns the clipboard of one X display until dropped or until another program copies.
#[derive(Debug)]
pub struct XClipboardOwner {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<Result<()>>>,
}

impl XClipboardOwner {
    /// Takes the `CLIPBOARD` selection of `display` offering `data` as `target` (an X target
    /// such as `image/bmp` or `UTF8_STRING`); returns once the selection is ours.
    pub fn start(display: &str, target: &str, data: Vec<u8>) -> Result<Self> {
        let (conn, screen) =
            x11rb::connect(Some(display)).with_context(|| format!("connecting to X display {display}"))?;
        let owner = Owner::new(conn, screen, target, data)?;
        let stop = Arc::new(AtomicBool::new(false));
        let thread_stop = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name("x-clipboard-owner".into())
            .spawn(move || owner.serve(&thread_stop))
            .context("starting the X clipboard owner thread")?;
        Ok(Self {
            stop,
            thread: Some(thread),
        })
    }

    /// Stops serving; returns what went wrong while serving, if anything.
    pub fn stop(mut self) -> Result<()> {
        self.finish()
    }

    fn finish(&mut self) -> Result<()> {
        self.stop.store(true, Ordering::SeqCst);
        match self.thread.take() {
            Some(thread) => thread
                .join()
                .map_err(|_| anyhow::anyhow!("the X clipboard owner thread panicked"))?,
            None => Ok(()),
        }
    }
}

impl Drop for XClipboardOwner {
    fn drop(&mut self) {
        if let Err(e) = self.finish() {
            tracing::warn!("X clipboard owner: {e:#}");
        }
    }
}

struct Atoms {
    clipboard: xproto::Atom,
    targets: xproto::Atom,
    incr: xproto::Atom,
    target: xproto::Atom,
    stamp: xproto::Atom,
}

/// One `INCR` transfer under way: the next chunk goes when the requestor deletes the property.
struct Transfer {
    requestor: xproto::Window,
    property: xproto::Atom,
    offset: usize,
    /// The closing zero-length chunk has been written.
    done: bool,
}

struct Owner {
    conn: RustConnection,
    window: xproto::Window,
    atoms: Atoms,
    data: Vec<u8>,
    transfers: Vec<Transfer>,
}

impl Owner {
    fn new(conn: RustConnection, screen: usize, target: &str, data: Vec<u8>) -> Result<Self> {
        let root = conn
            .setup()
            .roots
            .get(screen)
            .context("the X display has no such screen")?
            .root;
        let window = conn.generate_id()?;
        conn.create_window(
            0,
            window,
            root,
            0,
            0,
            1,
            1,
            0,
            WindowClass::INPUT_ONLY,
            0,
            &CreateWindowAux::new().event_mask(EventMask::PROPERTY_CHANGE),
        )?;
        let intern = |name: &str| -> Result<xproto::Atom> {
            Ok(conn.intern_atom(false, name.as_bytes())?.reply()?.atom)
        };
        let atoms = Atoms {
            clipboard: intern("CLIPBOARD")?,
            targets: intern("TARGETS")?,
            incr: intern("INCR")?,
            target: intern(target)?,
            stamp: intern("WRD_TESTKIT_TIMESTAMP")?,
        };
        let owner = Self {
            conn,
            window,
            atoms,
            data,
            transfers: Vec::new(),
        };
        owner.take_selection()?;
        Ok(owner)
    }

    /// ICCCM wants a real timestamp for SetSelectionOwner: a property change on our own
    /// window gives one.
    fn take_selection(&self) -> Result<()> {
        self.conn.change_property8(
            PropMode::REPLACE,
            self.window,
            self.atoms.stamp,
            AtomEnum::STRING,
            b"",
        )?;
        self.conn.flush()?;
        let deadline = Instant::now() + TAKE_TIMEOUT;
        let time = loop {
            if Instant::now() > deadline {
                bail!("no PropertyNotify for our timestamp within {TAKE_TIMEOUT:?}");
            }
            match self.conn.poll_for_event()? {
                Some(Event::PropertyNotify(event)) if event.window == self.window => break event.time,
                Some(_) => {}
                None => self.wait_readable(STOP_POLL)?,
            }
        };
        self.conn
            .set_selection_owner(self.window, self.atoms.clipboard, time)?;
        let owner = self
            .conn
            .get_selection_owner(self.atoms.clipboard)?
            .reply()?
            .owner;
        if owner != self.window {
            bail!("another program took the X clipboard first");
        }
        Ok(())
    }

    fn wait_readable(&self, timeout: Duration) -> Result<()> {
        let mut fd = libc::pollfd {
            fd: self.conn.stream().as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        let millis = libc::c_int::try_from(timeout.as_millis()).unwrap_or(libc::c_int::MAX);
        // SAFETY: one live, initialised pollfd; the result is only a readiness hint.
        if unsafe { libc::poll(&mut fd, 1, millis) } < 0 {
            let e = std::io::Error::last_os_error();
            if e.kind() != std::io::ErrorKind::Interrupted {
                return Err(e).context("poll on the X connection");
            }
        }
        Ok(())
    }

    fn serve(mut self, stop: &AtomicBool) -> Result<()> {
        while !stop.load(Ordering::SeqCst) {
            let Some(event) = self.conn.poll_for_event()? else {
                self.wait_readable(STOP_POLL)?;
                continue;
            };
            match event {
                Event::SelectionRequest(request) => self.answer(&request)?,
                Event::PropertyNotify(event) if event.state == Property::DELETE => {
                    self.next_chunk(event.window, event.atom)?;
                }
                // Someone else copied: like any program, we no longer own the clipboard.
                Event::SelectionClear(_) => return Ok(()),
                _ => {}
            }
            self.conn.flush()?;
        }
        Ok(())
    }

    fn answer(&mut self, request: &xproto::SelectionRequestEvent) -> Result<()> {
        // Obsolete requestors give no property: the target names it then.
        let property = if request.property == x11rb::NONE {
            request.target
        } else {
            request.property
        };
        let answered = if request.selection != self.atoms.clipboard {
            false
        } else if request.target == self.atoms.targets {
            self.conn.change_property32(
                PropMode::REPLACE,
                request.requestor,
                property,
                AtomEnum::ATOM,
                &[self.atoms.targets, self.atoms.target],
            )?;
            true
        } else if request.target == self.atoms.target {
            if self.data.len() <= CHUNK {
                self.conn.change_property8(
                    PropMode::REPLACE,
                    request.requestor,
                    property,
                    self.atoms.target,
                    &self.data,
                )?;
            } else {
                // Chunks follow each deletion of the property by the requestor.
                self.conn.change_window_attributes(
                    request.requestor,
                    &ChangeWindowAttributesAux::new().event_mask(EventMask::PROPERTY_CHANGE),
                )?;
                let size = u32::try_from(self.data.len()).unwrap_or(u32::MAX);
                self.conn.change_property32(
                    PropMode::REPLACE,
                    request.requestor,
                    property,
                    self.atoms.incr,
                    &[size],
                )?;
                self.transfers
                    .retain(|t| !(t.requestor == request.requestor && t.property == property));
                self.transfers.push(Transfer {
                    requestor: request.requestor,
                    property,
                    offset: 0,
                    done: false,
                });
            }
            true
        } else {
            false
        };
        let notify = SelectionNotifyEvent {
            response_type: xproto::SELECTION_NOTIFY_EVENT,
            sequence: 0,
            time: request.time,
            requestor: request.requestor,
            selection: request.selection,
            target: request.target,
            property: if answered { property } else { x11rb::NONE },
        };
        self.conn
            .send_event(false, request.requestor, EventMask::NO_EVENT, notify)?;
        Ok(())
    }

    fn next_chunk(&mut self, window: xproto::Window, property: xproto::Atom) -> Result<()> {
        let Some(index) = self
            .transfers
            .iter()
            .position(|t| t.requestor == window && t.property == property)
        else {
            return Ok(());
        };
        let transfer = &mut self.transfers[index];
        if transfer.done {
            // The requestor took the closing empty chunk.
            self.transfers.swap_remove(index);
            return Ok(());
        }
        let end = (transfer.offset + CHUNK).min(self.data.len());
        let chunk = &self.data[transfer.offset..end];
        // A zero-length chunk ends the transfer.
        transfer.done = chunk.is_empty();
        transfer.offset = end;
        self.conn
            .change_property8(PropMode::REPLACE, window, property, self.atoms.target, chunk)?;
        Ok(())
    }
}
