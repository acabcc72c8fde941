"""Supervising one child from the thread that spawned it: stdin fed without blocking,
stdout/stderr split into lines as they arrive, the timeout, cancellation, the SIGTERM ->
SIGKILL escalation (with a sweep of the processes that left the group), stragglers, and
reaping. See :mod:`agentloop.agents.process`."""

from __future__ import annotations

import contextlib
import os
import select
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from agentloop.agents import _proc, _subreaper
from agentloop.agents._escapees import GROUP_VAR, Scope, Sweep, marker
from agentloop.agents._groups import LiveGroup
from agentloop.agents._lines import LineSplitter

TIMEOUT_EXIT_CODE = 124
LineCallback = Callable[[str], None]

_TICK_SEC = 0.05
_ABANDON_PIPES_SEC = 1.0  # after SIGKILL, stop waiting for pipes a setsid escapee holds open


@dataclass(frozen=True)
class ProcessResult:
    """How a supervised child ended. ``tail`` is the last lines of stdout (merged output
    when stderr is merged); ``stderr_tail`` the last lines of a separate stderr."""

    exit_code: int
    timed_out: bool
    cancelled: bool
    duration_ms: int
    pid: int | None
    stdout_lines: int
    stderr_lines: int
    tail: tuple[str, ...]
    stderr_tail: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and not self.timed_out and not self.cancelled


class Supervision:
    """The state of one supervised child, driven from the thread that spawned it."""

    def __init__(
        self,
        proc: subprocess.Popen[bytes],
        group: LiveGroup,
        *,
        stdin_text: str | None,
        timeout_sec: float,
        cancels: tuple[threading.Event | None, ...],
        on_line: LineCallback | None,
        on_stderr_line: LineCallback | None,
        tail_lines: int,
        max_line_bytes: int,
    ) -> None:
        self.proc = proc
        self.group = group
        self.started = time.monotonic()
        self.deadline = self.started + timeout_sec if timeout_sec > 0 else None
        self.cancels = (*cancels, group.cancelled)
        self.timed_out = False
        self.cancelled = False
        self.leader_exited = False
        self.term_at: float | None = None
        self.kill_at: float | None = None
        self.stdin = _StdinFeed(proc, stdin_text)
        self.pidfd = _open_pidfd(proc.pid)  # wakes the poll the moment the leader exits
        assert proc.stdout is not None
        self.out = LineSplitter(on_line, tail_lines, max_line_bytes)
        self.readers: dict[int, LineSplitter] = {proc.stdout.fileno(): self.out}
        self.err: LineSplitter | None = None
        if proc.stderr is not None:
            self.err = LineSplitter(on_stderr_line, tail_lines, max_line_bytes)
            self.readers[proc.stderr.fileno()] = self.err
        for fd in self.readers:
            os.set_blocking(fd, False)

    def loop(self) -> None:
        while True:
            now = time.monotonic()
            # The exit first: a stop asked for before the leader was seen to exit counts
            # (its SIGTERM may be what ended it).
            if not self.leader_exited:
                self.leader_exited = _proc.has_exited(self.proc.pid)
            self._enforce(now)
            if self.leader_exited and not self.readers:
                return
            if self.leader_exited and self.term_at is None:
                self._drain()  # output written just before exit: read it before judging
                if not self.readers:
                    return
                self._stop(now)  # stragglers hold the pipes open
            if self.kill_at is not None and now - self.kill_at > _ABANDON_PIPES_SEC:
                self._close_readers()
                continue
            self._wait(_TICK_SEC)

    def _enforce(self, now: float) -> None:
        if not self.cancelled and any(c is not None and c.is_set() for c in self.cancels):
            self.cancelled = True
            self._stop(now)
        if self.deadline is not None and now >= self.deadline and self.term_at is None:
            self.timed_out = True
            self._stop(now)
        grace = self.group.grace_sec
        if self.term_at is not None and self.kill_at is None and now - self.term_at >= grace:
            self.kill_at = now
            self.group.signal(signal.SIGKILL)

    def _stop(self, now: float) -> None:
        if self.term_at is None:
            self.term_at = now
            # The leader's descendants are found through it while it lives, and signalled
            # after it: an agent that saw its tool end before its own stop could take one
            # more model turn, and act on it, after its step was stopped.
            sweep = self._sweep_of(now, from_leader=True)
            targets = sweep.find()
            self.group.signal(signal.SIGTERM)
            if sweep.terminate(targets):
                sweep.in_background()

    def _sweep_of(self, since: float, *, from_leader: bool) -> Sweep:
        """A sweep of what is in the group or carries its marker (and, ``from_leader``, what
        descends from the live leader), whose SIGKILL comes one grace period after
        ``since``."""
        group, handle = self.group, self.group.handle
        scope = Scope(
            (marker(GROUP_VAR, group.token),) if group.token else (),
            roots=(handle.pid,) if from_leader else (),
            group=(handle.pgid, handle.start_time),
            since_pid=handle.pid,
            adopted_only=_subreaper.active(),
        )
        return Sweep(scope, since + group.grace_sec)

    def _wait(self, timeout: float) -> None:
        # poll, not select: a busy daemon's descriptors may exceed FD_SETSIZE.
        poller = select.poll()
        for fd in self.readers:
            poller.register(fd, select.POLLIN)
        if self.stdin.fd is not None:
            poller.register(self.stdin.fd, select.POLLOUT)
        if self.pidfd is not None and not self.leader_exited:
            poller.register(self.pidfd, select.POLLIN)
        try:
            events = poller.poll(timeout * 1000)
        except InterruptedError:
            return
        for fd, _mask in events:
            if fd == self.stdin.fd:
                self.stdin.write()
            elif fd in self.readers:
                self._read(fd)

    def _read(self, fd: int) -> bool:
        """Read what the pipe holds now; False when it held nothing or is closed."""
        try:
            chunk = os.read(fd, 65536)
        except BlockingIOError:
            return False
        except OSError:
            chunk = b""
        splitter = self.readers[fd]
        if chunk:
            splitter.feed(chunk)
            return True
        splitter.close()
        del self.readers[fd]
        return False

    def _drain(self) -> None:
        for fd in list(self.readers):
            for _ in range(64):  # bounded: a straggler may keep writing
                if not self._read(fd):
                    break

    def _close_readers(self) -> None:
        for splitter in self.readers.values():
            splitter.close()
        self.readers.clear()

    def finish(self) -> int:
        """Close the pipes, reap the leader, send stragglers on their way. Returns the exit
        code by our convention."""
        self.stdin.close()
        self._close_readers()
        if self.pidfd is not None:
            os.close(self.pidfd)
            self.pidfd = None
        for pipe in (self.proc.stdout, self.proc.stderr):
            if pipe is not None:
                pipe.close()
        group = self.group
        with group.lock:
            returncode = self.proc.wait()
            group.done.set()
        # Stragglers: what is left in the group, or carries its marker, after the leader
        # exited (a stop's own sweep may have ended before the leader did).
        since = self.term_at if self.term_at is not None else time.monotonic()
        stragglers = self._sweep_of(since, from_leader=False)
        if stragglers.begin():
            stragglers.in_background()
        if self.timed_out:
            return TIMEOUT_EXIT_CODE
        return 128 - returncode if returncode < 0 else returncode

    def result(self, exit_code: int) -> ProcessResult:
        out, err = self.out, self.err
        return ProcessResult(
            exit_code=exit_code,
            timed_out=self.timed_out,
            cancelled=self.cancelled,
            duration_ms=int((time.monotonic() - self.started) * 1000),
            pid=self.proc.pid,
            stdout_lines=out.count,
            stderr_lines=err.count if err is not None else 0,
            tail=tuple(out.tail),
            stderr_tail=tuple(err.tail) if err is not None else (),
        )


def _open_pidfd(pid: int) -> int | None:
    try:
        return os.pidfd_open(pid)
    except (AttributeError, OSError):  # before Linux 5.3: the tick notices the exit
        return None


class _StdinFeed:
    """Writes the prompt without blocking, so a child that talks before it listens
    cannot deadlock us."""

    def __init__(self, proc: subprocess.Popen[bytes], text: str | None) -> None:
        self.pipe = proc.stdin
        self.data = memoryview(text.encode("utf-8")) if text is not None else memoryview(b"")
        self.fd: int | None = None
        if self.pipe is not None:
            self.fd = self.pipe.fileno()
            os.set_blocking(self.fd, False)
            if not self.data:
                self.close()

    def write(self) -> None:
        if self.fd is None:
            return
        try:
            written = os.write(self.fd, self.data[:65536])
        except BlockingIOError:
            return
        except OSError:  # EPIPE: the child does not read its stdin; that is its business
            self.close()
            return
        self.data = self.data[written:]
        if not self.data:
            self.close()

    def close(self) -> None:
        if self.pipe is not None:
            with contextlib.suppress(OSError):
                self.pipe.close()
            self.pipe = None
        self.fd = None
