"""Golden answers: what a deterministic backtest answered before, and is this answer the same?

Backtests are deterministic: the same request body (symbol, strategy, parameters, range)
always gives the same metrics, trades and equity curve. :class:`GoldenStore` keeps, per
request body, the answer it trusts (the *golden* answer) and judges later answers against it.

An answer is read without parsing the whole document (a 45 KB body costs ~0.6 ms to
``json.loads``; checking must not make the generator the bottleneck): :func:`answer_of`
finds the ``metrics`` object, the ``trades`` array and the ``equity_curve`` object by
their keys and keeps

- ``metrics``: the small metrics object, parsed (compared field by field, within
  ``REL_TOL``/``ABS_TOL``: floating point may differ in its last bits);
- ``trades``: how many trades;
- the equity curve's digest: its number of points, first and last value (within the
  tolerance) and a CRC-32 of its text (exact);
- ``tail``: a CRC-32 of the body from ``"metrics"`` to its end, the fast path: an answer
  whose tail is byte-identical to the golden one's is right without reading further.

How a golden answer is learned (:meth:`GoldenStore.judge`, ``light`` said by the caller):

- from an answer received while the load was light (this process had at most
  ``users.answer_check.LIGHT_IN_FLIGHT`` request in flight for its whole life): trusted
  at once;
- under load, by agreement: the first answers of a key are candidates (unchecked; the very
  first is kept as its tail's CRC only, the cheap part); when one agrees with an earlier
  candidate, it becomes the golden answer (that answer counts as checked and right). A
  key never asked twice is never checked.

Past ``max_keys`` keys (golden or pending), new keys are not learned: their answers are
counted as unchecked (:data:`OVER_CAP`), so memory stays bounded (~0.6 KB a key).

Pure: bytes in, verdicts out; no Locust, no I/O.
"""

from __future__ import annotations

import json
import math
import zlib
from dataclasses import dataclass

__all__ = [
    "ABS_TOL",
    "DEFAULT_MAX_KEYS",
    "REL_TOL",
    "Answer",
    "GoldenStore",
    "Judgement",
    "answer_of",
    "difference",
]

REL_TOL = 1e-9
ABS_TOL = 1e-12
"""Two numbers agree when within ``math.isclose(a, b, rel_tol=REL_TOL, abs_tol=ABS_TOL)``."""
DEFAULT_MAX_KEYS = 20_000
"""Keys (golden or pending) one store holds at most: ~11 MB of answers (570 B each,
measured), plus the keys (~150 B each) where the users do not hold them anyway."""
MAX_CANDIDATES = 3
"""Disagreeing candidates kept per pending key (then new ones are not kept)."""

RIGHT = "right"
WRONG = "wrong"
LEARNED = "learned"
PENDING = "pending"
OVER_CAP = "over_cap"
UNREADABLE = "unreadable"
CHECKED = frozenset({RIGHT, WRONG})
"""Outcomes of a checked answer; the others are unchecked."""

_METRICS_KEY = b'"metrics"'
_NAMES: dict[tuple[str, ...], tuple[str, ...]] = {}
"""Every metrics' names tuple seen, so answers share one (memory: ~0.5 KB less a key)."""
_TRADES_KEY = b'"trades"'
_CURVE_KEY = b'"equity_curve"'
_EQUITY_KEY = b'"equity"'


@dataclass(frozen=True, slots=True)
class Answer:
    """What a backtest answer holds, as compared (see the module docstring)."""

    names: tuple[str, ...]
    """The metrics' names, in order (one tuple shared by every answer with the same names)."""
    values: tuple[object, ...]
    trades: int
    points: int
    first: float | None
    last: float | None
    curve_crc: int
    tail: int


@dataclass(frozen=True, slots=True)
class Judgement:
    """An answer's outcome (``right``, ``wrong``, ``learned``, ``pending``, ``over_cap``,
    ``unreadable``) and, when wrong, the first difference (``sharpe_ratio 1.2 != golden 1.3``)
    and the field that differed."""

    outcome: str
    detail: str | None = None
    field: str | None = None

    @property
    def checked(self) -> bool:
        return self.outcome in CHECKED


def _value_start(content: bytes, key: bytes, opener: int, start: int = 0, end: int = -1) -> int:
    """Index of the ``{``/``[`` opening ``key``'s value within ``content[start:end]``, or -1."""
    n = len(content) if end < 0 else end
    at = content.find(key, start, n)
    if at < 0:
        return -1
    i = at + len(key)
    while i < n and content[i] in b" \t\r\n:":
        i += 1
    return i if i < n and content[i] == opener else -1


def _number(token: bytes) -> float | None:
    text = token.strip()
    if not text or text == b"null":
        return None
    return float(text)


def answer_of(content: bytes) -> Answer | None:
    """The comparable parts of a backtest document's text, or None when it does not hold
    them (no ``metrics`` object, ``trades`` array or ``equity_curve.equity`` array).

    Metrics are a flat object and trades flat objects (the API's shape): a nested value
    makes the answer unreadable rather than misread.
    """
    m = _value_start(content, _METRICS_KEY, ord("{"))
    t = _value_start(content, _TRADES_KEY, ord("["))
    c = _value_start(content, _CURVE_KEY, ord("{"))
    if m < 0 or t < 0 or c < 0:
        return None
    m_end = content.find(b"}", m)
    t_end = content.find(b"]", t)
    c_end = content.find(b"}", c)
    if m_end < 0 or t_end < 0 or c_end < 0 or content.find(b"{", m + 1, m_end) >= 0:
        return None
    try:
        metrics = json.loads(content[m : m_end + 1])
        e = _value_start(content, _EQUITY_KEY, ord("["), c, c_end)
        e_end = content.find(b"]", e, c_end)
        if e < 0 or e_end < 0:
            return None
        commas = content.count(b",", e, e_end)
        first_end = content.find(b",", e, e_end) if commas else e_end
        first = _number(content[e + 1 : first_end])
        last = _number(content[content.rfind(b",", e, e_end) + 1 if commas else e + 1 : e_end])
        points = commas + 1 if first is not None or commas else 0
    except ValueError:
        return None
    return Answer(
        names=_NAMES.setdefault(tuple(metrics), tuple(metrics)),
        values=tuple(metrics.values()),
        trades=content.count(b"{", t, t_end),
        points=points,
        first=first,
        last=last,
        curve_crc=zlib.crc32(memoryview(content)[c : c_end + 1]),
        tail=zlib.crc32(memoryview(content)[content.find(_METRICS_KEY) :]),
    )


def tail_crc(content: bytes) -> int | None:
    """The fast path's fingerprint: CRC-32 of ``content`` from ``"metrics"`` on (None: absent)."""
    at = content.find(_METRICS_KEY)
    return None if at < 0 else zlib.crc32(memoryview(content)[at:])


def _close(a: object, b: object) -> bool:
    if isinstance(a, bool) or isinstance(b, bool) or a is None or b is None:
        return a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return math.isclose(a, b, rel_tol=REL_TOL, abs_tol=ABS_TOL)
    return a == b


def _digits(value: float, digits: int) -> str:
    """``value`` to ``digits`` significant digits, or as ``repr`` when that is as short."""
    text = repr(value)
    return text if len(text) <= digits + 2 else f"{value:.{digits}g}"


def _shown(a: object, b: object) -> tuple[str, str]:
    """``a`` and ``b`` as text, floats with the fewest digits (4 to 17) that tell them apart."""
    if isinstance(a, float) and isinstance(b, float):
        for digits in (4, 6, 10, 17):
            shown = _digits(a, digits), _digits(b, digits)
            if shown[0] != shown[1]:
                return shown
    return json.dumps(a), json.dumps(b)


def difference(golden: Answer, seen: Answer) -> tuple[str, str] | None:
    """The first part of ``seen`` that differs from ``golden`` as ``(field, detail)``, e.g.
    ``("sharpe_ratio", "sharpe_ratio 1.234 != golden 1.301")``; None when they agree."""
    gold = dict(zip(golden.names, golden.values, strict=True))
    got = dict(zip(seen.names, seen.values, strict=True))
    for name in dict.fromkeys([*gold, *got]):
        if name not in got or name not in gold:
            return name, f"{name} {'missing' if name not in got else 'unexpected'}"
        if not _close(got[name], gold[name]):
            shown = _shown(got[name], gold[name])
            return name, f"{name} {shown[0]} != golden {shown[1]}"
    if seen.trades != golden.trades:
        return "trades", f"trades {seen.trades} != golden {golden.trades}"
    for part in ("points", "first", "last"):
        a, b = getattr(seen, part), getattr(golden, part)
        if not _close(a, b):
            shown = _shown(a, b)
            return "equity_curve", f"equity_curve {part} {shown[0]} != golden {shown[1]}"
    if seen.curve_crc != golden.curve_crc:
        return "equity_curve", "equity_curve digest differs from the golden one"
    return None


class GoldenStore:
    """Golden answers by key (the request's body), bounded by ``max_keys``; see the module
    docstring. Not thread-safe (one per process; gevent runs one greenlet at a time)."""

    def __init__(self, max_keys: int = DEFAULT_MAX_KEYS) -> None:
        self.max_keys = max_keys
        self.golden: dict[bytes, Answer] = {}
        self.pending: dict[bytes, list[int | Answer]] = {}
        """Keys without a golden answer yet: the first answer's tail CRC, then answers."""

    def __len__(self) -> int:
        return len(self.golden) + len(self.pending)

    def judge(self, key: bytes, content: bytes, light: bool) -> Judgement:
        """Judge the answer ``content`` to the request ``key``; ``light``: it was received
        while the load was light (then it may become the golden answer at once)."""
        golden = self.golden.get(key)
        if golden is not None:
            if tail_crc(content) == golden.tail:
                return Judgement(RIGHT)
            seen = answer_of(content)
            if seen is None:
                return Judgement(WRONG, "answer has no metrics, trades or equity curve", "body")
            diff = difference(golden, seen)
            return Judgement(RIGHT) if diff is None else Judgement(WRONG, diff[1], diff[0])
        candidates = self.pending.get(key)
        if candidates is None and len(self) >= self.max_keys:
            return Judgement(OVER_CAP)
        if candidates is None and not light:  # the first answer under load: its fingerprint
            tail = tail_crc(content)
            if tail is None:
                return Judgement(UNREADABLE)
            self.pending[key] = [tail]
            return Judgement(PENDING)
        seen = answer_of(content)
        if seen is None:
            return Judgement(UNREADABLE)
        if light:
            self.golden[key] = seen
            self.pending.pop(key, None)
            return Judgement(LEARNED)
        assert candidates is not None
        for candidate in candidates:
            if _agree(candidate, seen):
                self.golden[key] = seen
                del self.pending[key]
                return Judgement(RIGHT)
        if len(candidates) < MAX_CANDIDATES:
            candidates.append(seen)
        return Judgement(PENDING)


def _agree(candidate: int | Answer, seen: Answer) -> bool:
    """Does ``seen`` agree with a pending candidate (a first answer's tail CRC, or an answer)?"""
    if isinstance(candidate, int):
        return candidate == seen.tail
    return candidate.tail == seen.tail or difference(candidate, seen) is None
