//! Listeners: Elixir's `listeners:` option. Each listener process gets
//! `{:register, registry, key, pid, value}` and `{:unregister, registry, key, pid}` in its
//! mailbox, here a [`RegistryEvent`], for every registration and every removal, removals by
//! process exit included.

use std::sync::atomic::{AtomicU64, Ordering};

use process_runtime::{Name, Pid, ProcessRef};

/// Which registry an event comes from (Elixir names the registry in each event); unique
/// among the registries made in this OS process.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RegistryId(u64);

impl RegistryId {
    /// A fresh id.
    pub(crate) fn fresh() -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        RegistryId(NEXT.fetch_add(1, Ordering::Relaxed))
    }
}

/// What a listener is told, one message per event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RegistryEvent<V> {
    /// `{:register, registry, key, pid, value}`: `pid` now holds an entry under `key`.
    Register {
        /// The registry.
        registry: RegistryId,
        /// The key registered.
        key: Name,
        /// The process that holds it.
        pid: Pid,
        /// The value registered with it.
        value: V,
    },
    /// `{:unregister, registry, key, pid}`: `pid`'s entry under `key` is gone (unregistered,
    /// or its process exited).
    Unregister {
        /// The registry.
        registry: RegistryId,
        /// The key.
        key: Name,
        /// The process that held it.
        pid: Pid,
    },
}

/// The listener processes of one registry, fixed when the registry is made (as Elixir's
/// `listeners:` start option). A listener that has exited is skipped silently, as a send
/// to a dead pid is on the BEAM.
pub struct Listeners {
    registry: RegistryId,
    processes: Box<[ProcessRef]>,
}

impl Listeners {
    /// Listeners for the registry `registry`.
    pub(crate) fn new(registry: RegistryId, processes: Vec<ProcessRef>) -> Self {
        Listeners {
            registry,
            processes: processes.into_boxed_slice(),
        }
    }

    /// The registry the events name.
    pub fn registry(&self) -> RegistryId {
        self.registry
    }

    /// Whether nobody listens (then no event is built at all).
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.processes.is_empty()
    }

    /// Tells every listener that `pid` registered `key` with `value`.
    pub(crate) fn registered<V: Clone + Send + 'static>(&self, key: &Name, pid: Pid, value: &V) {
        for listener in self.processes.iter() {
            let _ = listener.send(RegistryEvent::Register {
                registry: self.registry,
                key: key.clone(),
                pid,
                value: value.clone(),
            });
        }
    }

    /// Tells every listener that `pid`'s entry under `key` is gone. `V` is the registry's
    /// value type, so that both kinds of event reach a listener as one message type.
    pub(crate) fn unregistered<V: Send + 'static>(&self, key: &Name, pid: Pid) {
        for listener in self.processes.iter() {
            let _ = listener.send(RegistryEvent::<V>::Unregister {
                registry: self.registry,
                key: key.clone(),
                pid,
            });
        }
    }
}
