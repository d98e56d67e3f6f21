"""Browser tests: headless Chromium against the demo (service + Stripe emulator).

Every test here carries the `browser` marker (`pytest -m "not browser"` leaves them out);
they are part of `make test` and CI, which installs Debian's chromium.
"""

from __future__ import annotations

from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in item.path.resolve().parents:
            item.add_marker(pytest.mark.browser)
