"""report.html says what summary.json says: one real run, every number of its tables compared.

The report's percentile table (and the table of other measurements) must show
``summary.json``'s figures for the same endpoint and column, only rounded for display:
a cell ``"1,234.57"`` holds the summary's value written with the cell's own number of
decimals. Any second computation of a percentile, a rate or an Apdex score in the
report would show here as a cell that differs.
"""

from __future__ import annotations

import json
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from rundir.layout import PSEUDO_REQUEST_UNITS, is_request

AGGREGATE_LABEL = "All requests to the target"
PERCENTILE_COLUMNS = (
    "label",
    "count",
    "failures",
    "error_pct",
    "rps",
    "p50_ms",
    "p75_ms",
    "p90_ms",
    "p95_ms",
    "p99_ms",
    "p999_ms",
    "max_ms",
    "avg_ms",
    "apdex",
    "avg_size_bytes",
)
"""The columns of ``#percentile-table``, as its header lists them."""
OTHER_COLUMNS = (
    "label",
    "unit",
    "count",
    "failures",
    "p50_ms",
    "p95_ms",
    "p99_ms",
    "max_ms",
    "avg_ms",
)
"""The columns of ``#other-table`` (measurements that are not requests to the target)."""


class TableReader(HTMLParser):
    """The text of every body cell of the tables with the given ids, row by row."""

    def __init__(self, ids: set[str]) -> None:
        super().__init__()
        self.ids = ids
        self.tables: dict[str, list[list[str]]] = {}
        self._table: str | None = None
        self._in_body = False
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        table_id = dict(attrs).get("id")
        if tag == "table" and table_id in self.ids:
            self._table = table_id
            self.tables[table_id] = []
        elif self._table and tag == "tbody":
            self._in_body = True
        elif self._table and self._in_body and tag == "tr":
            self.tables[self._table].append([])
        elif self._table and self._in_body and tag == "td":
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "td" and self._cell is not None and self._table:
            self.tables[self._table][-1].append("".join(self._cell).strip())
            self._cell = None
        elif tag == "tbody":
            self._in_body = False
        elif tag == "table":
            self._table = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def read_tables(page: str, *ids: str) -> dict[str, list[dict[str, str]]]:
    reader = TableReader(set(ids))
    reader.feed(page)
    columns = {"percentile-table": PERCENTILE_COLUMNS, "other-table": OTHER_COLUMNS}
    out = {}
    for table_id, rows in reader.tables.items():
        for cells in rows:
            assert len(cells) == len(columns[table_id]), (table_id, cells)
        out[table_id] = [dict(zip(columns[table_id], cells, strict=True)) for cells in rows]
    return out


def shows(cell: str, value: Any) -> bool:
    """Does the cell show ``value``, rounded to the cell's own decimals? ``-`` is None."""
    if cell == "-":
        return value is None
    if value is None:
        return False
    decimals = len(cell.rpartition(".")[2]) if "." in cell else 0
    return cell == f"{value:,.{decimals}f}"


def check_row(cells: dict[str, str], expected: dict[str, Any], where: str) -> int:
    """Every numeric cell against ``expected``'s value; the number of cells checked."""
    checked = 0
    for column, cell in cells.items():
        if column in ("label", "unit"):
            continue
        assert shows(cell, expected[column]), (
            f"{where}, {column}: the report shows {cell!r}, summary.json has {expected[column]!r}"
        )
        checked += 1
    return checked


@pytest.fixture(scope="module")
def run(default_run) -> tuple[dict[str, Any], dict[str, list[dict[str, str]]]]:
    """summary.json and report.html's tables of conftest's shared real run."""
    run_dir: Path = default_run.run_dir
    summary = json.loads((run_dir / "summary.json").read_text())
    page = (run_dir / "report.html").read_text()
    return summary, read_tables(page, "percentile-table", "other-table")


def expected_percentile_row(row: dict[str, Any]) -> dict[str, Any]:
    """summary.json's values for the percentile table's columns (error % is derived:
    failures over requests, as the report's lead paragraph says)."""
    count, failures = row["count"], row["failures"]
    return {**row, "error_pct": 100.0 * failures / count if count else 0.0}


@pytest.mark.slow
def test_the_percentile_table_is_summary_json(run):
    summary, tables = run
    rows = {cells["label"]: cells for cells in tables["percentile-table"]}
    requests = [e for e in summary["endpoints"] if is_request(f"{e['method']} {e['name']}")]
    assert requests, "the run made no request to the target"
    assert set(rows) == {f"{e['method']} {e['name']}" for e in requests} | {AGGREGATE_LABEL}
    checked = 0
    for endpoint in requests:
        label = f"{endpoint['method']} {endpoint['name']}"
        checked += check_row(rows[label], expected_percentile_row(endpoint), label)
    checked += check_row(
        rows[AGGREGATE_LABEL], expected_percentile_row(summary["requests"]), AGGREGATE_LABEL
    )
    assert checked == (len(requests) + 1) * (len(PERCENTILE_COLUMNS) - 1)
    # a real run has latencies and an Apdex: not every cell may be "-"
    assert rows[AGGREGATE_LABEL]["p95_ms"] != "-" and rows[AGGREGATE_LABEL]["apdex"] != "-"


@pytest.mark.slow
def test_the_other_measurements_are_summary_json(run):
    summary, tables = run
    others = [e for e in summary["endpoints"] if not is_request(f"{e['method']} {e['name']}")]
    rows = {cells["label"]: cells for cells in tables.get("other-table", [])}
    assert set(rows) == {f"{e['method']} {e['name']}" for e in others}
    for endpoint in others:
        label = f"{endpoint['method']} {endpoint['name']}"
        check_row(rows[label], endpoint, label)
        # each row in its own unit: JOB and WS_MSG ms, QUEUE jobs, WS_RATE msg/s
        assert rows[label]["unit"] == PSEUDO_REQUEST_UNITS[endpoint["method"]], label


def test_a_cell_shows_a_value_only_at_its_own_rounding():
    assert shows("1,234.57", 1234.567) and shows("0.912", 0.9123) and shows("12", 12)
    assert shows("-", None) and not shows("-", 0.0) and not shows("1.0", None)
    assert not shows("1,234.57", 1234.575_1) and not shows("0.913", 0.9123)
