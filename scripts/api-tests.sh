#!/usr/bin/env bash
# End-to-end API flow against a running Taskify (docs/operations.md#scripts, scenario I1 of docs/testing.md).
#
#   scripts/api-tests.sh [BASE_URL]        default: $BASE_URL, else http://localhost
#
# Registers a fresh user, logs in, creates "Test Task", lists it (the `tasks` array holds it and
# `total` >= 1), updates it to in_progress and reads it back, checks GET /health ("healthy") and
# GET /nginx-health (nginx's own "healthy"), then cleans up (deletes the task, logs out).
# Every call's status code is checked. Exit status 0 only if every check passes.
#
# Needs curl and jq. Environment:
#   SKIP_NGINX_HEALTH=1   skip /nginx-health (when BASE_URL is an instance rather than nginx)
#   API_TESTS_TIMEOUT     seconds per request (default 30)
#
# shellcheck disable=SC2016 # the jq filters use $variables bound with --arg, not shell ones.
set -euo pipefail

readonly PASSWORD='Test@123456'

usage() {
  printf 'usage: scripts/api-tests.sh [BASE_URL]   (default http://localhost)\n' >&2
  exit 2
}

case ${1:-} in
  -h | --help) usage ;;
esac
[[ $# -le 1 ]] || usage

BASE_URL=${1:-${BASE_URL:-http://localhost}}
BASE_URL=${BASE_URL%/}
TIMEOUT=${API_TESTS_TIMEOUT:-30}

CHECK_NAME=api-tests
# shellcheck source-path=SCRIPTDIR source=lib/http-check.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/http-check.sh"

# Stops early when a step that the rest depends on failed.
abort() {
  printf 'aborting: %s\n' "$*"
  failed=$((failed + 1))
  finish
}

printf 'api-tests against %s\n\n' "$BASE_URL"

username="apitest_$run_id"
email="apitest_$run_id@example.com"

# 1. Register.
call POST /api/v1/auth/register "$(jq -nc --arg u "$username" --arg e "$email" --arg p "$PASSWORD" \
  '{username: $u, email: $e, password: $p, first_name: "API", last_name: "Tester", department: "Engineering"}')"
check "register $username" 201 '.user.username == $u and .user.email == $e and .user.role == "user"' \
  --arg u "$username" --arg e "$email" || abort "registration failed"

# 2. Login.
call POST /api/v1/auth/login "$(jq -nc --arg e "$email" --arg p "$PASSWORD" '{email: $e, password: $p}')"
check "login" 200 '(.access_token | type == "string" and length > 0) and .token_type == "Bearer" and (.refresh_token | type == "string")' ||
  abort "login failed"
TOKEN=$(jq -r .access_token "$BODY")
refresh_token=$(jq -r .refresh_token "$BODY")

# 3. Create a task.
call POST /api/v1/tasks '{"title":"Test Task","description":"Created by scripts/api-tests.sh","priority":"high"}'
check "create task" 201 '.title == "Test Task" and .status == "pending" and .version == 1 and (.id | type == "string")' ||
  abort "task creation failed"
task_id=$(jq -r .id "$BODY")

# 4. List: the new task is in `tasks`, and `total` >= 1.
call GET '/api/v1/tasks?pageSize=100&sortBy=created_at&order=desc'
check "list tasks" 200 '(.tasks | type == "array") and any(.tasks[]; .id == $id) and .total >= 1' \
  --arg id "$task_id" || true

# 5. Update to in_progress.
call PUT "/api/v1/tasks/$task_id" '{"status":"in_progress"}'
check "update task to in_progress" 200 '.message == "task updated successfully" and .task.status == "in_progress" and .task.version == 2' || true

# 6. Read it back.
call GET "/api/v1/tasks/$task_id"
check "get task" 200 '.id == $id and .status == "in_progress" and .version == 2' --arg id "$task_id" || true

# 7. Health through the same entry point.
saved_token=$TOKEN
TOKEN=""
call GET /health
check "GET /health is healthy" 200 '.status == "healthy" and .database == "up"' || true

# 8. nginx's own health endpoint.
if [[ ${SKIP_NGINX_HEALTH:-0} == 1 ]]; then
  printf 'SKIP GET /nginx-health (SKIP_NGINX_HEALTH=1)\n'
else
  call GET /nginx-health
  if [[ $STATUS == 200 && $(cat "$BODY") == healthy ]]; then
    passed=$((passed + 1))
    printf 'PASS GET /nginx-health (HTTP 200, "healthy")\n'
  else
    failed=$((failed + 1))
    printf 'FAIL GET /nginx-health: HTTP %s, body %q (is BASE_URL nginx? SKIP_NGINX_HEALTH=1 skips this)\n' \
      "$STATUS" "$(head -c 100 "$BODY")"
  fi
fi
TOKEN=$saved_token

# 9. Clean up: delete the task (then it is gone), log out.
call DELETE "/api/v1/tasks/$task_id"
check "delete task" 204 || true
call GET "/api/v1/tasks/$task_id"
check "deleted task is gone" 404 '.error == "not_found"' || true
call POST /api/v1/auth/logout "$(jq -nc --arg t "$refresh_token" '{refresh_token: $t}')"
check "logout" 200 '.message == "Successfully logged out"' || true

finish
