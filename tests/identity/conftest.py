"""A service that accepts session tokens from a real local JWKS server."""

from __future__ import annotations

import base64
import uuid
from collections.abc import AsyncIterator

import pytest
from pytest_aiohttp import AiohttpClient

from service.app import create_app
from service.db.store import PgStore
from service.keys import STORE
from service.payments.models import NewPayment, Payment
from tests.support.api import Client
from tests.support.emulator import RunningEmulator
from tests.support.session_keys import ISSUER, PARTY, JwksServer, SigningKey, running_jwks
from tests.support.settings import make_settings

ORDER_SECRET = "order-token-secret-0123456789abcdef0123456789"
CLERK_SECRET = "whsec_" + base64.b64encode(b"clerk-signing-secret-for-tests!!").decode()
KEY = SigningKey.rsa("kid-1")


@pytest.fixture
async def jwks() -> AsyncIterator[JwksServer]:
    async with running_jwks([KEY]) as server:
        yield server


@pytest.fixture
async def api(
    aiohttp_client: AiohttpClient, database_url: str, jwks: JwksServer, emulator: RunningEmulator
) -> Client:
    settings = make_settings(
        database_url,
        stripe_api_base=emulator.url,
        auth_jwks_url=jwks.url,
        auth_issuer=ISSUER,
        auth_authorized_parties=[PARTY],
        order_token_secret=ORDER_SECRET,
        clerk_webhook_signing_secret=CLERK_SECRET,
        catch_up_seconds=0.5,
        listener_probe_seconds=0.2,
    )
    return await aiohttp_client(create_app(settings))


def fresh_user() -> str:
    """A user id no other test of the module's database has used."""
    return f"user_{uuid.uuid4().hex[:16]}"


def session(user: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {KEY.token(sub=user, iss=ISSUER, azp=PARTY)}"}


async def add_customer_payment(
    store: PgStore, external_id: str, amount: int = 2500, status: str | None = None
) -> Payment:
    """A payment of `external_id`'s customer straight through the store."""
    async with store.transaction() as tx:
        customer = await tx.get_or_add_customer(uuid.uuid4(), external_id, None, None)
        payment = await tx.add_payment(
            NewPayment(
                id=uuid.uuid4(),
                order_id=f"order-{uuid.uuid4()}",
                customer_id=customer.id,
                flow="payment_intent",
                amount=amount,
                currency="eur",
                capture_method="automatic",
                description=None,
                metadata={},
            )
        )
    assert payment is not None
    return payment


def store_of(api: Client) -> PgStore:
    return api.app[STORE]
