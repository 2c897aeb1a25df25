//! The units of systemd/ pass `systemd-analyze verify`, run hermetically:
//! copies in a temporary directory, ExecStart= pointed at a copy of the
//! built binary there, and `Documentation=man:ftpsfs(1)` resolved against
//! a man directory there holding man/ftpsfs.1.

mod common;

use common::tools::{repo, run, tool};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_ftpsfs");
const WAIT: Duration = Duration::from_secs(60);
const INSTALLED_BIN: &str = "/usr/local/bin/ftpsfs";

/// Lays out the units in `dir/units` (the template's ExecStart= pointing
/// at `exec`) and the man page in `dir/man/man1`; returns the unit files to
/// verify, the template as its instance `ftpsfs@mnt-backup.service`.
fn lay_out(dir: &Path, exec: &Path) -> Vec<std::path::PathBuf> {
    let units = dir.join("units");
    std::fs::create_dir_all(&units).unwrap();
    let src = repo().join("systemd");
    let template = std::fs::read_to_string(src.join("ftpsfs@.service")).unwrap();
    assert!(
        template.contains(&format!("\nExecStart={INSTALLED_BIN} ")),
        "ExecStart= of ftpsfs@.service is not {INSTALLED_BIN}"
    );
    let exec = exec.to_str().unwrap();
    std::fs::write(
        units.join("ftpsfs@.service"),
        template.replace(INSTALLED_BIN, exec),
    )
    .unwrap();
    for u in ["mnt-backup.mount", "mnt-backup.automount"] {
        std::fs::copy(src.join(u), units.join(u)).unwrap();
    }
    let man1 = dir.join("man/man1");
    std::fs::create_dir_all(&man1).unwrap();
    std::fs::copy(repo().join("man/ftpsfs.1"), man1.join("ftpsfs.1")).unwrap();
    [
        "ftpsfs@mnt-backup.service",
        "mnt-backup.mount",
        "mnt-backup.automount",
    ]
    .iter()
    .map(|u| units.join(u))
    .collect()
}

fn verify(analyze: &Path, dir: &Path, units: &[std::path::PathBuf]) -> common::tools::Ran {
    run(
        Command::new(analyze)
            .args(["verify", "--man=yes"])
            .args(units)
            .env("MANPATH", dir.join("man"))
            .env("SYSTEMD_LOG_LEVEL", "notice")
            .env("SYSTEMD_PAGER", "cat"),
        WAIT,
    )
}

/// What `systemd-analyze verify` said about our units (it may also
/// complain about the machine's own units, which are none of our business).
fn about_ours(stderr: &str) -> Vec<&str> {
    stderr
        .lines()
        .filter(|l| l.contains("ftpsfs") || l.contains("mnt-backup"))
        .collect()
}

#[test]
fn systemd_units_pass_systemd_analyze_verify() {
    let Some(analyze) = tool("systemd-analyze", "systemd") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let exec = dir.path().join("bin/ftpsfs");
    std::fs::create_dir_all(exec.parent().unwrap()).unwrap();
    std::fs::copy(BIN, &exec).unwrap();
    let units = lay_out(dir.path(), &exec);
    let r = verify(&analyze, dir.path(), &units);
    assert!(r.ok(), "systemd-analyze verify: {r:?}");
    assert!(about_ours(&r.stderr).is_empty(), "{}", r.stderr);

    // The check has teeth: a template whose ExecStart= names no program fails.
    let broken = tempfile::tempdir().unwrap();
    let units = lay_out(broken.path(), &broken.path().join("bin/missing"));
    let r = verify(&analyze, broken.path(), &units);
    assert!(!r.ok() || !about_ours(&r.stderr).is_empty(), "{r:?}");
}
