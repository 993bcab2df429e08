//! Finding every process of a session, however it was started (a terminal's shell is in a
//! session of its own, bus-activated services are children of the bus): all of them inherited
//! the session's private `XDG_RUNTIME_DIR`, which no other process has.

use std::path::Path;

/// Processes (other than this one) whose environment holds `XDG_RUNTIME_DIR=<dir>`. Only
/// processes we may read (our own user's, or all for root) are seen.
pub fn session_processes(runtime_dir: &Path) -> Vec<i32> {
    let needle = format!("XDG_RUNTIME_DIR={}", runtime_dir.display()).into_bytes();
    let me = std::process::id();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str().and_then(|n| n.parse::<u32>().ok()))
        .filter(|&pid| pid != me)
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/environ"))
                .is_ok_and(|env| env.split(|&b| b == 0).any(|var| var == needle.as_slice()))
        })
        .filter_map(|pid| i32::try_from(pid).ok())
        .collect()
}

/// SIGKILLs every process of the session until none is left (bounded); returns how many there were.
pub(crate) fn kill_stragglers(runtime_dir: &Path) -> usize {
    let mut killed = std::collections::HashSet::new();
    for _ in 0..40 {
        let found = session_processes(runtime_dir);
        // A killed process keeps its environ until reaped by its parent: only new ones count.
        let new: Vec<i32> = found.iter().copied().filter(|p| !killed.contains(p)).collect();
        if found.is_empty() {
            break;
        }
        for pid in new {
            // SAFETY: kill has no memory preconditions.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
            }
            killed.insert(pid);
        }
        std::thread::sleep(std::time::Duration::from_millis(25));
    }
    killed.len()
}
