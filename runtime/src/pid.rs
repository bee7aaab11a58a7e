//! Process identifiers.

use std::fmt;

/// The identity of a process: which node it lives on and its serial number there.
///
/// A `Pid` is plain data (`Copy`, `Eq`, `Hash`), never reused for the life of a
/// [`Runtime`](crate::Runtime), and names its node so that names can later point at
/// processes in other OS processes. It prints like the BEAM's `<0.42.0>`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Pid {
    node: u32,
    serial: u64,
}

impl Pid {
    /// A pid on `node` with serial number `serial`; runtimes hand these out, tests may build them.
    pub const fn new(node: u32, serial: u64) -> Self {
        Pid { node, serial }
    }

    /// The node this process lives on (`0` is the local node).
    pub const fn node(self) -> u32 {
        self.node
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
}
