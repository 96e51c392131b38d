#!/usr/bin/env bash
# Starts every service detached and prints the URLs (docs/operations.md#scripts).
#
#   scripts/run-prod.sh
#
# Requires .env with a JWT_SECRET of at least 32 characters, a DB_PASSWORD and a
# GRAFANA_ADMIN_PASSWORD (scripts/setup.sh writes all three).
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib/compose.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/compose.sh"

[[ $# -eq 0 ]] || die "usage: scripts/run-prod.sh (no arguments)"

require_docker
require_env_file

secret=$(env_value JWT_SECRET)
((${#secret} >= 32)) ||
  die "JWT_SECRET in .env is missing or shorter than 32 characters (delete .env and run scripts/setup.sh, or set one)"
[[ -n $(env_value DB_PASSWORD) ]] || die "DB_PASSWORD is not set in .env"
[[ -n $(env_value GRAFANA_ADMIN_PASSWORD) ]] ||
  die "GRAFANA_ADMIN_PASSWORD is not set in .env; refusing to start Grafana without a password (scripts/setup.sh writes a random one into a new .env)"

info "building and starting every service"
compose up -d --build

base=$(http_base_url)
grafana_port=$(env_value GRAFANA_PORT 3001)
cat <<URLS

Taskify is starting ($(env_value API_REPLICAS 3) API replicas):
  Application   $base/
  API           $base/api/v1
  Health        $base/health
  Grafana       http://localhost:$grafana_port/  (user $(env_value GRAFANA_ADMIN_USER admin), password in .env)
  Prometheus    http://localhost:9090/

  Status:       docker compose -f deploy/docker-compose.yml --env-file .env ps
  Logs:         docker compose -f deploy/docker-compose.yml --env-file .env logs -f api
  Scale:        scripts/scale.sh N
  Stop:         scripts/stop.sh
URLS
if [[ -z $(env_value ADMIN_PASSWORD) ]]; then
  printf '\n  The first admin (%s) gets a random password, printed once:\n' "$(env_value ADMIN_EMAIL admin@taskify.local)"
  printf "    docker compose -f deploy/docker-compose.yml --env-file .env logs api | grep 'Initial admin password'\n"
fi
