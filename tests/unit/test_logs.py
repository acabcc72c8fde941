"""loopd's log lines with ``--log-format json`` (SPEC 17): one JSON object per line, for our
records, for other libraries' (a logger of theirs, a Python warning) and for tracebacks."""

from __future__ import annotations

import json
import logging
import sys
import threading
import warnings
from collections.abc import Iterator

import pytest
import structlog

from agentloop.logs import configure_logging, get_logger


@pytest.fixture
def json_logs(capsys: pytest.CaptureFixture[str]) -> Iterator[pytest.CaptureFixture[str]]:
    """JSON logging as loopd sets it up, on the test's captured stderr (configured in the
    test's own phase: pytest swaps stderr between phases); the old setup restored after."""
    root = logging.getLogger()
    saved = (root.handlers[:], root.level, sys.excepthook, threading.excepthook)
    try:
        yield capsys
    finally:
        logging.captureWarnings(False)
        root.handlers[:], level, sys.excepthook, threading.excepthook = saved
        root.setLevel(level)
        structlog.reset_defaults()


def lines(capsys: pytest.CaptureFixture[str]) -> list[dict[str, object]]:
    err = capsys.readouterr().err
    return [json.loads(line) for line in err.splitlines() if line.strip()]


def test_every_kind_of_line_is_one_json_object(json_logs: pytest.CaptureFixture[str]) -> None:
    configure_logging("json")
    get_logger(run_id="r1").info("run paused", action="pause")
    logging.getLogger("uvicorn.error").warning("a library says %s", "hello")
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        warnings.warn("an old API", DeprecationWarning, stacklevel=1)
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        logging.getLogger("dbos").exception("failed")
    ours, library, warning, failure = lines(json_logs)
    assert ours["event"] == "run paused" and ours["run_id"] == "r1" and ours["level"] == "info"
    assert library["event"] == "a library says hello" and library["logger"] == "uvicorn.error"
    assert "an old API" in str(warning["event"]) and warning["logger"] == "py.warnings"
    assert failure["level"] == "error" and "RuntimeError: boom" in str(failure["exception"])


def test_an_uncaught_exception_in_a_thread_is_a_json_line(
    json_logs: pytest.CaptureFixture[str],
) -> None:
    configure_logging("json")

    def crash() -> None:
        raise ValueError("in a thread")

    thread = threading.Thread(target=crash, name="crasher")
    thread.start()
    thread.join()
    (record,) = lines(json_logs)
    assert record["level"] == "error" and "crasher" in str(record["event"])
    assert "ValueError: in a thread" in str(record["exception"])
