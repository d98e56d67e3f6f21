from __future__ import annotations

import base64
import hashlib
import hmac
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from service.tokens import (
    OrderClaims,
    TokenError,
    issue_order_token,
    issue_status_token,
    verify_order_token,
    verify_status_token,
)

SECRET = b"s" * 32
OTHER = b"o" * 32
NOW = 1_750_000_000
PID = "5f0c2b1e-9d7a-4c1e-9a53-2b8f3c1d0e77"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def jwt(secret: bytes, header: dict[str, object], claims: dict[str, object]) -> str:
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims).encode())}"
    sig = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64(sig)}"


def status_error(secrets: bytes | list[bytes], token: str, pid: str = PID, now: int = NOW) -> str:
    with pytest.raises(TokenError) as info:
        verify_status_token(secrets, token, pid, now)
    return info.value.code


def order_error(token: str, secret: bytes | list[bytes] = SECRET, now: int = NOW) -> str:
    with pytest.raises(TokenError) as info:
        verify_order_token(secret, token, now)
    return info.value.code


CLAIMS: dict[str, object] = {
    "order_id": "order-42",
    "amount": 1999,
    "currency": "EUR",
    "exp": NOW + 300,
}
HS256: dict[str, object] = {"alg": "HS256", "typ": "JWT"}


# --- status tokens ---


def test_status_token_round_trip() -> None:
    token = issue_status_token(SECRET, PID, NOW, 600)
    verify_status_token(SECRET, token, PID, NOW)
    verify_status_token(SECRET, token, PID, NOW + 599)
    assert token.count(".") == 1
    assert len(token) < 200


def test_status_token_expires() -> None:
    token = issue_status_token(SECRET, PID, NOW, 600)
    assert status_error(SECRET, token, now=NOW + 600) == "token_expired"


def test_status_token_is_scoped_to_one_payment() -> None:
    token = issue_status_token(SECRET, PID, NOW, 600)
    assert status_error(SECRET, token, pid="another-payment") == "token_wrong_payment"


def test_status_token_wrong_secret() -> None:
    token = issue_status_token(SECRET, PID, NOW, 600)
    assert status_error(OTHER, token) == "token_invalid"


def test_status_token_rotation() -> None:
    old = issue_status_token(OTHER, PID, NOW, 600)
    new = issue_status_token([SECRET, OTHER], PID, NOW, 600)
    for token in (old, new):
        verify_status_token([SECRET, OTHER], token, PID, NOW)
    verify_status_token(SECRET, new, PID, NOW)  # lists sign with the first secret
    assert status_error([SECRET], old) == "token_invalid"


def test_status_token_tampered_payload() -> None:
    token = issue_status_token(SECRET, PID, NOW, 600)
    payload, sig = token.split(".")
    forged = json.loads(base64.urlsafe_b64decode(payload + "=="))
    forged["exp"] = NOW + 10**9
    assert status_error(SECRET, f"{b64(json.dumps(forged).encode())}.{sig}") == "token_invalid"


@pytest.mark.parametrize(
    "token", ["", ".", "a.b.c", "abc", "a b.c", "!!!.???", "x" * 5000, "é.é", "a=.b="]
)
def test_status_token_garbage(token: str) -> None:
    assert status_error(SECRET, token) == "token_invalid"


def test_order_token_is_not_a_status_token() -> None:
    # Same secret, different format and MAC context: never interchangeable.
    order = issue_order_token(SECRET, PID, 1999, "eur", NOW + 300)
    assert status_error(SECRET, order) == "token_invalid"
    status = issue_status_token(SECRET, PID, NOW, 600)
    assert order_error(status) == "token_invalid"


def test_issue_status_token_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="ttl"):
        issue_status_token(SECRET, PID, NOW, 0)
    with pytest.raises(ValueError, match="payment_id"):
        issue_status_token(SECRET, "", NOW, 60)
    with pytest.raises(ValueError, match="secret"):
        issue_status_token(b"", PID, NOW, 60)


@given(
    st.text(min_size=1, max_size=80),
    st.integers(min_value=0, max_value=2**40),
    st.integers(min_value=1, max_value=10**6),
    st.binary(min_size=1, max_size=64),
)
def test_status_token_round_trip_property(pid: str, now: int, ttl: int, secret: bytes) -> None:
    token = issue_status_token(secret, pid, now, ttl)
    verify_status_token(secret, token, pid, now + ttl - 1)
    with pytest.raises(TokenError):
        verify_status_token(secret, token, pid, now + ttl)


# --- order tokens ---


def test_order_token_round_trip() -> None:
    token = issue_order_token(SECRET, "order-42", 1999, "EUR", NOW + 300, iat=NOW, nbf=NOW)
    assert verify_order_token(SECRET, token, NOW) == OrderClaims(
        "order-42", 1999, "eur", NOW + 300, NOW, NOW
    )


def test_order_token_made_by_another_library_shape() -> None:
    assert verify_order_token(SECRET, jwt(SECRET, HS256, CLAIMS), NOW).amount == 1999
    no_typ = jwt(SECRET, {"alg": "HS256"}, CLAIMS)
    assert verify_order_token(SECRET, no_typ, NOW).order_id == "order-42"
    lower_typ = jwt(SECRET, {"alg": "HS256", "typ": "jwt"}, CLAIMS)
    assert verify_order_token(SECRET, lower_typ, NOW).currency == "eur"


def test_order_token_tampered_payload() -> None:
    header, _, sig = jwt(SECRET, HS256, CLAIMS).split(".")
    cheaper = b64(json.dumps({**CLAIMS, "amount": 1}).encode())
    assert order_error(f"{header}.{cheaper}.{sig}") == "token_invalid"


@pytest.mark.parametrize("alg", ["none", "None", "NONE", "HS512", "RS256", "hs256", None, 256])
def test_order_token_alg_must_be_hs256(alg: object) -> None:
    assert order_error(jwt(SECRET, {"alg": alg, "typ": "JWT"}, CLAIMS)) == "token_invalid"


def test_order_token_alg_none_unsigned() -> None:
    header = b64(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    payload = b64(json.dumps(CLAIMS).encode())
    assert order_error(f"{header}.{payload}.") == "token_invalid"


def test_order_token_odd_headers() -> None:
    assert order_error(jwt(SECRET, {**HS256, "crit": ["exp"]}, CLAIMS)) == "token_invalid"
    assert order_error(jwt(SECRET, {**HS256, "typ": "JWE"}, CLAIMS)) == "token_invalid"
    assert order_error(jwt(SECRET, {**HS256, "typ": 1}, CLAIMS)) == "token_invalid"


def test_order_token_expiry_with_leeway() -> None:
    token = jwt(SECRET, HS256, {**CLAIMS, "exp": NOW})
    assert verify_order_token(SECRET, token, NOW + 29).exp == NOW
    assert order_error(token, now=NOW + 30) == "token_expired"
    with pytest.raises(TokenError) as info:
        verify_order_token(SECRET, token, NOW, leeway=0)
    assert info.value.code == "token_expired"


def test_order_token_not_before() -> None:
    token = jwt(SECRET, HS256, {**CLAIMS, "nbf": NOW + 100})
    assert order_error(token) == "token_not_yet_valid"
    assert verify_order_token(SECRET, token, NOW + 70).nbf == NOW + 100
    future = jwt(SECRET, HS256, {**CLAIMS, "iat": NOW + 100})
    assert order_error(future) == "token_invalid"


def test_order_token_wrong_secret_and_rotation() -> None:
    token = jwt(OTHER, HS256, CLAIMS)
    assert order_error(token) == "token_invalid"
    assert verify_order_token([SECRET, OTHER], token, NOW).order_id == "order-42"


@pytest.mark.parametrize(
    "change",
    [
        {"amount": True},
        {"amount": 19.99},
        {"amount": "1999"},
        {"amount": None},
        {"currency": "EURO"},
        {"currency": "€ur"},
        {"currency": 978},
        {"order_id": ""},
        {"order_id": "x" * 201},
        {"order_id": 42},
        {"exp": None},
        {"exp": "soon"},
        {"exp": True},
        {"exp": 1.5e9},
        {"nbf": "now"},
    ],
)
def test_order_token_claim_types(change: dict[str, object]) -> None:
    claims = {k: v for k, v in {**CLAIMS, **change}.items() if v is not None}
    assert order_error(jwt(SECRET, HS256, claims)) == "token_invalid"


def test_order_token_duplicate_keys_rejected() -> None:
    header = b64(json.dumps(HS256).encode())
    payload = b64(b'{"order_id":"a","amount":1999,"amount":1,"currency":"eur","exp":9999999999}')
    sig = b64(hmac.new(SECRET, f"{header}.{payload}".encode(), hashlib.sha256).digest())
    assert order_error(f"{header}.{payload}.{sig}") == "token_invalid"


@pytest.mark.parametrize("token", ["", "a.b", "a.b.c.d", "x" * 5000, "é.é.é", "e30.e30.!!"])
def test_order_token_garbage(token: str) -> None:
    assert order_error(token) == "token_invalid"


@given(
    st.text(min_size=1, max_size=200),
    st.integers(min_value=-(2**53), max_value=2**53),
    st.from_regex(r"[A-Za-z]{3}", fullmatch=True),
    st.integers(min_value=0, max_value=10**6),
    st.binary(min_size=1, max_size=64),
)
def test_order_token_round_trip_property(
    order_id: str, amount: int, currency: str, ttl: int, secret: bytes
) -> None:
    token = issue_order_token(secret, order_id, amount, currency, NOW + ttl, iat=NOW)
    claims = verify_order_token(secret, token, NOW)
    assert claims == OrderClaims(order_id, amount, currency.lower(), NOW + ttl, NOW, None)
