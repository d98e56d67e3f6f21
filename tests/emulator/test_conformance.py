"""The spec conformance checker that every emulator started by the tests carries.

The validator must catch what it claims to (types, enums, required, nullable, expandable
fields) and let through what Stripe added after the spec; the middleware must see
every `/v1/` answer, errors included.
"""

from __future__ import annotations

import copy
from typing import Any

import aiohttp
import pytest

from service.emulator import EMULATOR, create_emulator_app
from tests.support.emulator import running_emulator
from tests.support.stripe_conformance import check_conformance
from tests.support.stripe_spec import (
    MissingReferenceData,
    StripeSpec,
    load_stripe_fixtures,
    load_stripe_spec,
    reference_file,
)

from .conftest import ServerFactory, auth


@pytest.fixture
def spec() -> StripeSpec:
    return load_stripe_spec()


def example(kind: str) -> dict[str, Any]:
    found: dict[str, Any] = copy.deepcopy(load_stripe_fixtures()[kind])
    return found


def template(spec: StripeSpec, method: str, path: str) -> str | None:
    found = spec.operation(method, path)
    return None if found is None else found.template


def test_stripe_examples_conform(spec: StripeSpec) -> None:
    for kind in ("payment_intent", "charge", "refund", "payment_method", "setup_intent"):
        assert spec.violations(spec.schema(kind), example(kind), "") == [], kind


def test_wrong_type_enum_missing_and_null_are_flagged(spec: StripeSpec) -> None:
    pi = example("payment_intent")
    pi.update(amount="1000", status="paid", capture_method=None)
    del pi["currency"]
    problems = spec.violations(spec.schema("payment_intent"), pi, "")
    assert "amount: str '1000', expected integer" in problems
    assert any(p.startswith("status: 'paid' is not one of") for p in problems)
    assert "currency: required, missing" in problems
    assert "capture_method: null, the spec says not nullable" in problems
    assert len(problems) == 4


def test_booleans_are_not_integers(spec: StripeSpec) -> None:
    pi = example("payment_intent")
    pi["amount"] = True
    assert spec.violations(spec.schema("payment_intent"), pi, "") == [
        "amount: bool True, expected integer"
    ]


def test_expandable_field_is_an_id_or_the_object(spec: StripeSpec) -> None:
    pi = example("payment_intent")
    schema = spec.schema("payment_intent")
    pi["customer"] = "cus_123"
    assert spec.violations(schema, pi, "") == []
    pi["customer"] = {**example("customer"), "discount": None}  # newer than the spec
    assert spec.violations(schema, pi, "") == []
    pi["customer"] = {"id": "cus_123", "object": "customer"}
    problems = spec.violations(schema, pi, "")
    assert "customer.created: required, missing" in problems  # the customer branch's
    pi["customer"] = 7
    assert spec.violations(schema, pi, "")


def test_a_field_newer_than_the_spec_is_allowed(spec: StripeSpec) -> None:
    pi = example("payment_intent")
    pi["payment_method_options_v9"] = {"anything": [1, 2]}
    assert spec.violations(spec.schema("payment_intent"), pi, "") == []


def test_metadata_values_must_be_strings(spec: StripeSpec) -> None:
    pi = example("payment_intent")
    pi["metadata"] = {"order": 5}
    assert spec.violations(spec.schema("payment_intent"), pi, "") == [
        "metadata.order: int 5, expected string"
    ]


def test_paths_match_templates_and_errors_use_the_error_schema(spec: StripeSpec) -> None:
    assert template(spec, "GET", "/v1/payment_intents/search") == "/v1/payment_intents/search"
    confirm = template(spec, "POST", "/v1/payment_intents/pi_1/confirm")
    assert confirm == "/v1/payment_intents/{intent}/confirm"
    assert spec.check("GET", "/v1/no_such_thing", 200, {}) == [
        "GET /v1/no_such_thing is not an operation in Stripe's API"
    ]
    error = {"error": {"type": "card_error", "code": "card_declined", "message": "no"}}
    assert spec.check("POST", "/v1/payment_intents", 402, error) == []
    assert spec.check("POST", "/v1/payment_intents", 402, {"error": {"type": "oops"}})


def test_missing_reference_data_says_where_it_is_expected() -> None:
    with pytest.raises(MissingReferenceData) as caught:
        reference_file("no_such_file.json")
    message = str(caught.value)
    assert str(reference_file("spec3.json.gz").parent / "no_such_file.json") in message
    assert "shared/stripe" in message


async def test_the_checker_sees_answers_and_errors(aiohttp_server: ServerFactory) -> None:
    app = create_emulator_app()
    conformance = check_conformance(app)
    server = await aiohttp_server(app)
    url = str(server.make_url("/v1/customers"))
    async with aiohttp.ClientSession() as http:
        async with http.post(url, data={"email": "a@example.com"}, headers=auth()) as resp:
            customer = await resp.json()
        async with http.get(f"{url}/cus_missing", headers=auth()) as resp:
            assert resp.status == 404
        assert conformance.checked == 2
        conformance.assert_clean()
        # A stored object gone wrong shows up on the next answer that carries it.
        app[EMULATOR].store.get("customer", customer["id"])["email"] = 5
        async with http.get(f"{url}/{customer['id']}", headers=auth()) as resp:
            assert resp.status == 200
    assert conformance.violations == [
        f"GET /v1/customers/{customer['id']} -> 200: email: int 5, expected string"
    ]
    with pytest.raises(AssertionError, match="disagree with Stripe's API spec"):
        conformance.assert_clean()


async def _break_a_customer() -> None:
    """Start the emulator, corrupt a stored customer, fetch it, leave the block."""
    async with running_emulator() as emulator, aiohttp.ClientSession() as http:
        url, headers = f"{emulator.url}/v1/customers", auth(emulator.secret_key)
        async with http.post(url, headers=headers) as resp:
            customer = await resp.json()
        emulator.handle.store.get("customer", customer["id"])["livemode"] = "no"
        async with http.get(f"{url}/{customer['id']}", headers=headers) as resp:
            assert resp.status == 200


async def test_running_emulator_fails_on_leaving_when_an_answer_broke_the_spec() -> None:
    with pytest.raises(AssertionError, match=r"livemode: str 'no', expected boolean"):
        await _break_a_customer()
