//! Command line.

use std::net::{SocketAddr, ToSocketAddrs as _};
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Result;
use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::UsageError;

/// Benchmark client for RDP servers.
///
/// Every measurement is printed as text and as one JSON line (`{"bench": ...}`); with
/// `--json FILE` the JSON lines are appended to FILE instead of being mixed into the text.
/// Exit status: 0 when every measurement was taken, 1 when one failed (connection refused,
/// authentication failed, timeout, ...), 2 for a usage error.
#[derive(Debug, Parser)]
#[command(name = "wrd-bench", version, max_term_width = 100)]
pub struct Cli {
    /// Append the JSON lines to this file instead of printing them on stdout
    #[arg(long, global = true, value_name = "FILE")]
    pub json: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Time from the start of the TCP connect to the first complete picture, over several runs
    ///
    /// With `--client wrd` (the in-process IronRDP client), the picture is complete when the
    /// decoded graphics updates have covered every pixel of the desktop at least once; this
    /// works against any server. With `--client xfreerdp` (FreeRDP 2 on a private Xvfb, through
    /// a local TCP relay that timestamps the connection), it is complete when a screenshot of
    /// the client window shows the wrd-server test pattern (or, with `--any-content`, anything
    /// but one uniform colour); the screenshot time is reported as the error bar.
    FirstFrame(FirstFrameArgs),
    /// Connect N clients, let them receive and decode for S seconds, and report their update
    /// and byte rates, and (with `--server-pid`) the server's CPU and memory over that window
    Watch(WatchArgs),
    /// Compare RDP servers on the same headless desktop content, one after another
    ///
    /// Starts each server under test on its own headless desktop at the same size: wrd-server
    /// on sway (`serve --source portal`) and on headless mutter (`serve --source mutter`),
    /// gnome-remote-desktop (`--headless`) on headless mutter, weston's RDP backend. For each scene (a full-screen animation, a terminal in
    /// which text is being typed, a still picture) it connects one in-process client
    /// (advertising RemoteFX), starts the scene, lets it settle, and measures for the window:
    /// frames and bytes per second received, the server's CPU and memory, the whole desktop's
    /// CPU, and, for wrd-server, capture-to-wire times from its log. Prints a table (also as
    /// markdown with `--markdown`). Needs root or the stack user's rights, and the programs of
    /// scripts/install-deps.sh; see scripts/bench-desktop.sh.
    Desktop(DesktopArgs),
    /// Input-to-pixel latency of RDP servers on the same headless desktops, one after another
    ///
    /// Starts each server as `desktop` does, connects one in-process client (RemoteFX
    /// advertised), starts `wrd-scene flip` (a full-screen solid colour repainted in the next
    /// colour on each key press), clicks at its centre so it has the keyboard, then presses a
    /// key every `--interval-ms`: each press is timed from the press event written to the
    /// socket to the decoded graphics update after which six sample points of the picture show
    /// the next colour. Warm-up presses are dropped; median, p95, max, min per server, and
    /// whether issue 5's goal is met. See scripts/bench-latency.sh.
    Latency(LatencyArgs),
    /// Input-to-pixel latency of any server: key presses, each timed to the first decoded
    /// update after which a region of the picture differs from before the press
    ///
    /// The region must change only in answer to input (the wrd-server test pattern's echo box
    /// under its counter, `--region 0,48,48x48` at 1280x720; a flipper's window; a terminal's
    /// cursor line). Warm-up presses are dropped; median, p95, max, min and the missed presses.
    Press(PressArgs),
    /// The servers side by side, from the JSON lines of one `desktop` and `latency` run: one
    /// markdown table (printed, and with `--update` written between its markers in
    /// BENCHMARKS.md). `scripts/bench-peers.sh` runs everything and calls this.
    PeersTable(PeersTableArgs),
    /// Time from a copy on one side to the pasted content on the other: 1 KiB of text and a
    /// 1920x1080 picture, desktop -> client and client -> desktop, through wrd-server on headless
    /// sway and xfreerdp `+clipboard` (xclip and an X selection owner on its Xvfb, wl-copy and
    /// wl-paste in the sway session); median, min and max over `--rounds`. Needs root or the
    /// stack user's rights and the programs of scripts/install-deps.sh
    Clipboard(ClipboardArgs),
}

#[derive(Debug, Clone, Args)]
pub struct ClipboardArgs {
    /// The wrd-server binary to measure
    #[arg(long, value_name = "PATH")]
    pub wrd_server: PathBuf,
    /// The desktop: `wrd` (sway, wlroots data control) or `wrd-mutter` (headless GNOME, the
    /// Mutter remote-desktop session's clipboard)
    #[arg(long, value_enum, default_value = "wrd")]
    pub server: ServerArg,
    /// Rounds of the four cases (each round copies new content)
    #[arg(long, value_name = "N", default_value_t = 7)]
    pub rounds: usize,
}

#[derive(Debug, Clone, Args)]
pub struct PeersTableArgs {
    /// JSON lines files written with `--json` by `desktop` and `latency`
    #[arg(long, value_name = "FILE", required = true, num_args = 1..)]
    pub results: Vec<PathBuf>,

    /// Markdown put above the table (the run's date, machine, versions and commands)
    #[arg(long, value_name = "FILE")]
    pub header: Option<PathBuf>,

    /// Replace the text between the peers-table markers of this file (BENCHMARKS.md)
    #[arg(long, value_name = "FILE")]
    pub update: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, ValueEnum)]
pub enum ServerArg {
    /// wrd-server serve --source portal, on sway with xdg-desktop-portal-wlr
    Wrd,
    /// wrd-server serve --source mutter, on mutter --headless (the compositor grd runs on)
    WrdMutter,
    /// gnome-remote-desktop --headless on mutter --headless
    Gnome,
    /// weston --backend=rdp-backend.so
    Weston,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, ValueEnum)]
pub enum SceneArg {
    /// wrd-scene animate: the whole screen changes every frame
    Animate,
    /// foot, full screen, with a character typed every 100 ms
    Typing,
    /// foot, full screen, scrolling: a new line of text every 20 ms
    Scroll,
    /// wrd-scene static: one picture, then nothing
    Static,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SecurityArg {
    /// TLS + Network Level Authentication (CredSSP)
    Nla,
    /// TLS only; the credentials go in the Client Info PDU
    Tls,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CodecArg {
    /// Advertise RemoteFX
    Remotefx,
    /// Advertise no codec (plain or RLE bitmaps)
    Bitmap,
    /// Open the graphics pipeline with H.264 (AVC420, decoded with openh264); RemoteFX too,
    /// for servers without the pipeline
    H264,
}

impl CodecArg {
    pub fn client_codec(self) -> wrd_client::Codec {
        match self {
            Self::Remotefx => wrd_client::Codec::RemoteFx,
            Self::Bitmap => wrd_client::Codec::Bitmap,
            Self::H264 => wrd_client::Codec::H264,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ClientKind {
    /// The in-process headless client (wrd-client, IronRDP)
    Wrd,
    /// FreeRDP 2's xfreerdp on a private Xvfb
    Xfreerdp,
}

impl ClientKind {
    pub fn name(self) -> &'static str {
        match self {
            Self::Wrd => "wrd",
            Self::Xfreerdp => "xfreerdp",
        }
    }
}

/// Where the server is and how to log in.
#[derive(Debug, Clone, Args)]
pub struct ConnectArgs {
    /// Server address
    #[arg(long, value_name = "HOST:PORT")]
    pub addr: String,

    /// User name
    #[arg(long, value_name = "NAME")]
    pub username: String,

    /// Environment variable holding the password
    #[arg(long, value_name = "VAR", default_value = "WRD_PASSWORD")]
    pub password_env: String,

    /// Domain, if the server wants one
    #[arg(long, value_name = "NAME")]
    pub domain: Option<String>,

    /// Security protocol to insist on
    #[arg(long, value_enum, default_value_t = SecurityArg::Nla)]
    pub security: SecurityArg,

    /// Requested desktop width (the server may impose its own size)
    #[arg(long, value_name = "W", default_value_t = 1280)]
    pub width: u16,

    /// Requested desktop height
    #[arg(long, value_name = "H", default_value_t = 720)]
    pub height: u16,

    /// Codec the in-process client advertises
    #[arg(long, value_enum, default_value_t = CodecArg::Remotefx)]
    pub codec: CodecArg,

    /// Bound on each wait: one run's connect and first picture, a client's start in `watch`
    #[arg(long, value_name = "SECONDS", default_value_t = 30.0)]
    pub timeout: f64,
}

impl ConnectArgs {
    /// The first address `--addr` resolves to.
    pub fn socket_addr(&self) -> Result<SocketAddr> {
        let addr = self
            .addr
            .to_socket_addrs()
            .map_err(|e| UsageError(format!("--addr {}: {e}", self.addr)))?
            .next()
            .ok_or_else(|| UsageError(format!("--addr {}: resolves to no address", self.addr)))?;
        Ok(addr)
    }

    /// The password from the environment variable named by `--password-env`.
    pub fn password(&self) -> Result<String> {
        let var = &self.password_env;
        match std::env::var(var) {
            Ok(p) => Ok(p),
            Err(std::env::VarError::NotPresent) => Err(UsageError(format!(
                "the password is read from the environment variable {var}, which is not set \
                 (--password-env names another variable)"
            ))
            .into()),
            Err(std::env::VarError::NotUnicode(_)) => {
                Err(UsageError(format!("the environment variable {var} is not valid UTF-8")).into())
            }
        }
    }

    pub fn timeout(&self) -> Result<Duration> {
        Duration::try_from_secs_f64(self.timeout)
            .ok()
            .filter(|d| !d.is_zero())
            .ok_or_else(|| {
                UsageError(format!(
                    "--timeout {}: not a positive number of seconds",
                    self.timeout
                ))
                .into()
            })
    }

    /// Configuration of the in-process client.
    pub fn client_config(&self, addr: SocketAddr, password: &str) -> Result<wrd_client::ClientConfig> {
        let mut config = wrd_client::ClientConfig::new(addr, &self.username, password);
        config.domain.clone_from(&self.domain);
        config.security = match self.security {
            SecurityArg::Nla => wrd_client::Security::Nla,
            SecurityArg::Tls => wrd_client::Security::Tls,
        };
        config.desktop_width = self.width;
        config.desktop_height = self.height;
        config.codec = self.codec.client_codec();
        config.connect_timeout = self.timeout()?;
        config.client_name = "wrd-bench".to_owned();
        Ok(config)
    }
}

#[derive(Debug, Clone, Args)]
pub struct FirstFrameArgs {
    #[command(flatten)]
    pub connect: ConnectArgs,

    /// Client to measure
    #[arg(long, value_enum, default_value_t = ClientKind::Wrd)]
    pub client: ClientKind,

    /// Measured runs
    #[arg(long, value_name = "N", default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..))]
    pub runs: u32,

    /// Runs before the measured ones, not counted (caches, lazy initialisation)
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub warmup: u32,

    /// Pause between runs, after the previous client has disconnected
    #[arg(long, value_name = "MS", default_value_t = 200)]
    pub pause_ms: u64,

    /// wrd: once the picture is complete, also compare it with the wrd-server test pattern
    /// and fail the run if it does not match (after the clock has stopped)
    #[arg(long)]
    pub verify_pattern: bool,

    /// xfreerdp: stop the clock when the client area is no longer one uniform colour, instead
    /// of when it shows the test pattern (for servers that show something else)
    #[arg(long)]
    pub any_content: bool,

    /// Per-channel tolerance of the test-pattern comparison (lossy codecs)
    #[arg(long, value_name = "LEVELS", default_value_t = 48)]
    pub tolerance: u8,

    /// Largest share of pixels beyond the tolerance for a picture to count as the test pattern
    #[arg(long, value_name = "FRACTION", default_value_t = 0.02)]
    pub max_mismatch: f64,

    /// xfreerdp: connect it straight to the server instead of through the timestamping relay;
    /// then only the time from starting the process is known
    #[arg(long)]
    pub direct: bool,

    /// xfreerdp: pause between screenshots (0 = back to back)
    #[arg(long, value_name = "MS", default_value_t = 0)]
    pub poll_interval_ms: u64,

    /// xfreerdp: one more argument, e.g. `--xfreerdp-arg=/gfx` (repeatable)
    #[arg(long, value_name = "ARG", allow_hyphen_values = true)]
    pub xfreerdp_arg: Vec<String>,
}

/// A rectangle of the desktop: `X,Y,WxH`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Region {
    pub x: u16,
    pub y: u16,
    pub width: u16,
    pub height: u16,
}

impl Region {
    /// The part of the region inside a `size` desktop; `None` if nothing is.
    pub fn clip(self, size: (u16, u16)) -> Option<Self> {
        let (w, h) = size;
        if self.x >= w || self.y >= h {
            return None;
        }
        Some(Self {
            width: self.width.min(w - self.x),
            height: self.height.min(h - self.y),
            ..self
        })
    }

    /// Whether an updated rectangle overlaps the region.
    pub fn touches(self, r: wrd_client::Rect) -> bool {
        let (ax, ay) = (u32::from(self.x), u32::from(self.y));
        let (bx, by) = (u32::from(r.x), u32::from(r.y));
        ax < bx + u32::from(r.width)
            && bx < ax + u32::from(self.width)
            && ay < by + u32::from(r.height)
            && by < ay + u32::from(self.height)
    }
}

impl std::fmt::Display for Region {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{},{},{}x{}", self.x, self.y, self.width, self.height)
    }
}

fn parse_region(s: &str) -> Result<Region, String> {
    let bad = || format!("{s:?}: expected X,Y,WxH (e.g. 0,48,48x48)");
    let mut parts = s.splitn(3, ',');
    let (Some(x), Some(y), Some(size)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(bad());
    };
    let x = x.trim().parse().map_err(|_| bad())?;
    let y = y.trim().parse().map_err(|_| bad())?;
    let (width, height) = size.trim().split_once('x').ok_or_else(bad)?;
    let width: u16 = width.parse().map_err(|_| bad())?;
    let height: u16 = height.parse().map_err(|_| bad())?;
    if width == 0 || height == 0 {
        return Err(format!("{s:?}: the region is empty"));
    }
    Ok(Region { x, y, width, height })
}

#[derive(Debug, Clone, Args)]
pub struct PressArgs {
    #[command(flatten)]
    pub connect: ConnectArgs,

    /// The part of the picture that answers a press
    #[arg(long, value_name = "X,Y,WxH", value_parser = parse_region)]
    pub region: Region,

    /// Client to measure: the in-process one (press written to the socket → update decoded),
    /// or FreeRDP 2's xfreerdp on a private Xvfb (XTEST key press processed by the X server →
    /// the region on the X screen changed, polled with GetImage every 0.5 ms)
    #[arg(long, value_enum, default_value_t = ClientKind::Wrd)]
    pub client: ClientKind,

    /// xfreerdp: one more argument, e.g. `--xfreerdp-arg=/rfx` (repeatable)
    #[arg(long, value_name = "ARG", allow_hyphen_values = true)]
    pub xfreerdp_arg: Vec<String>,

    /// Timed presses
    #[arg(long, value_name = "K", default_value_t = 30, value_parser = parse_samples)]
    pub samples: usize,

    /// Presses before the timed ones, dropped
    #[arg(long, value_name = "N", default_value_t = 5)]
    pub warmup: usize,

    /// Time between an answer (or a missed press) and the next press
    #[arg(long, value_name = "MS", default_value_t = 150)]
    pub interval_ms: u64,

    /// A press the region has not answered after this long is missed
    #[arg(long, value_name = "MS", default_value_t = 2000, value_parser = clap::value_parser!(u64).range(1..))]
    pub press_timeout_ms: u64,

    /// Scancode (set 1) of the key pressed [default: 0x1e, A]
    #[arg(long, value_name = "CODE", default_value = "0x1e", value_parser = parse_scancode)]
    pub scancode: u8,

    /// A channel must differ by more than this for the region to count as changed (lossy
    /// codecs wobble by a few levels)
    #[arg(long, value_name = "LEVELS", default_value_t = 32)]
    pub threshold: u8,
}

fn parse_samples(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(format!("{s:?}: expected a positive number of presses")),
    }
}

fn parse_scancode(s: &str) -> Result<u8, String> {
    let parsed = match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(hex) => u8::from_str_radix(hex, 16),
        None => s.parse(),
    };
    match parsed {
        Ok(0) | Err(_) => Err(format!("{s:?}: expected a scancode 1..=255 (decimal or 0x..)")),
        Ok(code) => Ok(code),
    }
}

#[derive(Debug, Clone, Args)]
pub struct WatchArgs {
    #[command(flatten)]
    pub connect: ConnectArgs,

    /// Clients to connect (0: only watch the server process)
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub clients: u32,

    /// Length of the measurement window, which starts once every client shows a complete
    /// picture
    #[arg(long, value_name = "SECONDS", default_value_t = 10.0)]
    pub seconds: f64,

    /// Server process to sample: CPU time from /proc/PID/stat at the start and end of the
    /// window, RSS from /proc/PID/status
    #[arg(long, value_name = "PID")]
    pub server_pid: Option<u32>,

    /// RSS sampling interval
    #[arg(long, value_name = "MS", default_value_t = 250, value_parser = clap::value_parser!(u64).range(1..))]
    pub rss_interval_ms: u64,

    /// Time between "every client shows a complete picture" and the start of the window
    #[arg(long, value_name = "SECONDS", default_value_t = 0.0)]
    pub settle: f64,

    /// Also count the distinct frames each client's picture shows, read from the picture's own
    /// frame counter: a `wrd-scene animate` picture (`--frame-counter` alone) or the server's
    /// test pattern (`--frame-counter=pattern`). Exact where update bursts are only a guess
    #[arg(
        long,
        value_name = "PICTURE",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "scene"
    )]
    pub frame_counter: Option<CounterKind>,
}

/// Whose frame counter `watch --frame-counter` reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CounterKind {
    /// `wrd-scene animate` (also compares a few pictures with the frames it drew: PSNR)
    Scene,
    /// `wrd-server --source test-pattern`
    Pattern,
}

impl WatchArgs {
    pub fn window(&self) -> Result<Duration> {
        Duration::try_from_secs_f64(self.seconds)
            .ok()
            .filter(|d| !d.is_zero())
            .ok_or_else(|| UsageError(format!("--seconds {}: not a positive number", self.seconds)).into())
    }
}

#[derive(Debug, Clone, Args)]
pub struct DesktopArgs {
    /// Servers to measure, in this order
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "wrd,wrd-mutter,gnome,weston"
    )]
    pub servers: Vec<ServerArg>,

    /// Scenes to show each server, in this order
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "animate,typing,static"
    )]
    pub scenes: Vec<SceneArg>,

    /// Client to measure with: the in-process one, or FreeRDP 2's xfreerdp (`/rfx`) on a
    /// private Xvfb, whose screen is read with GetImage (animate only: the distinct frames of
    /// the scene's counter per second; a cross-check of the in-process figures)
    #[arg(long, value_enum, default_value_t = ClientKind::Wrd)]
    pub client: ClientKind,

    /// What the in-process client asks for: RemoteFX, plain bitmaps, or H.264 through the
    /// graphics pipeline (servers without it send RemoteFX)
    #[arg(long, value_enum, default_value_t = CodecArg::Remotefx)]
    pub codec: CodecArg,

    /// The wrd-server binary (release build for meaningful figures)
    #[arg(long, value_name = "PATH")]
    pub wrd_server: Option<PathBuf>,

    /// The wrd-scene binary (for the animate and static scenes)
    #[arg(long, value_name = "PATH")]
    pub scene: Option<PathBuf>,

    /// Desktop size of every server
    #[arg(long, value_name = "WxH", default_value = "1920x1080", value_parser = parse_size)]
    pub size: (u16, u16),

    /// Length of each measurement window
    #[arg(long, value_name = "SECONDS", default_value_t = 10.0)]
    pub seconds: f64,

    /// Time between starting a scene and the start of its window (mutter on a busy 2-core
    /// machine takes over 2 s to show a new full-screen window)
    #[arg(long, value_name = "SECONDS", default_value_t = 5.0)]
    pub settle: f64,

    /// Bound on each start-up step and on each client's connect and first picture
    #[arg(long, value_name = "SECONDS", default_value_t = 30.0)]
    pub timeout: f64,

    /// Directory for the desktops, their logs and the servers' logs (created; default: a new
    /// directory under the temporary directory, kept)
    #[arg(long, value_name = "DIR")]
    pub work_dir: Option<PathBuf>,

    /// Also write the table as markdown to FILE
    #[arg(long, value_name = "FILE")]
    pub markdown: Option<PathBuf>,
}

#[derive(Debug, Clone, Args)]
pub struct LatencyArgs {
    /// Servers to measure, in this order
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "wrd,wrd-mutter,gnome,weston"
    )]
    pub servers: Vec<ServerArg>,

    /// The wrd-server binary (release build for meaningful figures)
    #[arg(long, value_name = "PATH")]
    pub wrd_server: Option<PathBuf>,

    /// The wrd-scene binary (its `flip` scene)
    #[arg(long, value_name = "PATH")]
    pub scene: PathBuf,

    /// Client to measure: the in-process one, or FreeRDP 2's xfreerdp (`/rfx`) on a private
    /// Xvfb, driven with XTEST and read with GetImage (a cross-check of the in-process figures)
    #[arg(long, value_enum, default_value_t = ClientKind::Wrd)]
    pub client: ClientKind,

    /// What the in-process client asks for: RemoteFX, plain bitmaps, or H.264 through the
    /// graphics pipeline (servers without it send RemoteFX)
    #[arg(long, value_enum, default_value_t = CodecArg::Remotefx)]
    pub codec: CodecArg,

    /// Desktop size of every server
    #[arg(long, value_name = "WxH", default_value = "1920x1080", value_parser = parse_size)]
    pub size: (u16, u16),

    /// Presses timed per server
    #[arg(long, value_name = "K", default_value_t = 30)]
    pub presses: usize,

    /// Presses before those, not timed (the first ones pay for the desktop waking up)
    #[arg(long, value_name = "N", default_value_t = 5)]
    pub warmup: usize,

    /// Time from one press to the next
    #[arg(long, value_name = "MS", default_value_t = 150)]
    pub interval_ms: u64,

    /// How long a press may take to show its colour before it counts as missed
    #[arg(long, value_name = "SECONDS", default_value_t = 2.0)]
    pub press_timeout: f64,

    /// Median latency goal of wrd-server on sway, in milliseconds (issue 5: 40)
    #[arg(long, value_name = "MS", default_value_t = 40.0)]
    pub goal_ms: f64,

    /// Bound on each start-up step and on the client's connect and first picture
    #[arg(long, value_name = "SECONDS", default_value_t = 30.0)]
    pub timeout: f64,

    /// Directory for the desktops and their logs (created; default: a new directory under
    /// the temporary directory, kept)
    #[arg(long, value_name = "DIR")]
    pub work_dir: Option<PathBuf>,

    /// Also write the table as markdown to FILE
    #[arg(long, value_name = "FILE")]
    pub markdown: Option<PathBuf>,
}

fn parse_size(s: &str) -> Result<(u16, u16), String> {
    let (w, h) = s
        .split_once('x')
        .ok_or_else(|| format!("{s:?}: expected WIDTHxHEIGHT"))?;
    let parse = |v: &str| {
        v.parse::<u16>()
            .ok()
            .filter(|n| (64..=8192).contains(n))
            .ok_or_else(|| format!("{s:?}: {v:?} is not a size between 64 and 8192"))
    };
    Ok((parse(w)?, parse(h)?))
}

impl DesktopArgs {
    pub fn seconds(name: &str, value: f64, zero_ok: bool) -> Result<Duration> {
        Duration::try_from_secs_f64(value)
            .ok()
            .filter(|d| zero_ok || !d.is_zero())
            .ok_or_else(|| UsageError(format!("--{name} {value}: not a valid number of seconds")).into())
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory as _;

    use super::*;

    #[test]
    fn cli_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn parses_first_frame() {
        let cli = Cli::try_parse_from([
            "wrd-bench",
            "first-frame",
            "--addr",
            "127.0.0.1:3389",
            "--username",
            "u",
            "--client",
            "xfreerdp",
            "--runs",
            "5",
            "--xfreerdp-arg=/gfx",
            "--xfreerdp-arg",
            "-wallpaper",
            "--json",
            "out.jsonl",
        ])
        .unwrap();
        assert_eq!(cli.json.as_deref(), Some(std::path::Path::new("out.jsonl")));
        let Command::FirstFrame(a) = cli.command else {
            panic!("wrong subcommand");
        };
        assert_eq!(a.client, ClientKind::Xfreerdp);
        assert_eq!(a.runs, 5);
        assert_eq!(a.warmup, 1);
        assert_eq!(a.xfreerdp_arg, ["/gfx", "-wallpaper"]);
        assert_eq!((a.connect.width, a.connect.height), (1280, 720));
        assert_eq!(
            a.connect.socket_addr().unwrap(),
            "127.0.0.1:3389".parse().unwrap()
        );
        assert_eq!(a.connect.timeout().unwrap(), Duration::from_secs(30));
    }

    #[test]
    fn zero_runs_and_bad_numbers_are_refused() {
        let base = ["wrd-bench", "first-frame", "--addr", "h:1", "--username", "u"];
        assert!(Cli::try_parse_from(base.iter().chain(&["--runs", "0"])).is_err());
        let cli = Cli::try_parse_from(base.iter().chain(&["--timeout=0"])).unwrap();
        let Command::FirstFrame(a) = cli.command else {
            panic!("wrong subcommand");
        };
        assert!(a.connect.timeout().unwrap_err().is::<UsageError>());
    }

    #[test]
    fn watch_frame_counter_is_off_the_scene_or_the_pattern() {
        let counter = |extra: &[&str]| -> Result<Option<CounterKind>, clap::error::ErrorKind> {
            let base = ["wrd-bench", "watch", "--addr", "h:1", "--username", "u"];
            let cli = Cli::try_parse_from(base.iter().chain(extra)).map_err(|e| e.kind())?;
            let Command::Watch(a) = cli.command else {
                panic!("wrong subcommand");
            };
            Ok(a.frame_counter)
        };
        assert_eq!(counter(&[]), Ok(None));
        assert_eq!(counter(&["--frame-counter"]), Ok(Some(CounterKind::Scene)));
        // Alone before another option, as scripts pass it.
        assert_eq!(
            counter(&["--frame-counter", "--seconds", "2"]),
            Ok(Some(CounterKind::Scene))
        );
        assert_eq!(
            counter(&["--frame-counter=pattern"]),
            Ok(Some(CounterKind::Pattern))
        );
        assert!(counter(&["--frame-counter=clock"]).is_err());
    }

    #[test]
    fn parses_desktop() {
        let cli = Cli::try_parse_from(["wrd-bench", "desktop", "--scene", "/x/wrd-scene"]).unwrap();
        let Command::Desktop(a) = cli.command else {
            panic!("wrong subcommand");
        };
        assert_eq!(
            a.servers,
            [
                ServerArg::Wrd,
                ServerArg::WrdMutter,
                ServerArg::Gnome,
                ServerArg::Weston
            ]
        );
        assert_eq!(a.scenes, [SceneArg::Animate, SceneArg::Typing, SceneArg::Static]);
        assert_eq!((a.size, a.seconds, a.settle), ((1920, 1080), 10.0, 5.0));
        let cli = Cli::try_parse_from([
            "wrd-bench",
            "desktop",
            "--scene",
            "s",
            "--servers",
            "weston",
            "--scenes=static,animate",
            "--size",
            "1280x720",
        ])
        .unwrap();
        let Command::Desktop(a) = cli.command else {
            panic!("wrong subcommand");
        };
        assert_eq!(a.servers, [ServerArg::Weston]);
        assert_eq!(a.scenes, [SceneArg::Static, SceneArg::Animate]);
        assert_eq!(a.size, (1280, 720));
        assert!(Cli::try_parse_from(["wrd-bench", "desktop", "--scene", "s", "--size", "10x10"]).is_err());
        assert!(Cli::try_parse_from(["wrd-bench", "desktop", "--scene", "s", "--servers", "xrdp"]).is_err());
    }

    #[test]
    fn parses_latency() {
        let cli = Cli::try_parse_from(["wrd-bench", "latency", "--scene", "/x/wrd-scene"]).unwrap();
        let Command::Latency(a) = cli.command else {
            panic!("wrong subcommand");
        };
        assert_eq!(a.servers.len(), 4);
        assert_eq!((a.presses, a.warmup, a.interval_ms), (30, 5, 150));
        assert_eq!((a.press_timeout, a.goal_ms), (2.0, 40.0));
        assert!(Cli::try_parse_from(["wrd-bench", "latency"]).is_err());
    }

    #[test]
    fn missing_password_variable_is_a_usage_error() {
        let cli = Cli::try_parse_from([
            "wrd-bench",
            "watch",
            "--addr",
            "127.0.0.1:1",
            "--username",
            "u",
            "--password-env",
            "WRD_BENCH_TEST_SURELY_UNSET_VARIABLE",
        ])
        .unwrap();
        let Command::Watch(a) = cli.command else {
            panic!("wrong subcommand");
        };
        let err = a.connect.password().unwrap_err();
        assert!(err.is::<UsageError>());
        assert!(
            err.to_string().contains("WRD_BENCH_TEST_SURELY_UNSET_VARIABLE"),
            "{err}"
        );
    }
}
