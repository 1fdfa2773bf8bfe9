"""The report's words: the verdict cards, the capacity and leak sections, in plain English.

Someone who did not run the test reads the top of the page and knows: did it
pass, how much the service holds, does it leak, can the numbers be trusted.
Each helper turns analysis results into short strings for the template.
"""

from __future__ import annotations

from typing import Any

from reports.analysis import LeakRules
from reports.capacity_view import capacity_card
from reports.run_analysis import RunAnalysis
from reports.view_text import card, level_text, number
from rundir.reader import RunData

_n, _card = number, card


def _threshold_card(summary: dict[str, Any]) -> dict[str, str]:
    results = summary.get("thresholds") or []
    if not summary:
        return _card(
            "thresholds",
            "Thresholds",
            "not judged",
            "the run ended before its summary was written",
            "warn",
        )
    if not results:
        return _card(
            "thresholds",
            "Thresholds",
            "none set",
            "add --threshold or a thresholds file to gate CI",
            "info",
        )
    failed = [r for r in results if not r.get("passed")]
    if failed:
        names = ", ".join(str(r.get("name")) for r in failed[:3])
        return _card(
            "thresholds", "Thresholds", f"{len(failed)} of {len(results)} failed", names, "bad"
        )
    return _card(
        "thresholds",
        "Thresholds",
        f"all {len(results)} passed",
        ", ".join(str(r.get("name")) for r in results[:3]),
        "ok",
    )


def _leak_card(analysis: RunAnalysis) -> dict[str, str]:
    leak = analysis.leak
    state = {"leak": "bad", "suspected": "warn", "none": "ok"}.get(leak.verdict, "info")
    value = {"unknown": "no verdict"}.get(leak.verdict, leak.verdict)
    detail = (  # a slope is shown only beside a verdict: without one it means nothing
        leak.reason
        if leak.slope_kb_per_request is None or leak.verdict == "unknown"
        else (f"{_n(leak.slope_kb_per_request, 2)} KB/request, {_n(leak.slope_mb_per_hour)} MB/h")
    )
    return _card("leak", "Memory leak", value, detail, state)


def ceiling_text(analysis: RunAnalysis) -> str:
    """The generator's ceiling in words ('' without an estimate), from the figures
    ``summary.json`` carries."""
    c = analysis.generator_ceiling
    if c is None:
        return ""
    shown = c.as_dict()
    return (
        f"busiest {_n(shown['peak_rps_per_process'], 0)} req/s a process, "
        f"{_n(100 * shown['peak_share'], 0)} % of the ~{_n(shown['ceiling_rps'], 0)} one "
        f"process sends at {_n(shown['ceiling_cpu_percent'], 0)} % CPU "
        f"({_n(shown['us_per_request'], 0)} CPU \u00b5s a request)"
    )


def _generator_card(analysis: RunAnalysis) -> dict[str, str]:
    peak, ceiling = analysis.generator_max_cpu, analysis.generator_ceiling
    reach = ceiling_text(analysis)
    if analysis.generator_overloads:
        return _card(
            "generator",
            "Load generator",
            "overloaded",
            f"peak CPU {_n(peak, 0)} %: results may be limited by the load generator"
            + (f"; {reach}" if reach else ""),
            "warn",
        )
    if peak is None:
        return _card("generator", "Load generator", "not sampled", "", "info")
    if ceiling is not None and ceiling.near:
        return _card(
            "generator",
            "Load generator",
            "near its ceiling",
            f"{reach}: more load needs more processes (--processes)",
            "warn",
        )
    detail = f"peak CPU {_n(peak, 0)} %" + (f"; {reach}" if reach else "")
    return _card("generator", "Load generator", "healthy", detail, "ok")


def _traffic_cards(analysis: RunAnalysis) -> list[dict[str, str]]:
    agg = analysis.aggregate
    count, failures = int(agg.get("count") or 0), int(agg.get("failures") or 0)
    ratio = failures / count if count else 0.0
    return [
        _card(
            "errors",
            "Errors",
            f"{100 * ratio:.2f} %",
            f"{failures:,} of {count:,} requests",
            "bad" if ratio > 0.01 else "warn" if ratio > 0 else "ok",
        ),
        _latency_card(analysis),
    ]


def _latency_card(analysis: RunAnalysis) -> dict[str, str]:
    """p95 / p99 and Apdex: at capacity (the last good step) on a run that found one, whose
    overloaded steps would otherwise dominate; over the whole run otherwise."""
    agg, at = analysis.aggregate, analysis.at_capacity
    whole = (
        f"p95 {_n(agg.get('p95_ms'))} / p99 {_n(agg.get('p99_ms'))} ms, "
        f"Apdex {_n(agg.get('apdex'), 2)}"
    )
    if at is None:
        return _card(
            "latency",
            "Response time p95 / p99",
            f"{_n(agg.get('p95_ms'))} / {_n(agg.get('p99_ms'))} ms",
            f"whole run; p50 {_n(agg.get('p50_ms'))} ms, max {_n(agg.get('max_ms'))} ms, "
            f"Apdex {_n(agg.get('apdex'), 2)}",
            "info",
        )
    return _card(
        "latency",
        "At capacity: p95 / p99",
        f"\u2248 {_n(at['p95_ms'])} / {_n(at['p99_ms'])} ms",
        f"at {level_text(at['level'])} {analysis.unit}, the last good step (as its row "
        f"below; p99 and Apdex from its per-second rows): Apdex \u2248 "
        f"{_n(at['apdex'], 2)}. Whole run, overloaded "
        f"steps included: {whole} (table below)",
        "info",
    )


def verdict_cards(run: RunData, analysis: RunAnalysis) -> list[dict[str, str]]:
    cards = [
        _threshold_card(run.summary or {}),
        capacity_card(analysis),
        _leak_card(analysis),
        _generator_card(analysis),
        *_traffic_cards(analysis),
    ]
    if not run.complete:
        cards.insert(
            0,
            _card(
                "complete",
                "Run",
                "incomplete",
                "stopped early or crashed: numbers cover what was measured",
                "bad",
            ),
        )
    return cards


def extra_lines(analysis: RunAnalysis) -> list[str]:
    """The cache and data-size findings, one plain sentence each (none when not measured)."""
    extras = []
    for effect in analysis.cache:
        extras.append(
            f"Cache ({effect.method} {effect.name}): warm requests are "
            f"{_n(effect.speedup, 1)}x faster than cold (p50 {_n(effect.cold_p50_ms)}"
            f" -> {_n(effect.warm_p50_ms)} ms); changed parameters cost "
            f"{_n(effect.changed_vs_cold, 2)}x cold"
            + (
                ""
                if effect.cache_key_ok in (None, True)
                else ": the cache key ignores a parameter that changes the result"
            )
        )
    size = analysis.data_size
    if size is not None and len(size.years) >= 2 and size.p50_ms[0]:
        y0, y1, t0, t1 = size.years[0], size.years[-1], size.p50_ms[0], size.p50_ms[-1]
        extras.append(
            f"Data size ({size.method} {size.name}): each extra year of history adds "
            f"{_n(size.ms_per_year)} ms; p50 {_n(t0)} ms at {y0:g} years, {_n(t1)} ms "
            f"at {y1:g} years: {_n(t1 / t0, 2)}x the time for {_n(y1 / y0, 1)}x the "
            f"history (time grows {_n(size.ratio_per_year, 2)}x per extra year)."
        )
    return extras


def leak_view(analysis: RunAnalysis) -> dict[str, Any]:
    leak, rules = analysis.leak, LeakRules()
    state = {"leak": "bad", "suspected": "warn", "none": "ok"}.get(leak.verdict, "")
    facts = []
    if leak.slope_kb_per_request is not None and leak.verdict != "unknown":
        facts = [
            (
                "slope",
                f"{_n(leak.slope_kb_per_request, 2)} KB per request (95 % CI "
                f"{_n(leak.slope_kb_per_request_ci_low, 2)} to "
                f"{_n(leak.slope_kb_per_request_ci_high, 2)})",
            ),
            (
                "over time",
                f"{_n(leak.slope_mb_per_hour)} MB per hour (95 % CI "
                f"{_n(leak.slope_mb_per_hour_ci_low)} to "
                f"{_n(leak.slope_mb_per_hour_ci_high)})",
            ),
            (
                "fit",
                f"r\u00b2 {_n(leak.r2, 3)} over {leak.points} points, "
                f"{leak.requests_in_window:,} requests",
            ),
            ("growth", f"{_n(leak.growth_mb)} MB from {_n(leak.start_rss_mb)} MB"),
            (
                "window",
                f"{_n(leak.window_start_s, 0)} s to {_n(leak.window_end_s, 0)} s (warm-up skipped)",
            ),
        ]
    text = (
        f"Rules: the target's RSS is regressed on the requests it served (Theil-Sen, "
        f"robust to garbage-collection spikes) after a warm-up. Leak: the slope's 95 % "
        f"CI is above 0, r\u00b2 >= {rules.leak_min_r2:g} and the fitted growth is at "
        f"least {rules.leak_min_growth_mb:g} MB and {100 * rules.leak_min_growth_share:g} "
        f"% of the starting RSS. Suspected: the CI is above 0 and growth is at least "
        f"{rules.suspect_min_growth_mb:g} MB and {100 * rules.suspect_min_growth_share:g} % of "
        f"the starting RSS. Only the longest stretch at one load is judged (memory follows "
        f"load). None when the growth does not persist: the "
        f"later half of the window no longer grows, or grows per request at under "
        f"{100 * rules.persist_min_ratio:g} % of the earlier half's rate (warm-up levelling "
        f"off). No verdict below {rules.min_points} points, "
        f"{rules.min_window_s:g} s or {rules.min_requests:,} requests."
    )
    verdict = {"unknown": "No verdict"}.get(leak.verdict, leak.verdict.capitalize())
    return {
        "verdict": verdict,
        "reason": leak.reason,
        "state": state,
        "facts": facts,
        "rules": text,
    }
