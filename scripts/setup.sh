#!/usr/bin/env bash
# Prepares a Docker host for Taskify (docs/operations.md#scripts).
#
#   scripts/setup.sh
#
# 1. Checks docker, the compose v2 plugin and that the daemon answers.
# 2. When .env is missing, writes it from .env.example with a fresh 48-byte JWT_SECRET, random
#    DB_PASSWORD and GRAFANA_ADMIN_PASSWORD, and free host ports (PostgreSQL 5432, else 5433;
#    Redis 6379, else 6380; HTTP 80, else 8080; Grafana stays on 3001). An existing .env is
#    never overwritten.
# 3. Builds the images (docker compose build).
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib/compose.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/compose.sh"

# True when something listens on the TCP port on this host.
port_in_use() {
  local port=$1
  if command -v ss >/dev/null 2>&1; then
    ss -Hltn "sport = :$port" 2>/dev/null | grep -q .
  else
    # shellcheck disable=SC2016 # $0 is expanded by the inner bash.
    timeout 2 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$0"' "$port" 2>/dev/null
  fi
}

# pick_port NAME PREFERRED ALTERNATIVE: the preferred port when free, else the alternative, else
# the next free port after it.
pick_port() {
  local name=$1 preferred=$2 alternative=$3 port
  if ! port_in_use "$preferred"; then
    printf '%s' "$preferred"
    return
  fi
  for ((port = alternative; port < alternative + 20; port++)); do
    if ! port_in_use "$port"; then
      warn "port $preferred is in use; $name will use $port"
      printf '%s' "$port"
      return
    fi
  done
  die "no free port for $name between $alternative and $((alternative + 19))"
}

# random_token BYTES: BYTES random bytes as base64url without padding.
random_token() {
  head -c "$1" /dev/urandom | base64 | tr -d '\n=' | tr '+/' '-_'
}

# random_password: 32 letters and digits (safe inside a URL and a YAML file).
random_password() {
  local out=""
  while ((${#out} < 32)); do
    out+=$(head -c 64 /dev/urandom | base64 | tr -dc 'A-Za-z0-9')
  done
  printf '%s' "${out:0:32}"
}

# set_var FILE KEY VALUE: replaces the line KEY=… (or appends it).
set_var() {
  local file=$1 key=$2 value=$3 tmp
  tmp=$(mktemp "$file.XXXXXX")
  awk -v key="$key" -v value="$value" '
    index($0, key "=") == 1 { print key "=" value; done = 1; next }
    { print }
    END { if (!done) print key "=" value }' "$file" >"$tmp"
  mv "$tmp" "$file"
}

write_env() {
  [[ -f $ENV_EXAMPLE ]] || die "$ENV_EXAMPLE is missing"
  local tmp
  tmp=$(mktemp "$ENV_FILE.XXXXXX")
  chmod 600 "$tmp"
  cp "$ENV_EXAMPLE" "$tmp"
  set_var "$tmp" JWT_SECRET "$(random_token 48)"
  set_var "$tmp" DB_PASSWORD "$(random_password)"
  set_var "$tmp" GRAFANA_ADMIN_PASSWORD "$(random_password)"
  set_var "$tmp" POSTGRES_PORT "$(pick_port PostgreSQL 5432 5433)"
  set_var "$tmp" REDIS_PORT "$(pick_port Redis 6379 6380)"
  set_var "$tmp" HTTP_PORT "$(pick_port HTTP 80 8080)"
  set_var "$tmp" GRAFANA_PORT 3001
  if port_in_use 3001; then
    warn "port 3001 is in use; Grafana will not be able to bind it (change GRAFANA_PORT in .env)"
  fi
  # Never replace a .env that appeared meanwhile.
  if ! ln "$tmp" "$ENV_FILE" 2>/dev/null; then
    rm -f "$tmp"
    die "$ENV_FILE appeared while setup was running; not overwriting it"
  fi
  rm -f "$tmp"
}

main() {
  [[ $# -eq 0 ]] || die "usage: scripts/setup.sh (no arguments)"

  info "checking Docker"
  require_docker
  docker --version
  docker compose version

  if [[ -f $ENV_FILE ]]; then
    info ".env exists; leaving it unchanged"
  else
    info "writing .env from .env.example (fresh secrets, free ports)"
    write_env
    printf '    JWT_SECRET, DB_PASSWORD and GRAFANA_ADMIN_PASSWORD generated; ports: HTTP %s, PostgreSQL %s, Redis %s, Grafana %s\n' \
      "$(env_value HTTP_PORT)" "$(env_value POSTGRES_PORT)" "$(env_value REDIS_PORT)" "$(env_value GRAFANA_PORT)"
  fi

  info "building the images"
  compose build

  info "done. Next: scripts/run-dev.sh (foreground, no monitoring) or scripts/run-prod.sh"
}

main "$@"
