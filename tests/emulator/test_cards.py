"""Every test card: declines, 3-D Secure, processing, as clients observe them."""

from __future__ import annotations

import re

import aiohttp
import pytest
import stripe

from .conftest import Running, auth

DECLINES = [
    # pm id, card number, code, decline_code, message
    (
        "pm_card_chargeDeclined",
        "4000000000000002",
        "card_declined",
        "generic_decline",
        "Your card was declined.",
    ),
    (
        "pm_card_chargeDeclinedInsufficientFunds",
        "4000000000009995",
        "card_declined",
        "insufficient_funds",
        "Your card has insufficient funds.",
    ),
    (
        "pm_card_chargeDeclinedLostCard",
        "4000000000009987",
        "card_declined",
        "lost_card",
        "Your card was declined.",
    ),
    (
        "pm_card_chargeDeclinedStolenCard",
        "4000000000009979",
        "card_declined",
        "stolen_card",
        "Your card was declined.",
    ),
    (
        "pm_card_chargeDeclinedExpiredCard",
        "4000000000000069",
        "expired_card",
        "expired_card",
        "Your card has expired.",
    ),
    (
        "pm_card_chargeDeclinedIncorrectCvc",
        "4000000000000127",
        "incorrect_cvc",
        "incorrect_cvc",
        "Your card's security code is incorrect.",
    ),
    (
        "pm_card_chargeDeclinedProcessingError",
        "4000000000000119",
        "processing_error",
        "processing_error",
        "An error occurred while processing your card. Try again in a little bit.",
    ),
    (
        "pm_card_radarBlock",
        "4100000000000019",
        "card_declined",
        "fraudulent",
        "Your card was declined.",
    ),
]
THREE_DS = ["4000002760003184", "4000002500003155", "4000000000003220"]


async def _card_pm(client: stripe.StripeClient, number: str) -> str:
    pm = await client.v1.payment_methods.create_async(
        {
            "type": "card",
            "card": {"number": number, "exp_month": 12, "exp_year": 2034, "cvc": "123"},
        }
    )
    return pm.id


@pytest.mark.parametrize("via_number", [False, True], ids=["pm_card_id", "card_number"])
@pytest.mark.parametrize(("pm_id", "number", "code", "decline_code", "message"), DECLINES)
async def test_decline(
    client: stripe.StripeClient,
    emulator: Running,
    via_number: bool,
    pm_id: str,
    number: str,
    code: str,
    decline_code: str,
    message: str,
) -> None:
    payment_method = await _card_pm(client, number) if via_number else pm_id
    pi = await client.v1.payment_intents.create_async({"amount": 1234, "currency": "usd"})
    with pytest.raises(stripe.CardError) as caught:
        await client.v1.payment_intents.confirm_async(pi.id, {"payment_method": payment_method})
    err = caught.value
    assert err.http_status == 402
    assert err.code == code
    assert err.user_message == message
    assert isinstance(err.json_body, dict)
    body = err.json_body["error"]
    assert body["type"] == "card_error"
    assert body["decline_code"] == decline_code
    assert body["message"] == message
    assert body["payment_intent"]["id"] == pi.id
    assert body["payment_intent"]["status"] == "requires_payment_method"
    assert body["charge"].startswith("ch_")
    assert body["payment_method"]["id"].startswith("pm_")
    assert body["doc_url"].startswith("https://stripe.com/docs/error-codes/")
    assert body["request_log_url"].startswith("https://dashboard.stripe.com/")
    assert err.request_id is not None
    assert err.request_id.startswith("req_")

    after = await client.v1.payment_intents.retrieve_async(pi.id)
    assert after.status == "requires_payment_method"
    assert after.payment_method is None
    lpe = after.last_payment_error
    assert lpe is not None
    assert (lpe.type, lpe.code, lpe.decline_code) == ("card_error", code, decline_code)
    assert lpe.charge == body["charge"]
    assert lpe.payment_method is not None
    assert lpe.payment_method.id == body["payment_method"]["id"]
    charge = await client.v1.charges.retrieve_async(body["charge"])
    assert charge.status == "failed"
    assert charge.failure_code == code
    assert charge.outcome is not None
    expected_outcome = "blocked" if decline_code == "fraudulent" else "issuer_declined"
    assert charge.outcome.type == expected_outcome

    await emulator.handle.wait_idle()
    assert emulator.receiver.types()[-2:] == ["charge.failed", "payment_intent.payment_failed"]
    failed = emulator.receiver.events[-1]["data"]["object"]
    assert failed["last_payment_error"]["decline_code"] == decline_code


async def test_decline_advice_and_network_codes(client: stripe.StripeClient) -> None:
    pi = await client.v1.payment_intents.create_async({"amount": 1234, "currency": "usd"})
    with pytest.raises(stripe.CardError) as caught:
        await client.v1.payment_intents.confirm_async(
            pi.id, {"payment_method": "pm_card_chargeDeclinedInsufficientFunds"}
        )
    assert isinstance(caught.value.json_body, dict)
    body = caught.value.json_body["error"]
    assert body["advice_code"] == "try_again_later"
    assert body["network_decline_code"] == "51"
    after = await client.v1.payment_intents.retrieve_async(pi.id)
    assert after.last_payment_error is not None
    assert after.last_payment_error.advice_code == "try_again_later"


async def test_retry_after_decline_succeeds(client: stripe.StripeClient) -> None:
    pi = await client.v1.payment_intents.create_async({"amount": 1234, "currency": "usd"})
    with pytest.raises(stripe.CardError):
        await client.v1.payment_intents.confirm_async(
            pi.id, {"payment_method": "pm_card_chargeDeclined"}
        )
    ok = await client.v1.payment_intents.confirm_async(pi.id, {"payment_method": "pm_card_visa"})
    assert ok.status == "succeeded"
    assert ok.last_payment_error is None


async def test_incorrect_number_refused_at_payment_method_creation(
    client: stripe.StripeClient,
) -> None:
    with pytest.raises(stripe.CardError) as caught:
        await _card_pm(client, "4242424242424241")
    assert caught.value.code == "incorrect_number"
    assert caught.value.param == "card[number]"
    assert caught.value.user_message == "Your card number is incorrect."


async def test_incorrect_number_in_payment_method_data_fails_the_intent(
    client: stripe.StripeClient, emulator: Running, http: aiohttp.ClientSession
) -> None:
    # Raw card numbers are outside the SDK's typed params, so this goes over plain HTTP.
    pi = await client.v1.payment_intents.create_async({"amount": 1234, "currency": "usd"})
    async with http.post(
        f"{emulator.url}/v1/payment_intents/{pi.id}/confirm",
        data={
            "payment_method_data[type]": "card",
            "payment_method_data[card][number]": "4242424242424241",
            "payment_method_data[card][exp_month]": "1",
            "payment_method_data[card][exp_year]": "2035",
        },
        headers=auth(),
    ) as resp:
        body = await resp.json()
    assert resp.status == 402
    assert body["error"]["code"] == "incorrect_number"
    assert body["error"]["payment_intent"]["id"] == pi.id
    after = await client.v1.payment_intents.retrieve_async(pi.id)
    assert after.status == "requires_payment_method"
    assert after.last_payment_error is not None
    assert after.last_payment_error.code == "incorrect_number"
    await emulator.handle.wait_idle()
    assert emulator.receiver.types()[-1] == "payment_intent.payment_failed"


async def test_success_cards(client: stripe.StripeClient) -> None:
    for pm in ("pm_card_visa", "pm_card_mastercard", "pm_card_amex", "pm_card_visa_debit"):
        pi = await client.v1.payment_intents.create_async(
            {"amount": 1000, "currency": "usd", "payment_method": pm, "confirm": True}
        )
        assert pi.status == "succeeded", pm


def _challenge_url(pi: stripe.PaymentIntent) -> str:
    assert pi.next_action is not None
    if pi.next_action.type == "redirect_to_url":
        assert pi.next_action.redirect_to_url is not None
        return str(pi.next_action.redirect_to_url.url)
    assert pi.next_action.type == "use_stripe_sdk"
    return str(pi.next_action["use_stripe_sdk"]["stripe_js"])


async def _answer_challenge(
    http: aiohttp.ClientSession, url: str, outcome: str
) -> aiohttp.ClientResponse:
    async with http.get(url) as page:
        assert page.status == 200
        html = await page.text()
    action = re.search(rf"action='([^']*/{outcome})'", html)
    secret = re.search(r"name='client_secret' value='([^']*)'", html)
    assert action is not None
    assert secret is not None
    base = url.split("/3ds/")[0]
    async with http.post(
        base + action.group(1), data={"client_secret": secret.group(1)}, allow_redirects=False
    ) as resp:
        await resp.read()
        return resp


@pytest.mark.parametrize("number", THREE_DS)
async def test_three_d_secure_complete(
    client: stripe.StripeClient, emulator: Running, http: aiohttp.ClientSession, number: str
) -> None:
    pm = await _card_pm(client, number)
    pi = await client.v1.payment_intents.create_async(
        {"amount": 5000, "currency": "usd", "payment_method": pm, "confirm": True}
    )
    assert pi.status == "requires_action"
    assert pi.next_action is not None
    assert pi.next_action.type == "use_stripe_sdk"
    url = _challenge_url(pi)
    assert url.startswith(emulator.url + "/3ds/")
    resp = await _answer_challenge(http, url, "complete")
    assert resp.status == 200
    done = await client.v1.payment_intents.retrieve_async(pi.id)
    assert done.status == "succeeded"
    assert done.next_action is None
    await emulator.handle.wait_idle()
    assert emulator.receiver.types() == [
        "payment_intent.created",
        "payment_intent.requires_action",
        "charge.succeeded",
        "payment_intent.succeeded",
    ]


async def test_three_d_secure_fail_with_return_url(
    client: stripe.StripeClient, emulator: Running, http: aiohttp.ClientSession
) -> None:
    pi = await client.v1.payment_intents.create_async(
        {
            "amount": 5000,
            "currency": "usd",
            "payment_method": "pm_card_authenticationRequired",
            "confirm": True,
            "return_url": "https://shop.example/done?x=1",
        }
    )
    assert pi.next_action is not None
    assert pi.next_action.type == "redirect_to_url"
    assert pi.next_action.redirect_to_url is not None
    assert pi.next_action.redirect_to_url.return_url == "https://shop.example/done?x=1"
    resp = await _answer_challenge(http, _challenge_url(pi), "fail")
    assert resp.status == 303
    location = resp.headers["Location"]
    assert location.startswith("https://shop.example/done?x=1&payment_intent=" + pi.id)
    assert "redirect_status=failed" in location
    failed = await client.v1.payment_intents.retrieve_async(pi.id)
    assert failed.status == "requires_payment_method"
    assert failed.last_payment_error is not None
    assert failed.last_payment_error.code == "payment_intent_authentication_failure"
    assert failed.last_payment_error.payment_method is not None
    await emulator.handle.wait_idle()
    assert emulator.receiver.types()[-1] == "payment_intent.payment_failed"
    # The challenge is over: answering again changes nothing.
    again = await _answer_challenge_raw(http, emulator.url, pi)
    assert again == 409


async def _answer_challenge_raw(
    http: aiohttp.ClientSession, base: str, pi: stripe.PaymentIntent
) -> int:
    async with http.post(
        f"{base}/3ds/{pi.id}/complete", data={"client_secret": str(pi.client_secret)}
    ) as resp:
        return resp.status


async def test_three_d_secure_page_needs_client_secret(
    client: stripe.StripeClient, emulator: Running, http: aiohttp.ClientSession
) -> None:
    pi = await client.v1.payment_intents.create_async(
        {
            "amount": 5000,
            "currency": "usd",
            "payment_method": "pm_card_threeDSecure2Required",
            "confirm": True,
        }
    )
    async with http.get(f"{emulator.url}/3ds/{pi.id}?client_secret=wrong") as resp:
        assert resp.status == 404
    async with http.post(
        f"{emulator.url}/3ds/{pi.id}/complete", data={"client_secret": "x"}
    ) as resp:
        assert resp.status == 404


async def test_processing_card_then_succeeds(
    client: stripe.StripeClient, emulator: Running
) -> None:
    pi = await client.v1.payment_intents.create_async(
        {
            "amount": 3000,
            "currency": "usd",
            "payment_method": "pm_card_emulatorProcessing",
            "confirm": True,
        }
    )
    assert pi.status == "processing"
    await emulator.handle.wait_idle()
    done = await client.v1.payment_intents.retrieve_async(pi.id)
    assert done.status == "succeeded"
    charge = await client.v1.charges.retrieve_async(str(done.latest_charge))
    assert charge.id == pi.latest_charge
    assert charge.status == "succeeded"
    assert emulator.receiver.types() == [
        "payment_intent.created",
        "payment_intent.processing",
        "charge.succeeded",
        "payment_intent.succeeded",
    ]


async def test_processing_card_by_number_then_declines(
    client: stripe.StripeClient, emulator: Running
) -> None:
    pm = await _card_pm(client, "4000000000007775")
    pi = await client.v1.payment_intents.create_async(
        {"amount": 3000, "currency": "usd", "payment_method": pm, "confirm": True}
    )
    assert pi.status == "processing"
    await emulator.handle.wait_idle()
    done = await client.v1.payment_intents.retrieve_async(pi.id)
    assert done.status == "requires_payment_method"
    assert done.last_payment_error is not None
    assert done.last_payment_error.decline_code == "generic_decline"
    assert emulator.receiver.types()[-2:] == ["charge.failed", "payment_intent.payment_failed"]
