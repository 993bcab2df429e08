//! The portal's restore token, kept between runs so that a restarted server is not asked for
//! consent again. It is a capability: stored with mode 0600, never logged.

use std::io;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};

use tracing::debug;

#[derive(Debug, Clone)]
pub struct RestoreTokenStore {
    path: PathBuf,
}

impl RestoreTokenStore {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into() }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The stored token, if there is a readable, non-empty one.
    pub async fn load(&self) -> Option<String> {
        match tokio::fs::read_to_string(&self.path).await {
            Ok(text) => {
                let token = text.trim();
                (!token.is_empty()).then(|| token.to_owned())
            }
            Err(e) => {
                if e.kind() != io::ErrorKind::NotFound {
                    debug!(path = %self.path.display(), error = %e, "restore token unreadable");
                }
                None
            }
        }
    }

    /// Replaces the stored token (written to a 0600 temporary file, then renamed).
    pub async fn store(&self, token: &str) -> io::Result<()> {
        let path = self.path.clone();
        let token = token.to_owned();
        tokio::task::spawn_blocking(move || {
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)?;
            }
            let tmp = path.with_extension("tmp");
            let mut file = std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(0o600)
                .open(&tmp)?;
            io::Write::write_all(&mut file, token.as_bytes())?;
            file.sync_all()?;
            std::fs::rename(&tmp, &path)
        })
        .await
        .map_err(io::Error::other)?
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt as _;

    use super::*;

    #[tokio::test]
    async fn round_trip_with_private_mode() {
        let dir = tempfile::tempdir().unwrap();
        let store = RestoreTokenStore::new(dir.path().join("state/portal-restore-token"));
        assert_eq!(store.load().await, None);
        store.store("abc-123").await.unwrap();
        assert_eq!(store.load().await.as_deref(), Some("abc-123"));
        let mode = std::fs::metadata(store.path()).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        store.store("def").await.unwrap();
        assert_eq!(store.load().await.as_deref(), Some("def"));
    }

    #[tokio::test]
    async fn empty_file_is_no_token() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t");
        std::fs::write(&path, "\n").unwrap();
        assert_eq!(RestoreTokenStore::new(path).load().await, None);
    }
}
