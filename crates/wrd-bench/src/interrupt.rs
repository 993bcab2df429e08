//! SIGINT / SIGTERM as a flag, so that a run in progress can stop and let its guards stop the
//! programs it started (Xvfb and xfreerdp run in their own process groups and would not get a
//! Ctrl+C from the terminal).

use core::sync::atomic::{AtomicBool, Ordering};

use anyhow::{Result, bail};

static REQUESTED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    // Only an atomic store: async-signal-safe.
    REQUESTED.store(true, Ordering::SeqCst);
}

/// Installs the handler for SIGINT and SIGTERM.
pub fn install() -> Result<()> {
    for sig in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: the handler only stores to an atomic, which is async-signal-safe; the
        // sigaction struct is fully initialised (zeroed, then the handler and an empty mask).
        let rc = unsafe {
            let mut action: libc::sigaction = core::mem::zeroed();
            action.sa_sigaction = on_signal as *const () as libc::sighandler_t;
            libc::sigemptyset(&raw mut action.sa_mask);
            libc::sigaction(sig, &raw const action, core::ptr::null_mut())
        };
        if rc != 0 {
            bail!(
                "installing the handler of signal {sig}: {}",
                std::io::Error::last_os_error()
            );
        }
    }
    Ok(())
}

/// Whether SIGINT or SIGTERM arrived.
pub fn requested() -> bool {
    REQUESTED.load(Ordering::SeqCst)
}

/// An error if SIGINT or SIGTERM arrived.
pub fn check() -> Result<()> {
    if requested() {
        bail!("interrupted by a signal");
    }
    Ok(())
}
