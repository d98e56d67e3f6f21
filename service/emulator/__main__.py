"""Run the emulator: python -m service.emulator --port 12111 [--webhook-url URL ...]."""

from __future__ import annotations

import argparse
import socket

from aiohttp import web

from .app import create_emulator_app
from .config import EmulatorConfig


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m service.emulator", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=12111)
    # An already-bound socket from the parent (the demo), so its port is known up front.
    parser.add_argument("--listen-fd", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--public-url", help="base URL clients use to reach the emulator")
    parser.add_argument("--webhook-url", help="deliver every event here")
    parser.add_argument("--webhook-secret", help="whsec_… signing secret (generated if absent)")
    parser.add_argument("--processing-delay", type=float, default=1.0)
    args = parser.parse_args(argv)
    config = EmulatorConfig(
        public_url=args.public_url,
        webhook_url=args.webhook_url,
        webhook_secret=args.webhook_secret,
        processing_delay=args.processing_delay,
    )
    app = create_emulator_app(config)
    if config.webhook_url:
        print(f"webhooks -> {config.webhook_url} signed with {config.webhook_secret}", flush=True)
    if args.listen_fd is not None:
        web.run_app(app, sock=socket.socket(fileno=args.listen_fd))
    else:
        web.run_app(app, host=args.host, port=args.port)


if __name__ == "__main__":
    main()
