"""Reaching loopd: the readiness wait, exit 3, the token; and doctor, completion."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from cli_support import make_ctl

from integration.loopd import Loopd, free_port


def test_unreachable_daemon_exits_3_after_the_backoff(workspace: Path) -> None:
    addr = f"http://127.0.0.1:{free_port()}"
    ctl = make_ctl(addr, workspace)
    began = time.monotonic()
    result = ctl("list")
    waited = time.monotonic() - began
    assert result.code == 3, result.err
    assert 4.5 <= waited <= 9, waited
    assert result.out == ""
    assert f"cannot reach loopd at {addr} (connection refused; retried for 5 s)" in result.err
    assert "start it with `loopd --addr" in result.err and "LOOPD_TOKEN" in result.err
    as_json = ctl("--json", "inspect", "x")
    assert as_json.code == 3
    envelope = as_json.json()
    assert envelope["ok"] is False and envelope["version"] == 1 and addr in envelope["error"]


def test_a_daemon_that_comes_up_during_the_wait_is_used(workspace: Path, tmp_path: Path) -> None:
    import subprocess

    from cli_support import LOOPCTL, cli_env

    port = free_port()
    addr = f"http://127.0.0.1:{port}"
    client = subprocess.Popen(
        [str(LOOPCTL), "--json", "list"],
        cwd=workspace,
        env=cli_env(addr),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(0.5)
    daemon = Loopd(data_dir=tmp_path / "late", port=port)
    try:
        daemon.start()
        out, err = client.communicate(timeout=30)
        assert client.returncode == 0, err
        assert '"ok": true' in out
    finally:
        daemon.stop()


def test_token_required_wrong_and_right(
    workspace: Path, loopd_factory: Callable[..., Loopd]
) -> None:
    daemon = loopd_factory(token="s3cret")
    missing = make_ctl(daemon.addr, workspace)("list")
    assert missing.code == 3
    assert "refused the request" in missing.err and "LOOPD_TOKEN" in missing.err
    wrong = make_ctl(daemon.addr, workspace, token="nope")("--json", "list")
    assert wrong.code == 3 and "401" in wrong.json()["error"]
    right = make_ctl(daemon.addr, workspace, token="s3cret")
    assert right("list").code == 0
    # the flag, placed before the command as the `loop` wrapper does, beats the environment
    flagged = make_ctl(daemon.addr, workspace, token="nope")("--token", "s3cret", "list")
    assert flagged.code == 0, flagged.err
    doctor = make_ctl(daemon.addr, workspace)("--json", "doctor")
    assert doctor.code == 1
    checks = {c["name"]: c for c in doctor.json()["data"]["checks"]}
    assert checks["loopd"]["state"] == "ok"
    assert checks["token"]["state"] == "fail" and "LOOPD_TOKEN" in checks["token"]["fix"]


def test_doctor_reports_what_is_there_and_what_is_missing(loopd: Loopd, workspace: Path) -> None:
    (workspace / ".loop").mkdir()
    (workspace / ".loop" / "config").write_text("agent=scripted\n")
    ctl = make_ctl(loopd.addr, workspace)
    result = ctl("--json", "doctor")
    assert result.code == 0, result.out + result.err
    data = result.json()["data"]
    assert data["ok"] is True
    checks = {c["name"]: c for c in data["checks"]}
    assert set(checks) >= {"loopd", "token", "git", "agent claude", "agent codex", "wt", "gh"}
    assert checks["loopd"]["state"] == "ok" and loopd.addr in checks["loopd"]["detail"]
    assert checks["git"]["state"] == "ok" and checks["git"]["detail"].startswith("git 2.")
    for check in checks.values():
        assert check["state"] in ("ok", "warn", "skip"), check
        if check["state"] == "warn":
            assert check["fix"]
    plain = ctl("doctor")
    assert plain.out.splitlines()[-1] == "all good"
    down = make_ctl(f"http://127.0.0.1:{free_port()}", workspace)("doctor")
    assert down.code == 1
    assert "FAIL  loopd" in down.out and "fix: start it: `loopd --addr" in down.out


def test_completion_scripts(workspace: Path) -> None:
    ctl = make_ctl("http://127.0.0.1:1", workspace)
    for shell in ("bash", "zsh", "fish"):
        result = ctl("completion", shell)
        assert result.code == 0, result.err
        assert "_LOOPCTL_COMPLETE" in result.out
    assert ctl("completion", "tcsh").code == 2
    assert ctl("--json", "completion", "bash").json()["data"]["shell"] == "bash"


def test_run_ids_complete_in_the_shell(loopd: Loopd, workspace: Path) -> None:
    import os
    import subprocess

    from cli_support import LOOPCTL, cli_env

    ctl = make_ctl(loopd.addr, workspace)
    ctl("run", "specs/demo.md", "--agent", "scripted", "--name", "completable", "--follow")
    env = {
        **cli_env(loopd.addr),
        "_LOOPCTL_COMPLETE": "bash_complete",
        "COMP_WORDS": "loopctl inspect compl",
        "COMP_CWORD": "2",
    }
    done = subprocess.run(
        [str(LOOPCTL)], env=env, cwd=workspace, capture_output=True, text=True, check=False
    )
    assert "plain,completable" in done.stdout.splitlines(), done.stdout + done.stderr
    assert os.environ.get("_LOOPCTL_COMPLETE") is None
