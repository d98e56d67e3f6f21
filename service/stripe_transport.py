"""The HTTP transport under stripe-python: its aiohttp client, reading bodies safely."""

from __future__ import annotations

import ssl
from collections.abc import Mapping
from typing import Any

import aiohttp
import stripe


class AIOHTTPClient(stripe.AIOHTTPClient):
    """stripe's aiohttp transport, reading the body inside the response's context.

    The stock client reads the body after its error wrapper and never releases the
    response, so a timeout or reset mid-body escaped as a raw aiohttp error (not
    retried) and leaked the connection. Here it is an `APIConnectionError` that
    stripe-python retries with the same idempotency key.
    """

    def __init__(self, timeout_seconds: float) -> None:
        super().__init__()
        self._timeout_seconds = timeout_seconds
        self._own_session: aiohttp.ClientSession | None = None

    async def request_async(
        self, method: str, url: str, headers: Mapping[str, str], post_data: Any = None
    ) -> tuple[bytes, int, Mapping[str, str]]:
        if self._own_session is None:
            # Created on first use: a ClientSession needs the running loop. Stripe's own
            # CA bundle, as the stock client uses.
            tls = ssl.create_default_context(cafile=stripe.ca_bundle_path)
            self._own_session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(ssl=tls),
                timeout=aiohttp.ClientTimeout(total=self._timeout_seconds),
            )
        try:
            async with self._own_session.request(
                method, url, headers=headers, data=post_data
            ) as response:
                return await response.read(), response.status, response.headers
        except (aiohttp.ClientError, TimeoutError) as exc:
            message = f"Network error talking to Stripe: {exc!r}"
            raise stripe.APIConnectionError(  # type: ignore[no-untyped-call]
                message, should_retry=True
            ) from exc

    async def close_async(self) -> None:
        if self._own_session is not None:
            await self._own_session.close()
