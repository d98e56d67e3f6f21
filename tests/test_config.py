from __future__ import annotations

import subprocess
import sys

import pytest

from service.config import PROJECT_ROOT, SettingsError, as_environment, load_settings
from service.demo import page_url
from service.notifications.child import CHILD_SETTINGS

_ALL = [
    "DATABASE_URL",
    "HOST",
    "PORT",
    "STRIPE_SECRET_KEY",
    "STRIPE_PUBLISHABLE_KEY",
    "STRIPE_API_BASE",
    "STRIPE_WEBHOOK_SECRETS",
    "API_KEYS",
    "STATUS_TOKEN_SECRET",
    "CORS_ORIGINS",
    "ALLOWED_REDIRECT_ORIGINS",
    "LOG_LEVEL",
]


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in _ALL:
        monkeypatch.delenv(name, raising=False)


def test_defaults() -> None:
    settings = load_settings()
    assert settings.database_url is None
    assert settings.port == 8080
    assert settings.stripe_webhook_secrets == []
    assert settings.log_level == "INFO"


def test_lists_and_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STRIPE_WEBHOOK_SECRETS", "whsec_old, whsec_new")
    monkeypatch.setenv("CORS_ORIGINS", "http://localhost:5173,https://shop.example")
    monkeypatch.setenv("STRIPE_SECRET_KEY", "sk_test_abc")
    monkeypatch.setenv("LOG_LEVEL", "debug")
    settings = load_settings()
    assert [s.get_secret_value() for s in settings.stripe_webhook_secrets] == [
        "whsec_old",
        "whsec_new",
    ]
    assert settings.cors_origins == ["http://localhost:5173", "https://shop.example"]
    assert settings.log_level == "DEBUG"
    assert "sk_test_abc" not in repr(settings)


@pytest.mark.parametrize(
    ("name", "value", "fragment"),
    [
        ("PORT", "eighty", "valid integer"),
        ("PORT", "70000", "less than or equal to 65535"),
        ("DATABASE_URL", "mysql://x", "postgresql://"),
        ("STRIPE_SECRET_KEY", "pk_test_x", "sk_"),
        ("STRIPE_PUBLISHABLE_KEY", "sk_test_x", "pk_"),
        ("STRIPE_API_BASE", "ftp://x", "http(s) URL"),
        ("STRIPE_WEBHOOK_SECRETS", "whsec_a,nope", "whsec_"),
        ("API_KEYS", "short", "at least 16"),
        ("STATUS_TOKEN_SECRET", "short", "at least 32"),
        ("CORS_ORIGINS", "http://ok.example,not an origin", "not an origin"),
        ("ALLOWED_REDIRECT_ORIGINS", "https://x.example/path", "not an origin"),
        ("LOG_LEVEL", "loud", "DEBUG"),
    ],
)
def test_each_bad_setting_is_named(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, fragment: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as caught:
        load_settings()
    assert [problem[0] for problem in caught.value.problems] == [name]
    assert fragment in str(caught.value)
    if name in {"STRIPE_SECRET_KEY", "STATUS_TOKEN_SECRET", "API_KEYS"}:
        assert value not in str(caught.value)


def test_all_bad_settings_reported_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PORT", "x")
    monkeypatch.setenv("LOG_LEVEL", "x")
    with pytest.raises(SettingsError) as caught:
        load_settings()
    assert {p[0] for p in caught.value.problems} == {"PORT", "LOG_LEVEL"}


def test_cli_exits_2_with_clear_message() -> None:
    env = {
        "PATH": "/usr/bin:/bin",
        "PORT": "nope",
        "STRIPE_SECRET_KEY": "sk_live_secret_value_x",
        "API_KEYS": "tiny",
    }
    result = subprocess.run(
        [sys.executable, "-m", "service", "serve"],
        capture_output=True,
        text=True,
        env=env,
        cwd=PROJECT_ROOT,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "PORT" in result.stderr
    assert "API_KEYS" in result.stderr
    assert "tiny" not in result.stderr
    assert "Traceback" not in result.stderr


def test_demo_ports(monkeypatch: pytest.MonkeyPatch) -> None:
    """HOST, PORT and EMULATOR_PORT (0: any free port, the default) configure `make run`."""
    monkeypatch.delenv("EMULATOR_PORT", raising=False)
    assert load_settings().emulator_port == 0
    monkeypatch.setenv("HOST", "192.0.2.7")
    monkeypatch.setenv("PORT", "9090")
    monkeypatch.setenv("EMULATOR_PORT", "12111")
    settings = load_settings()
    assert (settings.host, settings.port, settings.emulator_port) == ("192.0.2.7", 9090, 12111)
    monkeypatch.setenv("EMULATOR_PORT", "70000")
    with pytest.raises(SettingsError) as caught:
        load_settings()
    assert [problem[0] for problem in caught.value.problems] == ["EMULATOR_PORT"]


def test_demo_page_url_is_one_a_browser_opens() -> None:
    assert page_url("0.0.0.0", 9090) == "http://127.0.0.1:9090"  # noqa: S104
    assert page_url("::", 9090) == "http://127.0.0.1:9090"
    assert page_url("::1", 8080) == "http://[::1]:8080"
    assert page_url("localhost", 8080) == "http://localhost:8080"


def test_as_environment_gives_back_the_same_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """What a child process is started with reads back as the parent's settings."""
    names = [*CHILD_SETTINGS, "stripe_webhook_secrets", "cors_origins", "reconcile_enabled"]
    parent = load_settings(
        database_url="postgresql://u:p@db:5432/pay",
        merchant_webhook_urls=["https://a.example/hook", "https://b.example/hook"],
        merchant_webhook_secret=["whsec_" + "A" * 32, "whsec_" + "B" * 32],
        merchant_webhook_retry_schedule=[0.5, 30, 3600],
        merchant_webhook_timeout_seconds=2.5,
        merchant_webhook_nice=15,
        stripe_webhook_secrets=["whsec_x", "whsec_y"],
        cors_origins=["https://shop.example"],
        reconcile_enabled=False,
        log_level="WARNING",
    )
    for name, value in as_environment(parent, names).items():
        monkeypatch.setenv(name, value)
    child = load_settings()
    for name in names:
        assert getattr(child, name) == getattr(parent, name), name
    assert child.merchant_webhook_secret[1].get_secret_value() == "whsec_" + "B" * 32
