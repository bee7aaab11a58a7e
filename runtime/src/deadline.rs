//! Deadlines that cannot overflow: a timeout of `Duration::MAX` means "wait forever".

use std::time::{Duration, Instant};

/// How far ahead an unrepresentable deadline is put: about 30 years, never reached.
const FAR_FUTURE: Duration = Duration::from_secs(86_400 * 365 * 30);

/// `from + by`, or an instant about 30 years after `from` when that sum cannot be
/// represented (e.g. `by` is `Duration::MAX`): `Instant + Duration` panics on overflow, and a
/// timeout that large means "no deadline".
pub fn instant_after(from: Instant, by: Duration) -> Instant {
    from.checked_add(by)
        .or_else(|| from.checked_add(FAR_FUTURE))
        .unwrap_or(from)
}

/// The deadline `timeout` from now, saturated as [`instant_after`] does.
pub fn deadline_after(timeout: Duration) -> Instant {
    instant_after(Instant::now(), timeout)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn huge_timeouts_saturate_instead_of_panicking() {
        let now = Instant::now();
        assert_eq!(
            instant_after(now, Duration::from_secs(1)),
            now + Duration::from_secs(1)
        );
        assert!(instant_after(now, Duration::MAX) >= now + Duration::from_secs(86_400 * 365));
        assert!(deadline_after(Duration::MAX) > Instant::now());
    }
}
