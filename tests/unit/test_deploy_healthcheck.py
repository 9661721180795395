"""deploy/healthcheck.py, the containers' healthcheck, run as the image runs it (a subprocess).

A real HTTP server and real listening sockets on 127.0.0.1 stand for the web app and the
servers a worker depends on.
"""

from __future__ import annotations

import http.server
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "deploy" / "healthcheck.py"


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", **(env or {})},
        timeout=30,
        check=False,
    )


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        status = {"/api/health": 200, "/api/ready": 503, "/metrics": 200}.get(self.path, 404)
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def web() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@pytest.fixture
def listening() -> Iterator[int]:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        yield server.getsockname()[1]


@pytest.fixture
def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def test_http_passes_when_the_url_answers_200(web: str) -> None:
    result = run("http", f"{web}/api/health")
    assert (result.returncode, result.stderr) == (0, "")


def test_http_fails_on_another_status_and_says_which(web: str) -> None:
    result = run("http", f"{web}/api/ready")
    assert result.returncode == 1
    assert "HTTP 503" in result.stderr


def test_http_fails_when_nothing_listens(closed_port: int) -> None:
    result = run("http", f"http://127.0.0.1:{closed_port}/api/health")
    assert result.returncode == 1
    assert "unhealthy" in result.stderr


def test_deps_passes_when_every_named_server_accepts_a_connection(listening: int) -> None:
    env = {
        "FIELDVAULT_DATABASE_URL": f"postgresql+psycopg://r:pw@127.0.0.1:{listening}/research",
        "FIELDVAULT_VAULT_URL": f"postgresql+psycopg://v:pw@127.0.0.1:{listening}/vault",
        "FIELDVAULT_QUEUE_URL": f"redis://:pw@127.0.0.1:{listening}/0",
        "FIELDVAULT_S3_ENDPOINT_URL": f"http://127.0.0.1:{listening}",
    }
    result = run("deps", env=env)
    assert (result.returncode, result.stderr) == (0, "")


def test_deps_fails_naming_the_unreachable_server_without_its_password(
    listening: int, closed_port: int
) -> None:
    env = {
        "FIELDVAULT_DATABASE_URL": f"postgresql+psycopg://r:pw@127.0.0.1:{listening}/research",
        "FIELDVAULT_QUEUE_URL": f"redis://:s3cr3t-queue-pw@127.0.0.1:{closed_port}/0",
    }
    result = run("deps", env=env)
    assert result.returncode == 1
    assert f"FIELDVAULT_QUEUE_URL: 127.0.0.1:{closed_port} unreachable" in result.stderr
    assert "DATABASE_URL" not in result.stderr
    assert "s3cr3t" not in result.stderr + result.stdout


def test_deps_asks_the_process_own_metrics_server_when_it_has_one(
    web: str, closed_port: int
) -> None:
    port = web.rsplit(":", 1)[1]
    assert run("deps", env={"FIELDVAULT_METRICS_PORT": port}).returncode == 0
    result = run("deps", env={"FIELDVAULT_METRICS_PORT": str(closed_port)})
    assert result.returncode == 1
    assert "FIELDVAULT_METRICS_PORT" in result.stderr


def test_deps_ignores_settings_that_name_no_network_server() -> None:
    result = run("deps", env={"FIELDVAULT_DATABASE_URL": "sqlite:////tmp/research.sqlite3"})
    assert (result.returncode, result.stderr) == (0, "")


def test_a_wrong_call_exits_2_with_the_usage() -> None:
    result = run("tcp")
    assert result.returncode == 2
    assert "usage" in result.stderr
