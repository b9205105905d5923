"""Fault injection plans: which bot call fails next, and how.

Faults apply to Bot API calls only (never to the control endpoints). A queued fault fires on
the next ``count`` calls of its method; a random rule fires with a probability, drawn from its
own seeded generator so a run can be replayed. Not thread-safe on its own: the server holds
its state lock while asking for the next fault.
"""

from __future__ import annotations

import random
from collections import deque
from dataclasses import asdict, dataclass
from typing import Any, Literal, cast, get_args

FaultKind = Literal["flood", "server_error", "bad_gateway", "timeout"]
FAULT_KINDS: tuple[str, ...] = get_args(FaultKind)
ANY_METHOD = "*"


class FaultConfigError(ValueError):
    """A fault injection request that does not make sense."""


@dataclass(frozen=True)
class Fault:
    """How one call fails.

    flood: 429 "Too Many Requests: retry after N" with parameters.retry_after = N.
    server_error: 500 "Internal Server Error".
    bad_gateway: 502 with nginx's HTML page, as Telegram's front end answers.
    timeout: hold the connection ``seconds`` and close it without an answer; with
    ``process`` the call takes effect first (the reply was lost, not the request).
    """

    kind: FaultKind
    retry_after: int = 1
    seconds: float = 1.0
    process: bool = False

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def make_fault(
    kind: str, *, retry_after: int = 1, seconds: float = 1.0, process: bool = False
) -> Fault:
    if kind not in FAULT_KINDS:
        raise FaultConfigError(f"unknown fault kind {kind!r}; use one of {', '.join(FAULT_KINDS)}")
    if retry_after < 1:
        raise FaultConfigError("retry_after must be at least 1 second, as Telegram sends it")
    if seconds < 0:
        raise FaultConfigError("seconds must not be negative")
    return Fault(cast(FaultKind, kind), retry_after, seconds, process)


@dataclass
class _Queued:
    fault: Fault
    remaining: int


@dataclass
class _RandomRule:
    probability: float
    kinds: tuple[FaultKind, ...]
    rng: random.Random
    template: Fault


@dataclass(frozen=True)
class FiredFault:
    method: str
    fault: Fault

    def to_json(self) -> dict[str, Any]:
        return {"method": self.method, **self.fault.to_json()}


class FaultPlan:
    """Queued and random faults keyed by lower-cased method name (or ``*``)."""

    def __init__(self) -> None:
        self._queued: dict[str, deque[_Queued]] = {}
        self._random: dict[str, _RandomRule] = {}
        self.fired: list[FiredFault] = []

    def inject(self, method: str, fault: Fault, count: int = 1) -> None:
        if count < 1:
            raise FaultConfigError("count must be at least 1")
        self._queued.setdefault(method.lower(), deque()).append(_Queued(fault, count))

    def inject_random(
        self, method: str, probability: float, kinds: list[str], seed: int, template: Fault
    ) -> None:
        if not 0.0 <= probability <= 1.0:
            raise FaultConfigError("probability must be between 0 and 1")
        if not kinds:
            raise FaultConfigError("kinds must name at least one fault kind")
        checked = tuple(make_fault(kind).kind for kind in kinds)
        rule = _RandomRule(probability, checked, random.Random(seed), template)
        self._random[method.lower()] = rule

    def clear(self) -> None:
        self._queued.clear()
        self._random.clear()

    def reset(self) -> None:
        self.clear()
        self.fired.clear()

    def next_fault(self, method: str) -> Fault | None:
        """The fault for this call of ``method`` (canonical name), if any; records it."""
        key = method.lower()
        fault = self._take_queued(key) or self._take_queued(ANY_METHOD)
        if fault is None:
            fault = self._draw(key) or self._draw(ANY_METHOD)
        if fault is not None:
            self.fired.append(FiredFault(method, fault))
        return fault

    def _take_queued(self, key: str) -> Fault | None:
        queue = self._queued.get(key)
        if not queue:
            return None
        head = queue[0]
        head.remaining -= 1
        if head.remaining <= 0:
            queue.popleft()
        return head.fault

    def _draw(self, key: str) -> Fault | None:
        rule = self._random.get(key)
        if rule is None or rule.rng.random() >= rule.probability:
            return None
        kind = rule.rng.choice(rule.kinds)
        template = rule.template
        return Fault(kind, template.retry_after, template.seconds, template.process)

    def pending(self) -> dict[str, int]:
        """Queued faults not yet fired, per method."""
        return {k: sum(q.remaining for q in v) for k, v in self._queued.items() if v}
