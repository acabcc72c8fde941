"""A run's files as the engine uses them: one facade over the artifacts package that knows
the run's dirs (workspace and/or global mirror) and indexes what it writes."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Any

from agentloop.artifacts.layout import RunDir, kind_of
from agentloop.artifacts.tee import TeeLog, write_small
from agentloop.artifacts.writer import ArtifactWriter
from agentloop.engine.context import RunContext


class RunFiles:
    def __init__(self, ctx: RunContext) -> None:
        self.ctx = ctx

    @cached_property
    def run_dir(self) -> RunDir:
        config = self.ctx.config
        return RunDir.for_run(
            self.ctx.run_id,
            workspace_root=self.ctx.workspace,
            global_log_dir=self.ctx.global_log_dir,
            log_dir=config.log_dir,
            mode=config.artifact_mode,
        )

    @cached_property
    def writer(self) -> ArtifactWriter:
        return ArtifactWriter(self.run_dir, self.ctx.store)

    @property
    def primary_dir(self) -> Path:
        return self.run_dir.primary

    def path(self, name: str) -> Path:
        return self.run_dir.safe_path(name)

    def exists(self, name: str) -> bool:
        return self.path(name).exists()

    def read(self, name: str) -> str:
        return self.writer.read_text(name)

    def write(self, name: str, text: str) -> Path:
        """Write (atomically) and index a small file; its kind comes from its name."""
        self.writer.ensure_dirs()
        self.writer.write_text(name, text, atomic=True)
        return self.path(name)

    def finish_logs(self, log: TeeLog, events_log: TeeLog | None) -> list[dict[str, Any]]:
        """Close a step's streamed logs and write the iteration's tail; the artifact index
        rows of every copy, for the transaction that finishes the step."""
        copies = log.close()
        if log.name.startswith("iter-"):
            tail = "".join(f"{line}\n" for line in log.tail)
            copies += write_small(self.run_dir, log.name.replace(".log", ".tail.txt"), tail)
        if events_log is not None:
            copies += events_log.close()
        return [
            {
                "kind": kind_of(c.name),
                "location": c.location,
                "path": str(c.path),
                "checksum": c.checksum,
                "size": c.size,
            }
            for c in copies
        ]
