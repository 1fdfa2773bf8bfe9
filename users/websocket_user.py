"""Follow Monte-Carlo jobs over the progress WebSocket and measure delivery.

``WebSocketUser`` submits a job over HTTP (``BacktestApi``), then follows
``WS /v1/jobs/{id}/events`` until the job's final status with a
:class:`users.job_events.JobEventStream`, which records what it measures: the
handshake as a ``WS_CONNECT`` request (in Locust's stats), each message's delivery
latency (``WS_MSG``), the stream's message rate (``WS_RATE``) and drops (``WS_CONNECT
disconnect`` failures); see that module for each. After a drop the stream reconnects
with exponential backoff (capped, with jitter from the user's seeded RNG) at most
``stream_settings.max_reconnects`` times. ``on_stop`` closes a stream still open.
"""

from __future__ import annotations

from locust import between, tag, task

from users.common import ApiUser
from users.job_events import (
    CONNECT_REQUEST_TYPE,
    MESSAGE_REQUEST_TYPE,
    RATE_REQUEST_TYPE,
    JobEventStream,
    StreamSettings,
)

__all__ = ["CONNECT_REQUEST_TYPE", "MESSAGE_REQUEST_TYPE", "RATE_REQUEST_TYPE", "WebSocketUser"]


class WebSocketUser(ApiUser):
    """Submit a Monte-Carlo job, then follow its progress events to the end.

    Options read from ``environment.parsed_options`` (all optional):
    ``api_key`` (sent as ``X-API-Key`` on HTTP and the WS handshake) and
    ``seed`` (reconnect jitter, through ``ApiUser``'s per-user RNG).
    """

    wait_time = between(0.5, 1.5)

    symbol: str = "AAPL"
    strategy: str = "sma_cross"
    start_date: str = "2021-01-01"
    end_date: str = "2023-12-31"
    num_runs: int = 200
    """Monte-Carlo paths per job: small, so a job lasts a few progress steps, not minutes."""

    stream_settings: StreamSettings = StreamSettings()
    """Timeouts and reconnects of the event stream (30 s of silence is a drop; 5 reconnects)."""

    _stream: JobEventStream | None = None
    """The stream being followed, if any (class default: on_stop may run before on_start ends)."""

    @tag("ws", "job")
    @task
    def follow_monte_carlo(self) -> None:
        """One job: submit over HTTP, then follow its events (the HTTP call records itself)."""
        job = self.api.submit_monte_carlo(
            self.symbol, self.strategy, self.start_date, self.end_date, num_runs=self.num_runs
        )
        if job is not None:
            self.follow_job(str(job["id"]))

    def follow_job(self, job_id: str) -> str | None:
        """Follow ``job_id``'s events to a final status, reconnecting on drops.

        Returns the final status, or ``None`` if it was never seen (rejected or
        out of reconnect attempts); fires ``WS_RATE`` once either way when any
        message arrived.
        """
        assert self.host is not None, "FastHttpUser refuses to start without a host"
        self._stream = JobEventStream(
            self.environment,
            self.api.job_events_url(self.host, job_id),
            self.api.headers,
            self.rng,
            self.stream_settings,
        )
        try:
            return self._stream.follow()
        finally:
            self._stream = None

    def on_stop(self) -> None:
        stream = self._stream
        if stream is not None:
            stream.close()
