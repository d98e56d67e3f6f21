"""What one delivery attempt's answer means: pure, no I/O."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

Verdict = Literal["delivered", "retry", "failed", "endpoint_gone"]


@dataclass(frozen=True)
class Outcome:
    verdict: Verdict
    retry_in: float = 0.0  # seconds, for "retry"


def after_attempt(http_status: int | None, attempts: int, schedule: Sequence[float]) -> Outcome:
    """``attempts``: how many have been made, this one included; ``http_status`` None when
    the request failed (timeout, refused, reset). ``schedule``: the waits between attempts,
    so there are ``len(schedule) + 1`` attempts before a notification fails for good."""
    if http_status is not None and 200 <= http_status < 300:
        return Outcome("delivered")
    if http_status == 410:
        # Gone: the merchant asks us to stop. The endpoint is disabled; the notification
        # stays pending so that, re-enabled, the endpoint still gets everything in order.
        return Outcome("endpoint_gone")
    if attempts > len(schedule):
        return Outcome("failed")
    return Outcome("retry", float(schedule[attempts - 1]))
