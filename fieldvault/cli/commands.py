"""Collects every command family into the root group."""

from __future__ import annotations

import click

from fieldvault.cli import (
    audit_cmds,
    backup_cmds,
    bot_cmds,
    consent_cmds,
    demo_cmds,
    export_cmds,
    key_cmds,
    model_cmds,
    participant_cmds,
    pseudonymise_cmds,
    recording_cmds,
    researcher_cmds,
    retention_cmds,
    review_cmds,
    scheduler_cmds,
    setup_cmds,
    study_cmds,
    terms_cmds,
    transcript_cmds,
    web_cmds,
    worker_cmds,
)


def register(root: click.Group) -> None:
    """Attach all command families to ``root``."""
    root.add_command(setup_cmds.init)
    root.add_command(setup_cmds.serve)
    root.add_command(study_cmds.study)
    root.add_command(participant_cmds.invite)
    root.add_command(participant_cmds.participant)
    root.add_command(participant_cmds.participants)
    root.add_command(consent_cmds.consent)
    root.add_command(audit_cmds.audit_group)
    root.add_command(key_cmds.keys)
    root.add_command(backup_cmds.backup)
    root.add_command(worker_cmds.upload)
    root.add_command(worker_cmds.worker)
    root.add_command(scheduler_cmds.scheduler)
    root.add_command(worker_cmds.jobs)
    root.add_command(recording_cmds.recording)
    root.add_command(transcript_cmds.transcript)
    root.add_command(model_cmds.models)
    root.add_command(bot_cmds.bot)
    root.add_command(researcher_cmds.researcher)
    root.add_command(web_cmds.web)
    root.add_command(retention_cmds.retention_group, name="retention")
    root.add_command(pseudonymise_cmds.pseudonymise_cmd)
    root.add_command(terms_cmds.terms)
    root.add_command(review_cmds.review)
    root.add_command(export_cmds.export)
    root.add_command(demo_cmds.demo)
