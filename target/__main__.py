"""``python -m target``: serve the reference API with uvicorn.

The listening socket is bound here, before uvicorn starts, so a port in use or
a bad address is one line and exit 2, ``--port 0`` works, and the first line
on stdout says exactly where the target listens.
"""

from __future__ import annotations

import shutil
import signal
import socket
import sqlite3
import sys
import tempfile
from pathlib import Path

GRACEFUL_SHUTDOWN_S = 3


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


class _Stop:
    """SIGTERM (what launchers send) as a request to stop, never an exception raised in
    whatever code it lands in: before serving it skips the server; while serving it asks
    uvicorn to shut down (uvicorn also re-raises a SIGTERM it caught, after its shutdown)."""

    asked = False
    server: object = None

    @classmethod
    def handle(cls, _signum: int, _frame: object) -> None:
        cls.asked = True
        if cls.server is not None:
            cls.server.should_exit = True  # type: ignore[attr-defined]


def main(argv: list[str] | None = None) -> int:
    from target.config import build_parser, config_from_args

    parser = build_parser()
    args = parser.parse_args(argv)
    config = config_from_args(args, parser)
    scratch = None
    if config.db_path is None:
        scratch = Path(tempfile.mkdtemp(prefix="quantload-target-"))
        config = config.__class__(**{**config.__dict__, "db_path": scratch / "target.db"})
    # SIGTERM ends the target as cleanly as Ctrl-C: exit 0, the scratch database removed.
    signal.signal(signal.SIGTERM, _Stop.handle)
    try:
        return _serve(args, config, parser)
    except KeyboardInterrupt:
        return 0
    finally:
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)


def _serve(args, config, parser) -> int:
    """Check the database and the address (one line and exit 2 when bad), then serve."""
    if not config.db_path.parent.is_dir():
        parser.error(f"--db: directory {str(config.db_path.parent)!r} does not exist")
    try:
        sqlite3.connect(config.db_path).execute("PRAGMA journal_mode=WAL").close()
    except sqlite3.Error as exc:
        parser.error(f"--db {str(config.db_path)!r}: {exc}")
    try:
        sock = _bind(args.host, args.port)
    except (OSError, OverflowError) as exc:
        parser.error(f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}")

    import uvicorn

    from target.app import build_app

    try:
        try:
            app = build_app(config)
        except Exception as exc:  # noqa: BLE001 - e.g. an unusable --db file
            sys.stderr.write(f"{parser.prog}: error: {exc}\n")
            return 2
        host, port = sock.getsockname()[:2]
        shown = f"[{host}]" if ":" in host else host
        print(f"quantload target listening on http://{shown}:{port}", flush=True)
        server = uvicorn.Server(
            uvicorn.Config(
                app,
                log_level=args.log_level,
                access_log=False,
                lifespan="on",
                timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S,
                server_header=False,
            )
        )
        _Stop.server = server
        if _Stop.asked:  # stopped before it served: a clean stop all the same
            return 0
        server.run(sockets=[sock])
        return 0 if server.started or _Stop.asked else 1
    finally:
        sock.close()


if __name__ == "__main__":
    sys.exit(main())
