//! What the server certificate says, and why it does or does not verify.
//!
//! The verdict "verified" always comes from the mount's own verifier (the
//! handshake of a real connection); this module only explains it, by
//! running the same two checks separately: a webpki chain check against
//! the built-in roots plus `cafile`, and byte-equality with a `cafile`
//! certificate plus a name check.

use rustls::client::danger::ServerCertVerifier;
use rustls::client::WebPkiServerVerifier;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, RootCertStore};
use serde::Serialize;
use std::sync::Arc;
use x509_parser::extensions::GeneralName;

/// The server certificate as shown to the user.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct CertReport {
    /// Subject distinguished name, e.g. `CN=localhost`.
    pub subject: String,
    /// Issuer distinguished name.
    pub issuer: String,
    /// Subject alternative names, e.g. `DNS:localhost`, `IP:127.0.0.1`.
    pub sans: Vec<String>,
    /// SHA-256 of the DER certificate, colon-separated upper-case hex.
    pub sha256: String,
    /// Start of validity, `YYYY-MM-DD HH:MM:SS UTC`.
    pub not_before: String,
    /// End of validity (expiry), `YYYY-MM-DD HH:MM:SS UTC`.
    pub not_after: String,
    /// The certificate has expired.
    pub expired: bool,
    /// Issuer and subject are the same.
    pub self_signed: bool,
    /// Basic constraints say CA:TRUE.
    pub ca: bool,
    /// Certificates examined: the whole chain on the diagnostic connection,
    /// only the end entity on a verified one.
    pub chain_length: usize,
    /// The certificate is byte-identical to one in `cafile`.
    pub in_cafile: bool,
    /// The mount's verifier accepted the certificate.
    pub verified: bool,
    /// One line: how it verified, or why not.
    pub verification: String,
    /// Short reasons it fails (empty when verified).
    pub problems: Vec<String>,
}

/// Facts about the chain, independent of the verdict.
struct Facts {
    chain_ok: Result<(), String>,
    name_ok: bool,
    in_cafile: bool,
}

/// Describes `chain` (end entity first) as presented for `host`.
///
/// `verified` is the result of the mount's verifier; `cafile` holds the
/// certificates of `-o cafile=`.
pub fn analyze(
    chain: &[CertificateDer<'_>],
    host: &str,
    cafile: &[CertificateDer<'static>],
    verified: bool,
    now: UnixTime,
) -> CertReport {
    let mut r = CertReport {
        chain_length: chain.len(),
        verified,
        ..CertReport::default()
    };
    let Some(ee) = chain.first() else {
        r.verification = "no: the server sent no certificate".into();
        r.problems.push("no certificate".into());
        return r;
    };
    r.sha256 = fingerprint(ee.as_ref());
    describe_fields(ee.as_ref(), now, &mut r);
    let facts = check(chain, host, cafile, now);
    r.in_cafile = facts.in_cafile;
    if verified {
        r.verification = match (&facts.chain_ok, facts.in_cafile) {
            (Ok(()), _) => "yes: chains to a trusted root".into(),
            (Err(_), true) if r.ca && r.self_signed => {
                "yes: byte-identical to a cafile certificate \
                 (self-signed CA:TRUE, which the chain check alone refuses); name checked"
                    .into()
            }
            (Err(_), true) => "yes: byte-identical to a cafile certificate; name checked".into(),
            (Err(_), false) => "yes: accepted by the verifier".into(),
        };
        return r;
    }
    if let Err(why) = &facts.chain_ok {
        r.problems.push(why.clone());
    }
    if !facts.name_ok && !r.problems.iter().any(|p| p.starts_with("name mismatch")) {
        r.problems.push(name_problem(host, &r.sans));
    }
    if r.expired && !r.problems.iter().any(|p| p == "expired") {
        r.problems.push("expired".into());
    }
    if r.self_signed && !facts.in_cafile {
        // Whatever webpki complained about first, no one vouches for it.
        r.problems.retain(|p| p != "untrusted issuer");
        r.problems
            .insert(0, "untrusted issuer (self-signed)".into());
    }
    if facts.in_cafile && facts.name_ok {
        r.problems
            .push("byte-identical to a cafile certificate, yet refused".into());
    }
    r.verification = format!("no: {}", r.problems.join("; "));
    r
}

fn name_problem(host: &str, sans: &[String]) -> String {
    if sans.is_empty() {
        format!("name mismatch: {host} is not in the certificate (it has no SANs)")
    } else {
        format!(
            "name mismatch: {host} is not among the certificate's names ({})",
            sans.join(", ")
        )
    }
}

/// The two checks the mount's verifier makes, run separately.
fn check(
    chain: &[CertificateDer<'_>],
    host: &str,
    cafile: &[CertificateDer<'static>],
    now: UnixTime,
) -> Facts {
    let ee = &chain[0];
    let in_cafile = cafile.iter().any(|c| c.as_ref() == ee.as_ref());
    let Ok(name) = ServerName::try_from(host.to_string()) else {
        return Facts {
            chain_ok: Err(format!("invalid server name {host:?}")),
            name_ok: false,
            in_cafile,
        };
    };
    let name_ok = webpki::EndEntityCert::try_from(ee)
        .map(|c| c.verify_is_valid_for_subject_name(&name).is_ok())
        .unwrap_or(false);
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    for c in cafile {
        let _ = roots.add(c.clone());
    }
    let chain_ok =
        match WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider).build() {
            Ok(v) => v
                .verify_server_cert(ee, &chain[1..], &name, &[], now)
                .map(drop)
                .map_err(|e| explain(&e, host)),
            Err(e) => Err(format!("verifier: {e}")),
        };
    Facts {
        chain_ok,
        name_ok,
        in_cafile,
    }
}

/// A short reason for a verification error.
fn explain(e: &rustls::Error, host: &str) -> String {
    let rustls::Error::InvalidCertificate(ce) = e else {
        return e.to_string();
    };
    match ce {
        CertificateError::UnknownIssuer => "untrusted issuer".into(),
        CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
            format!("name mismatch: {host}")
        }
        CertificateError::Expired | CertificateError::ExpiredContext { .. } => "expired".into(),
        CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
            "not yet valid".into()
        }
        CertificateError::BadEncoding => "malformed certificate".into(),
        CertificateError::BadSignature => "bad signature".into(),
        CertificateError::Revoked => "revoked".into(),
        CertificateError::InvalidPurpose | CertificateError::InvalidPurposeContext { .. } => {
            "not valid for TLS server authentication".into()
        }
        other => {
            let text = format!("{other:?}");
            if text.contains("CaUsedAsEndEntity") {
                "CA certificate (CA:TRUE) used as the server certificate".into()
            } else {
                format!("rejected ({other})")
            }
        }
    }
}

/// Subject, issuer, SANs, validity and CA flag; placeholders when the
/// certificate does not parse.
fn describe_fields(der: &[u8], now: UnixTime, r: &mut CertReport) {
    let cert = match x509_parser::parse_x509_certificate(der) {
        Ok((_, c)) => c,
        Err(e) => {
            r.subject = format!("(cannot parse the certificate: {e})");
            r.problems.push("certificate does not parse".into());
            return;
        }
    };
    r.subject = cert.subject().to_string();
    r.issuer = cert.issuer().to_string();
    r.self_signed = cert.subject().as_raw() == cert.issuer().as_raw();
    let validity = cert.validity();
    r.not_before = format_time(validity.not_before.timestamp());
    r.not_after = format_time(validity.not_after.timestamp());
    let now = i64::try_from(now.as_secs()).unwrap_or(i64::MAX);
    r.expired = validity.not_after.timestamp() < now;
    if let Ok(Some(bc)) = cert.basic_constraints() {
        r.ca = bc.value.ca;
    }
    if let Ok(Some(san)) = cert.subject_alternative_name() {
        r.sans = san.value.general_names.iter().map(general_name).collect();
    }
}

fn general_name(n: &GeneralName<'_>) -> String {
    match n {
        GeneralName::DNSName(s) => format!("DNS:{s}"),
        GeneralName::IPAddress(b) => match b.len() {
            4 => {
                let a: [u8; 4] = [b[0], b[1], b[2], b[3]];
                format!("IP:{}", std::net::Ipv4Addr::from(a))
            }
            16 => {
                let mut a = [0u8; 16];
                a.copy_from_slice(b);
                format!("IP:{}", std::net::Ipv6Addr::from(a))
            }
            _ => "IP:(malformed)".into(),
        },
        GeneralName::RFC822Name(s) => format!("email:{s}"),
        GeneralName::URI(s) => format!("URI:{s}"),
        other => format!("{other}"),
    }
}

/// SHA-256 of `der` as `AB:CD:...`.
pub fn fingerprint(der: &[u8]) -> String {
    let suite = rustls::crypto::ring::cipher_suite::TLS13_AES_128_GCM_SHA256;
    let Some(s) = suite.tls13() else {
        return String::new();
    };
    let digest = s.common.hash_provider.hash(der);
    digest
        .as_ref()
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// Seconds since the epoch as `YYYY-MM-DD HH:MM:SS UTC`.
pub fn format_time(secs: i64) -> String {
    let (y, m, d, hh, mm, ss) = crate::ftp::list::utc_civil(secs);
    format!("{y:04}-{m:02}-{d:02} {hh:02}:{mm:02}:{ss:02} UTC")
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustls::pki_types::pem::PemObject;

    #[test]
    fn times_format_as_utc_dates() {
        assert_eq!(format_time(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(format_time(951_782_400), "2000-02-29 00:00:00 UTC");
        assert_eq!(format_time(2_082_758_399), "2035-12-31 23:59:59 UTC");
        assert_eq!(format_time(-1), "1969-12-31 23:59:59 UTC");
    }

    #[test]
    fn garbage_is_described_not_panicked_on() {
        let junk = CertificateDer::from(vec![0x30, 0x03, 0x02, 0x01]);
        let r = analyze(&[junk], "localhost", &[], false, UnixTime::now());
        assert!(!r.verified);
        assert!(r.subject.contains("cannot parse"));
        assert!(r.verification.starts_with("no: "));
        let r = analyze(&[], "localhost", &[], false, UnixTime::now());
        assert_eq!(r.problems, ["no certificate"]);
    }

    fn expired() -> CertificateDer<'static> {
        let pem = include_bytes!("../../tests/data/probe/expired-selfsigned.pem");
        CertificateDer::from_pem_slice(pem).unwrap()
    }

    #[test]
    fn expired_self_signed_certificate_is_explained() {
        let c = expired();
        let r = analyze(
            std::slice::from_ref(&c),
            "expired.example",
            &[],
            false,
            UnixTime::now(),
        );
        assert_eq!(r.subject, "CN=expired.example");
        assert_eq!(r.sans, ["DNS:expired.example"]);
        assert_eq!(r.not_after, "2020-01-01 12:00:00 UTC");
        assert!(r.expired && r.self_signed && !r.ca && !r.in_cafile);
        assert_eq!(r.problems[0], "untrusted issuer (self-signed)");
        assert!(r.problems.iter().any(|p| p == "expired"), "{r:?}");
        assert!(!r.problems.iter().any(|p| p.starts_with("name")), "{r:?}");
    }

    #[test]
    fn name_mismatch_of_a_pinned_certificate_is_explained() {
        let c = expired();
        let r = analyze(
            std::slice::from_ref(&c),
            "other.example",
            std::slice::from_ref(&c),
            false,
            UnixTime::now(),
        );
        assert!(r.in_cafile);
        assert!(
            r.problems.iter().any(|p| p.starts_with(
                "name mismatch: other.example is not among the certificate's names (DNS:expired.example)"
            )),
            "{r:?}"
        );
        assert!(r.verification.starts_with("no: "));
    }

    #[test]
    fn a_verified_pinned_certificate_says_why() {
        let c = expired();
        let r = analyze(
            std::slice::from_ref(&c),
            "expired.example",
            std::slice::from_ref(&c),
            true,
            UnixTime::now(),
        );
        assert!(r.verified && r.problems.is_empty());
        assert_eq!(
            r.verification,
            "yes: byte-identical to a cafile certificate; name checked"
        );
    }

    #[test]
    fn fingerprint_is_sha256() {
        // SHA-256("abc")
        assert!(fingerprint(b"abc").starts_with("BA:78:16:BF:8F:01:CF:EA"));
        assert_eq!(fingerprint(b"abc").len(), 32 * 3 - 1);
    }
}
