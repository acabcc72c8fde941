"""A real ``loopd`` for integration tests: the installed console script, as a subprocess, on a
free port of 127.0.0.1 with its own data dir.

Use it from a conftest (tests/ must be on sys.path, as for ``dbfixtures``)::

    from integration.daemon_fixture import *  # noqa: F403  (loopd, loopd_factory)

* ``loopd``: one daemon for the module (fast: ~0.7 s to start), no token.
* ``loopd_factory(token=None, env=None, args=())``: a daemon of the test's own, e.g. with
  ``LOOPD_AUTH_TOKEN`` set, or one to stop and restart on the same data dir
  (:meth:`Loopd.restart`).

Each daemon is stopped with SIGTERM at the end (SIGKILL if it does not exit in 15 s). When a
test using one fails, the daemon's stderr (its log) is added to the report (the hook
``pytest_runtest_makereport``, imported into the conftest with the fixtures); a daemon that
does not come up fails the test with its log in the message.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence

import pytest

from integration.loopd import Loopd

__all__ = ["loopd", "loopd_factory", "pytest_runtest_makereport"]


@pytest.fixture
def loopd_factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., Loopd]]:
    started: list[Loopd] = []

    def make(
        token: str | None = None,
        env: Mapping[str, str] | None = None,
        args: Sequence[str] = (),
    ) -> Loopd:
        daemon = Loopd(tmp_path_factory.mktemp("loopd") / "data", token=token, env=env, args=args)
        started.append(daemon)
        return daemon.start()

    make.started = started  # type: ignore[attr-defined]  (read by the report hook)
    yield make
    for daemon in started:
        daemon.stop()


@pytest.fixture(scope="module")
def loopd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Loopd]:
    daemon = Loopd(tmp_path_factory.mktemp("loopd") / "data")
    daemon.start()
    try:
        yield daemon
    finally:
        daemon.stop()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """Attach the log of every loopd a failed test used to its report."""
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    if report.when == "teardown" or not report.failed:
        return
    funcargs = getattr(item, "funcargs", {})
    daemons = [v for v in funcargs.values() if isinstance(v, Loopd)]
    for value in funcargs.values():
        daemons += [d for d in getattr(value, "started", []) if isinstance(d, Loopd)]
    for daemon in daemons:
        report.sections.append((f"loopd {daemon.addr} log", daemon.log_text()))
