"""Signatures as merchants verify them: the standardwebhooks library, unchanged."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from standardwebhooks import Webhook, WebhookVerificationError

from service.notifications.signing import Signer, body
from tests.notifications.receiver import OTHER_SECRET, SECRET

WRONG = "whsec_" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo="
CREATED = datetime(2026, 12, 2, 1, 0, tzinfo=UTC)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=10,
)


@given(st.dictionaries(st.text(max_size=12), json_values, max_size=6))
def test_any_payload_verifies_and_parses_back(data: dict[str, object]) -> None:
    payload = body("payment.succeeded", CREATED, data)
    headers = Signer([SECRET]).headers("msg_1", datetime.now(UTC), payload)
    parsed = Webhook(SECRET).verify(payload, headers)
    assert parsed == {"type": "payment.succeeded", "timestamp": CREATED.isoformat(), "data": data}


def test_headers_and_a_tampered_body() -> None:
    payload = body("payment.created", CREATED, {"amount": 100})
    now = datetime.now(UTC)
    headers = Signer([SECRET]).headers("msg_abc", now, payload)
    assert headers["webhook-id"] == "msg_abc"
    assert headers["webhook-timestamp"] == str(int(now.timestamp()))
    assert headers["webhook-signature"].startswith("v1,")
    with pytest.raises(WebhookVerificationError):
        Webhook(SECRET).verify(payload.replace("100", "999"), headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(WRONG).verify(payload, headers)


def test_rotation_signs_once_per_secret_and_either_verifies() -> None:
    payload = body("payment.created", CREATED, {})
    headers = Signer([SECRET, OTHER_SECRET]).headers("msg_rot", datetime.now(UTC), payload)
    assert len(headers["webhook-signature"].split(" ")) == 2
    for secret in (SECRET, OTHER_SECRET):
        assert Webhook(secret).verify(payload, headers)["type"] == "payment.created"
    with pytest.raises(WebhookVerificationError):
        Webhook(WRONG).verify(payload, headers)


def test_a_retry_hours_later_is_signed_fresh() -> None:
    payload = body("payment.created", CREATED, {})
    later = datetime.now(UTC) + timedelta(hours=5)
    headers = Signer([SECRET]).headers("msg_late", later, payload)
    with pytest.raises(WebhookVerificationError, match="too new"):
        Webhook(SECRET).verify(payload, headers)  # a receiver checks the attempt's time
    assert json.loads(payload)["timestamp"] == CREATED.isoformat()  # the event's, unchanged
