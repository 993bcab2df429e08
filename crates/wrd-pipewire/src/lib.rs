//! The PipeWire thread: every PipeWire object (MainLoop, Context, Core, Streams) lives on one
//! dedicated `std::thread`; the tokio side talks to it only through commands, frame slots and
//! events. Nothing PipeWire-typed crosses a thread.
//!
//! ```text
//!  async side (tokio)                          PipeWire thread (std::thread "pipewire")
//!  ──────────────────                          ─────────────────────────────────────────
//!  PipeWireConnection ── PipeWireCommand ──►   pipewire::channel receiver attached to the
//!    (CommandSender)     (pipe wakes the loop)  MainLoop: CreateStream / DestroyStream /
//!          ▲                                    StartStream / StopStream / SetSize /
//!          │                                    Shutdown,
//!          └──── oneshot reply ◄──────────────  each answered with a typed Result
//!  next_event() ◄─ unbounded mpsc ◄──────────  state / format changes, errors, disconnect
//!  FrameReceiver ◄─ latest-wins slot ◄───────  process callback: copy once into a pooled
//!    (one per stream; damage merged)            buffer, re-queue the PipeWire buffer at once
//! ```
//!
//! - The loop sleeps until a command or a PipeWire event arrives (no polling, no timer): an
//!   idle thread uses no CPU.
//! - Format negotiation offers raw BGRx, BGRA, RGBx, RGBA, xRGB, ARGB, xBGR, ABGR without a
//!   modifier (MemFd/MemPtr buffers), size and frame-rate ranges (variable rate 0/1 up to a
//!   maximum), and, unless disabled, the same with the LINEAR modifier for DMA-BUF (mapped by
//!   the CPU, plane offset honoured). Header, damage and cursor metadata are requested.
//!   A stream can instead offer one fixed size and change it while it runs (`SetSize`): the
//!   link re-negotiates, and a producer that takes its consumer's size (Mutter's virtual
//!   monitor) follows.
//! - The thread never waits for the async side: each stream's frames go to a one-frame slot;
//!   an unread frame is replaced and its damage merged into the newer one ([`FrameReceiver`]).
//!   Events go on an unbounded channel (they are rare: no frame goes there).
//! - If the daemon goes away, every stream gets [`PipeWireEvent::StreamDisconnected`] and its
//!   receiver ends with [`StreamClosed::Disconnected`], then [`PipeWireEvent::Disconnected`]
//!   is sent and the thread exits. Shutdown (or dropping the manager) joins within 1 s.
//!
//! ```no_run
//! use wrd_pipewire::{PipeWireThreadManager, Remote, StreamConfig};
//! # async fn demo(fd: std::os::fd::OwnedFd, node_id: u32) -> Result<(), Box<dyn std::error::Error>> {
//! let (manager, mut conn) = PipeWireThreadManager::spawn(Remote::Fd(fd))?;
//! let mut handle = conn.create_stream(node_id, StreamConfig::default()).await?;
//! let frame = handle.frames.recv().await?;
//! println!("{}x{} {:?}, damage {:?}", frame.width, frame.height, frame.format, frame.damage);
//! manager.shutdown_async().await?;
//! # Ok(()) }
//! ```
//!
//! # The PipeWire types cannot leave their thread
//!
//! They are reference-counted with `Rc` (or hold raw pointers) and so are neither `Send` nor
//! `Sync`; the compiler refuses to move them to another thread (error E0277). These examples
//! are compile-fail doctests: `cargo test --doc` fails if any of them compiles.
//!
//! ```compile_fail,E0277
//! let mainloop = pipewire::main_loop::MainLoopRc::new(None).unwrap();
//! std::thread::spawn(move || drop(mainloop));
//! ```
//!
//! ```compile_fail,E0277
//! fn send_context(context: pipewire::context::ContextRc) {
//!     std::thread::spawn(move || drop(context));
//! }
//! ```
//!
//! ```compile_fail,E0277
//! fn send_core(core: pipewire::core::CoreRc) {
//!     std::thread::spawn(move || drop(core));
//! }
//! ```
//!
//! ```compile_fail,E0277
//! fn send_stream(stream: pipewire::stream::StreamRc) {
//!     std::thread::spawn(move || drop(stream));
//! }
//! ```
//!
//! ```compile_fail,E0277
//! fn send_stream_box(stream: pipewire::stream::StreamBox<'static>) {
//!     std::thread::spawn(move || drop(stream));
//! }
//! ```
//!
//! ```compile_fail,E0277
//! fn send_listener(listener: pipewire::stream::StreamListener<()>) {
//!     std::thread::spawn(move || drop(listener));
//! }
//! ```
//!
//! (Beware: the borrowed `&pipewire::stream::Stream` *is* `Send` and `Sync`, because bindgen's
//! opaque `pw_stream` is; this crate never lets a reference to one leave the thread.)
//!
//! What does cross threads is plain data:
//!
//! ```
//! fn is_send<T: Send>() {}
//! is_send::<wrd_pipewire::PipeWireThreadManager>();
//! is_send::<wrd_pipewire::PipeWireConnection>();
//! is_send::<wrd_pipewire::PipeWireCommand>();
//! is_send::<wrd_pipewire::FrameReceiver>();
//! is_send::<wrd_pipewire::CapturedFrame>();
//! is_send::<wrd_pipewire::PipeWireStream>();
//! is_send::<wrd_pipewire::PipeWireEvent>();
//! ```

mod error;
pub mod format;
mod frame;
mod manager;
mod probe;
pub mod test_source;
mod thread;
mod types;

pub use error::PipeWireError;
pub use frame::{
    CapturedFrame, CursorBitmap, CursorInfo, FrameReceiver, FrameStats, MAX_DAMAGE_RECTS, StreamClosed,
};
pub use manager::{
    CONNECT_TIMEOUT, CommandSender, PipeWireCommand, PipeWireConnection, PipeWireThreadManager, Reply,
    SHUTDOWN_TIMEOUT, StreamHandle,
};
pub use probe::{DaemonInfo, probe_daemon};
pub use types::{
    ALL_FORMATS, MemoryKind, PipeWireEvent, PipeWireStream, Remote, StreamConfig, StreamId, StreamState,
    VideoFormatInfo,
};
/// Re-exported for `PixelFormat` and `Rect` in frames.
pub use wrd_frame;
