#!/usr/bin/env bash
# Prints the interop table (markdown) measured on this machine: for each FTPS
# server the harness runs, `ftpsfs probe --write` with TLS 1.3 and with TLS
# 1.2 (negotiated version and cipher, listing format, how mtime is set, OPTS
# UTF8, data transfers that worked and resumed the TLS session, passive and
# active mode, verdict). Needs root (scripts/ftps-server.sh); builds ftpsfs.
#
#   scripts/interop-table.sh [BASE_PORT]    (default 24000; uses BASE_PORT..+4
#                                            and passive ranges above 46000)
set -euo pipefail
cd "$(dirname "$0")/.."
base_port=${1:-24000}
[ "$(id -u)" = 0 ] || { echo "interop-table: run as root" >&2; exit 1; }
cargo build -q --release
bin=target/release/ftpsfs
work=$(mktemp -d /tmp/ftpsfs-interop.XXXXXX)
chmod 755 "$work"
started=()
cleanup() {
  local d
  for d in "${started[@]}"; do bash scripts/ftps-server.sh stop --dir "$d" || true; done
  rm -rf "$work"
}
trap cleanup EXIT

i=0
for kind in vsftpd vsftpd-implicit proftpd pure-ftpd pyftpdlib; do
  port=$((base_port + i)); pasv=$((46000 + i * 20))
  d=$work/$kind; mkdir -p "$d"
  script_kind=$kind; scheme=ftp; extra=()
  if [ "$kind" = vsftpd-implicit ]; then script_kind=vsftpd; scheme=ftps; extra=(--implicit); fi
  timeout 60 bash scripts/ftps-server.sh start "$script_kind" --dir "$d" --port "$port" \
    --pasv "$pasv-$((pasv + 19))" "${extra[@]}" >/dev/null
  started+=("$d")
  for v in 1.3 1.2; do
    timeout 120 "$bin" probe "$scheme://ftpsfs-test@127.0.0.1:$port/" --json --write \
      -o "cafile=$d/cert.pem,password_file=$d/password,tls=$v" >"$work/$kind-$v.json" || true
  done
  i=$((i + 1))
done

python3 - "$work" <<'PY'
import json, sys
work = sys.argv[1]
print("| server | TLS | cipher | listing | mtime set | OPTS UTF8 | transfers ok / resumed | EPSV / PASV / active | verdict |")
print("|---|---|---|---|---|---|---|---|---|")
for kind in ["vsftpd", "vsftpd-implicit", "proftpd", "pure-ftpd", "pyftpdlib"]:
    for v in ["1.3", "1.2"]:
        try:
            r = json.load(open(f"{work}/{kind}-{v}.json"))
        except Exception as e:
            print(f"| {kind} | {v} | probe gave no report ({e}) | | | | | | |")
            continue
        c = r.get("control") or {}
        tr = r.get("transfers") or []
        ok = sum(1 for t in tr if t.get("ok"))
        res = sum(1 for t in tr if t.get("resumed"))
        p = r.get("passive") or {}
        yn = lambda x: "yes" if (x or {}).get("ok") else "no"
        m = r.get("mtime_set")
        mt = f'{r.get("mtime_method")} ({"ok" if m and m.get("ok") else "failed"})' if m else r.get("mtime_method")
        u = (r.get("utf8") or {}).get("opts_reply", "")[:24]
        print(f'| {kind} | {c.get("tls_version", "?")} | {c.get("cipher", "?")} | {(r.get("listing") or {}).get("format", "?")} '
              f'| {mt} | {u} | {ok}/{len(tr)} / {res}/{len(tr)} | {yn(p.get("epsv"))} / {yn(p.get("pasv"))} / {yn(r.get("active"))} '
              f'| {r["verdict"]["summary"][:60]} |')
PY
