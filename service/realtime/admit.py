"""Admitting a live connection against the per-credential and per-address caps."""

from __future__ import annotations

from aiohttp import web

from service.http.errors import error_response
from service.realtime.limits import Admission


def too_many(what: str) -> web.Response:
    return error_response(
        429,
        "too_many_connections",
        f"Too many live connections for this {what}; close one or retry later.",
        {"per": what},
        headers={"Retry-After": "5"},
    )


def admit(
    admission: Admission, request: web.Request, credential: str | None
) -> web.Response | None:
    """None if admitted (the slots are held until ``admission.release()``), else the 429."""
    if not admission.take_address(request.remote or "unknown"):
        return too_many("address")
    if credential is not None and not admission.take_token(credential):
        admission.release()
        return too_many("token")
    return None
