"""Collects every command family into the root group."""

from __future__ import annotations

import click


def register(root: click.Group) -> None:
    """Attach all command families to ``root``."""
    from fieldvault.cli import study_cmds

    root.add_command(study_cmds.study)
