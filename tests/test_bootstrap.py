"""The composition root: each thing built once, from ``Settings`` and their defaults only."""

from __future__ import annotations

import dataclasses
import re

import pytest

from service import bootstrap
from service.config import PROJECT_ROOT, Settings, load_settings
from service.errors import GatewayInvalidRequest
from service.payments.reconcile import ReconcilePolicy
from service.reconciler import ReconcileConfig
from tests.support.emulator import RunningEmulator

DAY = 24 * 3600


def test_reconcile_config_comes_from_the_settings_defaults(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("RECONCILE_MAX_AGE_SECONDS", "RECONCILE_OLDER_THAN_SECONDS"):
        monkeypatch.delenv(name, raising=False)
    assert bootstrap.reconcile_config(load_settings()) == ReconcileConfig(
        enabled=True,
        interval_seconds=60.0,
        policy=ReconcilePolicy(
            older_than_seconds=60.0,
            batch_size=100,
            max_age_seconds=7 * DAY,
            lookback_seconds=3 * DAY,
        ),
    )
    monkeypatch.setenv("RECONCILE_MAX_AGE_SECONDS", "3600")
    monkeypatch.setenv("RECONCILE_OLDER_THAN_SECONDS", "5")
    policy = bootstrap.reconcile_config(load_settings()).policy
    assert (policy.max_age_seconds, policy.older_than_seconds) == (3600, 5)


@pytest.mark.parametrize("config", [ReconcileConfig, ReconcilePolicy])
def test_the_domain_config_has_no_defaults_of_its_own(config: type[object]) -> None:
    fields = dataclasses.fields(config)  # type: ignore[arg-type]
    assert fields
    assert [f.name for f in fields if f.default is not dataclasses.MISSING] == []
    assert [f.name for f in fields if f.default_factory is not dataclasses.MISSING] == []
    assert config.__dataclass_params__.frozen  # type: ignore[attr-defined]


def test_each_thing_is_built_in_one_place() -> None:
    """The Stripe client and the pool are made from settings only in ``bootstrap.py``."""
    built: dict[str, list[str]] = {"StripeGateway(": [], "create_pool(": []}
    for path in sorted((PROJECT_ROOT / "service").rglob("*.py")):
        if "emulator" in path.parts:
            continue  # the emulator is a Stripe of its own, not part of the service
        text = path.read_text()
        for needle, where in built.items():
            if re.search(rf"(?<!def )(?<!class )(?<![.\w]){re.escape(needle)}", text):
                where.append(path.relative_to(PROJECT_ROOT).as_posix())
    assert built == {
        "StripeGateway(": ["service/bootstrap.py"],
        "create_pool(": ["service/bootstrap.py"],
    }


async def test_stripe_gateway_uses_the_settings(
    settings: Settings, emulator: RunningEmulator
) -> None:
    calls: list[tuple[str, str]] = []
    at_emulator = settings.model_copy(update={"stripe_api_base": emulator.url})
    gateway = bootstrap.stripe_gateway(
        at_emulator, on_call=lambda operation, seconds, outcome: calls.append((operation, outcome))
    )
    try:
        with pytest.raises(GatewayInvalidRequest) as caught:
            await gateway.retrieve_payment_intent("pi_missing")
    finally:
        await gateway.close()
    assert caught.value.stripe_code == "resource_missing"
    assert calls == [("payment_intents.retrieve", "GatewayInvalidRequest")]
    with pytest.raises(ValueError, match="STRIPE_SECRET_KEY"):
        bootstrap.stripe_gateway(settings.model_copy(update={"stripe_secret_key": None}))
