"""Emulator settings and the runtime knobs tests may change."""

from __future__ import annotations

from dataclasses import dataclass, field

API_VERSION = "2026-10-28.endive"


@dataclass
class DeliveryKnobs:
    """Webhook delivery behaviour; mutable at runtime through the handle."""

    duplicate: bool = False  # deliver every event twice
    shuffle_window: float = 0.0  # seconds of random extra delay, which reorders deliveries
    delay: float = 0.0  # fixed delay before the first attempt
    retry_base: float = 1.0  # first retry after this many seconds, doubling each time
    max_attempts: int = 5
    timeout: float = 10.0  # per attempt


@dataclass
class EmulatorConfig:
    # Where the emulator is reachable from clients; used in URLs it hands out
    # (checkout page, 3-D Secure page, Stripe.js). None: taken from each request's Host.
    public_url: str | None = None
    webhook_url: str | None = None
    webhook_secret: str | None = None  # generated when a webhook_url is given without one
    webhook_events: list[str] = field(default_factory=lambda: ["*"])
    api_version: str = API_VERSION
    # Extra latency on every POST (after an idempotency key is claimed), so tests can
    # catch a request in flight or observe slow-Stripe behaviour.
    api_delay: float = 0.0
    processing_delay: float = 1.0  # seconds a `processing` card stays in processing
    expiry_sweep_interval: float = 1.0  # how often expired checkout sessions are closed
    # Stripe's shortest `expires_at` for a Checkout Session; tests may lower it.
    min_session_lifetime: int = 30 * 60
    idempotency_ttl: float = 24 * 3600.0
    seed: int | None = None  # for the shuffle knob
    knobs: DeliveryKnobs = field(default_factory=DeliveryKnobs)
