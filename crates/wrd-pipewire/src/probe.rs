//! A short look at the PipeWire daemon for `wrd-server doctor`: can we connect, which daemon
//! and version answers, and is a session manager (WirePlumber) running to link streams.
//!
//! The probe runs on its own short-lived thread (PipeWire objects never leave it) with its own
//! main loop: connect, ask for the core's info and the registry's globals, one round trip,
//! done. A timer on that loop bounds it, so a daemon that never answers cannot hang the caller.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use pipewire as pw;
use pw::types::ObjectType;

use crate::{PipeWireError, Remote};

/// What the daemon told us about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DaemonInfo {
    /// The core's name (the socket's name, normally `pipewire-0`).
    pub name: String,
    /// The daemon's version, e.g. `0.3.65`.
    pub version: String,
    /// The version of libpipewire this process links (what a mismatch would explain).
    pub library_version: String,
    /// Clients that look like a session manager (`application.name` of WirePlumber or
    /// pipewire-media-session). Without one, nobody links a consumer stream to its node.
    pub session_managers: Vec<String>,
    /// Video sources the daemon publishes (`media.class` Video/Source), e.g. a portal's cast
    /// or a camera: a count, for orientation only.
    pub video_sources: usize,
}

#[derive(Default)]
struct Seen {
    core: Option<(String, String)>,
    session_managers: Vec<String>,
    video_sources: usize,
    outcome: Option<Result<(), PipeWireError>>,
}

/// Connects to `remote`, reads the daemon's identity and disconnects. Blocking; bounded by
/// `timeout` (the thread's own loop timer), plus the time to start a thread.
pub fn probe_daemon(remote: Remote, timeout: Duration) -> Result<DaemonInfo, PipeWireError> {
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    let handle = std::thread::Builder::new()
        .name("pipewire-probe".into())
        .spawn(move || {
            let _ = tx.send(probe_on_this_thread(remote, timeout));
        })
        .map_err(|e| PipeWireError::Spawn(e.to_string()))?;
    // The loop's timer ends the thread; the extra second only covers a thread that could not
    // even reach its loop (it is then left behind, detached).
    let result = rx
        .recv_timeout(timeout + Duration::from_secs(1))
        .unwrap_or(Err(PipeWireError::Timeout(timeout)));
    if handle.is_finished() {
        let _ = handle.join();
    }
    result
}

fn probe_on_this_thread(remote: Remote, timeout: Duration) -> Result<DaemonInfo, PipeWireError> {
    pw::init();
    // `context` must outlive `core`: both are dropped at the end of this function, core first.
    let (mainloop, _context, core) = crate::thread::connect(remote)?;
    let registry = core
        .get_registry_rc()
        .map_err(|e| PipeWireError::pw("pw_core_get_registry", e))?;
    let seen = Rc::new(RefCell::new(Seen::default()));

    let _registry_listener = registry
        .add_listener_local()
        .global({
            let seen = seen.clone();
            move |global| {
                let Some(props) = global.props else { return };
                let mut seen = seen.borrow_mut();
                match global.type_ {
                    ObjectType::Client => {
                        // WirePlumber has a second client, "WirePlumber [export]": one name each
                        if let Some(app) = props.get("application.name")
                            && is_session_manager(app)
                        {
                            let name = app.split(" [").next().unwrap_or(app).to_owned();
                            if !seen.session_managers.contains(&name) {
                                seen.session_managers.push(name);
                            }
                        }
                    }
                    ObjectType::Node if props.get("media.class") == Some("Video/Source") => {
                        seen.video_sources += 1;
                    }
                    _ => {}
                }
            }
        })
        .register();
    let pending = core.sync(0).map_err(|e| PipeWireError::pw("pw_core_sync", e))?;
    let _core_listener = core
        .add_listener_local()
        .info({
            let seen = seen.clone();
            move |info| {
                seen.borrow_mut().core = Some((info.name().to_owned(), info.version().to_owned()));
            }
        })
        .done({
            let seen = seen.clone();
            let mainloop = mainloop.downgrade();
            move |id, seq| {
                // our round trip: every global and the core info were delivered before it
                if id == pw::core::PW_ID_CORE && seq == pending {
                    seen.borrow_mut().outcome.get_or_insert(Ok(()));
                    if let Some(mainloop) = mainloop.upgrade() {
                        mainloop.quit();
                    }
                }
            }
        })
        .error({
            let seen = seen.clone();
            let mainloop = mainloop.downgrade();
            move |id, _seq, res, message| {
                if id == pw::core::PW_ID_CORE {
                    seen.borrow_mut()
                        .outcome
                        .get_or_insert(Err(PipeWireError::Connect(format!("{message} ({res})"))));
                    if let Some(mainloop) = mainloop.upgrade() {
                        mainloop.quit();
                    }
                }
            }
        })
        .register();
    let timer = mainloop.loop_().add_timer({
        let seen = seen.clone();
        let mainloop = mainloop.downgrade();
        move |_| {
            seen.borrow_mut()
                .outcome
                .get_or_insert(Err(PipeWireError::Timeout(timeout)));
            if let Some(mainloop) = mainloop.upgrade() {
                mainloop.quit();
            }
        }
    });
    timer
        .update_timer(Some(timeout), None)
        .into_result()
        .map_err(|e| PipeWireError::pw("timer", e))?;

    mainloop.run();

    let mut seen = seen.borrow_mut();
    seen.outcome
        .take()
        .unwrap_or(Err(PipeWireError::Timeout(timeout)))?;
    let (name, version) = seen
        .core
        .take()
        .ok_or_else(|| PipeWireError::Connect("the daemon sent no core info".into()))?;
    Ok(DaemonInfo {
        name,
        version,
        library_version: library_version(),
        session_managers: std::mem::take(&mut seen.session_managers),
        video_sources: seen.video_sources,
    })
}

fn is_session_manager(application_name: &str) -> bool {
    let name = application_name.to_ascii_lowercase();
    name.contains("wireplumber") || name.contains("media-session")
}

fn library_version() -> String {
    // SAFETY: pw_get_library_version returns a pointer to a static NUL-terminated string.
    let ptr = unsafe { pw::sys::pw_get_library_version() };
    if ptr.is_null() {
        return String::new();
    }
    // SAFETY: non-null, static and NUL-terminated (above).
    unsafe { std::ffi::CStr::from_ptr(ptr) }
        .to_string_lossy()
        .into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_managers_are_recognised_by_name() {
        for (name, expected) in [
            ("WirePlumber", true),
            ("WirePlumber [export]", true),
            ("pipewire-media-session", true),
            ("pw-cli", false),
            ("xdg-desktop-portal-wlr", false),
        ] {
            assert_eq!(is_session_manager(name), expected, "{name}");
        }
    }
}
