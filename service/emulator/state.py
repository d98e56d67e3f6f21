"""The emulator's handle: state, knobs, background work and event emission.

Tests reach it with `app[EMULATOR]` (see `app.py`).
"""

from __future__ import annotations

import asyncio
import contextvars
import copy
import logging
from collections.abc import Coroutine
from typing import Any

from .config import DeliveryKnobs, EmulatorConfig
from .idempotency import IdempotencyCache
from .objects import event as build_event
from .store import Obj, Store, new_id
from .webhooks import DeliveryAttempt, Dispatcher

log = logging.getLogger(__name__)

# The API request being served: the `request` field of the events it causes.
REQUEST: contextvars.ContextVar[Obj | None] = contextvars.ContextVar("request", default=None)


class Emulator:
    def __init__(self, config: EmulatorConfig) -> None:
        if config.webhook_url and not config.webhook_secret:
            config.webhook_secret = new_id("whsec", 32)
        self.config = config
        self.store = Store()
        self.idempotency = IdempotencyCache(config.idempotency_ttl)
        self.dispatcher = Dispatcher(config, self.store, self.spawn)
        self._tasks: set[asyncio.Task[None]] = set()
        self.background_errors: list[BaseException] = []  # raised again by wait_idle()

    @property
    def knobs(self) -> DeliveryKnobs:
        return self.config.knobs

    @property
    def webhook_secret(self) -> str | None:
        """The signing secret for `config.webhook_url` (generated if not configured)."""
        return self.config.webhook_secret

    @property
    def deliveries(self) -> list[DeliveryAttempt]:
        return self.dispatcher.attempts

    @property
    def delivered_events(self) -> list[Obj]:
        """Events that got a 2xx answer, in the order they got it."""
        return self.dispatcher.delivered

    def events(self, type_: str | None = None) -> list[Obj]:
        """Emitted events, oldest first."""
        found = self.store.newest_first("event")[::-1]
        return [e for e in found if type_ is None or e["type"] == type_]

    def spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        """Run background work outside the current request's context; track it."""
        ctx = contextvars.copy_context()
        ctx.run(REQUEST.set, None)
        task = asyncio.get_running_loop().create_task(coro, context=ctx)
        self._tasks.add(task)
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            error = task.exception()
            assert error is not None
            log.error("emulator background task failed", exc_info=error)
            self.background_errors.append(error)

    async def wait_idle(self, limit: float = 30.0) -> None:
        """Wait until every delivery and delayed transition (and what they start) is done."""
        async with asyncio.timeout(limit):
            while self._tasks:
                await asyncio.gather(*list(self._tasks), return_exceptions=True)
        if self.background_errors:
            raise RuntimeError("emulator background task failed") from self.background_errors[0]

    def emit(self, type_: str, obj: Obj, previous: Obj | None = None) -> Obj:
        request = REQUEST.get() or {"id": None, "idempotency_key": None}
        evt = build_event(
            type_, copy.deepcopy(obj), self.config.api_version, dict(request), previous
        )
        self.store.put(evt)
        self.dispatcher.dispatch(evt)
        return evt

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*list(self._tasks), return_exceptions=True)
        await self.dispatcher.close()
