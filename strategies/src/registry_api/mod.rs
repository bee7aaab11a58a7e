//! What both Elixir-style registries ([`Registry`](crate::Registry),
//! [`DuplicateRegistry`](crate::DuplicateRegistry)) share beyond their tables: listeners
//! told of every register and unregister ([`events`]), registry-wide metadata ([`meta`]),
//! and the small typed query that `select` runs ([`query`]).

pub mod events;
pub mod meta;
pub mod query;

pub use events::{Listeners, RegistryEvent, RegistryId};
pub use meta::Meta;
pub use query::{Guard, Query, Selected};
