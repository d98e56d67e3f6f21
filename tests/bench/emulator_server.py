"""The Stripe emulator in its own process: ``python -m tests.bench.emulator_server PORT``.

So that neither the service nor the load generator shares its event loop.
"""

from __future__ import annotations

import asyncio
import sys

from service.emulator import EmulatorConfig, start_emulator
from tests.bench.common import until_signalled


async def serve(port: int) -> None:
    running = await start_emulator(EmulatorConfig(), port=port)
    try:
        await until_signalled()
    finally:
        await running.runner.cleanup()


def main() -> None:
    asyncio.run(serve(int(sys.argv[1])))


if __name__ == "__main__":
    main()
