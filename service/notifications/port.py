"""What the app holds of whoever sends its notifications (``MERCHANT_WEBHOOK_DELIVERY``):
the worker on its own event loop (``inline``) or a child process (``process``)."""

from __future__ import annotations

from typing import Protocol

from service.notifications.stats import DeliveryStats


class Delivery(Protocol):
    @property
    def stats(self) -> DeliveryStats:
        """Counters for /metrics (the child's, as last reported)."""
        ...

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    def nudge(self) -> None:
        """Look for due notifications now (an operator asked for a retry)."""
        ...
