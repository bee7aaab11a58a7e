//! Process identifiers.

use std::fmt;

/// The identity of a process: which node it lives on, which incarnation of that node
/// (its creation), and its serial number there.
///
/// A `Pid` is plain data (`Copy`, `Eq`, `Hash`), never reused for the life of a
/// [`Runtime`](crate::Runtime), and names its node so that names can later point at
/// processes in other OS processes. As on the BEAM, a node restarted under the same id is a
/// new creation, so a pid of its previous incarnation never names a process of the new one
/// even when the serials coincide. It prints like the BEAM's `<0.42.0>` (without the
/// creation, as the BEAM does).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Pid {
    node: u32,
    creation: u32,
    serial: u64,
}

impl Pid {
    /// A pid on `node` (creation `0`) with serial number `serial`; runtimes hand these out,
    /// tests may build them.
    pub const fn new(node: u32, serial: u64) -> Self {
        Pid {
            node,
            creation: 0,
            serial,
        }
    }

    /// A pid on incarnation `creation` of `node` with serial number `serial`.
    pub const fn with_creation(node: u32, creation: u32, serial: u64) -> Self {
        Pid {
            node,
            creation,
            serial,
        }
    }

    /// The node this process lives on (`0` is the local node).
    pub const fn node(self) -> u32 {
        self.node
    }

    /// The incarnation of its node this process belongs to (`0` unless the runtime was
    /// given one).
    pub const fn creation(self) -> u32 {
        self.creation
    }

    /// The serial number of this process on its node.
    pub const fn serial(self) -> u64 {
        self.serial
    }
}

impl fmt::Display for Pid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // BEAM prints <Node.Number.Serial>; the serial part counts number wrap-arounds.
        let number = self.serial & 0xFFFF_FFFF;
        let wraps = self.serial >> 32;
        write!(f, "<{}.{}.{}>", self.node, number, wraps)
    }
}

impl fmt::Debug for Pid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prints_like_beam() {
        assert_eq!(Pid::new(0, 42).to_string(), "<0.42.0>");
        assert_eq!(Pid::new(3, (1 << 32) + 7).to_string(), "<3.7.1>");
    }

    #[test]
    fn another_creation_is_another_pid() {
        let old = Pid::with_creation(2, 1, 5);
        let new = Pid::with_creation(2, 2, 5);
        assert_ne!(old, new);
        assert_eq!((new.node(), new.creation(), new.serial()), (2, 2, 5));
        assert_eq!(Pid::new(2, 5).creation(), 0);
    }
}
