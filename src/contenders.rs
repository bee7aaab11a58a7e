//! The backends the workloads compare: one small adapter each, one line in [`for_each`].
//!
//! A [`Contender`] builds a fresh backend for a run and declares its [`Identity`] (label,
//! family, floor); a [`Visitor`] is handed each contender in turn with its concrete type,
//! so workloads stay statically dispatched. [`identities`] lists every backend label the
//! single-node workloads write, contenders and floors alike, each declared once.

use std::future::Future;

use naming_schema::{Family, Identity};
use naming_strategies::runtime::{ChildSpec, Intensity, Restart, Strategy, Supervisor};
use naming_strategies::runtime::{Name, ProcessRef, Runtime};
use naming_strategies::{
    DashMapTable, DuplicateRegistry, DuplicateStorage, FlurryTable, Gproc, InternedNames,
    MonitorRegistry, NameTable, Naming, PapayaTable, ReadPath, Registry, RwLockTable, SccTable,
    StartupDiscovery, StaticNames,
};

use crate::workloads::common::{kill_all, start_workers, Worker};
use crate::workloads::PER_BACKEND;

/// How a startup-discovery contender finds a worker: the workloads that kill workers
/// (churn) build it around their own supervisor, since its restarts are what it is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DiscoveryMode {
    /// Pids handed at start ([`StartupDiscovery::handed_from`]); after a restart the held
    /// pid is stale until the client asks again.
    Handed,
    /// Every lookup scans the supervisor's children ([`StartupDiscovery::scanning`]).
    Scan,
}

/// A backend as the workloads see it.
pub trait Contender: Sync + 'static {
    /// The backend type.
    type N: Naming;

    /// Who this backend is: its label in results and plots, its family, and the label of
    /// the floor measured beside it (declared here, never inferred from the label).
    fn identity(&self) -> Identity;

    /// The label in results and plots.
    fn label(&self) -> &'static str {
        self.identity().label
    }

    /// The per-backend workloads this contender takes part in: all of [`PER_BACKEND`]
    /// unless it is a variant of another contender (another storage under the duplicate-key
    /// registry, a partition count), which joins only the workloads where what it varies is
    /// what they measure, so a run's time goes where it informs. A workload it does not join
    /// has no unit and no rows for it.
    fn workloads(&self) -> &'static [&'static str] {
        PER_BACKEND
    }

    /// A fresh backend for about `names` names, or the reason it cannot hold them.
    fn make(
        &self,
        rt: &Runtime,
        names: usize,
    ) -> impl Future<Output = Result<Self::N, String>> + Send;

    /// Makes `names[i]` find `workers[i]` and returns the backend to use: registration for
    /// every backend that has it; startup discovery is handed the pids instead, as a client
    /// started after its servers is.
    fn adopt(
        naming: Self::N,
        names: &[Name],
        workers: &[ProcessRef],
    ) -> impl Future<Output = Result<Self::N, String>> + Send {
        async move {
            crate::workloads::common::register_all(&naming, names, workers).await?;
            Ok(naming)
        }
    }

    /// Starts one worker per name in `names` on `rt` and returns them (in the order of
    /// `names`) with the backend that finds them: plain workers handed to
    /// [`adopt`](Self::adopt) for every backend that can be handed running processes; a
    /// backend that only finds the children of its own supervisor starts them there. On
    /// failure every worker started is killed and the reason returned.
    fn start_found(
        naming: Self::N,
        rt: &Runtime,
        names: &[Name],
    ) -> impl Future<Output = Result<(Self::N, Vec<ProcessRef>), String>> + Send {
        async move {
            let workers = start_workers(rt, names.len()).await;
            match Self::adopt(naming, names, &workers).await {
                Ok(naming) => Ok((naming, workers)),
                Err(reason) => {
                    kill_all(&workers).await;
                    Err(reason)
                }
            }
        }
    }

    /// For a startup-discovery contender, how it finds a worker; `None` for every backend
    /// that names workers through registration.
    fn discovery(&self) -> Option<DiscoveryMode> {
        None
    }
}

/// Receives each contender with its concrete type.
pub trait Visitor {
    /// Called once per contender.
    fn visit<C: Contender>(&mut self, contender: &C);
}

/// Receives each storage table type, for the raw-`get` floors.
pub trait TableVisitor {
    /// Called once per table type.
    fn visit<T: FloorTable>(&mut self);
}

/// A storage table whose raw `get` is measured as the lookup floor of the backends built on
/// it: the floor's identity is declared once per table, here.
pub trait FloorTable: NameTable {
    /// The floor: this table's raw `get`, with no naming layer.
    const FLOOR: Identity;
}

impl FloorTable for DashMapTable {
    const FLOOR: Identity = Identity::floor("floor-dashmap-get");
}

impl FloorTable for FlurryTable {
    const FLOOR: Identity = Identity::floor("floor-flurry-get");
}

impl FloorTable for SccTable {
    const FLOOR: Identity = Identity::floor("floor-scc-get");
}

impl FloorTable for RwLockTable {
    const FLOOR: Identity = Identity::floor("floor-rwlock-get");
}

impl FloorTable for PapayaTable {
    const FLOOR: Identity = Identity::floor("floor-papaya-get");
}

/// How many partitions a registry contender is made with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Partitions {
    /// This many (Elixir's default is 1).
    Count(usize),
    /// One per core of the machine the run is on, as Elixir's docs recommend for
    /// concurrency (`partitions: System.schedulers_online()`); counted when the registry
    /// is made, the count recorded as the run environment's `cores`.
    PerCore,
}

impl Partitions {
    /// The number of partitions on this machine.
    pub fn count(self) -> usize {
        match self {
            Partitions::Count(n) => n.max(1),
            Partitions::PerCore => std::thread::available_parallelism().map_or(1, |n| n.get()),
        }
    }
}

/// The workloads a variant of the Registry with more partitions joins: the concurrent
/// reads (lookup, routing) and writes (churn) that partitioning is meant to spread.
pub const PARTITIONED_WORKLOADS: &[&str] = &["lookup", "routing", "churn"];

/// The Elixir-style Registry over storage `T`, with `partitions` partitions.
pub struct RegistryOn<T> {
    partitions: Partitions,
    label: &'static str,
    workloads: &'static [&'static str],
    _table: std::marker::PhantomData<fn() -> T>,
}

impl<T: FloorTable> RegistryOn<T> {
    /// A contender labelled `label` with `partitions` partitions, in every per-backend
    /// workload.
    pub const fn new(label: &'static str, partitions: usize) -> Self {
        RegistryOn {
            partitions: Partitions::Count(partitions),
            label,
            workloads: PER_BACKEND,
            _table: std::marker::PhantomData,
        }
    }

    /// A contender labelled `label` with one partition per core, in the workloads of
    /// [`PARTITIONED_WORKLOADS`].
    pub const fn per_core(label: &'static str) -> Self {
        RegistryOn {
            partitions: Partitions::PerCore,
            label,
            workloads: PARTITIONED_WORKLOADS,
            _table: std::marker::PhantomData,
        }
    }
}

impl<T: FloorTable> Contender for RegistryOn<T> {
    type N = Registry<T>;

    fn identity(&self) -> Identity {
        Identity::new(self.label, Family::Registry).with_floor(T::FLOOR.label)
    }

    fn workloads(&self) -> &'static [&'static str] {
        self.workloads
    }

    fn make(
        &self,
        _rt: &Runtime,
        names: usize,
    ) -> impl Future<Output = Result<Registry<T>, String>> + Send {
        std::future::ready(Ok(Registry::with_capacity(self.partitions.count(), names)))
    }
}

/// The workloads the duplicate-key registry joins over a storage other than its default:
/// dispatch to a group (fanout: the read of a key's bag, then a send per entry) and what
/// registering costs in time and memory as the table grows (scale), where the map under
/// the bags is what differs. Lookup (`whereis` of a key's first holder, a unique-key use)
/// is left to `duplicate-dashmap` and the unique-key registries over the same maps.
pub const DUPLICATE_STORAGE_WORKLOADS: &[&str] = &["scale", "fanout"];

/// Elixir's Registry with duplicate keys (dispatch / pub-sub) over storage `T`, one
/// partition.
pub struct DuplicateOn<T> {
    label: &'static str,
    workloads: &'static [&'static str],
    _table: std::marker::PhantomData<fn() -> T>,
}

impl<T: DuplicateStorage> DuplicateOn<T> {
    /// The default storage's contender, labelled `label`, in every per-backend workload.
    pub const fn new(label: &'static str) -> Self {
        DuplicateOn {
            label,
            workloads: PER_BACKEND,
            _table: std::marker::PhantomData,
        }
    }

    /// Another storage's contender, labelled `label`, in the workloads of
    /// [`DUPLICATE_STORAGE_WORKLOADS`].
    pub const fn variant(label: &'static str) -> Self {
        DuplicateOn {
            label,
            workloads: DUPLICATE_STORAGE_WORKLOADS,
            _table: std::marker::PhantomData,
        }
    }
}

impl<T: DuplicateStorage> Contender for DuplicateOn<T> {
    type N = DuplicateRegistry<T>;

    fn identity(&self) -> Identity {
        Identity::new(self.label, Family::Registry)
    }

    fn workloads(&self) -> &'static [&'static str] {
        self.workloads
    }

    fn make(
        &self,
        _rt: &Runtime,
        names: usize,
    ) -> impl Future<Output = Result<Self::N, String>> + Send {
        std::future::ready(Ok(DuplicateRegistry::with_capacity(1, names)))
    }
}

/// The most names a static table is declared with: static names are a known, finite set
/// (`:db_worker`, a pool `db_worker_1..N`), not one name per dynamic id.
pub const STATIC_DECLARED_LIMIT: usize = 1_000;

/// `Process.register/2` names: a table declared up front with the ids `0..names`.
pub struct Static;

impl Contender for Static {
    type N = StaticNames;

    fn identity(&self) -> Identity {
        Identity::new("static-names", Family::StaticNames)
    }

    fn make(
        &self,
        _rt: &Runtime,
        names: usize,
    ) -> impl Future<Output = Result<Self::N, String>> + Send {
        std::future::ready(if names <= STATIC_DECLARED_LIMIT {
            Ok(StaticNames::new((0..names as u64).map(Name::Id)))
        } else {
            Err(format!(
                "static names are a fixed set declared up front; {names} dynamic ids exceed the {STATIC_DECLARED_LIMIT} a static table is declared with"
            ))
        })
    }
}

/// Dynamic atoms: `:"session_#{id}"`, interned forever, up to the BEAM's atom limit.
pub struct Atoms;

impl Contender for Atoms {
    type N = InternedNames;

    fn identity(&self) -> Identity {
        Identity::new("interned-atoms", Family::DynamicAtoms)
    }

    fn make(
        &self,
        _rt: &Runtime,
        _names: usize,
    ) -> impl Future<Output = Result<Self::N, String>> + Send {
        std::future::ready(Ok(InternedNames::new()))
    }
}

/// Startup discovery: no registry; pids handed over at start.
pub struct Discovery;

impl Contender for Discovery {
    type N = StartupDiscovery;

    fn identity(&self) -> Identity {
        Identity::new("startup-discovery", Family::StartupDiscovery)
    }

    fn make(
        &self,
        _rt: &Runtime,
        _names: usize,
    ) -> impl Future<Output = Result<Self::N, String>> + Send {
        std::future::ready(Ok(StartupDiscovery::handed(Vec::new())))
    }

    fn adopt(
        _naming: Self::N,
        names: &[Name],
        workers: &[ProcessRef],
    ) -> impl Future<Output = Result<Self::N, String>> + Send {
        let handed: Vec<_> = names.iter().cloned().zip(workers.iter().cloned()).collect();
        std::future::ready(Ok(StartupDiscovery::handed(handed)))
    }

    fn discovery(&self) -> Option<DiscoveryMode> {
        Some(DiscoveryMode::Handed)
    }
}

/// The most children the scanning contender's supervisor is given: a supervisor's child
/// list is a fixed set written in code, and every lookup copies all of it.
pub const SCAN_CHILDREN_LIMIT: usize = STATIC_DECLARED_LIMIT;

/// The workloads the scanning contender joins: finding (lookup), calling (routing) and
/// finding again after restarts (churn). It registers nothing (no scale, no groups for
/// fanout, no register/exit cycles for soak), as the handed contender's skip rows there
/// already say.
pub const DISCOVERY_SCAN_WORKLOADS: &[&str] = &["lookup", "routing", "churn"];

/// Startup discovery by scan: no registry; every lookup asks the supervisor for its
/// children (`Supervisor.which_children/1`) and picks the one whose id is the name.
pub struct DiscoveryScan;

impl Contender for DiscoveryScan {
    type N = StartupDiscovery;

    fn identity(&self) -> Identity {
        Identity::new("startup-discovery-scan", Family::StartupDiscovery)
    }

    fn workloads(&self) -> &'static [&'static str] {
        DISCOVERY_SCAN_WORKLOADS
    }

    /// A placeholder with nothing to find until [`start_found`](Contender::start_found)
    /// starts the supervisor; more than [`SCAN_CHILDREN_LIMIT`] names are refused.
    fn make(
        &self,
        _rt: &Runtime,
        names: usize,
    ) -> impl Future<Output = Result<Self::N, String>> + Send {
        std::future::ready(if names <= SCAN_CHILDREN_LIMIT {
            Ok(StartupDiscovery::handed(Vec::new()))
        } else {
            Err(format!(
                "a supervisor's children are a fixed list written in code, copied whole by every which_children scan; {names} children exceed the {SCAN_CHILDREN_LIMIT} the scan is measured with"
            ))
        })
    }

    /// Refused: a scan finds only its supervisor's children, not processes started
    /// elsewhere ([`start_found`](Contender::start_found) starts them under one).
    fn adopt(
        _naming: Self::N,
        _names: &[Name],
        _workers: &[ProcessRef],
    ) -> impl Future<Output = Result<Self::N, String>> + Send {
        std::future::ready(Err(
            "which_children finds only a supervisor's own children, not processes started elsewhere".to_string(),
        ))
    }

    /// Starts the workers as children of one `:one_for_one` supervisor, each child's id
    /// the name's text, and scans it.
    fn start_found(
        _naming: Self::N,
        rt: &Runtime,
        names: &[Name],
    ) -> impl Future<Output = Result<(Self::N, Vec<ProcessRef>), String>> + Send {
        let children: Vec<ChildSpec> = names
            .iter()
            .map(|n| ChildSpec::server(n.to_text(), Restart::Permanent, Worker::plain))
            .collect();
        let rt = rt.clone();
        async move {
            let sup = Supervisor::start(&rt, children, Strategy::OneForOne, Intensity::default())
                .await
                .map_err(|e| format!("the supervisor did not start: {e}"))?;
            let workers: Vec<ProcessRef> = match sup.which_children().await {
                Ok(children) => children.into_iter().filter_map(|c| c.process).collect(),
                Err(e) => {
                    kill_all(std::slice::from_ref(sup.process())).await;
                    return Err(format!("which_children failed: {e}"));
                }
            };
            Ok((StartupDiscovery::scanning(sup), workers))
        }
    }

    fn discovery(&self) -> Option<DiscoveryMode> {
        Some(DiscoveryMode::Scan)
    }
}

/// The `KV.Registry`-style monitor registry, its process started in the run's runtime.
pub struct MonitorRegistryWith(pub ReadPath);

impl Contender for MonitorRegistryWith {
    type N = MonitorRegistry;

    fn identity(&self) -> Identity {
        let label = match self.0 {
            ReadPath::Call => "monitor-registry",
            ReadPath::Table => "monitor-registry-ets",
        };
        Identity::new(label, Family::MonitorRegistry)
    }

    fn make(
        &self,
        rt: &Runtime,
        _names: usize,
    ) -> impl Future<Output = Result<Self::N, String>> + Send {
        let (rt, reads) = (rt.clone(), self.0);
        async move {
            MonitorRegistry::start(&rt, reads)
                .await
                .map_err(|e| format!("the registry process did not start: {e}"))
        }
    }
}

/// The gproc-style registry (unique names; properties for groups).
pub struct GprocLocal;

impl Contender for GprocLocal {
    type N = Gproc;

    fn identity(&self) -> Identity {
        Identity::new("gproc", Family::RichRegistry)
    }

    fn make(
        &self,
        _rt: &Runtime,
        _names: usize,
    ) -> impl Future<Output = Result<Self::N, String>> + Send {
        std::future::ready(Ok(Gproc::new()))
    }
}

/// Every contender, in report order. Adding a backend is one line here.
pub fn for_each(v: &mut impl Visitor) {
    v.visit(&RegistryOn::<DashMapTable>::new("registry-dashmap", 1));
    v.visit(&RegistryOn::<FlurryTable>::new("registry-flurry", 1));
    v.visit(&RegistryOn::<SccTable>::new("registry-scc", 1));
    v.visit(&RegistryOn::<RwLockTable>::new("registry-rwlock", 1));
    v.visit(&RegistryOn::<PapayaTable>::new("registry-papaya", 1));
    v.visit(&RegistryOn::<DashMapTable>::per_core(
        "registry-dashmap-partitioned",
    ));
    v.visit(&DuplicateOn::<DashMapTable>::new("duplicate-dashmap"));
    v.visit(&DuplicateOn::<FlurryTable>::variant("duplicate-flurry"));
    v.visit(&DuplicateOn::<SccTable>::variant("duplicate-scc"));
    v.visit(&DuplicateOn::<RwLockTable>::variant("duplicate-rwlock"));
    v.visit(&DuplicateOn::<PapayaTable>::variant("duplicate-papaya"));
    v.visit(&Static);
    v.visit(&Atoms);
    v.visit(&Discovery);
    v.visit(&DiscoveryScan);
    v.visit(&MonitorRegistryWith(ReadPath::Call));
    v.visit(&MonitorRegistryWith(ReadPath::Table));
    v.visit(&GprocLocal);
}

/// Every storage table, for the lookup floors. Adding a table is one line here.
pub fn for_each_table(v: &mut impl TableVisitor) {
    v.visit::<DashMapTable>();
    v.visit::<FlurryTable>();
    v.visit::<SccTable>();
    v.visit::<RwLockTable>();
    v.visit::<PapayaTable>();
}

/// The labels of every contender: this suite's, then the foreign systems'
/// ([`crate::foreign`]).
pub fn labels() -> Vec<&'static str> {
    struct Labels(Vec<&'static str>);
    impl Visitor for Labels {
        fn visit<C: Contender>(&mut self, c: &C) {
            self.0.push(c.label());
        }
    }
    let mut l = Labels(Vec::new());
    for_each(&mut l);
    l.0.extend(crate::foreign::labels());
    l.0
}

/// The labels of the contenders that take part in the per-backend workload `workload`
/// (see [`Contender::workloads`]): this suite's, then the foreign systems' (each answers
/// every per-backend workload, with skip rows where it cannot).
pub fn labels_in(workload: &str) -> Vec<&'static str> {
    struct Labels<'a>(&'a str, Vec<&'static str>);
    impl Visitor for Labels<'_> {
        fn visit<C: Contender>(&mut self, c: &C) {
            if c.workloads().contains(&self.0) {
                self.1.push(c.label());
            }
        }
    }
    let mut l = Labels(workload, Vec::new());
    for_each(&mut l);
    l.1.extend(crate::foreign::labels());
    l.1
}

/// The identities of every contender, in report order: this suite's, then the foreign
/// systems'.
pub fn contender_identities() -> Vec<Identity> {
    struct Ids(Vec<Identity>);
    impl Visitor for Ids {
        fn visit<C: Contender>(&mut self, c: &C) {
            self.0.push(c.identity());
        }
    }
    let mut ids = Ids(Vec::new());
    for_each(&mut ids);
    ids.0.extend(crate::foreign::identities());
    ids.0
}

/// Every backend the single-node workloads write rows for: each contender (in report
/// order), then every storage table's lookup floor, then routing's floors. The report
/// reads labels, families and floors from here instead of guessing them from labels.
pub fn identities() -> Vec<Identity> {
    struct Tables(Vec<Identity>);
    impl TableVisitor for Tables {
        fn visit<T: FloorTable>(&mut self) {
            self.0.push(T::FLOOR);
        }
    }
    let mut out = contender_identities();
    let mut tables = Tables(Vec::new());
    for_each_table(&mut tables);
    out.extend(tables.0);
    out.extend(crate::workloads::routing::FLOORS);
    out.extend(crate::workloads::runtime_costs::IDENTITIES);
    out
}
