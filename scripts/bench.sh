#!/usr/bin/env bash
# Bounded load test of a release build on loopback (see BENCHMARKS.md).
#
#   scripts/bench.sh [duration]        default duration 20s per scenario
#
# Needs: wrk (apt-get install wrk), PostgreSQL on 127.0.0.1:5432 (user postgres, trust auth).
# It creates the database taskify_bench (dropped and recreated on each run), starts one
# release instance on 127.0.0.1:18990 with rate limits off and warn-level logs, creates a user
# and a task, then runs wrk against GET /tasks/{id} and POST /tasks, and stops the instance.
set -euo pipefail
cd "$(dirname "$0")/.."

duration=${1:-20s}
port=18990
base="http://127.0.0.1:$port"
db=taskify_bench
pg=${BENCH_PG:-postgres://postgres@127.0.0.1:5432}

command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install wrk)" >&2; exit 1; }
cargo build --release -p taskify-server >/dev/null

psql "$pg/postgres" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "CREATE DATABASE $db" >/dev/null
work=$(mktemp -d)
DATABASE_URL="$pg/$db" PORT=$port LOG_LEVEL=warn RATE_LIMIT_ENABLED=false \
  ADMIN_PASSWORD='Admin@12345' JWT_SECRET='benchmark-secret-benchmark-secret-0123' \
  ./target/release/taskify >"$work/out.log" 2>"$work/err.log" &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$work"' EXIT

for _ in $(seq 1 100); do
  curl -sf "$base/ready" >/dev/null && break
  sleep 0.2
done
curl -sf "$base/ready" >/dev/null || { echo "taskify did not become ready" >&2; cat "$work/err.log" >&2; exit 1; }

json='Content-Type: application/json'
curl -sf -XPOST "$base/api/v1/auth/register" -H "$json" \
  -d '{"username":"bench","email":"bench@example.com","password":"Bench@12345","first_name":"B","last_name":"Ench"}' >/dev/null
TOKEN=$(curl -sf -XPOST "$base/api/v1/auth/login" -H "$json" -d '{"email":"bench@example.com","password":"Bench@12345"}' |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
export TOKEN
id=$(curl -sf -XPOST "$base/api/v1/tasks" -H "$json" -H "Authorization: Bearer $TOKEN" -d '{"title":"read me"}' |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')

echo "== GET /api/v1/tasks/{id} (authenticated, PostgreSQL, no cache) =="
wrk -t1 -c32 -d"$duration" --latency -s scripts/bench/get_task.lua "$base/api/v1/tasks/$id"
echo "== POST /api/v1/tasks (authenticated, PostgreSQL) =="
wrk -t1 -c32 -d"$duration" --latency -s scripts/bench/post_task.lua "$base/api/v1/tasks"
