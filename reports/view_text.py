"""Small text helpers the report's sections share: numbers, load levels, a verdict card."""

from __future__ import annotations

__all__ = ["card", "level_text", "number"]

LEVEL_WHOLE_TOL = 1e-9
"""A level this close to an integer is shown as one (``40``, not ``40.0``)."""


def number(value: float | None, decimals: int = 1) -> str:
    """``value`` with thousands separated and ``decimals`` decimals; ``-`` when missing."""
    return "-" if value is None else f"{value:,.{decimals}f}"


def level_text(value: float | None) -> str:
    """A load level for display: whole numbers as integers, others to one decimal (38.055 ->
    38.1), levels under 10 to three significant digits (0.625, 2.5); ``-`` when missing."""
    if value is None:
        return "-"
    if abs(value - round(value)) < LEVEL_WHOLE_TOL:
        return f"{round(value):,}"
    return f"{value:,.1f}" if value >= 10 else f"{value:.3g}"


def card(key: str, label: str, value: str, detail: str, state: str) -> dict[str, str]:
    """One verdict card: ``state`` is its colour (``ok``, ``warn``, ``bad``, ``info``)."""
    return {"key": key, "label": label, "value": value, "detail": detail, "state": state}
