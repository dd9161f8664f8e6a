//! The server's PKI: a self-signed CA made on first start, a serving certificate signed by it
//! for the loopback names and the listen address, and the admin bearer token. Files are 0600
//! in a 0700 directory.

use rand::RngCore;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SanType,
};
use std::fs;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;
use std::sync::Arc;

/// PKI errors.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// Reading or writing a PKI file failed.
    #[error("pki file {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// Certificate generation failed.
    #[error("generating certificates: {0}")]
    Generate(#[from] rcgen::Error),
    /// The TLS configuration was refused.
    #[error("tls configuration: {0}")]
    Config(#[from] rustls::Error),
    /// A PEM file could not be parsed.
    #[error("pki file {0} is not valid PEM")]
    Pem(String),
}

/// The CA, serving certificate and token.
#[derive(Debug, Clone)]
pub struct Pki {
    /// CA certificate (PEM), for the kubeconfig.
    pub ca_pem: String,
    /// Serving certificate (PEM).
    pub cert_pem: String,
    /// Serving key (PEM).
    pub key_pem: String,
    /// The admin bearer token.
    pub token: String,
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> TlsError + '_ {
    move |source| TlsError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// Writes `contents` to `path` with mode 0600, durably.
pub fn write_private(path: &Path, contents: &[u8]) -> Result<(), TlsError> {
    let tmp = path.with_extension("tmp");
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(io_err(&tmp))?;
    f.write_all(contents).map_err(io_err(&tmp))?;
    f.sync_all().map_err(io_err(&tmp))?;
    fs::set_permissions(&tmp, fs::Permissions::from_mode(0o600)).map_err(io_err(&tmp))?;
    fs::rename(&tmp, path).map_err(io_err(path))?;
    Ok(())
}

fn ca_params() -> Result<CertificateParams, TlsError> {
    let mut p = CertificateParams::new(Vec::<String>::new())?;
    p.distinguished_name.push(DnType::CommonName, "batchlet-ca");
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    Ok(p)
}

impl Pki {
    /// Loads the CA and token from `dir`, creating them on first start, and issues a serving
    /// certificate for `hosts` (IP addresses or DNS names) plus the loopback names.
    pub fn load_or_create(dir: &Path, hosts: &[String]) -> Result<Pki, TlsError> {
        fs::create_dir_all(dir).map_err(io_err(dir))?;
        fs::set_permissions(dir, fs::Permissions::from_mode(0o700)).map_err(io_err(dir))?;
        let (ca_crt, ca_key, token_path) =
            (dir.join("ca.crt"), dir.join("ca.key"), dir.join("token"));
        if !ca_crt.exists() || !ca_key.exists() {
            let key = KeyPair::generate()?;
            let cert = ca_params()?.self_signed(&key)?;
            write_private(&ca_key, key.serialize_pem().as_bytes())?;
            write_private(&ca_crt, cert.pem().as_bytes())?;
        }
        if !token_path.exists() {
            let mut raw = [0u8; 32];
            rand::rng().fill_bytes(&mut raw);
            let token: String = raw.iter().map(|b| format!("{b:02x}")).collect();
            write_private(&token_path, token.as_bytes())?;
        }
        let ca_pem = fs::read_to_string(&ca_crt).map_err(io_err(&ca_crt))?;
        let ca_key_pem = fs::read_to_string(&ca_key).map_err(io_err(&ca_key))?;
        let token = fs::read_to_string(&token_path)
            .map_err(io_err(&token_path))?
            .trim()
            .to_owned();
        let ca_key = KeyPair::from_pem(&ca_key_pem)?;
        let issuer = Issuer::new(ca_params()?, ca_key);

        let mut names: Vec<String> = vec!["localhost".into(), "127.0.0.1".into(), "::1".into()];
        for h in hosts {
            if !names.contains(h) && !h.is_empty() && h != "0.0.0.0" && h != "::" {
                names.push(h.clone());
            }
        }
        let mut p = CertificateParams::new(Vec::<String>::new())?;
        p.distinguished_name.push(DnType::CommonName, "batchlet");
        p.subject_alt_names = names
            .iter()
            .map(|n| match n.parse::<std::net::IpAddr>() {
                Ok(ip) => Ok(SanType::IpAddress(ip)),
                Err(_) => n.clone().try_into().map(SanType::DnsName),
            })
            .collect::<Result<_, _>>()?;
        p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        p.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        let key = KeyPair::generate()?;
        let cert = p.signed_by(&key, &issuer)?;
        Ok(Pki {
            ca_pem,
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            token,
        })
    }

    /// The rustls configuration serving this certificate (HTTP/1.1).
    pub fn server_config(&self) -> Result<Arc<rustls::ServerConfig>, TlsError> {
        let certs = rustls_pemfile::certs(&mut self.cert_pem.as_bytes())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| TlsError::Pem("server certificate".into()))?;
        let key = rustls_pemfile::private_key(&mut self.key_pem.as_bytes())
            .map_err(|_| TlsError::Pem("server key".into()))?
            .ok_or_else(|| TlsError::Pem("server key".into()))?;
        let mut cfg = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(certs, key)?;
        cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Arc::new(cfg))
    }
}
