//! Who the session runs as, and dropping root to that user for the whole process.

use std::ffi::{CStr, CString};
use std::path::PathBuf;

use crate::SessionError;

/// A user account from the password database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionUser {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
    pub home: PathBuf,
    pub shell: PathBuf,
}

/// Big enough for any passwd entry glibc returns (its own default is 1024).
const PASSWD_BUFFER: usize = 16 * 1024;

impl SessionUser {
    /// The account called `name`.
    pub fn lookup(name: &str) -> Result<Self, SessionError> {
        let cname = CString::new(name).map_err(|_| SessionError::NoSuchUser(name.to_owned()))?;
        passwd_entry(|pwd, buf, result| {
            // SAFETY: every pointer is valid for the call: `cname` is NUL-terminated, `pwd`
            // and `result` point to locals, `buf` is a live buffer of the length passed.
            unsafe { libc::getpwnam_r(cname.as_ptr(), pwd, buf.as_mut_ptr(), buf.len(), result) }
        })?
        .ok_or_else(|| SessionError::NoSuchUser(name.to_owned()))
    }

    /// The account of the effective user running this process.
    pub fn current() -> Result<Self, SessionError> {
        let uid = effective_uid();
        passwd_entry(|pwd, buf, result| {
            // SAFETY: as in `lookup`.
            unsafe { libc::getpwuid_r(uid, pwd, buf.as_mut_ptr(), buf.len(), result) }
        })?
        .ok_or_else(|| SessionError::NoSuchUser(format!("uid {uid}")))
    }

    pub fn is_root(&self) -> bool {
        self.uid == 0
    }
}

/// The effective uid of this process.
pub fn effective_uid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

fn passwd_entry(
    call: impl FnOnce(&mut libc::passwd, &mut [libc::c_char], &mut *mut libc::passwd) -> libc::c_int,
) -> Result<Option<SessionUser>, SessionError> {
    // SAFETY: `passwd` is plain C data (integers and pointers); all-zero is a valid value.
    let mut pwd: libc::passwd = unsafe { std::mem::zeroed() };
    let mut buf: Vec<libc::c_char> = vec![0; PASSWD_BUFFER];
    let mut result: *mut libc::passwd = std::ptr::null_mut();
    let rc = call(&mut pwd, &mut buf, &mut result);
    if rc != 0 {
        return Err(SessionError::System {
            what: "reading the password database".into(),
            source: std::io::Error::from_raw_os_error(rc),
        });
    }
    if result.is_null() {
        return Ok(None);
    }
    let text = |p: *const libc::c_char| {
        if p.is_null() {
            String::new()
        } else {
            // SAFETY: on success the entry's strings are NUL-terminated and live in `buf`,
            // which outlives this closure.
            unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
        }
    };
    let shell = text(pwd.pw_shell);
    Ok(Some(SessionUser {
        name: text(pwd.pw_name),
        uid: pwd.pw_uid,
        gid: pwd.pw_gid,
        home: PathBuf::from(text(pwd.pw_dir)),
        shell: PathBuf::from(if shell.is_empty() {
            "/bin/sh".to_owned()
        } else {
            shell
        }),
    }))
}

/// Turns this root process into `user` for good: supplementary groups, group, then user (in
/// that order: once the uid is dropped the others cannot be changed). Call it before any thread
/// is started: the ids are per thread at the kernel level and glibc only syncs threads it knows.
/// Verifies that root cannot be regained.
pub fn drop_privileges(user: &SessionUser) -> Result<(), SessionError> {
    let sys = |what: &str| SessionError::System {
        what: format!("{what} (dropping root to user {})", user.name),
        source: std::io::Error::last_os_error(),
    };
    let cname = CString::new(user.name.as_str()).map_err(|_| SessionError::NoSuchUser(user.name.clone()))?;
    // SAFETY: `cname` is NUL-terminated; initgroups reads the group database.
    if unsafe { libc::initgroups(cname.as_ptr(), user.gid) } != 0 {
        return Err(sys("initgroups"));
    }
    // SAFETY: plain system calls on ids.
    if unsafe { libc::setgid(user.gid) } != 0 {
        return Err(sys("setgid"));
    }
    // SAFETY: as above.
    if unsafe { libc::setuid(user.uid) } != 0 {
        return Err(sys("setuid"));
    }
    // SAFETY: as above; this must fail now.
    if user.uid != 0 && unsafe { libc::setuid(0) } == 0 {
        return Err(SessionError::System {
            what: format!("root could be regained after dropping to user {}", user.name),
            source: std::io::Error::from(std::io::ErrorKind::PermissionDenied),
        });
    }
    // The id change made the process non-dumpable: its /proc entries stay root's, and
    // xdg-desktop-portal, which identifies its callers through /proc/PID/root, refuses us
    // ("Unable to open /proc/PID/root"). Nothing of root's is left to protect: what we read as
    // root is the session's password, which guards this user's own session.
    // SAFETY: prctl with integer arguments only.
    if unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 1) } != 0 {
        return Err(sys("prctl(PR_SET_DUMPABLE)"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn root_is_in_every_password_database() {
        let root = SessionUser::lookup("root").unwrap();
        assert_eq!(root.uid, 0);
        assert!(root.is_root());
        assert_eq!(SessionUser::current().unwrap().uid, effective_uid());
    }

    #[test]
    fn an_unknown_user_is_named_in_the_error() {
        let e = SessionUser::lookup("no-such-user-wrd").unwrap_err();
        assert!(e.to_string().contains("no-such-user-wrd"), "{e}");
    }
}
