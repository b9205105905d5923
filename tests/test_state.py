"""The one typed state: filled once by the wiring, and loud when a piece is missing."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.app import build_application
from bot.config import Settings
from bot.reliability.leader import Leadership
from bot.reliability.liveness import Liveness
from bot.reliability.metrics import Metrics
from bot.state import BotState, NotWired
from bot.telegram.pushes import push_new_reports
from retrieval.search import SearchEngine


def test_a_piece_read_before_the_wiring_is_an_error_not_a_default() -> None:
    state = BotState()
    with pytest.raises(NotWired, match=r"BotState\.limits is not wired"):
        _ = state.limits


def test_the_state_is_wired_once(seeds_engine: SearchEngine, tmp_path: Path) -> None:
    state = BotState()
    settings = Settings(data_dir=tmp_path)
    pieces = {
        "settings": settings,
        "engine": seeds_engine,
        "store": None,
        "live": None,
        "on_new_reports": push_new_reports,
        "liveness": Liveness(),
        "metrics": Metrics(),
        "leadership": Leadership(None),
    }
    state.wire(**pieces)  # type: ignore[arg-type]
    with pytest.raises(NotWired, match="twice"):
        state.wire(**pieces)  # type: ignore[arg-type]


def test_the_wiring_fills_every_piece_from_the_settings(
    seeds_engine: SearchEngine, tmp_path: Path
) -> None:
    settings = Settings(
        token="1:test",
        data_dir=tmp_path,
        rate_limit_per_minute=7,
        allowed_user_ids=frozenset({42}),
    )
    state = build_application(settings, seeds_engine).bot_data
    assert isinstance(state, BotState)
    assert state.settings is settings and state.engine is seeds_engine
    assert state.limits.per_minute == 7 and state.limits.questions.limit == 7
    assert state.access.allows(42, None) and not state.access.allows(43, None)
    assert state.store is None and state.live is None
    assert state.on_new_reports is push_new_reports
    assert state.liveness.journal is not None  # the heartbeat reports the journal's faults
    assert (
        state.metrics.registry
        is not build_application(settings, seeds_engine).bot_data.metrics.registry
    )
