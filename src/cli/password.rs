//! Login name and password: never from argv, never logged.

use super::CliError;
use crate::config::MountConfig;
use std::fmt;
use std::io::IsTerminal;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// A password in memory; shown as `<redacted>` and zeroed on drop.
pub struct Password(String);

impl Password {
    /// Wraps a password.
    pub fn new(s: String) -> Password {
        Password(s)
    }

    /// The password, for the PASS command only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl Drop for Password {
    fn drop(&mut self) {
        crate::secret::wipe_string(&mut self.0);
    }
}

/// Reads a secret file, refusing one that group or others can read (like
/// ssh); its text is wiped from memory when dropped.
fn read_private(path: &Path) -> Result<Password, CliError> {
    let err = |e: std::io::Error| CliError::usage(format!("{}: {e}", path.display()));
    let meta = std::fs::metadata(path).map_err(err)?;
    if meta.permissions().mode() & 0o077 != 0 {
        return Err(CliError::usage(format!(
            "{} is readable by others: run chmod 600 {}",
            path.display(),
            path.display()
        )));
    }
    std::fs::read_to_string(path)
        .map(Password::new)
        .map_err(err)
}

/// Finds `(login, password)` for `host` in netrc text; `user` must match the login when given.
pub fn parse_netrc<'a>(
    text: &'a str,
    host: &str,
    user: Option<&str>,
) -> Option<(String, Option<String>)> {
    let mut tokens = text.split_whitespace();
    // Borrowed from `text` until the end: only the entry found is copied.
    let mut found: Option<(&'a str, Option<&'a str>)> = None;
    let mut current: Option<(bool, Option<&'a str>, Option<&'a str>)> = None;
    let mut finish = |c: Option<(bool, Option<&'a str>, Option<&'a str>)>| {
        if let Some((true, Some(login), pw)) = c {
            if user.is_none_or(|u| u == login) && found.is_none() {
                found = Some((login, pw));
            }
        }
    };
    while let Some(t) = tokens.next() {
        match t {
            "machine" => {
                finish(current.take());
                current = Some((tokens.next() == Some(host), None, None));
            }
            "default" => {
                finish(current.take());
                current = Some((true, None, None));
            }
            "login" => {
                if let Some(c) = current.as_mut() {
                    c.1 = tokens.next();
                }
            }
            "password" => {
                if let Some(c) = current.as_mut() {
                    c.2 = tokens.next();
                }
            }
            _ => {}
        }
    }
    finish(current.take());
    found.map(|(login, pw)| (login.to_string(), pw.map(str::to_string)))
}

/// Resolves the login name and password: `password_file`, then
/// `FTPSFS_PASSWORD`, then `~/.netrc`, then a prompt on a terminal.
pub fn resolve_credentials(cfg: &MountConfig) -> Result<(String, Password), CliError> {
    resolve_with(
        cfg,
        std::env::var("FTPSFS_PASSWORD").ok(),
        std::env::var_os("HOME").map(PathBuf::from),
        std::io::stdin().is_terminal(),
    )
}

fn resolve_with(
    cfg: &MountConfig,
    env_password: Option<String>,
    home: Option<PathBuf>,
    is_tty: bool,
) -> Result<(String, Password), CliError> {
    let netrc = match home.map(|h| h.join(".netrc")).filter(|p| p.exists()) {
        Some(p) => parse_netrc(read_private(&p)?.expose(), &cfg.host, cfg.user.as_deref())
            .map(|(login, pw)| (login, pw.map(Password::new))),
        None => None,
    };
    let user = cfg
        .user
        .clone()
        .or_else(|| netrc.as_ref().map(|n| n.0.clone()))
        .unwrap_or_else(|| "anonymous".into());
    if let Some(path) = &cfg.password_file {
        let text = read_private(path)?;
        let line = text
            .expose()
            .lines()
            .next()
            .unwrap_or("")
            .trim_end_matches('\r');
        return Ok((user, Password::new(line.to_string())));
    }
    if let Some(pw) = env_password {
        return Ok((user, Password::new(pw)));
    }
    if let Some((_, Some(pw))) = netrc {
        return Ok((user, pw));
    }
    if is_tty {
        let pw = rpassword::prompt_password(format!("Password for {user}@{}: ", cfg.host))
            .map_err(|e| CliError::usage(format!("cannot read the password: {e}")))?;
        return Ok((user, Password::new(pw)));
    }
    Err(CliError::usage(
        "no password: use -o password_file=, FTPSFS_PASSWORD, ~/.netrc or run on a terminal",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::TlsMode;

    fn cfg() -> MountConfig {
        MountConfig::new("ftp.example".into(), 21, TlsMode::Explicit, "/m".into())
    }

    #[test]
    fn netrc_entries_span_lines_and_default_is_last_resort() {
        let text = "machine other login a password b\nmachine ftp.example\n login me\n password s3cret\ndefault login anon password x";
        assert_eq!(
            parse_netrc(text, "ftp.example", None),
            Some(("me".into(), Some("s3cret".into())))
        );
        assert_eq!(
            parse_netrc(text, "ftp.example", Some("anon")),
            Some(("anon".into(), Some("x".into())))
        );
        assert_eq!(
            parse_netrc(text, "nowhere", None),
            Some(("anon".into(), Some("x".into())))
        );
    }

    #[test]
    fn password_file_first_line_and_permissions() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("pw");
        std::fs::write(&p, "pa ss\r\nignored\n").unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
        let mut c = cfg();
        c.user = Some("u".into());
        c.password_file = Some(p.clone());
        let (u, pw) = resolve_with(&c, Some("env".into()), None, false).unwrap();
        assert_eq!((u.as_str(), pw.expose()), ("u", "pa ss"));
        for mode in [0o644, 0o640, 0o604, 0o620, 0o602, 0o610] {
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
            assert!(
                resolve_with(&c, None, None, false)
                    .unwrap_err()
                    .message
                    .contains("chmod 600"),
                "{mode:o}"
            );
        }
    }

    #[test]
    fn netrc_readable_by_group_or_others_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let rc = dir.path().join(".netrc");
        std::fs::write(&rc, "machine ftp.example login n password fromrc").unwrap();
        let home = Some(dir.path().to_path_buf());
        for mode in [0o640, 0o604, 0o644] {
            std::fs::set_permissions(&rc, std::fs::Permissions::from_mode(mode)).unwrap();
            let e = resolve_with(&cfg(), None, home.clone(), false).unwrap_err();
            assert!(e.message.contains("chmod 600"), "{mode:o}: {}", e.message);
        }
        std::fs::set_permissions(&rc, std::fs::Permissions::from_mode(0o400)).unwrap();
        let (_, pw) = resolve_with(&cfg(), None, home, false).unwrap();
        assert_eq!(pw.expose(), "fromrc");
    }

    #[test]
    fn env_then_netrc_then_error() {
        let dir = tempfile::tempdir().unwrap();
        let rc = dir.path().join(".netrc");
        std::fs::write(&rc, "machine ftp.example login n password fromrc").unwrap();
        std::fs::set_permissions(&rc, std::fs::Permissions::from_mode(0o600)).unwrap();
        let home = Some(dir.path().to_path_buf());
        let (u, pw) = resolve_with(&cfg(), Some("fromenv".into()), home.clone(), false).unwrap();
        assert_eq!((u.as_str(), pw.expose()), ("n", "fromenv"));
        let (_, pw) = resolve_with(&cfg(), None, home, false).unwrap();
        assert_eq!(pw.expose(), "fromrc");
        assert!(resolve_with(&cfg(), None, None, false).is_err());
    }

    #[test]
    fn password_debug_is_redacted() {
        assert_eq!(
            format!("{:?}", Password::new("hunter2".into())),
            "<redacted>"
        );
    }
}
