"""FIELDVAULT_METRICS_PORT: the worker's, scheduler's and bot's own /metrics server."""

from __future__ import annotations

import socket
import urllib.request
from pathlib import Path

import pytest

from fieldvault.cli.context import serve_metrics
from fieldvault.config.settings import load_settings
from fieldvault.errors import ConfigError


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def test_the_metrics_server_answers_on_its_port(tmp_path: Path) -> None:
    port = free_port()
    serve_metrics(load_settings(environ={}, data_dir=tmp_path, metrics_port=port))
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        body = response.read().decode()
    assert "fieldvault_queue_depth" in body and "fieldvault_sweeps_total" in body


def test_a_metrics_port_in_use_is_one_clear_error_naming_the_setting(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        settings = load_settings(environ={}, data_dir=tmp_path, metrics_port=port)
        with pytest.raises(ConfigError, match=f"127.0.0.1:{port}.*FIELDVAULT_METRICS_PORT"):
            serve_metrics(settings)
