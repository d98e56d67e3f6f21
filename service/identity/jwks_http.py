"""``JwksSource`` over HTTP with aiohttp: the only network I/O of identity.

PyJWT's own ``PyJWKClient`` fetches with blocking urllib, which would stall the event
loop (every request and socket of the process) for as long as the provider takes to
answer; here the fetch is awaited and time-limited, and PyJWT only parses and verifies.
"""

from __future__ import annotations

import aiohttp

from service.identity.jwks import JwksUnavailable

MAX_JWKS_BYTES = 256 * 1024


class HttpJwksSource:
    def __init__(self, url: str, *, timeout_seconds: float = 5.0) -> None:
        self.url = url
        self._timeout = aiohttp.ClientTimeout(total=timeout_seconds)
        self._session: aiohttp.ClientSession | None = None

    async def fetch(self) -> bytes:
        if self._session is None:  # made on first use, inside the running loop
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        try:
            async with self._session.get(
                self.url, headers={"Accept": "application/json"}, allow_redirects=False
            ) as response:
                if response.status != 200:
                    raise JwksUnavailable(f"the JWKS endpoint answered {response.status}")
                body = await response.content.read(MAX_JWKS_BYTES + 1)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise JwksUnavailable(f"the JWKS endpoint cannot be reached: {exc!r}") from None
        if len(body) > MAX_JWKS_BYTES:
            raise JwksUnavailable("the JWKS document is too large")
        return body

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
