"""Live-status counters, read by /metrics."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

LATENCY_SAMPLES = 10_000


@dataclass
class RealtimeStats:
    connections: int = 0
    subscriptions: int = 0
    messages_sent: int = 0
    slow_closes: int = 0
    listener_reconnects: int = 0
    # Seconds from the change's commit (NOTIFY time) to the send, the newest samples: one
    # per fan-out (to its last socket written at once), one per client that had to wait.
    push_latency: deque[float] = field(default_factory=lambda: deque(maxlen=LATENCY_SAMPLES))

    def observe_push(self, seconds: float) -> None:
        self.push_latency.append(max(0.0, seconds))
