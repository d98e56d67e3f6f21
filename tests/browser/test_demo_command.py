"""`python -m service demo` (what `make run` starts), driven by headless Chromium: the
emulator as a child process, the webhook endpoint registered with it, the page served."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator

import aiohttp
from playwright.async_api import expect

from service.config import PROJECT_ROOT
from tests.support.booking_page import pay_by_card
from tests.support.browser import chromium, new_page, screenshot


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class DemoProcess:
    """The child process and everything it printed (read as it comes, so no pipe fills)."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.output = bytearray()
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        assert self.process.stdout is not None
        while chunk := await self.process.stdout.read(65536):
            self.output += chunk

    def log(self) -> str:
        return self.output.decode(errors="replace")

    async def wait_ready(self, url: str) -> None:
        async with aiohttp.ClientSession() as http:
            for _ in range(300):
                if self.process.returncode is not None:
                    with contextlib.suppress(TimeoutError):  # its children may hold stdout
                        await asyncio.wait_for(asyncio.shield(self._reader), 5)
                    raise AssertionError(f"the demo exited early:\n{self.log()}")
                with contextlib.suppress(aiohttp.ClientError):
                    async with http.get(f"{url}/readyz") as response:
                        if response.status == 200:
                            return
                await asyncio.sleep(0.1)
        raise AssertionError(f"the demo did not get ready:\n{self.log()}")

    async def printed(self, text: str) -> bool:
        """Whether the demo printed TEXT (given a moment for the output to arrive)."""
        for _ in range(50):
            if text in self.log():
                return True
            await asyncio.sleep(0.1)
        return False

    async def stop(self) -> int:
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGINT)  # Ctrl-C, as in `make run`
            try:
                await asyncio.wait_for(self.process.wait(), 15)
            except TimeoutError:
                self._kill_all()
                await self.process.wait()
        try:
            # Its children hold the same stdout: the end of it waits for them too.
            await asyncio.wait_for(self._reader, 15)
        except TimeoutError:
            self._kill_all()
            self._reader.cancel()
            raise AssertionError(f"the demo's children outlived it:\n{self.log()}") from None
        return self.process.returncode or 0

    def _kill_all(self) -> None:
        """The demo and every process it started (its own session, see demo_command)."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)


@contextlib.asynccontextmanager
async def demo_command(
    database_url: str, port: int, *args: str, env: dict[str, str] | None = None
) -> AsyncIterator[DemoProcess]:
    """`python -m service demo ARGS` with ENV added, ready at http://127.0.0.1:PORT."""
    environment = {**os.environ, "DATABASE_URL": database_url, "LOG_LEVEL": "WARNING"}
    for name in ("STRIPE_SECRET_KEY", "STRIPE_PUBLISHABLE_KEY", "STRIPE_API_BASE"):
        environment.pop(name, None)  # the offline demo: the emulator, whatever this shell has
    for name in ("HOST", "PORT", "EMULATOR_PORT"):
        environment.pop(name, None)
    environment.update(env or {})
    demo = DemoProcess(
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "service",
            "demo",
            *args,
            cwd=PROJECT_ROOT,
            env=environment,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,  # a process group: what it started can be killed with it
        )
    )
    try:
        await demo.wait_ready(f"http://127.0.0.1:{port}")
        yield demo
    finally:
        code = await demo.stop()
    assert code == 0, demo.log()


async def test_make_run_demo_pays_by_card(database_url: str) -> None:
    """`PORT=… make run`: HOST, PORT and EMULATOR_PORT (0: any free) from the environment."""
    port = _free_port()
    env = {"HOST": "127.0.0.1", "PORT": str(port), "EMULATOR_PORT": "0"}
    async with demo_command(database_url, port, env=env) as demo, chromium() as browser:
        url = f"http://127.0.0.1:{port}"
        assert await demo.printed(f"paylive demo: {url}/\n"), demo.log()
        page, watch = await new_page(browser)
        await page.goto(url + "/")
        await expect(page.locator("body")).to_have_attribute("data-ready", "true")
        await page.get_by_test_id("seat-B5").click()
        await pay_by_card(page, "4242 4242 4242 4242")
        panel = page.get_by_test_id("live-panel")
        await expect(panel).to_have_attribute("data-status", "succeeded")
        await expect(page.get_by_test_id("result")).to_have_attribute("data-result", "paid")
        # The theatre's backend heard of it by a signed merchant notification.
        confirmed = page.get_by_test_id("theatre-confirmed")
        await expect(confirmed).to_have_text("Confirmed by the theatre.", timeout=15_000)
        await screenshot(page, "demo-command-succeeded")
        await page.context.close()
    assert watch.errors == []
    assert watch.foreign_requests({"127.0.0.1"}) == []


async def test_demo_command_line_ports_win_and_favicon_is_served(database_url: str) -> None:
    """--host/--port/--emulator-port over the environment; the printed URL is the real one,
    the page's Stripe.js comes from the emulator on the asked port, /favicon.ico is there."""
    port, emulator_port, unused = _free_port(), _free_port(), _free_port()
    args = ("--host", "127.0.0.1", "--port", str(port), "--emulator-port", str(emulator_port))
    env = {"PORT": str(unused), "EMULATOR_PORT": str(unused)}
    async with (
        demo_command(database_url, port, *args, env=env) as demo,
        aiohttp.ClientSession(base_url=f"http://127.0.0.1:{port}") as http,
    ):
        assert await demo.printed(f"paylive demo: http://127.0.0.1:{port}/\n"), demo.log()
        with socket.socket() as sock:  # the environment's port is free: not used
            sock.bind(("127.0.0.1", unused))
        async with http.get("/demo/config.json") as response:
            stripe_js_url = (await response.json())["stripe_js_url"]
        assert stripe_js_url == f"http://127.0.0.1:{emulator_port}/v3/"
        async with http.get(stripe_js_url) as response:
            assert response.status == 200
        async with http.get("/favicon.ico") as response:
            assert response.status == 200
            assert response.content_type == "image/x-icon"
            assert (await response.read()).startswith(b"\x00\x00\x01\x00")  # an ICO
