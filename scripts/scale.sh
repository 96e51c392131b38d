#!/usr/bin/env bash
# Scales the API to N replicas without restarting anything else (docs/operations.md#scripts).
#
#   scripts/scale.sh N
#
# Runs `docker compose up -d --scale api=N --no-recreate api`, then waits (at most 60 s) until N
# replicas are running and healthy, and lists them. nginx and Prometheus find the new set of
# replicas through Docker DNS, with no reload.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib/compose.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/compose.sh"

readonly WAIT_SECONDS=60

[[ $# -eq 1 && $1 =~ ^[0-9]{1,3}$ ]] || die "usage: scripts/scale.sh N (N >= 1)"
n=$((10#$1))
((n >= 1)) || die "usage: scripts/scale.sh N (N >= 1)"

require_docker
require_env_file

conns=$(env_value DB_MAX_OPEN_CONNS 10)
if [[ $conns =~ ^[0-9]+$ ]] && ((n * conns >= 200)); then
  die "$n replicas x DB_MAX_OPEN_CONNS=$conns would reach PostgreSQL's max_connections (200); lower DB_MAX_OPEN_CONNS in .env"
fi

info "scaling api to $n replicas"
compose up -d --no-recreate --scale "api=$n" api

info "waiting up to ${WAIT_SECONDS}s for $n healthy replicas"
deadline=$((SECONDS + WAIT_SECONDS))
while :; do
  healthy=$(healthy_api_replicas)
  total=$(api_replicas)
  if ((healthy == n && total == n)); then
    break
  fi
  if ((SECONDS >= deadline)); then
    compose ps api >&2 || true
    die "after ${WAIT_SECONDS}s: $healthy of $n replicas healthy ($total containers)"
  fi
  sleep 2
done

compose ps api
info "$n api replicas healthy"
