//! What the BEAM literature advises: the "what? / when?" table of Saša Jurić's talk
//! *Discovering processes* (how Elixir processes find each other), as data. The decision
//! guide checks each of its rows against the measurements.

use crate::identity::Family;
use crate::workload::Situation;

/// One row of the talk's "what? / when?" table: the strategy, the declared families it
/// covers, the talk's "when?", and the situations of this guide that "when?" speaks for.
#[derive(Debug, PartialEq)]
pub struct TalkRow {
    /// The talk's "what?".
    pub what: &'static str,
    /// The families of backends that are this strategy.
    pub families: &'static [Family],
    /// The talk's "when?".
    pub when: &'static str,
    /// The situations it is suggested for.
    pub fits: &'static [Situation],
}

const FEW: &[Situation] = &[Situation::FewFixedServices];

/// The talk's table. Rich registration also covers pub/sub: the talk's rich-registration
/// slides show gproc properties with `lookup_pids` and a send to the whole group.
pub const TALK: &[TalkRow] = &[
    TalkRow {
        what: "startup discovery",
        families: &[Family::StartupDiscovery],
        when: "small scope; high coupling; all-or-nothing",
        fits: FEW,
    },
    TalkRow {
        what: "simple registration",
        families: &[Family::StaticNames],
        when: "statical services",
        fits: FEW,
    },
    TalkRow {
        what: "dynamic atoms",
        families: &[Family::DynamicAtoms],
        when: "a few instances; finite set of possible aliases",
        fits: FEW,
    },
    TalkRow {
        what: "rich registration",
        families: &[
            Family::Registry,
            Family::MonitorRegistry,
            Family::RichRegistry,
        ],
        when: "many instances; unknown number of aliases",
        fits: &[
            Situation::ManySessions,
            Situation::PubSubGroups,
            Situation::HeavyChurn,
            Situation::VeryManyNames,
        ],
    },
];
