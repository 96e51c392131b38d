#!/usr/bin/env bash
# Runs PostgreSQL, Redis, the API and nginx in the foreground, without monitoring (docs/operations.md#scripts).
#
#   scripts/run-dev.sh [extra `docker compose up` options]
#
# Ctrl-C stops the containers (compose's own behaviour). Needs .env (scripts/setup.sh).
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib/compose.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/compose.sh"

require_docker
require_env_file

info "starting postgres, redis, api and nginx on $(http_base_url) (Ctrl-C to stop)"
compose up --build "$@" postgres redis api nginx
