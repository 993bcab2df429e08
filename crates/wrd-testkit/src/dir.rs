//! Per-test temporary directory.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

/// Environment variable: parent folder for test directories (default: the system temp dir).
pub const TMPDIR_ENV: &str = "WRD_TEST_TMPDIR";
/// Environment variable: `1` keeps every test directory, not only those of failed tests.
pub const KEEP_ENV: &str = "WRD_KEEP_TEST_DIRS";

/// A per-test directory (a [`tempfile::TempDir`]) for logs, screenshots, certificates and
/// sockets. It is removed on drop, except when the test is failing (the thread is panicking)
/// or `WRD_KEEP_TEST_DIRS=1` is set: then it is kept and its path printed to stderr.
///
/// The directory is created with mode 0700 (only its owner, normally root in CI, can enter
/// it). A test that runs a program as another user must widen the permissions itself.
#[derive(Debug)]
pub struct TestDir {
    dir: Option<tempfile::TempDir>,
    path: PathBuf,
}

impl TestDir {
    /// Creates `wrd-<name>-XXXXXX` under `$WRD_TEST_TMPDIR` or the system temp dir.
    pub fn new(name: &str) -> Result<Self> {
        let parent = std::env::var_os(TMPDIR_ENV).map_or_else(std::env::temp_dir, PathBuf::from);
        std::fs::create_dir_all(&parent).with_context(|| format!("creating {}", parent.display()))?;
        let clean: String = name
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '_' {
                    c
                } else {
                    '-'
                }
            })
            .collect();
        let dir = tempfile::Builder::new()
            .prefix(&format!("wrd-{clean}-"))
            .tempdir_in(&parent)
            .with_context(|| format!("creating a test directory in {}", parent.display()))?;
        let path = dir.path().to_path_buf();
        Ok(Self { dir: Some(dir), path })
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// `self.path().join(rel)`.
    pub fn join(&self, rel: impl AsRef<Path>) -> PathBuf {
        self.path.join(rel)
    }

    /// Keeps the directory after drop; returns its path.
    pub fn keep(mut self) -> PathBuf {
        if let Some(dir) = self.dir.take() {
            // `keep` disarms the TempDir's own removal.
            let _ = dir.keep();
        }
        self.path.clone()
    }
}

impl Drop for TestDir {
    fn drop(&mut self) {
        let Some(dir) = self.dir.take() else { return };
        let keep_all = std::env::var(KEEP_ENV).is_ok_and(|v| v == "1");
        if std::thread::panicking() || keep_all {
            let path = dir.keep();
            eprintln!("wrd-testkit: kept test directory {}", path.display());
        }
        // otherwise dropping `dir` removes it
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn removed_on_drop_and_kept_on_request() {
        let d = TestDir::new("dir test/1").unwrap();
        let p = d.path().to_path_buf();
        assert!(
            p.file_name()
                .unwrap()
                .to_str()
                .unwrap()
                .starts_with("wrd-dir-test-1-")
        );
        std::fs::write(d.join("x"), b"1").unwrap();
        drop(d);
        assert!(!p.exists());

        let d = TestDir::new("kept").unwrap();
        let p = d.keep();
        assert!(p.is_dir());
        std::fs::remove_dir_all(&p).unwrap();
    }
}
