"""What the benchmarks share: PostgreSQL databases of their own, and percentiles in ms."""

from __future__ import annotations

import os
import secrets

import psycopg


def database_env() -> dict[str, str]:
    """The database URLs this run uses (PostgreSQL ones when --postgres set them)."""
    keys = ("FIELDVAULT_DATABASE_URL", "FIELDVAULT_VAULT_URL")
    return {k: os.environ[k] for k in keys if k in os.environ}


def create_postgres_databases() -> dict[str, str]:
    """Two fresh PostgreSQL databases (research, vault); ``drop_postgres_databases`` ends them."""
    suffix = secrets.token_hex(4)
    urls = {}
    with psycopg.connect("host=127.0.0.1 user=postgres dbname=postgres", autocommit=True) as db:
        for key, name in (
            ("FIELDVAULT_DATABASE_URL", f"fvbench_research_{suffix}"),
            ("FIELDVAULT_VAULT_URL", f"fvbench_vault_{suffix}"),
        ):
            db.execute(f'CREATE DATABASE "{name}"')
            urls[key] = f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    return urls


def drop_postgres_databases() -> None:
    """Drop the databases ``create_postgres_databases`` made."""
    with psycopg.connect("host=127.0.0.1 user=postgres dbname=postgres", autocommit=True) as db:
        for key in ("FIELDVAULT_DATABASE_URL", "FIELDVAULT_VAULT_URL"):
            name = os.environ.pop(key).rsplit("/", 1)[1]
            db.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000
