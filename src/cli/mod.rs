//! Command line: `ftpsfs [-f] [-d] [-o opts] URL MOUNTPOINT`, also in the
//! order `mount.fuse3` uses (`URL MOUNTPOINT -o opts`); `ftpsfs probe ...`
//! is parsed by [`probe_args`]; `ftpsfs --completions SHELL` (hidden, for
//! packagers) prints a shell completion script made by [`completions`].

pub mod completions;
pub mod options;
pub mod password;
pub mod probe_args;
pub mod url;

use crate::config::MountConfig;
use clap::Parser;
use std::ffi::OsString;
use std::fmt;
use std::path::PathBuf;

/// Something wrong on the command line, or help/version output (exit code 0).
#[derive(Debug)]
pub struct CliError {
    /// One line for the user (or the help text).
    pub message: String,
    /// Process exit code.
    pub exit_code: i32,
}

impl CliError {
    /// A usage error (exit code 2).
    pub fn usage(message: impl Into<String>) -> CliError {
        CliError {
            message: message.into(),
            exit_code: 2,
        }
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for CliError {}

/// Mount an FTPS server (FTP over TLS) with FUSE.
#[derive(Parser, Debug)]
#[command(
    name = "ftpsfs",
    version,
    about,
    after_help = "Check a server before mounting it: ftpsfs probe URL [-o opts] [--json] [--write]"
)]
struct Args {
    /// ftp://[user@]host[:port][/path] (explicit TLS) or ftps://... (implicit TLS)
    #[arg(value_hint = clap::ValueHint::Url)]
    url: String,
    /// Directory to mount on
    #[arg(value_hint = clap::ValueHint::DirPath)]
    mountpoint: PathBuf,
    /// Mount options, comma-separated (repeatable); --help lists them
    #[arg(short = 'o', value_name = "OPTIONS", long_help = options::long_help())]
    options: Vec<String>,
    /// Stay in the foreground
    #[arg(short = 'f')]
    foreground: bool,
    /// Debug logging (implies -f)
    #[arg(short = 'd', long = "debug")]
    debug: bool,
    // What mount(8) may pass to a helper installed as mount.fuse.ftpsfs:
    // -n (no mtab), -s (sloppy), -v (verbose), accepted and ignored, and
    // -t with the type.
    #[arg(short = 'n', hide = true)]
    no_mtab: bool,
    #[arg(short = 's', hide = true)]
    sloppy: bool,
    #[arg(short = 'v', hide = true)]
    verbose: bool,
    #[arg(short = 't', hide = true, value_name = "TYPE")]
    fstype: Option<String>,
}

/// Parses argv (with argv[0]) into a mount configuration.
pub fn parse_args<I, T>(args: I) -> Result<MountConfig, CliError>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let args = Args::try_parse_from(args).map_err(|e| {
        let exit_code = if e.use_stderr() { 2 } else { 0 };
        CliError {
            message: e.to_string(),
            exit_code,
        }
    })?;
    let u = url::parse_url(&args.url)?;
    if let Some(t) = args.fstype.as_deref() {
        if !matches!(t, "fuse.ftpsfs" | "ftpsfs" | "fuse") {
            return Err(CliError::usage(format!(
                "filesystem type {t:?} is not fuse.ftpsfs"
            )));
        }
    }
    let mut cfg = MountConfig::new(u.host, u.port, u.tls_mode, args.mountpoint);
    cfg.user = u.user;
    cfg.root = u.path;
    for o in &args.options {
        options::apply_options(&mut cfg, o)?;
    }
    // -d stays in the foreground; -o debug only raises the log level (an
    // fstab line with it must still let mount(8) return).
    cfg.debug |= args.debug;
    cfg.foreground |= args.foreground || args.debug;
    Ok(cfg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_after_positionals_like_mount_fuse() {
        let c = parse_args(["ftpsfs", "ftp://u@h/x", "/mnt", "-o", "ro,connections=2"]).unwrap();
        assert!(c.read_only);
        assert_eq!(c.connections, 2);
        assert_eq!(c.root, "/x");
        assert!(!c.foreground);
    }

    #[test]
    fn the_mount_helper_grammar_of_mount_8_is_accepted() {
        let c = parse_args([
            "mount.fuse.ftpsfs",
            "ftp://u@h/x",
            "/mnt",
            "-n",
            "-s",
            "-v",
            "-o",
            "rw,_netdev",
            "-t",
            "fuse.ftpsfs",
        ])
        .unwrap();
        assert_eq!(c.root, "/x");
        let e = parse_args(["ftpsfs", "ftp://h", "/m", "-t", "nfs"]).unwrap_err();
        assert_eq!(e.exit_code, 2);
        assert!(e.message.contains("nfs"), "{}", e.message);
    }

    #[test]
    fn debug_implies_foreground_and_help_exits_zero() {
        let c = parse_args(["ftpsfs", "-d", "ftp://h", "/m"]).unwrap();
        assert!(c.debug && c.foreground);
        let c = parse_args(["ftpsfs", "ftp://h", "/m", "-o", "debug"]).unwrap();
        assert!(c.debug && !c.foreground);
        assert_eq!(parse_args(["ftpsfs", "--help"]).unwrap_err().exit_code, 0);
        assert_eq!(parse_args(["ftpsfs", "ftp://h"]).unwrap_err().exit_code, 2);
    }
}
