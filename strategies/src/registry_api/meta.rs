//! Registry metadata: Elixir's `meta:` start option, `Registry.meta/2` and
//! `Registry.put_meta/3`: a small registry-wide key -> value store, read far more often than
//! written.

use std::any::Any;
use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::RwLock;

use crate::naming::NamingError;

type MetaValue = Arc<dyn Any + Send + Sync>;

/// Registry-wide metadata: values of any type under string keys. Reads take a shared lock
/// and clone the value out; the type read must be the type stored.
#[derive(Default)]
pub struct Meta(RwLock<HashMap<Arc<str>, MetaValue>>);

impl Meta {
    /// The value under `key`: `Ok(None)` if there is none, `MetaType` if it is not an `M`.
    pub fn get<M: Any + Clone>(&self, key: &str) -> Result<Option<M>, NamingError> {
        let map = self.0.read();
        match map.get(key) {
            None => Ok(None),
            Some(value) => match value.downcast_ref::<M>() {
                Some(m) => Ok(Some(m.clone())),
                None => Err(NamingError::MetaType {
                    key: Arc::from(key),
                    expected: std::any::type_name::<M>(),
                }),
            },
        }
    }

    /// Stores `value` under `key`, replacing what was there (of any type).
    pub fn put<M: Any + Send + Sync>(&self, key: &str, value: M) {
        self.0.write().insert(Arc::from(key), Arc::new(value));
    }
}
