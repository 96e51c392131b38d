# shellcheck shell=bash
# Helpers shared by the Docker scripts (setup.sh, run-dev.sh, run-prod.sh, scale.sh, stop.sh,
# test-scaling.sh). Source it; it defines functions and read-only paths, and runs nothing.
#
# Every compose call goes through `compose`, which always names the compose file and the
# repository's .env (compose would otherwise look for .env next to deploy/docker-compose.yml).

TASKIFY_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
readonly TASKIFY_ROOT
readonly COMPOSE_FILE="$TASKIFY_ROOT/deploy/docker-compose.yml"
readonly ENV_FILE="$TASKIFY_ROOT/.env"
# shellcheck disable=SC2034 # used by setup.sh
readonly ENV_EXAMPLE="$TASKIFY_ROOT/.env.example"

die() {
  printf 'error: %s\n' "$*" >&2
  exit 1
}

info() {
  printf '==> %s\n' "$*"
}

warn() {
  printf 'warning: %s\n' "$*" >&2
}

# Fails fast, with a message saying what to do, unless docker, the compose v2 plugin and a
# reachable daemon are all there.
require_docker() {
  command -v docker >/dev/null 2>&1 ||
    die "docker is not installed (https://docs.docker.com/engine/install/); these scripts need Docker with the compose plugin. Without Docker, use scripts/local-cluster.sh."
  docker compose version >/dev/null 2>&1 ||
    die "'docker compose' (the compose v2 plugin) is not available; install docker-compose-plugin. The old docker-compose v1 is not supported."
  local out
  if ! out=$(timeout 15 docker info --format '{{.ServerVersion}}' 2>&1); then
    die "the Docker daemon is not reachable (${out##*$'\n'}). Start it (e.g. 'sudo systemctl start docker'), or add your user to the 'docker' group."
  fi
}

require_env_file() {
  [[ -f $ENV_FILE ]] || die "$ENV_FILE does not exist; run scripts/setup.sh first (it writes .env from .env.example)."
}

# docker compose with this project's file and .env.
compose() {
  if [[ -f $ENV_FILE ]]; then
    docker compose -f "$COMPOSE_FILE" --env-file "$ENV_FILE" "$@"
  else
    docker compose -f "$COMPOSE_FILE" "$@"
  fi
}

# env_value KEY [DEFAULT]: the value of KEY in .env (the last assignment wins; surrounding
# quotes removed), or DEFAULT when it is absent or empty. .env is parsed, never sourced.
env_value() {
  local key=$1 default=${2-} value=""
  if [[ -f $ENV_FILE ]]; then
    value=$(awk -v key="$key" '
      /^[[:space:]]*#/ { next }
      {
        line = $0
        sub(/^[[:space:]]*(export[[:space:]]+)?/, "", line)
        if (index(line, key "=") == 1) { v = substr(line, length(key) + 2) }
      }
      END { print v }' "$ENV_FILE")
    value=${value%$'\r'}
    if [[ $value == \"*\" || $value == \'*\' ]]; then
      value=${value:1:${#value}-2}
    fi
  fi
  printf '%s' "${value:-$default}"
}

# The URL of nginx on this host, from HTTP_PORT.
http_base_url() {
  local port
  port=$(env_value HTTP_PORT 80)
  if [[ $port == 80 ]]; then
    printf 'http://localhost'
  else
    printf 'http://localhost:%s' "$port"
  fi
}

# Number of api replicas that are running and healthy.
healthy_api_replicas() {
  compose ps api --status running --format '{{.Health}}' 2>/dev/null | grep -c '^healthy$' || true
}

# Number of api containers, whatever their state.
api_replicas() {
  compose ps api --all --format '{{.Name}}' 2>/dev/null | grep -c . || true
}
