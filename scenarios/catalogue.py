"""The load shapes by name, so a profile can say ``shape = breakpoint``.

Locust picks the first shape class found in the locustfiles it loads, and a
``-f`` on the command line replaces a profile's ``locustfile`` list (and the
shape module in it). Choosing the shape by option instead makes
``locust -f locustfile.py --config config/NAME.conf`` keep the profile's shape.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # Locust is imported when a shape is made, not with this module
    from locust import LoadTestShape

SHAPES = ("breakpoint", "job_capacity", "ramp", "soak", "spike", "step")
"""Shape names; each is the module ``scenarios.<name>`` with one concrete shape class."""


def shape_instance(name: str) -> LoadTestShape:
    """A fresh instance of the concrete LoadTestShape in ``scenarios.<name>``; ValueError for
    a name not in ``SHAPES`` (or a module without a concrete shape)."""
    from locust import LoadTestShape

    if name not in SHAPES:
        raise ValueError(f"unknown shape {name!r} (known: {', '.join(SHAPES)})")
    module = importlib.import_module(f"scenarios.{name}")
    for value in vars(module).values():
        if (
            isinstance(value, type)
            and issubclass(value, LoadTestShape)
            and value.__module__ == module.__name__
            and not value.__dict__.get("abstract")
        ):
            return value()
    raise ValueError(f"scenarios.{name} defines no concrete shape")
