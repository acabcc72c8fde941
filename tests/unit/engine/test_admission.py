"""Admission (SPEC 2.1, engine.admission): a good request becomes a PENDING run with its
resolved config, enqueued on the run queue with its workspace as the partition key, in one
transaction; a bad one is refused with the reason and creates nothing."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from agentloop.core.errors import InvalidInput
from agentloop.core.run_request import RunRequest
from agentloop.core.types import EventType, NameSource, QueuePolicy, RunStatus
from agentloop.engine.admission import admit
from agentloop.engine.run_queue import QUEUE_NAME, WORKFLOW_NAME
from agentloop.engine.runtime import Runtime
from agentloop.engine.settings import WORKFLOW_VERSION
from agentloop.store import Store

from .conftest import PLAN, SPEC, event_types, git, init_repo


@dataclass
class Queue:
    """The DBOS client's view of the run queue, and the re-registrations a cap change made."""

    client: Any
    registered: list[dict[str, Any]] = field(default_factory=list)

    def workflows(self, *ids: str) -> list[Any]:
        return list(self.client.list_workflows(workflow_ids=list(ids) or None))


@pytest.fixture
def queue(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> Iterator[Queue]:
    """The run queue in the daemon's database (DBOS's tables are there, see conftest). DBOS
    itself is not launched: the queue registration a cap change makes is recorded instead."""
    from dbos import DBOS, DBOSClient

    seen = Queue(DBOSClient(system_database_url=runtime.settings.system_database_url))
    monkeypatch.setattr(
        DBOS,
        "register_queue",
        staticmethod(lambda name, **options: seen.registered.append({"name": name, **options})),
    )
    monkeypatch.setenv("AGENTLOOP_CLAUDE_BIN", "/nonexistent/claude")  # naming: no agent call
    yield seen
    seen.client.destroy()


def request(workspace: Path, **fields: Any) -> RunRequest:
    fields.setdefault("spec_path", SPEC)
    return RunRequest(workspace_root=str(workspace), **fields)


def test_a_good_request_becomes_a_pending_run_and_an_enqueued_workflow(
    runtime: Runtime, store: Store, workspace: Path, queue: Queue
) -> None:
    run = admit(
        runtime,
        request(workspace / "specs", name="  My\tdemo  run ", overrides={"iterations": "7"}),
    )

    assert run.status is RunStatus.PENDING
    assert run.workspace_root == str(workspace)  # the repository root, not the subdirectory
    assert (run.spec_path, run.plan_path) == (str(workspace / SPEC), str(workspace / PLAN))
    assert (run.name, run.name_source) == ("My demo run", NameSource.USER)
    assert run.config["iterations"] == 7
    assert run.config["max_concurrency"] == 3  # the whole resolved config is kept
    assert event_types(store, run.id) == [EventType.RUN_CREATED]
    [workflow] = queue.workflows(run.id)
    assert workflow.status == "ENQUEUED"
    assert (workflow.queue_name, workflow.queue_partition_key) == (QUEUE_NAME, str(workspace))
    assert (workflow.name, workflow.app_version) == (WORKFLOW_NAME, WORKFLOW_VERSION)
    assert queue.registered == []  # no cap was set: the daemon's caps stay


def test_without_a_name_and_without_the_naming_agent_the_spec_slug_names_the_run(
    runtime: Runtime, workspace: Path, queue: Queue
) -> None:
    run = admit(runtime, request(workspace))
    assert (run.name, run.name_source) == ("demo", NameSource.SPEC_SLUG)


def test_caps_set_by_a_run_become_the_daemons_caps(
    runtime: Runtime, store: Store, workspace: Path, queue: Queue
) -> None:
    admit(runtime, request(workspace, overrides={"max_concurrency": "2", "queue_policy": "fifo"}))

    assert runtime.queue.caps.max_concurrency == 2
    assert runtime.queue.caps.queue_policy is QueuePolicy.FIFO
    assert store.get_setting("caps")["max_concurrency"] == 2  # kept across restarts
    assert [(q["name"], q["global_concurrency"]) for q in queue.registered] == [(QUEUE_NAME, 2)]


Refusal = Callable[[Path, Path], RunRequest]


def _relative(ws: Path, tmp: Path) -> RunRequest:
    return RunRequest(workspace_root="ws", spec_path=SPEC)


def _missing_dir(ws: Path, tmp: Path) -> RunRequest:
    return request(tmp / "nowhere")


def _not_git(ws: Path, tmp: Path) -> RunRequest:
    (tmp / "plain").mkdir()
    return request(tmp / "plain")


def _no_commit(ws: Path, tmp: Path) -> RunRequest:
    (tmp / "fresh").mkdir()
    git(tmp / "fresh", "init", "-q")
    return request(tmp / "fresh")


def _symlinked_config(ws: Path, tmp: Path) -> RunRequest:
    (tmp / "elsewhere.conf").write_text("iterations=3\n")
    (ws / ".loop").mkdir()
    (ws / ".loop" / "config").symlink_to(tmp / "elsewhere.conf")
    return request(ws)


REFUSALS: dict[str, tuple[Refusal, str]] = {
    "relative-workspace": (_relative, "workspace_root 'ws' must be an absolute path"),
    "missing-workspace": (_missing_dir, "is not a directory"),
    "not-in-git": (_not_git, "is not inside a git repository"),
    "no-commit": (_no_commit, "has no commit yet"),
    "unknown-field": (
        lambda ws, tmp: request(ws, extra_fields={"bogus": 1, "iterations": 3}),
        "unknown field(s) in request: bogus",
    ),
    "missing-spec": (lambda ws, tmp: request(ws, spec_path="specs/nope.md"), "spec file not found"),
    "missing-plan": (
        lambda ws, tmp: request(ws, plan_path="specs/planning/nope-plan.md"),
        "plan file not found",
    ),
    "spec-outside": (lambda ws, tmp: request(ws, spec_path=str(tmp / "x.md")), "escapes"),
    "log-dir-outside": (
        lambda ws, tmp: request(ws, overrides={"log_dir": "../logs"}),
        "log_dir '../logs' is outside the workspace",
    ),
    "relative-mirror": (
        lambda ws, tmp: request(ws, overrides={"global_log_dir": "mirror"}),
        "global_log_dir 'mirror' must be an absolute path",
    ),
    "config-path-missing": (
        lambda ws, tmp: request(ws, config_path="loop.conf"),
        "config_path 'loop.conf' is not a file",
    ),
    "bad-config-value": (
        lambda ws, tmp: request(ws, overrides={"iterations": "0"}),
        "iterations",
    ),
    "config-symlinked-outside": (_symlinked_config, ".loop/config"),
}


@pytest.mark.parametrize("case", sorted(REFUSALS))
def test_a_bad_request_is_refused_with_its_reason_and_creates_nothing(
    case: str,
    runtime: Runtime,
    store: Store,
    workspace: Path,
    tmp_path: Path,
    queue: Queue,
) -> None:
    build, reason = REFUSALS[case]
    (tmp_path / "x.md").write_text("# outside\n")
    bad = build(workspace, tmp_path)

    with pytest.raises(InvalidInput) as raised:
        admit(runtime, bad)

    assert reason in str(raised.value)
    assert store.list_runs() == ([], 0)
    assert queue.workflows() == []


def test_experiment_mode_needs_no_plan_and_turns_the_reviewer_off(
    runtime: Runtime, workspace: Path, queue: Queue
) -> None:
    (workspace / PLAN).unlink()
    experiment = {"mode": "experiment", "measure_cmd": "./measure", "metric": "score"}

    run = admit(runtime, request(workspace, overrides=experiment))
    assert run.config["reviewer"] is False

    kept = admit(runtime, request(workspace, overrides={**experiment, "reviewer": "true"}))
    assert kept.config["reviewer"] is True


def test_a_second_repository_is_its_own_partition(
    runtime: Runtime, workspace: Path, tmp_path: Path, queue: Queue
) -> None:
    other = init_repo(tmp_path / "other", {SPEC: "# Other\n", PLAN: "- [ ] one\n"}).resolve()

    first = admit(runtime, request(workspace))
    second = admit(runtime, request(other))

    keys = {w.workflow_id: w.queue_partition_key for w in queue.workflows()}
    assert keys == {first.id: str(workspace), second.id: str(other)}
