//! Names that processes can be registered under.

use std::fmt;
use std::sync::Arc;

/// A name a process can be found by: an integer id, a string, or a tagged id.
///
/// The three shapes cover the seeds' keys: `user_id` (`Id`), `:db_worker` or
/// `"session_42"` (`Text`), and `{:shard, 3}` or `{:session, 123}` (`Tagged`).
/// Cloning is cheap (`Text` shares its bytes).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Name {
    /// An integer key, e.g. a user or game id.
    Id(u64),
    /// A string key, e.g. `db_worker`.
    Text(Arc<str>),
    /// A tag and an integer, e.g. `{:shard, 3}`.
    Tagged(&'static str, u64),
}

impl Name {
    /// A string name.
    pub fn text(s: &str) -> Self {
        Name::Text(Arc::from(s))
    }

    /// The string form of this name, as an interner or a static table would store it.
    pub fn to_text(&self) -> String {
        self.to_string()
    }
}

impl From<u64> for Name {
    fn from(id: u64) -> Self {
        Name::Id(id)
    }
}

impl From<&str> for Name {
    fn from(s: &str) -> Self {
        Name::text(s)
    }
}

impl From<String> for Name {
    fn from(s: String) -> Self {
        Name::Text(Arc::from(s))
    }
}

impl From<(&'static str, u64)> for Name {
    fn from((tag, id): (&'static str, u64)) -> Self {
        Name::Tagged(tag, id)
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Name::Id(id) => write!(f, "{id}"),
            Name::Text(s) => f.write_str(s),
            Name::Tagged(tag, id) => write!(f, "{tag}_{id}"),
        }
    }
}

impl fmt::Debug for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Name::Id(id) => write!(f, "{id}"),
            Name::Text(s) => write!(f, ":{s}"),
            Name::Tagged(tag, id) => write!(f, "{{:{tag}, {id}}}"),
        }
    }
}
