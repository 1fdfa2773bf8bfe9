"""Pure analysis of load-test measurements: numbers in, dataclasses out, no I/O.

One module per question, each tested on synthetic data whose answer is known:

- :mod:`~reports.analysis.breaking` - is a step of steady load broken, and where is the
  breaking point (the rules the live breakpoint search and the report share);
- :mod:`~reports.analysis.tables` - percentile, Apdex, error-type, cache and data-size
  tables from histograms and endpoint rows (the percentile and Apdex rules are
  :mod:`metrics.summary`'s, the ones ``summary.json`` is built with);
- :mod:`~reports.analysis.steps` - the steps of a stepped run: segmenting and settled
  statistics; :mod:`~reports.analysis.step_scaling` - how throughput and latency scale
  between steps; :mod:`~reports.analysis.step_break` - the breaking point by step;
  :mod:`~reports.analysis.littles_law` - Little's law checks per step;
  :mod:`~reports.analysis.judged_steps` - the breakpoint table's rows, judged by the
  headline's rules; :mod:`~reports.analysis.row_apdex` - Apdex of a span of rows;
- :mod:`~reports.analysis.usl` - the Universal Scalability Law fitted to the steps:
  contention, coherency and the peak concurrency;
- :mod:`~reports.analysis.leak` - does the target's memory grow with the requests it
  serves: robust slopes and a verdict by stated rules.

Nothing here imports Locust or gevent, or reads or writes files: the report, the
live search and the tests call the same functions. Results are frozen dataclasses of
plain values; those new in this package give JSON-ready data with ``as_dict()``.
"""

from reports.analysis.breaking import (
    RULE_DROPPED,
    RULE_ERRORS,
    RULE_P95,
    RULE_STALL,
    RULE_THROUGHPUT,
    BreakingPoint,
    BreakLimits,
    P95Limit,
    StatsSnapshot,
    StepMeasure,
    Verdict,
    find_breaking_point,
    measure_window,
    p95_limit,
    step_verdict,
)
from reports.analysis.errors import ErrorShare, error_message, error_ratios, error_type
from reports.analysis.judged_steps import JudgedStep, judge_search_steps
from reports.analysis.leak import LeakAnalysis, LeakRules, analyse_leak
from reports.analysis.littles_law import LittleCheck, littles_law, littles_law_steps
from reports.analysis.row_apdex import rows_apdex
from reports.analysis.step_break import RULE_GROWTH, StepBreak, breaking_point_from_steps
from reports.analysis.step_scaling import StepScaling, scalability
from reports.analysis.steps import StepSpan, StepStats, aggregate_steps, segment_steps
from reports.analysis.tables import (
    CacheEffect,
    DataSizeScaling,
    apdex_score,
    cache_effect,
    data_size_scaling,
    percentile_table,
)
from reports.analysis.usl import UslFit, fit_usl, usl_curve

__all__ = [
    # breaking
    "RULE_DROPPED",
    "RULE_ERRORS",
    "RULE_P95",
    "RULE_STALL",
    "RULE_THROUGHPUT",
    "BreakLimits",
    "BreakingPoint",
    "P95Limit",
    "StatsSnapshot",
    "StepMeasure",
    "Verdict",
    "find_breaking_point",
    "measure_window",
    "p95_limit",
    "step_verdict",
    # tables
    "CacheEffect",
    "DataSizeScaling",
    "ErrorShare",
    "apdex_score",
    "cache_effect",
    "data_size_scaling",
    "error_message",
    "error_ratios",
    "error_type",
    "percentile_table",
    # steps
    "JudgedStep",
    "judge_search_steps",
    "rows_apdex",
    "RULE_GROWTH",
    "LittleCheck",
    "StepBreak",
    "StepScaling",
    "StepSpan",
    "StepStats",
    "aggregate_steps",
    "breaking_point_from_steps",
    "littles_law",
    "littles_law_steps",
    "scalability",
    "segment_steps",
    # usl
    "UslFit",
    "fit_usl",
    "usl_curve",
    # leak
    "LeakAnalysis",
    "LeakRules",
    "analyse_leak",
]
