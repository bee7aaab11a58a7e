//! Ctrl-C (SIGINT) and SIGTERM during a run: the measuring processes are killed (each runs
//! in its own process group, with everything it started), a write of the results already
//! under way is let finish, and the process says on stderr what was left and exits with
//! 128 + the signal (130, 143).
//!
//! [`install`] sets handlers that only write the signal's number to a pipe; a watcher
//! thread reads it and does the rest outside the signal handler. Measuring processes are
//! started through [`spawn`], which records them so the watcher can kill them, and which
//! refuses to start one once the run is interrupted.

use std::io;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::Mutex;

/// The write end of the self-pipe (-1: no handler installed).
static PIPE: AtomicI32 = AtomicI32::new(-1);

/// The measuring processes now running, and whether the run was interrupted.
struct Children {
    pids: Vec<u32>,
    interrupted: bool,
}

static CHILDREN: Mutex<Children> = Mutex::new(Children {
    pids: Vec::new(),
    interrupted: false,
});

/// The results directory of the run, for the message.
static OUT: Mutex<Option<PathBuf>> = Mutex::new(None);

/// Set by [`crate::results::write_run`] once a run's files are in place.
pub(crate) static WRITTEN: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(sig: libc::c_int) {
    let fd = PIPE.load(Ordering::Relaxed);
    if fd >= 0 {
        let b = sig as u8;
        // SAFETY: write(2) is async-signal-safe; `b` outlives the call.
        unsafe {
            libc::write(fd, (&b as *const u8).cast(), 1);
        }
    }
}

/// Installs the SIGINT and SIGTERM handlers for a run writing to `out` (once per process;
/// later calls only change `out`).
pub fn install(out: &Path) -> io::Result<()> {
    *OUT.lock().unwrap_or_else(|e| e.into_inner()) = Some(out.to_path_buf());
    if PIPE.load(Ordering::SeqCst) >= 0 {
        return Ok(());
    }
    let mut fds = [0 as libc::c_int; 2];
    // SAFETY: `fds` has room for the two descriptors pipe(2) writes.
    if unsafe { libc::pipe(fds.as_mut_ptr()) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // The pipe must not leak into measuring processes.
    for fd in fds {
        // SAFETY: plain fcntl(2) on descriptors we own.
        unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
    }
    PIPE.store(fds[1], Ordering::SeqCst);
    let read_fd = fds[0];
    std::thread::Builder::new()
        .name("interrupt".into())
        .spawn(move || loop {
            let mut b = 0u8;
            // SAFETY: reads one byte into `b`, which outlives the call.
            let n = unsafe { libc::read(read_fd, (&mut b as *mut u8).cast(), 1) };
            if n == 1 {
                stop(libc::c_int::from(b));
            }
            if n == 0 {
                return;
            }
        })?;
    for sig in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: a zeroed sigaction with a handler that only calls write(2).
        unsafe {
            let mut act: libc::sigaction = std::mem::zeroed();
            act.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as usize;
            act.sa_flags = libc::SA_RESTART;
            libc::sigemptyset(&mut act.sa_mask);
            if libc::sigaction(sig, &act, std::ptr::null_mut()) != 0 {
                return Err(io::Error::last_os_error());
            }
        }
    }
    Ok(())
}

/// The watcher's work: kill the measuring processes, wait for a write under way, say what
/// was left, exit.
fn stop(sig: libc::c_int) -> ! {
    {
        let mut c = CHILDREN.lock().unwrap_or_else(|e| e.into_inner());
        c.interrupted = true;
        for &pid in &c.pids {
            // SAFETY: kill(2) on the process group the child leads.
            unsafe { libc::kill(-(pid as libc::pid_t), libc::SIGKILL) };
        }
    }
    let _commit = crate::results::COMMIT
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    let name = if sig == libc::SIGTERM {
        "SIGTERM"
    } else {
        "SIGINT"
    };
    let out = OUT
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone()
        .map_or_else(|| "results".to_string(), |p| p.display().to_string());
    if WRITTEN.load(Ordering::SeqCst) {
        eprintln!(
            "naming-bench: interrupted ({name}) after this run's results were written to {out}; \
             the report was not rebuilt (run `naming-bench report`)"
        );
    } else {
        eprintln!("naming-bench: interrupted ({name}): nothing written; {out}/ unchanged");
    }
    std::process::exit(128 + sig)
}

/// Waits for the watcher to end the process if the run was interrupted (so an error the
/// interruption caused is not reported, nor the exit status set, by the interrupted
/// thread); returns at once otherwise.
pub fn wait_if_interrupted() {
    if interrupted() {
        loop {
            std::thread::park();
        }
    }
}

/// Whether the run was interrupted.
pub fn interrupted() -> bool {
    CHILDREN
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .interrupted
}

/// Starts `cmd` as a measuring process in its own process group (killed on this
/// process's death on Linux), recorded so an interrupt kills it and all it started.
/// Refused (`Interrupted`) once the run is interrupted. Call [`forget`] when it is reaped.
pub fn spawn(cmd: &mut Command) -> io::Result<Child> {
    use std::os::unix::process::CommandExt as _;
    cmd.process_group(0);
    #[cfg(target_os = "linux")]
    // SAFETY: prctl(2) is async-signal-safe and touches nothing of the parent's.
    unsafe {
        cmd.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            Ok(())
        });
    }
    let mut c = CHILDREN.lock().unwrap_or_else(|e| e.into_inner());
    if c.interrupted {
        return Err(io::Error::new(io::ErrorKind::Interrupted, "interrupted"));
    }
    let child = cmd.spawn()?;
    c.pids.push(child.id());
    Ok(child)
}

/// Forgets a measuring process started by [`spawn`] once it has been waited for.
pub fn forget(pid: u32) {
    let mut c = CHILDREN.lock().unwrap_or_else(|e| e.into_inner());
    c.pids.retain(|&p| p != pid);
}
