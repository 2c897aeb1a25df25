#!/usr/bin/env bash
# Starts or stops ONE throwaway FTPS server on 127.0.0.1, for the tests, the
# demo and the benchmarks. Needs root: it manages a local login user.
#
#   ftps-server.sh start KIND --dir STATEDIR --port PORT --pasv LO-HI
#                  [--implicit] [--ipv6] [--user NAME] [--password-file FILE]
#                  [--max-rate BYTES_PER_SEC]
#   ftps-server.sh stop --dir STATEDIR
#
# KIND: vsftpd (--implicit for implicit TLS, --ipv6 to listen on [::1]
# instead of 127.0.0.1, --max-rate to limit each session's transfers as
# local_max_rate does), proftpd, pure-ftpd, pyftpdlib.
# All require TLS on control and data connections. scripts/deps.sh installs
# vsftpd, and unpacks proftpd and pure-ftpd (their Debian packages conflict
# with vsftpd) and a pyftpdlib venv under /opt/ftpsfs-test.
#
# start writes into STATEDIR: cert.pem + key.pem (self-signed, CN=localhost,
# SAN localhost, 127.0.0.1, 127.0.0.2 (the bench delay proxy) and ::1, with the CA:TRUE openssl gives by default),
# password (mode 0600), the server's config, *.log and pid; the FTP user sees
# STATEDIR/root as "/". Every server runs as the login user once logged in,
# so files it writes belong to that user. It prints one line
#   ready KIND 127.0.0.1:PORT root=STATEDIR/root user=NAME
# once the server listens, or the tail of its logs on stderr and exits 1.
# stop signals only the process group this script started for STATEDIR.
#
# The login user (default ftpsfs-test) is a local system user shared by every
# server started here: its password is the one in --password-file, else the
# one kept in /var/lib/ftpsfs-test/NAME.password (made at random the first
# time), so that servers running in parallel never change it under each other.
#
# Adding a server kind = one start_KIND function plus one `case` branch below.
set -euo pipefail

ADDR=127.0.0.1
STORE=/var/lib/ftpsfs-test    # current password of each user managed here
READY_SECS=5                  # how long start waits for the server to listen
STOP_SECS=3                   # how long stop waits after SIGTERM
OPT=/opt/ftpsfs-test          # unpacked proftpd and pure-ftpd, pyftpdlib venv (scripts/deps.sh)
PROFTPD=$OPT/proftpd/usr/sbin/proftpd
PROFTPD_MODULES=$OPT/proftpd/usr/lib/proftpd
PUREFTPD=$OPT/pure-ftpd/usr/sbin/pure-ftpd
PUREPW=$OPT/pure-ftpd/usr/bin/pure-pw
PYTHON=$OPT/pyftpdlib/venv/bin/python

die() { echo "ftps-server: $*" >&2; exit 1; }
usage() { sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }

# ------------------------------------------------------------------ args ---
cmd=${1:-}; [ $# -gt 0 ] && shift
kind=""
if [ "$cmd" = start ]; then kind=${1:-}; [ $# -gt 0 ] && shift; fi
dir=""; port=""; pasv=""; implicit=NO; ipv6=NO; user=ftpsfs-test; password_file=""; max_rate=0
while [ $# -gt 0 ]; do
  case $1 in
    --dir|--port|--pasv|--user|--password-file|--max-rate)
      [ $# -ge 2 ] || die "$1 needs a value"
      case $1 in
        --dir) dir=$2 ;; --port) port=$2 ;; --pasv) pasv=$2 ;;
        --user) user=$2 ;; --password-file) password_file=$2 ;;
        --max-rate) max_rate=$2 ;;
      esac
      shift 2 ;;
    --implicit) implicit=YES; shift ;;
    --ipv6) ipv6=YES; ADDR=::1; shift ;;
    -h|--help) usage ;;
    *) die "unknown argument '$1' (try --help)" ;;
  esac
done
case $cmd in start|stop) ;; *) usage ;; esac
[ -n "$dir" ] || die "--dir STATEDIR is required"

# --------------------------------------------------------------- helpers ---
is_port() { [[ $1 =~ ^[0-9]{1,5}$ ]] && [ "$1" -ge 1 ] && [ "$1" -le 65535 ]; }

# "STATE PGRP" of a process, or nothing when it is gone (comm may hold spaces).
proc_state() {
  local line
  read -r line 2>/dev/null <"/proc/$1/stat" || return 0
  line=${line##*) }
  local st _ppid pgrp _rest
  read -r st _ppid pgrp _rest <<<"$line"
  echo "$st $pgrp"
}

alive() { local s; s=$(proc_state "$1"); [ -n "$s" ] && [ "${s%% *}" != Z ]; }

# Whether any live (non-zombie) process is in process group $1.
group_alive() {
  local f line st pgrp _ppid _rest
  for f in /proc/[0-9]*/stat; do
    read -r line 2>/dev/null <"$f" || continue
    line=${line##*) }
    read -r st _ppid pgrp _rest <<<"$line"
    [ "$pgrp" = "$1" ] && [ "$st" != Z ] && return 0
  done
  return 1
}

# Whether pid $1 is a server this script started for $dir: its command line
# names a file in $dir (each kind is started with a file there: its config,
# user database or script), or, as proftpd and pure-ftpd overwrite their
# command line with a status title, one of its open files is in $dir (launch
# points stdout and stderr at $dir/stdout.log; proftpd also keeps its log).
is_ours() {
  [ -r "/proc/$1/cmdline" ] && alive "$1" || return 1
  tr '\0' '\n' <"/proc/$1/cmdline" 2>/dev/null | grep -qF -- "$dir/" && return 0
  local fd
  for fd in /proc/"$1"/fd/*; do
    case $(readlink "$fd" 2>/dev/null) in "$dir"/*) return 0 ;; esac
  done
  return 1
}

# The inode of the listening TCP socket on $ADDR:$1, or nothing.
listen_inode() {
  if [ "$ipv6" = YES ]; then
    awk -v a="$(printf '00000000000000000000000001000000:%04X' "$1")" \
      '$2 == a && $4 == "0A" { print $10; exit }' /proc/net/tcp6
  else
    awk -v a="$(printf '0100007F:%04X' "$1")" \
      '$2 == a && $4 == "0A" { print $10; exit }' /proc/net/tcp
  fi
}

# Whether pid $1 holds socket inode $2.
holds() {
  local fd
  for fd in /proc/"$1"/fd/*; do
    [ "$(readlink "$fd" 2>/dev/null)" = "socket:[$2]" ] && return 0
  done
  return 1
}

# Whether pid $1, or a live process in its process group (a server that
# forks its listener), owns the listening TCP socket on $ADDR:$2.
listens() {
  local inode f line st _ppid pgrp _rest p
  inode=$(listen_inode "$2")
  [ -n "$inode" ] || return 1
  holds "$1" "$inode" && return 0
  for f in /proc/[0-9]*/stat; do
    read -r line 2>/dev/null <"$f" || continue
    line=${line##*) }
    read -r st _ppid pgrp _rest <<<"$line"
    if [ "$pgrp" != "$1" ] || [ "$st" = Z ]; then continue; fi
    p=${f#/proc/}; p=${p%/stat}
    holds "$p" "$inode" && return 0
  done
  return 1
}

logs_tail() {
  local f
  for f in "$dir"/*.log; do
    [ -s "$f" ] || continue
    echo "--- $f (last lines)" >&2
    tail -n 15 "$f" >&2
  done
}

# Starts "$@" as its own session and process group (setsid execs in place:
# a background job of a non-interactive shell is no group leader), so that
# $! is the server's pid and also its process-group id. stdin is the log too:
# vsftpd writes its fatal "500 OOPS" messages to fd 0 (its inetd heritage).
launch() {
  setsid "$@" >>"$dir/stdout.log" 2>&1 0>&1 &
  echo $! >"$dir/pid"
}

# ---------------------------------------------------------------- stop ---
stop_server() {
  [ -d "$dir" ] || return 0
  dir=$(cd "$dir" && pwd -P)
  local pf=$dir/pid pid i
  [ -s "$pf" ] || return 0
  read -r pid <"$pf" || true
  if [[ $pid =~ ^[0-9]+$ ]] && is_ours "$pid"; then
    local st; st=$(proc_state "$pid")
    if [ "${st#* }" = "$pid" ]; then
      # its own group: the listener and its per-session children
      kill -TERM -- "-$pid" 2>/dev/null || true
      for ((i = 0; i < STOP_SECS * 10; i++)); do group_alive "$pid" || break; sleep 0.1; done
      if group_alive "$pid"; then
        echo "ftps-server: pid $pid ignored SIGTERM for ${STOP_SECS}s: SIGKILL" >&2
        kill -KILL -- "-$pid" 2>/dev/null || true
        for ((i = 0; i < 20; i++)); do group_alive "$pid" || break; sleep 0.1; done
      fi
    else
      kill -TERM "$pid" 2>/dev/null || true
      for ((i = 0; i < STOP_SECS * 10; i++)); do alive "$pid" || break; sleep 0.1; done
      if alive "$pid"; then kill -KILL "$pid" 2>/dev/null || true; fi
    fi
  fi
  rm -f "$pf"
}

# ------------------------------------------------------------ start: any ---
make_cert() {
  [ -s "$dir/cert.pem" ] && [ -s "$dir/key.pem" ] && return 0
  # Made the way server tutorials say, so it carries CA:TRUE (clients must cope).
  (umask 077
   openssl req -x509 -newkey rsa:2048 -nodes -days 3650 \
     -keyout "$dir/key.pem" -out "$dir/cert.pem" -subj /CN=localhost \
     -addext "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:127.0.0.2,IP:::1" >"$dir/openssl.out" 2>&1) ||
    { cat "$dir/openssl.out" >&2; die "openssl could not make a certificate"; }
  rm -f "$dir/openssl.out"
  chmod 644 "$dir/cert.pem"
}

# Creates the login user if missing and sets its password, under a lock.
setup_user() {
  [[ $user =~ ^[a-z_][a-z0-9_-]{0,31}$ ]] || die "bad user name '$user'"
  local pw=""
  if [ -n "$password_file" ]; then
    [ -r "$password_file" ] || die "cannot read --password-file $password_file"
    IFS= read -r pw <"$password_file" || true
    [ -n "$pw" ] || die "empty password in $password_file"
  fi
  mkdir -p "$STORE"; chmod 700 "$STORE"
  (
    flock -w 30 9 || die "cannot lock $STORE/lock"
    if ! id "$user" >/dev/null 2>&1; then
      # vsftpd changes into the home directory before local_root and fails
      # the login if it is missing: use "/" as home; bash is in /etc/shells
      # (vsftpd's PAM stack has pam_shells).
      useradd -M -d / -s /bin/bash "$user" || die "useradd $user failed"
    fi
    local home; home=$(getent passwd "$user" | cut -d: -f6)
    if [ ! -d "$home" ]; then
      echo "ftps-server: home $home of $user is missing; setting it to /" >&2
      usermod -d / "$user" || die "usermod -d / $user failed"
    fi
    local store=$STORE/$user.password
    if [ -z "$pw" ] && [ -s "$store" ]; then IFS= read -r pw <"$store" || true; fi
    if [ -z "$pw" ]; then pw=$(head -c 18 /dev/urandom | base64 | tr -d '/+='); fi
    printf '%s:%s\n' "$user" "$pw" | chpasswd || die "chpasswd for $user failed"
    (umask 077; printf '%s\n' "$pw" >"$store.new" && mv -f "$store.new" "$store")
    (umask 077; printf '%s\n' "$pw" >"$dir/password.new" && mv -f "$dir/password.new" "$dir/password")
  ) 9>"$STORE/lock"
  chown "$user:" "$dir/root"
  chmod 755 "$dir/root"
  # the server reaches the root as the user: every parent must be traversable
  setpriv --reuid="$(id -u "$user")" --regid="$(id -g "$user")" --clear-groups \
    test -x "$dir/root" ||
    die "user $user cannot reach $dir/root: make its parent directories traversable (chmod o+x)"
}

# --------------------------------------------------------- start: vsftpd ---
start_vsftpd() {
  local bin=/usr/sbin/vsftpd
  [ -x "$bin" ] || die "$bin is missing (run scripts/deps.sh)"
  mkdir -p /var/run/vsftpd/empty   # secure_chroot_dir
  local listen
  if [ "$ipv6" = YES ]; then
    # EPSV replies carry no address; pasv_address is for IPv4 PASV only
    listen=$'listen=NO\nlisten_ipv6=YES\nlisten_address6=::1'
  else
    listen=$'listen=YES\nlisten_ipv6=NO\nlisten_address=127.0.0.1\npasv_address=127.0.0.1'
  fi
  cat >"$dir/vsftpd.conf" <<CONF
# written by ftps-server.sh
$listen
listen_port=$port
background=NO
anonymous_enable=NO
local_enable=YES
write_enable=YES
local_umask=022
local_root=$dir/root
chroot_local_user=YES
allow_writeable_chroot=YES
secure_chroot_dir=/var/run/vsftpd/empty
pam_service_name=vsftpd
userlist_enable=NO
ssl_enable=YES
implicit_ssl=$implicit
rsa_cert_file=$dir/cert.pem
rsa_private_key_file=$dir/key.pem
force_local_logins_ssl=YES
force_local_data_ssl=YES
# the real-world default, written out on purpose: every data connection must
# resume the control connection's TLS session, else 522 and the session ends
require_ssl_reuse=YES
pasv_enable=YES
pasv_min_port=$pasv_lo
pasv_max_port=$pasv_hi
xferlog_enable=YES
xferlog_file=$dir/xfer.log
vsftpd_log_file=$dir/vsftpd.log
max_clients=200
max_per_ip=200
# 0: no limit; else the bytes a second each session's transfers may move
local_max_rate=$max_rate
CONF
  launch "$bin" "$dir/vsftpd.conf"
}

# -------------------------------------------------------- start: proftpd ---
# mod_tls with TLSRequired on and default TLSOptions: every data connection
# must resume its control connection's TLS session (else 425). Logins come
# from an AuthUserFile in STATEDIR (the shared user's uid, gid and password).
start_proftpd() {
  [ -x "$PROFTPD" ] || die "$PROFTPD is missing (run scripts/deps.sh)"
  [ -f "$PROFTPD_MODULES/mod_tls.so" ] || die "$PROFTPD_MODULES/mod_tls.so is missing (run scripts/deps.sh)"
  [ -f "$PROFTPD_MODULES/mod_digest.so" ] || die "$PROFTPD_MODULES/mod_digest.so is missing (run scripts/deps.sh)"
  local uid gid group hash pw
  uid=$(id -u "$user"); gid=$(id -g "$user"); group=$(id -gn "$user")
  IFS= read -r pw <"$dir/password"
  hash=$(printf '%s\n' "$pw" | openssl passwd -6 -stdin) || die "openssl passwd failed"
  (umask 077
   printf '%s:%s:%s:%s::%s:/bin/bash\n' "$user" "$hash" "$uid" "$gid" "$dir/root" >"$dir/ftpd.passwd"
   printf '%s:x:%s:\n' "$group" "$gid" >"$dir/ftpd.group")
  cat >"$dir/proftpd.conf" <<CONF
# written by ftps-server.sh
ServerName          "ftpsfs-test proftpd"
ServerType          standalone
DefaultServer       on
UseIPv6             off
DefaultAddress      $ADDR
SocketBindTight     on
Port                $port
PassivePorts        $pasv_lo $pasv_hi
User                nobody
Group               nogroup
Umask               022
MaxInstances        200
PidFile             $dir/proftpd.pid
ScoreboardFile      $dir/proftpd.scoreboard
DelayTable          $dir/proftpd.delay
SystemLog           $dir/proftpd.log
TransferLog         $dir/xfer.log
WtmpLog             off
UseReverseDNS       off
ModulePath          $PROFTPD_MODULES
<IfModule mod_ctrls.c>
  ControlsEngine    off
</IfModule>
LoadModule          mod_tls.c
# HASH (draft-bryan-ftp-hash) and XSHA512/XSHA256/XSHA1/XMD5/XCRC: ftpsfs
# checks uploads by hash where a server offers one
LoadModule          mod_digest.c
<IfModule mod_digest.c>
  DigestEngine      on
</IfModule>
AuthOrder           mod_auth_file.c
AuthUserFile        $dir/ftpd.passwd
AuthGroupFile       $dir/ftpd.group
RequireValidShell   off
DefaultRoot         $dir/root
AllowOverwrite      on
<IfModule mod_tls.c>
  TLSEngine                 on
  TLSLog                    $dir/tls.log
  TLSProtocol               TLSv1.2 TLSv1.3
  TLSRequired               on
  TLSRSACertificateFile     $dir/cert.pem
  TLSRSACertificateKeyFile  $dir/key.pem
  TLSVerifyClient           off
  # TLSOptions left at its default on purpose: data connections must resume
  # the control connection's TLS session ("NoSessionReuseRequired" not set)
</IfModule>
CONF
  "$PROFTPD" -t -c "$dir/proftpd.conf" >"$dir/configtest.out" 2>&1 ||
    { cat "$dir/configtest.out" >&2; die "proftpd rejects $dir/proftpd.conf"; }
  rm -f "$dir/configtest.out"
  # -n: stay in the foreground (the listener is the launched process)
  launch "$PROFTPD" -n -c "$dir/proftpd.conf"
}

# ------------------------------------------------------ start: pure-ftpd ---
# -Y 3: TLS required for control and data; it never resumes data sessions.
# Logins come from a puredb in STATEDIR made with pure-pw.
start_pure_ftpd() {
  [ -x "$PUREFTPD" ] || die "$PUREFTPD is missing (run scripts/deps.sh)"
  [ -x "$PUREPW" ] || die "$PUREPW is missing (run scripts/deps.sh)"
  local pw hash
  IFS= read -r pw <"$dir/password"
  rm -f "$dir/pureftpd.passwd" "$dir/pureftpd.pdb"
  # The line `pure-pw useradd` writes (user:hash:uid:gid::home/./: and 12
  # empty fields), but with a SHA-512 crypt hash, which pure-ftpd checks with
  # crypt(3): pure-pw's own argon2id hash takes 3 s of CPU per start.
  hash=$(printf '%s\n' "$pw" | openssl passwd -6 -stdin) || die "openssl passwd failed"
  (umask 077
   printf '%s:%s:%s:%s::%s/./:::::::::::::\n' "$user" "$hash" "$(id -u "$user")" \
     "$(id -g "$user")" "$dir/root" >"$dir/pureftpd.passwd" &&
   "$PUREPW" mkdb "$dir/pureftpd.pdb" -f "$dir/pureftpd.passwd" >"$dir/pure-pw.log" 2>&1) ||
    { cat "$dir/pure-pw.log" >&2; die "pure-pw mkdb could not make $dir/pureftpd.pdb"; }
  rm -f "$dir/pure-pw.log"
  # -2 wants the key and the certificate in one file
  (umask 077; cat "$dir/key.pem" "$dir/cert.pem" >"$dir/key+cert.pem")
  # -S bind address,port  -l auth  -E no anonymous  -A chroot everyone
  # -H no DNS  -p/-P passive range/address  -Y 3 TLS for control and data
  # -O transfer log  -g pid file  -c/-C client limits (total/per IP)
  # It logs to syslog only; stdout.log gets what it prints itself.
  launch "$PUREFTPD" -S "$ADDR,$port" -l "puredb:$dir/pureftpd.pdb" -E -A -H \
    -p "$pasv_lo:$pasv_hi" -P "$ADDR" -Y 3 -2 "$dir/key+cert.pem" \
    -O "clf:$dir/xfer.log" -g "$dir/pure-ftpd.pid" -c 200 -C 200
}

# ------------------------------------------------------ start: pyftpdlib ---
# TLS_FTPHandler with TLS required on control and data. It binds, loads its
# certificate and password as root, then runs as the login user.
start_pyftpdlib() {
  [ -x "$PYTHON" ] || die "$PYTHON is missing (run scripts/deps.sh)"
  cat >"$dir/server.py" <<PY
# written by ftps-server.sh
import logging
import os

from pyftpdlib.authorizers import DummyAuthorizer
from pyftpdlib.handlers import TLS_FTPHandler
from pyftpdlib.servers import FTPServer

STATE = "$dir"
logging.basicConfig(filename=STATE + "/pyftpdlib.log", level=logging.INFO)
with open(STATE + "/password") as f:
    password = f.readline().rstrip("\\n")

auth = DummyAuthorizer()
auth.add_user("$user", password, STATE + "/root", perm="elradfmwMT")

handler = TLS_FTPHandler
handler.certfile = STATE + "/cert.pem"
handler.keyfile = STATE + "/key.pem"
handler.tls_control_required = True
handler.tls_data_required = True
handler.authorizer = auth
handler.passive_ports = range($pasv_lo, $pasv_hi + 1)
handler.banner = "ftpsfs-test pyftpdlib ready."
# load the key now, while root can read it
handler.ssl_context = handler.get_ssl_context()

server = FTPServer(("$ADDR", $port), handler)
server.max_cons = 256
os.setgroups([])
os.setgid($(id -g "$user"))
os.setuid($(id -u "$user"))
server.serve_forever()
PY
  launch "$PYTHON" "$dir/server.py"
}

# ------------------------------------------------------------------ main ---
if [ "$cmd" = stop ]; then stop_server; exit 0; fi

[ "$(id -u)" = 0 ] || die "start must run as root (it manages the login user $user)"
[ -n "$kind" ] || die "start needs a server kind (vsftpd, proftpd, pure-ftpd, pyftpdlib)"
is_port "$port" || die "--port PORT is required (1-65535)"
[[ $pasv =~ ^([0-9]+)-([0-9]+)$ ]] || die "--pasv LO-HI is required"
pasv_lo=${BASH_REMATCH[1]}; pasv_hi=${BASH_REMATCH[2]}
if ! is_port "$pasv_lo" || ! is_port "$pasv_hi" || [ "$pasv_lo" -gt "$pasv_hi" ]; then
  die "bad --pasv $pasv"
fi
case $kind in
  vsftpd|proftpd|pure-ftpd|pyftpdlib) ;;
  *) die "unknown server kind '$kind' (known: vsftpd, proftpd, pure-ftpd, pyftpdlib)" ;;
esac
if [ "$implicit" = YES ] && [ "$kind" != vsftpd ]; then die "--implicit: not supported for $kind"; fi
if [ "$ipv6" = YES ] && [ "$kind" != vsftpd ]; then die "--ipv6: not supported for $kind"; fi
[[ $max_rate =~ ^[0-9]+$ ]] || die "--max-rate: not a number of bytes per second: $max_rate"
if [ "$max_rate" != 0 ] && [ "$kind" != vsftpd ]; then die "--max-rate: not supported for $kind"; fi
for c in openssl setsid flock setpriv useradd chpasswd awk; do
  command -v "$c" >/dev/null || die "$c is missing (run scripts/deps.sh)"
done

mkdir -p "$dir/root"
dir=$(cd "$dir" && pwd -P)
chmod 755 "$dir"
if [ -s "$dir/pid" ]; then
  read -r old <"$dir/pid" || true
  if [[ $old =~ ^[0-9]+$ ]] && is_ours "$old"; then
    die "a server for $dir is already running (pid $old); stop it first"
  fi
  rm -f "$dir/pid"
fi
make_cert
setup_user

case $kind in
  vsftpd) start_vsftpd ;;
  proftpd) start_proftpd ;;
  pure-ftpd) start_pure_ftpd ;;
  pyftpdlib) start_pyftpdlib ;;
esac

read -r pid <"$dir/pid"
for ((i = 0; i < READY_SECS * 10; i++)); do
  if ! alive "$pid"; then break; fi
  if listens "$pid" "$port"; then
    echo "ready $kind $ADDR:$port root=$dir/root user=$user"
    exit 0
  fi
  sleep 0.1
done
if alive "$pid"; then
  echo "ftps-server: $kind (pid $pid) is not listening on $ADDR:$port after ${READY_SECS}s" >&2
else
  echo "ftps-server: $kind exited before listening on $ADDR:$port" >&2
fi
logs_tail
stop_server
exit 1
