"""A Telegram name with control or bidirectional characters, or of any length, is kept safe.

The informant did not type the name for the study and cannot easily change it, so the bot
does not refuse it: the vault keeps it cleaned (NFC, no controls) and cut to the bound, and
enrolment goes on. Real PTB Application ↔ the Bot API stand-in.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from fieldvault.config.text_checks import unsafe_character
from fieldvault.storage.db import transaction
from fieldvault.storage.models import Participant
from fieldvault.storage.services import Services
from tests.fakes.bot_harness import BotHarness, Clock
from tests.integration.conftest import NOW

pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")


@pytest.fixture
def bot(services: Services, study_id: str) -> BotHarness:
    return BotHarness(services, study_id, Clock(NOW))


def test_a_telegram_name_with_an_override_and_a_control_is_stored_cleaned_and_bounded(
    bot: BotHarness,
) -> None:
    [code] = bot.invites()

    async def scenario(h: BotHarness) -> None:
        odd = h.tg.user(777, "Kari\u202e\x07", "Nordmann" * 40, language_code="nb")
        [welcome] = await odd.send(f"/start {code}")
        assert welcome.labels() == ["Norsk bokmål", "Norsk nynorsk", "English"]

    bot.run(scenario)
    with transaction(bot.services.research) as session:
        [participant] = session.scalars(select(Participant)).all()
    identity = bot.services.vault.get(bot.study_id, participant.code)
    assert identity is not None and identity.name is not None
    assert identity.name.startswith("Kari Nordmann")
    assert len(identity.name) == bot.services.settings.identity_name_max_chars
    assert unsafe_character(identity.name, multiline=False) is None
    assert identity.telegram_user_id == 777
