//! The server's TLS identity: a certificate the operator provides, or a self-signed one that
//! is generated on first run and reused afterwards (so clients can pin it).

use std::fs;
use std::io::Write as _;
use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use ironrdp_server::TlsIdentityCtx;
use ironrdp_server::tokio_rustls::TlsAcceptor;
use sha2::{Digest as _, Sha256};
use tracing::info;

pub const GENERATED_CERT_FILE: &str = "tls-cert.pem";
pub const GENERATED_KEY_FILE: &str = "tls-key.pem";

/// Everything the RDP layer needs from a certificate: the acceptor for the TLS handshake and
/// the public key CredSSP binds the authentication to.
#[derive(Clone)]
pub struct TlsIdentity {
    pub acceptor: TlsAcceptor,
    /// SubjectPublicKeyInfo's key bits; CredSSP's `pubKeyAuth` is computed over these.
    pub public_key: Vec<u8>,
    /// SHA-256 of the DER certificate, as `AA:BB:...`: what a user compares in the client's
    /// certificate prompt.
    pub fingerprint: String,
    pub cert_path: PathBuf,
}

impl std::fmt::Debug for TlsIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsIdentity")
            .field("fingerprint", &self.fingerprint)
            .field("cert_path", &self.cert_path)
            .finish_non_exhaustive()
    }
}

impl TlsIdentity {
    /// Loads an operator-provided certificate chain and private key (PEM, or DER when the
    /// file name does not end in `.pem`).
    pub fn load(cert_path: &Path, key_path: &Path) -> anyhow::Result<Self> {
        let ctx = TlsIdentityCtx::init_from_paths(cert_path, key_path).with_context(|| {
            format!(
                "loading TLS certificate {} and key {}",
                cert_path.display(),
                key_path.display()
            )
        })?;
        let acceptor = ctx.make_acceptor().context("building the TLS acceptor")?;
        let leaf = ctx
            .certs
            .first()
            .context("the certificate file holds no certificate")?;
        Ok(Self {
            acceptor,
            public_key: ctx.pub_key.clone(),
            fingerprint: fingerprint(leaf.as_ref()),
            cert_path: cert_path.to_owned(),
        })
    }

    /// Reuses the self-signed certificate kept in `state_dir`, or generates one there first
    /// (files mode 0600, directory 0700).
    pub fn load_or_generate(state_dir: &Path) -> anyhow::Result<Self> {
        let cert_path = state_dir.join(GENERATED_CERT_FILE);
        let key_path = state_dir.join(GENERATED_KEY_FILE);
        if !(cert_path.exists() && key_path.exists()) {
            generate_self_signed(state_dir, &cert_path, &key_path)?;
            info!(cert = %cert_path.display(), "generated a self-signed TLS certificate");
        }
        Self::load(&cert_path, &key_path)
    }
}

fn generate_self_signed(state_dir: &Path, cert_path: &Path, key_path: &Path) -> anyhow::Result<()> {
    fs::create_dir_all(state_dir).with_context(|| format!("creating {}", state_dir.display()))?;
    fs::set_permissions(state_dir, fs::Permissions::from_mode(0o700))
        .with_context(|| format!("restricting {} to its owner", state_dir.display()))?;

    let mut names = vec!["localhost".to_owned()];
    if let Some(host) = hostname() {
        names.insert(0, host);
    }
    let certified =
        rcgen::generate_simple_self_signed(names).context("generating a self-signed certificate")?;
    write_private(key_path, certified.signing_key.serialize_pem().as_bytes())?;
    write_private(cert_path, certified.cert.pem().as_bytes())?;
    Ok(())
}

/// Writes a file readable by its owner only, created with that mode so it is never briefly
/// world-readable.
fn write_private(path: &Path, contents: &[u8]) -> anyhow::Result<()> {
    let tmp = path.with_extension("tmp");
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .with_context(|| format!("creating {}", tmp.display()))?;
    file.write_all(contents)
        .with_context(|| format!("writing {}", tmp.display()))?;
    file.sync_all()
        .with_context(|| format!("writing {}", tmp.display()))?;
    fs::rename(&tmp, path).with_context(|| format!("moving {} into place", path.display()))?;
    Ok(())
}

fn hostname() -> Option<String> {
    let name = fs::read_to_string("/proc/sys/kernel/hostname").ok()?;
    let name = name.trim();
    (!name.is_empty()).then(|| name.to_owned())
}

pub fn fingerprint(der: &[u8]) -> String {
    let digest = Sha256::digest(der);
    let hex: Vec<String> = digest.iter().map(|b| format!("{b:02X}")).collect();
    hex.join(":")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generates_once_then_reuses_with_private_modes() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state");
        let first = TlsIdentity::load_or_generate(&state).unwrap();
        let second = TlsIdentity::load_or_generate(&state).unwrap();
        assert_eq!(first.fingerprint, second.fingerprint, "the certificate is reused");
        assert_eq!(first.fingerprint.len(), 32 * 3 - 1);
        for file in [GENERATED_CERT_FILE, GENERATED_KEY_FILE] {
            let mode = fs::metadata(state.join(file)).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{file}");
        }
        let mode = fs::metadata(&state).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700);
        assert!(!first.public_key.is_empty());
    }

    #[test]
    fn operator_certificate_files_are_used_as_given() {
        let dir = tempfile::tempdir().unwrap();
        let certified = rcgen::generate_simple_self_signed(vec!["rdp.example.test".to_owned()]).unwrap();
        let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
        fs::write(&cert, certified.cert.pem()).unwrap();
        fs::write(&key, certified.signing_key.serialize_pem()).unwrap();
        let identity = TlsIdentity::load(&cert, &key).unwrap();
        assert_eq!(identity.fingerprint, fingerprint(certified.cert.der()));
        assert_eq!(identity.cert_path, cert);
        // Nothing is generated in the state directory when files are given.
        assert!(!dir.path().join(GENERATED_CERT_FILE).exists());
    }

    #[test]
    fn missing_files_name_the_file() {
        let err =
            TlsIdentity::load(Path::new("/nonexistent/c.pem"), Path::new("/nonexistent/k.pem")).unwrap_err();
        assert!(format!("{err:#}").contains("/nonexistent/c.pem"), "{err:#}");
    }
}
