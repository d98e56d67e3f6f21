"""Browser credentials, pure stdlib crypto (DESIGN §3).

- Status tokens: we issue them; read-only, expiring, scoped to one payment.
  Format: base64url(json payload) "." base64url(HMAC-SHA256).
- Order tokens: HS256 JWTs minted by the app's backend so a browser cannot pick its price.

Secrets and `now` are always passed in; a list of secrets allows rotation (sign with the
first, accept any).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final

MAX_TOKEN_LENGTH: Final = 4096
MAX_ORDER_ID_LENGTH: Final = 200
MAX_CUSTOMER_LENGTH: Final = 200
STATUS_SCOPE: Final = "payment:read"
# Domain separation: a status-token MAC can never be replayed as any other MAC made
# with the same secret (e.g. a JWT signature).
_STATUS_CONTEXT: Final = b"paylive.status-token.v1."
_B64URL: Final = re.compile(r"[A-Za-z0-9_-]*")
_CURRENCY: Final = re.compile(r"[A-Za-z]{3}")

Secrets = bytes | Sequence[bytes]


class TokenError(Exception):
    """`code`: token_invalid, token_expired, token_not_yet_valid or token_wrong_payment."""

    def __init__(self, code: str, message: str = "") -> None:
        super().__init__(message or code)
        self.code = code
        self.message = message or code


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    """Strict base64url without padding; only the canonical encoding is accepted."""
    if not _B64URL.fullmatch(text) or len(text) % 4 == 1:
        raise TokenError("token_invalid", "bad encoding")
    try:
        data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:
        raise TokenError("token_invalid", "bad encoding") from exc
    if _b64encode(data) != text:
        raise TokenError("token_invalid", "bad encoding")
    return data


def _json_object(data: bytes) -> dict[str, object]:
    def no_duplicates(pairs: list[tuple[str, object]]) -> dict[str, object]:
        keys = [k for k, _ in pairs]
        if len(set(keys)) != len(keys):
            raise ValueError("duplicate key")  # parsers disagree on which one wins
        return dict(pairs)

    def no_constants(name: str) -> object:
        raise ValueError(f"bad constant {name}")

    try:
        value = json.loads(
            data.decode("utf-8"), object_pairs_hook=no_duplicates, parse_constant=no_constants
        )
    except (UnicodeDecodeError, ValueError) as exc:
        raise TokenError("token_invalid", "bad json") from exc
    if not isinstance(value, dict):
        raise TokenError("token_invalid", "not an object")
    return value


def _dumps(value: dict[str, object]) -> bytes:
    return json.dumps(value, separators=(",", ":"), sort_keys=True).encode("utf-8")


def _secret_list(secrets: Secrets) -> list[bytes]:
    items = [secrets] if isinstance(secrets, bytes | bytearray) else list(secrets)
    if not items or not all(isinstance(s, bytes | bytearray) and s for s in items):
        raise ValueError("at least one non-empty secret is required")
    return [bytes(s) for s in items]


def _mac(secret: bytes, message: bytes) -> bytes:
    return hmac.new(secret, message, hashlib.sha256).digest()


def _check_mac(secrets: Secrets, message: bytes, signature: bytes) -> None:
    # Try every secret (no early exit) so timing does not reveal which one matched.
    ok = False
    for secret in _secret_list(secrets):
        ok |= hmac.compare_digest(_mac(secret, message), signature)
    if not ok:
        raise TokenError("token_invalid", "bad signature")


def _int_claim(claims: dict[str, object], name: str) -> int:
    value = claims.get(name)
    if isinstance(value, bool) or not isinstance(value, int):  # bool is an int subclass
        raise TokenError("token_invalid", f"claim {name} must be an integer")
    return value


def _opt_int_claim(claims: dict[str, object], name: str) -> int | None:
    return None if claims.get(name) is None else _int_claim(claims, name)


# --- status tokens -------------------------------------------------------------------


def issue_status_token(secret: Secrets, payment_id: str, now: int, ttl_seconds: int) -> str:
    if not payment_id:
        raise ValueError("payment_id is required")
    if ttl_seconds <= 0:
        raise ValueError("ttl_seconds must be positive")
    key = _secret_list(secret)[0]
    payload = _b64encode(_dumps({"exp": now + ttl_seconds, "pid": payment_id, "scp": STATUS_SCOPE}))
    signature = _mac(key, _STATUS_CONTEXT + payload.encode("ascii"))
    return f"{payload}.{_b64encode(signature)}"


def verify_status_token(secrets: Secrets, token: str, payment_id: str, now: int) -> None:
    """Return if `token` grants read access to `payment_id` at `now`; else TokenError."""
    if not isinstance(token, str) or len(token) > MAX_TOKEN_LENGTH or token.count(".") != 1:
        raise TokenError("token_invalid", "malformed token")
    payload, signature = token.split(".")
    body, sig = _b64decode(payload), _b64decode(signature)
    _check_mac(secrets, _STATUS_CONTEXT + payload.encode("ascii"), sig)
    claims = _json_object(body)  # parsed only once authenticated
    if claims.get("scp") != STATUS_SCOPE or not isinstance(claims.get("pid"), str):
        raise TokenError("token_invalid", "wrong scope")
    exp = _int_claim(claims, "exp")
    if claims["pid"] != payment_id:
        raise TokenError("token_wrong_payment", "token is for another payment")
    if now >= exp:
        raise TokenError("token_expired", "token expired")


# --- order tokens (HS256 JWT) -----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OrderClaims:
    order_id: str
    amount: int  # minor units; money rules are checked by the caller (payments.money)
    currency: str  # lower-case
    exp: int
    iat: int | None = None
    nbf: int | None = None
    # The customer's external_id the order is for (claim ``customer``, or ``sub``); a
    # browser holding the token can name no other customer.
    customer: str | None = None


_JWT_HEADER: Final = _b64encode(_dumps({"alg": "HS256", "typ": "JWT"}))


def issue_order_token(
    secret: Secrets,
    order_id: str,
    amount: int,
    currency: str,
    exp: int,
    iat: int | None = None,
    nbf: int | None = None,
    customer: str | None = None,
    extra_claims: Mapping[str, object] | None = None,
) -> str:
    """What the app's backend does; here for tests and the demo. `extra_claims`: any
    other claims its JWT library adds (``sub``, ``jti``...)."""
    key = _secret_list(secret)[0]
    claims: dict[str, object] = {
        "order_id": order_id,
        "amount": amount,
        "currency": currency,
        "exp": exp,
    }
    optional = (("iat", iat), ("nbf", nbf), ("customer", customer))
    claims.update({k: v for k, v in optional if v is not None})
    claims.update(extra_claims or {})
    signing_input = f"{_JWT_HEADER}.{_b64encode(_dumps(claims))}"
    return f"{signing_input}.{_b64encode(_mac(key, signing_input.encode('ascii')))}"


def verify_order_token(secret: Secrets, token: str, now: int, leeway: int = 30) -> OrderClaims:
    """Verify an HS256 order token; TokenError token_invalid/expired/not_yet_valid."""
    if not isinstance(token, str) or len(token) > MAX_TOKEN_LENGTH or token.count(".") != 2:
        raise TokenError("token_invalid", "malformed token")
    header_b64, payload_b64, sig_b64 = token.split(".")
    header = _json_object(_b64decode(header_b64))
    # Exactly HS256: "none", RS256-with-HMAC-key confusion and friends are all refused.
    typ = header.get("typ", "JWT")
    if header.get("alg") != "HS256" or "crit" in header:
        raise TokenError("token_invalid", "unsupported header")
    if not isinstance(typ, str) or typ.upper() != "JWT":  # RFC 7519 §5.1: case-insensitive
        raise TokenError("token_invalid", "unsupported header")
    body, sig = _b64decode(payload_b64), _b64decode(sig_b64)
    _check_mac(secret, f"{header_b64}.{payload_b64}".encode("ascii"), sig)
    return _order_claims(_json_object(body), now, leeway)


def _order_claims(claims: dict[str, object], now: int, leeway: int) -> OrderClaims:
    exp = _int_claim(claims, "exp")
    iat = _opt_int_claim(claims, "iat")
    nbf = _opt_int_claim(claims, "nbf")
    amount = _int_claim(claims, "amount")
    order_id, currency = claims.get("order_id"), claims.get("currency")
    if not isinstance(order_id, str) or not 0 < len(order_id) <= MAX_ORDER_ID_LENGTH:
        raise TokenError("token_invalid", "claim order_id must be a string of 1-200 chars")
    if not isinstance(currency, str) or not _CURRENCY.fullmatch(currency):
        raise TokenError("token_invalid", "claim currency must be 3 letters")
    customer = _customer_claim(claims)
    if now >= exp + leeway:
        raise TokenError("token_expired", "token expired")
    if nbf is not None and now + leeway < nbf:
        raise TokenError("token_not_yet_valid", "token not valid yet")
    if iat is not None and iat > now + leeway:
        raise TokenError("token_invalid", "token issued in the future")
    return OrderClaims(order_id, amount, currency.lower(), exp, iat, nbf, customer)


def _customer_claim(claims: dict[str, object]) -> str | None:
    """``customer`` or ``sub`` (the same value if both are given)."""
    given = [claims[name] for name in ("customer", "sub") if claims.get(name) is not None]
    if not given:
        return None
    value = given[0]
    if any(other != value for other in given) or not isinstance(value, str):
        raise TokenError("token_invalid", "claims customer and sub must be one string")
    if not 0 < len(value) <= MAX_CUSTOMER_LENGTH:
        raise TokenError("token_invalid", "claim customer/sub must be one string of 1-200 chars")
    return value
