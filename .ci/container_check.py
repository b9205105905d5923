"""The Python side of .ci/container-test: act as a Telegram user against the fake Bot API.

    python .ci/container_check.py wait-server --base-url http://127.0.0.1:PORT
    python .ci/container_check.py ask --base-url http://127.0.0.1:PORT --token TOKEN \
        --question "How many refugees have entered camps in Turkey?" --expect "Over 40,000"

    python .ci/container_check.py endpoints --port METRICS_PORT

`ask` sends the question as a user in a private chat and waits for the bot (running in the
container) to reply; it exits 0 when a reply contains the expected quote, 1 otherwise, and
prints what the bot said either way.  `endpoints` checks the bot's METRICS_PORT from the
host: /healthz and /readyz say ok, /metrics parses and counts at least one answer found and
at least one report in the index, and any other path is 404.
"""

from __future__ import annotations

import argparse
import http.client
import sys
import time
from pathlib import Path

# The fake server's client lives in the repo's tests package, which is not installed.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.botapi.client import BotAPIClient

CHAT_ID = 424242
USER_ID = 424242


def wait_server(base_url: str, timeout: float) -> int:
    deadline = time.monotonic() + timeout
    while True:
        try:
            BotAPIClient(base_url).info()
            return 0
        except OSError as error:
            if time.monotonic() > deadline:
                print(f"no fake Bot API at {base_url} after {timeout:g}s: {error}", file=sys.stderr)
                return 1
            time.sleep(0.2)


def ask(base_url: str, token: str, question: str, expected: str, timeout: float) -> int:
    client = BotAPIClient(base_url)
    served_token = client.info().get("token")
    if served_token != token:
        print(
            "the fake Bot API serves another token than the container got; start it with "
            "the same TELEGRAM_BOT_TOKEN",
            file=sys.stderr,
        )
        return 1
    # The bot may still be starting (loading reports); the question waits in its update queue.
    asked = client.send_message(CHAT_ID, USER_ID, question)
    try:
        replies = client.wait_for_messages(
            CHAT_ID, count=1, timeout=timeout, after_message_id=int(asked["message_id"])
        )
    except TimeoutError as error:
        print(f"no reply within {timeout:g}s: {error}", file=sys.stderr)
        return 1
    texts = [str(reply.get("text", "")) for reply in replies]
    for text in texts:
        print("    bot: " + text.replace("\n", "\n         ")[:800])
    if any(expected in text for text in texts):
        return 0
    print(f"no reply contains {expected!r}", file=sys.stderr)
    return 1


def _get(port: int, path: str) -> tuple[int, str]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, response.read().decode("utf-8", "replace")
    finally:
        connection.close()


def endpoints(port: int) -> int:
    from prometheus_client.parser import text_string_to_metric_families

    problems = []
    try:
        for path in ("/healthz", "/readyz"):
            status, text = _get(port, path)
            if (status, text.strip()) != (200, "ok"):
                problems.append(f"{path} answered {status}: {text.strip()}")
        if _get(port, "/no-such-path")[0] != 404:
            problems.append("/no-such-path is not 404")
        status, text = _get(port, "/metrics")
    except OSError as error:
        print(f"nothing answers on 127.0.0.1:{port}: {error}", file=sys.stderr)
        return 1
    samples = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }
    found = samples.get(
        ("reports_bot_answers_total", (("outcome", "found"), ("surface", "chat"))), 0.0
    )
    reports = samples.get(("reports_bot_index_reports", ()), 0.0)
    print(f"    metrics: {len(samples)} samples, {found:g} answers found, {reports:g} reports")
    if status != 200 or found < 1 or reports < 1:
        problems.append(f"/metrics answered {status} with {found:g} answers, {reports:g} reports")
    for problem in problems:
        print(problem, file=sys.stderr)
    return 1 if problems else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    waiting = commands.add_parser("wait-server", help="wait until the fake Bot API answers")
    waiting.add_argument("--base-url", required=True)
    waiting.add_argument("--timeout", type=float, default=15.0)
    asking = commands.add_parser("ask", help="ask a question as a user, check the reply")
    asking.add_argument("--base-url", required=True)
    asking.add_argument("--token", required=True)
    asking.add_argument("--question", required=True)
    asking.add_argument("--expect", required=True)
    asking.add_argument("--timeout", type=float, default=60.0)
    checking = commands.add_parser("endpoints", help="check /healthz, /readyz and /metrics")
    checking.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    if args.command == "endpoints":
        return endpoints(args.port)
    if args.command == "wait-server":
        return wait_server(args.base_url, args.timeout)
    return ask(args.base_url, args.token, args.question, args.expect, args.timeout)


if __name__ == "__main__":
    sys.exit(main())
