#!/usr/bin/env python3
"""Instructions per request of a cached read, counted by callgrind (BENCHMARKS.md, section 14).

Usage: scripts/bench/callgrind.py [TASKIFY_BINARY ...]

Requests per second drift with whatever else the machine does; the number of instructions the
server executes per request does not (valgrind counts them, user space only, the same for the
same binary and inputs). This script compares binaries by that number:
  * starts each binary under `valgrind --tool=callgrind --instr-atstart=no` on a scratch SQLite
    database (or CALLGRIND_DATABASE_URL), without Redis, rate limiting on with limits far above
    the load, like the suite (other settings pass through the environment: CACHE_TASK_TTL=1ms
    with a PostgreSQL URL measures the uncached read);
  * registers a user, creates a task and reads it 50 times to fill the caches;
  * switches instrumentation on (`callgrind_control -i on`), sends N (default 1 000) sequential
    keep-alive `GET /api/v1/tasks/{id}` (or `GET /api/v1/tasks` with PATHQ=list), switches it off;
  * prints the instructions per request; the profile is left in the printed file for
    `callgrind_annotate --inclusive=yes <file>`.
Valgrind runs no SHA extensions, so HMAC-SHA256 counts several times what it costs on the CPU.
Only the standard library is used. The binary defaults to target/release/taskify.
"""

import glob
import os
import subprocess
import sys
import tempfile
from http.client import HTTPConnection
from pathlib import Path

from benchlib import free_port, http, wait_ready

ROOT = Path(__file__).resolve().parents[2]
N = int(os.environ.get("N", "1000"))
PATHQ = os.environ.get("PATHQ", "task")
PASSWORD = "Bench@12345"


def get(conn, url, token):
    """One GET on the kept-alive connection `conn`, as a client that reuses its connection."""
    conn.request("GET", url, headers={"Authorization": f"Bearer {token}"})
    response = conn.getresponse()
    response.read()
    if response.status != 200:
        sys.exit(f"GET {url} answered {response.status}")


def measure(binary):
    work = tempfile.mkdtemp(prefix="taskify-callgrind-")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    # No HOST here: valgrind names its control channel after the HOST variable, and
    # callgrind_control (run with this script's environment) would not find it.
    env = {**os.environ, "DATABASE_URL": os.environ.get("CALLGRIND_DATABASE_URL", f"sqlite://{work}/taskify.db"),
           "PORT": str(port), "LOG_LEVEL": "warn", "JWT_SECRET": "callgrind-secret-callgrind-secret-0123",
           "ADMIN_PASSWORD": "Admin@12345", "RATE_LIMIT_ENABLED": "true", "CACHE_WARM_INTERVAL": "0"}
    for name in ("REDIS_URL", "REDIS_HOST"):
        env.pop(name, None)
    for cls in ("", "AUTH_", "REFRESH_"):
        env[f"RATE_LIMIT_{cls}RPM"] = env[f"RATE_LIMIT_{cls}BURST"] = "100000000"
    out = f"{work}/callgrind.out"
    server = subprocess.Popen(["valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={out}",
                               binary], env=env, stdout=open(f"{work}/server.log", "w"), stderr=subprocess.STDOUT)
    try:
        wait_ready(f"{base}/ready", server, seconds=600)  # starting under valgrind takes a while
        user = {"username": "callgrind", "email": "callgrind@bench.test", "password": PASSWORD,
                "first_name": "Call", "last_name": "Grind"}
        http("POST", f"{base}/api/v1/auth/register", user, timeout=120)
        token = http("POST", f"{base}/api/v1/auth/login", {"email": user["email"], "password": PASSWORD},
                     timeout=120)["access_token"]
        task = http("POST", f"{base}/api/v1/tasks", {"title": "A task", "description": "d"}, token, timeout=120)
        url = f"/api/v1/tasks/{task['id']}" if PATHQ == "task" else "/api/v1/tasks"
        conn = HTTPConnection("127.0.0.1", port, timeout=120)
        for _ in range(50):
            get(conn, url, token)
        subprocess.run(["callgrind_control", "-i", "on", str(server.pid)], check=True, capture_output=True)
        for _ in range(N):
            get(conn, url, token)
        subprocess.run(["callgrind_control", "-i", "off", str(server.pid)], check=True, capture_output=True)
    finally:
        server.terminate()
        server.wait(timeout=120)
    total = 0
    for name in glob.glob(out + "*"):
        for line in open(name):
            if line.startswith(("summary:", "totals:")):
                total = max(total, int(line.split()[1]))
    print(f"{binary}: GET {url.replace(task['id'], '{id}')}: {total / N:,.0f} instructions per request "
          f"(user space, {N} requests; profile in {out})", flush=True)


def main():
    binaries = sys.argv[1:] or [str(ROOT / "target" / "release" / "taskify")]
    for binary in binaries:
        measure(binary)


if __name__ == "__main__":
    main()
