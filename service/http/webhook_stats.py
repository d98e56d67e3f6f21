"""Webhook counters, read by /metrics."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field


@dataclass
class WebhookStats:
    """By outcome (applied, duplicate, bad_signature, failed, ...) and by event type."""

    outcomes: Counter[str] = field(default_factory=Counter)
    received_by_type: Counter[str] = field(default_factory=Counter)
    # Signed events refused for naming a payment they do not belong to, by why.
    mismatches: Counter[str] = field(default_factory=Counter)
