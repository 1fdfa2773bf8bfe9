"""The report's words: the verdict cards, the capacity and leak sections, in plain English.

Someone who did not run the test reads the top of the page and knows: did it
pass, how much the service holds, does it leak, can the numbers be trusted.
Each helper turns analysis results into short strings for the template.
"""

from __future__ import annotations

from typing import Any

from reports.analysis import LeakRules
from reports.run_analysis import RunAnalysis
from rundir.reader import RunData


def _n(value: float | None, decimals: int = 1) -> str:
    return "-" if value is None else f"{value:,.{decimals}f}"


def _card(key: str, label: str, value: str, detail: str, state: str) -> dict[str, str]:
    return {"key": key, "label": label, "value": value, "detail": detail, "state": state}


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


def _capacity_card(analysis: RunAnalysis) -> dict[str, str]:
    search, step_break = analysis.search, analysis.step_break
    if search is not None:
        if search.get("found") and search.get("capacity_rps") is not None:
            return _card(
                "capacity",
                "Capacity",
                f"{_n(search['capacity_rps'])} req/s",
                f"breaks at {_n(search.get('offered_at_break'))} req/s offered: "
                f"{search.get('reason')}",
                "info",
            )
        return _card(
            "capacity",
            "Capacity",
            f">= {_n(search.get('capacity_rps'))} req/s",
            f"no break found ({search.get('stop_reason')})",
            "warn",
        )
    if step_break is not None:
        point, unit = step_break.point, analysis.unit
        if point.found:
            held = (
                f"held {step_break.last_good_level:g} {unit}"
                if step_break.last_good_level is not None
                else "broke at the first step"
            )
            return _card(
                "capacity",
                "Capacity",
                f"{_n(point.capacity_rps)} req/s",
                f"{held}; broke at {step_break.break_level:g} {unit}: {point.reason}",
                "info",
            )
        return _card(
            "capacity",
            "Capacity",
            f">= {_n(point.capacity_rps)} req/s",
            f"no step broke, up to {step_break.last_good_level:g} {unit}",
            "ok",
        )
    rps = analysis.aggregate.get("rps")
    return _card(
        "capacity",
        "Throughput",
        f"{_n(rps)} req/s",
        "not a stepped run: capacity needs steps (config/breakpoint.conf or "
        "config/scalability.conf)",
        "info",
    )


def _leak_card(analysis: RunAnalysis) -> dict[str, str]:
    leak = analysis.leak
    state = {"leak": "bad", "suspected": "warn", "none": "ok"}.get(leak.verdict, "info")
    value = {"unknown": "no verdict"}.get(leak.verdict, leak.verdict)
    detail = (
        leak.reason
        if leak.slope_kb_per_request is None
        else (f"{_n(leak.slope_kb_per_request, 2)} KB/request, {_n(leak.slope_mb_per_hour)} MB/h")
    )
    return _card("leak", "Memory leak", value, detail, state)


def _generator_card(analysis: RunAnalysis) -> dict[str, str]:
    peak = analysis.generator_max_cpu
    if analysis.generator_overloads:
        return _card(
            "generator",
            "Load generator",
            "overloaded",
            f"peak CPU {_n(peak, 0)} %: results may be limited by the load generator",
            "warn",
        )
    if peak is None:
        return _card("generator", "Load generator", "not sampled", "", "info")
    return _card("generator", "Load generator", "healthy", f"peak CPU {_n(peak, 0)} %", "ok")


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
        _card(
            "latency",
            "Response time p95 / p99",
            f"{_n(agg.get('p95_ms'))} / {_n(agg.get('p99_ms'))} ms",
            f"p50 {_n(agg.get('p50_ms'))} ms, max {_n(agg.get('max_ms'))} ms",
            "info",
        ),
    ]


def verdict_cards(run: RunData, analysis: RunAnalysis) -> list[dict[str, str]]:
    cards = [
        _threshold_card(run.summary or {}),
        _capacity_card(analysis),
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


def capacity_section(analysis: RunAnalysis) -> dict[str, Any]:
    """Summary sentence, notes, the step table rows, and the cache/data-size lines."""
    unit, notes = analysis.unit, []
    card = _capacity_card(analysis)
    summary = f"{card['label']}: {card['value']} ({card['detail']})."
    usl = analysis.usl
    if usl is not None:
        notes.append(
            f"Universal Scalability Law: {usl.note}" + ("" if usl.supported else " (not trusted)")
        )
    if analysis.open_model and analysis.steps:
        notes.append(
            "Open model: the load is an arrival rate, so the USL's concurrency is the "
            "mean number of requests in flight (throughput x mean latency)."
        )
    if analysis.search is not None:
        notes.append(
            "The capacity is the live breakpoint search's: each step was judged as "
            "it ran (error ratio, p95, throughput against the offered rate, "
            "dropped arrivals); the table shows the steady steps seen in the rows."
        )
    little = {id(s): c for s, c in zip(analysis.steps, analysis.little, strict=False)}
    scaling = {s.level: s for s in analysis.scaling}
    break_level = (
        (analysis.search or {}).get("offered_at_break")
        if analysis.search
        else analysis.step_break.break_level
        if analysis.step_break
        else None
    )
    rows = []
    for step in sorted(analysis.steps, key=lambda s: s.level):
        sc, lc = scaling.get(step.level), little.get(id(step))
        broken = break_level is not None and step.level >= break_level * (1 - 1e-9)
        rows.append(
            {
                "level": f"{step.level:g}",
                "throughput": _n(step.throughput_rps),
                "error_pct": _n(100 * step.error_ratio, 2),
                "p95": _n(step.p95_ms),
                "mean": _n(step.mean_ms),
                "efficiency": _n(sc.efficiency if sc else None, 2),
                "growth": _n(sc.growth_efficiency if sc else None, 2),
                "degradation": f"{_n(sc.degradation if sc else None, 2)}x",
                "little": "-" if lc is None else ("consistent" if lc.consistent else lc.note),
                "little_bad": lc is not None and not lc.consistent,
                "verdict": "broken" if broken else "good",
                "state": "bad" if broken else "ok",
            }
        )
    if not analysis.steps and analysis.search is None:
        notes.append(
            "This run had no steps of steady load, so there is no breaking point to "
            "find. Run config/scalability.conf (users) or config/breakpoint.conf "
            "(arrival rate) for one."
        )
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
    return {"summary": summary, "notes": notes, "steps": rows, "unit": unit, "extras": extras}


def leak_view(analysis: RunAnalysis) -> dict[str, Any]:
    leak, rules = analysis.leak, LeakRules()
    state = {"leak": "bad", "suspected": "warn", "none": "ok"}.get(leak.verdict, "")
    facts = []
    if leak.slope_kb_per_request is not None:
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
        f"{rules.suspect_min_growth_mb:g} MB. None when the later half of the window "
        f"no longer grows (warm-up). No verdict below {rules.min_points} points, "
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
