"""Paying with a saved card: who may, which card, 3-D Secure, off-session, and what each
decline does to the card (through the API, the emulator and its webhooks)."""

from __future__ import annotations

import copy
import json
import uuid
from typing import Any

import pytest

from service.keys import DB_POOL
from tests.cards.conftest import (
    SHOP,
    deliver_all,
    fresh_user,
    my_cards,
    pay_as,
    save_card,
    session,
    stripe_customer,
)
from tests.support.api import API, Client
from tests.support.emulator import RunningEmulator
from tests.support.webhooks import post_event

VISA = "4242424242424242"


async def confirm(
    api: Client, payment_id: str, headers: dict[str, str], pm: str, **extra: Any
) -> tuple[int, dict[str, Any]]:
    response = await api.post(
        f"/api/payments/{payment_id}/confirm",
        json={"payment_method": pm, **extra},
        headers=headers,
    )
    return response.status, await response.json()


async def saved(api: Client, emulator: RunningEmulator, number: str = VISA) -> tuple[str, str]:
    """A fresh user with one saved card: (user, pm id)."""
    user = fresh_user()
    return user, await save_card(emulator, await stripe_customer(api, emulator, user), number)


async def test_the_customer_pays_with_a_saved_card(api: Client, emulator: RunningEmulator) -> None:
    user, pm = await saved(api, emulator)
    made = await pay_as(api, user)
    status, body = await confirm(api, made["payment_id"], session(user), pm)
    assert status == 200, body
    assert (body["status"], body["decline_code"], body["next_step"]) == ("succeeded", None, None)
    assert body["client_secret"] is None  # nothing left for the browser to do
    await deliver_all(api, emulator)
    response = await api.get(f"/api/payments/{made['payment_id']}", headers=API)
    assert (await response.json())["status"] == "succeeded"
    status, body = await confirm(api, made["payment_id"], session(user), pm)
    assert (status, body["error"]["code"]) == (409, "payment_not_confirmable")


async def test_3ds_answers_what_handle_next_action_needs(
    api: Client, emulator: RunningEmulator
) -> None:
    user, pm = await saved(api, emulator, "4000000000003220")
    made = await pay_as(api, user)
    status, body = await confirm(api, made["payment_id"], session(user), pm)
    assert status == 200, body
    assert (body["status"], body["next_step"]) == ("requires_action", "authenticate")
    assert body["client_secret"] == made["client_secret"]
    assert body["next_action"]["type"] in ("use_stripe_sdk", "redirect_to_url")


async def test_3ds_with_a_return_url_redirects_back_to_an_allowed_origin(
    api: Client, emulator: RunningEmulator
) -> None:
    user, pm = await saved(api, emulator, "4000000000003220")
    made = await pay_as(api, user)
    away = {"return_url": "https://evil.example/back"}
    status, body = await confirm(api, made["payment_id"], session(user), pm, **away)
    assert (status, body["error"]["code"]) == (422, "redirect_not_allowed")
    back = {"return_url": f"{SHOP}/paid"}
    status, body = await confirm(api, made["payment_id"], session(user), pm, **back)
    assert (status, body["status"]) == (200, "requires_action")
    assert body["next_action"]["type"] == "redirect_to_url"
    assert body["next_action"]["redirect_to_url"]["return_url"] == f"{SHOP}/paid"


async def test_only_the_payments_customer_and_only_their_cards(
    api: Client, emulator: RunningEmulator
) -> None:
    user, pm = await saved(api, emulator)
    other, others_pm = await saved(api, emulator)
    made = await pay_as(api, user)
    status, body = await confirm(api, made["payment_id"], session(user), others_pm)
    assert (status, body["error"]["code"]) == (404, "card_not_found")
    status, body = await confirm(api, made["payment_id"], session(other), pm)
    assert (status, body["error"]["code"]) == (403, "payment_of_another_customer")
    status, body = await confirm(api, made["payment_id"], {}, pm)
    assert status == 401
    # The payment's status token works for a payment that has a customer...
    token = {"X-Status-Token": made["status_token"]}
    status, body = await confirm(api, made["payment_id"], token, pm)
    assert (status, body["status"]) == (200, "succeeded")
    # ...and a payment without one has no saved cards to pay with.
    anonymous = await pay_as(api, None)
    token = {"X-Status-Token": anonymous["status_token"]}
    status, body = await confirm(api, anonymous["payment_id"], token, pm)
    assert (status, body["error"]["code"]) == (409, "payment_without_customer")
    status, body = await confirm(api, made["payment_id"], API, "not-a-pm")
    assert status == 422


async def test_off_session_authentication_required_brings_the_customer_back(
    api: Client, emulator: RunningEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    user, pm = await saved(api, emulator, "4000002760003184")
    made = await pay_as(api, None, customer={"external_id": user})  # a no-show fee
    status, body = await confirm(api, made["payment_id"], session(user), pm, off_session=True)
    assert (status, body["error"]["code"]) == (403, "off_session_not_allowed")
    status, body = await confirm(api, made["payment_id"], API, pm, off_session=True)
    assert status == 200, body
    assert body["status"] == "requires_payment_method"
    assert (body["decline_code"], body["next_step"], body["card_action"]) == (
        "authentication_required",
        "authenticate",
        "authenticate",
    )
    assert body["client_secret"] == made["client_secret"]  # for the customer's return
    [notice] = [r for r in caplog.records if r.name == "service.http.saved_cards"]
    assert getattr(notice, "payment_id", None) == made["payment_id"]
    assert made["client_secret"] not in caplog.text
    # The merchant is notified (issue 16's outbox): the failed attempt says "authenticate".
    await deliver_all(api, emulator)
    async with api.app[DB_POOL].acquire() as db:
        rows = await db.fetch(
            "SELECT data FROM notifications WHERE payment_id = $1 AND type = $2",
            uuid.UUID(made["payment_id"]),
            "payment.attempt_failed",
        )
    [data] = [row["data"] for row in rows]
    attempt = (json.loads(data) if isinstance(data, str) else data)["attempt"]
    assert (attempt["advice_next_step"], attempt["card_action"]) == ("authenticate", "authenticate")
    assert attempt["decline_code"] == "authentication_required"
    [card] = await my_cards(api, user)
    assert card["usable"]  # authenticating is the fix, the card stays
    # Back on-session the customer authenticates the same card.
    status, body = await confirm(api, made["payment_id"], session(user), pm)
    assert (status, body["status"]) == (200, "requires_action")


# One row per decline code: the emulator's test card for it, or (no such card) a real
# decline whose webhook carries that code.
ROWS = [
    ("4000000000000069", None, "expired_card", True, "disable"),
    # Lost, stolen, picked up: disabled, but the customer sees a plain decline.
    ("4000000000009987", None, "lost_card", True, "suggest_another"),
    ("4000000000009979", None, "stolen_card", True, "suggest_another"),
    ("4000000000000002", "pickup_card", "pickup_card", True, "suggest_another"),
    ("4000000000000127", None, "incorrect_cvc", False, "ask_cvc"),
    ("4000000000009995", None, "insufficient_funds", False, "suggest_another"),
    ("4000000000000002", None, "generic_decline", False, "suggest_another"),
    ("4000000000000002", "do_not_honor", "do_not_honor", False, "suggest_another"),
]


@pytest.mark.parametrize(("number", "webhook_code", "code", "disabled", "shown_action"), ROWS)
async def test_what_a_decline_does_to_the_card(
    api: Client,
    emulator: RunningEmulator,
    number: str,
    webhook_code: str | None,
    code: str,
    disabled: bool,
    shown_action: str,
) -> None:
    user, pm = await saved(api, emulator, number)
    good = await save_card(emulator, emulator.handle.store.get("payment_method", pm)["customer"])
    made = await pay_as(api, user)
    status, body = await confirm(api, made["payment_id"], session(user), pm)
    assert (status, body["status"]) == (200, "requires_payment_method")
    if webhook_code is None:  # the decline the emulator's card gives
        assert body["card_action"] == shown_action
        fraud = code in ("lost_card", "stolen_card")
        assert body["decline_code"] == ("generic_decline" if fraud else code)
    await emulator.handle.wait_idle()
    for event in emulator.handle.events():
        if event["type"] == "payment_intent.payment_failed" and webhook_code:
            event = copy.deepcopy(event)
            event["data"]["object"]["last_payment_error"]["decline_code"] = webhook_code
        assert (await post_event(api, event))[0] == 200
    cards = {c["id"]: c for c in await my_cards(api, user)}
    assert cards[pm]["disabled"] is disabled
    assert cards[pm]["usable"] is not disabled
    assert cards[good]["usable"]
    response = await api.get(f"/api/customers/{user}/payment-methods", headers=API)
    merchant_view = {c["id"]: c for c in (await response.json())["data"]}
    assert merchant_view[pm]["disabled_reason"] == (code if disabled else None)
    timeline = await api.get(f"/api/payments/{made['payment_id']}/timeline", headers=session(user))
    failed = [
        e for e in (await timeline.json())["data"] if e["status"] == "requires_payment_method"
    ]
    # The page sees the next step live; a fraud decline's shows as a plain decline's.
    assert failed[-1]["data"]["attempt"]["card_action"] == shown_action
    status, body = await confirm(api, made["payment_id"], session(user), pm)
    if disabled:
        assert (status, body["error"]["code"]) == (409, "card_disabled")
    # After a decline on one saved card, another pays.
    status, body = await confirm(api, made["payment_id"], session(user), good)
    assert (status, body["status"]) == (200, "succeeded")
