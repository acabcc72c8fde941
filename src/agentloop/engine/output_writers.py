"""Each run's output writer in this process, kept across the run's steps: one batching
writer thread per run, closed when the run ends."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from agentloop.store import Store
    from agentloop.store.output_writer import OutputBatcher

BATCH_DELAY_SEC = 0.01
"""10 ms batches: live output reaches SSE clients within a frame or two, at most a hundred
small commits a second however fast the agent prints."""


class OutputWriters:
    def __init__(self, store: Store) -> None:
        self._store = store
        self._writers: dict[str, OutputBatcher] = {}
        self._lock = threading.Lock()

    def of(self, run_id: str) -> OutputBatcher:
        """The run's output writer, made at its first use."""
        with self._lock:
            writer = self._writers.get(run_id)
            if writer is None:
                writer = self._store.output_batcher(run_id, max_delay=BATCH_DELAY_SEC)
                self._writers[run_id] = writer
            return writer

    def close(self, run_id: str) -> None:
        """The run has ended: flush and close its writer, if it has one."""
        with self._lock:
            writer = self._writers.pop(run_id, None)
        if writer is not None:
            writer.close()
