"""Naming a run on the command line: a full id, a unique id prefix, or a unique name.

loopd resolves the reference (``GET /runs/{ref}``); when it is ambiguous, loopctl lists the
candidates with their names and statuses so the user can pick a longer prefix. The
``RUN`` argument also completes in the shell from the daemon's recent runs.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

import click

from agentloop.cli.context import client_options
from agentloop.cli.errors import ApiError, ClientError
from agentloop.cli.views import columns, fmt_when

if TYPE_CHECKING:
    from agentloop.cli.client import Loopd

CANDIDATE_SCAN = 1000


def connect() -> Loopd:
    """A client for the global ``--addr`` / ``--token``."""
    from agentloop.cli.client import Loopd

    options = client_options()
    on_wait = None
    if sys.stderr.isatty():
        from agentloop.cli.render import emit_note

        on_wait = emit_note
    return Loopd(options.addr, options.token, on_wait=on_wait)


def resolve_run(client: Loopd, ref: str) -> dict[str, Any]:
    """The run ``ref`` names; :class:`ClientError` listing the candidates when several match."""
    try:
        return client.get_run(ref)
    except ApiError as exc:
        if exc.facts.get("status") != 400 or "matches" not in exc.message:
            raise
        candidates = _candidates(client, ref)
        if not candidates:
            raise
        table = columns(
            ("ID", "NAME", "STATUS", "CREATED"),
            (
                [
                    r["id"],
                    str(r.get("name", "")),
                    str(r.get("status", "")),
                    fmt_when(r.get("created_at")),
                ]
                for r in candidates
            ),
        )
        raise ClientError(
            f"{ref!r} matches {len(candidates)} runs; give more of the id or the full name:\n"
            + table,
            ref=ref,
            matches=[r["id"] for r in candidates],
        ) from exc


def _candidates(client: Loopd, ref: str) -> list[dict[str, Any]]:
    runs, _ = client.list_runs(limit=CANDIDATE_SCAN)
    return [r for r in runs if str(r.get("id", "")).startswith(ref) or r.get("name") == ref]


class RunRef(click.ParamType[str]):
    """A run reference; completes from loopd's recent runs (ids and names)."""

    name = "RUN"

    def shell_complete(
        self, ctx: click.Context, param: click.Parameter, incomplete: str
    ) -> list[Any]:
        from click.shell_completion import CompletionItem

        from agentloop.cli.client import Loopd

        root = ctx.find_root()
        addr = root.params.get("addr") or "http://127.0.0.1:7700"
        try:
            client = Loopd(addr, root.params.get("token"), timeout=1.0, ready_budget=0)
            runs = client.call("GET", "/runs", query={"limit": 100}).get("runs", [])
        except Exception:  # completion must never fail loudly
            return []
        items = []
        for run in runs:
            for word in (run.get("id", ""), run.get("name", "")):
                if word and word.startswith(incomplete):
                    items.append(CompletionItem(word, help=str(run.get("status", ""))))
        return items


RUN = RunRef()
