#!/usr/bin/env bash
# Throughput through nginx with 1, 2 and 3 replicas on this machine (BENCHMARKS.md, section 5).
#
#   scripts/bench-cluster.sh [duration]        default 15s per run
#
# For N in 1 2 3: scripts/local-cluster.sh start N on a fresh PostgreSQL database
# (taskify_bench_cluster) with its local redis-server, rate limits off and LOG_LEVEL=warn; then
# wrk -t2 -c32 --latency on GET /api/v1/tasks/{id} (cached) and GET /live, through nginx on
# 127.0.0.1:28080 (CLUSTER_PORT). With N=1 the same two runs also go to the replica directly, to show what nginx
# costs. Needs wrk, nginx, redis-server and PostgreSQL on 127.0.0.1:5432 (user postgres, trust).
# Everything is on loopback and stops at the end.
set -euo pipefail
cd "$(dirname "$0")/.."

duration=${1:-15s}
pg=${BENCH_PG:-postgres://postgres@127.0.0.1:5432}
db=taskify_bench_cluster
# Ports of the cluster: nginx on CLUSTER_PORT, replica i on CLUSTER_PORT + i.
export CLUSTER_PORT=${CLUSTER_PORT:-28080}
entry=http://127.0.0.1:$CLUSTER_PORT
json='Content-Type: application/json'

command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install wrk)" >&2; exit 1; }
# TASKIFY_BIN (read by local-cluster.sh) names another binary; otherwise the release build.
[[ -n ${TASKIFY_BIN:-} ]] || cargo build --release -p taskify-server --bin taskify >/dev/null
trap 'scripts/local-cluster.sh stop >/dev/null 2>&1 || true' EXIT

run() {
  local label=$1
  shift
  printf '%-44s ' "$label"
  wrk -t2 -c32 -d"$duration" --latency "$@" |
    awk '/Requests\/sec/ {rps=$2} /^ +50%/ {p50=$2} /^ +99%/ {p99=$2} /Non-2xx|Socket errors/ {err=err " [" $0 "]"}
         END {printf "%10s req/s  p50 %8s  p99 %8s%s\n", rps, p50, p99, err}'
}

for n in 1 2 3; do
  psql "$pg/postgres" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "CREATE DATABASE $db" >/dev/null
  RATE_LIMIT_ENABLED=false LOG_LEVEL=warn ADMIN_PASSWORD='Admin@12345' \
    scripts/local-cluster.sh start "$n" --db "$pg/$db" >/dev/null
  curl -sf -XPOST "$entry/api/v1/auth/register" -H "$json" \
    -d '{"username":"bench","email":"bench@example.com","password":"Bench@12345","first_name":"B","last_name":"Ench"}' >/dev/null
  TOKEN=$(curl -sf -XPOST "$entry/api/v1/auth/login" -H "$json" -d '{"email":"bench@example.com","password":"Bench@12345"}' |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
  export TOKEN
  ID=$(curl -sf -XPOST "$entry/api/v1/tasks" -H "$json" -H "Authorization: Bearer $TOKEN" -d '{"title":"read me"}' |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
  for _ in $(seq 1 $((n * 3))); do
    curl -sf "$entry/api/v1/tasks/$ID" -H "Authorization: Bearer $TOKEN" >/dev/null
  done
  run "$n replica(s), nginx: GET /api/v1/tasks/{id}" -s scripts/bench/get_task.lua "$entry/api/v1/tasks/$ID"
  run "$n replica(s), nginx: GET /live" "$entry/live"
  if ((n == 1)); then
    run "1 replica, direct: GET /api/v1/tasks/{id}" -s scripts/bench/get_task.lua "http://127.0.0.1:$((CLUSTER_PORT + 1))/api/v1/tasks/$ID"
    run "1 replica, direct: GET /live" "http://127.0.0.1:$((CLUSTER_PORT + 1))/live"
  fi
  scripts/local-cluster.sh stop >/dev/null
done
psql "$pg/postgres" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null
