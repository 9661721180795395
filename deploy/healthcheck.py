"""Container healthchecks of the fieldvault image (docker-compose.yml), standard library only.

    python /opt/fieldvault/healthcheck.py http http://127.0.0.1:8080/api/health
    python /opt/fieldvault/healthcheck.py deps

``http`` passes when the URL answers 200 within the timeout. ``deps`` is for the processes
without the web app (bot, workers, scheduler): it passes when the process's own metrics server
answers (``/metrics`` on FIELDVAULT_METRICS_PORT, when set) and every server the process depends
on (the hosts of FIELDVAULT_DATABASE_URL, FIELDVAULT_VAULT_URL, FIELDVAULT_QUEUE_URL and
FIELDVAULT_S3_ENDPOINT_URL) accepts a TCP connection, so a hung process, or one cut off from its
queue or its databases, turns unhealthy. It never imports fieldvault (a check must cost
milliseconds) and it names a server by host and port only: no user name or password reaches
the log.
"""

from __future__ import annotations

import os
import socket
import sys
import urllib.error
import urllib.request
from urllib.parse import urlsplit

TIMEOUT_S = 3.0
DEPENDENCIES = (
    "FIELDVAULT_DATABASE_URL",
    "FIELDVAULT_VAULT_URL",
    "FIELDVAULT_QUEUE_URL",
    "FIELDVAULT_S3_ENDPOINT_URL",
)
DEFAULT_PORTS = {
    "postgresql": 5432,
    "redis": 6379,
    "rediss": 6379,
    "http": 80,
    "https": 443,
}


def server_of(url: str) -> tuple[str, int] | None:
    """The (host, port) a URL names, or None for one without a network server (SQLite, unix)."""
    parts = urlsplit(url)
    scheme = parts.scheme.split("+", 1)[0]
    if scheme not in DEFAULT_PORTS or not parts.hostname:
        return None
    return parts.hostname, parts.port or DEFAULT_PORTS[scheme]


def check_http(url: str) -> str | None:
    """None when ``url`` answers 200, else what went wrong."""
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_S) as response:
            status = response.status
    except urllib.error.HTTPError as exc:
        status = exc.code
    except (OSError, ValueError) as exc:
        return f"{url}: {type(exc).__name__}"
    return None if status == 200 else f"{url}: HTTP {status}"


def check_dependencies(environ: dict[str, str]) -> list[str]:
    """What is unreachable among the servers the settings in ``environ`` name (empty: all up)."""
    problems = []
    port = environ.get("FIELDVAULT_METRICS_PORT", "")
    if port:
        problem = check_http(f"http://127.0.0.1:{port}/metrics")
        if problem is not None:
            problems.append(f"FIELDVAULT_METRICS_PORT: {problem}")
    for name in DEPENDENCIES:
        value = environ.get(name, "")
        server = server_of(value) if value else None
        if server is None:
            continue
        try:
            with socket.create_connection(server, timeout=TIMEOUT_S):
                pass
        except OSError as exc:
            problems.append(f"{name}: {server[0]}:{server[1]} unreachable ({type(exc).__name__})")
    return problems


def main(argv: list[str]) -> int:
    """Run the check ``argv`` names; 0 healthy, 1 unhealthy, 2 a wrong call."""
    if len(argv) == 2 and argv[0] == "http":
        problem = check_http(argv[1])
        problems = [] if problem is None else [problem]
    elif argv == ["deps"]:
        problems = check_dependencies(dict(os.environ))
    else:
        print("usage: healthcheck.py http URL | healthcheck.py deps", file=sys.stderr)
        return 2
    for problem in problems:
        print(f"unhealthy: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
