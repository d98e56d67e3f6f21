"""The Clerk stand-in against the real service: sign-in, its webhook, its JWKS rotation,
and settings that a real Clerk instance is configured with."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest
from pytest_aiohttp import AiohttpClient

from service.app import create_app
from service.config import SettingsError, load_settings
from service.emulator.clerk.app import STANDIN, ClerkConfig, create_clerk_app
from tests.support.emulator import running_app
from tests.support.session_keys import SigningKey
from tests.support.settings import make_settings

ORIGIN = "https://shop.example"


async def sign_in(clerk_url: str, email: str, first: str = "Ada") -> dict[str, Any]:
    form = {"email": email, "first_name": first, "last_name": "L", "redirect_url": ORIGIN + "/"}
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{clerk_url}/sign-in", data=form, headers={"Accept": "application/json"}) as r,
    ):
        assert r.status == 200
        body: dict[str, Any] = await r.json()
        return body


async def test_sign_in_sync_and_rotation(aiohttp_client: AiohttpClient, database_url: str) -> None:
    clerk_app = create_clerk_app(ClerkConfig(public_url="", allowed_origins=[ORIGIN]))
    standin = clerk_app[STANDIN]
    async with running_app(clerk_app) as clerk_url:
        standin.config.public_url = clerk_url
        settings = make_settings(
            database_url,
            auth_jwks_url=f"{clerk_url}/.well-known/jwks.json",
            auth_issuer=clerk_url,
            auth_authorized_parties=[ORIGIN],
            clerk_webhook_signing_secret=standin.config.webhook_secret,
        )
        api = await aiohttp_client(create_app(settings))
        standin.config.webhook_url = str(api.make_url("/webhooks/clerk"))

        first = await sign_in(clerk_url, "ada@example.com")
        me = await api.get("/api/me", headers={"Authorization": f"Bearer {first['token']}"})
        assert me.status == 200
        body = await me.json()
        assert (body["external_id"], body["email"], body["name"]) == (
            first["user_id"],
            "ada@example.com",
            "Ada L",
        )
        # Same email, new name: the same user, updated (user.updated).
        again = await sign_in(clerk_url, "ada@example.com", first="Augusta")
        assert again["user_id"] == first["user_id"]
        assert [kind for kind, _ in standin.deliveries] == ["user.created", "user.updated"]

        await asyncio.sleep(5.1)  # the service refetches a JWKS at most every 5 s
        async with aiohttp.ClientSession() as http, http.post(f"{clerk_url}/rotate") as r:
            new_kid = (await r.json())["kid"]
        rotated = await sign_in(clerk_url, "ada@example.com", first="Augusta")
        me = await api.get("/api/me", headers={"Authorization": f"Bearer {rotated['token']}"})
        assert me.status == 200
        assert (await me.json())["first_name"] == "Augusta"
        assert standin.keys[0][0] == new_kid


async def test_redirects_only_to_allowed_origins() -> None:
    app = create_clerk_app(ClerkConfig(public_url="http://clerk", allowed_origins=[ORIGIN]))
    async with running_app(app) as url, aiohttp.ClientSession() as http:
        async with http.get(
            f"{url}/sign-in", params={"redirect_url": "https://evil.example/"}
        ) as r:
            assert r.status == 400
        async with http.get(f"{url}/sign-in", params={"redirect_url": ORIGIN + "/"}) as r:
            assert r.status == 200
            assert 'value="https://shop.example/"' in await r.text()


def test_identity_settings_are_checked() -> None:
    key = SigningKey.ec("k")
    one_line = key.public_pem().replace("\n", "\\n")
    settings = load_settings(
        auth_jwt_key=one_line, auth_authorized_parties="https://a.example, https://b.example"
    )
    assert settings.auth_jwt_key == key.public_pem().strip()
    assert settings.auth_authorized_parties == ["https://a.example", "https://b.example"]
    for bad in (
        {"auth_jwt_key": "not a pem"},
        {"auth_jwks_url": "ftp://clerk.example/jwks"},
        {"auth_authorized_parties": "https://a.example/path"},
        {"clerk_webhook_signing_secret": "secret-without-prefix"},
        {"auth_leeway_seconds": "301"},
    ):
        with pytest.raises(SettingsError) as caught:
            load_settings(**bad)
        assert caught.value.problems[0][0] == next(iter(bad)).upper()
