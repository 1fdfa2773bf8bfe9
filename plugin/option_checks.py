"""Checks of the parsed options that need the whole command line, made right after parsing.

:func:`check_after_parse` wraps Locust's ``parser.parse_args`` so that a bad ``--host``, a
negative ``-u``, an unusable ``--run-dir`` or unknown class names are one line and exit 2
before anything starts (and ``--run-dir`` is made absolute). Also :func:`host_error` (the
web UI's ``/swarm`` form is checked with it too) and :func:`web_port_error` (checked at
``init``, once: Locust parses the command line again on every page of its web UI, where
its own server holds the port). Nothing here imports Locust.
"""

from __future__ import annotations

import argparse
import socket
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from plugin.options import apply_scenario_users
from rundir.layout import DEFAULT_RESULTS_DIR, run_dir_error
from users.settings import settings_of


def host_error(host: str | None) -> str | None:
    """Why ``host`` is not a usable base URL, or None when it is (or is not given)."""
    if not host:
        return None
    parts = urlsplit(host)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return f"argument -H/--host: {host!r} is not an http:// or https:// URL"
    try:
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError:
        return f"argument -H/--host: {host!r} has a bad port"
    return None


def load_error(options: Any) -> str | None:
    """Why ``-u`` cannot run (Locust fails on a negative count in a greenlet, with a
    traceback, after the run started; it checks ``-r`` itself)."""
    if options.num_users is not None and options.num_users < 0:
        return f"argument -u/--users: must be 0 or more, got {options.num_users}"
    return None


def web_port_error(host: str, port: int) -> str | None:
    """Why the web UI cannot listen on ``host:port`` (in use, or not an address here), or
    None. Probed with SO_REUSEADDR, as Locust's server binds."""
    address = "" if host in ("", "*") else host
    with socket.socket(socket.AF_INET6 if ":" in address else socket.AF_INET) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((address, port))
        except OSError as exc:
            return f"the web UI cannot listen on {host or '*'}:{port}: {exc.strerror or exc}"
    return None


def unknown_classes(asked: Iterable[str], available: Iterable[str]) -> list[str]:
    return sorted(set(asked) - set(available))


def check_after_parse(
    parser,
    available_classes: Callable[[], Iterable[str]],
    after: Callable[[argparse.Namespace], None] | None = None,
) -> None:
    """Make ``parser.parse_args`` reject a bad --host, an unusable --run-dir or unknown class
    names with exit 2 (and make ``--run-dir`` absolute).

    A profile's ``--scenario-users`` are applied first; ``after`` then sees the checked
    options (to fill in defaults).
    """
    original = parser.parse_args

    def parse_args(*args, **kwargs):
        options = original(*args, **kwargs)
        apply_scenario_users(options)
        settings = settings_of(options)
        if message := host_error(settings.host) or load_error(options):
            parser.error(message)
        if not settings.worker:  # the run directory is usable: known before any load
            if message := run_dir_error(settings.run_dir or DEFAULT_RESULTS_DIR):
                parser.error(f"argument --run-dir: {message}")
            if settings.run_dir:  # resolved once: the web UI serves files by absolute path
                options.run_dir = str(Path(settings.run_dir).absolute())
        names = settings.user_classes
        if missing := unknown_classes(names, available_classes()):
            known = ", ".join(sorted(available_classes()))
            parser.error(f"unknown user class {', '.join(missing)} (available: {known})")
        if after is not None:
            after(options)
        return options

    parser.parse_args = parse_args
