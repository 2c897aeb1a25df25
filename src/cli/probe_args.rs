//! `ftpsfs probe URL [-o opts] [--json] [--write]`: arguments of the
//! diagnostic subcommand.

use super::{options, url, CliError};
use crate::config::MountConfig;
use clap::Parser;
use std::ffi::OsString;

/// Check an FTPS server before mounting it: TLS, certificate, login,
/// listings, data-channel TLS session reuse, passive mode.
#[derive(Parser, Debug)]
#[command(name = "ftpsfs probe", version, about)]
struct ProbeArgs {
    /// ftp://[user@]host[:port][/path] (explicit TLS) or ftps://... (implicit TLS)
    #[arg(value_hint = clap::ValueHint::Url)]
    url: String,
    /// Mount options, comma-separated (repeatable), as ftpsfs --help lists
    /// them; those of the connection (password_file=, cafile=, fingerprint=,
    /// cert=, key=, tls=, timeout=, before_auth=, ...) take effect, the others
    /// are accepted and ignored.
    #[arg(short = 'o', value_name = "OPTIONS")]
    options: Vec<String>,
    /// Print one JSON object instead of text
    #[arg(long)]
    json: bool,
    /// Also upload, download and delete a temporary file
    /// `.ftpsfs-probe-<random>` in the URL's directory (default: read-only)
    #[arg(long)]
    write: bool,
    /// Debug logging on stderr (commands and replies; PASS is redacted)
    #[arg(short = 'd', long = "debug")]
    debug: bool,
}

/// The clap definition of `ftpsfs probe`, for shell completions.
pub fn command() -> clap::Command {
    use clap::CommandFactory;
    ProbeArgs::command()
}

/// A parsed `ftpsfs probe` command line.
#[derive(Debug, Clone)]
pub struct ProbeConfig {
    /// Server, path and options, as a mount would see them.
    pub mount: MountConfig,
    /// `--json`.
    pub json: bool,
    /// `--write`.
    pub write: bool,
    /// `-d`.
    pub debug: bool,
}

/// Parses the probe's arguments; `args` starts with the program name
/// (e.g. `["ftpsfs probe", URL, ...]`).
pub fn parse_probe_args<I, T>(args: I) -> Result<ProbeConfig, CliError>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let args = ProbeArgs::try_parse_from(args).map_err(|e| CliError {
        message: e.to_string(),
        exit_code: if e.use_stderr() { 2 } else { 0 },
    })?;
    let u = url::parse_url(&args.url)?;
    let mut cfg = MountConfig::new(u.host, u.port, u.tls_mode, Default::default());
    cfg.user = u.user;
    cfg.root = u.path;
    for o in &args.options {
        options::apply_options(&mut cfg, o)?;
    }
    cfg.debug |= args.debug;
    Ok(ProbeConfig {
        debug: cfg.debug,
        mount: cfg,
        json: args.json,
        write: args.write,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{TlsMode, TlsVersions};

    #[test]
    fn url_and_options_like_a_mount() {
        let p = parse_probe_args([
            "ftpsfs probe",
            "ftps://me@h:2990/d",
            "-o",
            "cafile=/c.pem,tls=1.2,timeout=5",
            "--json",
        ])
        .unwrap();
        assert_eq!(p.mount.tls_mode, TlsMode::Implicit);
        assert_eq!((p.mount.port, p.mount.root.as_str()), (2990, "/d"));
        assert_eq!(p.mount.user.as_deref(), Some("me"));
        assert_eq!(p.mount.tls_versions, TlsVersions::Only12);
        assert_eq!(p.mount.timeout.as_secs(), 5);
        assert!(p.json && !p.write);
    }

    #[test]
    fn usage_errors_exit_2_and_help_0() {
        assert_eq!(parse_probe_args(["p"]).unwrap_err().exit_code, 2);
        assert_eq!(
            parse_probe_args(["p", "http://h"]).unwrap_err().exit_code,
            2
        );
        assert_eq!(
            parse_probe_args(["p", "ftp://h", "-o", "tls=9"])
                .unwrap_err()
                .exit_code,
            2
        );
        assert_eq!(parse_probe_args(["p", "--help"]).unwrap_err().exit_code, 0);
    }
}
