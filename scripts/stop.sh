#!/usr/bin/env bash
# Stops and removes the containers and the network (docs/operations.md#scripts). The volumes (database, Redis,
# Prometheus and Grafana data) are kept; add -v to delete them too.
#
#   scripts/stop.sh [extra `docker compose down` options, e.g. -v]
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib/compose.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/compose.sh"

require_docker
info "stopping Taskify"
compose down "$@"
