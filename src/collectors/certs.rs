//! `certs` collector: `openssl x509 -enddate` and `openssl s_client`, continuously.
//!
//! Exports `centinela_cert_not_after_timestamp_seconds`, `centinela_cert_not_before_timestamp_seconds`
//! (one series per certificate: every certificate of every PEM bundle or DER file, and the
//! chain each TLS endpoint presents), `centinela_cert_verify_ok` per endpoint and
//! `centinela_cert_source_errors` for sources that cannot be read. Endpoints are the
//! configured ones, PostgreSQL's own server (SSLRequest, then TLS) and every https probe.

use serde::Deserialize;
use std::collections::BTreeSet;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

use super::{every, CollectError, Collector, Schedule, Shared};
use crate::metrics::MetricDesc;
use crate::config::check::{glob_problem, ConfigError, Problems};
use crate::config::split_host_port;
use crate::metrics::{labels, Batch};

crate::message_error! {
    /// Why a TLS endpoint gave no certificate (a short reason, used as a label value).
    ProbeError
}

// === configuration ===

/// The documented defaults of this collector's section (part of `centinela defaults`).
pub const DEFAULTS: &str = r#"[certs]
# Certificate files: [[certs.files]] paths = ["/app/certs/*.crt", "/etc/ssl/**/*.pem"]
files = []
# Remote TLS endpoints: [[certs.endpoints]] address = "api.example.com:443",
# optional server_name (SNI) and starttls = "postgres".
endpoints = []
# Also read PostgreSQL's own server certificate (SSLRequest, then TLS) when the configured
# connection may use TLS (sslmode other than disable).
postgres = true
# Connect and handshake timeout per endpoint.
timeout = "10s"
"#;

/// This module's part of the configuration: `certs`.
pub type Section = CertsConfig;

/// `[certs]`: certificate files and TLS endpoints.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CertsConfig {
    /// Certificate files and globs.
    pub files: Vec<CertFilesConfig>,
    /// Remote TLS endpoints.
    pub endpoints: Vec<CertEndpointConfig>,
    /// Read PostgreSQL's own certificate when the connection may use TLS.
    pub postgres: bool,
    /// Connect and handshake timeout per endpoint.
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
}

/// A list of certificate files.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CertFilesConfig {
    /// Globs (`**` included); every certificate of every matching file is reported.
    pub paths: Vec<String>,
}

/// A TLS endpoint whose certificate is read.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CertEndpointConfig {
    /// `host:port`.
    pub address: String,
    /// SNI name; the host of `address` by default.
    #[serde(default)]
    pub server_name: Option<String>,
    /// A protocol to speak before TLS.
    #[serde(default)]
    pub starttls: Option<StartTls>,
}

/// Protocols spoken before the TLS handshake.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum StartTls {
    /// PostgreSQL's SSLRequest before the TLS handshake.
    Postgres,
}

// === metrics ===

crate::metrics! {
    CERT_NOT_AFTER: "centinela_cert_not_after_timestamp_seconds", Gauge, ["source", "subject_cn", "issuer_cn", "serial"],
        "When the certificate expires (unix seconds). Source is a file path or an endpoint's host:port (PostgreSQL's own server included).";
    CERT_NOT_BEFORE: "centinela_cert_not_before_timestamp_seconds", Gauge, ["source", "subject_cn", "issuer_cn", "serial"],
        "When the certificate became valid (unix seconds).";
    CERT_VERIFY_OK: "centinela_cert_verify_ok", Gauge, ["source", "reason"],
        "For a TLS endpoint: 1 if its chain verifies against the system roots for its name, 0 with the reason (expired, unknown_issuer for self-signed or private CAs, wrong_name, ...); the certificate is reported either way.";
    CERT_SOURCE_ERROR: "centinela_cert_source_errors", Gauge, ["source", "reason"],
        "1 for a certificate source that could not be read: a glob that matches nothing, an unreadable file, a file without certificates, an endpoint that does not answer.";
}


/// PostgreSQL's SSLRequest: length 8, code 80877103.
const SSL_REQUEST: [u8; 8] = [0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f];

/// What is reported of one certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertInfo {
    /// The subject's common name.
    pub subject_cn: String,
    /// The issuer's common name.
    pub issuer_cn: String,
    /// The serial number, in hexadecimal.
    pub serial: String,
    /// Not valid before (Unix seconds).
    pub not_before: i64,
    /// Not valid after (Unix seconds).
    pub not_after: i64,
}

/// A TLS endpoint to read a certificate from.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Endpoint {
    /// Label value: `host:port`.
    pub source: String,
    /// Host to connect to.
    pub host: String,
    /// Port.
    pub port: u16,
    /// SNI name.
    pub server_name: String,
    /// A protocol to speak before TLS.
    pub starttls: Option<StartTls>,
    /// PostgreSQL with sslmode=prefer: a server without TLS is not an error.
    pub tls_optional: bool,
}

/// Certificate expiry and verification of files and TLS endpoints.
#[derive(Debug)]
pub struct CertsCollector {
    patterns: Arc<Vec<String>>,
    reported: crate::sync::Reported,
    endpoints: Vec<Endpoint>,
    timeout: Duration,
    provider: Arc<CryptoProvider>,
    /// Built once from the system roots; None when there are none to trust.
    webpki: Option<Arc<WebPkiServerVerifier>>,
}

// === impl CertsCollector ===

impl CertsCollector {
    /// `postgres` is the PostgreSQL connection when its server certificate should be read.
    /// `automatic`: endpoints found elsewhere in the configuration (PostgreSQL's own, https
    /// probes); a configured endpoint with the same address wins.
    pub fn new(config: &CertsConfig, automatic: Vec<Endpoint>) -> Self {
        let mut endpoints = BTreeSet::new();
        for e in &config.endpoints {
            if let Some((host, port)) = split_host_port(&e.address) {
                endpoints.insert(Endpoint {
                    source: e.address.clone(),
                    server_name: e.server_name.clone().unwrap_or_else(|| host.clone()),
                    host,
                    port,
                    starttls: e.starttls,
                    tls_optional: false,
                });
            }
        }
        // One series per source: a configured endpoint wins over the automatic ones.
        for auto in automatic {
            if !endpoints.iter().any(|e| e.source == auto.source) {
                endpoints.insert(auto);
            }
        }
        let mut roots = RootCertStore::empty();
        let native = rustls_native_certs::load_native_certs();
        roots.add_parsable_certificates(native.certs);
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let webpki =
            WebPkiServerVerifier::builder_with_provider(Arc::new(roots), Arc::clone(&provider))
                .build()
                .ok();
        Self {
            reported: crate::sync::Reported::default(),
            patterns: Arc::new(
                config
                    .files
                    .iter()
                    .flat_map(|f| f.paths.iter().cloned())
                    .collect(),
            ),
            endpoints: endpoints.into_iter().collect(),
            timeout: config.timeout,
            provider,
            webpki,
        }
    }

    /// True when there is nothing to read.
    pub fn is_empty(&self) -> bool {
        self.patterns.is_empty() && self.endpoints.is_empty()
    }

    /// Connects, handshakes, and returns the presented chain and why it would not verify.
    async fn probe(&self, e: &Endpoint) -> Result<Option<(Vec<CertInfo>, Option<String>)>, ProbeError> {
        presented(e, Arc::clone(&self.provider), self.webpki.clone()).await
    }
}

/// The certificate chain `e` presents (`None`: a PostgreSQL server that offers no TLS where
/// that is allowed), and why it would not verify against `webpki` (no roots: never).
pub async fn presented(
    e: &Endpoint,
    provider: Arc<CryptoProvider>,
    webpki: Option<Arc<WebPkiServerVerifier>>,
) -> Result<Option<(Vec<CertInfo>, Option<String>)>, ProbeError> {
        let mut tcp = TcpStream::connect((e.host.as_str(), e.port))
            .await
            .map_err(|err| ProbeError::from(format!("connect: {}", err.kind())))?;
        if e.starttls == Some(StartTls::Postgres) {
            tcp.write_all(&SSL_REQUEST)
                .await
                .map_err(|_| ProbeError::from("ssl_request_failed"))?;
            let mut answer = [0u8; 1];
            tcp.read_exact(&mut answer)
                .await
                .map_err(|_| ProbeError::from("ssl_request_failed"))?;
            match answer[0] {
                b'S' => {}
                b'N' if e.tls_optional => return Ok(None),
                b'N' => return Err(ProbeError::from("tls_not_offered")),
                _ => return Err(ProbeError::from("not_postgres")),
            }
        }
        let verifier = Arc::new(RecordingVerifier {
            inner: webpki,
            provider: Arc::clone(&provider),
            outcome: Mutex::new(None),
        });
        let tls = rustls::ClientConfig::builder_with_provider(Arc::clone(&provider))
            .with_safe_default_protocol_versions()
            .map_err(|err| ProbeError::from(format!("tls_config: {err}")))?
            .dangerous()
            .with_custom_certificate_verifier(Arc::clone(&verifier) as Arc<dyn ServerCertVerifier>)
            .with_no_client_auth();
        let name = ServerName::try_from(e.server_name.clone())
            .map_err(|_| ProbeError::from("bad_server_name"))?;
        let mut stream = tokio_rustls::TlsConnector::from(Arc::new(tls))
            .connect(name, tcp)
            .await
            .map_err(|err| ProbeError::from(format!("handshake: {}", tls_reason(&err.to_string()))))?;
        let chain: Vec<CertInfo> = stream
            .get_ref()
            .1
            .peer_certificates()
            .unwrap_or_default()
            .iter()
            .filter_map(|der| cert_info(der).ok())
            .collect();
        let failure = crate::sync::lock(&verifier.outcome).clone().flatten();
        // Leave politely: close_notify, then read until the server closes, so unread data
        // (TLS 1.3 session tickets) does not turn the close into a reset the server logs
        // ("could not receive data from client").
        let _goodbye = tokio::time::timeout(Duration::from_secs(1), async {
            stream.shutdown().await?;
            let mut sink = [0u8; 4096];
            while stream.read(&mut sink).await? > 0 {}
            Ok::<_, std::io::Error>(())
        })
        .await;
        Ok(Some((chain, failure)))
}

impl Collector for CertsCollector {
    const NAME: &'static str = "certs";
    const METRICS: &'static [&'static MetricDesc] = METRICS;

    type Section = Section;
    const SCHEDULE: Option<&'static str> = Some("5m");

    fn plan(
        section: &Self::Section,
        schedule: &Schedule,
        shared: &Shared,
        problems: &mut Problems,
    ) -> Option<(Self, Duration)> {
        check(section, problems);
        let interval = every::<Self>(problems, schedule);
        let certs = Self::new(section, shared.tls_endpoints.clone());
        (!certs.is_empty()).then_some((certs, interval))
    }

    async fn collect(&self) -> Result<Batch, CollectError> {
        let mut found: Vec<(String, CertInfo)> = Vec::new();
        let mut errors: Vec<(String, String)> = Vec::new();
        let mut verify: Vec<(String, String)> = Vec::new();
        let (patterns, deadline) = (
            Arc::clone(&self.patterns),
            std::time::Instant::now() + self.timeout,
        );
        let scanned = tokio::task::spawn_blocking(move || {
            let mut seen = std::collections::HashSet::new();
            patterns
                .iter()
                .map(|p| scan(p, deadline, &mut seen))
                .collect::<Vec<_>>()
        })
        .await
        .map_err(|e| CollectError::Io(format!("certificate file scan failed: {e}")))?;
        for (certs, problems) in scanned {
            found.extend(certs);
            errors.extend(problems);
        }
        let probes = self.endpoints.iter().map(|e| async move {
            let r = tokio::time::timeout(self.timeout, self.probe(e)).await;
            (e, r.unwrap_or_else(|_| Err(ProbeError::from("timeout"))))
        });
        for (e, result) in futures_util::future::join_all(probes).await {
            match result {
                Ok(None) => {}
                Ok(Some((chain, failure))) => {
                    if chain.is_empty() {
                        errors.push((e.source.clone(), "no_certificate".into()));
                    }
                    found.extend(chain.into_iter().map(|c| (e.source.clone(), c)));
                    verify.push((e.source.clone(), failure.unwrap_or_default()));
                }
                Err(reason) => errors.push((e.source.clone(), reason.0)),
            }
        }
        // One series per certificate even when a bundle repeats one, or two paths name it.
        found.sort_by(|a, b| (&a.0, &a.1.serial, &a.1.subject_cn).cmp(&(&b.0, &b.1.serial, &b.1.subject_cn)));
        found.dedup_by(|a, b| {
            a.0 == b.0
                && a.1.serial == b.1.serial
                && a.1.subject_cn == b.1.subject_cn
                && a.1.issuer_cn == b.1.issuer_cn
        });
        errors.sort();
        errors.dedup();
        for (source, reason) in self.reported.update(errors.iter().cloned()) {
            tracing::warn!(source = %source, reason = %reason, "Certificate source not read.");
        }

        let mut b = Batch::default();
        let rows: Vec<_> = found
            .iter()
            .map(|(source, c)| {
                let l = labels([
                    ("source", source),
                    ("subject_cn", &c.subject_cn),
                    ("issuer_cn", &c.issuer_cn),
                    ("serial", &c.serial),
                ]);
                (l, c)
            })
            .collect();
        #[allow(clippy::cast_precision_loss)]
        for (l, c) in &rows {
            b.push(&CERT_NOT_AFTER, Arc::clone(l), c.not_after as f64);
        }
        #[allow(clippy::cast_precision_loss)]
        for (l, c) in &rows {
            b.push(&CERT_NOT_BEFORE, Arc::clone(l), c.not_before as f64);
        }
        for (source, reason) in &verify {
            let ok = if reason.is_empty() { 1.0 } else { 0.0 };
            b.push(
                &CERT_VERIFY_OK,
                labels([("source", source), ("reason", reason)]),
                ok,
            );
        }
        for (source, reason) in &errors {
            b.push(
                &CERT_SOURCE_ERROR,
                labels([("source", source), ("reason", reason)]),
                1.0,
            );
        }
        Ok(b)
    }
}

/// Certificates found as (source, certificate), and problems as (source, reason).
type Scanned = (Vec<(String, CertInfo)>, Vec<(String, String)>);

/// Paths a glob may yield before the scan stops (`too_many_files`): `**` through a
/// symbolic link loop yields without end.
const MAX_PATHS_PER_PATTERN: usize = 10_000;

/// The certificates of every file `pattern` matches, each file once (by device and inode,
/// over all patterns: a link loop or a second link to a file adds nothing), and the
/// problems as (source, reason). Stops at `deadline` or after [`MAX_PATHS_PER_PATTERN`].
fn scan(
    pattern: &str,
    deadline: std::time::Instant,
    seen: &mut std::collections::HashSet<(u64, u64)>,
) -> Scanned {
    use std::os::unix::fs::MetadataExt as _;
    let mut found = Vec::new();
    let mut problems = Vec::new();
    let plain = !pattern.contains(['*', '?', '[']);
    let Ok(paths) = glob::glob(pattern) else {
        return (found, vec![(pattern.to_owned(), "no_match".into())]);
    };
    let mut matched = 0;
    for (n, path) in paths.filter_map(Result::ok).enumerate() {
        if n >= MAX_PATHS_PER_PATTERN {
            problems.push((pattern.to_owned(), "too_many_files".into()));
            break;
        }
        if std::time::Instant::now() > deadline {
            problems.push((pattern.to_owned(), "timeout".into()));
            break;
        }
        let Ok(meta) = std::fs::metadata(&path) else {
            continue;
        };
        // A glob's directories are not certificates; a plain path that is one is reported.
        if meta.is_dir() && !plain {
            continue;
        }
        matched += 1;
        if !seen.insert((meta.dev(), meta.ino())) {
            continue;
        }
        let source = path.display().to_string();
        match read_cert_file(&path) {
            Ok(certs) => found.extend(certs.into_iter().map(|c| (source.clone(), c))),
            Err(reason) => problems.push((source, reason.into())),
        }
    }
    if matched == 0 && problems.is_empty() {
        problems.push((
            pattern.to_owned(),
            if plain { "missing" } else { "no_match" }.into(),
        ));
    }
    (found, problems)
}

/// Every certificate in a PEM bundle, or the one in a DER file.
pub fn read_cert_file(path: &Path) -> Result<Vec<CertInfo>, &'static str> {
    let data = crate::bounded::read(path, crate::bounded::caps::PEM).map_err(|e| match e {
        crate::bounded::ReadError::NotAFile(_) => "not_a_file",
        crate::bounded::ReadError::TooLarge { .. } => "too_large",
        _ => "unreadable",
    })?;
    parse_certs(&data)
}

/// Every certificate of a PEM bundle, or the one of a DER file; the reason otherwise.
pub fn parse_certs(data: &[u8]) -> Result<Vec<CertInfo>, &'static str> {
    if data.windows(11).any(|w| w == b"-----BEGIN ") {
        let certs: Vec<CertInfo> = x509_parser::pem::Pem::iter_from_buffer(data)
            .filter_map(Result::ok)
            .filter(|p| p.label == "CERTIFICATE" || p.label == "TRUSTED CERTIFICATE")
            .filter_map(|p| cert_info(&p.contents).ok())
            .collect();
        if certs.is_empty() {
            return Err("not_a_certificate");
        }
        return Ok(certs);
    }
    cert_info(data)
        .map(|c| vec![c])
        .map_err(|()| "not_a_certificate")
}

fn cert_info(der: &[u8]) -> Result<CertInfo, ()> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).map_err(|_| ())?;
    let cn = |name: &x509_parser::x509::X509Name<'_>| {
        name.iter_common_name()
            .next()
            .and_then(|cn| cn.as_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    Ok(CertInfo {
        subject_cn: cn(cert.subject()),
        issuer_cn: cn(cert.issuer()),
        serial: cert.raw_serial_as_string().replace(':', ""),
        not_before: cert.validity().not_before.timestamp(),
        not_after: cert.validity().not_after.timestamp(),
    })
}

/// A short, stable reason from a rustls error, for a label.
fn tls_reason(message: &str) -> String {
    let m = message.to_ascii_lowercase();
    let reason = if m.contains("expired") {
        "expired"
    } else if m.contains("not valid yet") || m.contains("notvalidyet") {
        "not_yet_valid"
    } else if m.contains("unknownissuer")
        || m.contains("unknown issuer")
        // openssl's default self-signed certificate is a CA certificate, which webpki
        // refuses as "a CA used as end entity" before it looks for an issuer.
        || m.contains("causedasendentity")
    {
        "unknown_issuer"
    } else if m.contains("notvalidforname") || m.contains("not valid for name") {
        "wrong_name"
    } else if m.contains("revoked") {
        "revoked"
    } else if m.contains("badsignature") || m.contains("bad signature") {
        "bad_signature"
    } else if m.contains("certificate") {
        "invalid_certificate"
    } else {
        "tls_error"
    };
    reason.to_owned()
}

/// Whether the certificate names itself as its issuer.
fn self_signed(der: &CertificateDer<'_>) -> bool {
    x509_parser::parse_x509_certificate(der)
        .is_ok_and(|(_, cert)| cert.issuer().as_raw() == cert.subject().as_raw())
}

/// Verifies like a normal client but never fails the handshake: the outcome is recorded,
/// so a certificate that is expired, self-signed or for another name is still read.
#[derive(Debug)]
struct RecordingVerifier {
    inner: Option<Arc<WebPkiServerVerifier>>,
    provider: Arc<CryptoProvider>,
    /// `Some(None)`: verified; `Some(Some(reason))`: would not verify; `None`: no handshake.
    #[allow(clippy::option_option)]
    outcome: Mutex<Option<Option<String>>>,
}

impl ServerCertVerifier for RecordingVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let failure = match &self.inner {
            None => Some("no_trust_roots".to_owned()),
            Some(v) => v
                .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
                .err()
                .map(|e| {
                    let reason = tls_reason(&format!("{e} {e:?}"));
                    // A self-signed certificate has no issuer to find: whatever webpki met
                    // on the way (a root of another key type, say), that is the reason.
                    if intermediates.is_empty()
                        && matches!(reason.as_str(), "invalid_certificate" | "tls_error")
                        && self_signed(end_entity)
                    {
                        "unknown_issuer".to_owned()
                    } else {
                        reason
                    }
                })
        };
        *crate::sync::lock(&self.outcome) = Some(failure);
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
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
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
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

/// Checks `[certs]`: globs and endpoint addresses.
pub fn check(config: &CertsConfig, errors: &mut Problems) {
    for (i, f) in config.files.iter().enumerate() {
        if f.paths.is_empty() {
            errors.push(ConfigError::new(
                format!("certs.files[{i}].paths"),
                "must list at least one path or glob",
            ));
        }
        for (j, p) in f.paths.iter().enumerate() {
            errors.extend(glob_problem(format!("certs.files[{i}].paths[{j}]"), p));
        }
    }
    for (i, e) in config.endpoints.iter().enumerate() {
        if split_host_port(&e.address).is_none() {
            errors.push(ConfigError::new(
                format!("certs.endpoints[{i}].address"),
                format!("expected host:port, got {:?}", e.address),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_reasons_name_self_signed_certificates_unknown_issuer() {
        let reason = |e: rustls::Error| tls_reason(&format!("{e} {e:?}"));
        assert_eq!(
            reason(rustls::Error::InvalidCertificate(
                rustls::CertificateError::UnknownIssuer
            )),
            "unknown_issuer"
        );
        assert_eq!(
            reason(rustls::Error::InvalidCertificate(rustls::CertificateError::Expired)),
            "expired"
        );
        // What webpki says of openssl's self-signed (CA) certificate.
        assert_eq!(
            tls_reason("invalid peer certificate: Other(OtherError(CaUsedAsEndEntity))"),
            "unknown_issuer"
        );
        assert_eq!(
            reason(rustls::Error::InvalidCertificate(
                rustls::CertificateError::BadEncoding
            )),
            "invalid_certificate"
        );
    }

    fn cert(cn: &str, days: i64) -> (rcgen::Certificate, rcgen::KeyPair) {
        let mut params = rcgen::CertificateParams::new(vec![cn.to_owned()]).unwrap();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, cn);
        let now = time_now();
        params.not_before = rcgen::date_time_ymd(2020, 1, 1);
        params.not_after = now + ::time::Duration::days(days);
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        (cert, key)
    }

    fn time_now() -> ::time::OffsetDateTime {
        ::time::OffsetDateTime::now_utc()
    }

    #[test]
    fn pem_bundle_der_and_garbage() {
        let a = cert("a.example", 10);
        let b = cert("b.example", 100);
        let bundle = format!("{}{}", a.0.pem(), b.0.pem());
        let certs = parse_certs(bundle.as_bytes()).unwrap();
        assert_eq!(certs.len(), 2);
        assert_eq!(certs[0].subject_cn, "a.example");
        assert_eq!(certs[0].issuer_cn, "a.example");
        let in_ten_days = time_now().unix_timestamp() + 10 * 86400;
        assert!((certs[0].not_after - in_ten_days).abs() < 5);
        let der = parse_certs(a.0.der()).unwrap();
        assert_eq!(der, certs[..1]);
        assert_eq!(parse_certs(b"hello"), Err("not_a_certificate"));
        assert_eq!(
            parse_certs(a.1.serialize_pem().as_bytes()),
            Err("not_a_certificate")
        );
    }
}
