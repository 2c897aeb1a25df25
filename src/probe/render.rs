//! The report as text for people, or as one JSON object for scripts.

use super::report::{Check, Report, Transfer};
use std::fmt::Write;

/// One JSON object (pretty-printed), ending with a newline.
pub fn json(report: &Report) -> String {
    match serde_json::to_string_pretty(report) {
        Ok(s) => s + "\n",
        // Serializing plain structs of strings and numbers cannot fail.
        Err(e) => format!("{{\"error\": {:?}}}\n", e.to_string()),
    }
}

fn yes_no(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}

fn check(c: &Check) -> String {
    format!("{}: {}", if c.ok { "ok" } else { "FAILED" }, c.detail)
}

fn transfer_line(i: usize, t: &Transfer) -> String {
    let state = if t.ok { "ok" } else { "FAILED" };
    let mut line = format!("  {}. {:<40} {state}", i + 1, t.command);
    if !t.tls_version.is_empty() {
        let resumed = if t.resumed { "resumed" } else { "NOT resumed" };
        let _ = write!(line, ", {} {resumed}, {} bytes", t.tls_version, t.bytes);
    }
    if let Some(e) = &t.error {
        let _ = write!(line, " ({e})");
    }
    line
}

fn kv(o: &mut String, k: &str, v: &str) {
    let _ = writeln!(o, "{k:<13}{v}");
}

fn sub(o: &mut String, k: &str, v: &str) {
    let _ = writeln!(o, "  {k:<11}{v}");
}

/// Human-readable text, one fact per line, the verdict last.
pub fn text(r: &Report) -> String {
    let mut o = String::new();
    let s = &r.server;
    kv(
        &mut o,
        "server",
        &format!(
            "{}:{} ({} TLS), path {}, user {}",
            s.host, s.port, s.tls_mode, s.path, s.user
        ),
    );
    if let Some(e) = &r.connection_error {
        kv(&mut o, "connection", &format!("FAILED: {e}"));
    }
    if let Some(c) = &r.control {
        kv(&mut o, "banner", &c.banner);
        kv(
            &mut o,
            "control TLS",
            &format!("{}, {}", c.tls_version, c.cipher),
        );
    }
    if let Some(c) = &r.certificate {
        let _ = writeln!(o, "certificate");
        sub(&mut o, "subject", &c.subject);
        let issuer = if c.self_signed {
            format!("{} (self-signed)", c.issuer)
        } else {
            c.issuer.clone()
        };
        sub(&mut o, "issuer", &issuer);
        sub(
            &mut o,
            "SANs",
            &if c.sans.is_empty() {
                "(none)".into()
            } else {
                c.sans.join(", ")
            },
        );
        sub(&mut o, "SHA-256", &c.sha256);
        let expiry = if c.expired {
            format!("{} (EXPIRED)", c.not_after)
        } else {
            c.not_after.clone()
        };
        sub(&mut o, "not after", &expiry);
        sub(&mut o, "CA:TRUE", yes_no(c.ca));
        sub(&mut o, "verified", &c.verification);
    }
    if let Some(l) = &r.login {
        kv(&mut o, "login", &check(l));
    } else if r.certificate.as_ref().is_some_and(|c| !c.verified) {
        kv(&mut o, "login", "not attempted (certificate not verified)");
    }
    if !r.features.is_empty() {
        kv(&mut o, "FEAT", &r.features.join(", "));
    }
    if let Some(l) = &r.listing {
        let mut v = format!("{} ({}): {} entries", l.format, l.command, l.entries);
        if l.unparsed > 0 {
            let _ = write!(v, ", {} lines not understood", l.unparsed);
        }
        kv(&mut o, "listing", &v);
    }
    if let Some(u) = &r.utf8 {
        kv(
            &mut o,
            "UTF8",
            &format!(
                "FEAT UTF8: {}; OPTS UTF8 ON: {}",
                yes_no(u.feat),
                u.opts_reply
            ),
        );
    }
    if let Some(m) = &r.mtime_method {
        let how = match m.as_str() {
            "MFMT" => "MFMT (from FEAT)",
            "MDTM" => "MDTM (MDTM YYYYMMDDHHMMSS path; FEAT lists MDTM, not MFMT)",
            _ => "none (FEAT lists neither MFMT nor MDTM)",
        };
        kv(&mut o, "set mtime", how);
    }
    if let Some(m) = &r.mtime_set {
        kv(&mut o, "mtime test", &check(m));
    }
    if let Some(u) = &r.upload_check {
        kv(&mut o, "upload check", u);
    }
    if let Some(p) = &r.passive {
        kv(
            &mut o,
            "passive",
            &format!("EPSV {}; PASV {}", check(&p.epsv), check(&p.pasv)),
        );
    }
    if let Some(a) = &r.active {
        kv(&mut o, "active", &check(a));
    }
    if !r.transfers.is_empty() {
        let mode = if r.write_test {
            "read-write"
        } else {
            "read-only"
        };
        let _ = writeln!(o, "data TLS session reuse ({mode}, one control connection)");
        for (i, t) in r.transfers.iter().enumerate() {
            let _ = writeln!(o, "{}", transfer_line(i, t));
        }
    }
    if let Some(retry) = &r.tls12_retry {
        let _ = writeln!(o, "data TLS session reuse again, capped at TLS 1.2");
        for (i, t) in retry.iter().enumerate() {
            let _ = writeln!(o, "{}", transfer_line(i, t));
        }
    }
    let v = &r.verdict;
    let mut line = format!("verdict      {}", v.summary);
    if !v.recommended_options.is_empty() {
        let _ = write!(
            line,
            " -- mount with -o {}",
            v.recommended_options.join(",")
        );
    }
    let _ = writeln!(o, "{line}");
    o
}

#[cfg(test)]
mod tests {
    use super::super::cert::CertReport;
    use super::super::report::*;
    use super::*;

    fn sample() -> Report {
        let mut r = Report {
            server: Server {
                host: "127.0.0.1".into(),
                port: 2121,
                tls_mode: "explicit".into(),
                path: "/".into(),
                user: "u".into(),
            },
            control: Some(ControlInfo {
                banner: "(vsFTPd 3.0.3)".into(),
                tls_version: "TLSv1_3".into(),
                cipher: "TLS13_AES_256_GCM_SHA384".into(),
            }),
            certificate: Some(CertReport {
                subject: "CN=\"quoted\"\\name".into(),
                verified: true,
                verification: "yes: chains to a trusted root".into(),
                ..CertReport::default()
            }),
            login: Some(Check::ok("logged in as u")),
            mtime_method: Some("MDTM".into()),
            transfers: vec![
                Transfer {
                    command: "LIST -a".into(),
                    ok: true,
                    resumed: true,
                    tls_version: "TLSv1_3".into(),
                    bytes: 10,
                    error: None,
                    refused: false,
                };
                4
            ],
            active: Some(Check::ok("LIST ok")),
            given_options: vec!["cafile=/tmp/c.pem".into()],
            ..Report::default()
        };
        r.conclude();
        r
    }

    #[test]
    fn text_has_one_line_per_fact_and_the_verdict_last() {
        let t = text(&sample());
        assert!(t.contains("banner       (vsFTPd 3.0.3)"), "{t}");
        assert!(
            t.contains("control TLS  TLSv1_3, TLS13_AES_256_GCM_SHA384"),
            "{t}"
        );
        assert!(t.contains("active       ok: LIST ok"), "{t}");
        assert_eq!(t.matches("resumed").count(), 4, "{t}");
        assert!(t.contains("set mtime    MDTM"), "{t}");
        let last = t.lines().last().unwrap();
        assert_eq!(last, "verdict      OK -- mount with -o cafile=/tmp/c.pem");
    }

    #[test]
    fn failures_show_in_text() {
        let mut r = sample();
        r.transfers[1].resumed = false;
        r.transfers[1].ok = false;
        r.transfers[1].error = Some("522 SSL connection failed".into());
        r.conclude();
        let t = text(&r);
        assert!(t.contains("NOT resumed"), "{t}");
        assert!(t
            .lines()
            .last()
            .unwrap()
            .starts_with("verdict      PROBLEMS: 1 data transfer"));
    }

    #[test]
    fn json_is_one_object_with_escaped_strings() {
        let j = json(&sample());
        let v: serde_json::Value = serde_json::from_str(&j).unwrap();
        assert_eq!(v["certificate"]["subject"], "CN=\"quoted\"\\name");
        assert_eq!(v["verdict"]["ok"], true);
        assert_eq!(v["mtime_method"], "MDTM");
        assert_eq!(v["active"]["ok"], true);
        assert_eq!(v["transfers"].as_array().unwrap().len(), 4);
        assert_eq!(v["transfers"][0]["resumed"], true);
    }
}
