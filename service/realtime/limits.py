"""Live connections (WebSocket and SSE) per credential and per address, each capped.

The process-wide cap (``WS_MAX_CONNECTIONS``) protects the process; these protect the
other customers from one of them: a single status token, API key or address cannot take
every slot. A credential is named by a hash (``auth.credential_name``), never held.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Literal

Over = Literal["token", "address"]


@dataclass
class Slots:
    """How many live connections each key holds, at most ``limit`` each."""

    limit: int
    held: Counter[str] = field(default_factory=Counter)

    def take(self, key: str) -> bool:
        if self.held[key] >= self.limit:
            return False
        self.held[key] += 1
        return True

    def give_back(self, key: str) -> None:
        self.held[key] -= 1
        if self.held[key] <= 0:
            del self.held[key]  # no entry kept per address that has left


@dataclass
class ConnectionLimits:
    by_token: Slots
    by_address: Slots

    @classmethod
    def of(cls, per_token: int, per_address: int) -> ConnectionLimits:
        return cls(Slots(per_token), Slots(per_address))


@dataclass(slots=True)  # one per live connection, held for its life: kept small
class Admission:
    """What one connection holds; ``release`` gives all of it back (idempotent)."""

    limits: ConnectionLimits
    address: str | None = None
    tokens: tuple[str, ...] = ()  # a few at most: no list or set kept for them

    def take_address(self, address: str) -> bool:
        """A connection has one address, taken once."""
        if self.address is not None:
            return self.address == address
        if not self.limits.by_address.take(address):
            return False
        self.address = address
        return True

    def take_token(self, name: str) -> bool:
        """A connection counts once per credential, however often it uses it."""
        if name in self.tokens:
            return True
        if not self.limits.by_token.take(name):
            return False
        self.tokens += (name,)
        return True

    def release(self) -> None:
        for name in self.tokens:
            self.limits.by_token.give_back(name)
        self.tokens = ()
        if self.address is not None:
            self.limits.by_address.give_back(self.address)
            self.address = None
