//! Names that processes can be registered under.

use std::cell::Cell;
use std::cmp::Ordering;
use std::collections::HashMap;
use std::fmt;
use std::hash::{BuildHasher, Hash, Hasher};
use std::sync::{Arc, OnceLock};

use parking_lot::RwLock;

/// A name a process can be found by: an integer id, a string, or a tagged id.
///
/// The three shapes cover the seeds' keys: `user_id` (`Id`), `:db_worker` or
/// `"session_42"` (`Text`), and `{:shard, 3}` or `{:session, 123}` (`Tagged`).
/// Cloning is cheap (`Text` shares its bytes).
///
/// A name is 16 bytes, like the BEAM's immediate terms a key small enough that a table
/// keyed by names touches what one keyed by `u64` touches: an `Id` hashes as its integer
/// alone (no kind tag); a `Text` carries the hash of its bytes, computed once when it is
/// made (as an atom carries its own), so hashing it is one integer too; a `Tagged` name's
/// tag is an interned [`Tag`] (a `u32`), and it hashes as its id xored with a pattern of
/// its tag: every name feeds its hasher one integer. Names of different kinds that hash
/// alike are told apart by equality, as any collision.
#[derive(Clone, Eq, PartialOrd, Ord)]
pub enum Name {
    /// An integer key, e.g. a user or game id.
    Id(u64),
    /// A string key, e.g. `db_worker`.
    Text(TextName),
    /// A tag and an integer, e.g. `{:shard, 3}`.
    Tagged(Tag, u64),
}

/// The text of a [`Name::Text`], shared, with the hash of its bytes computed once.
///
/// Ordered and compared by its text; reads as a `&str` (it derefs to one).
#[derive(Clone)]
pub struct TextName(Arc<TextInner>);

struct TextInner {
    hash: u64,
    text: Box<str>,
}

/// The fixed hash a [`TextName`] carries: the same text always gets the same hash, in every
/// process, so tables keyed by names stay reproducible.
fn text_hash(text: &str) -> u64 {
    foldhash::fast::FixedState::with_seed(0x6e61_6d65).hash_one(text)
}

impl TextName {
    /// A text name for `text` (its hash computed now, once).
    pub fn new(text: &str) -> Self {
        TextName(Arc::new(TextInner {
            hash: text_hash(text),
            text: Box::from(text),
        }))
    }

    /// The text.
    #[inline]
    pub fn as_str(&self) -> &str {
        &self.0.text
    }

    /// The hash of the text, computed when the name was made.
    #[inline]
    pub fn text_hash(&self) -> u64 {
        self.0.hash
    }
}

impl std::ops::Deref for TextName {
    type Target = str;
    #[inline]
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl PartialEq for TextName {
    #[inline]
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
            || (self.0.hash == other.0.hash && self.0.text == other.0.text)
    }
}

impl Eq for TextName {}

impl PartialOrd for TextName {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for TextName {
    fn cmp(&self, other: &Self) -> Ordering {
        self.as_str().cmp(other.as_str())
    }
}

impl fmt::Display for TextName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for TextName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

/// The tag of a [`Name::Tagged`] (`:session` in `{:session, 42}`): interned once per
/// distinct text for the life of the process, like an atom, so a tagged name is a small
/// integer pair. Tags are `&'static str`s, a finite set fixed by the program's code.
///
/// Equal tags are equal texts; ordered by text.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Tag(u32);

#[derive(Default)]
struct TagTable {
    index: HashMap<&'static str, u32>,
    texts: Vec<&'static str>,
}

fn tag_table() -> &'static RwLock<TagTable> {
    static TAGS: OnceLock<RwLock<TagTable>> = OnceLock::new();
    TAGS.get_or_init(|| RwLock::new(TagTable::default()))
}

impl Tag {
    /// The tag for `text`, interned on first use. A thread remembers the last tag it asked
    /// for, so building names of one tag in a loop (`Name::tagged("session", id)`) takes no
    /// lock; otherwise finding an interned tag takes a read lock and a hash of the text.
    pub fn new(text: &'static str) -> Tag {
        thread_local! {
            /// The last literal asked for on this thread (its address and length) and its tag.
            static LAST: Cell<(*const u8, usize, u32)> = const { Cell::new((std::ptr::null(), 0, 0)) };
        }
        let key = (text.as_ptr(), text.len());
        let (ptr, len, last) = LAST.with(Cell::get);
        if (ptr, len) == key {
            return Tag(last);
        }
        let tag = Self::intern(text);
        LAST.with(|c| c.set((key.0, key.1, tag.0)));
        tag
    }

    fn intern(text: &'static str) -> Tag {
        if let Some(&i) = tag_table().read().index.get(text) {
            return Tag(i);
        }
        let mut table = tag_table().write();
        if let Some(&i) = table.index.get(text) {
            return Tag(i);
        }
        // A program's tags are the string literals in its code: far below `u32::MAX`.
        let i = u32::try_from(table.texts.len()).expect("fewer than 2^32 distinct tags");
        table.texts.push(text);
        table.index.insert(text, i);
        Tag(i)
    }

    /// The tag's text.
    pub fn as_str(self) -> &'static str {
        // Every `Tag` value was made by `new`, which recorded its index.
        tag_table().read().texts[self.0 as usize]
    }
}

impl PartialOrd for Tag {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Tag {
    fn cmp(&self, other: &Self) -> Ordering {
        if self.0 == other.0 {
            return Ordering::Equal;
        }
        self.as_str().cmp(other.as_str())
    }
}

impl fmt::Display for Tag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for Tag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, ":{}", self.as_str())
    }
}

impl Name {
    /// A string name.
    pub fn text(s: &str) -> Self {
        Name::Text(TextName::new(s))
    }

    /// A tagged name, `{:tag, id}` (the tag interned on first use; see [`Tag::new`]).
    pub fn tagged(tag: &'static str, id: u64) -> Self {
        Name::Tagged(Tag::new(tag), id)
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

// Both by hand and always inlined: a table's probe loop calls them for every lookup, and
// an out-of-line call (with the hasher's state spilled to memory) costs more than the hash.
impl PartialEq for Name {
    #[inline(always)]
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Name::Id(a), Name::Id(b)) => a == b,
            (Name::Text(a), Name::Text(b)) => a == b,
            (Name::Tagged(t, a), Name::Tagged(u, b)) => t == u && a == b,
            _ => false,
        }
    }
}

impl Name {
    /// The one word a name feeds its hasher: an id as itself, a text its carried hash, a
    /// tagged id the id with its tag's own pattern xored in (so `{tag, n}` lands nowhere
    /// near `n`).
    #[inline(always)]
    fn hash_word(&self) -> u64 {
        match self {
            Name::Id(id) => *id,
            Name::Text(s) => s.text_hash(),
            Name::Tagged(tag, id) => {
                *id ^ (u64::from(tag.0) + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15)
            }
        }
    }
}

impl Hash for Name {
    /// One `write_u64` whatever the kind: with the kinds' writes apart, the three inlined
    /// writes made the function large enough that a table's lookup called it out of line
    /// (seen in dashmap's `get` through `&Name`), spilling the hasher's state to memory.
    #[inline(always)]
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(self.hash_word());
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
        Name::text(&s)
    }
}

impl From<(&'static str, u64)> for Name {
    fn from((tag, id): (&'static str, u64)) -> Self {
        Name::tagged(tag, id)
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
            (Name::tagged("session", 42), Name::text("session_42")),
            (Name::tagged("a,b", 1), Name::tagged("a", 1)),
            (Name::text("#5"), Name::Id(5)),
            (Name::text("{a,1}"), Name::tagged("a", 1)),
        ];
        for (a, b) in pairs {
            assert_ne!(a.encoded(), b.encoded(), "{a:?} vs {b:?}");
        }
        assert_eq!(Name::Id(5).to_text(), Name::text("5").to_text());
        assert_eq!(Name::tagged("session", 42).encoded(), "{session,42}");
    }

    #[test]
    fn a_name_is_two_words() {
        assert_eq!(std::mem::size_of::<Name>(), 16);
    }

    #[test]
    fn text_names_compare_and_order_by_text_and_tags_by_their_text() {
        let (a, b) = (Name::text("alpha"), Name::text("alpha"));
        assert_eq!(a, b);
        assert_ne!(a, Name::text("alphb"));
        assert!(Name::text("a") < Name::text("b"));
        let hash = |n: &Name| foldhash::fast::FixedState::with_seed(1).hash_one(n);
        assert_eq!(hash(&a), hash(&b));
        // Interned once: the same text is the same tag, ordered by text, not by first use.
        assert_eq!(Tag::new("zeta"), Tag::new("zeta"));
        assert!(Tag::new("zeta") > Tag::new("eta"));
        assert!(Name::tagged("zeta", 0) > Name::tagged("eta", 9));
        assert!(Name::tagged("eta", 1) < Name::tagged("eta", 2));
        assert_eq!(Name::tagged("zeta", 3).to_text(), "zeta_3");
        assert_eq!(format!("{:?}", Name::tagged("zeta", 3)), "{:zeta, 3}");
    }
}
