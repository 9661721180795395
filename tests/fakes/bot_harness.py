"""Runs the real bot Application against the Bot API stand-in, with a clock tests control."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from fieldvault.bot.app import FieldvaultApplication, build_application
from fieldvault.config.study import parse_study
from fieldvault.domain import consent
from fieldvault.domain.study_updates import update_study
from fieldvault.storage.db import transaction
from fieldvault.storage.services import Services
from tests.fakes.telegram_api import TOKEN, FakeTelegram

EXAMPLE = Path(__file__).parents[2] / "fieldvault" / "config" / "examples" / "nav-veileder.toml"


class Clock:
    """A clock that moves only when told to."""

    def __init__(self, now: dt.datetime) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += dt.timedelta(**delta)


@dataclasses.dataclass
class BotHarness:
    """One fieldvault + one stand-in + the bot between them."""

    services: Services
    study_id: str
    clock: Clock
    tg: FakeTelegram = dataclasses.field(default_factory=FakeTelegram)
    app: FieldvaultApplication | None = None
    extra_settings: dict[str, Any] = dataclasses.field(default_factory=dict)

    def bot_services(self) -> Services:
        settings = self.services.settings.model_copy(
            update={
                "telegram_token": SecretStr(TOKEN),
                "telegram_base_url": self.tg.base_url,
                "telegram_base_file_url": self.tg.base_file_url,
                "telegram_rate_limit": False,
                **self.extra_settings,
            }
        )
        return dataclasses.replace(self.services, settings=settings)

    async def start_bot(self) -> FieldvaultApplication:
        app = build_application(self.bot_services(), clock=self.clock, rate_limit=False)
        await app.initialize()
        await app.start()
        assert app.updater is not None
        await app.updater.start_polling(timeout=dt.timedelta(seconds=10))
        self.app = app
        self.tg.settle = app.update_queue.join
        return app

    async def stop_bot(self) -> None:
        app, self.app = self.app, None
        if app is None:
            return
        assert app.updater is not None
        await app.updater.stop()
        await app.stop()
        await app.shutdown()

    async def restart_bot(self) -> None:
        await self.stop_bot()
        await self.start_bot()

    def invites(self, count: int = 1, days: int = 14) -> list[str]:
        with transaction(self.services.research) as session:
            return consent.create_invites(
                session, self.study_id, count, dt.timedelta(days=days), self.clock()
            )

    def change_the_letter(self) -> None:
        """Register the example study again with its bokmål letter's first line revised."""
        text = EXAMPLE.read_text(encoding="utf-8")
        first_line = parse_study(text).letter_text("nb").splitlines()[0]
        changed = text.replace(first_line, first_line + " (revidert)", 1)
        with transaction(self.services.research) as session:
            update_study(session, parse_study(changed), changed, self.clock())

    def run(self, scenario: Callable[[BotHarness], Awaitable[None]]) -> None:
        async def main() -> None:
            await self.tg.start()
            try:
                await self.start_bot()
                try:
                    await scenario(self)
                finally:
                    await self.stop_bot()
            finally:
                await self.tg.stop()

        asyncio.run(main())
