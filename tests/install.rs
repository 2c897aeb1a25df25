//! scripts/install.sh: every file lands under DESTDIR/PREFIX, and the
//! installed binary runs.

mod common;

use common::tools::{repo, run};
use std::collections::BTreeSet;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_ftpsfs");
const WAIT: Duration = Duration::from_secs(60);

/// Every path under `dir`, relative to it (directories too, with a `/`).
fn tree(dir: &Path) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            let rel = p.strip_prefix(dir).unwrap().display().to_string();
            let meta = std::fs::symlink_metadata(&p).unwrap();
            if meta.is_dir() {
                out.insert(format!("{rel}/"));
                todo.push(p);
            } else {
                out.insert(rel);
            }
        }
    }
    out
}

fn install(destdir: &Path, prefix: &str) -> common::tools::Ran {
    run(
        Command::new("bash")
            .arg(repo().join("scripts/install.sh"))
            .env("DESTDIR", destdir)
            .env("PREFIX", prefix)
            .env("FTPSFS_BIN", BIN),
        WAIT,
    )
}

#[test]
fn install_puts_every_file_under_destdir_prefix_and_the_binary_runs() {
    let dest = tempfile::tempdir().unwrap();
    let r = install(dest.path(), "/usr");
    assert!(r.ok(), "install.sh: {r:?}");
    let usr = dest.path().join("usr");
    let files = [
        "bin/ftpsfs",
        "sbin/mount.fuse.ftpsfs",
        "share/man/man1/ftpsfs.1",
        "lib/systemd/system/ftpsfs@.service",
        "share/doc/ftpsfs/examples/mnt-backup.mount",
        "share/doc/ftpsfs/examples/mnt-backup.automount",
        "share/bash-completion/completions/ftpsfs",
        "share/zsh/site-functions/_ftpsfs",
        "share/fish/vendor_completions.d/ftpsfs.fish",
    ];
    // Exactly these, nothing else (directories aside).
    let got: BTreeSet<String> = tree(&usr)
        .into_iter()
        .filter(|p| !p.ends_with('/'))
        .collect();
    let want: BTreeSet<String> = files.iter().map(|f| f.to_string()).collect();
    assert_eq!(got, want);
    assert_eq!(
        tree(dest.path())
            .iter()
            .filter(|p| !p.starts_with("usr"))
            .count(),
        0
    );

    let bin = usr.join("bin/ftpsfs");
    assert_eq!(
        std::fs::metadata(&bin).unwrap().permissions().mode() & 0o777,
        0o755
    );
    let v = run(Command::new(&bin).arg("--version"), WAIT);
    assert!(v.ok(), "{v:?}");
    assert_eq!(
        v.stdout.trim(),
        format!("ftpsfs {}", env!("CARGO_PKG_VERSION"))
    );

    // The mount helper is ftpsfs itself, by a link that stays right
    // wherever DESTDIR/PREFIX ends up.
    let helper = usr.join("sbin/mount.fuse.ftpsfs");
    assert_eq!(
        std::fs::read_link(&helper).unwrap(),
        Path::new("../bin/ftpsfs")
    );
    let v = run(Command::new(&helper).arg("--version"), WAIT);
    assert!(
        v.ok() && v.stdout.contains(env!("CARGO_PKG_VERSION")),
        "{v:?}"
    );

    let read = |f: &str| std::fs::read_to_string(usr.join(f)).unwrap();
    assert_eq!(
        read("share/man/man1/ftpsfs.1"),
        std::fs::read_to_string(repo().join("man/ftpsfs.1")).unwrap()
    );
    let unit = read("lib/systemd/system/ftpsfs@.service");
    assert!(unit.contains("\nExecStart=/usr/bin/ftpsfs -f "), "{unit}");
    assert!(!unit.contains("/usr/local"), "{unit}");
    for (f, mark) in [
        ("share/bash-completion/completions/ftpsfs", "complete -F"),
        ("share/zsh/site-functions/_ftpsfs", "#compdef ftpsfs"),
        (
            "share/fish/vendor_completions.d/ftpsfs.fish",
            "complete -c ftpsfs",
        ),
    ] {
        let text = read(f);
        assert!(
            text.contains(mark) && text.contains("probe"),
            "{f}:\n{text}"
        );
        let mode = std::fs::metadata(usr.join(f)).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o644, "{f}");
    }
}

#[test]
fn install_refuses_a_relative_prefix_and_installs_nothing() {
    let dest = tempfile::tempdir().unwrap();
    let r = install(dest.path(), "usr");
    assert_eq!(r.code, Some(2), "{r:?}");
    assert!(r.stderr.contains("absolute"), "{r:?}");
    assert!(tree(dest.path()).is_empty());
}
