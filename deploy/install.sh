#!/usr/bin/env bash
# deploy/install.sh — installs Canopy as systemd services on a Raspberry Pi
# (or any Debian-like system). Idempotent: a second run changes nothing.
#
#   sudo deploy/install.sh                 install into /, enable canopy.target and the daily backup
#   deploy/install.sh --root /tmp/r        install into a directory tree (no systemctl calls)
#
# Options:
#   --root DIR     install under DIR instead of / (DESTDIR in the environment works too)
#   --app DIR      the built Canopy checkout the services run (default: this repository;
#                  keep it outside /home: the units use ProtectHome=yes)
#   --node PATH    node binary (default: `command -v node`)
#   --packages     apt-get install redis-server postgresql can-utils first (root / only)
#   --no-enable    install files only; do not enable or start anything
#   --start        also start canopy.target now
#   --postgres     the PostgreSQL server side (deploy/postgres): memory and WAL
#                  settings sized for this machine (conf.d/50-canopy.conf), the
#                  database cea_sensors, the roles canopy (the services) and
#                  grafana_reader with their grants (setup.sql), their passwords
#                  (/etc/canopy/postgres.credentials, 0600) and each store
#                  user's DATABASE_URL credential. Installs postgresql if missing.
#   --timescaledb  also TimescaleDB from the vendor's apt repository when it is
#                  reachable; otherwise says so and stays on plain PostgreSQL
#                  (the store's rollup tables). Implies --postgres.
#   --grafana      Grafana from its apt repository when reachable, enabled,
#                  with a generated admin password (/etc/canopy/grafana-admin.password,
#                  0600), the data source, dashboards and alert rules. Implies --postgres.
#   --pg-admin CONNINFO  superuser connection for setup.sql (default: the postgres
#                  OS user over the local socket; with --root, setup.sql runs only then)
#   --pg-port PORT the PostgreSQL port written into DATABASE_URL (default 5432)
#   --memory-mb N  size the PostgreSQL settings for N MB of RAM (default: this machine's)
#   --desktop      install the menu launchers of the two terminal monitors (default: when a
#                  graphical desktop is installed: /usr/share/xsessions or wayland-sessions)
#   --autostart    also open both monitors in terminal windows at every desktop login
#   --desktop-user NAME  the desktop user who runs the monitors: joins the group canopy
#                  (reads /etc/canopy/monitor.env and the SQLite store)
#
# What it does: creates one unprivileged user per service (canopy-scanner,
# canopy-worker, …, canopy-backup; group canopy; systemd-sysusers), the
# directories /etc/canopy, /etc/canopy/credentials/<service> (root only: each
# service's secrets, passed by LoadCredential=), /var/lib/canopy,
# /var/log/canopy and /var/backups/canopy, the `canopy` command (/usr/local/bin/canopy), the
# units from deploy/systemd (services, canopy.target, the error-handler
# template, the daily backup timer with rotation), Redis' configuration as a
# drop-in for redis-server.service, Grafana provisioning when Grafana is
# installed, and environment templates (never overwritten: they hold secrets).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
app="$(cd "$here/.." && pwd)"
root="${DESTDIR:-/}"
node="$(command -v node || true)"
enable=1
start=0
packages=0
postgres=0
timescaledb=0
grafana=0
desktop=auto autostart=0 desktop_user=""

while [[ $# -gt 0 ]]; do
  case "$1" in
    --root) root="${2:?--root needs a directory}"; shift 2 ;;
    --root=*) root="${1#--root=}"; shift ;;
    --app) app="${2:?--app needs a directory}"; shift 2 ;;
    --node) node="${2:?--node needs a path}"; shift 2 ;;
    --packages) packages=1; shift ;;
    --no-enable) enable=0; shift ;;
    --start) start=1; shift ;;
    --postgres) postgres=1; shift ;;
    --timescaledb) timescaledb=1; postgres=1; shift ;;
    --grafana) grafana=1; postgres=1; shift ;;
    --pg-admin) pg_admin="${2:?--pg-admin needs a connection string}"; shift 2 ;;
    --pg-port) pg_port="${2:?--pg-port needs a port}"; shift 2 ;;
    --memory-mb) pg_memory_mb="${2:?--memory-mb needs a number}"; shift 2 ;;
    --desktop) desktop=1; shift ;;
    --autostart) desktop=1; autostart=1; shift ;;
    --desktop-user) desktop_user="${2:?--desktop-user needs a user name}"; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "install.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done

mkdir -p "$root"
root="$(cd "$root" && pwd)"
p="${root%/}" # prefix for every installed path; empty when installing into /
live=0
[[ "$root" == / ]] && live=1
[[ -n "$node" ]] || { echo "install.sh: node not found (install Node.js 20 or pass --node)" >&2; exit 1; }
changed=0
say() { echo "install: $*"; }

if [[ $packages == 1 ]]; then
  if [[ $live == 1 ]]; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y redis-server postgresql can-utils
  else
    say "--packages ignored: root is $root"
  fi
fi

# owner NAME → numeric id from the target tree's passwd/group (the user may not exist on the host)
uid_of() { awk -F: -v n="$1" '$1==n {print $3}' "$p/etc/passwd" 2>/dev/null || true; }
gid_of() { awk -F: -v n="$1" '$1==n {print $3}' "$p/etc/group" 2>/dev/null || true; }

# set_meta PATH MODE [USER GROUP]: chmod/chown only when different
set_meta() {
  local f="$1" mode="$2" u="${3:-root}" g="${4:-root}" uid gid
  uid="$(uid_of "$u")"; gid="$(gid_of "$g")"
  [[ -n "$uid" ]] || uid=0
  [[ -n "$gid" ]] || gid=0
  if [[ "$(stat -c %a "$f")" != "$mode" ]]; then chmod "$mode" "$f"; changed=1; fi
  if [[ "$(stat -c %u:%g "$f")" != "$uid:$gid" ]]; then chown "$uid:$gid" "$f"; changed=1; fi
}

# ensure_dir PATH MODE [USER GROUP]
ensure_dir() {
  local d="$p$1"
  if [[ ! -d "$d" ]]; then mkdir -p "$d"; say "created $1"; changed=1; fi
  set_meta "$d" "$2" "${3:-root}" "${4:-root}"
}

# put SRC DEST MODE [USER GROUP]: copy when the content differs
put() {
  local src="$1" dest="$p$2"
  mkdir -p "$(dirname "$dest")"
  if [[ ! -f "$dest" ]] || ! cmp -s "$src" "$dest"; then
    cp "$src" "$dest"
    say "installed $2"
    changed=1
  fi
  set_meta "$dest" "$3" "${4:-root}" "${5:-root}"
}

# put_once SRC DEST MODE [USER GROUP]: only when DEST does not exist (files an operator edits)
put_once() {
  if [[ -e "$p$2" ]]; then
    set_meta "$p$2" "$3" "${4:-root}" "${5:-root}"
  else
    put "$@"
  fi
}

# put_text DEST MODE <<< CONTENT
put_text() {
  local tmp
  tmp="$(mktemp)"
  cat >"$tmp"
  put "$tmp" "$1" "$2"
  rm -f "$tmp"
}

# --- the users ------------------------------------------------------------------
# One system user per service (canopy-<service>, as its Redis ACL user), so a
# compromised service cannot read another's credentials, environment or
# /proc entries; all in the group canopy, which shares the data directory.
services_all=(scanner worker api automation alerts recorder analytics exporter gateway)
sysusers_conf() {
  local s
  echo "# Canopy's service users (systemd-sysusers): one per service, group canopy."
  echo "g canopy -"
  for s in "${services_all[@]}" backup; do
    echo "u canopy-$s -:canopy \"Canopy $s\" /var/lib/canopy /usr/sbin/nologin"
  done
  echo "# the relay boards' I2C bus"
  echo "g i2c -"
  echo "m canopy-automation i2c"
}
# (a here-string, not a pipe: put_text must run in this shell to record a change)
put_text /usr/lib/sysusers.d/canopy.conf 644 <<<"$(sysusers_conf)"
mkdir -p "$p/etc"
has_users() {
  local s
  [[ -n "$(gid_of canopy)" ]] || return 1
  for s in "${services_all[@]}" backup; do [[ -n "$(uid_of "canopy-$s")" ]] || return 1; done
  awk -F: '$1=="i2c" {print $4}' "$p/etc/group" 2>/dev/null | tr , '\n' | grep -qx canopy-automation
}
if ! has_users; then
  if command -v systemd-sysusers >/dev/null; then
    systemd-sysusers --root="$root" canopy.conf >/dev/null
  elif [[ $live == 1 ]]; then
    getent group canopy >/dev/null || groupadd --system canopy
    getent group i2c >/dev/null || groupadd --system i2c
    for s in "${services_all[@]}" backup; do
      id "canopy-$s" >/dev/null 2>&1 ||
        useradd --system --home-dir /var/lib/canopy --no-create-home --shell /usr/sbin/nologin --gid canopy "canopy-$s"
    done
    usermod -aG i2c canopy-automation
  else
    echo "install.sh: systemd-sysusers is needed to create the users under --root" >&2
    exit 1
  fi
  say "created the service users canopy-{$(IFS=,; echo "${services_all[*]}"),backup} (group canopy)"
  changed=1
fi

# --- directories -------------------------------------------------------------
ensure_dir /etc/canopy 750 root canopy
# Secrets, one directory per service, root only: systemd hands each service its
# own (LoadCredential=), readable by that service's user alone.
ensure_dir /etc/canopy/credentials 700
for s in "${services_all[@]}" backup cli; do ensure_dir "/etc/canopy/credentials/$s" 700; done
# Shared by the services through the group: setgid (files stay in group canopy)
# and sticky (a service cannot remove or replace another's files).
ensure_dir /var/lib/canopy 3770 root canopy
ensure_dir /var/log/canopy 3770 root canopy
ensure_dir /var/backups/canopy 700 canopy-backup canopy
ensure_dir /usr/local/lib/canopy 755
# The SQLite store, created empty (a valid empty database) and group-writable,
# so every service of the group can open it and its -wal/-shm files (SQLite
# gives those the database file's mode).
if [[ ! -e "$p/var/lib/canopy/canopy.db" ]]; then
  : >"$p/var/lib/canopy/canopy.db"
  say "created /var/lib/canopy/canopy.db"
  changed=1
fi
set_meta "$p/var/lib/canopy/canopy.db" 660 canopy-worker canopy

# --- the canopy command and the error handler --------------------------------
[[ -f "$app/dist/src/cli/main.js" ]] || say "warning: $app/dist/src/cli/main.js is missing: run npm ci && npm run build in $app"
case "$app/" in /home/*|/root/*) say "warning: $app is under a home directory, which the units hide (ProtectHome=yes); use /opt/canopy" ;; esac
put_text /usr/local/bin/canopy 755 <<EOF
#!/bin/sh
# Installed by deploy/install.sh: runs the Canopy CLI of $app.
# Run by hand (not by systemd, which sets INVOCATION_ID and passes each
# service its own environment files), it reads the shared settings and the
# CLI's Redis user, so \`sudo canopy doctor\` or \`sudo canopy backup\` just work.
if [ -z "\$INVOCATION_ID" ]; then
  set -a
  for f in /etc/canopy/canopy.env /etc/canopy/cli.env; do
    [ -r "\$f" ] && . "\$f"
  done
  set +a
  # the CLI's own secrets (its Redis user), readable by root only
  [ -z "\$CREDENTIALS_DIRECTORY" ] && [ -r /etc/canopy/credentials/cli ] && export CREDENTIALS_DIRECTORY=/etc/canopy/credentials/cli
fi
exec "$node" "$app/dist/src/cli/main.js" "\$@"
EOF
put "$here/bin/canopy-error-handler" /usr/local/lib/canopy/canopy-error-handler 755

# --- units ---------------------------------------------------------------------
units=()
for f in "$here"/systemd/*.service "$here"/systemd/*.target "$here"/systemd/*.timer; do
  put "$f" "/etc/systemd/system/$(basename "$f")" 644
  units+=("$(basename "$f")")
done
put "$here/systemd/redis-server.service.d/canopy.conf" /etc/systemd/system/redis-server.service.d/canopy.conf 644

# --- Redis ---------------------------------------------------------------------
redis_group=root
[[ -n "$(gid_of redis)" ]] && redis_group=redis
put "$here/redis/redis.conf" /etc/redis/canopy.conf 640 root "$redis_group"
# The ACL file: one least-privilege Redis user per service, generated by
# `canopy acl` (passwords in /etc/canopy/redis-acl.credentials, 0600), and each
# service's REDIS_URL with its own user as a credential of that service only:
# /etc/canopy/credentials/<service>/REDIS_URL (0600, root). Without a built
# CLI: a starting file with the default user, reachable from this machine
# only (bind + protected-mode) — Redis refuses to start without one.
acl=/etc/redis/canopy-users.acl
cli="$app/dist/src/cli/main.js"
if [[ ! -e "$p$acl" ]]; then
  if [[ -f "$cli" ]]; then
    creds="$p/etc/canopy/redis-acl.credentials"
    CANOPY_DATA_DIR="$p/var/lib/canopy" "$node" "$cli" acl --format file --out "$p$acl" --credentials "$creds" 2>/dev/null
    chmod 600 "$creds"
    for s in "${services_all[@]}" cli; do
      cred="/etc/canopy/credentials/$s/REDIS_URL"
      if [[ ! -e "$p$cred" ]]; then
        pw="$(awk -F= -v u="canopy-$s" '$1==u {print substr($0, length(u) + 2)}' "$creds")"
        if [[ "$pw" =~ ^[A-Za-z0-9_-]+$ ]]; then
          url="redis://canopy-$s:$pw@127.0.0.1:6379"
        else # needs URL encoding: let canopy build it
          url="$(REDIS_URL=redis://127.0.0.1:6379 "$node" "$cli" acl --url-for "canopy-$s" --credentials "$creds" 2>/dev/null)"
        fi
        put_text "$cred" 600 <<<"$url"
      fi
    done
    say "generated $acl and each service's REDIS_URL credential (canopy acl)"
  else
    put_text "$acl" 640 <<<'user default on nopass ~* &* +@all'
    say "wrote a starting $acl: build Canopy and run canopy acl to replace it"
  fi
  changed=1
fi
set_meta "$p$acl" 640 "$([[ -n "$(uid_of redis)" ]] && echo redis || echo root)" "$redis_group"

# --- environment templates (never overwritten) -----------------------------------
put_once "$here/env/canopy.env.example" /etc/canopy/canopy.env 600
# an older canopy.env (never overwritten) may lack the relay bus, without which the automation refuses to start
grep -q '^CANOPY_I2C=' "$p/etc/canopy/canopy.env" ||
  say "warning: /etc/canopy/canopy.env sets no CANOPY_I2C: add CANOPY_I2C=1 (relay boards on /dev/i2c-1), or canopy automation refuses to start"
put_once "$here/env/can.env.example" /etc/canopy/can.env 644
if [[ -d "$app/config" ]]; then
  for f in "$app"/config/*; do
    [[ -f "$f" ]] && put_once "$f" "/etc/canopy/$(basename "$f")" 640 root canopy
  done
fi

# --- PostgreSQL / TimescaleDB (--postgres, --timescaledb: deploy/postgres) --------
[[ "${pg_port:-5432}" =~ ^[0-9]+$ ]] || { echo "install.sh: --pg-port must be a number" >&2; exit 2; }
[[ "${pg_memory_mb:-1}" =~ ^[1-9][0-9]*$ ]] || { echo "install.sh: --memory-mb must be a positive number" >&2; exit 2; }
# shellcheck source=postgres/install-postgres.sh
. "$here/postgres/install-postgres.sh"
[[ $timescaledb == 1 ]] && ts_install
[[ $postgres == 1 ]] && pg_install_all

# --- Grafana (--grafana installs it; provisioning whenever it is present: deploy/grafana)
# shellcheck source=grafana/install-grafana.sh
. "$here/grafana/install-grafana.sh"
if [[ $grafana == 1 ]]; then
  grafana_install
elif [[ -d "$p/etc/grafana" ]]; then
  grafana_provision
fi

# --- desktop monitors -------------------------------------------------------------
# The two terminal monitors for the Pi's desktop: menu launchers (Terminal=true)
# running /usr/local/lib/canopy/canopy-monitor, with --desktop or when a desktop
# is installed; with --autostart an XDG autostart entry that opens both at login.
# /etc/canopy/monitor.env (0640 root:canopy, never overwritten) gives them the
# read-only Redis user canopy-monitor; the desktop user reads it through the
# group canopy (--desktop-user NAME).
if [[ $desktop == auto ]]; then
  desktop=0
  [[ -d "$p/usr/share/xsessions" || -d "$p/usr/share/wayland-sessions" ]] && desktop=1
fi
if [[ $desktop == 1 ]]; then
  put "$here/desktop/canopy-monitor" /usr/local/lib/canopy/canopy-monitor 755
  put "$here/desktop/canopy-monitors" /usr/local/lib/canopy/canopy-monitors 755
  for m in can backend; do
    put "$here/desktop/canopy-monitor-$m.desktop" "/usr/share/applications/canopy-monitor-$m.desktop" 644
  done
  if [[ $autostart == 1 ]]; then
    put "$here/desktop/canopy-monitors-autostart.desktop" /etc/xdg/autostart/canopy-monitors.desktop 644
  fi
  menv=/etc/canopy/monitor.env
  if [[ ! -e "$p$menv" ]]; then
    murl=redis://127.0.0.1:6379
    mcreds="$p/etc/canopy/redis-acl.credentials"
    if [[ -r "$mcreds" ]]; then
      pw="$(awk -F= '$1=="canopy-monitor" {print substr($0, 16)}' "$mcreds")"
      if [[ "$pw" =~ ^[A-Za-z0-9_-]+$ ]]; then
        murl="redis://canopy-monitor:$pw@127.0.0.1:6379"
      elif [[ -n "$pw" && -f "$cli" ]]; then
        murl="$(REDIS_URL=redis://127.0.0.1:6379 "$node" "$cli" acl --url-for canopy-monitor --credentials "$mcreds" 2>/dev/null)"
      fi
    fi
    put_text "$menv" 640 <<EOF
# Read by /usr/local/lib/canopy/canopy-monitor (the desktop monitors).
# Readable by the group canopy: add the desktop user to it (install.sh --desktop-user NAME).
# REDIS_URL: the read-only Redis user canopy-monitor. With PostgreSQL, add
# DATABASE_URL (a read-only role is enough: canopy monitor can only reads can_messages).
CANOPY_DATA_DIR=/var/lib/canopy
REDIS_URL=$murl
# CANOPY_API_URL=http://127.0.0.1:8000
EOF
  fi
  set_meta "$p$menv" 640 root canopy
  if [[ -n "$desktop_user" ]]; then
    if [[ $live == 1 ]]; then
      if ! id -nG "$desktop_user" 2>/dev/null | tr ' ' '\n' | grep -qx canopy; then
        usermod -aG canopy "$desktop_user"
        say "added $desktop_user to the group canopy (log in again to use the monitors)"
        changed=1
      fi
    else
      say "--desktop-user ignored: root is $root (on the target: usermod -aG canopy $desktop_user)"
    fi
  fi
fi

# --- enable ---------------------------------------------------------------------
services=()
for u in "${units[@]}"; do
  case "$u" in canopy-*@.service|canopy-backup.service) ;; canopy-*.service) services+=("$u") ;; esac
done
if [[ $live == 1 && $enable == 1 ]]; then
  systemctl daemon-reload
  systemctl enable canopy.target canopy-backup.timer "${services[@]}" >/dev/null
  if [[ $changed == 1 ]]; then systemctl try-restart redis-server.service || true; fi
  [[ $start == 1 ]] && systemctl start canopy.target canopy-backup.timer
  say "enabled canopy.target and canopy-backup.timer"
elif [[ $live == 0 ]]; then
  say "root is $root: systemctl not called (on the target: systemctl daemon-reload && systemctl enable --now canopy.target canopy-backup.timer)"
fi

if [[ $changed == 0 ]]; then say "nothing to change"; else say "done"; fi
