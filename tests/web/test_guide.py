"""docs/integration.md cannot rot: each code block is a file (or a marked region of the
example SPA) it names, and the order-token snippets mint tokens the service accepts."""

from __future__ import annotations

import asyncio
import gzip
import importlib.util
import re
import shutil
import textwrap
import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from pytest_aiohttp import AiohttpClient

from service.app import create_app
from service.config import PROJECT_ROOT, Settings
from service.tokens import verify_order_token
from tests.support.emulator import RunningEmulator
from tests.support.settings import make_settings

GUIDE = PROJECT_ROOT / "docs" / "integration.md"
SNIPPETS = PROJECT_ROOT / "docs" / "snippets"
README = PROJECT_ROOT / "README.md"
CLIENT = PROJECT_ROOT / "service" / "web" / "paylive.js"
ORDER_SECRET = "order-token-secret-for-the-guide-0123456789"
INCLUDE = re.compile(r"<!-- include: (\S+?)(?:#(\w+))? -->\n```\w*\n(.*?)```", re.S)
# Budgets the README's figures must also respect.
MAX_BYTES = 24_000
MAX_GZIP_BYTES = 7_000


def _region(text: str, name: str) -> str:
    match = re.search(rf"// \[guide:{name}\]\n(.*?)\n[ \t]*// \[/guide:{name}\]", text, re.S)
    assert match, f"no region {name}"
    return textwrap.dedent(match.group(1)) + "\n"


def test_every_code_block_is_an_included_file() -> None:
    guide = GUIDE.read_text()
    included = INCLUDE.findall(guide)
    assert len(included) == guide.count("```") // 2, "a code block without an include marker"
    assert len(included) >= 8
    for path, region, block in included:
        source = (PROJECT_ROOT / path).read_text()
        expected = _region(source, region) if region else source
        assert block == expected, f"{path}#{region} differs from the guide's copy"


def test_the_env_snippet_names_real_settings() -> None:
    lines = (SNIPPETS / "paylive.env").read_text().splitlines()
    names = [line.split("=", 1)[0] for line in lines if line and not line.startswith("#")]
    assert names
    assert {name.lower() for name in names} <= set(Settings.model_fields)


def test_the_stripe_events_listed_are_the_ones_the_service_applies() -> None:
    guide = GUIDE.read_text()
    section = guide[guide.index("## Stripe webhook events to enable") :]
    listed = set(re.findall(r"`([a-z_]+(?:\.[a-z_]+)+)`", section))
    readme = README.read_text()
    assert "payment_intent.amount_capturable_updated" in listed
    assert {"charge.refunded", "checkout.session.expired", "refund.updated"} <= listed
    for event in listed:
        family = event.rsplit(".", 1)[0]
        assert family in readme or event in readme, event


def _python_snippet() -> Callable[..., str]:
    spec = importlib.util.spec_from_file_location(
        "order_token_snippet", SNIPPETS / "order_token.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    mint: Callable[..., str] = module.order_token
    return mint


async def _node_snippet(order_id: str, amount: int, currency: str) -> str:
    node = shutil.which("node")
    assert node is not None, "Node.js is needed: apt-get install -y nodejs"
    script = (
        f"import {{ orderToken }} from {(SNIPPETS / 'order_token.mjs').as_uri()!r};"
        "const [secret, id, amount, currency] = process.argv.slice(1);"
        "process.stdout.write(orderToken(secret, id, Number(amount), currency));"
    )
    proc = await asyncio.create_subprocess_exec(
        node,
        "--input-type=module",
        "-e",
        script,
        ORDER_SECRET,
        order_id,
        str(amount),
        currency,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 20)
    assert proc.returncode == 0, err.decode()
    return out.decode()


@pytest.mark.parametrize("language", ["python", "node"])
async def test_the_snippets_mint_tokens_the_service_accepts(
    language: str, aiohttp_client: AiohttpClient, database_url: str, emulator: RunningEmulator
) -> None:
    settings = make_settings(
        database_url, order_token_secret=ORDER_SECRET, stripe_api_base=emulator.url
    )
    client = await aiohttp_client(create_app(settings))
    order_id = f"guide-{language}-{uuid.uuid4().hex[:8]}"
    if language == "python":
        token = _python_snippet()(ORDER_SECRET, order_id, 2500, "EUR")
    else:
        token = await _node_snippet(order_id, 2500, "EUR")
    claims = verify_order_token(ORDER_SECRET.encode(), token, now=int(time.time()))
    assert (claims.order_id, claims.amount, claims.currency) == (order_id, 2500, "eur")
    assert claims.iat is not None
    assert claims.exp > claims.iat

    body: dict[str, Any] = {"order_id": order_id, "amount": 2500, "currency": "eur"}
    other = await client.post(
        "/api/payment-intents", json={**body, "amount": 100}, headers={"X-Order-Token": token}
    )
    assert other.status == 403  # the token fixes the price
    created = await client.post("/api/payment-intents", json=body, headers={"X-Order-Token": token})
    data = await created.json()
    assert created.status == 201, data
    assert data["client_secret"]
    assert data["status_token"]


def test_readme_links_the_guide_and_states_the_client_size() -> None:
    readme = README.read_text()
    assert "(docs/integration.md)" in readme
    body = CLIENT.read_bytes()
    size, zipped = len(body), len(gzip.compress(body, 9))
    assert size <= MAX_BYTES, size
    assert zipped <= MAX_GZIP_BYTES, zipped
    match = re.search(r"`paylive\.js` is\s+([\d,]+) bytes\s+\(([\d,]+) gzipped\)", readme)
    assert match, "the README must state paylive.js's size"
    stated, stated_zipped = (int(n.replace(",", "")) for n in match.groups())
    # Within 5 %: small edits need no README change, a real change of size does.
    assert abs(size - stated) <= stated * 0.05, (size, stated)
    assert abs(zipped - stated_zipped) <= stated_zipped * 0.05, (zipped, stated_zipped)


def test_snippet_files_are_all_used() -> None:
    guide = GUIDE.read_text()
    for path in SNIPPETS.iterdir():
        assert f"<!-- include: docs/snippets/{path.name} -->" in guide, path.name
