#!/usr/bin/env bash
# Installs ftpsfs under PREFIX (default /usr/local), staged under DESTDIR
# when set (for packages):
#   bin/ftpsfs
#   sbin/mount.fuse.ftpsfs                       link to bin/ftpsfs
#   share/man/man1/ftpsfs.1
#   lib/systemd/system/ftpsfs@.service           ExecStart= set to PREFIX/bin/ftpsfs
#   share/doc/ftpsfs/examples/mnt-backup.{mount,automount}
#   share/bash-completion/completions/ftpsfs
#   share/zsh/site-functions/_ftpsfs
#   share/fish/vendor_completions.d/ftpsfs.fish
#
#   sudo scripts/install.sh
#   PREFIX=/usr DESTDIR=/tmp/pkg scripts/install.sh
#
# The binary is target/release/ftpsfs, brought up to date with `cargo build
# --release --locked` (used as it is when there is no cargo), or FTPSFS_BIN
# when set. Completions are made by
# running it (`ftpsfs --completions SHELL`).
#
# The mount helper: for `mount -t fuse.ftpsfs` (and fstab lines of that
# type) mount(8) runs /sbin/mount.fuse.ftpsfs if it exists, else
# /sbin/mount.fuse (mount.fuse3, which runs `ftpsfs` from PATH); it looks
# nowhere else, so sbin/mount.fuse.ftpsfs only matters with PREFIX=/usr.
# ftpsfs takes the helper's arguments itself (SOURCE DIR [-nsv] [-o OPTIONS]
# [-t TYPE]), so the helper is a link to it.
set -euo pipefail
cd "$(dirname "$0")/.."

fail() { echo "install: $*" >&2; exit 1; }

PREFIX=${PREFIX:-/usr/local}
DESTDIR=${DESTDIR:-}
case $PREFIX in
  /*) ;;
  *) echo "install: PREFIX must be an absolute path, not '$PREFIX'" >&2; exit 2 ;;
esac
PREFIX=${PREFIX%/}
root=$DESTDIR$PREFIX

bin=${FTPSFS_BIN:-target/release/ftpsfs}
if [ -z "${FTPSFS_BIN:-}" ]; then
  # Always through cargo when there is one (a no-op when up to date), so
  # a binary older than the sources is never installed.
  if command -v cargo >/dev/null; then
    echo "install: cargo build --release --locked" >&2
    cargo build --release --locked
  elif [ ! -x "$bin" ]; then
    fail "$bin is missing and cargo is not found: build it first"
  fi
fi
[ -x "$bin" ] || fail "$bin is not an executable"

installed=()
put() { # put MODE SRC DEST: install one file, making directories
  install -D -m "$1" "$2" "$3"
  installed+=("$3")
}

put 755 "$bin" "$root/bin/ftpsfs"

mkdir -p "$root/sbin"
ln -sfn ../bin/ftpsfs "$root/sbin/mount.fuse.ftpsfs"
installed+=("$root/sbin/mount.fuse.ftpsfs -> ../bin/ftpsfs")

put 644 man/ftpsfs.1 "$root/share/man/man1/ftpsfs.1"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/ftpsfs-install.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
sed "s|/usr/local/bin/ftpsfs|$PREFIX/bin/ftpsfs|g" "systemd/ftpsfs@.service" >"$tmp/ftpsfs@.service"
grep -q "^ExecStart=$PREFIX/bin/ftpsfs " "$tmp/ftpsfs@.service" ||
  fail "systemd/ftpsfs@.service: no ExecStart=/usr/local/bin/ftpsfs to point at $PREFIX/bin/ftpsfs"
put 644 "$tmp/ftpsfs@.service" "$root/lib/systemd/system/ftpsfs@.service"
for u in mnt-backup.mount mnt-backup.automount; do
  put 644 "systemd/$u" "$root/share/doc/ftpsfs/examples/$u"
done

for shell in bash zsh fish; do
  "$bin" --completions "$shell" >"$tmp/completion.$shell" || fail "$bin --completions $shell failed"
  [ -s "$tmp/completion.$shell" ] || fail "$bin --completions $shell printed nothing"
done
put 644 "$tmp/completion.bash" "$root/share/bash-completion/completions/ftpsfs"
put 644 "$tmp/completion.zsh" "$root/share/zsh/site-functions/_ftpsfs"
put 644 "$tmp/completion.fish" "$root/share/fish/vendor_completions.d/ftpsfs.fish"

for f in "${installed[@]}"; do echo "installed $f"; done
