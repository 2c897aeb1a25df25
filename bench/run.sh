#!/usr/bin/env bash
# ftpsfs next to `rclone mount` (--vfs-cache-mode off and full) and raw curl,
# against the same local vsftpd and proftpd, in one run; prints a markdown
# table of medians and the ratios the project targets. See bench/README.md.
#
#   bench/run.sh [--quick] [--runs N] [--servers "vsftpd proftpd"]
#                [--peers "ftpsfs rclone-off rclone-full curl"] [--results DIR]
#                [--tests "read write ls small parallel slow"]
#
# --quick: 128 MiB sequential files, 4 x 32 MiB parallel, ls -lR over 1000
# files in 10 directories (default: 1 GiB, 4 x 256 MiB, 10,000 files in 100).
# RUNS, PORT_BASE (default 2461) and RESULTS may also come from the
# environment. Needs root (drop_caches, FUSE, the servers' login user).
set -euo pipefail
export LC_ALL=C
cd "$(dirname "$0")/.."
if [ "$(id -u)" != 0 ]; then exec sudo -E bash "$0" "$@"; fi

# ------------------------------------------------------------------ args ---
runs=${RUNS:-3}
quick=no
servers="vsftpd proftpd"
peers="ftpsfs rclone-off rclone-full curl"
tests="read write ls small cpr parallel slow"
results=${RESULTS:-}
port_base=${PORT_BASE:-2461}
while [ $# -gt 0 ]; do
  case $1 in
    --quick) quick=yes; shift ;;
    --runs) runs=${2:?--runs needs a number}; shift 2 ;;
    --servers) servers=${2:?}; shift 2 ;;
    --peers) peers=${2:?}; shift 2 ;;
    --tests) tests=${2:?}; shift 2 ;;
    --results) results=${2:?}; shift 2 ;;
    -h|--help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "run.sh: unknown argument '$1' (try --help)" >&2; exit 2 ;;
  esac
done
[[ $runs =~ ^[1-9][0-9]*$ ]] || { echo "run.sh: bad run count '$runs'" >&2; exit 2; }
# op_timeout bounds every single transfer, listing or cat (a hung peer is a failure)
if [ "$quick" = yes ]; then
  size_mib=128; par_mib=32; ls_dirs=10; op_timeout=90
else
  size_mib=1024; par_mib=256; ls_dirs=100; op_timeout=600
fi
# stall_s: a file read that reads no byte for this long is hung (it fails then)
stall_s=60
ls_per_dir=100; small_n=1000; small_kib=4; nreaders=4
cpr_n=1000; cpr_wan_n=50 # cp -r of this many 4 KiB files into the mount (loopback; 20 ms RTT)
cpr_s=120 # bound on each cp -r and its wait for the server (ftpsfs and rclone cache off take under 20 s)
slow_mib=40 # the slow vsftpd: each session's transfers limited to this many MiB/s
delay_ms=10 # one-way: 20 ms round trip through bench/delayproxy.py

# ------------------------------------------------------------------ deps ---
log() { echo "[$(date -u +%H:%M:%S)] $*" >&2; }
log "installing/checking dependencies"
bash scripts/deps.sh >/dev/null
need=()
command -v rclone >/dev/null || need+=(rclone)
command -v python3 >/dev/null || need+=(python3)
command -v curl >/dev/null || need+=(curl)
if [ ${#need[@]} -gt 0 ]; then
  DEBIAN_FRONTEND=noninteractive timeout 600 apt-get install -y -qq "${need[@]}" >/dev/null
fi
# shellcheck disable=SC1091
[ -f "$HOME/.cargo/env" ] && . "$HOME/.cargo/env"
log "cargo build --release"
timeout 1800 cargo build --release --quiet
ftpsfs_bin=$PWD/target/release/ftpsfs

# ----------------------------------------------------------------- state ---
w=$(mktemp -d /var/tmp/ftpsfs-bench.XXXXXX); chmod 755 "$w"
shm=$(mktemp -d /dev/shm/ftpsfs-bench.XXXXXX)   # sources and read targets: survive drop_caches
if [ -z "$results" ]; then results=$(mktemp -d /tmp/ftpsfs-bench-results.XXXXXX); fi
mkdir -p "$results"; raw=$results/raw; mkdir -p "$raw"
logd=$w/log; mnt=$w/mnt; mkdir -p "$logd" "$mnt"
mpid=""; proxy_pid=""; started=(); slow=""
declare -A port pasv_lo pasv_hi sdir

cleanup() {
  set +e
  umount_peer
  if [ -n "$proxy_pid" ] && kill -0 "$proxy_pid" 2>/dev/null; then
    kill -TERM "$proxy_pid"
    for _ in $(seq 50); do kill -0 "$proxy_pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$proxy_pid" 2>/dev/null && kill -KILL "$proxy_pid"
    wait "$proxy_pid" 2>/dev/null
  fi
  for s in "${started[@]}" $slow; do timeout 30 bash scripts/ftps-server.sh stop --dir "${sdir[$s]}"; done
  [ -d "$w/logs-keep" ] || cp -r "$logd" "$results/logs" 2>/dev/null
  rm -rf "$w" "$shm"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ------------------------------------------------------------- helpers ---
T=0
# timed CMD...: runs CMD, leaves the wall time in seconds in T, returns its status
timed() {
  local t0=$EPOCHREALTIME rc=0
  "$@" || rc=$?
  T=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.3f", b - a }')
  return $rc
}
# abort_mount: ends every request pending on $mnt's FUSE connection (a
# reader of a hung mount may wait on a page lock in the kernel, where no
# signal reaches it).
abort_mount() {
  local dev id
  [ -d /sys/fs/fuse/connections ] || return 0
  [ -n "$(ls /sys/fs/fuse/connections)" ] || mount -t fusectl none /sys/fs/fuse/connections 2>/dev/null || true
  dev=$(stat -c %d "$mnt" 2>/dev/null) || return 0
  id=$(((dev & 0xff) | ((dev >> 12) & 0xfff00)))
  [ -e "/sys/fs/fuse/connections/$id/abort" ] && echo 1 >"/sys/fs/fuse/connections/$id/abort"
  log "aborted the FUSE connection of $mnt: a read there was hung"
}

# watched CMD...: runs CMD bounded by op_timeout; once its read count
# (/proc/PID/io rchar) has not moved for stall_s seconds it is hung: it gets
# SIGTERM and the mount's FUSE connection is aborted, so that a hung read
# fails in a minute rather than after op_timeout. The watchdog is a separate
# process: it adds nothing to CMD's timing.
watched() {
  local pid dog rc=0
  "$@" &
  pid=$!
  (
    last=-1; idle=0
    for ((i = 0; i < op_timeout; i++)); do
      sleep 1
      now=$(awk '$1 == "rchar:" { print $2 }' "/proc/$pid/io" 2>/dev/null) || exit 0
      [ -n "$now" ] || exit 0
      if [ "$now" = "$last" ]; then idle=$((idle + 1)); else idle=0; last=$now; fi
      [ "$idle" -ge "$stall_s" ] && break
    done
    kill -TERM "$pid" 2>/dev/null
    sleep 2
    kill -0 "$pid" 2>/dev/null && abort_mount
  ) &
  dog=$!
  wait "$pid" || rc=$?
  kill "$dog" 2>/dev/null; wait "$dog" 2>/dev/null || true
  return $rc
}
record() { echo "$2" >>"$raw/$1"; }   # KEY VALUE ("FAIL" for a failed run)
rate() { awk -v m="$1" -v t="$2" 'BEGIN { printf "%.1f", m / t }'; }
drop_caches() { sync; echo 3 >/proc/sys/vm/drop_caches; }
# After drop_caches the server's next session loads its binaries, PAM modules
# and the password database from disk (about 1.5 s here), which has nothing to
# do with transfer speed: every peer first opens a session (and lists "/")
# untimed, so that "cold" means the file's data is in no cache.
warm_session() { # SERVER PEER
  if [ "$2" = curl ]; then curl_ftp "$1" lo -l URL/ >/dev/null || true
  else timeout 60 ls "$mnt/" >/dev/null || true; fi
}
sha() { sha256sum "$1" | cut -d' ' -f1; }
# CPU accounting, to tell a gap that is ours from a machine that is full:
# busy_jiffies is all cores' busy time so far; srv_jiffies SERVER is the CPU
# so far of the server's main process (with the sessions it reaped) and of
# every live process under it (its sessions).
hz=$(getconf CLK_TCK)
busy_jiffies() { awk '$1 == "cpu" { print $2 + $3 + $4 + $7 + $8 + $9 }' /proc/stat; }
srv_jiffies() {
  # a process that ends between the glob and its read fails cat: not an error here
  { cat /proc/[0-9]*/stat 2>/dev/null || true; } | awk -v root="$(cat "${sdir[$1]}/pid")" '{
    # after the command name in parentheses: state ppid ... utime stime cutime cstime (12th to 15th)
    pid = $1; rest = substr($0, index($0, ") ") + 2); split(rest, f, " ")
    parent[pid] = f[2]; cpu[pid] = f[12] + f[13] + f[14] + f[15]
  } END {
    for (p in cpu) {
      q = p
      for (d = 0; d < 8 && q != root && q in parent; d++) q = parent[q]
      if (q == root) sum += cpu[p]
    }
    print sum + 0
  }'
}
cores_busy() { # JIFFIES_BEFORE SECONDS: cores busy on average since then
  awk -v a="$1" -v b="$(busy_jiffies)" -v t="$2" -v hz="$hz" 'BEGIN { printf "%.2f", (b - a) / hz / t }'
}
srv_settle() { # SERVER: waits (bounded) until its session processes have ended and been reaped
  local i pid; pid=$(cat "${sdir[$1]}/pid")
  for ((i = 0; i < 100; i++)); do pgrep -P "$pid" >/dev/null || break; sleep 0.1; done
}
srv_cpu_since() { # SERVER JIFFIES_BEFORE: CPU seconds of the server since then
  awk -v a="$2" -v b="$(srv_jiffies "$1")" -v hz="$hz" 'BEGIN { printf "%.2f", (b - a) / hz }'
}
vmhwm_mib() { awk '/^VmHWM:/ { printf "%.1f", $2 / 1024 }' "/proc/$1/status" 2>/dev/null || echo 0; }

median() { # KEY -> median of the numeric entries, or nothing
  [ -f "$raw/$1" ] || return 0
  { grep -v FAIL "$raw/$1" || true; } | sort -g | awk '{ a[NR] = $1 } END {
    if (NR == 0) exit
    if (NR % 2) printf "%s", a[(NR + 1) / 2]; else printf "%.3f", (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}
fails() { if [ -f "$raw/$1" ]; then grep -c FAIL "$raw/$1" || true; else echo 0; fi; }
maxof() { [ -f "$raw/$1" ] || return 0; { grep -v FAIL "$raw/$1" || true; } | sort -g | tail -n1; }

# mount_peer PEER SERVER VIA: mounts $mnt (VIA lo = 127.0.0.1, wan = 127.0.0.2
# through the delay proxy), leaves the daemon's pid in mpid.
mount_peer() {
  local peer=$1 srv=$2 via=$3 host=127.0.0.1 i
  [ "$via" = wan ] && host=127.0.0.2
  local tls_opt=
  if [ "$peer" = ftpsfs-tls12 ]; then tls_opt=,tls=1.2; fi
  case $peer in
    ftpsfs|ftpsfs-tls12)
      "$ftpsfs_bin" "ftp://ftpsfs-test@$host:${port[$srv]}/" "$mnt" -f \
        -o "cafile=${sdir[$srv]}/cert.pem,password_file=${sdir[$srv]}/password${tls_opt}" \
        </dev/null >>"$logd/ftpsfs.log" 2>&1 &
      ;;
    rclone-off|rclone-full)
      rm -rf "$w/rclone-cache"
      rclone mount "$srv-$via:" "$mnt" --config "$rconf" --vfs-cache-mode "${peer#rclone-}" \
        --cache-dir "$w/rclone-cache" --log-file "$logd/rclone.log" --log-level NOTICE \
        </dev/null >>"$logd/rclone.out" 2>&1 &
      ;;
  esac
  mpid=$!
  for ((i = 0; i < 300; i++)); do
    if timeout 5 mountpoint -q "$mnt"; then return 0; fi
    kill -0 "$mpid" 2>/dev/null || break
    sleep 0.1
  done
  log "mount of $peer on $srv ($via) failed; see $results/logs"
  umount_peer
  return 1
}

umount_peer() {
  [ -n "$mpid" ] || return 0
  timeout 30 fusermount3 -u "$mnt" 2>/dev/null || timeout 30 fusermount3 -uz "$mnt" 2>/dev/null || true
  local i
  for ((i = 0; i < 300; i++)); do kill -0 "$mpid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$mpid" 2>/dev/null; then
    log "pid $mpid did not exit after unmount: SIGTERM"
    kill -TERM "$mpid" 2>/dev/null || true
    sleep 2
    kill -0 "$mpid" 2>/dev/null && kill -KILL "$mpid" 2>/dev/null
  fi
  wait "$mpid" 2>/dev/null || true
  mpid=""
}

curl_ftp() { # SERVER VIA curl-args...
  local srv=$1 host=127.0.0.1; [ "$2" = wan ] && host=127.0.0.2; shift 2
  timeout "$op_timeout" curl -sS --ssl-reqd --cacert "${sdir[$srv]}/cert.pem" --netrc-file "$netrc" \
    "${@/URL/ftp://$host:${port[$srv]}}"
}

# wait_server_file PATH BYTES: until the file on the server's disk has that size (<= op_timeout)
wait_server_file() {
  local i
  for ((i = 0; i < op_timeout * 20; i++)); do
    [ "$(stat -c %s "$1" 2>/dev/null || echo -1)" = "$2" ] && return 0
    sleep 0.05
  done
  return 1
}

# wait_server_tree DIR N SECS: until DIR on the server's disk holds N files
# of 4 KiB (rclone with its cache uploads after close returned)
wait_server_tree() {
  local i
  for ((i = 0; i < $3 * 20; i++)); do
    [ "$(find "$1" -type f -size 4096c 2>/dev/null | wc -l)" = "$2" ] && return 0
    sleep 0.05
  done
  return 1
}

# ---------------------------------------------------------------- servers ---
log "starting servers: $servers"
i=0
for s in $servers; do
  case $s in vsftpd|proftpd) ;; *) echo "run.sh: server $s not supported (vsftpd, proftpd)" >&2; exit 2 ;; esac
  port[$s]=$((port_base + i)); pasv_lo[$s]=$((port_base * 10 + 6000 + i * 100)); pasv_hi[$s]=$((pasv_lo[$s] + 49))
  sdir[$s]=$w/$s
  timeout 60 bash scripts/ftps-server.sh start "$s" --dir "${sdir[$s]}" --port "${port[$s]}" \
    --pasv "${pasv_lo[$s]}-${pasv_hi[$s]}" >/dev/null
  started+=("$s")
  i=$((i + 1))
done
# a second vsftpd limiting each session's rate (local_max_rate), for the
# slow-server read: the case segmented reads (-o segments) are for
slow=""
if [[ " ${started[*]} " == *" vsftpd "* ]]; then
  slow=slow; port[$slow]=$((port_base + i)); pasv_lo[$slow]=$((port_base * 10 + 6000 + i * 100))
  pasv_hi[$slow]=$((pasv_lo[$slow] + 49)); sdir[$slow]=$w/$slow
  timeout 60 bash scripts/ftps-server.sh start vsftpd --dir "${sdir[$slow]}" --port "${port[$slow]}" \
    --pasv "${pasv_lo[$slow]}-${pasv_hi[$slow]}" --max-rate $((slow_mib << 20)) >/dev/null
fi
first=${started[0]}
IFS= read -r password <"${sdir[$first]}/password"

# curl: netrc; rclone: obscured password in a 0600 config file
netrc=$w/netrc; rconf=$w/rclone.conf
(umask 077
 printf 'machine 127.0.0.1 login ftpsfs-test password %s\nmachine 127.0.0.2 login ftpsfs-test password %s\n' \
   "$password" "$password" >"$netrc"
 : >"$rconf")
obscured=$(printf '%s\n' "$password" | rclone obscure -)
for s in "${started[@]}" $slow; do
  for via in lo wan; do
    host=127.0.0.1; [ "$via" = wan ] && host=127.0.0.2
    # Go 1.19 cannot resume a TLS 1.3 session after vsftpd's HelloRetryRequest:
    # TLS 1.2 for rclone (both servers, so that both rclone columns compare alike).
    cat >>"$rconf" <<CONF
[$s-$via]
type = ftp
host = $host
port = ${port[$s]}
user = ftpsfs-test
pass = $obscured
explicit_tls = true
no_check_certificate = true
disable_tls13 = true

CONF
  done
done

# delay proxy on 127.0.0.2 for every control port and passive range
proxy_ports=""
for s in "${started[@]}"; do proxy_ports+="${port[$s]},${pasv_lo[$s]}-${pasv_hi[$s]},"; done
python3 bench/delayproxy.py --listen 127.0.0.2 --target 127.0.0.1 --ports "${proxy_ports%,}" \
  --delay-ms "$delay_ms" --seconds 14400 >"$logd/proxy.log" 2>&1 &
proxy_pid=$!
for ((i = 0; i < 100; i++)); do grep -q '^ready' "$logd/proxy.log" && break; sleep 0.1; done
grep -q '^ready' "$logd/proxy.log" || { log "delay proxy did not start"; cat "$logd/proxy.log" >&2; exit 1; }
# data connections the proxy has seen for server $1
proxy_data_conns() {
  awk -v lo="${pasv_lo[$1]}" -v hi="${pasv_hi[$1]}" '$1 == "conn" && $2 >= lo && $2 <= hi' "$logd/proxy.log" | wc -l
}

# ------------------------------------------------------------------ data ---
log "making test data (${size_mib} MiB, ${nreaders} x ${par_mib} MiB, $((ls_dirs * ls_per_dir)) + ${small_n} small files)"
size=$((size_mib << 20)); par=$((par_mib << 20))
head -c "$size" /dev/urandom >"$shm/src.bin"
src_sha=$(sha "$shm/src.bin")
r0=${sdir[$first]}/root
cp "$shm/src.bin" "$r0/big.bin"
for ((i = 1; i <= nreaders; i++)); do head -c "$par" /dev/urandom >"$r0/p$i.bin"; done
p1_sha=$(sha "$r0/p1.bin")
for ((d = 0; d < ls_dirs; d++)); do
  dd=$(printf '%s/tree/d%03d' "$r0" "$d"); mkdir -p "$dd"
  for ((f = 0; f < ls_per_dir; f++)); do printf '%s' "$f" >"$(printf '%s/f%03d' "$dd" "$f")"; done
done
mkdir -p "$r0/small"
for n in "$cpr_n" "$cpr_wan_n"; do
  mkdir -p "$shm/cpr$n"
  head -c "$((n * 4096))" /dev/urandom | split -b 4096 -a 4 -d - "$shm/cpr$n/f"
done
head -c "$((small_n * small_kib * 1024))" /dev/urandom |
  split -b "$((small_kib * 1024))" -a 4 -d - "$r0/small/s"
chown -R ftpsfs-test: "$r0"
for s in "${started[@]}"; do
  [ "$s" = "$first" ] && continue
  cp -a "$r0/." "${sdir[$s]}/root/"
done
if [ -n "$slow" ]; then cp -a "$r0/p1.bin" "${sdir[$slow]}/root/"; fi
sync

# ----------------------------------------------------------------- tests ---
# Each function runs one measurement for one peer on one server, on a fresh
# mount, and records into $raw/SERVER.PEER.METRIC.

t_read() { # cold (page cache dropped, fresh mount/process) then warm
  local srv=$1 peer=$2 k=$1.$2 ok
  rm -f "$shm/out.bin"
  if [ "$peer" = curl ]; then
    drop_caches; warm_session "$srv" curl
    ok=no; timed curl_ftp "$srv" lo -o "$shm/out.bin" URL/big.bin && [ "$(sha "$shm/out.bin")" = "$src_sha" ] && ok=yes
  else
    mount_peer "$peer" "$srv" lo || { record "$k.read_cold" FAIL; record "$k.read_warm" FAIL; return 0; }
    drop_caches; warm_session "$srv" "$peer"
    ok=no; timed watched cp "$mnt/big.bin" "$shm/out.bin" && [ "$(sha "$shm/out.bin")" = "$src_sha" ] && ok=yes
  fi
  if [ $ok = yes ]; then record "$k.read_cold" "$(rate "$size_mib" "$T")"
  else record "$k.read_cold" FAIL; log "$srv $peer: cold read FAILED"; fi
  rm -f "$shm/out.bin"
  if [ "$peer" = curl ]; then
    ok=no; timed curl_ftp "$srv" lo -o "$shm/out.bin" URL/big.bin && [ "$(sha "$shm/out.bin")" = "$src_sha" ] && ok=yes
  else
    ok=no; timed watched cp "$mnt/big.bin" "$shm/out.bin" && [ "$(sha "$shm/out.bin")" = "$src_sha" ] && ok=yes
    record "$k.rss" "$(vmhwm_mib "$mpid")"
    umount_peer
  fi
  if [ $ok = yes ]; then record "$k.read_warm" "$(rate "$size_mib" "$T")"
  else record "$k.read_warm" FAIL; log "$srv $peer: warm read FAILED"; fi
  rm -f "$shm/out.bin"
}

t_write() { # timed until the writer's close() returned AND the server's file has every byte
  local srv=$1 peer=$2 k=$1.$2 target=${sdir[$1]}/root/w.bin ok=no t0
  rm -f "$target"
  sync # the server's disk starts clean: no writeback of an earlier test during this one
  if [ "$peer" = curl ]; then
    t0=$EPOCHREALTIME
    curl_ftp "$srv" lo -T "$shm/src.bin" URL/w.bin && wait_server_file "$target" "$size" && ok=yes
  else
    mount_peer "$peer" "$srv" lo || { record "$k.write" FAIL; return 0; }
    t0=$EPOCHREALTIME
    timeout "$op_timeout" dd if="$shm/src.bin" of="$mnt/w.bin" bs=1M status=none && wait_server_file "$target" "$size" && ok=yes
  fi
  T=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.3f", b - a }')
  [ $ok = yes ] && [ "$(sha "$target")" = "$src_sha" ] || ok=no
  if [ "$peer" != curl ]; then record "$k.rss" "$(vmhwm_mib "$mpid")"; umount_peer; fi
  if [ $ok = yes ]; then record "$k.write" "$(rate "$size_mib" "$T")"
  else record "$k.write" FAIL; log "$srv $peer: write FAILED"; fi
  rm -f "$target"
}

t_ls() { # ls -lR cold (fresh mount) then warm, VIA lo or wan
  local srv=$1 peer=$2 via=$3 k=$1.$2 n0 lines
  local want=$((ls_dirs * ls_per_dir))
  [ "$peer" = curl ] && return 0
  mount_peer "$peer" "$srv" "$via" || { record "$k.ls_cold_$via" FAIL; record "$k.ls_warm_$via" FAIL; return 0; }
  n0=$(proxy_data_conns "$srv")
  if timed timeout "$op_timeout" ls -lR "$mnt/tree" >"$w/ls.out" &&
     lines=$(grep -c '^-' "$w/ls.out") && [ "$lines" = "$want" ]; then
    record "$k.ls_cold_$via" "$T"
  else record "$k.ls_cold_$via" FAIL; log "$srv $peer: ls -lR cold ($via) FAILED"; fi
  if [ "$via" = wan ] && [ "$(proxy_data_conns "$srv")" = "$n0" ]; then
    log "$srv $peer: NO data connection went through the delay proxy"
    record "$k.ls_bypass" 1
  fi
  if timed timeout "$op_timeout" ls -lR "$mnt/tree" >"$w/ls.out" &&
     lines=$(grep -c '^-' "$w/ls.out") && [ "$lines" = "$want" ]; then
    record "$k.ls_warm_$via" "$T"
  else record "$k.ls_warm_$via" FAIL; log "$srv $peer: ls -lR warm ($via) FAILED"; fi
  umount_peer
}

cat_small() { timeout "$op_timeout" cat "$mnt"/small/* | wc -c >"$w/small.out"; }
small_once() { # PEER SERVER KEY: one cat of the small files on a fresh mount
  local bytes s0 b0
  srv_settle "$2"; s0=$(srv_jiffies "$2")
  mount_peer "$1" "$2" lo || { record "$3" FAIL; return 0; }
  b0=$(busy_jiffies)
  if timed cat_small &&
     bytes=$(cat "$w/small.out") && [ "$bytes" = "$((small_n * small_kib * 1024))" ]; then
    record "$3" "$T"
    record "$3_cores" "$(cores_busy "$b0" "$T")"
    record "$3_srvcpu" "$(srv_cpu_since "$2" "$s0")" # before logout: the sessions are still there to count
  else record "$3" FAIL; log "$2 $1: cat of small files FAILED"; fi
  umount_peer
}
t_small() {
  [ "$2" = curl ] && return 0
  small_once "$2" "$1" "$1.$2.small"
  # ftpsfs once more with -o tls=1.2, the TLS version rclone talks (no target)
  if [ "$2" = ftpsfs ]; then small_once ftpsfs-tls12 "$1" "$1.ftpsfs.small_tls12"; fi
}

t_cpr() { # cp -r of small files into a new directory of the mount, VIA lo or wan: until cp returned and every file is complete on the server
  local srv=$1 peer=$2 via=$3 k=$1.$2.cpr_$3 n=$cpr_n ok=no t0
  [ "$peer" = curl ] && return 0
  [ "$via" = wan ] && n=$cpr_wan_n
  local target=${sdir[$srv]}/root/cpr
  rm -rf "$target"
  mount_peer "$peer" "$srv" "$via" || { record "$k" FAIL; return 0; }
  t0=$EPOCHREALTIME
  timeout "$cpr_s" cp -r "$shm/cpr$n" "$mnt/cpr" &&
    wait_server_tree "$target" "$n" "$(awk -v a="$t0" -v b="$EPOCHREALTIME" -v s="$cpr_s" 'BEGIN { w = s - (b - a); print (w > 1 ? int(w) : 1) }')" && ok=yes
  T=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.3f", b - a }')
  umount_peer
  [ $ok = yes ] && diff -rq "$shm/cpr$n" "$target" >/dev/null || ok=no
  if [ $ok = yes ]; then record "$k" "$T"
  else record "$k" FAIL; log "$srv $peer: cp -r of $n files ($via) FAILED"; fi
  rm -rf "$target"
}

reader() { watched cat "$mnt/p$1.bin" >/dev/null; }
curl_p() { curl_ftp "$1" lo -o "$shm/out$2.bin" "URL/p$2.bin"; } # SERVER I
# at_once CMD [ARGS...]: "CMD ARGS... I" for I = 1..NREADERS at once; fails if any failed
at_once() {
  local i p pids=() rc=0
  for ((i = 1; i <= nreaders; i++)); do "$@" "$i" & pids+=($!); done
  for p in "${pids[@]}"; do wait "$p" || rc=1; done
  return $rc
}
t_parallel() { # NREADERS readers of different files at once, cold; curl: one download
  local srv=$1 peer=$2 k=$1.$2 ok=yes i
  if [ "$peer" = curl ]; then
    rm -f "$shm/out.bin"; drop_caches; warm_session "$srv" curl
    local b0 cores; b0=$(busy_jiffies)
    # cores before the checksum, which is no part of the download
    if timed curl_ftp "$srv" lo -o "$shm/out.bin" URL/p1.bin && cores=$(cores_busy "$b0" "$T") &&
       [ "$(sha "$shm/out.bin")" = "$p1_sha" ]; then
      record "$k.parallel" "$(rate "$par_mib" "$T")"
      record "$k.parallel_cores" "$cores"
    else record "$k.parallel" FAIL; log "$srv curl: single download FAILED"; fi
    rm -f "$shm/out.bin"
    # the same NREADERS files by NREADERS curls at once: what the raw tool
    # gains from parallel downloads on this machine (no target)
    drop_caches; warm_session "$srv" curl
    timed at_once curl_p "$srv" || ok=no
    for ((i = 1; i <= nreaders; i++)); do
      [ "$(stat -c %s "$shm/out$i.bin" 2>/dev/null)" = "$par" ] || ok=no
    done
    [ "$ok" = yes ] && [ "$(sha "$shm/out1.bin")" = "$p1_sha" ] || ok=no
    if [ $ok = yes ]; then record "$k.parallel_n" "$(rate "$((nreaders * par_mib))" "$T")"
    else record "$k.parallel_n" FAIL; log "$srv curl: $nreaders downloads at once FAILED"; fi
    rm -f "$shm"/out[0-9]*.bin
    return 0
  fi
  mount_peer "$peer" "$srv" lo || { record "$k.parallel" FAIL; return 0; }
  drop_caches; warm_session "$srv" "$peer"
  local b0; b0=$(busy_jiffies)
  if timed at_once reader; then
    record "$k.parallel" "$(rate "$((nreaders * par_mib))" "$T")"
    record "$k.parallel_cores" "$(cores_busy "$b0" "$T")"
  else record "$k.parallel" FAIL; log "$srv $peer: parallel readers FAILED"; fi
  umount_peer
}

t_slow() { # read of one SIZE/4 file from the slow vsftpd (its pages cached: the rate limit is what is measured)
  local peer=$1 k=$slow.$1 ok=no
  rm -f "$shm/out.bin"
  if [ "$peer" = curl ]; then
    timed curl_ftp "$slow" lo -o "$shm/out.bin" URL/p1.bin && [ "$(sha "$shm/out.bin")" = "$p1_sha" ] && ok=yes
  else
    mount_peer "$peer" "$slow" lo || { record "$k.read" FAIL; return 0; }
    warm_session "$slow" "$peer"
    timed watched cp "$mnt/p1.bin" "$shm/out.bin" && [ "$(sha "$shm/out.bin")" = "$p1_sha" ] && ok=yes
    record "$k.rss" "$(vmhwm_mib "$mpid")"
    umount_peer
  fi
  if [ $ok = yes ]; then record "$k.read" "$(rate "$par_mib" "$T")"
  else record "$k.read" FAIL; log "slow vsftpd $peer: read FAILED"; fi
  rm -f "$shm/out.bin"
}

wanted() { [[ " $tests " == *" $1 "* ]]; }

# ------------------------------------------------------------------- run ---
t_start=$SECONDS
# The peers a figure compares are measured one right after the other (test
# by test, not peer by peer): the host's speed drifts over minutes, and a
# ratio of two figures taken far apart measures that drift too.
for ((run = 1; run <= runs; run++)); do
  for s in "${started[@]}"; do
    for t in read write ls small cpr parallel; do
      wanted "$t" || continue
      for p in $peers; do
        log "run $run/$runs: $s $t $p"
        case $t in
          ls) t_ls "$s" "$p" lo; t_ls "$s" "$p" wan ;;
          cpr) t_cpr "$s" "$p" lo; t_cpr "$s" "$p" wan ;;
          *) "t_$t" "$s" "$p" ;;
        esac
      done
    done
  done
  if [ -n "$slow" ] && wanted slow; then
    for p in $peers; do log "run $run/$runs: vsftpd limited to $slow_mib MiB/s a session, $p"; t_slow "$p"; done
  fi
done
elapsed=$((SECONDS - t_start))

# ----------------------------------------------------------------- table ---
cell() { # KEY [max|fails]: the median (or the max, or the failure count), failures noted
  local v f
  if [ "${2:-}" = fails ]; then
    if [ -f "$raw/$1" ]; then fails "$1"; else printf '—'; fi
    return
  fi
  if [ "${2:-}" = max ]; then v=$(maxof "$1"); else v=$(median "$1"); fi
  f=$(fails "$1")
  if [ ! -f "$raw/$1" ]; then printf '—'
  elif [ -z "$v" ]; then printf 'failed %s/%s' "$f" "$runs"
  elif [ "$f" != 0 ]; then printf '%s (%s/%s failed)' "$v" "$f" "$runs"
  else printf '%s' "$v"; fi
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || b == 0) print ""; else printf "%.2f", a / b }'; }
verdict() { # VALUE OP GOAL
  [ -n "$1" ] || { printf 'no figure (a peer failed)'; return; }
  awk -v v="$1" -v g="$3" -v op="$2" 'BEGIN { m = (op == ">=") ? v >= g : v <= g; printf "%s", m ? "**met**" : "not met" }'
}
minof() { printf '%s\n' "$@" | { grep -v '^$' || true; } | sort -g | head -n1; }

commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
rclone_v=$(rclone version 2>/dev/null | sed -n '1s/^rclone //p' || true)
curl_v=$(curl --version 2>/dev/null | sed -n '1s/^curl \([^ ]*\).*/\1/p' || true)
{
echo "### ftpsfs benchmark ($([ "$quick" = yes ] && echo quick || echo full) sizes: sequential ${size_mib} MiB, parallel ${nreaders} x ${par_mib} MiB, ls -lR over $((ls_dirs * ls_per_dir)) files in ${ls_dirs} dirs, cat ${small_n} x ${small_kib} KiB; median of ${runs} runs)"
echo
echo "$(date -u +%Y-%m-%dT%H:%MZ), commit $commit, $(nproc) cores, rclone $rclone_v, curl $curl_v; WAN = ${delay_ms} ms each way through bench/delayproxy.py; measuring took ${elapsed} s"
echo
echo "| figure | server | ftpsfs | rclone cache off | rclone cache full | curl |"
echo "|---|---|---|---|---|---|"
row() { # LABEL METRIC [max]
  local s p line
  for s in "${started[@]}"; do
    line="| $1 | $s |"
    for p in ftpsfs rclone-off rclone-full curl; do line+=" $(cell "$s.$p.$2" "${3:-}") |"; done
    echo "$line"
  done
}
row "seq read ${size_mib} MiB cold, MiB/s" read_cold
row "seq read ${size_mib} MiB warm, MiB/s" read_warm
row "seq write ${size_mib} MiB (to close + complete on server), MiB/s" write
row "ls -lR cold, loopback, s" ls_cold_lo
row "ls -lR warm, loopback, s" ls_warm_lo
row "ls -lR cold, 20 ms RTT, s" ls_cold_wan
row "ls -lR warm, 20 ms RTT, s" ls_warm_wan
row "cat ${small_n} x ${small_kib} KiB cold, s" small
row "cp -r of ${cpr_n} x 4 KiB files into the mount, loopback, s" cpr_lo
row "cp -r of ${cpr_wan_n} x 4 KiB files into the mount, 20 ms RTT, s" cpr_wan
row "${nreaders} parallel readers x ${par_mib} MiB, aggregate MiB/s (curl: one download)" parallel
row "${nreaders} curl downloads of those files at once, aggregate MiB/s" parallel_n
row "cores busy during the cat (of $(nproc))" small_cores
row "server CPU for the cat, from before the mount to the end of the cat, s" small_srvcpu
row "cores busy during the parallel read (of $(nproc); curl: one download)" parallel_cores
row "peak RSS (VmHWM) during ${size_mib} MiB copy, MiB (max of runs)" rss max
row "cold ${size_mib} MiB reads that failed (of ${runs})" read_cold fails
if [ -n "$slow" ]; then
  line="| seq read ${par_mib} MiB from a vsftpd limiting each session to ${slow_mib} MiB/s, MiB/s | vsftpd |"
  for p in ftpsfs rclone-off rclone-full curl; do line+=" $(cell "$slow.$p.read") |"; done
  echo "$line"
  line="| peak RSS during that read, MiB (max of runs) | vsftpd |"
  for p in ftpsfs rclone-off rclone-full; do line+=" $(cell "$slow.$p.rss" max) |"; done
  echo "$line — |"
fi
echo
echo "| target | server | measured | goal | |"
echo "|---|---|---|---|---|"
for s in "${started[@]}"; do
  f=$s.ftpsfs; ro=$s.rclone-off; rf=$s.rclone-full; c=$s.curl
  v=$(ratio "$(median "$f.read_cold")" "$(median "$c.read_cold")")
  echo "| seq read (cold) / raw curl download | $s | ${v:-—} | >= 0.9 | $(verdict "$v" ">=" 0.9) |"
  v=$(ratio "$(median "$f.read_cold")" "$(median "$ro.read_cold")")
  echo "| seq read (cold) / rclone cache off | $s | ${v:-—} | >= 1.5 | $(verdict "$v" ">=" 1.5) |"
  v=$(ratio "$(median "$f.write")" "$(median "$c.write")")
  echo "| seq write / raw curl upload | $s | ${v:-—} | >= 0.9 | $(verdict "$v" ">=" 0.9) |"
  a=$(ratio "$(median "$ro.ls_cold_wan")" "$(median "$f.ls_cold_wan")")
  b=$(ratio "$(median "$rf.ls_cold_wan")" "$(median "$f.ls_cold_wan")")
  v=$(minof "$a" "$b")
  echo "| cold ls -lR at 20 ms RTT, rclone time / ftpsfs time (off ${a:-—}, full ${b:-—}; lower counts) | $s | ${v:-—} | >= 3 | $(verdict "$v" ">=" 3) |"
  a=$(ratio "$(median "$ro.small")" "$(median "$f.small")")
  b=$(ratio "$(median "$rf.small")" "$(median "$f.small")")
  v=$(minof "$a" "$b")
  echo "| cat ${small_n} small files, rclone time / ftpsfs time (off ${a:-—}, full ${b:-—}; lower counts) | $s | ${v:-—} | >= 2 | $(verdict "$v" ">=" 2) |"
  v=$(ratio "$(median "$f.parallel")" "$(median "$c.parallel")")
  echo "| ${nreaders} parallel readers / single curl download | $s | ${v:-—} | >= 1.5 | $(verdict "$v" ">=" 1.5) |"
  v=$(maxof "$f.rss")
  echo "| peak RSS during ${size_mib} MiB copy, MiB | $s | ${v:-—} | <= 32 | $(verdict "$v" "<=" 32) |"
  v=$(fails "$f.read_cold")
  echo "| cold ${size_mib} MiB reads that fail | $s | $v of $runs | 0 of $runs | $(verdict "$v" "<=" 0) |"
done
if wanted small; then
  for s in "${started[@]}"; do
    a=$(ratio "$(median "$s.rclone-off.small")" "$(median "$s.ftpsfs.small_tls12")")
    b=$(ratio "$(median "$s.rclone-full.small")" "$(median "$s.ftpsfs.small_tls12")")
    v=$(minof "$a" "$b")
    echo "| (no target) cat ${small_n} small files with ftpsfs -o tls=1.2 ($(cell "$s.ftpsfs.small_tls12") s), rclone time / ftpsfs time (off ${a:-—}, full ${b:-—}) | $s | ${v:-—} | | |"
  done
fi
if wanted small; then
  for s in "${started[@]}"; do
    # What the server alone needs leaves the rest of the machine for the
    # client, the kernel and cat: a floor no client can go under here.
    v=$(awk -v c="$(median "$s.ftpsfs.small_srvcpu")" -v n="$(nproc)" 'BEGIN { if (c != "") printf "%.2f", c / n }')
    h=$(awk -v r="$(median "$s.rclone-off.small")" 'BEGIN { if (r != "") printf "%.2f", r / 2 }')
    echo "| (no target) cat ${small_n} small files: the server's own CPU for ftpsfs's mount spread over $(nproc) cores, s (2x rclone off needs at most ${h:-—} s) | $s | ${v:-—} | | |"
  done
fi
if wanted cpr; then
  for s in "${started[@]}"; do
    for via in lo wan; do
      a=$(ratio "$(median "$s.rclone-off.cpr_$via")" "$(median "$s.ftpsfs.cpr_$via")")
      b=$(ratio "$(median "$s.rclone-full.cpr_$via")" "$(median "$s.ftpsfs.cpr_$via")")
      v=$(minof "$a" "$b")
      echo "| (no target) cp -r of small files into the mount ($via), rclone time / ftpsfs time (off ${a:-—}, full ${b:-—}) | $s | ${v:-—} | | |"
    done
  done
fi
if wanted parallel; then
  for s in "${started[@]}"; do
    # the same target met by the raw tool itself: how far parallel downloads
    # can go on this machine
    v=$(ratio "$(median "$s.curl.parallel_n")" "$(median "$s.curl.parallel")")
    echo "| (no target) ${nreaders} curl downloads at once / single curl download | $s | ${v:-—} | | |"
  done
fi
if [ -n "$slow" ]; then
  v=$(ratio "$(median "$slow.ftpsfs.read")" "$(median "$slow.curl.read")")
  echo "| (no target) read from the per-session limited vsftpd / raw curl download | vsftpd | ${v:-—} | | |"
fi
bypass=$(cat "$raw"/*.ls_bypass 2>/dev/null | wc -l || true)
if [ "$bypass" != 0 ]; then
  echo
  echo "Warning: in $bypass cold 20 ms ls runs no data connection went through the delay proxy (see $results/raw/*.ls_bypass)."
fi
} >"$results/table.md"
cat "$results/table.md"
log "raw figures and logs: $results"
