"""The service's settings for a test: a known API key and status-token secret, a database,
and Stripe pointed nowhere unless the test passes the emulator's URL."""

from __future__ import annotations

from service.config import Settings

TEST_API_KEY = "test-api-key-0123456789abcdef"
TEST_STATUS_SECRET = "status-token-secret-0123456789abcdef0123"


def make_settings(database_url: str, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "database_url": database_url,
        "api_keys": [TEST_API_KEY],
        "status_token_secret": TEST_STATUS_SECRET,
        "stripe_secret_key": "sk_test_paylive_emulator",
        # Nothing listens on port 9: tests that reach Stripe pass the emulator's URL.
        "stripe_api_base": "http://127.0.0.1:9",
        "db_pool_min_size": 1,
        "db_pool_max_size": 5,
        # In-process apps deliver on the test's own loop; spawned services use a child.
        "merchant_webhook_delivery": "inline",
    }
    values.update(overrides)
    return Settings.model_validate(values)
