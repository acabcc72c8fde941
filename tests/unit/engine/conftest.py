"""The engine in-process: a real SQLite store in tmp_path, the engine runtime installed around
it, and a real git repository as the workspace (no loopd, no subprocess of ours).

``make_run(status=..., state=..., **config)`` stores a run of that workspace in the state a
test starts from. ``fake_dbos`` stands in for DBOS at the one boundary the control calls
cross (the workflow plane: cancel, resume, rewind, send); it records every call, with the
run's process kills, in one ordered log.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from agentloop.core.config import Config
from agentloop.core.types import EventType, NameSource, RunStatus
from agentloop.engine import runtime as runtime_module
from agentloop.engine.history import RunState
from agentloop.engine.runtime import Runtime
from agentloop.engine.settings import DaemonSettings
from agentloop.store import Bus, Store, make_engine, migrate

SPEC = "specs/demo.md"
PLAN = "specs/planning/demo-plan.md"
OPEN_PLAN = "# Plan\n\n- [x] first task\n- [ ] second task\n- [ ] third task\n"

from gitenv import isolated_git  # noqa: E402, F401  (autouse)


def git(cwd: Path, *args: str) -> str:
    """Test scaffolding: plain git, independent of the code under test."""
    env = {**os.environ, "LC_ALL": "C", "GIT_CONFIG_NOSYSTEM": "1"}
    env.setdefault("GIT_CONFIG_GLOBAL", os.devnull)  # session fixtures run before isolated_git
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, env=env)
    if done.returncode != 0:
        raise AssertionError(f"git {args} failed: {done.stderr}")
    return done.stdout.strip()


def init_repo(path: Path, files: dict[str, str] | None = None) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    git(path, "init", "-q", "-b", "main")
    git(path, "config", "user.name", "Test User")
    git(path, "config", "user.email", "test@example.com")
    for name, text in (files or {}).items():
        target = path / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    git(path, "add", "-A")
    git(path, "commit", "-q", "--allow-empty", "-m", "initial")
    return path


@pytest.fixture(scope="session")
def workspace_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    files = {"README.md": "demo\n", SPEC: "# Demo\n\nBuild the demo.\n", PLAN: OPEN_PLAN}
    return init_repo(tmp_path_factory.mktemp("template") / "ws", files)


@pytest.fixture
def workspace(workspace_template: Path, tmp_path: Path) -> Path:
    """A git repository with a spec and its plan (two tasks open), committed on main: a
    copy of one made once (a repository holds no absolute path of its own)."""
    return Path(shutil.copytree(workspace_template, tmp_path / "ws", symlinks=True)).resolve()


@pytest.fixture
def settings(tmp_path: Path) -> DaemonSettings:
    (tmp_path / "data").mkdir()
    return DaemonSettings(data_dir=tmp_path / "data")


@pytest.fixture(scope="session")
def migrated_database(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A database file with our tables and DBOS's (as loopd's), migrated once; each test
    gets a copy (migrating is the slow part)."""
    from dbos import DBOS

    path = tmp_path_factory.mktemp("template") / "loopd.db"
    engine = make_engine(f"sqlite:///{path}")
    migrate(engine)
    engine.dispose()  # the last connection closed: the WAL is checkpointed into the file
    DBOS.migrate(f"sqlite:///{path}")
    return path


@pytest.fixture
def store(settings: DaemonSettings, migrated_database: Path) -> Iterator[Store]:
    """Our tables in the daemon's database file (where DBOS keeps its own, as in loopd)."""
    for suffix in ("", "-wal", "-shm"):
        source = Path(f"{migrated_database}{suffix}")
        if source.exists():
            shutil.copyfile(source, f"{settings.data_dir / 'loopd.db'}{suffix}")
    engine = make_engine(settings.system_database_url)
    yield Store(engine, bus=Bus())
    engine.dispose()


@pytest.fixture
def runtime(
    store: Store, settings: DaemonSettings, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Runtime]:
    """The engine's runtime over the test store, installed as the process's one runtime."""
    installed = Runtime(settings=settings, store=store)
    monkeypatch.setattr(runtime_module, "_current", installed)
    yield installed
    installed.queue.close()  # the DBOS client an enqueue opened


MakeRun = Callable[..., str]


@pytest.fixture
def make_run(store: Store, workspace: Path, runtime: Runtime) -> MakeRun:
    def make(
        status: RunStatus = RunStatus.RUNNING,
        *,
        reason: str | None = None,
        state: RunState | None = None,
        worktree: Path | None = None,
        run_branch: str | None = None,
        **config: Any,
    ) -> str:
        resolved = dataclasses.replace(Config(), **config)
        run = store.create_run(
            name="demo",
            name_source=NameSource.USER,
            workspace_root=str(workspace),
            spec_path=str(workspace / SPEC),
            plan_path=str(workspace / PLAN),
            config=resolved.to_json(),
            agent=resolved.agent.value,
            base_branch="main",
            run_branch=run_branch,
            worktree_path=str(worktree) if worktree else None,
            worktree_provider="git" if worktree else None,
            merge_target_branch=resolved.merge_target_branch,
            merge_strategy=resolved.merge_strategy,
            state=(state or RunState()).to_json(),
        )
        if status is not RunStatus.PENDING:
            store.append_event(
                run.id,
                EventType.RUN_STARTED,
                {"worker_id": "local"},
                key="run_started",
                run_changes={"status": RunStatus.RUNNING.value, "started_at": store.now_ms()},
            )
        if status not in (RunStatus.PENDING, RunStatus.RUNNING):
            store.update_run(run.id, status=status.value, reason=reason)
        return run.id

    return make


def event_types(store: Store, run_id: str) -> list[EventType]:
    return [event.event_type for event in store.events_after(run_id)]


def events_of(store: Store, run_id: str, kind: EventType) -> list[dict[str, Any]]:
    return [e.payload for e in store.events_after(run_id) if e.event_type is kind]


@dataclass
class WorkflowStatus:
    status: str
    app_version: str | None = None
    executor_id: str = ""  # as DaemonSettings in these tests


@dataclass
class FakeDbos:
    """DBOS's workflow plane as the control calls see it: each workflow's status, and every
    call in order. ``kill`` entries are the runtime's process kills, in the same log."""

    statuses: dict[str, str] = field(default_factory=dict)
    calls: list[tuple[Any, ...]] = field(default_factory=list)
    versions: dict[str, str] = field(default_factory=dict)
    """Each workflow's application version, when not this loopd's (None)."""

    def names(self) -> list[str]:
        return [call[0] for call in self.calls]

    before_cancel: Callable[[str], None] | None = None
    """What happens just before a cancel_workflow lands (see :func:`ends_as_it_is_cancelled`)."""

    def cancel_workflow(self, workflow_id: str) -> None:
        if self.before_cancel is not None:
            self.before_cancel(workflow_id)
        self.calls.append(("cancel_workflow", workflow_id))
        if self.statuses.get(workflow_id) in {"PENDING", "ENQUEUED", None}:
            self.statuses[workflow_id] = "CANCELLED"

    def get_workflow_status(self, workflow_id: str) -> WorkflowStatus | None:
        status = self.statuses.get(workflow_id)
        return WorkflowStatus(status, self.versions.get(workflow_id)) if status else None

    def resume_workflow(self, workflow_id: str, **options: Any) -> None:
        self.calls.append(("resume_workflow", workflow_id, options))
        self.statuses[workflow_id] = "ENQUEUED"

    def rewind_workflow(self, workflow_id: str, **options: Any) -> None:
        self.calls.append(("rewind_workflow", workflow_id, options))
        self.statuses[workflow_id] = "ENQUEUED"
        if "application_version" in options:
            self.versions.pop(workflow_id, None)

    def send(self, destination_id: str, message: Any, topic: str | None = None) -> None:
        self.calls.append(("send", destination_id, message, topic))

    def list_workflow_steps(self, workflow_id: str, **_: Any) -> list[dict[str, Any]]:
        return []

    def start_workflow(self, workflow: Callable[..., Any], *args: Any) -> None:
        """Run the workflow's body in a thread of its own, as DBOS would; its steps are
        plain calls outside a launched DBOS."""
        self.calls.append(("start_workflow", workflow.__name__, *args))
        threading.Thread(target=workflow.__wrapped__, args=args, daemon=True).start()


def ends_as_it_is_cancelled(
    fake: FakeDbos, runtime: Runtime, run_id: str, ending: RunStatus = RunStatus.COMPLETED
) -> None:
    """The run's own finish step records ``ending`` just before a control call's
    cancel_workflow lands: the race a pause or cancel can lose."""
    from agentloop.engine import finish
    from agentloop.engine.context import RunContext

    def finish_first(_workflow_id: str) -> None:
        finish.finish_run(RunContext.load(runtime, run_id, step_key=90), ending, None)

    fake.before_cancel = finish_first


@pytest.fixture
def fake_dbos(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> FakeDbos:
    from dbos import DBOS

    fake = FakeDbos()
    for name in (
        "cancel_workflow",
        "get_workflow_status",
        "resume_workflow",
        "rewind_workflow",
        "send",
        "list_workflow_steps",
        "start_workflow",
    ):
        monkeypatch.setattr(DBOS, name, staticmethod(getattr(fake, name)))
    monkeypatch.setattr(
        runtime.interrupts, "kill_processes", lambda run_id: fake.calls.append(("kill", run_id))
    )
    return fake
