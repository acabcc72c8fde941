"""Control (pause, resume, cancel, retry, reset) and the review commands, against loopd."""

from __future__ import annotations

import time

from cli_support import Ctl

SLOW = "delay=30"


def wait_status(ctl: Ctl, ref: str, *wanted: str, timeout: float = 60) -> dict:  # type: ignore[type-arg]
    deadline = time.monotonic() + timeout
    while True:
        run = ctl("--json", "inspect", ref).json()["data"]["run"]
        if run["status"] in wanted:
            return dict(run)
        assert time.monotonic() < deadline, f"run stayed {run['status']}, wanted {wanted}"
        time.sleep(0.2)


def test_pause_resume_cancel_retry_reset(ctl: Ctl) -> None:
    started = ctl(
        "--json",
        "run",
        "specs/demo.md",
        "--agent",
        "scripted",
        "--model",
        SLOW,
        "--name",
        "slowpoke",
    )
    assert started.code == 0, started.err
    run_id = started.json()["data"]["run"]["id"]
    wait_status(ctl, run_id, "RUNNING")

    paused = ctl("pause", "slowpoke")
    assert paused.code == 0, paused.err
    assert paused.out.strip() == f"paused slowpoke ({run_id}): now PAUSED"
    assert ctl("pause", run_id).code == 0  # idempotent

    resumed = ctl("--json", "resume", run_id[:13])
    assert resumed.code == 0, resumed.err
    data = resumed.json()["data"]
    assert set(data) == {"action", "run_id", "run"} and data["action"] == "resume"
    assert data["run"]["status"] in ("PENDING", "RUNNING")

    canceled = ctl("cancel", run_id)
    assert canceled.code == 0 and canceled.out.strip().endswith("now CANCELED")
    again = ctl("resume", run_id)
    assert again.code == 1
    assert f"cannot resume run slowpoke ({run_id}): it is CANCELED" in again.err
    again_json = ctl("--json", "pause", run_id)
    assert again_json.code == 1 and again_json.json()["ok"] is False

    retried = ctl("retry", run_id)
    assert retried.code == 0, retried.err
    wait_status(ctl, run_id, "RUNNING", "PENDING")
    reset = ctl("reset", run_id)
    assert reset.code == 0, reset.err
    assert ctl("cancel", run_id).code == 0
    wait_status(ctl, run_id, "CANCELED")


def test_review_commands_answer_or_say_the_endpoint_is_missing(ctl: Ctl) -> None:
    run_id = ctl("--json", "run", "specs/demo.md", "--agent", "scripted", "--follow").json()[
        "data"
    ]["run"]["id"]
    for command in (["merge"], ["create-pr"], ["postmortem", "--show"], ["postmortem"],
                    ["scrap"]):  # fmt: skip
        result = ctl(*command, run_id)
        if result.code == 0:
            continue  # the daemon has the endpoint
        assert result.code == 1, result.err
        assert result.err.startswith("error: ") and "Traceback" not in result.err
