"""Security (issue 6, SPEC 14 and 17): no endpoint reads or writes outside the workspace or
the run dir for a client, the token guards every endpoint but /health, and a non-loopback
bind without a token warns loudly.

Path-taking inputs and the rule for each:

- `workspace_root`, `spec_path`, `plan_path`, `config_path`: test_api_input.py refuses
  `..` and absolute escapes; here the same through a symlink inside the workspace.
- `log_dir`, `prompt_file` (and `.loop/prompt.txt`), `context_files`, `.loop/config`:
  inside the workspace, symlinks followed; refused at admission (400, nothing created).
- `plans_dir`: the default plan must be inside the workspace (refused like `plan_path`).
- `specs_dir`: only loopctl uses it (to pick a spec); the daemon never reads through it.
- `global_log_dir`: where the user keeps mirrored run dirs (SPEC 13); any absolute path,
  since run dirs go to a fresh `runs/run-<new id>/` under it and never replace a file.
  A relative one is refused: it would land in the daemon's working directory.
- `worktree_path_template`: SPEC 8 places worktrees outside the workspace by default
  (`../{{ repo }}.{{ run_branch | sanitize }}`) and bounds the template nowhere, so any
  path is allowed. What holds: a worktree is never made on the workspace, an ancestor of
  it, or a non-empty directory that is not already the run's worktree, and nothing there
  is changed or removed (not even by the cleanup after the failure).
- branch names (`base_branch`, `merge_target_branch`, `run_branch_prefix`, the merge
  `target`): files under .git/refs, so git's ref-name rules apply; `..` is refused.
- run ids in URLs: looked up in the database (exact id, id prefix with LIKE wildcards
  escaped, or name), never used as a path; `../` in them is simply no run.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from integration.loopd import LOOPD, Loopd, free_port, git, make_workspace
from standins import standin_env

CANARY = "CANARY-7f3a-do-not-read"


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Loopd]:
    """One daemon with a token for the module; its workspaces come from ``place``."""
    root = tmp_path_factory.mktemp("secure")
    loopd = Loopd(root / "data", token="sekrit", env=standin_env(base={"PATH": os.environ["PATH"]}))
    loopd.start()
    yield loopd
    loopd.stop()


@pytest.fixture
def place(tmp_path: Path) -> dict[str, Path]:
    """A workspace beside an `outside` dir holding a canary file and an empty canary dir."""
    outside = tmp_path / "outside"
    (outside / "canary-dir").mkdir(parents=True)
    (outside / "canary.txt").write_text(f"{CANARY}\n")
    (outside / "demo-plan.md").write_text(f"- [ ] {CANARY}\n")
    (outside / "config").write_text(f"model={CANARY}\n")
    workspace = make_workspace(tmp_path, tasks=1, name="ws")
    return {"workspace": workspace, "outside": outside}


def body(workspace: Path, **fields: Any) -> dict[str, Any]:
    override = {"agent": "scripted", "reviewer": False, "postmortem": False}
    override.update(fields.pop("config_override", {}))
    return {
        "spec_path": "specs/demo.md",
        "workspace_root": str(workspace),
        "config_override": override,
        **fields,
    }


def assert_nothing_leaked(
    daemon: Loopd, place: dict[str, Path], *responses: httpx.Response
) -> None:
    outside = place["outside"]
    assert not list((outside / "canary-dir").iterdir())
    assert sorted(p.name for p in outside.iterdir()) == [
        "canary-dir",
        "canary.txt",
        "config",
        "demo-plan.md",
    ]
    for response in responses:
        assert CANARY not in response.text
    for path in place["workspace"].rglob("*"):
        if path.is_file() and not path.is_symlink() and ".git" not in path.parts:
            assert CANARY not in path.read_text(errors="replace"), path


ESCAPES: dict[str, dict[str, Any]] = {
    "log_dir ..": {"config_override": {"log_dir": "../outside/canary-dir"}},
    "log_dir absolute": {"config_override": {"log_dir": "{outside}/canary-dir"}},
    "log_dir top-level": {"log_dir": "../outside/canary-dir"},
    "prompt_file ..": {"config_override": {"prompt_file": "../outside/canary.txt"}},
    "prompt_file absolute": {"config_override": {"prompt_file": "{outside}/canary.txt"}},
    "context_files ..": {"config_override": {"context_files": "notes.md ../outside/canary.txt"}},
    "context_files absolute": {"config_override": {"context_files": ["{outside}/canary.txt"]}},
    "global_log_dir relative": {"config_override": {"global_log_dir": "../outside/canary-dir"}},
    "plans_dir ..": {"config_override": {"plans_dir": "../outside"}},
    "plan_path absolute": {"plan_path": "{outside}/demo-plan.md"},
    "config_path ..": {"config_path": "../outside/config"},
    "spec_path ../..": {"spec_path": "specs/../../outside/canary.txt"},
}


@pytest.mark.parametrize("case", sorted(ESCAPES))
def test_paths_escaping_the_workspace_are_refused_at_admission(
    secured: Loopd, place: dict[str, Path], case: str
) -> None:
    fields = _expand(ESCAPES[case], place["outside"])
    before = secured.request("GET", "/runs").json()["total"]
    response = secured.request("POST", "/runs", json=body(place["workspace"], **fields))
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert any(why in error for why in ("outside the workspace", "escapes", "absolute")), error
    assert secured.request("GET", "/runs").json()["total"] == before
    assert_nothing_leaked(secured, place, response)


SYMLINKED: dict[str, tuple[str, str, dict[str, Any]]] = {
    "spec_path": ("specs/link.md", "canary.txt", {"spec_path": "specs/link.md"}),
    "plan_path": (
        "specs/planning/link.md",
        "demo-plan.md",
        {"plan_path": "specs/planning/link.md"},
    ),
    "config_path": ("link.conf", "config", {"config_path": "link.conf"}),
    "prompt_file": ("link.txt", "canary.txt", {"config_override": {"prompt_file": "link.txt"}}),
    ".loop/prompt.txt": (".loop/prompt.txt", "canary.txt", {}),
    ".loop/config": (".loop/config", "config", {}),
    "log_dir": ("logs", "canary-dir", {}),
}


@pytest.mark.parametrize("case", sorted(SYMLINKED))
def test_symlinks_out_of_the_workspace_are_refused_at_admission(
    secured: Loopd, place: dict[str, Path], case: str
) -> None:
    link, target, fields = SYMLINKED[case]
    workspace = place["workspace"]
    (workspace / link).parent.mkdir(parents=True, exist_ok=True)
    (workspace / link).symlink_to(place["outside"] / target)
    response = secured.request("POST", "/runs", json=body(workspace, **fields))
    assert response.status_code == 400, response.text
    assert_nothing_leaked(secured, place, response)


def test_an_absolute_global_log_dir_gets_only_the_new_run_dir(
    secured: Loopd, place: dict[str, Path]
) -> None:
    mirror = place["outside"] / "canary-dir"
    fields = {"config_override": {"global_log_dir": str(mirror)}}
    response = secured.request("POST", "/runs", json=body(place["workspace"], **fields))
    assert response.status_code == 201, response.text
    run = secured.wait_status(response.json()["run"]["id"], "COMPLETED")
    assert [p.name for p in mirror.iterdir()] == ["runs"]
    assert [p.name for p in (mirror / "runs").iterdir()] == [f"run-{run['id']}"]


@pytest.mark.parametrize(
    ("template", "existing"),
    [
        (".", None),  # the workspace itself
        ("..", None),  # its parent, holding the workspace
        ("../outside", None),  # a directory with the user's files
        ("{outside}/canary.txt", None),  # a file
        ("../{{ repo }}.taken", "keep.txt"),  # a non-empty dir at the rendered path
    ],
)
def test_worktree_paths_never_take_over_existing_places(
    secured: Loopd, place: dict[str, Path], template: str, existing: str | None
) -> None:
    workspace, outside = place["workspace"], place["outside"]
    if existing:
        taken = workspace.parent / f"{workspace.name}.taken"
        taken.mkdir()
        (taken / existing).write_text("mine\n")
    before = _snapshot(workspace.parent)
    fields = {"worktree_path_template": template.replace("{outside}", str(outside))}
    response = secured.request("POST", "/runs", json=body(workspace, **fields))
    if response.status_code == 201:
        run = secured.wait_status(response.json()["run"]["id"], "FAILED", timeout=30)
        assert "worktree" in run["reason"] or "exists" in run["reason"], run["reason"]
    else:
        assert response.status_code == 400, response.text
    after = _snapshot(workspace.parent)
    logs = workspace / "logs"
    assert {p for p in after if not p.is_relative_to(logs)} == {
        p for p in before if not p.is_relative_to(logs)
    }
    assert git(workspace, "worktree", "list", "--porcelain").count("worktree ") == 1
    assert git(workspace, "status", "--porcelain", "--untracked-files=no") == ""
    assert_nothing_leaked(secured, place, response)


def test_a_template_pointing_outside_is_honoured(secured: Loopd, place: dict[str, Path]) -> None:
    """SPEC 8: the template may place the worktree anywhere (the default is outside)."""
    target = place["outside"] / "worktrees" / "wt"
    fields = {"worktree_path_template": str(target), "worktree_cleanup": False}
    response = secured.request("POST", "/runs", json=body(place["workspace"], **fields))
    run = secured.wait_status(response.json()["run"]["id"], "COMPLETED")
    assert run["worktree"]["worktree_path"] == str(target)
    assert (target / ".git").is_file()


@pytest.mark.parametrize(
    "ref",
    # encoded: a client normalises a literal `..` away before it is sent
    [
        "..%2F..%2Fetc%2Fpasswd",
        "%2E%2E",
        "%2E%2E%2F%2E%2E",
        "%25",
        "_",
        "%2Ftmp",
        "run-..%2F..",
        "%00",
    ],
)
def test_run_references_are_never_paths(secured: Loopd, place: dict[str, Path], ref: str) -> None:
    run = secured.create_run(place["workspace"], reviewer=False, postmortem=False)
    secured.wait_status(run["id"], "COMPLETED")
    with secured.client() as client:
        for suffix in ("", "/steps", "/artifacts", "/diff", "/events?follow=false"):
            response = client.get(f"/runs/{ref}{suffix}")
            assert response.status_code in (400, 404), (ref, suffix, response.text)
            assert CANARY not in response.text and "root:" not in response.text
        response = client.post(f"/runs/{ref}/cancel")
        assert response.status_code in (400, 404, 405), (ref, response.text)
    assert secured.run(run["id"])["status"] == "COMPLETED"


BRANCH_ESCAPES = [
    "../../outside/x",
    "refs/heads/../../../x",
    "/tmp/agentloop-escape",
    "a/../b",
    "..",
]


def test_branch_names_cannot_walk_out_of_the_refs(secured: Loopd, place: dict[str, Path]) -> None:
    """Branch names become files under .git/refs: git's own rules refuse these."""
    workspace = place["workspace"]
    for name in BRANCH_ESCAPES:
        for key in ("base_branch", "merge_target_branch", "run_branch_prefix"):
            response = secured.request("POST", "/runs", json=body(workspace, **{key: name}))
            assert response.status_code == 400, (key, name, response.text)
    run = secured.create_run(workspace, reviewer=False, postmortem=False)
    secured.wait_status(run["id"], "COMPLETED")
    for name in BRANCH_ESCAPES:
        response = secured.request("POST", f"/runs/{run['id']}/merge", json={"target": name})
        assert response.status_code == 400, (name, response.text)
    assert not Path("/tmp/agentloop-escape").exists()
    assert_nothing_leaked(secured, place)


def test_artifacts_are_listed_inside_the_run_dirs(secured: Loopd, place: dict[str, Path]) -> None:
    run = secured.create_run(place["workspace"], reviewer=False, postmortem=False)
    secured.wait_status(run["id"], "COMPLETED")
    artifacts = secured.request("GET", f"/runs/{run['id']}/artifacts").json()["artifacts"]
    assert artifacts
    roots = {
        "workspace": place["workspace"] / "logs" / "loop" / f"run-{run['id']}",
        "global": secured.data_dir,
    }
    for artifact in artifacts:
        path = Path(artifact["path"])
        assert path.resolve().is_relative_to(roots[artifact["location"]].resolve()), artifact
        assert f"run-{run['id']}" in path.parts


def _expand(fields: dict[str, Any], outside: Path) -> dict[str, Any]:
    def sub(value: Any) -> Any:
        if isinstance(value, str):
            return value.replace("{outside}", str(outside))
        if isinstance(value, list):
            return [sub(v) for v in value]
        if isinstance(value, dict):
            return {k: sub(v) for k, v in value.items()}
        return value

    return {key: sub(value) for key, value in fields.items()}


def _snapshot(root: Path) -> set[Path]:
    return {p for p in root.rglob("*") if ".git" not in p.parts}


# -- the token -------------------------------------------------------------------------------


def _every_route(daemon: Loopd, run_id: str) -> list[tuple[str, str]]:
    spec = daemon.request("GET", "/openapi.json").json()
    routes = [
        (method.upper(), path.replace("{run_id}", run_id))
        for path, methods in spec["paths"].items()
        for method in methods
    ]
    return [*routes, ("GET", "/openapi.json"), ("GET", "/docs"), ("GET", "/no/such/route")]


def test_the_token_guards_every_route_of_the_openapi_document(
    secured: Loopd, place: dict[str, Path]
) -> None:
    run = secured.create_run(place["workspace"], reviewer=False, postmortem=False)
    secured.wait_status(run["id"], "COMPLETED")
    routes = _every_route(secured, run["id"])
    assert ("POST", "/runs") in routes and len(routes) > 15
    wrong = [
        {},
        {"Authorization": "Bearer sekriT"},
        {"Authorization": "Bearer sekri"},
        {"Authorization": "Basic sekrit"},
        {"X-Authorization": "Bearer sekrit"},
    ]
    with httpx.Client(base_url=secured.base, timeout=10) as plain:
        for method, path in routes:
            for headers in wrong:
                response = plain.request(method, path, headers=headers)
                if path == "/health":
                    assert response.status_code == 200
                    continue
                assert response.status_code == 401, (method, path, headers, response.text)
                assert response.json()["error"]
    # nothing the unauthenticated requests asked for happened
    assert secured.run(run["id"])["status"] == "COMPLETED"
    assert secured.request("GET", "/runs").json()["total"] >= 1
    assert "sekrit" not in secured.log_text()


def test_a_non_loopback_bind_without_a_token_warns_loudly(tmp_path: Path) -> None:
    """Bound on every interface (allowed here); traffic goes to 127.0.0.1 only."""
    port = free_port()
    stderr_path = tmp_path / "stderr.txt"
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOOPD_")}
    with stderr_path.open("wb") as stderr:
        proc = subprocess.Popen(
            [str(LOOPD), "--addr", f"http://0.0.0.0:{port}", "--data-dir", str(tmp_path / "d")],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            assert proc.poll() is None, stderr_path.read_text()
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        else:
            pytest.fail(stderr_path.read_text())
        warning = stderr_path.read_text()
        assert "non-loopback" in warning and "LOOPD_AUTH_TOKEN" in warning, warning
        assert "0.0.0.0" in warning and "warning" in warning.lower(), warning
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def test_a_non_loopback_bind_with_a_token_does_not_warn(tmp_path: Path) -> None:
    port = free_port()
    loopd = Loopd(
        tmp_path / "data", token="t0ken", port=port, args=["--addr", f"http://0.0.0.0:{port}"]
    )
    loopd.start()
    try:
        assert loopd.request("GET", "/runs").status_code == 200
    finally:
        loopd.stop()
    assert "non-loopback" not in loopd.log_text()
