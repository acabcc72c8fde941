"""The decoders of this suite are as strict as the reference's: the shapes loopd served
before SPEC 20 fail them (so the suite would have caught what broke the reference's
clients), and what they accept is what serde and the dashboard accept."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import ValidationError

from integration.compat.reference import (
    DiffFile,
    EventStream,
    OutputStream,
    Run,
    event_source,
    js_length,
    loopctl_tail,
)

RUN: dict[str, Any] = {
    "id": "r1", "name": "demo", "name_source": "spec_slug", "status": "PENDING",
    "workspace_root": "/ws", "spec_path": "/ws/specs/demo.md", "plan_path": None,
    "worktree": None, "created_at": "2026-01-01T00:00:00.000Z",
    "updated_at": "2026-01-01T00:00:00+01:00", "review_status": "pending",
    "config": {"agent": "scripted"}, "iteration": 0,
}  # fmt: skip
NULL_WORKTREE = {
    "base_branch": None, "run_branch": None, "merge_target_branch": None,
    "merge_strategy": "squash", "worktree_path": None, "provider": None,
}  # fmt: skip


def test_a_run_decodes_with_unknown_fields_ignored() -> None:
    assert Run.model_validate_json(json.dumps(RUN)).worktree is None
    assert Run.model_validate_json(json.dumps({**RUN, "plan_path": "p"})).plan_path == "p"


@pytest.mark.parametrize(
    "change",
    [
        {"worktree": NULL_WORKTREE},  # what every run answered before its worktree existed
        {"review_status": None},
        {"name_source": "user"},
        {"status": "running"},
        {"created_at": "2026-01-01 00:00:00"},
        {"created_at": 1767225600000},
        {"name": None},
        {"id": 7},
    ],
)
def test_what_the_reference_refuses(change: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        Run.model_validate_json(json.dumps({**RUN, **change}))


def test_required_fields_must_be_there() -> None:
    for key in ("review_status", "name_source", "created_at", "workspace_root"):
        with pytest.raises(ValidationError):
            Run.model_validate_json(json.dumps({k: v for k, v in RUN.items() if k != key}))


def test_a_diff_file_status_is_a_word() -> None:
    file = {"path": "a", "status": "added", "patch": "", "additions": 1, "deletions": 0}
    assert DiffFile.model_validate_json(json.dumps(file)).status == "added"
    with pytest.raises(ValidationError):
        DiffFile.model_validate_json(json.dumps({**file, "status": "A"}))


def test_loopctl_tail_cannot_split_crlf_frames() -> None:
    frame = 'event: output\r\ndata: {"step_id":"s","offset":0,"content":"%s\\n"}\r\n\r\n'
    crlf = [(frame % "one").encode(), (frame % "two").encode()]
    assert [e.content for e in loopctl_tail(crlf)] == ["two\n"]  # only what is left at the end
    lf = [c.replace(b"\r\n", b"\n") for c in crlf]
    assert [e.content for e in loopctl_tail(lf)] == ["one\n", "two\n"]
    no_step = b'event: output\ndata: {"step_id":null,"offset":0,"content":"x"}\n\n'
    assert loopctl_tail([no_step]) == []  # dropped without a word


def test_the_dashboards_bookkeeping() -> None:
    events = EventStream()
    body = b"".join(
        b"event: %s\nid: %d\ndata: %s\n\n"
        % (kind.encode(), seq, json.dumps(data).encode())
        for seq, (kind, data) in enumerate(
            [
                ("RUN_CREATED", {"id": "e1", "run_id": "r", "event_type": "RUN_CREATED",
                                 "timestamp": 1767225600000, "payload": {}}),
                ("AGENT_RETRY", {"id": "e2", "run_id": "r", "event_type": "AGENT_RETRY",
                                 "timestamp": 1767225600001, "payload": {}}),
                ("RUN_CREATED", {"id": "e1", "run_id": "r", "event_type": "RUN_CREATED",
                                 "timestamp": 1767225600000, "payload": {}}),
            ],
            start=1,
        )
    )  # fmt: skip
    events.take(event_source(body))
    assert [e.id for e in events.received] == ["e1"]  # an unheard name, a duplicate id
    assert events.query() == {"after": "1767225600000"}
    output = OutputStream()
    output.take(
        event_source(b'event: output\ndata: {"step_id":"s","offset":3,"content":"\xc3\xa9\\n"}\n\n')
    )
    assert output.query() == {"offset": "5"} and js_length("\U0001f600") == 2
