//! What travels through a mailbox.

use std::any::{Any, TypeId};

use tokio::sync::oneshot;

use crate::{CallError, ExitReason, Pid};

/// A dynamically typed message, as on the BEAM: any `Send` value.
pub type Msg = Box<dyn Any + Send>;

/// A monitored process has exited (Erlang's `{:DOWN, ref, :process, pid, reason}`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Down {
    /// The monitor this notification answers.
    pub monitor: MonitorRef,
    /// The process that exited.
    pub pid: Pid,
    /// Why it exited.
    pub reason: ExitReason,
}

/// An exit signal from a linked process, delivered as a message to processes that trap exits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExitSignal {
    /// The linked process that exited.
    pub from: Pid,
    /// Why it exited.
    pub reason: ExitReason,
}

/// Identifies one monitor, for `demonitor` and to match `Down` messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MonitorRef {
    pub(crate) id: u64,
    pub(crate) target: Pid,
}

impl MonitorRef {
    /// The monitored process.
    pub fn target(&self) -> Pid {
        self.target
    }
}

/// One item of a mailbox.
///
/// Kept to three words (the rare `Down` and `Exit` are boxed): every send writes one into
/// the mailbox's queue, so its size is paid on every message.
pub enum Envelope {
    /// A request that wants a reply.
    Call(Box<dyn ErasedCall>),
    /// A one-way request to a server.
    Cast(Msg),
    /// A plain message (`send`).
    Info(Msg),
    /// A monitored process exited.
    Down(Box<Down>),
    /// A linked process exited and this process traps exits.
    Exit(Box<ExitSignal>),
}

/// A call whose request and reply types are known only to its two ends.
pub trait ErasedCall: Send {
    /// The concrete [`CallRequest`], for a type check.
    fn as_any(&self) -> &dyn Any;
    /// The concrete [`CallRequest`], to take it.
    fn into_any(self: Box<Self>) -> Box<dyn Any + Send>;
    /// Answer the caller that its request was not understood.
    fn reject(self: Box<Self>);
}

/// A request and the channel its reply goes back on.
pub struct CallRequest<Req, Rep> {
    /// The request itself.
    pub request: Req,
    /// Where the reply goes; dropping it answers the caller `NoProc`.
    pub reply_to: ReplyTo<Rep>,
}

/// The reply channel of one call.
pub struct ReplyTo<Rep>(pub(crate) oneshot::Sender<Result<Rep, CallError>>);

impl<Rep> ReplyTo<Rep> {
    /// Send the reply; if the caller gave up (timeout) it is discarded, as on the BEAM.
    pub fn reply(self, rep: Rep) {
        let _ = self.0.send(Ok(rep));
    }

    /// Answer with a call error, e.g. a remote node's `NoProc` or `Timeout` relayed by a proxy.
    pub fn fail(self, error: CallError) {
        let _ = self.0.send(Err(error));
    }
}

impl<Req: Send + 'static, Rep: Send + 'static> ErasedCall for CallRequest<Req, Rep> {
    fn as_any(&self) -> &dyn Any {
        self
    }
    fn into_any(self: Box<Self>) -> Box<dyn Any + Send> {
        self
    }
    fn reject(self: Box<Self>) {
        let _ = self.reply_to.0.send(Err(CallError::BadRequest));
    }
}

impl dyn ErasedCall {
    /// Take the request if it has these types; otherwise give it back.
    pub fn downcast<Req: Send + 'static, Rep: Send + 'static>(
        self: Box<Self>,
    ) -> Result<CallRequest<Req, Rep>, Box<dyn ErasedCall>> {
        if self.as_any().is::<CallRequest<Req, Rep>>() {
            match self.into_any().downcast::<CallRequest<Req, Rep>>() {
                Ok(call) => Ok(*call),
                // Unreachable after the `is` check; the request is lost only to the type system.
                Err(_) => Err(Box::new(CallRequest::<(), ()> {
                    request: (),
                    reply_to: ReplyTo(oneshot::channel().0),
                })),
            }
        } else {
            Err(self)
        }
    }
}

/// The message types a process accepts for calls and casts, checked by the sender.
///
/// A process keeps a `&'static Protocol`, built in a constant for its types: a word in its
/// cell instead of the 72 bytes of three `TypeId`s, which a spawn would write and a
/// process carry for its whole life.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Protocol {
    pub(crate) call: Option<TypeId>,
    pub(crate) cast: Option<TypeId>,
    /// Plain messages, checked only for remote proxies (a local mailbox takes any type).
    pub(crate) info: Option<TypeId>,
}

impl Protocol {
    /// Any call, cast or message: a process spawned with a plain body.
    pub(crate) const ANY: &'static Protocol = &Protocol {
        call: None,
        cast: None,
        info: None,
    };
}

#[cfg(test)]
mod tests {
    #[test]
    fn an_envelope_is_three_words() {
        assert_eq!(
            std::mem::size_of::<super::Envelope>(),
            3 * std::mem::size_of::<usize>()
        );
    }
}
