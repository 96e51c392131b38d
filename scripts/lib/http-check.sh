# shellcheck shell=bash
# Shared by scripts/api-tests.sh and scripts/admin-cache-test.sh: one request at a time with
# curl, status and jq checks, a PASS/FAIL line per check, and a summary.
#
# Before sourcing, set CHECK_NAME (the script's name, used in X-Request-Id and the summary) and
# BASE_URL; optionally TIMEOUT (seconds per request, default 30). Needs curl and jq.

for tool in curl jq; do
  command -v "$tool" >/dev/null 2>&1 || {
    printf 'error: %s is required (apt-get install %s)\n' "$tool" "$tool" >&2
    exit 1
  }
done

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
readonly BODY="$work/body" HEADERS="$work/headers"
TIMEOUT=${TIMEOUT:-30}
run_id="$(date +%s)$((RANDOM % 10000))"
passed=0
failed=0
request_no=0
STATUS=000
TOKEN=""

# call METHOD PATH [JSON]: one request; sets STATUS, writes the body to $BODY and the headers
# to $HEADERS. Sends the bearer token when TOKEN is set.
call() {
  local method=$1 path=$2 json=${3-}
  request_no=$((request_no + 1))
  local args=(-sS -o "$BODY" -D "$HEADERS" -w '%{http_code}' --max-time "$TIMEOUT"
    -X "$method" -H 'Accept: application/json' -H "X-Request-Id: $CHECK_NAME-$run_id-$request_no")
  [[ -n $TOKEN ]] && args+=(-H "Authorization: Bearer $TOKEN")
  [[ -n $json ]] && args+=(-H 'Content-Type: application/json' --data-binary "$json")
  : >"$BODY"
  : >"$HEADERS"
  STATUS=$(curl "${args[@]}" "$BASE_URL$path" 2>"$work/curl.err") || STATUS=000
}

# check NAME EXPECTED_STATUS [JQ_FILTER [JQ_ARGS…]]: the last call's status, and the filter
# (which must yield true) on its JSON body. Returns non-zero on failure.
check() {
  local name=$1 expected=$2 filter=${3-}
  shift $(($# < 3 ? $# : 3))
  local problem=""
  if [[ $STATUS != "$expected" ]]; then
    problem="HTTP $STATUS, expected $expected"
    [[ $STATUS == 000 ]] && problem+=" ($(tr '\n' ' ' <"$work/curl.err"))"
  elif [[ -n $filter ]] && ! jq -e "$@" "$filter" "$BODY" >/dev/null 2>&1; then
    problem="body does not satisfy: $filter"
  fi
  if [[ -z $problem ]]; then
    passed=$((passed + 1))
    printf 'PASS %s (HTTP %s)\n' "$name" "$STATUS"
    return 0
  fi
  failed=$((failed + 1))
  printf 'FAIL %s: %s\n' "$name" "$problem"
  if [[ -s $BODY ]]; then
    printf '     body: %s\n' "$(head -c 400 "$BODY" | tr '\n' ' ')"
  fi
  return 1
}

# finish: the summary line; exits 0 only when every check passed.
finish() {
  printf '\n%s (%s): %d passed, %d failed\n' "$CHECK_NAME" "$BASE_URL" "$passed" "$failed"
  if ((failed == 0)); then
    exit 0
  fi
  exit 1
}
