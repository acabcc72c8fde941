"""The one supervised-subprocess helper: every agent CLI and verify command starts here.

A child runs in its own session and process group, with a parent-death signal
(``PR_SET_PDEATHSIG`` = SIGTERM) so it ends with the thread that spawned it. SIGTERM, not
SIGKILL: an agent CLI writes its session file lazily (Claude Code had none of the last turns
on disk most times it was SIGKILLed just after a tool started) and saves it on SIGTERM, so
after a daemon crash the restart resumes the whole conversation (SPEC 18). What ignores
SIGTERM outlives the daemon until the restart, whose sweep ends it. The signal is
armed by ``setpriv --pdeathsig TERM`` exec'ing the command, so the daemon can spawn with
vfork: a ``preexec_fn`` forces a full fork of the daemon, which cost 16-25 ms per command
(every git call, agent and verify command) against about 1.5 ms this way. setpriv arms it
about a millisecond after the spawn: a daemon that dies within that millisecond leaves the
child running, and the restart kills the process group recorded with its step. Without
``setpriv`` the ``preexec_fn`` arms it. That thread is
also the one that supervises it: :func:`run_process` blocks, streams output line by line to
callbacks as it arrives, enforces the timeout and watches for cancellation.

Exit codes: the child's own status; killed by signal N -> ``128 + N`` (shell convention);
timed out -> ``124`` whatever the signal. ``cancelled`` and ``timed_out`` say why it ended.

Stopping a group: SIGTERM to the whole group, SIGKILL after ``grace_sec`` (default 3 s, so
that everything is gone within SPEC 4's 5 s). A group does not hold everything: agent CLIs
run their tools in sessions of their own. So every child gets environment markers that its
descendants inherit (``AGENTLOOP_GROUP``, one token per spawn; ``AGENTLOOP_OWNER`` when it
has an owner; the engine adds ``LOOP_RUN_ID``), and a stop also sweeps the leader's
descendants and every marked process, on the same deadline (:mod:`._escapees`). When the
leader has exited, anything still in its group or carrying its marker is a straggler: it
gets the same treatment, so a run leaves no orphans. In loopd (:func:`become_subreaper`)
orphans re-parent to the daemon, which reaps them.

Cancellation: every live group is registered under an owner key (the run id).
:func:`kill_owner` stops all groups of an owner, and every process marked as the owner's,
without blocking the caller; in-process agents join in through :func:`watch_owner`. After a
daemon restart, :func:`kill_stale_group` stops a group recorded in a previous life, if
``/proc`` shows it is still the same one, and what is left of its run. At shutdown,
:func:`wait_stopped` holds the daemon until its stops are done.

Linux only (``/proc``, ``prctl``).
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import os
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence

from agentloop.agents import _escapees, _groups, _proc, _subreaper
from agentloop.agents._escapees import GROUP_VAR, Scope, Sweep, marker
from agentloop.agents._groups import LiveGroup, ProcessHandle
from agentloop.agents._supervision import (
    TIMEOUT_EXIT_CODE,
    LineCallback,
    ProcessResult,
    Supervision,
)
from agentloop.core.errors import ProcessError

__all__ = [
    "DEFAULT_GRACE_SEC",
    "TIMEOUT_EXIT_CODE",
    "LineCallback",
    "ProcessHandle",
    "ProcessResult",
    "become_subreaper",
    "kill_all",
    "kill_owner",
    "kill_stale_group",
    "live_groups",
    "process_start_time",
    "run_command",
    "run_process",
    "wait_stopped",
    "watch_owner",
]

DEFAULT_GRACE_SEC = 3.0  # SIGTERM, then SIGKILL after this: all gone within SPEC 4's 5 s
_PR_SET_PDEATHSIG = 1
process_start_time = _proc.start_time


# ---------------------------------------------------------------------------------------------
# cancellation


@contextlib.contextmanager
def watch_owner(owner: str | None) -> Iterator[threading.Event]:
    """An Event that :func:`kill_owner` (or :func:`kill_all`) sets while the block runs:
    how in-process work (the scripted agent, a retry backoff) honours cancellation."""
    with _groups.watch(owner) as event:
        yield event


def kill_owner(owner: str | None, *, grace_sec: float | None = None) -> int:
    """Stop every live process group of ``owner``, the processes that left them, and every
    process marked as the owner's (``AGENTLOOP_OWNER`` or ``LOOP_RUN_ID``): SIGTERM now,
    SIGKILL after the grace period, from background threads (the caller only waits for a
    look at ``/proc``). Also sets the events of :func:`watch_owner` blocks. Returns how many
    groups were signalled."""
    groups, events = _groups.of_owner(owner)
    for event in events:
        event.set()
    graces = [group.grace_sec if grace_sec is None else grace_sec for group in groups]
    sweep = _claimed_sweep(owner, groups, graces, grace_sec)
    try:
        # Found before the leaders die (their children re-parent), signalled after them: an
        # agent that saw its tool end before its own stop could take one more model turn,
        # and act on it, after its run was paused or cancelled.
        targets = sweep.find(by_marker=False) if sweep is not None else {}
        for group, grace in zip(groups, graces, strict=True):
            group.cancel(grace)
        if sweep is not None:
            sweep.terminate(targets)
    finally:
        if sweep is not None:
            sweep.in_background()
    return len(groups)


def _claimed_sweep(
    owner: str | None, groups: list[LiveGroup], graces: list[float], grace_sec: float | None
) -> Sweep | None:
    """The sweep of what ``kill_owner`` takes along besides the groups; None when there is
    nothing to look for, or the same stop's sweep is still running."""
    tokens = tuple(group.token for group in groups)
    markers = _escapees.owner_markers(owner) + tuple(marker(GROUP_VAR, token) for token in tokens)
    if not markers:
        return None
    roots = tuple(group.handle.pid for group in groups)
    scope = Scope(markers, roots=roots, spare=_escapees.spawned_from_now())
    fallback = DEFAULT_GRACE_SEC if grace_sec is None else grace_sec
    deadline = time.monotonic() + max(graces, default=fallback)
    sweep = Sweep(scope, deadline, key=(owner, frozenset(tokens)))
    return sweep if sweep.claim() else None


def kill_all(*, grace_sec: float | None = None) -> int:
    """Stop every live group of every owner (daemon shutdown). Returns the group count."""
    return sum(kill_owner(owner, grace_sec=grace_sec) for owner in _groups.owners())


def live_groups(owner: str | None = None) -> list[ProcessHandle]:
    """Handles of the groups running now (of one owner, or of all when ``owner`` is None)."""
    return _groups.handles(owner)


def kill_stale_group(
    pgid: int,
    start_time: float,
    *,
    owner: str | None = None,
    grace_sec: float = DEFAULT_GRACE_SEC,
) -> bool:
    """Stop a group left over from a previous daemon life, and what is left of its owner,
    and wait until they are gone.

    ``start_time`` is the leader's :attr:`ProcessHandle.start_time` as recorded then. A live
    process with pid ``pgid`` but another start time means the number was reused: the group
    is left alone. With the leader gone (killed by its parent-death signal) the members
    still in the group are stopped, and with ``owner`` (the run id) every process marked as
    the owner's, except those of groups running now: a ``kill -9`` of the daemon leaves the
    tools an agent ran in sessions of their own, which no parent-death signal reaches.
    Returns True when something was signalled."""
    scope = Scope(_escapees.owner_markers(owner), group=(pgid, start_time), spare=_is_live_token)
    sweep = Sweep(scope, time.monotonic() + grace_sec)
    if not sweep.begin():
        return False
    sweep.finish()
    return True


def become_subreaper() -> bool:
    """Make this process (loopd, at start) the child subreaper of everything it starts:
    orphaned descendants re-parent to it instead of init, and it reaps them. False when the
    kernel refuses (then orphans go to init, and stops still find them by their markers)."""
    return _subreaper.become(_prctl)


def wait_stopped(timeout_sec: float = DEFAULT_GRACE_SEC + 2) -> bool:
    """Wait until every stop begun (:func:`kill_owner`, :func:`kill_all`, timeouts, the
    stragglers of an ended step) is done: the daemon calls it before it exits, or what
    ignored SIGTERM would outlive it. False when ``timeout_sec`` was not enough."""
    return _escapees.wait_finished(timeout_sec)


def _is_live_token(token: str) -> bool:
    return token in _groups.live_tokens()


# ---------------------------------------------------------------------------------------------
# spawning


def _load_prctl() -> Callable[..., int] | None:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        prctl = libc.prctl
    except (OSError, AttributeError):
        return None
    prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
    prctl.restype = ctypes.c_int
    return prctl


_prctl = _load_prctl()  # resolved once, so the child only calls it between fork and exec


def _child_setup(parent_pid: int) -> Callable[[], None]:
    def setup() -> None:
        if _prctl is not None:
            _prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
        if os.getppid() != parent_pid:  # the parent died before the signal was armed
            os._exit(128 + signal.SIGTERM)

    return setup


@functools.cache
def _pdeathsig_prefix() -> tuple[str, ...] | None:
    """``setpriv --pdeathsig TERM --`` (util-linux >= 2.33), or None where it is missing."""
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        return None
    prefix = (setpriv, "--pdeathsig", "TERM", "--")
    try:
        probe = subprocess.run([*prefix, "true"], capture_output=True, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return prefix if probe.returncode == 0 else None


def _check_startable(
    program: str, cwd: str | os.PathLike[str] | None, env: Mapping[str, str] | None
) -> None:
    """Raise what starting ``program`` directly would have: behind ``setpriv`` a missing
    binary would only show as setpriv's exit status."""
    if os.sep in program:
        path = os.path.join(os.fspath(cwd) if cwd is not None else os.getcwd(), program)
        if os.path.isfile(path) and os.access(path, os.X_OK):
            return
        reason = "Permission denied" if os.path.exists(path) else "No such file or directory"
    else:
        search = (env if env is not None else os.environ).get("PATH", os.defpath)
        if shutil.which(program, path=search) is not None:
            return
        reason = "No such file or directory"
    raise ProcessError(f"cannot start {program!r}: {reason}", argv=[program], cwd=str(cwd or ""))


def _spawn(
    argv: Sequence[str],
    *,
    cwd: str | os.PathLike[str] | None,
    env: Mapping[str, str] | None,
    stdin_piped: bool,
    merge_stderr: bool,
) -> subprocess.Popen[bytes]:
    """Start ``argv`` in a new session with the parent-death signal armed. The calling
    thread is the parent as far as the signal goes: it must be the thread that waits."""
    if not argv:
        raise ProcessError("cannot start an empty command", argv=[])
    prefix = _pdeathsig_prefix()
    if prefix is not None:
        _check_startable(str(argv[0]), cwd, env)
    try:
        return subprocess.Popen(
            [*(prefix or ()), *argv],
            cwd=cwd,
            env=dict(env) if env is not None else None,
            stdin=subprocess.PIPE if stdin_piped else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT if merge_stderr else subprocess.PIPE,
            start_new_session=True,
            preexec_fn=None if prefix is not None else _child_setup(os.getpid()),
            close_fds=True,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ProcessError(
            f"cannot start {argv[0]!r}: {reason}", argv=list(argv), cwd=str(cwd or "")
        ) from exc


# ---------------------------------------------------------------------------------------------
# supervision


def run_process(
    argv: Sequence[str],
    *,
    cwd: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
    stdin_text: str | None = None,
    timeout_sec: float = 0,
    on_line: LineCallback | None = None,
    on_stderr_line: LineCallback | None = None,
    merge_stderr: bool = True,
    owner: str | None = None,
    cancel: threading.Event | None = None,
    give_up: threading.Event | None = None,
    on_start: Callable[[ProcessHandle], None] | None = None,
    grace_sec: float = DEFAULT_GRACE_SEC,
    tail_lines: int = 200,
    max_line_bytes: int = 8 * 1024 * 1024,
) -> ProcessResult:
    """Run ``argv`` to its end under supervision and return how it ended.

    ``env`` is the child's whole environment (None: this process's). ``stdin_text`` is
    written to the child's stdin, then closed (None: stdin is /dev/null). Lines (without
    their newline; invalid UTF-8 replaced; longer than ``max_line_bytes`` split) go to
    ``on_line`` (stdout, or both streams when ``merge_stderr``) and ``on_stderr_line`` as
    they arrive. ``timeout_sec`` 0 means none. ``cancel`` set, or :func:`kill_owner` for
    ``owner``, stops the group; so does ``give_up``, set by the reader of the output when it
    has seen enough (a CLI retrying forever what will never succeed). ``on_start`` gets the
    handle before any output is read.
    Raises :class:`ProcessError` when the command cannot be started."""
    with watch_owner(owner) as owner_cancelled:
        if (cancel is not None and cancel.is_set()) or owner_cancelled.is_set():
            return ProcessResult(128 + signal.SIGTERM, False, True, 0, None, 0, 0, ())
        token = _escapees.new_token()
        proc = _spawn(
            argv,
            cwd=cwd,
            env=_escapees.marked_env(env, token, owner),
            stdin_piped=stdin_text is not None,
            merge_stderr=merge_stderr,
        )
        start_time = _proc.start_time(proc.pid) or time.time()
        handle = ProcessHandle(proc.pid, proc.pid, start_time, owner, tuple(map(str, argv)))
        group = LiveGroup(handle, grace_sec, token)
        _groups.register(group)
        supervision = Supervision(
            proc,
            group,
            stdin_text=stdin_text,
            timeout_sec=timeout_sec,
            cancels=(cancel, owner_cancelled, give_up),
            on_line=on_line,
            on_stderr_line=on_stderr_line,
            tail_lines=tail_lines,
            max_line_bytes=max_line_bytes,
        )
        try:
            if on_start is not None:
                on_start(handle)
            supervision.loop()
        except BaseException:
            group.signal(signal.SIGKILL)
            raise
        finally:
            exit_code = supervision.finish()
            _groups.unregister(group)
        return supervision.result(exit_code)


def run_command(
    command: str | Sequence[str],
    *,
    cwd: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float | None = None,
    on_line: LineCallback | None = None,
    owner: str | None = None,
    cancel: threading.Event | None = None,
    stdin: str | None = None,
    grace_sec: float = DEFAULT_GRACE_SEC,
    tail_lines: int = 200,
) -> ProcessResult:
    """Run a command with stdout and stderr merged: a string goes through ``/bin/sh -c``
    (how ``verify_cmds`` are run), a sequence is executed as is. ``timeout`` None or 0
    means none; ``stdin`` is text for the child's stdin (None: /dev/null)."""
    argv = ["/bin/sh", "-c", command] if isinstance(command, str) else list(command)
    return run_process(
        argv,
        cwd=cwd,
        env=env,
        stdin_text=stdin,
        timeout_sec=timeout or 0,
        on_line=on_line,
        merge_stderr=True,
        owner=owner,
        cancel=cancel,
        grace_sec=grace_sec,
        tail_lines=tail_lines,
    )
