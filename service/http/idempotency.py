"""``Idempotency-Key`` on POST /api/…, as Stripe does it.

The first request with a key claims it and its answer is stored; a retry with the same
key and the same request replays that answer (``Idempotent-Replayed: true``) without
running the handler; the same key with another request is 422; a retry while the first
is still running is 409. Keys are scoped per authenticated caller (the caller is
authenticated before anything is looked up; anonymous callers get no replays) and kept
for ``ttl_seconds``.

It must be innermost (last in the middleware list; ``create_app`` puts it there): it
converts the handler's exceptions with ``error_middleware`` itself, so what it stores is
exactly what the caller saw.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import time
from collections.abc import Awaitable
from datetime import datetime
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from service.db import idempotency_repo as repo
from service.db.pool import Pool
from service.http.auth import caller_identity
from service.http.errors import error_middleware, error_response
from service.keys import AUTH, DB_POOL

log = logging.getLogger(__name__)

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"

_VALID_KEY = re.compile(r"[\x20-\x7e]{1,255}")
# Answers that say "try again" (auth fixed, conflict resolved, rate limit passed, outage
# over) are not stored, so the same key can be retried; 5xx are dropped for the same reason.
_RETRYABLE_4XX = frozenset({401, 403, 409, 429})


def principal_of(request: web.Request) -> str | None:
    """Whose key space this is: the caller's authenticated identity (``apikey:…`` or
    ``order:…``, hashes, never a secret), or None when there is none to key by: nothing
    is then stored or replayed, and the handler answers (401 for bad credentials)."""
    return caller_identity(request, request.app[AUTH])


def fingerprint(method: str, path_qs: str, body: bytes) -> str:
    """Same request ⇔ same hash; JSON whitespace and key order do not count."""
    canonical = body
    if body:
        try:
            parsed = json.loads(body)
            canonical = json.dumps(parsed, sort_keys=True, separators=(",", ":")).encode()
        except (ValueError, RecursionError):  # not JSON (or absurdly nested): raw bytes
            canonical = body
    digest = hashlib.sha256()
    for part in (method.encode(), path_qs.encode("utf-8", "surrogatepass"), canonical):
        # Length-prefixed so no two different (method, path, body) triples hash the same input.
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


def _storable(status: int) -> bool:
    return 200 <= status < 300 or (400 <= status < 500 and status not in _RETRYABLE_4XX)


def _json_body(response: web.StreamResponse) -> tuple[bool, Any]:
    """(True, parsed) when the answer is a plain JSON ``web.Response``; else (False, None)."""
    if (
        not isinstance(response, web.Response)
        or response.prepared
        or response.content_type != "application/json"
        or not isinstance(response.body, bytes | bytearray)
    ):
        return False, None
    try:
        return True, json.loads(response.body)
    except (ValueError, RecursionError):
        return False, None


def idempotency_middleware(
    *,
    lease_seconds: float = 60.0,
    ttl_seconds: float = 24 * 3600.0,
    cleanup_interval_seconds: float = 300.0,
    cleanup_batch: int = 500,
) -> Middleware:
    """Build the middleware.

    ``lease_seconds``: how long an unfinished request holds its key before a retry may
    take it over (the first process is presumed dead). ``ttl_seconds``: how long a key
    and its answer are kept. Expired rows are deleted in small batches at most once per
    ``cleanup_interval_seconds``, on a request that carries a key.
    """
    next_cleanup = 0.0

    async def cleanup(request: web.Request) -> None:
        nonlocal next_cleanup
        now = time.monotonic()
        if now < next_cleanup:
            return
        next_cleanup = now + cleanup_interval_seconds
        try:
            await repo.delete_expired(request.app[DB_POOL], limit=cleanup_batch)
        except Exception:  # housekeeping must never fail a request
            log.warning("idempotency: expired-key cleanup failed", exc_info=True)

    @web.middleware
    def idempotency(request: web.Request, handler: Handler) -> Awaitable[web.StreamResponse]:
        """A plain function for requests without a key: it hands on the handler's
        awaitable, so a request that lasts (a WebSocket) keeps no frame of it alive."""
        key = request.headers.get(HEADER)
        if key is None or request.method != "POST" or not request.path.startswith("/api/"):
            return handler(request)
        return keyed(request, handler, key)

    async def keyed(request: web.Request, handler: Handler, key: str) -> web.StreamResponse:
        if not _VALID_KEY.fullmatch(key):
            return error_response(
                400,
                "invalid_idempotency_key",
                f"The {HEADER} header must be 1 to 255 printable ASCII characters.",
            )

        # Authenticated first: a revoked key, an expired token or a stray credential
        # gets no stored answer, and one caller's keys are never another's.
        principal = principal_of(request)
        if principal is None:
            return await handler(request)
        pool = request.app[DB_POOL]
        request_hash = fingerprint(request.method, request.path_qs, await request.read())
        await cleanup(request)
        try:
            outcome = await repo.claim(
                pool,
                principal=principal,
                key=key,
                method=request.method,
                path=request.path,
                request_hash=request_hash,
                ttl_seconds=ttl_seconds,
                lease_seconds=lease_seconds,
            )
        except repo.ClaimContended:
            return _in_progress()

        if isinstance(outcome, repo.Existing):
            if outcome.request_hash != request_hash:
                return error_response(
                    422,
                    "idempotency_key_reused",
                    f"This {HEADER} was already used with different parameters (method, "
                    "path, query or body). Use a new key for a different request.",
                    {"idempotency_key": key},
                )
            if not outcome.completed or outcome.response_status is None:
                return _in_progress()
            return web.json_response(
                outcome.response_body,
                status=outcome.response_status,
                headers={REPLAYED_HEADER: "true"},
            )

        token = outcome.token
        try:
            # Converted here, not by the edge middleware outside, so raised domain errors
            # (422, 404…) are stored like returned answers.
            response = await error_middleware(request, handler)
        except BaseException:  # redirects raised as exceptions, cancellation
            await _release(pool, principal, key, token)
            raise

        is_json, body = _json_body(response)
        if not (is_json and _storable(response.status)):
            await _release(pool, principal, key, token)
            return response
        try:
            stored = await repo.complete(
                pool,
                principal=principal,
                key=key,
                token=token,
                status=response.status,
                body=body,
            )
        except Exception:
            # The work is done: answer it. The key frees itself when the lease runs out.
            log.exception("idempotency: could not store the answer for a key")
        else:
            if not stored:
                log.warning("idempotency: claim lost before completion (lease too short?)")
        return response

    return idempotency


def _in_progress() -> web.Response:
    return error_response(
        409,
        "idempotency_request_in_progress",
        f"A request with this {HEADER} is still being processed. Retry once it has finished.",
        headers={"Retry-After": "1"},
    )


async def _release(pool: Pool, principal: str, key: str, token: datetime) -> None:
    try:
        await repo.release(pool, principal=principal, key=key, token=token)
    except Exception:  # the lease frees the key later; do not mask the real answer
        log.warning("idempotency: could not release a key", exc_info=True)
