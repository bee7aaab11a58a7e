//! Names that processes can be registered under.

use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

/// A name a process can be found by: an integer id, a string, or a tagged id.
///
/// The three shapes cover the seeds' keys: `user_id` (`Id`), `:db_worker` or
/// `"session_42"` (`Text`), and `{:shard, 3}` or `{:session, 123}` (`Tagged`).
/// Cloning is cheap (`Text` shares its bytes).
///
/// Hashing costs what hashing the id costs: an `Id` hashes as its integer alone (no kind
/// tag), so a table keyed by names does the same work per lookup as one keyed by `u64`;
/// names of different kinds that hash alike are told apart by equality, as any collision.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord)]
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

    /// The string form of this name (its `Display`), as a person reads it. Not a key:
    /// names of different kinds can print alike (`Id(5)` and `Text("5")` are both `5`);
    /// use [`encoded`](Self::encoded) to key a table by text.
    pub fn to_text(&self) -> String {
        self.to_string()
    }

    /// An unambiguous text form, for tables and wires keyed by text: a kind tag, then the
    /// content (`#5` for `Id(5)`, `'5` for `Text("5")`, `{session,42}` for
    /// `Tagged("session", 42)`). Distinct names always give distinct encodings, unlike
    /// [`to_text`](Self::to_text).
    pub fn encoded(&self) -> String {
        let mut out = String::new();
        let _ = self.write_encoded(&mut out);
        out
    }

    /// Writes [`encoded`](Self::encoded) into `out` (e.g. a reused buffer).
    pub fn write_encoded(&self, out: &mut impl fmt::Write) -> fmt::Result {
        // Each kind has its own first character; within a kind the content is written
        // whole, and a tagged name ends with its id (digits) and `}`, so the split between
        // tag and id is the last comma.
        match self {
            Name::Id(id) => write!(out, "#{id}"),
            Name::Text(s) => write!(out, "'{s}"),
            Name::Tagged(tag, id) => write!(out, "{{{tag},{id}}}"),
        }
    }
}

impl Hash for Name {
    #[inline]
    fn hash<H: Hasher>(&self, state: &mut H) {
        match self {
            Name::Id(id) => state.write_u64(*id),
            Name::Text(s) => s.hash(state),
            Name::Tagged(tag, id) => {
                tag.hash(state);
                state.write_u64(*id);
            }
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodings_of_names_that_print_alike_differ() {
        let pairs = [
            (Name::Id(5), Name::text("5")),
            (Name::Tagged("session", 42), Name::text("session_42")),
            (Name::Tagged("a,b", 1), Name::Tagged("a", 1)),
            (Name::text("#5"), Name::Id(5)),
            (Name::text("{a,1}"), Name::Tagged("a", 1)),
        ];
        for (a, b) in pairs {
            assert_ne!(a.encoded(), b.encoded(), "{a:?} vs {b:?}");
        }
        assert_eq!(Name::Id(5).to_text(), Name::text("5").to_text());
        assert_eq!(Name::Tagged("session", 42).encoded(), "{session,42}");
    }
}
