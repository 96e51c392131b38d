#!/usr/bin/env bash
# Scale-out test of the compose deployment (docs/operations.md#scripts, scenario I3). Needs a Docker host.
#
#   scripts/test-scaling.sh
#
# 1. Starts the stack if needed and scales the API to 3; checks 3 healthy replicas.
# 2. 10 x GET /health through nginx: all 200 and "healthy". GET /nginx-health: 200 "healthy".
# 3. Scales to 5, then to 2. Each time: the replica count, and within 15 s of the change a batch
#    of 20 requests through nginx that all succeed and are answered by exactly N replicas
#    (so nginx picked up the change through DNS).
# 4. nginx was neither restarted nor reloaded.
#
# Environment: BASE_URL (default http://localhost[:HTTP_PORT] from .env).
# Exit status 0 only when every check passes. The API is left at 2 replicas.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib/compose.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/compose.sh"

readonly CONVERGE_SECONDS=15

passed=0
failed=0

pass() {
  passed=$((passed + 1))
  printf 'PASS %s\n' "$*"
}

fail() {
  failed=$((failed + 1))
  printf 'FAIL %s\n' "$*"
}

finish() {
  printf '\ntest-scaling: %d passed, %d failed\n' "$passed" "$failed"
  ((failed == 0))
}

# One GET /health through nginx; prints "<http status> <status field> <instance_id>".
probe_health() {
  local body code
  body=$(mktemp)
  code=$(curl -s -o "$body" -w '%{http_code}' --max-time 10 "$BASE_URL/health" || true)
  printf '%s %s\n' "${code:-000}" "$(jq -r '"\(.status // "-") \(.instance_id // "-")"' "$body" 2>/dev/null || echo '- -')"
  rm -f "$body"
}

# check_count N: N api containers, all running and healthy.
check_count() {
  local n=$1 healthy total
  healthy=$(healthy_api_replicas)
  total=$(api_replicas)
  if ((healthy == n && total == n)); then
    pass "$n api replicas, all healthy"
  else
    fail "expected $n healthy api replicas, found $healthy healthy of $total"
  fi
}

# check_traffic N: within CONVERGE_SECONDS, a batch of 20 GET /health through nginx that all
# answer 200 "healthy" and come from exactly N distinct instances. Any failed request fails.
check_traffic() {
  local n=$1 deadline=$((SECONDS + CONVERGE_SECONDS)) batch=0 errors=0 line code status id
  local -A seen
  while :; do
    batch=$((batch + 1))
    seen=()
    local ok=0
    for _ in $(seq 1 20); do
      line=$(probe_health)
      read -r code status id <<<"$line"
      if [[ $code == 200 && $status == healthy ]]; then
        ok=$((ok + 1))
        seen[$id]=1
      else
        errors=$((errors + 1))
        printf '    request failed: HTTP %s, status %s\n' "$code" "$status"
      fi
    done
    if ((ok == 20 && ${#seen[@]} == n)); then
      break
    fi
    if ((SECONDS >= deadline)); then
      break
    fi
    sleep 1
  done
  if ((errors > 0)); then
    fail "$errors request(s) through nginx failed after scaling to $n"
  elif ((${#seen[@]} == n)); then
    pass "20 requests through nginx all succeeded, answered by $n replicas (batch $batch, ${CONVERGE_SECONDS}s budget)"
  else
    fail "after ${CONVERGE_SECONDS}s nginx still spread requests over ${#seen[@]} replicas, expected $n: ${!seen[*]}"
  fi
}

nginx_started_at() {
  local id
  id=$(compose ps -q nginx 2>/dev/null | head -n 1)
  if [[ -n $id ]]; then
    docker inspect -f '{{.State.StartedAt}}' "$id" 2>/dev/null || true
  fi
}

main() {
  [[ $# -eq 0 ]] || die "usage: scripts/test-scaling.sh (no arguments; BASE_URL from the environment)"
  command -v curl >/dev/null 2>&1 || die "curl is required"
  command -v jq >/dev/null 2>&1 || die "jq is required"
  require_docker
  require_env_file
  BASE_URL=${BASE_URL:-$(http_base_url)}
  BASE_URL=${BASE_URL%/}

  info "making sure postgres, redis, api and nginx are up"
  compose up -d --no-recreate postgres redis nginx
  local started_before
  started_before=$(nginx_started_at)
  local since
  since=$(date -u +%Y-%m-%dT%H:%M:%SZ)

  info "scale to 3"
  "$TASKIFY_ROOT/scripts/scale.sh" 3 || fail "scripts/scale.sh 3"
  check_count 3

  info "10 x GET /health through nginx ($BASE_URL)"
  local ok=0 code status id
  for _ in $(seq 1 10); do
    read -r code status id <<<"$(probe_health)"
    [[ $code == 200 && $status == healthy ]] && ok=$((ok + 1))
  done
  if ((ok == 10)); then pass "10/10 GET /health: 200 healthy"; else fail "$ok/10 GET /health were 200 healthy"; fi

  local body
  body=$(curl -s -w ' %{http_code} %{content_type}' --max-time 10 "$BASE_URL/nginx-health" || true)
  if [[ $body == "healthy"$'\n'" 200 text/plain"* ]]; then
    pass "GET /nginx-health: 200 text/plain healthy"
  else
    fail "GET /nginx-health answered: $body"
  fi

  local n
  for n in 5 2; do
    info "scale to $n"
    "$TASKIFY_ROOT/scripts/scale.sh" "$n" || fail "scripts/scale.sh $n"
    check_count "$n"
    check_traffic "$n"
  done

  info "nginx was not restarted or reloaded"
  local started_after
  started_after=$(nginx_started_at)
  if [[ -n $started_before && $started_before == "$started_after" ]]; then
    pass "nginx container not restarted (started $started_after)"
  else
    fail "nginx container restarted (before: ${started_before:-none}, after: ${started_after:-none})"
  fi
  if compose logs --since "$since" nginx 2>&1 | grep -Eq 'signal 1 \(SIGHUP\)|reconfiguring'; then
    fail "nginx was reloaded during the test"
  else
    pass "nginx not reloaded"
  fi

  finish
}

main "$@"
