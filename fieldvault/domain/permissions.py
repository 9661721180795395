"""Who may do what in a study: the four roles of the web app and the actions each may take.

One table, read by every front end that acts for a researcher (the web pages now); the
authorisation test walks every route against it. A ``dpo`` (data-protection officer) sees
deadlines, the retention report and the audit chain, never research content or identities.
"""

from __future__ import annotations

import enum


class Role(enum.StrEnum):
    """A researcher's role in one study."""

    OWNER = "owner"
    RESEARCHER = "researcher"
    SUPERVISOR = "supervisor"
    DPO = "dpo"


class Action(enum.StrEnum):
    """Something a researcher asks to do in a study."""

    VIEW_STUDY = "view_study"  # the study's name, state and deadline
    VIEW_PARTICIPANTS = "view_participants"  # codes, pseudonyms, states, consent, variables
    REVEAL_IDENTITY = "reveal_identity"  # one participant's real name, audited
    MANAGE_INVITES = "manage_invites"
    REGISTER_PAPER_CONSENT = "register_paper_consent"
    UPLOAD = "upload"
    VIEW_JOBS = "view_jobs"
    REVIEW = "review"  # read and edit a transcript under review, play its recording
    APPROVE = "approve"
    EXPORT = "export"
    VIEW_RETENTION = "view_retention"  # deadline, reminders, the DPO report
    EXTEND_RETENTION = "extend_retention"
    VIEW_AUDIT = "view_audit"
    MANAGE_SECURITY = "manage_security"  # e.g. require a second factor for the study


_ALL = frozenset(Role)
_TEAM = frozenset({Role.OWNER, Role.RESEARCHER})
_READERS = frozenset({Role.OWNER, Role.RESEARCHER, Role.SUPERVISOR})

ALLOWED: dict[Action, frozenset[Role]] = {
    Action.VIEW_STUDY: _ALL,
    Action.VIEW_PARTICIPANTS: _READERS,
    Action.REVEAL_IDENTITY: _TEAM,
    Action.MANAGE_INVITES: _TEAM,
    Action.REGISTER_PAPER_CONSENT: _TEAM,
    Action.UPLOAD: _TEAM,
    Action.VIEW_JOBS: _READERS,
    Action.REVIEW: _READERS,
    Action.APPROVE: _TEAM,
    Action.EXPORT: _TEAM,
    Action.VIEW_RETENTION: _ALL,
    Action.EXTEND_RETENTION: frozenset({Role.OWNER}),
    Action.VIEW_AUDIT: frozenset({Role.OWNER, Role.SUPERVISOR, Role.DPO}),
    Action.MANAGE_SECURITY: frozenset({Role.OWNER}),
}


def may(role: Role | str, action: Action) -> bool:
    """Whether ``role`` may take ``action``."""
    try:
        return Role(role) in ALLOWED[action]
    except ValueError:
        return False
