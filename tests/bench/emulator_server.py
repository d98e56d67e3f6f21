"""The Stripe emulator in its own process: ``python -m tests.bench.emulator_server PORT``.

So that neither the service nor the load generator shares its event loop.
"""

from __future__ import annotations

import asyncio
import signal
import sys

from service.emulator import EmulatorConfig, start_emulator


async def serve(port: int) -> None:
    running = await start_emulator(EmulatorConfig(), port=port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    try:
        await stop.wait()
    finally:
        await running.runner.cleanup()


def main() -> None:
    asyncio.run(serve(int(sys.argv[1])))


if __name__ == "__main__":
    main()
