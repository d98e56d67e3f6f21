"""The counters a delivery process reports to its parent, one JSON line at a time."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from service.db.notifications_repo import Backlog
from service.notifications.stats import DeliveryStats


@pytest.mark.parametrize("oldest", [None, datetime(2026, 12, 2, 9, 30, 1, 250000, tzinfo=UTC)])
def test_a_reported_line_reads_back_the_same(oldest: datetime | None) -> None:
    stats = DeliveryStats(
        delivered=7,
        failed=1,
        retries=3,
        endpoints_disabled=1,
        lost_leases=2,
        backlog=Backlog(pending=12, oldest_pending_at=oldest),
    )
    line = stats.to_json()
    assert "\n" not in line
    assert DeliveryStats.from_json(line) == stats


@pytest.mark.parametrize(
    "line",
    [
        "",
        "nudge",
        "[]",
        '{"delivered": 1}',
        '{"delivered": "x", "pending": 0, "oldest_pending_at": null}',
    ],
)
def test_anything_else_is_refused(line: str) -> None:
    with pytest.raises(ValueError, match="not a stats line"):
        DeliveryStats.from_json(line)
