//! Running as a mount daemon: going to the background once logged in,
//! where the log goes then, and stopping cleanly on SIGTERM.

use std::ffi::CString;
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::process::exit;

/// What the background process keeps from [`daemonize`].
pub struct Daemon {
    /// Where to say "ok" or why the mount failed; the parent exits with it.
    pub report: OwnedFd,
    /// The read end of the pipe that stderr now writes into, to be passed
    /// to [`pump_to_syslog`] (`None` when the log goes to a file).
    pub log_pipe: Option<OwnedFd>,
}

fn os_error(what: &str) -> String {
    format!("{what}: {}", std::io::Error::last_os_error())
}

/// Forks. The parent waits for the child's report and exits with it: 0,
/// or 1 and the reason on stderr. The child continues in a new session
/// with stdin on /dev/null and stdout and stderr on `log` (a file opened
/// by the caller) or else on a pipe for [`pump_to_syslog`].
///
/// Call before any thread is started.
pub fn daemonize(log: Option<File>) -> Result<Daemon, String> {
    let (rd, wr) = pipe()?;
    let log_pipe = match log {
        Some(_) => None,
        None => Some(pipe()?),
    };
    // SAFETY: the caller starts no thread before this, so fork is safe.
    match unsafe { libc::fork() } {
        -1 => Err(os_error("fork")),
        0 => {
            drop(rd);
            let target = match (&log, &log_pipe) {
                (Some(f), _) => f.as_raw_fd(),
                (None, Some((_, w))) => w.as_raw_fd(),
                (None, None) => unreachable!("one of the two is set"),
            };
            // SAFETY: plain syscalls on descriptors this process owns.
            unsafe {
                libc::setsid();
                let null = libc::open(c"/dev/null".as_ptr(), libc::O_RDWR);
                if null >= 0 {
                    libc::dup2(null, 0);
                    if null > 2 {
                        libc::close(null);
                    }
                }
                libc::dup2(target, 1);
                libc::dup2(target, 2);
                libc::chdir(c"/".as_ptr());
            }
            Ok(Daemon {
                report: wr,
                log_pipe: log_pipe.map(|(r, _)| r),
            })
        }
        _ => {
            drop(wr);
            drop(log_pipe);
            let mut msg = String::new();
            let _ = File::from(rd).read_to_string(&mut msg);
            match msg.trim() {
                "ok" => exit(0),
                "" => {
                    eprintln!("ftpsfs: mount process ended without reporting");
                    exit(1)
                }
                m => {
                    eprintln!("ftpsfs: {m}");
                    exit(1)
                }
            }
        }
    }
}

fn pipe() -> Result<(OwnedFd, OwnedFd), String> {
    let mut fds = [0i32; 2];
    // SAFETY: fds is a valid array of two ints.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(os_error("pipe"));
    }
    // SAFETY: the pipe fds are fresh and owned here.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// Tells the waiting parent of [`daemonize`] how the mount went.
pub fn send_report(fd: OwnedFd, msg: &str) {
    let _ = File::from(fd).write_all(msg.as_bytes());
}

/// Opens the `log_file=` file for appending (created with mode 0600).
pub fn open_log_file(path: &Path) -> Result<File, String> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| format!("log file {}: {e}", path.display()))
}

/// Sends every line written to the log pipe to syslog (facility daemon,
/// the level taken from the log line), until the pipe closes.
pub fn pump_to_syslog(pipe: OwnedFd) {
    // SAFETY: the identity is a static C string that outlives the process.
    unsafe { libc::openlog(c"ftpsfs".as_ptr(), libc::LOG_PID, libc::LOG_DAEMON) };
    for line in BufReader::new(File::from(pipe)).split(b'\n') {
        let Ok(line) = line else {
            return;
        };
        let text = String::from_utf8_lossy(&line).replace('\0', " ");
        let Ok(text) = CString::new(text) else {
            continue;
        };
        // SAFETY: "%s" with one valid C string.
        unsafe { libc::syslog(syslog_level(&line), c"%s".as_ptr(), text.as_ptr()) };
    }
}

/// The syslog priority of one log line (`[time LEVEL target] message`).
fn syslog_level(line: &[u8]) -> libc::c_int {
    let head = String::from_utf8_lossy(&line[..line.len().min(48)]);
    if head.contains(" ERROR ") || head.starts_with("ftpsfs:") {
        libc::LOG_ERR
    } else if head.contains(" WARN ") || head.starts_with("WARNING") {
        libc::LOG_WARNING
    } else if head.contains(" INFO ") {
        libc::LOG_INFO
    } else {
        libc::LOG_DEBUG
    }
}

/// Blocks SIGTERM, SIGINT and SIGHUP in this thread and every thread it
/// starts afterwards, so that only [`stop_on_signal`]'s thread gets them.
pub fn block_stop_signals() {
    let set = stop_signals();
    // SAFETY: a valid, initialised signal set.
    unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) };
}

/// SIGTERM, SIGINT and SIGHUP as a signal set.
fn stop_signals() -> libc::sigset_t {
    // SAFETY: the set is initialised by sigemptyset before use.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for s in [libc::SIGTERM, libc::SIGINT, libc::SIGHUP] {
            libc::sigaddset(&mut set, s);
        }
        set
    }
}

/// Starts a thread that, on SIGTERM, SIGINT or SIGHUP, detaches the mount
/// (a lazy unmount): nothing new can be opened, files already open stay
/// usable and their uploads complete when they are closed, and the FUSE
/// session ends once the last one is. A second signal ends the process at
/// once, with status 1 (uploads still open are then lost, never half
/// stored: atomic uploads leave the old files as they were).
pub fn stop_on_signal(mountpoint: PathBuf) {
    let spawned = std::thread::Builder::new()
        .name("ftpsfs-signals".into())
        .spawn(move || {
            let mut first = true;
            loop {
                let mut sig: libc::c_int = 0;
                let set = stop_signals();
                // SAFETY: a valid signal set and out pointer.
                let r = unsafe { libc::sigwait(&set, &mut sig) };
                if r != 0 {
                    return;
                }
                if !first {
                    log::error!("signal {sig} again: exiting now; uploads still open are lost");
                    exit(1);
                }
                first = false;
                log::warn!(
                    "signal {sig}: unmounting {}; files still open stay usable until closed",
                    mountpoint.display()
                );
                detach(&mountpoint);
            }
        });
    if let Err(e) = spawned {
        log::warn!("no signal thread: {e}");
    }
}

/// Lazy unmount, as root directly, else through fusermount3.
fn detach(mountpoint: &Path) {
    use std::os::unix::ffi::OsStrExt;
    if let Ok(c) = CString::new(mountpoint.as_os_str().as_bytes()) {
        // SAFETY: a valid C string path.
        if unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) } == 0 {
            return;
        }
    }
    match std::process::Command::new("fusermount3")
        .arg("-u")
        .arg("-z")
        .arg(mountpoint)
        .status()
    {
        Ok(s) if s.success() => {}
        Ok(s) => log::error!("fusermount3 -u -z {}: {s}", mountpoint.display()),
        Err(e) => log::error!("fusermount3: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_lines_get_their_syslog_level() {
        let line = |s: &str| syslog_level(s.as_bytes());
        assert_eq!(
            line("[2026-11-26T12:00:00Z ERROR ftpsfs::fs] x"),
            libc::LOG_ERR
        );
        assert_eq!(
            line("[2026-11-26T12:00:00Z WARN  ftpsfs::fs] x"),
            libc::LOG_WARNING
        );
        assert_eq!(line("[2026-11-26T12:00:00Z INFO  fuser] x"), libc::LOG_INFO);
        assert_eq!(
            line("[2026-11-26T12:00:00Z DEBUG ftpsfs] x"),
            libc::LOG_DEBUG
        );
        assert_eq!(line("WARNING: data_protection=clear"), libc::LOG_WARNING);
        assert_eq!(line(""), libc::LOG_DEBUG);
    }
}
