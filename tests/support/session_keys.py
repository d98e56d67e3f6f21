"""Signing keys the tests make, session tokens signed with them, and a real JWKS server.

keys = SigningKey.rsa("k1")
async with running_jwks([keys]) as jwks:      # http://127.0.0.1:PORT/.well-known/jwks.json
    token = keys.token(sub="user_1", iss=ISSUER)
    jwks.publish([SigningKey.ec("k2")])         # rotation
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import jwt
from aiohttp import web
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from tests.support.emulator import running_app

ISSUER = "https://clerk.shop.example"
PARTY = "https://shop.example"

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


@dataclass(frozen=True)
class SigningKey:
    kid: str
    algorithm: str  # RS256 or ES256
    private: PrivateKey

    @classmethod
    def rsa(cls, kid: str) -> SigningKey:
        return cls(kid, "RS256", rsa.generate_private_key(public_exponent=65537, key_size=2048))

    @classmethod
    def ec(cls, kid: str) -> SigningKey:
        return cls(kid, "ES256", ec.generate_private_key(ec.SECP256R1()))

    def public_pem(self) -> str:
        return (
            self.private.public_key()
            .public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            .decode()
        )

    def jwk(self) -> dict[str, Any]:
        public = self.private.public_key()
        if isinstance(public, rsa.RSAPublicKey):
            text = jwt.algorithms.RSAAlgorithm.to_jwk(public)
        else:
            text = jwt.algorithms.ECAlgorithm.to_jwk(public)
        return {**json.loads(text), "kid": self.kid, "use": "sig", "alg": self.algorithm}

    def token(
        self, *, headers: dict[str, Any] | None = None, lifetime: int = 60, **claims: Any
    ) -> str:
        now = int(time.time())
        body = {"iat": now, "nbf": now - 5, "exp": now + lifetime, **claims}
        return jwt.encode(
            body,
            self.private,
            algorithm=self.algorithm,
            headers={"kid": self.kid, **(headers or {})},
        )


def claims(sub: str = "user_alice", **extra: Any) -> dict[str, Any]:
    """What Clerk puts in a session token (the parts we check)."""
    return {"sub": sub, "iss": ISSUER, "azp": PARTY, "sid": "sess_1", **extra}


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unsigned_token(header: dict[str, Any], body: dict[str, Any], secret: bytes = b"") -> str:
    """A token made by hand: `alg: none`, or HS256 with `secret` (e.g. the public key)."""
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(body).encode())}"
    if header.get("alg") == "HS256":
        signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
        return f"{signing_input}.{_b64(signature)}"
    return f"{signing_input}."


@dataclass
class JwksServer:
    url: str = ""
    document: dict[str, Any] = field(default_factory=dict)
    hits: int = 0
    failing: bool = False  # answer 503 while True

    def publish(self, keys: list[SigningKey]) -> None:
        self.document = {"keys": [key.jwk() for key in keys]}


@contextlib.asynccontextmanager
async def running_jwks(keys: list[SigningKey]) -> AsyncIterator[JwksServer]:
    server = JwksServer()
    server.publish(keys)

    async def serve(request: web.Request) -> web.Response:
        server.hits += 1
        if server.failing:
            return web.json_response({"error": "down"}, status=503)
        return web.json_response(server.document)

    app = web.Application()
    app.router.add_get("/.well-known/jwks.json", serve)
    async with running_app(app) as base:
        server.url = f"{base}/.well-known/jwks.json"
        yield server
