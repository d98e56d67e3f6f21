"""Saved cards: attach, detach, list, `setup_future_usage`, off-session payments, deleting
a customer, metadata after payment, card fingerprints (Stripe's shapes and errors)."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from service.emulator.objects import card

from .conftest import Api, Running


async def _customer(api: Api) -> str:
    body = await api.ok("POST", "/v1/customers", {"email": "saver@example.com"})
    return str(body["id"])


async def _card(api: Api, number: str = "4242424242424242") -> dict[str, Any]:
    data = {"type": "card", "card[number]": number, "card[exp_month]": "12"}
    return await api.ok("POST", "/v1/payment_methods", {**data, "card[exp_year]": "2034"})


def _ids(listing: dict[str, Any]) -> list[str]:
    return [pm["id"] for pm in listing["data"]]


async def _pay(api: Api, **fields: str) -> tuple[int, dict[str, Any]]:
    data = {"amount": "1500", "currency": "usd", "confirm": "true", **fields}
    return await api.call("POST", "/v1/payment_intents", data)


async def test_attach_list_and_detach(api: Api, emulator: Running) -> None:
    cus = await _customer(api)
    first, second = await _card(api), await _card(api, "5555555555554444")
    for pm in (first, second):
        attached = await api.ok("POST", f"/v1/payment_methods/{pm['id']}/attach", {"customer": cus})
        assert attached["customer"] == cus
    again = await api.ok("POST", f"/v1/payment_methods/{first['id']}/attach", {"customer": cus})
    assert again["customer"] == cus  # attaching to its own customer again is harmless
    listed = await api.ok("GET", f"/v1/customers/{cus}/payment_methods", {"type": "card"})
    assert _ids(listed) == [second["id"], first["id"]]  # newest first
    assert listed["url"] == f"/v1/customers/{cus}/payment_methods"
    by_query = await api.ok("GET", "/v1/payment_methods", {"customer": cus, "type": "card"})
    assert _ids(by_query) == _ids(listed)
    assert _ids(await api.ok("GET", "/v1/payment_methods")) == []
    detached = await api.ok("POST", f"/v1/payment_methods/{first['id']}/detach")
    assert detached["customer"] is None
    listed = await api.ok("GET", f"/v1/customers/{cus}/payment_methods")
    assert _ids(listed) == [second["id"]]
    await emulator.handle.wait_idle()
    event = emulator.handle.events("payment_method.detached")[0]
    assert event["data"]["previous_attributes"] == {"customer": cus}
    assert len(emulator.handle.events("payment_method.attached")) == 2


async def test_attach_and_detach_errors(api: Api) -> None:
    cus, other = await _customer(api), await _customer(api)
    pm = await _card(api)
    status, body = await api.call("POST", f"/v1/payment_methods/{pm['id']}/detach")
    assert (status, body["error"]["type"]) == (400, "invalid_request_error")
    assert "not attached to a customer" in body["error"]["message"]
    status, body = await api.call(
        "POST", f"/v1/payment_methods/{pm['id']}/attach", {"customer": "cus_missing"}
    )
    assert (status, body["error"]["code"], body["error"]["param"]) == (
        404,
        "resource_missing",
        "customer",
    )
    await api.ok("POST", f"/v1/payment_methods/{pm['id']}/attach", {"customer": cus})
    status, body = await api.call(
        "POST", f"/v1/payment_methods/{pm['id']}/attach", {"customer": other}
    )
    assert status == 400
    assert "already been attached" in body["error"]["message"]
    status, body = await api.call("GET", "/v1/customers/cus_missing/payment_methods")
    assert (status, body["error"]["code"]) == (404, "resource_missing")


async def test_a_detached_card_cannot_pay_again(api: Api) -> None:
    cus = await _customer(api)
    pm = await _card(api)
    await api.ok("POST", f"/v1/payment_methods/{pm['id']}/attach", {"customer": cus})
    await api.ok("POST", f"/v1/payment_methods/{pm['id']}/detach")
    status, body = await _pay(api, customer=cus, payment_method=pm["id"])
    assert (status, body["error"]["param"]) == (400, "payment_method")
    assert "may not be used again" in body["error"]["message"]
    status, body = await api.call(
        "POST", f"/v1/payment_methods/{pm['id']}/attach", {"customer": cus}
    )
    assert status == 400


async def test_a_saved_card_pays_only_for_its_customer(api: Api) -> None:
    cus, other = await _customer(api), await _customer(api)
    pm = await _card(api)
    await api.ok("POST", f"/v1/payment_methods/{pm['id']}/attach", {"customer": cus})
    for fields in ({"customer": other}, {}):
        status, body = await _pay(api, payment_method=pm["id"], **fields)
        assert (status, body["error"]["param"]) == (400, "payment_method")
    status, body = await _pay(api, payment_method=pm["id"], customer=cus)
    assert (status, body["status"]) == (200, "succeeded")


async def test_setup_future_usage_attaches_the_card_on_success(api: Api, emulator: Running) -> None:
    cus = await _customer(api)
    status, paid = await _pay(
        api, customer=cus, payment_method="pm_card_visa", setup_future_usage="off_session"
    )
    assert (status, paid["status"], paid["setup_future_usage"]) == (200, "succeeded", "off_session")
    listed = await api.ok("GET", f"/v1/customers/{cus}/payment_methods")
    assert _ids(listed) == [paid["payment_method"]]
    status, declined = await _pay(
        api,
        customer=cus,
        payment_method="pm_card_chargeDeclined",
        setup_future_usage="on_session",
    )
    assert status == 402
    assert declined["error"]["payment_intent"]["setup_future_usage"] == "on_session"
    status, plain = await _pay(api, customer=cus, payment_method="pm_card_mastercard")
    assert plain["setup_future_usage"] is None
    assert _ids(await api.ok("GET", f"/v1/customers/{cus}/payment_methods")) == _ids(listed)
    status, body = await _pay(api, payment_method="pm_card_visa", setup_future_usage="later")
    assert (status, body["error"]["param"]) == (400, "setup_future_usage")
    await emulator.handle.wait_idle()
    assert len(emulator.handle.events("payment_method.attached")) == 1


async def test_setup_future_usage_waits_for_three_d_secure(api: Api) -> None:
    cus = await _customer(api)
    status, pi = await _pay(
        api,
        customer=cus,
        payment_method="pm_card_authenticationRequiredOnSetup",
        setup_future_usage="off_session",
    )
    assert pi["status"] == "requires_action"
    assert _ids(await api.ok("GET", f"/v1/customers/{cus}/payment_methods")) == []
    assert await api.challenge(pi) == 200
    assert _ids(await api.ok("GET", f"/v1/customers/{cus}/payment_methods")) == [
        pi["payment_method"]
    ]
    # Set up on-session with 3-D Secure, this card then pays off-session without it.
    status, later = await _pay(
        api, customer=cus, payment_method=pi["payment_method"], off_session="true"
    )
    assert (status, later["status"]) == (200, "succeeded")


async def test_off_session_authentication_required(api: Api, emulator: Running) -> None:
    cus = await _customer(api)
    for card_id in ("pm_card_authenticationRequired", "pm_card_authenticationRequiredOnSetup"):
        pm = await api.ok("GET", f"/v1/payment_methods/{card_id}")
        await api.ok("POST", f"/v1/payment_methods/{pm['id']}/attach", {"customer": cus})
        status, body = await _pay(api, customer=cus, payment_method=pm["id"], off_session="true")
        error = body["error"]
        assert status == 402
        assert (error["type"], error["code"], error["decline_code"]) == (
            "card_error",
            "authentication_required",
            "authentication_required",
        )
        pi = error["payment_intent"]
        assert pi["status"] == "requires_payment_method"
        assert pi["last_payment_error"]["code"] == "authentication_required"
        assert pi["payment_method"] is None
    status, ok = await _pay(api, customer=cus, payment_method="pm_card_visa", off_session="true")
    assert (status, ok["status"]) == (200, "succeeded")
    status, body = await api.call(
        "POST",
        "/v1/payment_intents",
        {"amount": "1500", "currency": "usd", "off_session": "true"},
    )
    assert (status, body["error"]["param"]) == (400, "off_session")
    await emulator.handle.wait_idle()
    failed = emulator.handle.events("charge.failed")
    assert [e["data"]["object"]["failure_code"] for e in failed] == ["authentication_required"] * 2


async def test_always_authenticate_card_declines_off_session_even_when_set_up(
    api: Api,
) -> None:
    cus = await _customer(api)
    data = {"customer": cus, "payment_method": "pm_card_authenticationRequired"}
    si = await api.ok("POST", "/v1/setup_intents", {**data, "confirm": "true"})
    assert si["status"] == "requires_action"
    assert await api.challenge(si) == 200
    status, body = await _pay(
        api, customer=cus, payment_method=si["payment_method"], off_session="true"
    )
    assert (status, body["error"]["code"]) == (402, "authentication_required")
    # On-session it can still pay, with 3-D Secure.
    status, pi = await _pay(api, customer=cus, payment_method=si["payment_method"])
    assert (status, pi["status"]) == (200, "requires_action")


async def test_delete_customer(api: Api, emulator: Running) -> None:
    cus = await _customer(api)
    pm = await _card(api)
    await api.ok("POST", f"/v1/payment_methods/{pm['id']}/attach", {"customer": cus})
    deleted = await api.ok("DELETE", f"/v1/customers/{cus}")
    assert deleted == {"id": cus, "object": "customer", "deleted": True}
    assert await api.ok("GET", f"/v1/customers/{cus}") == deleted
    status, body = await api.call("DELETE", f"/v1/customers/{cus}")
    assert (status, body["error"]["code"]) == (404, "resource_missing")
    status, body = await api.call("POST", f"/v1/customers/{cus}", {"name": "x"})
    assert status == 404
    status, body = await api.call("GET", f"/v1/customers/{cus}/payment_methods")
    assert status == 404
    assert (await api.ok("GET", f"/v1/payment_methods/{pm['id']}"))["customer"] is None
    assert cus not in [c["id"] for c in (await api.ok("GET", "/v1/customers"))["data"]]
    status, body = await _pay(api, payment_method=pm["id"])
    assert status == 400  # its cards went with it
    await emulator.handle.wait_idle()
    assert [e["data"]["object"]["id"] for e in emulator.handle.events("customer.deleted")] == [cus]


async def test_metadata_may_change_after_the_payment(api: Api) -> None:
    status, pi = await _pay(api, payment_method="pm_card_visa", **{"metadata[order]": "7"})
    assert pi["status"] == "succeeded"
    path = f"/v1/payment_intents/{pi['id']}"
    updated = await api.ok("POST", path, {"metadata[note]": "shipped", "description": "Order 7"})
    assert updated["metadata"] == {"order": "7", "note": "shipped"}
    assert updated["description"] == "Order 7"
    assert updated["status"] == "succeeded"
    status, body = await api.call("POST", path, {"amount": "900"})
    assert (status, body["error"]["code"]) == (400, "payment_intent_unexpected_state")
    assert "amount could not be updated" in body["error"]["message"]
    assert (await api.ok("GET", path))["amount"] == 1500


async def test_fingerprint_is_stable_per_card_number(api: Api) -> None:
    a, b = await _card(api), await _card(api)
    other = await _card(api, "5555555555554444")
    assert a["id"] != b["id"]
    assert a["card"]["fingerprint"] == b["card"]["fingerprint"]
    assert other["card"]["fingerprint"] != a["card"]["fingerprint"]


@given(st.from_regex(r"4[0-9]{15}", fullmatch=True), st.from_regex(r"4[0-9]{15}", fullmatch=True))
def test_fingerprint_depends_on_the_number_only(first: str, second: str) -> None:
    assert card(first, 1, 2030)["fingerprint"] == card(first, 12, 2035)["fingerprint"]
    same = card(first, 1, 2030)["fingerprint"] == card(second, 1, 2030)["fingerprint"]
    assert same == (first == second)
