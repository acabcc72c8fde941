"""Structured logging for loopd: key-value text or JSON lines, run_id/step_id bound per call.

Everything loopd writes goes through the one root handler set up here: our own lines, the
libraries' (uvicorn, DBOS, SQLAlchemy: their loggers propagate to the root, and Python
warnings are captured as log records) and uncaught exceptions of any thread, so with
``--log-format json`` every line is one JSON object, tracebacks included.

Environment values and tokens are never logged: only names we choose go into a record.
"""

from __future__ import annotations

import logging
import sys
import threading
from types import TracebackType

import structlog


def configure_logging(fmt: str = "text", level: int = logging.INFO) -> None:
    renderer: structlog.typing.Processor
    rendering: list[structlog.typing.Processor] = []
    if fmt == "json":
        # A traceback becomes the "exception" field of its line, not lines of its own.
        rendering.append(structlog.processors.format_exc_info)
        renderer = structlog.processors.JSONRenderer()
    else:
        renderer = structlog.dev.ConsoleRenderer(
            colors=False, exception_formatter=structlog.dev.plain_traceback
        )
    shared: list[structlog.typing.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_logger_name,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                *rendering,
                renderer,
            ],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("uvicorn.access", "httpx", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    logging.captureWarnings(True)
    sys.excepthook = _log_uncaught
    threading.excepthook = _log_uncaught_in_thread


def _log_uncaught(kind: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
    logging.getLogger("agentloop").critical("uncaught exception", exc_info=(kind, exc, tb))


def _log_uncaught_in_thread(args: threading.ExceptHookArgs) -> None:
    if args.exc_type is SystemExit or args.exc_value is None:
        return
    thread = args.thread.name if args.thread is not None else "?"
    logging.getLogger("agentloop").error(
        "uncaught exception in thread %s",
        thread,
        exc_info=(args.exc_type, args.exc_value, args.exc_traceback),
    )


def get_logger(**bound: object) -> structlog.stdlib.BoundLogger:
    """A logger with fields such as run_id and step_id bound to every line."""
    return structlog.get_logger("agentloop").bind(**bound)  # type: ignore[no-any-return]
