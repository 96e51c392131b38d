#!/usr/bin/env bash
# The side-by-side benchmark suite (BENCHMARKS.md, "Side by side"), loopback only and bounded:
#
#   scripts/bench/run.sh                      # 10 workloads x 2 alternating rounds x 12 s, ~5 min
#   BENCH_SECONDS=3 BENCH_ROUNDS=2 scripts/bench/run.sh     # a dry run
#
# Other knobs: BENCH_CONNECTIONS (32), BENCH_THREADS (1), BENCH_USERS (50, the mixed workload),
# BENCH_ONLY (comma-separated parts of workload names), BENCH_OUT (target/bench/results.md),
# BENCH_PG (postgres://postgres@127.0.0.1:5432; the run creates and drops its own database).
# Needs wrk, pgbench, psql and redis-server. The workloads and what each ratio means are in
# scripts/bench/suite.py; the table goes to stdout and to BENCH_OUT.
set -euo pipefail
cd "$(dirname "$0")/../.."
for tool in wrk pgbench psql redis-server python3; do
  command -v "$tool" >/dev/null || { echo "missing: $tool" >&2; exit 1; }
done
cargo build --release -p taskify-server --bin taskify --example ceiling
exec python3 scripts/bench/suite.py
