"""Run the fake Bot API on its own: ``python -m tests.botapi --port 8081``.

Prints one JSON line (base_url, control_url, port, token, bot_user) on stdout once the
server listens, then serves until SIGTERM or SIGINT.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
from types import FrameType

from tests.botapi.server import DEFAULT_TOKEN, FakeBotAPI


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.botapi", description=__doc__)
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port (default)")
    parser.add_argument("--host", default="127.0.0.1", help="0.0.0.0 to let a container reach it")
    parser.add_argument(
        "--token",
        default=os.environ.get("TELEGRAM_BOT_TOKEN", DEFAULT_TOKEN),
        help="the one valid bot token (default: $TELEGRAM_BOT_TOKEN or a test token)",
    )
    parser.add_argument(
        "--lenient-ampersand",
        action="store_true",
        help="accept an unescaped & in HTML as Telegram does (default: refuse it)",
    )
    parser.add_argument(
        "--allow-http-webhook",
        action="store_true",
        help="let setWebhook take an http URL on this machine (default: https only)",
    )
    args = parser.parse_args(argv)
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        server = FakeBotAPI(
            args.token, host=args.host, port=args.port,
            strict_ampersand=not args.lenient_ampersand,
            allow_http_webhook=args.allow_http_webhook,
        ).start()  # fmt: skip
    except OSError as error:
        print(f"cannot listen on {args.host}:{args.port}: {error}; pick another --port",
              file=sys.stderr)  # fmt: skip
        return 2
    print(json.dumps(server.info()), flush=True)
    try:
        stop.wait()
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
