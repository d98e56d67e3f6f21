"""Keys for session tokens: a cached JWKS, or one PEM key.

The JWKS document is fetched through a port (``JwksSource``), so the cache is tested with
a real server and unit-tested without one. It is fetched once, then again when a token
names a `kid` it does not know (the provider rotated its keys), but never more often
than ``min_refetch_seconds``: a flood of tokens with made-up kids costs one fetch per
interval, not one per token. Concurrent misses share one fetch. Keys also age out after
``max_age_seconds`` so a removed key stops being accepted.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from typing import Protocol

import jwt

from service.identity.session_tokens import (
    SessionTokenError,
    TokenHeader,
    VerificationKey,
    key_from_jwk,
)

log = logging.getLogger(__name__)


class JwksSource(Protocol):
    async def fetch(self) -> bytes:
        """The JWKS document's bytes; raises JwksUnavailable when it cannot be had."""
        ...


class JwksUnavailable(Exception):
    """The JWKS endpoint cannot be reached or answers nonsense (and no key is cached)."""


class KeyResolver(Protocol):
    async def key_for(self, header: TokenHeader) -> VerificationKey: ...


def parse_jwks(document: bytes) -> dict[str, VerificationKey]:
    """The usable signing keys by kid (entries without a kid cannot be chosen: skipped)."""
    try:
        jwk_set = jwt.PyJWKSet.from_dict(json.loads(document))
    except (ValueError, AttributeError, jwt.PyJWTError) as exc:
        raise JwksUnavailable(f"not a JWKS document: {exc}") from None
    keys = {}
    for jwk in jwk_set.keys:
        key = key_from_jwk(jwk)
        if key is not None and key.kid:
            keys[key.kid] = key
    if not keys:
        raise JwksUnavailable("the JWKS holds no RS256/ES256 signing key with a kid")
    return keys


class StaticKey:
    """AUTH_JWT_KEY: one PEM key, no network (Clerk's "networkless" verification)."""

    def __init__(self, key: VerificationKey) -> None:
        self._key = key

    async def key_for(self, header: TokenHeader) -> VerificationKey:
        return self._key


class JwksCache:
    def __init__(
        self,
        source: JwksSource,
        *,
        min_refetch_seconds: float = 5.0,
        max_age_seconds: float = 3600.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._source = source
        self._min_refetch = min_refetch_seconds
        self._max_age = max_age_seconds
        self._clock = clock
        self._keys: dict[str, VerificationKey] = {}
        self._fetched_at: float | None = None  # last attempt, successful or not
        self._loaded_at: float | None = None  # last success
        self._lock = asyncio.Lock()
        self.fetches = 0

    async def key_for(self, header: TokenHeader) -> VerificationKey:
        if header.kid is None:
            raise SessionTokenError(
                "session_token_unknown_key", "The session token names no key (kid)."
            )
        key = self._fresh_key(header.kid)
        if key is not None:
            return key
        async with self._lock:
            key = self._fresh_key(header.kid)  # another request may have just fetched
            if key is None and self._may_fetch():
                await self._refresh()
                key = self._fresh_key(header.kid)
            elif key is None and not self._keys:
                raise JwksUnavailable("the JWKS could not be fetched a moment ago")
        if key is None:
            raise SessionTokenError(
                "session_token_unknown_key", "The session token's key (kid) is not known."
            )
        return key

    def _fresh_key(self, kid: str) -> VerificationKey | None:
        if self._loaded_at is None or self._clock() - self._loaded_at > self._max_age:
            return None
        return self._keys.get(kid)

    def _may_fetch(self) -> bool:
        return self._fetched_at is None or self._clock() - self._fetched_at >= self._min_refetch

    async def _refresh(self) -> None:
        self._fetched_at = self._clock()
        self.fetches += 1
        try:
            keys = parse_jwks(await self._source.fetch())
        except JwksUnavailable as exc:
            if not self._keys:
                raise
            # Keep the keys we have (a provider outage must not sign everyone out).
            log.warning("JWKS refresh failed, keeping %d cached key(s): %s", len(self._keys), exc)
            self._loaded_at = self._clock()
            return
        self._keys, self._loaded_at = keys, self._clock()
