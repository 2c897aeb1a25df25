#!/usr/bin/env bash
# Demo: install what is needed, build, start a local vsftpd (explicit TLS,
# require_ssl_reuse=YES) on 127.0.0.1:2121 and mount it on /tmp/ftpsfs-demo/mnt.
#   scripts/demo.sh        start and mount
#   scripts/demo.sh stop   unmount and stop the server
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" != 0 ]; then exec sudo -E bash "$0" "$@"; fi
demo=/tmp/ftpsfs-demo
if [ "${1:-}" = stop ]; then
  fusermount3 -u "$demo/mnt" 2>/dev/null || true
  bash scripts/ftps-server.sh stop --dir "$demo/server"
  echo "demo stopped"
  exit 0
fi
bash scripts/deps.sh
[ -f "$HOME/.cargo/env" ] && . "$HOME/.cargo/env"
cargo build --release --quiet
mkdir -p "$demo/mnt"
bash scripts/ftps-server.sh start vsftpd --dir "$demo/server" --port 2121 --pasv 30100-30119
echo "hello from the FTPS server" >"$demo/server/root/hello.txt"
chown ftpsfs-test: "$demo/server/root/hello.txt"
grep -q " $demo/mnt " /proc/mounts || ./target/release/ftpsfs "ftp://ftpsfs-test@127.0.0.1:2121/" "$demo/mnt" \
  -o "cafile=$demo/server/cert.pem,password_file=$demo/server/password"
echo "mounted on $demo/mnt:"
ls -l "$demo/mnt"
echo "try: cp some-file $demo/mnt/ ; stop with: scripts/demo.sh stop"
