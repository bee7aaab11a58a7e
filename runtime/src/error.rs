//! Exit reasons and the errors of messaging.

use std::fmt;
use std::sync::Arc;

use crate::Pid;

/// Why a process ended, as carried by `Down` messages and exit signals.
#[derive(Clone, PartialEq, Eq)]
pub enum ExitReason {
    /// The process returned normally.
    Normal,
    /// Stopped on purpose by its supervisor or owner (OTP's `:shutdown`).
    Shutdown,
    /// Killed with [`ProcessRef::kill`](crate::ProcessRef::kill) (OTP's `:killed`).
    Killed,
    /// The process panicked; the panic message.
    Panic(Arc<str>),
    /// Any other error reason, e.g. a failed `init` or a supervisor beyond its restart intensity.
    Error(Arc<str>),
}

impl ExitReason {
    /// An `Error` reason with this text.
    pub fn error(text: impl Into<Arc<str>>) -> Self {
        ExitReason::Error(text.into())
    }

    /// `Normal` and `Shutdown` are the reasons OTP does not treat as a crash.
    pub fn is_normal(&self) -> bool {
        matches!(self, ExitReason::Normal | ExitReason::Shutdown)
    }
}

impl fmt::Display for ExitReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExitReason::Normal => f.write_str("normal"),
            ExitReason::Shutdown => f.write_str("shutdown"),
            ExitReason::Killed => f.write_str("killed"),
            ExitReason::Panic(m) => write!(f, "panic: {m}"),
            ExitReason::Error(m) => write!(f, "error: {m}"),
        }
    }
}

impl fmt::Debug for ExitReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// Why a `call`, `cast` or `send` did not get through.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CallError {
    /// The target process is dead, or died before replying.
    #[error("no process")]
    NoProc,
    /// No reply came within the timeout; a late reply is discarded.
    #[error("timed out")]
    Timeout,
    /// The target does not speak this protocol (request or reply type mismatch).
    #[error("the process does not accept this message type")]
    BadRequest,
}

/// Why starting a process failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum StartError {
    /// `init` returned an error, or the process died during it.
    #[error("init failed: {0}")]
    Init(ExitReason),
    /// The name it was to be started under is held by this live process (OTP's `{:already_started, pid}`).
    #[error("already started as {0}")]
    AlreadyStarted(Pid),
    /// Registering its name failed for another reason.
    #[error("name registration failed: {0}")]
    Name(Arc<str>),
    /// The supervisor asked to start it is not running.
    #[error("supervisor not running")]
    NoSupervisor,
}
