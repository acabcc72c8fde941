"""Storage of runs, steps, events, output and artifacts; live fan-out of committed writes.

engine = make_engine(url_for_data_dir(data_dir))     # or a postgresql:// URL
migrate(engine)                                       # at daemon start
bus = Bus()
store = Store(engine, bus=bus)
with store.transaction() as conn:                     # + DBOS enqueue_in_transaction(conn)
    run = store.create_run(conn, name=..., ...)
store.append_event(run.id, EventType.RUN_STARTED, {...},
                   run_changes={"status": RunStatus.RUNNING, "started_at": ms})
async for event in follow_events(store, run.id, after_seq):   # SSE
    ...
"""

from agentloop.core.clock import ms_to_rfc3339, new_id, now_ms, rfc3339_to_ms
from agentloop.store.bus import Bus, Delivery, Subscription
from agentloop.store.changes import Increment, NewEvent, NewOutputLine, StepChange
from agentloop.store.db import (
    PG_SCHEMA,
    TABLE_PREFIX,
    make_engine,
    translate_errors,
    url_for_data_dir,
)
from agentloop.store.follow import follow_events, follow_output
from agentloop.store.migrate import current_revision, head_revision, migrate
from agentloop.store.output_writer import OutputBatcher
from agentloop.store.repository import Store
from agentloop.store.runs import RunCounters
from agentloop.store.steps import StepProcess

__all__ = [
    "PG_SCHEMA",
    "TABLE_PREFIX",
    "Bus",
    "Delivery",
    "Increment",
    "NewEvent",
    "NewOutputLine",
    "OutputBatcher",
    "RunCounters",
    "StepChange",
    "StepProcess",
    "Store",
    "Subscription",
    "current_revision",
    "follow_events",
    "follow_output",
    "head_revision",
    "make_engine",
    "migrate",
    "ms_to_rfc3339",
    "new_id",
    "now_ms",
    "rfc3339_to_ms",
    "translate_errors",
    "url_for_data_dir",
]
