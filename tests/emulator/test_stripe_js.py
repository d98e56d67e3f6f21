"""The Stripe.js shim: served with the emulator's URL, and driven under Node."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

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


async def test_confirm_card_payment_flows_under_node(
    emulator: Running, client: stripe.StripeClient, http: aiohttp.ClientSession, tmp_path: Path
) -> None:
    # Needs Node.js (>= 18, for fetch) on PATH.
    async with http.get(emulator.url + "/v3/") as resp:
        (tmp_path / "stripe.js").write_text(await resp.text())

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
    report = json.loads(out)
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
