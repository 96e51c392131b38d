# shellcheck shell=bash
# The processes of scripts/local-cluster.sh: taskify nodes, nginx with the shipped configuration
# and a private redis-server, with their pid files and the remembered cluster state. Sourced by
# local-cluster.sh after it has set ROOT, RUN_DIR, STATE_FILE, NGINX_DIR, REDIS_DIR, the ports,
# READY_TIMEOUT, STOP_TIMEOUT, PASSTHROUGH_RE and die/info/warn.

# --- small helpers ---------------------------------------------------------------------------

node_port() {
  printf '%d' $((NODE_BASE_PORT + $1))
}

# True when something accepts TCP connections on 127.0.0.1:PORT.
port_open() {
  # shellcheck disable=SC2016 # $0 is expanded by the inner bash.
  timeout 1 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$0"' "$1" 2>/dev/null
}

# HTTP status of GET URL ("000" when there is no answer).
http_code() {
  curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$1" 2>/dev/null || true
}

# pid_alive PID: the process exists (and is not a zombie).
pid_alive() {
  local pid=$1 state
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  state=$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null || true)
  [[ $state != Z ]]
}

# pid_matches PID WORD: the process is alive and its command line contains WORD, so a pid that
# was recycled by an unrelated process is never signalled.
pid_matches() {
  local pid=$1 word=$2
  pid_alive "$pid" || return 1
  [[ -r /proc/$pid/cmdline ]] || return 0 # no procfs: trust the pid file
  tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$word"
}

read_pid() {
  if [[ -f $1 ]]; then
    tr -dc '0-9' <"$1" || true
  fi
}

random_secret() {
  head -c 48 /dev/urandom | base64 | tr -d '\n=' | tr '+/' '-_'
}

# Absolute path of the taskify binary: TASKIFY_BIN (relative to the current folder, else to
# the repository), else the one remembered at start, else target/release/taskify.
resolve_bin() {
  local bin=${TASKIFY_BIN:-${CLUSTER_BIN:-target/release/taskify}}
  if [[ $bin != /* ]]; then
    if [[ -e $PWD/$bin ]]; then
      bin="$PWD/$bin"
    else
      bin="$ROOT/$bin"
    fi
  fi
  [[ -x $bin ]] ||
    die "taskify binary not found at $bin (build it with 'cargo build --release -p taskify-server', or set TASKIFY_BIN)"
  printf '%s' "$bin"
}

nginx_bin() {
  if [[ -n ${NGINX_BIN:-} ]]; then
    printf '%s' "$NGINX_BIN"
  elif command -v nginx >/dev/null 2>&1; then
    command -v nginx
  elif [[ -x /usr/sbin/nginx ]]; then
    printf '/usr/sbin/nginx'
  else
    return 1
  fi
}

load_state() {
  [[ -f $STATE_FILE ]] || return 1
  # Our own file, written by save_state with %q quoting.
  # shellcheck source=/dev/null
  source "$STATE_FILE"
}

# --- state -----------------------------------------------------------------------------------

# save_state: the cluster's settings and the passed-through Taskify variables.
save_state() {
  local name
  {
    printf '# Written by scripts/local-cluster.sh start on %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
    printf 'CLUSTER_N=%q\n' "$CLUSTER_N"
    printf 'CLUSTER_BIN=%q\n' "$CLUSTER_BIN"
    printf 'CLUSTER_DB_URL=%q\n' "$CLUSTER_DB_URL"
    printf 'CLUSTER_REDIS_MODE=%q\n' "$CLUSTER_REDIS_MODE"
    printf 'CLUSTER_REDIS_URL=%q\n' "$CLUSTER_REDIS_URL"
    printf 'CLUSTER_JWT_SECRET=%q\n' "$CLUSTER_JWT_SECRET"
    printf 'CLUSTER_PASSTHROUGH=()\n'
    while IFS= read -r name; do
      [[ $name =~ $PASSTHROUGH_RE ]] || continue
      printf 'CLUSTER_PASSTHROUGH+=(%q)\n' "$name=${!name}"
    done < <(compgen -e | sort)
  } >"$STATE_FILE"
  chmod 600 "$STATE_FILE"
}

# --- nodes -----------------------------------------------------------------------------------

# start_node I: launches node I in its own session; returns at once.
start_node() {
  local i=$1 port pidfile log bin
  port=$(node_port "$i")
  pidfile="$RUN_DIR/node$i.pid"
  log="$RUN_DIR/node$i.log"
  bin=$(resolve_bin)
  if port_open "$port"; then
    die "port $port (node$i) is already in use"
  fi

  # Remembered variables that are not set now (values set now win).
  local extra=() entry name
  for entry in "${CLUSTER_PASSTHROUGH[@]}"; do
    name=${entry%%=*}
    [[ -n ${!name+x} ]] && continue
    extra+=("$entry")
  done
  local redis=()
  if [[ -n $CLUSTER_REDIS_URL ]]; then
    redis=("REDIS_URL=$CLUSTER_REDIS_URL")
  fi

  rm -f "$pidfile"
  printf '\n=== node%s starting on 127.0.0.1:%s at %s (%s)\n' "$i" "$port" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$bin" >>"$log"
  # The node runs from .cluster/, so a .env in the repository is not read. setsid detaches it
  # from this script's process group; the inner shell writes its own pid (the node's, after
  # exec) whether or not setsid had to fork.
  # shellcheck disable=SC2016 # $$, $0 and $@ belong to the inner bash.
  (
    cd "$RUN_DIR"
    exec setsid bash -c 'echo $$ >"$0"; exec "$@"' "$pidfile" \
      env -u REDIS_URL -u REDIS_HOST -u REDIS_PORT -u REDIS_PASSWORD -u REDIS_DB \
      -u DB_HOST -u DATABASE_URL \
      "${extra[@]}" \
      HOST=127.0.0.1 PORT="$port" INSTANCE_ID="node$i" TRUSTED_PROXIES=127.0.0.1/32 \
      JWT_SECRET="$CLUSTER_JWT_SECRET" DATABASE_URL="$CLUSTER_DB_URL" "${redis[@]}" \
      "$bin" serve
  ) </dev/null >>"$log" 2>&1 &

  local waited=0
  until [[ -s $pidfile ]]; do
    sleep 0.05
    waited=$((waited + 1))
    ((waited < 100)) || die "node$i did not start (see $log)"
  done
}

node_pid() {
  read_pid "$RUN_DIR/node$1.pid"
}

node_running() {
  local pid
  pid=$(node_pid "$1")
  [[ -n $pid ]] && pid_matches "$pid" taskify
}

# stop_nodes SIGNAL I…: signals the running nodes, then waits for them (SIGKILL after
# STOP_TIMEOUT s for SIGTERM).
stop_nodes() {
  local signal=$1 i pid
  shift
  local pids=() names=()
  for i in "$@"; do
    pid=$(node_pid "$i")
    if [[ -n $pid ]] && pid_matches "$pid" taskify; then
      kill "-$signal" "$pid" 2>/dev/null || true
      pids+=("$pid")
      names+=("node$i")
    fi
  done
  local limit=$STOP_TIMEOUT k
  [[ $signal == KILL ]] && limit=5
  local deadline=$((SECONDS + limit))
  for k in "${!pids[@]}"; do
    while pid_alive "${pids[$k]}"; do
      if ((SECONDS >= deadline)); then
        warn "${names[$k]} (pid ${pids[$k]}) still running after ${limit}s; sending SIGKILL"
        kill -KILL "${pids[$k]}" 2>/dev/null || true
        sleep 0.2
        break
      fi
      sleep 0.1
    done
  done
  for i in "$@"; do
    pid=$(node_pid "$i")
    if [[ -z $pid ]] || ! pid_alive "$pid"; then
      rm -f "$RUN_DIR/node$i.pid"
    fi
  done
}

# wait_ready I…: every given node answers 200 on /ready within READY_TIMEOUT s.
wait_ready() {
  local deadline=$((SECONDS + READY_TIMEOUT)) i pending
  while :; do
    pending=()
    for i in "$@"; do
      if ! node_running "$i"; then
        printf 'local-cluster: node%s exited during start-up; last lines of %s:\n' "$i" "$RUN_DIR/node$i.log" >&2
        tail -n 20 "$RUN_DIR/node$i.log" >&2 || true
        return 1
      fi
      [[ $(http_code "http://127.0.0.1:$(node_port "$i")/ready") == 200 ]] || pending+=("$i")
    done
    ((${#pending[@]} == 0)) && return 0
    if ((SECONDS >= deadline)); then
      for i in "${pending[@]}"; do
        printf 'local-cluster: node%s not ready after %ss; last lines of %s:\n' "$i" "$READY_TIMEOUT" "$RUN_DIR/node$i.log" >&2
        tail -n 20 "$RUN_DIR/node$i.log" >&2 || true
      done
      return 1
    fi
    sleep 0.2
  done
}

# --- nginx -----------------------------------------------------------------------------------

# The shipped deploy/nginx/nginx.conf, rendered by deploy/nginx/render-local.sh for the local
# ports (a static upstream instead of Docker DNS; paths under .cluster/nginx/). REAL_IP_FROM is
# applied as in the container.
write_nginx_conf() {
  local n=$1 i ports=()
  for ((i = 1; i <= n; i++)); do
    ports+=("$(node_port "$i")")
  done
  "$ROOT/deploy/nginx/render-local.sh" "$NGINX_DIR" "$NGINX_PORT" "${ports[@]}" ||
    die "cannot render deploy/nginx/nginx.conf for local use"
}

nginx_args() {
  printf '%s\n' -p "$NGINX_DIR/" -c "$NGINX_DIR/nginx.conf" -e "$NGINX_DIR/logs/error.log"
}

start_nginx() {
  local bin args
  bin=$(nginx_bin) || die "nginx is not installed (apt-get install nginx)"
  mapfile -t args < <(nginx_args)
  if port_open "$NGINX_PORT"; then
    die "port $NGINX_PORT is already in use"
  fi
  "$bin" -t -q "${args[@]}" || die "the generated nginx configuration is invalid ($NGINX_DIR/nginx.conf)"
  "$bin" "${args[@]}" || die "nginx did not start (see $NGINX_DIR/logs/error.log)"
  local waited=0
  until [[ $(http_code "http://127.0.0.1:$NGINX_PORT/nginx-health") == 200 ]]; do
    sleep 0.1
    waited=$((waited + 1))
    ((waited < 50)) || die "nginx does not answer on 127.0.0.1:$NGINX_PORT (see $NGINX_DIR/logs/error.log)"
  done
}

nginx_pid() {
  read_pid "$NGINX_DIR/nginx.pid"
}

stop_nginx() {
  local pid
  pid=$(nginx_pid)
  [[ -n $pid ]] && pid_matches "$pid" nginx || return 0
  kill -QUIT "$pid" 2>/dev/null || true
  local waited=0
  while pid_alive "$pid"; do
    sleep 0.1
    waited=$((waited + 1))
    if ((waited == 100)); then
      kill -TERM "$pid" 2>/dev/null || true
    elif ((waited > 150)); then
      kill -KILL "$pid" 2>/dev/null || true
      break
    fi
  done
  rm -f "$NGINX_DIR/nginx.pid"
}

# --- local redis-server ----------------------------------------------------------------------

redis_cli() {
  redis-cli -h 127.0.0.1 -p "$LOCAL_REDIS_PORT" "$@"
}

local_redis_pid() {
  read_pid "$REDIS_DIR/redis.pid"
}

local_redis_running() {
  local pid
  pid=$(local_redis_pid)
  [[ -n $pid ]] && pid_matches "$pid" redis-server
}

start_local_redis() {
  local bin=${REDIS_SERVER_BIN:-redis-server}
  command -v "$bin" >/dev/null 2>&1 || die "redis-server is not installed (apt-get install redis-server)"
  if local_redis_running; then
    info "the local redis-server is already running (pid $(local_redis_pid))"
    return 0
  fi
  port_open "$LOCAL_REDIS_PORT" && die "port $LOCAL_REDIS_PORT is in use by a process this script did not start"
  mkdir -p "$REDIS_DIR"
  "$bin" --port "$LOCAL_REDIS_PORT" --bind 127.0.0.1 --protected-mode yes \
    --daemonize yes --pidfile "$REDIS_DIR/redis.pid" --logfile "$REDIS_DIR/redis.log" \
    --dir "$REDIS_DIR" --dbfilename dump.rdb --save '' --appendonly no \
    >/dev/null || die "redis-server did not start (see $REDIS_DIR/redis.log)"
  local waited=0
  until [[ $(redis_cli ping 2>/dev/null) == PONG ]]; do
    sleep 0.1
    waited=$((waited + 1))
    ((waited < 50)) || die "redis-server does not answer on 127.0.0.1:$LOCAL_REDIS_PORT (see $REDIS_DIR/redis.log)"
  done
}

# stop_local_redis save|nosave
stop_local_redis() {
  local mode=$1 pid
  pid=$(local_redis_pid)
  [[ -n $pid ]] && pid_matches "$pid" redis-server || return 0
  redis_cli shutdown "$mode" >/dev/null 2>&1 || true
  local waited=0
  while pid_alive "$pid"; do
    sleep 0.1
    waited=$((waited + 1))
    if ((waited == 50)); then
      kill -TERM "$pid" 2>/dev/null || true
    elif ((waited > 100)); then
      kill -KILL "$pid" 2>/dev/null || true
      break
    fi
  done
  rm -f "$REDIS_DIR/redis.pid"
}
