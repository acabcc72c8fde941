"""Run walks (see :mod:`.sequence`) against a real loopd and report what broke.

A :class:`Session` owns the daemon: one loopd shared by consecutive walks, replaced by a
fresh one (new data dir) after a walk that found something, so one walk's wreckage does not
spill into the next. A :class:`Walk` takes its operations one by one, polling the invariants
(:mod:`.invariants`) while it waits, then lets every run settle (terminal or PAUSED), checks
what must hold at rest (no leaked worktree, nothing stuck), cancels what is left paused and
checks again.

``main`` is the long profile (``make fuzz``)::

    AGENTLOOP_FUZZ_SEQUENCES=200 AGENTLOOP_FUZZ_MINUTES=15 make fuzz
    AGENTLOOP_FUZZ_SEED=1234 [AGENTLOOP_FUZZ_PROFILE=fast] make fuzz     # replay one walk
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from integration.fuzz.invariants import GRACE, Monitor, Tracked, Violation
from integration.fuzz.observe import (
    SETTLED,
    TERMINAL,
    Api,
    ServerError,
    boot_clock,
    log_excerpt,
    log_size,
    pids_by_run,
    primary_state,
    worktrees,
)
from integration.fuzz.sequence import CONTROLS, STANDIN_DELAY, Op, Sequence, generate
from integration.loopd import Loopd, make_workspace
from standins import standin_env

ACTIVE = frozenset({"PENDING", "RUNNING"})
# The answer a control call must give a run in each status: 409 exactly for these.
REFUSED = {
    "pause": TERMINAL,
    "resume": TERMINAL,
    "cancel": frozenset({"COMPLETED", "FAILED"}),
    "retry": frozenset({"PAUSED", "COMPLETED"}),
    "reset": frozenset(),
}
POLL_SEC = 0.25
# Violations after which the daemon is replaced before the next walk (runs left active would
# hold its capacity, a broken daemon would fail every walk after).
WRECKAGE = frozenset({"stuck", "daemon_died", "daemon_error", "server_error", "drain"})
FINAL_WAIT_SEC = {"fast": 40.0, "long": 90.0}
SLOW_CONTROL_SEC = 10.0


class Session:
    """The daemon a series of walks runs against."""

    def __init__(self, root: Path, recycle: int = 25) -> None:
        self.root = root
        self.recycle = recycle
        self.loopd: Loopd | None = None
        self.generation = 0
        self.walks = 0
        self.dirty = False  # a walk on this daemon failed: keep its data dir for a look

    def daemon(self) -> Loopd:
        if self.loopd is None or self.walks >= self.recycle:
            self.fresh(keep=self.dirty)
        assert self.loopd is not None
        return self.loopd

    def fresh(self, keep: bool = True) -> None:
        """Replace the daemon by one on a new data dir (``keep`` the old dir for a look)."""
        old = self.loopd
        if old is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                old.stop(timeout=15)
            if not keep:
                shutil.rmtree(old.data_dir, ignore_errors=True)
        self.generation += 1
        self.walks = 0
        self.dirty = False
        env = standin_env(base=dict(os.environ), STANDIN_WORK_MODEL=f"delay={STANDIN_DELAY}")
        loopd = Loopd(
            self.root / f"data-{self.generation}", env=env, args=["--max-concurrency", "8"]
        )
        self.loopd = loopd.start()

    def close(self) -> None:
        if self.loopd is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.loopd.stop(timeout=15)
            self.loopd = None


@dataclass
class WalkResult:
    sequence: Sequence
    violations: list[Violation]
    op_log: list[str]
    transient: dict[str, int]
    seconds: float
    workdir: Path
    daemon_log: Path | None = None
    outcomes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.violations

    def replay(self) -> str:
        seq = self.sequence
        return f"AGENTLOOP_FUZZ_SEED={seq.seed} AGENTLOOP_FUZZ_PROFILE={seq.profile} make fuzz"

    def summary(self) -> str:
        seq = self.sequence
        verdict = "ok" if self.ok else f"{len(self.violations)} violation(s)"
        kinds = sorted({v.kind for v in self.violations})
        return (
            f"seed={seq.seed} profile={seq.profile} ops={len(seq.ops)} "
            f"runs={' '.join(self.outcomes)} {self.seconds:.1f}s: {verdict}"
            + (f" {kinds}" if kinds else "")
        )

    def report(self, evidence: bool = True) -> str:
        lines = [
            f"=== walk seed={self.sequence.seed} profile={self.sequence.profile} "
            f"(plan of {self.sequence.tasks} task(s)) ===",
            f"replay: {self.replay()}",
            f"workdir: {self.workdir}   daemon log: {self.daemon_log}",
            "sequence:",
            *(f"  {line}" for line in self.sequence.describe()),
            "what happened:",
            *(f"  {line}" for line in self.op_log),
            f"run outcomes: {' '.join(self.outcomes)}",
        ]
        if self.transient:
            lines.append(f"breaches that cleared within their grace: {dict(self.transient)}")
        for violation in self.violations:
            lines.append(f"VIOLATION {violation.headline()}")
            if evidence:
                shown = dict(violation.evidence)
                shown.pop("ops_so_far", None)  # the op log is above
                text = json.dumps(shown, indent=1, default=str)
                lines.extend(f"    {line}" for line in text.splitlines())
        return "\n".join(lines)

    def to_json(self) -> dict[str, Any]:
        return {
            "seed": self.sequence.seed,
            "profile": self.sequence.profile,
            "replay": self.replay(),
            "sequence": self.sequence.describe(),
            "op_log": self.op_log,
            "outcomes": self.outcomes,
            "transient": self.transient,
            "seconds": self.seconds,
            "workdir": str(self.workdir),
            "violations": [
                {
                    "kind": v.kind,
                    "run": v.run,
                    "run_id": v.run_id,
                    "message": v.message,
                    "at": v.at,
                    "evidence": v.evidence,
                }
                for v in self.violations
            ],
        }


class Walk:
    """One sequence of operations against the session's daemon."""

    def __init__(self, session: Session, sequence: Sequence, workdir: Path) -> None:
        self.session = session
        self.daemon = session.daemon()
        self.sequence = sequence
        self.workdir = workdir
        self.runs: list[Tracked] = []
        self.monitor = Monitor(self._evidence)
        self.api = Api(self.daemon)
        self.op_log: list[str] = []
        self.started = time.monotonic()
        self.log_offset = log_size(self.daemon)
        self.workspace = make_workspace(workdir, tasks=sequence.tasks)
        self.monitor.watch_workspace(self.workspace)

    # -- driving -----------------------------------------------------------------------------
    def run(self) -> WalkResult:
        try:
            for number, op in enumerate(self.sequence.ops, start=1):
                self.monitor.at = f"op {number} ({op.describe()})"
                self._guarded(lambda op=op: self._do(op))
            self.monitor.at = "end"
            self._guarded(self._finish)
        finally:
            self.session.walks += 1
            self.api.reconnect()
        return WalkResult(
            sequence=self.sequence,
            violations=self.monitor.violations,
            op_log=self.op_log,
            transient=dict(self.monitor.transient),
            seconds=time.monotonic() - self.started,
            workdir=self.workdir,
            daemon_log=self.daemon.log_path,
            outcomes=[
                f"r{t.index}={t.last.status if t.last else '?'}"
                + (f"({t.last.run.get('reason')})" if t.last and t.last.run.get("reason") else "")
                for t in self.runs
            ],
        )

    def _guarded(self, action: Any) -> None:
        try:
            action()
        except ServerError as exc:
            self.monitor.report("server_error", None, str(exc))
        except AssertionError as exc:  # the driver's create_run: POST /runs was refused
            self.monitor.report("create_refused", None, str(exc)[:600])
        except (httpx.HTTPError, RuntimeError) as exc:
            alive = self.daemon.proc is not None and self.daemon.proc.poll() is None
            kind = "daemon_error" if alive else "daemon_died"
            self.monitor.report(kind, None, f"{type(exc).__name__}: {exc}"[:600])
            if not alive:
                self._log("loopd is gone: starting it again")
                self.api.reconnect()
                self.daemon.start()
                self.monitor.rebase()

    def _log(self, text: str) -> None:
        self.op_log.append(f"t={time.monotonic() - self.started:6.2f}s {text}")

    def _do(self, op: Op) -> None:
        target = self.runs[op.target] if op.target < len(self.runs) else None
        if op.anchor and target is not None:
            self._wait_anchor(target, op.anchor)
        self._pause(op.delay_ms / 1000)
        if op.kind == "create":
            self._create(op)
        elif op.kind in CONTROLS and target is not None:
            self._control(op.kind, target)
        elif op.kind in {"kill9", "sigterm"}:
            self._restart(op.kind)
        elif op.kind == "wait":
            self._log("wait")
        self.poll()
        if op.settle and target is not None:
            self._settle(target)

    def _pause(self, seconds: float) -> None:
        """Wait ``seconds``, polling the invariants meanwhile when there is time for it."""
        deadline = time.monotonic() + seconds
        while deadline - time.monotonic() > 0.3:
            self.poll()
            time.sleep(min(POLL_SEC, max(0.0, deadline - time.monotonic())))
        time.sleep(max(0.0, deadline - time.monotonic()))

    def _create(self, op: Op) -> None:
        assert op.spec is not None
        run = self.daemon.create_run(self.workspace, **op.spec.config())
        self.runs.append(
            Tracked(index=op.target, run_id=run["id"], spec=op.spec, workspace=self.workspace)
        )
        self._log(f"create r{op.target} -> {run['id']} {run['status']}")

    def _control(self, action: str, t: Tracked) -> None:
        before = self.api.get_json(f"/runs/{t.run_id}")["run"]["status"]
        sent_ms = int(time.time() * 1000)
        started = time.monotonic()
        response = self.api.post(f"/runs/{t.run_id}/{action}")
        answered = boot_clock()
        took = time.monotonic() - started
        code = response.status_code
        body = response.text[:200] if code != 204 else ""
        self._log(f"{action} r{t.index} (was {before}) -> {code} {body} in {took * 1000:.0f}ms")
        if took > SLOW_CONTROL_SEC:
            self.monitor.report("slow_control", t, f"{action} took {took:.1f}s")
        if code >= 500:
            raise ServerError(f"POST {action} -> {code}: {response.text[:300]}")
        if code == 204:
            self._accepted(action, t, before, sent_ms, answered)
        elif code == 409:
            self._refused(action, t, response)
        else:
            self.monitor.report("control_answer", t, f"{action} answered {code}: {body}")

    def _accepted(
        self, action: str, t: Tracked, before: str, sent_ms: int, answered: float
    ) -> None:
        if action in {"pause", "cancel"}:
            t.expect = "PAUSED" if action == "pause" else "CANCELED"
            if t.stopped_at is None:
                t.stopped_at = answered
        else:
            t.stopped_at = None
            t.expect = "ACTIVE"
            acts = action == "reset" or before not in ACTIVE
            t.resumed_after_ms = sent_ms if acts else t.resumed_after_ms
        t.expect_by = action
        if action == "reset":
            t.resets += 1

    def _refused(self, action: str, t: Tracked, response: httpx.Response) -> None:
        try:
            status = str(response.json().get("status"))
        except ValueError:
            status = "?"
        if status not in REFUSED[action]:
            self.monitor.report(
                "wrong_409",
                t,
                f"{action} answered 409 with status {status}, a status it must accept: "
                f"{response.text[:200]}",
            )
        elif t.expect in {"PAUSED", "CANCELED"} and status != t.expect:
            self.monitor.report(
                "status",
                t,
                f"{action} answered 409 with status {status} after an accepted {t.expect_by}",
            )

    def _restart(self, how: str) -> None:
        started = time.monotonic()
        if how == "kill9":
            self.daemon.kill9()
        else:
            try:
                code = self.daemon.stop(signal.SIGTERM, timeout=15)
            except subprocess.TimeoutExpired:
                code = None
                self.monitor.report("drain", None, "loopd did not exit within 15 s of SIGTERM")
            took = time.monotonic() - started
            if code not in (0, None) or took > 10:
                self.monitor.report("drain", None, f"SIGTERM: exit {code} after {took:.1f}s")
        stopped = time.monotonic()
        self.api.reconnect()
        self.daemon.start()
        self.monitor.rebase()
        up = time.monotonic() - stopped
        self._log(f"{how}: down in {stopped - started:.2f}s, up again in {up:.2f}s")

    def _wait_anchor(self, t: Tracked, anchor: str) -> None:
        """Until run ``t`` is in ``anchor`` (a phase, or "prepare": started, no step yet)."""
        deadline = time.monotonic() + (6.0 if anchor in {"prepare", "implementation"} else 15.0)
        while time.monotonic() < deadline:
            run = self.api.get_json(f"/runs/{t.run_id}")["run"]
            if run["status"] not in ACTIVE:
                self._log(f"anchor {anchor} of r{t.index} missed: run is {run['status']}")
                return
            if anchor == "prepare":
                if run["status"] == "RUNNING" and run["phase"] is None:
                    self._log(f"anchor prepare of r{t.index} reached")
                    return
                if run["phase"] is not None:
                    self._log(f"anchor prepare of r{t.index} missed: in {run['phase']}")
                    return
                time.sleep(0.01)
                continue
            steps = self.api.get_json(f"/runs/{t.run_id}/steps")["steps"]
            if any(s["phase"] == anchor and s["status"] == "IN_PROGRESS" for s in steps):
                self._log(f"anchor {anchor} of r{t.index} reached")
                return
            time.sleep(0.04)
        self._log(f"anchor {anchor} of r{t.index} not reached in time")

    def _settle(self, t: Tracked, timeout: float = 5.0) -> None:
        """Poll until run ``t`` is at rest with what was asked of it (or ``timeout``)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            view = t.last
            if view is not None:
                rest = view.status in SETTLED and not view.open_steps and not view.pids
                if t.expect == "ACTIVE":
                    rest = t.resumed_after_ms is None and view.status != "PAUSED"
                if rest:
                    return
            time.sleep(POLL_SEC)
            self.poll()

    # -- observing ---------------------------------------------------------------------------
    def poll(self) -> None:
        if not self.runs:
            return
        pids = pids_by_run({t.run_id for t in self.runs})
        views = {t.run_id: self.api.view(t.run_id, pids.get(t.run_id, [])) for t in self.runs}
        self.monitor.check(self.runs, views)

    def _finish(self) -> None:
        """Every run settles; then the checks at rest; then cancel what is left, check again."""
        self._settle_all(FINAL_WAIT_SEC[self.sequence.profile], "end")
        self._check_at_rest("at rest")
        for t in self.runs:
            if t.last is not None and t.last.status not in TERMINAL:
                self._control("cancel", t)
        self.monitor.at = "after the final cancels"
        self._settle_all(15.0, "final cancels")
        self._check_at_rest("after the final cancels")

    def _settle_all(self, bound: float, what: str) -> None:
        deadline = time.monotonic() + bound
        self.poll()
        while time.monotonic() < deadline:
            views = [t.last for t in self.runs]
            if all(v is not None and v.status in SETTLED for v in views):
                break
            time.sleep(POLL_SEC)
            self.poll()
        # A run's cleanup (its worktree, what a killed merge left) runs after its ending: the
        # checks at rest wait for it, as long as the timed worktree check would.
        cleanup_deadline = time.monotonic() + GRACE["worktree_left"]
        while time.monotonic() < cleanup_deadline and any(
            t.last is not None and t.last.cleaning_up for t in self.runs
        ):
            time.sleep(POLL_SEC)
            self.poll()
        for t in self.runs:
            if t.last is not None and t.last.status not in SETTLED:
                self.monitor.report(
                    "stuck",
                    t,
                    f"still {t.last.status} {bound:.0f}s into the {what} wait",
                )
        # let the timed checks (processes, worktrees, open steps) reach a verdict
        deadline = time.monotonic() + 12.0
        while self.monitor.pending() and time.monotonic() < deadline:
            time.sleep(POLL_SEC)
            self.poll()

    def _check_at_rest(self, when: str) -> None:
        """Worktrees at rest: each belongs to a run that still needs it. A step that a pause
        interrupted may still be winding down when the pause has answered (a killed merge
        removes its temporary worktree right after): what is left gets the grace the timed
        worktree check gives, then what still stands is reported."""
        deadline = time.monotonic() + GRACE["worktree_left"]
        left = self._leftovers(when)
        while left and time.monotonic() < deadline:
            time.sleep(POLL_SEC)
            self.poll()
            left = self._leftovers(when)
        for kind, blame, message in left:
            self.monitor.report(kind, blame, message)

    def _leftovers(self, when: str) -> list[tuple[str, Tracked | None, str]]:
        """What stands in the workspace that no run needs: (violation kind, run, message)."""
        owners: dict[str, Tracked] = {}
        for t in self.runs:
            path = ((t.last.run if t.last else {}).get("worktree") or {}).get("worktree_path")
            if path:
                owners[str(Path(path).resolve())] = t
        found: list[tuple[str, Tracked | None, str]] = []
        registered = worktrees(self.workspace)
        for entry in registered:
            path = str(Path(entry["worktree"]).resolve())
            owner = owners.get(path)
            view = owner.last if owner else None
            needed = view is not None and (
                view.status not in TERMINAL
                or (view.status == "COMPLETED" and not view.run.get("merge_commit"))
            )
            if needed:
                continue
            former = [
                t for t in self.runs if path in {str(Path(p).resolve()) for p in t.worktree_paths}
            ]
            blame = former[0] if former else owner
            branch = entry.get("branch", entry.get("detached", ""))
            if owner is None and blame is not None and blame.resets:
                found.append(
                    (
                        "reset_leaves_old_worktree",
                        blame,
                        f"{when}: worktree {path} ({branch}) of r{blame.index} before its reset "
                        "is left behind, owned by no run (the run moved to a new branch and "
                        "worktree)",
                    )
                )
                continue
            status = view.status if view else "not any run's current worktree"
            found.append(
                (
                    "worktree_leaked",
                    blame,
                    f"{when}: worktree {path} ({branch}) left behind; owner status: {status}",
                )
            )
        paths = {str(Path(e["worktree"]).resolve()) for e in registered}
        for path in sorted(self.workdir.glob(f"{self.workspace.name}.*")):
            if str(path.resolve()) not in paths:
                message = f"{when}: {path} exists but is no registered worktree"
                found.append(("stray_directory", None, message))
        return found

    def _evidence(self, t: Tracked | None) -> dict[str, Any]:
        evidence: dict[str, Any] = {}
        if t is not None and t.last is not None:
            evidence.update(t.last.evidence())
            evidence["expect"] = f"{t.expect} (last accepted: {t.expect_by})"
        evidence["primary"] = primary_state(self.workspace)
        evidence["worktrees"] = [e["worktree"] for e in worktrees(self.workspace)]
        evidence["loopd_log"] = log_excerpt(self.daemon, self.log_offset, t.run_id if t else None)
        evidence["ops_so_far"] = list(self.op_log)
        return evidence


def run_walk(session: Session, sequence: Sequence, root: Path) -> WalkResult:
    workdir = root / f"walk-{sequence.profile}-{sequence.seed}"
    if workdir.exists():
        shutil.rmtree(workdir)
    result = Walk(session, sequence, workdir).run()
    if result.ok:
        shutil.rmtree(workdir, ignore_errors=True)
    else:
        session.dirty = True
    if {v.kind for v in result.violations} & WRECKAGE:
        session.fresh()  # the next walk must not inherit this one's wreckage
    return result


# -- the long profile ------------------------------------------------------------------------
def main() -> int:
    env = os.environ
    profile = env.get("AGENTLOOP_FUZZ_PROFILE", "long")
    if env.get("AGENTLOOP_FUZZ_SEED"):
        seeds = [int(env["AGENTLOOP_FUZZ_SEED"])]
    else:
        base = int(env.get("AGENTLOOP_FUZZ_BASE_SEED", "1"))
        seeds = list(range(base, base + int(env.get("AGENTLOOP_FUZZ_SEQUENCES", "1000"))))
    budget = float(env.get("AGENTLOOP_FUZZ_MINUTES", "0")) * 60 or float("inf")
    out = Path(env.get("AGENTLOOP_FUZZ_OUT") or f"/tmp/agentloop-fuzz-{int(time.time())}")
    out.mkdir(parents=True, exist_ok=True)
    print(f"fuzz: {len(seeds)} walk(s), profile {profile}, output in {out}", flush=True)
    session = Session(out / "work")
    started = time.monotonic()
    failed: list[WalkResult] = []
    done = 0
    try:
        for seed in seeds:
            if time.monotonic() - started > budget:
                print(f"fuzz: time budget reached after {done} walk(s)", flush=True)
                break
            try:
                result = run_walk(session, generate(seed, profile), out / "work")
            except Exception as exc:  # the fuzzer's own failure: say so, go on
                print(f"seed={seed}: the fuzzer failed: {type(exc).__name__}: {exc}", flush=True)
                traceback.print_exc()
                session.fresh()
                continue
            done += 1
            print(result.summary(), flush=True)
            if not result.ok:
                failed.append(result)
                (out / f"walk-{profile}-{seed}.txt").write_text(result.report() + "\n")
                (out / f"walk-{profile}-{seed}.json").write_text(
                    json.dumps(result.to_json(), indent=1, default=str)
                )
                for violation in result.violations:
                    print(f"  {violation.headline()}", flush=True)
                print(f"  replay: {result.replay()}", flush=True)
    finally:
        session.close()
    print(f"fuzz: {done} walk(s) in {time.monotonic() - started:.0f}s, {len(failed)} failed")
    kinds: dict[str, list[int]] = {}
    for result in failed:
        for violation in result.violations:
            kinds.setdefault(violation.kind, []).append(result.sequence.seed)
    for kind, seeds_of in sorted(kinds.items()):
        print(f"  {kind}: seeds {sorted(set(seeds_of))}")
    if failed:
        print(f"fuzz: reports in {out}/walk-*.txt")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
