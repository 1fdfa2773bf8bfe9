"""``python -m plugin.option_list`` lists every option ``plugin.options`` registers."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

from plugin.options import add_options
from tests.locust_runs import REPO


class Registered:
    """Records what ``add_options`` registers (plugin.options imports no Locust)."""

    def __init__(self) -> None:
        self.options: list[tuple[tuple[str, ...], dict[str, Any]]] = []

    def add_argument(self, *flags: str, **kwargs: Any) -> None:
        self.options.append((flags, kwargs))


def listed(*args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "plugin.option_list", *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def test_every_registered_option_is_listed_with_its_env_var_default_and_help():
    registered = Registered()
    add_options(registered)
    assert len(registered.options) > 30
    out = listed()
    lines = out.splitlines()
    assert f"{len(registered.options)} in all" in lines[0]
    for flags, kwargs in registered.options:
        head = next((line for line in lines if line.split("  ")[0] == ", ".join(flags)), None)
        assert head is not None, f"{flags} not listed"
        if kwargs.get("env_var"):
            assert f"env {kwargs['env_var']}" in head, head
        if kwargs.get("default") not in (None, ""):
            assert f"default {kwargs['default']}" in head, head
        help_line = lines[lines.index(head) + 1]
        assert help_line.strip() == " ".join(kwargs["help"].split()), help_line


def test_markdown_table_has_a_row_per_option():
    registered = Registered()
    add_options(registered)
    rows = [line for line in listed("--markdown").splitlines() if line.startswith("| `--")]
    assert len(rows) == len(registered.options)
