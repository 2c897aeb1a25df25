//! The probe's findings, and the verdict drawn from them.

use super::cert::CertReport;
use serde::Serialize;

/// Everything `ftpsfs probe` found out, in the order it was found.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    /// What was probed.
    pub server: Server,
    /// Why no TLS control connection could be made, if none could.
    pub connection_error: Option<String>,
    /// Greeting and TLS parameters of the control connection.
    pub control: Option<ControlInfo>,
    /// The server certificate.
    pub certificate: Option<CertReport>,
    /// Login result (never attempted when the certificate did not verify).
    pub login: Option<Check>,
    /// FEAT lines, sorted.
    pub features: Vec<String>,
    /// UTF-8 file names.
    pub utf8: Option<Utf8Info>,
    /// How modification times can be set: `MFMT`, `MDTM` or `none`.
    pub mtime_method: Option<String>,
    /// Result of really setting a modification time (only with `--write`).
    pub mtime_set: Option<Check>,
    /// How a mount's uploads are checked here (`verify=auto`), e.g.
    /// `SIZE and HASH SHA-256`.
    pub upload_check: Option<String>,
    /// The listing of the URL path.
    pub listing: Option<ListingInfo>,
    /// Data transfers made in a row on one control connection.
    pub transfers: Vec<Transfer>,
    /// The reuse check again, capped at TLS 1.2, when it failed at first.
    pub tls12_retry: Option<Vec<Transfer>>,
    /// Passive mode reachability.
    pub passive: Option<PassiveInfo>,
    /// Active mode (PORT/EPRT): a listing over a data connection the
    /// server opened to us, on a second control connection.
    pub active: Option<Check>,
    /// Whether the write test (STOR, RETR, DELE of a temporary file) ran.
    pub write_test: bool,
    /// A temporary file of the write test that could not be deleted.
    pub leftover: Option<String>,
    /// Options given that the mount needs too (`cafile=`, `tls=`).
    pub given_options: Vec<String>,
    /// The conclusion.
    pub verdict: Verdict,
}

/// What was probed.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Server {
    /// Host name or address.
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// `explicit` (AUTH TLS) or `implicit`.
    pub tls_mode: String,
    /// Remote directory.
    pub path: String,
    /// Login name.
    pub user: String,
}

/// Control connection facts.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ControlInfo {
    /// The 220 greeting.
    pub banner: String,
    /// Negotiated TLS version, e.g. `TLSv1_3`.
    pub tls_version: String,
    /// Negotiated cipher suite.
    pub cipher: String,
}

/// A check that passed or failed, with a short explanation.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct Check {
    /// It worked.
    pub ok: bool,
    /// What happened.
    pub detail: String,
}

impl Check {
    /// A passed check.
    pub fn ok(detail: impl Into<String>) -> Check {
        Check {
            ok: true,
            detail: detail.into(),
        }
    }

    /// A failed check.
    pub fn failed(detail: impl Into<String>) -> Check {
        Check {
            ok: false,
            detail: detail.into(),
        }
    }
}

/// UTF-8 support.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Utf8Info {
    /// FEAT lists UTF8.
    pub feat: bool,
    /// The reply to `OPTS UTF8 ON`, e.g. `200 Always in UTF8 mode.`
    pub opts_reply: String,
    /// The reply code was 2xx.
    pub opts_ok: bool,
}

/// The listing of the URL path.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ListingInfo {
    /// `MLSD` or `LIST -a`.
    pub command: String,
    /// `MLSD`, `unix LIST`, `DOS LIST`, `mixed LIST` or `unknown (...)`.
    pub format: String,
    /// Entries understood (without `.` and `..`).
    pub entries: usize,
    /// Lines not understood.
    pub unparsed: usize,
    /// The first line not understood, with the reason.
    pub first_error: Option<String>,
}

/// One data transfer.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Transfer {
    /// The command, e.g. `LIST -a` or `STOR .ftpsfs-probe-1a2b`.
    pub command: String,
    /// The transfer completed.
    pub ok: bool,
    /// The data connection resumed the control connection's TLS session.
    pub resumed: bool,
    /// TLS version of the data connection.
    pub tls_version: String,
    /// Bytes moved.
    pub bytes: u64,
    /// What went wrong.
    pub error: Option<String>,
    /// The server refused the command itself (permissions, missing file):
    /// no data connection was attempted, so it says nothing about TLS reuse.
    pub refused: bool,
}

/// Passive mode checks.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PassiveInfo {
    /// `EPSV` and a TCP connect to the port it names.
    pub epsv: Check,
    /// `PASV` (the fallback) and a TCP connect to the port it names.
    pub pasv: Check,
}

/// The conclusion.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct Verdict {
    /// Mounting should work.
    pub ok: bool,
    /// One line: `OK` or the problems.
    pub summary: String,
    /// What is wrong.
    pub problems: Vec<String>,
    /// Mount options to use, e.g. `cafile=/path` or `tls=1.2`.
    pub recommended_options: Vec<String>,
}

impl Report {
    /// Whether every data connection attempted worked (refused commands
    /// aside). Resuming is not required of a server that does not ask for
    /// it (pure-ftpd never resumes); one that does refuses the transfer.
    pub fn transfers_ok(transfers: &[Transfer]) -> bool {
        let mut tried = transfers.iter().filter(|t| !t.refused).peekable();
        tried.peek().is_some() && tried.all(|t| t.ok)
    }

    /// Draws the verdict from the findings.
    pub fn conclude(&mut self) {
        let mut problems = Vec::new();
        let mut options = self.given_options.clone();
        let mut add = |o: &str| {
            if !options.iter().any(|x| x == o) {
                options.push(o.to_string());
            }
        };
        if let Some(e) = &self.connection_error {
            if self.certificate.is_none() {
                problems.push(format!("cannot connect: {e}"));
            }
        }
        if let Some(c) = self.certificate.as_ref().filter(|c| !c.verified) {
            problems.push(format!(
                "certificate not trusted ({})",
                c.problems.join("; ")
            ));
            let untrusted = c.problems.iter().any(|p| {
                p.starts_with("untrusted issuer")
                    || p.starts_with("CA certificate")
                    || p == "self-signed"
            });
            let given_cafile = self.given_options.iter().any(|o| o.starts_with("cafile="));
            if untrusted && !given_cafile {
                add("cafile=PATH");
                problems.push(
                    "save this certificate (PEM) to PATH after checking its SHA-256 fingerprint with the server's admin"
                        .into(),
                );
            } else if untrusted {
                problems.push("the cafile holds neither this certificate nor its issuer".into());
            }
            if c.problems.iter().any(|p| p.starts_with("name mismatch")) {
                problems.push("put a name the certificate carries in the URL".into());
            }
        }
        if let Some(l) = self.login.as_ref().filter(|l| !l.ok) {
            problems.push(format!("login failed: {}", l.detail));
        }
        if let Some(l) = &self.listing {
            if l.unparsed > 0 {
                problems.push(format!(
                    "{} listing line(s) not understood ({})",
                    l.unparsed,
                    l.first_error.as_deref().unwrap_or("")
                ));
            }
        }
        let logged_in = self.login.as_ref().is_some_and(|l| l.ok);
        if logged_in && !Report::transfers_ok(&self.transfers) {
            let failed = self
                .transfers
                .iter()
                .filter(|t| !t.ok && !t.refused)
                .count();
            match &self.tls12_retry {
                Some(t) if Report::transfers_ok(t) => {
                    problems.push(format!(
                        "{failed} data transfer(s) failed or did not resume TLS (TLS 1.2 works)"
                    ));
                    add("tls=1.2");
                }
                _ => problems.push(format!(
                    "{failed} data transfer(s) failed or did not resume the TLS session"
                )),
            }
        }
        for t in self.transfers.iter().filter(|t| t.refused) {
            problems.push(format!(
                "{}: {}",
                t.command,
                t.error.as_deref().unwrap_or("")
            ));
        }
        if let Some(p) = &self.passive {
            if !p.epsv.ok && !p.pasv.ok {
                if self.active.as_ref().is_some_and(|a| a.ok) {
                    options.push("active".into());
                } else {
                    problems.push("passive mode does not work (EPSV and PASV both fail)".into());
                }
            }
        }
        if let Some(m) = self.mtime_set.as_ref().filter(|m| !m.ok) {
            problems.push(format!("setting a modification time failed: {}", m.detail));
        }
        if let Some(f) = &self.leftover {
            problems.push(format!("could not delete the temporary file {f}"));
        }
        let ok = problems.is_empty();
        let summary = if ok {
            "OK".to_string()
        } else {
            format!("PROBLEMS: {}", problems.join("; "))
        };
        self.verdict = Verdict {
            ok,
            summary,
            problems,
            recommended_options: options,
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn transfer(ok: bool, resumed: bool) -> Transfer {
        Transfer {
            command: "LIST -a".into(),
            ok,
            resumed,
            tls_version: "TLSv1_3".into(),
            ..Transfer::default()
        }
    }

    #[test]
    fn all_good_is_ok_and_keeps_given_options() {
        let mut r = Report {
            login: Some(Check::ok("logged in")),
            transfers: vec![transfer(true, true); 4],
            given_options: vec!["cafile=/c.pem".into()],
            ..Report::default()
        };
        r.conclude();
        assert!(r.verdict.ok, "{:?}", r.verdict);
        assert_eq!(r.verdict.summary, "OK");
        assert_eq!(r.verdict.recommended_options, ["cafile=/c.pem"]);
    }

    #[test]
    fn working_transfers_without_resumption_are_fine() {
        let mut r = Report {
            login: Some(Check::ok("")),
            transfers: vec![transfer(true, false); 4],
            ..Report::default()
        };
        r.conclude();
        assert!(r.verdict.ok, "{:?}", r.verdict);
    }

    #[test]
    fn failed_reuse_that_works_with_tls12_recommends_it() {
        let mut r = Report {
            login: Some(Check::ok("")),
            transfers: vec![transfer(true, true), transfer(false, false)],
            tls12_retry: Some(vec![transfer(true, true); 4]),
            ..Report::default()
        };
        r.conclude();
        assert!(!r.verdict.ok);
        assert_eq!(r.verdict.recommended_options, ["tls=1.2"]);
    }

    #[test]
    fn refused_commands_are_not_reuse_failures() {
        let refused = Transfer {
            command: "STOR /x".into(),
            refused: true,
            error: Some("553 Could not create file.".into()),
            ..Transfer::default()
        };
        let mut r = Report {
            login: Some(Check::ok("")),
            transfers: vec![transfer(true, true), refused, transfer(true, true)],
            ..Report::default()
        };
        r.conclude();
        assert!(!r.verdict.ok);
        assert_eq!(r.verdict.problems, ["STOR /x: 553 Could not create file."]);
        assert!(Report::transfers_ok(&r.transfers));
    }

    #[test]
    fn untrusted_certificate_recommends_cafile() {
        let mut r = Report {
            certificate: Some(CertReport {
                problems: vec!["untrusted issuer".into(), "self-signed".into()],
                ..CertReport::default()
            }),
            ..Report::default()
        };
        r.conclude();
        assert!(!r.verdict.ok);
        assert!(r
            .verdict
            .summary
            .contains("certificate not trusted (untrusted issuer"));
        assert_eq!(r.verdict.recommended_options, ["cafile=PATH"]);
    }
}
