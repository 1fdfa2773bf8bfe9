"""``--corrupt-above N --corrupt-rate E``: wrong answers under load, a known truth.

A plausible race, made on purpose so the suite's correctness checks can be
checked: when more than N backtests are in flight as an answer is built (the
one being answered included; ``POST /v1/backtests`` handlers between arrival
and answer), a seeded fraction E of those answers carry one wrong metric, as a
shared-state bug would leave it:

- another recent request's Sharpe ratio, when one differs from this answer's;
- otherwise one metric (seeded choice among the float metrics present) nudged by
  1-5 % of its value (by 0.01-0.05 when it is 0).

Either way the wrong value differs from the right one by far more than a float
tolerance (relative 1e-9), and looks plausible. Only the served body's
``metrics`` are wrong: the status (201), the trades, the equity curve and what
is stored stay right, so ``GET /v1/backtests/{id}`` rereads the right answer and
is never corrupted. Every corrupted answer served is counted in ``/metrics``
(``quantload_corrupted_answers_total``), and so is every answer that was built
above N in flight (``quantload_corruption_eligible_answers_total``), so the
observed rate can be checked against E.
"""

from __future__ import annotations

import json
import random
from collections import deque
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from target.engine import METRIC_KEYS

RECENT_SHARPES = 16
"""How many recent answers' Sharpe ratios a corrupted answer may borrow from."""
NUDGE_MIN = 0.01
NUDGE_MAX = 0.05
"""A nudged metric moves by this relative amount (absolute when it is 0)."""
DIFFERS_REL = 1e-6
"""A borrowed Sharpe ratio must differ from the right one by more than this (relative)."""
NUDGED_METRICS = tuple(k for k in METRIC_KEYS if k != "total_trades")
"""What a nudge may move: the float metrics (the trade count stays right)."""
METRICS_PREFIX = '{"metrics": '


def _differs(a: float, b: float) -> bool:
    return abs(a - b) > DIFFERS_REL * max(abs(a), abs(b), 1e-12)


class AnswerCorrupter:
    """Counts backtests in flight and decides, seeded, which answers to corrupt.

    With ``above`` None it never corrupts (and draws nothing). ``on_corrupt`` and
    ``on_eligible`` are called once per corrupted / eligible answer (the counters).
    """

    def __init__(
        self,
        above: int | None,
        rate: float,
        seed: int,
        *,
        on_corrupt: Any = None,
        on_eligible: Any = None,
    ) -> None:
        self.above = above
        self.rate = rate
        self.in_flight = 0
        self._rng = random.Random(f"corrupt-{seed}")
        self._recent: deque[float] = deque(maxlen=RECENT_SHARPES)
        self._on_corrupt = on_corrupt or (lambda: None)
        self._on_eligible = on_eligible or (lambda: None)

    @contextmanager
    def flight(self) -> Iterator[None]:
        """Hold while a backtest request is being handled: it is in flight meanwhile."""
        self.in_flight += 1
        try:
            yield
        finally:
            self.in_flight -= 1

    def served(self, metrics: Mapping[str, Any], fragment: str) -> str | None:
        """The answer fragment to serve in place of ``fragment``, or None to serve it as is.

        ``fragment`` is the JSON text ``{"metrics": <metrics>, ...}`` as the app built it
        (``json.dumps``, metrics first); the returned text differs only in its metrics.
        """
        sharpe = metrics.get("sharpe_ratio")
        if self.above is None or self.in_flight <= self.above:
            self._remember(sharpe)
            return None
        self._on_eligible()
        corrupt = self._rng.random() < self.rate
        wrong = self._wrong(metrics) if corrupt else None
        self._remember(sharpe)
        if wrong is None:
            return None
        right_head = METRICS_PREFIX + json.dumps(metrics)
        if not fragment.startswith(right_head):  # not the layout this was written for
            return None
        self._on_corrupt()
        return METRICS_PREFIX + json.dumps(wrong) + fragment[len(right_head) :]

    def _remember(self, sharpe: Any) -> None:
        if isinstance(sharpe, float):
            self._recent.append(sharpe)

    def _wrong(self, metrics: Mapping[str, Any]) -> dict[str, Any] | None:
        """``metrics`` with one value wrong; None when no metric can be made wrong."""
        wrong = dict(metrics)
        sharpe = metrics.get("sharpe_ratio")
        if isinstance(sharpe, float):
            others = [s for s in self._recent if _differs(s, sharpe)]
            if others:
                wrong["sharpe_ratio"] = others[-1]
                return wrong
        fields = [k for k in NUDGED_METRICS if isinstance(metrics.get(k), float)]
        if not fields:
            return None
        field = self._rng.choice(fields)
        value = metrics[field]
        step = self._rng.uniform(NUDGE_MIN, NUDGE_MAX) * self._rng.choice((-1.0, 1.0))
        wrong[field] = value * (1.0 + step) if value else step
        return wrong
