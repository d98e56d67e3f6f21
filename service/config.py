"""Settings: the only place that reads the environment.

Built once (in ``__main__`` or a test) and passed in; nothing else looks at ``os.environ``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from service.identity.session_tokens import key_from_pem

PROJECT_ROOT = Path(__file__).resolve().parent.parent

_ORIGIN = re.compile(r"^https?://[A-Za-z0-9.\-]+(:[0-9]{1,5})?$")
_URL = re.compile(r"^https?://[A-Za-z0-9.\-\[\]:]+(/.*)?$")

# whsec_ + standard base64 of at least 24 bytes (Standard Webhooks recommends 24 to 64).
_WHSEC = re.compile(r"^whsec_[A-Za-z0-9+/]{32,}={0,2}$")

CommaList = Annotated[list[str], NoDecode]
SecretList = Annotated[list[SecretStr], NoDecode]


def _split(value: object) -> object:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


class SettingsError(Exception):
    """Raised with one line per bad variable; ``__main__`` prints it and exits 2."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        self.problems = problems
        lines = [f"  {name}: {message}" for name, message in problems]
        super().__init__("invalid configuration:\n" + "\n".join(lines))


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="", case_sensitive=False, extra="ignore", frozen=True, env_file=None
    )

    database_url: str | None = None
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=1, le=65535)
    stripe_secret_key: SecretStr | None = None
    stripe_publishable_key: str | None = None
    stripe_api_base: str | None = None
    stripe_js_url: str = "https://js.stripe.com/v3/"
    stripe_timeout_seconds: float = Field(default=10.0, gt=0, le=120)
    stripe_max_network_retries: int = Field(default=2, ge=0, le=10)
    stripe_webhook_secrets: SecretList = []
    api_keys: SecretList = []
    status_token_secret: SecretStr | None = None
    status_token_ttl_seconds: int = Field(default=24 * 3600, ge=60, le=30 * 24 * 3600)
    order_token_secret: SecretStr | None = None
    allow_anonymous_create: bool = False
    demo_page: bool = False
    emulator_port: int = Field(default=0, ge=0, le=65535)  # the demo's Stripe emulator; 0: any
    cors_origins: CommaList = []
    allowed_redirect_origins: CommaList = []
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    # uvloop: less service CPU per webhook than asyncio's loop (interleaved ingest runs).
    event_loop: Literal["uvloop", "asyncio"] = "uvloop"
    max_body_bytes: int = Field(default=64 * 1024, ge=1024, le=16 * 1024 * 1024)
    max_webhook_bytes: int = Field(default=1024 * 1024, ge=1024, le=16 * 1024 * 1024)
    idempotency_ttl_seconds: float = Field(default=24 * 3600.0, gt=0, le=30 * 24 * 3600)
    idempotency_lease_seconds: float = Field(default=60.0, gt=0, le=3600)
    ws_max_connections: int = Field(default=20_000, ge=1, le=1_000_000)
    # Live connections (WebSocket + SSE) one credential / one client address may hold.
    ws_max_connections_per_token: int = Field(default=32, ge=1, le=1_000_000)
    ws_max_connections_per_address: int = Field(default=500, ge=1, le=1_000_000)
    # A client must send a request's headers within this long (slow-header clients).
    header_timeout_seconds: float = Field(default=10.0, gt=0, le=300)
    ws_max_subscriptions: int = Field(default=20, ge=1, le=1000)
    ws_max_message_bytes: int = Field(default=4096, ge=256, le=1024 * 1024)
    ws_idle_seconds: float = Field(default=60.0, gt=0, le=3600)
    ws_slow_after_seconds: float = Field(default=5.0, gt=0, le=120)
    ws_ping_seconds: float = Field(default=25.0, gt=0, le=300)
    listener_probe_seconds: float = Field(default=2.0, gt=0, le=60)
    catch_up_seconds: float = Field(default=3.0, gt=0, le=300)
    realtime_broker: str = "postgres"
    listen_database_url: str | None = None
    db_statement_cache_size: int = Field(default=100, ge=0, le=10_000)
    reconcile_enabled: bool = True
    reconcile_interval_seconds: float = Field(default=60.0, gt=0, le=24 * 3600)
    reconcile_older_than_seconds: float = Field(default=60.0, ge=0, le=7 * 24 * 3600)
    reconcile_batch_size: int = Field(default=100, ge=1, le=10_000)
    reconcile_max_age_seconds: float = Field(default=7 * 24 * 3600.0, gt=0, le=30 * 24 * 3600)
    reconcile_lookback_seconds: int = Field(default=3 * 24 * 3600, ge=60, le=30 * 24 * 3600)
    shutdown_timeout_seconds: float = Field(default=10.0, gt=0, le=300)
    merchant_webhook_urls: CommaList = []
    merchant_webhook_secret: SecretList = []
    merchant_webhook_timeout_seconds: float = Field(default=10.0, gt=0, le=120)
    merchant_webhook_retry_schedule: Annotated[list[float], NoDecode] = [
        5,
        300,
        1800,
        7200,
        18000,
        36000,
        36000,
    ]
    merchant_webhook_concurrency: int = Field(default=8, ge=1, le=100)  # per endpoint
    merchant_webhook_poll_seconds: float = Field(default=1.0, gt=0, le=300)
    # Who sends: a child process at a lower CPU priority (so ingestion, creation and pushes
    # keep the CPU when both want it), this process's own event loop, or nobody here
    # (`python -m service deliver` runs elsewhere).
    merchant_webhook_delivery: Literal["process", "inline", "off"] = "process"
    merchant_webhook_nice: int = Field(default=10, ge=0, le=19)  # the child's niceness
    # The child waits while the web process is busy, until what is due is this old (0: never).
    merchant_webhook_yield_seconds: float = Field(default=5.0, ge=0, le=60)
    db_pool_min_size: int = Field(default=1, ge=0, le=100)
    db_pool_max_size: int = Field(default=10, ge=1, le=200)
    embedded_pgdata: Path = PROJECT_ROOT / ".pgdata"
    migrations_dir: Path = PROJECT_ROOT / "sql"
    # Signed-in customers (session tokens, e.g. Clerk's) and the Clerk user sync.
    auth_jwks_url: str | None = None
    auth_jwt_key: str | None = None  # a PEM public key; wins over AUTH_JWKS_URL
    auth_issuer: str | None = None
    auth_authorized_parties: CommaList = []
    auth_leeway_seconds: int = Field(default=5, ge=0, le=300)
    clerk_webhook_signing_secret: SecretStr | None = None
    auth_sign_in_url: str | None = None  # the demo page's "Sign in" link

    @property
    def livemode(self) -> bool:
        """Whether our Stripe key is a live one (sk_live_/rk_live_): webhook events of
        the other mode are never applied. Without a key: test mode."""
        key = self.stripe_secret_key
        return key is not None and key.get_secret_value().startswith(("sk_live_", "rk_live_"))

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @field_validator(
        "stripe_webhook_secrets",
        "api_keys",
        "cors_origins",
        "allowed_redirect_origins",
        "auth_authorized_parties",
        "merchant_webhook_urls",
        "merchant_webhook_secret",
        "merchant_webhook_retry_schedule",
        mode="before",
    )
    @classmethod
    def _comma_list(cls, value: object) -> object:
        return _split(value)

    @field_validator("realtime_broker")
    @classmethod
    def _realtime_broker(cls, value: str) -> str:
        schemes = ("redis://", "rediss://", "unix://", "nats://", "tls://")
        if value != "postgres" and not value.startswith(schemes):
            raise ValueError("must be postgres, a redis:// URL or a nats:// URL")
        return value

    @field_validator("database_url", "listen_database_url")
    @classmethod
    def _database_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("postgres://", "postgresql://")):
            raise ValueError("must be a postgresql:// URL")
        return value or None

    @field_validator("stripe_secret_key")
    @classmethod
    def _secret_key(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().startswith(("sk_", "rk_")):
            raise ValueError("must start with sk_ or rk_")
        return value

    @field_validator("stripe_publishable_key")
    @classmethod
    def _publishable_key(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith("pk_"):
            raise ValueError("must start with pk_")
        return value

    @field_validator("stripe_api_base")
    @classmethod
    def _api_base(cls, value: str | None) -> str | None:
        if value is not None and not _URL.match(value):
            raise ValueError("must be an http(s) URL")
        return value.rstrip("/") if value else None

    @field_validator("stripe_webhook_secrets")
    @classmethod
    def _webhook_secrets(cls, value: list[SecretStr]) -> list[SecretStr]:
        if any(not s.get_secret_value().startswith("whsec_") for s in value):
            raise ValueError("each secret must start with whsec_")
        return value

    @field_validator("merchant_webhook_secret")
    @classmethod
    def _merchant_secrets(cls, value: list[SecretStr]) -> list[SecretStr]:
        if any(not _WHSEC.match(s.get_secret_value()) for s in value):
            raise ValueError("each secret must be whsec_ and base64 (at least 24 bytes)")
        return value

    @field_validator("merchant_webhook_urls")
    @classmethod
    def _merchant_urls(cls, value: list[str]) -> list[str]:
        bad = [url for url in value if not _URL.match(url)]
        if bad:
            raise ValueError(f"not an http(s) URL: {', '.join(bad)}")
        return value

    @field_validator("merchant_webhook_retry_schedule")
    @classmethod
    def _schedule(cls, value: list[float]) -> list[float]:
        if any(not 0 <= delay <= 7 * 24 * 3600 for delay in value):
            raise ValueError("each delay must be from 0 to 604800 seconds")
        return value

    @field_validator("api_keys")
    @classmethod
    def _api_keys(cls, value: list[SecretStr]) -> list[SecretStr]:
        if any(len(s.get_secret_value()) < 16 for s in value):
            raise ValueError("each API key must be at least 16 characters")
        return value

    @field_validator("status_token_secret", "order_token_secret")
    @classmethod
    def _token_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < 32:
            raise ValueError("must be at least 32 characters")
        return value

    @field_validator("auth_jwks_url", "auth_sign_in_url")
    @classmethod
    def _jwks_url(cls, value: str | None) -> str | None:
        if value is not None and not _URL.match(value):
            raise ValueError("must be an http(s) URL")
        return value or None

    @field_validator("auth_jwt_key")
    @classmethod
    def _jwt_key(cls, value: str | None) -> str | None:
        if not value:
            return None
        pem = value.replace("\\n", "\n").strip()  # one-line env values spell newlines \n
        try:
            key_from_pem(pem)
        except ValueError as exc:
            raise ValueError(f"must be a PEM public key: {exc}") from None
        return pem

    @field_validator("clerk_webhook_signing_secret")
    @classmethod
    def _clerk_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().startswith("whsec_"):
            raise ValueError("must start with whsec_")
        return value

    @field_validator("cors_origins", "allowed_redirect_origins", "auth_authorized_parties")
    @classmethod
    def _origins(cls, value: list[str]) -> list[str]:
        bad = [origin for origin in value if not _ORIGIN.match(origin)]
        if bad:
            raise ValueError(f"not an origin (scheme://host[:port]): {', '.join(bad)}")
        return value

    @model_validator(mode="after")
    def _merchant_webhooks_signed(self) -> Settings:
        if self.merchant_webhook_urls and not self.merchant_webhook_secret:
            raise ValueError("MERCHANT_WEBHOOK_URLS needs MERCHANT_WEBHOOK_SECRET (whsec_...)")
        return self


def as_environment(settings: Settings, names: Iterable[str]) -> dict[str, str]:
    """These settings as the variables that set them, for a child process that reads its
    own from the environment (lists comma-joined, secrets revealed)."""

    def text(value: object) -> str:
        if isinstance(value, SecretStr):
            return value.get_secret_value()
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, list):
            return ",".join(text(item) for item in value)
        return str(value)

    return {
        name.upper(): text(value)
        for name in names
        if (value := getattr(settings, name)) is not None
    }


def load_settings(**overrides: object) -> Settings:
    """Read the environment; raise ``SettingsError`` naming every bad variable."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            name = str(error["loc"][0]).upper() if error["loc"] else "?"
            message = error["msg"].removeprefix("Value error, ")
            problems.append((name, message))
        raise SettingsError(problems) from None
