"""Can two runs be compared at all? Their identities, read from ``meta.json``,
``summary.json`` and ``events.jsonl``, side by side (pure).

Two runs compare only when they ran the same load: the same profile, user classes,
users and shape, the same target flags and host (two runs each with its own embedded
reference target count as the same host: the port is chosen per run), and neither had
its load generator over its CPU limit (its numbers then measure the generator).
:func:`comparability_problems` names every difference; ``python -m reports compare``
refuses such runs (exit 2) unless ``--force``.

:func:`rate_driven` says whether throughput is a property of the service: only when
the profile drives the request rate (the open model, ``ArrivalRateUser``, or no think
time, ``StressUser``); think-time traffic's throughput follows the users.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["RATE_DRIVEN_CLASSES", "comparability_problems", "rate_driven"]

RATE_DRIVEN_CLASSES = frozenset({"ArrivalRateUser", "StressUser"})
"""User classes whose request rate is set by the profile, not by think time."""
OVERLOAD_EVENT = "generator_overloaded"


def _classes(meta: Mapping[str, Any]) -> tuple[str, ...]:
    classes = meta.get("user_classes")
    return tuple(sorted(map(str, classes))) if isinstance(classes, list) else ()


def rate_driven(meta: Mapping[str, Any]) -> bool:
    """True when every user class of the run is one whose rate the profile drives."""
    classes = _classes(meta)
    return bool(classes) and set(classes) <= RATE_DRIVEN_CLASSES


def _users(meta: Mapping[str, Any], summary: Mapping[str, Any]) -> Any:
    return meta.get("users") if meta.get("users") is not None else summary.get("users_max")


def _host(meta: Mapping[str, Any]) -> Any:
    return "the embedded reference target" if meta.get("embedded_target") else meta.get("host")


def _overloaded(events: Iterable[Mapping[str, Any]]) -> bool:
    return any(e.get("kind") == OVERLOAD_EVENT for e in events)


def comparability_problems(
    baseline: tuple[Mapping[str, Any], Mapping[str, Any], Iterable[Mapping[str, Any]]],
    current: tuple[Mapping[str, Any], Mapping[str, Any], Iterable[Mapping[str, Any]]],
) -> list[str]:
    """Why the runs ``(meta, summary, events)`` cannot be compared; empty when they can.
    A field missing from both runs is no difference."""
    (b_meta, b_sum, b_events), (c_meta, c_sum, c_events) = baseline, current
    pairs = {
        "profile": (b_meta.get("profile"), c_meta.get("profile")),
        "user classes": (_classes(b_meta), _classes(c_meta)),
        "users": (_users(b_meta, b_sum), _users(c_meta, c_sum)),
        "shape": (b_meta.get("shape_class"), c_meta.get("shape_class")),
        "target flags": (b_meta.get("target_flags") or "", c_meta.get("target_flags") or ""),
        "host": (_host(b_meta), _host(c_meta)),
    }
    problems = [
        f"different {what} ({_show(b)} vs {_show(c)})" for what, (b, c) in pairs.items() if b != c
    ]
    for which, events in (("baseline", b_events), ("current", c_events)):
        if _overloaded(events):
            problems.append(
                f"the {which} run's load generator was over its CPU limit "
                "(its numbers measure the generator)"
            )
    return problems


def _show(value: Any) -> str:
    if isinstance(value, tuple):
        return ", ".join(value) or "none"
    return "none" if value in (None, "") else str(value)
