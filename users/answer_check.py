"""Right answers under load: the process's checker of deterministic answers (``--check-answers``).

:class:`AnswerChecks` sits in :class:`users.api.BacktestApi.send`: it counts this process's
requests in flight (to know when the load is light), picks the sampled share of the
answers that have a golden key (``Prepared.answer_key``: backtests), judges each with a
:class:`users.golden.GoldenStore` and says whether the request failed as a ``wrong result``.

- **Light load** (where golden answers are trusted at once): the answer's request had at
  most ``LIGHT_IN_FLIGHT`` request of this process in flight during its whole life, from
  send to answer. With ``--corrupt-above N`` (N >= 1) on the reference target and this
  process its only client, such an answer is never corrupted. Under load, answers teach
  by agreement (see :mod:`users.golden`).
- **Sampling**: a share ``FRACTION`` of the keyed answers is checked, evenly (every
  answer at 1, every other at 0.5: a running credit, no random draw); 0 turns checking
  off (in-flight counting stays, a few ns).
- **What is recorded**: every checked answer is one measurement ``ANSWER "<METHOD> <name>"``
  (``users.measurements``, kind ``ANSWER``, value 0): its count is the answers checked,
  its failures the wrong ones; so per-interval counts ride in the slots the collectors
  already keep (a worker's to its master) and the report groups them by load level.
  A wrong answer is also a failure of its request in Locust's stats.
- **Messages**: the first ``MAX_EXAMPLES`` wrong answers of a process carry the values
  (``wrong result: sharpe_ratio 1.234 != golden 1.301``), later ones only the field
  (``wrong result: sharpe_ratio``), so failures group by field in Locust's table.

Imports no Locust or gevent (``record`` is handed in by ``users.common.ApiUser``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from users.golden import DEFAULT_MAX_KEYS, WRONG, GoldenStore

__all__ = ["ANSWER_KIND", "AnswerChecks", "WRONG_RESULT", "current_checks", "process_checks"]

LIGHT_IN_FLIGHT = 1
"""At most this many requests of this process in flight, the answer's included: light load."""
MAX_EXAMPLES = 5
"""Wrong answers per process whose failure text carries the differing values."""
WRONG_RESULT = "wrong result"
"""The failure kind of a wrong answer (its text starts with it)."""
ANSWER_KIND = "ANSWER"
"""The measurement kind of a checked answer (``rundir.layout.ANSWER_TYPE``)."""

Record = Callable[..., None]
"""``users.measurements.record``: ``(kind, name, value, exception)``."""


class WrongAnswer(Exception):
    """A checked answer differed from its golden answer (the measurement's exception)."""


def _no_record(*_args: Any, **_kwargs: Any) -> None:
    return None


class AnswerChecks:
    """One per process (:func:`process_checks`); see the module docstring."""

    def __init__(
        self, share: float = 1.0, record: Record = _no_record, max_keys: int = DEFAULT_MAX_KEYS
    ) -> None:
        self.share = share
        self.record = record
        self.store = GoldenStore(max_keys)
        self.in_flight = 0
        self.heavy = 0
        """Times a send found more than ``LIGHT_IN_FLIGHT`` in flight (an epoch counter)."""
        self.examples = 0
        self._credit = 0.0

    def sent(self) -> int:
        """A request is about to go out: its token (-1 when the load is already not light)."""
        self.in_flight += 1
        if self.in_flight > LIGHT_IN_FLIGHT:
            self.heavy += 1
            return -1
        return self.heavy

    def answered(self) -> None:
        """The request of the last :meth:`sent` is over (answered or failed)."""
        self.in_flight -= 1

    def light(self, token: int) -> bool:
        """Was the load light for the whole life of the request that got ``token``?"""
        return token >= 0 and token == self.heavy

    def sampled(self) -> bool:
        """Is the next keyed answer one to check? (``share`` of them, evenly spread)"""
        if self.share >= 1.0:
            return True
        self._credit += self.share
        if self._credit >= 1.0:
            self._credit -= 1.0
            return True
        return False

    def verdict(self, key: bytes, content: bytes | None, token: int, name: str) -> str | None:
        """Judge the answer ``content`` to the request ``key`` (its stats row ``name``,
        ``"METHOD path"``); the failure text when it is wrong, else None. Unchecked
        answers (learning, pending, over the cap, not sampled) record nothing."""
        if not content or not self.sampled():
            return None
        judgement = self.store.judge(key, content, self.light(token))
        if not judgement.checked:
            return None
        if judgement.outcome != WRONG:
            self.record(ANSWER_KIND, name, 0, None)
            return None
        self.examples += 1
        detail = judgement.detail if self.examples <= MAX_EXAMPLES else judgement.field
        message = f"{WRONG_RESULT}: {detail}"
        self.record(ANSWER_KIND, name, 0, WrongAnswer(message))
        return message


_PROCESS: AnswerChecks | None = None


def current_checks() -> AnswerChecks | None:
    """This process's checker, once a user made it (:func:`process_checks`), else None."""
    return _PROCESS


def process_checks(share: float, record: Record) -> AnswerChecks:
    """This process's checker (made on first use), checking ``share`` of the keyed answers
    from now on and recording with ``record``: every user of the process shares its
    golden answers and in-flight count."""
    global _PROCESS
    if _PROCESS is None:
        _PROCESS = AnswerChecks(share, record)
    _PROCESS.share = share
    _PROCESS.record = record
    return _PROCESS
