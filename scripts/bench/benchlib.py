"""What the benchmark scripts (suite.py, lists.py, callgrind.py) share: JSON over HTTP, a free
port and waiting for a server."""

import json
import socket
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


def free_port():
    """A loopback port that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(url, proc, seconds=120):
    """Polls `url` until it answers (any status), for at most `seconds`; exits if `proc` dies."""
    deadline = time.monotonic() + seconds
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
