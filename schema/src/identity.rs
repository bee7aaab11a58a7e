//! A backend's identity: its label, its family and its floor, declared once by the adapter
//! that makes it, so the report never infers a family from the words in a label.

/// The kind of design a backend is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Family {
    /// Processes are handed each other's pids at start (or scan a supervisor's children):
    /// no registry at all.
    StartupDiscovery,
    /// A fixed, declared set of locally registered names (`Process.register/2`).
    StaticNames,
    /// Names made as atoms at run time (`:"session_#{id}"`), never freed.
    DynamicAtoms,
    /// A registry process that monitors holders and serialises every request (the
    /// `KV.Registry` GenServer).
    MonitorRegistry,
    /// A registry of many kinds of alias: unique names, properties, counters (gproc).
    RichRegistry,
    /// Elixir's `Registry` (unique or duplicate keys) with `{:via, Registry, key}`.
    Registry,
    /// Names across nodes (`:global`, `pg`/syn, hash-ring ownership).
    Distributed,
    /// A reference measurement with no naming layer (a map's raw get, a bare round trip).
    Floor,
    /// A shard router (modulo, rendezvous, ring, jump, Maglev).
    Router,
    /// A way to keep state across a crash (a supervisor-created table, a keeper, none).
    RecoveryScheme,
    /// Another Rust actor framework's own registry or groups (ractor, kameo): what a
    /// designer would use instead of this suite's strategies.
    ActorFramework,
    /// The suite's own process runtime, measured against the bare tokio and dashmap
    /// operations it is built from.
    Runtime,
}

impl Family {
    /// The family in words.
    pub const fn name(self) -> &'static str {
        match self {
            Family::StartupDiscovery => "startup discovery",
            Family::StaticNames => "static names",
            Family::DynamicAtoms => "dynamic atoms",
            Family::MonitorRegistry => "monitor-based registry",
            Family::RichRegistry => "rich registry",
            Family::Registry => "Registry + via",
            Family::Distributed => "distributed names",
            Family::Floor => "reference floor",
            Family::Router => "shard router",
            Family::RecoveryScheme => "recovery scheme",
            Family::ActorFramework => "Rust actor framework",
            Family::Runtime => "the suite's runtime",
        }
    }

    /// Whether backends of this family are naming strategies (not floors, routers or
    /// recovery schemes).
    pub const fn is_naming(self) -> bool {
        !matches!(
            self,
            Family::Floor | Family::Router | Family::RecoveryScheme | Family::Runtime
        )
    }
}

/// Where a backend runs: on this suite's runtime, or as a foreign system driven through
/// the suite's foreign-system interface.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Origin {
    /// Built on this suite's runtime.
    Suite,
    /// The BEAM original itself, run on a BEAM node by the project's Elixir harness.
    Beam,
    /// Another Rust actor framework, on its own runtime.
    RustFramework,
}

impl Origin {
    /// The origin in words.
    pub const fn name(self) -> &'static str {
        match self {
            Origin::Suite => "this suite",
            Origin::Beam => "BEAM original",
            Origin::RustFramework => "Rust actor framework",
        }
    }
}

/// Who a backend is: declared by its adapter, read by the workloads and the report.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Identity {
    /// The label in rows and charts.
    pub label: &'static str,
    /// Its family.
    pub family: Family,
    /// The label of the floor measured beside it (its storage map's raw get), if any.
    pub floor: Option<&'static str>,
    /// Where it runs.
    pub origin: Origin,
}

impl Identity {
    /// A backend with no floor.
    pub const fn new(label: &'static str, family: Family) -> Identity {
        Identity {
            label,
            family,
            floor: None,
            origin: Origin::Suite,
        }
    }

    /// A reference floor.
    pub const fn floor(label: &'static str) -> Identity {
        Identity::new(label, Family::Floor)
    }

    /// This backend with the floor labelled `floor`.
    pub const fn with_floor(self, floor: &'static str) -> Identity {
        Identity {
            floor: Some(floor),
            ..self
        }
    }

    /// This backend, running as `origin`.
    pub const fn on(self, origin: Origin) -> Identity {
        Identity { origin, ..self }
    }

    /// Whether this is a reference floor.
    pub fn is_floor(&self) -> bool {
        self.family == Family::Floor
    }
}
