#!/usr/bin/env bash
# A local Taskify cluster without Docker: N instances behind nginx (docs/operations.md#scripts). The scale-out,
# coherence and outage scenarios of docs/testing.md#i-scale-out-coherence-and-outages run against it.
#
#   scripts/local-cluster.sh start N [--redis URL | --no-redis] [--db URL]
#   scripts/local-cluster.sh stop
#   scripts/local-cluster.sh status
#   scripts/local-cluster.sh kill <i>         SIGKILL node i
#   scripts/local-cluster.sh restart <i>      stop node i gracefully (SIGTERM), start it again
#   scripts/local-cluster.sh redis-stop       stop the local redis-server (an outage)
#   scripts/local-cluster.sh redis-start      start it again
#
# start:
#   * node i (1..N) listens on 127.0.0.1:1808i (CLUSTER_PORT + i) with INSTANCE_ID=node<i>,
#     TRUSTED_PROXIES=127.0.0.1/32 and one JWT_SECRET shared by all (JWT_SECRET from the
#     environment, else a random one);
#   * one database for all: --db URL, else a fresh SQLite file (WAL mode) .cluster/taskify.db;
#   * Redis: --redis URL; else a local redis-server on 127.0.0.1:16379 when one is installed;
#     --no-redis runs without Redis;
#   * nginx on 127.0.0.1:18080 (CLUSTER_PORT) in front of the nodes with the shipped deploy/nginx/nginx.conf
#     (rendered by deploy/nginx/render-local.sh), as the current user, with its prefix, pid,
#     logs and temp folders under .cluster/nginx/. The upstream is a static list of the N local
#     ports (there is no Docker DNS to re-resolve here); everything else is the shipped file;
#   * all nodes start at once, then it waits (at most 30 s) until every /ready answers 200.
#   Other environment variables of Taskify (RATE_LIMIT_*, ADMIN_*, CACHE_*, JOB_*, LOG_*, …) are
#   passed to the nodes and remembered for `restart`, where the values set then take precedence.
#   Each start begins with an empty .cluster/ (a fresh SQLite database, new logs).
#
# redis-stop saves the dataset (SHUTDOWN SAVE) and redis-start loads it again, like a Redis that
# restarts with persistence: values cached before an outage are still there afterwards.
#
# Files: .cluster/node<i>.log and .pid, .cluster/nginx/{nginx.conf,logs/,temp/,nginx.pid},
# .cluster/redis/{redis.log,redis.pid,dump.rdb}, .cluster/cluster.env (the cluster's settings).
#
# Environment: TASKIFY_BIN (default target/release/taskify), NGINX_BIN (default: nginx from PATH,
# else /usr/sbin/nginx), REDIS_SERVER_BIN (default redis-server), CLUSTER_DIR (default .cluster),
# REAL_IP_FROM (optional CIDRs whose X-Forwarded-For nginx believes).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
readonly ROOT
RUN_DIR=${CLUSTER_DIR:-$ROOT/.cluster}
readonly RUN_DIR
readonly STATE_FILE="$RUN_DIR/cluster.env"
readonly NGINX_DIR="$RUN_DIR/nginx"
readonly REDIS_DIR="$RUN_DIR/redis"

# CLUSTER_PORT moves the whole cluster (nginx on it, node i on CLUSTER_PORT + i).
readonly NGINX_PORT=${CLUSTER_PORT:-18080}
readonly NODE_BASE_PORT=$NGINX_PORT # node i listens on NODE_BASE_PORT + i
readonly MAX_NODES=9
readonly LOCAL_REDIS_PORT=16379
readonly READY_TIMEOUT=30
# SHUTDOWN_DRAIN_DELAY (5 s) plus SHUTDOWN_TIMEOUT (30 s) plus the job stop and the audit flush.
readonly STOP_TIMEOUT=50

# The Taskify variables (docs/operations.md#configuration) that are passed through to the nodes and remembered for
# `restart`. HOST, PORT, INSTANCE_ID, TRUSTED_PROXIES, JWT_SECRET, DATABASE_URL and the Redis
# address are set by this script.
readonly PASSTHROUGH_RE='^(ENVIRONMENT|READ_TIMEOUT|WRITE_TIMEOUT|IDLE_TIMEOUT|REQUEST_TIMEOUT|SHUTDOWN_TIMEOUT|SHUTDOWN_DRAIN_DELAY|BODY_LIMIT_BYTES|LOG_LEVEL|LOG_FORMAT|METRICS_ENABLED|UI_ENABLED|DB_MAX_OPEN_CONNS|DB_MAX_IDLE_CONNS|DB_CONN_MAX_LIFETIME|DB_CONN_MAX_IDLE_TIME|DB_MIGRATE_ON_START|ACCESS_TOKEN_TTL|REFRESH_TOKEN_TTL|REFRESH_REUSE_GRACE|ARGON2_[A-Z_]+|LOGIN_[A-Z_]+|ADMIN_EMAIL|ADMIN_USERNAME|ADMIN_PASSWORD|IDEMPOTENCY_TTL|POLICY_FILE|AUDIT_[A-Z_]+|RATE_LIMIT_[A-Z_]+|CORS_[A-Z_]+|CACHE_[A-Z_0-9]+|JOB_[A-Z_]+|SINGLE_INSTANCE|REDIS_POOL_SIZE|REDIS_MIN_IDLE_CONNS|REDIS_MAX_RETRIES|REDIS_DIAL_TIMEOUT|REDIS_READ_TIMEOUT|REDIS_WRITE_TIMEOUT|RUST_LOG|RUST_BACKTRACE)$'

die() {
  printf 'local-cluster: error: %s\n' "$*" >&2
  exit 1
}

info() {
  printf 'local-cluster: %s\n' "$*"
}

warn() {
  printf 'local-cluster: warning: %s\n' "$*" >&2
}

usage() {
  cat >&2 <<'USAGE'
usage: scripts/local-cluster.sh start N [--redis URL | --no-redis] [--db URL]
       scripts/local-cluster.sh stop | status | kill <i> | restart <i> | redis-stop | redis-start
USAGE
  exit 2
}

# shellcheck source=lib/cluster-processes.sh
source "$ROOT/scripts/lib/cluster-processes.sh"

# --- commands --------------------------------------------------------------------------------

anything_running() {
  local f pid
  for f in "$RUN_DIR"/node*.pid; do
    [[ -e $f ]] || continue
    pid=$(read_pid "$f")
    [[ -n $pid ]] && pid_matches "$pid" taskify && return 0
  done
  pid=$(nginx_pid)
  [[ -n $pid ]] && pid_matches "$pid" nginx && return 0
  local_redis_running
}

cmd_start() {
  [[ $# -ge 1 && $1 =~ ^[0-9]+$ ]] || usage
  local n=$((10#$1))
  shift
  ((n >= 1 && n <= MAX_NODES)) || die "N must be between 1 and $MAX_NODES"
  local redis_mode=auto redis_url="" db_url=""
  while (($#)); do
    case $1 in
      --redis)
        [[ $# -ge 2 && -n $2 ]] || usage
        [[ $redis_mode == auto ]] || die "give only one of --redis and --no-redis"
        redis_mode=external
        redis_url=$2
        shift 2
        ;;
      --no-redis)
        [[ $redis_mode == auto ]] || die "give only one of --redis and --no-redis"
        redis_mode=none
        shift
        ;;
      --db)
        [[ $# -ge 2 && -n $2 ]] || usage
        db_url=$2
        shift 2
        ;;
      *) usage ;;
    esac
  done
  command -v curl >/dev/null 2>&1 || die "curl is required"
  command -v setsid >/dev/null 2>&1 || die "setsid is required (util-linux)"
  nginx_bin >/dev/null || die "nginx is not installed (apt-get install nginx)"

  if anything_running; then
    die "a cluster is already running in $RUN_DIR; run 'scripts/local-cluster.sh stop' first"
  fi
  local i
  for ((i = 1; i <= n; i++)); do
    port_open "$(node_port "$i")" && die "port $(node_port "$i") is already in use"
  done
  port_open "$NGINX_PORT" && die "port $NGINX_PORT is already in use"

  if [[ $redis_mode == auto ]]; then
    if command -v "${REDIS_SERVER_BIN:-redis-server}" >/dev/null 2>&1 && command -v redis-cli >/dev/null 2>&1; then
      redis_mode=local
    else
      warn "redis-server is not installed: running without Redis (per-instance caches and limits)"
      redis_mode=none
    fi
  fi
  if [[ $redis_mode == local ]]; then
    port_open "$LOCAL_REDIS_PORT" && die "port $LOCAL_REDIS_PORT is already in use (a redis-server from an earlier run?)"
    redis_url="redis://127.0.0.1:$LOCAL_REDIS_PORT/0"
  fi

  # A fresh run folder: no database, logs or pid files from an earlier run. Only a folder that
  # this script created (it holds cluster.env) or an empty one is ever emptied.
  mkdir -p "$RUN_DIR"
  if [[ -n $(find "$RUN_DIR" -mindepth 1 -maxdepth 1 -print -quit) && ! -f $STATE_FILE ]]; then
    die "$RUN_DIR is not empty and was not made by this script; remove it or set CLUSTER_DIR"
  fi
  find "$RUN_DIR" -mindepth 1 -delete
  [[ -n $db_url ]] || db_url="sqlite://$RUN_DIR/taskify.db"

  CLUSTER_N=$n
  CLUSTER_BIN=$(resolve_bin)
  CLUSTER_DB_URL=$db_url
  CLUSTER_REDIS_MODE=$redis_mode
  CLUSTER_REDIS_URL=$redis_url
  CLUSTER_JWT_SECRET=${JWT_SECRET:-$(random_secret)}
  CLUSTER_PASSTHROUGH=()
  save_state
  load_state

  if [[ $redis_mode == local ]]; then
    info "starting redis-server on 127.0.0.1:$LOCAL_REDIS_PORT"
    start_local_redis
  fi

  info "starting $n node(s) ($CLUSTER_BIN)"
  for ((i = 1; i <= n; i++)); do
    # In a subshell, so that a failure (its `die`) still stops what was started.
    if ! (start_node "$i"); then
      cmd_stop >/dev/null 2>&1 || true
      exit 1
    fi
  done
  write_nginx_conf "$n"
  info "starting nginx on 127.0.0.1:$NGINX_PORT"
  if ! start_nginx_checked; then
    cmd_stop >/dev/null 2>&1 || true
    exit 1
  fi

  local nodes=()
  for ((i = 1; i <= n; i++)); do nodes+=("$i"); done
  info "waiting up to ${READY_TIMEOUT}s for every /ready"
  if ! wait_ready "${nodes[@]}"; then
    warn "the cluster did not become ready; stopping it (logs stay in $RUN_DIR)"
    cmd_stop >/dev/null 2>&1 || true
    exit 1
  fi
  if [[ $(http_code "http://127.0.0.1:$NGINX_PORT/ready") != 200 ]]; then
    warn "nodes are ready but /ready through nginx is not 200; stopping (see $NGINX_DIR/logs/error.log)"
    cmd_stop >/dev/null 2>&1 || true
    exit 1
  fi

  printf '\nTaskify cluster ready: %d node(s) behind http://127.0.0.1:%d\n' "$n" "$NGINX_PORT"
  for ((i = 1; i <= n; i++)); do
    printf '  node%d  http://127.0.0.1:%d  pid %s  log %s\n' "$i" "$(node_port "$i")" "$(node_pid "$i")" "$RUN_DIR/node$i.log"
  done
  printf '  database  %s\n' "$(redact_url "$CLUSTER_DB_URL")"
  case $CLUSTER_REDIS_MODE in
    local) printf '  redis     %s (local redis-server, pid %s)\n' "$CLUSTER_REDIS_URL" "$(local_redis_pid)" ;;
    external) printf '  redis     %s\n' "$(redact_url "$CLUSTER_REDIS_URL")" ;;
    *) printf '  redis     disabled\n' ;;
  esac
  local line
  line=$(grep -h 'Initial admin password for' "$RUN_DIR"/node*.log 2>/dev/null | head -n 1 || true)
  [[ -z $line ]] || printf '  %s\n' "$line"
}

# start_nginx in a subshell, so its `die` does not skip the clean-up in cmd_start.
start_nginx_checked() {
  (start_nginx)
}

# A URL without its password.
redact_url() {
  sed -E 's#(://[^:/@]*):[^@/]*@#\1:***@#' <<<"$1"
}

cmd_stop() {
  [[ $# -eq 0 ]] || usage
  load_state || true
  if ! anything_running; then
    info "nothing is running in $RUN_DIR"
    return 0
  fi
  stop_nginx
  local nodes=() f i
  for f in "$RUN_DIR"/node*.pid; do
    [[ -e $f ]] || continue
    i=${f##*/node}
    nodes+=("${i%.pid}")
  done
  if ((${#nodes[@]})); then
    info "stopping node(s) ${nodes[*]} (SIGTERM, up to ${STOP_TIMEOUT}s)"
    stop_nodes TERM "${nodes[@]}"
  fi
  stop_local_redis nosave
  info "stopped (logs kept in $RUN_DIR)"
}

cmd_status() {
  [[ $# -eq 0 ]] || usage
  if ! load_state; then
    info "no cluster in $RUN_DIR"
    return 3
  fi
  local i pid state ready
  printf '%-6s %-8s %-6s %-8s %s\n' NODE PID PORT STATE READY
  for ((i = 1; i <= CLUSTER_N; i++)); do
    pid=$(node_pid "$i")
    if node_running "$i"; then
      state=running
      ready=$(http_code "http://127.0.0.1:$(node_port "$i")/ready")
    else
      state=stopped
      ready=-
      pid=-
    fi
    printf '%-6s %-8s %-6s %-8s %s\n' "node$i" "${pid:--}" "$(node_port "$i")" "$state" "$ready"
  done
  pid=$(nginx_pid)
  if [[ -n $pid ]] && pid_matches "$pid" nginx; then
    printf '%-6s %-8s %-6s %-8s %s\n' nginx "$pid" "$NGINX_PORT" running "$(http_code "http://127.0.0.1:$NGINX_PORT/nginx-health")"
  else
    printf '%-6s %-8s %-6s %-8s %s\n' nginx - "$NGINX_PORT" stopped -
  fi
  case $CLUSTER_REDIS_MODE in
    local)
      if local_redis_running; then
        printf '%-6s %-8s %-6s %-8s %s\n' redis "$(local_redis_pid)" "$LOCAL_REDIS_PORT" running "$(redis_cli ping 2>/dev/null || echo -)"
      else
        printf '%-6s %-8s %-6s %-8s %s\n' redis - "$LOCAL_REDIS_PORT" stopped -
      fi
      ;;
    external) printf 'redis: external %s\n' "$(redact_url "$CLUSTER_REDIS_URL")" ;;
    *) printf 'redis: disabled\n' ;;
  esac
  printf 'database: %s\n' "$(redact_url "$CLUSTER_DB_URL")"
}

# node_arg I: validates a node number against the running cluster.
node_arg() {
  [[ ${1:-} =~ ^[0-9]+$ ]] || usage
  load_state || die "no cluster in $RUN_DIR (run 'scripts/local-cluster.sh start N' first)"
  local i=$((10#$1))
  ((i >= 1 && i <= CLUSTER_N)) || die "node $i does not exist (the cluster has $CLUSTER_N node(s))"
  printf '%d' "$i"
}

cmd_kill() {
  [[ $# -eq 1 ]] || usage
  local i
  i=$(node_arg "$1")
  load_state
  node_running "$i" || die "node$i is not running"
  local pid
  pid=$(node_pid "$i")
  stop_nodes KILL "$i"
  info "node$i (pid $pid) killed with SIGKILL"
}

cmd_restart() {
  [[ $# -eq 1 ]] || usage
  local i
  i=$(node_arg "$1")
  load_state
  if node_running "$i"; then
    info "stopping node$i (SIGTERM, up to ${STOP_TIMEOUT}s)"
    stop_nodes TERM "$i"
  fi
  info "starting node$i"
  start_node "$i"
  wait_ready "$i" || die "node$i did not become ready"
  info "node$i ready on 127.0.0.1:$(node_port "$i") (pid $(node_pid "$i"))"
}

require_local_redis() {
  load_state || die "no cluster in $RUN_DIR (run 'scripts/local-cluster.sh start N' first)"
  case $CLUSTER_REDIS_MODE in
    local) ;;
    external) die "the cluster uses an external Redis ($(redact_url "$CLUSTER_REDIS_URL")); redis-stop and redis-start only control the local redis-server" ;;
    *) die "the cluster runs without Redis" ;;
  esac
}

cmd_redis_stop() {
  [[ $# -eq 0 ]] || usage
  require_local_redis
  local_redis_running || die "the local redis-server is not running"
  stop_local_redis save
  info "redis-server on 127.0.0.1:$LOCAL_REDIS_PORT stopped (dataset saved to $REDIS_DIR/dump.rdb)"
}

cmd_redis_start() {
  [[ $# -eq 0 ]] || usage
  require_local_redis
  start_local_redis
  info "redis-server on 127.0.0.1:$LOCAL_REDIS_PORT running (pid $(local_redis_pid))"
}

main() {
  (($#)) || usage
  local command=$1
  shift
  case $command in
    start) cmd_start "$@" ;;
    stop) cmd_stop "$@" ;;
    status) cmd_status "$@" ;;
    kill) cmd_kill "$@" ;;
    restart) cmd_restart "$@" ;;
    redis-stop) cmd_redis_stop "$@" ;;
    redis-start) cmd_redis_start "$@" ;;
    -h | --help | help) usage ;;
    *) usage ;;
  esac
}

main "$@"
