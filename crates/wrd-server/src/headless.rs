//! `wrd-server headless`: starts a private desktop session (wrd-session) and serves it like
//! `serve --source mutter` (GNOME) or `serve --source portal` (sway) would, inside it.
//!
//! Order, all on the main thread: who runs the session (root must name --user and drops to it
//! here, after the password file was read), the settings, the session's runtime directory and
//! environment (set in our own process before any thread exists: the capture reaches the
//! session's bus, PipeWire and Wayland display through them), the session, then the async
//! runtime that serves it. The session's app starts once capture and input are ready. The
//! session ends on SIGTERM/SIGINT, when one of its programs dies (the reason logged, clients
//! disconnected, exit 1) or after the idle timeout; every program of it is stopped before we exit.

use std::process::ExitCode;
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tracing::{error, info, warn};
use wrd_rdp::{DesktopResize, OwnedDesktop};
use wrd_session::{ChildExit, Compositor, MonitorResizer, PreparedSession, SessionOptions, SessionUser};

use crate::cli::{CompositorArg, HeadlessArgs, SourceArg};
use crate::config::{ConfigError, Env, Settings, parse_size};
use crate::{SessionHooks, SizedMonitorHook, config_error, run, serve};

/// Default of `--idle-timeout`.
const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// Default virtual monitor.
const DEFAULT_SIZE: (u32, u32) = (1920, 1080);

pub fn run_headless(args: HeadlessArgs) -> ExitCode {
    let usage = |msg: String| config_error(&ConfigError::from_message(msg));
    if args.serve.source.is_some() {
        return usage(
            "headless: --source does not apply: the session's compositor decides (--compositor)".into(),
        );
    }
    if args.serve.fps.is_some() {
        return usage("headless: --fps is the test pattern's; the desktop sends frames as it changes".into());
    }
    let size = match &args.serve.size {
        Some(text) => match parse_size(text) {
            Ok((w, h)) => (u32::from(w), u32::from(h)),
            Err(e) => return config_error(&e),
        },
        None => DEFAULT_SIZE,
    };

    let root = wrd_session::effective_uid() == 0;
    let user = match (&args.user, root) {
        (None, true) => {
            return usage(
                "headless: refusing to run a desktop session as root; pass --user NAME to run it as that user \
                 (root drops to it for the whole session)"
                    .into(),
            );
        }
        (Some(name), true) => match SessionUser::lookup(name) {
            Ok(user) if user.is_root() => {
                return usage(format!(
                    "headless: --user {name} is root; name an unprivileged user"
                ));
            }
            Ok(user) => user,
            Err(e) => return usage(format!("headless: --user: {e}")),
        },
        (name, false) => match SessionUser::current() {
            Ok(user) if name.as_ref().is_none_or(|n| *n == user.name) => user,
            Ok(user) => {
                return usage(format!(
                    "headless: --user {} needs root (this process runs as {})",
                    name.as_deref().unwrap_or_default(),
                    user.name
                ));
            }
            Err(e) => {
                error!("headless: who runs this process: {e}");
                return ExitCode::from(1);
            }
        },
    };

    // The settings as the session's user would have them (its config file and state folder),
    // resolved while we may still read a root-only password file.
    let env = if root {
        Env {
            password: std::env::var("WRD_PASSWORD").ok().filter(|p| !p.is_empty()),
            user: Some(user.name.clone()),
            config_home: None,
            state_home: None,
            home: Some(user.home.clone()),
        }
    } else {
        Env::from_process()
    };
    let source = match args.compositor {
        CompositorArg::Gnome => SourceArg::Mutter,
        CompositorArg::Sway => SourceArg::Portal,
    };
    let mut settings = match Settings::resolve(&args.serve, &env) {
        Ok(settings) => settings,
        Err(e) => return config_error(&e),
    };
    settings.source = source;

    if root {
        if let Err(e) = wrd_session::drop_privileges(&user) {
            error!("headless: {e}");
            return ExitCode::from(1);
        }
        info!(user = %user.name, uid = user.uid, "running the session as {}", user.name);
    }
    let compositor = match args.compositor {
        CompositorArg::Gnome => Compositor::Gnome,
        CompositorArg::Sway => Compositor::Sway,
    };
    let prepared = match PreparedSession::prepare(SessionOptions { compositor, size }, user.clone()) {
        Ok(prepared) => prepared,
        Err(e) => {
            error!("headless: {e}");
            return ExitCode::from(1);
        }
    };
    for (key, value) in prepared.process_env() {
        // SAFETY: no other thread exists yet (logging and argument parsing start none; the
        // session's threads and the async runtime come after this loop), so nothing reads the
        // environment while it changes.
        unsafe { std::env::set_var(key, value) };
    }
    let mut session = match prepared.start() {
        Ok(session) => session,
        Err(e) => {
            error!("headless: the session did not start: {e}");
            return ExitCode::from(1);
        }
    };
    let Some(mut exits) = session.take_exits() else {
        error!("headless: the session's exit reports were taken already");
        return ExitCode::from(1);
    };

    // Clients' sizes go to the monitor: sway's output is resized (swaymsg), Mutter's virtual
    // monitor follows its capture stream's size (the capture re-negotiates it).
    let (resize_route, resize_requests) = mpsc::unbounded_channel::<DesktopResize>();
    let mut sized_monitor = None;
    let resizes = match (compositor, session.monitor_resizer()) {
        (Compositor::Sway, Some(resizer)) => Some(Resizes::Sway(resizer, resize_requests)),
        (Compositor::Gnome, _) => {
            let (sizes, stream_sizes) = mpsc::unbounded_channel();
            sized_monitor = Some(SizedMonitorHook {
                size,
                resizes: stream_sizes,
            });
            Some(Resizes::Stream(resize_requests, sizes))
        }
        (Compositor::Sway, None) => None,
    };
    let resize_route = match resizes {
        Some(_) => Some(resize_route),
        None => {
            info!(
                "the session's monitor keeps its size: clients get {}x{}",
                size.0, size.1
            );
            None
        }
    };

    let idle = (!args.keep_alive).then(|| {
        args.idle_timeout
            .map_or(DEFAULT_IDLE_TIMEOUT, Duration::from_secs)
    });
    let (connected, clients) = watch::channel(0usize);

    let exec = args.exec.clone();
    let code = {
        let session_ref = &mut session;
        let exits_ref = &mut exits;
        run(async move {
            match resizes {
                Some(Resizes::Sway(resizer, requests)) => {
                    tokio::spawn(apply_resizes(resizer, requests));
                }
                Some(Resizes::Stream(requests, sizes)) => {
                    tokio::spawn(forward_sizes(requests, sizes));
                }
                None => {}
            }
            let hooks = SessionHooks {
                on_ready: Box::new(move || {
                    session_ref.start_app(&exec)?;
                    Ok(())
                }),
                end: Box::pin(session_end(&mut *exits_ref, clients, idle)),
                desktop: OwnedDesktop {
                    connected,
                    resize: resize_route,
                },
                sized_monitor,
            };
            let result = serve(settings, Some(hooks)).await;
            if result.is_err() {
                // The capture often ends first when a session program dies (the compositor
                // takes its screen cast along), and the program's exit report follows a moment
                // later, once its last output is read: wait for it, so the log says which.
                if let Ok(Some(exit)) = tokio::time::timeout(EXIT_REPORT_WAIT, exits_ref.recv()).await {
                    log_exit(&exit);
                }
            }
            result
        })
    };
    // A program that died while the source or the server was ending first: say which.
    while let Ok(exit) = exits.try_recv() {
        log_exit(&exit);
    }
    session.stop();
    code
}

/// Where clients' sizes go.
enum Resizes {
    /// To sway's output, through swaymsg.
    Sway(MonitorResizer, mpsc::UnboundedReceiver<DesktopResize>),
    /// To the capture, whose stream's size the monitor (Mutter's virtual one) takes.
    Stream(
        mpsc::UnboundedReceiver<DesktopResize>,
        mpsc::UnboundedSender<(u32, u32)>,
    ),
}

/// Passes clients' sizes, bounded, to the capture (which keeps only the latest of those that
/// queue up while a re-negotiation is under way).
async fn forward_sizes(
    mut requests: mpsc::UnboundedReceiver<DesktopResize>,
    sizes: mpsc::UnboundedSender<(u32, u32)>,
) {
    while let Some(wanted) = requests.recv().await {
        if sizes.send(bounded(wanted)).is_err() {
            // The capture ended; the session ends with it.
            return;
        }
    }
}

/// A client's size within what we give a monitor.
fn bounded(wanted: DesktopResize) -> (u32, u32) {
    (
        u32::from(wanted.width.clamp(MIN_SIDE, MAX_SIDE)),
        u32::from(wanted.height.clamp(MIN_SIDE, MAX_SIDE)),
    )
}

/// How long a failed session waits for the exit report of a program that may have caused it.
const EXIT_REPORT_WAIT: Duration = Duration::from_secs(1);

/// How long one resize (swaymsg) may take.
const RESIZE_TIMEOUT: Duration = Duration::from_secs(5);
/// The monitor sizes we set (sway and Mutter take any, RDP clients ask within this).
const MIN_SIDE: u16 = 200;
const MAX_SIDE: u16 = 8192;

/// Applies clients' size requests to the monitor, one at a time; requests that queued up
/// meanwhile collapse into the latest.
async fn apply_resizes(resizer: MonitorResizer, mut requests: mpsc::UnboundedReceiver<DesktopResize>) {
    while let Some(mut wanted) = requests.recv().await {
        while let Ok(newer) = requests.try_recv() {
            wanted = newer;
        }
        let (width, height) = bounded(wanted);
        let mut cmd = tokio::process::Command::from(resizer.command(width, height));
        cmd.kill_on_drop(true);
        match tokio::time::timeout(RESIZE_TIMEOUT, cmd.output()).await {
            Ok(Ok(out)) if out.status.success() => {
                info!(width, height, "the session's monitor takes the client's size")
            }
            Ok(Ok(out)) => warn!(
                width,
                height,
                "resizing the session's monitor failed ({}): {}{}",
                out.status,
                String::from_utf8_lossy(&out.stdout).trim(),
                String::from_utf8_lossy(&out.stderr).trim()
            ),
            Ok(Err(e)) => warn!(
                width,
                height, "resizing the session's monitor: cannot run swaymsg: {e}"
            ),
            Err(_) => warn!(
                width,
                height,
                "resizing the session's monitor: swaymsg did not answer within {} s",
                RESIZE_TIMEOUT.as_secs()
            ),
        }
    }
}

fn log_exit(exit: &ChildExit) {
    for line in &exit.last_output {
        error!(program = %exit.name, "{line}");
    }
    error!("the session's {exit}");
}

/// Resolves when the session should end: `Err` when one of its programs died, `Ok` when no
/// client has been connected for `idle` (counted from the last one leaving, not from the start:
/// a session nobody has used yet waits for its first client).
async fn session_end(
    exits: &mut mpsc::UnboundedReceiver<ChildExit>,
    mut clients: watch::Receiver<usize>,
    idle: Option<Duration>,
) -> Result<String, String> {
    let idle_end = async {
        let Some(idle) = idle else {
            return std::future::pending().await;
        };
        let mut seen_a_client = false;
        loop {
            let now = *clients.borrow_and_update();
            if now > 0 || !seen_a_client {
                seen_a_client |= now > 0;
                if clients.changed().await.is_err() {
                    return std::future::pending().await;
                }
                continue;
            }
            info!(
                idle_s = idle.as_secs(),
                "the last client left: the session ends unless one connects within {} s",
                idle.as_secs()
            );
            tokio::select! {
                () = tokio::time::sleep(idle) => return format!("no client for {} s", idle.as_secs()),
                changed = clients.changed() => if changed.is_err() {
                    return std::future::pending().await;
                },
            }
        }
    };
    tokio::select! {
        exit = exits.recv() => match exit {
            Some(exit) => {
                log_exit(&exit);
                Err(format!("the session's {exit}"))
            }
            None => Err("the session's supervisor stopped".to_owned()),
        },
        reason = idle_end => Ok(reason),
    }
}
