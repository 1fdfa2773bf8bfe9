"""The run's options, typed: :func:`settings_of` is the one way the suite reads them.

``plugin/options.py`` registers every quantload option on Locust's parser (the
flags, env variables, help). Everything else reads the parsed values through
:class:`RunSettings`: each field typed, with the suite's default when the option
was not given (None or '' in the namespace). The Locust options the suite reads
(``-t``, ``-u``, ``--config`` ...) are here too, so no module pokes at
``parsed_options`` by attribute name.

Three values travel from the master to its workers as extra attributes of
``parsed_options`` (Locust sends the namespace with every spawn message):
``quantload_workers``, ``quantload_run_id`` and ``quantload_run_start``, set with
:func:`share_with_workers`; a shape's live arrival rate goes the same way
(:func:`set_arrival_rate_option`).

Nothing here imports Locust, so importing it is cheap and it is testable as is.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from rundir.layout import DEFAULT_APDEX_T_MS, DEFAULT_INTERVAL_S

DEFAULT_SEED = 0
"""Seed of the users' random choices when ``--seed`` is not given, so runs repeat."""

WORKERS_ATTR = "quantload_workers"
RUN_ID_ATTR = "quantload_run_id"
RUN_START_ATTR = "quantload_run_start"
_SHARED = {"workers": WORKERS_ATTR, "run_id": RUN_ID_ATTR, "run_start": RUN_START_ATTR}
"""Field -> the ``parsed_options`` attribute the master sets for its workers."""


@dataclass(frozen=True)
class RunSettings:
    """Every option the suite reads; a field holds its default when the option was not given."""

    # -- quantload's options (plugin/options.py) --
    api_key: str | None = None
    seed: int = DEFAULT_SEED
    arrival_rate: float | None = None
    """ArrivalRateUser's total rate, req/s (None: the class attribute)."""
    max_in_flight: int | None = None
    target_flags: str = ""
    shape: str | None = None
    scenario_users: str | None = None
    run_dir: str | None = None
    interval: float = DEFAULT_INTERVAL_S
    apdex_t_ms: float = DEFAULT_APDEX_T_MS
    target_metrics: Any = None
    """The parsed ``--target-metrics`` spec (None: auto)."""
    agent_token: str | None = None
    thresholds: str | None = None
    """``--thresholds FILE``."""
    threshold: tuple[str, ...] = ()
    """Every ``--threshold EXPR``."""
    history_db: str | None = None
    """``--history-db``: a SQLite path or SQLAlchemy URL, ``none`` (None: the default file)."""
    build_id: str | None = None
    """``--build-id`` (None: the git commit of the working directory)."""
    master_timeout: int | None = None
    """``--master-timeout``: a worker quits this long after its master's last heartbeat."""
    check_answers: float = 1.0
    """``--check-answers``: the share of deterministic answers checked against golden ones."""
    # -- set by the master for its workers --
    workers: int = 1
    """Workers sharing the load (an open-model rate is a total across them)."""
    run_id: str | None = None
    run_start: float | None = None
    # -- Locust's own options the suite reads --
    host: str | None = None
    run_time: float | None = None
    """``-t`` in seconds (None: no limit)."""
    num_users: int | None = None
    spawn_rate: float | None = None
    config: str | None = None
    locustfile: str | None = None
    user_classes: tuple[str, ...] = ()
    class_picker: bool = False
    worker: bool = False
    expect_workers: int | None = None
    json: bool = False
    """``--json``: the whole run's stats printed as JSON at the end."""
    json_file: str | None = None
    """``--json-file``: the same written to a file."""


_FIELDS = tuple(f.name for f in fields(RunSettings))
_DEFAULTS = RunSettings()


def settings_of(source: Any) -> RunSettings:
    """The settings of ``source``: a Locust environment, a parsed-options namespace, or None
    (every default). A value that is None or '' counts as not given."""
    options = getattr(source, "parsed_options", source)
    if options is None:
        return _DEFAULTS
    given: dict[str, Any] = {}
    for name in _FIELDS:
        value = getattr(options, _SHARED.get(name, name), None)
        if value is None or value == "":
            continue
        if name in ("threshold", "user_classes"):
            value = tuple(value)
        given[name] = value
    return RunSettings(**given)


def live_arrival_rate(source: Any) -> tuple[float | None, int]:
    """``(arrival_rate, workers)`` as :func:`settings_of` reads them, without building the
    whole :class:`RunSettings`: the arrival scheduler asks before every arrival."""
    options = getattr(source, "parsed_options", source)
    rate = getattr(options, "arrival_rate", None)
    workers = getattr(options, WORKERS_ATTR, None)
    return (
        None if rate is None or rate == "" else rate,
        _DEFAULTS.workers if workers is None or workers == "" else workers,
    )


def share_with_workers(
    options: Any,
    *,
    workers: int | None = None,
    run_id: str | None = None,
    run_start: float | None = None,
) -> None:
    """Set the values the master's ``parsed_options`` carry to its workers (None: unchanged)."""
    for name, value in (("workers", workers), ("run_id", run_id), ("run_start", run_start)):
        if value is not None:
            setattr(options, _SHARED[name], value)


def set_arrival_rate_option(options: Any, rate: float) -> None:
    """A shape's live arrival rate (total req/s), for this process and, on a master, the
    next spawn message."""
    options.arrival_rate = rate
