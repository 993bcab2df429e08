//! A video source for tests and benchmarks: an Output stream (the graph driver) on its own
//! PipeWire thread that publishes the frames it is given, with damage, header and cursor
//! metadata, and links itself to a consumer through the daemon's `link-factory` (so no session
//! manager is needed).
//!
//! Not used by the server: it exists so that the consumer can be tested against a real daemon
//! with frames whose pixels, stride, damage and timing are known exactly.

use std::cell::RefCell;
use std::collections::HashMap;
use std::os::fd::OwnedFd;
use std::rc::Rc;
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

use pipewire as pw;
use pw::context::ContextRc;
use pw::core::CoreRc;
use pw::main_loop::MainLoopRc;
use pw::properties::properties;
use pw::spa;
use pw::stream::{Stream, StreamFlags, StreamRc, StreamState};
use spa::param::ParamType;
use spa::pod::{ChoiceValue, Object, Property, Value};
use spa::sys as spa_sys;
use spa::utils::{Choice, ChoiceEnum, ChoiceFlags, Id, SpaTypes};
use wrd_frame::{PixelFormat, Rect};

use crate::format::{self, MODIFIER_LINEAR};
use crate::{PipeWireError, Remote};

/// What the test source produces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestSourceConfig {
    pub name: String,
    pub format: PixelFormat,
    pub width: u32,
    pub height: u32,
    /// Bytes per row (at least `width * 4`; more to test padded rows).
    pub stride: u32,
    /// Where plane 0's pixels start inside each buffer (tests that consumers honour it).
    pub chunk_offset: u32,
    pub max_framerate: u32,
    /// Offer only the LINEAR modifier and hand out buffers labelled DMA-BUF (memfds: CPU
    /// mappable like a linear DMA-BUF, no GPU needed).
    pub dmabuf: bool,
    pub buffers: u32,
}

impl TestSourceConfig {
    pub fn new(format: PixelFormat, width: u32, height: u32) -> Self {
        Self {
            name: "wrd-test-source".into(),
            format,
            width,
            height,
            stride: width * 4,
            chunk_offset: 0,
            max_framerate: 60,
            dmabuf: false,
            buffers: 4,
        }
    }

    fn buffer_size(&self) -> u32 {
        self.chunk_offset + self.stride * self.height
    }
}

/// Cursor metadata to attach to a frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestCursor {
    pub id: u32,
    pub x: i32,
    pub y: i32,
    pub hotspot_x: i32,
    pub hotspot_y: i32,
    /// `(width, height, RGBA bytes)`.
    pub bitmap: Option<(u32, u32, Vec<u8>)>,
}

/// One frame to publish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestFrame {
    /// `width * 4 * height` bytes, rows without padding (the source adds its stride).
    pub pixels: Vec<u8>,
    /// Damage regions; empty: a damage meta whose first region is empty ("no information").
    pub damage: Vec<Rect>,
    pub cursor: Option<TestCursor>,
    /// Send a buffer whose chunk has size 0 (a cursor-only update).
    pub no_pixels: bool,
}

impl TestFrame {
    pub fn new(pixels: Vec<u8>, damage: Vec<Rect>) -> Self {
        Self {
            pixels,
            damage,
            cursor: None,
            no_pixels: false,
        }
    }
}

/// `CLOCK_MONOTONIC` in nanoseconds: the clock of `Instant` on Linux and of the header `pts`
/// this source writes, so latencies can be computed across threads.
pub fn monotonic_ns() -> i64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec to a valid pointer.
    unsafe {
        libc::clock_gettime(libc::CLOCK_MONOTONIC, &raw mut ts);
    }
    ts.tv_sec * 1_000_000_000 + ts.tv_nsec
}

/// Why a push did not produce a buffer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PushError {
    #[error("no free buffer (the consumer holds them all, or no link yet)")]
    NoBuffer,
    #[error("no format negotiated yet")]
    NotNegotiated,
    #[error("frame does not match the source: {0}")]
    BadFrame(String),
    #[error("the test source thread is gone")]
    Gone,
    #[error("timed out")]
    Timeout,
}

enum SourceCmd {
    Push(Box<TestFrame>, mpsc::Sender<Result<i64, PushError>>),
    Link(u32, mpsc::Sender<Result<(), String>>),
    Unlink(u32),
    Shutdown,
}

/// The running test source. Dropping it stops its thread.
pub struct TestSource {
    tx: pw::channel::Sender<SourceCmd>,
    thread: Option<JoinHandle<()>>,
    node_id: u32,
}

impl std::fmt::Debug for TestSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestSource")
            .field("node_id", &self.node_id)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for SourceCmd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Push(..) => "Push",
            Self::Link(..) => "Link",
            Self::Unlink(..) => "Unlink",
            Self::Shutdown => "Shutdown",
        })
    }
}

const WAIT: Duration = Duration::from_secs(5);

impl TestSource {
    /// Starts the source and waits (at most 5 s) until the daemon gave its node an id.
    pub fn start(remote: Remote, config: TestSourceConfig) -> Result<Self, PipeWireError> {
        if config.stride < config.width * 4 || config.width == 0 || config.height == 0 {
            return Err(PipeWireError::InvalidConfig(format!("{config:?}")));
        }
        let (tx, rx) = std::panic::catch_unwind(pw::channel::channel::<SourceCmd>)
            .map_err(|_| PipeWireError::Spawn("pipe".into()))?;
        let (ready_tx, ready_rx) = mpsc::sync_channel(1);
        let thread = std::thread::Builder::new()
            .name("pw-test-source".into())
            .spawn(move || source_thread(remote, config, rx, ready_tx))
            .map_err(|e| PipeWireError::Spawn(e.to_string()))?;
        let node_id = match ready_rx.recv_timeout(WAIT) {
            Ok(Ok(id)) => id,
            Ok(Err(e)) => {
                let _ = thread.join();
                return Err(e);
            }
            Err(_) => {
                let _ = tx.send(SourceCmd::Shutdown);
                return Err(PipeWireError::Timeout(WAIT));
            }
        };
        Ok(Self {
            tx,
            thread: Some(thread),
            node_id,
        })
    }

    /// The source's node id.
    pub fn node_id(&self) -> u32 {
        self.node_id
    }

    /// Links the source's output to `consumer_node` (a consumer stream's own node).
    pub fn link_to(&self, consumer_node: u32) -> Result<(), String> {
        let (tx, rx) = mpsc::channel();
        self.tx
            .send(SourceCmd::Link(consumer_node, tx))
            .map_err(|_| "test source gone".to_owned())?;
        rx.recv_timeout(WAIT).map_err(|e| e.to_string())?
    }

    /// Drops the link to `consumer_node` (if any).
    pub fn unlink(&self, consumer_node: u32) {
        let _ = self.tx.send(SourceCmd::Unlink(consumer_node));
    }

    /// Publishes `frame`; returns the `pts` (monotonic ns) written in its header, taken just
    /// before the buffer was queued.
    pub fn push(&self, frame: TestFrame) -> Result<i64, PushError> {
        let (tx, rx) = mpsc::channel();
        self.tx
            .send(SourceCmd::Push(Box::new(frame), tx))
            .map_err(|_| PushError::Gone)?;
        match rx.recv_timeout(WAIT) {
            Ok(r) => r,
            Err(mpsc::RecvTimeoutError::Timeout) => Err(PushError::Timeout),
            Err(mpsc::RecvTimeoutError::Disconnected) => Err(PushError::Gone),
        }
    }

    /// [`Self::push`], retrying while no buffer is free, at most `timeout`.
    pub fn push_retry(&self, frame: TestFrame, timeout: Duration) -> Result<i64, PushError> {
        let start = std::time::Instant::now();
        loop {
            match self.push(frame.clone()) {
                Err(PushError::NoBuffer | PushError::NotNegotiated) if start.elapsed() < timeout => {
                    std::thread::sleep(Duration::from_millis(2));
                }
                r => return r,
            }
        }
    }
}

impl Drop for TestSource {
    fn drop(&mut self) {
        let _ = self.tx.send(SourceCmd::Shutdown);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

struct Pending {
    frame: Box<TestFrame>,
    reply: mpsc::Sender<Result<i64, PushError>>,
}

struct SourceState {
    config: TestSourceConfig,
    negotiated: bool,
    pending: Option<Pending>,
    seq: u64,
    /// producer-side memfd mappings of DMA-BUF-labelled buffers, by pw_buffer
    allocations: HashMap<usize, Vec<(OwnedFd, *mut libc::c_void, usize)>>,
}

fn source_thread(
    remote: Remote,
    config: TestSourceConfig,
    rx: pw::channel::Receiver<SourceCmd>,
    ready: mpsc::SyncSender<Result<u32, PipeWireError>>,
) {
    pw::init();
    let setup = || -> Result<(MainLoopRc, ContextRc, CoreRc), PipeWireError> {
        let e = |e: pw::Error| PipeWireError::Connect(e.to_string());
        let mainloop = MainLoopRc::new(None).map_err(e)?;
        let context = ContextRc::new(&mainloop, None).map_err(e)?;
        let core = match remote {
            Remote::Fd(fd) => context.connect_fd_rc(fd, None).map_err(e)?,
            Remote::Default => context.connect_rc(None).map_err(e)?,
            Remote::Socket(path) => {
                let s = std::os::unix::net::UnixStream::connect(&path)
                    .map_err(|err| PipeWireError::Connect(format!("{}: {err}", path.display())))?;
                context.connect_fd_rc(OwnedFd::from(s), None).map_err(e)?
            }
        };
        Ok((mainloop, context, core))
    };
    let (mainloop, _context, core) = match setup() {
        Ok(v) => v,
        Err(e) => {
            let _ = ready.send(Err(e));
            return;
        }
    };
    let stream = match StreamRc::new(
        core.clone(),
        &config.name,
        properties! {
            *pw::keys::MEDIA_TYPE => "Video",
            *pw::keys::MEDIA_CATEGORY => "Source",
            *pw::keys::MEDIA_CLASS => "Video/Source",
        },
    ) {
        Ok(s) => s,
        Err(e) => {
            let _ = ready.send(Err(PipeWireError::pw("pw_stream_new", e)));
            return;
        }
    };
    let dmabuf = config.dmabuf;
    let enum_format = format::serialize(format::fixed_format_object(
        config.format,
        config.width,
        config.height,
        config.max_framerate,
        dmabuf.then_some(MODIFIER_LINEAR),
        ParamType::EnumFormat,
    ));
    let state = Rc::new(RefCell::new(SourceState {
        config,
        negotiated: false,
        pending: None,
        seq: 0,
        allocations: HashMap::new(),
    }));
    let ready = Rc::new(RefCell::new(Some(ready)));
    let listener = stream
        .add_local_listener_with_user_data(state.clone())
        .state_changed({
            let ready = ready.clone();
            move |stream, _state, _old, new| {
                let id = stream.node_id();
                if matches!(new, StreamState::Paused | StreamState::Streaming)
                    && id != pw::constants::ID_ANY
                    && let Some(r) = ready.borrow_mut().take()
                {
                    let _ = r.send(Ok(id));
                }
                if let StreamState::Error(e) = new
                    && let Some(r) = ready.borrow_mut().take()
                {
                    let _ = r.send(Err(PipeWireError::pw("test source stream", e)));
                }
            }
        })
        .param_changed(|stream, state, id, param| {
            if id != spa_sys::SPA_PARAM_Format {
                return;
            }
            let Ok(mut st) = state.try_borrow_mut() else {
                return;
            };
            st.negotiated = param.is_some();
            if param.is_none() {
                return;
            }
            if let Ok(pods) = producer_buffer_params(&st.config) {
                let mut params: Vec<&spa::pod::Pod> =
                    pods.iter().filter_map(|b| spa::pod::Pod::from_bytes(b)).collect();
                drop(st);
                let _ = stream.update_params(&mut params);
            }
        })
        .add_buffer(|_stream, state, buffer| {
            if let Ok(mut st) = state.try_borrow_mut()
                && st.config.dmabuf
            {
                let size = st.config.buffer_size() as usize;
                // SAFETY: `buffer` is the pw_buffer being added, valid for this call.
                let allocs = unsafe { allocate_memfd_planes(buffer, size) };
                st.allocations.insert(buffer as usize, allocs);
            }
        })
        .remove_buffer(|_stream, state, buffer| {
            if let Ok(mut st) = state.try_borrow_mut()
                && let Some(allocs) = st.allocations.remove(&(buffer as usize))
            {
                for (_fd, ptr, len) in allocs {
                    // SAFETY: mapped in add_buffer with this length, unmapped once.
                    unsafe { libc::munmap(ptr, len) };
                }
            }
        })
        .process(produce)
        .register();
    let listener = match listener {
        Ok(l) => l,
        Err(e) => {
            if let Some(r) = ready.borrow_mut().take() {
                let _ = r.send(Err(PipeWireError::pw("stream listener", e)));
            }
            return;
        }
    };
    let connected = enum_format.map_err(PipeWireError::InvalidConfig).and_then(|pod| {
        let mut params: Vec<&spa::pod::Pod> = spa::pod::Pod::from_bytes(&pod).into_iter().collect();
        let mut flags = StreamFlags::DRIVER | StreamFlags::MAP_BUFFERS;
        if dmabuf {
            flags |= StreamFlags::ALLOC_BUFFERS;
        }
        stream
            .connect(spa::utils::Direction::Output, None, flags, &mut params)
            .map_err(|e| PipeWireError::pw("pw_stream_connect", e))
    });
    if let Err(e) = connected {
        if let Some(r) = ready.borrow_mut().take() {
            let _ = r.send(Err(e));
        }
        return;
    }
    let links: Rc<RefCell<HashMap<u32, pw::link::Link>>> = Rc::new(RefCell::new(HashMap::new()));
    let _attached = rx.attach(mainloop.loop_(), {
        let mainloop = mainloop.downgrade();
        let stream = stream.clone();
        let core = core.clone();
        let state = state.clone();
        let links = links.clone();
        move |cmd| match cmd {
            SourceCmd::Shutdown => {
                if let Some(m) = mainloop.upgrade() {
                    m.quit();
                }
            }
            SourceCmd::Link(consumer, reply) => {
                let out = stream.node_id();
                let r = core
                    .create_object::<pw::link::Link>(
                        "link-factory",
                        &properties! {
                            *pw::keys::LINK_OUTPUT_NODE => out.to_string(),
                            *pw::keys::LINK_INPUT_NODE => consumer.to_string(),
                        },
                    )
                    .map_err(|e| e.to_string());
                let r = r.map(|link| {
                    links.borrow_mut().insert(consumer, link);
                });
                let _ = reply.send(r);
            }
            SourceCmd::Unlink(consumer) => {
                links.borrow_mut().remove(&consumer);
            }
            SourceCmd::Push(frame, reply) => {
                let Ok(mut st) = state.try_borrow_mut() else {
                    let _ = reply.send(Err(PushError::Gone));
                    return;
                };
                if !st.negotiated || stream.state() != StreamState::Streaming {
                    let _ = reply.send(Err(PushError::NotNegotiated));
                    return;
                }
                let need = (st.config.width * 4 * st.config.height) as usize;
                if !frame.no_pixels && frame.pixels.len() != need {
                    let _ = reply.send(Err(PushError::BadFrame(format!(
                        "{} bytes, expected {need}",
                        frame.pixels.len()
                    ))));
                    return;
                }
                if let Some(old) = st.pending.replace(Pending { frame, reply }) {
                    let _ = old.reply.send(Err(PushError::NoBuffer));
                }
                drop(st);
                if let Err(e) = stream.trigger_process() {
                    tracing::debug!(error = %e, "trigger_process");
                }
            }
        }
    });
    mainloop.run();
    links.borrow_mut().clear();
    drop(listener);
    let _ = stream.disconnect();
}

/// Gives every data plane of `buffer` a memfd of `size` bytes labelled DMA-BUF.
///
/// # Safety
/// `buffer` must be a valid pw_buffer being added to a stream.
unsafe fn allocate_memfd_planes(
    buffer: *mut pw::sys::pw_buffer,
    size: usize,
) -> Vec<(OwnedFd, *mut libc::c_void, usize)> {
    use std::os::fd::{AsRawFd, FromRawFd};
    let mut out = Vec::new();
    // SAFETY: guaranteed by the caller.
    let sb = unsafe { (*buffer).buffer };
    if sb.is_null() {
        return out;
    }
    // SAFETY: a valid spa_buffer.
    let sb = unsafe { &mut *sb };
    for i in 0..sb.n_datas as usize {
        // SAFETY: `datas` has `n_datas` entries.
        let d = unsafe { &mut *sb.datas.add(i) };
        // SAFETY: memfd_create with a static C string; the result is checked.
        let fd = unsafe { libc::memfd_create(c"wrd-test-dmabuf".as_ptr(), libc::MFD_CLOEXEC) };
        if fd < 0 {
            continue;
        }
        // SAFETY: a fresh fd we own.
        let owned = unsafe { OwnedFd::from_raw_fd(fd) };
        let Ok(len) = libc::off_t::try_from(size) else {
            continue;
        };
        // SAFETY: ftruncate on our memfd.
        if unsafe { libc::ftruncate(owned.as_raw_fd(), len) } != 0 {
            continue;
        }
        // SAFETY: a shared RW mapping of our memfd; checked.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                size,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                owned.as_raw_fd(),
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            continue;
        }
        d.type_ = spa_sys::SPA_DATA_DmaBuf;
        d.flags = spa_sys::SPA_DATA_FLAG_READWRITE;
        d.fd = i64::from(owned.as_raw_fd());
        d.mapoffset = 0;
        d.maxsize = u32::try_from(size).unwrap_or(u32::MAX);
        d.data = ptr;
        out.push((owned, ptr, size));
    }
    out
}

fn producer_buffer_params(cfg: &TestSourceConfig) -> Result<Vec<Vec<u8>>, String> {
    let int = |v: u32| i32::try_from(v).unwrap_or(i32::MAX);
    let mask: i32 = if cfg.dmabuf {
        1 << spa_sys::SPA_DATA_DmaBuf
    } else {
        (1 << spa_sys::SPA_DATA_MemFd) | (1 << spa_sys::SPA_DATA_MemPtr)
    };
    let n = int(cfg.buffers);
    let buffers = Object {
        type_: SpaTypes::ObjectParamBuffers.as_raw(),
        id: ParamType::Buffers.as_raw(),
        properties: vec![
            Property::new(
                spa_sys::SPA_PARAM_BUFFERS_buffers,
                Value::Choice(ChoiceValue::Int(Choice(
                    ChoiceFlags::empty(),
                    ChoiceEnum::Range {
                        default: n,
                        min: 1,
                        max: 32,
                    },
                ))),
            ),
            Property::new(spa_sys::SPA_PARAM_BUFFERS_blocks, Value::Int(1)),
            Property::new(
                spa_sys::SPA_PARAM_BUFFERS_size,
                Value::Int(int(cfg.buffer_size())),
            ),
            Property::new(spa_sys::SPA_PARAM_BUFFERS_stride, Value::Int(int(cfg.stride))),
            Property::new(
                spa_sys::SPA_PARAM_BUFFERS_dataType,
                Value::Choice(ChoiceValue::Int(Choice(
                    ChoiceFlags::empty(),
                    ChoiceEnum::Flags {
                        default: mask,
                        flags: vec![],
                    },
                ))),
            ),
        ],
    };
    let meta = |t: u32, size: usize| Object {
        type_: SpaTypes::ObjectParamMeta.as_raw(),
        id: ParamType::Meta.as_raw(),
        properties: vec![
            Property::new(spa_sys::SPA_PARAM_META_type, Value::Id(Id(t))),
            Property::new(
                spa_sys::SPA_PARAM_META_size,
                Value::Int(i32::try_from(size).unwrap_or(0)),
            ),
        ],
    };
    [
        buffers,
        meta(
            spa_sys::SPA_META_Header,
            std::mem::size_of::<spa_sys::spa_meta_header>(),
        ),
        meta(
            spa_sys::SPA_META_VideoDamage,
            format::META_REGION_SIZE * format::DAMAGE_REGIONS,
        ),
        meta(spa_sys::SPA_META_Cursor, format::cursor_meta_size(64, 64)),
    ]
    .into_iter()
    .map(format::serialize)
    .collect()
}

/// The process callback: fill a buffer with the pending frame and queue it.
fn produce(stream: &Stream, state: &mut Rc<RefCell<SourceState>>) {
    let Ok(mut st) = state.try_borrow_mut() else {
        return;
    };
    let Some(pending) = st.pending.take() else { return };
    // SAFETY: a buffer of this stream or NULL; queued back below exactly once.
    let buf = unsafe { stream.dequeue_raw_buffer() };
    if buf.is_null() {
        let _ = pending.reply.send(Err(PushError::NoBuffer));
        return;
    }
    st.seq += 1;
    let seq = st.seq;
    // SAFETY: `buf` is dequeued and ours until queued.
    let filled = unsafe { fill(buf, &st.config, &pending.frame, seq) };
    let pts = monotonic_ns();
    // SAFETY: `buf` is a dequeued buffer whose header (if any) we may write.
    unsafe { set_header(buf, pts, seq) };
    // SAFETY: given back once.
    unsafe { stream.queue_raw_buffer(buf) };
    let _ = pending
        .reply
        .send(filled.map(|()| pts).map_err(PushError::BadFrame));
}

/// # Safety
/// `buf` must be a dequeued buffer of an output stream.
unsafe fn set_header(buf: *mut pw::sys::pw_buffer, pts: i64, seq: u64) {
    // SAFETY: guaranteed by the caller.
    let Some(sb) = (unsafe { (*buf).buffer.as_mut() }) else {
        return;
    };
    if let Some(m) = meta_mut(
        sb,
        spa_sys::SPA_META_Header,
        std::mem::size_of::<spa_sys::spa_meta_header>(),
    ) {
        let h = spa_sys::spa_meta_header {
            flags: 0,
            offset: 0,
            pts,
            dts_offset: 0,
            seq,
        };
        // SAFETY: the meta holds at least one header.
        unsafe { std::ptr::write_unaligned(m.cast::<spa_sys::spa_meta_header>(), h) };
    }
}

fn meta_mut(sb: &mut spa_sys::spa_buffer, type_: u32, min: usize) -> Option<*mut u8> {
    if sb.metas.is_null() {
        return None;
    }
    (0..sb.n_metas as usize).find_map(|i| {
        // SAFETY: `metas` has `n_metas` entries.
        let m = unsafe { &mut *sb.metas.add(i) };
        (m.type_ == type_ && !m.data.is_null() && m.size as usize >= min).then_some(m.data.cast::<u8>())
    })
}

fn meta_size(sb: &spa_sys::spa_buffer, type_: u32) -> usize {
    if sb.metas.is_null() {
        return 0;
    }
    (0..sb.n_metas as usize)
        .find_map(|i| {
            // SAFETY: `metas` has `n_metas` entries.
            let m = unsafe { &*sb.metas.add(i) };
            (m.type_ == type_).then_some(m.size as usize)
        })
        .unwrap_or(0)
}

/// Writes pixels, chunk, damage and cursor metadata.
///
/// # Safety
/// `buf` must be a dequeued buffer of an output stream.
unsafe fn fill(
    buf: *mut pw::sys::pw_buffer,
    cfg: &TestSourceConfig,
    frame: &TestFrame,
    _seq: u64,
) -> Result<(), String> {
    // SAFETY: guaranteed by the caller.
    let Some(sb) = (unsafe { (*buf).buffer.as_mut() }) else {
        return Err("no spa_buffer".into());
    };
    if sb.n_datas == 0 || sb.datas.is_null() {
        return Err("no data plane".into());
    }
    // SAFETY: n_datas > 0.
    let d = unsafe { &mut *sb.datas };
    // SAFETY: the chunk of a valid data plane.
    let Some(chunk) = (unsafe { d.chunk.as_mut() }) else {
        return Err("no chunk".into());
    };
    let (w, h, stride, off) = (
        cfg.width as usize,
        cfg.height as usize,
        cfg.stride as usize,
        cfg.chunk_offset as usize,
    );
    if frame.no_pixels {
        chunk.offset = 0;
        chunk.size = 0;
        chunk.stride = i32::try_from(stride).unwrap_or(0);
        chunk.flags = 0;
    } else {
        if d.data.is_null() || (d.maxsize as usize) < off + stride * h {
            return Err(format!("buffer of {} bytes cannot hold the frame", d.maxsize));
        }
        // SAFETY: the mapping holds maxsize bytes (checked above to cover the frame).
        let mem = unsafe { std::slice::from_raw_parts_mut(d.data.cast::<u8>(), d.maxsize as usize) };
        for y in 0..h {
            let dst = off + y * stride;
            mem[dst..dst + w * 4].copy_from_slice(&frame.pixels[y * w * 4..(y + 1) * w * 4]);
            // padding bytes get a marker that must never show up in a consumer's pixels
            mem[dst + w * 4..dst + stride].fill(0xEE);
        }
        chunk.offset = u32::try_from(off).unwrap_or(0);
        chunk.size = u32::try_from(stride * h).unwrap_or(0);
        chunk.stride = i32::try_from(stride).unwrap_or(0);
        chunk.flags = 0;
    }
    let dmg_size = meta_size(sb, spa_sys::SPA_META_VideoDamage);
    if let Some(m) = meta_mut(sb, spa_sys::SPA_META_VideoDamage, format::META_REGION_SIZE) {
        let cap = dmg_size / format::META_REGION_SIZE;
        let regions = m.cast::<spa_sys::spa_meta_region>();
        let mut n = 0;
        for r in frame.damage.iter().take(cap) {
            let region = spa_sys::spa_meta_region {
                region: spa_sys::spa_region {
                    position: spa_sys::spa_point {
                        x: i32::from(r.x),
                        y: i32::from(r.y),
                    },
                    size: spa_sys::spa_rectangle {
                        width: u32::from(r.width),
                        height: u32::from(r.height),
                    },
                },
            };
            // SAFETY: n < cap regions fit in the meta.
            unsafe { std::ptr::write_unaligned(regions.add(n), region) };
            n += 1;
        }
        if n < cap {
            // terminator (or, with no damage, "no information")
            // SAFETY: n < cap.
            unsafe { std::ptr::write_bytes(regions.add(n), 0, 1) };
        }
    }
    let cur_size = meta_size(sb, spa_sys::SPA_META_Cursor);
    if let Some(m) = meta_mut(
        sb,
        spa_sys::SPA_META_Cursor,
        std::mem::size_of::<spa_sys::spa_meta_cursor>(),
    ) {
        let c = frame.cursor.clone();
        let cur_hdr = std::mem::size_of::<spa_sys::spa_meta_cursor>();
        let bm_hdr = std::mem::size_of::<spa_sys::spa_meta_bitmap>();
        let mut meta = spa_sys::spa_meta_cursor {
            id: 0,
            flags: 0,
            position: spa_sys::spa_point { x: 0, y: 0 },
            hotspot: spa_sys::spa_point { x: 0, y: 0 },
            bitmap_offset: 0,
        };
        if let Some(c) = c {
            meta.id = c.id;
            meta.position = spa_sys::spa_point { x: c.x, y: c.y };
            meta.hotspot = spa_sys::spa_point {
                x: c.hotspot_x,
                y: c.hotspot_y,
            };
            if let Some((bw, bh, rgba)) = &c.bitmap {
                let px = (*bw as usize) * (*bh as usize) * 4;
                if rgba.len() == px && cur_hdr + bm_hdr + px <= cur_size {
                    meta.bitmap_offset = u32::try_from(cur_hdr).unwrap_or(0);
                    let bm = spa_sys::spa_meta_bitmap {
                        format: format::spa_format(PixelFormat::Rgba).as_raw(),
                        size: spa_sys::spa_rectangle {
                            width: *bw,
                            height: *bh,
                        },
                        stride: i32::try_from(*bw * 4).unwrap_or(0),
                        offset: u32::try_from(bm_hdr).unwrap_or(0),
                    };
                    // SAFETY: header + bitmap header + pixels fit in the meta (checked).
                    unsafe {
                        std::ptr::write_unaligned(m.add(cur_hdr).cast::<spa_sys::spa_meta_bitmap>(), bm);
                        std::ptr::copy_nonoverlapping(rgba.as_ptr(), m.add(cur_hdr + bm_hdr), px);
                    }
                }
            }
        }
        // SAFETY: the meta holds at least one cursor header.
        unsafe { std::ptr::write_unaligned(m.cast::<spa_sys::spa_meta_cursor>(), meta) };
    }
    Ok(())
}
