"""Store: 200k events in one run; append throughput, then a full replay over the API.

Through the Store API (``Store.append_event`` / ``append_events``, the calls the engine
makes), on SQLite (the data dir's ``loopd.db``) and, when it is reachable, on the local
PostgreSQL (a throwaway database, dropped afterwards):

1. single appends: one event per transaction (``--singles`` of them);
2. batched appends: ``--batch`` events per transaction, up to ``--events`` in all, the last
   one ``RUN_COMPLETED`` (so the run is over and its event stream ends);
3. replay: a loopd started on that database streams ``GET /runs/{id}/events?after=0`` to
   its end; the client only counts frames, so the figure is the daemon's. The store's own
   read of the same pages (``events_after``, 500 at a time) is shown beside it.

Prints a table and ends with one JSON line (the README quotes it).
"""

from __future__ import annotations

import argparse
import http.client
import os
import secrets
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from _support import emit, machine_load

from agentloop.core.types import EventType, NameSource, RunStatus
from agentloop.store import NewEvent, Store, make_engine, migrate, url_for_data_dir
from integration.loopd import Loopd

PG_ADMIN_URL = os.environ.get(
    "AGENTLOOP_TEST_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)


def new_event(i: int) -> NewEvent:
    """Events shaped like a run's: STEP_STARTED / STEP_FINISHED pairs."""
    step = f"0190d1c2-7a3b-7c4d-8e5f-{i // 2:012d}"
    if i % 2 == 0:
        payload = {"step_id": step, "phase": "implementation", "attempt": 1, "iteration": i // 2}
        return NewEvent(EventType.STEP_STARTED, payload)
    payload = {
        "step_id": step, "phase": "implementation", "exit_code": 0, "duration_ms": 1234,
        "agent_ms": 1200.5, "output_path": f"logs/loop/run-x/iter-{i // 2:02d}.log",
        "tokens_in": 5120, "tokens_out": 800, "cost_usd": 0.0123,
    }  # fmt: skip
    return NewEvent(EventType.STEP_FINISHED, payload)


def append_all(url: str, total: int, singles: int, batch: int) -> dict[str, Any]:
    engine = make_engine(url)
    try:
        migrate(engine)
        store = Store(engine)
        run = store.create_run(
            name="bench-store", name_source=NameSource.SPEC_SLUG, workspace_root="/nonexistent",
            spec_path="specs/demo.md", plan_path="specs/planning/demo-plan.md", config={},
        )  # fmt: skip
        began = time.perf_counter()
        for i in range(singles):
            new = new_event(i)
            store.append_event(run.id, new.event_type, new.payload)
        single_s = time.perf_counter() - began
        count = 1 + singles  # RUN_CREATED came with the run
        bulk = total - count - 1
        began = time.perf_counter()
        for start in range(0, bulk, batch):
            store.append_events(
                run.id, [new_event(singles + i) for i in range(start, min(start + batch, bulk))]
            )
        batched_s = time.perf_counter() - began
        store.append_event(
            run.id, EventType.RUN_COMPLETED, {"mode": "trailing"},
            run_changes={"status": RunStatus.COMPLETED, "finished_at": store.now_ms()},
        )  # fmt: skip
        last = store.last_seq(run.id)
        began = time.perf_counter()
        after, read = 0, 0
        while page := store.events_after(run.id, after, 500):
            after, read = page[-1].seq, read + len(page)
        store_read_s = time.perf_counter() - began
    finally:
        engine.dispose()
    return {
        "run_id": run.id,
        "events": last,
        "single_appends_per_s": round(singles / single_s),
        "single_append_ms": round(single_s / singles * 1000, 2),
        "batched_appends_per_s": round(bulk / batched_s),
        "batch": batch,
        "store_read_s": round(store_read_s, 2),
        "store_read_events": read,
    }


def replay(daemon: Loopd, run_id: str) -> tuple[float, int, bool]:
    """Seconds to stream the run's events to their end, frames counted, and whether the
    last one was RUN_COMPLETED."""
    conn = http.client.HTTPConnection("127.0.0.1", daemon.port, timeout=300)
    marker = b"\ndata: "  # LF-only frames (routes_stream.SEP)
    frames, carry = 0, b""
    began = time.perf_counter()
    conn.request("GET", f"/runs/{run_id}/events?after=0", headers={"Accept": "text/event-stream"})
    response = conn.getresponse()
    while chunk := response.read(262144):
        data = carry + chunk
        frames += data.count(marker)
        carry = data[-(len(marker) - 1) :]
        tail = data[-4096:]
    elapsed = time.perf_counter() - began
    conn.close()
    return elapsed, frames, b"event: RUN_COMPLETED" in tail


@contextmanager
def postgres_database() -> Iterator[str | None]:
    """A throwaway database on the local PostgreSQL, dropped afterwards; None if unreachable."""
    import psycopg
    from psycopg import sql

    name = f"bench_store_{secrets.token_hex(4)}"
    try:
        admin = psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=3)
    except psycopg.Error as error:
        print(f"PostgreSQL skipped: {str(error).strip().splitlines()[0]}")
        yield None
        return
    with admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        try:
            yield PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
        finally:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def measure(backend: str, url: str, root: Path, args: argparse.Namespace) -> dict[str, Any]:
    print(f"{backend}: appending {args.events} events ...", flush=True)
    result = {"backend": backend, **append_all(url, args.events, args.singles, args.batch)}
    extra = [] if backend == "sqlite" else ["--database-url", url]
    daemon = Loopd(root / "data", args=extra).start(timeout=60)
    try:
        seconds, frames, ended = replay(daemon, result["run_id"])
    finally:
        daemon.stop()
    result.update(
        replay_s=round(seconds, 2),
        replay_events_per_s=round(frames / seconds),
        replay_frames=frames,
        replay_complete=frames == result["events"] and ended,
    )
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--singles", type=int, default=5_000, help="one-per-transaction appends")
    parser.add_argument("--batch", type=int, default=1_000, help="events per batched append")
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()

    results = []
    with tempfile.TemporaryDirectory(prefix="bench-store-") as tmp:
        root = Path(tmp)
        results.append(
            measure("sqlite", url_for_data_dir(root / "sqlite" / "data"), root / "sqlite", args)
        )
        if not args.no_postgres:
            with postgres_database() as url:
                if url is not None:
                    results.append(measure("postgresql", url, root / "pg", args))

    print(f"\n{args.events} events in one run ({machine_load()} at the end)")
    rows = [
        ("single_appends_per_s", "single appends / s"),
        ("single_append_ms", "ms per single append"),
        ("batched_appends_per_s", f"batched ({args.batch}) appends / s"),
        ("store_read_s", "store read, all pages, s"),
        ("replay_s", "API replay to the end, s"),
        ("replay_events_per_s", "API replay events / s"),
        ("replay_complete", "every event replayed"),
    ]
    print(f"{'':<30}" + "".join(f"{r['backend']:>14}" for r in results))
    for key, label in rows:
        print(f"{label:<30}" + "".join(f"{r[key]!s:>14}" for r in results))
    summary: dict[str, Any] = {"bench": "store", "events": args.events}
    for r in results:
        prefix = "sqlite" if r["backend"] == "sqlite" else "pg"
        summary[f"{prefix}_single_per_s"] = r["single_appends_per_s"]
        summary[f"{prefix}_batched_per_s"] = r["batched_appends_per_s"]
        summary[f"{prefix}_replay_s"] = r["replay_s"]
    summary["all_replayed"] = all(r["replay_complete"] for r in results)
    summary["results"] = results
    emit(summary)
    return 0 if summary["all_replayed"] else 1


if __name__ == "__main__":
    sys.exit(main())
