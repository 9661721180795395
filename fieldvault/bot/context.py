"""The PTB Application subclass that carries fieldvault's services, and its typed context."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from telegram.ext import Application, CallbackContext, ExtBot

from fieldvault.bot.security import BotKeys
from fieldvault.storage.services import Services

T = TypeVar("T")

Clock = Callable[[], dt.datetime]


class FieldvaultApplication(Application[Any, Any, Any, Any, Any, Any]):
    """The PTB Application, carrying the process's services (no ``bot_data`` dict lookups)."""

    def __init__(self, *, services: Services, clock: Clock, **kwargs: Any) -> None:
        """Keep ``services`` and the bot keys next to PTB's state."""
        super().__init__(**kwargs)
        self.services = services
        self.clock = clock
        self.keys = BotKeys(services.lookups)
        # SQLite takes one writer at a time and makes the others sleep and retry; one database
        # thread queues them instead. A server database gets a few threads.
        sqlite = services.settings.research_url.startswith("sqlite")
        self._database = ThreadPoolExecutor(max_workers=1 if sqlite else 8, thread_name_prefix="db")

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """Run the blocking ``fn(*args)`` (database work) off the event loop."""
        return await asyncio.get_running_loop().run_in_executor(self._database, fn, *args)

    async def shutdown(self) -> None:
        """Stop PTB, then the database thread."""
        await super().shutdown()
        self._database.shutdown(wait=True)


class BotContext(CallbackContext[ExtBot[None], dict[Any, Any], dict[Any, Any], dict[Any, Any]]):
    """Callback context with typed access to the fieldvault application."""

    @property
    def fv(self) -> FieldvaultApplication:
        """The fieldvault application this update runs in."""
        app = self.application
        assert isinstance(app, FieldvaultApplication)
        return app
