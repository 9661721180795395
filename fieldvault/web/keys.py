"""Typed keys for what the web app shares (no ``app["db"]``)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from aiohttp import web

from fieldvault.storage.services import Services
from fieldvault.web.limits import AuditBudget, Pool, UploadSlots, WebLimits

Dispatch = Callable[[], object]
# Readiness checks handed in by the composition root (the queue): name -> a blocking call that
# raises when that part does not answer.
Probes = dict[str, Callable[[], object]]
Clock = Callable[[], dt.datetime]

SERVICES = web.AppKey("services", Services)
UPLOAD_LIMIT = web.AppKey("upload_limit", int)
# Quick blocking work (token lookups, audit lines, the informant pages); uploads have their own.
EXECUTOR = web.AppKey("executor", Pool)
UPLOAD_POOL = web.AppKey("upload_pool", Pool)
UPLOAD_SLOTS = web.AppKey("upload_slots", UploadSlots)
LIMITS = web.AppKey("limits", WebLimits)
AUDIT_BUDGET = web.AppKey("audit_budget", AuditBudget)
DISPATCH: web.AppKey[Dispatch] = web.AppKey("dispatch")
CLOCK: web.AppKey[Clock] = web.AppKey("clock")
PROBES: web.AppKey[Probes] = web.AppKey("probes")
