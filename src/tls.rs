//! HTTPS without a proxy in front, and certificates for a chain that has none yet.
//!
//! - [`server_config`]: the certificate chain and key of `[server.tls]` (PEM files) as a
//!   rustls configuration offering TLS 1.2 and 1.3 only, with aws-lc-rs's cipher suites
//!   (every one of them forward-secret AEAD: what Mozilla's "intermediate" profile allows).
//!   Behind HAProxy the instances leave it unset: HAProxy ends TLS (ADR 0025).
//! - [`self_signed`]: `magasin tls self-signed --dir DIR`, the certificate a local cluster
//!   or a compose chain uses when it is given none: a small CA, and a server certificate it
//!   signed for localhost, 127.0.0.1, ::1 and the names asked. The CA's private key is
//!   never written: it signs this one certificate and is gone, so a client that trusts
//!   `ca.pem` trusts that certificate and nothing else.
//!
//! The one thing not to break: an existing `haproxy.pem` is never replaced. A deployment
//! restarted keeps its certificate, and the clients that trust its CA keep working.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::net::IpAddr;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use rustls::ServerConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use time::{Duration, OffsetDateTime};

/// The CA certificate clients trust.
pub const CA_FILE: &str = "ca.pem";
/// The server's certificate, then the CA's: the chain a server sends.
pub const CERT_FILE: &str = "cert.pem";
/// The server certificate's private key (mode 0600).
pub const KEY_FILE: &str = "key.pem";
/// `cert.pem` then `key.pem` in one file, as HAProxy's `crt` reads it (mode 0600).
pub const HAPROXY_FILE: &str = "haproxy.pem";

/// The names every generated certificate is valid for, before those asked.
const LOCAL_NAMES: [&str; 3] = ["localhost", "127.0.0.1", "::1"];
/// How long a generated certificate is valid: a year, within the 366 days of Mozilla's
/// guidelines. Delete the directory to get a new one (and a new CA to trust).
const VALID_DAYS: i64 = 365;

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error(
        "[server.tls] needs both cert and key (MAGASIN_SERVER__TLS__CERT and ..._KEY); only {given} is set"
    )]
    Incomplete { given: &'static str },
    #[error("cannot read the TLS certificate chain {}: {reason}", path.display())]
    Certificate { path: PathBuf, reason: String },
    #[error("cannot read the TLS private key {}: {reason}", path.display())]
    Key { path: PathBuf, reason: String },
    #[error("the TLS certificate {} and key {} cannot serve: {source}", cert.display(), key.display())]
    Unusable {
        cert: PathBuf,
        key: PathBuf,
        source: rustls::Error,
    },
    #[error("{name:?} is neither a host name nor an IP address")]
    BadHost { name: String },
    #[error("cannot generate the certificate: {0}")]
    Generate(#[from] rcgen::Error),
    #[error("cannot write {}: {source}", path.display())]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// The rustls configuration of `cert` and `key` (PEM files), or `None` when neither is
/// given (plain HTTP). One without the other, an unreadable file, a file without a
/// certificate or key, or a key that is not the certificate's is an error, never a
/// silent fall back to HTTP.
pub fn server_config(
    cert: Option<&Path>,
    key: Option<&Path>,
) -> Result<Option<ServerConfig>, TlsError> {
    let (cert, key) = match (cert, key) {
        (None, None) => return Ok(None),
        (Some(_), None) => return Err(TlsError::Incomplete { given: "cert" }),
        (None, Some(_)) => return Err(TlsError::Incomplete { given: "key" }),
        (Some(cert), Some(key)) => (cert, key),
    };
    let chain = CertificateDer::pem_file_iter(cert)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|e| TlsError::Certificate {
            path: cert.to_owned(),
            reason: e.to_string(),
        })?;
    if chain.is_empty() {
        return Err(TlsError::Certificate {
            path: cert.to_owned(),
            reason: "no certificate in the file".into(),
        });
    }
    let private_key = PrivateKeyDer::from_pem_file(key).map_err(|e| TlsError::Key {
        path: key.to_owned(),
        reason: e.to_string(),
    })?;
    let unusable = |source| TlsError::Unusable {
        cert: cert.to_owned(),
        key: key.to_owned(),
        source,
    };
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(unusable)?
        .with_no_client_auth()
        .with_single_cert(chain, private_key)
        .map_err(unusable)?;
    Ok(Some(config))
}

/// What [`self_signed`] did.
#[derive(Debug)]
pub enum SelfSigned {
    /// A new CA and server certificate, valid for `names` until `not_after`.
    Written {
        names: Vec<String>,
        not_after: OffsetDateTime,
    },
    /// `haproxy.pem` was there: every file was left as it was.
    Kept,
}

/// Writes a CA and a server certificate it signed into `dir` (created with mode 0700):
/// [`CA_FILE`], [`CERT_FILE`], [`KEY_FILE`] and [`HAPROXY_FILE`], the last written last,
/// so that its presence means the set is whole. Keeps everything when `haproxy.pem` is
/// already there. The certificate is valid for localhost, 127.0.0.1, ::1 and `hosts`.
pub fn self_signed(dir: &Path, hosts: &[String]) -> Result<SelfSigned, TlsError> {
    if dir.join(HAPROXY_FILE).exists() {
        return Ok(SelfSigned::Kept);
    }
    let mut names: Vec<String> = Vec::new();
    for name in LOCAL_NAMES
        .iter()
        .map(|n| (*n).to_owned())
        .chain(hosts.iter().cloned())
    {
        let name = name.trim().to_owned();
        if !names.contains(&name) {
            names.push(name);
        }
    }
    for name in &names {
        if name.parse::<IpAddr>().is_err() && !is_host_name(name) {
            return Err(TlsError::BadHost { name: name.clone() });
        }
    }

    let now = OffsetDateTime::now_utc();
    // A day of slack for clocks that are behind.
    let not_before = now - Duration::days(1);
    let not_after = now + Duration::days(VALID_DAYS);

    let mut ca = CertificateParams::new(Vec::<String>::new())?;
    ca.distinguished_name
        .push(DnType::CommonName, "magasin self-signed CA");
    ca.distinguished_name
        .push(DnType::OrganizationName, "magasin");
    // It signs servers only, directly: no intermediate below it.
    ca.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    ca.not_before = not_before;
    ca.not_after = not_after;
    let ca_key = KeyPair::generate()?;
    let ca_cert = ca.self_signed(&ca_key)?;
    let issuer = Issuer::new(ca, ca_key);

    let mut server = CertificateParams::new(names.clone())?;
    server
        .distinguished_name
        .push(DnType::CommonName, "magasin");
    server
        .distinguished_name
        .push(DnType::OrganizationName, "magasin");
    server.is_ca = IsCa::ExplicitNoCa;
    server.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    server.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    server.use_authority_key_identifier_extension = true;
    server.not_before = not_before;
    server.not_after = not_after;
    let server_key = KeyPair::generate()?;
    let server_cert = server.signed_by(&server_key, &issuer)?;

    create_dir(dir)?;
    let chain = format!("{}{}", server_cert.pem(), ca_cert.pem());
    let key = server_key.serialize_pem();
    write(&dir.join(CA_FILE), &ca_cert.pem(), 0o644)?;
    write(&dir.join(CERT_FILE), &chain, 0o644)?;
    write(&dir.join(KEY_FILE), &key, 0o600)?;
    write(&dir.join(HAPROXY_FILE), &format!("{chain}{key}"), 0o600)?;
    Ok(SelfSigned::Written { names, not_after })
}

/// Letters, digits and hyphens in dot-separated labels (a leading `*.` allowed), as a
/// certificate's DNS name must be.
fn is_host_name(name: &str) -> bool {
    let name = name.strip_prefix("*.").unwrap_or(name);
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
}

fn create_dir(dir: &Path) -> Result<(), TlsError> {
    if dir.is_dir() {
        return Ok(());
    }
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|source| TlsError::Write {
            path: dir.to_owned(),
            source,
        })
}

/// Writes `text` to `path` with `mode` (a file left from an interrupted run is replaced).
fn write(path: &Path, text: &str, mode: u32) -> Result<(), TlsError> {
    let failed = |source| TlsError::Write {
        path: path.to_owned(),
        source,
    };
    // The mode applies when the file is created: remove a leftover so that a key never
    // inherits a wider one.
    match fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(failed(e)),
    }
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .map_err(failed)?;
    file.write_all(text.as_bytes()).map_err(failed)?;
    file.sync_all().map_err(failed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_certificate_serves_and_is_kept() {
        let temp = tempfile::tempdir().expect("a temp dir");
        let dir = temp.path().join("tls");
        let written =
            self_signed(&dir, &["magasin.example".into(), "localhost".into()]).expect("generated");
        let SelfSigned::Written { names, .. } = written else {
            panic!("nothing written: {written:?}");
        };
        assert_eq!(names, ["localhost", "127.0.0.1", "::1", "magasin.example"]);
        let mode = |file: &str| {
            use std::os::unix::fs::PermissionsExt;
            fs::metadata(dir.join(file))
                .expect("written")
                .permissions()
                .mode()
                & 0o777
        };
        assert_eq!(mode(""), 0o700);
        assert_eq!(mode(KEY_FILE), 0o600);
        assert_eq!(mode(HAPROXY_FILE), 0o600);
        let chain = fs::read_to_string(dir.join(CERT_FILE)).expect("the chain");
        assert_eq!(chain.matches("BEGIN CERTIFICATE").count(), 2);
        assert!(chain.ends_with(&fs::read_to_string(dir.join(CA_FILE)).expect("the CA")));
        let config = server_config(Some(&dir.join(CERT_FILE)), Some(&dir.join(KEY_FILE)))
            .expect("usable")
            .expect("a configuration");
        assert!(config.alpn_protocols.is_empty());

        let before = fs::read(dir.join(HAPROXY_FILE)).expect("written");
        assert!(matches!(self_signed(&dir, &[]), Ok(SelfSigned::Kept)));
        assert_eq!(fs::read(dir.join(HAPROXY_FILE)).expect("kept"), before);
    }

    #[test]
    fn half_a_configuration_or_a_missing_file_is_refused() {
        let temp = tempfile::tempdir().expect("a temp dir");
        let missing = temp.path().join("missing.pem");
        assert!(matches!(server_config(None, None), Ok(None)));
        assert!(matches!(
            server_config(Some(&missing), None),
            Err(TlsError::Incomplete { given: "cert" })
        ));
        assert!(matches!(
            server_config(None, Some(&missing)),
            Err(TlsError::Incomplete { given: "key" })
        ));
        assert!(matches!(
            server_config(Some(&missing), Some(&missing)),
            Err(TlsError::Certificate { .. })
        ));
        // The key of another certificate.
        let (one, other) = (temp.path().join("one"), temp.path().join("other"));
        self_signed(&one, &[]).expect("generated");
        self_signed(&other, &[]).expect("generated");
        assert!(matches!(
            server_config(Some(&one.join(CERT_FILE)), Some(&other.join(KEY_FILE))),
            Err(TlsError::Unusable { .. })
        ));
        // A key file given as the certificate.
        assert!(matches!(
            server_config(Some(&one.join(KEY_FILE)), Some(&one.join(KEY_FILE))),
            Err(TlsError::Certificate { .. })
        ));
    }

    #[test]
    fn host_names_are_checked_before_anything_is_written() {
        let temp = tempfile::tempdir().expect("a temp dir");
        let dir = temp.path().join("tls");
        assert!(matches!(
            self_signed(&dir, &["not a name".into()]),
            Err(TlsError::BadHost { .. })
        ));
        assert!(!dir.exists());
        assert!(is_host_name("magasin-1.magasin.svc"));
        assert!(is_host_name("*.example.com"));
        assert!(!is_host_name("-bad.example"));
        assert!(!is_host_name("a..b"));
    }
}
