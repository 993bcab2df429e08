//! Errors of the PipeWire thread and its commands.

use crate::StreamId;

/// Everything that can go wrong between the async side and the PipeWire thread.
///
/// Each command is answered with `Result<_, PipeWireError>`: a failure is an error reply, never
/// a dead thread.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PipeWireError {
    /// The thread could not be started (spawn failed, or the command channel could not be made).
    #[error("could not start the PipeWire thread: {0}")]
    Spawn(String),
    /// MainLoop, Context or Core could not be created, or the connection to the daemon failed.
    #[error("could not connect to PipeWire: {0}")]
    Connect(String),
    /// The thread has exited (shut down, or the daemon went away); no command can reach it.
    #[error("the PipeWire thread is gone")]
    ThreadGone,
    /// The connection to the daemon was lost.
    #[error("disconnected from the PipeWire daemon: {0}")]
    Disconnected(String),
    /// CreateStream with an id that is already in use.
    #[error("stream {0} exists already")]
    StreamExists(StreamId),
    /// A command named a stream the thread does not know.
    #[error("no stream {0}")]
    NoSuchStream(StreamId),
    /// The stream configuration cannot be satisfied (e.g. zero sizes, no formats).
    #[error("invalid stream configuration: {0}")]
    InvalidConfig(String),
    /// A PipeWire call failed.
    #[error("{op} failed: {message}")]
    PipeWire { op: &'static str, message: String },
    /// The thread did not answer in time.
    #[error("the PipeWire thread did not answer within {0:?}")]
    Timeout(std::time::Duration),
}

impl PipeWireError {
    pub(crate) fn pw(op: &'static str, e: impl std::fmt::Display) -> Self {
        Self::PipeWire {
            op,
            message: e.to_string(),
        }
    }
}
