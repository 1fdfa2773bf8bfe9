"""The one place that knows the target's calls and payloads: :class:`BacktestApi`.

Every user class talks to the target through a ``BacktestApi`` wrapped around
its Locust client, so pointing quantload at another service means editing this
module (with its paths in ``users/routes.py``, the shapes in ``users/responses.py``
and the request/response plumbing in ``users/exchange.py``) only.

Contract of every request method:

* the request is named by its route template (``ROUTE_*``), so Locust keeps one
  stats row per route, never one per id;
* it returns the parsed JSON body when the status and the shape are right, else
  ``None`` after recording a failure with a stable reason (see ``responses.judge``);
* it never raises for anything the target does: HTML, wrong JSON, truncated
  bodies, refused connections all become failures, not user crashes;
* after a 429 it remembers the route's Retry-After and, before the next request
  to that route, waits (``gevent.sleep``) until that time has passed.

Importing this module does not import Locust (which monkey-patches on import)
or gevent: the client is handed in, and gevent is imported only when a wait
actually happens. Tests therefore import it in a plain pytest process.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from users.answer_check import AnswerChecks, current_checks
from users.exchange import FullChecks, Prepared, light_success, snapshot
from users.responses import (
    BACKTEST_LIST_SHAPE,
    BACKTEST_SHAPE,
    FINAL_JOB_STATUSES,
    JOB_RESULT_SHAPE,
    JOB_SHAPE,
    JOB_STATUSES,
    MARKET_DATA_SHAPE,
    QUEUE_SHAPE,
    STRATEGIES_SHAPE,
    Shape,
    Verdict,
    check_job_status,
    judge,
)
from users.retry_after import RetryAfterGate
from users.routes import (
    API_KEY_HEADER,
    ROUTE_BACKTEST,
    ROUTE_BACKTESTS,
    ROUTE_JOB,
    ROUTE_JOB_RESULT,
    ROUTE_JOBS,
    ROUTE_MARKET_DATA,
    ROUTE_QUEUE,
    ROUTE_STRATEGIES,
    job_events_url,
    path_part,
    query_string,
)

__all__ = ["BacktestApi", "FINAL_JOB_STATUSES", "JOB_STATUSES", "RetryAfterGate"]

#: Default backtest window when the caller gives none (3 years of daily bars).
DEFAULT_START = "2021-01-01"
DEFAULT_END = "2023-12-31"
#: Monte-Carlo paths per job when the caller gives none (the API's own default).
DEFAULT_NUM_RUNS = 1000
#: Default page size of the backtest history (the API allows 1..200).
DEFAULT_PAGE_LIMIT = 50

_STATUS_OK, _STATUS_CREATED, _STATUS_ACCEPTED = 200, 201, 202


class ClientError(Exception):
    """Recorded when the HTTP client itself raised before any response existed."""


class BacktestApi:
    """Typed calls to the backtest/job API through a Locust HTTP client.

    ``client`` is a ``FastHttpSession`` (or an ``HttpSession``): anything with
    ``request(method, path, name=, catch_response=True, headers=, json=)``
    returning a context manager whose response has ``success()``/``failure()``.
    ``last_failure`` holds the reason of the latest failed call (``None`` after a success).
    ``validation="light"`` checks the status and JSON framing of every response
    without parsing it; it parses and shape-checks in full every answer that check
    doubts and, per route, ``users.exchange.FULL_CHECKS_PER_ROUTE_S`` a second in the
    process (``full_checks``); light calls return only the body's ``id`` (enough to reread
    what was made). ``answers`` (``users.answer_check``) counts the requests in flight and
    checks deterministic answers against their golden ones (None: the process's checker,
    once a user made it; else no checks).
    """

    #: Which light-mode answers are checked in full (shared by all users of the process).
    full_checks = FullChecks()

    def __init__(
        self,
        client: Any,
        api_key: str | None = None,
        gate: RetryAfterGate | None = None,
        validation: str = "full",
        answers: AnswerChecks | None = None,
    ) -> None:
        if validation not in ("full", "light"):
            raise ValueError(f"validation must be 'full' or 'light', not {validation!r}")
        self.client = client
        self.api_key = api_key
        self.gate = gate if gate is not None else RetryAfterGate()
        self.validation = validation
        self.answers = answers if answers is not None else current_checks()
        self.last_failure: str | None = None
        self._headers = {API_KEY_HEADER: api_key} if api_key else {}
        self._json_headers = {**self._headers, "Content-Type": "application/json"}

    @property
    def headers(self) -> dict[str, str]:
        """Headers every call sends: ``X-API-Key`` when a key is set."""
        return self._headers

    job_events_url = staticmethod(job_events_url)

    # -- catalogue and data ------------------------------------------------------------------

    def strategies(self) -> dict | None:
        """``GET /v1/strategies``: the strategy catalogue."""
        return self._call("GET", "/v1/strategies", ROUTE_STRATEGIES, _STATUS_OK, STRATEGIES_SHAPE)

    def market_data(
        self, symbol: str, start: str | None = None, end: str | None = None
    ) -> dict | None:
        """``GET /v1/market-data/{symbol}``: daily bars (the target defaults the range)."""
        return self.send(self.prepare_market_data(symbol, start, end))

    @staticmethod
    def prepare_market_data(
        symbol: str, start: str | None = None, end: str | None = None
    ) -> Prepared:
        """The request of :meth:`market_data`, built once and sent later with :meth:`send`."""
        path = f"/v1/market-data/{path_part(symbol)}" + query_string(start=start, end=end)
        return Prepared("GET", path, ROUTE_MARKET_DATA, _STATUS_OK, MARKET_DATA_SHAPE)

    # -- backtests ---------------------------------------------------------------------------

    def run_backtest(
        self,
        symbol: str,
        strategy: str,
        parameters: dict | None = None,
        start: str = DEFAULT_START,
        end: str = DEFAULT_END,
        name: str | None = None,
    ) -> dict | None:
        """``POST /v1/backtests`` (expects 201): run one backtest and return its document.

        ``name`` overrides the stats row name (default ``ROUTE_BACKTESTS``), e.g.
        to keep cache-warm and cache-cold traffic apart; Retry-After is still
        tracked per route.
        """
        return self.send(self.prepare_backtest(symbol, strategy, parameters, start, end, name))

    @staticmethod
    def prepare_backtest(
        symbol: str,
        strategy: str,
        parameters: dict | None = None,
        start: str = DEFAULT_START,
        end: str = DEFAULT_END,
        name: str | None = None,
    ) -> Prepared:
        """The request of :meth:`run_backtest`, built once and sent later with :meth:`send`."""
        payload: dict[str, Any] = {
            "symbol": symbol,
            "strategy": strategy,
            "start": start,
            "end": end,
        }
        if parameters is not None:
            payload["parameters"] = parameters
        body = json.dumps(payload).encode()
        return Prepared(
            "POST",
            "/v1/backtests",
            ROUTE_BACKTESTS,
            _STATUS_CREATED,
            BACKTEST_SHAPE,
            body=body,
            name=name,
            answer_key=body,  # the same inputs always give the same answer
        )

    def get_backtest(self, backtest_id: str) -> dict | None:
        """``GET /v1/backtests/{id}``: a stored backtest document."""
        return self.send(self.prepare_get_backtest(backtest_id))

    @staticmethod
    def prepare_get_backtest(backtest_id: str) -> Prepared:
        """The request of :meth:`get_backtest`, built once and sent later with :meth:`send`."""
        return Prepared(
            "GET",
            f"/v1/backtests/{path_part(backtest_id)}",
            ROUTE_BACKTEST,
            _STATUS_OK,
            BACKTEST_SHAPE,
        )

    def query_backtests(
        self,
        strategy: str | None = None,
        symbol: str | None = None,
        limit: int = DEFAULT_PAGE_LIMIT,
        cursor: str | None = None,
    ) -> dict | None:
        """``GET /v1/backtests``: one page of history, newest first (``items``, ``next_cursor``)."""
        path = "/v1/backtests" + query_string(
            strategy=strategy, symbol=symbol, limit=limit, cursor=cursor
        )
        return self._call("GET", path, ROUTE_BACKTESTS, _STATUS_OK, BACKTEST_LIST_SHAPE)

    # -- jobs --------------------------------------------------------------------------------

    def submit_monte_carlo(
        self,
        symbol: str,
        strategy: str,
        start: str,
        end: str,
        num_runs: int = DEFAULT_NUM_RUNS,
        parameters: dict | None = None,
    ) -> dict | None:
        """``POST /v1/jobs`` kind ``monte_carlo`` (expects 202): the queued job document."""
        payload: dict[str, Any] = {
            "kind": "monte_carlo",
            "symbol": symbol,
            "strategy": strategy,
            "start": start,
            "end": end,
            "num_runs": num_runs,
        }
        if parameters is not None:
            payload["parameters"] = parameters
        return self._submit(payload)

    def submit_batch(
        self,
        symbols: list[str],
        strategy: str,
        start: str,
        end: str,
        parameters: dict | None = None,
    ) -> dict | None:
        """``POST /v1/jobs`` kind ``batch_backtest`` (expects 202): the queued job document."""
        payload: dict[str, Any] = {
            "kind": "batch_backtest",
            "symbols": list(symbols),
            "strategy": strategy,
            "start": start,
            "end": end,
        }
        if parameters is not None:
            payload["parameters"] = parameters
        return self._submit(payload)

    def get_job(self, job_id: str) -> dict | None:
        """``GET /v1/jobs/{id}``: status, progress and timestamps."""
        return self._call(
            "GET",
            f"/v1/jobs/{path_part(job_id)}",
            ROUTE_JOB,
            _STATUS_OK,
            JOB_SHAPE,
            check=check_job_status,
        )

    def job_result(self, job_id: str) -> dict | None:
        """``GET /v1/jobs/{id}/result``: a succeeded job's result (409 before then fails)."""
        return self._call(
            "GET",
            f"/v1/jobs/{path_part(job_id)}/result",
            ROUTE_JOB_RESULT,
            _STATUS_OK,
            JOB_RESULT_SHAPE,
        )

    def cancel_job(self, job_id: str) -> dict | None:
        """``DELETE /v1/jobs/{id}``: the cancelled job (409 ``job_finished`` is a failure)."""
        return self._call(
            "DELETE",
            f"/v1/jobs/{path_part(job_id)}",
            ROUTE_JOB,
            _STATUS_OK,
            JOB_SHAPE,
            check=check_job_status,
        )

    def queue(self) -> dict | None:
        """``GET /v1/queue``: ``depth`` (waiting jobs), ``running`` and ``workers``."""
        return self._call("GET", "/v1/queue", ROUTE_QUEUE, _STATUS_OK, QUEUE_SHAPE)

    # -- plumbing ----------------------------------------------------------------------------

    def _submit(self, payload: dict[str, Any]) -> dict | None:
        return self._call(
            "POST",
            "/v1/jobs",
            ROUTE_JOBS,
            _STATUS_ACCEPTED,
            JOB_SHAPE,
            payload=payload,
            check=check_job_status,
        )

    def _call(
        self,
        method: str,
        path: str,
        route: str,
        expected_status: int,
        shape: Shape,
        payload: Any = None,
        check: Callable[[dict], str | None] | None = None,
    ) -> Any:
        body = None if payload is None else json.dumps(payload).encode()
        return self.send(Prepared(method, path, route, expected_status, shape, body, None, check))

    def send(self, req: Prepared) -> Any:
        """Send one prepared request, judge it, report the verdict to Locust; body or ``None``."""
        self.gate.wait(req.route)
        name = req.name or req.route
        headers = self._json_headers if req.body is not None else self._headers
        light = (
            self.validation == "light"
            and req.check is None
            and not BacktestApi.full_checks.take(req.route)
        )
        answers = self.answers
        token = -1 if answers is None else answers.sent()
        try:
            return self._exchange(req, name, headers, light, token)
        finally:
            if answers is not None:
                answers.answered()

    def _exchange(self, req: Prepared, name: str, headers: dict, light: bool, token: int) -> Any:
        try:
            ctx = self.client.request(
                req.method, req.path, name=name, catch_response=True, headers=headers, data=req.body
            )
        except Exception as exc:  # noqa: BLE001 - e.g. an invalid URL: record, don't crash
            return self._record_client_error(req.method, name, exc)
        with ctx as resp:
            if light and (body := light_success(resp, req)) is not None:
                return self._succeed(resp, req, name, body, token)
            try:  # a doubtful light answer is checked in full: its failure says what is wrong
                raw = snapshot(resp)
                verdict = judge(raw, req.expected_status, req.shape, req.check)
            except Exception as exc:  # noqa: BLE001 - a checking bug must not kill the user
                verdict = Verdict(failure=f"response check crashed: {type(exc).__name__}")
            if verdict.retry_after_s is not None:
                self.gate.hold(req.route, verdict.retry_after_s)
            self.last_failure = verdict.failure
            if verdict.failure is not None:
                resp.failure(verdict.failure)
                return None
            return self._succeed(resp, req, name, verdict.body, token)

    def _succeed(self, resp: Any, req: Prepared, name: str, body: Any, token: int) -> Any:
        """A right answer's verdict: success, unless its golden answer says it is wrong."""
        wrong = None
        if req.answer_key is not None and self.answers is not None:
            content = getattr(resp, "content", None)
            wrong = self.answers.verdict(req.answer_key, content, token, f"{req.method} {name}")
        self.last_failure = wrong
        if wrong is not None:
            resp.failure(wrong)
            return None
        resp.success()
        return body

    def _record_client_error(self, method: str, name: str, exc: Exception) -> None:
        self.last_failure = f"client error: {type(exc).__name__}"
        event = getattr(self.client, "request_event", None)
        if event is not None:
            event.fire(
                request_type=method,
                name=name,
                response_time=0,
                response_length=0,
                exception=ClientError(self.last_failure),
                context={},
            )
        return None
