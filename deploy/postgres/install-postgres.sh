# deploy/postgres/install-postgres.sh: the PostgreSQL / TimescaleDB part of
# deploy/install.sh (sourced by it: uses its variables p, root, live, here,
# node and its helpers say, put, put_text, set_meta). Functions only.
#
#   pg_install_all   --postgres: tuning (conf.d), roles, database and grants
#                    (setup.sql), passwords and each service's DATABASE_URL
#   ts_install       --timescaledb: the vendor's apt repository when reachable,
#                    else a clear message and plain PostgreSQL (rollup tables)

# services that open the store (DATABASE_URL): each gets the credential
pg_services=(scanner worker api automation alerts backup cli)
pg_creds=/etc/canopy/postgres.credentials
pg_port="${pg_port:-5432}"
pg_admin="${pg_admin:-}"
ts_key_url="${CANOPY_TIMESCALE_KEY_URL:-https://packagecloud.io/timescale/timescaledb/gpgkey}"

# a random password of letters and digits (safe in URLs, psql and env files)
pg_random_password() {
  head -c 48 /dev/urandom | base64 -w0 | tr -dc 'A-Za-z0-9' | cut -c1-32
}

# pg_password ROLE: sets pg_pw to the role's password from $pg_creds, generated (and stored) when absent
pg_password() {
  local role="$1" f="$p$pg_creds"
  pg_pw="$(awk -F= -v u="$role" '$1==u {print substr($0, length(u) + 2)}' "$f" 2>/dev/null || true)"
  if [[ -z "$pg_pw" ]]; then
    pg_pw="$(pg_random_password)"
    [[ ${#pg_pw} -ge 24 ]] || { echo "install.sh: could not generate a password" >&2; exit 1; }
    (umask 077; echo "$role=$pg_pw" >>"$f")
    say "generated the PostgreSQL password of $role (in $pg_creds)"
    changed=1
  fi
  set_meta "$f" 600
}

# the newest PostgreSQL version with a Debian cluster config (/etc/postgresql/<ver>/main)
pg_version() {
  local v
  v="$(for d in "$p"/etc/postgresql/*/main; do [[ -d "$d" ]] && basename "$(dirname "$d")"; done | sort -V | tail -n1)"
  [[ -n "$v" ]] && echo "$v"
}

# pg_tuning_conf MEM_MB CORES TIMESCALE(0|1) → a conf.d file sized for the machine
pg_tuning_conf() {
  local mem="$1" cores="$2" ts="$3" sb ecs wm mwm workers
  sb=$((mem / 4)); ((sb > 2048)) && sb=2048; ((sb < 32)) && sb=32
  ecs=$((mem / 2)); ((ecs < 64)) && ecs=64
  wm=$((mem / 256)); ((wm < 4)) && wm=4; ((wm > 64)) && wm=64
  mwm=$((mem / 16)); ((mwm < 32)) && mwm=32; ((mwm > 512)) && mwm=512
  cat <<CONF
# Installed by deploy/install.sh --postgres for a machine with ${mem} MB of RAM and
# ${cores} cores; rewritten on every run. Put your own changes in a file that
# sorts after this one (e.g. conf.d/90-local.conf): the last setting wins.
# Memory: shared_buffers 25 % of RAM (at most 2 GB), the OS cache estimate 50 %
# (Redis, Grafana and the services share the machine), work_mem per sort.
shared_buffers = ${sb}MB
effective_cache_size = ${ecs}MB
work_mem = ${wm}MB
maintenance_work_mem = ${mwm}MB
max_connections = 100
# WAL on an SD card: fewer, spread-out checkpoints and compressed full-page
# images mean fewer writes. Commits stay synchronous: a reading the worker
# acknowledged is on disk (nothing accepted is lost on a power cut).
wal_compression = on
wal_buffers = 16MB
checkpoint_timeout = 15min
checkpoint_completion_target = 0.9
max_wal_size = 1GB
min_wal_size = 80MB
synchronous_commit = on
# flash storage: random reads cost little more than sequential ones
random_page_cost = 1.1
effective_io_concurrency = 2
CONF
  if [[ "$ts" == 1 ]]; then
    workers=$((cores + 11))
    cat <<CONF
# TimescaleDB: loaded at start; background workers for the continuous aggregates,
# compression and retention policies.
shared_preload_libraries = 'timescaledb'
timescaledb.max_background_workers = 8
max_worker_processes = ${workers}
max_parallel_workers = ${cores}
timescaledb.telemetry_level = off
CONF
  fi
}

pg_mem_mb() {
  if [[ -n "${pg_memory_mb:-}" ]]; then echo "$pg_memory_mb"; return; fi
  awk '/^MemTotal:/ {print int($2 / 1024)}' /proc/meminfo
}

# is TimescaleDB installed for PostgreSQL VERSION (in the target tree)?
ts_present() { compgen -G "$p/usr/lib/postgresql/$1/lib/timescaledb*.so" >/dev/null; }

# runs psql as the superuser: --pg-admin CONNINFO, else the postgres OS user over the local socket
pg_psql() {
  if [[ -n "$pg_admin" ]]; then
    psql "$pg_admin" -X -q -v ON_ERROR_STOP=1 "$@"
  else
    (cd / && runuser -u postgres -- psql -X -q -v ON_ERROR_STOP=1 "$@")
  fi
}

pg_verifier() { printf '%s' "$1" | "$node" "$here/postgres/scram-verifier.mjs"; }

# runs setup.sql with the roles' verifiers on stdin (never on a command line)
pg_run_setup() {
  local cv rv
  cv="$(pg_verifier "$1")"; rv="$(pg_verifier "$2")"
  { printf "\\\\set canopy_verifier '%s'\n\\\\set reader_verifier '%s'\n" "$cv" "$rv"; cat "$here/postgres/setup.sql"; } | pg_psql -f -
}

pg_install_all() {
  local ver="" mem cores ts=0 cw rw s url before conf_changed
  if [[ $live == 1 ]] && ! pg_version >/dev/null; then
    say "PostgreSQL is not installed: apt-get install postgresql"
    DEBIAN_FRONTEND=noninteractive apt-get install -y postgresql
  fi
  if ver="$(pg_version)"; then
    mem="$(pg_mem_mb)"; cores="$(nproc)"
    ts_present "$ver" && ts=1
    before=$changed; changed=0
    put_text "/etc/postgresql/$ver/main/conf.d/50-canopy.conf" 644 <<<"$(pg_tuning_conf "$mem" "$cores" "$ts")"
    conf_changed=$changed; changed=$((changed | before))
    if [[ $live == 1 && $conf_changed == 1 ]]; then
      systemctl restart "postgresql@$ver-main.service" 2>/dev/null || systemctl restart postgresql.service
      say "restarted PostgreSQL $ver (memory settings take effect at start)"
    fi
  else
    say "PostgreSQL: no cluster configuration under $p/etc/postgresql/<version>/main: tuning not written (install the postgresql package first, or --packages)"
  fi
  pg_password canopy; cw="$pg_pw"
  pg_password grafana_reader; rw="$pg_pw"
  for s in "${pg_services[@]}"; do
    url="postgres://canopy:$cw@127.0.0.1:$pg_port/cea_sensors"
    if [[ ! -e "$p/etc/canopy/credentials/$s/DATABASE_URL" ]]; then
      put_text "/etc/canopy/credentials/$s/DATABASE_URL" 600 <<<"$url"
    fi
  done
  if [[ -n "$pg_admin" || $live == 1 ]]; then
    pg_run_setup "$cw" "$rw"
    say "PostgreSQL: database cea_sensors, roles canopy and grafana_reader and their grants are in place (setup.sql)"
  else
    say "PostgreSQL: root is $root: setup.sql not run (on the target: install.sh --postgres, or --pg-admin CONNINFO)"
  fi
}

# ts_probe: is the vendor's apt repository reachable? (its signing key downloads)
ts_probe() { curl -fsSL --max-time 15 -o "$1" "$ts_key_url" 2>/dev/null && [[ -s "$1" ]]; }

ts_fallback() {
  say "TimescaleDB: $1"
  say "TimescaleDB: continuing with plain PostgreSQL: the store keeps its own rollup tables (readings_1m, readings_1h) and every dashboard works; run install.sh --timescaledb again when the repository is reachable"
}

# --timescaledb: the timescaledb-2 package for the cluster's PostgreSQL version
ts_install() {
  local ver arch id codename key
  ver="$(pg_version || true)"
  if [[ -n "$ver" ]] && ts_present "$ver"; then
    say "TimescaleDB is installed for PostgreSQL $ver"
    return 0
  fi
  key="$(mktemp)"
  if ! command -v curl >/dev/null; then
    ts_fallback "curl is missing, so the vendor's apt repository cannot be checked"
  elif ! ts_probe "$key"; then
    ts_fallback "the vendor's apt repository ($ts_key_url) is not reachable (no network?): not installed"
  elif [[ $live == 0 ]]; then
    say "TimescaleDB: the vendor's apt repository is reachable, but root is $root: packages are installed on the target only (install.sh --timescaledb there)"
  else
    arch="$(dpkg --print-architecture)"
    id="$(. /etc/os-release && echo "$ID")"; codename="$(. /etc/os-release && echo "${VERSION_CODENAME:-}")"
    [[ "$id" == raspbian ]] && id=debian
    if [[ "$arch" != amd64 && "$arch" != arm64 ]]; then
      ts_fallback "the vendor publishes no packages for $arch (a 64-bit OS is needed): not installed"
    elif [[ "$id" != debian && "$id" != ubuntu ]] || [[ -z "$ver" || -z "$codename" ]]; then
      ts_fallback "unsupported system ($id $codename, PostgreSQL ${ver:-missing}): not installed"
    else
      gpg --dearmor --yes -o /usr/share/keyrings/timescaledb.gpg "$key"
      echo "deb [signed-by=/usr/share/keyrings/timescaledb.gpg] https://packagecloud.io/timescale/timescaledb/$id/ $codename main" \
        >/etc/apt/sources.list.d/timescaledb.list
      if apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y "timescaledb-2-postgresql-$ver"; then
        say "TimescaleDB: installed timescaledb-2-postgresql-$ver from the vendor's repository"
        changed=1
      else
        ts_fallback "apt-get could not install timescaledb-2-postgresql-$ver"
      fi
    fi
  fi
  rm -f "$key"
}
