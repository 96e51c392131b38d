#!/usr/bin/env bash
# The memory cost of idle live-update streams (docs/live-updates.md): RSS of one instance before
# and after opening N idle `GET /api/v1/events` streams. A measurement, not a test (BENCHMARKS.md).
#
#   scripts/bench/events-rss.sh [N] [BINARY]
#
# N defaults to 1000; BINARY to target/release/taskify (build it with
# `TASKIFY_SKIP_UI_BUILD=1 cargo build --release -p taskify-server`). SQLite in a temporary
# directory, no Redis (the in-process ring: the per-stream state is the same with Redis).
set -euo pipefail
streams=${1:-1000}
repo=$(cd "$(dirname "$0")/../.." && pwd)
binary=${2:-$repo/target/release/taskify}
[ -x "$binary" ] || { echo "no binary at $binary" >&2; exit 1; }
work=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cleanup() { [ -n "${pid:-}" ] && kill "$pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
ulimit -n 8192 || true

DATABASE_URL="sqlite://$work/bench.db" JWT_SECRET=bench-secret-0123456789abcdef0123456789 \
  PORT=$port LOG_LEVEL=warn RATE_LIMIT_ENABLED=false UI_ENABLED=false CACHE_WARM_INTERVAL=0 \
  EVENTS_MAX_PER_USER=$streams EVENTS_MAX_STREAMS=$((streams + 10)) \
  ADMIN_EMAIL=admin@example.com ADMIN_PASSWORD='Admin@12345' \
  "$binary" >"$work/server.log" 2>&1 &
pid=$!
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$port/ready" >/dev/null && break; sleep 0.2; done

python3 - "$port" "$pid" "$streams" <<'PY'
import json, socket, sys, time, urllib.request
port, pid, n = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
base = f"http://127.0.0.1:{port}"

def post(path, body, token=None):
    req = urllib.request.Request(base + path, json.dumps(body).encode(), {"content-type": "application/json"})
    if token:
        req.add_header("authorization", f"Bearer {token}")
    return json.load(urllib.request.urlopen(req))

def rss_kib():
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])

token = post("/api/v1/auth/login", {"email": "admin@example.com", "password": "Admin@12345"})["access_token"]
# Warm up the paths a stream uses, so the baseline is not the cost of first use.
for _ in range(3):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(f"GET /api/v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\r\n".encode())
    s.recv(4096); s.close()
time.sleep(2)
before = rss_kib()
sockets = []
for i in range(n):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(f"GET /api/v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\r\n".encode())
    head = b""
    while b"retry: 2000" not in head:
        chunk = s.recv(4096)
        if not chunk:
            raise SystemExit(f"stream {i} closed: {head!r}")
        head += chunk
    if not head.startswith(b"HTTP/1.1 200"):
        raise SystemExit(f"stream {i}: {head[:200]!r}")
    sockets.append(s)
time.sleep(2)
after = rss_kib()
metrics = urllib.request.urlopen(base + "/metrics").read().decode()
open_streams = [l for l in metrics.splitlines() if l.startswith("events_streams_open")]
print(f"streams: {n}; {open_streams[0] if open_streams else 'events_streams_open missing'}")
print(f"RSS before: {before / 1024:.1f} MiB; after: {after / 1024:.1f} MiB; "
      f"extra: {(after - before) / 1024:.1f} MiB ({(after - before) / n:.1f} KiB per stream)")
for s in sockets:
    s.close()
PY
