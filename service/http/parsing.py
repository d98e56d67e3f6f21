"""Untrusted bytes and strings into checked values, or a clear 4xx (never a 500).

One place for the rules every edge shares: how deep JSON may nest (checked on the raw
bytes before ``json.loads`` can recurse), which characters a string may hold (PostgreSQL
refuses NUL and lone surrogates, so they stop here; ``payments/json_text`` holds the
byte-level checks), and what an integer looks like
(ASCII digits only: ``"²".isdigit()`` is true and ``int("²")`` raises).
"""

from __future__ import annotations

import json
import re
from typing import Final, TypeVar

from aiohttp import web
from pydantic import BaseModel, ValidationError

from service import errors
from service.payments.json_text import surely_storable, too_deep

M = TypeVar("M", bound=BaseModel)

# Far deeper than any body of ours (or any Stripe event) and far below Python's recursion
# limit, which ``json.loads`` and pydantic would otherwise hit.
MAX_JSON_DEPTH: Final = 64
MAX_INT_DIGITS: Final = 18  # always fits a PostgreSQL bigint

# NUL, and UTF-16 surrogates (only a lone one can reach a str decoded from JSON).
_UNSTORABLE: Final = re.compile("[\x00\ud800-\udfff]")
_ASCII_INT: Final = re.compile(r"[0-9]+")


class HostileInput(ValueError):
    """The input can never be valid: too deep, or characters that cannot be stored."""

    def __init__(self, code: str, message: str, where: str = "") -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.where = where


def check_text(value: str, where: str) -> None:
    if _UNSTORABLE.search(value):
        raise HostileInput(
            "invalid_characters",
            f"{where or 'A string'} contains a NUL character or a lone surrogate.",
            where,
        )


def check_strings(value: object, where: str = "") -> None:
    """Every key and string in a parsed JSON value (depth already bounded)."""
    if isinstance(value, str):
        check_text(value, where or "(body)")
    elif isinstance(value, dict):
        for key, item in value.items():
            check_text(key, f"{where}.{key!r}" if where else repr(key))
            check_strings(item, f"{where}.{key}" if where else str(key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            check_strings(item, f"{where}[{index}]")


def loads_checked(raw: bytes, limit: int = MAX_JSON_DEPTH) -> object:
    """``json.loads`` that cannot recurse deeply and returns only storable strings.

    HostileInput for too deep or unstorable; ValueError for anything that is not JSON."""
    if too_deep(raw, limit):
        raise HostileInput("json_too_deep", f"JSON may nest at most {limit} levels.")
    value = json.loads(raw)
    if not surely_storable(raw):
        check_strings(value)
    return value


def parse_int(raw: str, *, low: int = 0, high: int = 2**62) -> int | None:
    """ASCII digits in [low, high], else None; no sign, spaces, underscores or ``²``."""
    if len(raw) > MAX_INT_DIGITS or not _ASCII_INT.fullmatch(raw):
        return None
    value = int(raw)
    return value if low <= value <= high else None


async def parse_json(request: web.Request, model: type[M], *, empty_ok: bool = False) -> M:
    raw = await request.read()  # size-limited by the app's client_max_size
    if not raw.strip() and empty_ok:
        raw = b"{}"
    try:
        body = loads_checked(raw)
    except HostileInput as exc:
        raise errors.InvalidInput(
            exc.message, code=exc.code, details={"field": exc.where} if exc.where else None
        ) from None
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise errors.InvalidInput(
            "The body must be a JSON object.", code="invalid_json", details={"reason": str(exc)}
        ) from None
    if not isinstance(body, dict):
        raise errors.InvalidInput("The body must be a JSON object.", code="invalid_json")
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        problems = [
            {
                "field": ".".join(str(part) for part in error["loc"]) or "(body)",
                "message": error["msg"].removeprefix("Value error, "),
                "type": error["type"],
            }
            for error in exc.errors(include_url=False, include_input=False)
        ]
        raise errors.InvalidInput(
            "The request body is not valid: "
            + "; ".join(f"{p['field']}: {p['message']}" for p in problems[:5]),
            code="validation_failed",
            details={"errors": problems},
        ) from None
