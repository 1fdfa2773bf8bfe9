"""All of the suite's Locust wiring: every event listener and web-UI route (``hooks``),
every option (``options``), the collectors (``collector``), the embedded reference
target (``embedded_target``), the progress line, the target and threshold watches,
and the end of a run (``run_end``).

``locustfile.py`` calls :func:`register` once. Importing this package imports
nothing else (no Locust, whose import monkey-patches), so a test can import
``plugin.embedded_target`` or ``plugin.options`` on its own.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["register"]


def register(default_users: Iterable[str]) -> None:
    """Wire every Locust listener the suite adds (:func:`plugin.hooks.register`); call once,
    from the locustfile, at import. ``default_users``: the classes run when none is named."""
    # Imported here, not at the top, only so that importing the package stays free of Locust.
    from plugin import hooks

    hooks.register(default_users)
