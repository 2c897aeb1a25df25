//! Running the tools the tests drive (rsync, restic, man, groff,
//! systemd-analyze, the install script): every child bounded, and a
//! missing tool a failure under `CI=true`, a loud skip otherwise.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};
use std::time::Duration;

/// What a finished child printed and how it ended.
#[derive(Debug)]
pub struct Ran {
    /// How it ended.
    pub status: ExitStatus,
    /// Exit code (`None`: killed by a signal).
    pub code: Option<i32>,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl Ran {
    /// Exit code 0.
    pub fn ok(&self) -> bool {
        self.status.success()
    }
}

/// Runs `cmd` with no standard input; panics if it has not ended within
/// `timeout` (see [`super::mount::run_bounded`]).
pub fn run(cmd: &mut Command, timeout: Duration) -> Ran {
    let out = super::mount::run_bounded(cmd, timeout);
    Ran {
        status: out.status,
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// The path of `tool` if it is installed (searched on PATH and in the
/// sbin directories). Without it the test fails under `CI=true` and is
/// skipped, with a message, otherwise: returns `None` then.
pub fn tool(tool: &str, package: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let found = std::env::split_paths(&path)
        .chain(["/usr/sbin", "/sbin"].map(PathBuf::from))
        .map(|d| d.join(tool))
        .find(|p| is_executable(p));
    if found.is_none() {
        let msg =
            format!("{tool} is not installed (package {package}; scripts/deps.sh installs it)");
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("{msg}");
        }
        // Straight to stderr, past the test harness's capture: a skip is never silent.
        use std::io::Write;
        let _ = writeln!(std::io::stderr(), "SKIPPED: {msg}");
    }
    found
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// The repository root.
pub fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}
