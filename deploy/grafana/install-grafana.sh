# deploy/grafana/install-grafana.sh: the Grafana part of deploy/install.sh
# (sourced by it: uses its variables p, root, live, here and its helpers say,
# put, put_once, put_text, set_meta, gid_of). Functions only.
#
#   grafana_install    --grafana: the package from Grafana's apt repository when
#                      reachable (clear message otherwise); then grafana_provision
#                      and, on a live system, enable and start grafana-server
#   grafana_provision  whenever Grafana is present (/etc/grafana): data source,
#                      dashboards, alert rules, the admin password (a generated
#                      secret, 0600) and the systemd drop-in that passes it

grafana_key_url="${CANOPY_GRAFANA_KEY_URL:-https://apt.grafana.com/gpg.key}"
grafana_admin_file=/etc/canopy/grafana-admin.password
grafana_admin_new=0

grafana_fallback() {
  say "Grafana: $1"
  say "Grafana: not installed; the Canopy dashboard (canopy api) works without it; run install.sh --grafana again when the repository is reachable"
}

grafana_install() {
  local key
  if [[ -d "$p/etc/grafana" ]] || [[ $live == 1 && -x /usr/sbin/grafana-server ]]; then
    say "Grafana is installed"
  else
    key="$(mktemp)"
    if ! command -v curl >/dev/null; then
      grafana_fallback "curl is missing, so Grafana's apt repository cannot be checked"
    elif ! curl -fsSL --max-time 15 -o "$key" "$grafana_key_url" 2>/dev/null || [[ ! -s "$key" ]]; then
      grafana_fallback "Grafana's apt repository ($grafana_key_url) is not reachable (no network?)"
    elif [[ $live == 0 ]]; then
      say "Grafana: the apt repository is reachable, but root is $root: packages are installed on the target only (install.sh --grafana there)"
    else
      gpg --dearmor --yes -o /usr/share/keyrings/grafana.gpg "$key"
      echo "deb [signed-by=/usr/share/keyrings/grafana.gpg] https://apt.grafana.com stable main" >/etc/apt/sources.list.d/grafana.list
      if apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y grafana; then
        say "Grafana: installed from its apt repository"
        changed=1
      else
        grafana_fallback "apt-get could not install grafana"
      fi
    fi
    rm -f "$key"
  fi
  [[ -d "$p/etc/grafana" ]] || return 0
  grafana_provision
  if [[ $live == 1 ]]; then
    systemctl daemon-reload
    systemctl enable grafana-server.service >/dev/null
    if [[ $grafana_admin_new == 1 && -e /var/lib/grafana/grafana.db ]]; then
      # Grafana takes the admin password from the environment only when it creates its
      # database: set it in the existing one, with the server stopped, as Grafana's user
      systemctl stop grafana-server.service
      if runuser -u grafana -- grafana-cli --homepath /usr/share/grafana --config /etc/grafana/grafana.ini \
        admin reset-admin-password --password-from-stdin <"$grafana_admin_file" >/dev/null; then
        say "Grafana: set the admin password of the existing installation"
      else
        say "warning: Grafana: could not set the admin password of the existing installation: grafana-cli admin reset-admin-password"
      fi
    fi
    systemctl restart grafana-server.service
    say "Grafana: enabled and started grafana-server (http://127.0.0.1:3000, user admin, password in $grafana_admin_file)"
  fi
}

# grafana.env with the grafana_reader password of --postgres (template's placeholder replaced)
grafana_env() {
  local f="$p/etc/canopy/grafana.env" pw tmp
  pw="$(awk -F= '$1=="grafana_reader" {print substr($0, 16)}' "$p${pg_creds:-/etc/canopy/postgres.credentials}" 2>/dev/null || true)"
  if [[ -n "$pw" ]] && { [[ ! -e "$f" ]] || grep -qx 'CANOPY_PG_PASSWORD=change-me' "$f"; }; then
    tmp="$(mktemp)"
    sed "s/^CANOPY_PG_PASSWORD=.*/CANOPY_PG_PASSWORD=$pw/" "$here/env/grafana.env.example" >"$tmp"
    put "$tmp" /etc/canopy/grafana.env 600
    rm -f "$tmp"
  else
    put_once "$here/env/grafana.env.example" /etc/canopy/grafana.env 600
    grep -qx 'CANOPY_PG_PASSWORD=change-me' "$f" &&
      say "warning: /etc/canopy/grafana.env still has CANOPY_PG_PASSWORD=change-me: run install.sh --postgres (or put the grafana_reader password there)"
  fi
  return 0
}

grafana_provision() {
  local ggroup=root pw
  [[ -n "$(gid_of grafana)" ]] && ggroup=grafana
  grafana_env
  put "$here/grafana/provisioning/datasources/canopy.yaml" /etc/grafana/provisioning/datasources/canopy.yaml 640 root "$ggroup"
  put "$here/grafana/provisioning/dashboards/canopy.yaml" /etc/grafana/provisioning/dashboards/canopy.yaml 644
  put "$here/grafana/provisioning/alerting/canopy.yaml" /etc/grafana/provisioning/alerting/canopy.yaml 644
  for f in "$here"/grafana/dashboards/*.json; do
    put "$f" "/var/lib/grafana/dashboards/canopy/$(basename "$f")" 644
  done
  # the admin password: generated once, root only; systemd hands it to Grafana as a credential
  if [[ ! -s "$p$grafana_admin_file" ]]; then
    pw="$(head -c 48 /dev/urandom | base64 -w0 | tr -dc 'A-Za-z0-9' | cut -c1-24)"
    [[ ${#pw} -ge 20 ]] || { echo "install.sh: could not generate a password" >&2; exit 1; }
    (umask 077; printf '%s' "$pw" >"$p$grafana_admin_file")
    say "generated Grafana's admin password (in $grafana_admin_file)"
    grafana_admin_new=1
    changed=1
  fi
  set_meta "$p$grafana_admin_file" 600
  put_text /etc/systemd/system/grafana-server.service.d/canopy.conf 644 <<EOF2
# Installed by deploy/install.sh: Grafana for Canopy.
[Unit]
After=postgresql.service
[Service]
# the admin password, a credential read from a root-only file (Grafana reads *__FILE variables)
LoadCredential=admin_password:$grafana_admin_file
Environment=GF_SECURITY_ADMIN_USER=admin
Environment=GF_SECURITY_ADMIN_PASSWORD__FILE=%d/admin_password
Environment=GF_USERS_ALLOW_SIGN_UP=false
Environment=GF_AUTH_ANONYMOUS_ENABLED=false
Environment=GF_ANALYTICS_REPORTING_ENABLED=false
# this machine only: other machines through a TLS reverse proxy (docs/security.md);
# set GF_SERVER_HTTP_ADDR in /etc/canopy/grafana.env to change it (that file wins)
Environment=GF_SERVER_HTTP_ADDR=127.0.0.1
# the data source's connection and the grafana_reader password
EnvironmentFile=-/etc/canopy/grafana.env
EOF2
}
