//! The backends the workloads compare: one small adapter each, one line in [`for_each`].
//!
//! A [`Contender`] builds a fresh backend for a run; a [`Visitor`] is handed each contender
//! in turn with its concrete type, so workloads stay statically dispatched.

use std::future::Future;

use naming_strategies::runtime::Runtime;
use naming_strategies::runtime::{Name, ProcessRef};
use naming_strategies::{
    DashMapTable, DuplicateRegistry, FlurryTable, Gproc, InternedNames, MonitorRegistry, NameTable,
    Naming, ReadPath, Registry, RwLockTable, SccTable, StartupDiscovery, StaticNames,
};

/// A backend as the workloads see it.
pub trait Contender: Sync + 'static {
    /// The backend type.
    type N: Naming;

    /// The label in results and plots.
    fn label(&self) -> &'static str;

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

    /// The storage map whose raw `get` is this backend's lookup floor, if it has one.
    fn floor(&self) -> Option<&'static str> {
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
    fn visit<T: NameTable>(&mut self);
}

/// The Elixir-style Registry over storage `T`, with `partitions` partitions.
pub struct RegistryOn<T> {
    partitions: usize,
    label: &'static str,
    _table: std::marker::PhantomData<fn() -> T>,
}

impl<T: NameTable> RegistryOn<T> {
    /// A contender labelled `label`.
    pub const fn new(label: &'static str, partitions: usize) -> Self {
        RegistryOn {
            partitions,
            label,
            _table: std::marker::PhantomData,
        }
    }
}

impl<T: NameTable> Contender for RegistryOn<T> {
    type N = Registry<T>;

    fn label(&self) -> &'static str {
        self.label
    }

    fn make(
        &self,
        _rt: &Runtime,
        names: usize,
    ) -> impl Future<Output = Result<Registry<T>, String>> + Send {
        std::future::ready(Ok(Registry::with_capacity(self.partitions, names)))
    }

    fn floor(&self) -> Option<&'static str> {
        Some(T::LABEL)
    }
}

/// Elixir's Registry with duplicate keys (dispatch / pub-sub) over dashmap.
pub struct DuplicateKeys;

impl Contender for DuplicateKeys {
    type N = DuplicateRegistry<DashMapTable>;

    fn label(&self) -> &'static str {
        "duplicate-dashmap"
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

    fn label(&self) -> &'static str {
        "static-names"
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

    fn label(&self) -> &'static str {
        "interned-atoms"
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

    fn label(&self) -> &'static str {
        "startup-discovery"
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
}

/// The `KV.Registry`-style monitor registry, its process started in the run's runtime.
pub struct MonitorRegistryWith(pub ReadPath);

impl Contender for MonitorRegistryWith {
    type N = MonitorRegistry;

    fn label(&self) -> &'static str {
        match self.0 {
            ReadPath::Call => "monitor-registry",
            ReadPath::Table => "monitor-registry-ets",
        }
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

    fn label(&self) -> &'static str {
        "gproc"
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
    v.visit(&DuplicateKeys);
    v.visit(&Static);
    v.visit(&Atoms);
    v.visit(&Discovery);
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
}

/// The labels of every contender.
pub fn labels() -> Vec<&'static str> {
    struct Labels(Vec<&'static str>);
    impl Visitor for Labels {
        fn visit<C: Contender>(&mut self, c: &C) {
            self.0.push(c.label());
        }
    }
    let mut l = Labels(Vec::new());
    for_each(&mut l);
    l.0
}

/// The storage tables whose floors the selected backends need (all if `None`).
pub fn floors(backends: Option<&[String]>) -> Vec<&'static str> {
    struct Floors<'a>(Option<&'a [String]>, Vec<&'static str>);
    impl Visitor for Floors<'_> {
        fn visit<C: Contender>(&mut self, c: &C) {
            if self.0.is_some_and(|b| !b.iter().any(|l| l == c.label())) {
                return;
            }
            if let Some(f) = c.floor() {
                if !self.1.contains(&f) {
                    self.1.push(f);
                }
            }
        }
    }
    let mut f = Floors(backends, Vec::new());
    for_each(&mut f);
    f.1
}
