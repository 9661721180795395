"""Where a participant is in a study, and the moves between those states."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from enum import StrEnum

from fieldvault.domain.errors import IllegalTransition
from fieldvault.storage.models import Participant

__all__ = ["HOLDS_CONSENT", "TRANSITIONS", "State", "transition"]


class State(StrEnum):
    """Where a participant is in the study."""

    INVITED = "invited"
    INFORMED = "informed"
    CONSENTED = "consented"
    DECLINED = "declined"
    WITHDRAWN = "withdrawn"
    INTERVIEWED = "interviewed"
    TRANSCRIBED = "transcribed"
    APPROVED = "approved"


# Allowed moves. Paper consent goes straight from invited to consented/declined because the
# letter was handed over on paper. A declined informant may read the letter again and
# reconsider; withdrawal is possible from every state that holds consent, and is final.
TRANSITIONS: Mapping[State, frozenset[State]] = {
    State.INVITED: frozenset({State.INFORMED, State.CONSENTED, State.DECLINED, State.WITHDRAWN}),
    State.INFORMED: frozenset({State.INFORMED, State.CONSENTED, State.DECLINED, State.WITHDRAWN}),
    State.DECLINED: frozenset({State.INFORMED, State.CONSENTED, State.WITHDRAWN}),
    State.CONSENTED: frozenset({State.INFORMED, State.INTERVIEWED, State.WITHDRAWN}),
    State.INTERVIEWED: frozenset({State.INFORMED, State.TRANSCRIBED, State.WITHDRAWN}),
    State.TRANSCRIBED: frozenset({State.INFORMED, State.APPROVED, State.WITHDRAWN}),
    State.APPROVED: frozenset({State.INFORMED, State.WITHDRAWN}),
    State.WITHDRAWN: frozenset(),
}

# States in which a consent has been given and not withdrawn.
HOLDS_CONSENT = frozenset({State.CONSENTED, State.INTERVIEWED, State.TRANSCRIBED, State.APPROVED})


def transition(participant: Participant, new: State, now: dt.datetime) -> None:
    """Move ``participant`` to ``new`` or raise IllegalTransition."""
    current = State(participant.state)
    if current in HOLDS_CONSENT and new is State.INFORMED:
        # Re-reading a new letter version does not undo the consent already given.
        return
    if new not in TRANSITIONS[current]:
        raise IllegalTransition(
            f"participant {participant.code} is {current.value}; it cannot become {new.value}"
        )
    participant.state = new.value
    participant.state_changed_at = now
