"""The reference backtest/job API (FastAPI).

``build_app(config)`` returns the whole ASGI stack:
telemetry -> calibration (latency, errors, leak) -> guard (size, key, rate) -> routes.
Responses are serialised once with ``json.dumps`` and returned as raw
``Response`` objects: the calibration rig must cost as little as possible
itself, or it would blur the numbers it exists to make exact.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from collections import OrderedDict
from typing import Any

from fastapi import FastAPI, Query, Request, WebSocket
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from target import __version__
from target.calibration import (
    CalibrationMiddleware,
    LeakSink,
    SlotPool,
    burn_cpu,
    stall_forever_after,
)
from target.config import TargetConfig
from target.corruption import AnswerCorrupter
from target.engine import run_backtest
from target.guard import GuardMiddleware
from target.job_stream import follow_job
from target.jobs import FINAL, JobManager
from target.market_data import MarketDataCache
from target.schemas import (
    ApiError,
    BacktestRequest,
    JobRequest,
    checked_range,
    checked_symbol,
)
from target.store import Store
from target.strategies import ParameterError, catalogue, resolve_parameters
from target.telemetry import TargetMetrics, TelemetryMiddleware

RESULT_CACHE_SIZE = 256
MARKET_CACHE_SYMBOLS = 128  # ~0.5 MB a symbol: bounded, so only a real leak grows
MAX_PAGE = 200

DESCRIPTION = """quantload's reference backtest/job API, the suite's calibration rig.

Backtest metrics annualise with **252** trading days and a risk-free rate of 0.
Every error is `{"error": {"code", "message"}}`.
"""


def json_response(payload: Any, status: int = 200, headers: dict | None = None) -> Response:
    body = payload if isinstance(payload, str | bytes) else json.dumps(payload, allow_nan=False)
    return Response(body, status_code=status, media_type="application/json", headers=headers)


def _error(status: int, code: str, message: str) -> Response:
    return json_response({"error": {"code": code, "message": message}}, status)


class ResultCache:
    """LRU of (metrics, serialised result), keyed by everything that determines them."""

    def __init__(self, maxsize: int = RESULT_CACHE_SIZE) -> None:
        self.maxsize = maxsize
        self._items: OrderedDict[tuple, tuple[dict, str]] = OrderedDict()

    def get(self, key: tuple) -> tuple[dict, str] | None:
        value = self._items.get(key)
        if value is not None:
            self._items.move_to_end(key)
        return value

    def put(self, key: tuple, value: tuple[dict, str]) -> None:
        self._items[key] = value
        if len(self._items) > self.maxsize:
            self._items.popitem(last=False)


def _resolved(strategy: str, parameters: dict | None) -> dict:
    try:
        return resolve_parameters(strategy, parameters)
    except ParameterError as exc:
        raise ApiError(422, exc.code, str(exc)) from None


def _cursor(text: str | None) -> int | None:
    if text is None:
        return None
    if not text.isdigit() or len(text) > 18:
        raise ApiError(422, "validation_error", "cursor is not one this API gave out")
    return int(text)


def build_app(config: TargetConfig) -> Any:
    """The ASGI application for ``config``; the store and workers start with its lifespan."""
    metrics = TargetMetrics()
    leak = LeakSink(config.leak_kb_per_request)
    market = MarketDataCache(maxsize=MARKET_CACHE_SYMBOLS)
    results = ResultCache()
    state: dict[str, Any] = {}
    route = "/v1/backtests"
    answers = AnswerCorrupter(
        config.corrupt_above,
        config.corrupt_rate,
        config.seed,
        on_corrupt=metrics.corrupted_answers.labels(route).inc,
        on_eligible=metrics.corruption_eligible.labels(route).inc,
    )

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI):
        state["slots"] = slots = SlotPool(config.slots, config.service_ms)
        state["store"] = store = Store(config.db_path)
        state["jobs"] = jobs = JobManager(store, config.workers, config.job_step_ms)
        metrics.bind_live(
            queue_depth=lambda: jobs.queue_info()["depth"],
            jobs_running=lambda: jobs.running,
            job_workers=lambda: jobs.alive,
            leaked_bytes=lambda: leak.retained_bytes,
            slots_in_use=lambda: slots.in_use,
            backtests_in_flight=lambda: answers.in_flight,
        )
        await jobs.start()
        state["started"] = time.monotonic()  # the stall clock starts when serving starts
        stall = None
        if config.stall_at_s is not None:
            stall = asyncio.create_task(
                stall_forever_after(state["started"], config.stall_at_s, config.stall_s)
            )
        try:
            yield
        finally:
            if stall is not None:
                stall.cancel()
            await jobs.stop()
            store.close()

    app = FastAPI(
        title="quantload reference target",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
    )

    @app.exception_handler(ApiError)
    async def api_error(_request: Request, exc: ApiError) -> Response:
        return _error(exc.status, exc.code, exc.message)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_request: Request, exc: RequestValidationError) -> Response:
        errors = exc.errors()
        if any(e.get("type") == "json_invalid" for e in errors):
            return _error(400, "invalid_json", "request body is not valid JSON")
        first = errors[0] if errors else {"loc": (), "msg": "invalid request"}
        where = ".".join(str(part) for part in first.get("loc", ()) if part != "body")
        return _error(422, "validation_error", f"{where or 'body'}: {first.get('msg')}")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_request: Request, exc: StarletteHTTPException) -> Response:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return _error(exc.status_code, code, str(exc.detail))

    @app.exception_handler(Exception)
    async def unexpected(_request: Request, exc: Exception) -> Response:
        return _error(500, "internal_error", f"{type(exc).__name__}")

    @app.get("/health", tags=["service"])
    async def health() -> Response:
        return json_response(
            {
                "status": "ok",
                "version": __version__,
                "uptime_s": round(time.monotonic() - state["started"], 3),
            }
        )

    @app.get("/metrics", tags=["service"])
    async def prometheus() -> Response:
        return Response(metrics.exposition(), media_type="text/plain; version=0.0.4")

    @app.get("/v1/strategies", tags=["v1"])
    async def strategies() -> Response:
        return json_response({"strategies": catalogue()})

    @app.get("/v1/market-data/{symbol}", tags=["v1"])
    async def market_data(symbol: str, start: str | None = None, end: str | None = None):
        sym = checked_symbol(symbol)
        start_d, end_d = checked_range(start, end)
        misses = market.misses
        payload = market.to_payload(sym, start_d, end_d)
        (metrics.cache_misses if market.misses > misses else metrics.cache_hits).labels(
            "market_data"
        ).inc()
        return json_response(payload)

    @app.post(route, status_code=201, tags=["v1"])
    async def create_backtest(req: BacktestRequest) -> Response:
        with answers.flight():
            return await _backtest(req)

    async def _backtest(req: BacktestRequest) -> Response:
        sym = checked_symbol(req.symbol)
        start_d, end_d = checked_range(req.start, req.end)
        params = _resolved(req.strategy, req.parameters)
        key = (
            sym,
            req.strategy,
            tuple(sorted(params.items())),
            start_d,
            end_d,
            req.initial_capital,
            req.fees,
            req.slippage,
        )
        burn_cpu(config.cpu_ms)  # on the event loop, beside the slots: CPU is the limit
        async with state["slots"].hold():
            entry = results.get(key)
            cached = entry is not None
            if entry is None:
                bars = market.bars(sym, start_d, end_d)
                run = run_backtest(
                    bars,
                    req.strategy,
                    params,
                    initial_capital=req.initial_capital,
                    fees=req.fees,
                    slippage=req.slippage,
                )
                entry = (
                    run.metrics,
                    json.dumps(
                        {
                            "metrics": run.metrics,
                            "trades": run.trades,
                            "equity_curve": {"dates": run.dates, "equity": run.equity},
                        },
                        allow_nan=False,
                    ),
                )
                results.put(key, entry)
        run_metrics, fragment = entry
        (metrics.cache_hits if cached else metrics.cache_misses).labels("backtest").inc()
        head = {
            "id": uuid.uuid4().hex,
            "symbol": sym,
            "strategy": req.strategy,
            "parameters": params,
            "start": start_d.isoformat(),
            "end": end_d.isoformat(),
            "created_at": time.time(),
        }
        wrong = answers.served(run_metrics, fragment)  # the served body only, never stored
        stored = _merge_json({**head, "cached": False}, fragment)
        await state["store"].save_backtest({**head, "metrics": run_metrics}, stored)
        if cached or wrong:
            stored = _merge_json({**head, "cached": cached}, wrong or fragment)
        return json_response(stored, 201)

    @app.get("/v1/backtests/{backtest_id}", tags=["v1"])
    async def get_backtest(backtest_id: str) -> Response:
        body = await state["store"].backtest_body(backtest_id)
        if body is None:
            raise ApiError(404, "not_found", "no backtest with that id")
        return json_response(body)

    @app.get("/v1/backtests", tags=["v1"])
    async def list_backtests(
        strategy: str | None = None,
        symbol: str | None = None,
        limit: int = Query(50, ge=1, le=MAX_PAGE),
        cursor: str | None = None,
    ) -> Response:
        items, next_seq = await state["store"].query_backtests(
            strategy=strategy,
            symbol=checked_symbol(symbol) if symbol else None,
            limit=limit,
            before_seq=_cursor(cursor),
        )
        return json_response(
            {"items": items, "next_cursor": str(next_seq) if next_seq is not None else None}
        )

    @app.post("/v1/jobs", status_code=202, tags=["v1"])
    async def submit_job(req: JobRequest) -> Response:
        start_d, end_d = checked_range(req.start, req.end)
        request = {
            "strategy": req.strategy,
            "parameters": _resolved(req.strategy, req.parameters),
            "start": start_d.isoformat(),
            "end": end_d.isoformat(),
        }
        if req.kind == "monte_carlo":
            request.update(symbol=checked_symbol(req.symbol), num_runs=req.num_runs)
        else:
            request["symbols"] = [checked_symbol(s) for s in req.symbols]
        doc = await state["jobs"].submit(req.kind, request)
        return json_response(doc, 202, headers={"Location": f"/v1/jobs/{doc['id']}"})

    async def _job(job_id: str) -> dict:
        doc = await state["jobs"].get(job_id)
        if doc is None:
            raise ApiError(404, "not_found", "no job with that id")
        return doc

    @app.get("/v1/jobs/{job_id}", tags=["v1"])
    async def get_job(job_id: str) -> Response:
        return json_response(await _job(job_id))

    @app.get("/v1/jobs/{job_id}/result", tags=["v1"])
    async def job_result(job_id: str) -> Response:
        doc = await _job(job_id)
        if doc["status"] != "succeeded":
            code = {"failed": "job_failed", "cancelled": "job_cancelled"}.get(
                doc["status"], "not_ready"
            )
            raise ApiError(409, code, f"job is {doc['status']}")
        return json_response(
            {
                "id": job_id,
                "kind": doc["kind"],
                "status": doc["status"],
                "result": await state["jobs"].result(job_id),
            }
        )

    @app.delete("/v1/jobs/{job_id}", tags=["v1"])
    async def cancel_job(job_id: str) -> Response:
        before = await _job(job_id)
        if before["status"] in FINAL:
            raise ApiError(409, "job_finished", f"job already {before['status']}")
        return json_response(await state["jobs"].cancel(job_id))

    @app.get("/v1/queue", tags=["v1"])
    async def queue() -> Response:
        return json_response(state["jobs"].queue_info())

    @app.websocket("/v1/jobs/{job_id}/events")
    async def job_events(ws: WebSocket, job_id: str) -> None:
        await follow_job(ws, state["jobs"], job_id)

    guarded = GuardMiddleware(app, api_key=config.api_key, rate_limit=config.rate_limit)
    calibrated = CalibrationMiddleware(
        guarded,
        latency_ms=config.latency_ms,
        error_rate=config.error_rate,
        seed=config.seed,
        leak=leak,
        stall_after_requests=config.stall_after_requests,
        stall_s=config.stall_s,
    )
    return TelemetryMiddleware(calibrated, metrics, app.router)


def _merge_json(head: dict, fragment: str) -> str:
    """Join a small JSON object and a pre-serialised one without re-encoding the latter."""
    return json.dumps(head)[:-1] + ", " + fragment[1:]
