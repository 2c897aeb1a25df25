//! `ftpsfs probe`: checks a server the way a mount would use it and says
//! what works, what does not, and which mount options to use.
//!
//! Credentials are sent only on a connection whose certificate the mount's
//! own verifier accepted. A certificate that does not verify is fetched on
//! a separate, diagnostic-only connection (AUTH TLS, handshake, QUIT).

pub mod cert;
pub mod render;
pub mod report;
mod transfers;

use crate::config::{MountConfig, TlsVersions};
use crate::ftp::control::DataMode;
use crate::ftp::tls::{self, Versions};
use crate::ftp::{Command, ConnectOptions, Control, Error, TlsStart};
use report::{Check, ControlInfo, PassiveInfo, Report, Server, Utf8Info};
use rustls::pki_types::{CertificateDer, UnixTime};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::path::PathBuf;
use std::time::Duration;

/// Data transfers made in a row to check TLS session reuse.
pub const REUSE_TRANSFERS: usize = 4;

/// What to probe and how.
#[derive(Debug, Clone)]
pub struct ProbeOptions {
    /// The mount's settings: connections are made exactly as a mount
    /// with the same `-o` options would make them.
    pub mount: MountConfig,
    /// Host name or address.
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// Explicit or implicit TLS.
    pub tls_start: TlsStart,
    /// Remote directory to list.
    pub path: String,
    /// Login name.
    pub user: String,
    /// `-o cafile=`.
    pub cafile: Option<PathBuf>,
    /// `-o tls=`.
    pub versions: Versions,
    /// Bound on every network wait.
    pub timeout: Duration,
    /// Also upload, download and delete a temporary file.
    pub write: bool,
}

impl ProbeOptions {
    /// Probe settings from a mount configuration; fails when the mount's
    /// own settings would (an unreadable client certificate, say).
    pub fn new(mount: &MountConfig, user: String, write: bool) -> Result<ProbeOptions, String> {
        let base = mount.connect_options()?;
        Ok(ProbeOptions {
            mount: mount.clone(),
            host: base.host,
            port: base.port,
            tls_start: base.tls_start,
            path: mount.root.clone(),
            user,
            cafile: mount.cafile.clone(),
            versions: match mount.tls_versions {
                TlsVersions::Both => Versions::Both,
                TlsVersions::Only12 => Versions::Only12,
                TlsVersions::Only13 => Versions::Only13,
            },
            timeout: base.timeout,
            write,
        })
    }

    /// The mount's connection settings, with `tls` in place of its TLS
    /// configuration when given.
    pub(crate) fn connect_options(
        &self,
        tls: Option<std::sync::Arc<rustls::ClientConfig>>,
    ) -> ConnectOptions {
        let mut o = self
            .mount
            .connect_options()
            .expect("checked by ProbeOptions::new");
        if let Some(tls) = tls {
            o.tls = tls;
        }
        o
    }

    /// The mount's connection settings offering only TLS 1.2.
    pub(crate) fn tls12_options(&self) -> Result<ConnectOptions, Error> {
        let mut m = self.mount.clone();
        m.tls_versions = TlsVersions::Only12;
        m.connect_options().map_err(Error::Protocol)
    }

    fn given_options(&self) -> Vec<String> {
        let mut v = Vec::new();
        if let Some(c) = &self.cafile {
            v.push(format!("cafile={}", c.display()));
        }
        if let Some(fp) = &self.mount.fingerprint {
            v.push(format!("fingerprint={fp}"));
        }
        match self.versions {
            Versions::Both => {}
            Versions::Only12 => v.push("tls=1.2".into()),
            Versions::Only13 => v.push("tls=1.3".into()),
        }
        v
    }
}

/// Runs every check and returns the report with its verdict.
pub fn run(opts: &ProbeOptions, password: &str) -> Report {
    let mut report = Report {
        server: Server {
            host: opts.host.clone(),
            port: opts.port,
            tls_mode: match opts.tls_start {
                TlsStart::Explicit => "explicit".into(),
                TlsStart::Implicit => "implicit".into(),
            },
            path: opts.path.clone(),
            user: opts.user.clone(),
        },
        write_test: opts.write,
        given_options: opts.given_options(),
        ..Report::default()
    };
    if let Some(control) = connect_verified(opts, &mut report) {
        session_checks(opts, password, control, &mut report);
    }
    report.conclude();
    report
}

fn control_info(c: &Control) -> ControlInfo {
    let i = c.info();
    ControlInfo {
        banner: i.banner.clone(),
        tls_version: i.tls_version.clone(),
        cipher: i.cipher.clone(),
    }
}

/// Connects with the mount's verifier. When the handshake fails, fetches
/// the certificate on a diagnostic connection to explain why.
fn connect_verified(opts: &ProbeOptions, report: &mut Report) -> Option<Control> {
    let cafile_certs = match &opts.cafile {
        Some(p) => match tls::load_certs(p) {
            Ok(c) => c,
            Err(e) => {
                report.connection_error = Some(e.to_string());
                return None;
            }
        },
        None => Vec::new(),
    };
    let now = UnixTime::now();
    match Control::connect(&opts.connect_options(None)) {
        Ok(c) => {
            report.control = Some(control_info(&c));
            let chain: Vec<CertificateDer<'_>> =
                c.peer_certificate().cloned().into_iter().collect();
            let mut analysis = cert::analyze(&chain, &opts.host, &cafile_certs, true, now);
            if let Some(fp) = &opts.mount.fingerprint {
                analysis.verification =
                    format!("yes: matches the pinned fingerprint={fp} (no CA, name or date check)");
            } else if opts.mount.dangerous_no_verify {
                analysis.verification = "NOT CHECKED: dangerous_no_verify".into();
            }
            report.certificate = Some(analysis);
            Some(c)
        }
        Err(Error::Tls(e)) => {
            report.connection_error = Some(format!("the mount's TLS verifier refused it: {e}"));
            diagnose_certificate(opts, &cafile_certs, now, report);
            None
        }
        Err(e) => {
            report.connection_error = Some(e.to_string());
            None
        }
    }
}

/// The diagnostic-only connection: AUTH TLS (or implicit TLS), handshake
/// with a verifier that records and accepts the chain, QUIT. No USER, no PASS.
fn diagnose_certificate(
    opts: &ProbeOptions,
    cafile: &[CertificateDer<'static>],
    now: UnixTime,
    report: &mut Report,
) {
    let recorder = std::sync::Arc::new(tls::ChainRecorder::default());
    let config = match tls::dangerous_recording_config(opts.versions, recorder.clone()) {
        Ok(x) => x,
        Err(e) => {
            report.connection_error = Some(format!("diagnostic TLS setup: {e}"));
            return;
        }
    };
    match Control::connect(&opts.connect_options(Some(config))) {
        Ok(c) => {
            report.control = Some(control_info(&c));
            c.quit();
            report.certificate = Some(cert::analyze(
                &recorder.chain(),
                &opts.host,
                cafile,
                false,
                now,
            ));
        }
        Err(e) => {
            let first = report.connection_error.take().unwrap_or_default();
            report.connection_error = Some(format!(
                "{first}; the diagnostic connection failed too: {e}"
            ));
        }
    }
}

/// Everything after a verified connection: login, FEAT, UTF8, transfers,
/// passive mode, and the TLS 1.2 retry when session reuse failed.
fn session_checks(opts: &ProbeOptions, password: &str, mut c: Control, report: &mut Report) {
    if let Err(e) = c.login(&opts.user, password) {
        report.login = Some(Check::failed(e.to_string()));
        c.quit();
        return;
    }
    report.login = Some(Check::ok(format!("logged in as {}", opts.user)));
    let f = c.features();
    report.features = f
        .names()
        .into_iter()
        .map(|n| match f.params(n) {
            Some(p) if !p.is_empty() => format!("{n} {p}"),
            _ => n.to_string(),
        })
        .collect();
    report.mtime_method = Some(
        if f.has("MFMT") {
            "MFMT"
        } else if f.has("MDTM") {
            "MDTM"
        } else {
            "none"
        }
        .into(),
    );
    report.upload_check = crate::remote::ftps::UploadCheck::choose(crate::remote::Verify::Auto, f)
        .ok()
        .map(|c| c.describe());
    let utf8_feat = f.has("UTF8");
    report.utf8 = Some(
        match Command::with_arg("OPTS", "UTF8 ON").map(|cmd| c.command(&cmd)) {
            Ok(Ok(r)) => Utf8Info {
                feat: utf8_feat,
                opts_reply: format!("{} {}", r.code, r.text()),
                opts_ok: (200..300).contains(&r.code),
            },
            Ok(Err(e)) | Err(e) => Utf8Info {
                feat: utf8_feat,
                opts_reply: e.to_string(),
                opts_ok: false,
            },
        },
    );
    let run = transfers::run(&mut c, opts, REUSE_TRANSFERS);
    report.transfers = run.transfers;
    report.listing = run.listing;
    report.mtime_set = run.mtime_set;
    if c.is_usable() {
        report.passive = Some(passive_checks(&mut c, opts.timeout));
    }
    c.quit();
    report.active = Some(active_check(opts, password));
    if let Some(name) = run.leftover {
        transfers::cleanup(opts, password, &name, report);
    }
    let went_13 = report
        .control
        .as_ref()
        .is_some_and(|i| i.tls_version.contains("1_3"));
    if !Report::transfers_ok(&report.transfers) && opts.versions == Versions::Both && went_13 {
        report.tls12_retry = Some(transfers::tls12_retry(opts, password));
    }
}

/// A listing in active mode (PORT for IPv4, EPRT for IPv6) on a new
/// control connection: the server must reach us, and we stay the TLS client.
fn active_check(opts: &ProbeOptions, password: &str) -> Check {
    let mut o = opts.connect_options(None);
    o.data_mode = DataMode::Active;
    let verb = if opts.host.contains(':') {
        "EPRT"
    } else {
        "PORT"
    };
    let mut c = match Control::open(&o, &opts.user, password) {
        Ok(c) => c,
        Err(e) => return Check::failed(format!("second connection: {e}")),
    };
    let r = c.list_raw(&opts.path, 16 << 20);
    c.quit();
    match r {
        Ok((body, _)) => Check::ok(format!(
            "{verb}: the server connected to us, listing {} bytes",
            body.len()
        )),
        Err(e) => Check::failed(format!("{verb}: {e}")),
    }
}

/// EPSV and PASV, each followed by a TCP connect to the port named; no
/// transfer command is sent on those connections.
fn passive_checks(c: &mut Control, timeout: Duration) -> PassiveInfo {
    let peer = c.peer_addr();
    let epsv = match c.command(&Command::new("EPSV")) {
        Ok(r) if r.code == 229 => match crate::ftp::control::parse_epsv(&r.text()) {
            Ok(port) => reach(SocketAddr::new(peer.ip(), port), timeout),
            Err(e) => Check::failed(e.to_string()),
        },
        Ok(r) => Check::failed(format!("{} {}", r.code, r.text())),
        Err(e) => Check::failed(e.to_string()),
    };
    let pasv = if peer.ip().is_ipv6() {
        Check::failed("not possible over IPv6")
    } else {
        match c.command(&Command::new("PASV")) {
            Ok(r) if r.code == 227 => match crate::ftp::control::parse_pasv(&r.text()) {
                Ok(port) => {
                    let mut check = reach(SocketAddr::new(peer.ip(), port), timeout);
                    if let Some(ip) = pasv_host(&r.text()).filter(|ip| *ip != peer.ip()) {
                        check.detail.push_str(&format!(
                            " (the server announced {ip}: ignored, the control address is used)"
                        ));
                    }
                    check
                }
                Err(e) => Check::failed(e.to_string()),
            },
            Ok(r) => Check::failed(format!("{} {}", r.code, r.text())),
            Err(e) => Check::failed(e.to_string()),
        }
    };
    // Back in step before QUIT, whatever the server made of the unused ports.
    let _ = c.noop();
    PassiveInfo { epsv, pasv }
}

fn reach(addr: SocketAddr, timeout: Duration) -> Check {
    match TcpStream::connect_timeout(&addr, timeout) {
        Ok(_) => Check::ok(format!("port {} reachable", addr.port())),
        Err(e) => Check::failed(format!("cannot connect to {addr}: {e}")),
    }
}

/// The address in a 227 reply `(h1,h2,h3,h4,p1,p2)`.
fn pasv_host(text: &str) -> Option<IpAddr> {
    let start = text.find(|c: char| c.is_ascii_digit())?;
    let nums: Vec<u8> = text[start..]
        .split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty())
        .take(4)
        .map(|s| s.parse().ok())
        .collect::<Option<_>>()?;
    let a: [u8; 4] = nums.try_into().ok()?;
    Some(IpAddr::from(a))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pasv_host_is_read_from_227() {
        assert_eq!(
            pasv_host("Entering Passive Mode (10,0,0,5,195,80)."),
            Some(IpAddr::from([10, 0, 0, 5]))
        );
        assert_eq!(pasv_host("Entering Passive Mode"), None);
        assert_eq!(pasv_host("(300,1,1,1,1,1)"), None);
    }
}
