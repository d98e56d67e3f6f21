"""The Stripe.js shim: served with the emulator's URL, and driven under Node."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import stripe

from .conftest import PUBLISHABLE_KEY, Running

HARNESS = Path(__file__).with_name("stripe_js_harness.js")


@pytest.fixture
async def shim(emulator: Running, http: aiohttp.ClientSession, tmp_path: Path) -> Path:
    """The shim as the emulator serves it (its base URL filled in), saved for Node."""
    async with http.get(emulator.url + "/v3/") as resp:
        (tmp_path / "stripe.js").write_text(await resp.text())
    return tmp_path / "stripe.js"


async def _secret(client: stripe.StripeClient) -> str:
    pi = await client.v1.payment_intents.create_async({"amount": 1500, "currency": "usd"})
    return str(pi.client_secret)


def _assert_insufficient_funds(result: dict[str, Any], secret: str) -> None:
    """4000 0000 0000 9995's decline, naming the PaymentIntent it declined."""
    assert result["error"]["code"] == "card_declined"
    assert result["error"]["decline_code"] == "insufficient_funds"
    assert result["error"]["pi"] == secret.split("_secret_")[0]


async def _run_harness(script: Path, runs: list[dict[str, str]]) -> dict[str, Any]:
    """The harness under Node (>= 18, for fetch): its JSON report."""
    scenarios = json.dumps({"pk": PUBLISHABLE_KEY, "runs": runs})
    proc = await asyncio.create_subprocess_exec(
        "node",
        str(HARNESS),
        str(script),
        scenarios,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0, err.decode()
    assert out, err.decode()
    report: dict[str, Any] = json.loads(out)
    return report


async def test_script_is_served_with_base_url(
    emulator: Running, http: aiohttp.ClientSession
) -> None:
    for path in ("/v3/", "/js/stripe.js"):
        async with http.get(emulator.url + path) as resp:
            script = await resp.text()
        assert resp.status == 200
        assert resp.content_type == "application/javascript"
        assert resp.headers["Access-Control-Allow-Origin"] == "*"
        assert f'var BASE = "{emulator.url}";' in script
        assert "window.Stripe = Stripe" in script


async def test_confirm_card_payment_flows_under_node(
    client: stripe.StripeClient, shim: Path
) -> None:
    runs = [
        {"secret": await _secret(client), "pm": "pm_card_visa"},
        {"secret": await _secret(client), "card": "4000000000009995"},
        {"secret": await _secret(client), "card": "4242424242424242"},
        {"secret": await _secret(client), "card": "4000002760003184", "challenge": "complete"},
        {"secret": await _secret(client), "card": "4000002760003184", "challenge": "fail"},
        {"secret": await _secret(client), "card": "4242424242424241"},
    ]
    runs.append({"kind": "retrieve", "secret": runs[0]["secret"]})
    report = await _run_harness(shim, runs)
    results = report["results"]
    assert results[0] == {"status": "succeeded", "error": None}
    _assert_insufficient_funds(results[1], runs[1]["secret"])
    assert results[2] == {"status": "succeeded", "error": None}
    assert results[3] == {"status": "succeeded", "error": None}
    assert results[4]["error"]["code"] == "payment_intent_authentication_failure"
    assert results[5]["error"]["code"] == "incorrect_number"
    assert results[6] == {"status": "succeeded", "error": None}
    assert report["challengeLog"] == [200, 200]
    assert report["changes"] == [True] * 5


async def test_payment_element_flows_under_node(client: stripe.StripeClient, shim: Path) -> None:
    """elements({ clientSecret }).create("payment"), confirmPayment, handleNextAction."""
    runs = [
        {"kind": "payment", "secret": await _secret(client), "card": "4242424242424242"},
        {"kind": "payment", "secret": await _secret(client), "card": "4000000000009995"},
        {"kind": "payment", "secret": await _secret(client), "card": "4000002760003184"},
        {
            "kind": "payment",
            "secret": await _secret(client),
            "card": "4000002760003184",
            "challenge": "fail",
        },
        {
            "kind": "payment",
            "secret": await _secret(client),
            "card": "4242424242424242",
            "exp": "12",
        },
        {
            "kind": "payment",
            "secret": await _secret(client),
            "card": "4242424242424242",
            "redirect": "always",
        },
        {"kind": "next_action", "secret": await _secret(client), "card": "4000002760003184"},
    ]
    runs.append({"kind": "retrieve", "secret": runs[0]["secret"]})
    report = await _run_harness(shim, runs)
    results = report["results"]
    assert results[0] == {"status": "succeeded", "error": None}
    _assert_insufficient_funds(results[1], runs[1]["secret"])
    assert results[2] == {"status": "succeeded", "error": None}
    assert results[3]["error"]["code"] == "payment_intent_authentication_failure"
    assert results[4]["error"] == {
        "code": "incomplete_expiry",
        "message": "Your card's expiration date is incomplete.",
        "type": "validation_error",
    }
    pi_id = runs[5]["secret"].split("_secret_")[0]
    assert results[5] == {
        "redirected": f"http://shop.test/paid?order=7&payment_intent={pi_id}"
        "&payment_intent_client_secret=SECRET&redirect_status=succeeded"
    }
    assert results[6] == {"status": "succeeded", "error": None}
    assert results[7] == {"status": "succeeded", "error": None}
    # Two challenges by confirmPayment, one by handleNextAction.
    assert report["challengeLog"] == [200, 200, 200]
    assert "before:requires_action" in report["changes"]
    assert "payment:true:card" in report["changes"]
    assert "payment:false:card" in report["changes"]
    # The incomplete element reached the emulator with nothing: its PaymentIntent is untouched.
    incomplete_id = runs[4]["secret"].split("_secret_")[0]
    untouched = await client.v1.payment_intents.retrieve_async(incomplete_id)
    assert untouched.status == "requires_payment_method"


async def test_confirm_card_setup_and_handle_next_action_under_node(
    client: stripe.StripeClient, shim: Path
) -> None:
    customer = await client.v1.customers.create_async({})

    async def setup_secret() -> str:
        si = await client.v1.setup_intents.create_async({"customer": customer.id})
        return str(si.client_secret)

    waiting = await client.v1.payment_intents.create_async(
        {
            "amount": 900,
            "currency": "usd",
            "payment_method": "pm_card_threeDSecure2Required",
            "confirm": True,
        }
    )
    assert waiting.status == "requires_action"
    runs = [
        {"kind": "setup", "secret": await setup_secret(), "pm": "pm_card_visa"},
        {"kind": "setup", "secret": await setup_secret(), "card": "4000002500003155"},
        {"kind": "setup", "secret": await setup_secret(), "pm": "pm_card_chargeDeclined"},
        {"kind": "next", "secret": str(waiting.client_secret)},
    ]
    runs.append({"kind": "retrieveSetup", "secret": runs[0]["secret"]})
    report = await _run_harness(shim, runs)
    results = report["results"]
    assert results[0] == {"status": "succeeded", "error": None}
    assert results[1] == {"status": "succeeded", "error": None}  # after 3-D Secure
    assert results[2]["error"]["code"] == "card_declined"
    assert results[2]["error"]["pi"] == runs[2]["secret"].split("_secret_")[0]
    assert results[3] == {"status": "succeeded", "error": None}
    assert results[4] == {"status": "succeeded", "error": None}
    assert report["challengeLog"] == [200, 200]
    saved = await client.v1.customers.payment_methods.list_async(customer.id)
    assert len(saved.data) == 2
