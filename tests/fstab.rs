//! Mounting the Linux way: `mount -t fuse.ftpsfs` and an fstab line go
//! through mount(8), then either mount.fuse3 (which runs `ftpsfs` from
//! the standard PATH) or a helper installed as `mount.fuse.ftpsfs`. Each
//! test runs in a private mount namespace (`unshare -m`) where the built
//! binary is installed into /usr/bin or /usr/sbin through an overlay that
//! the host never sees, and mounts from a temporary fstab (`mount -T`).

mod common;

use common::mount::run_bounded;
use common::servers::{servers_available, TestServer};
use std::fs;
use std::process::{Command, Output};
use std::time::Duration;

/// Where the test puts the binary, inside the namespace only.
#[derive(Clone, Copy)]
enum Install {
    /// `/usr/bin/ftpsfs`: mount(8) runs mount.fuse3, which runs ftpsfs.
    Bin,
    /// `/usr/sbin/mount.fuse.ftpsfs`: mount(8) runs it directly.
    Helper,
}

/// Runs `script` with bash in a private mount namespace after installing
/// the built binary as `install` says. The namespace, its overlay and any
/// mount the script leaves end with it (its EXIT trap unmounts lazily).
fn in_namespace(dir: &tempfile::TempDir, install: Install, script: &str) -> Output {
    let (lower, name) = match install {
        Install::Bin => ("/usr/bin", "ftpsfs"),
        Install::Helper => ("/usr/sbin", "mount.fuse.ftpsfs"),
    };
    let d = dir.path().display();
    let setup = format!(
        "set -e
         mkdir -p {d}/up {d}/work
         ln -sfn {bin} {d}/up/{name}
         mount -t overlay overlay -o lowerdir={lower},upperdir={d}/up,workdir={d}/work {lower}
         set +e
         {script}",
        bin = env!("CARGO_BIN_EXE_ftpsfs"),
    );
    run_bounded(
        Command::new("unshare")
            .args(["-m", "--propagation", "private", "bash", "-c", &setup])
            .env_remove("FTPSFS_PASSWORD"),
        Duration::from_secs(60),
    )
}

/// A directory with an empty `mnt` for the mount point.
fn setup() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir(dir.path().join("mnt")).unwrap();
    dir
}

fn text(out: &Output) -> String {
    format!(
        "{}\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The fstab line of the design card (an automount in real life), with
/// the generic options mount(8) and systemd users write, through
/// mount.fuse3.
#[test]
fn an_fstab_line_mounts_through_mount_fuse3() {
    if !servers_available() {
        return;
    }
    let server = TestServer::vsftpd();
    fs::write(server.root.join("hello.txt"), b"hello from fstab").unwrap();
    let dir = setup();
    let mnt = dir.path().join("mnt");
    let fstab = dir.path().join("fstab");
    fs::write(
        &fstab,
        format!(
            "# a comment\n{} {} fuse.ftpsfs _netdev,noauto,nofail,rw,noatime,nodev,nosuid,x-systemd.automount,x-systemd.idle-timeout=60,cafile={},password_file={} 0 0\n",
            server.url(),
            mnt.display(),
            server.cert.display(),
            server.password_file.display()
        ),
    )
    .unwrap();
    let m = mnt.display();
    let out = in_namespace(
        &dir,
        Install::Bin,
        &format!(
            "set -e; trap 'umount -l {m} 2>/dev/null || true' EXIT
             mount -T {} {m}
             grep ' {m} fuse' /proc/self/mounts
             cat {m}/hello.txt; echo
             umount {m}
             echo UNMOUNTED",
            fstab.display()
        ),
    );
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    assert!(t.contains("hello from fstab"), "{t}");
    assert!(t.contains("UNMOUNTED"), "{t}");
}

/// `mount -t fuse.ftpsfs URL DIR -o ...` on the command line, with the
/// binary installed as the mount helper `mount.fuse.ftpsfs`.
#[test]
fn mount_t_fuse_ftpsfs_mounts() {
    if !servers_available() {
        return;
    }
    let server = TestServer::vsftpd();
    fs::write(server.root.join("hello.txt"), b"hello from mount -t").unwrap();
    let dir = setup();
    let m = dir.path().join("mnt");
    let m = m.display();
    let out = in_namespace(
        &dir,
        Install::Helper,
        &format!(
            "set -e; trap 'umount -l {m} 2>/dev/null || true' EXIT
             mount -t fuse.ftpsfs -o ro,cafile={},password_file={} {} {m}
             cat {m}/hello.txt; echo
             if touch {m}/new 2>/dev/null; then echo WRITABLE; fi
             umount {m}",
            server.cert.display(),
            server.password_file.display(),
            server.url()
        ),
    );
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    assert!(t.contains("hello from mount -t"), "{t}");
    assert!(!t.contains("WRITABLE"), "ro was not applied: {t}");
}

/// A misspelt option fails the mount with a message naming it, and a bad
/// password fails it with the server's reason: mount(8) returns nonzero.
#[test]
fn mount_fails_with_the_reason_for_an_unknown_option_or_a_bad_password() {
    if !servers_available() {
        return;
    }
    let server = TestServer::vsftpd();
    let dir = setup();
    let bad_pw = dir.path().join("bad.pw");
    fs::write(&bad_pw, "wrong\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(&bad_pw, fs::Permissions::from_mode(0o600)).unwrap();
    let m = dir.path().join("mnt");
    let m = m.display();
    for (opts, reason) in [
        (
            format!(
                "cafile={},password_file={},cache_size=9",
                server.cert.display(),
                server.password_file.display()
            ),
            "cache_size",
        ),
        (
            format!(
                "cafile={},password_file={}",
                server.cert.display(),
                bad_pw.display()
            ),
            "530",
        ),
    ] {
        let out = in_namespace(
            &dir,
            Install::Bin,
            &format!(
                "trap 'umount -l {m} 2>/dev/null || true' EXIT
                 mount -t fuse.ftpsfs -o {opts} {} {m}",
                server.url()
            ),
        );
        let t = text(&out);
        assert!(!out.status.success(), "{t}");
        assert!(t.contains(reason), "no {reason:?} in: {t}");
    }
}
