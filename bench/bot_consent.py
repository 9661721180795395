"""Benchmark: N informants completing consent concurrently through the Bot API stand-in.

Each informant runs /start <invite> → language → Yes → Yes → Confirm, waiting for the bot's
answer to each step before the next. Handling latency is measured per step from the moment the
stand-in offers the update to the moment the bot's answer to that step arrives back at the
stand-in (stand-in → bot → stand-in). The reference, measured in the same run and the same way,
is a bare python-telegram-bot Application whose only handler echoes a message with two buttons
(no database, no crypto): the ratio shows what fieldvault adds on top of PTB and the stand-in.

    .venv/bin/python bench/bot_consent.py [--informants 200] [--workers 32] [--ramp-s 0]

``--ramp-s`` spreads the informants' arrivals over that many seconds (0 = all at once, a
closed-loop burst: then the figures are mostly queueing, for the reference too). Telegram's own
flood limits are not simulated (the rate limiter is off; with it on, 30 messages/s overall
would dominate every figure). Target: p95 <= 50 ms with arrivals spread (--ramp-s 60).

Latency of one step = from the stand-in queueing the update (the bot's long poll is answered
with it) to the stand-in receiving the bot's last message of that step (e.g. the next
question, or the receipt document). Exit status 1 when a consent record is lost or duplicated.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select  # noqa: E402
from support import (  # noqa: E402  (bench/ is this script's own folder on sys.path)
    create_postgres_databases,
    database_env,
    drop_postgres_databases,
    pct,
)
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update  # noqa: E402
from telegram.ext import Application, ContextTypes, MessageHandler, filters  # noqa: E402

from fieldvault.bot.app import build_application  # noqa: E402
from fieldvault.config.settings import load_settings  # noqa: E402
from fieldvault.config.study import load_study  # noqa: E402
from fieldvault.domain import consent, studies  # noqa: E402
from fieldvault.storage.db import transaction  # noqa: E402
from fieldvault.storage.models import ConsentRecord, Participant  # noqa: E402
from fieldvault.storage.services import initialise, open_services  # noqa: E402
from tests.fakes.telegram_api import TOKEN, FakeTelegram, FakeUser, Sent  # noqa: E402

EXAMPLE = ROOT / "fieldvault" / "config" / "examples" / "nav-veileder.toml"
NOW = dt.datetime(2021, 3, 1, 9, 0, tzinfo=dt.UTC)
TARGET_P95_MS = 50.0

Done = Callable[[Sent], bool]


def has_buttons(label: str) -> Done:
    return lambda sent: label in sent.labels()


def is_document(sent: Sent) -> bool:
    return sent.document is not None


STEPS = ("/start", "language", "item 1", "item 2", "confirm")


async def step(
    tg: FakeTelegram,
    user: FakeUser,
    update: dict[str, object],
    done: Done,
    out: list[float],
    by_step: dict[str, list[float]] | None = None,
    name: str = "",
) -> None:
    """Push one update and wait for the answer that ends the step; record its latency."""
    before = len(user.inbox)
    start = time.perf_counter()
    await tg.push(update, user.id)

    def arrived() -> bool:
        return any(done(s) for s in user.inbox[before:])

    await tg.wait_chat(user.id, arrived, timeout=120)
    answer = next(s for s in user.inbox[before:] if done(s))
    out.append(answer.at - start)
    if by_step is not None:
        by_step.setdefault(name, []).append(answer.at - start)


def text_update(user: FakeUser, text: str) -> dict[str, object]:
    message: dict[str, object] = {
        "message_id": 1,
        "date": 0,
        "chat": {"id": user.id, "type": "private"},
        "from": {
            "id": user.id,
            "is_bot": False,
            "first_name": user.first_name,
            "language_code": "en",
        },
        "text": text,
    }
    if text.startswith("/"):
        message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]
    return {"message": message}


def press_update(user: FakeUser, label: str) -> dict[str, object]:
    sent, data = user.find_button(label)
    message = user.tg._message_json(sent)
    return {
        "callback_query": {
            "id": f"cq-{user.id}-{sent.message_id}-{label}",
            "from": {"id": user.id, "is_bot": False, "first_name": user.first_name},
            "chat_instance": "bench",
            "message": message,
            "data": data,
        }
    }


async def informant(
    tg: FakeTelegram,
    user: FakeUser,
    code: str,
    delay: float,
    out: list[float],
    by_step: dict[str, list[float]],
) -> None:
    await asyncio.sleep(delay)
    start, lang, item1, item2, confirm = STEPS
    await step(
        tg, user, text_update(user, f"/start {code}"), has_buttons("English"), out, by_step, start
    )
    await step(tg, user, press_update(user, "English"), has_buttons("Yes"), out, by_step, lang)
    await step(tg, user, press_update(user, "Yes"), has_buttons("Yes"), out, by_step, item1)
    await step(tg, user, press_update(user, "Yes"), has_buttons("Confirm"), out, by_step, item2)
    await step(tg, user, press_update(user, "Confirm"), is_document, out, by_step, confirm)


async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """The reference handler: answer with one button, touching nothing else."""
    assert update.effective_chat is not None
    markup = InlineKeyboardMarkup([[InlineKeyboardButton("Yes", callback_data="y")]])
    await context.bot.send_message(update.effective_chat.id, "echo", reply_markup=markup)


async def serve(kind: str, port: int, data_dir: Path, workers: int) -> None:
    """Child process: run the fieldvault bot (or the reference bot) until SIGTERM."""
    base_url = f"http://127.0.0.1:{port}/bot"
    file_url = f"http://127.0.0.1:{port}/file/bot"
    app: Application  # type: ignore[type-arg]
    if kind == "reference":
        app = (
            Application.builder()
            .token(TOKEN)
            .base_url(base_url)
            .base_file_url(file_url)
            .concurrent_updates(workers)
            .build()
        )
        app.add_handler(MessageHandler(filters.ALL, echo))
    else:
        settings = load_settings(
            environ=database_env(),
            data_dir=data_dir,
            telegram_token=TOKEN,
            telegram_base_url=base_url,
            telegram_base_file_url=file_url,
            telegram_rate_limit=False,
        )
        app = build_application(open_services(settings), clock=lambda: NOW, workers=workers)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await app.initialize()
    await app.start()
    assert app.updater is not None
    await app.updater.start_polling(timeout=dt.timedelta(seconds=10))
    await stop.wait()
    await app.updater.stop()
    await app.stop()
    await app.shutdown()


async def drive(
    kind: str,
    data_dir: Path,
    codes: list[str],
    ramp: float,
    workers: int,
    by_step: dict[str, list[float]] | None = None,
) -> tuple[list[float], float]:
    """Parent process: the stand-in and the informants, with the bot in a child process."""
    tg = FakeTelegram()
    await tg.start()
    # BENCH_CHILD_PREFIX lets a profiler wrap the bot process (e.g. a cProfile runner script).
    prefix = os.environ.get("BENCH_CHILD_PREFIX", "").split()
    child = subprocess.Popen(
        [
            sys.executable,
            *prefix,
            __file__,
            "--child",
            kind,
            "--port",
            str(tg.port),
            "--data-dir",
            str(data_dir),
            "--workers",
            str(workers),
        ],
    )
    latencies: list[float] = []
    n = len(codes)
    try:
        await tg.wait(lambda: tg.polls > 0, timeout=60)
        users = [tg.user(200_000 + i, language_code="en") for i in range(n)]

        async def reference_user(user: FakeUser, delay: float) -> None:
            await asyncio.sleep(delay)
            for _ in range(5):
                await step(tg, user, text_update(user, "hello"), has_buttons("Yes"), latencies)

        start = time.perf_counter()
        if kind == "reference":
            runs = [reference_user(u, ramp * i / n) for i, u in enumerate(users)]
        else:
            runs = [
                informant(tg, u, c, ramp * i / n, latencies, {} if by_step is None else by_step)
                for i, (u, c) in enumerate(zip(users, codes, strict=True))
            ]
        await asyncio.gather(*runs)
        elapsed = time.perf_counter() - start
    finally:
        child.send_signal(signal.SIGTERM)
        await asyncio.get_running_loop().run_in_executor(None, child.wait)
        await tg.stop()
    return latencies, elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--informants", type=int, default=200)
    parser.add_argument("--workers", type=int, default=32)
    parser.add_argument("--ramp-s", type=float, default=0.0)
    parser.add_argument(
        "--postgres", action="store_true", help="use PostgreSQL on 127.0.0.1:5432 (user postgres)"
    )
    parser.add_argument("--child", choices=["reference", "fieldvault"], help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--data-dir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        asyncio.run(serve(args.child, args.port, args.data_dir, args.workers))
        return 0
    n = args.informants

    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp) / "data"
        if args.postgres:
            os.environ.update(create_postgres_databases())
        settings = load_settings(environ=database_env(), data_dir=data_dir)
        initialise(settings)
        services = open_services(settings)
        definition = load_study(EXAMPLE)
        with transaction(services.research) as session:
            studies.register_study(session, definition, EXAMPLE.read_text(encoding="utf-8"), NOW)
            codes = consent.create_invites(session, definition.id, n, dt.timedelta(days=30), NOW)

        ref_lat, ref_elapsed = asyncio.run(
            drive("reference", data_dir, codes, args.ramp_s, args.workers)
        )
        by_step: dict[str, list[float]] = {}
        fv_lat, fv_elapsed = asyncio.run(
            drive("fieldvault", data_dir, codes, args.ramp_s, args.workers, by_step)
        )

        with transaction(services.research) as session:
            records = session.scalar(select(func.count()).select_from(ConsentRecord)) or 0
            consented = (
                session.scalar(
                    select(func.count())
                    .select_from(Participant)
                    .where(Participant.state == "consented")
                )
                or 0
            )
        services.close()
        if args.postgres:
            drop_postgres_databases()

    steps = len(fv_lat)
    print(
        f"informants: {n}, steps: {steps}, arrivals over {args.ramp_s:.1f} s, "
        f"{'PostgreSQL' if args.postgres else 'SQLite'}, "
        "bot in its own process"
    )
    print(
        f"reference (bare PTB echo):  {len(ref_lat) / ref_elapsed:8.1f} updates/s  "
        f"p50 {pct(ref_lat, 0.5):7.1f} ms  p95 {pct(ref_lat, 0.95):7.1f} ms  "
        f"p99 {pct(ref_lat, 0.99):7.1f} ms"
    )
    print(
        f"fieldvault consent flow:    {steps / fv_elapsed:8.1f} updates/s  "
        f"p50 {pct(fv_lat, 0.5):7.1f} ms  p95 {pct(fv_lat, 0.95):7.1f} ms  "
        f"p99 {pct(fv_lat, 0.99):7.1f} ms  ({n / fv_elapsed:.1f} consents/s, {fv_elapsed:.1f} s)"
    )
    print(
        "  per step (p50 / p95 ms): "
        + ", ".join(
            f"{name} {pct(by_step[name], 0.5):.1f} / {pct(by_step[name], 0.95):.1f}"
            for name in STEPS
            if by_step.get(name)
        )
    )
    throughput = steps / fv_elapsed / (len(ref_lat) / ref_elapsed)
    p50 = pct(fv_lat, 0.5) / pct(ref_lat, 0.5)
    p95 = pct(fv_lat, 0.95) / pct(ref_lat, 0.95)
    print(f"ratio fieldvault/reference: throughput {throughput:.2f}, p50 {p50:.1f}x p95 {p95:.1f}x")
    print(
        f"mean {statistics.fmean(fv_lat) * 1000:.1f} ms; target p95 <= {TARGET_P95_MS:.0f} ms: "
        f"{'met' if pct(fv_lat, 0.95) <= TARGET_P95_MS else 'NOT met'}"
    )
    ok = records == n and consented == n
    print(
        f"consent records: {records} (expected {n}); consented participants: {consented} -> "
        f"{'OK' if ok else 'LOST OR DUPLICATED'}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
