"""How shapes read the scenarios' options (registered in ``plugin/options.py``).

Every shape parameter is a documented class attribute of its shape; the
option of the same meaning, when given (command line, ``--config`` profile,
or ``QUANTLOAD_*`` environment variable), overrides it for the run. Options
default to None so "not given" is visible: :func:`option_value` falls back to
the class attribute.

The suite's other options are read through :func:`users.settings.settings_of`.
This module imports neither Locust nor the shapes, so it is testable as is.
"""

from __future__ import annotations

import re
from typing import Any

from users.settings import settings_of

__all__ = ["option_value", "scenario_user_names"]


def scenario_user_names(options: Any) -> list[str]:
    """The class names in ``--scenario-users`` (empty when not given)."""
    text = settings_of(options).scenario_users or ""
    return [name for name in re.split(r"[,\s]+", text.strip()) if name]


def option_value(options: Any, name: str, default: Any) -> Any:
    """``options.<name>`` when given (not None, not ''), else ``default``."""
    value = getattr(options, name, None)
    return default if value is None or value == "" else value
