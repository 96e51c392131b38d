#!/usr/bin/env python3
"""The side-by-side benchmark suite (BENCHMARKS.md, "Side by side"): run by scripts/bench/run.sh.

One run, loopback only, bounded in time: every workload runs BENCH_SECONDS per round, the rounds
alternate the workloads (A B C ... A B C ...) and each row reports the median of the rounds.

Processes (all on 127.0.0.1, all stopped at the end; the scratch database is dropped):
  * a private redis-server;
  * Taskify (release build, PostgreSQL + Redis, rate limiting ON with limits far above the load);
  * a second Taskify on the same database without Redis and with CACHE_TASK_TTL=1ms, whose task
    reads over 1 000 random ids all miss (the principal stays cached): the uncached GET;
  * the ceiling probe (crates/server/examples/ceiling.rs);
  * pgbench with Taskify's own INSERT and primary-key SELECT (pg_insert.sql, pg_select.sql).

Each row also reports the CPU spent per request by the server under test and by PostgreSQL
together (the load generator's left out on both sides; PostgreSQL's share in parentheses), read
from /proc before and after the workload: on a machine whose speed varies from run to run it
shows where a change saved work better than requests per second do.

After the rounds, the mixed workload runs again paced at half its measured maximum (its p99 is the
latency acceptance figure), and with BENCH_SOAK (seconds, e.g. 300) once more, paced the same way,
for that long while the server's resident memory is sampled every 10 s.
"""

import os
import re
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from benchlib import http, wait_ready

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "scripts" / "bench"
RELEASE = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target")) / "release"
SECONDS = int(os.environ.get("BENCH_SECONDS", "12"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "2"))
CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", "32"))
THREADS = int(os.environ.get("BENCH_THREADS", "1"))
MIX_USERS = int(os.environ.get("BENCH_USERS", "50"))
PG = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432")
OUT = Path(os.environ.get("BENCH_OUT", ROOT / "target" / "bench" / "results.md"))
ONLY = set(filter(None, os.environ.get("BENCH_ONLY", "").split(",")))
SOAK = int(os.environ.get("BENCH_SOAK", "0"))
PORTS = {"taskify": 18990, "ceiling": 18991, "redis": 18992, "uncached": 18993}
SECRET = "benchmark-secret-benchmark-secret-0123"
PASSWORD = "Bench@12345"
DB = f"taskify_bench_{os.getpid()}"
HUGE = "100000000"
MIXED = f"Taskify: mixed, {MIX_USERS} users (70/20/10)"  # rate limits far above any load this machine can make


def base(name):
    return f"http://127.0.0.1:{PORTS[name]}"


def psql(sql, db=DB):
    out = subprocess.run(["psql", f"{PG}/{db}", "-qAtX", "-v", "ON_ERROR_STOP=1", "-c", sql],
                         check=True, capture_output=True, text=True)
    return out.stdout.strip()




def rss_mib(proc, field="VmHWM"):
    """Peak (VmHWM) or current (VmRSS) resident memory of `proc`."""
    for line in Path(f"/proc/{proc.pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def reset_peak(proc):
    """Starts a new peak: the Peak RSS of a row is the most the server held during that workload."""
    Path(f"/proc/{proc.pid}/clear_refs").write_text("5")


TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid, children=False):
    """User + system CPU of `pid` (with `children`: also of its exited, reaped children)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:  # the process has just exited
        return 0.0
    # After the name: state is fields[0], so utime, stime, cutime, cstime are fields[11..14].
    used = int(fields[11]) + int(fields[12]) + (int(fields[13]) + int(fields[14]) if children else 0)
    return used / TICKS


def postgres_cpu():
    """CPU used by the PostgreSQL server so far: its live processes plus the backends the
    postmaster has reaped (a pgbench run's connections end with it)."""
    parents = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        if "(postgres)" in text:
            parents[int(stat.parent.name)] = int(text.rsplit(")", 1)[1].split()[1])
    # The postmaster is the postgres process whose parent is not one.
    return sum(cpu_seconds(pid, children=parent not in parents) for pid, parent in parents.items())


def cpu_snapshot(server):
    """CPU so far of the server under test (if any) and of PostgreSQL: the load generator's own
    CPU is left out on both sides, so Taskify and pgbench are compared on the work they cause."""
    return (cpu_seconds(server.pid) if server is not None else 0.0), postgres_cpu()


UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3}


def parse_wrk(text):
    def latency(pct):
        m = re.search(rf"^\s+{pct}%\s+([\d.]+)(us|ms|s)\s*$", text, re.M)
        return float(m.group(1)) * UNITS[m.group(2)] if m else float("nan")

    rps = re.search(r"Requests/sec:\s+([\d.]+)", text)
    errors = sum(int(n) for n in re.findall(r"Non-2xx or 3xx responses: (\d+)", text))
    errors += sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", text))
    return {"rps": float(rps.group(1)) if rps else 0.0, "p50": latency(50), "p99": latency(99), "errors": errors}


def wrk(url, script, env, seconds=None, every_10s=None):
    """Runs wrk for `seconds` (default SECONDS), calling `every_10s` every 10 s while it runs."""
    cmd = ["wrk", f"-t{THREADS}", f"-c{CONNECTIONS}", f"-d{seconds or SECONDS}s", "--latency", "-s", str(BENCH / script),
           url]
    env = {**os.environ, **env, "CONNECTIONS": str(CONNECTIONS)}
    load = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, text=True)
    while every_10s and load.poll() is None:
        time.sleep(10)
        every_10s()
    out, _ = load.communicate()
    if load.returncode:
        raise subprocess.CalledProcessError(load.returncode, cmd, out)
    return parse_wrk(out)


def pgbench(script, work, defines=()):
    prefix = work / f"pgbench-{script}-{time.monotonic_ns()}"
    cmd = ["pgbench", "-n", "-M", "prepared", f"-c{CONNECTIONS}", f"-j{THREADS}", f"-T{SECONDS}",
           "-l", f"--log-prefix={prefix}", "-f", str(BENCH / script)]
    for d in defines:
        cmd += ["-D", d]
    out = subprocess.run(cmd + [f"{PG}/{DB}"], capture_output=True, text=True, check=True)
    tps = re.search(r"tps = ([\d.]+)", out.stdout)
    failed = re.search(r"number of failed transactions: (\d+)", out.stdout)
    # Per-transaction log lines: client, transaction, latency in µs, ...
    latencies = sorted(int(line.split()[2]) / 1000 for log in work.glob(prefix.name + "*")
                       for line in log.read_text().splitlines())
    for log in work.glob(prefix.name + "*"):
        log.unlink()
    pick = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))] if latencies else float("nan")
    return {"rps": float(tps.group(1)) if tps else 0.0, "p50": pick(0.5), "p99": pick(0.99),
            "errors": int(failed.group(1)) if failed else 0}


class Suite:
    def __init__(self, work):
        self.work = work
        self.procs = []

    def spawn(self, name, cmd, env=None, log=None):
        out = open(self.work / f"{log or name}.log", "w")
        proc = subprocess.Popen(cmd, env={**os.environ, **(env or {})}, stdout=out, stderr=subprocess.STDOUT)
        self.procs.append(proc)
        return proc

    def stop(self):
        for proc in reversed(self.procs):
            proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()

    def taskify(self, name, env):
        common = {"DATABASE_URL": f"{PG}/{DB}", "PORT": str(PORTS[name]), "LOG_LEVEL": "warn",
                  "JWT_SECRET": SECRET, "ADMIN_PASSWORD": "Admin@12345", "RATE_LIMIT_ENABLED": "true",
                  "CACHE_WARM_INTERVAL": "0"}
        for cls in ("", "AUTH_", "REFRESH_"):
            common[f"RATE_LIMIT_{cls}RPM"] = HUGE
            common[f"RATE_LIMIT_{cls}BURST"] = HUGE
        proc = self.spawn(name, [str(RELEASE / "taskify")], {**common, **env})
        wait_ready(f"{base(name)}/ready", proc)
        return proc

    def user(self, name):
        email = f"{name}@bench.test"
        http("POST", f"{base('taskify')}/api/v1/auth/register",
             {"username": name, "email": email, "password": PASSWORD, "first_name": "B", "last_name": "Ench"})
        token = http("POST", f"{base('taskify')}/api/v1/auth/login", {"email": email, "password": PASSWORD})
        uid = psql(f"SELECT id FROM users WHERE username = '{name}'")
        return {"email": email, "token": token["access_token"], "id": uid}

    def seed_tasks(self, user, label, count):
        """`count` tasks of `user` with ids md5('<label>-N'), inserted directly; returns the ids."""
        psql(f"""INSERT INTO tasks (id, user_id, title, description, status, priority, created_at, updated_at, version)
                 SELECT md5('{label}-' || n)::uuid, '{user["id"]}', 'Seeded task ' || n, 'seeded by the suite',
                        'pending', 'medium', now(), now(), 1 FROM generate_series(1, {count}) AS n""")
        return psql(f"SELECT md5('{label}-' || n)::uuid FROM generate_series(1, {count}) AS n").split()

    def setup(self):
        subprocess.run(["psql", f"{PG}/postgres", "-qc", f"CREATE DATABASE {DB}"], check=True)
        self.spawn("redis", ["redis-server", "--port", str(PORTS["redis"]), "--bind", "127.0.0.1", "--save", "",
                             "--appendonly", "no", "--dir", str(self.work)])
        self.main = self.taskify("taskify", {"REDIS_URL": f"redis://127.0.0.1:{PORTS['redis']}/0"})
        self.uncached = self.taskify("uncached", {"CACHE_TASK_TTL": "1ms", "DB_MIGRATE_ON_START": "false"})
        self.ceiling = self.spawn("ceiling", [str(RELEASE / "examples" / "ceiling"), str(PORTS["ceiling"])],
                                  {"JWT_SECRET": SECRET})
        self.reader, self.writer = self.user("reader"), self.user("writer")
        reader_ids = self.seed_tasks(self.reader, "bench-task", 1000)
        writer_ids = self.seed_tasks(self.writer, "bench-write", 1000)
        for name, ids in (("reader", reader_ids), ("writer", writer_ids)):
            (self.work / f"{name}.ids").write_text("\n".join(ids) + "\n")
        lines = []
        for n in range(MIX_USERS):
            user = self.user(f"mix{n}")
            ids = self.seed_tasks(user, f"bench-mix-{n}", 20)
            lines.append(" ".join([user["token"], *ids]))
        (self.work / "mixed.users").write_text("\n".join(lines) + "\n")
        self.read_id = reader_ids[0]
        wait_ready(f"{base('ceiling')}/api/v1/tasks/{self.read_id}", self.ceiling)
        for _ in range(3):  # warm L1 and L2 for the cached rows
            http("GET", f"{base('taskify')}/api/v1/tasks/{self.read_id}", token=self.reader["token"])
            http("GET", f"{base('taskify')}/api/v1/tasks", token=self.reader["token"])

    def workloads(self):
        reader, writer = {"TOKEN": self.reader["token"]}, {"TOKEN": self.writer["token"]}
        t, work = base("taskify"), self.work
        return [
            ("ceiling probe: GET task", self.ceiling, lambda: wrk(f"{base('ceiling')}/api/v1/tasks/{self.read_id}",
                                                          "get_task.lua", reader)),
            ("pgbench: INSERT task", None, lambda: pgbench("pg_insert.sql", work, [f"uid={self.writer['id']}"])),
            ("pgbench: SELECT task by id", None, lambda: pgbench("pg_select.sql", work)),
            ("Taskify: cached GET /tasks/{id}", self.main,
             lambda: wrk(f"{t}/api/v1/tasks/{self.read_id}", "get_task.lua", reader)),
            ("Taskify: cached GET /tasks (page)", self.main, lambda: wrk(f"{t}/api/v1/tasks", "get_task.lua", reader)),
            ("Taskify: uncached GET /tasks/{id}", self.uncached,
             lambda: wrk(base("uncached"), "random_task.lua", {**reader, "IDS_FILE": str(work / "reader.ids")})),
            ("Taskify: POST /tasks", self.main, lambda: wrk(f"{t}/api/v1/tasks", "post_task.lua", writer)),
            ("Taskify: PUT /tasks/{id}", self.main,
             lambda: wrk(t, "random_task.lua", {**writer, "PUT": "1", "IDS_FILE": str(work / "writer.ids")})),
            ("Taskify: POST /auth/login", self.main, lambda: wrk(f"{t}/api/v1/auth/login", "login.lua",
                                                                 {"EMAIL": self.reader["email"], "PASSWORD": PASSWORD})),
            (MIXED, self.main, lambda: self.mixed()),
        ]

    def mixed(self, rate=None, seconds=None, every_10s=None):
        env = {"USERS_FILE": str(self.work / "mixed.users"), **({"RATE": str(rate)} if rate else {})}
        return wrk(base("taskify"), "mixed.lua", env, seconds, every_10s)

    def soak(self, rate):
        """The paced mixed workload for SOAK seconds; the server's RSS sampled every 10 s."""
        samples = [rss_mib(self.main, "VmRSS")]
        result = self.mixed(rate, SOAK, lambda: samples.append(rss_mib(self.main, "VmRSS")))
        return result, samples


def report(rows, started, extra=()):
    def cell(v, fmt):
        return "—" if v != v else fmt.format(v)  # NaN → dash

    med = {name: {k: statistics.median(r[k] for r in runs) for k in runs[0]} for name, runs in rows.items()}
    lines = [f"Run of {time.strftime('%Y-%m-%d %H:%M', time.gmtime(started))} UTC, commit {commit()}: "
             f"{ROUNDS} alternating rounds of {SECONDS} s per workload, {CONNECTIONS} connections, "
             f"{THREADS} load thread(s); medians of the rounds.", "",
             "| Workload | Requests/s | p50 | p99 | Errors | Peak RSS | CPU per request (PostgreSQL's) |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for name, m in med.items():
        lines.append(f"| {name} | {m['rps']:,.0f} | {cell(m['p50'], '{:.2f} ms')} | {cell(m['p99'], '{:.2f} ms')} "
                     f"| {m['errors']:.0f} | {cell(m.get('rss', float('nan')), '{:.0f} MiB')} "
                     f"| {cell(m.get('cpu_us', float('nan')), '{:.0f} µs')} ({cell(m.get('pg_us', float('nan')), '{:.0f}')}) |")
    ratios = [("cached GET / ceiling probe", "Taskify: cached GET /tasks/{id}", "ceiling probe: GET task", 0.5),
              ("POST / pgbench INSERT", "Taskify: POST /tasks", "pgbench: INSERT task", 0.4),
              ("uncached GET / pgbench SELECT", "Taskify: uncached GET /tasks/{id}", "pgbench: SELECT task by id", 0.5)]
    lines += ["", "| Ratio | Value | Target |", "|---|---:|---:|"]
    for label, a, b, target in ratios:
        if a in med and b in med and med[b]["rps"]:
            lines.append(f"| {label} | {med[a]['rps'] / med[b]['rps']:.2f}× | ≥ {target}× |")
    lines += ["", *extra] if extra else []
    text = "\n".join(lines) + "\n"
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(text)
    print(text)
    print(f"(written to {OUT})")


def commit():
    out = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    return out.stdout.strip() or "unknown"


def main():
    started = time.time()
    with tempfile.TemporaryDirectory(prefix="taskify-bench-") as tmp:
        suite = Suite(Path(tmp))
        try:
            suite.setup()
            rows = {}
            for round_no in range(1, ROUNDS + 1):
                for name, server, run in suite.workloads():
                    if ONLY and not any(o in name for o in ONLY):
                        continue
                    if server is not None:
                        reset_peak(server)
                    cpu_before = cpu_snapshot(server)
                    result = run()
                    served = result["rps"] * SECONDS
                    spent = [(after - before) * 1e6 / served if served else float("nan")
                             for before, after in zip(cpu_before, cpu_snapshot(server))]
                    result["cpu_us"], result["pg_us"] = sum(spent), spent[1]
                    if server is not None:
                        result["rss"] = rss_mib(server)
                    rows.setdefault(name, []).append(result)
                    print(f"round {round_no}: {name}: {result['rps']:,.0f}/s p50 {result['p50']:.2f} ms "
                          f"p99 {result['p99']:.2f} ms errors {result['errors']} CPU {result['cpu_us']:.0f} µs/req "
                          f"({result['pg_us']:.0f} of them PostgreSQL's)",
                          flush=True)
            extra = []
            if MIXED in rows:
                half = round(statistics.median(r["rps"] for r in rows[MIXED]) / 2)
                reset_peak(suite.main)
                result = suite.mixed(rate=half)
                result["rss"] = rss_mib(suite.main)
                rows[f"Taskify: mixed, paced at half its maximum ({half:,}/s)"] = [result]
                print(f"paced mixed: {result}", flush=True)
                if SOAK:
                    soaked, samples = suite.soak(half)
                    extra.append(f"Soak: the mixed workload paced at {half:,}/s for {SOAK} s: {soaked['rps']:,.0f}/s, "
                                 f"p99 {soaked['p99']:.2f} ms, {soaked['errors']} errors; resident memory every 10 s "
                                 f"(MiB): {', '.join(f'{m:.0f}' for m in samples)}.")
            report(rows, started, extra)
        finally:
            suite.stop()
            subprocess.run(["psql", f"{PG}/postgres", "-qc", f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)"])


if __name__ == "__main__":
    main()
