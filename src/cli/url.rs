//! `ftp://[user@]host[:port][/path]` and `ftps://...` URLs.

use super::CliError;
use crate::config::TlsMode;

/// A parsed server URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FtpUrl {
    /// Explicit (`ftp://`) or implicit (`ftps://`) TLS.
    pub tls_mode: TlsMode,
    /// Host, without IPv6 brackets.
    pub host: String,
    /// Port (21 or 990 by default).
    pub port: u16,
    /// Percent-decoded login name.
    pub user: Option<String>,
    /// Normalized, percent-decoded server path.
    pub path: String,
}

/// The bytes `s` stands for once its percent escapes are decoded; never
/// CR, LF or NUL (they could end a command).
fn decode_bytes(s: &str) -> Result<Vec<u8>, CliError> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = b
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| CliError::usage(format!("bad percent escape in {s:?}")))?;
            out.push(hex);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    if out.iter().any(|&b| b == b'\r' || b == b'\n' || b == 0) {
        return Err(CliError::usage("URL contains CR, LF or NUL"));
    }
    Ok(out)
}

/// A percent-decoded login name, which must be UTF-8.
fn decode(s: &str) -> Result<String, CliError> {
    String::from_utf8(decode_bytes(s)?).map_err(|_| CliError::usage("URL user is not UTF-8"))
}

/// Parses a server URL.
pub fn parse_url(s: &str) -> Result<FtpUrl, CliError> {
    let (scheme, rest) = s
        .split_once("://")
        .ok_or_else(|| CliError::usage(format!("{s:?} is not an ftp:// or ftps:// URL")))?;
    let (tls_mode, default_port) = match scheme.to_ascii_lowercase().as_str() {
        "ftp" => (TlsMode::Explicit, 21),
        "ftps" => (TlsMode::Implicit, 990),
        other => {
            return Err(CliError::usage(format!(
            "unsupported URL scheme '{other}': use ftp:// (explicit TLS) or ftps:// (implicit TLS)"
        )))
        }
    };
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let (user, hostport) = match authority.rfind('@') {
        Some(i) => (Some(&authority[..i]), &authority[i + 1..]),
        None => (None, authority),
    };
    if user.is_some_and(|u| u.contains(':')) {
        return Err(CliError::usage(
            "passwords never go on the command line: use -o password_file=, ~/.netrc, FTPSFS_PASSWORD or the prompt",
        ));
    }
    let user = user.map(decode).transpose()?.filter(|u| !u.is_empty());
    let (host, port) = if let Some(r) = hostport.strip_prefix('[') {
        let end = r
            .find(']')
            .ok_or_else(|| CliError::usage("unclosed [ in URL"))?;
        (&r[..end], r[end + 1..].strip_prefix(':'))
    } else {
        match hostport.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (hostport, None),
        }
    };
    if host.is_empty() {
        return Err(CliError::usage(format!("no host in {s:?}")));
    }
    let port = match port {
        Some(p) => p
            .parse::<u16>()
            .ok()
            .filter(|&p| p > 0)
            .ok_or_else(|| CliError::usage(format!("bad port {p:?}")))?,
        None => default_port,
    };
    let mut parts = Vec::new();
    // A path may hold any bytes, as file names do (`names`: bytes that are
    // not UTF-8 are carried escaped and sent as they were).
    for seg in crate::names::from_bytes(&decode_bytes(path)?).split('/') {
        match seg {
            "" => {}
            "." | ".." => {
                return Err(CliError::usage(
                    "'.' and '..' are not allowed in the URL path",
                ))
            }
            s => parts.push(s.to_string()),
        }
    }
    Ok(FtpUrl {
        tls_mode,
        host: host.to_string(),
        port,
        user,
        path: format!("/{}", parts.join("/")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn explicit_and_implicit_with_default_ports() {
        let u = parse_url("ftp://labuser@127.0.0.1/").unwrap();
        assert_eq!(
            (u.tls_mode, u.port, u.user.as_deref()),
            (TlsMode::Explicit, 21, Some("labuser"))
        );
        let u = parse_url("ftps://h").unwrap();
        assert_eq!(
            (u.tls_mode, u.port, u.path.as_str()),
            (TlsMode::Implicit, 990, "/")
        );
    }

    #[test]
    fn ipv6_port_path_and_percent_decoding() {
        let u = parse_url("ftp://me%40corp@[::1]:2121//a%20b//c/").unwrap();
        assert_eq!(u.host, "::1");
        assert_eq!(u.port, 2121);
        assert_eq!(u.user.as_deref(), Some("me@corp"));
        assert_eq!(u.path, "/a b/c");
    }

    #[test]
    fn refuses_passwords_bad_schemes_and_dotdot() {
        assert!(parse_url("ftp://u:pw@h/")
            .unwrap_err()
            .message
            .contains("password"));
        assert!(parse_url("sftp://h/").unwrap_err().message.contains("sftp"));
        assert!(parse_url("h/").is_err());
        assert!(parse_url("ftp://h/a/../b").is_err());
        assert!(parse_url("ftp://h:0/").is_err());
        assert!(parse_url("ftp://h/a%0Ab").is_err());
        assert!(parse_url("ftp://%FF@h/").is_err(), "a user name is UTF-8");
    }

    #[test]
    fn a_path_may_hold_bytes_that_are_not_utf8() {
        let u = parse_url("ftp://h/caf%E9/%C3%A9t%C3%A9").unwrap();
        assert_eq!(
            crate::names::to_bytes(&u.path).as_ref(),
            b"/caf\xe9/\xc3\xa9t\xc3\xa9"
        );
        assert!(u.path.ends_with("/été"));
    }
}
