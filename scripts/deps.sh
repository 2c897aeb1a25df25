#!/usr/bin/env bash
# Installs what building ftpsfs, its tests, the demo and the benchmarks need,
# on Debian or Ubuntu, as root. Idempotent: when everything is present it does
# not run apt-get at all. The Rust toolchain itself comes from rustup.
#
# Installing vsftpd may also start Debian's own vsftpd service on port 21;
# nothing here uses it: scripts/ftps-server.sh runs private servers.
set -euo pipefail

pkgs=(
  fuse3 pkg-config   # fusermount3 (fuser 0.18 mounts through it, no libfuse needed)
  gcc libc6-dev                   # linker, and C code in ring
  vsftpd openssl                  # test servers and their certificates
  curl ca-certificates            # tests/harness.rs, benchmarks
  passwd util-linux               # useradd/chpasswd, setsid/flock/setpriv
)

log() { echo "deps: $*" >&2; }
fail() { log "error: $*"; exit 1; }

if ! command -v dpkg-query >/dev/null || ! command -v apt-get >/dev/null; then
  fail "needs Debian or Ubuntu (dpkg-query and apt-get); install by hand: ${pkgs[*]}"
fi

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }

missing=()
for p in "${pkgs[@]}"; do installed "$p" || missing+=("$p"); done

if [ ${#missing[@]} -gt 0 ]; then
  [ "$(id -u)" = 0 ] || fail "must run as root to install: ${missing[*]} (try: sudo $0)"
  export DEBIAN_FRONTEND=noninteractive
  log "apt-get update"
  apt-get update -qq || fail "apt-get update failed"
  log "apt-get install ${missing[*]}"
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null ||
    fail "apt-get install failed for: ${missing[*]}"
  still=()
  for p in "${missing[@]}"; do installed "$p" || still+=("$p"); done
  [ ${#still[@]} -eq 0 ] || fail "still not installed after apt-get: ${still[*]}"
fi

for c in /usr/sbin/vsftpd fusermount3 openssl curl pkg-config cc setsid flock setpriv useradd chpasswd; do
  command -v "$c" >/dev/null || fail "$c is missing although its package is installed"
done

[ -e /dev/fuse ] || log "warning: no /dev/fuse: mount tests cannot run (containers need --device /dev/fuse)"
if ! command -v cargo >/dev/null && [ ! -x "$HOME/.cargo/bin/cargo" ]; then
  log "note: no Rust toolchain found (cargo); install it with https://rustup.rs"
fi
if [ ${#missing[@]} -eq 0 ]; then log "all present"; else log "installed: ${missing[*]}"; fi
