#![warn(missing_docs)]
//! A small BEAM-style process runtime on tokio, the ground every naming strategy stands on.
//!
//! - [`Runtime::spawn`] starts a process and returns a [`ProcessRef`]: its [`Pid`]
//!   (`<0.42.0>`, never reused, names its node) and the way to its mailbox.
//! - Messaging: [`ProcessRef::send`] (plain message), [`ProcessRef::cast`],
//!   [`ProcessRef::call`] with a timeout. A send to a process known to be dead answers
//!   [`CallError::NoProc`]; a message queued to a process that then dies is dropped, as on
//!   the BEAM, and a call whose callee dies answers `NoProc`; a callee that lives on but
//!   drops the request leaves the caller waiting for its timeout (`Timeout`), as
//!   `gen_server:call` does. A timeout of `Duration::MAX` means no limit.
//! - Failure: [`ProcessRef::kill`] makes a process unreachable at once (dead to sends,
//!   calls and registries' liveness checks) and ends it at its next `.await`, even inside
//!   a handler; monitors ([`Ctx::monitor`], [`ProcessRef::exited`], or
//!   [`ProcessRef::into_exited`] for a caller done with its handle) report every exit
//!   (normal, panic with its message, kill) as a [`Down`]; links propagate abnormal exits,
//!   or deliver them as messages to processes that trap exits.
//! - [`GenServer`] gives the `init` / `handle_call` / `handle_cast` / `handle_info` shape;
//!   [`Supervisor`] and [`DynamicSupervisor`] restart children by policy and intensity.
//! - Names held through [`ProcessRef::hold_name`] are released in the process's own exit
//!   path, before monitors and links hear of the exit: the hook registries build on. Every
//!   monitor's `Down` is queued before [`ProcessRef::exited`] resolves.
//!
//! Messages are dynamically typed (`Box<dyn Any + Send>`), like BEAM terms; servers check
//! request types on the sender's side and answer [`CallError::BadRequest`] on a mismatch
//! (a call's type by a fingerprint; the server checks it again when it takes the request).

mod cell_lock;
mod deadline;
mod dynamic_supervisor;
mod envelope;
mod error;
mod gen_server;
mod line_rc;
mod mailbox;
mod name;
mod pid;
mod process;
mod process_table;
mod process_task;
mod runtime;
mod supervisor;

pub use deadline::{deadline_after, instant_after};
pub use dynamic_supervisor::{ChildCounts, DynamicSupervisor, DynamicSupervisorOpts};
pub use envelope::{CallRequest, Down, Envelope, ErasedCall, ExitSignal, MonitorRef, Msg, ReplyTo};
pub use error::{CallError, ExitReason, StartError};
pub use gen_server::{GenServer, Info, RegisterHook, ServerRef, StartOpts};
pub use name::{Name, Tag, TextName};
pub use pid::Pid;
pub use process::{Ctx, ExitObserver, HoldError, ProcessRef};
pub use runtime::{Runtime, SpawnOpts};
pub use supervisor::{
    ChildInfo, ChildSpec, Intensity, Restart, Strategy, SupervisedChildren, Supervisor,
    SupervisorError,
};

/// The BEAM's default call timeout (`GenServer.call/2`): 5 seconds.
pub const DEFAULT_CALL_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);
