//! The command line (DESIGN.md §2). Every flag can also be set in the config file; flags win.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "wrd-server",
    version,
    about = "RDP server for Wayland desktops",
    long_about = "wrd-server lets any RDP client (Windows' Remote Desktop Connection, the Windows App, \
FreeRDP, Remmina) see and control a desktop.\n\n\
Quick start, no desktop needed:\n  \
WRD_PASSWORD=secret wrd-server serve --source test-pattern --username $USER\n\
then connect an RDP client to this machine, port 3389, as that user.",
    after_help = "Exit codes: 0 clean shutdown, 1 runtime error, 2 bad usage or configuration.\n\
Logging: set RUST_LOG (e.g. RUST_LOG=debug or RUST_LOG=wrd_rdp=debug)."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve RDP clients
    Serve(ServeArgs),
    /// Start a private headless desktop (its own session bus, PipeWire, a headless compositor
    /// with a virtual monitor, and a terminal) and serve it: a remote desktop on a machine with
    /// no screen and nobody logged in. Started as root, it needs --user and runs the whole
    /// session as that user
    Headless(HeadlessArgs),
    /// Tell what this machine offers (portal, PipeWire, Mutter's API, Wayland protocols), which
    /// source `serve` would use, and whether the desktop will ask for consent. Exit 0 when a
    /// desktop can be served, 1 when not (with what to do)
    Doctor(DoctorArgs),
}

#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// Config file to check, as `serve` would read it [default: $XDG_CONFIG_HOME/wrd-server/config.toml, if present]
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Print one JSON object (facts, decision, exit code) instead of text
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct HeadlessArgs {
    /// The session's compositor: `gnome` (headless Mutter, captured and driven through its own
    /// API, no consent dialog; runs without a GPU) or `sway` (headless sway with the pixman
    /// renderer, captured through xdg-desktop-portal-wlr, driven through wlroots' virtual
    /// pointer and keyboard)
    #[arg(long, value_enum, default_value = "gnome")]
    pub compositor: CompositorArg,

    /// Run the session as this user. Required when started as root: root drops to this user
    /// (groups, group, user) before anything of the session starts
    #[arg(long, value_name = "NAME")]
    pub user: Option<String>,

    /// What the session runs once it is up, as `sh -c 'exec CMD'` (the desktop has no
    /// launcher; for several commands, give a shell of their own: `sh -c 'a; b'`)
    #[arg(long, value_name = "CMD", default_value = "foot")]
    pub exec: String,

    /// Keep the session between connections: a client that reconnects finds the same desktop
    /// with the same windows. Without it the session ends once the last client has been gone
    /// for --idle-timeout seconds
    #[arg(long, conflicts_with = "idle_timeout")]
    pub keep_alive: bool,

    /// Seconds the session lives on after its last client left (the next client in that time
    /// finds it as it was) [default: 60]
    #[arg(long, value_name = "SECS")]
    pub idle_timeout: Option<u64>,

    #[command(flatten)]
    pub serve: ServeArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CompositorArg {
    Gnome,
    Sway,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Config file (TOML) [default: $XDG_CONFIG_HOME/wrd-server/config.toml, if present]
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Address and port to listen on [default: 0.0.0.0:3389]
    #[arg(long, value_name = "ADDR:PORT")]
    pub listen: Option<String>,

    /// What clients see: `portal` casts this Wayland desktop through xdg-desktop-portal (the
    /// desktop may ask for consent once; the grant is remembered); `mutter` casts a GNOME
    /// desktop through Mutter's own API (no consent dialog, for unattended and headless GNOME
    /// sessions); `test-pattern` is a built-in
    /// moving picture for checking a client or a network without a desktop [default: test-pattern]
    #[arg(long, value_enum)]
    pub source: Option<SourceArg>,

    /// User name clients log in with [default: the user running the server]
    #[arg(long, value_name = "NAME")]
    pub username: Option<String>,

    /// File holding the password (first line). The password can also come from the
    /// WRD_PASSWORD environment variable; it is never taken as an argument, which `ps` would show
    #[arg(long, value_name = "FILE")]
    pub password_file: Option<PathBuf>,

    /// How clients authenticate: `nla` (Network Level Authentication, the password is checked
    /// before a session starts) or `tls` (TLS only, for old clients) [default: nla]
    #[arg(long, value_enum)]
    pub security: Option<SecurityArg>,

    /// Accept clients without any password. Only allowed when listening on a loopback address
    #[arg(long)]
    pub no_auth: bool,

    /// TLS certificate (PEM). Without it a self-signed certificate is generated on first run
    /// and kept in $XDG_STATE_HOME/wrd-server/
    #[arg(long, value_name = "FILE", requires = "key")]
    pub cert: Option<PathBuf>,

    /// Private key of --cert (PEM, PKCS#8)
    #[arg(long, value_name = "FILE", requires = "cert")]
    pub key: Option<PathBuf>,

    /// Most clients connected at once; more are refused at once [default: 4]
    #[arg(long, value_name = "N")]
    pub max_clients: Option<usize>,

    /// Most frames per second sent to each client; a faster source is coalesced (no change is
    /// lost, intermediate pictures are skipped) [default: 60]
    #[arg(long, value_name = "N")]
    pub max_fps: Option<u32>,

    /// How pictures are encoded: `auto` sends H.264 through the graphics pipeline to clients
    /// that negotiate it, lossless planar tiles through the pipeline to pipeline clients
    /// without H.264, and RemoteFX or bitmaps to clients without the pipeline; `h264` the
    /// same, warning about clients without H.264; `remotefx` and `bitmap` never offer the
    /// graphics pipeline [default: auto]
    #[arg(long, value_name = "CODEC")]
    pub codec: Option<CodecArg>,

    /// The H.264 encoder's profile: `lan` (full-screen motion at 5.5 Mbit/s, planned for 60 fps,
    /// an IDR every 60 s) or `wan` (2 Mbit/s, 30 fps, coarser quality, an IDR every 120 s);
    /// text is refined to sharp after motion in both [default: lan]
    #[arg(long, value_name = "PROFILE")]
    pub network: Option<NetworkArg>,

    /// H.264 bit rate during motion in Mbit/s (0.1 to 100), instead of the profile's
    #[arg(long, value_name = "MBIT")]
    pub h264_bitrate: Option<f64>,

    /// An H.264 IDR at least every SECS seconds (a client that lost a frame recovers); 0: only
    /// at the start, on a resize and when a client asks [default: the profile's]
    #[arg(long, value_name = "SECS")]
    pub idr_interval: Option<u32>,

    /// H.264 encoder threads per client (1 to 4), each coding a slice of the picture: a
    /// full-screen change goes out sooner when a core has room [default: 2 on a machine with
    /// two cores or more, else 1]
    #[arg(long, value_name = "N")]
    pub h264_threads: Option<u16>,

    /// Clients see the desktop but cannot control it: their keyboard and mouse are ignored
    /// (logged once per session)
    #[arg(long)]
    pub view_only: bool,

    /// Test pattern size [default: 1280x720]; for `headless`, the monitor's size until a
    /// client connects (it then takes the client's) [default: 1920x1080]
    #[arg(long, value_name = "WxH")]
    pub size: Option<String>,

    /// Test pattern frames per second; 0 draws one picture and holds it [default: 30]
    #[arg(long, value_name = "N")]
    pub fps: Option<u32>,

    /// Test pattern: answer each key or button press (the box under the counter changes
    /// colour) this long after it arrived: a known latency, to check a latency measurement
    /// [default: 0]
    #[arg(long, value_name = "MS")]
    pub pattern_input_delay_ms: Option<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SourceArg {
    TestPattern,
    Portal,
    Mutter,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CodecArg {
    Auto,
    H264,
    Remotefx,
    Bitmap,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum NetworkArg {
    Lan,
    Wan,
}

impl From<NetworkArg> for wrd_h264::NetworkProfile {
    fn from(network: NetworkArg) -> Self {
        match network {
            NetworkArg::Lan => Self::Lan,
            NetworkArg::Wan => Self::Wan,
        }
    }
}

impl From<CodecArg> for wrd_rdp::Codec {
    fn from(codec: CodecArg) -> Self {
        match codec {
            CodecArg::Auto => Self::Auto,
            CodecArg::H264 => Self::H264,
            CodecArg::Remotefx => Self::RemoteFx,
            CodecArg::Bitmap => Self::Bitmap,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SecurityArg {
    Nla,
    Tls,
}
