//! How xdg-desktop-portal picks the backend for an interface, and how xdg-desktop-portal-wlr
//! picks the screen: the files they read and their rules, as pure functions over file contents
//! (the I/O is in `probe`).
//!
//! - xdg-desktop-portal ≤ 1.16: the first installed `*.portal` file (sorted by name) whose
//!   `UseIn=` names a desktop of `XDG_CURRENT_DESKTOP` (case-insensitive) and whose
//!   `Interfaces=` has the interface; failing that, any installed backend that has it.
//! - ≥ 1.17: `portals.conf` (`DESKTOP-portals.conf` first) from the first config directory that
//!   has one: `[preferred]` names backends per interface or as `default` (`none`: disabled,
//!   `*`: any). Without a usable entry, `UseIn=` as above (deprecated), then the gtk backend.
//! - xdg-desktop-portal-wlr: `-c FILE`, else the first of `CONFIG/xdg-desktop-portal-wlr/DESKTOP`
//!   and `…/config` under `$XDG_CONFIG_HOME` (or `~/.config`), then `/etc/xdg`.

use std::path::{Path, PathBuf};

/// One `key=value` of a GLib key file or INI file, with its section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct KeyEntry {
    pub section: String,
    pub key: String,
    pub value: String,
}

/// Lines of a key file: `[section]`, `key = value`, comments (`#`, `;`) and blanks skipped.
pub(crate) fn parse_key_file(text: &str) -> Vec<KeyEntry> {
    let mut section = String::new();
    let mut entries = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            name.trim().clone_into(&mut section);
        } else if let Some((key, value)) = line.split_once('=') {
            entries.push(KeyEntry {
                section: section.clone(),
                key: key.trim().to_owned(),
                value: value.trim().to_owned(),
            });
        }
    }
    entries
}

fn string_list(value: &str) -> Vec<String> {
    value
        .split(';')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// An installed backend description (`/usr/share/xdg-desktop-portal/portals/NAME.portal`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortalFile {
    /// The file's stem (`wlr`, `gnome`, `gtk`): what portals.conf names.
    pub name: String,
    pub path: PathBuf,
    /// `DBusName=`, e.g. `org.freedesktop.impl.portal.desktop.wlr`.
    pub dbus_name: String,
    /// `Interfaces=` (`org.freedesktop.impl.portal.ScreenCast`, ...).
    pub interfaces: Vec<String>,
    /// `UseIn=` (desktops it volunteers for; deprecated since 1.17).
    pub use_in: Vec<String>,
}

impl PortalFile {
    pub(crate) fn parse(path: &Path, text: &str) -> Result<Self, String> {
        let name = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .ok_or("no file name")?;
        let entries = parse_key_file(text);
        let get = |key: &str| {
            entries
                .iter()
                .find(|e| e.section == "portal" && e.key == key)
                .map(|e| e.value.as_str())
        };
        let dbus_name = get("DBusName").ok_or("no DBusName= in [portal]")?.to_owned();
        let interfaces = string_list(get("Interfaces").ok_or("no Interfaces= in [portal]")?);
        Ok(Self {
            name,
            path: path.to_path_buf(),
            dbus_name,
            interfaces,
            use_in: get("UseIn").map(string_list).unwrap_or_default(),
        })
    }

    pub fn implements(&self, interface: &str) -> bool {
        self.interfaces.iter().any(|i| i == interface)
    }
}

/// A `portals.conf` that xdg-desktop-portal ≥ 1.17 would use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortalsConf {
    pub path: PathBuf,
    /// `[preferred]` entries in file order: interface (or `default`) → backend names.
    pub preferred: Vec<(String, Vec<String>)>,
}

impl PortalsConf {
    /// `None` when the file has no `[preferred]` entry (the portal skips such files).
    pub(crate) fn parse(path: &Path, text: &str) -> Option<Self> {
        let preferred: Vec<(String, Vec<String>)> = parse_key_file(text)
            .into_iter()
            .filter(|e| e.section == "preferred")
            .map(|e| (e.key, string_list(&e.value)))
            .collect();
        (!preferred.is_empty()).then(|| Self {
            path: path.to_path_buf(),
            preferred,
        })
    }

    fn entry(&self, key: &str) -> Option<&[String]> {
        self.preferred
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_slice())
    }
}

/// Which selection rules the running xdg-desktop-portal follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PortalGeneration {
    /// ≤ 1.16: `UseIn=` only, then any backend.
    UseIn,
    /// ≥ 1.17: portals.conf, then `UseIn=`, then the gtk backend.
    PortalsConf,
}

impl PortalGeneration {
    /// From a version such as `1.16.0` (unknown versions are taken as current).
    pub fn of_version(version: Option<&str>) -> Self {
        let parsed = version.and_then(|v| {
            let mut parts = v.split(['.', '-', '~']).map(str::parse::<u32>);
            Some((parts.next()?.ok()?, parts.next()?.ok()?))
        });
        match parsed {
            Some((major, minor)) if (major, minor) < (1, 17) => Self::UseIn,
            _ => Self::PortalsConf,
        }
    }
}

/// Why a backend was (or was not) chosen for an interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BackendChoice {
    /// `portals.conf` named it.
    Config {
        backend: String,
        file: PathBuf,
        key: String,
    },
    /// Its `UseIn=` names a desktop of `XDG_CURRENT_DESKTOP`.
    UseIn { backend: String, desktop: String },
    /// Nothing matched this desktop; the portal falls back to it.
    Fallback { backend: String },
    /// `portals.conf` says `none` for this interface.
    DisabledByConfig { file: PathBuf },
    /// No installed backend implements the interface (or none was allowed).
    Nothing,
}

impl BackendChoice {
    pub fn backend(&self) -> Option<&str> {
        match self {
            Self::Config { backend, .. } | Self::UseIn { backend, .. } | Self::Fallback { backend } => {
                Some(backend)
            }
            Self::DisabledByConfig { .. } | Self::Nothing => None,
        }
    }
}

/// The portal's own rules for `interface` (e.g. `org.freedesktop.impl.portal.ScreenCast`).
/// `portals` is the installed set in any order; `desktops` is `XDG_CURRENT_DESKTOP` split.
pub fn select_backend(
    interface: &str,
    generation: PortalGeneration,
    desktops: &[String],
    portals: &[PortalFile],
    config: Option<&PortalsConf>,
) -> BackendChoice {
    let mut sorted: Vec<&PortalFile> = portals.iter().collect();
    // The portal's order: backends whose UseIn= names the first desktop that tells them apart
    // come first, then by file name. It decides `*` and the last-resort fallbacks.
    let uses = |p: &PortalFile, d: &str| p.use_in.iter().any(|u| u.eq_ignore_ascii_case(d));
    sorted.sort_by(|a, b| {
        for d in desktops {
            match (uses(a, d), uses(b, d)) {
                (true, false) => return std::cmp::Ordering::Less,
                (false, true) => return std::cmp::Ordering::Greater,
                (true, true) => break,
                (false, false) => {}
            }
        }
        a.name.cmp(&b.name)
    });
    let by_name = |name: &str| sorted.iter().copied().find(|p| p.name == name);
    let any_with = || sorted.iter().copied().find(|p| p.implements(interface));

    if generation == PortalGeneration::PortalsConf
        && let Some(conf) = config
    {
        let own = conf.entry(interface);
        let default = conf.entry("default");
        let governing = own.or(default);
        if governing.is_some_and(|names| names.iter().any(|n| n == "none")) {
            return BackendChoice::DisabledByConfig {
                file: conf.path.clone(),
            };
        }
        for (key, names) in [(interface, own), ("default", default)] {
            for name in names.unwrap_or_default() {
                let found = if name == "*" {
                    any_with()
                } else {
                    by_name(name).filter(|p| p.implements(interface))
                };
                if let Some(p) = found {
                    return BackendChoice::Config {
                        backend: p.name.clone(),
                        file: conf.path.clone(),
                        key: key.to_owned(),
                    };
                }
            }
        }
    }

    for desktop in desktops {
        if let Some(p) = sorted
            .iter()
            .find(|p| p.implements(interface) && uses(p, desktop))
        {
            return BackendChoice::UseIn {
                backend: p.name.clone(),
                desktop: desktop.clone(),
            };
        }
    }

    let fallback = match generation {
        PortalGeneration::UseIn => any_with(),
        PortalGeneration::PortalsConf => sorted
            .iter()
            .copied()
            .find(|p| p.dbus_name == "org.freedesktop.impl.portal.desktop.gtk" && p.implements(interface)),
    };
    match fallback {
        Some(p) => BackendChoice::Fallback {
            backend: p.name.clone(),
        },
        None => BackendChoice::Nothing,
    }
}

/// `XDG_CURRENT_DESKTOP` as the portal reads it: colon-separated, lower-cased, names made only
/// of letters, digits, `-` and `_` (others are ignored).
pub fn current_desktops(value: &str) -> Vec<String> {
    value
        .split(':')
        .filter(|d| {
            !d.is_empty()
                && d.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        })
        .map(str::to_ascii_lowercase)
        .collect()
}

/// Where xdg-desktop-portal ≥ 1.17 looks for portals.conf, in order. `var` reads the portal's
/// environment; `prefix` is its install prefix (`/usr`).
pub(crate) fn portals_conf_dirs(var: &dyn Fn(&str) -> Option<String>, prefix: &Path) -> Vec<PathBuf> {
    let home = var("HOME").map(PathBuf::from);
    let base = |name: &str, fallback: &str| {
        var(name)
            .map(PathBuf::from)
            .or_else(|| home.as_ref().map(|h| h.join(fallback)))
    };
    let list = |name: &str, default: &str| -> Vec<PathBuf> {
        var(name)
            .unwrap_or_else(|| default.to_owned())
            .split(':')
            .filter(|d| !d.is_empty())
            .map(PathBuf::from)
            .collect()
    };
    let sysconf = if prefix == Path::new("/usr") {
        PathBuf::from("/etc")
    } else {
        prefix.join("etc")
    };
    let mut dirs = Vec::new();
    dirs.extend(base("XDG_CONFIG_HOME", ".config"));
    dirs.extend(list("XDG_CONFIG_DIRS", "/etc/xdg"));
    dirs.push(sysconf);
    dirs.extend(base("XDG_DATA_HOME", ".local/share"));
    dirs.extend(list("XDG_DATA_DIRS", "/usr/local/share:/usr/share"));
    dirs.push(prefix.join("share"));
    dirs.into_iter().map(|d| d.join("xdg-desktop-portal")).collect()
}

/// The file names looked for in each portals.conf directory, in order.
pub(crate) fn portals_conf_names(desktops: &[String]) -> Vec<String> {
    desktops
        .iter()
        .map(|d| format!("{d}-portals.conf"))
        .chain(std::iter::once("portals.conf".to_owned()))
        .collect()
}

/// xdg-desktop-portal-wlr's screen-cast settings that decide whether anyone is asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WlrConfig {
    /// The file read, or `None`: built-in defaults.
    pub path: Option<PathBuf>,
    /// `none`, `simple`, `dmenu` or `default` (the default).
    pub chooser_type: String,
    pub chooser_cmd: Option<String>,
    /// The output cast with `chooser_type=none` (else the first one).
    pub output_name: Option<String>,
}

impl WlrConfig {
    pub(crate) fn defaults() -> Self {
        Self {
            path: None,
            chooser_type: "default".to_owned(),
            chooser_cmd: None,
            output_name: None,
        }
    }

    pub(crate) fn parse(path: &Path, text: &str) -> Self {
        let mut config = Self::defaults();
        config.path = Some(path.to_path_buf());
        for e in parse_key_file(text) {
            if e.section != "screencast" || e.value.is_empty() {
                continue;
            }
            match e.key.as_str() {
                "chooser_type" => config.chooser_type = e.value,
                "chooser_cmd" => config.chooser_cmd = Some(e.value),
                "output_name" => config.output_name = Some(e.value),
                _ => {}
            }
        }
        config
    }
}

/// The programs xdg-desktop-portal-wlr tries, in order, with `chooser_type=default`; with none
/// of them installed it casts the first output without asking.
pub const WLR_DEFAULT_CHOOSERS: [&str; 5] = ["slurp", "wmenu", "wofi", "rofi", "bemenu"];

/// Where xdg-desktop-portal-wlr looks for its config, in order (without `-c`).
pub(crate) fn wlr_config_candidates(var: &dyn Fn(&str) -> Option<String>) -> Vec<PathBuf> {
    let config_home = var("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .or_else(|| var("HOME").map(|h| Path::new(&h).join(".config")));
    let names: Vec<String> = var("XDG_CURRENT_DESKTOP")
        .unwrap_or_default()
        .split(':')
        .filter(|d| !d.is_empty())
        .map(str::to_owned)
        .chain(std::iter::once("config".to_owned()))
        .collect();
    config_home
        .into_iter()
        .chain(std::iter::once(PathBuf::from("/etc/xdg")))
        .flat_map(|prefix| {
            names
                .iter()
                .map(move |n| prefix.join("xdg-desktop-portal-wlr").join(n))
                .collect::<Vec<_>>()
        })
        .collect()
}

/// `-c FILE`, `--config FILE` or `--config=FILE` in a command line.
pub(crate) fn config_from_args(args: &[String]) -> Option<PathBuf> {
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        if arg == "-c" || arg == "--config" {
            return iter.next().map(PathBuf::from);
        }
        if let Some(path) = arg.strip_prefix("--config=") {
            return Some(PathBuf::from(path));
        }
        if let Some(path) = arg.strip_prefix("-c")
            && !path.is_empty()
        {
            return Some(PathBuf::from(path));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const SCREENCAST: &str = "org.freedesktop.impl.portal.ScreenCast";
    const REMOTE: &str = "org.freedesktop.impl.portal.RemoteDesktop";

    fn portal(name: &str, interfaces: &str, use_in: &str) -> PortalFile {
        let text = format!(
            "[portal]\nDBusName=org.freedesktop.impl.portal.desktop.{name}\nInterfaces={interfaces}\nUseIn={use_in}\n"
        );
        PortalFile::parse(
            Path::new(&format!("/usr/share/xdg-desktop-portal/portals/{name}.portal")),
            &text,
        )
        .unwrap()
    }

    fn installed() -> Vec<PortalFile> {
        vec![
            portal(
                "wlr",
                "org.freedesktop.impl.portal.Screenshot;org.freedesktop.impl.portal.ScreenCast;",
                "wlroots;sway;Wayfire;river;phosh;Hyprland;",
            ),
            portal(
                "gnome",
                "org.freedesktop.impl.portal.ScreenCast;org.freedesktop.impl.portal.RemoteDesktop;",
                "gnome",
            ),
            portal("gtk", "org.freedesktop.impl.portal.FileChooser;", "gnome;"),
        ]
    }

    fn conf(text: &str) -> PortalsConf {
        PortalsConf::parse(Path::new("/etc/xdg/xdg-desktop-portal/portals.conf"), text).unwrap()
    }

    #[track_caller]
    fn check(
        interface: &str,
        generation: PortalGeneration,
        desktop: &str,
        config: Option<&str>,
        expected: &str,
    ) {
        let config = config.map(conf);
        let choice = select_backend(
            interface,
            generation,
            &current_desktops(desktop),
            &installed(),
            config.as_ref(),
        );
        let shown = match &choice {
            BackendChoice::Config { backend, key, .. } => format!("config {key}={backend}"),
            BackendChoice::UseIn { backend, desktop } => format!("usein {desktop}={backend}"),
            BackendChoice::Fallback { backend } => format!("fallback {backend}"),
            BackendChoice::DisabledByConfig { .. } => "disabled".to_owned(),
            BackendChoice::Nothing => "nothing".to_owned(),
        };
        assert_eq!(shown, expected);
    }

    #[test]
    fn backend_selection_follows_the_portals_rules() {
        use PortalGeneration::{PortalsConf as Conf, UseIn};
        // 1.16 (bookworm): UseIn= against XDG_CURRENT_DESKTOP, case-insensitive; first desktop wins
        check(SCREENCAST, UseIn, "sway", None, "usein sway=wlr");
        check(SCREENCAST, UseIn, "GNOME", None, "usein gnome=gnome");
        check(SCREENCAST, UseIn, "ubuntu:GNOME", None, "usein gnome=gnome");
        check(SCREENCAST, UseIn, "Hyprland", None, "usein hyprland=wlr");
        // 1.16 falls back to any backend with the interface (sorted by name: gnome before wlr)
        check(SCREENCAST, UseIn, "xfce", None, "fallback gnome");
        check(REMOTE, UseIn, "sway", None, "fallback gnome");
        check(
            "org.freedesktop.impl.portal.Clipboard",
            UseIn,
            "sway",
            None,
            "nothing",
        );
        // 1.16 ignores portals.conf
        check(
            SCREENCAST,
            UseIn,
            "sway",
            Some("[preferred]\ndefault=gnome\n"),
            "usein sway=wlr",
        );
        // ≥ 1.17: portals.conf first, interface entries before default, skipping backends
        // that lack the interface
        check(
            SCREENCAST,
            Conf,
            "sway",
            Some("[preferred]\ndefault=gnome\n"),
            "config default=gnome",
        );
        check(
            SCREENCAST,
            Conf,
            "gnome",
            Some("[preferred]\ndefault=gnome\norg.freedesktop.impl.portal.ScreenCast=wlr\n"),
            "config org.freedesktop.impl.portal.ScreenCast=wlr",
        );
        check(
            SCREENCAST,
            Conf,
            "sway",
            Some("[preferred]\ndefault=gtk;wlr\n"),
            "config default=wlr",
        );
        check(
            SCREENCAST,
            Conf,
            "sway",
            Some("[preferred]\ndefault=*\n"),
            "config default=wlr",
        );
        check(
            SCREENCAST,
            Conf,
            "xfce",
            Some("[preferred]\ndefault=*\n"),
            "config default=gnome",
        );
        check(
            SCREENCAST,
            Conf,
            "sway",
            Some("[preferred]\ndefault=none\n"),
            "disabled",
        );
        check(
            SCREENCAST,
            Conf,
            "sway",
            Some("[preferred]\ndefault=wlr\norg.freedesktop.impl.portal.ScreenCast=none\n"),
            "disabled",
        );
        // ≥ 1.17 without a usable entry: UseIn=, then only the gtk backend (never "any")
        check(
            SCREENCAST,
            Conf,
            "sway",
            Some("[preferred]\ndefault=kde\n"),
            "usein sway=wlr",
        );
        check(SCREENCAST, Conf, "sway", None, "usein sway=wlr");
        check(REMOTE, Conf, "sway", None, "nothing");
        check(
            "org.freedesktop.impl.portal.FileChooser",
            Conf,
            "xfce",
            None,
            "fallback gtk",
        );
    }

    #[test]
    fn versions_map_to_generations() {
        for (version, expected) in [
            (Some("1.16.0"), PortalGeneration::UseIn),
            (Some("1.14.6-1"), PortalGeneration::UseIn),
            (Some("1.17.0"), PortalGeneration::PortalsConf),
            (Some("1.18.4"), PortalGeneration::PortalsConf),
            (Some("2.0"), PortalGeneration::PortalsConf),
            (None, PortalGeneration::PortalsConf),
        ] {
            assert_eq!(PortalGeneration::of_version(version), expected, "{version:?}");
        }
    }

    #[test]
    fn key_files_are_read_like_glib_and_inih_do() {
        let text = "# comment\n[portal]\nDBusName = org.freedesktop.impl.portal.desktop.x\n; other\n\n\
                    Interfaces=a.b.C;d.e.F\n[other]\nDBusName=ignored\n";
        let p = PortalFile::parse(Path::new("/p/x.portal"), text).unwrap();
        assert_eq!(p.name, "x");
        assert_eq!(p.dbus_name, "org.freedesktop.impl.portal.desktop.x");
        assert_eq!(p.interfaces, ["a.b.C", "d.e.F"]);
        assert!(p.use_in.is_empty());
        assert!(PortalFile::parse(Path::new("/p/y.portal"), "[portal]\nInterfaces=a\n").is_err());
        assert_eq!(
            PortalsConf::parse(Path::new("/c"), "[other]\ndefault=gnome\n"),
            None,
            "a file without [preferred] is skipped"
        );
    }

    #[test]
    fn desktops_are_split_lowercased_and_validated() {
        assert_eq!(current_desktops("ubuntu:GNOME"), ["ubuntu", "gnome"]);
        assert_eq!(current_desktops("sway"), ["sway"]);
        assert_eq!(current_desktops("bad/name:KDE"), ["kde"]);
        assert!(current_desktops("").is_empty());
    }

    #[test]
    fn portals_conf_is_searched_where_the_portal_searches() {
        let env = |name: &str| match name {
            "HOME" => Some("/home/u".to_owned()),
            "XDG_CONFIG_HOME" => Some("/cfg".to_owned()),
            _ => None,
        };
        let dirs = portals_conf_dirs(&env, Path::new("/usr"));
        let shown: Vec<String> = dirs.iter().map(|d| d.display().to_string()).collect();
        assert_eq!(
            shown,
            [
                "/cfg/xdg-desktop-portal",
                "/etc/xdg/xdg-desktop-portal",
                "/etc/xdg-desktop-portal",
                "/home/u/.local/share/xdg-desktop-portal",
                "/usr/local/share/xdg-desktop-portal",
                "/usr/share/xdg-desktop-portal",
                "/usr/share/xdg-desktop-portal",
            ]
        );
        assert_eq!(
            portals_conf_names(&current_desktops("ubuntu:GNOME")),
            ["ubuntu-portals.conf", "gnome-portals.conf", "portals.conf"]
        );
    }

    #[test]
    fn wlr_config_is_found_and_read_like_xdpw_does() {
        let env = |name: &str| match name {
            "HOME" => Some("/home/u".to_owned()),
            "XDG_CURRENT_DESKTOP" => Some("sway".to_owned()),
            _ => None,
        };
        let shown: Vec<String> = wlr_config_candidates(&env)
            .iter()
            .map(|d| d.display().to_string())
            .collect();
        assert_eq!(
            shown,
            [
                "/home/u/.config/xdg-desktop-portal-wlr/sway",
                "/home/u/.config/xdg-desktop-portal-wlr/config",
                "/etc/xdg/xdg-desktop-portal-wlr/sway",
                "/etc/xdg/xdg-desktop-portal-wlr/config",
            ]
        );

        let config = WlrConfig::parse(
            Path::new("/c"),
            "[screencast]\noutput_name=HEADLESS-1\nchooser_type=none\nmax_fps=60\n",
        );
        assert_eq!(config.chooser_type, "none");
        assert_eq!(config.output_name.as_deref(), Some("HEADLESS-1"));
        let config = WlrConfig::parse(
            Path::new("/c"),
            "[screencast]\nchooser_type = simple\nchooser_cmd = slurp -f %o -or\n",
        );
        assert_eq!(config.chooser_type, "simple");
        assert_eq!(config.chooser_cmd.as_deref(), Some("slurp -f %o -or"));
        let config = WlrConfig::parse(Path::new("/c"), "[other]\nchooser_type=none\n");
        assert_eq!(config.chooser_type, "default");

        let args = |a: &[&str]| a.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        for (argv, expected) in [
            (
                args(&["xdpw", "-l", "INFO", "-c", "/s/config"]),
                Some("/s/config"),
            ),
            (args(&["xdpw", "--config=/s/c2"]), Some("/s/c2")),
            (args(&["xdpw", "--config", "/s/c3"]), Some("/s/c3")),
            (args(&["xdpw", "-c/s/c4"]), Some("/s/c4")),
            (args(&["xdpw", "-r"]), None),
        ] {
            assert_eq!(
                config_from_args(&argv[1..]),
                expected.map(PathBuf::from),
                "{argv:?}"
            );
        }
    }
}
