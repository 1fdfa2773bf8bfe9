"""A ``--target-metrics`` value, parsed: which source reads the target's resources.

``local:PID``, ``agent:URL``, ``prometheus:URL``, ``none`` or ``auto``; a bad value is a
``ValueError`` with one line that never echoes a password. The sources themselves are
:mod:`metrics.target_sources`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

__all__ = ["OPTION", "SPEC_FORMS", "SourceSpec", "parse_source"]

OPTION = "argument --target-metrics"
SPEC_FORMS = "local:PID, agent:URL, prometheus:URL, none or auto"


@dataclass(frozen=True)
class SourceSpec:
    """A parsed ``--target-metrics`` value: kind is local, agent, prometheus, none or auto."""

    kind: str
    pid: int | None = None
    url: str | None = None


def _url_error(url: str) -> str | None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "is not an http:// or https:// URL"
    if parts.username or parts.password:
        return "has credentials in it; use --agent-token for the agent"
    try:
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError:
        return "has a bad port"
    return None


def parse_source(spec: str) -> SourceSpec:
    """Parse a ``--target-metrics`` value; ValueError with a one-line message when bad."""
    kind, sep, rest = spec.strip().partition(":")
    kind = kind.lower()
    if not sep and kind in ("none", "auto"):
        return SourceSpec(kind)
    if sep and kind == "local":
        if re.fullmatch(r"[0-9]+", rest) and int(rest) > 0:
            return SourceSpec("local", pid=int(rest))
        raise ValueError(f"{OPTION}: {spec!r} needs a process id, e.g. local:1234")
    if sep and kind in ("agent", "prometheus"):
        if (problem := _url_error(rest)) is None:
            return SourceSpec(kind, url=rest)
        shown = f"{kind}:URL" if "@" in rest else repr(spec)  # never echo a password
        raise ValueError(f"{OPTION}: {shown}: the URL {problem}")
    raise ValueError(f"{OPTION}: {spec!r} is not one of {SPEC_FORMS}")
