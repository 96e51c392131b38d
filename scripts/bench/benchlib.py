"""What the benchmark scripts (suite.py, lists.py) share: JSON over HTTP and waiting for a server."""

import json
import sys
import time
import urllib.error
import urllib.request


def http(method, url, body=None, token=None, timeout=60):
    """One JSON request; the decoded answer (None for an empty body). Raises on a non-2xx."""
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, headers=headers, method=method)
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        text = resp.read()
    return json.loads(text) if text else None


def wait_ready(url, proc):
    """Polls `url` until it answers (any status), for at most 120 s; exits if `proc` dies."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(f"process for {url} exited with {proc.returncode}")
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except urllib.error.HTTPError:  # it answers: ready (the probe answers 401 without a token)
            return
        except OSError:  # refused, reset or timed out (URLError is one too): not yet
            time.sleep(0.2)
    sys.exit(f"not ready: {url}")
