"""Updates as they come in: one that cannot be parsed is given up on its own, and every
getUpdates is reported to liveness (bot/reliability/liveness.py).

python-telegram-bot parses a getUpdates answer as one batch (`Update.de_list`): one
update it cannot turn into an `Update` (Telegram has sent polls lacking fields the
library requires) fails the whole batch, so no offset moves past it and the same batch
is fetched again at once, forever, logging "Error while parsing updates!" with a
traceback each time while nobody is answered.  The library takes the next offset from
the last parsed update, so dropping the bad one is not enough when it ends a batch.

`checked_update` therefore parses each update on its own first, before the library
sees it.  One that fails is recorded in the journal as abandoned, with its payload,
logged once with its id, and replaced by the bare `{"update_id": N}`: that parses,
matches no handler, moves the offset past it (so Telegram stops sending it), and the
update processor skips it as given up.  It works on one update's JSON, so the webhook
server (bot/reliability/webhook.py) calls it on each body before parsing it, as
`PollingRequest` does for polling.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

from telegram import Update
from telegram.error import NetworkError
from telegram.request import RequestData

from bot.reliability.delivery import RetryingRequest, api_method
from bot.reliability.journal import UpdateJournal
from bot.reliability.liveness import Liveness
from bot.reliability.metrics import Metrics

log = logging.getLogger(__name__)

# Enough of a bad update to see what it was, not so much that one floods the log.
LOGGED_PAYLOAD_CHARS = 500


def checked_update(raw: Mapping[str, Any], journal: UpdateJournal | None) -> Mapping[str, Any]:
    """`raw` when python-telegram-bot can parse it; else, once it is given up in `journal`,
    the bare update with its id only."""
    update_id = raw["update_id"]
    try:
        Update.de_json(dict(raw), None)
    except Exception as error:  # whatever the library raises, the update is unusable
        if journal is not None and journal.is_done(update_id):
            return {"update_id": update_id}  # given up before (sent again): said already
        shown = json.dumps(raw, ensure_ascii=False, default=str)
        if len(shown) > LOGGED_PAYLOAD_CHARS:
            shown = shown[:LOGGED_PAYLOAD_CHARS] + "…"
        why = (
            f"python-telegram-bot cannot parse it ({type(error).__name__}: {error}); "
            f"it is confirmed so that Telegram stops sending it: {shown}"
        )
        if journal is None:
            log.error("giving up on update %d: %s", update_id, why)
        else:
            journal.abandon(update_id, why, payload=raw)
        return {"update_id": update_id}
    return raw


def checked_updates(result: object, journal: UpdateJournal | None) -> object:
    """A getUpdates result with each update checked.  An entry without an integer
    update_id (never seen from Telegram) is dropped: the library would fail on it too."""
    if not isinstance(result, list):
        return result
    checked: list[object] = []
    for raw in result:
        if isinstance(raw, dict) and isinstance(raw.get("update_id"), int):
            checked.append(checked_update(raw, journal))
        else:
            log.error("dropping an entry of getUpdates without an update id: %.200r", raw)
    return checked


def checked_payload(payload: bytes, journal: UpdateJournal | None) -> bytes:
    """A getUpdates answer's body with `checked_updates` applied; unchanged when every
    update parses (or it is not the JSON the library could read anyway)."""
    try:
        answer = json.loads(payload)
    except ValueError:
        return payload
    if not isinstance(answer, dict) or not isinstance(answer.get("result"), list):
        return payload
    result = answer["result"]
    checked = checked_updates(result, journal)
    if checked == result:
        return payload
    return json.dumps({**answer, "result": checked}).encode("utf-8")


class PollingRequest(RetryingRequest):
    """The getUpdates client: no retries of its own (python-telegram-bot's polling loop
    retries getUpdates forever), each update checked, each poll told to liveness."""

    def __init__(
        self,
        journal: UpdateJournal | None = None,
        liveness: Liveness | None = None,
        metrics: Metrics | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(0, metrics=metrics, **kwargs)
        self.journal = journal
        self.liveness = liveness

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: Any = RetryingRequest.DEFAULT_NONE,
        write_timeout: Any = RetryingRequest.DEFAULT_NONE,
        connect_timeout: Any = RetryingRequest.DEFAULT_NONE,
        pool_timeout: Any = RetryingRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        polling = api_method(url).lower() == "getupdates"
        poll = self.liveness.poll_started() if polling and self.liveness else None
        error: str | None = "no answer"
        try:
            status, payload = await super().do_request(
                url, method, request_data, read_timeout, write_timeout, connect_timeout,
                pool_timeout,
            )  # fmt: skip
            error = None if status == 200 else f"HTTP {status}"
        except NetworkError as failure:
            error = str(failure) or type(failure).__name__
            raise
        finally:
            if poll is not None and self.liveness is not None:
                self.liveness.poll_ended(poll, error)
        if polling and status == 200:
            return status, checked_payload(payload, self.journal)
        return status, payload


def polling_request(
    journal: UpdateJournal | None = None,
    liveness: Liveness | None = None,
    metrics: Metrics | None = None,
) -> PollingRequest:
    """The request python-telegram-bot fetches updates with (`get_updates_request`)."""
    return PollingRequest(journal, liveness, metrics)
