"""`fieldvault scheduler`: the process that runs the periodic tasks, one acting at a time.

At scale the workers only take jobs; the scheduler runs what they scheduled before: the
retention sweep (reminders, notices, due deletions, unfinished purges, orphaned blobs), at start
and at every tenth minute of its clock (``queue.SWEEP_EVERY_MIN``). It runs them in its own
process rather than queueing them, so a deadline never waits behind hours of transcription.

Only one scheduler acts: it holds ``LockKey.SCHEDULER`` (a PostgreSQL session advisory lock, or
``flock`` beside the SQLite research database) while it runs; a second one stands by and takes
over when the first one's process ends. The sweep's own lock (``LockKey.SWEEP``) still keeps a
`retention run` from the command line, or a `serve` beside it, from sweeping at the same time.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

from fieldvault.storage.locks import LockBusy, LockKey, process_lock
from fieldvault.workers.queue import Worker

log = logging.getLogger(__name__)

# How often the scheduler looks whether a periodic task fell due, and a standby one whether the
# acting one is gone. A minute is huey's own resolution.
POLL_S = 30.0


@dataclass
class Scheduler:
    """Runs the periodic tasks of ``worker`` (a Worker built without an engine) in this process."""

    worker: Worker

    def tick(self) -> list[str]:
        """Run the periodic tasks due now; their names."""
        return self.worker.run_periodic()

    def run(self, stop: threading.Event, *, poll_s: float = POLL_S) -> int:
        """Act (or stand by while another scheduler acts) until ``stop``; tasks run."""
        done = 0
        standing_by = False
        engine = self.worker.services.research_engine
        while not stop.is_set():
            try:
                with process_lock(engine, LockKey.SCHEDULER):
                    log.info("scheduler: acting; periodic tasks run here")
                    standing_by = False
                    while not stop.is_set():
                        done += len(self.tick())
                        stop.wait(poll_s)
            except LockBusy:
                if not standing_by:
                    log.info("scheduler: another scheduler is acting; standing by")
                    standing_by = True
                stop.wait(poll_s)
        return done
