#!/usr/bin/env bash
# Runs every test: unit tests, the protocol client and real FUSE mounts
# against real FTPS servers started by scripts/ftps-server.sh. Needs root
# (it creates a local FTP login user and mounts with FUSE) and /dev/fuse;
# re-runs itself with sudo when started as another user.
set -euo pipefail
if [ "$(id -u)" != 0 ]; then
  # keep the caller's PATH so their rustup toolchain is still found
  exec sudo -E env "PATH=$PATH" bash "$0" "$@"
fi
cd "$(dirname "$0")/.."
bash scripts/deps.sh
if ! command -v cargo >/dev/null && [ -f "$HOME/.cargo/env" ]; then
  # shellcheck source=/dev/null
  . "$HOME/.cargo/env"
fi
command -v cargo >/dev/null || { echo "test.sh: cargo not found: install Rust with https://rustup.rs" >&2; exit 1; }
exec cargo test --all-targets -- --test-threads=4
