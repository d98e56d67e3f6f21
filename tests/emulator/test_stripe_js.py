"""The Stripe.js shim: served with the emulator's URL, and driven under Node."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import aiohttp
import stripe

from .conftest import PUBLISHABLE_KEY, Running

HARNESS = Path(__file__).with_name("stripe_js_harness.js")


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


async def run_harness(
    emulator: Running, http: aiohttp.ClientSession, tmp_path: Path, runs: list[dict[str, str]]
) -> dict[str, Any]:
    """Run the shim under Node (>= 18, for fetch; on PATH) over `runs`; its report."""
    async with http.get(emulator.url + "/v3/") as resp:
        (tmp_path / "stripe.js").write_text(await resp.text())
    scenarios = json.dumps({"pk": PUBLISHABLE_KEY, "runs": runs})
    proc = await asyncio.create_subprocess_exec(
        "node",
        str(HARNESS),
        str(tmp_path / "stripe.js"),
        scenarios,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 20)
    assert proc.returncode == 0, err.decode()
    report: dict[str, Any] = json.loads(out)
    return report


async def test_confirm_card_payment_flows_under_node(
    emulator: Running, client: stripe.StripeClient, http: aiohttp.ClientSession, tmp_path: Path
) -> None:
    async def secret() -> str:
        pi = await client.v1.payment_intents.create_async({"amount": 1500, "currency": "usd"})
        return str(pi.client_secret)

    runs = [
        {"secret": await secret(), "pm": "pm_card_visa"},
        {"secret": await secret(), "card": "4000000000009995"},
        {"secret": await secret(), "card": "4242424242424242"},
        {"secret": await secret(), "card": "4000002760003184", "challenge": "complete"},
        {"secret": await secret(), "card": "4000002760003184", "challenge": "fail"},
        {"secret": await secret(), "card": "4242424242424241"},
    ]
    runs.append({"kind": "retrieve", "secret": runs[0]["secret"]})
    report = await run_harness(emulator, http, tmp_path, runs)
    results = report["results"]
    assert results[0] == {"status": "succeeded", "error": None}
    assert results[1]["error"]["code"] == "card_declined"
    assert results[1]["error"]["decline_code"] == "insufficient_funds"
    assert results[1]["error"]["pi"] == runs[1]["secret"].split("_secret_")[0]
    assert results[2] == {"status": "succeeded", "error": None}
    assert results[3] == {"status": "succeeded", "error": None}
    assert results[4]["error"]["code"] == "payment_intent_authentication_failure"
    assert results[5]["error"]["code"] == "incorrect_number"
    assert results[6] == {"status": "succeeded", "error": None}
    assert report["challengeLog"] == [200, 200]
    assert report["changes"] == [True] * 5


async def test_confirm_card_setup_and_handle_next_action_under_node(
    emulator: Running, client: stripe.StripeClient, http: aiohttp.ClientSession, tmp_path: Path
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
    report = await run_harness(emulator, http, tmp_path, runs)
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
