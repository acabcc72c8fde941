"""Schemathesis against the OpenAPI document of a live loopd (issue 6): no request, however
malformed, gets a 5xx, and every answer matches the schema the daemon publishes: its
status code is one the operation declares, its body validates against that code's schema.

Every operation of `/openapi.json` is exercised, none excluded. The SSE endpoints
(`/runs/{run_id}/events`, `/runs/{run_id}/output`, `/events`) declare `text/event-stream`
with no body schema for 200, so the schema check has nothing to say about their frames
(their content is pinned by the engine tests); schemathesis reads such a stream until its
request timeout, and their status codes and 4xx bodies are checked like any other.

`POST /runs` gets a valid workspace and spec in part of its examples (see
``_valid_run_bodies``), so admission sees fuzzed config values, names and templates on an
otherwise admissible request, not only bodies it refuses at the first field.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    response_schema_conformance,
    status_code_conformance,
)

from integration.loopd import Loopd, git, make_workspace
from standins import standin_env

TOKEN = "fuzz-token"
EXAMPLES = 25
CHECKS = [not_a_server_error, status_code_conformance, response_schema_conformance]

# Runs that fuzzed bodies manage to create must be cheap and local: the built-in agent,
# one short iteration, no naming call to an agent CLI.
FUZZ_CONFIG = """\
agent=scripted
model=scripted
run_naming_mode=spec_slug
iterations=1
reviewer=false
postmortem=false
"""


@pytest.fixture(scope="module")
def fuzz_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Loopd, Path, str]]:
    root = tmp_path_factory.mktemp("fuzz")
    workspace = make_workspace(root, tasks=1)
    (workspace / ".loop").mkdir()
    (workspace / ".loop" / "config").write_text(FUZZ_CONFIG)
    git(workspace, "add", ".loop/config")
    git(workspace, "commit", "-q", "-m", "fuzz config")
    loopd = Loopd(root / "data", token=TOKEN, env=standin_env(base={"PATH": os.environ["PATH"]}))
    loopd.start()
    # One real run, so fuzzed references sometimes find a run (by id prefix or name).
    run = loopd.create_run(workspace, name="fuzz target", iterations=1, reviewer=False)
    loopd.wait_status(run["id"], "COMPLETED", "FAILED")
    try:
        yield loopd, workspace, run["id"]
    finally:
        loopd.stop()


@pytest.fixture(scope="module")
def api_schema(fuzz_env: tuple[Loopd, Path, str]) -> Any:
    loopd, workspace, run_id = fuzz_env
    schema = schemathesis.openapi.from_url(
        f"{loopd.base}/openapi.json", headers={"Authorization": f"Bearer {TOKEN}"}
    )
    schema.config.update(
        base_url=loopd.base,
        headers={"Authorization": f"Bearer {TOKEN}"},
        request_timeout=3,
    )

    @schema.hook("flatmap_body")
    def _valid_run_bodies(ctx: Any, body: Any) -> Any:
        return _run_bodies(ctx, body, workspace)

    @schema.hook("flatmap_path_parameters")
    def _known_run(ctx: Any, params: Any) -> Any:
        if not isinstance(params, dict) or "run_id" not in params:
            return st.just(params)
        return st.sampled_from([params, {**params, "run_id": run_id}])

    return schema


def _run_bodies(ctx: Any, body: Any, workspace: Path) -> Any:
    operation = ctx.operation
    if operation is None or (operation.method.upper(), operation.path) != ("POST", "/runs"):
        return st.just(body)
    if not isinstance(body, dict):
        return st.just(body)
    admissible = {
        key: value for key, value in body.items() if key not in ("plan_path", "config_path")
    }
    admissible.update(workspace_root=str(workspace), spec_path="specs/demo.md")
    defaults = {k: v for k, v in admissible.items() if k != "config_override"}
    return st.sampled_from([body, admissible, defaults])


def _fuzz(operation: Any, mode: GenerationMode) -> str | None:
    """Run one operation's examples in one mode; the failure text, or None."""

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        derandomize=True,
        database=None,
        phases=[Phase.generate, Phase.shrink],
    )
    def check(case: Any) -> None:
        case.call_and_validate(checks=CHECKS)

    try:
        check()
    except Unsatisfiable:
        # Negative mode on an operation whose every input is valid (no parameters, or one
        # free-form string such as run_id): there is no invalid request to send.
        assert mode is GenerationMode.NEGATIVE, operation.label
        return None
    except (Exception, BaseExceptionGroup) as exc:  # every operation runs; report them all
        return f"{operation.label} [{mode.value}]: {exc}"
    return None


def test_every_operation_answers_within_its_schema(
    api_schema: Any, fuzz_env: tuple[Loopd, Path, str]
) -> None:
    operations = [result.ok() for result in api_schema.get_all_operations()]
    published = {
        (method.upper(), path)
        for path, methods in api_schema.raw_schema["paths"].items()
        for method in methods
    }
    assert {(op.method.upper(), op.path) for op in operations} == published
    failures = [
        failure
        for operation in operations
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
        if (failure := _fuzz(operation, mode)) is not None
    ]
    assert not failures, "\n\n".join(failures)
    # The runs fuzzed bodies created all end: none is left RUNNING with nothing running.
    loopd = fuzz_env[0]
    loopd.wait_for(
        lambda: loopd.request("GET", "/health").json()["runs_active"] == 0,
        timeout=60,
        what="every fuzzed run to end",
    )
