//! `ftpsfs URL MOUNTPOINT [-o opts]`: log in, go to the background, mount.
//! `ftpsfs probe URL [-o opts] [--json] [--write]`: check a server first.

use ftpsfs::cache::DirCache;
use ftpsfs::cli::{self, password::resolve_credentials};
use ftpsfs::config::MountConfig;
use ftpsfs::daemon;
use ftpsfs::fs::attr::Owner;
use ftpsfs::fs::{Core, FsOptions, FtpsFs};
use ftpsfs::ftp::Control;
use ftpsfs::probe::{render, ProbeOptions};
use ftpsfs::remote::ftps::{FtpsRemote, UploadCheck};
use ftpsfs::remote::pool::{Login, Pool};
use std::os::fd::AsRawFd;
use std::process::exit;
use std::sync::Arc;

/// Directories whose listings are cached.
const CACHED_DIRS: usize = 4096;

fn fail(msg: impl std::fmt::Display) -> ! {
    eprintln!("ftpsfs: {msg}");
    exit(1)
}

fn main() {
    let argv: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if argv.get(1).is_some_and(|a| a == "probe") {
        exit(probe_main(&argv[2..]));
    }
    if argv.get(1).is_some_and(|a| a == "--completions") {
        exit(completions_main(&argv[2..]));
    }
    let cfg = match cli::parse_args(argv) {
        Ok(c) => c,
        Err(e) if e.exit_code == 0 => {
            print!("{}", e.message);
            exit(0)
        }
        Err(e) => {
            eprintln!("ftpsfs: {}", e.message);
            exit(e.exit_code)
        }
    };
    let level = if cfg.debug { "debug" } else { "warn" };
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or(level)).init();

    let mut cfg = cfg;
    cfg.mountpoint = std::fs::canonicalize(&cfg.mountpoint)
        .unwrap_or_else(|e| fail(format!("mount point {}: {e}", cfg.mountpoint.display())));
    let (user, password) = resolve_credentials(&cfg).unwrap_or_else(|e| fail(e));
    let opts = cfg.connect_options().unwrap_or_else(|e| fail(e));
    if cfg.clear_data {
        warn_clear_data();
    }
    if cfg.dangerous_no_verify {
        warn_no_verify();
    }
    let mut first = Control::open(&opts, &user, password.expose())
        .unwrap_or_else(|e| fail(format!("{}:{}: {e}", cfg.host, cfg.port)));
    if let Err(e) = first.cwd(&cfg.root) {
        fail(format!("remote directory {}: {e}", cfg.root));
    }
    let check = UploadCheck::choose(cfg.verify, first.features())
        .unwrap_or_else(|e| fail(format!("{}:{}: {e}", cfg.host, cfg.port)));

    let log = cfg
        .log_file
        .as_deref()
        .map(daemon::open_log_file)
        .transpose()
        .unwrap_or_else(|e| fail(e));
    // Fork only now, so a bad password or host fails the mount command itself.
    let (report, log_pipe) = match (cfg.foreground, log) {
        (true, log) => {
            if let Some(f) = log {
                // SAFETY: dup2 of an open file onto stderr.
                unsafe { libc::dup2(f.as_raw_fd(), 2) };
            }
            (None, None)
        }
        (false, log) => {
            let d = daemon::daemonize(log).unwrap_or_else(|e| fail(e));
            (Some(d.report), d.log_pipe)
        }
    };
    // Before any thread starts, so that only the signal thread gets them.
    daemon::block_stop_signals();
    if let Some(pipe) = log_pipe {
        std::thread::spawn(move || daemon::pump_to_syslog(pipe));
    }
    daemon::stop_on_signal(cfg.mountpoint.clone());
    let features = first.features().clone();
    let pool = Pool::new(opts, Login { user, password }, cfg.connections, Some(first));
    if !cfg.keepalive.is_zero() {
        pool.keep_alive(cfg.keepalive);
    }
    let remote = FtpsRemote::new(Arc::clone(&pool), &features, &cfg.root, cfg.atomic_upload)
        .with_time_offset(cfg.time_offset)
        .with_verify(check)
        .with_charset(cfg.iocharset);
    let fs = build_fs(&cfg, Arc::new(remote));
    let config = mount_config(&cfg);
    let session = match fuser::Session::new(fs, &cfg.mountpoint, &config) {
        Ok(s) => s,
        Err(e) => {
            let msg = format!("cannot mount on {}: {e}", cfg.mountpoint.display());
            if let Some(r) = report {
                daemon::send_report(r, &msg);
            }
            fail(msg)
        }
    };
    if let Some(r) = report {
        daemon::send_report(r, "ok");
    }
    let r = session.run();
    pool.close_idle();
    if let Err(e) = r {
        fail(format!("FUSE session ended: {e}"));
    }
}

/// `ftpsfs probe`: returns the exit code (0 OK, 1 problems, 2 usage).
fn probe_main(args: &[std::ffi::OsString]) -> i32 {
    let argv =
        std::iter::once(std::ffi::OsString::from("ftpsfs probe")).chain(args.iter().cloned());
    let p = match cli::probe_args::parse_probe_args(argv) {
        Ok(p) => p,
        Err(e) if e.exit_code == 0 => {
            print!("{}", e.message);
            return 0;
        }
        Err(e) => {
            eprintln!("ftpsfs probe: {}", e.message);
            return e.exit_code;
        }
    };
    let level = if p.debug { "debug" } else { "warn" };
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or(level)).init();
    let cfg = &p.mount;
    if cfg.dangerous_no_verify {
        warn_no_verify();
    }
    let (user, password) = match resolve_credentials(cfg) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("ftpsfs probe: {e}");
            return e.exit_code;
        }
    };
    let opts = match ProbeOptions::new(cfg, user, p.write) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("ftpsfs probe: {e}");
            return 1;
        }
    };
    let report = ftpsfs::probe::run(&opts, password.expose());
    let out = if p.json {
        render::json(&report)
    } else {
        render::text(&report)
    };
    print!("{out}");
    if report.verdict.ok {
        0
    } else {
        1
    }
}

/// `ftpsfs --completions SHELL` (hidden, for packagers): prints a shell
/// completion script; returns the exit code (0, or 2 for a usage error).
fn completions_main(args: &[std::ffi::OsString]) -> i32 {
    let shell = match args {
        [shell] => shell.to_string_lossy(),
        _ => {
            eprintln!("ftpsfs: usage: ftpsfs --completions bash|zsh|fish");
            return 2;
        }
    };
    let mut out = std::io::stdout().lock();
    match cli::completions::write(&shell, &mut out) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("ftpsfs: {e}");
            e.exit_code
        }
    }
}

/// PROT C was asked for: say so on stderr and in the log, every mount.
fn warn_clear_data() {
    let msg = "WARNING: data_protection=clear: file contents and listings travel WITHOUT encryption or integrity protection (PROT C); anyone on the network path can read and alter them. Only the control connection (login, commands) is protected.";
    eprintln!("ftpsfs: {msg}");
    log::warn!("{msg}");
}

/// `dangerous_no_verify` was asked for: say so on stderr and in the log, every mount.
fn warn_no_verify() {
    let msg = "WARNING: dangerous_no_verify: the server's TLS certificate is NOT checked; anyone on the network path can pose as the server, read the password and read and alter every file. Pin the certificate instead: -o fingerprint=sha256:... (see ftpsfs probe).";
    eprintln!("ftpsfs: {msg}");
    log::warn!("{msg}");
}

fn build_fs(cfg: &MountConfig, remote: Arc<FtpsRemote>) -> FtpsFs {
    // SAFETY: getuid/getgid cannot fail.
    let (uid, gid) = unsafe { (libc::getuid(), libc::getgid()) };
    let owner = Owner {
        uid: cfg.uid.unwrap_or(uid),
        gid: cfg.gid.unwrap_or(gid),
        umask: cfg.umask.unwrap_or(0),
        read_only: cfg.read_only,
    };
    let core = Core::new(
        remote,
        DirCache::new(CACHED_DIRS, cfg.dir_cache_ttl),
        FsOptions {
            owner,
            read_only: cfg.read_only,
            // Leave one pooled connection for what the user is waiting on.
            walk_ahead: cfg.walk_ahead.unwrap_or(cfg.connections.saturating_sub(1)),
            follow_symlinks: cfg.follow_symlinks,
            segments: cfg.segments.min(cfg.connections),
        },
    );
    FtpsFs::new(core, cfg.connections.max(2) * 2)
}

fn mount_config(cfg: &MountConfig) -> fuser::Config {
    use fuser::MountOption as M;
    let mut config = fuser::Config::default();
    let fsname = cfg.fsname.clone().unwrap_or_else(|| cfg.url());
    config.mount_options = vec![
        M::FSName(fsname),
        M::Subtype("ftpsfs".into()),
        M::DefaultPermissions,
        M::NoDev,
        M::NoSuid,
    ];
    if cfg.read_only {
        config.mount_options.push(M::RO);
    }
    if cfg.allow_other {
        config.mount_options.push(M::CUSTOM("allow_other".into()));
        config.acl = fuser::SessionACL::All;
    }
    config
}
