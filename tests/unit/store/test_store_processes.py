"""Two processes appending to one run in one SQLite file still get gap-free seqs."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from agentloop.core.types import EventType, NameSource
from agentloop.store import Store, make_engine, migrate

_WRITER = textwrap.dedent(
    """
    import sys
    from agentloop.core.types import EventType
    from agentloop.store import Store, make_engine

    url, run_id, who = sys.argv[1:4]
    engine = make_engine(url)
    store = Store(engine)
    print("ready", flush=True)
    sys.stdin.readline()
    for index in range(200):
        store.append_event(run_id, EventType.WATCHDOG_SIGNAL, {"who": who, "index": index})
    engine.dispose()
    """
)


def test_two_processes_append_without_gaps(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'loopd.db'}"
    engine = make_engine(url)
    migrate(engine)
    store = Store(engine)
    run = store.create_run(
        name="shared", name_source=NameSource.USER, workspace_root="/ws", spec_path="s",
        plan_path="p", config={},
    )  # fmt: skip
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", _WRITER, url, run.id, who],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for who in ("a", "b")
    ]
    for writer in writers:  # start both only once both have imported everything
        assert writer.stdout is not None and writer.stdout.readline().strip() == "ready"
    for writer in writers:
        assert writer.stdin is not None
        writer.stdin.write("go\n")
        writer.stdin.flush()
    for writer in writers:
        assert writer.wait(timeout=120) == 0
    appended = store.events_after(run.id)
    assert [event.seq for event in appended] == list(range(1, 402))
    for who in ("a", "b"):
        indexes = [e.payload["index"] for e in appended if e.payload.get("who") == who]
        assert indexes == list(range(200))
    assert appended[0].event_type == EventType.RUN_CREATED
    engine.dispose()
