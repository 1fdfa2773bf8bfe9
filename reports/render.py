"""``report.html``: one self-contained page from a run directory (and its analysis).

The page is Jinja2 with autoescape on, the stylesheet and plotly.js inlined
once, and every chart's figure in one JSON blob made safe to sit inside a
``<script>`` (``<``, ``>`` and ``&`` escaped as JSON unicode escapes), so a
payload in an endpoint name or error message can never run. It opens offline.

What each number means is decided in :mod:`reports.run_analysis` and
:mod:`reports.analysis`; this module only formats and lays out.
"""

from __future__ import annotations

import json
import math
from functools import cache
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import jinja2
import numpy as np
import plotly.offline

from reports import figures
from reports.analysis.saturation import GENERATOR_CPU_LIMIT
from reports.capacity_charts import capacity_charts, mark_capacity
from reports.capacity_view import capacity_section
from reports.chart_data import outage_windows
from reports.chart_marks import shade_outages
from reports.correctness import correctness_view
from reports.job_capacity_view import job_capacity_view
from reports.report_sections import ceiling_text, extra_lines, leak_view, verdict_cards
from reports.run_analysis import RunAnalysis, analyse_run
from rundir.files import write_atomic
from rundir.layout import DROPPED_TYPE, PSEUDO_REQUEST_UNITS, is_request, split_key
from rundir.reader import RunData, load_run

REPORT_FILE = "report.html"
TEMPLATES = Path(__file__).with_name("templates")
LATENCY_KEYS = ("p50_ms", "p75_ms", "p90_ms", "p95_ms", "p99_ms", "p999_ms", "max_ms", "avg_ms")
OTHER_KEYS = ("p50_ms", "p95_ms", "p99_ms", "max_ms", "avg_ms")
ERROR_PCT_BAD = 1.0
MAX_EVENTS = 200
EVENT_FIELDS_SHOWN = (
    "worker",
    "generator",
    "cpu_percent",
    "reason",
    "threshold",
    "observed",
    "state",
    "error",
    "complete",
    "rows",
    "start",
    "end",
)


@cache
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


@cache
def plotly_js() -> str:
    return plotly.offline.get_plotlyjs()


def script_json(obj: Any) -> str:
    """JSON that is safe inside ``<script>``: no ``</script>``, no ``<!--``, no entity."""
    text = json.dumps(obj, separators=(",", ":"), allow_nan=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def num(value: Any, decimals: int = 1) -> str:
    """A number for a table cell: ``-`` when missing, thousands separated."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "-"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return f"{value:,.{decimals}f}"


def _ms(value: Any) -> str:
    if value is None:
        return "-"
    return num(value, 1 if value >= 10 else 2 if value >= 1 else 3)


def _table_row(row: dict[str, Any], label: str, aggregate: bool = False) -> dict[str, Any]:
    count, failures = int(row.get("count") or 0), int(row.get("failures") or 0)
    error_pct = 100.0 * failures / count if count else 0.0
    return {
        "label": label,
        "aggregate": aggregate,
        "count": num(count),
        "failures": num(failures),
        "error_pct": num(error_pct, 2),
        "error_bad": error_pct > ERROR_PCT_BAD,
        "rps": num(row.get("rps"), 2),
        "latencies": [_ms(row.get(k)) for k in LATENCY_KEYS],
        "apdex": num(row.get("apdex"), 3),
        "avg_size": num(row.get("avg_size_bytes"), 1),
        "from_rows": bool(row.get("from_rows")),
    }


def _other_row(row: dict[str, Any], key: str) -> dict[str, Any]:
    """A measurement that is not a request, in its own unit (``PSEUDO_REQUEST_UNITS``): ms
    as the request table shows them, counts and rates to one decimal; dropped arrivals are
    a count only (their recorded values are all 0)."""
    unit = PSEUDO_REQUEST_UNITS.get(split_key(key)[0], "ms")
    if unit == "ms":
        values = [_ms(row.get(k)) for k in OTHER_KEYS]
    elif key.startswith(DROPPED_TYPE):
        values = ["-"] * len(OTHER_KEYS)
    else:
        values = [num(row.get(k), 1) for k in OTHER_KEYS]
    return {
        "label": key,
        "unit": "count" if key.startswith(DROPPED_TYPE) else unit,
        "count": num(int(row.get("count") or 0)),
        "failures": num(int(row.get("failures") or 0)),
        "latencies": values,
    }


def _tables(analysis: RunAnalysis) -> tuple[list[dict], list[dict]]:
    requests, others = [], []
    for row in analysis.endpoints:
        key = f"{row['method']} {row['name']}"
        if is_request(key):
            requests.append(_table_row(row, key))
        else:
            others.append(_other_row(row, key))
    requests.append(_table_row(analysis.aggregate, "All requests to the target", True))
    return requests, others


def _task_ratio(meta: dict[str, Any]) -> list[dict[str, str]]:
    """meta.json's ``task_ratio`` (Locust's get_ratio) as rows: a class (its share of the
    users), then its tasks (their share of the class's picks), TaskSets' tasks indented."""
    rows: list[dict[str, str]] = []

    def add(entries: dict[str, Any], depth: int) -> None:
        for name, entry in entries.items():
            pct = num(100 * float(entry.get("ratio", 1.0)), 1)
            rows.append({"name": name, "depth": str(depth), "pct": pct})
            add(entry.get("tasks") or {}, depth + 1)

    add(meta.get("task_ratio") or {}, 0)
    return rows


def _errors(analysis: RunAnalysis) -> list[dict[str, str]]:
    """One row per route and message (the message, never the exception's repr)."""
    return [
        {
            "endpoint": ", ".join(e.endpoints),
            "message": e.example,
            "count": num(e.count),
            "pct": num(100 * e.ratio, 2) if e.ratio is not None else "-",
        }
        for e in analysis.errors
    ]


def _events(run: RunData) -> list[dict[str, str]]:
    shown = [e for e in run.events if e.get("kind") not in ("test_start",)][:MAX_EVENTS]
    return [
        {
            "at": num(e.get("elapsed_s"), 1),
            "kind": str(e.get("kind")),
            "detail": ", ".join(f"{k} {e[k]}" for k in EVENT_FIELDS_SHOWN if k in e),
        }
        for e in shown
    ]


def _response_checks(checks: Any) -> str | None:
    """``meta.json``'s ``response_checks`` in words (None: an older run, or no such class)."""
    if not isinstance(checks, dict):
        return None
    parts = []
    if full := checks.get("full"):
        parts.append(f"{', '.join(map(str, full))}: every answer's status and whole shape")
    if light := checks.get("light"):
        names, rate = ", ".join(map(str, light)), checks.get("light_full_per_route_s")
        sampled = (
            f"; the whole shape of every doubtful answer and of {rate:g} a second per route "
            "and process"
            if isinstance(rate, int | float)
            else ""
        )
        parts.append(f"{names}: every answer's status, JSON framing and id{sampled}")
    return "; ".join(parts) or None


def _metadata(run: RunData) -> list[tuple[str, str]]:
    meta = run.meta
    workers = meta.get("workers") or []
    items = [
        ("run id", run.run_id),
        ("profile", meta.get("profile") or meta.get("config_file")),
        ("locustfile", meta.get("locustfile")),
        ("user classes", ", ".join(meta.get("user_classes") or [])),
        ("answers checked", _response_checks(meta.get("response_checks"))),
        ("users / spawn rate", f"{meta.get('users')} / {meta.get('spawn_rate')}"),
        ("shape", meta.get("shape_class") or meta.get("shape")),
        ("host", meta.get("host")),
        (
            "embedded target",
            f"{meta.get('embedded_target')} {meta.get('target_flags') or ''}".strip(),
        ),
        ("mode", f"{meta.get('mode')}" + (f", {len(workers)} workers" if workers else "")),
        ("started", meta.get("started_at")),
        ("stopped", meta.get("stopped_at")),
        ("interval", f"{meta.get('interval_s')} s"),
        ("locust / python", f"{meta.get('locust_version')} / {meta.get('python_version')}"),
    ]
    return [(k, str(v)) for k, v in items if v not in (None, "", "None")]


def _facts(run: RunData) -> dict[str, str]:
    meta, summary = run.meta, run.summary or {}
    duration = summary.get("duration_s")
    if duration is None and len(run.series):
        duration = float(np.nansum(run.series.span_s))
    what = meta.get("profile") or ", ".join(meta.get("user_classes") or []) or "run"
    return {
        "what": str(what),
        "started": str(meta.get("started_at") or "start unknown"),
        "duration": f"{num(duration, 0)} s",
        "host": str(meta.get("host") or "unknown"),
    }


def _generator(analysis: RunAnalysis) -> dict[str, Any]:
    overloads, ceiling = analysis.generator_overloads, analysis.generator_ceiling
    if not overloads:
        if ceiling is not None and ceiling.near:
            return {
                "overloaded": False,
                "near": True,
                "detail": f"{ceiling_text(analysis)}. Past about {GENERATOR_CPU_LIMIT:.0f} % "
                "CPU its numbers describe the generator, not the target: add workers "
                "(--processes) or machines before asking for more.",
            }
        return {"overloaded": False, "near": False, "detail": ""}
    gens = sorted({str(e.get("generator")) for e in overloads})
    return {
        "overloaded": True,
        "detail": f"{', '.join(gens)} ran above {GENERATOR_CPU_LIMIT:.0f} % CPU "
        f"({len(overloads)} time(s), "
        f"first at {num(overloads[0].get('elapsed_s'), 0)} s). The target may "
        "have more capacity than measured: add workers (--processes) or "
        "machines.",
    }


def build_context(run: RunData, analysis: RunAnalysis) -> dict[str, Any]:
    series = run.series
    outages = outage_windows(run.events, float(np.nansum(series.span_s)))
    time_charts = [
        shade_outages(c, outages, series.elapsed_s)
        for c in (
            mark_capacity(figures.throughput(series), analysis),
            figures.latency(series),
            figures.load(series),
            figures.target_resources(series),
            figures.generator_cpu(series),
            figures.queue_depth(series),
            figures.websocket_latency(series),
        )
        if c is not None
    ]
    request_keys = [
        f"{e['method']} {e['name']}"
        for e in analysis.endpoints
        if is_request(f"{e['method']} {e['name']}")
    ]
    distribution = figures.distribution(run.histograms, request_keys)
    capacity = capacity_section(analysis)
    capacity["charts"] = capacity_charts(analysis)
    leak = leak_view(analysis)
    requests_done = np.cumsum(np.nan_to_num(series.requests))
    lk = analysis.leak
    leak["chart"] = figures.leak(
        requests_done,
        series.target_rss,
        None
        if lk.intercept_bytes is None or lk.slope_kb_per_request is None or lk.verdict == "unknown"
        else (lk.intercept_bytes, lk.slope_kb_per_request * 1024.0),
        float(np.interp(lk.window_start_s, series.elapsed_s, requests_done))
        if lk.window_start_s is not None and len(series)
        else None,
    )
    charts = [
        *time_charts,
        *([distribution] if distribution else []),
        *capacity["charts"],
        *([leak["chart"]] if leak["chart"] else []),
    ]
    table, others = _tables(analysis)
    summary = run.summary or {}
    return {
        "run": run,
        "facts": _facts(run),
        "cards": verdict_cards(run, analysis),
        "incomplete_reasons": summary.get("incomplete_reasons") or [],
        "generator": _generator(analysis),
        "approximate": analysis.approximate,
        "apdex_t": num(summary.get("apdex_t_ms") or run.meta.get("apdex_t_ms"), 0),
        "table": table,
        "other_rows": others,
        "thresholds": [
            {
                "name": t.get("name"),
                "observed": num(t.get("observed"), 3),
                "passed": t.get("passed"),
            }
            for t in summary.get("thresholds") or []
        ],
        "time_charts": time_charts,
        "distribution": distribution,
        "downsampled": (
            f"{len(series):,} intervals: each line is drawn with at most "
            f"{figures.MAX_POINTS:,} points (tables use every interval)."
            if len(series) > figures.MAX_POINTS
            else ""
        ),
        "capacity": capacity,
        "leak": leak,
        "job_capacity": job_capacity_view(summary.get("job_capacity")),
        "correctness": correctness_view(analysis.correctness),
        "extras": extra_lines(analysis),
        "errors": _errors(analysis),
        "events": _events(run),
        "metadata": _metadata(run),
        "task_ratio": _task_ratio(run.meta),
        "version": _version(),
        "run_dir": str(run.path),
        "plotly_js": plotly_js(),
        "charts_json": script_json(charts),
    }


def _version() -> str:
    try:
        return version("quantload")
    except PackageNotFoundError:
        return "dev"


def render_report(
    run_dir: Path | str,
    out: Path | str | None = None,
    *,
    run: RunData | None = None,
    analysis: RunAnalysis | None = None,
) -> Path:
    """Write ``report.html`` for a run directory (``out`` overrides where); returns its path.

    ``run`` and ``analysis`` may be passed when the caller has them already (at test
    stop), so a long run is not read twice.
    """
    run = run if run is not None else load_run(run_dir)
    analysis = analysis if analysis is not None else analyse_run(run)
    page = _environment().get_template("report.html.j2").render(**build_context(run, analysis))
    path = Path(out) if out is not None else run.path / REPORT_FILE
    write_atomic(path, page)  # temp file, fsync, rename: a kill leaves the old or the new
    return path
