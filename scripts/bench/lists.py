#!/usr/bin/env python3
"""Task lists at scale through the API, uncached (BENCHMARKS.md, "Lists at scale, after").

Usage: scripts/bench/lists.py DATABASE_URL [TASKIFY_BINARY]

DATABASE_URL names a PostgreSQL database migrated by the binary and seeded with
scripts/bench/seed-scale.sql. The script
  * creates or resets the administrator `lists-admin` (password "Bench-pass-1", the hash of
    seed-scale.sql) with the admin role: it writes to that database, so point it at a copy;
  * starts the binary on a free loopback port without Redis, with CACHE_LIST_TTL=1ms (a list
    entry lives 1 ms, so every sequential request below misses and queries the database) and
    rate limiting off;
  * logs in as `big` (own tasks), `eng-manager` (department of 1 000 users, 200 000 tasks) and
    `lists-admin` (everything), and times REQUESTS sequential requests of each case;
  * prints a markdown table of p50 and p99 in milliseconds, with the `total` and `total_capped`
    of the last answer.
Only the standard library is used. The binary defaults to target/release/taskify.
"""

import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

from benchlib import free_port, http, wait_ready

ROOT = Path(__file__).resolve().parents[2]
REQUESTS = int(os.environ.get("LISTS_REQUESTS", "20"))
PASSWORD = "Bench-pass-1"
# The argon2id hash of PASSWORD used by scripts/bench/seed-scale.sql.
PASSWORD_HASH = "$argon2id$v=19$m=19456,t=2,p=1$UkiSyYgEOeE4CQtGyZ8uFg$L0grUPKHprsmJosv6ZthLqeEgrFjOUUenTadsGcdDNs"
ADMIN_ID = "4c15a7ad-0000-4000-8000-00000000a001"
SECRET = "lists-benchmark-secret-0123456789abcdef"

CASES = [
    ("first page", {}),
    ("page 1 000", {"page": "1000"}),
    ("q=deploy, first page", {"q": "deploy"}),
    ("q=deploy, page 1 000", {"q": "deploy", "page": "1000"}),
    ("q=task 4242, first page", {"q": "task 4242"}),
    # Other sort orders, for docs/performance.md ("Task lists"): title has its own index
    # (both directions), due_date the plain ix_tasks_due_date.
    ("sortBy=title, first page", {"sortBy": "title", "order": "asc"}),
    ("sortBy=title desc, first page", {"sortBy": "title", "order": "desc"}),
    ("sortBy=due_date, first page", {"sortBy": "due_date", "order": "asc"}),
]
CALLERS = [("big", "big@scale.test"), ("eng-manager", "eng-manager@scale.test"),
           ("admin", "lists-admin@scale.test")]


def psql(url, sql):
    out = subprocess.run(["psql", url, "-qAtX", "-v", "ON_ERROR_STOP=1", "-c", sql],
                         check=True, capture_output=True, text=True)
    return out.stdout.strip()


def reset_admin(url):
    psql(url, f"""
        INSERT INTO users (id, username, email, password_hash, first_name, last_name, is_active,
                           created_at, updated_at)
        VALUES ('{ADMIN_ID}', 'lists-admin', 'lists-admin@scale.test', '{PASSWORD_HASH}', 'Lists',
                'Admin', TRUE, now(), now())
        ON CONFLICT (id) DO UPDATE SET password_hash = EXCLUDED.password_hash, is_active = TRUE,
                                       deleted_at = NULL, tokens_valid_after = NULL;
        INSERT INTO user_roles (id, user_id, role_id, assigned_at)
        SELECT '{ADMIN_ID}', '{ADMIN_ID}', r.id, now() FROM roles r WHERE r.name = 'admin'
        ON CONFLICT DO NOTHING;
        UPDATE user_roles SET revoked_at = NULL, revoked_by = NULL, expires_at = NULL
        WHERE id = '{ADMIN_ID}';
    """)


def percentile(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))]


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    url = sys.argv[1]
    binary = sys.argv[2] if len(sys.argv) > 2 else str(ROOT / "target" / "release" / "taskify")
    reset_admin(url)
    port = free_port()
    env = {**os.environ, "DATABASE_URL": url, "PORT": str(port), "HOST": "127.0.0.1",
           "JWT_SECRET": SECRET, "CACHE_LIST_TTL": "1ms", "RATE_LIMIT_ENABLED": "false",
           "LOG_LEVEL": "warn", "CACHE_WARM_INTERVAL": "0"}
    for name in ("REDIS_URL", "REDIS_HOST"):
        env.pop(name, None)
    base = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryFile() as log:
        proc = subprocess.Popen([binary], env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            wait_ready(f"{base}/ready", proc)
            rows = []
            for caller, email in CALLERS:
                token = http("POST", f"{base}/api/v1/auth/login",
                             {"email": email, "password": PASSWORD})["access_token"]
                for case, params in CASES:
                    query = urllib.parse.urlencode({"pageSize": "20", **params})
                    target = f"{base}/api/v1/tasks?{query}"
                    http("GET", target, token=token)  # warm the connection and the principal
                    times = []
                    for _ in range(REQUESTS):
                        started = time.perf_counter()
                        body = http("GET", target, token=token)
                        times.append((time.perf_counter() - started) * 1000)
                        time.sleep(0.005)  # past CACHE_LIST_TTL: the next request misses
                    total = f"{body['total']}{'+' if body.get('total_capped') else ''}"
                    rows.append((caller, case, statistics.median(times), percentile(times, 99),
                                 total, len(body["tasks"])))
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    print(f"{REQUESTS} sequential requests per row, pageSize 20, default sort (created_at desc) unless named.\n")
    print("| caller | list | p50 ms | p99 ms | total | items |")
    print("|---|---|---:|---:|---:|---:|")
    for caller, case, p50, p99, total, items in rows:
        print(f"| {caller} | {case} | {p50:.1f} | {p99:.1f} | {total} | {items} |")


if __name__ == "__main__":
    main()
