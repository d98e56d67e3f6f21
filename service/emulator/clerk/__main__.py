"""``python -m service.emulator.clerk --port 12112 --webhook-url … --allowed-origin …``.

The webhook signing secret comes from CLERK_STANDIN_WEBHOOK_SECRET (never argv, which
other users of the machine can read); without it a new one is made and printed.
"""

from __future__ import annotations

import argparse
import logging
import os

from aiohttp import web

from .app import ClerkConfig, create_clerk_app, new_signing_secret


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m service.emulator.clerk")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=12112)
    parser.add_argument("--public-url", help="the issuer; default http://HOST:PORT")
    parser.add_argument("--webhook-url", help="where user.* events are sent")
    parser.add_argument("--allowed-origin", action="append", default=[], dest="origins")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO)
    secret = os.environ.get("CLERK_STANDIN_WEBHOOK_SECRET")
    if not secret:
        secret = new_signing_secret()
        print(f"webhook signing secret: {secret}", flush=True)
    config = ClerkConfig(
        public_url=args.public_url or f"http://{args.host}:{args.port}",
        webhook_url=args.webhook_url,
        webhook_secret=secret,
        allowed_origins=args.origins,
    )
    web.run_app(create_clerk_app(config), host=args.host, port=args.port, print=None)


if __name__ == "__main__":
    main()
