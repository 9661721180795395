"""The periodic retention sweep as a worker task: the domain's sweep, summed up in one line."""

from __future__ import annotations

import datetime as dt

from fieldvault.domain import retention
from fieldvault.domain.notices import LogNotifier, Notifier
from fieldvault.storage.services import Services


def run_retention_sweep(
    services: Services, now: dt.datetime, notifier: Notifier | None = None
) -> str:
    """The periodic sweep task: reminders, due deletions, unfinished purges; returns a status.

    ``notifier`` is what the composition root built (the bot's when a token is set); without
    one, notices go to the log. It is closed when the sweep ends.
    """
    notifier = LogNotifier() if notifier is None else notifier
    try:
        report = retention.run_sweep(services, now, notifier=notifier)
    except retention.SweepBusy:
        return "busy"  # another worker's sweep is doing the work
    finally:
        close = getattr(notifier, "close", None)
        if callable(close):
            close()
    if report.nothing_to_do:
        return "nothing-to-do"
    deleted = sum(len(codes) for codes in report.deleted.values())
    return (
        f"{len(report.reminders)} reminder(s), {deleted} participant(s) deleted, "
        f"{len(report.withdrawals)} withdrawal purge(s) completed, notices {dict(report.notices)}"
        + (
            f", {len(report.failed)} study(ies) failed: {sorted(report.failed)}"
            if report.failed
            else ""
        )
    )
