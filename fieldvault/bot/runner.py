"""Running the bot: long polling (default) or a webhook served by aiohttp with a secret token."""

from __future__ import annotations

import asyncio
import hmac
import logging
from typing import Any

from aiohttp import web
from telegram import Update

from fieldvault.bot.app import FieldvaultApplication, build_application
from fieldvault.storage.services import Services

log = logging.getLogger("fieldvault.bot")

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
WEBHOOK_PATH = "/telegram/webhook"
APPLICATION = web.AppKey("application", FieldvaultApplication)
SECRET = web.AppKey("secret", str)


async def _receive(request: web.Request) -> web.Response:
    """One update from Telegram: refused unless it carries the secret token."""
    given = request.headers.get(SECRET_HEADER, "")
    if not hmac.compare_digest(given.encode(), request.app[SECRET].encode()):
        return web.Response(status=403, text="forbidden")
    try:
        data: Any = await request.json()
    except ValueError:
        return web.Response(status=400, text="not JSON")
    application = request.app[APPLICATION]
    update = Update.de_json(data, application.bot)
    await application.update_queue.put(update)
    return web.Response(text="ok")


def webhook_app(application: FieldvaultApplication, secret: str) -> web.Application:
    """The aiohttp app that receives webhook updates for ``application``."""
    if not secret:
        raise ValueError("a webhook needs a secret token")
    app = web.Application(client_max_size=1024 * 1024)
    app[APPLICATION] = application
    app[SECRET] = secret
    app.router.add_post(WEBHOOK_PATH, _receive)
    return app


async def run_bot(services: Services, stop: asyncio.Event) -> None:
    """Run the bot until ``stop`` is set: webhook when configured, long polling otherwise."""
    settings = services.settings
    application = build_application(services)
    await application.initialize()
    await application.start()
    runner: web.AppRunner | None = None
    try:
        if settings.telegram_webhook_url and settings.telegram_webhook_secret is not None:
            secret = settings.telegram_webhook_secret.get_secret_value()
            runner = web.AppRunner(webhook_app(application, secret), access_log=None)
            await runner.setup()
            site = web.TCPSite(
                runner, settings.telegram_webhook_listen, settings.telegram_webhook_port
            )
            await site.start()
            await application.bot.set_webhook(
                settings.telegram_webhook_url.rstrip("/") + WEBHOOK_PATH, secret_token=secret
            )
            log.info("Telegram bot running (webhook)")
        else:
            assert application.updater is not None
            await application.updater.start_polling()
            log.info("Telegram bot running (long polling)")
        await stop.wait()
    finally:
        if runner is not None:
            await runner.cleanup()
        if application.updater is not None and application.updater.running:
            await application.updater.stop()
        await application.stop()
        await application.shutdown()
        log.info("Telegram bot stopped")
