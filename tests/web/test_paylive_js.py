"""paylive.js under Node's test runner, against the service running as a real process.

pytest starts PostgreSQL, the service and a control app (tests/web/control.py) that makes
payments, sends signed webhooks and restarts the service; ``node --test`` runs
paylive_js.test.mjs, whose assertions are the test. Needs Node 20+ on PATH.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from service.db.pool import create_pool
from service.db.store import PgStore
from tests.support.emulator import running_app
from tests.support.processes import free_port
from tests.web.control import Control, ServiceProcess, service_env

HERE = Path(__file__).resolve().parent
NODE_TEST = HERE / "paylive_js.test.mjs"


def node_command(test_file: Path) -> list[str]:
    node = shutil.which("node")
    if node is None:
        pytest.fail("Node.js is not installed: `apt-get install -y nodejs`.", pytrace=False)
    # Node 20's WebSocket is behind a flag; later versions have it on and accept the flag.
    # --test-force-exit: a failed test may leave its client running; it must not hang the run.
    return [
        node,
        "--experimental-websocket",
        "--test",
        "--test-force-exit",
        "--test-timeout=60000",
        "--test-reporter=spec",
        str(test_file),
    ]


@pytest.fixture
async def control(database_url: str) -> AsyncIterator[dict[str, str]]:
    """The environment the Node tests read: PAYLIVE_URL (the service), CONTROL_URL."""
    pool = await create_pool(database_url, min_size=1, max_size=2)
    service = ServiceProcess(service_env(database_url), free_port())
    async with aiohttp.ClientSession() as http:
        await service.start(http)
        try:
            ctl = Control(PgStore(pool), service, http)
            async with running_app(ctl.app()) as url:
                yield {"PAYLIVE_URL": service.url, "CONTROL_URL": url}
        finally:
            if service.process is not None:
                assert await asyncio.to_thread(service.stop) == 0
            await pool.close()


async def run_node(test_file: Path, env: dict[str, str], seconds: float = 150) -> str:
    proc = await asyncio.create_subprocess_exec(
        *node_command(test_file),
        env={**os.environ, **env},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        start_new_session=True,  # its own process group: a timeout ends the runner's children too
    )
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), seconds)
    except TimeoutError:
        os.killpg(proc.pid, signal.SIGKILL)
        await proc.wait()
        raise
    text = out.decode()
    assert proc.returncode == 0, text
    return text


async def test_paylive_js_under_node(control: dict[str, str]) -> None:
    report = await run_node(NODE_TEST, control)
    print(report)  # the spec report, shown with -s or on failure
    # Every scenario ran (a renamed or dropped test would otherwise pass silently).
    for name in SCENARIOS:
        assert name in report, report
    assert "\N{INFORMATION SOURCE} fail 0" in report, report


SCENARIOS = (
    "passes every field of a frame through",
    "resumes after a dropped connection",
    "resumes after a server restart",
    "slow reader",
    "falls back to SSE",
    "a server that is down does not push the client onto SSE",
    "many watches share one WebSocket",
    "bad token ends only its own watch",
    "pauses while the tab is hidden",
    "cleans up",
)
