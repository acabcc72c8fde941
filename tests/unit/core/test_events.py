import json
import pickle

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agentloop.core.errors import AgentloopError, EventPayloadError
from agentloop.core.events import PAYLOADS, parse_payload, payload_for
from agentloop.core.types import EventType

SPEC_FIELDS = {
    EventType.RUN_CREATED: {"name", "name_source", "spec_path", "plan_path"},
    EventType.RUN_STARTED: {"worker_id"},
    EventType.WORKTREE_PROVIDER_SELECTED: {"provider"},
    EventType.WORKTREE_CREATED: {"provider", "worktree_path", "run_branch"},
    EventType.STEP_STARTED: {"step_id", "phase", "attempt", "iteration"},
    EventType.STEP_FINISHED: {
        "step_id",
        "phase",
        "exit_code",
        "duration_ms",
        "output_path",
        "tokens_in",
        "tokens_out",
        "cost_usd",
    },
    EventType.AGENT_RETRY: {"attempt", "reason", "backoff_ms"},
    EventType.VERIFICATION_FAILED: {"command", "exit_code"},
    EventType.WATCHDOG_SIGNAL: {"signal", "detail"},
    EventType.AGENT_HOLD: {"agent", "resume_at"},
    EventType.WATCHDOG_REWRITE: {"signal", "prompt_before", "prompt_after"},
    EventType.WATCHDOG_ESCALATED: {"signal", "to_agent"},
    EventType.MEASUREMENT: {"iteration", "metric", "value", "best", "kept", "reason", "commit"},
    EventType.NOTE_ADDED: {"note_id", "text", "file", "line", "source"},
    EventType.NOTE_DELIVERED: {"note_id", "step_id"},
    EventType.RUN_PAUSED: set(),
    EventType.RUN_RESUMED: set(),
    EventType.MERGE_COMPLETED: {"target", "strategy", "commit"},
    EventType.RUN_COMPLETED: {"mode"},
    EventType.RUN_FAILED: {"reason"},
    EventType.RUN_CANCELED: set(),
    EventType.WORKTREE_REMOVED: set(),
    EventType.POSTMORTEM_START: set(),
    EventType.POSTMORTEM_END: set(),
}

EXAMPLES = {
    EventType.RUN_CREATED: {
        "name": "Fix login",
        "name_source": "haiku",
        "spec_path": "s.md",
        "plan_path": "p.md",
    },
    EventType.RUN_STARTED: {"worker_id": "host-1"},
    EventType.WORKTREE_PROVIDER_SELECTED: {"provider": "git"},
    EventType.WORKTREE_CREATED: {
        "provider": "worktrunk",
        "worktree_path": "/wt",
        "run_branch": "run/x",
    },
    EventType.STEP_STARTED: {
        "step_id": "s1",
        "phase": "implementation",
        "attempt": 1,
        "iteration": 0,
    },
    EventType.STEP_FINISHED: {
        "step_id": "s1",
        "phase": "review",
        "exit_code": 0,
        "duration_ms": 1200,
        "output_path": "review-01.log",
        "tokens_in": 10,
        "tokens_out": 5,
        "cost_usd": 0.01,
    },
    EventType.AGENT_RETRY: {"attempt": 2, "reason": "overloaded", "backoff_ms": 5000},
    EventType.VERIFICATION_FAILED: {"command": "make test", "exit_code": 2},
    EventType.WATCHDOG_SIGNAL: {"signal": "no_progress", "detail": "3 iterations"},
    EventType.AGENT_HOLD: {"agent": "claude", "resume_at": 1700000000.0},
    EventType.WATCHDOG_ESCALATED: {"signal": "no_progress", "to_agent": "codex"},
    EventType.NOTE_ADDED: {
        "note_id": "n1",
        "text": "Use tabs.",
        "file": "src/app.py",
        "line": 3,
        "source": "cli",
    },
    EventType.NOTE_DELIVERED: {"note_id": "n1", "step_id": "s1"},
    EventType.MEASUREMENT: {
        "iteration": 2,
        "metric": "score",
        "value": 0.5,
        "best": 0.5,
        "kept": True,
        "reason": "better than 0.25",
        "commit": "abc123",
    },
    EventType.WATCHDOG_REWRITE: {
        "signal": "repeated_task",
        "prompt_before": "prompt.txt",
        "prompt_after": "prompt.rewrite.1.txt",
    },
    EventType.RUN_PAUSED: {},
    EventType.RUN_RESUMED: {},
    EventType.MERGE_COMPLETED: {"target": "main", "strategy": "squash", "commit": "abc123"},
    EventType.RUN_COMPLETED: {"mode": "trailing"},
    EventType.RUN_FAILED: {"reason": "iteration_limit"},
    EventType.RUN_CANCELED: {},
    EventType.WORKTREE_REMOVED: {},
    EventType.POSTMORTEM_START: {},
    EventType.POSTMORTEM_END: {},
}


def test_every_event_type_has_a_payload_model() -> None:
    assert set(PAYLOADS) == set(EventType)


@pytest.mark.parametrize("event_type", list(EventType))
def test_required_fields_are_exactly_the_spec_fields(event_type: EventType) -> None:
    fields = PAYLOADS[event_type].model_fields
    required = {name for name, field in fields.items() if field.is_required()}
    spec_fields = SPEC_FIELDS[event_type]
    # STEP_FINISHED's tokens default to 0: an agent may not report them. Its cost is
    # required, None when not reported (null in the payload, not $0).
    defaulted = {"tokens_in", "tokens_out"} if event_type is EventType.STEP_FINISHED else set()
    assert required == spec_fields - defaulted
    assert spec_fields <= set(fields)


@pytest.mark.parametrize("event_type", list(EventType))
def test_payload_for_returns_the_spec_fields_as_json(event_type: EventType) -> None:
    payload = payload_for(event_type, **EXAMPLES[event_type])
    assert set(payload) == SPEC_FIELDS[event_type]
    assert payload == EXAMPLES[event_type]
    assert json.loads(json.dumps(payload)) == payload


def test_defaults_and_nullable_spec_fields_stay_in_the_payload() -> None:
    payload = payload_for(
        EventType.STEP_FINISHED,
        step_id="s",
        phase="merge",
        exit_code=None,
        duration_ms=0,
        output_path=None,
        cost_usd=None,
    )
    assert payload == {
        "step_id": "s",
        "phase": "merge",
        "exit_code": None,
        "duration_ms": 0,
        "output_path": None,
        "tokens_in": 0,
        "tokens_out": 0,
        "cost_usd": None,  # no cost reported: null, not $0
    }


def test_optional_and_extra_fields_pass_through_and_unset_ones_are_dropped() -> None:
    assert payload_for("RUN_PAUSED", reason="usage_limit", resume_at=1700000000) == {
        "reason": "usage_limit",
        "resume_at": 1700000000.0,
    }
    assert payload_for("RUN_CANCELED", reason=None) == {}
    assert payload_for("RUN_FAILED", reason="budget_cost", cost_usd=3.2) == {
        "reason": "budget_cost",
        "cost_usd": 3.2,
    }


@pytest.mark.parametrize(
    ("event_type", "fields", "problem"),
    [
        ("RUN_STARTED", {}, "worker_id: Field required"),
        (
            "STEP_STARTED",
            {"step_id": "s", "phase": "coding", "attempt": 1, "iteration": 0},
            "phase",
        ),
        (
            "STEP_STARTED",
            {"step_id": "s", "phase": "review", "attempt": 0, "iteration": 0},
            "attempt",
        ),
        ("AGENT_RETRY", {"attempt": 1, "reason": "x", "backoff_ms": -1}, "backoff_ms"),
        ("WATCHDOG_SIGNAL", {"signal": "bored", "detail": ""}, "signal"),
        ("AGENT_HOLD", {"agent": "claude", "resume_at": float("nan")}, "resume_at"),
        ("MERGE_COMPLETED", {"target": "m", "strategy": "rebase", "commit": "c"}, "strategy"),
        ("RUN_FAILED", {"reason": 3}, "reason"),
        ("RUN_PAUSED", {"resume_at": "tomorrow"}, "resume_at"),
        ("NOT_AN_EVENT", {}, "unknown event type"),
    ],
)
def test_bad_payloads_raise_event_payload_error(
    event_type: str, fields: dict, problem: str
) -> None:
    with pytest.raises(EventPayloadError) as caught:
        payload_for(event_type, **fields)
    assert problem in str(caught.value)
    assert isinstance(caught.value, AgentloopError)


def test_extra_values_must_be_json_safe() -> None:
    with pytest.raises(EventPayloadError, match="not JSON-safe"):
        payload_for("RUN_FAILED", reason="x", thing=object())


def test_event_payload_error_pickles() -> None:
    with pytest.raises(EventPayloadError) as caught:
        payload_for("RUN_STARTED")
    copy = pickle.loads(pickle.dumps(caught.value))
    assert type(copy) is EventPayloadError
    assert str(copy) == str(caught.value) and copy.facts == {"event_type": "RUN_STARTED"}


@pytest.mark.parametrize("event_type", list(EventType))
def test_parse_payload_reads_back_what_payload_for_wrote(event_type: EventType) -> None:
    payload = payload_for(event_type, **EXAMPLES[event_type])
    assert parse_payload(event_type, payload).to_json() == payload


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=5,
)


@given(
    st.sampled_from(list(EventType)),
    st.dictionaries(
        st.sampled_from(sorted({f for s in SPEC_FIELDS.values() for f in s})), json_values
    ),
)
def test_payload_for_raises_only_event_payload_error(event_type: EventType, fields: dict) -> None:
    try:
        payload = payload_for(event_type, **fields)
    except EventPayloadError:
        return
    assert SPEC_FIELDS[event_type] <= set(payload)
    assert json.loads(json.dumps(payload)) == payload
