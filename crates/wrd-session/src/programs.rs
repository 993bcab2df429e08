//! The programs a session needs, and the Debian packages that bring them.

use std::path::{Path, PathBuf};

use crate::Compositor;

/// xdg-desktop-portal-wlr with the shared-memory fallback (scripts/build-xdpw-shm.sh): the
/// stock 0.7 fails every screen cast without a GPU.
pub const XDPW_SHM: &str = "/opt/xdpw-shm/libexec/xdg-desktop-portal-wlr";
const XDPW_STOCK: &str = "/usr/libexec/xdg-desktop-portal-wlr";
pub(crate) const XDP: &str = "/usr/libexec/xdg-desktop-portal";
/// The portal backend description xdg-desktop-portal reads for -wlr.
pub(crate) const WLR_PORTAL_FILE: &str = "/usr/share/xdg-desktop-portal/portals/wlr.portal";

/// A program and the Debian package that installs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Program {
    pub name: &'static str,
    pub package: &'static str,
}

const fn p(name: &'static str, package: &'static str) -> Program {
    Program { name, package }
}

const COMMON: [Program; 5] = [
    p("dbus-daemon", "dbus-daemon"),
    // Asks the session bus whether a service is up (the session waits for Mutter and the portal).
    p("dbus-send", "dbus-bin"),
    p("pipewire", "pipewire-bin"),
    p("wireplumber", "wireplumber"),
    p("foot", "foot"),
];
const GNOME: [Program; 1] = [p("mutter", "mutter")];
const SWAY: [Program; 3] = [
    p("sway", "sway"),
    p(XDP, "xdg-desktop-portal"),
    p(XDPW_STOCK, "xdg-desktop-portal-wlr"),
];

/// What `compositor`'s session runs (the default terminal included: `--exec` replaces it, but
/// a desktop without it is the odd case).
pub fn required(compositor: Compositor) -> Vec<Program> {
    let own: &[Program] = match compositor {
        Compositor::Gnome => &GNOME,
        Compositor::Sway => &SWAY,
    };
    COMMON.iter().chain(own).copied().collect()
}

/// The programs of `required` that are not installed, looked up in `path` (`PATH`'s value).
pub fn missing(compositor: Compositor, path: &str) -> Vec<Program> {
    required(compositor)
        .into_iter()
        .filter(|p| find(p.name, path).is_none())
        .collect()
}

/// `name` if it is a path, else the first executable `name` in `path`.
pub fn find(name: &str, path: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt as _;
    let executable =
        |p: &Path| std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0);
    if name.contains('/') {
        let p = PathBuf::from(name);
        return executable(&p).then_some(p);
    }
    std::env::split_paths(path)
        .map(|dir| dir.join(name))
        .find(|p| executable(p))
}

/// The -wlr backend to run: the shared-memory build when present.
pub(crate) fn xdpw() -> &'static str {
    if Path::new(XDPW_SHM).exists() {
        XDPW_SHM
    } else {
        tracing::warn!(
            "{XDPW_SHM} is missing (scripts/build-xdpw-shm.sh builds it): the stock xdg-desktop-portal-wlr fails screen casts on machines without a GPU"
        );
        XDPW_STOCK
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn nothing_is_found_on_an_empty_path_and_packages_are_named() {
        let missing = missing(Compositor::Gnome, "/nonexistent");
        let names: Vec<_> = missing.iter().map(|p| p.name).collect();
        assert!(
            names.contains(&"mutter") && names.contains(&"dbus-daemon"),
            "{names:?}"
        );
        assert!(missing.iter().any(|p| p.package == "pipewire-bin"));
        // Absolute paths are checked where they are, whatever PATH says.
        assert!(find("/bin/sh", "/nonexistent").is_some());
        assert!(find("sh", "/bin:/usr/bin").is_some());
    }
}
