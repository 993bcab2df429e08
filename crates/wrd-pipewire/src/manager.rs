//! The async side: [`PipeWireThreadManager`] (owns the thread), [`PipeWireConnection`] (commands
//! and events) and the [`PipeWireCommand`]s that cross to the thread.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot, watch};

use crate::thread::{self, ThreadInit};
use crate::{FrameReceiver, PipeWireError, PipeWireEvent, PipeWireStream, Remote, StreamConfig, StreamId};

/// How long [`PipeWireThreadManager::spawn`] waits for the daemon's first answer.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long shutting down may take before the thread is left behind (detached, logged).
pub const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(1);

/// A reply channel of a command.
pub type Reply<T> = oneshot::Sender<Result<T, PipeWireError>>;

/// A created stream: its description and the receiver of its frames.
#[derive(Debug)]
pub struct StreamHandle {
    pub stream: PipeWireStream,
    pub frames: FrameReceiver,
}

/// What the async side asks of the PipeWire thread. Every command is answered on its oneshot,
/// with an error reply when it cannot be done (the thread keeps running).
#[derive(Debug)]
pub enum PipeWireCommand {
    /// Connect a consumer stream to `node_id` (`pipewire::constants::ID_ANY`: any node).
    CreateStream {
        stream_id: StreamId,
        node_id: u32,
        config: StreamConfig,
        reply: Reply<StreamHandle>,
    },
    /// Disconnect and free a stream; its frame receiver ends with `StreamClosed::Destroyed`.
    DestroyStream {
        stream_id: StreamId,
        reply: Reply<PipeWireStream>,
    },
    /// Activate a stream (buffers flow).
    StartStream {
        stream_id: StreamId,
        reply: Reply<PipeWireStream>,
    },
    /// Deactivate a stream (no buffers until started again).
    StopStream {
        stream_id: StreamId,
        reply: Reply<PipeWireStream>,
    },
    /// Offer only `size` from now on (`pw_stream_update_params` with new `EnumFormat`s): the
    /// link re-negotiates, and a producer that takes the consumer's size (Mutter's virtual
    /// monitor) resizes; a [`crate::PipeWireEvent::FormatChanged`] follows with the size agreed.
    SetSize {
        stream_id: StreamId,
        size: (u32, u32),
        reply: Reply<PipeWireStream>,
    },
    /// End every stream and leave the loop; the thread then exits.
    Shutdown { reply: Reply<()> },
}

/// Closed when the thread stops taking commands: a send after that fails at once instead of
/// queueing a command nobody will answer.
#[derive(Debug)]
pub(crate) struct CommandGate {
    open: Mutex<bool>,
}

impl CommandGate {
    pub(crate) fn close(&self) {
        *self
            .open
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = false;
    }
}

/// Set when the thread has finished (also if it unwound).
#[derive(Debug)]
struct ExitSignal {
    done: Mutex<bool>,
    cv: Condvar,
    watch: watch::Sender<bool>,
}

impl ExitSignal {
    fn new() -> Self {
        Self {
            done: Mutex::new(false),
            cv: Condvar::new(),
            watch: watch::Sender::new(false),
        }
    }

    fn set(&self) {
        *self
            .done
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = true;
        self.cv.notify_all();
        self.watch.send_replace(true);
    }

    fn wait_timeout(&self, timeout: Duration) -> bool {
        let guard = self
            .done
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let (guard, _) = self
            .cv
            .wait_timeout_while(guard, timeout, |done| !*done)
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *guard
    }
}

/// Dropped as the thread's last act (also on unwinding): closes the gate, signals exit.
struct ExitGuard {
    exit: Arc<ExitSignal>,
    gate: Arc<CommandGate>,
}

impl Drop for ExitGuard {
    fn drop(&mut self) {
        self.gate.close();
        self.exit.set();
    }
}

/// Sends commands to the thread; cheap to clone, `Send + Sync`.
#[derive(Clone)]
pub struct CommandSender {
    tx: pipewire::channel::Sender<PipeWireCommand>,
    gate: Arc<CommandGate>,
    exited: watch::Receiver<bool>,
    next_id: Arc<AtomicU64>,
}

impl std::fmt::Debug for CommandSender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CommandSender")
            .field("thread_exited", &*self.exited.borrow())
            .finish_non_exhaustive()
    }
}

impl CommandSender {
    /// Queues `cmd` for the thread (waking its loop). On failure the command comes back: the
    /// thread no longer takes commands.
    pub fn send(&self, cmd: PipeWireCommand) -> Result<(), PipeWireCommand> {
        let open = self
            .gate
            .open
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if !*open {
            return Err(cmd);
        }
        self.tx.send(cmd)
    }

    /// A fresh stream id (unique for this thread).
    pub fn next_stream_id(&self) -> StreamId {
        StreamId(self.next_id.fetch_add(1, Ordering::Relaxed))
    }

    /// Whether the thread has exited.
    pub fn is_closed(&self) -> bool {
        *self.exited.borrow()
    }

    async fn request<T>(&self, make: impl FnOnce(Reply<T>) -> PipeWireCommand) -> Result<T, PipeWireError> {
        let (tx, rx) = oneshot::channel();
        self.send(make(tx)).map_err(|_| PipeWireError::ThreadGone)?;
        let mut exited = self.exited.clone();
        tokio::select! {
            biased;
            r = rx => r.unwrap_or(Err(PipeWireError::ThreadGone)),
            // a thread that died without answering (it cannot, short of a bug) must not hang us
            _ = exited.wait_for(|done| *done) => Err(PipeWireError::ThreadGone),
        }
    }

    /// Creates a stream consuming `node_id` with a fresh id.
    pub async fn create_stream(
        &self,
        node_id: u32,
        config: StreamConfig,
    ) -> Result<StreamHandle, PipeWireError> {
        let stream_id = self.next_stream_id();
        self.create_stream_with_id(stream_id, node_id, config).await
    }

    /// Creates a stream under a caller-chosen id (an error if it is taken).
    pub async fn create_stream_with_id(
        &self,
        stream_id: StreamId,
        node_id: u32,
        config: StreamConfig,
    ) -> Result<StreamHandle, PipeWireError> {
        self.request(|reply| PipeWireCommand::CreateStream {
            stream_id,
            node_id,
            config,
            reply,
        })
        .await
    }

    pub async fn destroy_stream(&self, stream_id: StreamId) -> Result<PipeWireStream, PipeWireError> {
        self.request(|reply| PipeWireCommand::DestroyStream { stream_id, reply })
            .await
    }

    pub async fn start_stream(&self, stream_id: StreamId) -> Result<PipeWireStream, PipeWireError> {
        self.request(|reply| PipeWireCommand::StartStream { stream_id, reply })
            .await
    }

    pub async fn stop_stream(&self, stream_id: StreamId) -> Result<PipeWireStream, PipeWireError> {
        self.request(|reply| PipeWireCommand::StopStream { stream_id, reply })
            .await
    }

    /// See [`PipeWireCommand::SetSize`].
    pub async fn set_size(
        &self,
        stream_id: StreamId,
        size: (u32, u32),
    ) -> Result<PipeWireStream, PipeWireError> {
        self.request(|reply| PipeWireCommand::SetSize {
            stream_id,
            size,
            reply,
        })
        .await
    }

    /// Asks the thread to end every stream and exit; returns once it acknowledged (or is gone).
    pub async fn shutdown(&self) -> Result<(), PipeWireError> {
        match self.request(|reply| PipeWireCommand::Shutdown { reply }).await {
            Ok(()) | Err(PipeWireError::ThreadGone) => Ok(()),
            Err(e) => Err(e),
        }
    }
}

/// The async face of the PipeWire thread: commands, and the thread's events.
///
/// Events arrive on an unbounded channel: the thread must never wait for the async side, and
/// events are few (state and format changes, errors; frames never go here), so the queue stays
/// small even if nobody reads it for a while.
#[derive(Debug)]
pub struct PipeWireConnection {
    commands: CommandSender,
    events: mpsc::UnboundedReceiver<PipeWireEvent>,
}

impl PipeWireConnection {
    /// A clonable command handle (e.g. for another task).
    pub fn commands(&self) -> CommandSender {
        self.commands.clone()
    }

    pub async fn create_stream(
        &self,
        node_id: u32,
        config: StreamConfig,
    ) -> Result<StreamHandle, PipeWireError> {
        self.commands.create_stream(node_id, config).await
    }

    pub async fn destroy_stream(&self, stream_id: StreamId) -> Result<PipeWireStream, PipeWireError> {
        self.commands.destroy_stream(stream_id).await
    }

    pub async fn start_stream(&self, stream_id: StreamId) -> Result<PipeWireStream, PipeWireError> {
        self.commands.start_stream(stream_id).await
    }

    pub async fn stop_stream(&self, stream_id: StreamId) -> Result<PipeWireStream, PipeWireError> {
        self.commands.stop_stream(stream_id).await
    }

    /// See [`PipeWireCommand::SetSize`].
    pub async fn set_size(
        &self,
        stream_id: StreamId,
        size: (u32, u32),
    ) -> Result<PipeWireStream, PipeWireError> {
        self.commands.set_size(stream_id, size).await
    }

    pub async fn shutdown(&self) -> Result<(), PipeWireError> {
        self.commands.shutdown().await
    }

    /// The next event; `None` once the thread has exited and every event was read.
    /// Cancel-safe.
    pub async fn next_event(&mut self) -> Option<PipeWireEvent> {
        self.events.recv().await
    }

    /// An event if one is waiting.
    pub fn try_next_event(&mut self) -> Option<PipeWireEvent> {
        self.events.try_recv().ok()
    }
}

/// Spawns and owns the PipeWire thread. Dropping it shuts the thread down (bounded by
/// [`SHUTDOWN_TIMEOUT`]).
#[derive(Debug)]
pub struct PipeWireThreadManager {
    thread: Option<JoinHandle<()>>,
    commands: CommandSender,
    exit: Arc<ExitSignal>,
}

impl PipeWireThreadManager {
    /// Starts the thread and connects to `remote`. Blocks until the daemon answered a first
    /// round trip (normally a millisecond or two; at most [`CONNECT_TIMEOUT`]), so a returned
    /// manager has a live connection. Call from `spawn_blocking` if that matters.
    pub fn spawn(remote: Remote) -> Result<(Self, PipeWireConnection), PipeWireError> {
        // pipewire::channel::channel panics if it cannot make its pipe (no fds left)
        let (tx, rx) = std::panic::catch_unwind(pipewire::channel::channel::<PipeWireCommand>)
            .map_err(|_| PipeWireError::Spawn("could not create the command channel (pipe)".into()))?;
        let gate = Arc::new(CommandGate {
            open: Mutex::new(true),
        });
        let exit = Arc::new(ExitSignal::new());
        let (events_tx, events_rx) = mpsc::unbounded_channel();
        let (ready_tx, ready_rx) = std::sync::mpsc::sync_channel(1);
        let init = ThreadInit {
            remote,
            commands: rx,
            events: events_tx,
            ready: ready_tx,
            gate: gate.clone(),
        };
        let guard = ExitGuard {
            exit: exit.clone(),
            gate: gate.clone(),
        };
        let handle = std::thread::Builder::new()
            .name("pipewire".into())
            .spawn(move || {
                let _guard = guard;
                thread::run(init);
            })
            .map_err(|e| PipeWireError::Spawn(e.to_string()))?;
        let commands = CommandSender {
            tx,
            gate,
            exited: exit.watch.subscribe(),
            next_id: Arc::new(AtomicU64::new(1)),
        };
        let mut manager = Self {
            thread: Some(handle),
            commands: commands.clone(),
            exit,
        };
        let outcome = match ready_rx.recv_timeout(CONNECT_TIMEOUT) {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(e),
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => Err(PipeWireError::Connect(format!(
                "no answer from the daemon within {CONNECT_TIMEOUT:?}"
            ))),
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                Err(PipeWireError::Connect("the thread ended while connecting".into()))
            }
        };
        if let Err(e) = outcome {
            let _ = manager.stop();
            return Err(e);
        }
        tracing::debug!("PipeWire thread connected");
        Ok((
            manager,
            PipeWireConnection {
                commands,
                events: events_rx,
            },
        ))
    }

    /// A command handle.
    pub fn commands(&self) -> CommandSender {
        self.commands.clone()
    }

    /// Whether the thread has exited (shut down, or the daemon went away).
    pub fn is_finished(&self) -> bool {
        self.commands.is_closed()
    }

    /// Shuts the thread down and joins it, at most [`SHUTDOWN_TIMEOUT`]. Blocking.
    pub fn shutdown(mut self) -> Result<(), PipeWireError> {
        self.stop()
    }

    /// [`Self::shutdown`] for async callers (the join runs on a blocking thread).
    pub async fn shutdown_async(self) -> Result<(), PipeWireError> {
        tokio::task::spawn_blocking(move || self.shutdown())
            .await
            .unwrap_or(Err(PipeWireError::ThreadGone))
    }

    fn stop(&mut self) -> Result<(), PipeWireError> {
        let Some(handle) = self.thread.take() else {
            return Ok(());
        };
        let (reply, _rx) = oneshot::channel();
        let _ = self.commands.send(PipeWireCommand::Shutdown { reply });
        if !self.exit.wait_timeout(SHUTDOWN_TIMEOUT) {
            tracing::error!("PipeWire thread did not stop within {SHUTDOWN_TIMEOUT:?}; leaving it behind");
            return Err(PipeWireError::Timeout(SHUTDOWN_TIMEOUT));
        }
        handle
            .join()
            .map_err(|_| PipeWireError::Spawn("the PipeWire thread panicked".into()))
    }
}

impl Drop for PipeWireThreadManager {
    fn drop(&mut self) {
        if let Err(e) = self.stop() {
            tracing::warn!(error = %e, "stopping the PipeWire thread");
        }
    }
}
