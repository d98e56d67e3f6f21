"""What reconciliation reads and reports: its store's extra queries, a round's report,
and the process's totals for /metrics."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Protocol

from service.payments.models import Payment
from service.payments.ports import PaymentsTx


class ReconcileTx(PaymentsTx, Protocol):
    """``PaymentsTx`` plus the queries reconciliation needs (``db/watermark_repo.py``)."""

    async def stale_payments(
        self, *, updated_before: datetime, updated_after: datetime | None, limit: int
    ) -> list[Payment]: ...
    async def get_service_state(self, key: str) -> dict[str, Any] | None: ...
    async def set_service_state(self, key: str, value: dict[str, Any]) -> None: ...


class ReconcileStore(Protocol):
    def transaction(self) -> AbstractAsyncContextManager[ReconcileTx]: ...
    def optimistic(self) -> AbstractAsyncContextManager[ReconcileTx]: ...


@dataclass
class ReconcileReport:
    checked: int = 0  # stale payments asked about at Stripe
    corrected: int = 0  # of those, changed by what Stripe said
    events_seen: int = 0  # events read from Stripe's list
    events_backfilled: int = 0  # of those, new to the inbox (not duplicates)
    errors: int = 0
    watermark: str | None = None  # the last event id applied, after this round
    corrected_to: dict[str, int] = field(default_factory=dict)  # by the status set

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class ReconcileStats:
    """Totals over every round of this process, read by /metrics."""

    rounds: int = 0
    failed_rounds: int = 0  # rounds that raised (the database was unreachable, ...)
    skipped_rounds: int = 0  # another process held the reconcile lock
    checked: int = 0
    corrected: int = 0
    events_backfilled: int = 0
    errors: int = 0
    last_success: float | None = None  # unix time of the last round that completed
    corrected_to: dict[str, int] = field(default_factory=dict)

    def add(self, report: ReconcileReport, at: float) -> None:
        self.rounds += 1
        self.checked += report.checked
        self.corrected += report.corrected
        self.events_backfilled += report.events_backfilled
        self.errors += report.errors
        for status, count in report.corrected_to.items():
            self.corrected_to[status] = self.corrected_to.get(status, 0) + count
        self.last_success = at
