"""Every answer the emulator gives a test is checked against Stripe's OpenAPI spec.

    app = create_emulator_app(config)
    conformance = check_conformance(app)   # before the app starts
    ...                                    # the test's flows
    conformance.assert_clean()             # in the fixture's teardown

The checker is the app's outermost middleware, so it sees Stripe-style error answers
too. Violations are collected rather than raised, so the flow under test runs as it
would, and the fixture that started the emulator fails the test that produced them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from aiohttp import web
from aiohttp.typedefs import Handler

from tests.support.stripe_spec import StripeSpec, load_stripe_spec


@dataclass
class Conformance:
    spec: StripeSpec
    violations: list[str] = field(default_factory=list)
    checked: int = 0  # responses checked, so a test can see the checker ran

    def check(self, method: str, path: str, status: int, body: bytes) -> None:
        self.checked += 1
        try:
            value = json.loads(body)
        except ValueError:
            self.violations.append(f"{method} {path} -> {status}: body is not JSON")
            return
        for problem in self.spec.check(method, path, status, value):
            self.violations.append(f"{method} {path} -> {status}: {problem}")

    def assert_clean(self) -> None:
        if self.violations:
            shown = "\n  ".join(self.violations[:30])
            more = len(self.violations) - 30
            tail = f"\n  ... and {more} more" if more > 0 else ""
            raise AssertionError(
                f"emulator answers that disagree with Stripe's API spec:\n  {shown}{tail}"
            )


CONFORMANCE = web.AppKey("stripe_conformance", Conformance)


def check_conformance(app: web.Application) -> Conformance:
    """Make `app` (an emulator app, not yet started) record spec violations."""
    conformance = Conformance(load_stripe_spec())

    @web.middleware
    async def conformance_check(request: web.Request, handler: Handler) -> web.StreamResponse:
        response = await handler(request)
        if (
            request.path.startswith("/v1/")
            and isinstance(response, web.Response)
            and response.content_type == "application/json"
            and isinstance(response.body, bytes)
        ):
            conformance.check(request.method, request.path, response.status, response.body)
        return response

    app.middlewares.insert(0, conformance_check)
    app[CONFORMANCE] = conformance
    return conformance
