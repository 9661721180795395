"""``fieldvault researcher link-code``, ``fieldvault bot`` and ``serve`` about the bot."""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import EXAMPLE
from .test_cli import Fieldvault

pytestmark = pytest.mark.slow


def test_link_code_and_bot_commands(tmp_path: Path) -> None:
    fv = Fieldvault(tmp_path / "data")
    fv("init")
    fv("study", "create", str(EXAMPLE))
    out = fv("researcher", "link-code", "nav-veileder", "--label", "IH").stdout
    assert "/link R-" in out and "expires in 24 hours" in out
    refused = fv("researcher", "link-code", "no-such-study", "--label", "IH", ok=False)
    assert "no study" in refused.stderr
    missing = fv("bot", ok=False)
    assert "FIELDVAULT_TELEGRAM_TOKEN is not set" in missing.stderr
    off = fv("serve", "--once")
    assert "Telegram bot is off" in off.stderr


def test_serve_runs_the_bot_against_the_configured_bot_api(tmp_path: Path) -> None:
    """``fieldvault serve`` with a token talks to FIELDVAULT_TELEGRAM_BASE_URL and stops cleanly."""
    import asyncio
    import signal
    import subprocess
    import sys

    from tests.fakes.telegram_api import TOKEN, FakeTelegram

    fv = Fieldvault(tmp_path / "data")
    fv("init")
    fv("study", "create", str(EXAMPLE))

    async def scenario() -> None:
        tg = FakeTelegram()
        await tg.start()
        env = {
            **fv.env,
            "FIELDVAULT_TELEGRAM_TOKEN": TOKEN,
            "FIELDVAULT_TELEGRAM_BASE_URL": tg.base_url,
            "FIELDVAULT_TELEGRAM_BASE_FILE_URL": tg.base_file_url,
        }
        process = subprocess.Popen(
            [sys.executable, "-m", "fieldvault", "serve"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            await tg.wait(lambda: tg.polls > 0, timeout=60)
            user = tg.user(901, language_code="en")
            update_id = await tg.push(
                {
                    "message": {
                        "message_id": 1,
                        "date": 0,
                        "chat": {"id": user.id, "type": "private"},
                        "from": {"id": user.id, "is_bot": False, "first_name": "X"},
                        "text": "/help",
                        "entities": [{"type": "bot_command", "offset": 0, "length": 5}],
                    }
                },
                user.id,
            )
            assert update_id == 1
            await tg.wait(lambda: bool(user.inbox), timeout=30)
            assert "invitation link" in user.inbox[0].text
        finally:
            process.send_signal(signal.SIGTERM)
            _, err = await asyncio.get_running_loop().run_in_executor(
                None, lambda: process.communicate(timeout=60)
            )
            await tg.stop()
        assert process.returncode == 0, err
        assert "Telegram bot: on" in err and "Telegram bot stopped" in err
        assert TOKEN not in err  # the token never reaches the log

    asyncio.run(scenario())
