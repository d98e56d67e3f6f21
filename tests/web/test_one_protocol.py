"""One implementation of the live-status protocol in the repository's browser code:
paylive.js. The demo pages and the example import it; none opens a socket or a stream of
its own, or speaks the protocol's messages."""

from __future__ import annotations

import re
from pathlib import Path

from service.http.client_js import WEB_DIR

PROTOCOL = re.compile(
    r"new\s+WebSocket\b|\bEventSource\b|/stream\?|since_version|type:\s*[\"']subscribe[\"']"
)


def browser_code() -> dict[Path, str]:
    """Every script the service serves, and every page's inline script."""
    files = [*WEB_DIR.rglob("*.js"), *WEB_DIR.rglob("*.html")]
    return {path: path.read_text(encoding="utf-8") for path in sorted(files)}


def test_only_paylive_js_speaks_the_protocol() -> None:
    code = browser_code()
    assert WEB_DIR / "paylive.js" in code
    assert WEB_DIR / "app.js" in code
    speakers = {path.name for path, text in code.items() if PROTOCOL.search(text)}
    assert speakers == {"paylive.js"}


def test_the_pages_that_watch_import_paylive_js() -> None:
    code = browser_code()
    importers = {
        path.relative_to(WEB_DIR).as_posix()
        for path, text in code.items()
        if re.search(r"""from\s+["']/paylive\.js["']""", text)
    }
    assert importers == {"follow.js", "bookings.js", "examples/minimal.html"}
    follow_users = {
        path.name for path, text in code.items() if re.search(r"""from\s+["']\./follow\.js""", text)
    }
    assert follow_users == {"app.js", "return.js"}
