//! exporter-toolkit's web configuration file (`--web.config.file`), read as
//! `postgres_exporter`, `node_exporter` and Alertmanager read it: `tls_server_config`,
//! `http_server_config` (response headers), `basic_auth_users` (bcrypt hashes) and
//! `rate_limit`. Unknown keys are refused; relative file paths are relative to the file.
//! [`Watched`] re-reads it, and the files it names, when they change.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use axum::http::{HeaderName, HeaderValue};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::server::WebPkiClientVerifier;
use rustls::{DistinguishedName, RootCertStore, SignatureScheme};
use serde::Deserialize;

use crate::bounded;

/// A problem in the web configuration, with the key it concerns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebConfigError {
    /// Dotted key inside the file (`tls_server_config.cert_file`); empty for the file itself.
    pub key: String,
    /// What is wrong; never quotes a secret.
    pub message: String,
}

impl std::fmt::Display for WebConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.key.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.key, self.message)
        }
    }
}

impl std::error::Error for WebConfigError {}

fn problem(key: &str, message: impl Into<String>) -> WebConfigError {
    WebConfigError {
        key: key.to_owned(),
        message: message.into(),
    }
}

// === the file, as written ===

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileDoc {
    #[serde(default)]
    tls_server_config: Option<TlsDoc>,
    #[serde(default)]
    http_server_config: Option<HttpDoc>,
    #[serde(default)]
    basic_auth_users: Option<BTreeMap<String, String>>,
    #[serde(default)]
    rate_limit: Option<RateLimitDoc>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct TlsDoc {
    cert: Option<String>,
    key: Option<String>,
    client_ca: Option<String>,
    cert_file: Option<String>,
    key_file: Option<String>,
    client_auth_type: Option<String>,
    client_ca_file: Option<String>,
    client_allowed_sans: Option<Vec<String>>,
    min_version: Option<String>,
    max_version: Option<String>,
    cipher_suites: Option<Vec<String>>,
    prefer_server_cipher_suites: Option<bool>,
    curve_preferences: Option<Vec<String>>,
}

impl TlsDoc {
    /// exporter-toolkit's test: any TLS key set turns TLS on.
    fn enabled(&self) -> bool {
        [
            &self.cert,
            &self.key,
            &self.client_ca,
            &self.cert_file,
            &self.key_file,
            &self.client_ca_file,
            &self.client_auth_type,
        ]
        .iter()
        .any(|v| v.as_deref().is_some_and(|s| !s.is_empty()))
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct HttpDoc {
    http2: Option<bool>,
    headers: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RateLimitDoc {
    interval: Option<String>,
    burst: Option<u32>,
}

// === the configuration, checked ===

/// How the server treats client certificates (`client_auth_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuth {
    /// `NoClientCert`: none asked for.
    None,
    /// `RequestClientCert`: asked for, not required, not verified.
    Request,
    /// `RequireAnyClientCert`: required, not verified.
    RequireAny,
    /// `VerifyClientCertIfGiven`: verified when given.
    VerifyIfGiven,
    /// `RequireAndVerifyClientCert`: required and verified.
    RequireAndVerify,
}

impl ClientAuth {
    /// Whether a certificate the client presents has been verified against the CA, so it
    /// identifies the client.
    pub fn verifies(self) -> bool {
        matches!(self, Self::VerifyIfGiven | Self::RequireAndVerify)
    }
}

/// A token bucket's settings (`rate_limit`): one request per `interval`, bursts of `burst`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimit {
    /// Time between two requests.
    pub interval: Duration,
    /// Requests allowed at once.
    pub burst: u32,
}

/// The web configuration in force.
#[derive(Debug, Clone, Default)]
pub struct WebConfig {
    /// The TLS server configuration; `None`: plain HTTP.
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// How client certificates are treated.
    pub client_auth: Option<ClientAuth>,
    /// User name → bcrypt hash. Never printed.
    users: BTreeMap<String, String>,
    /// Headers added to every response.
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// The request rate limit, if any.
    pub rate_limit: Option<RateLimit>,
}

impl WebConfig {
    /// Whether basic auth is required.
    pub fn has_users(&self) -> bool {
        !self.users.is_empty()
    }

    /// The bcrypt hash of `user`, if it is one.
    pub fn hash_of(&self, user: &str) -> Option<&str> {
        self.users.get(user).map(String::as_str)
    }

    /// Whether some way to authenticate a client is configured: basic auth users, or
    /// client certificates that are verified.
    pub fn can_authenticate(&self) -> bool {
        self.has_users() || self.client_auth.is_some_and(ClientAuth::verifies)
    }
}

/// The files a configuration was read from, with what identified their content, so a
/// change (a rotated certificate, an edited user list) is noticed.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Stamp(Vec<(PathBuf, Option<(SystemTime, u64)>)>);

impl Stamp {
    fn of(paths: impl IntoIterator<Item = PathBuf>) -> Self {
        Self(
            paths
                .into_iter()
                .map(|p| {
                    let seen = std::fs::metadata(&p)
                        .ok()
                        .map(|m| (m.modified().unwrap_or(SystemTime::UNIX_EPOCH), m.len()));
                    (p, seen)
                })
                .collect(),
        )
    }

    /// The same files, looked at again.
    #[must_use]
    pub fn now(&self) -> Self {
        Self::of(self.0.iter().map(|(p, _)| p.clone()))
    }
}

/// Reads and checks the web configuration at `path`, with every file it names.
pub fn load(path: &Path) -> Result<(WebConfig, Stamp), WebConfigError> {
    let text = bounded::read_to_string(path, bounded::caps::WEB_CONFIG)
        .map_err(|e| problem("", format!("cannot read {}: {e}", path.display())))?;
    let doc: FileDoc = if text.trim().is_empty() {
        FileDoc::default()
    } else {
        serde_norway::from_str(&text).map_err(|e| problem("", e.to_string()))?
    };
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut files = vec![path.to_path_buf()];
    let mut config = WebConfig::default();

    for (user, hash) in doc.basic_auth_users.unwrap_or_default() {
        if hash.parse::<bcrypt::HashParts>().is_err() {
            return Err(problem(
                &format!("basic_auth_users.{user}"),
                "is not a bcrypt hash (make one with `htpasswd -nBC 10 \"\" | tr -d ':\\n'`)",
            ));
        }
        config.users.insert(user, hash);
    }

    let http = doc.http_server_config.unwrap_or_default();
    for (name, value) in http.headers.unwrap_or_default() {
        config.headers.push(header(&name, &value)?);
    }

    if let Some(rl) = doc.rate_limit {
        let interval = match rl.interval.as_deref() {
            None | Some("") => Duration::ZERO,
            Some(s) => promql_parser::util::parse_duration(s)
                .map_err(|e| problem("rate_limit.interval", e))?,
        };
        if !interval.is_zero() {
            let burst = rl.burst.unwrap_or(0);
            if burst == 0 {
                return Err(problem(
                    "rate_limit.burst",
                    "must be at least 1 when rate_limit.interval is set",
                ));
            }
            config.rate_limit = Some(RateLimit { interval, burst });
        }
    }

    if let Some(tls) = doc.tls_server_config.filter(TlsDoc::enabled) {
        let (server, auth) = tls_config(&tls, dir, &mut files, http.http2.unwrap_or(true))?;
        config.tls = Some(Arc::new(server));
        config.client_auth = Some(auth);
    }
    Ok((config, Stamp::of(files)))
}

/// The headers exporter-toolkit lets a file set, with the values it accepts.
const HEADERS: &[(&str, &[&str])] = &[
    ("Strict-Transport-Security", &[]),
    ("X-Content-Type-Options", &["nosniff"]),
    ("X-Frame-Options", &["deny", "sameorigin"]),
    ("X-XSS-Protection", &[]),
    ("Content-Security-Policy", &[]),
];

fn header(name: &str, value: &str) -> Result<(HeaderName, HeaderValue), WebConfigError> {
    let key = format!("http_server_config.headers.{name}");
    let Some((_, allowed)) = HEADERS.iter().find(|(n, _)| *n == name) else {
        return Err(problem(
            &key,
            format!(
                "this header cannot be configured (allowed: {})",
                HEADERS
                    .iter()
                    .map(|(n, _)| *n)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ));
    };
    if !allowed.is_empty() && !allowed.contains(&value) {
        return Err(problem(
            &key,
            format!("expected one of {allowed:?}, got {value:?}"),
        ));
    }
    let name = HeaderName::from_bytes(name.as_bytes()).map_err(|e| problem(&key, e.to_string()))?;
    let value = HeaderValue::from_str(value).map_err(|e| problem(&key, e.to_string()))?;
    Ok((name, value))
}

/// PEM text given inline (`inline_key`) or in a file (`file_key`, relative to `dir`).
fn pem_source(
    inline: Option<&str>,
    file: Option<&str>,
    (inline_key, file_key): (&str, &str),
    dir: &Path,
    files: &mut Vec<PathBuf>,
) -> Result<Option<Vec<u8>>, WebConfigError> {
    let inline = inline.filter(|s| !s.is_empty());
    let file = file.filter(|s| !s.is_empty());
    match (inline, file) {
        (Some(_), Some(_)) => Err(problem(
            file_key,
            format!("set either {inline_key} or {file_key}, not both"),
        )),
        (Some(text), None) => Ok(Some(text.as_bytes().to_vec())),
        (None, Some(f)) => {
            let path = dir.join(f);
            files.push(path.clone());
            let key = format!("tls_server_config.{file_key}");
            bounded::read(&path, bounded::caps::PEM)
                .map(Some)
                .map_err(|e| problem(&key, format!("cannot read {}: {e}", path.display())))
        }
        (None, None) => Ok(None),
    }
}

fn tls_config(
    tls: &TlsDoc,
    dir: &Path,
    files: &mut Vec<PathBuf>,
    http2: bool,
) -> Result<(rustls::ServerConfig, ClientAuth), WebConfigError> {
    const K: &str = "tls_server_config";
    let cert = pem_source(
        tls.cert.as_deref(),
        tls.cert_file.as_deref(),
        ("cert", "cert_file"),
        dir,
        files,
    )?
    .ok_or_else(|| problem(K, "missing one of cert or cert_file"))?;
    let key = pem_source(
        tls.key.as_deref(),
        tls.key_file.as_deref(),
        ("key", "key_file"),
        dir,
        files,
    )?
    .ok_or_else(|| problem(K, "missing one of key or key_file"))?;
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&cert)
        .collect::<Result<_, _>>()
        .map_err(|e| {
            problem(
                &format!("{K}.cert_file"),
                format!("not PEM certificates: {e}"),
            )
        })?;
    if chain.is_empty() {
        return Err(problem(
            &format!("{K}.cert_file"),
            "holds no PEM certificate",
        ));
    }
    // The key is a secret: its parser's message is not echoed.
    let key = PrivateKeyDer::from_pem_slice(&key)
        .map_err(|_| problem(&format!("{K}.key_file"), "holds no PEM private key"))?;
    let ca = pem_source(
        tls.client_ca.as_deref(),
        tls.client_ca_file.as_deref(),
        ("client_ca", "client_ca_file"),
        dir,
        files,
    )?;

    let provider = Arc::new(provider(tls)?);
    let versions = versions(tls)?;
    let builder = rustls::ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_protocol_versions(&versions)
        .map_err(|e| problem(K, format!("no cipher suite fits the TLS versions: {e}")))?;

    let auth = match tls.client_auth_type.as_deref().unwrap_or("") {
        "" | "NoClientCert" => ClientAuth::None,
        "RequestClientCert" => ClientAuth::Request,
        "RequireAnyClientCert" | "RequireClientCert" => ClientAuth::RequireAny,
        "VerifyClientCertIfGiven" => ClientAuth::VerifyIfGiven,
        "RequireAndVerifyClientCert" => ClientAuth::RequireAndVerify,
        other => {
            return Err(problem(
                &format!("{K}.client_auth_type"),
                format!("invalid ClientAuth: {other} (expected NoClientCert, RequestClientCert, RequireAnyClientCert, VerifyClientCertIfGiven or RequireAndVerifyClientCert)"),
            ))
        }
    };
    if ca.is_some() && auth == ClientAuth::None {
        return Err(problem(
            &format!("{K}.client_auth_type"),
            "client CA's have been configured without a Client Auth Policy",
        ));
    }
    let sans = tls.client_allowed_sans.clone();
    if sans.is_some() && !matches!(auth, ClientAuth::RequireAny | ClientAuth::RequireAndVerify) {
        return Err(problem(
            &format!("{K}.client_allowed_sans"),
            "requires client_auth_type to be one of RequireAnyClientCert or RequireAndVerifyClientCert",
        ));
    }
    let verifier: Option<Arc<dyn ClientCertVerifier>> = match auth {
        ClientAuth::None => None,
        ClientAuth::Request | ClientAuth::RequireAny => Some(Arc::new(AnyClientCert {
            mandatory: auth == ClientAuth::RequireAny,
            provider: Arc::clone(&provider),
        })),
        ClientAuth::VerifyIfGiven | ClientAuth::RequireAndVerify => {
            let Some(ca) = &ca else {
                return Err(problem(
                    &format!("{K}.client_ca_file"),
                    "is needed to verify client certificates",
                ));
            };
            let mut roots = RootCertStore::empty();
            for c in CertificateDer::pem_slice_iter(ca) {
                let c = c.map_err(|e| {
                    problem(&format!("{K}.client_ca_file"), format!("not PEM: {e}"))
                })?;
                roots.add(c).map_err(|e| {
                    problem(
                        &format!("{K}.client_ca_file"),
                        format!("not a CA certificate: {e}"),
                    )
                })?;
            }
            if roots.is_empty() {
                return Err(problem(
                    &format!("{K}.client_ca_file"),
                    "holds no PEM certificate",
                ));
            }
            let mut b =
                WebPkiClientVerifier::builder_with_provider(Arc::new(roots), Arc::clone(&provider));
            if auth == ClientAuth::VerifyIfGiven {
                b = b.allow_unauthenticated();
            }
            Some(
                b.build()
                    .map_err(|e| problem(&format!("{K}.client_ca_file"), e.to_string()))?,
            )
        }
    };
    let verifier = match (verifier, sans) {
        (Some(v), Some(sans)) => Some(Arc::new(AllowedSans { inner: v, sans }) as Arc<_>),
        (v, _) => v,
    };
    let builder = match verifier {
        Some(v) => builder.with_client_cert_verifier(v),
        None => builder.with_no_client_auth(),
    };
    let mut server = builder.with_single_cert(chain, key).map_err(|e| {
        problem(
            &format!("{K}.key_file"),
            format!("does not match cert_file: {e}"),
        )
    })?;
    server.ignore_client_order = tls.prefer_server_cipher_suites.unwrap_or(true);
    // HTTP/2 is not served: `http2: true` (the toolkit's default) is accepted and clients
    // negotiate HTTP/1.1 through ALPN.
    let _ = http2;
    server.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok((server, auth))
}

fn versions(
    tls: &TlsDoc,
) -> Result<Vec<&'static rustls::SupportedProtocolVersion>, WebConfigError> {
    let parse = |key: &str, v: Option<&str>, default: u8| -> Result<u8, WebConfigError> {
        match v.unwrap_or("") {
            "" => Ok(default),
            "TLS12" => Ok(2),
            "TLS13" => Ok(3),
            "TLS10" | "TLS11" => Err(problem(
                &format!("tls_server_config.{key}"),
                "TLS 1.0 and 1.1 are not supported (centinela speaks TLS12 and TLS13)",
            )),
            other => Err(problem(
                &format!("tls_server_config.{key}"),
                format!("unknown TLS version: {other} (expected TLS12 or TLS13)"),
            )),
        }
    };
    let min = parse("min_version", tls.min_version.as_deref(), 2)?;
    let max = parse("max_version", tls.max_version.as_deref(), 3)?;
    if min > max {
        return Err(problem(
            "tls_server_config.max_version",
            "is lower than min_version",
        ));
    }
    Ok([(2, &rustls::version::TLS12), (3, &rustls::version::TLS13)]
        .into_iter()
        .filter(|(v, _)| (min..=max).contains(v))
        .map(|(_, p)| p)
        .collect())
}

/// The ring provider narrowed to `cipher_suites` (TLS 1.2 only, as Go applies them) and
/// `curve_preferences`, in the order given.
fn provider(tls: &TlsDoc) -> Result<CryptoProvider, WebConfigError> {
    use rustls::crypto::ring::{default_provider, kx_group};
    let mut p = default_provider();
    if let Some(names) = tls.cipher_suites.as_ref().filter(|n| !n.is_empty()) {
        let all = p.cipher_suites.clone();
        let name = |s: &rustls::SupportedCipherSuite| format!("{:?}", s.suite());
        let mut chosen: Vec<_> = Vec::new();
        for n in names {
            // Go accepts the TLS 1.3 names and ignores them: 1.3 suites are not configurable.
            if matches!(
                n.as_str(),
                "TLS_AES_128_GCM_SHA256"
                    | "TLS_AES_256_GCM_SHA384"
                    | "TLS_CHACHA20_POLY1305_SHA256"
            ) {
                continue;
            }
            match all.iter().find(|s| s.tls13().is_none() && name(s) == *n) {
                Some(s) => chosen.push(*s),
                None => {
                    return Err(problem(
                        "tls_server_config.cipher_suites",
                        format!(
                            "unknown or unsupported cipher: {n} (supported: {})",
                            all.iter()
                                .filter(|s| s.tls13().is_none())
                                .map(name)
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    ))
                }
            }
        }
        chosen.extend(all.iter().filter(|s| s.tls13().is_some()));
        p.cipher_suites = chosen;
    }
    if let Some(curves) = tls.curve_preferences.as_ref().filter(|c| !c.is_empty()) {
        let mut groups = Vec::new();
        for c in curves {
            groups.push(match c.as_str() {
                "X25519" => kx_group::X25519,
                "CurveP256" => kx_group::SECP256R1,
                "CurveP384" => kx_group::SECP384R1,
                "CurveP521" => {
                    return Err(problem(
                        "tls_server_config.curve_preferences",
                        "CurveP521 is not supported (use X25519, CurveP256 or CurveP384)",
                    ))
                }
                other => {
                    return Err(problem(
                        "tls_server_config.curve_preferences",
                        format!("unknown curve: {other}"),
                    ))
                }
            });
        }
        p.kx_groups = groups;
    }
    Ok(p)
}

/// `RequestClientCert` and `RequireAnyClientCert`: a certificate is asked for (and, for
/// the second, required) but not checked against a CA; the handshake still proves the
/// client holds its key.
#[derive(Debug)]
struct AnyClientCert {
    mandatory: bool,
    provider: Arc<CryptoProvider>,
}

impl ClientCertVerifier for AnyClientCert {
    fn client_auth_mandatory(&self) -> bool {
        self.mandatory
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: rustls::pki_types::UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        Ok(ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// `client_allowed_sans`: the client certificate must carry one of these subject
/// alternative names (DNS, e-mail, IP or URI), matched exactly.
#[derive(Debug)]
struct AllowedSans {
    inner: Arc<dyn ClientCertVerifier>,
    sans: Vec<String>,
}

impl ClientCertVerifier for AllowedSans {
    fn offer_client_auth(&self) -> bool {
        self.inner.offer_client_auth()
    }

    fn client_auth_mandatory(&self) -> bool {
        self.inner.client_auth_mandatory()
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        self.inner.root_hint_subjects()
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: rustls::pki_types::UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        let verified = self
            .inner
            .verify_client_cert(end_entity, intermediates, now)?;
        if subject_alt_names(end_entity)
            .iter()
            .any(|n| self.sans.contains(n))
        {
            Ok(verified)
        } else {
            Err(rustls::Error::General(
                "the client certificate has none of the allowed SANs".into(),
            ))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// The DNS, e-mail, IP and URI subject alternative names of a certificate.
fn subject_alt_names(cert: &CertificateDer<'_>) -> Vec<String> {
    use x509_parser::extensions::GeneralName;
    let Ok((_, parsed)) = x509_parser::parse_x509_certificate(cert) else {
        return Vec::new();
    };
    let Ok(Some(ext)) = parsed.subject_alternative_name() else {
        return Vec::new();
    };
    ext.value
        .general_names
        .iter()
        .filter_map(|n| match n {
            GeneralName::DNSName(s) | GeneralName::RFC822Name(s) | GeneralName::URI(s) => {
                Some((*s).to_owned())
            }
            GeneralName::IPAddress(b) => match b.len() {
                4 => <[u8; 4]>::try_from(*b)
                    .ok()
                    .map(|a| std::net::IpAddr::from(a).to_string()),
                16 => <[u8; 16]>::try_from(*b)
                    .ok()
                    .map(|a| std::net::IpAddr::from(a).to_string()),
                _ => None,
            },
            _ => None,
        })
        .collect()
}

/// A name for the client a verified certificate identifies: its first DNS or e-mail SAN,
/// else its subject's common name.
pub fn certificate_identity(cert: &CertificateDer<'_>) -> Option<String> {
    if let Some(n) = subject_alt_names(cert).into_iter().next() {
        return Some(n);
    }
    let (_, parsed) = x509_parser::parse_x509_certificate(cert).ok()?;
    let cn = parsed
        .subject()
        .iter_common_name()
        .next()
        .and_then(|cn| cn.as_str().ok())
        .map(str::to_owned);
    cn
}

// === watching ===

/// The web configuration in force, re-read when its file or a file it names changes. A
/// change that does not load keeps the last good configuration (and says so).
#[derive(Debug)]
pub struct Watched {
    path: Option<PathBuf>,
    current: arc_swap::ArcSwap<WebConfig>,
    stamp: std::sync::Mutex<Stamp>,
    /// Whether the last load succeeded; `None` without a file.
    healthy: std::sync::atomic::AtomicU8,
}

const NO_FILE: u8 = 2;

impl Watched {
    /// No web configuration: plain HTTP, no users.
    pub fn none() -> Self {
        Self {
            path: None,
            current: arc_swap::ArcSwap::from_pointee(WebConfig::default()),
            stamp: std::sync::Mutex::new(Stamp::default()),
            healthy: std::sync::atomic::AtomicU8::new(NO_FILE),
        }
    }

    /// Loads `path` (none: no web configuration).
    pub fn load(path: Option<&Path>) -> Result<Self, WebConfigError> {
        let Some(path) = path else {
            return Ok(Self::none());
        };
        let (config, stamp) = load(path)?;
        Ok(Self {
            path: Some(path.to_path_buf()),
            current: arc_swap::ArcSwap::from_pointee(config),
            stamp: std::sync::Mutex::new(stamp),
            healthy: std::sync::atomic::AtomicU8::new(1),
        })
    }

    /// The configuration in force.
    pub fn current(&self) -> Arc<WebConfig> {
        self.current.load_full()
    }

    /// 1 or 0: whether the last (re)load succeeded; `None` without a file.
    pub fn last_reload_ok(&self) -> Option<bool> {
        match self.healthy.load(std::sync::atomic::Ordering::Relaxed) {
            NO_FILE => None,
            v => Some(v == 1),
        }
    }

    /// Looks at the files again and reloads if any changed. Returns the error of a reload
    /// that failed (the last good configuration stays in force).
    pub fn refresh(&self) -> Result<bool, WebConfigError> {
        let Some(path) = &self.path else {
            return Ok(false);
        };
        let now = crate::sync::lock(&self.stamp).now();
        if now == *crate::sync::lock(&self.stamp) {
            return Ok(false);
        }
        let set = |ok: bool| {
            self.healthy
                .store(u8::from(ok), std::sync::atomic::Ordering::Relaxed);
        };
        match load(path) {
            Ok((config, stamp)) => {
                if config.tls.is_some() != self.current().tls.is_some() {
                    // A listener cannot switch between HTTP and HTTPS while it runs.
                    *crate::sync::lock(&self.stamp) = stamp;
                    set(false);
                    return Err(problem(
                        "tls_server_config",
                        "turning TLS on or off needs a restart; the previous configuration stays in force",
                    ));
                }
                *crate::sync::lock(&self.stamp) = stamp;
                self.current.store(Arc::new(config));
                set(true);
                Ok(true)
            }
            Err(e) => {
                // Remember what was seen, so the same broken state is reported once.
                *crate::sync::lock(&self.stamp) = now;
                set(false);
                Err(e)
            }
        }
    }
}
