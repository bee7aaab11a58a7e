//! One address-space layout for every measuring process.
//!
//! With address-space layout randomisation on, where the code, heap and stacks land
//! differs from process to process, and on the reference machine that alone moved one
//! lookup point between 6.5 and 17.5 million lookups per second (the same binary, the same
//! point, measured in fresh processes one after another; tight within each process). A
//! figure that depends on a layout draw does not repeat, so the measuring processes are
//! started with randomisation off (`personality(ADDR_NO_RANDOMIZE)`, what `setarch -R`
//! does): every process of a run, and of the next run of the same binary, gets the same
//! layout. Where the kernel or a sandbox refuses, the run says so in its settings and
//! measures with randomised layouts.

use std::sync::OnceLock;

/// The layout the measuring processes this process starts get.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Layout {
    /// Randomisation off: the same layout in every measuring process.
    Fixed,
    /// Randomisation stays on; why it could not be turned off.
    Randomised(String),
}

impl Layout {
    /// Words for a run's settings line.
    pub fn describe(&self) -> String {
        match self {
            Layout::Fixed => "fixed (ASLR off in measuring processes)".to_string(),
            Layout::Randomised(why) => format!("randomised ({why})"),
        }
    }
}

/// Turns address-space randomisation off for every process this process starts from now
/// on (the setting is inherited across `fork` and applied at `exec`; this process's own
/// layout is already chosen and stays as it is). Done once; later calls return the first
/// outcome.
pub fn fix_for_children() -> Layout {
    static OUTCOME: OnceLock<Layout> = OnceLock::new();
    OUTCOME.get_or_init(fix).clone()
}

#[cfg(target_os = "linux")]
fn fix() -> Layout {
    const QUERY: libc::c_ulong = 0xffff_ffff;
    let flag = libc::ADDR_NO_RANDOMIZE as libc::c_int;
    // SAFETY: personality(2) with the query value only reads this process's persona.
    let current = unsafe { libc::personality(QUERY) };
    if current == -1 {
        return Layout::Randomised(format!(
            "personality query refused: {}",
            std::io::Error::last_os_error()
        ));
    }
    if current & flag != 0 {
        return Layout::Fixed;
    }
    // SAFETY: sets one flag of this process's persona, which only affects later execs.
    let set = unsafe { libc::personality((current | flag) as libc::c_ulong) };
    if set == -1 {
        return Layout::Randomised(format!(
            "personality(ADDR_NO_RANDOMIZE) refused: {}",
            std::io::Error::last_os_error()
        ));
    }
    // SAFETY: as above, a read.
    let now = unsafe { libc::personality(QUERY) };
    if now != -1 && now & flag != 0 {
        Layout::Fixed
    } else {
        Layout::Randomised("personality(ADDR_NO_RANDOMIZE) did not hold".to_string())
    }
}

#[cfg(not(target_os = "linux"))]
fn fix() -> Layout {
    Layout::Randomised("only Linux can turn it off per process here".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A process started after the fix runs with randomisation off, as its own
    /// `/proc/self/personality` shows.
    #[cfg(target_os = "linux")]
    #[test]
    fn children_start_with_randomisation_off() {
        let outcome = fix_for_children();
        if let Layout::Randomised(why) = &outcome {
            // A sandbox may refuse; then the outcome must say why, and nothing else holds.
            assert!(!why.is_empty());
            return;
        }
        let out = std::process::Command::new("cat")
            .arg("/proc/self/personality")
            .output()
            .expect("cat runs");
        let text = String::from_utf8_lossy(&out.stdout);
        let persona = u64::from_str_radix(text.trim(), 16).expect("hex persona");
        assert_ne!(persona & libc::ADDR_NO_RANDOMIZE as u64, 0, "{text}");
        assert_eq!(fix_for_children(), outcome, "the first outcome is kept");
    }
}
