"""Delivery counters of this process and the shared backlog, for /metrics."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime

from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from service.db.notifications_repo import Backlog


@dataclass
class DeliveryStats:
    delivered: int = 0
    failed: int = 0
    retries: int = 0  # attempts that failed and were scheduled again
    endpoints_disabled: int = 0
    lost_leases: int = 0  # answers that came after another process took over
    backlog: Backlog = field(default_factory=lambda: Backlog(0, None))  # refreshed by the worker

    def count(self, verdict: str, held: bool) -> None:
        if not held:
            self.lost_leases += 1
        elif verdict == "delivered":
            self.delivered += 1
        elif verdict == "failed":
            self.failed += 1
        elif verdict == "retry":
            self.retries += 1

    def to_json(self) -> str:
        """One line, for a delivery process to report to its parent."""
        oldest = self.backlog.oldest_pending_at
        return json.dumps(
            {
                "delivered": self.delivered,
                "failed": self.failed,
                "retries": self.retries,
                "endpoints_disabled": self.endpoints_disabled,
                "lost_leases": self.lost_leases,
                "pending": self.backlog.pending,
                "oldest_pending_at": oldest.isoformat() if oldest else None,
            }
        )

    @classmethod
    def from_json(cls, line: str | bytes) -> DeliveryStats:
        """The counters a delivery process reported; ValueError if the line is not that."""
        try:
            fields = json.loads(line)
            oldest = fields.pop("oldest_pending_at")
            backlog = Backlog(
                int(fields.pop("pending")), datetime.fromisoformat(oldest) if oldest else None
            )
            return cls(**{name: int(value) for name, value in fields.items()}, backlog=backlog)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise ValueError(f"not a stats line: {exc}") from exc


class DeliveryCollector(Collector):
    """Read at scrape time; nothing when this process delivers no notifications."""

    def __init__(self, stats: Callable[[], DeliveryStats | None]) -> None:
        self._stats = stats

    def collect(self) -> Iterable[Metric]:
        stats = self._stats()
        if stats is None:
            return
        for name, doc, value in (
            ("delivered", "Notifications delivered (2xx) by this process.", stats.delivered),
            ("failed", "Notifications that failed for good in this process.", stats.failed),
            ("retries", "Failed attempts scheduled for a retry, this process.", stats.retries),
            ("endpoints_disabled", "Endpoints disabled by a 410 Gone.", stats.endpoints_disabled),
        ):
            yield CounterMetricFamily(f"paylive_notifications_{name}", doc, value=value)
        yield GaugeMetricFamily(
            "paylive_notifications_pending",
            "Notifications waiting to be delivered (all processes; refreshed each poll).",
            value=stats.backlog.pending,
        )
        oldest = stats.backlog.oldest_pending_at
        yield GaugeMetricFamily(
            "paylive_notifications_oldest_pending_age_seconds",
            "Age of the oldest pending notification (0 when none).",
            value=max(0.0, time.time() - oldest.timestamp()) if oldest else 0.0,
        )
