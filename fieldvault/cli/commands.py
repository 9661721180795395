"""Collects every command family into the root group."""

from __future__ import annotations

import click


def register(root: click.Group) -> None:
    """Attach all command families to ``root``."""
    from fieldvault.cli import (
        audit_cmds,
        consent_cmds,
        key_cmds,
        participant_cmds,
        setup_cmds,
        study_admin_cmds,
        study_cmds,
    )

    for command in (study_admin_cmds.create, study_admin_cmds.update, study_admin_cmds.list_):
        study_cmds.study.add_command(command)
    root.add_command(setup_cmds.init)
    root.add_command(setup_cmds.serve)
    root.add_command(study_cmds.study)
    root.add_command(participant_cmds.invite)
    root.add_command(participant_cmds.participant)
    root.add_command(participant_cmds.participants)
    root.add_command(consent_cmds.consent)
    root.add_command(audit_cmds.audit_group)
    root.add_command(key_cmds.keys)
