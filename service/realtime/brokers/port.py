"""The one small port every fan-out broker implements.

``publish`` takes what a transaction changed, after its commit; ``watch``/``unwatch``
follow the hub's first and last local watcher of a payment; each broker hands what it
hears to the hub (its on_message is ``Hub.publish``). ``healthy`` feeds /readyz.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol
from uuid import UUID

from service.db.store import Committed


class Broker(Protocol):
    healthy: bool

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    def publish(self, committed: Sequence[Committed]) -> None:
        """Queue the changes of a committed transaction; never blocks the caller."""
        ...

    async def watch(self, payment_id: UUID) -> None: ...

    def unwatch(self, payment_id: UUID) -> None: ...
