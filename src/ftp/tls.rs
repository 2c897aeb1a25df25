//! TLS configuration for control and data connections.
//!
//! One [`SessionStore`] per control connection: its data connections resume
//! that connection's own TLS session (vsftpd and proftpd require it), and two
//! FTP sessions never share tickets.

use super::error::{Error, Result};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::{ClientSessionStore, Resumption, WebPkiServerVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{
    CipherSuite, ClientConfig, DigitallySignedStruct, NamedGroup, RootCertStore, SignatureScheme,
};
use std::collections::VecDeque;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// Which TLS protocol versions we offer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Versions {
    /// TLS 1.3 and 1.2.
    #[default]
    Both,
    /// TLS 1.2 only.
    Only12,
    /// TLS 1.3 only.
    Only13,
}

/// A client certificate chain and its private key (RFC 4217 section 11.1:
/// certificate login), presented on the control and data connections.
pub struct Identity {
    certs: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
}

impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Identity")
            .field("certs", &self.certs.len())
            .finish_non_exhaustive()
    }
}

impl Identity {
    /// Reads a PEM certificate chain and a PEM private key (PKCS#8, PKCS#1
    /// or SEC1); both may be in the same file.
    pub fn load(cert: &Path, key: &Path) -> Result<Identity> {
        let certs = load_certs(cert)?;
        let key = PrivateKeyDer::from_pem_file(key).map_err(|e| {
            Error::Protocol(format!("no usable private key in {}: {e}", key.display()))
        })?;
        Ok(Identity { certs, key })
    }
}

/// Builds the shared client configuration: webpki roots plus `cafile`, and
/// the client certificate when `identity` is given.
///
/// A server certificate byte-identical to one in `cafile` is accepted even
/// when it is a self-signed CA certificate (as `openssl req -x509` makes
/// them), which webpki alone refuses; its name is still checked.
pub fn client_config(
    cafile: Option<&Path>,
    versions: Versions,
    identity: Option<&Identity>,
) -> Result<Arc<ClientConfig>> {
    client_config_trusting(&Trust::roots(cafile), versions, identity)
}

/// Like [`client_config`], with the server certificate checked as `trust` says.
pub fn client_config_trusting(
    trust: &Trust,
    versions: Versions,
    identity: Option<&Identity>,
) -> Result<Arc<ClientConfig>> {
    let provider = provider();
    let check = match &trust.0 {
        TrustKind::Roots(cafile) => {
            let mut roots = RootCertStore::empty();
            roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
            let mut pinned = Vec::new();
            if let Some(path) = cafile {
                let certs = load_certs(path)?;
                for cert in certs {
                    // A leaf certificate may not parse as a trust anchor; it still counts as pinned.
                    let _ = roots.add(cert.clone());
                    pinned.push(cert);
                }
            }
            let inner =
                WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                    .build()
                    .map_err(|e| Error::Protocol(format!("TLS verifier: {e}")))?;
            Check::WebPki { inner, pinned }
        }
        TrustKind::Pinned(fp) => Check::Fingerprint(*fp),
        TrustKind::Nothing => Check::Nothing { recorder: None },
    };
    let verifier = Verifier {
        check,
        provider: provider.clone(),
    };
    build(verifier, versions, identity)
}

/// How the server's certificate is checked.
///
/// [`Trust::roots`] (the default) and [`Trust::pinned`] are safe;
/// turning verification off is only reachable through [`Trust::dangerous`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trust(TrustKind);

#[derive(Debug, Clone, PartialEq, Eq)]
enum TrustKind {
    Roots(Option<PathBuf>),
    Pinned(Fingerprint),
    Nothing,
}

impl Trust {
    /// The built-in web PKI roots plus the certificates of `cafile`; the
    /// certificate must name the server.
    pub fn roots(cafile: Option<&Path>) -> Trust {
        Trust(TrustKind::Roots(cafile.map(Path::to_path_buf)))
    }

    /// Only a server whose end-entity certificate has this SHA-256
    /// fingerprint: no CA chain, name or date check (self-signed servers).
    /// The TLS handshake signatures are still checked, so the server must
    /// hold the certificate's private key.
    pub fn pinned(fingerprint: Fingerprint) -> Trust {
        Trust(TrustKind::Pinned(fingerprint))
    }

    /// Settings that remove protection; see [`DangerousTrust`].
    pub fn dangerous() -> DangerousTrust {
        DangerousTrust(())
    }

    /// True when the server's certificate is not checked at all.
    pub fn is_dangerous(&self) -> bool {
        self.0 == TrustKind::Nothing
    }
}

/// Trust settings that leave the connection open to anyone on the network
/// path. Reached only through [`Trust::dangerous`].
#[derive(Debug)]
pub struct DangerousTrust(());

impl DangerousTrust {
    /// Accepts any server certificate: the connection is still encrypted,
    /// but whoever sits between us and the server can read and change
    /// everything, the password included.
    pub fn no_certificate_verification(self) -> Trust {
        Trust(TrustKind::Nothing)
    }
}

/// The SHA-256 fingerprint of a certificate (its DER bytes).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Fingerprint([u8; 32]);

impl Fingerprint {
    /// The fingerprint of a DER certificate.
    pub fn of(der: &[u8]) -> Fingerprint {
        let digest = ring::digest::digest(&ring::digest::SHA256, der);
        let mut out = [0u8; 32];
        out.copy_from_slice(digest.as_ref());
        Fingerprint(out)
    }

    /// Parses `sha256:HEX`: 64 hex digits, either case, optionally
    /// separated by colons (`AB:CD:...`, as `openssl x509 -fingerprint
    /// -sha256` prints them).
    pub fn parse(s: &str) -> std::result::Result<Fingerprint, String> {
        let bad = || format!("{s:?} is not sha256: followed by 64 hex digits");
        let hex = s
            .get(..7)
            .filter(|p| p.eq_ignore_ascii_case("sha256:"))
            .map(|_| &s[7..])
            .ok_or_else(bad)?;
        let digits: Vec<u8> = hex.bytes().filter(|&b| b != b':').collect();
        if digits.len() != 64 || !digits.iter().all(u8::is_ascii_hexdigit) {
            return Err(bad());
        }
        let nibble = |b: u8| match b {
            b'0'..=b'9' => b - b'0',
            _ => (b | 0x20) - b'a' + 10,
        };
        let mut out = [0u8; 32];
        for (o, pair) in out.iter_mut().zip(digits.chunks(2)) {
            *o = nibble(pair[0]) << 4 | nibble(pair[1]);
        }
        Ok(Fingerprint(out))
    }

    /// `AB:CD:...`: 32 upper-case hex pairs joined by colons.
    pub fn hex(&self) -> String {
        self.0
            .iter()
            .map(|b| format!("{b:02X}"))
            .collect::<Vec<_>>()
            .join(":")
    }
}

/// `sha256:AB:CD:...`, the form `-o fingerprint=` accepts.
impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sha256:{}", self.hex())
    }
}

impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// The server's certificate is not the pinned one (`-o fingerprint=`).
#[derive(Debug)]
pub struct FingerprintMismatch {
    /// The fingerprint of the certificate the server presented.
    pub presented: Fingerprint,
    /// The pinned fingerprint.
    pub expected: Fingerprint,
}

impl fmt::Display for FingerprintMismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the server presented a certificate with fingerprint {}, not the pinned fingerprint={}",
            self.presented, self.expected
        )
    }
}

impl std::error::Error for FingerprintMismatch {}

/// RFC 4217 14.1.1: a data connection must present the same end-entity
/// certificate as its control connection (resumed sessions carry the
/// certificate of the session they resume). A missing certificate on
/// either side is a mismatch.
pub fn check_data_certificate(control: Option<&[u8]>, data: Option<&[u8]>) -> Result<()> {
    match (control, data) {
        (Some(c), Some(d)) if c == d => Ok(()),
        _ => Err(Error::DataCertificateMismatch),
    }
}

/// A configuration whose verifier records the server's chain in `recorder`
/// and accepts it whatever it is (signatures are still checked). For
/// diagnostics only: a connection made with it must never log in.
pub(crate) fn dangerous_recording_config(
    versions: Versions,
    recorder: Arc<ChainRecorder>,
) -> Result<Arc<ClientConfig>> {
    let verifier = Verifier {
        check: Check::Nothing {
            recorder: Some(recorder),
        },
        provider: provider(),
    };
    build(verifier, versions, None)
}

/// rustls' ring provider, with AES-128-GCM offered first (as Go and
/// BoringSSL do where the CPU has AES instructions). A server that follows
/// the client's order (vsftpd does in TLS 1.3; proftpd keeps its own and
/// picks AES-256) then hashes its key schedule with SHA-256, which has CPU
/// instructions where SHA-384 has none, and bulk data costs 10 AES rounds
/// a block instead of 14, on both sides. Every suite offered is still an
/// AEAD with forward secrecy.
fn provider() -> Arc<CryptoProvider> {
    let mut p = rustls::crypto::ring::default_provider();
    p.cipher_suites.sort_by_key(|s| {
        !matches!(
            s.suite(),
            CipherSuite::TLS13_AES_128_GCM_SHA256
                | CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256
                | CipherSuite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256
        )
    });
    Arc::new(p)
}

fn build(
    verifier: Verifier,
    versions: Versions,
    identity: Option<&Identity>,
) -> Result<Arc<ClientConfig>> {
    let provider = verifier.provider.clone();
    let versions: &[&rustls::SupportedProtocolVersion] = match versions {
        Versions::Both => &[&rustls::version::TLS13, &rustls::version::TLS12],
        Versions::Only12 => &[&rustls::version::TLS12],
        Versions::Only13 => &[&rustls::version::TLS13],
    };
    let verifier = Arc::new(verifier);
    let builder = ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(versions)?
        .dangerous()
        .with_custom_certificate_verifier(verifier);
    let config = match identity {
        Some(id) => builder
            .with_client_auth_cert(id.certs.clone(), id.key.clone_key())
            .map_err(|e| Error::Protocol(format!("client certificate: {e}")))?,
        None => builder.with_no_client_auth(),
    };
    Ok(Arc::new(config))
}

/// The configurations of one FTP session: one for its control connection,
/// one for its data connections, and their resumption store. The control
/// connection resumes a session from `shared` when it can (a reconnect)
/// and leaves its tickets there too; data connections resume the control
/// connection's session only.
pub fn session_config(base: &Arc<ClientConfig>, shared: &Arc<SessionStore>) -> SessionConfig {
    let store = Arc::new(SessionStore::default());
    let mut data = (**base).clone();
    data.resumption = Resumption::store(store.clone());
    let mut control = (**base).clone();
    control.resumption = Resumption::store(Arc::new(ControlStore {
        own: store.clone(),
        shared: shared.clone(),
    }));
    SessionConfig {
        control: Arc::new(control),
        data: Arc::new(data),
        store,
    }
}

/// What [`session_config`] makes.
pub struct SessionConfig {
    /// For the control connection's handshake.
    pub control: Arc<ClientConfig>,
    /// For data connections.
    pub data: Arc<ClientConfig>,
    /// The session's tickets, which data connections spend.
    pub store: Arc<SessionStore>,
}

/// Reads every certificate of a PEM file.
pub fn load_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
        .map_err(|e| Error::Protocol(format!("cannot read {}: {e}", path.display())))?
        .collect::<std::result::Result<_, _>>()
        .map_err(|e| Error::Protocol(format!("bad PEM in {}: {e}", path.display())))?;
    if certs.is_empty() {
        return Err(Error::Protocol(format!(
            "no certificate found in {}",
            path.display()
        )));
    }
    Ok(certs)
}

/// The certificate chain a diagnostic handshake saw (end entity first).
#[derive(Debug, Default)]
pub struct ChainRecorder {
    chain: Mutex<Vec<CertificateDer<'static>>>,
}

impl ChainRecorder {
    /// The chain of the last handshake; empty before any.
    pub fn chain(&self) -> Vec<CertificateDer<'static>> {
        self.chain.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

/// Certificate verification: webpki, or byte-equality with a cafile
/// certificate; or the pinned fingerprint; or (dangerous, or for
/// diagnostics) none, recording the chain when asked. Handshake
/// signatures are checked in every case.
#[derive(Debug)]
struct Verifier {
    check: Check,
    provider: Arc<CryptoProvider>,
}

#[derive(Debug)]
enum Check {
    WebPki {
        inner: Arc<WebPkiServerVerifier>,
        pinned: Vec<CertificateDer<'static>>,
    },
    Fingerprint(Fingerprint),
    Nothing {
        recorder: Option<Arc<ChainRecorder>>,
    },
}

impl ServerCertVerifier for Verifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        let (inner, pinned) = match &self.check {
            Check::WebPki { inner, pinned } => (inner, pinned),
            Check::Fingerprint(expected) => {
                let presented = Fingerprint::of(end_entity.as_ref());
                if presented == *expected {
                    return Ok(ServerCertVerified::assertion());
                }
                return Err(rustls::Error::InvalidCertificate(
                    rustls::CertificateError::Other(rustls::OtherError(Arc::new(
                        FingerprintMismatch {
                            presented,
                            expected: *expected,
                        },
                    ))),
                ));
            }
            Check::Nothing { recorder } => {
                if let Some(r) = recorder {
                    let mut chain = vec![end_entity.clone().into_owned()];
                    chain.extend(intermediates.iter().map(|c| c.clone().into_owned()));
                    *r.chain.lock().unwrap_or_else(|p| p.into_inner()) = chain;
                }
                return Ok(ServerCertVerified::assertion());
            }
        };
        match inner.verify_server_cert(end_entity, intermediates, server_name, ocsp, now) {
            Ok(v) => Ok(v),
            Err(e) => {
                if pinned.iter().any(|p| p.as_ref() == end_entity.as_ref()) {
                    let cert = webpki::EndEntityCert::try_from(end_entity).map_err(|_| {
                        rustls::Error::InvalidCertificate(rustls::CertificateError::BadEncoding)
                    })?;
                    cert.verify_is_valid_for_subject_name(server_name)
                        .map_err(|_| {
                            rustls::Error::InvalidCertificate(
                                rustls::CertificateError::NotValidForName,
                            )
                        })?;
                    Ok(ServerCertVerified::assertion())
                } else {
                    Err(e)
                }
            }
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
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
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
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

/// Most TLS 1.3 tickets kept per session.
const MAX_TICKETS: usize = 8;

/// The resumption store of one FTP session (its control and data connections).
///
/// Like rustls' in-memory cache, but it can tell how many TLS 1.3 tickets are
/// left: each data connection spends one, and a server that requires session
/// reuse refuses a data connection made without one.
#[derive(Debug, Default)]
pub struct SessionStore {
    state: Mutex<StoreState>,
}

#[derive(Debug, Default)]
struct StoreState {
    kx_hint: Option<NamedGroup>,
    tls12: Option<rustls::client::Tls12ClientSessionValue>,
    tls13: VecDeque<rustls::client::Tls13ClientSessionValue>,
}

impl SessionStore {
    /// TLS 1.3 tickets available for resuming.
    pub fn tls13_tickets(&self) -> usize {
        self.lock().tls13.len()
    }

    /// Moves the TLS 1.3 tickets left here to `to` (a session ending:
    /// its tickets let a later control connection resume).
    pub fn hand_over(&self, to: &SessionStore) {
        let tickets = std::mem::take(&mut self.lock().tls13);
        let mut to = to.lock();
        for t in tickets {
            if to.tls13.len() == MAX_TICKETS {
                to.tls13.pop_front();
            }
            to.tls13.push_back(t);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, StoreState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The store a control connection's handshake uses: a TLS 1.3 resumption
/// comes from the session itself or else from the mount's earlier
/// sessions (see [`SessionStore::hand_over`]).
#[derive(Debug)]
struct ControlStore {
    own: Arc<SessionStore>,
    shared: Arc<SessionStore>,
}

impl ClientSessionStore for ControlStore {
    fn set_kx_hint(&self, name: ServerName<'static>, group: NamedGroup) {
        self.own.set_kx_hint(name.clone(), group);
        self.shared.set_kx_hint(name, group);
    }

    fn kx_hint(&self, name: &ServerName<'_>) -> Option<NamedGroup> {
        self.own.kx_hint(name).or_else(|| self.shared.kx_hint(name))
    }

    // TLS 1.2 sessions stay with their FTP session: proftpd refuses data
    // connections (425) of a control connection that resumed another
    // session's TLS 1.2 session.
    fn set_tls12_session(
        &self,
        name: ServerName<'static>,
        value: rustls::client::Tls12ClientSessionValue,
    ) {
        self.own.set_tls12_session(name, value);
    }

    fn tls12_session(
        &self,
        name: &ServerName<'_>,
    ) -> Option<rustls::client::Tls12ClientSessionValue> {
        self.own.tls12_session(name)
    }

    fn remove_tls12_session(&self, name: &ServerName<'static>) {
        self.own.remove_tls12_session(name);
    }

    fn insert_tls13_ticket(
        &self,
        name: ServerName<'static>,
        value: rustls::client::Tls13ClientSessionValue,
    ) {
        // A ticket can be used once: the session spends it on data
        // connections, and hands what is left over when it ends.
        self.own.insert_tls13_ticket(name, value);
    }

    fn take_tls13_ticket(
        &self,
        name: &ServerName<'static>,
    ) -> Option<rustls::client::Tls13ClientSessionValue> {
        self.own
            .take_tls13_ticket(name)
            .or_else(|| self.shared.take_tls13_ticket(name))
    }
}

impl ClientSessionStore for SessionStore {
    fn set_kx_hint(&self, _: ServerName<'static>, group: NamedGroup) {
        self.lock().kx_hint = Some(group);
    }

    fn kx_hint(&self, _: &ServerName<'_>) -> Option<NamedGroup> {
        self.lock().kx_hint
    }

    fn set_tls12_session(
        &self,
        _: ServerName<'static>,
        value: rustls::client::Tls12ClientSessionValue,
    ) {
        self.lock().tls12 = Some(value);
    }

    fn tls12_session(&self, _: &ServerName<'_>) -> Option<rustls::client::Tls12ClientSessionValue> {
        self.lock().tls12.clone()
    }

    fn remove_tls12_session(&self, _: &ServerName<'static>) {
        self.lock().tls12 = None;
    }

    fn insert_tls13_ticket(
        &self,
        _: ServerName<'static>,
        value: rustls::client::Tls13ClientSessionValue,
    ) {
        let mut s = self.lock();
        if s.tls13.len() == MAX_TICKETS {
            s.tls13.pop_front();
        }
        s.tls13.push_back(value);
    }

    fn take_tls13_ticket(
        &self,
        _: &ServerName<'static>,
    ) -> Option<rustls::client::Tls13ClientSessionValue> {
        // The newest ticket: an older one may belong to a session the server forgot.
        self.lock().tls13.pop_back()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// SHA-256("abc"), FIPS 180-2 appendix B.1.
    const ABC: &str = "BA:78:16:BF:8F:01:CF:EA:41:41:40:DE:5D:AE:22:23:B0:03:61:A3:96:17:7A:9C:B4:10:FF:61:F2:00:15:AD";

    #[test]
    fn fingerprint_is_sha256_of_the_der_bytes() {
        assert_eq!(Fingerprint::of(b"abc").hex(), ABC);
        assert_eq!(Fingerprint::of(b"abc").to_string(), format!("sha256:{ABC}"));
    }

    #[test]
    fn fingerprint_parses_with_or_without_colons_in_either_case() {
        let want = Fingerprint::of(b"abc");
        let bare = ABC.replace(':', "");
        for text in [
            format!("sha256:{ABC}"),
            format!("SHA256:{}", ABC.to_lowercase()),
            format!("sha256:{bare}"),
            format!("sha256:{}", bare.to_lowercase()),
        ] {
            assert_eq!(Fingerprint::parse(&text), Ok(want), "{text}");
        }
    }

    #[test]
    fn fingerprint_refuses_anything_but_64_hex_digits_after_sha256() {
        let bare = ABC.replace(':', "");
        for bad in [
            bare.clone(),
            format!("sha1:{bare}"),
            format!("sha256:{}", &bare[..62]),
            format!("sha256:{bare}00"),
            format!("sha256:{}g", &bare[..63]),
            format!("sha256:+{}", &bare[..63]),
            "sha256:".into(),
            "".into(),
            "sha25".into(),
            "sha256é".into(),
        ] {
            assert!(Fingerprint::parse(&bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn data_certificate_must_be_present_and_equal_to_the_control_one() {
        assert!(check_data_certificate(Some(b"cert"), Some(b"cert")).is_ok());
        for (control, data) in [
            (Some(&b"cert"[..]), Some(&b"other"[..])),
            (Some(b"cert"), None),
            (None, Some(b"cert")),
            (None, None),
        ] {
            assert!(
                matches!(
                    check_data_certificate(control, data),
                    Err(Error::DataCertificateMismatch)
                ),
                "{control:?} {data:?}"
            );
        }
    }

    #[test]
    fn no_verification_is_reached_only_through_dangerous() {
        assert!(Trust::dangerous()
            .no_certificate_verification()
            .is_dangerous());
        assert!(!Trust::roots(None).is_dangerous());
        assert!(!Trust::pinned(Fingerprint::of(b"x")).is_dangerous());
    }
}
