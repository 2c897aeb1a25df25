//! TLS configuration for control and data connections.
//!
//! One [`SessionStore`] per control connection: its data connections resume
//! that connection's own TLS session (vsftpd and proftpd require it), and two
//! FTP sessions never share tickets.

use super::error::{Error, Result};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::{ClientSessionStore, Resumption, WebPkiServerVerifier};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, NamedGroup, RootCertStore, SignatureScheme};
use std::collections::VecDeque;
use std::path::Path;
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
    let provider = Arc::new(rustls::crypto::ring::default_provider());
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
    let inner = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .map_err(|e| Error::Protocol(format!("TLS verifier: {e}")))?;
    let verifier = Verifier {
        inner: Some(inner),
        pinned,
        provider: provider.clone(),
        recorder: None,
    };
    build(verifier, versions, identity)
}

/// A configuration whose verifier records the server's chain in `recorder`
/// and accepts it whatever it is (signatures are still checked). For
/// diagnostics only: a connection made with it must never log in.
pub(crate) fn dangerous_recording_config(
    versions: Versions,
    recorder: Arc<ChainRecorder>,
) -> Result<Arc<ClientConfig>> {
    let verifier = Verifier {
        inner: None,
        pinned: Vec::new(),
        provider: Arc::new(rustls::crypto::ring::default_provider()),
        recorder: Some(recorder),
    };
    build(verifier, versions, None)
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
/// certificate; or, for diagnostics only, record the chain and accept it.
#[derive(Debug)]
struct Verifier {
    /// None only for the diagnostic verifier.
    inner: Option<Arc<WebPkiServerVerifier>>,
    pinned: Vec<CertificateDer<'static>>,
    provider: Arc<rustls::crypto::CryptoProvider>,
    recorder: Option<Arc<ChainRecorder>>,
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
        let Some(inner) = &self.inner else {
            let mut chain = vec![end_entity.clone().into_owned()];
            chain.extend(intermediates.iter().map(|c| c.clone().into_owned()));
            if let Some(r) = &self.recorder {
                *r.chain.lock().unwrap_or_else(|p| p.into_inner()) = chain;
            }
            return Ok(ServerCertVerified::assertion());
        };
        match inner.verify_server_cert(end_entity, intermediates, server_name, ocsp, now) {
            Ok(v) => Ok(v),
            Err(e) => {
                if self
                    .pinned
                    .iter()
                    .any(|p| p.as_ref() == end_entity.as_ref())
                {
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

/// The store a control connection's handshake uses: resumption comes from
/// the session itself or else from the mount's earlier sessions (see
/// [`SessionStore::hand_over`]).
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

    fn set_tls12_session(
        &self,
        name: ServerName<'static>,
        value: rustls::client::Tls12ClientSessionValue,
    ) {
        self.own.set_tls12_session(name.clone(), value.clone());
        self.shared.set_tls12_session(name, value);
    }

    fn tls12_session(
        &self,
        name: &ServerName<'_>,
    ) -> Option<rustls::client::Tls12ClientSessionValue> {
        self.own
            .tls12_session(name)
            .or_else(|| self.shared.tls12_session(name))
    }

    fn remove_tls12_session(&self, name: &ServerName<'static>) {
        self.own.remove_tls12_session(name);
        self.shared.remove_tls12_session(name);
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
