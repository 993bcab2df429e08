//! The PipeWire thread: owns the MainLoop, Context, Core and every Stream. Nothing in this
//! module leaves the thread except plain data (events, frames, replies).
//!
//! The loop sleeps in `pw_main_loop_run` until a PipeWire event or a command arrives: commands
//! come through a `pipewire::channel` whose receiver is attached to the loop (a pipe the loop
//! polls), so an idle thread costs nothing.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::os::fd::OwnedFd;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use pipewire as pw;
use pw::context::ContextRc;
use pw::core::CoreRc;
use pw::main_loop::MainLoopRc;
use pw::properties::properties;
use pw::spa;
use pw::stream::{Stream, StreamFlags, StreamListener, StreamRc};
use spa::sys as spa_sys;
use tokio::sync::mpsc::UnboundedSender;
use wrd_frame::{PixelFormat, Rect, accumulate_damage};

use crate::format::{self, FormatRejected};
use crate::frame::{
    BufferPool, CapturedFrame, CursorBitmap, CursorInfo, FrameSlot, MAX_DAMAGE_RECTS, clamp_u16,
};
use crate::manager::{CommandGate, StreamHandle};
use crate::{
    FrameReceiver, MemoryKind, PipeWireCommand, PipeWireError, PipeWireEvent, PipeWireStream, Remote,
    StreamClosed, StreamConfig, StreamId, StreamState, VideoFormatInfo,
};

/// `PW_ID_CORE`.
const ID_CORE: u32 = 0;
/// Invalid-buffer events sent per stream before they are thinned out (1 in 1000 after).
const INVALID_REPORTS: u64 = 5;
/// Free frame buffers kept per stream.
const POOL_KEEP: usize = 3;

pub(crate) struct ThreadInit {
    pub remote: Remote,
    pub commands: pw::channel::Receiver<PipeWireCommand>,
    pub events: UnboundedSender<PipeWireEvent>,
    pub ready: std::sync::mpsc::SyncSender<Result<(), PipeWireError>>,
    pub gate: Arc<CommandGate>,
}

/// The thread's body. Returns when told to shut down or when the daemon goes away.
pub(crate) fn run(init: ThreadInit) {
    let ThreadInit {
        remote,
        commands,
        events,
        ready,
        gate,
    } = init;
    pw::init();
    let (mainloop, context, core) = match connect(remote) {
        Ok(v) => v,
        Err(e) => {
            gate.close();
            let _ = ready.send(Err(e));
            return;
        }
    };
    let state = Rc::new(PwThread {
        mainloop: mainloop.clone(),
        core: core.clone(),
        events,
        streams: RefCell::new(HashMap::new()),
        disconnected: RefCell::new(None),
        shutdown_replies: RefCell::new(Vec::new()),
        ready: RefCell::new(Some(ready)),
        stopping: Cell::new(false),
    });
    let core_listener = core
        .add_listener_local()
        .done({
            let weak = Rc::downgrade(&state);
            move |id, _seq| {
                if id == ID_CORE
                    && let Some(t) = weak.upgrade()
                    && let Some(ready) = t.ready.borrow_mut().take()
                {
                    let _ = ready.send(Ok(()));
                }
            }
        })
        .error({
            let weak = Rc::downgrade(&state);
            move |id, seq, res, message| {
                if let Some(t) = weak.upgrade() {
                    t.on_core_error(id, seq, res, message);
                }
            }
        })
        .register();
    // A round trip: the daemon answers `done`, or the connection fails with an error.
    if let Err(e) = core.sync(0)
        && let Some(ready) = state.ready.borrow_mut().take()
    {
        gate.close();
        let _ = ready.send(Err(PipeWireError::Connect(format!("core sync: {e}"))));
        return;
    }
    let attached = commands.attach(mainloop.loop_(), {
        let weak = Rc::downgrade(&state);
        move |cmd| match weak.upgrade() {
            Some(t) => t.handle(cmd),
            None => reject(cmd),
        }
    });

    mainloop.run();

    // No new commands from here on; answer those already queued (ThreadGone / Shutdown ok).
    state.stopping.set(true);
    gate.close();
    mainloop.loop_().iterate(pw::loop_::Timeout::None);
    state.finish();
    if let Some(ready) = state.ready.borrow_mut().take() {
        let reason = state.disconnected.borrow().clone().unwrap_or_default();
        let _ = ready.send(Err(PipeWireError::Connect(reason)));
    }
    drop(attached);
    drop(core_listener);
    drop(state);
    drop(core);
    drop(context);
    drop(mainloop);
    tracing::debug!("PipeWire thread finished");
}

pub(crate) fn connect(remote: Remote) -> Result<(MainLoopRc, ContextRc, CoreRc), PipeWireError> {
    let conn = |e: pw::Error| PipeWireError::Connect(e.to_string());
    let mainloop = MainLoopRc::new(None).map_err(|e| PipeWireError::Connect(format!("main loop: {e}")))?;
    let context =
        ContextRc::new(&mainloop, None).map_err(|e| PipeWireError::Connect(format!("context: {e}")))?;
    let core = match remote {
        Remote::Fd(fd) => context.connect_fd_rc(fd, None).map_err(conn)?,
        Remote::Default => context.connect_rc(None).map_err(conn)?,
        Remote::Socket(path) => {
            let sock = std::os::unix::net::UnixStream::connect(&path)
                .map_err(|e| PipeWireError::Connect(format!("{}: {e}", path.display())))?;
            context.connect_fd_rc(OwnedFd::from(sock), None).map_err(conn)?
        }
    };
    Ok((mainloop, context, core))
}

/// Answers a command that arrived after the thread stopped taking them.
fn reject(cmd: PipeWireCommand) {
    match cmd {
        PipeWireCommand::CreateStream { reply, .. } => {
            let _ = reply.send(Err(PipeWireError::ThreadGone));
        }
        PipeWireCommand::DestroyStream { reply, .. }
        | PipeWireCommand::StartStream { reply, .. }
        | PipeWireCommand::StopStream { reply, .. }
        | PipeWireCommand::SetSize { reply, .. } => {
            let _ = reply.send(Err(PipeWireError::ThreadGone));
        }
        PipeWireCommand::Shutdown { reply } => {
            let _ = reply.send(Ok(()));
        }
    }
}

struct StreamEntry {
    // dropped first: no callback runs once the entry is being torn down
    listener: StreamListener<StreamCtx>,
    stream: StreamRc,
    slot: Arc<FrameSlot>,
    info: Rc<RefCell<PipeWireStream>>,
    /// What the stream offers (its `EnumFormat`s are rebuilt from it on `SetSize`).
    config: StreamConfig,
}

struct PwThread {
    mainloop: MainLoopRc,
    core: CoreRc,
    events: UnboundedSender<PipeWireEvent>,
    streams: RefCell<HashMap<StreamId, StreamEntry>>,
    disconnected: RefCell<Option<String>>,
    shutdown_replies: RefCell<Vec<tokio::sync::oneshot::Sender<Result<(), PipeWireError>>>>,
    ready: RefCell<Option<std::sync::mpsc::SyncSender<Result<(), PipeWireError>>>>,
    stopping: Cell<bool>,
}

fn errno_name(res: i32) -> String {
    std::io::Error::from_raw_os_error(res.saturating_abs()).to_string()
}

impl PwThread {
    fn event(&self, e: PipeWireEvent) {
        // an unbounded send never blocks; it fails only when the async side dropped the receiver
        let _ = self.events.send(e);
    }

    fn on_core_error(&self, id: u32, seq: i32, res: i32, message: &str) {
        let pending_ready = self.ready.borrow().is_some();
        if id == ID_CORE && (res == -libc::EPIPE || pending_ready) {
            let reason = format!("{message} ({})", errno_name(res));
            tracing::warn!(%reason, "PipeWire connection lost");
            if self.disconnected.borrow().is_none() {
                *self.disconnected.borrow_mut() = Some(reason);
            }
            self.mainloop.quit();
        } else {
            tracing::warn!(id, seq, res, message, "PipeWire error");
            self.event(PipeWireEvent::CoreError {
                id,
                seq,
                res,
                message: message.to_owned(),
            });
        }
    }

    fn handle(&self, cmd: PipeWireCommand) {
        if self.stopping.get() {
            return reject(cmd);
        }
        match cmd {
            PipeWireCommand::CreateStream {
                stream_id,
                node_id,
                config,
                reply,
            } => {
                let r = self.create_stream(stream_id, node_id, config);
                if let Err(e) = &r {
                    tracing::warn!(stream = %stream_id, node_id, error = %e, "CreateStream failed");
                }
                let _ = reply.send(r);
            }
            PipeWireCommand::DestroyStream { stream_id, reply } => {
                let _ = reply.send(self.destroy_stream(stream_id));
            }
            PipeWireCommand::StartStream { stream_id, reply } => {
                let _ = reply.send(self.set_active(stream_id, true));
            }
            PipeWireCommand::StopStream { stream_id, reply } => {
                let _ = reply.send(self.set_active(stream_id, false));
            }
            PipeWireCommand::SetSize {
                stream_id,
                size,
                reply,
            } => {
                let r = self.set_size(stream_id, size);
                if let Err(e) = &r {
                    tracing::warn!(stream = %stream_id, ?size, error = %e, "SetSize failed");
                }
                let _ = reply.send(r);
            }
            PipeWireCommand::Shutdown { reply } => {
                self.shutdown_replies.borrow_mut().push(reply);
                self.mainloop.quit();
            }
        }
    }

    fn create_stream(
        &self,
        id: StreamId,
        node_id: u32,
        config: StreamConfig,
    ) -> Result<StreamHandle, PipeWireError> {
        if self.streams.borrow().contains_key(&id) {
            return Err(PipeWireError::StreamExists(id));
        }
        if let Some(reason) = self.disconnected.borrow().clone() {
            return Err(PipeWireError::Disconnected(reason));
        }
        config.validate().map_err(PipeWireError::InvalidConfig)?;
        let format_pods = format::consumer_enum_formats(&config).map_err(PipeWireError::InvalidConfig)?;
        let props = properties! {
            *pw::keys::MEDIA_TYPE => "Video",
            *pw::keys::MEDIA_CATEGORY => "Capture",
            *pw::keys::MEDIA_ROLE => "Screen",
        };
        let stream = StreamRc::new(self.core.clone(), &config.name, props)
            .map_err(|e| PipeWireError::pw("pw_stream_new", e))?;
        let (frames, slot) = FrameReceiver::new(id);
        let info = Rc::new(RefCell::new(PipeWireStream {
            id,
            node_id,
            local_node_id: None,
            format: None,
            state: StreamState::Unconnected,
            active: config.start_active,
        }));
        let mut flags = StreamFlags::MAP_BUFFERS | StreamFlags::DONT_RECONNECT;
        if config.autoconnect {
            flags |= StreamFlags::AUTOCONNECT;
        }
        if !config.start_active {
            flags |= StreamFlags::INACTIVE;
        }
        let ctx = StreamCtx {
            id,
            config: config.clone(),
            slot: slot.clone(),
            info: info.clone(),
            events: self.events.clone(),
            format: None,
            pool: BufferPool::new(POOL_KEEP),
            seq: 0,
            last: None,
            invalid_reports: 0,
            mappings: HashMap::new(),
        };
        let listener = stream
            .add_local_listener_with_user_data(ctx)
            .state_changed(|stream, ctx, old, new| ctx.on_state_changed(stream, old, new))
            .param_changed(|stream, ctx, id, param| ctx.on_param_changed(stream, id, param))
            .process(|stream, ctx| ctx.on_process(stream))
            .remove_buffer(|_stream, ctx, buffer| ctx.on_remove_buffer(buffer))
            .register()
            .map_err(|e| PipeWireError::pw("adding the stream listener", e))?;
        let mut pods: Vec<&spa::pod::Pod> = format_pods
            .iter()
            .filter_map(|b| spa::pod::Pod::from_bytes(b))
            .collect();
        let target = (node_id != pw::constants::ID_ANY).then_some(node_id);
        stream
            .connect(spa::utils::Direction::Input, target, flags, &mut pods)
            .map_err(|e| PipeWireError::pw("pw_stream_connect", e))?;
        let snapshot = info.borrow().clone();
        self.streams.borrow_mut().insert(
            id,
            StreamEntry {
                listener,
                stream,
                slot,
                info,
                config,
            },
        );
        tracing::debug!(stream = %id, node_id, "stream created");
        Ok(StreamHandle {
            stream: snapshot,
            frames,
        })
    }

    fn destroy_stream(&self, id: StreamId) -> Result<PipeWireStream, PipeWireError> {
        let entry = self
            .streams
            .borrow_mut()
            .remove(&id)
            .ok_or(PipeWireError::NoSuchStream(id))?;
        let StreamEntry {
            listener,
            stream,
            slot,
            info,
            config: _,
        } = entry;
        drop(listener);
        if let Err(e) = stream.disconnect() {
            tracing::debug!(stream = %id, error = %e, "pw_stream_disconnect");
        }
        drop(stream);
        slot.close(StreamClosed::Destroyed);
        let mut snap = info.borrow().clone();
        snap.state = StreamState::Unconnected;
        snap.active = false;
        tracing::debug!(stream = %id, "stream destroyed");
        Ok(snap)
    }

    fn set_active(&self, id: StreamId, active: bool) -> Result<PipeWireStream, PipeWireError> {
        let (stream, info) = {
            let streams = self.streams.borrow();
            let e = streams.get(&id).ok_or(PipeWireError::NoSuchStream(id))?;
            (e.stream.clone(), e.info.clone())
        };
        stream
            .set_active(active)
            .map_err(|e| PipeWireError::pw("pw_stream_set_active", e))?;
        if let Ok(mut i) = info.try_borrow_mut() {
            i.active = active;
        }
        let snap = info.borrow().clone();
        Ok(snap)
    }

    fn set_size(&self, id: StreamId, size: (u32, u32)) -> Result<PipeWireStream, PipeWireError> {
        crate::types::validate_fixed_size(size.0, size.1).map_err(PipeWireError::InvalidConfig)?;
        let (stream, info, pods) = {
            let mut streams = self.streams.borrow_mut();
            let entry = streams.get_mut(&id).ok_or(PipeWireError::NoSuchStream(id))?;
            let mut config = entry.config.clone();
            config.fixed_size = Some(size);
            let pods = format::consumer_enum_formats(&config).map_err(PipeWireError::InvalidConfig)?;
            entry.config = config;
            (entry.stream.clone(), entry.info.clone(), pods)
        };
        let mut params: Vec<&spa::pod::Pod> =
            pods.iter().filter_map(|b| spa::pod::Pod::from_bytes(b)).collect();
        // Replaces the EnumFormat params: the link sees them change and re-negotiates.
        stream
            .update_params(&mut params)
            .map_err(|e| PipeWireError::pw("pw_stream_update_params", e))?;
        tracing::debug!(stream = %id, ?size, "offering a new size");
        let snap = info.borrow().clone();
        Ok(snap)
    }

    /// After the loop stopped: end every stream, report, and answer Shutdown.
    fn finish(&self) {
        let reason = self.disconnected.borrow().clone();
        let entries: Vec<(StreamId, StreamEntry)> = self.streams.borrow_mut().drain().collect();
        for (id, entry) in entries {
            let StreamEntry {
                listener,
                stream,
                slot,
                info,
                config: _,
            } = entry;
            drop(listener);
            if reason.is_none() {
                let _ = stream.disconnect();
            }
            drop(stream);
            let old = info.borrow().state.clone();
            match &reason {
                Some(r) => {
                    self.event(PipeWireEvent::StreamStateChanged {
                        stream: id,
                        old,
                        new: StreamState::Disconnected,
                        local_node_id: info.borrow().local_node_id,
                    });
                    self.event(PipeWireEvent::StreamDisconnected {
                        stream: id,
                        reason: r.clone(),
                    });
                    slot.close(StreamClosed::Disconnected(r.clone()));
                }
                None => slot.close(StreamClosed::Shutdown),
            }
        }
        if let Some(r) = reason {
            self.event(PipeWireEvent::Disconnected { reason: r });
        }
        for reply in self.shutdown_replies.borrow_mut().drain(..) {
            let _ = reply.send(Ok(()));
        }
    }
}

/// A CPU mapping of a buffer's fd that PipeWire did not map (DMA-BUF).
struct Mapping {
    ptr: *mut libc::c_void,
    len: usize,
    fd: i64,
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: `ptr`/`len` come from a successful mmap and are unmapped exactly once, here.
        unsafe {
            libc::munmap(self.ptr, self.len);
        }
    }
}

/// The last frame with pixels: a cursor-only update shares its data.
struct LastPixels {
    data: Bytes,
    width: u32,
    height: u32,
    stride: usize,
    format: PixelFormat,
}

/// Per-stream state owned by the stream's listener (so only its callbacks touch it).
struct StreamCtx {
    id: StreamId,
    config: StreamConfig,
    slot: Arc<FrameSlot>,
    info: Rc<RefCell<PipeWireStream>>,
    events: UnboundedSender<PipeWireEvent>,
    format: Option<VideoFormatInfo>,
    pool: BufferPool,
    seq: u64,
    last: Option<LastPixels>,
    invalid_reports: u64,
    mappings: HashMap<usize, Mapping>,
}

fn map_state(s: pw::stream::StreamState) -> StreamState {
    match s {
        pw::stream::StreamState::Unconnected => StreamState::Unconnected,
        pw::stream::StreamState::Connecting => StreamState::Connecting,
        pw::stream::StreamState::Paused => StreamState::Paused,
        pw::stream::StreamState::Streaming => StreamState::Streaming,
        pw::stream::StreamState::Error(e) => StreamState::Error(e),
    }
}

/// What the metadata of one buffer says (read before the buffer is given back).
struct BufferMeta {
    pixels: bool,
    /// Empty: the whole frame.
    damage: Vec<Rect>,
    cursor: Option<CursorInfo>,
    pts_ns: Option<i64>,
    source_seq: Option<u64>,
}

impl StreamCtx {
    fn event(&self, e: PipeWireEvent) {
        let _ = self.events.send(e);
    }

    fn on_state_changed(
        &mut self,
        stream: &Stream,
        old: pw::stream::StreamState,
        new: pw::stream::StreamState,
    ) {
        let node = stream.node_id();
        let local_node_id = (node != pw::constants::ID_ANY).then_some(node);
        let (old, new) = (map_state(old), map_state(new));
        tracing::debug!(stream = %self.id, ?old, ?new, ?local_node_id, "stream state");
        if let Ok(mut i) = self.info.try_borrow_mut() {
            i.state = new.clone();
            i.local_node_id = local_node_id;
        }
        self.event(PipeWireEvent::StreamStateChanged {
            stream: self.id,
            old,
            new,
            local_node_id,
        });
    }

    fn on_param_changed(&mut self, stream: &Stream, id: u32, param: Option<&spa::pod::Pod>) {
        if id != spa_sys::SPA_PARAM_Format {
            return;
        }
        let Some(param) = param else {
            // format cleared (unlinked); a new one comes with the next link
            self.format = None;
            self.last = None;
            return;
        };
        let info = match format::parse_format(param.as_bytes()) {
            Ok(info) => info,
            Err(FormatRejected::NotRawVideo) => return,
            Err(FormatRejected::Unsupported(message)) => {
                tracing::warn!(stream = %self.id, %message, "format refused");
                self.event(PipeWireEvent::StreamError {
                    stream: self.id,
                    message,
                });
                return;
            }
        };
        tracing::debug!(stream = %self.id, ?info, "format negotiated");
        self.format = Some(info);
        self.last = None;
        if let Ok(mut i) = self.info.try_borrow_mut() {
            i.format = Some(info);
        }
        self.event(PipeWireEvent::FormatChanged {
            stream: self.id,
            format: info,
        });
        let memory = format::memory_for(&info);
        match format::consumer_buffer_params(&self.config, memory == MemoryKind::DmaBuf) {
            Ok(pods) => {
                let mut params: Vec<&spa::pod::Pod> =
                    pods.iter().filter_map(|b| spa::pod::Pod::from_bytes(b)).collect();
                if let Err(e) = stream.update_params(&mut params) {
                    self.event(PipeWireEvent::StreamError {
                        stream: self.id,
                        message: format!("pw_stream_update_params: {e}"),
                    });
                } else {
                    self.event(PipeWireEvent::BuffersNegotiated {
                        stream: self.id,
                        memory,
                    });
                }
            }
            Err(message) => self.event(PipeWireEvent::StreamError {
                stream: self.id,
                message,
            }),
        }
    }

    fn on_remove_buffer(&mut self, buffer: *mut pw::sys::pw_buffer) {
        self.mappings.remove(&(buffer as usize));
    }

    fn invalid(&mut self, message: String) {
        self.slot.count_invalid();
        self.invalid_reports += 1;
        if self.invalid_reports <= INVALID_REPORTS || self.invalid_reports.is_multiple_of(1000) {
            tracing::warn!(stream = %self.id, %message, "buffer refused");
            self.event(PipeWireEvent::StreamError {
                stream: self.id,
                message,
            });
        }
    }

    /// Buffers are ready: copy each out and give it back at once, then publish. Normally one
    /// buffer is waiting; if the loop fell behind, each is still copied in order (a newer
    /// cursor-only buffer must not hide older pixels) and the slot merges them.
    fn on_process(&mut self, stream: &Stream) {
        loop {
            // SAFETY: dequeue returns a buffer owned by this stream or NULL; each one dequeued
            // is queued back below exactly once, on this thread, before the next dequeue.
            let buf = unsafe { stream.dequeue_raw_buffer() };
            if buf.is_null() {
                return;
            }
            self.slot.count_received();
            self.seq += 1;
            let captured_at = Instant::now();
            // SAFETY: `buf` is dequeued and stays ours until the queue call right after.
            let result = unsafe { self.extract(buf, captured_at) };
            // SAFETY: `buf` came from this stream's dequeue and is given back once, at once.
            unsafe { stream.queue_raw_buffer(buf) };
            match result {
                Ok(Some(frame)) => {
                    self.slot.publish(frame);
                }
                Ok(None) => {}
                Err(message) => self.invalid(message),
            }
        }
    }

    /// Header, damage and cursor metadata of a dequeued buffer.
    ///
    /// # Safety
    /// `buf` must be a dequeued buffer of this stream, not yet queued back.
    unsafe fn read_meta(&self, buf: *mut pw::sys::pw_buffer) -> Option<BufferMeta> {
        // SAFETY: the caller guarantees `buf` is valid; its spa_buffer lives as long.
        let sbuf = unsafe { (*buf).buffer };
        if sbuf.is_null() {
            return None;
        }
        // SAFETY: `sbuf` is a valid spa_buffer (PipeWire keeps it for the buffer's lifetime).
        let sb = unsafe { &*sbuf };
        let (width, height) = self.format.map_or((0, 0), |f| (f.width, f.height));
        let header = find_meta(sb, spa_sys::SPA_META_Header)
            .filter(|m| m.size as usize >= std::mem::size_of::<spa_sys::spa_meta_header>())
            .map(|m| {
                // SAFETY: the meta is at least the size of a header (checked) and PipeWire
                // allocates meta data with suitable alignment.
                unsafe { std::ptr::read_unaligned(m.data as *const spa_sys::spa_meta_header) }
            });
        let corrupted = header
            .as_ref()
            .is_some_and(|h| h.flags & spa_sys::SPA_META_HEADER_FLAG_CORRUPTED != 0);
        let pixels = !corrupted && first_chunk_has_data(sb);
        let damage = find_meta(sb, spa_sys::SPA_META_VideoDamage)
            .map(|m| read_damage(m, width, height))
            .unwrap_or_default();
        let cursor = find_meta(sb, spa_sys::SPA_META_Cursor).and_then(read_cursor);
        Some(BufferMeta {
            pixels,
            damage,
            cursor,
            pts_ns: header.as_ref().map(|h| h.pts),
            source_seq: header.as_ref().map(|h| h.seq),
        })
    }

    /// Copies a dequeued buffer into a pooled one. `Ok(None)`: nothing to deliver.
    ///
    /// # Safety
    /// `buf` must be a dequeued buffer of this stream, not yet queued back.
    unsafe fn extract(
        &mut self,
        buf: *mut pw::sys::pw_buffer,
        captured_at: Instant,
    ) -> Result<Option<CapturedFrame>, String> {
        let Some(fmt) = self.format else {
            return Err("buffer before a format was negotiated".into());
        };
        // SAFETY: forwarded from the caller.
        let Some(meta) = (unsafe { self.read_meta(buf) }) else {
            return Err("buffer without a spa_buffer".into());
        };
        let base = CapturedFrame {
            stream_id: self.id,
            seq: self.seq,
            width: fmt.width,
            height: fmt.height,
            stride: 0,
            format: fmt.format,
            data: Bytes::new(),
            damage: meta.damage,
            pixels_changed: false,
            cursor: meta.cursor,
            captured_at,
            pts_ns: meta.pts_ns,
            source_seq: meta.source_seq,
            merged: 0,
        };
        if !meta.pixels {
            // cursor-only (or empty) update: share the last pixels, if there are any
            let Some(last) = &self.last else { return Ok(None) };
            if base.cursor.is_none() {
                return Ok(None);
            }
            return Ok(Some(CapturedFrame {
                width: last.width,
                height: last.height,
                stride: last.stride,
                format: last.format,
                data: last.data.clone(),
                damage: Vec::new(),
                ..base
            }));
        }
        // SAFETY: forwarded from the caller; read_meta found a spa_buffer.
        let sb = unsafe { &*(*buf).buffer };
        let t = Instant::now();
        let (data, stride) = self.copy_pixels(buf as usize, sb, &fmt)?;
        self.slot.count_copied(data.len(), t.elapsed());
        self.last = Some(LastPixels {
            data: data.clone(),
            width: fmt.width,
            height: fmt.height,
            stride,
            format: fmt.format,
        });
        Ok(Some(CapturedFrame {
            stride,
            data,
            pixels_changed: true,
            ..base
        }))
    }

    /// The one copy: plane 0 of `sb`, from its chunk offset, into a pooled buffer.
    fn copy_pixels(
        &mut self,
        key: usize,
        sb: &spa_sys::spa_buffer,
        fmt: &VideoFormatInfo,
    ) -> Result<(Bytes, usize), String> {
        if sb.n_datas == 0 || sb.datas.is_null() {
            return Err("buffer without data planes".into());
        }
        // SAFETY: n_datas > 0 and datas is non-null: datas[0] is a valid spa_data.
        let d = unsafe { &*sb.datas };
        if d.chunk.is_null() {
            return Err("data plane without a chunk".into());
        }
        // SAFETY: checked non-null; PipeWire keeps the chunk alive with the buffer.
        let chunk = unsafe { &*d.chunk };
        let width = fmt.width as usize;
        let height = fmt.height as usize;
        let row = width * 4;
        let stride = match usize::try_from(chunk.stride) {
            Ok(0) | Err(_) => row,
            Ok(s) => s,
        };
        if stride < row {
            return Err(format!("stride {stride} < {row} for width {width}"));
        }
        let maxsize = d.maxsize as usize;
        if maxsize == 0 {
            return Err("data plane of size 0".into());
        }
        let offset = (chunk.offset as usize) % maxsize;
        let need = stride * (height - 1) + row;
        if offset + need > maxsize {
            return Err(format!(
                "{width}x{height} stride {stride} at offset {offset} needs {} bytes, the plane has {maxsize}",
                offset + need
            ));
        }
        let is_dmabuf = d.type_ == spa_sys::SPA_DATA_DmaBuf;
        let base: *const u8 = if !d.data.is_null() {
            d.data as *const u8
        } else if d.type_ == spa_sys::SPA_DATA_MemFd || is_dmabuf {
            self.map_fd(key, d)?
        } else {
            return Err(format!("unmapped data of type {}", d.type_));
        };
        // SAFETY: PipeWire (or `map_fd`) maps `maxsize` readable bytes at `base`, valid until
        // the buffer is queued back (after this copy) or removed.
        let mem = unsafe { std::slice::from_raw_parts(base, maxsize) };
        let src = mem
            .get(offset..offset + need)
            .ok_or_else(|| "plane range out of bounds".to_owned())?;
        if is_dmabuf {
            dma_buf_sync(d.fd, DMA_BUF_SYNC_START);
        }
        let len = stride * height;
        let mut out = self.pool.take(len);
        out[..need].copy_from_slice(src);
        out[need..].fill(0);
        if is_dmabuf {
            dma_buf_sync(d.fd, DMA_BUF_SYNC_END);
        }
        Ok((self.pool.share(out), stride))
    }

    /// Maps an fd PipeWire did not map (DMA-BUF with a LINEAR modifier), once per buffer.
    fn map_fd(&mut self, key: usize, d: &spa_sys::spa_data) -> Result<*const u8, String> {
        let len = d.mapoffset as usize + d.maxsize as usize;
        if let Some(m) = self.mappings.get(&key)
            && m.fd == d.fd
            && m.len == len
        {
            // SAFETY: the mapping covers mapoffset + maxsize bytes.
            return Ok(unsafe { (m.ptr as *const u8).add(d.mapoffset as usize) });
        }
        self.mappings.remove(&key);
        let fd = libc::c_int::try_from(d.fd).map_err(|_| format!("bad fd {}", d.fd))?;
        // SAFETY: a read-only shared mapping of an fd PipeWire handed us; the result is checked.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ,
                libc::MAP_SHARED,
                fd,
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(format!(
                "mmap of fd {fd} ({len} bytes): {}",
                std::io::Error::last_os_error()
            ));
        }
        self.mappings.insert(key, Mapping { ptr, len, fd: d.fd });
        // SAFETY: the new mapping covers mapoffset + maxsize bytes.
        Ok(unsafe { (ptr as *const u8).add(d.mapoffset as usize) })
    }
}

const DMA_BUF_SYNC_READ: u64 = 1;
const DMA_BUF_SYNC_START: u64 = 0;
const DMA_BUF_SYNC_END: u64 = 4;
/// `DMA_BUF_IOCTL_SYNC` = `_IOW('b', 0, struct dma_buf_sync)`.
const DMA_BUF_IOCTL_SYNC: libc::c_ulong = 0x4008_6200;

/// Brackets CPU access to a DMA-BUF. Errors are ignored: not every exporter needs it (and a
/// memfd passed as DMA-BUF does not know the ioctl).
fn dma_buf_sync(fd: i64, phase: u64) {
    let Ok(fd) = libc::c_int::try_from(fd) else { return };
    let flags: u64 = phase | DMA_BUF_SYNC_READ;
    // SAFETY: the ioctl reads one u64 from a valid pointer; a wrong fd only yields an error.
    unsafe {
        libc::ioctl(fd, DMA_BUF_IOCTL_SYNC, &raw const flags);
    }
}

fn first_chunk_has_data(sb: &spa_sys::spa_buffer) -> bool {
    if sb.n_datas == 0 || sb.datas.is_null() {
        return false;
    }
    // SAFETY: n_datas > 0, datas non-null.
    let d = unsafe { &*sb.datas };
    if d.chunk.is_null() {
        return false;
    }
    // SAFETY: checked non-null.
    let c = unsafe { &*d.chunk };
    c.size > 0 && (c.flags & spa_sys::SPA_CHUNK_FLAG_CORRUPTED as i32) == 0
}

/// A metadata block of a buffer, as a safe view.
struct MetaView {
    size: u32,
    data: *const u8,
}

fn find_meta(sb: &spa_sys::spa_buffer, type_: u32) -> Option<MetaView> {
    if sb.metas.is_null() {
        return None;
    }
    (0..sb.n_metas as usize).find_map(|i| {
        // SAFETY: `metas` holds `n_metas` entries.
        let m = unsafe { &*sb.metas.add(i) };
        (m.type_ == type_ && !m.data.is_null() && m.size > 0).then_some(MetaView {
            size: m.size,
            data: m.data as *const u8,
        })
    })
}

/// `SPA_META_VideoDamage`: regions until the first empty one. A first empty region (or no
/// region at all) means "no damage information": the whole frame.
fn read_damage(m: MetaView, width: u32, height: u32) -> Vec<Rect> {
    let n = m.size as usize / format::META_REGION_SIZE;
    let bounds = Rect::new(0, 0, clamp_u16(width), clamp_u16(height));
    let mut out = Vec::new();
    for i in 0..n {
        // SAFETY: `n` regions fit in the meta's `size` bytes.
        let r = unsafe { std::ptr::read_unaligned((m.data as *const spa_sys::spa_meta_region).add(i)) };
        let (w, h) = (r.region.size.width, r.region.size.height);
        if w == 0 || h == 0 {
            break;
        }
        let (x, y) = (i64::from(r.region.position.x), i64::from(r.region.position.y));
        let (x0, y0) = (x.max(0), y.max(0));
        let (x1, y1) = (
            (x + i64::from(w)).min(i64::from(width)),
            (y + i64::from(h)).min(i64::from(height)),
        );
        if x1 <= x0 || y1 <= y0 {
            continue;
        }
        let c = |v: i64| u16::try_from(v).unwrap_or(u16::MAX);
        let rect = Rect::new(c(x0), c(y0), c(x1 - x0), c(y1 - y0));
        accumulate_damage(&mut out, rect, bounds, MAX_DAMAGE_RECTS);
    }
    out
}

/// `SPA_META_Cursor`, with its bitmap converted to RGBA when one is attached.
fn read_cursor(m: MetaView) -> Option<CursorInfo> {
    let size = m.size as usize;
    let cur_size = std::mem::size_of::<spa_sys::spa_meta_cursor>();
    if size < cur_size {
        return None;
    }
    // SAFETY: the meta holds at least one spa_meta_cursor (checked).
    let cur = unsafe { std::ptr::read_unaligned(m.data as *const spa_sys::spa_meta_cursor) };
    if cur.id == 0 {
        return None; // no cursor (hidden, or not over this output)
    }
    let mut info = CursorInfo {
        id: cur.id,
        x: cur.position.x,
        y: cur.position.y,
        hotspot_x: cur.hotspot.x,
        hotspot_y: cur.hotspot.y,
        bitmap: None,
    };
    let bm_off = cur.bitmap_offset as usize;
    let bm_size = std::mem::size_of::<spa_sys::spa_meta_bitmap>();
    if bm_off >= cur_size && bm_off + bm_size <= size {
        // SAFETY: the bitmap header lies inside the meta (checked).
        let bm = unsafe { std::ptr::read_unaligned(m.data.add(bm_off) as *const spa_sys::spa_meta_bitmap) };
        let (w, h) = (bm.size.width as usize, bm.size.height as usize);
        let stride = usize::try_from(bm.stride).unwrap_or(0).max(w * 4);
        let start = bm_off + bm.offset as usize;
        if let Some(fmt) = format::pixel_format(bm.format)
            && w > 0
            && h > 0
            && start + stride * (h - 1) + w * 4 <= size
        {
            // SAFETY: the pixel rows lie inside the meta (checked above).
            let px = unsafe { std::slice::from_raw_parts(m.data.add(start), stride * (h - 1) + w * 4) };
            info.bitmap = Some(CursorBitmap {
                width: bm.size.width,
                height: bm.size.height,
                rgba: Bytes::from(to_rgba(px, w, h, stride, fmt)),
            });
        }
    }
    Some(info)
}

/// Converts 32-bit pixels of `fmt` to packed RGBA.
pub(crate) fn to_rgba(px: &[u8], w: usize, h: usize, stride: usize, fmt: PixelFormat) -> Vec<u8> {
    // byte index of R, G, B and A (None: opaque) in a source pixel
    let (r, g, b, a) = match fmt {
        PixelFormat::Rgba => (0, 1, 2, Some(3)),
        PixelFormat::Rgbx => (0, 1, 2, None),
        PixelFormat::Bgra => (2, 1, 0, Some(3)),
        PixelFormat::Bgrx => (2, 1, 0, None),
        PixelFormat::Argb => (1, 2, 3, Some(0)),
        PixelFormat::Xrgb => (1, 2, 3, None),
        PixelFormat::Abgr => (3, 2, 1, Some(0)),
        PixelFormat::Xbgr => (3, 2, 1, None),
    };
    let mut out = Vec::with_capacity(w * h * 4);
    for y in 0..h {
        let rowp = &px[y * stride..y * stride + w * 4];
        for p in rowp.chunks_exact(4) {
            out.extend_from_slice(&[p[r], p[g], p[b], a.map_or(255, |i| p[i])]);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rgba_conversion() {
        let px = [1u8, 2, 3, 4];
        assert_eq!(to_rgba(&px, 1, 1, 4, PixelFormat::Rgba), vec![1, 2, 3, 4]);
        assert_eq!(to_rgba(&px, 1, 1, 4, PixelFormat::Bgra), vec![3, 2, 1, 4]);
        assert_eq!(to_rgba(&px, 1, 1, 4, PixelFormat::Bgrx), vec![3, 2, 1, 255]);
        assert_eq!(to_rgba(&px, 1, 1, 4, PixelFormat::Argb), vec![2, 3, 4, 1]);
        assert_eq!(to_rgba(&px, 1, 1, 4, PixelFormat::Xbgr), vec![4, 3, 2, 255]);
    }

    #[test]
    fn damage_regions_until_the_first_empty_one() {
        let regions = [
            spa_sys::spa_meta_region {
                region: spa_sys::spa_region {
                    position: spa_sys::spa_point { x: -5, y: 10 },
                    size: spa_sys::spa_rectangle { width: 20, height: 5 },
                },
            },
            spa_sys::spa_meta_region {
                region: spa_sys::spa_region {
                    position: spa_sys::spa_point { x: 90, y: 90 },
                    size: spa_sys::spa_rectangle {
                        width: 50,
                        height: 50,
                    },
                },
            },
            spa_sys::spa_meta_region {
                region: spa_sys::spa_region {
                    position: spa_sys::spa_point { x: 0, y: 0 },
                    size: spa_sys::spa_rectangle { width: 0, height: 0 },
                },
            },
            spa_sys::spa_meta_region {
                region: spa_sys::spa_region {
                    position: spa_sys::spa_point { x: 50, y: 0 },
                    size: spa_sys::spa_rectangle { width: 5, height: 5 },
                },
            },
        ];
        let view = |n: usize| MetaView {
            size: u32::try_from(n * format::META_REGION_SIZE).unwrap(),
            data: regions.as_ptr() as *const u8,
        };
        let d = read_damage(view(4), 100, 100);
        assert_eq!(d, vec![Rect::new(0, 10, 15, 5), Rect::new(90, 90, 10, 10)]);
        // a first empty region: no information, the whole frame
        let empty = [regions[2]];
        let d = read_damage(
            MetaView {
                size: u32::try_from(format::META_REGION_SIZE).unwrap(),
                data: empty.as_ptr() as *const u8,
            },
            100,
            100,
        );
        assert!(d.is_empty());
    }
}
