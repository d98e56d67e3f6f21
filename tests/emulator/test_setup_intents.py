"""SetupIntents: save a card without paying, with 3-D Secure and declines, as Stripe does."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from .conftest import PUBLISHABLE_KEY, Api, Running


async def _customer(api: Api) -> str:
    return str((await api.ok("POST", "/v1/customers", {"name": "Setter"}))["id"])


async def _saved(api: Api, cus: str) -> list[str]:
    listed = await api.ok("GET", f"/v1/customers/{cus}/payment_methods", {"type": "card"})
    return [pm["id"] for pm in listed["data"]]


async def test_create_and_confirm_saves_the_card(api: Api, emulator: Running) -> None:
    cus = await _customer(api)
    si = await api.ok(
        "POST",
        "/v1/setup_intents",
        {"customer": cus, "payment_method": "pm_card_visa", "confirm": "true"},
    )
    assert si["id"].startswith("seti_")
    assert si["client_secret"].startswith(si["id"] + "_secret_")
    assert (si["status"], si["usage"], si["customer"]) == ("succeeded", "off_session", cus)
    assert await _saved(api, cus) == [si["payment_method"]]
    await emulator.handle.wait_idle()
    assert [e["type"] for e in emulator.handle.events() if "setup_intent" in e["type"]] == [
        "setup_intent.created",
        "setup_intent.succeeded",
    ]
    assert emulator.handle.events("payment_method.attached")


async def test_confirm_later_with_the_publishable_key(api: Api) -> None:
    cus = await _customer(api)
    si = await api.ok("POST", "/v1/setup_intents", {"customer": cus, "usage": "on_session"})
    assert (si["status"], si["usage"], si["payment_method"]) == (
        "requires_payment_method",
        "on_session",
        None,
    )
    path = f"/v1/setup_intents/{si['id']}"
    status, body = await api.call("GET", path, {"client_secret": "wrong"}, key=PUBLISHABLE_KEY)
    assert (status, body["error"]["param"]) == (400, "client_secret")
    secret = {"client_secret": si["client_secret"]}
    fetched = await api.ok("GET", path, secret, key=PUBLISHABLE_KEY)
    assert fetched["id"] == si["id"]
    pm = await api.ok(
        "POST",
        "/v1/payment_methods",
        {
            "type": "card",
            "card[number]": "5555555555554444",
            "card[exp_month]": "3",
            "card[exp_year]": "2033",
        },
        key=PUBLISHABLE_KEY,
    )
    done = await api.ok(
        "POST", f"{path}/confirm", {**secret, "payment_method": pm["id"]}, key=PUBLISHABLE_KEY
    )
    assert (done["status"], done["payment_method"]) == ("succeeded", pm["id"])
    assert await _saved(api, cus) == [pm["id"]]
    status, body = await api.call("POST", f"{path}/confirm")
    assert (status, body["error"]["code"]) == (400, "setup_intent_unexpected_state")
    assert body["error"]["setup_intent"]["id"] == si["id"]
    status, body = await api.call("POST", f"{path}/cancel")
    assert (status, body["error"]["code"]) == (400, "setup_intent_unexpected_state")


async def test_three_d_secure_on_setup(api: Api, emulator: Running) -> None:
    cus = await _customer(api)
    data = {"customer": cus, "payment_method": "pm_card_threeDSecure2Required", "confirm": "true"}
    si = await api.ok("POST", "/v1/setup_intents", data)
    assert si["status"] == "requires_action"
    assert si["next_action"]["type"] == "use_stripe_sdk"
    assert si["next_action"]["use_stripe_sdk"]["stripe_js"].startswith(
        f"{emulator.url}/3ds/{si['id']}?client_secret="
    )
    assert await _saved(api, cus) == []
    assert await api.challenge(si, "fail") == 200
    failed = await api.ok("GET", f"/v1/setup_intents/{si['id']}")
    assert failed["status"] == "requires_payment_method"
    assert failed["last_setup_error"]["code"] == "setup_intent_authentication_failure"
    assert failed["payment_method"] is None
    # Try again, coming back through a return_url this time.
    again = await api.ok(
        "POST",
        f"/v1/setup_intents/{si['id']}/confirm",
        {"payment_method": si["payment_method"], "return_url": "https://shop.example/back"},
    )
    redirect = again["next_action"]["redirect_to_url"]
    assert (again["next_action"]["type"], redirect["return_url"]) == (
        "redirect_to_url",
        "https://shop.example/back",
    )
    url = f"{emulator.url}/3ds/{si['id']}/complete"
    async with api.http.post(
        url, data={"client_secret": si["client_secret"]}, allow_redirects=False
    ) as resp:
        assert resp.status == 303
        location = urlsplit(resp.headers["Location"])
    assert location.netloc == "shop.example"
    assert parse_qs(location.query) == {
        "setup_intent": [si["id"]],
        "setup_intent_client_secret": [si["client_secret"]],
        "redirect_status": ["succeeded"],
    }
    done = await api.ok("GET", f"/v1/setup_intents/{si['id']}")
    assert (done["status"], done["next_action"]) == ("succeeded", None)
    assert await _saved(api, cus) == [si["payment_method"]]
    await emulator.handle.wait_idle()
    assert [e["type"] for e in emulator.handle.events() if "setup_intent" in e["type"]] == [
        "setup_intent.created",
        "setup_intent.requires_action",
        "setup_intent.setup_failed",
        "setup_intent.requires_action",
        "setup_intent.succeeded",
    ]


async def test_declined_card_is_not_saved(api: Api, emulator: Running) -> None:
    cus = await _customer(api)
    status, body = await api.call(
        "POST",
        "/v1/setup_intents",
        {"customer": cus, "payment_method": "pm_card_chargeDeclinedExpiredCard", "confirm": "true"},
    )
    error = body["error"]
    assert status == 402
    assert (error["type"], error["code"], error["decline_code"]) == (
        "card_error",
        "expired_card",
        "expired_card",
    )
    si = error["setup_intent"]
    assert si["status"] == "requires_payment_method"
    assert si["last_setup_error"]["code"] == "expired_card"
    assert "charge" not in si["last_setup_error"]
    assert await _saved(api, cus) == []
    await emulator.handle.wait_idle()
    assert emulator.handle.events("setup_intent.setup_failed")


async def test_cancel_list_and_errors(api: Api) -> None:
    cus = await _customer(api)
    first = await api.ok("POST", "/v1/setup_intents", {"customer": cus})
    second = await api.ok("POST", "/v1/setup_intents", {"metadata[k]": "v"})
    canceled = await api.ok(
        "POST",
        f"/v1/setup_intents/{first['id']}/cancel",
        {"cancellation_reason": "requested_by_customer"},
    )
    assert (canceled["status"], canceled["cancellation_reason"]) == (
        "canceled",
        "requested_by_customer",
    )
    listed = await api.ok("GET", "/v1/setup_intents", {"customer": cus})
    assert [s["id"] for s in listed["data"]] == [first["id"]]
    everything = await api.ok("GET", "/v1/setup_intents")
    assert [s["id"] for s in everything["data"]] == [second["id"], first["id"]]
    updated = await api.ok("POST", f"/v1/setup_intents/{second['id']}", {"metadata[x]": "1"})
    assert updated["metadata"] == {"k": "v", "x": "1"}
    status, body = await api.call("POST", f"/v1/setup_intents/{second['id']}/confirm")
    assert (status, body["error"]["code"]) == (400, "setup_intent_unexpected_state")
    status, body = await api.call("GET", "/v1/setup_intents/seti_missing")
    assert (status, body["error"]["code"]) == (404, "resource_missing")
    status, body = await api.call("POST", "/v1/setup_intents", {"customer": "cus_missing"})
    assert (status, body["error"]["param"]) == (404, "customer")
