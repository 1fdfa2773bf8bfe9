"""``WS /v1/jobs/{id}/events``: a job's progress streamed to one WebSocket client."""

from __future__ import annotations

import asyncio
import json

from fastapi import WebSocket, WebSocketDisconnect

from target.jobs import FINAL, JobManager, event_message


async def follow_job(ws: WebSocket, jobs: JobManager, job_id: str) -> None:
    """Current state first, then every progress message until a final status."""
    await ws.accept()
    updates = jobs.subscribe(job_id)
    receiver = asyncio.ensure_future(ws.receive())
    try:
        doc = await jobs.get(job_id)
        if doc is None:
            await ws.send_text(
                json.dumps({"error": {"code": "not_found", "message": "no job with that id"}})
            )
            await ws.close(4404)
            return
        await ws.send_text(json.dumps(event_message(doc)))
        status = doc["status"]
        while status not in FINAL:
            getter = asyncio.ensure_future(updates.get())
            done, _ = await asyncio.wait({getter, receiver}, return_when=asyncio.FIRST_COMPLETED)
            if receiver in done:
                getter.cancel()
                if receiver.result().get("type") == "websocket.disconnect":
                    return
                receiver = asyncio.ensure_future(ws.receive())
                continue
            message = getter.result()
            status = message["status"]
            await ws.send_text(json.dumps(message))
        await ws.close(1000)
    except (WebSocketDisconnect, RuntimeError):
        pass
    finally:
        receiver.cancel()
        jobs.unsubscribe(job_id, updates)
