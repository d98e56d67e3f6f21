"""The JWKS cache against a real local JWKS server: cached, rotated, throttled, resilient."""

from __future__ import annotations

import asyncio
import time

import jwt
import pytest

from service.identity.jwks import JwksCache, JwksUnavailable, parse_jwks
from service.identity.jwks_http import HttpJwksSource
from service.identity.session_tokens import SessionTokenError, TokenPolicy
from service.identity.verifier import SessionVerifier
from tests.support.session_keys import ISSUER, SigningKey, claims, running_jwks

POLICY = TokenPolicy(issuer=ISSUER, authorized_parties=frozenset(), leeway_seconds=5)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def make(url: str, clock: Clock, **options: float) -> tuple[SessionVerifier, JwksCache]:
    source = HttpJwksSource(url)
    cache = JwksCache(source, clock=clock, **options)
    return SessionVerifier(cache, POLICY, source), cache


async def code_of(v: SessionVerifier, token: str) -> str:
    with pytest.raises(SessionTokenError) as caught:
        await v.verify(token)
    return caught.value.code


async def test_keys_are_fetched_once_and_cached() -> None:
    key = SigningKey.rsa("k1")
    async with running_jwks([key]) as jwks:
        v, cache = make(jwks.url, Clock())
        try:
            for n in range(5):
                assert (await v.verify(key.token(**claims(f"user_{n}")))).user_id == f"user_{n}"
        finally:
            await v.close()
    assert jwks.hits == 1
    assert cache.fetches == 1


async def test_rotation_an_unknown_kid_refetches_once() -> None:
    old, new = SigningKey.rsa("old"), SigningKey.ec("new")
    async with running_jwks([old]) as jwks:
        clock = Clock()
        v, _ = make(jwks.url, clock)
        try:
            await v.verify(old.token(**claims()))
            jwks.publish([old, new])  # the provider adds its next key, then signs with it
            clock.now += 6
            assert (await v.verify(new.token(**claims("user_bob")))).user_id == "user_bob"
            assert jwks.hits == 2
            await v.verify(old.token(**claims()))  # both known now: no fetch
            assert jwks.hits == 2
        finally:
            await v.close()


async def test_unknown_kids_cost_one_fetch_per_interval() -> None:
    key, stranger = SigningKey.rsa("k1"), SigningKey.rsa("made-up")
    clock = Clock()
    async with running_jwks([key]) as jwks:
        v, _ = make(jwks.url, clock, min_refetch_seconds=5.0)
        try:
            await v.verify(key.token(**claims()))
            clock.now += 10
            codes = await asyncio.gather(
                *(code_of(v, stranger.token(**claims())) for _ in range(20))
            )
            assert set(codes) == {"session_token_unknown_key"}
            assert jwks.hits == 2  # one refetch for twenty tokens at once
            clock.now += 1
            assert await code_of(v, stranger.token(**claims())) == "session_token_unknown_key"
            assert jwks.hits == 2  # too soon for another
            clock.now += 5
            await code_of(v, stranger.token(**claims()))
            assert jwks.hits == 3
        finally:
            await v.close()


async def test_a_removed_key_stops_working_once_the_cache_ages_out() -> None:
    old, new = SigningKey.rsa("old"), SigningKey.rsa("new")
    clock = Clock()
    async with running_jwks([old]) as jwks:
        v, _ = make(jwks.url, clock, max_age_seconds=60)
        try:
            await v.verify(old.token(**claims()))
            jwks.publish([new])
            clock.now += 61
            assert await code_of(v, old.token(**claims())) == "session_token_unknown_key"
            assert (await v.verify(new.token(**claims()))).user_id == "user_alice"
        finally:
            await v.close()


async def test_an_outage_keeps_the_cached_keys() -> None:
    key = SigningKey.rsa("k1")
    clock = Clock()
    async with running_jwks([key]) as jwks:
        v, _ = make(jwks.url, clock, max_age_seconds=60)
        try:
            await v.verify(key.token(**claims()))
            jwks.failing = True
            clock.now += 61  # aged out: a refetch is tried, fails, the keys stay
            assert (await v.verify(key.token(**claims()))).user_id == "user_alice"
            assert jwks.hits == 2
        finally:
            await v.close()


async def test_no_keys_at_all_is_unavailable_not_unauthenticated() -> None:
    key = SigningKey.rsa("k1")
    async with running_jwks([key]) as jwks:
        jwks.failing = True
        v, _ = make(jwks.url, Clock())
        try:
            with pytest.raises(JwksUnavailable):
                await v.verify(key.token(**claims()))
            with pytest.raises(JwksUnavailable):  # throttled, still no keys: still 503
                await v.verify(key.token(**claims()))
        finally:
            await v.close()


async def test_a_token_without_kid_is_refused_with_a_jwks() -> None:
    key = SigningKey.rsa("k1")
    async with running_jwks([key]) as jwks:
        v, _ = make(jwks.url, Clock())
        try:
            token = jwt.encode({**claims(), "exp": time.time() + 60}, key.private, "RS256")
            assert await code_of(v, token) == "session_token_unknown_key"
        finally:
            await v.close()


def test_parse_keeps_only_signing_keys_with_a_kid() -> None:
    rsa, ec = SigningKey.rsa("r"), SigningKey.ec("e")
    enc = {**SigningKey.rsa("enc").jwk(), "use": "enc"}
    no_kid = {k: v for k, v in SigningKey.rsa("x").jwk().items() if k != "kid"}
    hmac_key = {"kty": "oct", "k": "c2VjcmV0", "kid": "hs"}
    import json

    document = {"keys": [rsa.jwk(), ec.jwk(), enc, no_kid, hmac_key, "junk"]}
    keys = parse_jwks(json.dumps(document).encode())
    assert {kid: k.algorithm for kid, k in keys.items()} == {"r": "RS256", "e": "ES256"}
    for bad in (b"not json", b"[]", b'{"keys": []}', json.dumps({"keys": [enc]}).encode()):
        with pytest.raises(JwksUnavailable):
            parse_jwks(bad)
