"""The job queue: K worker processes, job states, progress fan-out to WebSocket subscribers.

Only queued and running jobs live in memory; a finished job is read back from
the database, so a long run's memory stays flat (a leak test must see only the
leak it asked for). The manager assigns jobs to idle workers itself, which is
what makes ``depth``, ``running`` and cancelling a running job exact.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

from target.job_worker import worker_main
from target.store import Store

FINAL = frozenset({"succeeded", "failed", "cancelled"})
SUBSCRIBER_QUEUE = 256
WORKER_START_TIMEOUT_S = 60.0


@dataclass
class Job:
    id: str
    kind: str
    request: dict[str, Any]
    status: str = "queued"
    progress: float = 0.0
    created_at: float = field(default_factory=time.time)
    started_at: float | None = None
    finished_at: float | None = None
    error: str | None = None
    result: Any = None

    def doc(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "status": self.status,
            "progress": self.progress,
            "created_at": self.created_at,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "error": self.error,
        }


@dataclass
class _Worker:
    process: multiprocessing.process.BaseProcess
    conn: Connection
    job_id: str | None = None
    ready: bool = False


def event_message(doc: dict[str, Any]) -> dict[str, Any]:
    return {
        "job_id": doc["id"],
        "progress": doc["progress"],
        "status": doc["status"],
        "sent_at": time.time(),
    }


class JobManager:
    def __init__(self, store: Store, workers: int, step_ms: float) -> None:
        self.store = store
        self.worker_count = workers
        self.step_ms = step_ms
        # Workers are forked from one forkserver that has already imported the worker's
        # code (numpy, pandas): each worker then starts in milliseconds instead of paying
        # ~0.3 s of imports, and, unlike a plain fork, inherits none of the server's files.
        self._ctx = multiprocessing.get_context("forkserver")
        self._ctx.set_forkserver_preload(["target.job_worker"])
        self._workers: list[_Worker] = []
        self._pending: deque[str] = deque()
        self._active: dict[str, Job] = {}
        self._subscribers: dict[str, set[asyncio.Queue]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._tasks: set[asyncio.Task] = set()

    # -- lifecycle ------------------------------------------------------------
    async def start(self) -> None:
        """Start the workers and return once every one is ready, so /health means ready."""
        self._loop = asyncio.get_running_loop()
        self._all_ready = asyncio.Event()
        for _ in range(self.worker_count):
            self._spawn()
        await asyncio.wait_for(self._all_ready.wait(), WORKER_START_TIMEOUT_S)

    def _spawn(self) -> None:
        parent, child = self._ctx.Pipe()
        proc = self._ctx.Process(
            target=worker_main, args=(child, self.step_ms), name="quantload-job-worker", daemon=True
        )
        proc.start()
        child.close()
        worker = _Worker(proc, parent)
        self._workers.append(worker)
        self._loop.add_reader(parent.fileno(), self._on_readable, worker)

    async def stop(self) -> None:
        for worker in self._workers:
            self._loop.remove_reader(worker.conn.fileno())
            worker.conn.close()
        for worker in self._workers:
            await asyncio.to_thread(worker.process.join, 5)
            if worker.process.is_alive():
                worker.process.kill()
                await asyncio.to_thread(worker.process.join, 5)
        self._workers.clear()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    # -- public ---------------------------------------------------------------
    async def submit(self, kind: str, request: dict[str, Any]) -> dict[str, Any]:
        job = Job(id=uuid.uuid4().hex, kind=kind, request=request)
        await self.store.insert_job({**job.doc(), "request": request})
        self._active[job.id] = job
        self._pending.append(job.id)
        self._dispatch()
        return job.doc()

    async def get(self, job_id: str) -> dict[str, Any] | None:
        job = self._active.get(job_id)
        return job.doc() if job else await self.store.job_doc(job_id)

    async def cancel(self, job_id: str) -> dict[str, Any] | None:
        """Cancel a queued or running job; a finished job's document comes back unchanged."""
        job = self._active.get(job_id)
        if job is None:
            return await self.store.job_doc(job_id)
        if job.status == "queued":
            self._pending.remove(job_id)
        else:
            for worker in self._workers:
                if worker.job_id == job_id:
                    worker.conn.send(("cancel", job_id))
        await self._finish(job, "cancelled")
        return job.doc()

    async def result(self, job_id: str) -> Any:
        job = self._active.get(job_id)
        return job.result if job is not None else await self.store.job_result(job_id)

    def queue_info(self) -> dict[str, int]:
        return {"depth": len(self._pending), "running": self.running, "workers": self.alive}

    @property
    def running(self) -> int:
        return sum(1 for w in self._workers if w.job_id is not None)

    @property
    def alive(self) -> int:
        return sum(1 for w in self._workers if w.process.is_alive())

    def subscribe(self, job_id: str) -> asyncio.Queue:
        q: asyncio.Queue = asyncio.Queue(SUBSCRIBER_QUEUE)
        self._subscribers.setdefault(job_id, set()).add(q)
        return q

    def unsubscribe(self, job_id: str, q: asyncio.Queue) -> None:
        subs = self._subscribers.get(job_id)
        if subs is not None:
            subs.discard(q)
            if not subs:
                del self._subscribers[job_id]

    # -- internals ------------------------------------------------------------
    def _publish(self, job: Job) -> None:
        message = event_message(job.doc())
        for q in self._subscribers.get(job.id, ()):
            if q.full():  # a slow reader loses the oldest progress, never the final state
                q.get_nowait()
            q.put_nowait(message)

    def _dispatch(self) -> None:
        for worker in self._workers:
            if not self._pending:
                return
            if worker.ready and worker.job_id is None:
                job = self._active[self._pending.popleft()]
                worker.job_id = job.id
                job.status, job.started_at = "running", time.time()
                worker.conn.send(("run", job.id, job.kind, job.request))
                self._background(
                    self.store.update_job(job.id, status="running", started_at=job.started_at)
                )
                self._publish(job)

    def _background(self, coro) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _on_readable(self, worker: _Worker) -> None:
        try:
            while worker.conn.poll():
                self._handle(worker, worker.conn.recv())
        except (EOFError, OSError):
            self._on_worker_died(worker)

    def _handle(self, worker: _Worker, message: tuple) -> None:
        kind, job_id = message[0], message[1]
        if kind == "ready":
            worker.ready = True
            if all(w.ready for w in self._workers):
                self._all_ready.set()
            self._dispatch()
            return
        job = self._active.get(job_id)
        if kind == "progress":
            if job is not None and job.status == "running":
                job.progress = float(message[2])
                self._publish(job)
            return
        worker.job_id = None  # done, failed or cancelled: the worker is free
        if job is not None and job.status == "running":
            if kind == "done":
                job.progress = 1.0
                self._background(self._finish(job, "succeeded", result=message[2]))
            elif kind == "failed":
                job.error = message[2]
                self._background(self._finish(job, "failed"))
        self._dispatch()

    async def _finish(self, job: Job, status: str, result: Any = None) -> None:
        job.status, job.finished_at, job.result = status, time.time(), result
        self._publish(job)
        await self.store.update_job(
            job.id,
            status=status,
            progress=job.progress,
            finished_at=job.finished_at,
            error=job.error,
            result=result,
        )
        self._active.pop(job.id, None)

    def _on_worker_died(self, worker: _Worker) -> None:
        self._loop.remove_reader(worker.conn.fileno())
        self._workers.remove(worker)
        job = self._active.get(worker.job_id) if worker.job_id else None
        if job is not None and job.status == "running":
            job.error = "job worker process died"
            self._background(self._finish(job, "failed"))
        self._spawn()
