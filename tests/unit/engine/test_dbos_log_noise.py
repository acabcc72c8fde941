"""DBOS's echo of a pause or cancel is not trouble: its ERROR traceback of the cancelled
workflow and its "cancelled / no longer owned" warnings are demoted to DEBUG and hidden at
INFO; DBOS's other lines pass unchanged. Records are built as DBOS logs them (dbos
``_core.py``)."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator

import pytest
from dbos._error import DBOSAwaitedWorkflowCancelledError, DBOSWorkflowCancelledError

from agentloop.engine.runtime import _DropCancelNoise

WF = "01a240f6-e0df-751b-812a-15a5cf97067b"


def record(level: int, message: str, exc: BaseException | None = None) -> logging.LogRecord:
    exc_info = None
    if exc is not None:
        try:
            raise exc
        except BaseException:
            exc_info = sys.exc_info()
    return logging.LogRecord("dbos", level, "_core.py", 1203, message, None, exc_info)


@pytest.fixture
def root_at_info() -> Iterator[None]:
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.INFO)
    yield
    root.setLevel(level)


@pytest.mark.parametrize(
    "noise",
    [
        record(
            logging.ERROR,
            "Exception encountered in background workflow:",
            DBOSAwaitedWorkflowCancelledError(WF),
        ),
        record(
            logging.ERROR,
            "Exception encountered in background workflow:",
            DBOSWorkflowCancelledError(f"Workflow {WF} was cancelled"),
        ),
        record(
            logging.WARNING,
            f"Workflow {WF} was cancelled during execution. Waiting for the recorded outcome",
        ),
        record(
            logging.WARNING,
            f"Workflow {WF} is no longer owned by this execution. "
            "Waiting for the owner's recorded outcome",
        ),
    ],
    ids=["awaited-cancelled", "cancelled", "cancelled-warning", "no-longer-owned"],
)
def test_a_cancels_echo_is_demoted_and_hidden_at_info(
    noise: logging.LogRecord, root_at_info: None
) -> None:
    assert _DropCancelNoise().filter(noise) is False
    assert noise.levelno == logging.DEBUG


def test_a_cancels_echo_shows_as_debug_when_debug_is_on() -> None:
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.DEBUG)
    try:
        noise = record(logging.ERROR, "Exception:", DBOSAwaitedWorkflowCancelledError(WF))
        assert _DropCancelNoise().filter(noise) is True
        assert noise.levelname == "DEBUG"
    finally:
        root.setLevel(level)


def test_other_dbos_errors_pass_unchanged(root_at_info: None) -> None:
    error = record(
        logging.ERROR, "Exception encountered in background workflow:", RuntimeError("disk full")
    )
    assert _DropCancelNoise().filter(error) is True
    assert error.levelno == logging.ERROR
