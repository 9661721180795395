"""Typed keys for what the web app shares (no ``app["db"]``)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from aiohttp import web

from fieldvault.storage.services import Services

Dispatch = Callable[[], object]
Clock = Callable[[], dt.datetime]

SERVICES = web.AppKey("services", Services)
UPLOAD_LIMIT = web.AppKey("upload_limit", int)
EXECUTOR = web.AppKey("executor", ThreadPoolExecutor)
DISPATCH: web.AppKey[Dispatch] = web.AppKey("dispatch")
CLOCK: web.AppKey[Clock] = web.AppKey("clock")
