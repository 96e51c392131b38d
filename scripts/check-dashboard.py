#!/usr/bin/env python3
"""Validate a Grafana dashboard and the metric names its queries use.

    scripts/check-dashboard.py [DASHBOARD.json] [--metrics FILE]... [--doc OPERATIONS.md] [--allow NAME]...

DASHBOARD defaults to deploy/grafana/dashboards/taskify.json. The known metric names come from:
  --metrics FILE  a Prometheus text exposition, e.g. `curl -s 127.0.0.1:8080/metrics > m.txt`
                  (repeatable; histogram and summary families also give _bucket, _sum, _count);
  --doc FILE      a Markdown file whose "## Metrics" table lists the metrics (histograms expanded
                  likewise); docs/operations.md by default;
  --allow NAME    extra names (repeatable). `up` is always known: Prometheus adds it per target.
With neither --metrics nor --doc, the table of docs/operations.md is used.

Checks: the file is JSON; the dashboard has a title, a uid and panels; every panel has a unique
id, a type, a title and a gridPos inside the 24-column grid; every query panel has targets with
an expression and a datasource; every metric name in a panel expression or a template variable
query is known; and every metric that docs/operations.md asks the dashboard to show is used (disable with
--no-coverage). Exit status: 0 when everything passes, 1 on a failed check, 2 on bad usage or an
unreadable input.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEFAULT_DASHBOARD = REPO / "deploy" / "grafana" / "dashboards" / "taskify.json"
DEFAULT_DOC = REPO / "docs" / "operations.md"

ALWAYS_KNOWN = {"up"}

# Metrics the dashboard must show (docs/operations.md, "Dashboard and Prometheus"), one or more per
# required panel.
REQUIRED = {
    "request rate by route": ["http_requests_total"],
    "4xx and 5xx rates": ["http_requests_total"],
    "p50, p95 and p99 latency": ["http_request_duration_seconds_bucket"],
    "requests in flight": ["http_requests_in_flight"],
    "cache hit rate by level": ["cache_operations_total"],
    "breaker state": ["circuit_breaker_state"],
    "pending invalidations": ["cache_pending_invalidations"],
    "job queue sizes": ["cache_jobs_queue_size"],
    "jobs processed": ["cache_jobs_processed_total"],
    "jobs failed": ["cache_jobs_failed_total"],
    "DLQ counts": ["cache_jobs_dead_lettered_total"],
    "rate-limited requests": ["rate_limit_decisions_total"],
    "authz decisions": ["authz_decisions_total"],
    "logins by result": ["auth_logins_total"],
    "DB pool usage": ["db_pool_connections"],
    "instance count": ["up"],
}

PROMQL_KEYWORDS = {
    "by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or", "unless",
    "offset", "inf", "nan", "atan2", "start", "end",
}
IDENT = re.compile(r"[A-Za-z_:][A-Za-z0-9_:]*")


def fail_usage(message: str) -> None:
    print(f"check-dashboard: {message}", file=sys.stderr)
    sys.exit(2)


def names_from_exposition(text: str) -> set[str]:
    """Metric names in a Prometheus text exposition (TYPE lines and samples)."""
    names: set[str] = set()
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        if line.startswith("#"):
            parts = line.split()
            if len(parts) >= 4 and parts[1] == "TYPE":
                name, kind = parts[2], parts[3]
                names.add(name)
                if kind in ("histogram", "summary"):
                    names.update({f"{name}_bucket", f"{name}_sum", f"{name}_count"})
            continue
        match = IDENT.match(line)
        if match:
            names.add(match.group(0))
    return names


def names_from_doc(text: str) -> set[str]:
    """Metric names of the "## Metrics" table, histograms expanded to their series."""
    section = re.search(r"^## Metrics\n.*?(?=^## |\Z)", text, re.S | re.M)
    if not section:
        fail_usage("the document has no section '## Metrics'")
    names: set[str] = set()
    for line in section.group(0).splitlines():
        cells = [c.strip() for c in line.split("|")]
        if len(cells) < 4 or not cells[1].startswith("`"):
            continue
        kind = cells[2]
        for name in re.findall(r"`([a-z_:][a-z0-9_:]*)`", cells[1]):
            names.add(name)
            if kind.startswith("histogram") or kind.startswith("summary"):
                names.update({f"{name}_bucket", f"{name}_sum", f"{name}_count"})
    if not names:
        fail_usage("no metric names found in the '## Metrics' table")
    return names


def strip_promql(expr: str) -> str:
    """Removes from an expression everything that is not a metric or function name."""
    expr = re.sub(r'"(?:\\.|[^"\\])*"', " ", expr)  # string literals
    expr = re.sub(r"'(?:\\.|[^'\\])*'", " ", expr)
    expr = re.sub(r"`[^`]*`", " ", expr)
    expr = re.sub(r"#[^\n]*", " ", expr)  # comments
    expr = re.sub(r"\{[^{}]*\}", " ", expr)  # label matchers
    expr = re.sub(r"\[[^\[\]]*\]", " ", expr)  # range and subquery selectors
    # Label lists of grouping and vector-matching modifiers.
    expr = re.sub(
        r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)", " ", expr, flags=re.I
    )
    expr = re.sub(r"\$\{[^}]*\}|\$[A-Za-z_][A-Za-z0-9_]*", " ", expr)  # Grafana variables
    expr = re.sub(r"\b\d+(\.\d+)?([eE][+-]?\d+)?[smhdwy]?\b", " ", expr)  # numbers, durations
    return expr


def metric_names(expr: str) -> set[str]:
    stripped = strip_promql(expr)
    names = set()
    for match in IDENT.finditer(stripped):
        word = match.group(0)
        rest = stripped[match.end():].lstrip()
        if rest.startswith("("):
            continue  # a function or an aggregation
        if word.lower() in PROMQL_KEYWORDS:
            continue
        names.add(word)
    return names


def label_values_metric(query: str) -> set[str]:
    """The metric of a Grafana `label_values(metric{…}, label)` or `query_result(…)` query."""
    match = re.match(r"\s*label_values\s*\((.*),\s*[A-Za-z_][A-Za-z0-9_]*\s*\)\s*$", query, re.S)
    if match:
        return metric_names(match.group(1))
    match = re.match(r"\s*query_result\s*\((.*)\)\s*$", query, re.S)
    if match:
        return metric_names(match.group(1))
    if re.match(r"\s*label_values\s*\(", query) or re.match(r"\s*(label_names|metrics)\s*\(", query):
        return set()
    return metric_names(query)


def all_panels(panels: list) -> list:
    """Panels, including those nested in collapsed rows."""
    out = []
    for panel in panels:
        out.append(panel)
        out.extend(all_panels(panel.get("panels") or []))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dashboard", nargs="?", default=str(DEFAULT_DASHBOARD))
    parser.add_argument("--metrics", action="append", default=[], metavar="FILE")
    parser.add_argument("--doc", metavar="FILE")
    parser.add_argument("--allow", action="append", default=[], metavar="NAME")
    parser.add_argument("--no-coverage", action="store_true", help="skip the required-panel coverage check")
    args = parser.parse_args()

    known = set(ALWAYS_KNOWN) | set(args.allow)
    doc = args.doc
    if not args.metrics and not doc:
        doc = str(DEFAULT_DOC)
    sources = []
    try:
        for path in args.metrics:
            known |= names_from_exposition(Path(path).read_text(encoding="utf-8"))
            sources.append(path)
        if doc:
            known |= names_from_doc(Path(doc).read_text(encoding="utf-8"))
            sources.append(f"{doc} (Metrics)")
        raw = Path(args.dashboard).read_text(encoding="utf-8")
    except OSError as e:
        fail_usage(str(e))

    errors: list[str] = []
    try:
        dashboard = json.loads(raw)
    except json.JSONDecodeError as e:
        print(f"FAIL {args.dashboard}: not valid JSON: {e}")
        return 1
    if isinstance(dashboard, dict) and "dashboard" in dashboard and "panels" not in dashboard:
        dashboard = dashboard["dashboard"]  # an API export wrapper
    if not isinstance(dashboard, dict):
        print(f"FAIL {args.dashboard}: the top level is not an object")
        return 1

    for key in ("title", "uid"):
        if not isinstance(dashboard.get(key), str) or not dashboard[key]:
            errors.append(f"dashboard: missing {key}")
    panels = dashboard.get("panels")
    if not isinstance(panels, list) or not panels:
        errors.append("dashboard: no panels")
        panels = []

    used: dict[str, list[str]] = {}
    ids: set = set()
    for panel in all_panels(panels):
        title = panel.get("title") or f"panel {panel.get('id')}"
        where = f"panel '{title}'"
        if panel.get("id") in ids:
            errors.append(f"{where}: duplicate id {panel.get('id')}")
        ids.add(panel.get("id"))
        if not panel.get("type"):
            errors.append(f"{where}: no type")
        if not panel.get("title"):
            errors.append(f"panel {panel.get('id')}: no title")
        grid = panel.get("gridPos") or {}
        if not all(isinstance(grid.get(k), int) for k in ("h", "w", "x", "y")):
            errors.append(f"{where}: gridPos needs integer h, w, x and y")
        elif grid["x"] < 0 or grid["w"] < 1 or grid["x"] + grid["w"] > 24:
            errors.append(f"{where}: gridPos outside the 24-column grid")
        if panel.get("type") in ("row", "text", "news", "dashlist"):
            continue
        targets = panel.get("targets") or []
        if not targets:
            errors.append(f"{where}: no targets")
        if not (panel.get("datasource") or all(t.get("datasource") for t in targets)):
            errors.append(f"{where}: no datasource")
        for target in targets:
            expr = target.get("expr")
            if not isinstance(expr, str) or not expr.strip():
                errors.append(f"{where}: target {target.get('refId')} has no expr")
                continue
            if expr.count("(") != expr.count(")"):
                errors.append(f"{where}: unbalanced parentheses in {expr!r}")
            for name in metric_names(expr):
                used.setdefault(name, []).append(where)

    for variable in (dashboard.get("templating") or {}).get("list") or []:
        if variable.get("type") != "query":
            continue
        query = variable.get("query")
        if isinstance(query, dict):
            query = query.get("query")
        if isinstance(query, str) and query.strip():
            for name in label_values_metric(query):
                used.setdefault(name, []).append(f"variable '{variable.get('name')}'")

    for name in sorted(used):
        if name not in known:
            errors.append(f"unknown metric {name} (in {', '.join(sorted(set(used[name])))})")

    if not args.no_coverage:
        for topic, names in REQUIRED.items():
            if not any(n in used for n in names):
                errors.append(f"required panel missing: {topic} (no query uses {' or '.join(names)})")

    count = len(all_panels(panels))
    if errors:
        for error in errors:
            print(f"FAIL {error}")
        print(f"{args.dashboard}: {len(errors)} problem(s); {count} panels, "
              f"{len(used)} metric names, known from {', '.join(sources) or 'nothing'}")
        return 1
    print(f"OK {args.dashboard}: {count} panels, {len(used)} metric names, all known "
          f"(from {', '.join(sources)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
