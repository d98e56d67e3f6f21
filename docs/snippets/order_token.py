"""Your backend mints an order token for paylive: an HS256 JWT, standard library only."""

import base64
import hashlib
import hmac
import json
import time


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def order_token(secret: str, order_id: str, amount: int, currency: str, ttl: int = 900) -> str:
    """The price your backend decided (minor units), signed with ORDER_TOKEN_SECRET."""
    now = int(time.time())
    header = {"alg": "HS256", "typ": "JWT"}
    claims = {
        "order_id": order_id,  # 1-200 characters; one open payment per order
        "amount": amount,  # e.g. 2500 for EUR 25.00
        "currency": currency.lower(),  # three letters
        "iat": now,
        "exp": now + ttl,
    }
    body = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
    signature = hmac.new(secret.encode(), body.encode("ascii"), hashlib.sha256).digest()
    return f"{body}.{_b64(signature)}"
