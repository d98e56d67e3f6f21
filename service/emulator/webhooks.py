"""Signed webhook delivery: background tasks, retries with backoff, recorded attempts."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import random
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any, Protocol

import aiohttp

from .config import EmulatorConfig
from .store import Obj

Spawner = Callable[[Coroutine[Any, Any, None]], None]


class Endpoints(Protocol):
    """Where the webhook endpoints made through the API live (the store)."""

    def enabled_endpoints(self) -> list[tuple[Obj, str]]: ...


def sign(payload: str, secret: str, timestamp: int | None = None) -> str:
    """The `Stripe-Signature` header value for `payload`, exactly as Stripe builds it."""
    t = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode(), f"{t}.{payload}".encode(), hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"


@dataclass(frozen=True)
class Target:
    url: str
    secret: str
    endpoint_id: str | None  # None for the endpoint given in the config


@dataclass(frozen=True)
class DeliveryAttempt:
    event_id: str
    event_type: str
    url: str
    attempt: int
    status: int | None  # None when the request failed or timed out
    error: str | None
    at: float

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


def _matches(enabled: list[str], event_type: str) -> bool:
    return "*" in enabled or event_type in enabled


class Dispatcher:
    """Delivers events to the configured URL and to the API-made endpoints.

    `spawn` runs each delivery as tracked background work (the emulator's `wait_idle`).
    """

    def __init__(self, config: EmulatorConfig, endpoints: Endpoints, spawn: Spawner) -> None:
        self._config = config
        self._endpoints = endpoints
        self._spawn = spawn
        self._rng = random.Random(config.seed)
        self._session: aiohttp.ClientSession | None = None
        self.attempts: list[DeliveryAttempt] = []
        self.delivered: list[Obj] = []  # events in the order a 2xx was received
        # First attempts to one URL go out one at a time, in emission order, so that
        # without the shuffle/delay knobs a receiver sees events in order. Retries do
        # not wait for each other (Stripe does not hold back later events either).
        self._in_order: dict[str, asyncio.Lock] = {}

    def targets(self, event_type: str) -> list[Target]:
        found: list[Target] = []
        cfg = self._config
        if cfg.webhook_url and cfg.webhook_secret and _matches(cfg.webhook_events, event_type):
            found.append(Target(cfg.webhook_url, cfg.webhook_secret, None))
        for endpoint, secret in self._endpoints.enabled_endpoints():
            if _matches(endpoint["enabled_events"], event_type):
                found.append(Target(endpoint["url"], secret, endpoint["id"]))
        return found

    def dispatch(self, event: Obj) -> None:
        """Schedule delivery of `event` to every matching endpoint; never blocks."""
        targets = self.targets(event["type"])
        event["pending_webhooks"] = len(targets)
        payload = json.dumps(event, indent=2)  # snapshot: later changes are not sent
        copies = 2 if self._config.knobs.duplicate else 1
        for target in targets:
            for copy in range(copies):
                self._spawn(self._deliver(event, payload, target, counts=copy == 0))

    async def _deliver(self, event: Obj, payload: str, target: Target, counts: bool) -> None:
        knobs = self._config.knobs
        wait = knobs.delay + self._rng.uniform(0, knobs.shuffle_window)
        if wait > 0:
            await asyncio.sleep(wait)
        attempt = 0
        while True:
            attempt += 1
            if attempt == 1:
                async with self._in_order.setdefault(target.url, asyncio.Lock()):
                    status, error = await self._post(target, payload, knobs.timeout)
            else:
                status, error = await self._post(target, payload, knobs.timeout)
            record = DeliveryAttempt(
                event["id"], event["type"], target.url, attempt, status, error, time.time()
            )
            self.attempts.append(record)
            if record.ok:
                self.delivered.append(event)
                break
            if attempt >= knobs.max_attempts:
                break
            await asyncio.sleep(knobs.retry_base * 2 ** (attempt - 1))
        if counts:
            event["pending_webhooks"] = max(0, int(event["pending_webhooks"]) - 1)

    async def _post(
        self, target: Target, payload: str, seconds: float
    ) -> tuple[int | None, str | None]:
        if self._session is None:
            self._session = aiohttp.ClientSession()
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
            "Stripe-Signature": sign(payload, target.secret),
        }
        try:
            async with self._session.post(
                target.url,
                data=payload.encode(),
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=seconds),
            ) as resp:
                await resp.read()
                return resp.status, None
        except (aiohttp.ClientError, TimeoutError) as exc:
            return None, f"{type(exc).__name__}: {exc}"

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
