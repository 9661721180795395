"""Rotating the linkage key keeps every informant and researcher reachable through the bot.

The bot finds a chat, an account and an informant's identity by HMACs of Telegram ids (the ids
themselves are never stored). Those HMACs are under the lookup keys, which `keys rotate` leaves
alone, so after a rotation, the old key's retirement and a restart (a fresh Application and
services loaded from disk) everyone is still known.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import Iterator

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from fieldvault.cli import cli
from fieldvault.cli.commands import register as register_commands
from fieldvault.config.settings import Settings
from fieldvault.domain.researcher_links import create_link_code, researcher_chats
from fieldvault.errors import ConfigError
from fieldvault.storage.db import transaction
from fieldvault.storage.keys import add_key, load_key_file
from fieldvault.storage.lookups import LookupKeys, create_lookup_key_file
from fieldvault.storage.models import Participant, VaultIdentity
from fieldvault.storage.services import Services, initialise, open_services
from tests.fakes.bot_harness import BotHarness, Clock
from tests.fakes.telegram_api import FakeUser
from tests.integration.conftest import NOW

INFORMANT, RESEARCHER = 611, 751


@pytest.fixture
def bot(services: Services, study_id: str) -> Iterator[BotHarness]:
    harness = BotHarness(services, study_id, Clock(NOW))
    yield harness
    if harness.services is not services:  # the services the "restart" opened
        harness.services.close()


def _rotate_with_the_command(settings: Settings, retired: int = 1) -> None:
    """``fieldvault keys rotate linkage`` in-process, against the test's data dir."""
    env = {
        "FIELDVAULT_DATA_DIR": str(settings.data_dir),
        "FIELDVAULT_DATABASE_URL": settings.research_url,
        "FIELDVAULT_VAULT_URL": settings.linkage_url,
    }
    register_commands(cli)
    result = CliRunner().invoke(cli, ["keys", "rotate", "linkage"], env=env)
    assert result.exit_code == 0, result.output
    assert "1 identities re-sealed" in result.output, result.output
    assert "1 study documents re-sealed" in result.output  # the researchers' chats
    assert f"{retired} old key(s) retired" in result.output


def _linkage_ids(settings: Settings) -> list[str]:
    return [k["id"] for k in json.loads(settings.linkage_key_path.read_text())["keys"]]


async def _consent(user: FakeUser, code: str) -> None:
    await user.send(f"/start {code}")
    await user.press("Norsk bokmål")
    await user.press("Ja")
    await user.press("Ja")
    await user.press("Bekreft")


async def _restart(h: BotHarness, settings: Settings) -> None:
    """A fresh Application on services loaded from disk (keys, databases)."""
    await h.stop_bot()
    old, h.services = h.services, await asyncio.to_thread(open_services, settings)
    if old is not h.services:
        await asyncio.to_thread(old.close)
    await h.start_bot()


async def _enrol_and_link(h: BotHarness, invite: str) -> tuple[FakeUser, FakeUser, str]:
    """A consented informant and a linked researcher; their users and the participant code."""
    kari = h.tg.user(INFORMANT, "Kari", "Nordmann")
    await _consent(kari, invite)
    with transaction(h.services.research) as session:
        link = create_link_code(session, h.study_id, "IH", dt.timedelta(hours=1), h.clock())
        code = session.scalars(select(Participant.code)).one()
    ingrid = h.tg.user(RESEARCHER, "Ingrid", language_code="en")
    [linked] = await ingrid.send(f"/link {link}")
    assert "Linked as a researcher" in linked.text
    return kari, ingrid, code


async def _both_known(h: BotHarness, kari: FakeUser, ingrid: FakeUser, code: str) -> None:
    """/status, /copy and /participants answer as before; notices can reach the researcher."""
    [status] = await kari.send("/status")
    assert code in status.text and "samtykket" in status.text, status.text
    [copy] = await kari.send("/copy")
    assert copy.document is not None, copy.text
    assert json.loads(copy.document)["identity"]["name"] == "Kari Nordmann"
    assert h.services.vault.find_by_telegram(INFORMANT) == [(h.study_id, code)]
    [listing] = await ingrid.send("/participants")
    assert f"{code}  consented" in listing.text, listing.text
    assert researcher_chats(h.services, h.study_id) == [RESEARCHER]


async def _restart_after_rotation(h: BotHarness, settings: Settings) -> None:
    """Stop the bot, rotate the linkage key (old key retired), start on services from disk."""
    await h.stop_bot()
    before = _linkage_ids(settings)
    await asyncio.to_thread(_rotate_with_the_command, settings)
    after = _linkage_ids(settings)
    assert len(after) == 1 and after[0] not in before  # the old key is gone from the file
    await _restart(h, settings)


def test_after_a_linkage_key_rotation_and_a_restart_informants_and_researchers_are_still_known(
    bot: BotHarness, settings: Settings
) -> None:
    [invite] = bot.invites()

    async def scenario(h: BotHarness) -> None:
        kari, ingrid, code = await _enrol_and_link(h, invite)
        [menu] = await kari.send("/withdraw")  # a button offered before the rotation
        assert "Avbryt" in menu.labels()

        await _restart_after_rotation(h, settings)

        # A button the bot offered before the rotation still checks out.
        [cancelled] = [await kari.press("Avbryt")]
        assert cancelled == [] and kari.inbox[-1].text == "Ingenting ble endret."
        await _both_known(h, kari, ingrid, code)
        await kari.send("/withdraw")
        [confirm] = await kari.press("Alt: trekk meg fra studien")
        assert "kan ikke angres" in confirm.text
        [done] = await kari.press("Ja, trekk tilbake")
        assert "Vi vet ikke lenger hvem du er" in done.text
        [after] = await kari.send("/status")
        assert "ingenting om deg" in after.text
        [listing] = await ingrid.send("/participants")
        assert f"{code}  withdrawn" in listing.text, listing.text

    bot.run(scenario)
    with transaction(bot.services.vault_sessions) as session:
        assert session.scalars(select(VaultIdentity)).all() == []


def test_a_rotation_cut_short_after_the_new_key_leaves_everyone_reachable_and_a_rerun_finishes(
    bot: BotHarness, settings: Settings
) -> None:
    [invite] = bot.invites()

    async def scenario(h: BotHarness) -> None:
        kari, ingrid, code = await _enrol_and_link(h, invite)
        # The rotation dies right after writing the new key: nothing is re-sealed yet.
        add_key(settings.linkage_key_path, "linkage")
        await _restart(h, settings)
        await _both_known(h, kari, ingrid, code)
        # Run again: both older keys go, everything is under the newest one.
        await h.stop_bot()
        await asyncio.to_thread(_rotate_with_the_command, settings, 2)
        assert len(_linkage_ids(settings)) == 1
        await _restart(h, settings)
        await _both_known(h, kari, ingrid, code)

    bot.run(scenario)


def test_a_data_folder_from_before_the_lookup_key_file_keeps_its_chats_after_init(
    bot: BotHarness, settings: Settings
) -> None:
    """Its lookups were HMACs under keys derived from the linkage key; `init` writes those."""
    settings.lookup_key_path.unlink()
    linkage = load_key_file(settings.linkage_key_path, "linkage").current
    create_lookup_key_file(settings.lookup_key_path, LookupKeys.derived_from(linkage))
    bot.services = open_services(settings)  # the bot as it ran before: lookups as it made them
    [invite] = bot.invites()

    async def scenario(h: BotHarness) -> None:
        kari, ingrid, code = await _enrol_and_link(h, invite)
        await h.stop_bot()
        # The upgrade: no lookup key file yet, and a vault lookup made under an older key.
        settings.lookup_key_path.unlink()
        with transaction(h.services.vault_sessions) as session:
            session.scalars(select(VaultIdentity)).one().telegram_lookup = "0" * 64
        report = await asyncio.to_thread(initialise, settings)
        assert report.lookup_key_created
        assert LookupKeys.load(settings.lookup_key_path) == LookupKeys.derived_from(linkage)
        await _restart(h, settings)
        await _both_known(h, kari, ingrid, code)
        await _restart_after_rotation(h, settings)
        await _both_known(h, kari, ingrid, code)

    bot.run(scenario)


def test_init_refuses_to_recreate_a_lost_lookup_key_file_that_would_know_no_one(
    bot: BotHarness, settings: Settings
) -> None:
    """A folder restored without lookup.key: init says to restore it rather than guess keys."""
    [invite] = bot.invites()

    async def scenario(h: BotHarness) -> None:
        kari, ingrid, code = await _enrol_and_link(h, invite)
        await h.stop_bot()
        kept = settings.lookup_key_path.read_bytes()
        settings.lookup_key_path.unlink()
        with pytest.raises(ConfigError, match="does not exist") as refused:
            open_services(settings)
        assert "restore it" in str(refused.value)
        with pytest.raises(ConfigError, match=r"restore lookup\.key"):
            await asyncio.to_thread(initialise, settings)
        assert not settings.lookup_key_path.exists()
        # The file put back from where the key files are kept: everyone is known again.
        settings.lookup_key_path.write_bytes(kept)
        settings.lookup_key_path.chmod(0o600)
        await _restart(h, settings)
        await _both_known(h, kari, ingrid, code)

    bot.run(scenario)
