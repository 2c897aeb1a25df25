#!/usr/bin/env bash
# Starts or stops one throwaway FTPS server on 127.0.0.1 for tests, the demo
# and benchmarks. Needs root (it creates a local login user for vsftpd).
#
#   ftps-server.sh start vsftpd --dir STATEDIR --port PORT --pasv LO-HI [--implicit] [--user NAME]
#   ftps-server.sh stop --dir STATEDIR
#
# start writes STATEDIR/{cert.pem,key.pem,password,pid,*.log} and serves
# STATEDIR/root; it prints "ready ..." once the port accepts connections.
set -euo pipefail

die() { echo "ftps-server: $*" >&2; exit 1; }

cmd=${1:-}; shift || true
kind=""; dir=""; port=""; pasv=""; implicit=NO; user=ftpsfs-test
if [ "$cmd" = start ]; then kind=${1:-}; shift || true; fi
while [ $# -gt 0 ]; do
  case $1 in
    --dir) dir=$2; shift 2 ;;
    --port) port=$2; shift 2 ;;
    --pasv) pasv=$2; shift 2 ;;
    --implicit) implicit=YES; shift ;;
    --user) user=$2; shift 2 ;;
    *) die "unknown argument $1" ;;
  esac
done
[ -n "$dir" ] || die "--dir is required"

stop() {
  [ -s "$dir/pid" ] || return 0
  local pid; read -r pid <"$dir/pid"
  # Only signal the server this script started (its command line names our config).
  if [ -d "/proc/$pid" ] && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF "$dir/"; then
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 30); do [ -d "/proc/$pid" ] || break; sleep 0.1; done
    [ -d "/proc/$pid" ] && kill -KILL -- "-$pid" 2>/dev/null || true
  fi
  rm -f "$dir/pid"
}

start_vsftpd() {
  local lo=${pasv%-*} hi=${pasv#*-}
  cat >"$dir/vsftpd.conf" <<CONF
listen=YES
listen_ipv6=NO
listen_address=127.0.0.1
listen_port=$port
background=NO
anonymous_enable=NO
local_enable=YES
write_enable=YES
local_umask=022
chmod_enable=YES
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
require_ssl_reuse=YES
pasv_enable=YES
pasv_min_port=$lo
pasv_max_port=$hi
pasv_address=127.0.0.1
xferlog_enable=YES
xferlog_file=$dir/xfer.log
vsftpd_log_file=$dir/vsftpd.log
max_clients=200
max_per_ip=200
CONF
  mkdir -p /var/run/vsftpd/empty
  setsid /usr/sbin/vsftpd "$dir/vsftpd.conf" </dev/null >>"$dir/stdout.log" 2>&1 &
  echo $! >"$dir/pid"
}

case $cmd in
  stop) stop ;;
  start)
    [ "$(id -u)" = 0 ] || die "must run as root"
    [ -n "$port" ] && [ -n "$pasv" ] || die "--port and --pasv are required"
    mkdir -p "$dir/root"
    chmod 755 "$dir"
    if [ ! -s "$dir/cert.pem" ]; then
      # A self-signed certificate made the usual way (it carries CA:TRUE).
      openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -sha256 \
        -keyout "$dir/key.pem" -out "$dir/cert.pem" -subj "/CN=localhost" \
        -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" 2>/dev/null
      chmod 600 "$dir/key.pem"
    fi
    # One login user with one password for every server, created once under
    # a lock: servers started in parallel must not change it under each other.
    mkdir -p /var/lib/ftpsfs-test && chmod 700 /var/lib/ftpsfs-test
    (
      flock -w 30 9 || die "cannot lock /var/lib/ftpsfs-test"
      # vsftpd changes to the home directory before local_root: it must exist.
      id "$user" >/dev/null 2>&1 || useradd -M -d / -s /bin/bash "$user"
      [ "$(getent passwd "$user" | cut -d: -f6)" = / ] || usermod -d / "$user"
      pw=/var/lib/ftpsfs-test/$user.password
      if [ ! -s "$pw" ]; then
        (umask 077; head -c 18 /dev/urandom | base64 | tr -d '/+=' >"$pw")
      fi
      echo "$user:$(cat "$pw")" | chpasswd
      install -m 600 "$pw" "$dir/password"
    ) 9>/var/lib/ftpsfs-test/lock
    chown "$user:" "$dir/root"
    case $kind in
      vsftpd) start_vsftpd ;;
      *) die "unknown server kind '$kind'" ;;
    esac
    for _ in $(seq 1 50); do
      if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
        echo "ready $kind 127.0.0.1:$port root=$dir/root user=$user"
        exit 0
      fi
      sleep 0.1
    done
    tail -5 "$dir"/*.log >&2 || true
    stop
    die "$kind did not start on port $port"
    ;;
  *) sed -n '2,10p' "$0"; exit 2 ;;
esac
