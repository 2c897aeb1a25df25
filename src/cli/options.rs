//! `-o` mount options.

use super::CliError;
use crate::config::{MountConfig, TlsVersions};
use crate::ftp::tls::Fingerprint;
use crate::names::Charset;
use crate::remote::Verify;
use std::path::PathBuf;
use std::time::Duration;

/// One `-o` option of ftpsfs, as `--help` lists it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OptionDoc {
    /// The key, e.g. `timeout`.
    pub key: &'static str,
    /// How its value is written (`SECS`, `PATH`, `on|off`), or `""` for
    /// an option without a value.
    pub value: &'static str,
    /// What it does, with its default, in one line.
    pub help: &'static str,
}

impl OptionDoc {
    /// `key=VALUE`, or `key` for an option without a value.
    pub fn usage(&self) -> String {
        if self.value.is_empty() {
            self.key.to_string()
        } else {
            format!("{}={}", self.key, self.value)
        }
    }
}

/// Every option [`apply_options`] accepts beside the generic mount options
/// ([`GENERIC`]), in the order `--help` and ftpsfs(1) list them. A test
/// checks this list against the keys `apply_options` matches on, and
/// tests/docs.rs checks that `--help` and man/ftpsfs.1 name each one.
pub const OPTIONS: &[OptionDoc] = &[
    OptionDoc {
        key: "password_file",
        value: "PATH",
        help: "password on the first line; refused unless mode 0600 or stricter",
    },
    OptionDoc {
        key: "cafile",
        value: "PATH",
        help: "extra trusted certificates (PEM), e.g. a self-signed server's",
    },
    OptionDoc {
        key: "fingerprint",
        value: "sha256:HEX",
        help: "pin the server certificate's SHA-256 (replaces CA, name and date checks)",
    },
    OptionDoc {
        key: "cert",
        value: "PATH",
        help: "client certificate (PEM) for servers that log in by certificate",
    },
    OptionDoc {
        key: "key",
        value: "PATH",
        help: "private key (PEM) of cert= (default: the cert= file)",
    },
    OptionDoc {
        key: "tls",
        value: "1.2|1.3",
        help: "offer only this TLS version (default: both)",
    },
    OptionDoc {
        key: "connections",
        value: "N",
        help: "control connections in the pool, 1-64 (default 4)",
    },
    OptionDoc {
        key: "timeout",
        value: "SECS",
        help: "connect, read and write timeout of every socket, 1-3600 (default 30)",
    },
    OptionDoc {
        key: "keepalive",
        value: "SECS",
        help: "send NOOP on pooled connections idle that long, 0-86400 (default 0: off)",
    },
    OptionDoc {
        key: "time_offset",
        value: "[+-]HH[:MM]",
        help: "the server's LIST times are in this zone (LIST-only servers; default +00:00, UTC)",
    },
    OptionDoc {
        key: "dir_cache_ttl",
        value: "SECS",
        help: "how long a directory listing is reused, 0-86400 (default 60)",
    },
    OptionDoc {
        key: "walk_ahead",
        value: "N",
        help: "threads working ahead of tree walks, 0-64 (default connections-1; 0: off)",
    },
    OptionDoc {
        key: "segments",
        value: "N",
        help: "read a large file over up to N pooled connections when one is slow (under 64 MiB/s), 1-16 (default 4; 1: off)",
    },
    OptionDoc {
        key: "atomic_upload",
        value: "on|off",
        help: "replace a file by uploading to a temporary name, then renaming (default on)",
    },
    OptionDoc {
        key: "follow_symlinks",
        value: "",
        help: "show symlinks as the files and directories they point to",
    },
    OptionDoc {
        key: "verify",
        value: "auto|hash|size|none",
        help: "check uploads by the server's hash (HASH, XSHA256...) and/or SIZE (default auto: hash if offered)",
    },
    OptionDoc {
        key: "iocharset",
        value: "CHARSET",
        help: "charset of the server's file names, e.g. latin1, cp1251 (default UTF-8)",
    },
    OptionDoc {
        key: "active",
        value: "",
        help: "active mode: the server connects to us for data (PORT/EPRT)",
    },
    OptionDoc {
        key: "passive",
        value: "",
        help: "passive mode: we connect to the server for data (EPSV/PASV; the default)",
    },
    OptionDoc {
        key: "before_auth",
        value: "CMD",
        help: "a command sent in plaintext before AUTH TLS, e.g. \"HOST name\" (repeatable)",
    },
    OptionDoc {
        key: "protect_before_login",
        value: "",
        help: "send PBSZ 0 and PROT before USER/PASS instead of after",
    },
    OptionDoc {
        key: "ro",
        value: "",
        help: "read-only mount",
    },
    OptionDoc {
        key: "allow_other",
        value: "",
        help: "let other users use the mount (default: only the mounting user)",
    },
    OptionDoc {
        key: "uid",
        value: "N",
        help: "owner of every file (default: the mounting user)",
    },
    OptionDoc {
        key: "gid",
        value: "N",
        help: "group of every file (default: the mounting user's group)",
    },
    OptionDoc {
        key: "umask",
        value: "OCTAL",
        help: "permission bits removed from every file's mode (default 0)",
    },
    OptionDoc {
        key: "fsname",
        value: "NAME",
        help: "source shown in /proc/mounts (default: the URL, ftp://USER@HOST:PORT/PATH)",
    },
    OptionDoc {
        key: "debug",
        value: "",
        help: "debug logging; unlike -d it stays in the background (for fstab)",
    },
    OptionDoc {
        key: "log_file",
        value: "PATH",
        help: "log to this file (appended, 0600) instead of syslog, or of stderr with -f",
    },
    OptionDoc {
        key: "data_protection",
        value: "private|clear",
        help: "INSECURE if clear: file data and listings unencrypted (default private)",
    },
    OptionDoc {
        key: "dangerous_no_verify",
        value: "",
        help: "INSECURE: accept any server certificate; prefer fingerprint=",
    },
];

/// Generic mount options passed by mount(8) / mount.fuse3 that need no
/// action here; `x-systemd.*`, `x-gvfs-*` and `comment=` are accepted too.
pub const GENERIC: &[&str] = &[
    "rw", "dev", "nodev", "suid", "nosuid", "exec", "noexec", "atime", "noatime", "relatime",
    "_netdev", "nofail", "auto", "noauto", "user", "users", "defaults", "async", "sync",
];

/// The `-o` part of `ftpsfs --help`: each of [`OPTIONS`] on a line of its
/// own, then the generic options that are accepted and ignored.
pub fn long_help() -> String {
    let mut s = String::from("Mount options, comma-separated; -o may be repeated:\n");
    for d in OPTIONS {
        s.push_str(&format!("  {:<23} {}\n", d.usage(), d.help));
    }
    s.push_str("Also accepted and ignored (generic mount options): ");
    s.push_str(&GENERIC.join(", "));
    s.push_str(", x-systemd.*, x-gvfs-*, comment=\nSee ftpsfs(1) for details.");
    s
}

fn number<T: std::str::FromStr + PartialOrd + Copy + std::fmt::Display>(
    key: &str,
    value: &str,
    min: T,
    max: T,
) -> Result<T, CliError> {
    match value.parse::<T>() {
        Ok(v) if v >= min && v <= max => Ok(v),
        _ => Err(CliError::usage(format!(
            "bad value for option {key}: {value:?} (a whole number from {min} to {max})"
        ))),
    }
}

/// `[+-]H[H][:MM]` (a zone's offset from UTC) in seconds, within ±24 h.
fn parse_offset(v: &str) -> Option<i64> {
    let (sign, rest) = match v.as_bytes().first()? {
        b'-' => (-1, &v[1..]),
        b'+' => (1, &v[1..]),
        _ => (1, v),
    };
    let (h, m) = rest.split_once(':').unwrap_or((rest, "00"));
    let digits = |s: &str, n: std::ops::RangeInclusive<usize>| {
        n.contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit())
    };
    if !digits(h, 1..=2) || !digits(m, 2..=2) {
        return None;
    }
    let (h, m): (i64, i64) = (h.parse().ok()?, m.parse().ok()?);
    (h < 24 && m < 60).then_some(sign * (h * 3600 + m * 60))
}

/// Applies one comma-separated `-o` string.
pub fn apply_options(cfg: &mut MountConfig, opts: &str) -> Result<(), CliError> {
    for opt in opts.split(',').filter(|o| !o.is_empty()) {
        let (key, value) = match opt.split_once('=') {
            Some((k, v)) => (k, Some(v)),
            None => (opt, None),
        };
        let need = || value.ok_or_else(|| CliError::usage(format!("option {key} needs a value")));
        match key {
            "cafile" => cfg.cafile = Some(PathBuf::from(need()?)),
            "fingerprint" => {
                cfg.fingerprint = Some(Fingerprint::parse(need()?).map_err(|e| {
                    CliError::usage(format!("bad value for option fingerprint: {e}"))
                })?)
            }
            // Loudly named on purpose: there is no short or quiet spelling.
            "dangerous_no_verify" if value.is_none() => cfg.dangerous_no_verify = true,
            "password_file" => cfg.password_file = Some(PathBuf::from(need()?)),
            "connections" => cfg.connections = number(key, need()?, 1usize, 64)?,
            "timeout" => cfg.timeout = Duration::from_secs(number(key, need()?, 1u64, 3600)?),
            "dir_cache_ttl" => {
                cfg.dir_cache_ttl = Duration::from_secs(number(key, need()?, 0u64, 86_400)?)
            }
            "tls" => {
                cfg.tls_versions = match need()? {
                    "1.2" => TlsVersions::Only12,
                    "1.3" => TlsVersions::Only13,
                    v => {
                        return Err(CliError::usage(format!(
                            "bad value for option tls: {v:?} (1.2 or 1.3)"
                        )))
                    }
                }
            }
            "ro" => cfg.read_only = true,
            "allow_other" => cfg.allow_other = true,
            "debug" => cfg.debug = true,
            "uid" => cfg.uid = Some(number(key, need()?, 0u32, u32::MAX)?),
            "gid" => cfg.gid = Some(number(key, need()?, 0u32, u32::MAX)?),
            "umask" => {
                let v = need()?;
                cfg.umask = Some(
                    u32::from_str_radix(v, 8)
                        .ok()
                        .filter(|&m| m <= 0o777)
                        .ok_or_else(|| {
                            CliError::usage(format!("bad value for option umask: {v:?}"))
                        })?,
                )
            }
            "fsname" => cfg.fsname = Some(need()?.to_string()),
            "data_protection" => {
                cfg.clear_data = match need()? {
                    "private" => false,
                    "clear" => true,
                    v => {
                        return Err(CliError::usage(format!(
                            "bad value for option data_protection: {v:?} (private or clear)"
                        )))
                    }
                }
            }
            "follow_symlinks" if value.is_none() => cfg.follow_symlinks = true,
            "iocharset" => {
                let v = need()?;
                cfg.iocharset = Charset::from_label(v)
                    .map_err(|e| CliError::usage(format!("bad value for option iocharset: {e}")))?
            }
            "active" => cfg.active = true,
            "passive" => cfg.active = false,
            "cert" => cfg.cert = Some(PathBuf::from(need()?)),
            "key" => cfg.key = Some(PathBuf::from(need()?)),
            "before_auth" => {
                let v = need()?;
                crate::ftp::Command::raw(v).map_err(|e| {
                    CliError::usage(format!("bad value for option before_auth: {v:?}: {e}"))
                })?;
                cfg.before_auth.push(v.to_string())
            }
            "protect_before_login" => cfg.protect_before_login = true,
            "segments" => cfg.segments = number(key, need()?, 1usize, 16)?,
            "walk_ahead" => cfg.walk_ahead = Some(number(key, need()?, 0usize, 64)?),
            "log_file" => cfg.log_file = Some(PathBuf::from(need()?)),
            "keepalive" => cfg.keepalive = Duration::from_secs(number(key, need()?, 0u64, 86_400)?),
            "time_offset" => {
                let v = need()?;
                cfg.time_offset = parse_offset(v).ok_or_else(|| {
                    CliError::usage(format!(
                        "bad value for option time_offset: {v:?} ([+-]HH[:MM], e.g. +02:00 or -5)"
                    ))
                })?
            }
            "atomic_upload" => {
                cfg.atomic_upload = match value.unwrap_or("on") {
                    "on" | "yes" | "1" => true,
                    "off" | "no" | "0" => false,
                    v => {
                        return Err(CliError::usage(format!(
                            "bad value for option atomic_upload: {v:?} (on or off)"
                        )))
                    }
                }
            }
            "verify" => {
                cfg.verify = match need()? {
                    "auto" => Verify::Auto,
                    "hash" => Verify::Hash,
                    "size" => Verify::Size,
                    "none" => Verify::None,
                    v => {
                        return Err(CliError::usage(format!(
                            "bad value for option verify: {v:?} (auto, hash, size or none)"
                        )))
                    }
                }
            }
            k if value.is_none() && GENERIC.contains(&k) => {}
            k if k.starts_with("x-systemd.") || k.starts_with("x-gvfs-") || k == "comment" => {}
            k => return Err(CliError::usage(format!("unknown mount option '{k}'"))),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::TlsMode;

    fn cfg() -> MountConfig {
        MountConfig::new("h".into(), 21, TlsMode::Explicit, "/m".into())
    }

    #[test]
    fn security_weakening_values_are_checked() {
        for bad in [
            "data_protection=none",
            "fingerprint",
            "fingerprint=AB:CD",
            "fingerprint=sha1:0000000000000000000000000000000000000000",
            "dangerous_no_verify=yes",
            "insecure",
            "no_verify",
            "before_auth=PASS secret",
            "before_auth=user bob",
            "before_auth=RETR x",
            "before_auth",
        ] {
            assert!(apply_options(&mut cfg(), bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn time_offsets_are_zones() {
        for (v, secs) in [
            ("+02:00", 7200),
            ("-5", -18_000),
            ("05:30", 19_800),
            ("-00:30", -1800),
            ("+0", 0),
        ] {
            let mut c = cfg();
            apply_options(&mut c, &format!("time_offset={v}")).unwrap();
            assert_eq!(c.time_offset, secs, "{v}");
        }
        for bad in [
            "",
            "+",
            "24",
            "+1:5",
            "+1:60",
            "2h",
            "+123",
            "1:00:00",
            "time_offset",
        ] {
            let o = if bad == "time_offset" {
                bad.to_string()
            } else {
                format!("time_offset={bad}")
            };
            assert!(apply_options(&mut cfg(), &o).is_err(), "{bad}");
        }
    }

    #[test]
    fn every_option_is_applied() {
        let mut c = cfg();
        apply_options(&mut c, "cafile=/c.pem,password_file=/p,connections=8,timeout=5,dir_cache_ttl=0,tls=1.2,ro,allow_other,uid=7,gid=8,umask=022,fsname=x,debug").unwrap();
        assert_eq!(c.cafile, Some("/c.pem".into()));
        assert_eq!(c.connections, 8);
        assert_eq!(c.timeout, Duration::from_secs(5));
        assert_eq!(c.dir_cache_ttl, Duration::ZERO);
        assert_eq!(c.tls_versions, TlsVersions::Only12);
        assert!(c.read_only && c.allow_other && c.debug);
        assert_eq!((c.uid, c.gid, c.umask), (Some(7), Some(8), Some(0o22)));
        assert!(!c.clear_data && !c.active && !c.protect_before_login);
        assert!(!c.follow_symlinks);
        apply_options(&mut c, "data_protection=clear,active,cert=/c,key=/k,before_auth=HOST ftp.example,before_auth=SITE X,protect_before_login,follow_symlinks").unwrap();
        assert!(c.clear_data && c.active && c.protect_before_login && c.follow_symlinks);
        assert_eq!((c.cert, c.key), (Some("/c".into()), Some("/k".into())));
        assert_eq!(c.before_auth, ["HOST ftp.example", "SITE X"]);
    }

    #[test]
    fn fingerprint_and_dangerous_no_verify_are_applied() {
        let mut c = cfg();
        assert!(c.fingerprint.is_none() && !c.dangerous_no_verify);
        let hex = "ab".repeat(32);
        apply_options(
            &mut c,
            &format!("fingerprint=sha256:{hex},dangerous_no_verify"),
        )
        .unwrap();
        assert_eq!(
            c.fingerprint,
            Some(Fingerprint::parse(&format!("sha256:{hex}")).unwrap())
        );
        assert!(c.dangerous_no_verify);
    }

    #[test]
    fn trust_follows_fingerprint_and_dangerous_no_verify() {
        let mut c = cfg();
        assert!(!c.trust().unwrap().is_dangerous());
        apply_options(&mut c, "dangerous_no_verify").unwrap();
        assert!(c.trust().unwrap().is_dangerous());
        let mut p = cfg();
        apply_options(&mut p, &format!("fingerprint=sha256:{}", "0".repeat(64))).unwrap();
        assert!(!p.trust().unwrap().is_dangerous());
        apply_options(&mut p, "dangerous_no_verify").unwrap();
        assert!(p.trust().unwrap_err().contains("exclude"));
    }

    /// A value of the kind `doc.value` names, as a user would write it.
    fn sample(doc: &OptionDoc) -> String {
        let v = match doc.value {
            "" => return doc.key.to_string(),
            "PATH" => "/some/file".to_string(),
            "sha256:HEX" => format!("sha256:{}", "ab".repeat(32)),
            "1.2|1.3" => "1.3".into(),
            "N" | "SECS" => "2".into(),
            "on|off" => "off".into(),
            "CMD" => "SITE CHMOD".into(),
            "OCTAL" => "027".into(),
            "NAME" => "backup".into(),
            "private|clear" => "clear".into(),
            "[+-]HH[:MM]" => "-05:30".into(),
            "auto|hash|size|none" => "hash".into(),
            "CHARSET" => "latin1".into(),
            other => panic!("no sample for value kind {other:?} of {}", doc.key),
        };
        format!("{}={v}", doc.key)
    }

    #[test]
    fn every_documented_option_is_accepted() {
        for doc in OPTIONS {
            let mut c = cfg();
            let opt = sample(doc);
            apply_options(&mut c, &opt).unwrap_or_else(|e| panic!("{opt}: {e}"));
            assert_eq!(doc.usage().split('=').next(), Some(doc.key));
        }
        let keys: Vec<&str> = OPTIONS.iter().map(|d| d.key).collect();
        let mut unique = keys.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), keys.len(), "an option is listed twice");
        assert!(GENERIC.iter().all(|g| !keys.contains(g)));
    }

    #[test]
    fn verify_takes_its_four_values_and_defaults_to_auto() {
        assert_eq!(cfg().verify, Verify::Auto);
        for (opt, want) in [
            ("verify=hash", Verify::Hash),
            ("verify=size", Verify::Size),
            ("verify=none", Verify::None),
            ("verify=auto", Verify::Auto),
        ] {
            let mut c = cfg();
            apply_options(&mut c, opt).unwrap();
            assert_eq!(c.verify, want, "{opt}");
        }
        for bad in [
            "verify",
            "verify=",
            "verify=sha256",
            "verify=HASH",
            "verify=on",
        ] {
            let err = apply_options(&mut cfg(), bad).unwrap_err();
            assert!(err.message.contains("verify"), "{bad}: {}", err.message);
        }
    }

    #[test]
    fn generic_mount_options_are_accepted() {
        let mut c = cfg();
        apply_options(
            &mut c,
            "rw,nodev,nosuid,_netdev,noauto,x-systemd.automount,comment=x,users",
        )
        .unwrap();
    }

    #[test]
    fn unknown_options_and_bad_values_are_named() {
        let mut c = cfg();
        assert!(apply_options(&mut c, "foo")
            .unwrap_err()
            .message
            .contains("'foo'"));
        assert!(apply_options(&mut c, "connections=0")
            .unwrap_err()
            .message
            .contains("connections"));
        assert!(apply_options(&mut c, "tls=1.1").is_err());
        assert!(apply_options(&mut c, "iocharset=klingon")
            .unwrap_err()
            .message
            .contains("iocharset"));
        assert!(apply_options(&mut c, "iocharset=utf-16le").is_err());
        apply_options(&mut c, "iocharset=CP1251").unwrap();
        assert_eq!(c.iocharset.name(), "windows-1251");
        assert!(apply_options(&mut c, "timeout").is_err());
    }
}
