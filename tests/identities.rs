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
