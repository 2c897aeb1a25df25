//! Every setting of one mount, typed, with defaults.

use crate::ftp::control::{DataMode, Protection, Sequence};
use crate::ftp::{tls, Command, ConnectOptions, TlsStart};
use crate::names::Charset;
use crate::remote::Verify;
use std::path::PathBuf;
use std::time::Duration;

/// How TLS starts on the control connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsMode {
    /// `ftp://`: AUTH TLS on a plain connection.
    Explicit,
    /// `ftps://`: TLS from the first byte.
    Implicit,
}

/// Which TLS versions we offer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsVersions {
    /// TLS 1.3 and 1.2.
    Both,
    /// TLS 1.2 only (`-o tls=1.2`).
    Only12,
    /// TLS 1.3 only (`-o tls=1.3`).
    Only13,
}

/// Every setting of one mount.
#[derive(Debug, Clone)]
pub struct MountConfig {
    /// Server host name or address (no brackets for IPv6).
    pub host: String,
    /// Server port.
    pub port: u16,
    /// Login name from the URL.
    pub user: Option<String>,
    /// Server directory shown at the mount root, normalized.
    pub root: String,
    /// Explicit or implicit TLS.
    pub tls_mode: TlsMode,
    /// Where to mount.
    pub mountpoint: PathBuf,
    /// Stay in the foreground.
    pub foreground: bool,
    /// Debug logging.
    pub debug: bool,
    /// Extra PEM trust anchors.
    pub cafile: Option<PathBuf>,
    /// `fingerprint=sha256:HEX`: the server certificate's SHA-256; replaces
    /// the CA chain and name check (and `cafile`).
    pub fingerprint: Option<tls::Fingerprint>,
    /// `dangerous_no_verify`: accept any server certificate. Still TLS,
    /// but open to anyone on the network path; warned about on every mount.
    pub dangerous_no_verify: bool,
    /// File holding the password.
    pub password_file: Option<PathBuf>,
    /// Control connections in the pool.
    pub connections: usize,
    /// Connect, read and write timeout.
    pub timeout: Duration,
    /// How long a directory listing is reused.
    pub dir_cache_ttl: Duration,
    /// TLS versions offered.
    pub tls_versions: TlsVersions,
    /// Read-only mount.
    pub read_only: bool,
    /// Let other users see the mount.
    pub allow_other: bool,
    /// Owner uid shown for files.
    pub uid: Option<u32>,
    /// Owner gid shown for files.
    pub gid: Option<u32>,
    /// Permission bits removed from every file.
    pub umask: Option<u32>,
    /// Source name shown in /proc/mounts.
    pub fsname: Option<String>,
    /// `data_protection=clear`: PROT C, data connections without TLS.
    pub clear_data: bool,
    /// `active`: the server connects to us for data (PORT/EPRT).
    pub active: bool,
    /// `cert=`: client certificate (PEM) for certificate login.
    pub cert: Option<PathBuf>,
    /// `key=`: private key (PEM) of `cert`; defaults to the `cert` file.
    pub key: Option<PathBuf>,
    /// `before_auth=CMD` (repeatable): commands sent before AUTH TLS.
    pub before_auth: Vec<String>,
    /// `protect_before_login`: PBSZ/PROT before USER/PASS.
    pub protect_before_login: bool,
    /// `walk_ahead=N`: threads listing directories and fetching small files
    /// ahead of a tree walk; default one less than `connections`.
    pub walk_ahead: Option<usize>,
    /// `segments=N`: connections one large file is read over at once.
    pub segments: usize,
    /// `atomic_upload` (on unless `atomic_upload=off`): replacing uploads
    /// go to a temporary name and are renamed over the file once complete.
    pub atomic_upload: bool,
    /// `verify=auto|hash|size|none`: how an upload is checked after the
    /// server confirmed it.
    pub verify: Verify,
    /// `keepalive=SECS`: NOOP on connections idle that long (0: off).
    pub keepalive: Duration,
    /// `time_offset=[+-]HH[:MM]`: seconds the server's LIST times are ahead
    /// of UTC.
    pub time_offset: i64,
    /// `follow_symlinks`: symlinks are shown as what they point to.
    pub follow_symlinks: bool,
    /// `log_file=PATH`: the log goes there (appended) instead of to syslog
    /// (in the background) or stderr (with `-f`).
    pub log_file: Option<PathBuf>,
    /// `iocharset=NAME`: the charset of the server's file names (UTF-8,
    /// byte for byte, by default).
    pub iocharset: Charset,
}

impl MountConfig {
    /// Defaults for a server and mount point.
    pub fn new(host: String, port: u16, tls_mode: TlsMode, mountpoint: PathBuf) -> MountConfig {
        MountConfig {
            host,
            port,
            user: None,
            root: "/".into(),
            tls_mode,
            mountpoint,
            foreground: false,
            debug: false,
            cafile: None,
            fingerprint: None,
            dangerous_no_verify: false,
            password_file: None,
            connections: 4,
            timeout: Duration::from_secs(30),
            dir_cache_ttl: Duration::from_secs(60),
            tls_versions: TlsVersions::Both,
            read_only: false,
            allow_other: false,
            uid: None,
            gid: None,
            umask: None,
            fsname: None,
            clear_data: false,
            active: false,
            cert: None,
            key: None,
            before_auth: Vec::new(),
            protect_before_login: false,
            walk_ahead: None,
            segments: 4,
            atomic_upload: true,
            verify: Verify::Auto,
            keepalive: Duration::ZERO,
            time_offset: 0,
            follow_symlinks: false,
            log_file: None,
            iocharset: Charset::utf8(),
        }
    }

    /// How the server certificate is checked: the pinned fingerprint, no
    /// check at all (`dangerous_no_verify`), or the CA roots plus `cafile`.
    pub fn trust(&self) -> Result<tls::Trust, String> {
        match (self.fingerprint, self.dangerous_no_verify) {
            (Some(_), true) => {
                Err("options fingerprint= and dangerous_no_verify exclude each other".into())
            }
            (Some(fp), false) => Ok(tls::Trust::pinned(fp)),
            (None, true) => Ok(tls::Trust::dangerous().no_certificate_verification()),
            (None, false) => Ok(tls::Trust::roots(self.cafile.as_deref())),
        }
    }

    /// The mount's URL, as in fstab: `ftp://user@host:port/path` (never
    /// a password); the default source shown in the mount table, so that
    /// `mount -a` sees an fstab line as mounted.
    pub fn url(&self) -> String {
        let scheme = match self.tls_mode {
            TlsMode::Explicit => "ftp",
            TlsMode::Implicit => "ftps",
        };
        let user = self
            .user
            .as_ref()
            .map(|u| format!("{u}@"))
            .unwrap_or_default();
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        // Bytes of the path that are not UTF-8 shown as the URL gave them.
        let mut path = String::with_capacity(self.root.len());
        for chunk in crate::names::to_bytes(&self.root).utf8_chunks() {
            path.push_str(chunk.valid());
            for b in chunk.invalid() {
                path.push_str(&format!("%{b:02X}"));
            }
        }
        format!("{scheme}://{user}{host}:{}{path}", self.port)
    }

    /// The protocol client's settings for this mount: TLS configuration
    /// (trust, versions, client certificate), protection, data mode and
    /// command timing. Fails with a message for the user.
    pub fn connect_options(&self) -> Result<ConnectOptions, String> {
        let versions = match self.tls_versions {
            TlsVersions::Both => tls::Versions::Both,
            TlsVersions::Only12 => tls::Versions::Only12,
            TlsVersions::Only13 => tls::Versions::Only13,
        };
        let identity = match &self.cert {
            Some(cert) => {
                let key = self.key.as_deref().unwrap_or(cert);
                Some(tls::Identity::load(cert, key).map_err(|e| e.to_string())?)
            }
            None if self.key.is_some() => return Err("option key= needs cert= too".into()),
            None => None,
        };
        let trust = self.trust()?;
        let tls_config = tls::client_config_trusting(&trust, versions, identity.as_ref())
            .map_err(|e| e.to_string())?;
        let tls_start = match self.tls_mode {
            TlsMode::Explicit => TlsStart::Explicit,
            TlsMode::Implicit => TlsStart::Implicit,
        };
        let mut opts = ConnectOptions::new(
            self.host.clone(),
            self.port,
            tls_start,
            tls_config,
            self.timeout,
        );
        if self.clear_data {
            opts.protection = Protection::Clear;
        }
        if self.active {
            opts.data_mode = DataMode::Active;
        }
        opts.charset = self.iocharset;
        opts.sequence = Sequence {
            before_auth: self
                .before_auth
                .iter()
                .map(|c| Command::raw(c).map_err(|e| format!("before_auth={c:?}: {e}")))
                .collect::<Result<_, _>>()?,
            protect_before_login: self.protect_before_login,
        };
        Ok(opts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_url_names_user_host_port_and_path_never_a_password() {
        let mut c = MountConfig::new("h.example".into(), 2121, TlsMode::Explicit, "/m".into());
        c.user = Some("alice".into());
        c.root = "/backup".into();
        assert_eq!(c.url(), "ftp://alice@h.example:2121/backup");
        let c = MountConfig::new("::1".into(), 990, TlsMode::Implicit, "/m".into());
        assert_eq!(c.url(), "ftps://[::1]:990/");
        let mut c = MountConfig::new("h".into(), 21, TlsMode::Explicit, "/m".into());
        c.root = crate::names::from_bytes(b"/caf\xe9/\xc3\xa9t\xc3\xa9");
        assert_eq!(c.url(), "ftp://h:21/caf%E9/\u{e9}t\u{e9}");
    }
}
