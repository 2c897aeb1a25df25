#!/usr/bin/env bash
# 64 MiB sequential write and read through an ftpsfs mount next to raw curl
# against the same local vsftpd, medians of RUNS runs, printed as MiB/s and ratios.
#   bench/roundtrip.sh [SIZE_MIB] [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" != 0 ]; then exec sudo -E bash "$0" "$@"; fi
size=${1:-64}; runs=${2:-3}
bash scripts/deps.sh
command -v bc >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bc >/dev/null
[ -f "$HOME/.cargo/env" ] && . "$HOME/.cargo/env"
cargo build --release --quiet
w=$(mktemp -d); chmod 755 "$w"; srv=$w/server; mnt=$w/mnt; mkdir -p "$mnt"
cleanup() { fusermount3 -u "$mnt" 2>/dev/null || true; bash scripts/ftps-server.sh stop --dir "$srv"; rm -rf "$w"; }
trap cleanup EXIT
bash scripts/ftps-server.sh start vsftpd --dir "$srv" --port 2141 --pasv 30200-30219 >/dev/null
head -c "$((size << 20))" /dev/urandom >"$w/src.bin"
./target/release/ftpsfs ftp://ftpsfs-test@127.0.0.1:2141/ "$mnt" -o "cafile=$srv/cert.pem,password_file=$srv/password"
url=ftp://127.0.0.1:2141
auth=(--ssl-reqd --cacert "$srv/cert.pem" --user "ftpsfs-test:$(cat "$srv/password")" -s -S --max-time 600)
secs() { local t0 t1; t0=$(date +%s.%N); "$@" >/dev/null; t1=$(date +%s.%N); echo "$t1 - $t0" | bc -l; }
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
declare -A t
for i in $(seq 1 "$runs"); do
  t[fw]+="$(secs cp "$w/src.bin" "$mnt/f.bin")"$'\n'
  sync; echo 3 >/proc/sys/vm/drop_caches
  t[fr]+="$(secs cp "$mnt/f.bin" "$w/back.bin")"$'\n'
  cmp "$w/src.bin" "$w/back.bin"
  t[cw]+="$(secs curl "${auth[@]}" -T "$w/src.bin" "$url/c.bin")"$'\n'
  t[cr]+="$(secs curl "${auth[@]}" -o "$w/cback.bin" "$url/c.bin")"$'\n'
  cmp "$w/src.bin" "$w/cback.bin"
done
rate() { printf '%s' "${t[$1]}" | median | awk -v s="$size" '{printf "%.1f", s/$1}'; }
fw=$(rate fw); fr=$(rate fr); cw=$(rate cw); cr=$(rate cr)
echo "| figure (${size} MiB, median of $runs) | ftpsfs MiB/s | curl MiB/s | ftpsfs/curl |"
echo "|---|---|---|---|"
echo "| sequential write | $fw | $cw | $(echo "$fw / $cw" | bc -l | cut -c1-4) |"
echo "| sequential read  | $fr | $cr | $(echo "$fr / $cr" | bc -l | cut -c1-4) |"
