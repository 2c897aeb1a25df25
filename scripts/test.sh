#!/usr/bin/env bash
# Runs every test: unit tests and real FUSE mounts of real FTPS servers.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" != 0 ]; then exec sudo -E bash "$0" "$@"; fi
bash scripts/deps.sh
[ -f "$HOME/.cargo/env" ] && . "$HOME/.cargo/env"
cargo test --all-targets -- --test-threads=4
