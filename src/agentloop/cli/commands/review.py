"""The review workflow (SPEC 8): ``merge``, ``scrap``, ``create-pr`` and ``postmortem``.

Each is one call to loopd. A loopd without the endpoint (older than this loopctl) answers
404/405 for the route itself: that is reported as such, not as "no such run".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import click

from agentloop.cli.context import client_options
from agentloop.cli.refs import RUN
from agentloop.cli.render import emit

_REFERENCE_ONLY = frozenset({"commit", "url", "analysis_dir", "artifacts"})
"""Answer keys for the reference's clients (SPEC 20): the run's own fields say the same."""
_DONE = {
    "merge": "merged",
    "scrap": "scrapped (branch and worktree deleted)",
    "create-pr": "opened a pull request for",
    "postmortem": "postmortem of",
}


@dataclass(frozen=True)
class ReviewResult:
    action: str
    run: dict[str, Any]
    answer: Any

    def to_text(self) -> str:
        head = f"{_DONE[self.action]} {self.run.get('name')} ({self.run['id']})"
        if isinstance(self.answer, dict):
            inner = self.answer.get("run")
            nested: dict[str, Any] = inner if isinstance(inner, dict) else {}
            facts: dict[str, Any] = {}
            for key, value in self.answer.items():
                if key == "run" or key in _REFERENCE_ONLY:
                    continue
                if isinstance(value, dict):  # e.g. {"postmortem": {"status": ...}}
                    facts.update({k: v for k, v in value.items() if k not in facts})
                else:
                    facts[key] = value
            text = facts.pop("text", None)  # the postmortem itself: shown as a block
            for key in ("pr_url", "merge_commit", "review_status", "status"):
                if nested.get(key) and key not in facts:
                    facts[key] = nested[key]
            lines = [head + ":"] + [f"  {k}: {_text(v)}" for k, v in facts.items() if v is not None]
            if isinstance(text, str) and text.strip():
                lines += ["", text.rstrip("\n")]
            return "\n".join(lines) if len(lines) > 1 else head
        if isinstance(self.answer, str) and self.answer:
            return f"{head}:\n{self.answer}"
        return head

    def to_json(self) -> dict[str, Any]:
        return {"action": self.action, "run_id": self.run["id"], "result": self.answer}


def review_call(action: str, ref: str, method: str = "POST") -> ReviewResult:
    from agentloop.cli.client import run_path
    from agentloop.cli.errors import ApiError, ClientError
    from agentloop.cli.refs import connect, resolve_run

    client = connect()
    run = resolve_run(client, ref)
    path = run_path(run["id"], action)
    try:
        answer = client.call(method, path, timeout=600.0)
    except ApiError as exc:
        if exc.is_missing_endpoint:
            raise ClientError(
                f"loopd at {client.addr} has no {method} /runs/{{id}}/{action} "
                f"(HTTP {exc.facts['status']}: {exc.message}); it is older than this loopctl",
                status=exc.facts["status"],
            ) from exc
        raise
    return ReviewResult(action, run, answer)


def _text(value: Any) -> str:
    if isinstance(value, dict | list):
        import json

        return json.dumps(value, sort_keys=True)
    return str(value)


@click.command()
@click.argument("ref", metavar="RUN", type=RUN)
def merge(ref: str) -> None:
    """Merge RUN's branch into its merge target (never pushes)."""
    emit(review_call("merge", ref), as_json=client_options().json_output)


@click.command()
@click.argument("ref", metavar="RUN", type=RUN)
def scrap(ref: str) -> None:
    """Throw RUN's work away: delete its branch and worktree."""
    emit(review_call("scrap", ref), as_json=client_options().json_output)


@click.command(name="create-pr")
@click.argument("ref", metavar="RUN", type=RUN)
def create_pr(ref: str) -> None:
    """Open a pull request for RUN's branch (through `gh`)."""
    emit(review_call("create-pr", ref), as_json=client_options().json_output)


@click.command()
@click.argument("ref", metavar="RUN", type=RUN)
@click.option("--show", is_flag=True, help="Show the last postmortem instead of starting one.")
def postmortem(ref: str, show: bool) -> None:
    """Analyse why RUN went the way it did (starts a postmortem; --show reads it)."""
    result = review_call("postmortem", ref, method="GET" if show else "POST")
    emit(result, as_json=client_options().json_output)


@dataclass(frozen=True)
class AnalysisResult:
    """What ``analyze`` started (or, with ``--prompt-only``, wrote)."""

    run: dict[str, Any]
    answer: dict[str, Any]

    def to_text(self) -> str:
        head = f"postmortem {self.answer.get('status')} for run {self.run['id']}"
        paths = [str(p) for p in self.answer.get("artifacts") or []]
        return "\n".join([head, *(f"  {p}" for p in paths)])

    def to_json(self) -> dict[str, Any]:
        return {"action": "analyze", "run_id": self.run["id"], "result": self.answer}


@click.command()
@click.argument("ref", metavar="[RUN]", type=RUN, required=False)
@click.option("--latest", is_flag=True, help="The most recent run (also without RUN).")
@click.option("--model", help="The model to ask (default: the run's).")
@click.option("--prompt-only", is_flag=True, help="Write the prompt; ask no agent.")
def analyze(ref: str | None, latest: bool, model: str | None, prompt_only: bool) -> None:
    """Start a postmortem of RUN, or of the latest run (the reference's name for it)."""
    from agentloop.cli.errors import ClientError
    from agentloop.cli.refs import connect, resolve_run

    if ref and latest:
        raise click.UsageError("give RUN or --latest, not both")
    client = connect()
    if ref:
        run = resolve_run(client, ref)
    else:
        runs, _ = client.list_runs(limit=1)
        if not runs:
            raise ClientError("no runs yet")
        run = runs[0]
    body: dict[str, Any] = {"prompt_only": prompt_only}
    if model:
        body["model"] = model
    answer = client.call("POST", f"/runs/{run['id']}/postmortem", body=body, timeout=600.0)
    emit(AnalysisResult(run, dict(answer)), as_json=client_options().json_output)
