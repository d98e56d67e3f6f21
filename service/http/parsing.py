"""Turn a request body into a validated model, or a clear 400/422."""

from __future__ import annotations

import json
from typing import TypeVar

from aiohttp import web
from pydantic import BaseModel, ValidationError

from service import errors

M = TypeVar("M", bound=BaseModel)


async def parse_json(request: web.Request, model: type[M], *, empty_ok: bool = False) -> M:
    raw = await request.read()  # size-limited by the app's client_max_size
    if not raw.strip() and empty_ok:
        raw = b"{}"
    try:
        body = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
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
