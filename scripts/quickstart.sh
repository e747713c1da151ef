#!/usr/bin/env bash
# The quick start, first run and every later one: installs only what is missing, then starts Canopy.
#   1. the Debian packages canopy up needs (scripts/install-deps.sh run: only the missing ones);
#   2. npm ci, only when node_modules was not installed from this package-lock.json
#      (a stamp of the lock file's SHA-256 in node_modules/.canopy-lock.sha256);
#   3. npm start (build, then canopy up).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh run
stamp=node_modules/.canopy-lock.sha256
want=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ -d node_modules ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  echo "node_modules is current (package-lock.json unchanged): skipping npm ci"
else
  npm ci
  echo "$want" >"$stamp"
fi
exec npm start
