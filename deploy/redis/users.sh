#!/bin/sh
# deploy/redis/users.sh OUT — writes the Redis ACL file of the compose
# deployment to OUT: every user its services log in as, with only the
# SHA-256 of each password in the file (Redis' `#<hash>` form).
#   user canopy  — `canopy up` and every service it supervises (REDIS_PASSWORD)
#   user default — off: no anonymous access
# Run by the redis service of compose.yaml before redis-server starts;
# REDIS_PASSWORD comes from deploy/.env.
set -eu
out="${1:?usage: users.sh OUT}"
: "${REDIS_PASSWORD:?REDIS_PASSWORD is not set (deploy/.env)}"
case "$REDIS_PASSWORD" in
  change-me|'') echo "users.sh: set a real REDIS_PASSWORD in deploy/.env" >&2; exit 1 ;;
esac
umask 077
hash="$(printf '%s' "$REDIS_PASSWORD" | sha256sum | cut -d' ' -f1)"
tmp="$out.tmp.$$"
{
  echo "user default off"
  echo "user canopy on #$hash ~* &* +@all -flushall -flushdb -debug -shutdown -module"
} >"$tmp"
# redis-server runs as the image's redis user
chown redis:redis "$tmp" 2>/dev/null || true
mv -f "$tmp" "$out"
