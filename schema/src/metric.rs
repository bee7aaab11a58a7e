//! A metric: one kind of number a workload records, with everything a reader of the number
//! needs to judge it (unit, direction, ideal, whether it is a correctness check).

/// The unit a metric is recorded in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Unit {
    /// Nanoseconds.
    Ns,
    /// Microseconds.
    Us,
    /// Milliseconds.
    Ms,
    /// Bytes of heap.
    Bytes,
    /// Operations per second.
    OpsPerSec,
    /// Events per second (registrations, calls offered).
    PerSec,
    /// A dimensionless ratio of two measurements.
    Ratio,
    /// A fraction of a whole (0..1).
    Fraction,
    /// A count of things.
    Count,
}

impl Unit {
    /// The unit as written in the CSV and on axes.
    pub const fn symbol(self) -> &'static str {
        match self {
            Unit::Ns => "ns",
            Unit::Us => "µs",
            Unit::Ms => "ms",
            Unit::Bytes => "bytes",
            Unit::OpsPerSec => "ops/s",
            Unit::PerSec => "1/s",
            Unit::Ratio => "×",
            Unit::Fraction => "fraction",
            Unit::Count => "count",
        }
    }
}

/// Which direction of a metric is better.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Better {
    /// Higher values are better (throughput).
    Higher,
    /// Lower values are better (latency, memory, failures).
    Lower,
    /// Neither: a count recorded for context (kills issued, phases run).
    Neither,
}

impl Better {
    /// "higher", "lower" or "neither".
    pub const fn word(self) -> &'static str {
        match self {
            Better::Higher => "higher",
            Better::Lower => "lower",
            Better::Neither => "neither",
        }
    }
}

/// One kind of number a workload records. Declared as a constant in the workload's file;
/// rows are made through it, so its name is written in exactly one place.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Metric {
    /// The name in the CSV (`ops_per_sec`, `p99_ns`).
    pub name: &'static str,
    /// What it is, in a few words (`lookup throughput`).
    pub title: &'static str,
    /// Its unit.
    pub unit: Unit,
    /// Which direction is better.
    pub better: Better,
    /// The best value physically possible, where one exists: a ratio to a floor is at best
    /// 1.0; keys moved on resharding are at least the minimum. A value past it is a
    /// measurement error, never a win.
    pub ideal: Option<f64>,
    /// A correctness count: anything but 0 is a failure (duplicate owners, lost updates).
    pub must_be_zero: bool,
    /// A quantity that must not grow along this parameter (atoms over soak phases): growth
    /// is a leak, and the guide does not let a leaking backend win where names come and go.
    pub leak_along: Option<&'static str>,
    /// A change rather than an amount (heap growth since a first reading), so it may be
    /// negative.
    pub signed: bool,
    /// The suite's own target for this metric, where it sets one (a ratio to a floor of at
    /// most 1.5, say): a design goal, not a physical bound, drawn on its charts so that a
    /// reader sees at once whether it is met.
    pub target: Option<f64>,
}

impl Metric {
    /// A metric with no ideal that is not a correctness check.
    pub const fn new(name: &'static str, title: &'static str, unit: Unit, better: Better) -> Self {
        Metric {
            name,
            title,
            unit,
            better,
            ideal: None,
            must_be_zero: false,
            leak_along: None,
            signed: false,
            target: None,
        }
    }

    /// A correctness count that must be 0 (lower is better, ideal 0).
    pub const fn must_be_zero(name: &'static str, title: &'static str) -> Self {
        Metric {
            name,
            title,
            unit: Unit::Count,
            better: Better::Lower,
            ideal: Some(0.0),
            must_be_zero: true,
            leak_along: None,
            signed: false,
            target: None,
        }
    }

    /// This metric with its physical ideal.
    pub const fn with_ideal(self, ideal: f64) -> Self {
        Metric {
            ideal: Some(ideal),
            ..self
        }
    }

    /// This metric with the suite's target for it.
    pub const fn with_target(self, target: f64) -> Self {
        Metric {
            target: Some(target),
            ..self
        }
    }

    /// This metric as a change, which may be negative (a heap that shrank).
    pub const fn signed(self) -> Self {
        Metric {
            signed: true,
            ..self
        }
    }

    /// This metric, whose growth along parameter `param` is a leak.
    pub const fn leaks_if_grows_along(self, param: &'static str) -> Self {
        Metric {
            leak_along: Some(param),
            ..self
        }
    }

    /// Whether `v` lies past the ideal (better than physically possible), allowing a
    /// relative `tolerance` (0.02 = 2%).
    pub fn past_ideal(&self, v: f64, tolerance: f64) -> bool {
        match (self.ideal, self.better) {
            (Some(i), Better::Higher) => v > i * (1.0 + tolerance),
            (Some(i), Better::Lower) => v < i * (1.0 - tolerance),
            _ => false,
        }
    }

    /// Whether `a` is better than `b` on this metric (false when neither is).
    pub fn better_than(&self, a: f64, b: f64) -> bool {
        match self.better {
            Better::Higher => a > b,
            Better::Lower => a < b,
            Better::Neither => false,
        }
    }

    /// Whether `v` is a value this metric can take: finite, and not negative unless the
    /// metric is a [`signed`](Metric::signed) change (every amount here is a time, a size,
    /// a rate, a ratio of such, or a count).
    pub fn possible(&self, v: f64) -> bool {
        v.is_finite() && (self.signed || v >= 0.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn past_ideal_follows_direction() {
        let vs_floor = Metric::new("x", "x", Unit::Ratio, Better::Higher).with_ideal(1.0);
        assert!(vs_floor.past_ideal(1.5, 0.02));
        assert!(!vs_floor.past_ideal(1.01, 0.02));
        let moved = Metric::new("m", "m", Unit::Ratio, Better::Lower).with_ideal(1.0);
        assert!(moved.past_ideal(0.9, 0.02));
        assert!(!moved.past_ideal(1.3, 0.02));
        let growth = Metric::new("g", "g", Unit::Bytes, Better::Lower);
        assert!(!growth.possible(-5.0) && growth.signed().possible(-5.0));
        assert!(!growth.signed().possible(f64::NAN));
        let dup = Metric::must_be_zero("d", "d");
        assert!(dup.must_be_zero && !dup.past_ideal(0.0, 0.0));
        assert!(dup.better_than(0.0, 1.0));
    }
}
