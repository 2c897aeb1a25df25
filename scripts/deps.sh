#!/usr/bin/env bash
# Installs what building ftpsfs, its tests, the demo and the benchmarks need,
# on Debian or Ubuntu, as root. Idempotent: when everything is present it does
# not run apt-get (nor pip) at all. The Rust toolchain itself comes from rustup.
#
# Test servers (scripts/ftps-server.sh starts private instances of them):
# - vsftpd: an ordinary apt-get install. Installing it may also start Debian's
#   own vsftpd service on port 21; nothing here uses it.
# - proftpd and pure-ftpd: their Debian packages conflict with vsftpd (all
#   "Provides: ftp-server"), so they are NOT installed: `apt-get download`
#   fetches the .debs and `dpkg -x` unpacks them under $OPT/proftpd and
#   $OPT/pure-ftpd (no maintainer scripts, no services); their shared
#   libraries are ordinary apt-get installs. A ".complete" stamp, written last,
#   marks an unpack that succeeded.
# - pyftpdlib: pip installs pyftpdlib and pyopenssl into a venv $OPT/pyftpdlib.
set -euo pipefail

OPT=/opt/ftpsfs-test    # must match scripts/ftps-server.sh and tests/common/servers.rs

pkgs=(
  fuse3 pkg-config   # fusermount3 (fuser 0.18 mounts through it, no libfuse needed)
  gcc libc6-dev                   # linker, and C code in ring
  vsftpd openssl                  # test servers and their certificates
  curl ca-certificates            # tests/harness.rs, benchmarks
  passwd util-linux               # useradd/chpasswd, setsid/flock/setpriv
  python3 python3-venv            # the pyftpdlib test server's venv
  man-db groff-base systemd       # tests/docs.rs renders man/ftpsfs.1; tests/systemd.rs runs systemd-analyze verify
  rsync restic                    # tests/backup.rs: backup tools on the mount
  # shared libraries of the unpacked proftpd-core, proftpd-mod-crypto, pure-ftpd
  libhiredis0.14 libmemcached11 libmemcachedutil2 libsodium23 libpcre2-posix3
  libidn2-0 libcap2 libacl1 libncursesw6 libssl3 libpam0g libcrypt1
)
# unpacked (not installed) server packages: directory under $OPT, then packages
unpacks=(
  "proftpd proftpd-core proftpd-mod-crypto"
  "pure-ftpd pure-ftpd"
)
# files that must exist afterwards, per unpack
proftpd_bin=$OPT/proftpd/usr/sbin/proftpd
proftpd_tls=$OPT/proftpd/usr/lib/proftpd/mod_tls.so
# HASH/XSHA256 for the hash-verified upload tests (also in proftpd-mod-crypto)
proftpd_digest=$OPT/proftpd/usr/lib/proftpd/mod_digest.so
pureftpd_bin=$OPT/pure-ftpd/usr/sbin/pure-ftpd
purepw_bin=$OPT/pure-ftpd/usr/bin/pure-pw
venv=$OPT/pyftpdlib/venv
# pinned: the versions the tests were written against (pyftpdlib 2.x answers 125, sends TLS 1.3 tickets on data connections)
pip_pkgs=(pyftpdlib==2.2.0 pyopenssl==26.4.0 cryptography==50.0.2)

log() { echo "deps: $*" >&2; }
fail() { log "error: $*"; exit 1; }

if ! command -v dpkg-query >/dev/null || ! command -v apt-get >/dev/null; then
  fail "needs Debian or Ubuntu (dpkg-query and apt-get); install by hand: ${pkgs[*]}"
fi

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }
need_root() { [ "$(id -u)" = 0 ] || fail "must run as root to $1 (try: sudo $0)"; }

apt_updated=no
apt_update() {
  [ "$apt_updated" = yes ] && return 0
  log "apt-get update"
  apt-get update -qq || fail "apt-get update failed"
  apt_updated=yes
}

done_what=()

# ------------------------------------------------------ apt-get install ---
missing=()
for p in "${pkgs[@]}"; do installed "$p" || missing+=("$p"); done

if [ ${#missing[@]} -gt 0 ]; then
  need_root "install: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt_update
  log "apt-get install ${missing[*]}"
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null ||
    fail "apt-get install failed for: ${missing[*]}"
  still=()
  for p in "${missing[@]}"; do installed "$p" || still+=("$p"); done
  [ ${#still[@]} -eq 0 ] || fail "still not installed after apt-get: ${still[*]}"
  done_what+=("installed ${missing[*]}")
fi

# ---------------------------------------- apt-get download + dpkg -x ---
# unpack NAME PKG...: $OPT/NAME holds the packages' files once $OPT/NAME/.complete exists.
unpack() {
  local name=$1; shift
  local dest=$OPT/$name
  [ -f "$dest/.complete" ] && return 0
  need_root "unpack $* into $dest"
  apt_update
  local tmp; tmp=$(mktemp -d /tmp/ftpsfs-deps.XXXXXX)
  # apt-get download fetches as the _apt user when it exists: let it write here
  if id _apt >/dev/null 2>&1; then chown _apt "$tmp"; fi
  log "apt-get download $* -> $dest"
  if ! (cd "$tmp" && apt-get download -qq "$@" >"$tmp/download.log" 2>&1); then
    cat "$tmp/download.log" >&2; rm -rf "$tmp"
    fail "apt-get download $* failed"
  fi
  # unpack next to the destination, then move it into place in one rename
  rm -rf "$dest.new"
  mkdir -p "$dest.new"
  local deb
  for deb in "$tmp"/*.deb; do
    [ -f "$deb" ] || { rm -rf "$tmp" "$dest.new"; fail "apt-get download $* fetched nothing"; }
    dpkg -x "$deb" "$dest.new" || { rm -rf "$tmp" "$dest.new"; fail "dpkg -x $deb failed"; }
  done
  rm -rf "$tmp" "$dest"
  mv "$dest.new" "$dest"
  touch "$dest/.complete"
  done_what+=("unpacked $* into $dest")
}

mkdir -p "$OPT" 2>/dev/null || true
for u in "${unpacks[@]}"; do
  read -r -a words <<<"$u"
  unpack "${words[@]}"
done

# ------------------------------------------------------- pyftpdlib venv ---
venv_ok() { [ -x "$venv/bin/python" ] && "$venv/bin/python" -c 'import pyftpdlib, OpenSSL' 2>/dev/null; }
if ! venv_ok; then
  need_root "create the venv $venv"
  log "python3 -m venv $venv; pip install ${pip_pkgs[*]}"
  rm -rf "$venv"
  mkdir -p "$(dirname "$venv")"
  /usr/bin/python3 -m venv "$venv" || fail "python3 -m venv $venv failed (python3-venv)"
  "$venv/bin/pip" install -q "${pip_pkgs[@]}" || fail "pip install ${pip_pkgs[*]} failed"
  venv_ok || fail "$venv cannot import pyftpdlib and OpenSSL after pip install"
  done_what+=("made $venv")
fi

# ------------------------------------------------------------- checks ---
for c in /usr/sbin/vsftpd fusermount3 openssl curl pkg-config cc setsid flock setpriv useradd chpasswd man groff systemd-analyze rsync restic; do
  command -v "$c" >/dev/null || fail "$c is missing although its package is installed"
done
for f in "$proftpd_bin" "$proftpd_tls" "$proftpd_digest" "$pureftpd_bin" "$purepw_bin"; do
  [ -e "$f" ] || fail "$f is missing after unpacking (remove $OPT and run again)"
  # a library the unpacked binaries need but no installed package provides
  if ldd "$f" 2>/dev/null | grep -q 'not found'; then
    ldd "$f" | grep 'not found' >&2
    fail "$f needs libraries that are not installed (add their packages to pkgs in $0)"
  fi
done

[ -e /dev/fuse ] || log "warning: no /dev/fuse: mount tests cannot run (containers need --device /dev/fuse)"
if ! command -v cargo >/dev/null && [ ! -x "$HOME/.cargo/bin/cargo" ]; then
  log "note: no Rust toolchain found (cargo); install it with https://rustup.rs"
fi
if [ ${#done_what[@]} -eq 0 ]; then
  log "all present"
else
  for d in "${done_what[@]}"; do log "$d"; done
fi
