"""The event loop a process runs on (``EVENT_LOOP``): the web processes and the delivery one."""

from __future__ import annotations

import asyncio
from typing import Literal


def new_event_loop(kind: Literal["uvloop", "asyncio"]) -> asyncio.AbstractEventLoop:
    """uvloop's loop (libuv; what asyncpg's authors run it on), or asyncio's own."""
    if kind == "uvloop":
        import uvloop  # here: `migrate` and the tests' in-process apps never need it

        return uvloop.new_event_loop()
    return asyncio.new_event_loop()
