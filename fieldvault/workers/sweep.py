"""The periodic retention sweep as a worker task: the domain's sweep, summed up in one line."""

from __future__ import annotations

import datetime as dt

from fieldvault import metrics
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
        metrics.record_sweep("busy")
        return "busy"  # another worker's sweep is doing the work
    except Exception:
        metrics.record_sweep("error")
        raise
    finally:
        close = getattr(notifier, "close", None)
        if callable(close):
            close()
    deleted = sum(len(codes) for codes in report.deleted.values())
    metrics.record_sweep(
        "nothing-to-do" if report.nothing_to_do else "partial" if report.failed else "done",
        reminders=len(report.reminders),
        deleted=deleted,
        purges=len(report.withdrawals),
        failed=len(report.failed),
    )
    if report.nothing_to_do:
        return "nothing-to-do"
    return (
        f"{len(report.reminders)} reminder(s), {deleted} participant(s) deleted, "
        f"{len(report.withdrawals)} withdrawal purge(s) completed, notices {dict(report.notices)}"
        + (
            f", {len(report.failed)} study(ies) failed: {sorted(report.failed)}"
            if report.failed
            else ""
        )
    )
