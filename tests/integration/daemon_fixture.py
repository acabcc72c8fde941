"""A real ``loopd`` for integration tests: the installed console script, as a subprocess, on a
free port of 127.0.0.1 with its own data dir.

Use it from a conftest (tests/ must be on sys.path, as for ``dbfixtures``)::

    from integration.daemon_fixture import *  # noqa: F403  (loopd, loopd_factory)

* ``loopd``: one daemon for the module (fast: ~0.7 s to start), no token.
* ``loopd_factory(token=None, env=None, args=())``: a daemon of the test's own, e.g. with
  ``LOOPD_AUTH_TOKEN`` set, or one to stop and restart on the same data dir
  (:meth:`Daemon.restart`).

Each daemon is stopped with SIGTERM at the end (SIGKILL if it does not exit in 15 s). When a
test using one fails, the daemon's stderr (its log) is added to the report (the hook
``pytest_runtest_makereport``, imported into the conftest with the fixtures); a daemon that
does not come up fails the test with its log in the message.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import pytest

__all__ = ["Daemon", "free_port", "loopd", "loopd_factory", "pytest_runtest_makereport"]

BIN = Path(sys.executable).parent
LOOPD = BIN / "loopd"
START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 15.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Daemon:
    """One loopd process (and, after :meth:`restart`, its successors on the same data dir)."""

    data_dir: Path
    port: int
    token: str | None = None
    extra_env: Mapping[str, str] = field(default_factory=dict)
    args: Sequence[str] = ()
    proc: subprocess.Popen[bytes] | None = None
    logs: list[Path] = field(default_factory=list)
    _log_file: IO[bytes] | None = None

    @property
    def addr(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("LOOPD_")}
        env.update(LOOPD_DATA_DIR=str(self.data_dir), LOOPD_ADDR=self.addr)
        if self.token:
            env["LOOPD_AUTH_TOKEN"] = self.token
        env.update(self.extra_env)
        return env

    def start(self) -> Daemon:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log = self.data_dir / f"loopd-stderr-{len(self.logs) + 1}.log"
        self.logs.append(log)
        self._log_file = log.open("wb")
        self.proc = subprocess.Popen(
            [str(LOOPD), "--addr", self.addr, "--data-dir", str(self.data_dir), *self.args],
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
        )
        self.wait_healthy()
        return self

    def wait_healthy(self, timeout: float = START_TIMEOUT_S) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                pytest.fail(f"loopd exited with {self.proc.returncode}:\n{self.log_text()}")
            try:
                with urllib.request.urlopen(f"{self.addr}/health", timeout=1) as answer:
                    return dict(json.loads(answer.read()))
            except OSError:
                time.sleep(0.05)
        pytest.fail(f"loopd did not answer /health within {timeout:g} s:\n{self.log_text()}")

    def stop(self, sig: int = signal.SIGTERM) -> int | None:
        """Stop the process (SIGTERM drains; SIGKILL is a crash); its exit code."""
        proc, self.proc = self.proc, None
        if proc is None:
            return None
        if proc.poll() is None:
            proc.send_signal(sig)
            try:
                proc.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None
        return proc.returncode

    def restart(self, sig: int = signal.SIGTERM) -> Daemon:
        self.stop(sig)
        return self.start()

    def log_text(self) -> str:
        parts = []
        for log in self.logs:
            if log.exists():
                parts.append(f"--- {log.name} ---\n{log.read_text(errors='replace')}")
        return "\n".join(parts)


@pytest.fixture
def loopd_factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., Daemon]]:
    started: list[Daemon] = []

    def make(
        token: str | None = None,
        env: Mapping[str, str] | None = None,
        args: Sequence[str] = (),
    ) -> Daemon:
        daemon = Daemon(
            data_dir=tmp_path_factory.mktemp("loopd-data"),
            port=free_port(),
            token=token,
            extra_env=dict(env or {}),
            args=tuple(args),
        )
        started.append(daemon)
        return daemon.start()

    make.started = started  # type: ignore[attr-defined]  (read by the report hook)
    yield make
    for daemon in started:
        daemon.stop()


@pytest.fixture(scope="module")
def loopd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    daemon = Daemon(data_dir=tmp_path_factory.mktemp("loopd-data"), port=free_port())
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
    daemons = [v for v in funcargs.values() if isinstance(v, Daemon)]
    for value in funcargs.values():
        daemons += [d for d in getattr(value, "started", []) if isinstance(d, Daemon)]
    for daemon in daemons:
        report.sections.append((f"loopd {daemon.addr} log", daemon.log_text()))
