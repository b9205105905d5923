"""The jobs of one replica among several (DATABASE_URL set): keep or take the lead, and,
as the leader, answer the updates no replica finished.

`bot/app.py` starts both when the state is shared.  What the leader alone does besides
(feed polls, pushes) checks `state.leadership` where it happens: bot/live/jobs.py and
bot/telegram/pushes.py.
"""

from __future__ import annotations

import asyncio
import logging

from telegram.ext import JobQueue

from bot.reliability.fairness import UpdateProcessor
from bot.reliability.journal_queue import JournalingQueue
from bot.reliability.leader import CHECK_SECONDS
from bot.state import Context

log = logging.getLogger(__name__)

LEADER_JOB = "leader"
SWEEP_JOB = "orphan-sweep"
SWEEP_SECONDS = 10.0
RENEW_JOB = "claims-renew"
# Well within the lease and the orphan time (journal_shared.py), so a live replica's
# updates never look abandoned.
RENEW_SECONDS = 10.0


def start(jobs: JobQueue[Context]) -> None:
    jobs.run_repeating(leader_check, interval=CHECK_SECONDS, first=0, name=LEADER_JOB)
    jobs.run_repeating(renew, interval=RENEW_SECONDS, first=RENEW_SECONDS, name=RENEW_JOB)
    jobs.run_repeating(sweep, interval=SWEEP_SECONDS, first=SWEEP_SECONDS, name=SWEEP_JOB)


async def renew(context: Context) -> None:
    """Every replica: the updates it holds are still in hand (not orphans)."""
    queue = context.application.update_queue
    processor = context.application.update_processor
    if not isinstance(queue, JournalingQueue) or not isinstance(processor, UpdateProcessor):
        return
    await asyncio.to_thread(queue.journal.renew, processor.in_hand())


async def leader_check(context: Context) -> None:
    """Keep or take the lead; on taking it, push what arrived while following."""
    state = context.bot_data
    leadership = state.leadership
    became = await asyncio.to_thread(leadership.check)
    state.metrics.leading(leadership.is_leader)
    if not became:
        return
    waiting = state.backlog.take()
    if waiting:
        # Those the old leader pushed are claimed in the store: skipped there.
        log.info("taking over: %d reports that arrived meanwhile may need pushes", len(waiting))
        await state.on_new_reports(state, context.bot, state.engine, waiting)


async def sweep(context: Context) -> None:
    """As the leader: updates received by a replica that never finished them (it died, or
    its claim lapsed) are handed to this replica's queue."""
    state = context.bot_data
    queue = context.application.update_queue
    if not state.leadership.is_leader or not isinstance(queue, JournalingQueue):
        return
    orphans = await asyncio.to_thread(queue.journal.take_orphans)
    processor = context.application.update_processor
    if isinstance(processor, UpdateProcessor):  # those still waiting here are not orphans
        orphans = [o for o in orphans if not processor.holds(int(o["update_id"]))]
    if orphans:
        queue.replay(context.bot, orphans)
