//! Every contender's declared identity: labels unique, never a floor itself, and its floor
//! (if any) present in `identities()` as a floor.

use naming_bench::contenders::{self, contender_identities, identities};
use naming_schema::Family;

#[test]
fn every_contender_has_a_unique_label_and_a_declared_floor() {
    let all = identities();
    let contenders = contender_identities();
    assert_eq!(contenders.len(), contenders::labels().len());
    let mut seen = Vec::new();
    for id in &all {
        assert!(!seen.contains(&id.label), "label {} twice", id.label);
        seen.push(id.label);
    }
    for c in &contenders {
        assert_ne!(
            c.family,
            Family::Floor,
            "{} is a contender, not a floor",
            c.label
        );
        assert!(c.family.is_naming(), "{}: {:?}", c.label, c.family);
        if let Some(floor) = c.floor {
            let f = all
                .iter()
                .find(|i| i.label == floor)
                .unwrap_or_else(|| panic!("{}: floor {floor} not in identities()", c.label));
            assert_eq!(f.family, Family::Floor, "{floor}");
        }
    }
    for label in contenders::labels() {
        assert!(contenders.iter().any(|c| c.label == label));
    }
}

/// The whole catalogue the report is built from (single-node contenders and floors, shard
/// routers, recovery schemes, distributed backends; every workload of the three crates):
/// one identity per label, every declared floor present as a floor, every declaration free
/// of problems, workload names and chart ids unique across the suite.
#[test]
fn the_catalogue_is_consistent() {
    let cat = naming_bench::catalogue::catalogue();
    let mut labels = Vec::new();
    for id in &cat.backends {
        assert!(
            !labels.contains(&id.label),
            "label {} declared twice",
            id.label
        );
        labels.push(id.label);
        if let Some(floor) = id.floor {
            let f = cat
                .identity(floor)
                .unwrap_or_else(|| panic!("{}: floor {floor} undeclared", id.label));
            assert_eq!(f.family, Family::Floor, "{floor}");
            assert!(!id.is_floor(), "{}: a floor with a floor", id.label);
        }
    }
    for family in [Family::Router, Family::RecoveryScheme, Family::Distributed] {
        assert!(
            cat.backends.iter().any(|i| i.family == family),
            "no {family:?} backend in the catalogue"
        );
    }
    let (mut names, mut charts) = (Vec::new(), Vec::new());
    for w in &cat.workloads {
        assert!(w.problems().is_empty(), "{:?}", w.problems());
        assert!(!names.contains(&w.name), "workload {} twice", w.name);
        names.push(w.name);
        for c in w.charts {
            assert!(!charts.contains(&c.id()), "chart {} twice", c.id());
            charts.push(c.id());
        }
    }
    for w in [
        "lookup",
        "reshard",
        "recovery",
        "multinode-netsplit",
        "criterion",
    ] {
        assert!(names.contains(&w), "{w} missing from the catalogue");
    }
}
