#!/usr/bin/env bash
# Installs the Debian packages Canopy needs, only those that are missing.
# Usage: bash scripts/install-deps.sh [run|test]
#   run  — what `canopy up` needs (redis-server)
#   test — also PostgreSQL, Chromium, can-utils, mosquitto, python3-redis/msgpack, systemd,
#          faketime (clock-step tests), python3-canmatrix (DBC differential tests),
#          strace (the worker's durable-commit test counts its fsyncs),
#          desktop-file-utils (desktop-file-validate checks the monitors' launchers)
set -euo pipefail
mode=${1:-run}
want=(redis-server)
if [ "$mode" = test ]; then
  want+=(postgresql chromium can-utils mosquitto python3-redis python3-msgpack systemd faketime python3-canmatrix strace desktop-file-utils)
fi
missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then exit 0; fi
echo "installing: ${missing[*]}"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# the Debian packages start system services we do not use; the tests start their own
for s in redis-server postgresql mosquitto; do
  $SUDO systemctl disable --now "$s" >/dev/null 2>&1 || true
done
