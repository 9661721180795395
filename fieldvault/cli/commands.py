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
    from fieldvault.cli import model_cmds, transcript_cmds, worker_cmds

    root.add_command(worker_cmds.upload)
    root.add_command(worker_cmds.worker)
    root.add_command(worker_cmds.jobs)
    root.add_command(transcript_cmds.transcript)
    root.add_command(model_cmds.models)
    from fieldvault.cli import bot_cmds

    root.add_command(bot_cmds.bot)
    root.add_command(bot_cmds.researcher)
    from fieldvault.cli import web_cmds

    root.add_command(web_cmds.web)
    bot_cmds.researcher.add_command(web_cmds.api_token)
    from fieldvault.cli import retention_cmds

    study_cmds.study.add_command(retention_cmds.extend)
    root.add_command(retention_cmds.retention_group, name="retention")
    from fieldvault.cli import pseudonymise_cmds, review_cmds, terms_cmds

    root.add_command(pseudonymise_cmds.pseudonymise_cmd)
    root.add_command(terms_cmds.terms)
    root.add_command(review_cmds.review)
    from fieldvault.cli import export_cmds

    root.add_command(export_cmds.export)
