"""Alembic environments: research/ and vault/, sharing environment.py."""
