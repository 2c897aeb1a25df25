//! Mounting the built `ftpsfs` binary on a temporary directory.

use super::servers::TestServer;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A live ftpsfs mount; unmounted on drop.
pub struct Mount {
    /// The temporary mount point, when the mount made it.
    _dir: Option<tempfile::TempDir>,
    /// The mount point.
    pub path: PathBuf,
    /// What `ftpsfs` printed on stderr while mounting.
    pub stderr: String,
}

/// Output of an ftpsfs run that did not mount.
#[derive(Debug)]
pub struct Failed {
    /// Exit status code.
    pub code: Option<i32>,
    /// What it printed on stderr.
    pub stderr: String,
}

/// Runs `cmd` to completion, killing it (and panicking) after `limit`.
/// Its output goes to files, so a chatty child never blocks on a pipe.
pub fn run_bounded(cmd: &mut Command, limit: Duration) -> std::process::Output {
    let out = tempfile::NamedTempFile::new().expect("temp file");
    let err = tempfile::NamedTempFile::new().expect("temp file");
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(out.reopen().expect("reopen"))
        .stderr(err.reopen().expect("reopen"))
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "{cmd:?} did not finish within {limit:?}; stderr: {}",
                String::from_utf8_lossy(&std::fs::read(err.path()).unwrap_or_default())
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    std::process::Output {
        status,
        stdout: std::fs::read(out.path()).expect("stdout"),
        stderr: std::fs::read(err.path()).expect("stderr"),
    }
}

/// True when `path` is a mount point in /proc/mounts.
pub fn is_mounted(path: &Path) -> bool {
    let mounts = std::fs::read_to_string("/proc/mounts").unwrap_or_default();
    let p = path.to_string_lossy();
    mounts.lines().any(|l| l.split(' ').nth(1) == Some(&p))
}

impl Mount {
    /// Mounts `server` with the default test options plus `extra`.
    pub fn new(server: &TestServer, extra: &[&str]) -> Mount {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().to_path_buf();
        Mount::test_mount(server, extra, path, Some(dir))
    }

    /// Like [`Mount::new`], on the existing empty directory `path` (a
    /// remount at the same place, as backup tools need).
    pub fn at(server: &TestServer, extra: &[&str], path: &Path) -> Mount {
        Mount::test_mount(server, extra, path.to_path_buf(), None)
    }

    fn test_mount(
        server: &TestServer,
        extra: &[&str],
        path: PathBuf,
        dir: Option<tempfile::TempDir>,
    ) -> Mount {
        let mut opts = vec![
            format!("cafile={}", server.cert.display()),
            format!("password_file={}", server.password_file.display()),
        ];
        opts.extend(extra.iter().map(|s| s.to_string()));
        match Mount::start(&server.url(), &opts.join(","), path, dir) {
            Ok(m) => m,
            Err(f) => panic!("mount failed ({:?}): {}", f.code, f.stderr),
        }
    }

    /// Runs `ftpsfs URL DIR -o OPTS` and returns the mount if it succeeded.
    pub fn with_options(url: &str, opts: &str) -> Result<Mount, Failed> {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().to_path_buf();
        Mount::start(url, opts, path, Some(dir))
    }

    fn start(
        url: &str,
        opts: &str,
        path: PathBuf,
        dir: Option<tempfile::TempDir>,
    ) -> Result<Mount, Failed> {
        let out = run_bounded(
            Command::new(env!("CARGO_BIN_EXE_ftpsfs"))
                .arg(url)
                .arg(&path)
                .arg("-o")
                .arg(opts)
                .env_remove("FTPSFS_PASSWORD"),
            Duration::from_secs(60),
        );
        if out.status.success() {
            assert!(
                is_mounted(&path),
                "ftpsfs exited 0 but {path:?} is not mounted"
            );
            Ok(Mount {
                _dir: dir,
                path,
                stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            })
        } else {
            assert!(!is_mounted(&path), "failed ftpsfs left a mount at {path:?}");
            Err(Failed {
                code: out.status.code(),
                stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            })
        }
    }

    /// The pid of the daemon serving this mount, found in /proc by its
    /// command line (the binary and this mount point).
    pub fn daemon_pid(&self) -> Option<u32> {
        let want = self.path.as_os_str().as_encoded_bytes();
        std::fs::read_dir("/proc").ok()?.find_map(|e| {
            let name = e.ok()?.file_name().into_string().ok()?;
            let pid: u32 = name.parse().ok()?;
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
            let args: Vec<&[u8]> = cmdline.split(|b| *b == 0).collect();
            (args.first()?.ends_with(b"ftpsfs") && args.contains(&want)).then_some(pid)
        })
    }

    /// A path inside the mount.
    pub fn join(&self, rel: &str) -> PathBuf {
        self.path.join(rel)
    }
}

/// Unmounts `path` with `fusermount3 -u`, again while it is busy (for up
/// to 5 s: a process another test forks holds the descriptors open at that
/// moment until it execs); true once `path` is no longer mounted.
pub fn unmount(path: &Path) -> bool {
    for _ in 0..50 {
        let out = run_bounded(
            Command::new("fusermount3").arg("-u").arg(path),
            Duration::from_secs(20),
        );
        if out.status.success() || !is_mounted(path) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    false
}

impl Drop for Mount {
    fn drop(&mut self) {
        if !unmount(&self.path) {
            let _ = run_bounded(
                Command::new("fusermount3").arg("-uz").arg(&self.path),
                Duration::from_secs(20),
            );
        }
    }
}
