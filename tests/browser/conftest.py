"""The dashboard in Debian's headless Chromium (driven by playwright) against a real loopd.

* ``loopd`` / ``loopd_factory``: the daemons of ``integration.daemon_fixture``.
* ``browser``: one Chromium for the session, ``/usr/bin/chromium`` (``scripts/setup.sh test``
  installs it); missing, the tests are skipped, or fail when ``CI`` is set.
* ``page``: a fresh context (own sessionStorage) per test, 1280x800; JavaScript errors on
  the page fail the test; a failed test leaves a screenshot.
* ``workspace``: a committed git repo with ``specs/demo.md`` and a three-task plan.
* ``start_run``: ``dashboard_support.start_scripted_run``.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from dashboard_support import shot, start_scripted_run

from integration.daemon_fixture import *  # noqa: F403
from integration.daemon_fixture import pytest_runtest_makereport as _daemon_report_hook

CHROMIUM = Path(os.environ.get("AGENTLOOP_TEST_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PLAN = "# Demo plan\n\n- [ ] a\n- [ ] b\n- [ ] c\n"
GIT_IDENTITY = ["-c", "user.name=agentloop tests", "-c", "user.email=tests@agentloop.invalid"]


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """The daemon logs of a failed test (see daemon_fixture), and its outcome for ``page``."""
    hook = _daemon_report_hook(item, call)
    next(hook)
    outcome = yield
    with contextlib.suppress(StopIteration):
        hook.send(outcome)
    report = outcome.get_result()  # type: ignore[attr-defined]
    setattr(item, f"report_{report.when}", report)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        message = f"{CHROMIUM} is missing: run scripts/setup.sh test (apt-get install chromium)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=10_000)  # a 2-core machine running the engine beside us
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 800}, color_scheme="light")
    context.set_default_timeout(15_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    report = getattr(request.node, "report_call", None)
    if report is not None and report.failed:
        shot(page, f"FAILED-{request.node.name}")
    context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    root = tmp_path / "demo-ws"
    (root / "specs" / "planning").mkdir(parents=True)
    (root / "specs" / "demo.md").write_text("# Demo\n\nDo a, b and c.\n")
    (root / "specs" / "planning" / "demo-plan.md").write_text(PLAN)
    (root / ".gitignore").write_text("logs/\n")

    def git(*args: str) -> None:
        subprocess.run(["git", *GIT_IDENTITY, *args], cwd=root, check=True, capture_output=True)

    git("init", "-q", "-b", "main")
    git("add", "-A")
    git("commit", "-q", "-m", "demo spec and plan")
    return root


@pytest.fixture
def start_run() -> Callable[..., dict[str, Any]]:
    """``start_run(daemon, workspace, model="delay=1", name="x")``: POST /runs, the run JSON."""
    return start_scripted_run
