//! Settings from the config file, the command line and the environment, checked up front:
//! every problem becomes one [`ConfigError`] line that names the key or file, and exit code 2.

use std::fs;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::cli::{CodecArg, NetworkArg, SecurityArg, ServeArgs, SourceArg};

pub const DEFAULT_LISTEN: &str = "0.0.0.0:3389";
pub const DEFAULT_MAX_CLIENTS: usize = 4;
pub const DEFAULT_MAX_FPS: u32 = 60;
pub const DEFAULT_PATTERN_SIZE: (u16, u16) = (1280, 720);
pub const DEFAULT_PATTERN_FPS: u32 = 30;
/// Beyond this a client limit is a typo, not a plan: each client costs a thread and a frame
/// buffer.
const MAX_MAX_CLIENTS: usize = 64;
/// Above this, frame rates are typos: no display or client keeps up.
const MAX_PATTERN_FPS: u32 = 240;
/// A longer answer delay is a typo, not a latency anyone wants to simulate.
const MAX_PATTERN_INPUT_DELAY_MS: u32 = 10_000;
/// H.264 bit rates accepted, in Mbit/s: below, a 1080p picture is mush; above, no link carries
/// it and openh264's levels end.
const MIN_H264_MBIT: f64 = 0.1;
const MAX_H264_MBIT: f64 = 100.0;
/// Longest periodic IDR interval accepted (an hour).
const MAX_IDR_INTERVAL_S: u32 = 3600;

/// One line, naming what is wrong and where.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(String);

impl ConfigError {
    pub fn from_message(msg: impl Into<String>) -> Self {
        Self(msg.into())
    }
}

fn err(msg: impl Into<String>) -> ConfigError {
    ConfigError(msg.into())
}

/// The config file, as written by a user. Unknown keys are errors: a typo must not silently
/// fall back to a default (think `pasword_file`).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    listen: Option<String>,
    source: Option<SourceArg>,
    max_clients: Option<usize>,
    max_fps: Option<u32>,
    codec: Option<CodecArg>,
    view_only: Option<bool>,
    #[serde(default)]
    h264: FileH264,
    #[serde(default)]
    auth: FileAuth,
    #[serde(default)]
    tls: FileTls,
    #[serde(default)]
    test_pattern: FilePattern,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileAuth {
    security: Option<SecurityArg>,
    username: Option<String>,
    password_file: Option<PathBuf>,
    no_auth: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileH264 {
    network: Option<NetworkArg>,
    bitrate_mbit: Option<f64>,
    idr_interval_s: Option<u32>,
    threads: Option<u16>,
}

/// The H.264 encoder's settings as chosen (a profile, and what overrides it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct H264Choice {
    pub network: NetworkArg,
    /// Bits per second during motion, instead of the profile's.
    pub bitrate_bps: Option<u32>,
    /// Seconds between periodic IDRs (0: none), instead of the profile's.
    pub idr_interval_s: Option<u32>,
    /// Encoder threads per client (a slice each).
    pub threads: u16,
}

/// openh264 codes at most this many slices in parallel (its `MAX_THREADS_NUM`).
const MAX_H264_THREADS: u16 = 4;

/// Two encoder threads where the machine has two cores or more. A full-screen 1080p frame is
/// 10-20 ms of encoding; split in two slices it goes out sooner whenever the other core has
/// room, even beside a busy desktop: on the 2-core bench machine the animation's
/// capture-to-wire median went from 26-29 ms to 12-27 ms and input-to-pixel from 27-32 ms to
/// 23-30 ms (BENCHMARKS.md). The price, per client: 22-30 MiB more resident memory (the
/// second thread's buffers), about a tenth more CPU per frame, a few hundred bytes more per
/// small change (a second slice header). More threads buy little: the other parts of the
/// pipeline need cores too.
fn default_h264_threads() -> u16 {
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    if cores >= 2 { 2 } else { 1 }
}

impl H264Choice {
    pub fn encoder_settings(&self) -> wrd_h264::EncoderSettings {
        let mut settings = wrd_h264::EncoderSettings::for_profile(self.network.into());
        if let Some(bps) = self.bitrate_bps {
            settings.bitrate_bps = bps;
        }
        if let Some(secs) = self.idr_interval_s {
            settings.idr_interval = (secs > 0).then(|| std::time::Duration::from_secs(u64::from(secs)));
        }
        settings.threads = self.threads;
        settings
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileTls {
    cert: Option<PathBuf>,
    key: Option<PathBuf>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FilePattern {
    size: Option<String>,
    fps: Option<u32>,
    input_delay_ms: Option<u32>,
}

/// How clients authenticate, resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Auth {
    Password {
        security: SecurityArg,
        username: String,
        password: String,
        source: String,
    },
    None,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TlsSource {
    /// Operator-provided files.
    Files { cert: PathBuf, key: PathBuf },
    /// Self-signed, generated once and kept in the state directory.
    Generated,
}

/// Everything `serve` needs, valid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub listen: SocketAddr,
    pub source: SourceArg,
    pub max_clients: usize,
    pub max_fps: u32,
    pub codec: CodecArg,
    pub h264: H264Choice,
    /// Input from clients is ignored.
    pub view_only: bool,
    pub auth: Auth,
    pub tls: TlsSource,
    pub state_dir: PathBuf,
    pub pattern_size: (u16, u16),
    pub pattern_fps: u32,
    /// How long the test pattern waits before answering a key or button press.
    pub pattern_input_delay: std::time::Duration,
}

/// What the environment contributes (read once, so tests can supply their own).
#[derive(Debug, Clone, Default)]
pub struct Env {
    pub password: Option<String>,
    pub user: Option<String>,
    pub config_home: Option<PathBuf>,
    pub state_home: Option<PathBuf>,
    pub home: Option<PathBuf>,
}

impl Env {
    pub fn from_process() -> Self {
        let var = |name| std::env::var(name).ok().filter(|v: &String| !v.is_empty());
        Self {
            password: var("WRD_PASSWORD"),
            user: var("USER").or_else(|| var("LOGNAME")),
            config_home: var("XDG_CONFIG_HOME").map(PathBuf::from),
            state_home: var("XDG_STATE_HOME").map(PathBuf::from),
            home: var("HOME").map(PathBuf::from),
        }
    }

    fn default_config_file(&self) -> Option<PathBuf> {
        let base = self
            .config_home
            .clone()
            .or_else(|| self.home.as_ref().map(|h| h.join(".config")))?;
        Some(base.join("wrd-server").join("config.toml"))
    }

    pub fn state_dir(&self) -> Result<PathBuf, ConfigError> {
        let base = self
            .state_home
            .clone()
            .or_else(|| self.home.as_ref().map(|h| h.join(".local").join("state")))
            .ok_or_else(|| {
                err("neither XDG_STATE_HOME nor HOME is set: no place to keep the TLS certificate")
            })?;
        Ok(base.join("wrd-server"))
    }
}

impl Settings {
    pub fn resolve(args: &ServeArgs, env: &Env) -> Result<Settings, ConfigError> {
        let file = match &args.config {
            Some(path) => load_file(path)?,
            None => match env.default_config_file() {
                Some(path) if path.exists() => load_file(&path)?,
                _ => FileConfig::default(),
            },
        };

        let listen_text = args
            .listen
            .clone()
            .or(file.listen)
            .unwrap_or_else(|| DEFAULT_LISTEN.to_owned());
        let listen: SocketAddr = listen_text.parse().map_err(|_| {
            err(format!(
                "listen: `{listen_text}` is not an address with a port, like 0.0.0.0:3389 or [::1]:3389"
            ))
        })?;

        let max_clients = args
            .max_clients
            .or(file.max_clients)
            .unwrap_or(DEFAULT_MAX_CLIENTS);
        if !(1..=MAX_MAX_CLIENTS).contains(&max_clients) {
            return Err(err(format!(
                "max_clients: {max_clients} is outside 1..={MAX_MAX_CLIENTS}"
            )));
        }

        let max_fps = args.max_fps.or(file.max_fps).unwrap_or(DEFAULT_MAX_FPS);
        if !(1..=MAX_PATTERN_FPS).contains(&max_fps) {
            return Err(err(format!(
                "max_fps: {max_fps} is outside 1..={MAX_PATTERN_FPS}"
            )));
        }

        let no_auth = args.no_auth || file.auth.no_auth.unwrap_or(false);
        let auth = if no_auth {
            if !listen.ip().is_loopback() {
                return Err(err(format!(
                    "no_auth: refusing to serve without authentication on {listen}, which other machines \
                     can reach; listen on 127.0.0.1 or configure a password"
                )));
            }
            Auth::None
        } else {
            let security = args.security.or(file.auth.security).unwrap_or(SecurityArg::Nla);
            let (password, source) = match args.password_file.as_ref().or(file.auth.password_file.as_ref()) {
                Some(path) => (
                    read_password_file(path)?,
                    format!("password file {}", path.display()),
                ),
                None => match &env.password {
                    Some(password) => (password.clone(), "WRD_PASSWORD".to_owned()),
                    None => {
                        return Err(err(
                            "no credentials: set a password with --password-file FILE or WRD_PASSWORD \
                             (or, on a loopback address only, --no-auth)",
                        ));
                    }
                },
            };
            let username = args
                .username
                .clone()
                .or(file.auth.username)
                .or_else(|| env.user.clone())
                .ok_or_else(|| err("username: none given and USER is not set; use --username NAME"))?;
            if username.is_empty() {
                return Err(err("username: must not be empty"));
            }
            Auth::Password {
                security,
                username,
                password,
                source,
            }
        };

        let cert = args.cert.clone().or(file.tls.cert);
        let key = args.key.clone().or(file.tls.key);
        let tls = match (cert, key) {
            (Some(cert), Some(key)) => {
                check_readable(&cert, "tls.cert: certificate file")?;
                check_readable(&key, "tls.key: private key file")?;
                TlsSource::Files { cert, key }
            }
            (None, None) => TlsSource::Generated,
            (Some(_), None) => return Err(err("tls.key: a certificate was given without its private key")),
            (None, Some(_)) => return Err(err("tls.cert: a private key was given without its certificate")),
        };

        let size_text = args.size.clone().or(file.test_pattern.size);
        let pattern_size = match size_text {
            Some(text) => parse_size(&text)?,
            None => DEFAULT_PATTERN_SIZE,
        };
        let pattern_fps = args.fps.or(file.test_pattern.fps).unwrap_or(DEFAULT_PATTERN_FPS);
        if pattern_fps > MAX_PATTERN_FPS {
            return Err(err(format!(
                "test_pattern.fps: {pattern_fps} is above {MAX_PATTERN_FPS}"
            )));
        }

        let delay_ms = args
            .pattern_input_delay_ms
            .or(file.test_pattern.input_delay_ms)
            .unwrap_or(0);
        if delay_ms > MAX_PATTERN_INPUT_DELAY_MS {
            return Err(err(format!(
                "test_pattern.input_delay_ms: {delay_ms} is above {MAX_PATTERN_INPUT_DELAY_MS}"
            )));
        }

        let bitrate_bps = match args.h264_bitrate.or(file.h264.bitrate_mbit) {
            None => None,
            Some(mbit) if (MIN_H264_MBIT..=MAX_H264_MBIT).contains(&mbit) => {
                // In range, so the product fits: at most 1e8.
                #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
                Some((mbit * 1_000_000.0).round() as u32)
            }
            Some(mbit) => {
                return Err(err(format!(
                    "h264.bitrate_mbit: {mbit} is outside {MIN_H264_MBIT} to {MAX_H264_MBIT} Mbit/s"
                )));
            }
        };
        let idr_interval_s = args.idr_interval.or(file.h264.idr_interval_s);
        if let Some(secs) = idr_interval_s
            && secs > MAX_IDR_INTERVAL_S
        {
            return Err(err(format!(
                "h264.idr_interval_s: {secs} is above {MAX_IDR_INTERVAL_S} (0 turns periodic IDRs off)"
            )));
        }
        let threads = args.h264_threads.or(file.h264.threads);
        if let Some(threads) = threads
            && !(1..=MAX_H264_THREADS).contains(&threads)
        {
            return Err(err(format!(
                "h264.threads: {threads} is outside 1 to {MAX_H264_THREADS}"
            )));
        }
        let h264 = H264Choice {
            network: args.network.or(file.h264.network).unwrap_or(NetworkArg::Lan),
            bitrate_bps,
            idr_interval_s,
            threads: threads.unwrap_or_else(default_h264_threads),
        };

        Ok(Settings {
            listen,
            source: args.source.or(file.source).unwrap_or(SourceArg::TestPattern),
            max_clients,
            max_fps,
            codec: args.codec.or(file.codec).unwrap_or(CodecArg::Auto),
            h264,
            view_only: args.view_only || file.view_only.unwrap_or(false),
            auth,
            tls,
            state_dir: env.state_dir()?,
            pattern_size,
            pattern_fps,
            pattern_input_delay: std::time::Duration::from_millis(u64::from(delay_ms)),
        })
    }
}

/// The config file `serve` would read (`--config`, else the default one if it exists) and the
/// source it names, for `doctor`. Errors are the ones `serve` would report.
pub fn configured_source(
    config: Option<&Path>,
    env: &Env,
) -> Result<Option<(PathBuf, Option<SourceArg>)>, ConfigError> {
    let path = match config {
        Some(path) => path.to_path_buf(),
        None => match env.default_config_file() {
            Some(path) if path.exists() => path,
            _ => return Ok(None),
        },
    };
    let file = load_file(&path)?;
    Ok(Some((path, file.source)))
}

fn load_file(path: &Path) -> Result<FileConfig, ConfigError> {
    let text = fs::read_to_string(path).map_err(|e| err(format!("config file {}: {e}", path.display())))?;
    toml::from_str(&text).map_err(|e| {
        let line = e
            .span()
            .map(|span| 1 + text[..span.start.min(text.len())].matches('\n').count());
        let message = e.message().replace('\n', " ");
        match line {
            Some(line) => err(format!("config file {} line {line}: {message}", path.display())),
            None => err(format!("config file {}: {message}", path.display())),
        }
    })
}

fn read_password_file(path: &Path) -> Result<String, ConfigError> {
    let text = fs::read_to_string(path).map_err(|e| err(format!("password file {}: {e}", path.display())))?;
    let password = text.lines().next().unwrap_or("").to_owned();
    if password.is_empty() {
        return Err(err(format!(
            "password file {}: the first line is empty",
            path.display()
        )));
    }
    Ok(password)
}

fn check_readable(path: &Path, what: &str) -> Result<(), ConfigError> {
    fs::File::open(path)
        .map(drop)
        .map_err(|e| err(format!("{what} {}: {e}", path.display())))
}

pub fn parse_size(text: &str) -> Result<(u16, u16), ConfigError> {
    let bad = || {
        err(format!(
            "size: `{text}` is not WIDTHxHEIGHT between 64x64 and 8192x8192, like 1280x720"
        ))
    };
    let (w, h) = text.split_once(['x', 'X']).ok_or_else(bad)?;
    let w: u16 = w.trim().parse().map_err(|_| bad())?;
    let h: u16 = h.trim().parse().map_err(|_| bad())?;
    if !(64..=8192).contains(&w) || !(64..=8192).contains(&h) {
        return Err(bad());
    }
    Ok((w, h))
}

#[cfg(test)]
mod tests {
    use clap::Parser as _;

    use super::*;
    use crate::cli::{Cli, Command};

    fn args(argv: &[&str]) -> ServeArgs {
        let mut full = vec!["wrd-server", "serve"];
        full.extend_from_slice(argv);
        match Cli::parse_from(full).command {
            Command::Serve(args) => args,
            other => panic!("`serve` parsed as {other:?}"),
        }
    }

    fn env() -> Env {
        Env {
            password: Some("pw".into()),
            user: Some("alice".into()),
            config_home: Some("/nonexistent-config".into()),
            state_home: Some("/tmp/state".into()),
            home: None,
        }
    }

    #[test]
    fn defaults() {
        let s = Settings::resolve(&args(&[]), &env()).unwrap();
        assert_eq!(s.listen, "0.0.0.0:3389".parse().unwrap());
        assert_eq!(s.max_clients, 4);
        assert_eq!(s.tls, TlsSource::Generated);
        assert_eq!(s.state_dir, PathBuf::from("/tmp/state/wrd-server"));
        assert_eq!(
            s.auth,
            Auth::Password {
                security: SecurityArg::Nla,
                username: "alice".into(),
                password: "pw".into(),
                source: "WRD_PASSWORD".into()
            }
        );
        assert_eq!((s.pattern_size, s.pattern_fps), ((1280, 720), 30));
        assert_eq!(s.codec, CodecArg::Auto);
    }

    #[test]
    fn codec_from_the_file_and_the_flag() {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("c.toml");
        fs::write(&config, "codec = \"remotefx\"\n").unwrap();
        let c = config.to_str().unwrap();
        let from_file = Settings::resolve(&args(&["--config", c]), &env()).unwrap();
        assert_eq!(from_file.codec, CodecArg::Remotefx);
        let flag = Settings::resolve(&args(&["--config", c, "--codec", "h264"]), &env()).unwrap();
        assert_eq!(flag.codec, CodecArg::H264);
        assert_eq!(wrd_rdp::Codec::from(CodecArg::Bitmap), wrd_rdp::Codec::Bitmap);
        fs::write(&config, "codec = \"vp9\"\n").unwrap();
        let err = Settings::resolve(&args(&["--config", c]), &env()).unwrap_err();
        assert!(err.to_string().contains("unknown variant `vp9`"), "{err}");
    }

    #[test]
    fn h264_profile_bit_rate_and_idr_interval_from_the_file_and_the_flags() {
        let defaults = Settings::resolve(&args(&[]), &env()).unwrap();
        assert_eq!(
            defaults.h264.encoder_settings(),
            wrd_h264::EncoderSettings {
                threads: default_h264_threads(),
                ..wrd_h264::EncoderSettings::default()
            }
        );
        let cores = std::thread::available_parallelism().unwrap().get();
        assert_eq!(usize::from(default_h264_threads()), cores.min(2));

        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("c.toml");
        fs::write(
            &config,
            "[h264]\nnetwork = \"wan\"\nbitrate_mbit = 1.5\nidr_interval_s = 0\nthreads = 1\n",
        )
        .unwrap();
        let c = config.to_str().unwrap();
        let from_file = Settings::resolve(&args(&["--config", c]), &env())
            .unwrap()
            .h264
            .encoder_settings();
        let wan = wrd_h264::EncoderSettings::for_profile(wrd_h264::NetworkProfile::Wan);
        assert_eq!(from_file.bitrate_bps, 1_500_000);
        assert_eq!(from_file.idr_interval, None, "0 turns periodic IDRs off");
        assert_eq!(from_file.threads, 1);
        assert_eq!((from_file.max_fps, from_file.max_qp), (wan.max_fps, wan.max_qp));

        let flags = Settings::resolve(
            &args(&[
                "--config",
                c,
                "--network",
                "lan",
                "--h264-bitrate",
                "8",
                "--idr-interval",
                "30",
                "--h264-threads",
                "3",
            ]),
            &env(),
        )
        .unwrap()
        .h264
        .encoder_settings();
        assert_eq!(flags.bitrate_bps, 8_000_000);
        assert_eq!(flags.idr_interval, Some(std::time::Duration::from_secs(30)));
        assert_eq!(flags.threads, 3, "the flag wins over the file");
        assert_eq!(flags.max_fps, wrd_h264::EncoderSettings::default().max_fps);

        for (argv, wanted) in [
            (
                ["--h264-bitrate", "0.05"],
                "h264.bitrate_mbit: 0.05 is outside 0.1 to 100",
            ),
            (
                ["--h264-bitrate", "250"],
                "h264.bitrate_mbit: 250 is outside 0.1 to 100",
            ),
            (
                ["--idr-interval", "7200"],
                "h264.idr_interval_s: 7200 is above 3600",
            ),
            (["--h264-threads", "0"], "h264.threads: 0 is outside 1 to 4"),
            (["--h264-threads", "5"], "h264.threads: 5 is outside 1 to 4"),
        ] {
            let e = Settings::resolve(&args(&argv), &env()).unwrap_err().to_string();
            assert!(e.contains(wanted), "{argv:?}: {e}");
        }
        fs::write(&config, "[h264]\nbitrate = 6\n").unwrap();
        let e = Settings::resolve(&args(&["--config", c]), &env())
            .unwrap_err()
            .to_string();
        assert!(e.contains("unknown field `bitrate`"), "{e}");
    }

    #[test]
    fn file_then_flags_override() {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("c.toml");
        let pw = dir.path().join("pw");
        fs::write(&pw, "s3cret\nignored\n").unwrap();
        fs::write(
            &config,
            format!(
                "listen = \"127.0.0.1:4000\"\nmax_clients = 2\n[auth]\nusername = \"bob\"\npassword_file = \"{}\"\nsecurity = \"tls\"\n[test_pattern]\nsize = \"640x480\"\nfps = 0\n",
                pw.display()
            ),
        )
        .unwrap();
        let c = config.to_str().unwrap();
        let s = Settings::resolve(&args(&["--config", c]), &env()).unwrap();
        assert_eq!(s.listen, "127.0.0.1:4000".parse().unwrap());
        assert_eq!(s.max_clients, 2);
        assert_eq!((s.pattern_size, s.pattern_fps), ((640, 480), 0));
        let Auth::Password {
            security,
            username,
            password,
            ..
        } = s.auth
        else {
            panic!()
        };
        assert_eq!(
            (security, username.as_str(), password.as_str()),
            (SecurityArg::Tls, "bob", "s3cret")
        );

        let s = Settings::resolve(
            &args(&["--config", c, "--listen", "127.0.0.1:5000", "--max-clients", "3"]),
            &env(),
        )
        .unwrap();
        assert_eq!(s.listen.port(), 5000);
        assert_eq!(s.max_clients, 3);
    }

    #[track_caller]
    fn check_error(argv: &[&str], file: Option<&str>, env: Env, expect: &str) {
        let dir = tempfile::tempdir().unwrap();
        let mut argv: Vec<String> = argv.iter().map(|s| (*s).to_owned()).collect();
        if let Some(contents) = file {
            let path = dir.path().join("config.toml");
            fs::write(&path, contents).unwrap();
            argv.extend(["--config".to_owned(), path.to_str().unwrap().to_owned()]);
        }
        let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
        let e = Settings::resolve(&args(&argv), &env).unwrap_err().to_string();
        assert!(e.contains(expect), "`{e}` does not contain `{expect}`");
        assert!(!e.contains('\n'), "one line: {e}");
    }

    #[test]
    fn errors_name_the_key_or_file() {
        check_error(
            &[],
            Some("listen = \"127.0.0.1:1\"\nmax_client = 3\n"),
            env(),
            "line 2: unknown field `max_client`",
        );
        check_error(
            &[],
            Some("[auth]\npasword_file = \"x\"\n"),
            env(),
            "unknown field `pasword_file`",
        );
        check_error(&["--listen", "localhost"], None, env(), "listen: `localhost`");
        check_error(
            &["--password-file", "/nonexistent/pw"],
            None,
            env(),
            "password file /nonexistent/pw",
        );
        check_error(
            &["--cert", "/nonexistent/c.pem", "--key", "/nonexistent/k.pem"],
            None,
            env(),
            "tls.cert: certificate file /nonexistent/c.pem",
        );
        check_error(
            &["--config", "/nonexistent/c.toml"],
            None,
            env(),
            "config file /nonexistent/c.toml",
        );
        check_error(
            &[],
            None,
            Env {
                password: None,
                ..env()
            },
            "no credentials",
        );
        check_error(&["--no-auth"], None, env(), "no_auth: refusing");
        check_error(&["--max-clients", "0"], None, env(), "max_clients: 0");
        check_error(&["--size", "10x10"], None, env(), "size: `10x10`");
        check_error(&["--max-fps", "0"], None, env(), "max_fps: 0");
    }

    #[test]
    fn no_auth_on_loopback_is_allowed() {
        let s = Settings::resolve(
            &args(&["--no-auth", "--listen", "127.0.0.1:3389"]),
            &Env {
                password: None,
                ..env()
            },
        )
        .unwrap();
        assert_eq!(s.auth, Auth::None);
        let s = Settings::resolve(&args(&["--no-auth", "--listen", "[::1]:3389"]), &env()).unwrap();
        assert_eq!(s.auth, Auth::None);
    }
}
